//! The environment page, after Odoo.sh's branch view: where Odoo answers and what it runs,
//! the release history with each deploy's log and modules, live resources, drift, backups,
//! gates, jobs and runs, and the operator actions (each queued, answering with its job).

use super::*;
use crate::console::charts;
use crate::console::views::{self, EnvPage};
use crate::store::Release;

fn modules_cell(v: &serde_json::Value) -> String {
    let names: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_str()).collect())
        .unwrap_or_default();
    if names.is_empty() {
        return "—".into();
    }
    let shown: Vec<String> = names.iter().take(8).map(|m| esc(m)).collect();
    let more = if names.len() > 8 {
        format!(" +{} more", names.len() - 8)
    } else {
        String::new()
    };
    format!("<code>{}</code>{more}", shown.join(", "))
}

fn short_sha(s: &str) -> String {
    format!(
        "<code title=\"{}\">{}</code>",
        esc(s),
        esc(&s.chars().take(10).collect::<String>())
    )
}

/// Releases: status, commit, Odoo revision, modules, duration, log, backup, run.
pub(super) fn releases_table(p: &mut Page, releases: &[Release], with_env: bool) {
    let rows: Vec<Vec<String>> = releases
        .iter()
        .map(|r| {
            let mut row = vec![
                ts(&r.started_at),
                badge(&r.status),
                short_sha(&r.commit_sha),
                short_sha(&r.odoo_revision),
                modules_cell(&r.modules_updated),
                modules_cell(&r.modules_installed),
                views::duration_secs(&r.started_at, &r.finished_at)
                    .map_or("running".into(), duration),
                r.log_sha256
                    .as_deref()
                    .map_or("—".into(), |l| format!("log {}", artifact_link(l))),
                r.backup_id.as_ref().map_or("—".into(), backup_link),
                r.run_id.as_ref().map_or("—".into(), run_link),
                opt(r.error.as_deref()),
            ];
            if with_env {
                row.insert(1, env_link(&r.environment));
            }
            row
        })
        .collect();
    let mut headers = vec![
        "Started",
        "Status",
        "Commit",
        "Odoo",
        "Updated modules",
        "Installed modules",
        "Took",
        "Deploy log",
        "Pre-update backup",
        "Run",
        "Error",
    ];
    if with_env {
        headers.insert(1, "Environment");
    }
    p.table(&headers, &rows, "No release recorded yet.");
}

fn summary(p: &mut Page, v: &EnvPage) {
    let url = v
        .url
        .as_deref()
        .map_or("— (no release and no domain yet)".into(), |u| {
            if u.starts_with("https://") || u.starts_with("http://") {
                format!("<a href=\"{0}\" rel=\"noopener\">{0}</a>", esc(u))
            } else {
                esc(u)
            }
        });
    let health = v.health.as_ref().map_or("—".into(), |h| badge(&h.health));
    let (commit, odoo, since) = match &v.serving {
        Some(r) => (
            short_sha(&r.commit_sha),
            short_sha(&r.odoo_revision),
            format!("since {}", ts(&r.finished_at.unwrap_or(r.started_at))),
        ),
        None => ("—".into(), "—".into(), "no healthy release".into()),
    };
    let last = v
        .health
        .as_ref()
        .and_then(|h| h.last_run.as_ref())
        .map_or("—".into(), |r| {
            format!("{} {}", run_ref(r), badge(&r.status))
        });
    p.raw(&format!(
        "<dl class=\"kv\"><dt>URL</dt><dd>{url}</dd><dt>Health</dt><dd>{health}</dd>\
         <dt>Deployed commit</dt><dd>{commit} ({since})</dd><dt>Odoo revision</dt><dd>{odoo}</dd>\
         <dt>Branch</dt><dd><code>{}</code></dd><dt>Stage</dt><dd>{}</dd>\
         <dt>Project</dt><dd>{} · client {}</dd><dt>Last run</dt><dd>{last}</dd>\
         <dt>Mail</dt><dd>{}</dd></dl>",
        esc(&v.branch),
        esc(&v.stage),
        esc(&v.project),
        esc(&v.client),
        v.mail_catcher.as_deref().map_or_else(
            || "real outgoing mail (production)".to_string(),
            |m| format!("mail catcher: <code>{}</code>", esc(m))
        ),
    ));
}

fn actions(p: &mut Page, ctx: &Ctx, v: &EnvPage) {
    let env_field = format!(
        "<input type=\"hidden\" name=\"environment\" value=\"{}\">",
        esc(&v.name)
    );
    let name = Some(v.name.as_str());
    let mut out = String::from("<div class=\"actions\">");
    out.push_str(&action_or_signin(
        ctx,
        name,
        "apply",
        &env_field,
        "Deploy / sync",
        "deploy",
    ));
    out.push_str(&action_or_signin(
        ctx,
        name,
        "backup",
        &env_field,
        "Back up now",
        "back up",
    ));
    out.push_str(&action_or_signin(
        ctx,
        name,
        "gates",
        &env_field,
        "Re-run gates",
        "run the gates",
    ));
    if let (Some(src), false) = (&v.production_source, v.production) {
        let fields = format!(
            "{env_field}<input type=\"hidden\" name=\"from\" value=\"{}\">",
            esc(src)
        );
        out.push_str(&action_or_signin(
            ctx,
            name,
            "clone",
            &fields,
            &format!("Clone from {src}"),
            "clone from production",
        ));
    }
    if !v.backups.is_empty() {
        let fields = format!(
            "{env_field}<label>backup <select name=\"backup_id\">{}</select></label>",
            v.backups
                .iter()
                .map(|k| format!(
                    "<option value=\"{}\">{} ·{}</option>",
                    k.id,
                    ts(&k.created_at),
                    short_id(&k.id)
                ))
                .collect::<String>()
        );
        out.push_str(&action_or_signin(
            ctx,
            name,
            "restore",
            &fields,
            "Restore",
            "restore a backup",
        ));
    }
    out.push_str("</div>");
    p.raw(&out);
}

