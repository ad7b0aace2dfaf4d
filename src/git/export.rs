//! [`Mirror::export`]: the exact tree of a commit into an empty directory (`git archive | tar
//! -x`, with the mirror's `info/attributes` neutralizing `export-ignore`, `export-subst`,
//! end-of-line conversion and filters), and each submodule at the commit the superproject
//! records, fetched into its own mirror.

use super::cmd::kill_group;
use super::mirror::{EntryKind, Mirror};
use super::{url_host, GitAuth, GitError};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Component, Path};
use std::pin::Pin;
use std::process::Stdio;

/// How deep submodules may nest.
const MAX_SUBMODULE_DEPTH: usize = 8;

type Boxed<'a> = Pin<Box<dyn Future<Output = Result<(), GitError>> + Send + 'a>>;

impl Mirror {
    /// Write the tree of `commit` into `dest` (created when absent; it must be empty when
    /// present), byte for byte as committed, symlinks and executable bits included. With
    /// `submodules`, every submodule is exported into its path at the commit the superproject
    /// records (recursively), from its own mirror; a submodule on the same host uses this
    /// mirror's credentials, one elsewhere none. On failure `dest` is removed.
    pub async fn export(
        &self,
        commit: &str,
        dest: &Path,
        submodules: bool,
    ) -> Result<(), GitError> {
        self.export_at_depth(commit, dest, submodules, 0).await
    }

    fn export_at_depth<'a>(
        &'a self,
        commit: &'a str,
        dest: &'a Path,
        submodules: bool,
        depth: usize,
    ) -> Boxed<'a> {
        Box::pin(async move {
            let sha = self.known_commit(commit).await?;
            prepare_dest(dest)?;
            let result = async {
                self.archive_into(&sha, dest).await?;
                if submodules {
                    self.export_submodules(&sha, dest, depth).await?;
                }
                Ok(())
            }
            .await;
            if result.is_err() {
                let _ = std::fs::remove_dir_all(dest);
            }
            result
        })
    }

    async fn archive_into(&self, sha: &str, dest: &Path) -> Result<(), GitError> {
        let mut archive = self.git(&["archive", "--format=tar", sha])?.spawn(false)?;
        let stdout = archive
            .child
            .stdout
            .take()
            .ok_or_else(|| GitError::Protocol {
                what: "archive".into(),
                detail: "no output pipe".into(),
            })?;
        let stdin: Stdio = stdout.try_into().map_err(|e| GitError::Spawn {
            what: "archive".into(),
            source: e,
        })?;
        let mut tar = tokio::process::Command::new("tar");
        tar.arg("-x")
            .arg("--no-same-owner")
            .arg("-f")
            .arg("-")
            .arg("-C")
            .arg(dest)
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let tar = tar.spawn().map_err(|e| GitError::Spawn {
            what: "archive (tar -x)".into(),
            source: e,
        })?;
        let (archive_pid, tar_pid) = (archive.child.id(), tar.id());
        let meta = archive.meta.clone();
        let both = async { tokio::join!(archive.finish(), tar.wait_with_output()) };
        match tokio::time::timeout(self.timeout(), both).await {
            Err(_) => {
                kill_group(archive_pid);
                kill_group(tar_pid);
                Err(meta.timeout())
            }
            Ok((archived, untarred)) => {
                archived?;
                let out = untarred.map_err(|e| GitError::Spawn {
                    what: "archive (tar -x)".into(),
                    source: e,
                })?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(GitError::Io {
                        path: dest.to_path_buf(),
                        source: std::io::Error::other(format!(
                            "tar -x failed: {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        )),
                    })
                }
            }
        }
    }

    async fn export_submodules(
        &self,
        sha: &str,
        dest: &Path,
        depth: usize,
    ) -> Result<(), GitError> {
        let links: Vec<(String, String)> = self
            .ls_tree(sha, "")
            .await?
            .into_iter()
            .filter(|e| e.kind == EntryKind::Commit)
            .map(|e| (e.path, e.oid))
            .collect();
        if links.is_empty() {
            return Ok(());
        }
        let fail = |path: &str, reason: String| GitError::Submodule {
            path: path.to_string(),
            remote: self.remote().to_string(),
            commit: sha.to_string(),
            reason,
        };
        if depth >= MAX_SUBMODULE_DEPTH {
            return Err(fail(
                &links[0].0,
                format!("submodules nest deeper than {MAX_SUBMODULE_DEPTH} levels"),
            ));
        }
        let urls = self.submodule_urls(sha).await?;
        for (path, oid) in links {
            if !safe_relative(&path) {
                return Err(fail(&path, "the path leaves the tree".into()));
            }
            let declared = urls
                .get(&path)
                .ok_or_else(|| fail(&path, "no `url` for this path in .gitmodules".into()))?;
            let url = resolve_relative_url(self.url(), declared).ok_or_else(|| {
                fail(
                    &path,
                    format!("cannot resolve the relative url {declared:?}"),
                )
            })?;
            let here = url_host(self.url());
            let there = url_host(&url);
            if !here.is_empty() && there.is_empty() {
                return Err(fail(
                    &path,
                    "a local-path submodule of a remote repository is refused".into(),
                ));
            }
            // Credentials go only to the host they were given for.
            let auth = if here == there {
                self.auth().clone()
            } else {
                GitAuth::None
            };
            let sub = Mirror::open_with_timeout(self.data_dir(), &url, auth, self.timeout())
                .await
                .map_err(|e| fail(&path, e.to_string()))?;
            sub.ensure_commit(&oid)
                .await
                .map_err(|e| fail(&path, e.to_string()))?;
            sub.export_at_depth(&oid, &dest.join(&path), true, depth + 1)
                .await?;
        }
        Ok(())
    }

    /// `path → url` from `.gitmodules` at `sha`.
    async fn submodule_urls(&self, sha: &str) -> Result<BTreeMap<String, String>, GitError> {
        let blob = format!("--blob={sha}:.gitmodules");
        let (out, _) = self
            .git(&["config", &blob, "--null", "--list"])?
            .run(None)
            .await?;
        let mut by_name: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
        if out.status.success() {
            for record in out.stdout.split(|b| *b == 0) {
                let record = String::from_utf8_lossy(record);
                let Some((key, value)) = record.split_once('\n') else {
                    continue;
                };
                let Some(rest) = key.strip_prefix("submodule.") else {
                    continue;
                };
                let Some((name, var)) = rest.rsplit_once('.') else {
                    continue;
                };
                let slot = by_name.entry(name.to_string()).or_default();
                match var {
                    "path" => slot.0 = Some(value.to_string()),
                    "url" => slot.1 = Some(value.to_string()),
                    _ => {}
                }
            }
        }
        Ok(by_name
            .into_values()
            .filter_map(|(path, url)| Some((path?.trim_end_matches('/').to_string(), url?)))
            .collect())
    }
}

