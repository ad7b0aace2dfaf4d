//! Plain-Rust HTML building: every interpolated value goes through [`esc`].

use super::NAV;
use std::fmt::Write as _;

/// Escape text for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a path segment or query value.
pub fn url_enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// How finished a page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maturity {
    Scaffold,
    Beta,
    Prod,
}

impl Maturity {
    pub fn as_str(self) -> &'static str {
        match self {
            Maturity::Scaffold => "scaffold",
            Maturity::Beta => "beta",
            Maturity::Prod => "prod",
        }
    }
}

/// A page under construction: sections of already-escaped HTML.
pub struct Page {
    pub title: String,
    pub maturity: Maturity,
    pub sources: Vec<&'static str>,
    pub body: String,
    /// An error page: no maturity badge, no data-source line.
    pub plain: bool,
}

impl Page {
    pub fn new(title: impl Into<String>, maturity: Maturity, sources: &[&'static str]) -> Page {
        Page {
            title: title.into(),
            maturity,
            sources: sources.to_vec(),
            body: String::new(),
            plain: false,
        }
    }
    /// An error page (no maturity badge, no data-source line).
    pub fn error(title: impl Into<String>) -> Page {
        Page {
            plain: true,
            ..Page::new(title, Maturity::Prod, &[])
        }
    }
    pub fn h2(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<h2>{}</h2>", esc(text));
        self
    }
    /// Append raw, already-safe HTML.
    pub fn raw(&mut self, html: &str) -> &mut Page {
        self.body.push_str(html);
        self
    }
    pub fn para(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<p>{}</p>", esc(text));
        self
    }
    pub fn empty(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<p class=\"empty\">{}</p>", esc(text));
        self
    }
    /// A table whose cells are already-safe HTML; `empty` is shown when there are no rows.
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>], empty: &str) -> &mut Page {
        if rows.is_empty() {
            return self.empty(empty);
        }
        let _ = write!(
            self.body,
            "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"{} table\"><table><thead><tr>",
            esc(headers.first().copied().unwrap_or("data"))
        );
        for h in headers {
            let _ = write!(self.body, "<th>{}</th>", esc(h));
        }
        self.body.push_str("</tr></thead><tbody>\n");
        for r in rows {
            self.body.push_str("<tr>");
            for c in r {
                let _ = write!(self.body, "<td>{c}</td>");
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table></div>\n");
        self
    }

    /// The whole document.
    pub fn render(&self, current: &str) -> String {
        let mut nav = String::new();
        for (path, label) in NAV {
            let active = if *path == current || (*path != "/" && current.starts_with(path)) {
                " class=\"active\""
            } else {
                ""
            };
            let _ = write!(nav, "<a href=\"{}\"{active}>{}</a>", esc(path), esc(label));
        }
        let sources = self
            .sources
            .iter()
            .map(|s| format!("<code>{}</code>", esc(s)))
            .collect::<Vec<_>>()
            .join(", ");
        let (badge, sources) = if self.plain || self.sources.is_empty() {
            let badge = if self.plain {
                String::new()
            } else {
                format!(
                    " <span class=\"maturity m-{m}\" title=\"page maturity\">{m}</span>",
                    m = self.maturity.as_str()
                )
            };
            (badge, String::new())
        } else {
            (
                format!(
                    " <span class=\"maturity m-{m}\" title=\"page maturity\">{m}</span>",
                    m = self.maturity.as_str()
                ),
                format!("<p class=\"sources\">Data sources: {sources}</p>"),
            )
        };
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · OdooOps</title><link rel=\"stylesheet\" href=\"/static/style.css\"><link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\"></head>\
             <body><header><a class=\"brand\" href=\"/\">OdooOps</a><nav aria-label=\"main\">{nav}</nav></header>\
             <main><h1>{title}{badge}</h1>{sources}\n{body}</main></body></html>\n",
            title = esc(&self.title),
            body = self.body,
        )
    }
}

/// A status badge (`ok`, `failed`, …) coloured by its class.
pub fn badge(status: &str) -> String {
    let class = match status {
        "succeeded" | "pass" | "applied" | "done" | "in sync" | "present" | "adopted" => "good",
        "failed" | "fail" | "error" | "drifted" | "missing" => "bad",
        "warn" | "not declared" | "running" | "claimed" | "queued" | "planned" | "in_flight"
        | "pending" => "warn",
        _ => "neutral",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(status))
}

/// A link to an artifact by id (text shortened).
pub fn artifact_link(id: &str) -> String {
    if crate::store::validate_artifact_id(id).is_err() {
        return esc(id);
    }
    format!(
        "<a href=\"/artifacts/{id}\"><code>{}…</code></a>",
        &id[..12.min(id.len())]
    )
}

/// A unified diff with added/removed lines coloured.
pub fn diff_block(unified: &str) -> String {
    let mut out = String::from("<pre class=\"diff\">");
    for line in unified.lines() {
        let class = if line.starts_with("+++") || line.starts_with("---") {
            "hdr"
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else if line.starts_with("@@") {
            "hunk"
        } else {
            "ctx"
        };
        let _ = writeln!(out, "<span class=\"{class}\">{}</span>", esc(line));
    }
    out.push_str("</pre>");
    out
}

/// The random tail of a UUIDv7 (its first characters are a timestamp, the same for every id
/// made in the same millisecond range): what people tell ids apart by.
pub fn short_id(id: &uuid::Uuid) -> String {
    let s = id.simple().to_string();
    s[s.len() - 6..].to_string()
}

/// A run as people tell it apart: kind, start time and the id's random tail
/// (`apply 12-06 04:51:07 ·3fa2c1`).
pub fn run_label(kind: &str, started: &chrono::DateTime<chrono::Utc>, id: &uuid::Uuid) -> String {
    format!(
        "{kind} {} ·{}",
        started.format("%m-%d %H:%M:%S"),
        short_id(id)
    )
}

/// A duration in seconds as `850 ms`, `42 s`, `3 m 05 s`, `2 h 04 m`.
pub fn duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("{} m {:02} s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("{} h {:02} m", m / 60, m % 60)
    }
}

