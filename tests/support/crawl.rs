//! Walk the console a test's store is shown by: every page and `/api` answer reachable from
//! the start pages by the links (HTML `href`s) and paths (JSON strings) they hold.

use odooops::console::{self, Config};
use odooops::ssot::Ssot;
use odooops::store::Store;
use std::collections::{BTreeSet, VecDeque};

/// Every answer's path and body, in the order fetched.
pub struct Crawled {
    pub pages: Vec<(String, String)>,
}

impl Crawled {
    /// The paths whose body contains `needle`.
    pub fn containing(&self, needle: &str) -> Vec<&str> {
        self.pages
            .iter()
            .filter(|(_, body)| body.contains(needle))
            .map(|(path, _)| path.as_str())
            .collect()
    }
}

fn paths_in(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ["href=\"", "\"/"] {
        let mut rest = body;
        while let Some(i) = rest.find(quote) {
            rest = &rest[i + quote.len()..];
            let Some(end) = rest.find('"') else { break };
            let raw = &rest[..end];
            let path = if quote == "\"/" {
                format!("/{raw}")
            } else {
                raw.to_string()
            };
            if path.starts_with('/') && !path.starts_with("//") {
                out.push(path.replace("&amp;", "&"));
            }
        }
    }
    out
}

/// Serve the console over `store` (public read, no token) on loopback and fetch up to
/// `limit` pages breadth-first from `/` and the `/api` lists.
pub async fn crawl(store: Store, ssot: Ssot, limit: usize) -> Crawled {
    let mut cfg = Config::from_env(Some(ssot));
    cfg.auth.public_read = true;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, console::router(store, cfg)).await;
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut queue: VecDeque<String> = [
        "/",
        "/environments",
        "/runs",
        "/drift",
        "/backups",
        "/events",
        "/api/overview",
        "/api/environments",
        "/api/runs",
        "/api/events",
        "/api/backups",
        "/api/inventory",
        "/api/settings",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    let mut pages = Vec::new();
    while let Some(path) = queue.pop_front() {
        if pages.len() >= limit {
            break;
        }
        let Ok(r) = client.get(format!("http://{addr}{path}")).send().await else {
            continue;
        };
        let body = r.text().await.unwrap_or_default();
        for next in paths_in(&body) {
            let skip = next.starts_with("/static/")
                || next.starts_with("/logout")
                || next.starts_with("/login")
                || next.starts_with("/webhooks")
                || next.starts_with("/api/webhooks")
                || next.starts_with("/api/actions")
                || next.starts_with("/actions");
            if !skip && seen.insert(next.clone()) {
                queue.push_back(next);
            }
        }
        pages.push((path, body));
    }
    server.abort();
    Crawled { pages }
}