/// An empty directory at `dest` (created with its parents when absent).
fn prepare_dest(dest: &Path) -> Result<(), GitError> {
    match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(GitError::DestinationNotEmpty(dest.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dest).map_err(|e| GitError::io(dest, e))
        }
        Err(e) => Err(GitError::io(dest, e)),
    }
}

/// A repository path that stays inside the tree.
pub(crate) fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components().all(|c| match c {
            Component::Normal(n) => n != ".git",
            _ => false,
        })
}

/// Resolve a submodule URL against the superproject's (git's rule: `./x` and `../x` are
/// relative to the superproject URL taken as a directory). Absolute URLs are returned as is.
pub(crate) fn resolve_relative_url(base: &str, url: &str) -> Option<String> {
    if !url.starts_with("./") && !url.starts_with("../") {
        return Some(url.to_string());
    }
    let mut base = base.trim_end_matches('/').to_string();
    let mut rel = url;
    loop {
        if let Some(r) = rel.strip_prefix("./") {
            rel = r;
        } else if let Some(r) = rel.strip_prefix("../") {
            rel = r;
            // Keep `scheme://host` (or `host:` of an scp-like URL) whole.
            let floor = match base.find("://") {
                Some(i) => base[i + 3..].find('/').map(|j| i + 3 + j)?,
                None => base.find(':').map(|i| i + 1).unwrap_or(0),
            };
            let cut = base[floor..].rfind('/').map(|i| floor + i);
            match cut {
                Some(i) => base.truncate(i),
                None if base.len() > floor => base.truncate(floor),
                None => return None,
            }
        } else {
            break;
        }
    }
    if base.ends_with(':') {
        Some(format!("{base}{rel}"))
    } else {
        Some(format!("{base}/{rel}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_submodule_urls() {
        let r = |b: &str, u: &str| resolve_relative_url(b, u);
        assert_eq!(
            r("git://h:9418/super.git", "../sub.git").as_deref(),
            Some("git://h:9418/sub.git")
        );
        assert_eq!(
            r("https://h/org/super.git/", "../../other/sub.git").as_deref(),
            Some("https://h/other/sub.git")
        );
        assert_eq!(
            r("git@github.com:org/super.git", "../sub.git").as_deref(),
            Some("git@github.com:org/sub.git")
        );
        assert_eq!(
            r("git@github.com:super.git", "../sub.git").as_deref(),
            Some("git@github.com:sub.git")
        );
        assert_eq!(
            r("https://h/super.git", "./sub").as_deref(),
            Some("https://h/super.git/sub")
        );
        assert_eq!(
            r("https://h/a.git", "https://x/y.git").as_deref(),
            Some("https://x/y.git")
        );
        assert_eq!(r("https://h/a.git", "../../x.git"), None);
    }

    #[test]
    fn submodule_paths_stay_inside() {
        assert!(safe_relative("addons/oca"));
        assert!(!safe_relative("../x"));
        assert!(!safe_relative("/etc"));
        assert!(!safe_relative("a/.git"));
        assert!(!safe_relative(""));
    }
}
