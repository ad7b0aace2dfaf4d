//! `odooops::git::Mirror` against real repositories served by `git daemon` on loopback: mirror,
//! resolve, export byte for byte, a missing branch, a webhook's `after` fetched by id,
//! submodules at their recorded commit, credentials kept out of argv and errors, a hung
//! remote killed at its deadline.

mod git_support;

use git_support::{daemon, git, git_bytes, manifest, tree_files, Repo};
use odooops::git::{GitAuth, GitError, Mirror};
use odooops::provider::SecretValue;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The committed tree of `commit` in `bare`: path → blob bytes (a symlink's blob is its
/// target), submodules left out.
fn committed_files(bare: &Path, commit: &str) -> BTreeMap<String, Vec<u8>> {
    let listing = git_bytes(bare, &["ls-tree", "-r", "-z", commit]);
    let mut out = BTreeMap::new();
    for rec in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8_lossy(rec);
        let (head, path) = rec.split_once('\t').expect("tab");
        let parts: Vec<&str> = head.split(' ').collect();
        if parts[1] != "blob" {
            continue;
        }
        out.insert(
            path.to_string(),
            git_bytes(bare, &["cat-file", "blob", parts[2]]),
        );
    }
    out
}

fn code_repo(d: &git_support::Daemon, work: &Path) -> (Repo, String) {
    let repo = Repo::new(d, work, "code");
    repo.write(
        "addons/acme_base/__manifest__.py",
        manifest("Acme Base", "17.0.1.0.0", &["base"]),
    );
    repo.write("addons/acme_base/__init__.py", "from . import models\n");
    repo.write(
        "addons/acme_base/models/partner.py",
        "class Partner:\n    pass\n",
    );
    repo.write(
        "addons/acme_sale/__manifest__.py",
        manifest("Acme Sale", "17.0.1.0.0", &["sale", "acme_base"]),
    );
    repo.write("addons/acme_sale/__init__.py", "");
    repo.write("requirements.txt", "phonenumbers==8.13.0\n");
    // Attributes that would change what `git archive` writes: the export must ignore them.
    repo.write(
        ".gitattributes",
        "*.txt eol=crlf\nsecret.cfg export-ignore\nVERSION export-subst\n",
    );
    repo.write("secret.cfg", "kept = yes\n");
    repo.write("VERSION", "$Format:%H$\n");
    repo.write("scripts/run.sh", "#!/bin/sh\necho ok\n");
    std::fs::set_permissions(
        repo.work.join("scripts/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    std::os::unix::fs::symlink("addons/acme_base", repo.work.join("base-link")).expect("symlink");
    let a = repo.commit("A: two addons");
    repo.push("main");
    (repo, a)
}

#[tokio::test]
async fn mirror_resolves_and_exports_the_exact_tree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let (repo, a) = code_repo(&d, &tmp.path().join("work"));
    let data = tmp.path().join("data");

    let mirror = Mirror::open(&data, &repo.url, GitAuth::None)
        .await
        .expect("mirror");
    assert!(mirror.dir().starts_with(data.join("git")));
    assert!(mirror.dir().join("HEAD").is_file(), "a bare repository");
    assert_eq!(mirror.resolve("main").await.expect("resolve"), a);
    assert!(mirror.has_commit(&a).await);

    let dest = tmp.path().join("export-a");
    mirror.export(&a, &dest, false).await.expect("export");
    let exported = tree_files(&dest);
    let committed = committed_files(&repo.bare, &a);
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        committed.keys().collect::<Vec<_>>()
    );
    assert_eq!(exported, committed, "byte for byte");
    assert_eq!(exported["VERSION"], b"$Format:%H$\n", "no export-subst");
    assert_eq!(
        exported["requirements.txt"], b"phonenumbers==8.13.0\n",
        "no CRLF"
    );
    let mode = std::fs::metadata(dest.join("scripts/run.sh"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "executable bit kept");
    assert!(std::fs::symlink_metadata(dest.join("base-link"))
        .expect("lstat")
        .file_type()
        .is_symlink());

    // A second export needs an empty destination.
    let e = mirror
        .export(&a, &dest, false)
        .await
        .expect_err("not empty");
    assert!(matches!(e, GitError::DestinationNotEmpty(_)), "{e}");

    assert_eq!(
        mirror
            .show(&a, "requirements.txt")
            .await
            .expect("show")
            .as_deref(),
        Some(&b"phonenumbers==8.13.0\n"[..])
    );
    assert_eq!(mirror.show(&a, "nope.txt").await.expect("show"), None);
    let listed: Vec<String> = mirror
        .ls_tree(&a, "addons/acme_sale")
        .await
        .expect("ls-tree")
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        listed,
        vec![
            "addons/acme_sale/__init__.py",
            "addons/acme_sale/__manifest__.py"
        ]
    );
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    assert!(matches!(
        mirror.show(unknown, "x").await,
        Err(GitError::CommitNotFound { .. })
    ));
}

