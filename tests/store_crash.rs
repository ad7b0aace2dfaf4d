//! Crash safety: a row committed by a process that is then SIGKILLed is there afterwards.
//!
//! The parent test re-executes this test binary, running only `crash_child` with
//! ODOOOPS_CRASH_CHILD_URL set; the child writes a ledger row and an event, prints COMMITTED
//! and waits to be killed. The parent kills it (SIGKILL) and reopens the store.

mod common;

use odooops::store::*;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_URL: &str = "ODOOOPS_CRASH_CHILD_URL";
const CHILD_DIR: &str = "ODOOOPS_CRASH_CHILD_DIR";
const KEY: &str = "Environment/prod:create:crash";

/// Does nothing in a normal test run; it is the child process of `committed_rows_survive_sigkill`.
#[test]
fn crash_child() {
    let (Ok(url), Ok(dir)) = (std::env::var(CHILD_URL), std::env::var(CHILD_DIR)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let s = Store::open(Some(&url), std::path::Path::new(&dir))
            .await
            .expect("child open");
        let ins = s
            .ledger_insert(&NewAction {
                dedupe_key: KEY.into(),
                plan_id: None,
                run_id: None,
                resource_kind: "Environment".into(),
                resource_name: "prod".into(),
                operation: "create".into(),
                request_summary: None,
                resource_key: None,
            })
            .await
            .expect("ledger insert");
        let mut e = NewEvent::new(Level::Info, "apply", "about to call the provider");
        e.correlation_id = Some("crash-test".into());
        s.append_events(&[e]).await.expect("event");
        println!("COMMITTED {}", ins.action().id);
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // The side effect would happen here; the parent kills us first. Should the parent
        // die instead, do not linger.
        tokio::time::sleep(Duration::from_secs(120)).await;
        std::process::exit(3);
    });
}

fn run_child_and_kill(url: &str, dir: &std::path::Path) -> String {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL, url)
        .env(CHILD_DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            // libtest prints "test crash_child ... " on the same line
            if let Some((_, id)) = line.split_once("COMMITTED ") {
                let _ = tx.send(id.trim().to_string());
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let Ok(id) = rx.recv_timeout(deadline - Instant::now()) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the child did not report COMMITTED within 60 s");
    };
    child.kill().expect("SIGKILL child"); // SIGKILL on Unix: no destructors, no clean close
    let status = child.wait().expect("wait child");
    assert!(!status.success(), "child was killed, not finished");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_rows_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut targets = vec![(
        format!("sqlite:{}", dir.path().join("crash.db").display()),
        None,
    )];
    let admin = common::pg_admin_url();
    if let Some(admin) = &admin {
        let (url, name) = common::fresh_pg_db(admin).await;
        targets.push((url, Some(name)));
    }
    for (url, pg_name) in targets {
        let url2 = url.clone();
        let path = dir.path().to_path_buf();
        let id = tokio::task::spawn_blocking(move || run_child_and_kill(&url2, &path))
            .await
            .expect("join");
        let s = Store::open(Some(&url), dir.path())
            .await
            .expect("reopen after crash");
        let row = s
            .ledger_get(KEY)
            .await
            .expect("ledger_get")
            .expect("ledger row survived the kill");
        assert_eq!(row.id.to_string(), id);
        assert_eq!(
            row.status, "pending",
            "the side effect never ran: the row says so"
        );
        let evs = s
            .events(&EventFilter {
                correlation_id: Some("crash-test".into()),
                ..Default::default()
            })
            .await
            .expect("events");
        assert_eq!(evs.len(), 1, "{url}");
        s.close().await;
        if let (Some(admin), Some(name)) = (&admin, pg_name) {
            common::drop_pg_db(admin, &name).await;
        }
    }
}
