//! The SSOT from a git remote (served by `git daemon` on loopback) and from a directory behind
//! git-sync's `current` symlink, with the "last valid revision" rule on both store backends.

mod common;
mod git_support;

use git_support::{daemon, Repo};
use odooops::git::{flipped, load_with_fallback, GitAuth, SsotLoadError, SsotSource};
use odooops::store::Store;
use std::path::Path;

const QUICKSTART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart");

/// The quickstart SSOT's files, with `edit` applied to project.yaml.
fn quickstart(edit: impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(QUICKSTART).expect("quickstart").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(e.path()).expect("read");
        let text = if name == "project.yaml" {
            edit(&text)
        } else {
            text
        };
        out.push((name, text));
    }
    out.sort();
    out
}

fn invalid(text: &str) -> String {
    text.replace("  defaultRegion: fra1", "  defaultRegoin: fra1")
}

fn region(ssot: &odooops::ssot::Ssot) -> Option<String> {
    ssot.projects()
        .next()
        .and_then(|p| p.spec.default_region.clone())
}

fn write_tree(dir: &Path, files: &[(String, String)]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
}

#[tokio::test]
async fn a_git_ssot_falls_back_to_the_last_valid_revision_across_restarts() {
    for b in common::backends().await {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path().join("srv");
        std::fs::create_dir_all(&base).expect("mkdir");
        let Some(d) = daemon(&base) else { return };
        let repo = Repo::new(&d, &tmp.path().join("work"), "ssot");
        repo.write("README.md", "the SSOT lives under ssot/\n");
        for (name, text) in quickstart(str::to_string) {
            repo.write(&format!("ssot/{name}"), text);
        }
        let valid = repo.commit("valid");
        repo.push("main");
        let source = SsotSource::Git {
            url: repo.url.clone(),
            branch: "main".into(),
            path: "ssot".into(),
            auth: GitAuth::None,
        };
        let data = tmp.path().join("data");

        let loaded = load_with_fallback(&source, &data, &b.store)
            .await
            .expect("valid head");
        assert_eq!(loaded.commit.as_deref(), Some(valid.as_str()));
        assert_eq!(loaded.revision, valid);
        assert!(loaded.finding.is_none());
        assert_eq!(loaded.dir, data.join("ssot").join(&valid).join("ssot"));
        assert_eq!(
            std::fs::read_link(data.join("ssot/current")).expect("current"),
            Path::new(&valid)
        );
        let resources = loaded.ssot.resources.len();
        assert!(resources > 0);

        // HEAD becomes invalid: the last valid revision is served, with a finding.
        repo.write(
            "ssot/project.yaml",
            invalid(
                &std::fs::read_to_string(Path::new(QUICKSTART).join("project.yaml")).expect("read"),
            ),
        );
        let broken = repo.commit("typo");
        repo.push("main");
        let loaded = load_with_fallback(&source, &data, &b.store)
            .await
            .expect("falls back");
        let finding = loaded.finding.expect("a finding");
        assert_eq!(
            (finding.head.as_str(), finding.used.as_str()),
            (broken.as_str(), valid.as_str())
        );
        assert_eq!(finding.file, "ssot/project.yaml", "[{}]", b.name);
        assert!(finding.line > 0, "{finding:?}");
        assert!(
            finding
                .message
                .contains(&format!("ssot/project.yaml:{}", finding.line)),
            "{}",
            finding.message
        );
        assert_eq!(loaded.revision, valid);
        assert_eq!(loaded.ssot.resources.len(), resources);
        assert_eq!(
            std::fs::read_link(data.join("ssot/current")).expect("current"),
            Path::new(&valid),
            "current points at what is served"
        );
        let rows = b
            .store
            .ssot_revisions(Some(&source.key()), 10)
            .await
            .expect("rows");
        assert_eq!(rows.len(), 2, "[{}]", b.name);
        let bad = rows
            .iter()
            .find(|r| r.commit_sha == broken)
            .expect("the broken row");
        assert!(!bad.valid && bad.error_count >= 1);
        assert_eq!(bad.diagnostics[0]["file"], "ssot/project.yaml");

        // A restart: a new store handle, the exports gone; the fallback is exported again from
        // the mirror, where the valid commit is pinned.
        b.store.close().await;
        let store = Store::open(Some(&b.url), b.dir.path())
            .await
            .expect("reopen");
        std::fs::remove_dir_all(data.join("ssot")).expect("rm exports");
        repo.git(&["commit", "--quiet", "--allow-empty", "-m", "still broken"]);
        repo.push("main");
        let loaded = load_with_fallback(&source, &data, &store)
            .await
            .expect("falls back after a restart");
        assert_eq!(loaded.revision, valid, "[{}]", b.name);
        assert!(loaded.finding.is_some());
        let pins = git_support::git(
            &data
                .join("git")
                .read_dir()
                .expect("mirrors")
                .flatten()
                .next()
                .expect("a mirror")
                .path(),
            &["for-each-ref", "--format=%(refname)", "refs/odooops/pins/"],
        );
        assert_eq!(pins, format!("refs/odooops/pins/{valid}"));

        // A source with no valid revision on record refuses, naming the first error.
        repo.git(&[
            "push",
            "--quiet",
            "origin",
            &format!("{broken}:refs/heads/broken"),
        ]);
        let never_valid = SsotSource::Git {
            url: repo.url.clone(),
            branch: "broken".into(),
            path: "ssot".into(),
            auth: GitAuth::None,
        };
        let e = load_with_fallback(&never_valid, &data, &store)
            .await
            .expect_err("nothing to fall back on");
        let text = e.to_string();
        assert!(matches!(e, SsotLoadError::Invalid { .. }), "{text}");
        assert!(
            text.contains("ssot/project.yaml:")
                && text.contains("no valid revision was recorded before"),
            "{text}"
        );
        store.close().await;
        b.finish().await;
    }
}

