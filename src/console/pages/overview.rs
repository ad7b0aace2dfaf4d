//! Overview, environments and drift pages.

use super::*;
use crate::console::charts;
use crate::console::views::{self, BoardQuery};

// ------------------------------------------------------------------ overview

fn select(name: &str, label: &str, options: &[String], current: Option<&str>) -> String {
    let mut out = format!(
        "<label for=\"f-{name}\">{label}</label><select id=\"f-{name}\" name=\"{name}\"><option value=\"\">all</option>"
    );
    for o in options {
        let sel = if current == Some(o.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option value=\"{0}\"{sel}>{0}</option>", esc(o));
    }
    out.push_str("</select>");
    out
}

pub(super) async fn overview(
    State(st): State<AppState>,
    ctx: Ctx,
    q: Result<Query<BoardQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    // The overview's environment health feeds the board (read once).
    let mut o = match data::overview(&st).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let b = match views::board(&st, &q, std::mem::take(&mut o.environments)).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Overview",
        Maturity::Beta,
        &[
            "ssot",
            "ops.releases",
            "ops.runs",
            "ops.drift_findings",
            "ops.gate_results",
            "ops.work_queue",
        ],
    );
    let failing = b.rows.iter().filter(|r| r.failing).count();
    let drifted = b.rows.iter().filter(|r| r.env.open_drift > 0).count();
    let deployed = b.rows.iter().filter(|r| r.serving.is_some()).count();
    let rate = o
        .gate_pass_rate
        .map_or("—".to_string(), |r| format!("{:.0}%", r * 100.0));
    p.raw(&format!(
        "<div class=\"cards\"><div class=\"card\"><div class=\"n\">{failing}</div>failing environments</div>\
         <div class=\"card\"><div class=\"n\">{drifted}</div>drifted ({} open findings)</div>\
         <div class=\"card\"><div class=\"n\">{deployed}/{}</div>serving a release</div>\
         <div class=\"card\"><div class=\"n\">{}</div>gate pass rate</div>\
         <div class=\"card\"><div class=\"n\">{}</div>jobs queued</div></div>",
        o.open_drift,
        b.total,
        esc(&rate),
        o.queue_depth,
    ));
    super::runs::failures_box(&mut p, &b.failed_runs, &b.failed_jobs);
    p.h2("What is deployed where");
    p.raw(&format!(
        "<form class=\"filters\" method=\"get\" action=\"/\">{}{}<label for=\"f-q\">Name</label>\
         <input id=\"f-q\" name=\"q\" value=\"{}\"> <button type=\"submit\">Filter</button></form>",
        select("project", "Project", &b.projects, q.project.as_deref()),
        select("client", "Client", &b.clients, q.client.as_deref()),
        esc(q.q.as_deref().unwrap_or(""))
    ));
    let rows: Vec<Vec<String>> = b
        .rows
        .iter()
        .map(|r| {
            let release = match (&r.serving, &r.latest_release) {
                (Some(s), Some(l)) if l.id != s.id => format!(
                    "<code>{}</code> (latest {} {})",
                    esc(&s.commit_sha.chars().take(10).collect::<String>()),
                    badge(&l.status),
                    esc(&l.commit_sha.chars().take(10).collect::<String>())
                ),
                (Some(s), _) => format!(
                    "<code>{}</code> {}",
                    esc(&s.commit_sha.chars().take(10).collect::<String>()),
                    ts(&s.started_at)
                ),
                (None, Some(l)) => format!(
                    "{} <code>{}</code>",
                    badge(&l.status),
                    esc(&l.commit_sha.chars().take(10).collect::<String>())
                ),
                (None, None) => "—".into(),
            };
            vec![
                env_link(&r.env.name),
                esc(&r.client),
                esc(&r.env.stage),
                badge(if r.failing { "failed" } else { &r.env.health }),
                release,
                r.env.open_drift.to_string(),
                r.env.last_run.as_ref().map_or("—".into(), |l| {
                    format!("{} {}", run_ref(l), badge(&l.status))
                }),
            ]
        })
        .collect();
    p.table(
        &[
            "Environment",
            "Client",
            "Stage",
            "Health",
            "Deployed commit",
            "Open drift",
            "Last run",
        ],
        &rows,
        if b.total == 0 {
            "No environments: the SSOT defines none (or none was loaded)."
        } else {
            "No environment matches the filter."
        },
    );
    p.raw(&format!(
        "<p>{} of {} environments, failures first.</p>",
        b.rows.len(),
        b.total
    ));
    let any_drift = o.drift_series.iter().any(|p| p.1 > 0) || o.drift_series.len() > 2;
    if let (Some(from), Some(to), true) = (o.drift_series.first(), o.drift_series.last(), any_drift)
    {
        p.h2("Open drift, last 30 days");
        p.raw(&format!(
            "<figure>{}<figcaption>{} · <a href=\"/drift\">per environment and resolved drift</a></figcaption></figure>",
            charts::step_chart("open drift findings, last 30 days", &from.0, &to.0, &o.drift_series),
            esc(&charts::range_caption(&from.0, &to.0))
        ));
    }
    p.h2("Last runs");
    super::runs::runs_table(
        &mut p,
        &o.last_runs,
        "No runs recorded yet. Run `odooops plan` or `odooops demo`.",
    );
    respond(&ctx, &p)
}

