//! Where the SSOT comes from: a local directory (possibly git-sync's `current` symlink) or a
//! git remote (URL, branch, path inside the repository), and the "last valid revision" rule.
//!
//! A git source is exported to `<data_dir>/ssot/<commit>/` and `<data_dir>/ssot/current` is
//! flipped to it atomically (a new symlink renamed over the old one); the previous export is
//! kept for readers still on it, older ones are removed. A directory source is resolved through
//! its symlinks on every checkout, so a flip of git-sync's `current` is followed.
//!
//! # Following a flip in directory mode
//!
//! A file watcher on `current` watches the tree it pointed at when the watch was set up; git-sync
//! flips `current` by renaming a new symlink over it, in the parent directory. So the watcher
//! (wired by the controller) watches the symlink's parent directory non-recursively and
//! [`SsotSource::watched_target`] recursively; on any event it compares
//! `watched_target()` with the target it is watching, and when [`flipped`] says so, it moves
//! its recursive watch to the new target and reloads (the reload calls
//! [`load_with_fallback`], which checks the new tree out again).

use super::export::safe_relative;
use super::{check_commit, redact_url, GitAuth, GitError, Mirror};
use crate::ssot::{self, Diagnostic, Level, Limits, Ssot};
use crate::store::{NewSsotRevision, SsotRevision, Store, StoreError};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How many diagnostics of an invalid revision are recorded.
const RECORDED_DIAGNOSTICS: usize = 20;

/// Where the SSOT is read from.
#[derive(Clone, Debug)]
pub enum SsotSource {
    /// A local directory (or a symlink to one, e.g. git-sync's `current`).
    Dir(PathBuf),
    /// A git remote: the tree at `path` (repository-relative, `""` for the root) of `branch`.
    Git {
        url: String,
        branch: String,
        path: String,
        auth: GitAuth,
    },
}

/// A checked-out SSOT tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedOut {
    /// The directory to load (symlinks resolved).
    pub dir: PathBuf,
    /// The commit, for a git source or a directory that is a git work tree.
    pub commit: Option<String>,
}

/// The head of the source was invalid and the last valid revision is served instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SsotFinding {
    /// `ssot-head-invalid`.
    pub code: &'static str,
    pub source: String,
    /// The invalid revision (commit, or content hash).
    pub head: String,
    /// The revision loaded instead.
    pub used: String,
    pub error_count: usize,
    /// The first error: file (repository-relative for a git source), line, column.
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// A loaded SSOT and where it came from.
#[derive(Debug)]
pub struct LoadedSsot {
    pub ssot: Ssot,
    pub dir: PathBuf,
    pub commit: Option<String>,
    /// The commit, else the content hash: what a run records as its SSOT revision.
    pub revision: String,
    /// Set when the head was invalid and this is the last valid revision.
    pub finding: Option<SsotFinding>,
}

#[derive(Debug, thiserror::Error)]
pub enum SsotLoadError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("recording the SSOT revision: {0}")]
    Store(#[from] StoreError),
    #[error("the SSOT {origin} at {revision} is invalid ({error_count} errors; first: {first}) and {fallback}; fix it (`odooops validate --ssot DIR` lists every diagnostic)")]
    Invalid {
        /// The source's key.
        origin: String,
        revision: String,
        error_count: usize,
        first: String,
        fallback: String,
        /// Every diagnostic, rendered.
        rendered: String,
    },
}

impl SsotSource {
    /// The source's identity in `ops.ssot_revisions` (no credentials).
    pub fn key(&self) -> String {
        match self {
            SsotSource::Dir(p) => format!("dir:{}", p.display()),
            SsotSource::Git {
                url, branch, path, ..
            } => format!(
                "git:{}#{branch}:{}",
                redact_url(url),
                path.trim_matches('/')
            ),
        }
    }

    /// Fetch (git) or resolve (directory) the current tree. A git source is exported to
    /// `<data_dir>/ssot/<commit>/` and `current` flipped to it.
    pub async fn checkout(&self, data_dir: &Path) -> Result<CheckedOut, GitError> {
        match self {
            SsotSource::Dir(path) => {
                let dir = std::fs::canonicalize(path).map_err(|e| GitError::io(path, e))?;
                let commit = work_tree_head(&dir).await;
                Ok(CheckedOut { dir, commit })
            }
            SsotSource::Git { branch, path, .. } => {
                let mirror = self.mirror(data_dir).await?;
                mirror.fetch().await?;
                let commit = mirror.resolve(branch).await?;
                materialize(&mirror, data_dir, path, &commit).await
            }
        }
    }

