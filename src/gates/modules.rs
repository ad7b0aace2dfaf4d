//! `module_allowlist`: every module installed (or about to be) and every dependency it pulls in
//! is an Odoo Community core addon of the project's series (unless `corePolicy: listed-only`)
//! or listed in the environment's ModuleSet waves.
//!
//! Three modes, by what is available:
//! - `database`: `ir_module_module` rows in state installed / to install / to upgrade, plus, with
//!   addons paths, their transitive dependencies through [`crate::odoo::graph`] (an installed
//!   module whose code is in neither the paths nor core is reported missing);
//! - `graph`: no database — the SSOT's `modules.install` plus the ModuleSet's waves, resolved
//!   against the addons paths (missing dependencies fail);
//! - `ssot`: neither — `modules.install` checked against the allowlist, no dependency closure.

use super::{GateError, Outcome, Verdict};
use crate::odoo::core_addons;
use crate::odoo::graph::{self, AddonsIndex, DepsReport};
use crate::ssot::{CorePolicy, Environment, Ssot};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgPool, Row};
use std::collections::BTreeSet;

/// What may be installed in one environment.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Allowlist {
    pub series: String,
    pub core_policy: CorePolicy,
    pub module_set: Option<String>,
    /// Modules in the ModuleSet's waves.
    pub listed: BTreeSet<String>,
    #[serde(skip)]
    pub core: BTreeSet<String>,
}

impl Allowlist {
    /// The environment's allowlist: its ModuleSet (none = core addons only, allow-all).
    pub fn for_env(ssot: &Ssot, env: &Environment) -> Result<Allowlist, GateError> {
        let project = ssot
            .project(&env.spec.project)
            .ok_or_else(|| GateError::UnknownProject {
                env: env.metadata.name.clone(),
                project: env.spec.project.clone(),
            })?;
        let set = env
            .spec
            .modules
            .module_set
            .as_deref()
            .and_then(|n| ssot.module_set(n));
        let series = set
            .and_then(|s| s.spec.series)
            .unwrap_or(project.spec.odoo.series)
            .as_str()
            .to_string();
        let core: BTreeSet<String> = core_addons::core_addons(&series)
            .ok_or_else(|| graph::GraphError::UnknownSeries(series.clone()))?
            .map(str::to_string)
            .collect();
        Ok(Allowlist {
            series,
            core_policy: set.map(|s| s.spec.core_policy).unwrap_or_default(),
            module_set: set.map(|s| s.metadata.name.clone()),
            listed: set
                .map(|s| {
                    s.spec
                        .waves
                        .iter()
                        .flat_map(|w| w.modules.iter().cloned())
                        .collect()
                })
                .unwrap_or_default(),
            core,
        })
    }

    pub fn allows(&self, module: &str) -> bool {
        self.listed.contains(module)
            || (self.core_policy == CorePolicy::AllowAll && self.core.contains(module))
    }
}

/// The SSOT's selection for an environment: `modules.install` plus the ModuleSet's waves.
pub fn ssot_selection(env: &Environment, allow: &Allowlist) -> Vec<String> {
    let mut s: BTreeSet<String> = env.spec.modules.install.iter().cloned().collect();
    s.extend(allow.listed.iter().cloned());
    s.into_iter().collect()
}

/// Pure evaluation: `modules` (installed or selected) and, when resolved, their dependency
/// report against the allowlist.
pub fn evaluate(
    mode: &str,
    allow: &Allowlist,
    modules: &[String],
    deps: Option<&DepsReport>,
) -> Verdict {
    // Sorted and deduplicated: the order modules were read in does not matter.
    let modules: Vec<String> = modules
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut checked: BTreeSet<&str> = modules.iter().map(String::as_str).collect();
    if let Some(d) = deps {
        checked.extend(d.depends.iter().map(String::as_str));
    }
    let not_allowed: Vec<&str> = checked
        .iter()
        .copied()
        .filter(|m| !allow.allows(m))
        .collect();
    let mut problems = Vec::new();
    if !not_allowed.is_empty() {
        let why = match allow.core_policy {
            CorePolicy::AllowAll => "neither core nor listed",
            CorePolicy::ListedOnly => "not listed (corePolicy listed-only)",
        };
        problems.push(format!(
            "{} module(s) {why} in {}: {}",
            not_allowed.len(),
            allow.module_set.as_deref().unwrap_or("any ModuleSet"),
            not_allowed.join(", ")
        ));
    }
    if let Some(d) = deps {
        let mut add = |what: &str, v: &[String]| {
            if !v.is_empty() {
                problems.push(format!("{what}: {}", v.join(", ")));
            }
        };
        add("missing (in neither the addons paths nor core)", &d.missing);
        add("not installable", &d.not_installable);
        add(
            &format!("version not for series {}", d.series),
            &d.version_mismatch,
        );
        let cycles: Vec<String> = d.cycles.iter().map(|c| c.join(" ↔ ")).collect();
        add("dependency cycles", &cycles);
        let errors: Vec<String> = d.errors.iter().map(|e| e.error.clone()).collect();
        add("unreadable manifests", &errors);
    }
    let measured = json!({
        "mode": mode,
        "modules": modules.len(),
        "checked": checked.len(),
        "notAllowed": not_allowed.len(),
        "missing": deps.map(|d| d.missing.len()).unwrap_or(0),
    });
    let threshold = json!({
        "series": allow.series,
        "corePolicy": allow.core_policy,
        "moduleSet": allow.module_set,
        "listed": allow.listed.len(),
    });
    let details = json!({
        "modules": modules,
        "notAllowed": not_allowed,
        "deps": deps,
    });
    let v = if problems.is_empty() {
        Verdict::new(
            Outcome::Pass,
            measured,
            threshold,
            format!(
                "{} module(s) checked ({mode}): all core {} or listed",
                checked.len(),
                allow.series
            ),
        )
    } else {
        Verdict::new(Outcome::Fail, measured, threshold, problems.join("; "))
    };
    v.with_details(details)
}

/// Resolve `selection` against the addons index (core addons are leaves).
pub fn resolve(
    index: &AddonsIndex,
    selection: &[String],
    series: &str,
) -> Result<DepsReport, GateError> {
    if selection.is_empty() {
        // graph::deps treats an empty selection as "everything": nothing selected, nothing to do.
        return Ok(DepsReport {
            series: series.to_string(),
            ..DepsReport::default()
        });
    }
    Ok(graph::deps(index, selection, series)?)
}

/// Modules installed or about to be, from `ir_module_module`, sorted.
pub async fn measure(pool: &PgPool) -> Result<Vec<String>, GateError> {
    let rows = sqlx::query(
        "SELECT name::text FROM ir_module_module
          WHERE state IN ('installed', 'to install', 'to upgrade') ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .map_err(GateError::sql("ir_module_module"))?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()
        .map_err(GateError::sql("ir_module_module"))
}
