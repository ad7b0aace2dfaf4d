//! Gate rules: parameters that belong to the gate's type, positive thresholds, scope.

use super::{names_hint, Ctx, Index};
use crate::ssot::model::*;
use crate::ssot::structural::Entry;
use std::collections::BTreeMap;

pub(super) fn gate(cx: &mut Ctx, e: &Entry, g: &Gate, idx: &Index) {
    let p = &g.spec.params;
    let given: BTreeMap<&str, bool> = [
        ("max", p.max.is_some()),
        ("maxSeconds", p.max_seconds.is_some()),
        ("minIntervalMinutes", p.min_interval_minutes.is_some()),
        ("autoDisableAfter", p.auto_disable_after.is_some()),
        ("enforce", p.enforce.is_some()),
        ("maxMemoryHardMib", p.max_memory_hard_mib.is_some()),
        ("maxTimeReal", p.max_time_real.is_some()),
    ]
    .into_iter()
    .collect();
    let allowed: &[&str] = match g.spec.gate_type {
        GateType::DbObjectCount => &["max"],
        GateType::CronTimeout => &[
            "maxSeconds",
            "minIntervalMinutes",
            "autoDisableAfter",
            "enforce",
        ],
        GateType::ModuleAllowlist | GateType::SmtpPolicy => &[],
        GateType::ResourceLimits => &["maxMemoryHardMib", "maxTimeReal"],
    };
    for (name, present) in given {
        if present && !allowed.contains(&name) {
            let hint = if allowed.is_empty() {
                format!("{} takes no parameters", g.spec.gate_type.as_str())
            } else {
                format!(
                    "{} takes: {}",
                    g.spec.gate_type.as_str(),
                    allowed.join(", ")
                )
            };
            cx.err(
                e,
                &format!("/spec/params/{name}"),
                "gate-param",
                format!(
                    "`{name}` does not apply to a {} gate",
                    g.spec.gate_type.as_str()
                ),
                hint,
            );
        }
    }
    if p.max == Some(0) || p.max_seconds == Some(0) || p.auto_disable_after == Some(0) {
        cx.err(
            e,
            "/spec/params",
            "gate-param",
            "a zero threshold can never pass",
            "use a positive number",
        );
    }
    for (i, name) in g.spec.scope.environments.iter().enumerate() {
        if idx.missing(
            Kind::Environment,
            name,
            idx.envs.contains_key(name.as_str()),
        ) {
            let hint = names_hint("environment", idx.envs.keys().copied(), name);
            cx.err(
                e,
                &format!("/spec/scope/environments/{i}"),
                "unresolved-reference",
                format!("environment `{name}` is not defined"),
                hint,
            );
        }
    }
}
