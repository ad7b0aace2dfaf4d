//! Watching the SSOT tree: file-system events (inotify through `notify`) for YAML files are
//! debounced — a burst of writes (an editor's save, a `git pull`) becomes one signal once the
//! tree has been quiet for the debounce period.

use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// A running watch; dropping it stops watching.
pub struct SsotWatch {
    _watcher: notify::RecommendedWatcher,
    /// The directory watched (the SSOT path with its symlinks resolved).
    target: PathBuf,
    rx: mpsc::UnboundedReceiver<PathBuf>,
    debounce: Duration,
    /// Changes received and not yet reported.
    pending: Vec<PathBuf>,
    /// When the tree counts as quiet (a new change pushes it back).
    quiet_at: Option<tokio::time::Instant>,
}

/// A YAML file of the tree, not under a hidden directory of it (`.git`, editor swap files).
fn relevant(root: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let hidden = rel
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    yaml && !hidden
}

impl SsotWatch {
    /// Watch the tree at `dir`. When `dir` is a symlink (git-sync's `current`), its parent
    /// directory is watched too: a flip of the link (a new link renamed over it) is a change,
    /// after which the caller starts a new watch on the new target ([`SsotWatch::target`],
    /// [`crate::git::flipped`]).
    pub fn start(dir: &Path, debounce: Duration) -> notify::Result<SsotWatch> {
        let (tx, rx) = mpsc::unbounded_channel();
        let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let inner = root.clone();
        let link = std::fs::symlink_metadata(dir)
            .is_ok_and(|m| m.file_type().is_symlink())
            .then(|| {
                let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
                let parent = abs.parent().map(Path::to_path_buf);
                (abs, parent)
            });
        let link_name = link
            .as_ref()
            .and_then(|(abs, parent)| Some((abs.file_name()?.to_owned(), parent.clone()?)));
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else { return };
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                tracing::debug!(kind = ?event.kind, paths = ?event.paths, "file-system event");
                for p in event.paths {
                    // A flip of the symlink the SSOT path is (in its parent directory).
                    let flip = link_name.as_ref().is_some_and(|(name, parent)| {
                        p.file_name() == Some(name.as_os_str())
                            && p.parent().is_some_and(|d| {
                                d == parent.as_path()
                                    || d.canonicalize().ok().as_deref()
                                        == parent.canonicalize().ok().as_deref()
                            })
                    });
                    // A rename or removal of a directory also changes the tree.
                    if flip || relevant(&inner, &p) || matches!(event.kind, EventKind::Remove(_)) {
                        let _ = tx.send(p);
                    }
                }
            })?;
        watcher.watch(&root, RecursiveMode::Recursive)?;
        if let Some((_, Some(parent))) = &link {
            watcher.watch(parent, RecursiveMode::NonRecursive)?;
        }
        Ok(SsotWatch {
            _watcher: watcher,
            target: root,
            rx,
            debounce,
            pending: Vec::new(),
            quiet_at: None,
        })
    }

    /// The directory watched (symlinks resolved when the watch started).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Wait for the next change and then for quiet; returns the paths that changed.
    /// `None` when the watcher stopped. Cancel-safe: the controller polls this in a
    /// `select!` beside its timers, so changes already received are kept in `self` when the
    /// future is dropped, and the next call carries on from them.
    pub async fn changed(&mut self) -> Option<Vec<PathBuf>> {
        loop {
            match self.quiet_at {
                None => {
                    let p = self.rx.recv().await?;
                    self.note(p);
                }
                Some(deadline) => match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(p)) => self.note(p),
                    Ok(None) | Err(_) => {
                        self.quiet_at = None;
                        return Some(std::mem::take(&mut self.pending));
                    }
                },
            }
        }
    }

    fn note(&mut self, p: PathBuf) {
        if !self.pending.contains(&p) {
            self.pending.push(p);
        }
        self.quiet_at = Some(tokio::time::Instant::now() + self.debounce);
    }
}

/// The git commit of the SSOT tree (HEAD of its repository), with `+dirty` when the tree has
/// uncommitted changes; `None` outside a repository or without git.
pub fn git_revision(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let head = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dirty = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain", "--", "."])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    Some(if dirty { format!("{head}+dirty") } else { head })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_yaml_files_count() {
        let root = Path::new("/tmp/.tmpX1/ssot");
        assert!(relevant(root, Path::new("/tmp/.tmpX1/ssot/env.yaml")));
        assert!(relevant(root, Path::new("/tmp/.tmpX1/ssot/a/b.yml")));
        assert!(!relevant(root, Path::new("/tmp/.tmpX1/ssot/README.md")));
        assert!(!relevant(
            root,
            Path::new("/tmp/.tmpX1/ssot/.git/config.yaml")
        ));
        assert!(!relevant(root, Path::new("/tmp/.tmpX1/ssot/.env.yaml.swp")));
    }

    #[tokio::test]
    async fn a_burst_of_writes_is_one_signal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = SsotWatch::start(dir.path(), Duration::from_millis(150)).expect("watch");
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("f{i}.yaml")), "x: 1\n").expect("write");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let paths = tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .expect("a change is signalled")
            .expect("watcher alive");
        assert_eq!(paths.len(), 5, "{paths:?}");
        // Nothing more is pending: the burst was one signal.
        assert!(
            tokio::time::timeout(Duration::from_millis(400), w.changed())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_change_survives_the_waiting_future_being_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = SsotWatch::start(dir.path(), Duration::from_millis(200)).expect("watch");
        std::fs::write(dir.path().join("env.yaml"), "x: 1\n").expect("write");
        // As in the controller's select!: another branch wins while the change is being
        // debounced, dropping the future that already received it.
        let dropped = tokio::time::timeout(Duration::from_millis(100), w.changed()).await;
        assert!(dropped.is_err(), "still debouncing");
        let paths = tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .expect("the change is still reported")
            .expect("watcher alive");
        assert!(paths.iter().any(|p| p.ends_with("env.yaml")), "{paths:?}");
    }

    #[test]
    fn git_revision_of_a_repository_and_outside_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(git_revision(dir.path()), None);
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .output()
                .expect("git")
        };
        git(&["init", "-q"]);
        std::fs::write(dir.path().join("a.yaml"), "x: 1\n").expect("write");
        git(&["add", "."]);
        git(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "x",
        ]);
        let rev = git_revision(dir.path()).expect("a revision");
        assert_eq!(rev.len(), 40, "{rev}");
        std::fs::write(dir.path().join("a.yaml"), "x: 2\n").expect("write");
        assert_eq!(git_revision(dir.path()), Some(format!("{rev}+dirty")));
    }
}
