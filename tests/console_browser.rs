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

    async fn script_async(&self, js: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    /// A Chrome DevTools Protocol command (chromedriver's `goog/cdp/execute`).
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
        .await
    }

    /// Lay pages out for a `width` px wide phone screen.
    async fn phone(&self, width: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": true}),
        )
        .await;
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
    // (A visible link: the plans set aside sit in a closed <details>.)
    let links = d
        .elements(&format!("main > div.scroll a[href=\"{run_path}\"]"))
        .await;
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

// ------------------------------------------------------------------ control-plane pages

/// The axe-core version the accessibility audit runs (from the npm registry).
const AXE_VERSION: &str = "4.10.3";

/// axe-core's browser bundle: `ODOOOPS_AXE_JS`, else `target/axe-core-<v>/package/axe.min.js`,
/// fetched with `npm pack axe-core@<v>` when missing (never committed).
fn axe_source() -> Option<String> {
    if let Ok(p) = std::env::var("ODOOOPS_AXE_JS") {
        return Some(std::fs::read_to_string(&p).expect("ODOOOPS_AXE_JS is readable"));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/axe-core-{AXE_VERSION}"));
    let js = dir.join("package/axe.min.js");
    if !js.exists() {
        std::fs::create_dir_all(&dir).expect("axe dir");
        let packed = std::process::Command::new("npm")
            .args(["pack", &format!("axe-core@{AXE_VERSION}"), "--silent"])
            .current_dir(&dir)
            .output();
        let ok = packed.as_ref().is_ok_and(|o| o.status.success());
        if ok {
            let _ = std::process::Command::new("tar")
                .args(["xzf", &format!("axe-core-{AXE_VERSION}.tgz")])
                .current_dir(&dir)
                .status();
        }
    }
    match std::fs::read_to_string(&js) {
        Ok(s) => Some(s),
        Err(_) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but axe-core could not be fetched with npm (npm pack axe-core@{AXE_VERSION})");
            }
            eprintln!("SKIPPED accessibility audit: npm could not fetch axe-core@{AXE_VERSION}");
            None
        }
    }
}

