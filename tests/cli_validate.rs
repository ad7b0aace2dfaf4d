//! `odooops validate` and `odooops schema` as a user runs them.

use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

fn odooops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_odooops"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run odooops")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_valid_tree_exits_0_with_counts_per_kind() {
    let o = odooops(&["validate", "--ssot", "ssot"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let s = stdout(&o);
    assert!(s.contains("15 resources in 11 files"), "{s}");
    assert!(
        s.contains("4 Environment") && s.contains("5 Gate") && s.contains("valid"),
        "{s}"
    );
}

#[test]
fn an_invalid_tree_exits_1_with_compiler_style_diagnostics() {
    let o = odooops(&["validate", "--ssot", "examples/invalid/unknown-field"]);
    assert_eq!(o.status.code(), Some(1));
    let s = stdout(&o);
    assert!(
        s.contains("examples/invalid/unknown-field/env.yaml:18:5: error[unknown-field]: Environment/production: /spec/odoo/wrokers: unknown field `wrokers`"),
        "{s}"
    );
    assert!(
        s.contains("18 |     wrokers: 2"),
        "the offending line is shown:\n{s}"
    );
    assert!(s.contains("= help: did you mean `workers`?"), "{s}");
}

#[test]
fn json_output_is_a_list_of_diagnostics() {
    let o = odooops(&["validate", "-o", "json", "--ssot", "examples/invalid/waves"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let list = v.as_array().expect("array");
    assert_eq!(list.len(), 2);
    for d in list {
        for field in ["level", "code", "file", "line", "column", "path", "message"] {
            assert!(d.get(field).is_some(), "missing {field} in {d}");
        }
    }
    let ok = odooops(&["validate", "-o", "json", "--ssot", "examples/quickstart"]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&ok.stdout).expect("json"),
        serde_json::json!([])
    );
}

/// `ssot/` sets each field of the unused-field table once or twice.
const UNUSED: [(&str, u64, u64, &str, &str); 4] = [
    (
        "ssot/backups.yaml",
        18,
        3,
        "BackupPolicy/production-daily",
        "/spec/restoreDrill",
    ),
    (
        "ssot/environments/dev-invoicing.yaml",
        35,
        5,
        "Environment/dev-invoicing",
        "/spec/limits/ttlDays",
    ),
    (
        "ssot/environments/dev-portal.yaml",
        35,
        5,
        "Environment/dev-portal",
        "/spec/limits/ttlDays",
    ),
    (
        "ssot/environments/production.yaml",
        49,
        5,
        "Environment/production",
        "/spec/modules/install",
    ),
];

#[test]
fn fields_accepted_but_not_acted_on_are_located_warnings_and_exit_0() {
    let o = odooops(&["validate", "--ssot", "ssot"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let s = stdout(&o);
    for (file, line, column, resource, pointer) in UNUSED {
        let field = pointer.rsplit('/').next().expect("field");
        let head = format!(
            "{file}:{line}:{column}: warning[unused-field]: {resource}: {pointer}: `{field}` is accepted but not acted on: "
        );
        assert!(s.contains(&head), "no `{head}` in\n{s}");
    }
    assert!(
        s.contains("= help: it is validated and kept; remove it to silence this warning"),
        "{s}"
    );
    assert!(s.contains("4 warning(s) — valid"), "{s}");

    let o = odooops(&["validate", "-o", "json", "--ssot", "ssot"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let found: Vec<(String, u64, u64, String, String)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|d| {
            assert_eq!(
                (&d["level"], &d["code"]),
                (&json!("warning"), &json!("unused-field"))
            );
            (
                d["file"].as_str().unwrap_or_default().to_string(),
                d["line"].as_u64().unwrap_or_default(),
                d["column"].as_u64().unwrap_or_default(),
                d["resource"].as_str().unwrap_or_default().to_string(),
                d["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, u64, u64, String, String)> = UNUSED
        .iter()
        .map(|(f, l, c, r, p)| (f.to_string(), *l, *c, r.to_string(), p.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn warnings_are_listed_beside_errors_and_only_errors_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/invalid/cron");
    for name in ["base.yaml", "env.yaml", "backup.yaml"] {
        std::fs::copy(src.join(name), dir.path().join(name)).expect("copy");
    }
    let backup = std::fs::read_to_string(dir.path().join("backup.yaml")).expect("read");
    std::fs::write(
        dir.path().join("backup.yaml"),
        backup + "  restoreDrill:\n    schedule: \"0 5 * * SUN\"\n",
    )
    .expect("write");
    let root = dir.path().to_str().expect("utf8 path");
    let o = odooops(&["validate", "-o", "json", "--ssot", root]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let found: Vec<(&str, &str, u64)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|d| {
            (
                d["level"].as_str().unwrap_or_default(),
                d["code"].as_str().unwrap_or_default(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![("error", "cron", 8), ("warning", "unused-field", 9)]
    );
    // The same tree with a good schedule: the warning alone, exit 0.
    let fixed = std::fs::read_to_string(dir.path().join("backup.yaml"))
        .expect("read")
        .replace("\"0 25 * *\"", "\"0 3 * * *\"");
    std::fs::write(dir.path().join("backup.yaml"), fixed).expect("write");
    let o = odooops(&["validate", "--ssot", root]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("1 warning(s) — valid"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_file_that_is_not_utf8_is_located_at_its_first_invalid_byte() {
    let o = odooops(&["validate", "--ssot", "examples/invalid/non-utf8"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let s = stdout(&o);
    assert!(
        s.contains("examples/invalid/non-utf8/backup.yaml:8:43: error[not-utf8]: not UTF-8 text: byte 0xE9 (byte offset 290) is not valid UTF-8\n"),
        "{s}"
    );
    // The line up to the byte, the byte shown as U+FFFD, and the caret under it.
    assert!(
        s.contains("8 |     description: \"sauvegarde de nuit (donn\u{FFFD}es clients)\"\n"),
        "{s}"
    );
    assert!(s.contains(&format!("  | {}^\n", " ".repeat(42))), "{s}");
    assert!(
        s.contains("= help: re-save the file as UTF-8; byte 0xE9 is `é` in Latin-1"),
        "{s}"
    );

    let o = odooops(&[
        "validate",
        "-o",
        "json",
        "--ssot",
        "examples/invalid/non-utf8",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let list = v.as_array().expect("array");
    assert_eq!(list.len(), 1, "{v}");
    let d = &list[0];
    assert_eq!(d["level"], "error");
    assert_eq!(d["code"], "not-utf8");
    assert_eq!(d["file"], "examples/invalid/non-utf8/backup.yaml");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(8), Some(43))
    );
}

#[test]
fn a_file_that_is_not_utf8_does_not_hide_the_errors_of_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/invalid/non-utf8");
    for name in ["base.yaml", "env.yaml", "backup.yaml"] {
        std::fs::copy(src.join(name), dir.path().join(name)).expect("copy");
    }
    let env = std::fs::read_to_string(dir.path().join("env.yaml")).expect("read");
    let env = env.replace("  maturity: beta\n", "  maturity: beta\n  wrokers: 2\n");
    std::fs::write(dir.path().join("env.yaml"), env).expect("write");
    let root = dir.path().to_str().expect("utf8 path");
    let o = odooops(&["validate", "-o", "json", "--ssot", root]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let found: Vec<(String, String)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|d| {
            let file = d["file"].as_str().unwrap_or_default();
            let name = Path::new(file).file_name().expect("file name");
            (
                name.to_string_lossy().into_owned(),
                d["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("backup.yaml".to_string(), "not-utf8".to_string()),
            ("env.yaml".to_string(), "unknown-field".to_string()),
        ]
    );
    let text = stdout(&odooops(&["validate", "--ssot", root]));
    // The Project and SecretRegistry of base.yaml load; the broken Environment does not.
    assert!(text.contains(": 2 resources in 2 files"), "{text}");
}

#[test]
fn a_refused_schedule_is_located_at_the_value_with_a_help_line() {
    let o = odooops(&["validate", "--ssot", "examples/invalid/cron"]);
    assert_eq!(o.status.code(), Some(1));
    let s = stdout(&o);
    assert!(
        s.contains("examples/invalid/cron/backup.yaml:8:14: error[cron]: BackupPolicy/nightly: /spec/schedule: 4 fields: a cron expression has 5 (minute hour day-of-month month day-of-week)\n"),
        "{s}"
    );
    assert!(
        s.contains("8 |   schedule: \"0 25 * *\"\n  |              ^\n"),
        "{s}"
    );
    assert!(s.contains("= help: five fields, UTC: `0 3 * * *`"), "{s}");
}

#[test]
fn usage_errors_exit_64() {
    assert_eq!(odooops(&["validate", "--bogus"]).status.code(), Some(64));
    assert_eq!(odooops(&["no-such-verb"]).status.code(), Some(64));
    assert_eq!(odooops(&["validate", "-o", "yaml"]).status.code(), Some(64));
    assert_eq!(odooops(&["--help"]).status.code(), Some(0));
}

#[test]
fn schema_out_writes_one_file_per_kind_plus_the_document_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = odooops(&["schema", "--out", dir.path().to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(names.contains(&"database-cluster.schema.json".to_string()));
    assert!(names.contains(&"document.schema.json".to_string()));
    assert!(names.contains(&"backup-policy.schema.json".to_string()));
    for n in names {
        let text = std::fs::read_to_string(Path::new(dir.path()).join(&n)).expect("read");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            v["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{n}"
        );
    }
}
