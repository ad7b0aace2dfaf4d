//! Overview, environments and drift pages.

use super::*;

// ------------------------------------------------------------------ overview

/// Inline SVG step chart of open drift findings over time.
pub fn drift_chart(series: &[(crate::store::Timestamp, i64)]) -> String {
    let (w, h, pad) = (640.0_f64, 140.0_f64, 24.0_f64);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"open drift findings over time\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    if series.len() < 2 {
        let _ = write!(svg, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#667085\">No drift recorded in the last 30 days</text></svg>", w / 2.0, h / 2.0);
        return svg;
    }
    let t0 = series[0].0.timestamp_millis() as f64;
    let t1 = (series[series.len() - 1].0.timestamp_millis() as f64).max(t0 + 1.0);
    let max = series.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let x = |t: &crate::store::Timestamp| {
        pad + (t.timestamp_millis() as f64 - t0) / (t1 - t0) * (w - 2.0 * pad)
    };
    let y = |n: i64| h - pad - (n as f64 / max) * (h - 2.0 * pad);
    let mut d = format!("M{:.1},{:.1}", x(&series[0].0), y(series[0].1));
    for win in series.windows(2) {
        let _ = write!(d, " H{:.1} V{:.1}", x(&win[1].0), y(win[1].1));
    }
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#e4e7ec\"/>\
         <path d=\"{d}\" fill=\"none\" stroke=\"#714b67\" stroke-width=\"2\"/>\
         <text x=\"{pad}\" y=\"14\" font-size=\"11\" fill=\"#667085\">max {max}</text>\
         <text x=\"{pad}\" y=\"{h1}\" font-size=\"11\" fill=\"#667085\">{start}</text>\
         <text x=\"{r}\" y=\"{h1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#667085\">{end}</text></svg>",
        b = h - pad,
        r = w - pad,
        h1 = h - 6.0,
        start = ts(&series[0].0),
        end = ts(&series[series.len() - 1].0),
    );
    svg
}

pub(super) fn runs_table(p: &mut Page, runs: &[crate::store::Run]) {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                run_link(&r.id),
                esc(&r.kind),
                esc(&r.trigger),
                opt(r.environment.as_deref()),
                badge(&r.status),
                ts(&r.started_at),
                esc(&r.actor),
            ]
        })
        .collect();
    p.table(
        &[
            "Run",
            "Kind",
            "Trigger",
            "Environment",
            "Status",
            "Started",
            "Actor",
        ],
        &rows,
        "No runs recorded yet. Run `odooops plan` or `odooops demo`.",
    );
}

pub(super) async fn overview(State(st): State<AppState>, ctx: Ctx) -> Response {
    let o = match data::overview(&st).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Overview",
        Maturity::Beta,
        &[
            "ssot",
            "ops.runs",
            "ops.drift_findings",
            "ops.gate_results",
            "ops.work_queue",
        ],
    );
    let rate = o
        .gate_pass_rate
        .map_or("—".to_string(), |r| format!("{:.0}%", r * 100.0));
    p.raw(&format!(
        "<div class=\"cards\"><div class=\"card\"><div class=\"n\">{}</div>open drift findings</div>\
         <div class=\"card\"><div class=\"n\">{}</div>gate pass rate</div>\
         <div class=\"card\"><div class=\"n\">{}</div>jobs queued</div>\
         <div class=\"card\"><div class=\"n\">{}</div>environments</div></div>",
        o.open_drift,
        esc(&rate),
        o.queue_depth,
        o.environments.len()
    ));
    p.h2("Health per environment");
    let rows: Vec<Vec<String>> = o
        .environments
        .iter()
        .map(|e| {
            vec![
                env_link(&e.name),
                esc(&e.stage),
                esc(&e.branch),
                badge(&e.health),
                e.open_drift.to_string(),
                e.last_run.as_ref().map_or("—".into(), |r| {
                    format!("{} {}", run_link(&r.id), badge(&r.status))
                }),
            ]
        })
        .collect();
    p.table(
        &[
            "Environment",
            "Stage",
            "Branch",
            "Health",
            "Open drift",
            "Last run",
        ],
        &rows,
        "No environments: the SSOT defines none (or none was loaded).",
    );
    p.h2("Drift over time (30 days)");
    p.raw(&drift_chart(&o.drift_series));
    p.h2("Last runs");
    runs_table(&mut p, &o.last_runs);
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
                esc(&e.maturity),
                badge(&e.health),
                e.open_drift.to_string(),
            ]
        })
        .collect();
    p.table(
        &[
            "Name",
            "Project",
            "Stage",
            "Branch",
            "Maturity",
            "Health",
            "Open drift",
        ],
        &rows,
        "No environments in the SSOT.",
    );
    respond(&ctx, &p)
}

pub async fn environment(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
) -> Response {
    let d = match data::environment(&st, &name).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        format!("Environment {}", d.name),
        Maturity::Beta,
        &["ssot", "ops.backups", "ops.gate_runs", "ops.drift_findings"],
    );
    if let Some(h) = &d.health {
        p.raw(&format!(
            "<p>Health: {} · stage {} · branch <code>{}</code></p>",
            badge(&h.health),
            esc(&h.stage),
            esc(&h.branch)
        ));
    }
    p.h2("Desired settings (SSOT)");
    let pretty = serde_json::to_string_pretty(&d.desired).unwrap_or_default();
    p.raw(&format!("<pre>{}</pre>", esc(&pretty)));
    p.h2("Last backup");
    match &d.last_backup {
        Some(b) => p.raw(&format!(
            "<p>{} · {} · {} bytes · {}</p>",
            ts(&b.created_at),
            esc(&b.kind),
            b.size_bytes,
            artifact_link(&b.sha256)
        )),
        None => p.empty("No backup recorded for this environment."),
    };
    p.h2("Gates");
    let rows: Vec<Vec<String>> = d
        .gate_runs
        .iter()
        .map(|g| {
            vec![
                format!("<code>{}</code>", &g.id.to_string()[..8]),
                badge(&g.status),
                ts(&g.started_at),
            ]
        })
        .collect();
    p.table(
        &["Gate run", "Status", "Started"],
        &rows,
        "No gate runs for this environment.",
    );
    p.h2("Open drift");
    drift_table(&mut p, &d.open_drift);
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
pub struct EnvQ {
    environment: Option<String>,
}

pub(super) async fn drift(
    State(st): State<AppState>,
    ctx: Ctx,
    q: Result<Query<EnvQ>, QueryRejection>,
) -> Response {
    let env = q
        .ok()
        .and_then(|Query(q)| q.environment)
        .filter(|e| !e.is_empty());
    let d = match data::drift(&st, env.as_deref(), None).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Drift", Maturity::Beta, &["ops.drift_findings"]);
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
    respond(&ctx, &p)
}