    /// Export `commit` of a git source (fetching it by id when missing) and flip `current` to
    /// it. A directory source has no history: its current tree is returned.
    pub async fn checkout_commit(
        &self,
        data_dir: &Path,
        commit: &str,
    ) -> Result<CheckedOut, GitError> {
        match self {
            SsotSource::Dir(_) => self.checkout(data_dir).await,
            SsotSource::Git { path, .. } => {
                let sha = check_commit(commit)?;
                let mirror = self.mirror(data_dir).await?;
                mirror.ensure_commit(&sha).await?;
                materialize(&mirror, data_dir, path, &sha).await
            }
        }
    }

    /// The directory a watcher should watch: a directory source's path with its symlinks
    /// resolved (`None` when it does not resolve, and for a git source, which is polled).
    pub fn watched_target(&self) -> Option<PathBuf> {
        match self {
            SsotSource::Dir(p) => std::fs::canonicalize(p).ok(),
            SsotSource::Git { .. } => None,
        }
    }

    async fn mirror(&self, data_dir: &Path) -> Result<Mirror, GitError> {
        match self {
            SsotSource::Git { url, auth, .. } => Mirror::open(data_dir, url, auth.clone()).await,
            SsotSource::Dir(p) => Err(GitError::InvalidUrl(p.display().to_string())),
        }
    }
}

/// Export `commit` to `<data_dir>/ssot/<commit>/` (once) and flip `current` to it.
async fn materialize(
    mirror: &Mirror,
    data_dir: &Path,
    path: &str,
    commit: &str,
) -> Result<CheckedOut, GitError> {
    let inner = path.trim_matches('/');
    if !inner.is_empty() && inner != "." && !safe_relative(inner) {
        return Err(GitError::io(
            inner,
            std::io::Error::other("the SSOT path must stay inside the repository"),
        ));
    }
    let root = data_dir.join("ssot");
    std::fs::create_dir_all(&root).map_err(|e| GitError::io(&root, e))?;
    let export = root.join(commit);
    if !export.is_dir() {
        let tmp = root.join(format!(".tmp-{commit}-{}", uuid::Uuid::new_v4().simple()));
        mirror.export(commit, &tmp, false).await?;
        if std::fs::rename(&tmp, &export).is_err() {
            // Exported concurrently by someone else: keep theirs.
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    let previous = std::fs::read_link(root.join("current")).ok();
    flip_current(&root, Path::new(commit))?;
    prune_exports(&root, commit, previous.as_deref());
    let dir = if inner.is_empty() || inner == "." {
        export
    } else {
        export.join(inner)
    };
    Ok(CheckedOut {
        dir,
        commit: Some(commit.to_string()),
    })
}

/// Has the watched target changed? `previous` is the target the watcher watches, `current` what
/// [`SsotSource::watched_target`] says now (both canonical paths).
pub fn flipped(previous: &Path, current: &Path) -> bool {
    previous != current
}

/// Point `<root>/current` at `target` atomically: a new symlink renamed over the old one.
fn flip_current(root: &Path, target: &Path) -> Result<(), GitError> {
    let tmp = root.join(format!(".current-{}", uuid::Uuid::new_v4().simple()));
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| GitError::io(&tmp, e))?;
    let current = root.join("current");
    std::fs::rename(&tmp, &current).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        GitError::io(&current, e)
    })
}

