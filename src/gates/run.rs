//! Running the gates: measure each environment (database, addons paths), evaluate every gate
//! whose scope covers it, apply the gate's severity, then write the evidence — one
//! `ops.gate_runs` row and one JSON artifact per environment, one `ops.gate_results` row per
//! gate, all under one `ops.runs` row of kind `gate`.

use super::{applies, cron, db_count, limits, modules, smtp, with_severity, worst};
use super::{GateError, Outcome, Verdict};
use crate::odoo::graph::{self, AddonsIndex};
use crate::provider::postgres;
use crate::ssot::{Environment, Gate, GateType, Severity, Ssot};
use crate::store::{
    ActionStatus, ActionUpdate, GateRunStatus, NewAction, NewGateResult, NewRun, RunKind,
    RunStatus, Store, Trigger,
};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

/// What to run and how to reach each environment's database.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Only this environment (default: every one).
    pub environment: Option<String>,
    /// Environment name → PostgreSQL URL of its Odoo database.
    pub databases: BTreeMap<String, String>,
    /// Addons paths for the module graph (none: no dependency closure).
    pub addons_paths: Vec<PathBuf>,
    pub actor: String,
    pub trigger: Trigger,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            environment: None,
            databases: BTreeMap::new(),
            addons_paths: Vec::new(),
            actor: "cli".to_string(),
            trigger: Trigger::Cli,
        }
    }
}

/// One gate on one environment, severity applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateRow {
    /// The Gate resource's name.
    pub gate: String,
    #[serde(rename = "type")]
    pub gate_type: &'static str,
    pub environment: String,
    pub severity: Severity,
    pub outcome: Outcome,
    pub measured: Value,
    pub threshold: Value,
    pub message: String,
    pub details: Value,
}

/// One environment's gate run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvRun {
    pub environment: String,
    pub status: Outcome,
    pub gate_run_id: Option<Uuid>,
    pub evidence_sha256: Option<String>,
}

/// Everything a `gates run` produced.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateReport {
    pub run_id: Option<Uuid>,
    pub ssot_revision: String,
    pub environments: Vec<EnvRun>,
    pub results: Vec<GateRow>,
}

impl GateReport {
    pub fn count(&self, o: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == o).count()
    }
    /// True when any gate failed (after severity): the CI exit code.
    pub fn failed(&self) -> bool {
        self.count(Outcome::Fail) > 0
    }
}

/// Measure and evaluate (no evidence written): rows for every (environment, gate) in scope,
/// environments and gates by name. Cron enforcement, when a gate asks for it, happens here.
pub async fn evaluate(ssot: &Ssot, opts: &RunOptions) -> Result<Vec<GateRow>, GateError> {
    evaluate_with(ssot, opts, None).await
}

/// Where enforcement actions are recorded: the idempotency ledger (`ops.actions`) of a run.
#[derive(Clone, Copy)]
struct Ledger<'a> {
    store: &'a Store,
    run_id: Uuid,
}

