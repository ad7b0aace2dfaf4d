//! Parity gates: deterministic checks of an environment against Odoo.sh's limits.
//!
//! Each gate is split in two: *measurement* (I/O at the edge — the environment's database, the
//! addons paths) and *evaluation* (a pure function of what was measured, the gate's params and
//! the SSOT) returning a [`Verdict`]. [`run`] ties them together and writes the evidence:
//! `ops.gate_runs` (one per environment), `ops.gate_results` (one per gate) and one JSON
//! artifact per gate run.
//!
//! | gate | needs | rule |
//! |---|---|---|
//! | `db_object_count` | database | tables + sequences ≤ `max` (10,000) |
//! | `cron_timeout` | database | interval ≥ `minIntervalMinutes`; runs ≤ `maxSeconds`; disable after `autoDisableAfter` consecutive timeouts (`enforce`) |
//! | `module_allowlist` | database or addons paths or SSOT | installed/selected modules and their dependencies are core or listed |
//! | `smtp_policy` | SSOT | non-production captures mail; no port 25; no production mail credential outside production |
//! | `resource_limits` | SSOT | non-production single worker; memory and time caps |

pub mod cron;
pub mod db_count;
pub mod limits;
pub mod modules;
pub mod run;
pub mod smtp;

pub use crate::store::GateOutcome as Outcome;
pub use run::{run, GateReport, GateRow, RunOptions};

use crate::ssot::{Environment, GateScope, Severity};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Pg(#[from] crate::provider::postgres::PgError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Graph(#[from] crate::odoo::graph::GraphError),
    #[error("reading {what} from the environment database: {source}")]
    Sql {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("table {0} not found: is this an Odoo database? (check the --db URL)")]
    NotOdoo(&'static str),
    #[error("environment `{0}` is not in the SSOT (see `odooops validate`)")]
    UnknownEnvironment(String),
    #[error("environment `{env}` names project `{project}`, which is not in the SSOT")]
    UnknownProject { env: String, project: String },
}

impl GateError {
    pub(crate) fn sql(what: &'static str) -> impl FnOnce(sqlx::Error) -> GateError {
        move |source| GateError::Sql { what, source }
    }
}

/// What one gate concluded about one environment, before the gate's severity is applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub measured: Value,
    pub threshold: Value,
    pub message: String,
    /// Everything behind the outcome (offending crons, modules, references…), for the evidence.
    pub details: Value,
}

impl Verdict {
    pub fn new(outcome: Outcome, measured: Value, threshold: Value, message: String) -> Verdict {
        Verdict {
            outcome,
            measured,
            threshold,
            message,
            details: Value::Null,
        }
    }
    pub fn with_details(mut self, details: Value) -> Verdict {
        self.details = details;
        self
    }
    /// Not measurable here (no database, nothing to check): neither pass nor fail.
    pub fn skipped(reason: impl Into<String>) -> Verdict {
        Verdict::new(Outcome::Skipped, Value::Null, Value::Null, reason.into())
    }
    /// The measurement itself failed: the gate cannot vouch for the environment.
    pub fn measurement_failed(err: &GateError) -> Verdict {
        Verdict::new(
            Outcome::Fail,
            Value::Null,
            Value::Null,
            format!("could not measure: {err}"),
        )
        .with_details(json!({"error": err.to_string()}))
    }
}

/// Whether a gate's scope covers an environment (empty lists = every environment/stage).
pub fn applies(scope: &GateScope, env: &Environment) -> bool {
    let by_name = scope.environments.is_empty() || scope.environments.contains(&env.metadata.name);
    let by_stage = scope.stages.is_empty() || scope.stages.contains(&env.spec.stage);
    by_name && by_stage
}

/// Severity `warn` turns a failure into a warning; other outcomes are unchanged.
pub fn with_severity(outcome: Outcome, severity: Severity) -> Outcome {
    match (outcome, severity) {
        (Outcome::Fail, Severity::Warn) => Outcome::Warn,
        (o, _) => o,
    }
}

/// Outcome of a set of results: fail > warn (a skipped gate counts as a warning) > pass.
pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
    let mut out = Outcome::Pass;
    for o in outcomes {
        out = match (out, o) {
            (Outcome::Fail, _) | (_, Outcome::Fail) => Outcome::Fail,
            (Outcome::Warn, _) | (_, Outcome::Warn) | (_, Outcome::Skipped) => Outcome::Warn,
            _ => out,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_and_worst() {
        assert_eq!(with_severity(Outcome::Fail, Severity::Warn), Outcome::Warn);
        assert_eq!(with_severity(Outcome::Fail, Severity::Fail), Outcome::Fail);
        assert_eq!(with_severity(Outcome::Pass, Severity::Warn), Outcome::Pass);
        assert_eq!(
            with_severity(Outcome::Skipped, Severity::Fail),
            Outcome::Skipped
        );
        assert_eq!(worst([]), Outcome::Pass);
        assert_eq!(worst([Outcome::Pass, Outcome::Skipped]), Outcome::Warn);
        assert_eq!(
            worst([Outcome::Warn, Outcome::Fail, Outcome::Pass]),
            Outcome::Fail
        );
    }
}
