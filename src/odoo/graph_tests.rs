use super::*;

fn addon(root: &Path, name: &str, manifest: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("__manifest__.py"), manifest).expect("write");
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn transitive_closure_core_missing_and_selection_excluded() {
    let t = tempfile::tempdir().expect("tmp");
    addon(t.path(), "a", "{'depends': ['b', 'sale']}");
    addon(t.path(), "b", "{'depends': ['c', 'enterprise_thing']}");
    addon(t.path(), "c", "{'depends': ['base'], 'license': 'AGPL-3'}");
    addon(t.path(), "unrelated", "{'depends': ['ghost']}");
    let idx = discover(&[t.path().to_path_buf()]).expect("discover");
    let r = deps(&idx, &names(&["a"]), "17.0").expect("deps");
    assert_eq!(
        r.depends,
        names(&["b", "base", "c", "enterprise_thing", "sale"])
    );
    assert_eq!(r.missing, names(&["enterprise_thing"]));
    assert_eq!(r.licenses.get("c").map(String::as_str), Some("AGPL-3"));
    assert_eq!(r.licenses.get("a").map(String::as_str), Some("LGPL-3"));
    assert!(
        !r.licenses.contains_key("sale"),
        "core addons are not in the paths"
    );
    assert!(!r.is_clean());
}

#[test]
fn default_selection_is_every_discovered_addon() {
    let t = tempfile::tempdir().expect("tmp");
    addon(t.path(), "a", "{'depends': ['b']}");
    addon(t.path(), "b", "{}");
    let idx = discover(&[t.path().to_path_buf()]).expect("discover");
    let r = deps(&idx, &[], "17.0").expect("deps");
    assert_eq!(r.selection, names(&["a", "b"]));
    assert!(r.depends.is_empty() && r.is_clean());
}

#[test]
fn first_path_wins_and_dot_folders_are_skipped() {
    let one = tempfile::tempdir().expect("tmp");
    let two = tempfile::tempdir().expect("tmp");
    addon(one.path(), "x", "{'license': 'OPL-1'}");
    addon(two.path(), "x", "{'license': 'AGPL-3'}");
    addon(two.path(), ".git", "{}");
    std::fs::create_dir_all(two.path().join("not_an_addon")).expect("mkdir");
    let idx = discover(&[one.path().to_path_buf(), two.path().to_path_buf()]).expect("discover");
    assert_eq!(idx.addons.len(), 1);
    assert_eq!(idx.shadowed.len(), 1);
    let r = deps(&idx, &[], "17.0").expect("deps");
    assert_eq!(r.licenses.get("x").map(String::as_str), Some("OPL-1"));
}

#[test]
fn cycles_uninstallable_and_versions() {
    let t = tempfile::tempdir().expect("tmp");
    addon(t.path(), "a", "{'depends': ['b'], 'version': '17.0.1.0.0'}");
    addon(t.path(), "b", "{'depends': ['c'], 'version': '16.0.1.0.0'}");
    addon(t.path(), "c", "{'depends': ['a']}");
    addon(t.path(), "s", "{'depends': ['s', 'old']}");
    addon(
        t.path(),
        "old",
        "{'installable': False, 'version': '1.0.0'}",
    );
    let idx = discover(&[t.path().to_path_buf()]).expect("discover");
    let r = deps(&idx, &names(&["a", "s"]), "17.0").expect("deps");
    assert_eq!(r.cycles, vec![names(&["a", "b", "c"]), names(&["s"])]);
    assert_eq!(r.not_installable, names(&["old"]));
    assert_eq!(r.version_mismatch, names(&["b"]));
    assert!(
        r.depends.contains(&"old".to_string()),
        "uninstallable deps are still listed"
    );
}

#[test]
fn broken_manifests_are_reported_not_fatal() {
    let t = tempfile::tempdir().expect("tmp");
    addon(t.path(), "a", "{'depends': ['bad']}");
    addon(t.path(), "bad", "{'name': _('Bad')}");
    let idx = discover(&[t.path().to_path_buf()]).expect("discover");
    let r = deps(&idx, &names(&["a"]), "17.0").expect("deps");
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].addon, "bad");
    assert!(
        r.errors[0]
            .error
            .contains("__manifest__.py:1:10: call of `_(…)`"),
        "{}",
        r.errors[0].error
    );
}

#[test]
fn unknown_series_and_missing_path_are_errors() {
    let idx = AddonsIndex::default();
    assert!(matches!(
        deps(&idx, &[], "12.0"),
        Err(GraphError::UnknownSeries(_))
    ));
    assert!(discover(&[PathBuf::from("/nonexistent/addons")]).is_err());
}

#[test]
fn a_long_chain_does_not_overflow() {
    let t = tempfile::tempdir().expect("tmp");
    for i in 0..5000 {
        addon(
            t.path(),
            &format!("m{i}"),
            &format!("{{'depends': ['m{}']}}", i + 1),
        );
    }
    let idx = discover(&[t.path().to_path_buf()]).expect("discover");
    let r = deps(&idx, &names(&["m0"]), "17.0").expect("deps");
    assert_eq!(r.missing, names(&["m5000"]));
    assert!(r.cycles.is_empty());
}
