//! The SSOT loader and validator against the repository's own trees and the invalid corpus.

use odooops::ssot::{self, Kind, Level, Limits};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn load(p: &Path) -> ssot::Report {
    ssot::load(p, &Limits::default())
}

fn errors(report: &ssot::Report) -> Vec<&ssot::Diagnostic> {
    report
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .collect()
}

#[test]
fn the_sample_ssot_is_valid_and_has_every_kind() {
    let report = load(&repo("ssot"));
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
    let counts = report.counts();
    for k in Kind::ALL {
        assert!(counts[k.as_str()] > 0, "ssot/ has no {k}");
    }
    assert_eq!(
        counts["Environment"], 4,
        "production, staging and two development"
    );
    let ssot = report.into_ssot().expect("valid");
    let stages: BTreeSet<_> = ssot.environments().map(|e| e.spec.stage.as_str()).collect();
    assert_eq!(stages.len(), 3);
    assert!(ssot.revision.starts_with("sha256:"));
    assert_eq!(ssot.gates().count(), 5, "all five parity gates");
}

#[test]
fn quickstart_is_valid() {
    let report = load(&repo("examples/quickstart"));
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
}

#[test]
fn agency_has_fifty_projects_with_three_environments_each() {
    let report = load(&repo("examples/agency"));
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
    let ssot = report.into_ssot().expect("valid");
    let projects: Vec<_> = ssot.projects().collect();
    assert!(projects.len() >= 50, "{} projects", projects.len());
    for p in projects {
        let n = ssot
            .environments()
            .filter(|e| e.spec.project == p.metadata.name)
            .count();
        assert_eq!(n, 3, "project {}", p.metadata.name);
    }
}

/// Every folder of `examples/invalid/` reports exactly the errors its `expected.txt` lists.
#[test]
fn every_invalid_class_reports_its_expected_diagnostics() {
    let root = repo("examples/invalid");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("examples/invalid")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "only {} invalid classes", cases.len());
    for case in cases {
        let expected_text = std::fs::read_to_string(case.join("expected.txt"))
            .unwrap_or_else(|_| panic!("{} has no expected.txt", case.display()));
        let expected: BTreeSet<String> = expected_text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        assert!(
            !expected.is_empty(),
            "{}: expected.txt is empty",
            case.display()
        );
        let report = load(&case);
        let actual: BTreeSet<String> = errors(&report)
            .iter()
            .map(|d| {
                let file = Path::new(&d.file)
                    .strip_prefix(&case)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| d.file.clone());
                let path = if d.path.is_empty() { "-" } else { &d.path };
                format!("{} {}:{} {}", d.code, file, d.line, path)
            })
            .collect();
        assert_eq!(actual, expected, "case {}", case.display());
        for d in errors(&report) {
            assert!(d.line > 0, "{}: unlocated diagnostic {d:?}", case.display());
            assert!(d.hint.is_some() || d.code == "unknown-kind" || !d.message.is_empty());
        }
    }
}

#[test]
fn hints_say_what_was_meant() {
    let unknown_field = load(&repo("examples/invalid/unknown-field"));
    let d = errors(&unknown_field)[0];
    assert_eq!(d.hint.as_deref(), Some("did you mean `workers`?"));
    let unknown_kind = load(&repo("examples/invalid/unknown-kind"));
    assert_eq!(
        errors(&unknown_kind)[0].hint.as_deref(),
        Some("did you mean `Gate`?")
    );
    let refs = load(&repo("examples/invalid/unresolved-reference"));
    let hints: Vec<_> = errors(&refs)
        .iter()
        .filter_map(|d| d.hint.clone())
        .collect();
    assert!(
        hints.contains(&"did you mean `SMTP_PASSWORD`?".to_string()),
        "{hints:?}"
    );
    assert!(
        hints.contains(&"did you mean `shop`?".to_string()),
        "{hints:?}"
    );
}

fn write_tree(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }
    dir
}

fn base_files() -> Vec<(&'static str, String)> {
    let base =
        std::fs::read_to_string(repo("examples/invalid/mail-policy/base.yaml")).expect("base");
    let env = std::fs::read_to_string(repo("examples/invalid/mail-policy/env.yaml")).expect("env");
    vec![("base.yaml", base), ("env.yaml", env)]
}

#[test]
fn the_reason_annotation_allows_several_workers_outside_production() {
    let staging = std::fs::read_to_string(repo("examples/invalid/single-worker/staging.yaml"))
        .expect("staging");
    let annotated = staging.replace(
        "  name: staging\n",
        "  name: staging\n  annotations:\n    odooops.dev/multi-worker-reason: load test of the new POS flow\n",
    );
    let mut files = base_files();
    files.push(("staging.yaml", annotated));
    let dir = write_tree(&files);
    let report = load(dir.path());
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
}

