//! A real browser over the console: headless Chromium loads every NAV page of a populated
//! store, its DOM is checked and a screenshot is saved under target/console-screenshots/.
//! Skipped (with a message) when no Chromium is installed; a failure under CI=true.

mod common;
mod console_common;

use console_common::*;
use odooops::console::NAV;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn chromium() -> Option<PathBuf> {
    let found = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but no Chromium: install chromium to run the browser test");
        }
        eprintln!("SKIPPED browser test: no Chromium (apt-get install chromium)");
    }
    found
}

async fn browser(bin: &Path, args: &[String]) -> std::process::Output {
    let run = tokio::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ])
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("chromium finished within 60 s")
        .expect("chromium runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_headless_chromium() {
    let Some(bin) = chromium() else { return };
    let b = common::sqlite().await;
    let pop = populate(&b.store).await;
    let base = start(b.store.clone(), config(true)).await;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&out).expect("screenshot dir");
    let profile = tempfile::tempdir().expect("profile");
    let run_page = format!("/runs/{}", pop.run_id);
    let pages: Vec<(&str, &str)> = NAV
        .iter()
        .copied()
        .chain([
            (run_page.as_str(), "Run "),
            ("/environments/staging", "Environment staging"),
        ])
        .collect();
    for (path, label) in pages {
        let url = format!("{base}{path}");
        let user_dir = format!("--user-data-dir={}", profile.path().display());
        let dom = browser(&bin, &[user_dir.clone(), "--dump-dom".into(), url.clone()]).await;
        let html = String::from_utf8_lossy(&dom.stdout);
        assert!(
            html.contains("class=\"maturity"),
            "{path}: the browser did not render the page: {}",
            String::from_utf8_lossy(&dom.stderr)
        );
        assert!(html.contains(&label.replace('&', "&amp;")), "{path}");
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
        let shot = browser(
            &bin,
            &[user_dir, format!("--screenshot={}", file.display()), url],
        )
        .await;
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 1000,
            "{path}: no screenshot ({}): {}",
            file.display(),
            String::from_utf8_lossy(&shot.stderr)
        );
    }
    b.finish().await;
}
