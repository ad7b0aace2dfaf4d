//! Evidence of a gate run on both store backends: one ops.runs row (kind gate), one
//! ops.gate_runs row per environment with its status, one ops.gate_results row per gate, and
//! one JSON artifact per gate run that the results point to.

mod common;
mod gates_support;

use gates_support::*;
use odooops::gates::{self, Outcome, RunOptions};
use odooops::ssot::{GateParams, GateType, MailMode, Severity};

#[tokio::test]
async fn gate_evidence_on_both_backends() {
    let mut ssot = repo_ssot();
    let mut limits = gate(
        "resource-limits",
        GateType::ResourceLimits,
        GateParams::default(),
    );
    limits.spec.severity = Severity::Warn;
    set_gates(
        &mut ssot,
        vec![
            gate("smtp-policy", GateType::SmtpPolicy, GateParams::default()),
            limits,
            gate(
                "db-object-count",
                GateType::DbObjectCount,
                GateParams::default(),
            ),
        ],
    );
    // dev-portal sends real mail: smtp-policy fails there; staging runs 3 workers: warn.
    {
        let dev = env_mut(&mut ssot, "dev-portal");
        dev.spec.mail.mode = MailMode::Smtp;
        dev.spec.mail.host = Some("smtp.example.org".into());
        let st = env_mut(&mut ssot, "staging");
        st.spec.odoo.workers = Some(3);
        st.spec.limits.max_workers = None;
    }
    for b in common::backends().await {
        let store = &b.store;
        let report = gates::run(&ssot, &RunOptions::default(), Some(store))
            .await
            .expect("run");
        assert!(report.failed(), "{}", b.name);
        let run_id = report.run_id.expect("run id");
        let run = store.run(run_id).await.expect("run row").expect("exists");
        assert_eq!(run.kind, "gate");
        assert_eq!(run.status, "failed");
        assert_eq!(report.environments.len(), 4, "{}", b.name);
        for e in &report.environments {
            let gr = e.gate_run_id.expect("gate run id");
            let rows = store.gate_results(gr).await.expect("results");
            assert_eq!(rows.len(), 3, "{} {}", b.name, e.environment);
            let sha = e.evidence_sha256.clone().expect("evidence");
            assert!(rows
                .iter()
                .all(|r| r.evidence_sha256.as_deref() == Some(sha.as_str())));
            let (artifact, bytes) = store.read_artifact(&sha).await.expect("artifact");
            assert_eq!(artifact.media_type, "application/json");
            let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(doc["environment"], e.environment.as_str());
            assert_eq!(doc["results"].as_array().map(Vec::len), Some(3));
            let outcome = |g: &str| {
                rows.iter()
                    .find(|r| r.gate == g)
                    .map(|r| r.outcome.clone())
                    .expect("gate row")
            };
            assert_eq!(outcome("db-object-count"), "skipped");
            match e.environment.as_str() {
                "dev-portal" => {
                    assert_eq!(e.status, Outcome::Fail);
                    assert_eq!(outcome("smtp-policy"), "fail");
                    let r = rows.iter().find(|r| r.gate == "smtp-policy").expect("row");
                    assert_eq!(r.measured.as_ref().expect("measured")["mode"], "smtp");
                    assert!(r.message.contains("catcher"), "{}", r.message);
                }
                "staging" => {
                    assert_eq!(outcome("resource-limits"), "warn");
                    assert_eq!(e.status, Outcome::Warn);
                }
                _ => {
                    assert_eq!(outcome("smtp-policy"), "pass");
                    // A skipped gate keeps the run from being a clean pass.
                    assert_eq!(e.status, Outcome::Warn);
                }
            }
        }
        // Same inputs, same evidence bytes (no timestamps in the artifact).
        let again = gates::run(&ssot, &RunOptions::default(), Some(store))
            .await
            .expect("rerun");
        let shas = |r: &gates::GateReport| {
            r.environments
                .iter()
                .map(|e| e.evidence_sha256.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(shas(&report), shas(&again));
        b.finish().await;
    }
}
