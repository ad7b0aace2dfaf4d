//! `odooops serve` and `odooops run` stop cleanly on SIGTERM and SIGINT: the real binary is
//! started, answers, gets the signal through kill(2) on its own process id, and exits 0
//! within a few seconds (as a container's PID 1 must, before the kubelet's grace period).
//! The controller's metrics listener is set with `--metrics-listen`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Only when a test failed before the process exited: SIGKILL to this child's own id.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn quickstart() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart")
}

/// Start `odooops ARGS` and wait until its output holds `ready`; returns the text after it
/// up to the next `/` (the address it printed).
fn start(args: &[&str], data: &Path, ready: &str) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_odooops"))
        .arg("--ssot")
        .arg(quickstart())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn odooops");
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
    let p = Proc { child, out };
    let t = Instant::now();
    let addr = loop {
        let text = p.out.lock().map(|s| s.clone()).unwrap_or_default();
        if let Some(rest) = text.split(ready).nth(1) {
            break rest.split('/').next().unwrap_or_default().to_string();
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "odooops {args:?} did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (p, addr)
}

/// GET over plain HTTP/1.0 on loopback: (status line, body).
fn get(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// Send `sig` to the child (its own pid, never a group) and wait for it to exit.
fn signal_and_wait(p: &mut Proc, sig: libc::c_int, within: Duration) -> std::process::ExitStatus {
    let pid = libc::pid_t::try_from(p.child.id()).expect("pid fits");
    assert!(pid > 1, "a real child process id");
    // SAFETY: kill(2) on the positive id of a child this test spawned and has not reaped.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
    let t = Instant::now();
    loop {
        if let Some(status) = p.child.try_wait().expect("try_wait") {
            return status;
        }
        let text = p.out.lock().map(|s| s.clone()).unwrap_or_default();
        assert!(
            t.elapsed() < within,
            "still running {within:?} after signal {sig}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn serve_stops_on(sig: libc::c_int) {
    let data = tempfile::tempdir().expect("tempdir");
    let (mut p, addr) = start(
        &["serve", "--listen", "127.0.0.1:0"],
        data.path(),
        "== console on http://",
    );
    let (status, _) = get(&addr, "/healthz");
    assert!(status.contains(" 200 "), "{status}");
    let status = signal_and_wait(&mut p, sig, Duration::from_secs(5));
    let text = p.out.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "exit status {status}:\n{text}");
    assert!(text.contains("signal received"), "{text}");
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    serve_stops_on(libc::SIGTERM);
}

#[test]
fn serve_stops_cleanly_on_sigint() {
    serve_stops_on(libc::SIGINT);
}

fn run_stops_on(sig: libc::c_int) {
    let data = tempfile::tempdir().expect("tempdir");
    // No simulator behind the address: reconciles fail and back off; the loop still stops.
    let (mut p, addr) = start(
        &[
            "--sim",
            "http://127.0.0.1:9",
            "run",
            "--metrics-listen",
            "127.0.0.1:0",
            "--grace",
            "2s",
        ],
        data.path(),
        "== controller on http://",
    );
    let (status, body) = get(&addr, "/metrics");
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("# TYPE odooops_leader gauge"), "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    let status = signal_and_wait(&mut p, sig, Duration::from_secs(10));
    let text = p.out.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "exit status {status}:\n{text}");
}

#[test]
fn run_stops_cleanly_on_sigterm_with_metrics_listen() {
    run_stops_on(libc::SIGTERM);
}

#[test]
fn run_stops_cleanly_on_sigint() {
    run_stops_on(libc::SIGINT);
}
