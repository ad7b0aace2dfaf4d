//! Reaching a host: this machine (`Local`, for a single-machine install and the demo) or a
//! remote one over OpenSSH (`Ssh`). Either runs a script with `sh` and, optionally, streams
//! bytes to its standard input. Secrets only ever travel on standard input (a script writes
//! them to a 0600 file); scripts and argv carry paths and names, never values.
//!
//! One target's sessions share one connection (OpenSSH's `ControlMaster`, started on first
//! use, stopped when the target is dropped, idle-timed out after 5 minutes).
//!
//! SSH never trusts blindly: the host's public key is pinned (a known-hosts file written
//! from the SSOT, `StrictHostKeyChecking=yes`), the private key comes from the secret
//! registry into a 0600 temporary file that lives as long as the target.

use crate::provider::SecretValue;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{what} on {host} timed out after {secs}s")]
    Timeout {
        what: String,
        host: String,
        secs: u64,
    },
    #[error("{what} on {host} failed (exit {status}): {stderr}")]
    Failed {
        what: String,
        host: String,
        status: i32,
        stderr: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// What a script printed.
#[derive(Debug, Clone, Default)]
pub struct Exec {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Exec {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_string()
    }
}

/// An SSH endpoint with its pinned host key and the deploy key.
#[derive(Debug)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The host's public key (`ssh-ed25519 AAAA…`), pinned.
    pub host_key: String,
    key_file: tempfile::NamedTempFile,
    known_hosts: tempfile::NamedTempFile,
    /// The shared connection's socket directory (`ControlPath=<dir>/cm`).
    control: tempfile::TempDir,
    /// Whether the shared connection was started (tried once, lazily).
    master: tokio::sync::OnceCell<bool>,
}

impl SshTarget {
    pub fn new(
        host: &str,
        port: u16,
        user: &str,
        host_key: &str,
        private_key: &SecretValue,
    ) -> Result<SshTarget, HostError> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| HostError::Io { what, source }
        };
        let key_type_and_body: Vec<&str> = host_key.split_whitespace().take(2).collect();
        if key_type_and_body.len() != 2
            || !key_type_and_body[0].starts_with("ssh-")
                && !key_type_and_body[0].starts_with("ecdsa-")
        {
            return Err(HostError::Invalid(format!(
                "the pinned host key of {host} is not an OpenSSH public key (`ssh-ed25519 AAAA…`)"
            )));
        }
        // tempfile creates files 0600.
        let mut key_file = tempfile::NamedTempFile::new().map_err(io("creating the key file"))?;
        let mut key = private_key.expose().trim_end().to_string();
        key.push('\n');
        key_file
            .write_all(key.as_bytes())
            .map_err(io("writing the key file"))?;
        let mut known_hosts =
            tempfile::NamedTempFile::new().map_err(io("creating the known-hosts file"))?;
        let name = if port == 22 {
            host.to_string()
        } else {
            format!("[{host}]:{port}")
        };
        writeln!(
            known_hosts,
            "{name} {} {}",
            key_type_and_body[0], key_type_and_body[1]
        )
        .map_err(io("writing the known-hosts file"))?;
        let control = tempfile::Builder::new()
            .prefix("odooops-ssh")
            .tempdir()
            .map_err(io("creating the SSH control directory"))?;
        Ok(SshTarget {
            host: host.to_string(),
            port,
            user: user.to_string(),
            host_key: host_key.to_string(),
            key_file,
            known_hosts,
            control,
            master: tokio::sync::OnceCell::new(),
        })
    }

    fn control_path(&self) -> String {
        format!("ControlPath={}/cm", self.control.path().display())
    }

    /// Start the shared connection every later session multiplexes over (one handshake for
    /// the whole target, not one per step). Tried once; when it cannot start, each session
    /// connects on its own as before.
    async fn ensure_master(&self) -> bool {
        *self
            .master
            .get_or_init(|| async {
                let mut c = tokio::process::Command::new("ssh");
                // Idle for 5 minutes (a controller killed before it could stop it), it exits.
                c.args(self.options())
                    .args(["-M", "-N", "-f", "-o", "ControlPersist=300"])
                    .arg(self.destination())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true);
                // `-f`: the command returns once the master is authenticated and in the
                // background.
                matches!(
                    tokio::time::timeout(Duration::from_secs(20), c.status()).await,
                    Ok(Ok(st)) if st.success()
                )
            })
            .await
    }

    /// The options every ssh invocation of this target shares (the shared connection's
    /// socket included).
    fn options(&self) -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = [
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "LogLevel=ERROR",
            "-o",
        ]
        .iter()
        .map(Into::into)
        .collect();
        v.push(format!("UserKnownHostsFile={}", self.known_hosts.path().display()).into());
        v.push("-i".into());
        v.push(self.key_file.path().into());
        v.push("-p".into());
        v.push(self.port.to_string().into());
        v.push("-o".into());
        v.push(self.control_path().into());
        v
    }

    fn destination(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }

    fn command(&self, remote: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("ssh");
        // Use the shared connection when it runs, else connect directly.
        c.args(self.options())
            .args(["-o", "ControlMaster=no"])
            .arg(self.destination())
            .arg("--")
            .arg(remote);
        c
    }
}

