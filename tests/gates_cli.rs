//! `odooops gates run` as CI runs it: table or JSON, exit 0 without failures, 1 with, 64 on a
//! malformed --db; databases from --db or ODOOOPS_ENV_DB_<ENV>.

use std::process::{Command, Output};

fn odooops(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let data = tempfile::tempdir().expect("tmp");
    let mut c = Command::new(env!("CARGO_BIN_EXE_odooops"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ODOOOPS_DATABASE_URL")
        // ssot/ keeps its artifacts in a Spaces bucket: here they stay local.
        .env("ODOOOPS_ARTIFACT_URL", data.path().join("artifacts"))
        .env_remove("ODOOOPS_ENV_DB_PRODUCTION")
        .env_remove("ODOOOPS_ENV_DB_STAGING")
        .arg("--data-dir")
        .arg(data.path())
        // ssot/ names a PostgreSQL store by secret: here the evidence goes to a local file.
        .arg("--database-url")
        .arg(format!("sqlite:{}", data.path().join("ops.db").display()))
        .args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run odooops")
}

fn out(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn ssot_only_run_passes_with_skips_and_prints_a_table() {
    let o = odooops(
        &[
            "gates",
            "run",
            "--ssot",
            "ssot",
            "--addons-path",
            "examples/addons",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let s = out(&o);
    assert!(s.starts_with("GATE"), "{s}");
    assert!(
        s.contains("db-object-count   production     skipped"),
        "{s}"
    );
    assert!(s.contains("0 fail, 8 skipped"), "{s}");
}

#[test]
fn json_output_and_exit_1_when_a_gate_fails() {
    // An unreachable database cannot be vouched for: the gates needing it fail.
    let o = odooops(
        &[
            "gates",
            "run",
            "--ssot",
            "ssot",
            "--env",
            "production",
            "-o",
            "json",
        ],
        &[(
            "ODOOOPS_ENV_DB_PRODUCTION",
            "postgres://nobody@127.0.0.1:1/none",
        )],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let results = v["results"].as_array().expect("results");
    assert!(results.iter().all(|r| r["environment"] == "production"));
    let count = results
        .iter()
        .find(|r| r["gate"] == "db-object-count")
        .expect("db-object-count");
    assert_eq!(count["outcome"], "fail");
    assert!(v["runId"].is_string());
}

#[test]
fn malformed_db_flag_is_a_usage_error() {
    let o = odooops(
        &["gates", "run", "--ssot", "ssot", "--db", "production"],
        &[],
    );
    assert_eq!(o.status.code(), Some(64), "{}", out(&o));
    let o = odooops(
        &[
            "gates",
            "run",
            "--ssot",
            "ssot",
            "--db",
            "nowhere=postgres://x@h/d",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(64), "{}", out(&o));
}
