//! [`Mirror`]: a bare mirror of one remote under `<data_dir>/git/<sha256(url)[..16]>.git`.
//!
//! Created once with `git init --bare` + a first fetch (into a temporary directory renamed into
//! place, so a failed first fetch leaves nothing behind), then updated with
//! `git fetch --prune`. Only branches and tags are mirrored (`refs/heads/*`, `refs/tags/*`;
//! a forge's `refs/pull/*` are not): a commit outside them — a webhook's `after` on a pull
//! request — is fetched by id with [`Mirror::ensure_commit`] and pinned under
//! `refs/odooops/pins/` so that garbage collection keeps it. Every network operation runs
//! under a deadline ([`DEFAULT_TIMEOUT`], [`Mirror::with_timeout`]) and is killed when it
//! passes. Fetches of one mirror are serialized inside the process.

use super::cmd::GitCommand;
use super::{check_branch, check_commit, check_url, redact_url, GitAuth, GitError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Deadline of one `git` network operation (clone, fetch, archive of a large tree).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Attributes that make `git archive` write the blobs exactly as committed: no
/// `export-ignore`/`export-subst`, no end-of-line conversion, no smudge filter, no `ident`.
/// `$GIT_DIR/info/attributes` takes precedence over the tree's `.gitattributes`.
const EXACT_ATTRIBUTES: &str =
    "* -export-ignore -export-subst -text -eol -filter -ident -working-tree-encoding\n";

/// A bare mirror of one remote.
#[derive(Clone, Debug)]
pub struct Mirror {
    dir: PathBuf,
    url: String,
    remote: String,
    auth: GitAuth,
    data_dir: PathBuf,
    timeout: Duration,
}

/// What a tree entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Blob,
    Tree,
    /// A submodule (gitlink): `oid` is the commit the superproject records.
    Commit,
}

/// One entry of `git ls-tree`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TreeEntry {
    /// `100644`, `100755`, `120000` (symlink), `040000`, `160000` (submodule).
    pub mode: String,
    pub kind: EntryKind,
    pub oid: String,
    /// Relative to the repository root, `/`-separated (non-UTF-8 bytes replaced).
    pub path: String,
}

/// One async lock per mirror directory: fetches and creation of a mirror do not overlap.
fn mirror_lock(dir: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(dir.to_path_buf()).or_default().clone()
}

/// `<data_dir>/git/<first 16 hex of sha256(url)>.git`.
pub fn mirror_dir(data_dir: &Path, url: &str) -> PathBuf {
    let digest = hex::encode(Sha256::digest(url.trim().as_bytes()));
    data_dir.join("git").join(format!("{}.git", &digest[..16]))
}

impl Mirror {
    /// Open the mirror of `url`, creating it (and fetching everything once) when it does not
    /// exist yet. An existing mirror is not fetched: call [`Mirror::fetch`] on every resync.
    pub async fn open(data_dir: &Path, url: &str, auth: GitAuth) -> Result<Mirror, GitError> {
        Self::open_with_timeout(data_dir, url, auth, DEFAULT_TIMEOUT).await
    }

    /// [`Mirror::open`] with a deadline for each `git` operation.
    pub async fn open_with_timeout(
        data_dir: &Path,
        url: &str,
        auth: GitAuth,
        timeout: Duration,
    ) -> Result<Mirror, GitError> {
        check_url(url)?;
        let url = url.trim().to_string();
        let dir = mirror_dir(data_dir, &url);
        let mirror = Mirror {
            remote: redact_url(&url),
            url,
            dir,
            auth,
            data_dir: data_dir.to_path_buf(),
            timeout,
        };
        let lock = mirror_lock(&mirror.dir);
        let _held = lock.lock().await;
        if mirror.dir.join("HEAD").is_file() {
            let found = mirror.configured_url().await?;
            if found != mirror.url {
                return Err(GitError::MirrorMismatch {
                    dir: mirror.dir.clone(),
                    remote: mirror.remote.clone(),
                    found: redact_url(&found),
                });
            }
            return Ok(mirror);
        }
        mirror.create().await?;
        Ok(mirror)
    }

    /// Use `timeout` for every later operation.
    pub fn with_timeout(mut self, timeout: Duration) -> Mirror {
        self.timeout = timeout;
        self
    }

    /// The bare repository directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The remote URL as shown to users (userinfo redacted).
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// The remote URL as configured (never shown: it may carry a user name).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn auth(&self) -> &GitAuth {
        &self.auth
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A `git --git-dir=<mirror> ARGS…` command with this mirror's credentials.
    pub(crate) fn git(&self, args: &[&str]) -> Result<GitCommand, GitError> {
        self.git_in(&self.dir, args)
    }

    fn git_in(&self, git_dir: &Path, args: &[&str]) -> Result<GitCommand, GitError> {
        GitCommand::new(
            Some(git_dir),
            args,
            &self.remote,
            &self.auth,
            &self.data_dir.join("git"),
            self.timeout,
        )
    }