#[tokio::test]
async fn a_missing_branch_is_named_with_its_remote() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let (repo, _) = code_repo(&d, &tmp.path().join("work"));
    let mirror = Mirror::open(&tmp.path().join("data"), &repo.url, GitAuth::None)
        .await
        .expect("mirror");
    let e = mirror
        .resolve("feature/nope")
        .await
        .expect_err("no such branch");
    let text = e.to_string();
    assert!(matches!(e, GitError::BranchNotFound { .. }), "{text}");
    assert!(text.contains("`feature/nope`"), "{text}");
    assert!(text.contains(&repo.url), "{text}");
    assert!(text.contains("fetched branches: main"), "{text}");
    assert!(matches!(
        mirror.resolve("--upload-pack=x").await,
        Err(GitError::InvalidBranch(_))
    ));
}

#[tokio::test]
async fn a_webhooks_after_commit_is_fetched_by_id_and_exported_not_head() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let (repo, a) = code_repo(&d, &tmp.path().join("work"));
    let mirror = Mirror::open(&tmp.path().join("data"), &repo.url, GitAuth::None)
        .await
        .expect("mirror");

    // B is pushed to main after the mirror was made; C is a pull request head (a ref the
    // mirror does not fetch); then D lands on main.
    repo.write(
        "addons/acme_base/models/partner.py",
        "class Partner:\n    b = 1\n",
    );
    let b = repo.commit("B");
    repo.push("main");
    repo.write(
        "addons/acme_base/models/partner.py",
        "class Partner:\n    c = 1\n",
    );
    let c = repo.commit("C");
    repo.push("HEAD:refs/pull/1/head");
    repo.git(&["reset", "--quiet", "--hard", &b]);
    repo.write(
        "addons/acme_base/models/partner.py",
        "class Partner:\n    d = 1\n",
    );
    let d_sha = repo.commit("D");
    repo.push("main");

    assert!(!mirror.has_commit(&b).await, "not fetched yet");
    mirror.ensure_commit(&b).await.expect("B by a fetch");
    assert_eq!(mirror.resolve("main").await.expect("resolve"), d_sha);
    let dest = tmp.path().join("export-b");
    mirror.export(&b, &dest, false).await.expect("export B");
    assert_eq!(
        std::fs::read(dest.join("addons/acme_base/models/partner.py")).expect("read"),
        b"class Partner:\n    b = 1\n",
        "the webhook's `after`, not the branch head"
    );

    assert!(!mirror.has_commit(&c).await);
    mirror.ensure_commit(&c).await.expect("C by id");
    assert!(mirror.has_commit(&c).await);
    let pins = git(
        mirror.dir(),
        &["for-each-ref", "--format=%(refname)", "refs/odooops/"],
    );
    assert_eq!(pins, format!("refs/odooops/pins/{c}"), "pinned against gc");

    mirror.ensure_commit(&a).await.expect("already there");
    let gone = "89abcdef0123456789abcdef0123456789abcdef";
    let e = mirror.ensure_commit(gone).await.expect_err("unknown");
    assert!(matches!(e, GitError::CommitNotFound { .. }), "{e}");
    assert!(e.to_string().contains(gone), "{e}");
    assert!(matches!(
        mirror.ensure_commit("HEAD").await,
        Err(GitError::InvalidCommit(_))
    ));
}