// ------------------------------------------------------------------ environments

pub(super) async fn environments(State(st): State<AppState>, ctx: Ctx) -> Response {
    let envs = match data::environment_list(&st).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Environments",
        Maturity::Beta,
        &["ssot", "ops.runs", "ops.drift_findings"],
    );
    let rows: Vec<Vec<String>> = envs
        .iter()
        .map(|e| {
            vec![
                env_link(&e.name),
                esc(&e.project),
                esc(&e.stage),
                esc(&e.branch),
                badge(&e.health),
                e.open_drift.to_string(),
                e.last_run.as_ref().map_or("—".into(), |l| {
                    format!("{} {}", run_ref(l), badge(&l.status))
                }),
            ]
        })
        .collect();
    p.table(
        &[
            "Name",
            "Project",
            "Stage",
            "Branch",
            "Health",
            "Open drift",
            "Last run",
        ],
        &rows,
        "No environments in the SSOT.",
    );
    respond(&ctx, &p)
}

pub(super) fn drift_table(p: &mut Page, findings: &[crate::store::DriftFinding]) {
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            vec![
                env_link(&f.environment),
                esc(&format!("{}/{}", f.resource_kind, f.resource_name)),
                format!("<code>{}</code>", esc(&f.field_path)),
                json_cell(&f.desired),
                json_cell(&f.observed),
                ts(&f.first_seen),
                f.last_run_id.as_ref().map_or("—".into(), run_link),
            ]
        })
        .collect();
    p.table(
        &[
            "Environment",
            "Resource",
            "Field",
            "Desired",
            "Observed",
            "First seen",
            "Last run",
        ],
        &rows,
        "No open drift: live state matches the SSOT.",
    );
}

// ------------------------------------------------------------------ drift

#[derive(serde::Deserialize, Default)]
pub struct DriftQ {
    environment: Option<String>,
    days: Option<String>,
}

/// How many environments get a chart of their own on the drift page.
const CHARTED: usize = 12;

