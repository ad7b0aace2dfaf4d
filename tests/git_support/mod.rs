//! Test support for the git tests: real repositories served over loopback by `git daemon`
//! (anonymous fetch and push), and work trees to commit in. `git daemon` ships with git
//! (`$(git --exec-path)/git-daemon`); without it the tests are skipped with a message, and
//! fail under `CI=true`.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `git daemon` on 127.0.0.1, serving every repository under `base`. Killed when dropped.
pub struct Daemon {
    child: Child,
    pub port: u16,
    pub base: PathBuf,
}

impl Daemon {
    /// `git://127.0.0.1:<port>/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `git daemon` over `base`, or `None` (after saying so) when it is not installed.
pub fn daemon(base: &Path) -> Option<Daemon> {
    let exec_path = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git is installed");
    let exec_path = String::from_utf8_lossy(&exec_path.stdout)
        .trim()
        .to_string();
    // The daemon binary itself, not `git daemon`: the `git` wrapper would leave its
    // `git-daemon` child running when killed.
    let bin = Path::new(&exec_path).join("git-daemon");
    if !bin.is_file() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but git-daemon is missing from {exec_path}: install git's daemon (package git-daemon-run or git)");
        }
        eprintln!("SKIPPED: git-daemon not found in {exec_path}");
        return None;
    }
    for _attempt in 0..5 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(&bin)
            .arg("--reuseaddr")
            .arg(format!("--base-path={}", base.display()))
            .arg("--export-all")
            .arg("--enable=receive-pack")
            .arg("--informative-errors")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn git daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break; // lost the port to someone else: try another
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Some(Daemon {
                    child,
                    port,
                    base: base.to_path_buf(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("git daemon did not start listening on 127.0.0.1 within 10 s (5 attempts)");
}

/// Run git in `dir` with a fixed identity and no user or system configuration; the trimmed
/// stdout. Panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir, args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Raw bytes of git's stdout.
pub fn git_bytes(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = git_cmd(dir, args).output().expect("run git");
    assert!(out.status.success(), "git {args:?} failed");
    out.stdout
}

fn git_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    c
}

/// A bare repository served by the daemon, and a work tree pushing to it.
pub struct Repo {
    pub url: String,
    pub bare: PathBuf,
    pub work: PathBuf,
}

impl Repo {
    /// `<base>/<name>.git` (bare, branch `main`) and a work tree at `<work_root>/<name>` whose
    /// `origin` is the daemon's URL.
    pub fn new(d: &Daemon, work_root: &Path, name: &str) -> Repo {
        let bare = d.base.join(format!("{name}.git"));
        std::fs::create_dir_all(&bare).expect("mkdir bare");
        git(&bare, &["init", "--quiet", "--bare", "-b", "main"]);
        let work = work_root.join(name);
        std::fs::create_dir_all(&work).expect("mkdir work");
        git(&work, &["init", "--quiet", "-b", "main"]);
        let url = d.url(&format!("{name}.git"));
        git(&work, &["remote", "add", "origin", &url]);
        Repo { url, bare, work }
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.work.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.work.join(rel)).expect("remove");
    }

    /// Commit everything; the new commit id.
    pub fn commit(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// `git push origin <refspec>` over git://.
    pub fn push(&self, refspec: &str) {
        git(&self.work, &["push", "--quiet", "origin", refspec]);
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }
}

/// An addon manifest.
pub fn manifest(name: &str, version: &str, depends: &[&str]) -> String {
    let deps: Vec<String> = depends.iter().map(|d| format!("'{d}'")).collect();
    format!(
        "# Copyright 2024 Acme\n{{\n    'name': '{name}',\n    'version': '{version}',\n    'depends': [{}],\n    'license': 'LGPL-3',\n    'installable': True,\n}}\n",
        deps.join(", ")
    )
}

/// Every regular file and symlink under `dir` (relative path → bytes or link target), `.git`
/// excluded.
pub fn tree_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            let ft = e.file_type().expect("file type");
            if ft.is_symlink() {
                let target = std::fs::read_link(&p).expect("readlink");
                out.insert(rel, target.to_string_lossy().into_owned().into_bytes());
            } else if ft.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// An OpenSSH server on 127.0.0.1 accepting one generated ed25519 key for the current user.
/// Killed when dropped.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub user: String,
    /// The accepted client private key (OpenSSH format).
    pub client_key: String,
}

impl Sshd {
    /// `ssh://<user>@127.0.0.1:<port><absolute path>`.
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `sshd` with its own host key and config under `dir`, or `None` (after saying so) when
/// it cannot run here: no `/usr/sbin/sshd`, or not root (sshd's privilege separation). Under
/// `CI=true` a missing sshd fails.
pub fn sshd(dir: &Path) -> Option<Sshd> {
    let bin = Path::new("/usr/sbin/sshd");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !bin.is_file() || !root {
        if std::env::var("CI").as_deref() == Ok("true") && !bin.is_file() {
            panic!("CI=true but /usr/sbin/sshd is missing: install openssh-server");
        }
        eprintln!("SKIPPED: the SSH test needs /usr/sbin/sshd and root");
        return None;
    }
    std::fs::create_dir_all(dir).expect("mkdir");
    for key in ["host_key", "client_key"] {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "odooops-test", "-f"])
            .arg(dir.join(key))
            .output()
            .expect("ssh-keygen");
        assert!(out.status.success(), "ssh-keygen: {out:?}");
    }
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).expect("authorize");
    let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().expect("id").stdout)
        .trim()
        .to_string();
    if !Path::new("/run/sshd").is_dir() {
        std::fs::create_dir_all("/run/sshd").expect("sshd's privilege separation directory");
    }
    for _attempt in 0..5 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nLogLevel ERROR\n",
                d = dir.display()
            ),
        )
        .expect("write sshd_config");
        let mut child = Command::new(bin)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Some(Sshd {
                    child,
                    port,
                    user,
                    client_key: std::fs::read_to_string(dir.join("client_key")).expect("key"),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("sshd did not start listening on 127.0.0.1 within 10 s (5 attempts)");
}