impl Drop for SshTarget {
    fn drop(&mut self) {
        if self.master.get() == Some(&true) {
            // Stop the shared connection (its socket directory goes with `control`).
            let _ = std::process::Command::new("ssh")
                .args(self.options())
                .args(["-O", "exit"])
                .arg(self.destination())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// How a host is reached.
#[derive(Debug)]
pub enum Transport {
    /// This machine, as the current user.
    Local,
    Ssh(Box<SshTarget>),
}

/// Quote `s` for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Transport {
    pub fn describe(&self) -> String {
        match self {
            Transport::Local => "this machine".to_string(),
            Transport::Ssh(t) => format!("{}@{}:{}", t.user, t.host, t.port),
        }
    }

    /// Run `script` with `sh -e` (arguments `$1…` from `args`), feeding `input` to its
    /// standard input; an error when it exits non-zero or outlives `timeout` (then it is
    /// killed). `what` names the step in errors.
    pub async fn run(
        &self,
        what: &str,
        script: &str,
        args: &[&str],
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Exec, HostError> {
        let mut cmd = self.command(script, args).await;
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| HostError::Spawn {
            program: self.program().to_string(),
            source,
        })?;
        let stdin = child.stdin.take();
        let run = async move {
            if let (Some(bytes), Some(mut stdin)) = (input, stdin) {
                // A script that stops reading early closes the pipe: not our error.
                let _ = stdin.write_all(bytes).await;
                let _ = stdin.shutdown().await;
            }
            child.wait_with_output().await
        };
        let out = match tokio::time::timeout(timeout, run).await {
            Err(_) => {
                return Err(HostError::Timeout {
                    what: what.to_string(),
                    host: self.describe(),
                    secs: timeout.as_secs(),
                })
            }
            Ok(r) => r.map_err(|source| HostError::Io {
                what: what.to_string(),
                source,
            })?,
        };
        self.check(what, out)
    }

    fn program(&self) -> &'static str {
        match self {
            Transport::Local => "sh",
            Transport::Ssh(_) => "ssh",
        }
    }

    /// `sh -ec SCRIPT odooops ARGS…`, here or on the host (over the target's shared
    /// connection, started on first use).
    async fn command(&self, script: &str, args: &[&str]) -> tokio::process::Command {
        match self {
            Transport::Local => {
                let mut c = tokio::process::Command::new("sh");
                c.arg("-ec").arg(script).arg("odooops").args(args);
                c
            }
            Transport::Ssh(t) => {
                let mut remote = format!("sh -ec {} odooops", sh_quote(script));
                for a in args {
                    remote.push(' ');
                    remote.push_str(&sh_quote(a));
                }
                t.ensure_master().await;
                t.command(&remote)
            }
        }
    }

    fn check(&self, what: &str, out: std::process::Output) -> Result<Exec, HostError> {
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = stderr.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            return Err(HostError::Failed {
                what: what.to_string(),
                host: self.describe(),
                status: out.status.code().unwrap_or(-1),
                stderr: tail,
            });
        }
        Ok(Exec {
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Run `script` with the standard output of the local command `producer` (e.g. a `tar`
    /// of a directory) streamed to its standard input: large uploads never sit in memory.
    pub async fn run_piped(
        &self,
        what: &str,
        script: &str,
        args: &[&str],
        mut producer: tokio::process::Command,
        timeout: Duration,
    ) -> Result<Exec, HostError> {
        let mut src = producer
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| HostError::Spawn {
                program: "tar".into(),
                source,
            })?;
        let mut cmd = self.command(script, args).await;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| HostError::Spawn {
            program: self.program().into(),
            source,
        })?;
        let (Some(mut out), Some(mut stdin)) = (src.stdout.take(), child.stdin.take()) else {
            return Err(HostError::Invalid("no pipe to stream through".into()));
        };
        let run = async {
            let copied = tokio::io::copy(&mut out, &mut stdin).await;
            drop(stdin);
            let produced = src.wait().await;
            let result = child.wait_with_output().await;
            (copied, produced, result)
        };
        let (copied, produced, result) =
            tokio::time::timeout(timeout, run)
                .await
                .map_err(|_| HostError::Timeout {
                    what: what.to_string(),
                    host: self.describe(),
                    secs: timeout.as_secs(),
                })?;
        let out = result.map_err(|source| HostError::Io {
            what: what.to_string(),
            source,
        })?;
        self.check(what, out).and_then(|e| {
            copied.map_err(|source| HostError::Io {
                what: format!("{what} (streaming)"),
                source,
            })?;
            match produced {
                Ok(s) if s.success() => Ok(e),
                _ => Err(HostError::Invalid(format!(
                    "{what}: the local producer failed"
                ))),
            }
        })
    }

    /// Write `bytes` to `path` on the host (mode `mode`, created via a temporary file and
    /// renamed, so a reader never sees half a file). The bytes travel on standard input.
    pub async fn write_file(
        &self,
        what: &str,
        path: &str,
        bytes: &[u8],
        mode: u32,
    ) -> Result<(), HostError> {
        let script = r#"umask 077; mkdir -p "$(dirname "$1")"; cat > "$1.tmp"; chmod "$2" "$1.tmp"; mv "$1.tmp" "$1""#;
        self.run(
            what,
            script,
            &[path, &format!("{mode:o}")],
            Some(bytes),
            Duration::from_secs(120),
        )
        .await
        .map(|_| ())
    }
}