pub fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    esc(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

pub fn opt(s: Option<&str>) -> String {
    s.map(esc).unwrap_or_else(|| "—".into())
}

/// The console's icon: the accent colour with an "O".
pub const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#714b67"/><circle cx="16" cy="16" r="8" fill="none" stroke="#fff" stroke-width="4"/></svg>"##;

pub const STYLE: &str = r#"
:root { --fg:#1d2330; --muted:#5d6679; --line:#e4e7ec; --bg:#f8f9fb; --accent:#714b67; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:1.2rem; align-items:center; padding:.6rem 1.2rem; background:var(--accent); color:#fff; }
header .brand { font-weight:700; color:#fff; text-decoration:none; flex:none; }
header nav { display:flex; flex:1; min-width:0; overflow-x:auto; white-space:nowrap; scrollbar-width:thin; }
header nav a { color:#fbf5fa; text-decoration:none; margin-right:.9rem; flex:none; padding:.15rem 0; }
header nav a.active { color:#fff; font-weight:600; border-bottom:2px solid #fff; }
main { padding:1rem 1.4rem 3rem; max-width:1200px; }
.scroll { max-width:100%; overflow-x:auto; margin-bottom:.4rem; }
.scroll:focus { outline:2px solid var(--accent); }
code { overflow-wrap:anywhere; }
td code { overflow-wrap:normal; }
a { color:#175cd3; }
.kv { display:grid; grid-template-columns:max-content 1fr; gap:.25rem 1rem; background:#fff; border:1px solid var(--line); padding:.7rem 1rem; }
.kv dt { color:var(--muted); } .kv dd { margin:0; min-width:0; overflow-wrap:anywhere; }
.failures { border-left:4px solid #b42318; background:#fff; padding:.4rem 1rem; margin:.8rem 0; }
.failures h2 { color:#912018; margin-top:.4rem; }
.actions { display:flex; flex-wrap:wrap; gap:.6rem; }
.actions form, .actions .off { background:#fff; border:1px solid var(--line); padding:.5rem .7rem; }
button { font:inherit; padding:.2rem .7rem; }
button[disabled] { cursor:not-allowed; }
.off { color:var(--muted); }
details > summary { cursor:pointer; color:#175cd3; }
select, input { max-width:100%; font:inherit; }
@media (max-width: 640px) {
  header { padding:.5rem .6rem; gap:.7rem; }
  main { padding:.6rem .6rem 2rem; }
  h1 { font-size:1.2rem; }
  .card { min-width:0; flex:1 1 8rem; }
  .kv { grid-template-columns:1fr; }
  .kv dt { margin-top:.3rem; }
}
h1 { font-size:1.4rem; margin:.3rem 0; }
h2 { font-size:1.1rem; margin-top:1.6rem; }
.sources { color:var(--muted); margin-top:0; overflow-wrap:anywhere; }
.maturity { font-size:.7rem; vertical-align:middle; padding:.1rem .45rem; border-radius:.6rem; border:1px solid var(--line); color:var(--muted); text-transform:uppercase; }
.m-prod { color:#067647; border-color:#067647; } .m-beta { color:#b54708; border-color:#b54708; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:.35rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#f2f4f7; font-weight:600; }
.empty { color:var(--muted); font-style:italic; padding:.6rem; background:#fff; border:1px dashed var(--line); }
.badge { padding:.05rem .45rem; border-radius:.5rem; font-size:.8rem; background:#eaecf0; }
.badge.good { background:#d1fadf; color:#05603a; } .badge.bad { background:#fee4e2; color:#912018; }
.badge.warn { background:#fef0c7; color:#93370d; }
pre { background:#fff; border:1px solid var(--line); padding:.6rem; white-space:pre-wrap; overflow-wrap:anywhere; }
pre.diff .add { color:#05603a; background:#ecfdf3; } pre.diff .del { color:#912018; background:#fef3f2; }
pre.diff .hunk { color:#6941c6; } pre.diff .hdr { color:var(--muted); }
.cards { display:flex; gap:1rem; flex-wrap:wrap; }
.card { background:#fff; border:1px solid var(--line); padding:.7rem 1rem; min-width:11rem; }
.card .n { font-size:1.5rem; font-weight:700; }
form.inline { display:inline; }
form.filters { display:flex; flex-wrap:wrap; gap:.4rem; align-items:center; margin:.5rem 0; }
svg.chart { background:#fff; border:1px solid var(--line); display:block; width:100%; max-width:640px; height:auto; }
figure { margin:.5rem 0 1rem; } figcaption { color:var(--muted); font-size:.85rem; }
.charts { display:grid; grid-template-columns:repeat(auto-fill, minmax(min(100%, 320px), 1fr)); gap:.8rem; }
"#;
