//! Reaching a host over a real OpenSSH server on loopback (throwaway keys): scripts run, a
//! secrets file is written 0600 through standard input, a directory is streamed as a tar,
//! and a host whose key is not the pinned one is refused — never trusted blindly.

mod support;

use odooops::host::{SshTarget, Transport};
use odooops::provider::SecretValue;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use support::sshd::Sshd;

fn target(sshd: &Sshd, host_key: &str) -> Transport {
    Transport::Ssh(Box::new(
        SshTarget::new(
            "127.0.0.1",
            sshd.port,
            &sshd.user,
            host_key,
            &SecretValue::new(sshd.client_key.clone()),
        )
        .expect("target"),
    ))
}

#[tokio::test]
async fn scripts_secrets_and_uploads_go_over_ssh_to_the_pinned_host_only() {
    let Some(sshd) = Sshd::start("host_transport") else {
        return;
    };
    let t = target(&sshd, &sshd.host_key);
    let out = t
        .run(
            "echo",
            r#"echo "hello $1""#,
            &["world"],
            None,
            Duration::from_secs(30),
        )
        .await
        .expect("run");
    assert_eq!(out.stdout_text(), "hello world");
    // A secret travels on standard input into a 0600 file.
    let root = tempfile::tempdir().expect("tempdir");
    let file = root.path().join("etc/secrets.env");
    let value = format!("test-secret-{}", "canary-9f1c");
    t.write_file(
        "secrets",
        &file.display().to_string(),
        format!("ODOO_DB_PASSWORD={value}\n").as_bytes(),
        0o600,
    )
    .await
    .expect("write");
    let mode = std::fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&file)
        .expect("read")
        .contains(&value));
    // A directory streamed as a tar.
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(src.path().join("addons/acme")).expect("mkdir");
    std::fs::write(
        src.path().join("addons/acme/__manifest__.py"),
        "{'name': 'Acme'}",
    )
    .expect("write");
    let mut tar = tokio::process::Command::new("tar");
    tar.arg("-C").arg(src.path()).args(["-cf", "-", "."]);
    let dest = root.path().join("releases/abc");
    t.run_piped(
        "upload",
        r#"mkdir -p "$1"; tar -x -C "$1""#,
        &[&dest.display().to_string()],
        tar,
        Duration::from_secs(60),
    )
    .await
    .expect("upload");
    assert!(dest.join("addons/acme/__manifest__.py").exists());
    // A failing script is an error naming the step and its output.
    let err = t
        .run(
            "a failing step",
            "echo boom >&2; exit 3",
            &[],
            None,
            Duration::from_secs(30),
        )
        .await
        .expect_err("fails");
    let text = err.to_string();
    assert!(
        text.contains("a failing step") && text.contains("exit 3") && text.contains("boom"),
        "{text}"
    );
    // Another host key than the pinned one: refused.
    let other = tempfile::tempdir().expect("tempdir");
    let k = other.path().join("k");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&k)
        .status()
        .expect("ssh-keygen");
    let wrong = std::fs::read_to_string(k.with_extension("pub")).expect("key");
    let err = target(&sshd, wrong.trim())
        .run("echo", "echo hi", &[], None, Duration::from_secs(30))
        .await
        .expect_err("not the pinned host");
    assert!(err.to_string().contains("exit 255"), "{err}");
}
