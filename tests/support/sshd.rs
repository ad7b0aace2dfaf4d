//! A real OpenSSH server (Debian's `openssh-server`, installed by `.ci/run`) on a free
//! loopback port with throwaway keys: the host the delivery tests deploy to. Without
//! `/usr/sbin/sshd` a test prints a note and returns — unless `CI=true`, where a missing
//! server is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    pub port: u16,
    pub user: String,
    /// The host's public key line (`ssh-ed25519 AAAA… `), to pin.
    pub host_key: String,
    /// The client's private key (OpenSSH format), as the secret registry would hold it.
    pub client_key: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "odooops-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen")
        .success();
    assert!(ok, "ssh-keygen failed");
}

impl Sshd {
    pub fn start(test: &str) -> Option<Sshd> {
        let sshd = PathBuf::from("/usr/sbin/sshd");
        if !sshd.exists() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: /usr/sbin/sshd is missing and CI=true: install openssh-server");
            }
            eprintln!("note: {test} skipped: install openssh-server to run it");
            return None;
        }
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().expect("tempdir");
        let host = dir.path().join("host_ed25519");
        let client = dir.path().join("client_ed25519");
        keygen(&host);
        keygen(&client);
        let auth = dir.path().join("authorized_keys");
        std::fs::copy(client.with_extension("pub"), &auth).expect("authorized_keys");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {auth}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nPidFile {pid}\nSubsystem sftp internal-sftp\nAcceptEnv LANG\n",
                host = host.display(),
                auth = auth.display(),
                pid = dir.path().join("sshd.pid").display()
            ),
        )
        .expect("sshd_config");
        let child = Command::new(&sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sshd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{test}: sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let host_key = std::fs::read_to_string(host.with_extension("pub")).expect("host key");
        let client_key = std::fs::read_to_string(&client).expect("client key");
        Some(Sshd {
            port,
            user,
            host_key: host_key.trim().to_string(),
            client_key,
            dir,
            child,
        })
    }
}