async fn evaluate_with(
    ssot: &Ssot,
    opts: &RunOptions,
    ledger: Option<Ledger<'_>>,
) -> Result<Vec<GateRow>, GateError> {
    let mut envs: Vec<&Environment> = match &opts.environment {
        Some(name) => vec![ssot
            .environment(name)
            .ok_or_else(|| GateError::UnknownEnvironment(name.clone()))?],
        None => ssot.environments().collect(),
    };
    envs.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut gates: Vec<&Gate> = ssot.gates().collect();
    gates.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let index = if opts.addons_paths.is_empty() {
        None
    } else {
        Some(graph::discover(&opts.addons_paths)?)
    };

    let mut rows = Vec::new();
    for env in envs {
        let scoped: Vec<&Gate> = gates
            .iter()
            .copied()
            .filter(|g| applies(&g.spec.scope, env))
            .collect();
        if scoped.is_empty() {
            continue;
        }
        let name = &env.metadata.name;
        let needs_db = scoped.iter().any(|g| {
            matches!(
                g.spec.gate_type,
                GateType::DbObjectCount | GateType::CronTimeout | GateType::ModuleAllowlist
            )
        });
        let pool: Option<Result<PgPool, GateError>> = match opts.databases.get(name) {
            Some(url) if needs_db => {
                Some(postgres::connect_database(url).await.map_err(Into::into))
            }
            _ => None,
        };
        for gate in scoped {
            let fut = evaluate_one(ssot, env, gate, pool.as_ref(), index.as_ref(), ledger);
            // Constitution rule 11: every job runs under the environment's wall-clock bound.
            let v = match env.spec.limits.job_timeout_seconds {
                Some(secs) => tokio::time::timeout(Duration::from_secs(secs), fut)
                    .await
                    .unwrap_or_else(|_| {
                        Verdict::new(
                            Outcome::Fail,
                            Value::Null,
                            json!({"jobTimeoutSeconds": secs}),
                            format!(
                                "gate did not finish within limits.jobTimeoutSeconds ({secs} s)"
                            ),
                        )
                    }),
                None => fut.await,
            };
            rows.push(GateRow {
                gate: gate.metadata.name.clone(),
                gate_type: gate.spec.gate_type.as_str(),
                environment: name.clone(),
                severity: gate.spec.severity,
                outcome: with_severity(v.outcome, gate.spec.severity),
                measured: v.measured,
                threshold: v.threshold,
                message: v.message,
                details: v.details,
            });
        }
        if let Some(Ok(p)) = pool {
            p.close().await;
        }
    }
    Ok(rows)
}

const NO_DB: &str =
    "no database for this environment (pass --db ENV=URL or set ODOOOPS_ENV_DB_<ENV>)";

async fn evaluate_one(
    ssot: &Ssot,
    env: &Environment,
    gate: &Gate,
    pool: Option<&Result<PgPool, GateError>>,
    index: Option<&AddonsIndex>,
    ledger: Option<Ledger<'_>>,
) -> Verdict {
    let params = &gate.spec.params;
    match gate.spec.gate_type {
        GateType::SmtpPolicy => smtp::evaluate(ssot, env),
        GateType::ResourceLimits => limits::evaluate(env, params),
        GateType::DbObjectCount => match pool {
            None => Verdict::skipped(NO_DB),
            Some(Err(e)) => Verdict::measurement_failed(e),
            Some(Ok(p)) => match postgres::object_count_on(p, &env.metadata.name).await {
                Ok(c) => db_count::evaluate(&c, params),
                Err(e) => Verdict::measurement_failed(&e.into()),
            },
        },
        GateType::CronTimeout => match pool {
            None => Verdict::skipped(NO_DB),
            Some(Err(e)) => Verdict::measurement_failed(e),
            Some(Ok(p)) => cron_gate(p, env, gate, ledger).await,
        },
        GateType::ModuleAllowlist => match module_gate(ssot, env, pool, index).await {
            Ok(v) => v,
            Err(e) => Verdict::measurement_failed(&e),
        },
    }
}