pub async fn environment(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
) -> Response {
    let v = match views::environment(&st, &name).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        format!("Environment {}", v.name),
        Maturity::Beta,
        &[
            "ssot",
            "ops.releases",
            "ops.managed_objects",
            "ops.inventory",
            "ops.drift_findings",
            "ops.backups",
            "ops.gate_results",
            "ops.work_queue",
            "ops.runs",
        ],
    );
    summary(&mut p, &v);
    p.h2("Actions");
    actions(&mut p, &ctx, &v);

    if v.release_total > v.releases.len() as i64 {
        p.h2(&format!(
            "Releases ({} newest of {})",
            v.releases.len(),
            v.release_total
        ));
    } else {
        p.h2("Releases");
    }
    releases_table(&mut p, &v.releases, false);
    if !v.deploys.is_empty() {
        let deploys: Vec<charts::Deploy> = v
            .deploys
            .iter()
            .map(|(at, seconds, ok)| charts::Deploy {
                at: *at,
                seconds: *seconds,
                ok: *ok,
            })
            .collect();
        let from = deploys
            .iter()
            .map(|d| d.at)
            .min()
            .unwrap_or_else(crate::store::now);
        let to = crate::store::now();
        p.raw(&format!(
            "<figure>{}<figcaption>Deploy durations, last {} deploys ({})</figcaption></figure>",
            charts::duration_chart("deploy durations over time", &from, &to, &deploys),
            deploys.len(),
            esc(&charts::range_caption(&from, &to))
        ));
    }

    p.h2("Live resources");
    let rows: Vec<Vec<String>> = v
        .resources
        .iter()
        .map(|r| {
            let state = if r.drifted_fields > 0 {
                let n = r.drifted_fields;
                format!(
                    "{} ({n} field{})",
                    badge(&r.state),
                    if n == 1 { "" } else { "s" }
                )
            } else {
                badge(&r.state)
            };
            vec![
                esc(&r.kind),
                esc(&r.name),
                match (&r.provider_id, &r.address) {
                    (Some(id), Some(a)) => format!("<code>{}</code> · {}", esc(id), esc(a)),
                    (Some(id), None) => format!("<code>{}</code>", esc(id)),
                    (None, _) => "—".into(),
                },
                state,
                r.recorded_at.as_ref().map_or("—".into(), ts),
            ]
        })
        .collect();
    p.table(
        &["Kind", "Name", "Provider id · address", "State", "Recorded"],
        &rows,
        "This environment declares no provider object.",
    );
    if !v.inventory.is_empty() {
        let rows: Vec<Vec<String>> = v
            .inventory
            .iter()
            .map(|o| {
                vec![
                    esc(&o.provider),
                    esc(&o.object_type),
                    format!("<code>{}</code>", esc(&o.object_id)),
                    opt(o.name.as_deref()),
                    badge(o.attributes["status"].as_str().unwrap_or(if o.owned {
                        "owned"
                    } else {
                        "foreign"
                    })),
                    ts(&o.observed_at),
                ]
            })
            .collect();
        p.raw("<h3>Observed at the providers (latest inventory)</h3>");
        p.table(
            &["Provider", "Type", "Id", "Name", "State", "Observed"],
            &rows,
            "",
        );
    }

    p.h2("Drift");
    let to = crate::store::now();
    let from = to - chrono::Duration::days(views::DRIFT_DAYS);
    if v.drift_spans.is_empty() {
        p.empty(&format!(
            "No drift was open in the last {} days.",
            views::DRIFT_DAYS
        ));
    } else {
        p.raw(&format!(
            "<figure>{}<figcaption>Open findings, last {} days ({}) · <a href=\"/drift?environment={}\">drift history</a></figcaption></figure>",
            charts::step_chart(
                &format!("open drift findings of {}", v.name),
                &from,
                &to,
                &charts::open_series(&v.drift_spans, from, to)
            ),
            views::DRIFT_DAYS,
            esc(&charts::range_caption(&from, &to)),
            url_enc(&v.name)
        ));
    }
    super::overview::drift_table(&mut p, &v.open_drift);

    p.h2("Backups");
    let rows: Vec<Vec<String>> = v
        .policies
        .iter()
        .map(|b| {
            vec![
                esc(&b.name),
                format!("<code>{}</code>", esc(&b.schedule)),
                b.next_run
                    .as_ref()
                    .map_or("— (schedule does not parse)".into(), ts),
                format!(
                    "{} daily · {} weekly · {} monthly · {} manual",
                    b.daily, b.weekly, b.monthly, b.manual_keep
                ),
                if b.include_filestore { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    p.table(
        &[
            "Policy",
            "Schedule (UTC)",
            "Next run",
            "Retention",
            "Filestore",
        ],
        &rows,
        "No backup policy: this environment is only backed up on demand.",
    );
    tables::backups(
        &mut p,
        &v.backups,
        tables::Across::One,
        None,
        "No backup recorded for this environment.",
    );

    p.h2("Gates");
    tables::gate_results(
        &mut p,
        &v.gate_results,
        tables::Across::One,
        "No gate results for this environment.",
    );

    p.h2("Jobs");
    super::chain::jobs_table(&mut p, &v.jobs, "No job queued for this environment.");
    p.h2("Runs");
    super::runs::runs_table(&mut p, &v.runs, "No runs for this environment yet.");
    respond(&ctx, &p)
}
