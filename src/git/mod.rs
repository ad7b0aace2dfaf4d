//! Git sources: the code repository and the SSOT fetched with the `git` CLI into bare mirrors
//! under the data directory, branches resolved to commits, trees exported, and the module state
//! of a commit read without exporting it.
//!
//! - [`mirror`]: [`Mirror`], one bare mirror per remote (`<data_dir>/git/<sha256(url)[..16]>.git`),
//!   fetched under a timeout, credentials only through the environment of the `git` process.
//! - [`modules`]: the addons of a commit, their manifests and a content checksum computed like
//!   OCA `module_auto_update`; [`changes`]: what a release does to the database (install,
//!   update, cascade, removed) — pure.
//! - [`ssot_source`]: the SSOT from a directory (following git-sync's `current` symlink) or a
//!   git remote, with the "last valid revision" fallback.
//!
//! Secrets: a token or SSH key never appears in a `git` argv, a log line or an error message;
//! URLs are shown with their userinfo replaced by `***` ([`redact_url`]).

pub mod changes;
mod cmd;
mod export;
pub mod mirror;
pub mod modules;
pub mod ssot_source;

pub use changes::{module_changes, ModuleChanges, Reason};
pub use cmd::GitCommand;
pub use mirror::{EntryKind, Mirror, TreeEntry, DEFAULT_TIMEOUT};
pub use modules::{checksum_dir, module_states, ChecksumRules, ModuleState};
pub use ssot_source::{
    flipped, load_with_fallback, CheckedOut, LoadedSsot, SsotFinding, SsotLoadError, SsotSource,
};

use crate::provider::SecretValue;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// How `git` authenticates to a remote. The value reaches `git` only through its environment.
#[derive(Clone, Debug, Default)]
pub enum GitAuth {
    /// Public repository, a local path, or credentials configured outside OdooOps.
    #[default]
    None,
    /// An HTTPS access token (GitHub, GitLab, Gitea…), sent as the HTTP basic credentials
    /// `x-access-token:<token>` through `http.extraHeader`, given to `git` by environment
    /// (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`).
    Token(SecretValue),
    /// An SSH private key (OpenSSH format), written to a 0600 file that lives as long as the
    /// `git` process and used through `GIT_SSH_COMMAND` with `-o IdentitiesOnly=yes`.
    SshKey(SecretValue),
}

impl GitAuth {
    /// The credential a remote's URL takes: a token over http(s), an SSH key otherwise.
    pub fn for_url(url: &str, value: SecretValue) -> GitAuth {
        let url = url.trim();
        if url.starts_with("http://") || url.starts_with("https://") {
            GitAuth::Token(value)
        } else {
            GitAuth::SshKey(value)
        }
    }

    /// `none`, `token` or `ssh-key` (never the value).
    pub fn kind(&self) -> &'static str {
        match self {
            GitAuth::None => "none",
            GitAuth::Token(_) => "token",
            GitAuth::SshKey(_) => "ssh-key",
        }
    }
}

/// Errors of the git layer. Each names what failed (the remote with its userinfo redacted, the
/// branch, the commit, the path) and what to do next; none carries a credential.
#[derive(Debug, Error)]
pub enum GitError {
    #[error("could not run `git {what}`: {source} (is git installed and on PATH?)")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`git {what}` failed for {remote}{code}: {stderr}", code = exit_text(*.code))]
    Failed {
        what: String,
        remote: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("`git {what}` for {remote} did not finish within {}s and was killed; check that the remote is reachable, or raise the timeout", .timeout.as_secs())]
    Timeout {
        what: String,
        remote: String,
        timeout: Duration,
    },
    #[error("branch `{branch}` not found on {remote}: push it, or fix the environment's `branch` (fetched branches: {known})")]
    BranchNotFound {
        branch: String,
        remote: String,
        known: String,
    },
    #[error("commit {commit} not found on {remote}, not even by id: was it force-pushed away? Check the webhook's `after` or push the commit again")]
    CommitNotFound { commit: String, remote: String },
    #[error("`{0}` is not a commit id: expected 40 (or 64) hexadecimal characters")]
    InvalidCommit(String),
    #[error("`{0}` is not a valid branch name")]
    InvalidBranch(String),
    #[error("{url}: credentials in a repository URL are refused (they would reach argv and logs); put the token in the secret registry and reference it by key")]
    CredentialsInUrl { url: String },
    #[error("{0:?} is not a repository URL: expected https://…, ssh://…, git://…, user@host:path or a local path")]
    InvalidUrl(String),
    #[error("the mirror {dir} belongs to {found}, not {remote}: move it aside and retry")]
    MirrorMismatch {
        dir: PathBuf,
        remote: String,
        found: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("export destination {0} is not empty: export into a new or empty directory")]
    DestinationNotEmpty(PathBuf),
    #[error("submodule `{path}` of {remote} at {commit}: {reason}")]
    Submodule {
        path: String,
        remote: String,
        commit: String,
        reason: String,
    },
    #[error("unexpected output from `git {what}`: {detail}")]
    Protocol { what: String, detail: String },
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!(" (exit {c})"),
        None => " (killed by a signal)".to_string(),
    }
}

