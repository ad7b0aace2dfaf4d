//! Module state at a commit, read from a real mirror (`git ls-tree` + `git cat-file --batch`),
//! and what a release does to the database between two commits. The large-repository
//! measurement is `#[ignore]`d: `cargo test --release --test git_modules -- --ignored
//! --nocapture`.

mod git_support;

use git_support::{daemon, manifest, Repo};
use odooops::git::{
    checksum_dir, module_changes, module_states, ChecksumRules, GitAuth, Mirror, Reason,
};
use std::time::Instant;

#[tokio::test]
async fn module_states_and_the_changes_of_a_release() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let repo = Repo::new(&d, &tmp.path().join("work"), "code");
    let files: &[(&str, &str)] = &[
        (
            "addons/acme_base/__manifest__.py",
            &manifest("Acme Base", "17.0.1.0.0", &["base"]),
        ),
        ("addons/acme_base/__init__.py", "from . import models\n"),
        (
            "addons/acme_base/models/__init__.py",
            "from . import partner\n",
        ),
        (
            "addons/acme_base/models/partner.py",
            "class Partner:\n    pass\n",
        ),
        ("addons/acme_base/views/partner.xml", "<odoo/>\n"),
        ("addons/acme_base/i18n/fr.po", "msgid \"a\"\nmsgstr \"b\"\n"),
        ("addons/acme_base/i18n/acme_base.pot", "msgid \"a\"\n"),
        ("addons/acme_base/static/src/js/a.js", "console.log(1);\n"),
        (
            "addons/acme_base/models/__pycache__/partner.cpython-311.pyc",
            "\u{0}junk",
        ),
        (
            "addons/acme_sale/__manifest__.py",
            &manifest("Acme Sale", "17.0.1.0.0", &["sale", "acme_base"]),
        ),
        ("addons/acme_sale/__init__.py", ""),
        (
            "addons/acme_report/__manifest__.py",
            &manifest("Acme Report", "17.0.1.0.0", &["acme_sale"]),
        ),
        ("addons/acme_report/__init__.py", ""),
        ("addons/acme_report/i18n/de.po", "msgid \"x\"\n"),
        ("addons/README.md", "not an addon\n"),
        (
            "oca/acme_base/__manifest__.py",
            &manifest("Shadowed", "17.0.9.0.0", &["base"]),
        ),
        (
            "oca/oca_tool/__manifest__.py",
            &manifest("OCA Tool", "17.0.1.0.0", &["base"]),
        ),
        ("tools/x.py", "print(1)\n"),
    ];
    for (path, content) in files {
        repo.write(path, content);
    }
    let a = repo.commit("A");
    repo.push("main");

    let data = tmp.path().join("data");
    let mirror = Mirror::open(&data, &repo.url, GitAuth::None)
        .await
        .expect("mirror");
    let paths = vec!["addons".to_string(), "oca".to_string()];
    let states_a = module_states(&mirror, &a, &paths).await.expect("states A");
    assert_eq!(
        states_a.keys().collect::<Vec<_>>(),
        vec!["acme_base", "acme_report", "acme_sale", "oca_tool"]
    );
    let base_a = &states_a["acme_base"];
    assert_eq!(
        base_a.path, "addons/acme_base",
        "the first addons path wins"
    );
    assert_eq!(base_a.version.as_deref(), Some("17.0.1.0.0"));
    assert_eq!(base_a.depends, vec!["base"]);
    assert_eq!(states_a["acme_sale"].depends, vec!["sale", "acme_base"]);
    assert!(base_a.manifest_error.is_none());
    assert_eq!(base_a.checksum.len(), 64);

    // The same checksum from the exported tree on disk.
    let export = tmp.path().join("export-a");
    mirror.export(&a, &export, false).await.expect("export");
    for (name, state) in &states_a {
        assert_eq!(
            checksum_dir(&export.join(&state.path), &ChecksumRules::default()).expect("hash"),
            state.checksum,
            "{name}"
        );
    }

    // B: a python change in acme_base, a version bump of acme_sale, and only excluded files
    // (translations, static, a .pot) in acme_report.
    repo.write(
        "addons/acme_base/models/partner.py",
        "class Partner:\n    name = 'x'\n",
    );
    repo.write(
        "addons/acme_sale/__manifest__.py",
        manifest("Acme Sale", "17.0.1.1.0", &["sale", "acme_base"]),
    );
    repo.write("addons/acme_report/i18n/de.po", "msgid \"y\"\n");
    repo.write("addons/acme_report/i18n/acme_report.pot", "msgid \"y\"\n");
    repo.write("addons/acme_report/static/description/index.html", "<p/>\n");
    repo.remove("oca/oca_tool/__manifest__.py");
    let b = repo.commit("B");
    repo.push("main");
    mirror.fetch().await.expect("fetch");
    assert_eq!(mirror.resolve("main").await.expect("resolve"), b);
    let states_b = module_states(&mirror, &b, &paths).await.expect("states B");
    assert_eq!(
        states_a["acme_report"].checksum, states_b["acme_report"].checksum,
        "translation, .pot and static changes are not updates"
    );
    assert_ne!(
        states_a["acme_base"].checksum,
        states_b["acme_base"].checksum
    );

    let wanted = vec!["acme_report".to_string(), "oca_tool".to_string()];
    let changes = module_changes(Some(&states_a), &states_b, &wanted, None);
    assert!(changes.install.is_empty(), "{changes:?}");
    assert_eq!(
        changes.update,
        vec![
            ("acme_base".to_string(), Reason::ContentChanged),
            (
                "acme_sale".to_string(),
                Reason::VersionBumped {
                    from: Some("17.0.1.0.0".into()),
                    to: Some("17.0.1.1.0".into())
                }
            ),
        ]
    );
    assert_eq!(changes.cascade, vec!["acme_report"], "a dependent of both");
    assert_eq!(changes.removed, vec!["oca_tool"]);

    // With the database's list: acme_report not installed yet → installed, no cascade.
    let installed: Vec<String> = ["base", "sale", "acme_base", "acme_sale"]
        .map(String::from)
        .to_vec();
    let changes = module_changes(Some(&states_a), &states_b, &wanted[..1], Some(&installed));
    assert_eq!(changes.install, vec!["acme_report"]);
    assert_eq!(changes.update.len(), 2);
    assert!(changes.cascade.is_empty() && changes.removed.is_empty());

    // A broken manifest is reported on its module, not as a failure of the whole commit.
    repo.write(
        "addons/acme_sale/__manifest__.py",
        "{'name': 'x',\n 'depends': 'sale'}\n",
    );
    let c = repo.commit("C");
    repo.push("main");
    mirror.ensure_commit(&c).await.expect("fetch C");
    let states_c = module_states(&mirror, &c, &paths).await.expect("states C");
    let err = states_c["acme_sale"]
        .manifest_error
        .as_deref()
        .expect("an error");
    assert!(
        err.contains("addons/acme_sale/__manifest__.py") && err.contains("depends"),
        "{err}"
    );
}

