//! `resource_limits` (SSOT only): staging and development run a single worker (as rendered by
//! [`crate::odoo::render::workers`]), and, when the gate sets them, `limit_memory_hard` ≤
//! `maxMemoryHardMib` outside production and `limit_time_real` ≤ `maxTimeReal` everywhere
//! (Odoo's defaults where the SSOT is silent: 2560 MiB, 120 s).

use super::{Outcome, Verdict};
use crate::odoo::render::{defaults, workers};
use crate::ssot::{Environment, GateParams, Stage};
use serde_json::json;

/// Pure evaluation of one environment.
pub fn evaluate(env: &Environment, params: &GateParams) -> Verdict {
    let (n, why) = workers(env);
    let odoo = &env.spec.odoo;
    let memory = odoo
        .limit_memory_hard_mib
        .unwrap_or(defaults::LIMIT_MEMORY_HARD_MIB);
    let time_real = odoo.limit_time_real.unwrap_or(defaults::LIMIT_TIME_REAL);
    let single = env.spec.stage != Stage::Production;
    let mut problems = Vec::new();
    if single && n != 1 {
        problems.push(format!(
            "{} runs {n} workers ({why}): staging and development are limited to one",
            env.spec.stage.as_str()
        ));
    }
    if let Some(max) = params.max_memory_hard_mib.filter(|_| single) {
        if memory > max {
            problems.push(format!("limit_memory_hard {memory} MiB > {max} MiB"));
        }
    }
    if let Some(max) = params.max_time_real {
        if time_real > max {
            problems.push(format!("limit_time_real {time_real} s > {max} s"));
        }
    }
    let measured = json!({"workers": n, "limitMemoryHardMib": memory, "limitTimeReal": time_real});
    let threshold = json!({
        "workers": if single { Some(1) } else { None },
        "maxMemoryHardMib": params.max_memory_hard_mib.filter(|_| single),
        "maxTimeReal": params.max_time_real,
    });
    if problems.is_empty() {
        Verdict::new(
            Outcome::Pass,
            measured,
            threshold,
            format!("{n} worker(s), limit_memory_hard {memory} MiB, limit_time_real {time_real} s"),
        )
    } else {
        Verdict::new(Outcome::Fail, measured, threshold, problems.join("; "))
    }
}
