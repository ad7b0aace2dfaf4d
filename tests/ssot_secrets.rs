//! No diagnostic, in any output format, ever contains a secret value. Secret-shaped values
//! are built at run time: nothing token-shaped is committed.

use odooops::ssot::{self, Limits};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn canaries() -> Vec<(&'static str, String)> {
    vec![
        ("DigitalOcean", format!("dop_v1_{}", "ab".repeat(32))),
        (
            "Slack",
            format!(
                "xoxb-{}-{}-{}",
                "12345678901",
                "1234567890123",
                "Ab".repeat(12)
            ),
        ),
        (
            "Slack webhook",
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                "0".repeat(8),
                "1".repeat(8),
                "x".repeat(24)
            ),
        ),
        ("Supabase", format!("sbp_{}", "0123456789abcdef".repeat(3))),
        (
            "JWT",
            format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
                "yb2xlIjoic2VydmljZV9yb2xlIn0",
                "S".repeat(43)
            ),
        ),
        ("AWS", format!("AKIA{}", "QWERTYUIOPASDFGH")),
        ("PEM", format!("-----BEGIN OPENSSH {} KEY-----", "PRIVATE")),
        (
            "entropy",
            format!("test-token-{}", "q8Zr2Lm9Xt4Vw7Ks1Nb6Hj3Gf5Dc0Ay"),
        ),
    ]
}

fn tree_with(value: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["base.yaml", "env.yaml"] {
        let text = std::fs::read_to_string(repo(&format!("examples/invalid/mail-policy/{f}")))
            .expect("read");
        let text = if f == "env.yaml" {
            // The secret lands in a credential field, an annotation and a label-like note.
            text.replace("port: 25", "port: 587")
                .replace(
                    "passwordSecret: SMTP_PASSWORD",
                    &format!("passwordSecret: \"{value}\""),
                )
                .replace(
                    "  name: production\n",
                    &format!("  name: production\n  annotations:\n    note: \"{value}\"\n"),
                )
                + &format!("  secrets: [\"{value}\"]\n")
        } else {
            text
        };
        std::fs::write(dir.path().join(f), text).expect("write");
    }
    dir
}

#[test]
fn secret_values_are_reported_by_location_never_by_value() {
    for (what, value) in canaries() {
        let dir = tree_with(&value);
        let report = ssot::load(dir.path(), &Limits::default());
        let secret_errs: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.code == "secret-value")
            .collect();
        assert!(secret_errs.len() >= 2, "{what}: {:#?}", report.diagnostics);
        for d in &secret_errs {
            assert!(d.line > 0);
            assert!(
                d.hint
                    .as_deref()
                    .is_some_and(|h| h.contains("SecretRegistry")),
                "{what}: {d:?}"
            );
        }
        let json = serde_json::to_string(&report.diagnostics).expect("json");
        assert!(
            !json.contains(&value),
            "{what}: JSON diagnostics echo the secret"
        );
        for d in &report.diagnostics {
            let text = d.render(report.source(&d.file));
            assert!(
                !text.contains(&value),
                "{what}: rendered diagnostic echoes the secret:\n{text}"
            );
        }
        // The binary, both output formats.
        for format in ["text", "json"] {
            let out = Command::new(env!("CARGO_BIN_EXE_odooops"))
                .args(["validate", "-o", format, "--ssot"])
                .arg(dir.path())
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(1));
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !all.contains(&value),
                "{what}: `validate -o {format}` printed the secret"
            );
            assert!(all.contains("secret-value"));
        }
    }
}

#[test]
fn schema_errors_on_secret_values_do_not_echo_them() {
    // A secret where a number belongs: the type error must not quote the value.
    let value = format!("dop_v1_{}", "cd".repeat(32));
    let dir = tree_with("placeholder");
    let env = std::fs::read_to_string(dir.path().join("env.yaml")).expect("read");
    std::fs::write(
        dir.path().join("env.yaml"),
        env.replace("port: 587", &format!("port: \"{value}\"")),
    )
    .expect("write");
    let report = ssot::load(dir.path(), &Limits::default());
    assert!(report.diagnostics.iter().any(|d| d.code == "invalid-type"));
    for d in &report.diagnostics {
        assert!(!d.render(report.source(&d.file)).contains(&value), "{d:?}");
        assert!(!d.message.contains(&value));
    }
}