    /// The command [`Mirror::fetch`] runs (to inspect: no credential is in its argv).
    pub fn fetch_command(&self) -> Result<GitCommand, GitError> {
        self.git(&["fetch", "--prune", "--quiet", "origin"])
    }

    async fn configured_url(&self) -> Result<String, GitError> {
        let out = self
            .git(&["config", "--get", "remote.origin.url"])?
            .output()
            .await?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// `git init --bare` into a temporary sibling, configure, fetch, rename into place.
    async fn create(&self) -> Result<(), GitError> {
        let parent = self.dir.parent().unwrap_or(&self.data_dir).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| GitError::io(&parent, e))?;
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
        let result = self.populate(&tmp).await;
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        match std::fs::rename(&tmp, &self.dir) {
            Ok(()) => Ok(()),
            // Another process created it meanwhile: use theirs.
            Err(_) if self.dir.join("HEAD").is_file() => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(GitError::io(&self.dir, e))
            }
        }
    }

    async fn populate(&self, tmp: &Path) -> Result<(), GitError> {
        let tmp_s = tmp.to_string_lossy().into_owned();
        GitCommand::new(
            None,
            &["init", "--bare", "--quiet", &tmp_s],
            &self.remote,
            &GitAuth::None,
            &self.data_dir.join("git"),
            self.timeout,
        )?
        .output()
        .await?;
        let settings: [(&str, &str); 4] = [
            ("remote.origin.url", &self.url),
            ("remote.origin.fetch", "+refs/heads/*:refs/heads/*"),
            ("core.logAllRefUpdates", "false"),
            ("gc.pruneExpire", "2.weeks.ago"),
        ];
        for (key, value) in settings {
            self.git_in(tmp, &["config", key, value])?.output().await?;
        }
        self.git_in(
            tmp,
            &[
                "config",
                "--add",
                "remote.origin.fetch",
                "+refs/tags/*:refs/tags/*",
            ],
        )?
        .output()
        .await?;
        let info = tmp.join("info");
        std::fs::create_dir_all(&info).map_err(|e| GitError::io(&info, e))?;
        let attributes = info.join("attributes");
        std::fs::write(&attributes, EXACT_ATTRIBUTES).map_err(|e| GitError::io(&attributes, e))?;
        self.git_in(tmp, &["fetch", "--prune", "--quiet", "origin"])?
            .output()
            .await?;
        Ok(())
    }

    /// Fetch every branch and tag, pruning those deleted on the remote (pins are kept).
    pub async fn fetch(&self) -> Result<(), GitError> {
        let lock = mirror_lock(&self.dir);
        let _held = lock.lock().await;
        self.fetch_command()?.output().await?;
        Ok(())
    }

    /// The commit `branch` points at, as of the last fetch.
    pub async fn resolve(&self, branch: &str) -> Result<String, GitError> {
        check_branch(branch)?;
        let spec = format!("refs/heads/{branch}^{{commit}}");
        let (out, meta) = self
            .git(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])?
            .run(None)
            .await?;
        if out.status.success() {
            let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
            return check_commit(&sha).map_err(|_| GitError::Protocol {
                what: "rev-parse".into(),
                detail: format!("not an object id: {sha:?}"),
            });
        }
        if out.status.code() != Some(1) {
            return Err(meta.failed(&out));
        }
        Err(GitError::BranchNotFound {
            branch: branch.to_string(),
            remote: self.remote.clone(),
            known: self.branches_hint().await,
        })
    }

    /// Up to ten branch names, for an error message.
    async fn branches_hint(&self) -> String {
        let listed = match self.git(&[
            "for-each-ref",
            "--count=11",
            "--format=%(refname:strip=2)",
            "refs/heads/",
        ]) {
            Ok(cmd) => cmd.output().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let text = String::from_utf8_lossy(&listed);
        let names: Vec<&str> = text.lines().collect();
        match names.len() {
            0 => "none".to_string(),
            n if n > 10 => format!("{}, …", names[..10].join(", ")),
            _ => names.join(", "),
        }
    }

    /// Is `commit` (a full object id) a commit present in the mirror?
    pub async fn has_commit(&self, commit: &str) -> bool {
        let Ok(sha) = check_commit(commit) else {
            return false;
        };
        let spec = format!("{sha}^{{commit}}");
        match self.git(&["cat-file", "-e", &spec]) {
            Ok(cmd) => matches!(cmd.run(None).await, Ok((out, _)) if out.status.success()),
            Err(_) => false,
        }
    }

    /// Make sure `commit` is in the mirror: a normal fetch when it is missing, then a fetch of
    /// the commit by id (a pull request's head, a commit no branch points at any more), which
    /// is then pinned.
    pub async fn ensure_commit(&self, commit: &str) -> Result<(), GitError> {
        let sha = check_commit(commit)?;
        if self.has_commit(&sha).await {
            return Ok(());
        }
        self.fetch().await?;
        if self.has_commit(&sha).await {
            return Ok(());
        }
        {
            let lock = mirror_lock(&self.dir);
            let _held = lock.lock().await;
            // A server that refuses unadvertised ids answers an error: the commit is then
            // reported as not found.
            let _ = self
                .git(&["fetch", "--quiet", "--no-tags", "origin", &sha])?
                .run(None)
                .await?;
        }
        if self.has_commit(&sha).await {
            self.pin(&sha).await?;
            return Ok(());
        }
        Err(GitError::CommitNotFound {
            commit: sha,
            remote: self.remote.clone(),
        })
    }

    /// Keep `commit` through garbage collection and branch deletion
    /// (`refs/odooops/pins/<commit>`; a fetch never prunes it).
    pub async fn pin(&self, commit: &str) -> Result<(), GitError> {
        let sha = check_commit(commit)?;
        let pin = format!("refs/odooops/pins/{sha}");
        self.git(&["update-ref", &pin, &sha])?.output().await?;
        Ok(())
    }

    /// Release a pin set by [`Mirror::pin`].
    pub async fn unpin(&self, commit: &str) -> Result<(), GitError> {
        let sha = check_commit(commit)?;
        let pin = format!("refs/odooops/pins/{sha}");
        self.git(&["update-ref", "-d", &pin])?.output().await?;
        Ok(())
    }

    /// The bytes of the file `path` (repository-relative) at `commit`; `None` when the commit
    /// has no such file. An unknown commit is an error.
    pub async fn show(&self, commit: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let sha = self.known_commit(commit).await?;
        let spec = format!("{sha}:{}", path.trim_start_matches('/'));
        let (out, _) = self.git(&["cat-file", "blob", &spec])?.run(None).await?;
        Ok(out.status.success().then_some(out.stdout))
    }

    /// Entries at `commit`, recursively, under `under` (repository-relative; `""` or `"."` for
    /// the whole tree). Trees are not listed, only what they hold.
    pub async fn ls_tree(&self, commit: &str, under: &str) -> Result<Vec<TreeEntry>, GitError> {
        let sha = self.known_commit(commit).await?;
        let mut args = vec!["ls-tree", "-r", "-z", "--full-tree", &sha];
        let under = under.trim_matches('/');
        if !under.is_empty() && under != "." {
            args.push("--");
            args.push(under);
        }
        let out = self.git(&args)?.output().await?;
        parse_ls_tree(&out)
    }

    /// `commit` validated and present, else [`GitError::CommitNotFound`].
    pub(crate) async fn known_commit(&self, commit: &str) -> Result<String, GitError> {
        let sha = check_commit(commit)?;
        if self.has_commit(&sha).await {
            Ok(sha)
        } else {
            Err(GitError::CommitNotFound {
                commit: sha,
                remote: self.remote.clone(),
            })
        }
    }
}

