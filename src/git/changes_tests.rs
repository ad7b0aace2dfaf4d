use super::*;

fn m(checksum: &str, version: &str, depends: &[&str]) -> ModuleState {
    ModuleState {
        checksum: checksum.into(),
        version: Some(version.into()),
        depends: depends.iter().map(|d| d.to_string()).collect(),
        path: "addons/x".into(),
        installable: true,
        auto_install: false,
        manifest_error: None,
    }
}

fn map(items: &[(&str, ModuleState)]) -> BTreeMap<String, ModuleState> {
    items
        .iter()
        .map(|(n, s)| (n.to_string(), s.clone()))
        .collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// acme_base ← acme_sale ← acme_report; acme_stock ← acme_base as well; acme_web alone.
fn repo_a() -> BTreeMap<String, ModuleState> {
    map(&[
        ("acme_base", m("b1", "17.0.1.0.0", &["base"])),
        ("acme_sale", m("s1", "17.0.1.0.0", &["sale", "acme_base"])),
        ("acme_report", m("r1", "17.0.1.0.0", &["acme_sale"])),
        ("acme_stock", m("k1", "17.0.1.0.0", &["stock", "acme_base"])),
        ("acme_web", m("w1", "17.0.1.0.0", &["web"])),
    ])
}

#[test]
fn first_deploy_installs_the_wanted_and_their_repository_dependencies() {
    let new = repo_a();
    let c = module_changes(None, &new, &names(&["acme_report", "sale"]), None);
    assert_eq!(
        c.install,
        names(&["acme_base", "acme_report", "acme_sale", "sale"]),
        "the core `sale` wanted is installed; `base` (a core dependency) is Odoo's business"
    );
    assert!(c.update.is_empty() && c.cascade.is_empty() && c.removed.is_empty());
}

#[test]
fn content_change_and_version_bump_are_told_apart_and_cascade_to_dependents() {
    let old = repo_a();
    let mut new = repo_a();
    new.insert("acme_base".into(), m("b2", "17.0.1.0.0", &["base"]));
    new.insert("acme_web".into(), m("w2", "17.0.1.1.0", &["web"]));
    let wanted = names(&["acme_report", "acme_stock", "acme_web"]);
    let c = module_changes(Some(&old), &new, &wanted, None);
    assert!(c.install.is_empty(), "{c:?}");
    assert_eq!(
        c.update,
        vec![
            ("acme_base".to_string(), Reason::ContentChanged),
            (
                "acme_web".to_string(),
                Reason::VersionBumped {
                    from: Some("17.0.1.0.0".into()),
                    to: Some("17.0.1.1.0".into())
                }
            ),
        ]
    );
    assert_eq!(
        c.cascade,
        names(&["acme_report", "acme_sale", "acme_stock"]),
        "transitive dependents"
    );
    let json = serde_json::to_value(&c.update[1].1).expect("json");
    assert_eq!(json["reason"], "version_bumped");
}

#[test]
fn a_version_bump_alone_is_an_update() {
    let old = repo_a();
    let mut new = repo_a();
    new.insert("acme_report".into(), m("r1", "17.0.2.0.0", &["acme_sale"]));
    let c = module_changes(
        Some(&old),
        &new,
        &names(&["acme_report"]),
        Some(&names(&[
            "base",
            "sale",
            "acme_base",
            "acme_sale",
            "acme_report",
        ])),
    );
    assert_eq!(c.update.len(), 1);
    assert_eq!(c.update[0].1.as_str(), "version_bumped");
    assert!(c.cascade.is_empty(), "nothing depends on acme_report");
}

#[test]
fn known_installed_list_drives_install_update_and_removed() {
    let old = repo_a();
    let mut new = repo_a();
    new.remove("acme_stock");
    new.insert(
        "acme_sale".into(),
        m("s2", "17.0.1.0.0", &["sale", "acme_base"]),
    );
    new.insert("acme_new".into(), m("n1", "17.0.1.0.0", &["acme_base"]));
    // The database has acme_sale (changed) but not acme_report; acme_web is installed but not
    // wanted any more (still updated when it changes: it is installed).
    let installed = names(&[
        "base",
        "sale",
        "acme_base",
        "acme_sale",
        "acme_stock",
        "acme_web",
    ]);
    let wanted = names(&["acme_report", "acme_new"]);
    let c = module_changes(Some(&old), &new, &wanted, Some(&installed));
    assert_eq!(c.install, names(&["acme_new", "acme_report"]));
    assert_eq!(
        c.update,
        vec![("acme_sale".to_string(), Reason::ContentChanged)]
    );
    assert!(
        c.cascade.is_empty(),
        "acme_report depends on acme_sale but is not installed yet: {c:?}"
    );
    assert_eq!(c.removed, names(&["acme_stock"]));
}

#[test]
fn core_addons_are_never_updated_by_content() {
    let old = repo_a();
    let new = repo_a();
    let installed = names(&["base", "sale", "web", "acme_base"]);
    let c = module_changes(Some(&old), &new, &names(&["acme_base"]), Some(&installed));
    assert!(c.is_empty(), "{c:?}");
}

#[test]
fn without_a_baseline_installed_repository_modules_are_updated() {
    let new = repo_a();
    let installed = names(&["base", "acme_base", "acme_sale"]);
    let c = module_changes(None, &new, &names(&["acme_sale"]), Some(&installed));
    assert_eq!(
        c.update,
        vec![
            ("acme_base".to_string(), Reason::NoBaseline),
            ("acme_sale".to_string(), Reason::NoBaseline)
        ]
    );
    assert!(c.install.is_empty());
}

#[test]
fn dependency_cycles_terminate() {
    let old = map(&[
        ("a", m("a1", "1", &["b"])),
        ("b", m("b1", "1", &["c"])),
        ("c", m("c1", "1", &["a"])),
        ("d", m("d1", "1", &["d", "a"])),
    ]);
    let mut new = old.clone();
    new.insert("a".into(), m("a2", "1", &["b"]));
    let c = module_changes(Some(&old), &new, &names(&["d"]), None);
    assert_eq!(c.update, vec![("a".to_string(), Reason::ContentChanged)]);
    assert_eq!(c.cascade, names(&["b", "c", "d"]));
    let first = module_changes(None, &new, &names(&["d"]), None);
    assert_eq!(first.install, names(&["a", "b", "c", "d"]));
}

#[test]
fn removed_modules_when_the_installed_list_is_unknown() {
    let old = repo_a();
    let mut new = repo_a();
    new.remove("acme_web");
    new.remove("acme_stock");
    let c = module_changes(Some(&old), &new, &names(&["acme_sale"]), None);
    assert_eq!(c.removed, names(&["acme_stock", "acme_web"]));
}