#[test]
fn a_1mb_alias_bomb_is_refused_with_a_location() {
    let mut text = String::from("a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for i in 1..10u8 {
        let (name, prev) = ((b'a' + i) as char, (b'a' + i - 1) as char);
        let refs = vec![format!("*{prev}"); 10].join(", ");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    // Pad the file to 1 MB with comments so the budget, not the size limit, must stop it.
    while text.len() < 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    text.push_str("z: [*j, *j, *j, *j, *j, *j, *j, *j, *j, *j]\n");
    let mut files = base_files();
    files.push(("bomb.yaml", text));
    let dir = write_tree(&files);
    let report = load(dir.path());
    let errs = errors(&report);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].code, "yaml-budget");
    assert!(errs[0].file.ends_with("bomb.yaml"));
    assert!(errs[0].line > 0);
}

#[test]
fn a_10000_level_nested_document_is_refused_with_a_location() {
    let mut text = String::new();
    for _ in 0..10_000 {
        text.push('[');
    }
    for _ in 0..10_000 {
        text.push(']');
    }
    text.push('\n');
    // Block style: `- - - … x`, one sequence inside the next, 10,000 deep.
    let block = format!("{}x\n", "- ".repeat(10_000));
    for (name, body) in [("flow.yaml", text), ("block.yaml", block)] {
        let mut files = base_files();
        files.push((name, body));
        let dir = write_tree(&files);
        let report = load(dir.path());
        let errs = errors(&report);
        assert_eq!(errs.len(), 1, "{name}: {errs:#?}");
        assert!(errs[0].code.starts_with("yaml"), "{name}: {errs:?}");
        assert!(errs[0].line > 0, "{name}: {errs:?}");
    }
}

#[test]
fn files_load_in_a_deterministic_order_at_any_depth() {
    let report = load(&repo("ssot"));
    let files: Vec<_> = report
        .loaded
        .files
        .iter()
        .map(|f| f.display.clone())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
    assert!(files.iter().any(|f| f.contains("environments/")));
    assert_eq!(
        load(&repo("ssot")).loaded.content_hash(),
        report.loaded.content_hash()
    );
}

#[test]
fn a_missing_or_empty_directory_is_an_error_not_an_empty_ssot() {
    let report = load(Path::new("/nonexistent/odooops-ssot"));
    assert_eq!(errors(&report)[0].code, "ssot-dir");
    let dir = tempfile::tempdir().expect("tempdir");
    let report = load(dir.path());
    assert_eq!(errors(&report)[0].code, "ssot-empty");
    assert!(report.into_ssot().is_none());
}

#[test]
fn a_refused_schedule_points_at_its_offending_token() {
    let base = |f: &str| {
        std::fs::read_to_string(repo(&format!("examples/invalid/cron/{f}"))).expect("read")
    };
    let backup = base("backup.yaml");
    // (schedule as written, column, start of the message)
    let cases = [
        ("\"0 3 * * FOO\"", 22, "day-of-week `FOO`"),
        ("'61 * * * *'", 14, "minute `61`: number out of bounds"),
        ("\"@reboot\"", 14, "`@reboot` runs once at start-up"),
        ("0 0 3 * * *", 13, "6 fields: the first would be seconds"),
        ("\"0 0 30 FEB *\"", 14, "this schedule never fires"),
    ];
    for (schedule, column, message) in cases {
        let text = backup.replace("\"0 25 * *\"", schedule);
        let dir = write_tree(&[
            ("base.yaml", base("base.yaml")),
            ("env.yaml", base("env.yaml")),
            ("backup.yaml", text),
        ]);
        let report = load(dir.path());
        let errs = errors(&report);
        assert_eq!(errs.len(), 1, "{schedule}: {errs:#?}");
        let d = errs[0];
        assert_eq!(
            (d.code, d.line, d.column, d.path.as_str()),
            ("cron", 8, column, "/spec/schedule"),
            "{schedule}"
        );
        assert_eq!(d.resource.as_deref(), Some("BackupPolicy/nightly"));
        assert!(d.message.starts_with(message), "{schedule}: {}", d.message);
        assert!(d.hint.is_some(), "{schedule}");
    }
    // The restore drill's schedule is checked the same way.
    let text = backup.replace("\"0 25 * *\"", "\"0 3 * * *\"")
        + "  restoreDrill:\n    schedule: \"0 5 * * SUNDAY\"\n";
    let dir = write_tree(&[
        ("base.yaml", base("base.yaml")),
        ("env.yaml", base("env.yaml")),
        ("backup.yaml", text),
    ]);
    let report = load(dir.path());
    let errs = errors(&report);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(
        (errs[0].line, errs[0].column, errs[0].path.as_str()),
        (10, 24, "/spec/restoreDrill/schedule")
    );
}