/// Remove exports other than `keep` and the previous `current` target.
fn prune_exports(root: &Path, keep: &str, previous: Option<&Path>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_export = check_commit(&name).is_ok_and(|c| c == name);
        if is_export && name != keep && previous != Some(Path::new(&name)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// HEAD of a git work tree (git-sync's worktrees are), else `None`.
async fn work_tree_head(dir: &Path) -> Option<String> {
    if !dir.join(".git").exists() {
        return None;
    }
    let safe = format!("safe.directory={}", dir.display());
    let out = tokio::process::Command::new("git")
        .arg("-c")
        .arg(&safe)
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && check_commit(&sha).is_ok()).then_some(sha)
}

/// Load and validate the source's current tree, recording the revision. When it is invalid,
/// load the last valid revision recorded for the source instead (exported again from the
/// mirror for a git source; from the snapshot kept at `<data_dir>/ssot/snapshots/` for a
/// directory) and say so in [`LoadedSsot::finding`]. Without a valid revision to fall back
/// on, the error carries the diagnostics.
pub async fn load_with_fallback(
    source: &SsotSource,
    data_dir: &Path,
    store: &Store,
) -> Result<LoadedSsot, SsotLoadError> {
    let key = source.key();
    let head = source.checkout(data_dir).await?;
    let prefix = match source {
        SsotSource::Git { path, .. } => path.trim_matches('/').to_string(),
        SsotSource::Dir(_) => String::new(),
    };
    let report = load_dir(&head.dir).await;
    let content_hash = report.loaded.content_hash();
    let revision = head.commit.clone().unwrap_or_else(|| content_hash.clone());
    let previous_valid = store.last_valid_ssot_revision(&key).await?;
    let errors = first_errors(&report, &head.dir, &prefix);
    store
        .record_ssot_revision(&NewSsotRevision {
            source: key.clone(),
            commit_sha: revision.clone(),
            content_hash: content_hash.clone(),
            valid: report.is_valid(),
            error_count: report.error_count() as i64,
            diagnostics: serde_json::to_value(&errors).unwrap_or_default(),
        })
        .await?;
    if report.is_valid() {
        if let SsotSource::Dir(_) = source {
            snapshot(data_dir, &content_hash, &report.loaded)?;
        }
        if let (SsotSource::Git { .. }, Some(commit)) = (source, &head.commit) {
            pin_latest_valid(source, data_dir, commit, previous_valid.as_ref()).await;
        }
        let ssot = report
            .into_ssot()
            .ok_or_else(|| invalid_state(&key, &revision))?;
        return Ok(LoadedSsot {
            ssot,
            dir: head.dir,
            commit: head.commit,
            revision,
            finding: None,
        });
    }

    let error_count = report.error_count();
    let rendered: String = report
        .diagnostics
        .iter()
        .map(|d| d.render(report.source(&d.file)))
        .collect();
    let first = errors.first().cloned();
    let first_text = first
        .as_ref()
        .map(|d| format!("{}:{}:{}: {}", d.file, d.line, d.column, d.message))
        .unwrap_or_else(|| "no located diagnostic".into());
    let refuse = |fallback: String| SsotLoadError::Invalid {
        origin: key.clone(),
        revision: revision.clone(),
        error_count,
        first: first_text.clone(),
        fallback,
        rendered: rendered.clone(),
    };
    let Some(last) = previous_valid.filter(|l| l.commit_sha != revision) else {
        return Err(refuse("no valid revision was recorded before".into()));
    };
    let (dir, commit) = match source {
        SsotSource::Git { .. } => {
            let out = source.checkout_commit(data_dir, &last.commit_sha).await?;
            (out.dir, out.commit)
        }
        SsotSource::Dir(_) => {
            let dir = snapshot_dir(data_dir, &last.content_hash);
            if !dir.is_dir() {
                return Err(refuse(format!(
                    "the snapshot of the last valid revision {} is gone ({})",
                    last.commit_sha,
                    dir.display()
                )));
            }
            (
                dir,
                (last.commit_sha != last.content_hash).then(|| last.commit_sha.clone()),
            )
        }
    };
    let fallback = load_dir(&dir).await;
    let Some(ssot) = fallback.into_ssot() else {
        return Err(refuse(format!(
            "the last valid revision {} no longer validates",
            last.commit_sha
        )));
    };
    let first = first.unwrap_or_else(|| Diagnostic::error("ssot", &key, "invalid"));
    let finding = finding(&key, &revision, &last, error_count, &first);
    tracing::warn!(source = %key, head = %revision, used = %last.commit_sha, "{}", finding.message);
    Ok(LoadedSsot {
        ssot,
        dir,
        commit,
        revision: last.commit_sha,
        finding: Some(finding),
    })
}

async fn load_dir(dir: &Path) -> ssot::Report {
    let dir = dir.to_path_buf();
    let fallback_dir = dir.clone();
    tokio::task::spawn_blocking(move || ssot::load(&dir, &Limits::default()))
        .await
        .unwrap_or_else(|_| ssot::load(&fallback_dir, &Limits::default()))
}

fn invalid_state(key: &str, revision: &str) -> SsotLoadError {
    SsotLoadError::Invalid {
        origin: key.to_string(),
        revision: revision.to_string(),
        error_count: 0,
        first: "none".into(),
        fallback: "the report could not be turned into an SSOT".into(),
        rendered: String::new(),
    }
}

/// The first errors, with file names relative to the repository (git) or the SSOT directory.
fn first_errors(report: &ssot::Report, dir: &Path, prefix: &str) -> Vec<Diagnostic> {
    let shown_root = format!("{}/", dir.display());
    report
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .take(RECORDED_DIAGNOSTICS)
        .map(|d| {
            let mut d = d.clone();
            if let Some(rel) = d.file.strip_prefix(&shown_root) {
                d.file = if prefix.is_empty() {
                    rel.to_string()
                } else {
                    format!("{prefix}/{rel}")
                };
            }
            d
        })
        .collect()
}

fn finding(
    key: &str,
    head: &str,
    last: &SsotRevision,
    error_count: usize,
    first: &Diagnostic,
) -> SsotFinding {
    let short = |s: &str| s.chars().take(12).collect::<String>();
    SsotFinding {
        code: "ssot-head-invalid",
        source: key.to_string(),
        head: head.to_string(),
        used: last.commit_sha.clone(),
        error_count,
        file: first.file.clone(),
        line: first.line,
        column: first.column,
        message: format!(
            "the SSOT head {} is invalid ({error_count} errors; first at {}:{}: {}); serving the last valid revision {}, loaded {}; fix the SSOT and push",
            short(head),
            first.file,
            first.line,
            first.message,
            short(&last.commit_sha),
            last.recorded_at.to_rfc3339()
        ),
    }
}

/// Keep the latest valid commit through force-pushes and gc; release the one before.
async fn pin_latest_valid(
    source: &SsotSource,
    data_dir: &Path,
    commit: &str,
    previous: Option<&SsotRevision>,
) {
    let Ok(mirror) = source.mirror(data_dir).await else {
        return;
    };
    if mirror.pin(commit).await.is_ok() {
        if let Some(prev) = previous.filter(|p| p.commit_sha != commit) {
            let _ = mirror.unpin(&prev.commit_sha).await;
        }
    }
}

fn snapshot_dir(data_dir: &Path, content_hash: &str) -> PathBuf {
    let name = content_hash.replace(':', "-");
    data_dir.join("ssot").join("snapshots").join(name)
}

/// Keep the files of a valid directory-mode tree (as validated) for the fallback.
fn snapshot(data_dir: &Path, content_hash: &str, loaded: &ssot::Loaded) -> Result<(), GitError> {
    let dest = snapshot_dir(data_dir, content_hash);
    if dest.is_dir() {
        return Ok(());
    }
    let parent = dest.parent().unwrap_or(data_dir).to_path_buf();
    let tmp = parent.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let write = || -> Result<(), GitError> {
        for f in &loaded.files {
            let rel = f.path.strip_prefix(&loaded.root).unwrap_or(&f.path);
            let to = tmp.join(rel);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(|e| GitError::io(dir, e))?;
            }
            std::fs::write(&to, &f.text).map_err(|e| GitError::io(&to, e))?;
        }
        Ok(())
    };
    std::fs::create_dir_all(&tmp).map_err(|e| GitError::io(&tmp, e))?;
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if std::fs::rename(&tmp, &dest).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    // Only the latest few snapshots are useful.
    prune_snapshots(&parent, 5);
    Ok(())
}

fn prune_snapshots(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut snaps: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("sha256-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    snaps.sort();
    let excess = snaps.len().saturating_sub(keep);
    for (_, path) in snaps.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_no_credentials() {
        let s = SsotSource::Git {
            url: "ssh://deploy@example.com/ops/ssot.git".into(),
            branch: "main".into(),
            path: "/ssot/".into(),
            auth: GitAuth::None,
        };
        assert_eq!(s.key(), "git:ssh://***@example.com/ops/ssot.git#main:ssot");
        assert_eq!(SsotSource::Dir("/srv/ssot".into()).key(), "dir:/srv/ssot");
    }

    #[test]
    fn a_flip_is_a_change_of_target() {
        assert!(flipped(
            Path::new("/r/.worktrees/a"),
            Path::new("/r/.worktrees/b")
        ));
        assert!(!flipped(
            Path::new("/r/.worktrees/a"),
            Path::new("/r/.worktrees/a")
        ));
    }
}
