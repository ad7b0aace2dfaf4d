//! Property/fuzz pass over the console API with schemathesis (PyPI): the console serves a
//! populated store on loopback, its own `/api/openapi.json` — the raw document, with typed
//! response schemas — is the contract, and schemathesis generates bounded requests per
//! operation — without a token, with a viewer token and with an operator token — running
//! every built-in check (no 5xx, statuses, content types, response schema conformance,
//! negative data rejected, positive data accepted, methods, auth) plus our own
//! `json_envelope` check: every answer is `application/json`, parses, and is an envelope
//! (the document itself excepted). The document is first validated as OpenAPI 3.0 by
//! `openapi-spec-validator` (PyPI).
//!
//! Skipped with a loud message when a tool is not installed, except under CI=true where
//! that is a failure (`.ci/run` installs the pinned versions).

mod common;
mod console_common;

use console_common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The versions `.ci/run` installs.
const SCHEMATHESIS: &str = "4.32.5";
const SPEC_VALIDATOR: &str = "0.9.0";

/// Whether `openapi-spec-validator` can be imported (a failure under CI=true).
fn spec_validator() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "CI=true but openapi-spec-validator is not installed: python3 -m pip install 'openapi-spec-validator=={SPEC_VALIDATOR}'"
            );
        }
        eprintln!(
            "\n*** SKIPPED OpenAPI validation: openapi-spec-validator not found. Install it with\n***   python3 -m pip install 'openapi-spec-validator=={SPEC_VALIDATOR}'\n"
        );
    }
    found
}

/// The document the server serves, as raw bytes of its answer.
async fn served_document(base: &str) -> String {
    let r = client()
        .get(format!("{base}/api/openapi.json"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .expect("openapi");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("application/json")));
    r.text().await.expect("openapi body")
}

#[tokio::test]
async fn the_served_document_is_valid_openapi_3() {
    if !spec_validator() {
        return;
    }
    let b = common::sqlite().await;
    let base = start(b.store.clone(), config(false)).await;
    let doc = served_document(&base).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, &doc).expect("write document");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator.validation import OpenAPIV30SpecValidator\n\
             doc = json.load(open(sys.argv[1]))\n\
             errors = list(OpenAPIV30SpecValidator(doc).iter_errors())\n\
             for e in errors: print(e.message, list(e.path))\n\
             sys.exit(1 if errors else 0)\n",
        ])
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator: the document is not valid OpenAPI 3.0:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A broken document is caught (the validator is not a no-op).
    let mut broken: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    broken["paths"]["/api/runs"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["properties"]["data"] = serde_json::json!({"type": "no-such-type"});
    std::fs::write(&path, broken.to_string()).expect("write broken");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\n",
        ])
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        !out.status.success(),
        "a broken document must fail validation"
    );
    b.finish().await;
}

fn schemathesis() -> Option<String> {
    let found = Command::new("schemathesis")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "CI=true but schemathesis is not installed: python3 -m pip install 'schemathesis=={SCHEMATHESIS}'"
            );
        }
        eprintln!(
            "\n*** SKIPPED console API fuzz test: schemathesis not found. Install it with\n***   python3 -m pip install 'schemathesis=={SCHEMATHESIS}'\n"
        );
    }
    found
}

/// The custom check, loaded through SCHEMATHESIS_HOOKS.
const HOOKS: &str = r#"
import json
import schemathesis


@schemathesis.check
def json_envelope(ctx, response, case):
    """Every /api answer is application/json, parses, and is an ok/error envelope (the
    OpenAPI document's success answer is the document itself)."""
    ctype = (response.headers.get("content-type") or [""])[0]
    if not ctype.startswith("application/json"):
        raise AssertionError(f"content-type is {ctype!r}, not application/json")
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"the body is not JSON: {e}")
    if case.path == "/api/openapi.json" and response.status_code == 200:
        if not isinstance(body, dict) or "openapi" not in body or "ok" in body:
            raise AssertionError("the OpenAPI document is not served as the plain document")
        return
    if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
        raise AssertionError("the body is not an envelope with a boolean `ok`")
    if body["ok"]:
        if "data" not in body:
            raise AssertionError("a success envelope without `data`")
    else:
        err = body.get("error")
        if not isinstance(err, dict) or not isinstance(err.get("code"), str):
            raise AssertionError("an error envelope without `error.code`")
        if err.get("status") != response.status_code:
            raise AssertionError(f"error.status {err.get('status')} != HTTP {response.status_code}")
    if response.status_code >= 500:
        raise AssertionError(f"server error {response.status_code}")
"#;