async fn cron_gate(
    pool: &PgPool,
    env: &Environment,
    gate: &Gate,
    ledger: Option<Ledger<'_>>,
) -> Verdict {
    let limits = cron::CronLimits::resolve(&gate.spec.params, env);
    let measured = match cron::measure(pool).await {
        Ok(m) => m,
        Err(e) => return Verdict::measurement_failed(&e),
    };
    let (mut v, ids) = cron::evaluate(&measured, &limits);
    if limits.enforce && !ids.is_empty() {
        // Ledger row first, side effect second (constitution: evidence before action).
        let mut recorded: Vec<(i64, Uuid)> = Vec::new();
        if let Some(l) = ledger {
            for id in &ids {
                let name = &env.metadata.name;
                let action = l
                    .store
                    .ledger_insert(&NewAction {
                        dedupe_key: format!("gate:{}:{name}:ir_cron:{id}:disable", l.run_id),
                        plan_id: None,
                        run_id: Some(l.run_id),
                        resource_kind: "ir_cron".to_string(),
                        resource_name: format!("{name}/{id}"),
                        operation: "disable".to_string(),
                        request_summary: Some(json!({"gate": gate.metadata.name, "cronId": id})),
                        resource_key: None,
                    })
                    .await;
                match action {
                    Ok(a) => recorded.push((*id, a.action().id)),
                    Err(e) => {
                        v.message
                            .push_str(&format!("; enforcement not attempted: ledger: {e}"));
                        return v;
                    }
                }
            }
        }
        let result = cron::disable(pool, &ids).await;
        if let Some(l) = ledger {
            for (id, action) in &recorded {
                let update = match &result {
                    Ok(done) => ActionUpdate {
                        status: Some(ActionStatus::Succeeded),
                        bump_attempts: true,
                        response_summary: Some(
                            json!({"disabled": done.iter().any(|d| d.id == *id)}),
                        ),
                        ..ActionUpdate::default()
                    },
                    Err(e) => ActionUpdate {
                        status: Some(ActionStatus::Failed),
                        bump_attempts: true,
                        error: Some(e.to_string()),
                        ..ActionUpdate::default()
                    },
                };
                if let Err(e) = l.store.ledger_update(*action, &update).await {
                    v.message.push_str(&format!("; ledger update: {e}"));
                }
            }
        }
        match result {
            Ok(done) => {
                let names: Vec<String> = done
                    .iter()
                    .map(|d| format!("{} (#{})", d.name, d.id))
                    .collect();
                v.message.push_str(&format!(
                    "; enforced: disabled {}",
                    if names.is_empty() {
                        "none (already inactive)".to_string()
                    } else {
                        names.join(", ")
                    }
                ));
                if let Value::Object(m) = &mut v.details {
                    m.insert("disabled".into(), json!(done));
                }
                if let Value::Object(m) = &mut v.measured {
                    m.insert("disabled".into(), json!(done.len()));
                }
            }
            Err(e) => v.message.push_str(&format!("; enforcement failed: {e}")),
        }
    }
    v
}

async fn module_gate(
    ssot: &Ssot,
    env: &Environment,
    pool: Option<&Result<PgPool, GateError>>,
    index: Option<&AddonsIndex>,
) -> Result<Verdict, GateError> {
    let allow = modules::Allowlist::for_env(ssot, env)?;
    match (pool, index) {
        (Some(Err(e)), _) => Ok(Verdict::measurement_failed(e)),
        (Some(Ok(p)), idx) => {
            let installed = modules::measure(p).await?;
            let deps = match idx {
                Some(i) => Some(modules::resolve(i, &installed, &allow.series)?),
                None => None,
            };
            let mode = if deps.is_some() {
                "database+graph"
            } else {
                "database"
            };
            Ok(modules::evaluate(mode, &allow, &installed, deps.as_ref()))
        }
        (None, Some(i)) => {
            let selection = modules::ssot_selection(env, &allow);
            let deps = modules::resolve(i, &selection, &allow.series)?;
            Ok(modules::evaluate("graph", &allow, &selection, Some(&deps)))
        }
        (None, None) => {
            let selection = modules::ssot_selection(env, &allow);
            Ok(modules::evaluate("ssot", &allow, &selection, None))
        }
    }
}

