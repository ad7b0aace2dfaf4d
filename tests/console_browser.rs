//! A real browser over the console: headless Chromium driven through chromedriver (W3C
//! WebDriver over loopback HTTP) loads the overview of a populated store, then clicks every
//! navigation anchor in turn (and opens a run and an environment), checking each page's DOM,
//! saving a screenshot under target/console-screenshots/, and collecting the browser console
//! log (`goog:loggingPrefs` browser=ALL): no entry may be SEVERE — script errors, CSP
//! violations and failed asset loads (404s) all land there.
//! Skipped (with a message) when Chromium or chromedriver is missing; a failure under CI=true.

mod common;
mod console_common;

use console_common::*;
use odooops::console::NAV;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CHROMIUM: &[&str] = &[
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];
const DRIVER: &[&str] = &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

fn tools() -> Option<(PathBuf, PathBuf)> {
    match (find(CHROMIUM), find(DRIVER)) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but Chromium or chromedriver is missing: apt-get install chromium chromium-driver");
            }
            eprintln!("SKIPPED browser test: no Chromium/chromedriver (apt-get install chromium chromium-driver)");
            None
        }
    }
}

/// A WebDriver session on a chromedriver child process.
struct Driver {
    http: reqwest::Client,
    url: String,
    session: String,
    _child: tokio::process::Child,
}

impl Driver {
    async fn start(chromium: &Path, driver: &Path, profile: &Path) -> Driver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{url}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                         "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v: Value = http
            .post(format!("{url}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Driver {
            http,
            url,
            session,
            _child: child,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.url, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("webdriver request");
        let status = r.status();
        let v: Value = r.json().await.expect("webdriver JSON");
        assert!(status.is_success(), "{path}: {status} {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn script(&self, js: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Element ids matching a CSS selector.
    async fn elements(&self, css: &str) -> Vec<String> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        e.as_object()
                            .and_then(|o| o.values().next())
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn click(&self, element: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Browser console entries since the last call (chromedriver's log endpoint).
    async fn browser_log(&self) -> Vec<Value> {
        self.cmd(
            reqwest::Method::POST,
            "/se/log",
            Some(json!({"type": "browser"})),
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    async fn screenshot(&self, file: &Path) {
        let b64 = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64_decode(b64.as_str().unwrap_or_default());
        std::fs::write(file, bytes).expect("write screenshot");
    }

    async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.url, self.session))
            .send()
            .await;
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn severe(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Wait until the document at `path` has finished loading.
async fn wait_loaded(d: &Driver, base: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = d.current_url().await;
        let ready = d.script("return document.readyState").await;
        if url.strip_prefix(base) == Some(path) && ready == "complete" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} did not load (at {url}, {ready})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn check_page(d: &Driver, out: &Path, path: &str, label: &str, errors: &mut Vec<String>) {
    let html = d
        .script("return document.documentElement.outerHTML")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        html.contains("class=\"maturity"),
        "{path}: the browser did not render the page"
    );
    assert!(html.contains(&label.replace('&', "&amp;")), "{path}");
    let styled = d
        .script("return getComputedStyle(document.querySelector('header')).display")
        .await;
    assert_eq!(styled, "flex", "{path}: the stylesheet applied");
    let name = if path == "/" {
        "overview".to_string()
    } else {
        path.trim_start_matches('/')
            .replace('/', "_")
            .chars()
            .take(40)
            .collect()
    };
    let file = out.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&file);
    d.screenshot(&file).await;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "{path}: no screenshot ({})", file.display());
    for m in severe(&d.browser_log().await) {
        errors.push(format!("{path}: {m}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_chromium_with_a_clean_console() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let b = common::sqlite().await;
    let pop = populate(&b.store).await;
    let base = start(b.store.clone(), config(false)).await;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&out).expect("screenshot dir");
    let profile = tempfile::tempdir().expect("profile");
    let d = Driver::start(&chromium, &driver, profile.path()).await;
    let mut errors = Vec::new();

    // Sign in as an operator (the pages then carry the action forms too).
    d.goto(&format!("{base}/login")).await;
    wait_loaded(&d, &base, "/login").await;
    d.cmd(
        reqwest::Method::POST,
        "/cookie",
        Some(json!({"cookie": {"name": "odooops_token", "value": OPERATOR, "path": "/"}})),
    )
    .await;
    // The collector sees what it must: a missing asset is a failed load (SEVERE, 404).
    d.goto(&format!("{base}/static/no-such-asset.css")).await;
    let probe = severe(&d.browser_log().await);
    assert!(
        probe.iter().any(|m| m.contains("404")),
        "the console log collector missed a 404: {probe:?}"
    );
    d.goto(&format!("{base}/")).await;
    wait_loaded(&d, &base, "/").await;
    check_page(&d, &out, "/", "Overview", &mut errors).await;

    // Click through the navigation: each anchor of the header, in order.
    for (i, (path, label)) in NAV.iter().enumerate() {
        let anchors = d.elements("header nav a").await;
        assert_eq!(anchors.len(), NAV.len(), "every NAV entry is an anchor");
        d.click(&anchors[i]).await;
        wait_loaded(&d, &base, path).await;
        check_page(&d, &out, path, label, &mut errors).await;
    }
    // Pages reached from links: a run (from the runs table) and an environment.
    d.goto(&format!("{base}/runs")).await;
    wait_loaded(&d, &base, "/runs").await;
    let run_path = format!("/runs/{}", pop.run_id);
    let links = d.elements(&format!("a[href=\"{run_path}\"]")).await;
    assert!(!links.is_empty(), "the runs page links the run");
    d.click(&links[0]).await;
    wait_loaded(&d, &base, &run_path).await;
    check_page(&d, &out, &run_path, "Run ", &mut errors).await;
    let env_links = d.elements("a[href=\"/environments/staging\"]").await;
    if let Some(a) = env_links.first() {
        d.click(a).await;
    } else {
        d.goto(&format!("{base}/environments/staging")).await;
    }
    wait_loaded(&d, &base, "/environments/staging").await;
    check_page(
        &d,
        &out,
        "/environments/staging",
        "Environment staging",
        &mut errors,
    )
    .await;
    d.quit().await;
    assert!(
        errors.is_empty(),
        "browser console errors:\n{}",
        errors.join("\n")
    );
    b.finish().await;
}