impl GitError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> GitError {
        GitError::Io {
            path: path.into(),
            source,
        }
    }
}

/// `scheme://user:secret@host/path` → `scheme://***@host/path`: the whole userinfo goes (a token
/// is often given as the user name). An scp-like `git@host:path` is kept as is (a user name only).
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            return format!("{scheme}://***@{}", &rest[at + 1..]);
        }
    }
    url.to_string()
}

/// Refuse a URL that carries credentials: any userinfo on http(s), a password anywhere.
pub(crate) fn check_url(url: &str) -> Result<(), GitError> {
    if url.trim().is_empty() || url.starts_with('-') || url.contains(['\n', '\r', '\0']) {
        return Err(GitError::InvalidUrl(
            redact_url(url).chars().take(200).collect(),
        ));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
            if http || userinfo.contains(':') {
                return Err(GitError::CredentialsInUrl {
                    url: redact_url(url),
                });
            }
        }
    }
    Ok(())
}

/// The host of a remote URL (`scheme://[user@]host[:port]/…` or scp-like `[user@]host:path`),
/// lowercased; empty for a local path.
pub(crate) fn url_host(url: &str) -> String {
    if let Some((_, rest)) = url.split_once("://") {
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => host.split(':').next().unwrap_or(host),
        };
        return host.to_ascii_lowercase();
    }
    match url.split_once(':') {
        Some((before, _)) if !before.contains('/') && !url.starts_with('/') => before
            .rsplit('@')
            .next()
            .unwrap_or(before)
            .to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// A 40-hex (SHA-1) or 64-hex (SHA-256) object id, lowercased.
pub(crate) fn check_commit(commit: &str) -> Result<String, GitError> {
    let ok = matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(commit.to_ascii_lowercase())
    } else {
        Err(GitError::InvalidCommit(commit.chars().take(80).collect()))
    }
}

/// A branch name git would accept under `refs/heads/` (the rules of `git check-ref-format`).
pub(crate) fn check_branch(branch: &str) -> Result<(), GitError> {
    let bad = branch.is_empty()
        || branch.starts_with(['-', '/', '.'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("@{")
        || branch.contains("//")
        || branch.contains("/.")
        || branch == "@"
        || branch
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c));
    if bad {
        Err(GitError::InvalidBranch(branch.chars().take(120).collect()))
    } else {
        Ok(())
    }
}

/// Standard base64 (for the HTTP basic credentials header).
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_and_refused() {
        assert_eq!(
            redact_url("https://user:test-token-1@example.com/a/b.git"),
            "https://***@example.com/a/b.git"
        );
        assert_eq!(
            redact_url("https://test-token-2@example.com/a.git"),
            "https://***@example.com/a.git"
        );
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(redact_url("/srv/repo.git"), "/srv/repo.git");
        let e = check_url("https://test-token-3@example.com/a.git").expect_err("refused");
        assert!(!e.to_string().contains("test-token-3"), "{e}");
        assert!(check_url("ssh://u:test-token-4@h/r.git").is_err());
        assert!(check_url("ssh://git@h/r.git").is_ok());
        assert!(check_url("git@github.com:o/r.git").is_ok());
        assert!(check_url("git://127.0.0.1:9418/r.git").is_ok());
        assert!(check_url("--upload-pack=x").is_err());
    }

    #[test]
    fn hosts() {
        assert_eq!(url_host("https://x@GitHub.com:443/o/r"), "github.com");
        assert_eq!(url_host("git@github.com:o/r.git"), "github.com");
        assert_eq!(url_host("ssh://[::1]:22/r"), "::1");
        assert_eq!(url_host("/srv/r.git"), "");
        assert_eq!(url_host("./r.git"), "");
    }

    #[test]
    fn commit_and_branch_checks() {
        assert!(check_commit(&"a".repeat(40)).is_ok());
        assert_eq!(check_commit(&"AB".repeat(20)).expect("ok"), "ab".repeat(20));
        assert!(check_commit("HEAD").is_err());
        assert!(check_commit(&"g".repeat(40)).is_err());
        for ok in ["main", "feature/x-1", "17.0", "release/17.0-fix"] {
            assert!(check_branch(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a b", "a~1", "x.lock", "a/", "@", "a//b"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