#[tokio::test]
async fn directory_mode_follows_a_flipped_current_symlink() {
    let b = common::sqlite().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("git-sync");
    let rev_a = root.join(".worktrees/aaaa");
    let rev_b = root.join(".worktrees/bbbb");
    let rev_c = root.join(".worktrees/cccc");
    write_tree(&rev_a, &quickstart(str::to_string));
    write_tree(
        &rev_b,
        &quickstart(|t| t.replace("defaultRegion: fra1", "defaultRegion: ams3")),
    );
    write_tree(&rev_c, &quickstart(invalid));
    let flip = |to: &Path| {
        // git-sync's way: a new symlink renamed over `current`.
        let tmp_link = root.join(".current.tmp");
        std::os::unix::fs::symlink(to, &tmp_link).expect("symlink");
        std::fs::rename(&tmp_link, root.join("current")).expect("rename");
    };
    flip(Path::new(".worktrees/aaaa"));
    let source = SsotSource::Dir(root.join("current"));
    let data = tmp.path().join("data");

    let watching = source.watched_target().expect("resolves");
    assert_eq!(watching, std::fs::canonicalize(&rev_a).expect("canon"));
    let a = load_with_fallback(&source, &data, &b.store)
        .await
        .expect("A");
    assert_eq!(region(&a.ssot).as_deref(), Some("fra1"));
    assert_eq!(a.dir, watching);
    assert!(a.commit.is_none(), "not a git work tree");
    assert!(a.revision.starts_with("sha256:"));

    flip(Path::new(".worktrees/bbbb"));
    let now = source.watched_target().expect("resolves");
    assert!(
        flipped(&watching, &now),
        "the watcher must move to the new tree"
    );
    let bb = load_with_fallback(&source, &data, &b.store)
        .await
        .expect("B");
    assert_eq!(
        region(&bb.ssot).as_deref(),
        Some("ams3"),
        "the new tree, not the old one"
    );
    assert_ne!(bb.revision, a.revision);
    assert!(!flipped(&now, &source.watched_target().expect("resolves")));

    // An invalid tree behind the flip: the snapshot of B (the last valid) is served.
    flip(Path::new(".worktrees/cccc"));
    std::fs::remove_dir_all(&rev_b).expect("git-sync removed the old worktree");
    let c = load_with_fallback(&source, &data, &b.store)
        .await
        .expect("falls back");
    let finding = c.finding.expect("a finding");
    assert_eq!(finding.file, "project.yaml");
    assert_eq!(finding.used, bb.revision);
    assert_eq!(region(&c.ssot).as_deref(), Some("ams3"));
    b.finish().await;
}