#[tokio::test]
async fn submodules_are_exported_at_the_commit_the_superproject_records() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let work = tmp.path().join("work");
    let sub = Repo::new(&d, &work, "oca-tools");
    sub.write(
        "sub_addon/__manifest__.py",
        manifest("Sub", "17.0.1.0.0", &["base"]),
    );
    sub.write("sub_addon/lib.py", "VERSION = 1\n");
    let s1 = sub.commit("S1");
    sub.push("main");

    let sup = Repo::new(&d, &work, "project");
    sup.write("README.md", "project\n");
    sup.commit("init");
    // A relative URL, resolved against the superproject's remote, as on a forge.
    sup.git(&[
        "submodule",
        "--quiet",
        "add",
        "../oca-tools.git",
        "vendor/oca-tools",
    ]);
    let p1 = sup.commit("P1: submodule at S1");
    sup.push("main");

    sub.write("sub_addon/lib.py", "VERSION = 2\n");
    let s2 = sub.commit("S2");
    sub.push("main");
    assert_ne!(s1, s2);

    let data = tmp.path().join("data");
    let mirror = Mirror::open(&data, &sup.url, GitAuth::None)
        .await
        .expect("mirror");
    let dest = tmp.path().join("export");
    mirror.export(&p1, &dest, true).await.expect("export");
    assert_eq!(
        std::fs::read(dest.join("vendor/oca-tools/sub_addon/lib.py")).expect("read"),
        b"VERSION = 1\n",
        "S1, as recorded — not the submodule's newer head"
    );
    assert!(dest.join(".gitmodules").is_file());
    let sub_mirror = Mirror::open(&data, &sub.url, GitAuth::None)
        .await
        .expect("the submodule's own mirror");
    assert!(sub_mirror.has_commit(&s2).await, "mirrored whole");

    let flat = tmp.path().join("flat");
    mirror.export(&p1, &flat, false).await.expect("export");
    let inside: Vec<_> = std::fs::read_dir(flat.join("vendor/oca-tools"))
        .expect("an empty directory for the submodule")
        .collect();
    assert!(inside.is_empty());
}

/// A loopback HTTP server that records each request's headers and answers 404.
fn capture_http() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            log.lock()
                .expect("lock")
                .push(String::from_utf8_lossy(&buf).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, seen)
}

#[tokio::test]
async fn a_token_travels_in_the_environment_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let token = format!("test-token-{}", uuid::Uuid::new_v4().simple());
    let basic = {
        // What git must send: HTTP basic `x-access-token:<token>`.
        let out = std::process::Command::new("base64")
            .arg("-w0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin
                    .take()
                    .expect("stdin")
                    .write_all(format!("x-access-token:{token}").as_bytes())?;
                c.wait_with_output()
            })
            .expect("base64");
        String::from_utf8(out.stdout).expect("utf8")
    };

    // Over HTTP: the header reaches the server, the error does not carry it.
    let (port, seen) = capture_http();
    let url = format!("http://127.0.0.1:{port}/acme/code.git");
    let e = Mirror::open(
        &tmp.path().join("data"),
        &url,
        GitAuth::Token(SecretValue::new(token.clone())),
    )
    .await
    .expect_err("the server answers 404");
    let text = e.to_string();
    assert!(matches!(e, GitError::Failed { .. }), "{text}");
    assert!(!text.contains(&token) && !text.contains(&basic), "{text}");
    let requests = seen.lock().expect("lock").join("\n");
    assert!(
        requests.contains(&format!("Authorization: Basic {basic}")),
        "the token was sent as a header: {requests}"
    );
    assert!(
        !tmp.path()
            .join("data/git")
            .read_dir()
            .expect("dir")
            .any(|e| e
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .ends_with(".git")),
        "a failed first fetch leaves no mirror behind"
    );

    // The command as built: no token in argv, the header in GIT_CONFIG_VALUE_0.
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let (repo, _) = code_repo(&d, &tmp.path().join("work"));
    let mirror = Mirror::open(
        &tmp.path().join("data"),
        &repo.url,
        GitAuth::Token(SecretValue::new(token.clone())),
    )
    .await
    .expect("git:// ignores the HTTP header");
    let cmd = mirror.fetch_command().expect("command");
    let argv = cmd.argv().join(" ");
    assert!(!argv.contains(&token) && !argv.contains(&basic), "{argv}");
    let envs: BTreeMap<String, String> = cmd
        .as_std()
        .get_envs()
        .filter_map(|(k, v)| {
            Some((
                k.to_string_lossy().into_owned(),
                v?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    assert_eq!(envs["GIT_CONFIG_KEY_0"], "http.extraHeader");
    assert_eq!(
        envs["GIT_CONFIG_VALUE_0"],
        format!("Authorization: Basic {basic}")
    );
    assert_eq!(envs["GIT_TERMINAL_PROMPT"], "0");
    assert!(!format!("{mirror:?}").contains(&token), "Debug redacts");

    // Credentials in the URL are refused, and not echoed.
    let e = Mirror::open(
        &tmp.path().join("data"),
        &format!("https://deploy:{token}@git.example.com/acme/code.git"),
        GitAuth::None,
    )
    .await
    .expect_err("refused");
    assert!(matches!(e, GitError::CredentialsInUrl { .. }));
    assert!(!e.to_string().contains(&token), "{e}");
    assert!(e.to_string().contains("https://***@git.example.com"), "{e}");
}

#[tokio::test]
async fn an_ssh_key_lives_in_a_private_file_for_the_command_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let (repo, _) = code_repo(&d, &tmp.path().join("work"));
    let key = format!(
        // Key-shaped at run time only (no key-shaped literal is committed).
        "-----BEGIN {kind}-----\ntest-token-{}\n-----END {kind}-----",
        uuid::Uuid::new_v4().simple(),
        kind = ["OPENSSH", "PRIVATE", "KEY"].join(" ")
    );
    let mirror = Mirror::open(
        &tmp.path().join("data"),
        &repo.url,
        GitAuth::SshKey(SecretValue::new(key.clone())),
    )
    .await
    .expect("git:// does not use ssh");
    let cmd = mirror.fetch_command().expect("command");
    let file = cmd.key_file().expect("a key file").to_path_buf();
    let meta = std::fs::metadata(&file).expect("exists while the command does");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        format!("{key}\n")
    );
    let argv = cmd.argv().join(" ");
    assert!(!argv.contains("test-token-"), "{argv}");
    let ssh = cmd
        .as_std()
        .get_envs()
        .find(|(k, _)| *k == "GIT_SSH_COMMAND")
        .and_then(|(_, v)| v)
        .expect("GIT_SSH_COMMAND")
        .to_string_lossy()
        .into_owned();
    assert!(ssh.contains("-o IdentitiesOnly=yes"), "{ssh}");
    assert!(ssh.contains(&file.display().to_string()), "{ssh}");
    assert!(!ssh.contains("test-token-"), "{ssh}");
    drop(cmd);
    assert!(!file.exists(), "removed with the command");
}

#[tokio::test]
async fn a_hung_remote_is_killed_at_the_deadline() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let started = Instant::now();
    let e = Mirror::open_with_timeout(
        &tmp.path().join("data"),
        &format!("git://127.0.0.1:{port}/hung.git"),
        GitAuth::None,
        Duration::from_secs(2),
    )
    .await
    .expect_err("times out");
    let took = started.elapsed();
    assert!(matches!(e, GitError::Timeout { .. }), "{e}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(e.to_string().contains("did not finish within 2s"), "{e}");
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("data/git"))
        .expect("dir")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .collect();
    assert!(left.is_empty(), "the half-made mirror is removed: {left:?}");
}