/// The JSON evidence of one environment's gate run (no timestamps: same inputs, same bytes).
pub fn evidence_json(ssot_revision: &str, environment: &str, rows: &[&GateRow]) -> Vec<u8> {
    let doc = json!({
        "kind": "GateRunEvidence",
        "ssotRevision": ssot_revision,
        "environment": environment,
        "status": worst(rows.iter().map(|r| r.outcome)),
        "results": rows,
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

fn run_status(o: Outcome) -> GateRunStatus {
    match o {
        Outcome::Fail => GateRunStatus::Fail,
        Outcome::Warn | Outcome::Skipped => GateRunStatus::Warn,
        Outcome::Pass => GateRunStatus::Pass,
    }
}

/// Evaluate, then record the evidence in `store` (when given).
pub async fn run(
    ssot: &Ssot,
    opts: &RunOptions,
    store: Option<&Store>,
) -> Result<GateReport, GateError> {
    let run = match store {
        Some(s) => Some(
            s.begin_run(&NewRun {
                kind: RunKind::Gate,
                trigger: opts.trigger,
                ssot_revision: ssot.revision.clone(),
                actor: opts.actor.clone(),
                environment: opts.environment.clone(),
                correlation_id: None,
            })
            .await?,
        ),
        None => None,
    };
    let ledger = match (store, &run) {
        (Some(store), Some(r)) => Some(Ledger {
            store,
            run_id: r.id,
        }),
        _ => None,
    };
    let results = match evaluate_with(ssot, opts, ledger).await {
        Ok(r) => r,
        Err(e) => {
            if let (Some(s), Some(r)) = (store, &run) {
                let _ = s
                    .finish_run(r.id, RunStatus::Failed, &json!({"error": e.to_string()}))
                    .await;
            }
            return Err(e);
        }
    };
    let mut by_env: BTreeMap<&str, Vec<&GateRow>> = BTreeMap::new();
    for r in &results {
        by_env.entry(r.environment.as_str()).or_default().push(r);
    }
    let mut report = GateReport {
        run_id: None,
        ssot_revision: ssot.revision.clone(),
        environments: Vec::new(),
        results: results.clone(),
    };
    let (Some(store), Some(run)) = (store, run) else {
        for (env, rows) in by_env {
            report.environments.push(EnvRun {
                environment: env.to_string(),
                status: worst(rows.iter().map(|r| r.outcome)),
                gate_run_id: None,
                evidence_sha256: None,
            });
        }
        return Ok(report);
    };
    report.run_id = Some(run.id);
    for (env, rows) in by_env {
        let status = worst(rows.iter().map(|r| r.outcome));
        let gr = store.begin_gate_run(Some(run.id), env).await?;
        let bytes = evidence_json(&ssot.revision, env, &rows);
        let artifact = store
            .put_artifact(&bytes, "application/json", Some(run.id))
            .await?;
        for r in &rows {
            store
                .record_gate_result(&NewGateResult {
                    gate_run_id: gr.id,
                    gate: r.gate.clone(),
                    environment: r.environment.clone(),
                    outcome: r.outcome,
                    measured: Some(r.measured.clone()),
                    threshold: Some(r.threshold.clone()),
                    evidence_sha256: Some(artifact.sha256.clone()),
                    message: r.message.clone(),
                })
                .await?;
        }
        store.finish_gate_run(gr.id, run_status(status)).await?;
        report.environments.push(EnvRun {
            environment: env.to_string(),
            status,
            gate_run_id: Some(gr.id),
            evidence_sha256: Some(artifact.sha256),
        });
    }
    let summary = json!({
        "pass": report.count(Outcome::Pass),
        "warn": report.count(Outcome::Warn),
        "fail": report.count(Outcome::Fail),
        "skipped": report.count(Outcome::Skipped),
    });
    let status = if report.failed() {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    store.finish_run(run.id, status, &summary).await?;
    Ok(report)
}

/// Environment name → database URL from `ODOOOPS_ENV_DB_<ENV>` variables, for every
/// environment of the SSOT that has one set.
pub fn databases_from_env(ssot: &Ssot) -> BTreeMap<String, String> {
    ssot.environments()
        .filter_map(|e| {
            let url = std::env::var(crate::odoo::backup::env_db_var(&e.metadata.name)).ok()?;
            (!url.trim().is_empty()).then(|| (e.metadata.name.clone(), url))
        })
        .collect()
}

/// [`run`] as a bounded job (the environment's `limits.jobTimeoutSeconds`; every environment:
/// `*` with the default bound): recorded in `ops.job_runs`, cancellable, disabled after
/// consecutive timeouts.
pub async fn run_bounded(
    ssot: &Ssot,
    opts: &RunOptions,
    store: &Store,
    cancel: &crate::jobs::CancelToken,
) -> Result<GateReport, crate::jobs::JobError<GateError>> {
    use crate::jobs::{JobKind, JobSpec, JobsConfig};
    let env = opts.environment.clone().unwrap_or_else(|| "*".to_string());
    let spec = JobSpec {
        kind: JobKind::Gate,
        timeout: crate::odoo::backup::job_timeout(ssot, JobKind::Gate, &env),
        environment: env,
    };
    crate::jobs::run_bounded(
        store,
        &JobsConfig::default(),
        &spec,
        cancel,
        |ctx| async move {
            let rep = run(ssot, opts, Some(store)).await;
            if let Ok(Some(id)) = rep.as_ref().map(|r| r.run_id) {
                ctx.set_run(id);
            }
            rep
        },
    )
    .await
}