/// Statuses a schema-valid request may still get: 422 is a well-formed request naming
/// something that does not exist (an environment, plan or backup) — the document cannot list
/// the SSOT's names or the store's ids. With `pinned`, path parameters are fixed to rows of the
/// populated store so the read routes answer with real data (and their schemas are checked on
/// it); without, they are generated (malformed and unknown ids).
fn config_toml(pinned: Option<(&str, &str, &str, &str)>) -> String {
    let mut out = String::from(
        "[checks.positive_data_acceptance]\nexpected-statuses = [\"2xx\", \"401\", \"403\", \"404\", \"422\"]\n",
    );
    let Some((run, job, artifact, plan)) = pinned else {
        return out;
    };
    for (op, name, value) in [
        ("get_runs_id", "id", run),
        ("get_runs_id_events", "id", run),
        ("get_jobs_id", "id", job),
        ("get_plans_id", "id", plan),
        ("get_artifacts_id", "id", artifact),
        ("get_environments_name", "name", "staging"),
    ] {
        out.push_str(&format!(
            "\n[[operations]]\ninclude-operation-id = \"{op}\"\nparameters = {{ \"{name}\" = \"{value}\" }}\n"
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_in_the_api() {
    let Some(version) = schemathesis() else {
        return;
    };
    eprintln!("using {version}");
    let b = common::sqlite().await;
    let pop = populate(&b.store).await;
    let job = b
        .store
        .job_by_dedupe_key("seed-job")
        .await
        .expect("job lookup")
        .expect("the populated job");
    let base = start(b.store.clone(), config(false)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The contract is the server's own document, byte for byte as served.
    let schema = dir.path().join("openapi.json");
    std::fs::write(&schema, served_document(&base).await).expect("write schema");
    std::fs::write(dir.path().join("odooops_checks.py"), HOOKS).expect("write hooks");
    let (run, job, plan) = (
        pop.run_id.to_string(),
        job.id.to_string(),
        pop.plan_id.to_string(),
    );
    let generated = dir.path().join("schemathesis.toml");
    std::fs::write(&generated, config_toml(None)).expect("write config");
    let pinned = dir.path().join("schemathesis-pinned.toml");
    std::fs::write(
        &pinned,
        config_toml(Some((&run, &job, &pop.plan_artifact, &plan))),
    )
    .expect("write config");
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis");
    std::fs::create_dir_all(&reports).expect("report dir");

    let started = Instant::now();
    let mut failures = Vec::new();
    for (who, token, config) in [
        ("anonymous", None, &generated),
        ("viewer", Some(VIEWER), &pinned),
        ("operator", Some(OPERATOR), &generated),
    ] {
        let mut cmd = tokio::process::Command::new("schemathesis");
        cmd.current_dir(dir.path())
            .env("SCHEMATHESIS_HOOKS", "odooops_checks")
            .env("PYTHONPATH", dir.path())
            .env("NO_COLOR", "1")
            .arg("--config-file")
            .arg(config)
            .arg("run")
            .arg(&schema)
            .args(["--url", &base])
            .args(["--checks", "all"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", "12"])
            .args(["--seed", "7"])
            .args(["--workers", "1"])
            .args(["--generation-database", "none"])
            .args(["--request-timeout", "10"])
            .args(["--no-color"])
            .args(["--report", "junit,har"])
            .arg("--report-junit-path")
            .arg(reports.join(format!("{who}.xml")))
            .arg("--report-har-path")
            .arg(reports.join(format!("{who}.har")))
            .kill_on_drop(true);
        if let Some(t) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("schemathesis ({who}) finished within 120 s"))
            .expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "--- schemathesis as {who} ({:?}):\n{}",
            started.elapsed(),
            stdout
                .lines()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        if !out.status.success() {
            failures.push(format!(
                "=== as {who}: exit {:?}\n{stdout}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Negative control: the typed response schemas are checked. A document whose `Run` names
    // a field the server never sends must make schemathesis fail on a real run.
    let mut wrong: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&schema).expect("read schema")).expect("JSON");
    wrong["components"]["schemas"]["Run"]["required"]
        .as_array_mut()
        .expect("Run.required")
        .push(serde_json::json!("no_such_field"));
    let wrong_path = dir.path().join("openapi-wrong.json");
    std::fs::write(&wrong_path, wrong.to_string()).expect("write");
    let out = tokio::process::Command::new("schemathesis")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&pinned)
        .arg("run")
        .arg(&wrong_path)
        .args(["--url", &base])
        .args(["--checks", "response_schema_conformance"])
        .args(["--include-operation-id", "get_runs_id"])
        .args(["--phases", "examples,fuzzing"])
        .args(["--max-examples", "3"])
        .args(["--seed", "7"])
        .args(["--generation-database", "none"])
        .args(["--no-color"])
        .args(["-H", &format!("Authorization: Bearer {VIEWER}")])
        .kill_on_drop(true)
        .output()
        .await
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && stdout.contains("no_such_field"),
        "schemathesis must catch a response that does not match its schema:\n{stdout}"
    );
    b.finish().await;
}
