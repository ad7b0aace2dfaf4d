//! Running `git`: one place builds every command (credentials by environment only, a clean
//! environment, no prompts), runs it in its own process group under a deadline (the whole group
//! is killed on timeout: `git fetch` forks `git-remote-https` and `ssh`), and scrubs what it
//! prints before an error carries it.

use super::{base64, redact_url, GitAuth, GitError};
use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// The HTTP basic user name sent with a token (GitHub's convention; GitLab and Gitea accept
/// any user name with a token as the password).
pub const TOKEN_USER: &str = "x-access-token";

/// Variables of the caller's environment that would redirect or reconfigure `git`.
const SCRUBBED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_PROXY_COMMAND",
    "GIT_TRACE",
    "GIT_TRACE_CURL",
    "GIT_TRACE_PACKET",
    "GIT_CURL_VERBOSE",
];

/// A `git` invocation, ready to run. Tests inspect it through [`GitCommand::as_std`]: the
/// argv never holds a credential (the token is in `GIT_CONFIG_VALUE_0`, the key in a file named
/// by `GIT_SSH_COMMAND`).
pub struct GitCommand {
    cmd: Command,
    what: String,
    remote: String,
    timeout: Duration,
    /// Strings scrubbed from anything `git` prints (the token and its encoded header).
    secrets: Vec<String>,
    key: Option<KeyFile>,
}

/// A temporary SSH private key file (0600), removed when dropped.
struct KeyFile(PathBuf);

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl GitCommand {
    /// `git [--git-dir=DIR] ARGS…` for `remote` (already redacted), with `auth` applied.
    /// `scratch` holds the temporary key file of [`GitAuth::SshKey`] and the `known_hosts` file.
    pub(crate) fn new<S: AsRef<OsStr>>(
        git_dir: Option<&Path>,
        args: &[S],
        remote: &str,
        auth: &GitAuth,
        scratch: &Path,
        timeout: Duration,
    ) -> Result<GitCommand, GitError> {
        let mut cmd = Command::new("git");
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        cmd.env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
        if let Some(dir) = git_dir {
            cmd.arg("--git-dir").arg(dir);
        }
        cmd.args(args);
        let what = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy())
            .find(|a| !a.starts_with('-'))
            .unwrap_or_default()
            .to_string();
        let mut secrets = Vec::new();
        let mut key = None;
        match auth {
            GitAuth::None => {}
            GitAuth::Token(token) => {
                let basic = base64(format!("{TOKEN_USER}:{}", token.expose()).as_bytes());
                cmd.env("GIT_CONFIG_COUNT", "2")
                    .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                    .env(
                        "GIT_CONFIG_VALUE_0",
                        format!("Authorization: Basic {basic}"),
                    )
                    // No credential helper may store or replace the token.
                    .env("GIT_CONFIG_KEY_1", "credential.helper")
                    .env("GIT_CONFIG_VALUE_1", "");
                secrets.push(token.expose().to_string());
                secrets.push(basic);
            }
            GitAuth::SshKey(private_key) => {
                let file = write_key(scratch, private_key.expose())?;
                let known_hosts = scratch.join("known_hosts");
                cmd.env(
                    "GIT_SSH_COMMAND",
                    format!(
                        "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={}",
                        shell_quote(&file.0),
                        shell_quote(&known_hosts)
                    ),
                );
                secrets.extend(
                    private_key
                        .expose()
                        .lines()
                        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
                        .map(str::to_string),
                );
                key = Some(file);
            }
        }
        Ok(GitCommand {
            cmd,
            what,
            remote: remote.to_string(),
            timeout,
            secrets,
            key,
        })
    }

    /// The underlying command (program, argv, environment), for inspection.
    pub fn as_std(&self) -> &std::process::Command {
        self.cmd.as_std()
    }

    /// Program and arguments, as text.
    pub fn argv(&self) -> Vec<String> {
        let std = self.cmd.as_std();
        std::iter::once(std.get_program())
            .chain(std.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// The temporary SSH key file, while this command exists.
    pub fn key_file(&self) -> Option<&Path> {
        self.key.as_ref().map(|k| k.0.as_path())
    }

    /// Run to completion under the deadline; `Ok` only on exit status 0.
    pub(crate) async fn output(self) -> Result<Vec<u8>, GitError> {
        let (out, meta) = self.run(None).await?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(meta.failed(&out))
        }
    }

    /// Run to completion; the raw outcome (for commands whose exit status is an answer).
    pub(crate) async fn run(self, stdin: Option<Vec<u8>>) -> Result<(Output, Meta), GitError> {
        let timeout = self.timeout;
        let mut running = self.spawn(stdin.is_some())?;
        if let (Some(input), Some(mut pipe)) = (stdin, running.child.stdin.take()) {
            tokio::spawn(async move {
                let _ = pipe.write_all(&input).await;
            });
        }
        let pid = running.child.id();
        let meta = running.meta.clone();
        let waited = tokio::time::timeout(timeout, async {
            let mut stdout = Vec::new();
            if let Some(mut out) = running.child.stdout.take() {
                tokio::io::AsyncReadExt::read_to_end(&mut out, &mut stdout)
                    .await
                    .map_err(|e| meta.spawn_error(e))?;
            }
            let status = running
                .child
                .wait()
                .await
                .map_err(|e| meta.spawn_error(e))?;
            Ok::<_, GitError>((status, stdout))
        })
        .await;
        match waited {
            Ok(result) => {
                let (status, stdout) = result?;
                let stderr = running.stderr().await;
                Ok((
                    Output {
                        status,
                        stdout,
                        stderr,
                    },
                    meta,
                ))
            }
            Err(_) => {
                kill_group(pid);
                Err(meta.timeout())
            }
        }
    }

    /// Start the process (own process group, stdout piped, stderr drained in the background).
    pub(crate) fn spawn(mut self, stdin: bool) -> Result<Running, GitError> {
        let meta = Meta {
            what: self.what,
            remote: self.remote,
            timeout: self.timeout,
            secrets: self.secrets,
        };
        if self.cmd.as_std().get_current_dir().is_none() {
            // Never pick up a repository from the caller's working directory.
            self.cmd.current_dir(std::env::temp_dir());
        }
        self.cmd
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = self.cmd.spawn().map_err(|e| meta.spawn_error(e))?;
        let stderr = child.stderr.take().map(|mut e| {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut e, &mut buf).await;
                buf
            })
        });
        Ok(Running {
            child,
            meta,
            stderr,
            _key: self.key,
        })
    }
}