/// Serious or critical axe violations of the current page.
async fn axe_violations(d: &Driver, axe: &str) -> Vec<String> {
    if d.script("return typeof window.axe").await != "object" {
        d.script(&format!("{axe}\n;return typeof window.axe;"))
            .await;
    }
    let v = d
        .script_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations\
               .filter(v => v.impact === 'serious' || v.impact === 'critical')\
               .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' @ ' +\
                    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))))\
             .catch(e => done(['axe failed: ' + e]));",
        )
        .await;
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Open `path`, then audit it: axe (no serious or critical violation) and a 420 px layout
/// (nothing wider than the screen). Problems are collected in `problems`.
async fn audit(d: &Driver, base: &str, path: &str, axe: Option<&str>, problems: &mut Vec<String>) {
    d.goto(&format!("{base}{path}")).await;
    wait_loaded(d, base, path.split('#').next().unwrap_or(path)).await;
    let width = d
        .script("return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        .await
        .as_u64()
        .unwrap_or(u64::MAX);
    if width > 420 {
        let culprit = d
            .script(
                "const out = []; for (const e of document.querySelectorAll('body *')) { \
                   const r = e.getBoundingClientRect(); \
                   if (r.right > 421 && !e.closest('.scroll') && !e.closest('nav') && !e.closest('pre')) \
                     out.push(e.tagName + '.' + e.className + ' ' + Math.round(r.right)); } \
                 return out.slice(0, 5).join(', ');",
            )
            .await;
        problems.push(format!("{path}: {width} px wide at 420 px ({culprit})"));
    }
    let name: String = path
        .trim_start_matches('/')
        .replace(['/', '?', '&', '='], "_")
        .chars()
        .take(40)
        .collect();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    let _ = std::fs::create_dir_all(&out);
    d.screenshot(&out.join(format!(
        "phone_{}.png",
        if name.is_empty() { "overview" } else { &name }
    )))
    .await;
    if let Some(axe) = axe {
        for v in axe_violations(d, axe).await {
            problems.push(format!("{path}: {v}"));
        }
    }
    for m in severe(&d.browser_log().await) {
        problems.push(format!("{path}: console: {m}"));
    }
}

async fn set_token(d: &Driver, base: &str, token: Option<&str>) {
    d.goto(&format!("{base}/login")).await;
    wait_loaded(d, base, "/login").await;
    match token {
        Some(t) => {
            d.cmd(
                reqwest::Method::POST,
                "/cookie",
                Some(json!({"cookie": {"name": "odooops_token", "value": t, "path": "/"}})),
            )
            .await;
        }
        None => {
            d.cmd(reqwest::Method::DELETE, "/cookie/odooops_token", None)
                .await;
        }
    }
}

async fn html(d: &Driver) -> String {
    d.script("return document.documentElement.outerHTML")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn click_link(d: &Driver, base: &str, href: &str) {
    let links = d.elements(&format!("a[href=\"{href}\"]")).await;
    assert!(
        !links.is_empty(),
        "no link to {href} on {}",
        d.current_url().await
    );
    d.click(&links[0]).await;
    wait_loaded(d, base, href).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_and_fits_a_420px_screen() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let axe = axe_source();
    let b = common::sqlite().await;
    let pop = populate(&b.store).await;
    let chain = populate_chain(&b.store).await;
    let job = b
        .store
        .enqueue(
            "backup",
            "audit-job",
            &json!({"action": "backup", "environment": "staging"}),
            None,
        )
        .await
        .expect("job");
    let job_id = match job {
        odooops::store::Enqueued::New(j) | odooops::store::Enqueued::Existing(j) => j.id,
    };
    let base = start(b.store.clone(), config(true)).await;
    let profile = tempfile::tempdir().expect("profile");
    let d = Driver::start(&chromium, &driver, profile.path()).await;
    d.cmd(
        reqwest::Method::POST,
        "/timeouts",
        Some(json!({"script": 120_000})),
    )
    .await;
    d.phone(420).await;
    let mut pages: Vec<String> = NAV.iter().map(|(p, _)| p.to_string()).collect();
    pages.extend([
        "/environments/staging".to_string(),
        "/environments/production".to_string(),
        format!("/runs/{}", pop.run_id),
        format!("/runs/{}", chain.apply_run),
        format!("/runs/{}", chain.failed_run),
        format!("/plans/{}", chain.plan_id),
        format!("/jobs/{job_id}"),
        "/drift?environment=staging&days=7".to_string(),
        "/login".to_string(),
        "/no-such-page".to_string(),
    ]);
    let mut problems = Vec::new();
    // The audit sees what it must: an image without a text alternative is critical.
    if let Some(axe) = axe.as_deref() {
        d.goto(&format!("{base}/settings")).await;
        wait_loaded(&d, &base, "/settings").await;
        d.script("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/static/favicon.svg\">')")
            .await;
        let probe = axe_violations(&d, axe).await;
        assert!(
            probe.iter().any(|v| v.contains("image-alt")),
            "the axe probe missed an image without alt: {probe:?}"
        );
        let width_probe = d
            .script("const e = document.createElement('div'); e.style.width = '900px'; e.textContent = 'x'; document.querySelector('main').append(e); return document.documentElement.scrollWidth")
            .await;
        assert!(
            width_probe.as_u64().unwrap_or(0) > 420,
            "the 420 px probe: {width_probe}"
        );
    }
    for token in [Some(OPERATOR), None] {
        set_token(&d, &base, token).await;
        d.phone(420).await;
        let _ = d.browser_log().await;
        for path in &pages {
            audit(&d, &base, path, axe.as_deref(), &mut problems).await;
        }
    }
    // The 404 page is an error page: no maturity badge, no empty data-source line.
    d.goto(&format!("{base}/no-such-page")).await;
    let page = html(&d).await;
    assert!(!page.contains("class=\"maturity"), "error page badge");
    assert!(!page.contains("Data sources:"), "error page sources line");
    problems.retain(|p| !(p.starts_with("/no-such-page: console:") && p.contains("404")));
    d.quit().await;
    assert!(problems.is_empty(), "audit:\n{}", problems.join("\n"));
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_page_evidence_chain_and_an_operator_action_end_to_end() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let b = common::sqlite().await;
    populate(&b.store).await;
    let chain = populate_chain(&b.store).await;
    let base = start(b.store.clone(), config(true)).await;
    let profile = tempfile::tempdir().expect("profile");
    let d = Driver::start(&chromium, &driver, profile.path()).await;

    // Signed out: the environment page shows what runs where, actions disabled.
    d.goto(&format!("{base}/environments")).await;
    wait_loaded(&d, &base, "/environments").await;
    let list = html(&d).await;
    assert!(
        list.contains(&format!("href=\"/runs/{}\"", chain.failed_run)),
        "the last run of every environment counts the run over all environments"
    );
    click_link(&d, &base, "/environments/staging").await;
    let env = html(&d).await;
    for want in [
        "https://staging.quickstart.test",
        &chain.commit[..10],
        "17.0@01234",
        "acme_sale",
        "sign in to deploy",
        "sign in to back up",
        "sign in to run the gates",
        "sign in to clone from production",
        "mail catcher",
    ] {
        assert!(env.contains(want), "environment page lacks {want:?}");
    }
    assert!(
        d.elements("button[disabled]").await.len() >= 4,
        "signed-out actions are disabled"
    );
    assert!(d.elements("form[action^=\"/actions/\"]").await.is_empty());
    // The deploy's log opens from its release row.
    click_link(&d, &base, &format!("/artifacts/{}", chain.log_sha)).await;
    let log = d
        .script("return document.body.innerText")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(log.contains("updating module acme_sale"), "{log}");

    // Plan → apply chain: plan run → plan page → the apply that applied it → back.
    d.goto(&format!("{base}/runs/{}", chain.plan_run)).await;
    wait_loaded(&d, &base, &format!("/runs/{}", chain.plan_run)).await;
    let plan_run = html(&d).await;
    assert!(plan_run.contains("+2"), "change counts on the plan run");
    click_link(&d, &base, &format!("/plans/{}", chain.plan_id)).await;
    let plan = html(&d).await;
    assert!(plan.contains("A-record-for-chain"), "the plan's diffs");
    assert!(
        plan.contains("chain/staging:create:1"),
        "the plan's actions"
    );
    click_link(&d, &base, &format!("/runs/{}", chain.apply_run)).await;
    let apply = html(&d).await;
    assert!(
        !apply.contains("This run saved no plan"),
        "apply run names its plan"
    );
    assert!(
        !apply.contains("No diffs"),
        "apply run shows the plan's diffs"
    );
    assert!(apply.contains("A-record-for-chain"));
    assert!(apply.contains("2 done, 0 failed"));
    assert!(apply.contains(&format!("href=\"/plans/{}\"", chain.plan_id)));
    assert!(
        apply.contains(&format!("href=\"/artifacts/{}\"", chain.log_sha)),
        "release log"
    );
    assert!(
        apply.contains(&format!("backup-{}", chain.backup_id)),
        "pre-update backup"
    );
    click_link(&d, &base, &format!("/plans/{}", chain.plan_id)).await;

    // An operator action end to end: the form queues a job and lands on its page.
    set_token(&d, &base, Some(OPERATOR)).await;
    d.goto(&format!("{base}/environments/staging")).await;
    wait_loaded(&d, &base, "/environments/staging").await;
    let buttons = d
        .elements("form[action=\"/actions/backup\"] button[type=\"submit\"]")
        .await;
    assert_eq!(buttons.len(), 1, "one 'Back up now' form");
    d.click(&buttons[0]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let job_path = loop {
        let url = d.current_url().await;
        if let Some(p) = url.strip_prefix(&base).filter(|p| p.starts_with("/jobs/")) {
            break p.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the action did not land on its job ({url})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    wait_loaded(&d, &base, &job_path).await;
    let job_id: uuid::Uuid = job_path
        .trim_start_matches("/jobs/")
        .parse()
        .expect("job id");
    let job = b.store.job(job_id).await.expect("job").expect("queued");
    assert_eq!(job.queue, "backup");
    assert_eq!(job.payload["environment"], "staging");
    assert!(
        job.dedupe_key.starts_with("console:backup:"),
        "idempotency key"
    );
    let page = html(&d).await;
    assert!(page.contains("queued") && page.contains("/environments/staging"));
    // A worker takes it and records its run: the job page then links the run.
    let claimed = b
        .store
        .claim("backup", "test-worker", Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("the job");
    assert_eq!(claimed.id, job_id);
    b.store
        .complete_with_result(job_id, "test-worker", &json!({"run_id": chain.apply_run}))
        .await
        .expect("complete");
    d.goto(&format!("{base}{job_path}")).await;
    wait_loaded(&d, &base, &job_path).await;
    click_link(&d, &base, &format!("/runs/{}", chain.apply_run)).await;
    let run = html(&d).await;
    assert!(
        run.contains(&format!("href=\"{job_path}\"")),
        "the run links the job that started it"
    );
    // The jobs list shows it, and the environment page lists it among its jobs.
    d.goto(&format!("{base}/jobs")).await;
    wait_loaded(&d, &base, "/jobs").await;
    assert!(html(&d).await.contains(&format!("href=\"{job_path}\"")));
    d.quit().await;
    b.finish().await;
}