/// Parse `git ls-tree -z` output: `<mode> SP <type> SP <oid> TAB <path> NUL`.
pub(crate) fn parse_ls_tree(out: &[u8]) -> Result<Vec<TreeEntry>, GitError> {
    let bad = |detail: String| GitError::Protocol {
        what: "ls-tree".into(),
        detail,
    };
    let mut entries = Vec::new();
    for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let tab = record
            .iter()
            .position(|b| *b == b'\t')
            .ok_or_else(|| bad("an entry without a tab".into()))?;
        let head = String::from_utf8_lossy(&record[..tab]);
        let mut parts = head.split(' ');
        let (Some(mode), Some(kind), Some(oid)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad(format!("entry {head:?}")));
        };
        let kind = match kind {
            "blob" => EntryKind::Blob,
            "tree" => EntryKind::Tree,
            "commit" => EntryKind::Commit,
            other => return Err(bad(format!("object type {other:?}"))),
        };
        entries.push(TreeEntry {
            mode: mode.to_string(),
            kind,
            oid: oid.to_string(),
            path: String::from_utf8_lossy(&record[tab + 1..]).into_owned(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_dir_is_a_prefix_of_the_url_digest() {
        let d = mirror_dir(Path::new("/data"), "https://example.com/a.git");
        let name = d.file_name().expect("name").to_string_lossy().into_owned();
        assert!(d.starts_with("/data/git"));
        assert_eq!(name.len(), 16 + ".git".len());
        assert_ne!(
            d,
            mirror_dir(Path::new("/data"), "https://example.com/b.git")
        );
    }

    #[test]
    fn ls_tree_records() {
        let out = b"100644 blob 0123456789012345678901234567890123456789\ta/b c.py\x00160000 commit 1111111111111111111111111111111111111111\tsub\0";
        let e = parse_ls_tree(out).expect("parse");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].path, "a/b c.py");
        assert_eq!(e[1].kind, EntryKind::Commit);
        assert!(parse_ls_tree(b"garbage\0").is_err());
    }
}