pub(super) async fn drift(
    State(st): State<AppState>,
    ctx: Ctx,
    q: Result<Query<DriftQ>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let env = q.environment.filter(|e| !e.is_empty());
    let mut p = Page::new("Drift", Maturity::Beta, &["ops.drift_findings"]);
    let days = match crate::console::api::parse_int(
        "days",
        q.days.as_deref().filter(|d| !d.is_empty()),
        views::DRIFT_DAYS,
        views::MAX_DAYS,
    ) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let (d, h) = match futures::try_join!(
        data::drift(&st, env.as_deref(), None),
        views::drift_history(&st, env.as_deref(), days)
    ) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mut filter = String::from(
        "<form class=\"filters\" method=\"get\" action=\"/drift\"><label for=\"d-env\">Environment</label>\
         <select id=\"d-env\" name=\"environment\"><option value=\"\">all</option>",
    );
    for e in data::environments(&st) {
        let sel = if env.as_deref() == Some(e.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(filter, "<option value=\"{0}\"{sel}>{0}</option>", esc(&e));
    }
    filter.push_str(
        "</select><label for=\"d-days\">Days</label><select id=\"d-days\" name=\"days\">",
    );
    for n in [1, 7, 30, 90, 365] {
        let sel = if n == h.days { " selected" } else { "" };
        let _ = write!(filter, "<option value=\"{n}\"{sel}>{n}</option>");
    }
    filter.push_str("</select> <button type=\"submit\">Show</button></form>");
    p.raw(&filter);
    let range = charts::range_caption(&h.from, &h.to);
    let scope = env.as_deref().unwrap_or("all environments");
    p.h2(&format!(
        "Open drift over the last {} days ({scope})",
        h.days
    ));
    if h.spans.is_empty() {
        // A stable empty state (a chart's axes would name the current time).
        p.empty(&format!(
            "No drift was open in the last {} days ({scope}).",
            h.days
        ));
    } else {
        p.raw(&format!(
            "<figure>{}<figcaption>{}</figcaption></figure>",
            charts::step_chart(
                &format!("open drift findings of {scope}, last {} days", h.days),
                &h.from,
                &h.to,
                &charts::open_series(&h.spans, h.from, h.to)
            ),
            esc(&range)
        ));
    }
    if env.is_none() && !d.by_environment.is_empty() {
        let mut most: Vec<&crate::store::DriftCount> = d.by_environment.iter().collect();
        most.sort_by(|a, b| b.open.cmp(&a.open).then(a.environment.cmp(&b.environment)));
        p.h2(&format!(
            "Per environment (the {} with most open findings)",
            most.len().min(CHARTED)
        ));
        p.raw("<div class=\"charts\">");
        for c in most.into_iter().take(CHARTED) {
            let spans: Vec<crate::store::DriftSpan> = h
                .spans
                .iter()
                .filter(|s| s.environment == c.environment)
                .cloned()
                .collect();
            p.raw(&format!(
                "<figure>{}<figcaption><a href=\"/drift?environment={}&amp;days={}\">{}</a>: {} open</figcaption></figure>",
                charts::step_chart(
                    &format!("open drift findings of {}", c.environment),
                    &h.from,
                    &h.to,
                    &charts::open_series(&spans, h.from, h.to)
                ),
                url_enc(&c.environment),
                h.days,
                esc(&c.environment),
                c.open
            ));
        }
        p.raw("</div>");
    }
    p.h2("Open findings by environment");
    let rows: Vec<Vec<String>> = d
        .by_environment
        .iter()
        .map(|c| {
            vec![
                format!(
                    "<a href=\"/drift?environment={}\">{}</a>",
                    url_enc(&c.environment),
                    esc(&c.environment)
                ),
                c.open.to_string(),
            ]
        })
        .collect();
    p.table(&["Environment", "Open"], &rows, "No open drift.");
    p.h2("By field");
    let rows: Vec<Vec<String>> = d
        .by_field
        .iter()
        .map(|c| {
            vec![
                c.environment
                    .as_deref()
                    .map_or("all environments".into(), esc),
                format!("<code>{}</code>", esc(&c.field_path)),
                c.open.to_string(),
            ]
        })
        .collect();
    p.table(&["Environment", "Field", "Open"], &rows, "No open drift.");
    p.h2(&match &env {
        Some(e) => format!("Open findings in {e}"),
        None => "Open findings".into(),
    });
    drift_table(&mut p, &d.open);
    p.h2(&format!("Resolved drift, last {} days", h.days));
    let times: Vec<crate::store::Timestamp> =
        h.resolved.iter().filter_map(|f| f.resolved_at).collect();
    if !times.is_empty() {
        p.raw(&format!(
            "<figure>{}<figcaption>Findings resolved per day ({})</figcaption></figure>",
            charts::daily_bars("drift findings resolved per day", &h.from, &h.to, &times),
            esc(&range)
        ));
    }
    let rows: Vec<Vec<String>> = h
        .resolved
        .iter()
        .take(100)
        .map(|f| {
            vec![
                env_link(&f.environment),
                esc(&format!("{}/{}", f.resource_kind, f.resource_name)),
                format!("<code>{}</code>", esc(&f.field_path)),
                ts(&f.first_seen),
                f.resolved_at.as_ref().map_or("—".into(), ts),
                opt(f.resolved_by.as_deref()),
                f.last_run_id.as_ref().map_or("—".into(), run_link),
            ]
        })
        .collect();
    p.table(
        &[
            "Environment",
            "Resource",
            "Field",
            "First seen",
            "Resolved",
            "Resolved by",
            "Last run",
        ],
        &rows,
        "No drift was resolved in this range.",
    );
    respond(&ctx, &p)
}