/// What an error about a command needs to say, scrubbed.
#[derive(Clone)]
pub(crate) struct Meta {
    what: String,
    remote: String,
    timeout: Duration,
    secrets: Vec<String>,
}

impl Meta {
    pub(crate) fn failed(&self, out: &Output) -> GitError {
        GitError::Failed {
            what: self.what.clone(),
            remote: self.remote.clone(),
            code: out.status.code(),
            stderr: self.scrub(&out.stderr),
        }
    }

    pub(crate) fn timeout(&self) -> GitError {
        GitError::Timeout {
            what: self.what.clone(),
            remote: self.remote.clone(),
            timeout: self.timeout,
        }
    }

    pub(crate) fn spawn_error(&self, source: std::io::Error) -> GitError {
        GitError::Spawn {
            what: self.what.clone(),
            source,
        }
    }

    /// The last lines of what `git` printed, with every secret and URL userinfo removed.
    pub(crate) fn scrub(&self, stderr: &[u8]) -> String {
        let mut text = String::from_utf8_lossy(stderr).into_owned();
        for s in &self.secrets {
            if !s.is_empty() {
                text = text.replace(s.as_str(), "***");
            }
        }
        let text: Vec<String> = text
            .lines()
            .map(|l| l.split(' ').map(redact_url).collect::<Vec<_>>().join(" "))
            .filter(|l| !l.trim().is_empty())
            .collect();
        let mut joined = text.join(" | ");
        if joined.len() > 2000 {
            let cut = joined.len() - 2000;
            let cut = (cut..joined.len())
                .find(|i| joined.is_char_boundary(*i))
                .unwrap_or(cut);
            joined = format!("…{}", &joined[cut..]);
        }
        if joined.is_empty() {
            "(no message)".to_string()
        } else {
            joined
        }
    }
}

/// A started `git` process.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) meta: Meta,
    stderr: Option<JoinHandle<Vec<u8>>>,
    _key: Option<KeyFile>,
}

impl Running {
    async fn stderr(&mut self) -> Vec<u8> {
        match self.stderr.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Wait for exit; an error (with the scrubbed stderr) unless the status is 0.
    pub(crate) async fn finish(mut self) -> Result<(), GitError> {
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| self.meta.spawn_error(e))?;
        let stderr = self.stderr().await;
        if status.success() {
            Ok(())
        } else {
            Err(self.meta.failed(&Output {
                status,
                stdout: Vec::new(),
                stderr,
            }))
        }
    }
}

/// SIGKILL the process group led by `pid` (every command runs as a group leader).
pub(crate) fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0) {
        // SAFETY: kill(2) with a negative pid signals the process group `pid`, which this
        // module created for the child (`process_group(0)`); no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

fn write_key(scratch: &Path, key: &str) -> Result<KeyFile, GitError> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let dir = scratch.join("keys");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| GitError::io(&dir, e))?;
    let path = dir.join(format!("key-{}", uuid::Uuid::new_v4().simple()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| GitError::io(&path, e))?;
    let file = KeyFile(path);
    let mut body = key.trim_end().to_string();
    // OpenSSH refuses a key file without its final newline.
    body.push('\n');
    f.write_all(body.as_bytes())
        .map_err(|e| GitError::io(&file.0, e))?;
    Ok(file)
}

/// Single-quote a path for the shell that runs `GIT_SSH_COMMAND`.
fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_secrets_and_userinfo() {
        let meta = Meta {
            what: "fetch".into(),
            remote: "r".into(),
            timeout: Duration::from_secs(1),
            secrets: vec!["test-token-abc".into()],
        };
        let s = meta
            .scrub(b"fatal: unable to access 'https://u:pw@h/r.git/': test-token-abc rejected\n\n");
        assert_eq!(
            s,
            "fatal: unable to access 'https://***@h/r.git/': *** rejected"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