/// ~200 addons × 20 files: mirror clone, fetch, export and module_states timings.
#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture (preferably --release)"]
async fn measure_a_large_repository() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let repo = Repo::new(&d, &tmp.path().join("work"), "big");
    let (addons, per_addon) = (200usize, 20usize);
    let mut bytes = 0usize;
    for i in 0..addons {
        let name = format!("acme_{i:03}");
        let dep = if i == 0 {
            "base".to_string()
        } else {
            format!("acme_{:03}", i - 1)
        };
        repo.write(
            &format!("addons/{name}/__manifest__.py"),
            manifest(&name, "17.0.1.0.0", &[&dep]),
        );
        for f in 1..per_addon {
            let body: String = (0..40)
                .map(|l| format!("# {name} file {f} line {l}: some realistic python source\n"))
                .collect();
            bytes += body.len();
            let dir = ["models", "views", "data", "wizards"][f % 4];
            repo.write(&format!("addons/{name}/{dir}/f{f:02}.py"), body);
        }
    }
    let started = Instant::now();
    let a = repo.commit("A");
    repo.push("main");
    let commit_push = started.elapsed();

    let data = tmp.path().join("data");
    let t = Instant::now();
    let mirror = Mirror::open(&data, &repo.url, GitAuth::None)
        .await
        .expect("mirror");
    let clone = t.elapsed();
    let t = Instant::now();
    mirror.fetch().await.expect("fetch");
    let fetch_noop = t.elapsed();

    for i in (0..addons).step_by(20) {
        repo.write(
            &format!("addons/acme_{i:03}/models/f04.py"),
            format!("# changed {i}\n"),
        );
    }
    let b = repo.commit("B: 10 files");
    repo.push("main");
    let t = Instant::now();
    mirror.fetch().await.expect("fetch");
    let fetch_b = t.elapsed();
    assert_eq!(mirror.resolve("main").await.expect("resolve"), b);

    let t = Instant::now();
    mirror
        .export(&b, &tmp.path().join("export"), false)
        .await
        .expect("export");
    let export = t.elapsed();

    let paths = vec!["addons".to_string()];
    let t = Instant::now();
    let states_a = module_states(&mirror, &a, &paths).await.expect("states");
    let states_time = t.elapsed();
    let states_b = module_states(&mirror, &b, &paths).await.expect("states");
    let t = Instant::now();
    let changes = module_changes(Some(&states_a), &states_b, &["acme_199".to_string()], None);
    let changes_time = t.elapsed();
    assert_eq!(states_a.len(), addons);
    assert_eq!(changes.update.len(), 10);
    assert_eq!(
        changes.cascade.len(),
        addons - 10,
        "a chain: everything above acme_000 that is not updated itself"
    );

    println!(
        "large repository: {addons} addons x {per_addon} files ({} files, {:.1} MiB of source)",
        addons * per_addon,
        bytes as f64 / 1048576.0
    );
    println!("  commit + push (test setup):   {commit_push:?}");
    println!("  Mirror::open (init + fetch):  {clone:?}");
    println!("  fetch, nothing new:           {fetch_noop:?}");
    println!("  fetch, 10 files changed:      {fetch_b:?}");
    println!("  export (archive | tar -x):    {export:?}");
    println!("  module_states ({addons} addons): {states_time:?}");
    println!("  module_changes:               {changes_time:?}");
}
