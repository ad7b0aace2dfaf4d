//! Where the controller reads the SSOT from, as real `odooops run` processes against the
//! provider simulator:
//! - a git remote (served by `git daemon`): the commit is recorded in `ops.ssot_revisions`;
//!   after a restart with an invalid head, the last valid revision is loaded and reconciled,
//!   with an error event naming the head, the revision used and the first error's file:line;
//! - a directory that is a symlink (git-sync's `current`): a flip of the link is followed —
//!   the new tree is reconciled — and later edits of the new target are seen too.

#[path = "git_support/mod.rs"]
mod git_support;

use odooops::sim::{self, faults::FaultConfig};
use odooops::store::{EventFilter, Store};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const QUICKSTART: &[&str] = &["project.yaml", "environments.yaml", "policies.yaml"];

fn quickstart(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/quickstart")
            .join(name),
    )
    .expect("quickstart file")
}

struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Proc {
    /// `odooops GLOBAL… run RUN…`.
    fn spawn(global: &[&str], run: &[&str], data: &Path, sim: &str) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_odooops"))
            .args(global)
            .arg("--sim")
            .arg(sim)
            .arg("--data-dir")
            .arg(data)
            .args(["run", "--listen", "127.0.0.1:0", "--debounce", "100ms"])
            .args([
                "--poll",
                "100ms",
                "--leader-check",
                "300ms",
                "--grace",
                "20s",
            ])
            .args(run)
            .env_remove("ODOOOPS_DATABASE_URL")
            .env_remove("ODOOOPS_ARTIFACT_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn odooops run");
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(mut o) = out.lock() {
                        o.push_str(&line);
                        o.push('\n');
                    }
                }
            });
        }
        Proc { child, out }
    }
    fn text(&self) -> String {
        self.out.lock().map(|s| s.clone()).unwrap_or_default()
    }
    fn wait(&mut self, limit: Duration) -> i32 {
        let t = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code().unwrap_or(-1);
            }
            assert!(
                t.elapsed() < limit,
                "odooops run did not end:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn open_store(data: &Path) -> Store {
    Store::open(
        Some(&format!("sqlite:{}", data.join("ops.db").display())),
        data,
    )
    .await
    .expect("store")
}

fn droplet_size(s: &sim::Running, suffix: &str) -> Option<String> {
    let st = sim::lock(&s.state.digitalocean);
    st.droplets
        .values()
        .find(|d| d["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
        .and_then(|d| d["size_slug"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_ssot_falls_back_to_its_last_valid_revision_after_a_restart() {
    let base = tempfile::tempdir().expect("base");
    let Some(daemon) = git_support::daemon(base.path()) else {
        return;
    };
    let work = tempfile::tempdir().expect("work");
    let repo = git_support::Repo::new(&daemon, work.path(), "ssot");
    for f in QUICKSTART {
        repo.write(&format!("ops/{f}"), quickstart(f));
    }
    let valid = repo.commit("a valid SSOT");
    repo.push("HEAD:main");
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let data = tempfile::tempdir().expect("data");
    let args = [
        "--ssot-git",
        repo.url.as_str(),
        "--ssot-git-branch",
        "main",
        "--ssot-git-path",
        "ops",
    ];
    let mut first = Proc::spawn(&args, &["--once"], data.path(), &sim.url());
    let code = first.wait(Duration::from_secs(120));
    assert_eq!(code, 0, "{}", first.text());
    assert!(droplet_size(&sim, "-staging").is_some(), "reconciled");
    let store = open_store(data.path()).await;
    let key = format!("git:{}#main:ops", repo.url);
    let last = store
        .last_valid_ssot_revision(&key)
        .await
        .expect("revisions")
        .expect("a valid revision recorded");
    assert_eq!(last.commit_sha, valid);

    // The head turns invalid; the controller restarts.
    let env = quickstart("environments.yaml").replacen("stage: staging", "stage: stagingx", 1);
    repo.write("ops/environments.yaml", env);
    let broken = repo.commit("an invalid stage");
    repo.push("HEAD:main");
    let mut second = Proc::spawn(&args, &["--once"], data.path(), &sim.url());
    let code = second.wait(Duration::from_secs(120));
    assert_eq!(
        code,
        0,
        "the last valid revision is reconciled:\n{}",
        second.text()
    );
    let events = store
        .events(&EventFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .expect("events");
    let finding = events
        .iter()
        .find(|e| e.message.starts_with("ssot-head-invalid"))
        .unwrap_or_else(|| {
            panic!(
                "no finding among {} events:\n{}",
                events.len(),
                second.text()
            )
        });
    assert!(finding.message.contains(&broken), "{}", finding.message);
    assert!(finding.message.contains(&valid), "{}", finding.message);
    assert!(
        finding.message.contains("ops/environments.yaml:"),
        "the first error is located: {}",
        finding.message
    );
    let recorded = store
        .ssot_revisions(Some(&key), 10)
        .await
        .expect("revisions");
    assert!(recorded.iter().any(|r| r.commit_sha == broken && !r.valid));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_symlink_is_followed_and_its_new_target_watched() {
    let root = tempfile::tempdir().expect("root");
    for (rev, staging) in [("rev1", "s-1vcpu-2gb"), ("rev2", "s-2vcpu-4gb")] {
        let dir = root.path().join(rev);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in QUICKSTART {
            let mut text = quickstart(f);
            if *f == "environments.yaml" {
                text = text.replacen("size: s-1vcpu-2gb", &format!("size: {staging}"), 1);
            }
            std::fs::write(dir.join(f), text).expect("write");
        }
    }
    let current = root.path().join("current");
    std::os::unix::fs::symlink("rev1", &current).expect("link");
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let data = tempfile::tempdir().expect("data");
    let ssot = current.display().to_string();
    let ctl = Proc::spawn(&["--ssot", &ssot], &[], data.path(), &sim.url());
    let wait_for = |what: &str, size: &str, suffix: &str| {
        let t = Instant::now();
        while droplet_size(&sim, suffix).as_deref() != Some(size) {
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "{what}: {suffix} is {:?}, not {size}:\n{}",
                droplet_size(&sim, suffix),
                ctl.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("first reconcile", "s-1vcpu-2gb", "-staging");
    // git-sync's flip: a new link renamed over `current`.
    let tmp = root.path().join(".current-new");
    std::os::unix::fs::symlink("rev2", &tmp).expect("link");
    std::fs::rename(&tmp, &current).expect("flip");
    wait_for("after the flip", "s-2vcpu-4gb", "-staging");
    // The new target is watched: an edit there (production's size, its first `size:`) is
    // reconciled too.
    let env = root.path().join("rev2/environments.yaml");
    let text = std::fs::read_to_string(&env).expect("read");
    std::fs::write(
        &env,
        text.replacen("size: s-2vcpu-4gb", "size: s-4vcpu-8gb", 1),
    )
    .expect("write");
    wait_for("an edit of the new target", "s-4vcpu-8gb", "-production");
}