#[tokio::test]
async fn an_ssh_key_authenticates_to_a_real_openssh_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("srv");
    std::fs::create_dir_all(&base).expect("mkdir");
    let Some(d) = daemon(&base) else { return };
    let Some(sshd) = git_support::sshd(&tmp.path().join("sshd")) else {
        return;
    };
    let (repo, a) = code_repo(&d, &tmp.path().join("work"));
    let url = sshd.url(&repo.bare);
    let data = tmp.path().join("data");

    let mirror = Mirror::open(
        &data,
        &url,
        GitAuth::SshKey(SecretValue::new(sshd.client_key.clone())),
    )
    .await
    .expect("fetched over SSH with the key");
    assert_eq!(mirror.resolve("main").await.expect("resolve"), a);
    let known_hosts = std::fs::read_to_string(data.join("git/known_hosts")).expect("known_hosts");
    assert!(
        !known_hosts.trim().is_empty(),
        "the host key was recorded (accept-new)"
    );
    let keys: Vec<_> = std::fs::read_dir(data.join("git/keys"))
        .expect("keys dir")
        .collect();
    assert!(keys.is_empty(), "no key file outlives its command");

    // Another key is refused, at once (no prompt), and the error carries no key material.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(other.join("k"))
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success());
    let wrong = std::fs::read_to_string(other.join("k")).expect("key");
    let e = Mirror::open(
        &tmp.path().join("data2"),
        &url,
        GitAuth::SshKey(SecretValue::new(wrong.clone())),
    )
    .await
    .expect_err("refused");
    let text = e.to_string();
    assert!(text.contains("Permission denied"), "{text}");
    let body: Vec<&str> = wrong.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body.iter().all(|l| !text.contains(l)), "{text}");
}
