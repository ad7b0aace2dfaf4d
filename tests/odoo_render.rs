//! Rendered runtime config compared byte-for-byte with golden files under
//! tests/fixtures/render/. Regenerate after an intended change with:
//!
//!     UPDATE_GOLDEN=1 cargo test --test odoo_render
//!
//! and review the diff before committing it.

use odooops::odoo::render;
use odooops::ssot::{self, Limits};
use std::path::Path;
use std::process::Command;

const ENVS: &[&str] = &["production", "staging", "dev-invoicing"];

fn golden(name: &str, actual: &str, mismatches: &mut Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/render")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()) + 1);
        mismatches.push(format!(
            "{name}: differs from line {first} (UPDATE_GOLDEN=1 regenerates)"
        ));
    }
}

#[test]
fn rendered_config_matches_the_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ssot");
    let ssot = ssot::load(&dir, &Limits::default())
        .into_ssot()
        .expect("ssot/ is valid");
    let mut mismatches = Vec::new();
    for name in ENVS {
        let env = ssot.environment(name).expect("environment");
        let project = ssot.project(&env.spec.project).expect("project");
        golden(
            &format!("{name}.odoo.conf"),
            &render::odoo_conf(project, env),
            &mut mismatches,
        );
        golden(
            &format!("{name}.cloud-init.yaml"),
            &render::cloud_init(project, env),
            &mut mismatches,
        );
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn cli_render_prints_the_same_bytes() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_odooops"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .expect("run odooops")
    };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render");
    let o = run(&["render", "--ssot", "ssot", "--env", "staging"]);
    assert_eq!(o.status.code(), Some(0));
    let conf = std::fs::read(fixtures.join("staging.odoo.conf")).expect("golden");
    assert_eq!(o.stdout, conf);
    let o = run(&["render", "--env", "production", "--what", "cloud-init"]);
    assert_eq!(o.status.code(), Some(0));
    let ci = std::fs::read(fixtures.join("production.cloud-init.yaml")).expect("golden");
    assert_eq!(o.stdout, ci);

    let o = run(&["render", "--env", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no Environment named `nope`") && err.contains("dev-invoicing"),
        "{err}"
    );
    let o = run(&["render", "--env", "staging", "--what", "yaml"]);
    assert_eq!(o.status.code(), Some(64));
}
