//! Gates, backups, modules, secrets, events, inventory and settings pages.

use super::*;

// ------------------------------------------------------------------ gates, backups, modules, secrets

pub(super) async fn gates(State(st): State<AppState>, ctx: Ctx) -> Response {
    let g = match data::gates(&st).await {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Gates",
        Maturity::Beta,
        &["ssot", "ops.gate_runs", "ops.gate_results"],
    );
    p.h2("Defined gates");
    let rows: Vec<Vec<String>> = g
        .defined
        .iter()
        .map(|d| {
            vec![
                esc(&d.name),
                esc(&d.gate_type),
                esc(&d.severity),
                format!("<code>{}</code>", esc(&d.params.to_string())),
            ]
        })
        .collect();
    p.table(
        &["Gate", "Type", "Severity", "Params"],
        &rows,
        "No gates defined in the SSOT.",
    );
    p.h2("Recent results");
    tables::gate_results(
        &mut p,
        &g.results,
        tables::Across::Every,
        "No gate results recorded yet.",
    );
    respond(&ctx, &p)
}

pub(super) async fn backups(State(st): State<AppState>, ctx: Ctx) -> Response {
    let b = match data::backups(&st).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Backups",
        Maturity::Beta,
        &["ssot", "ops.backups", "ops.artifacts"],
    );
    p.h2("Policies");
    let rows: Vec<Vec<String>> = b
        .policies
        .iter()
        .map(|v| {
            vec![
                esc(v["metadata"]["name"].as_str().unwrap_or("")),
                esc(v["spec"]["environment"].as_str().unwrap_or("")),
                format!(
                    "<code>{}</code>",
                    esc(v["spec"]["schedule"].as_str().unwrap_or(""))
                ),
            ]
        })
        .collect();
    p.table(
        &["Policy", "Environment", "Schedule"],
        &rows,
        "No backup policies in the SSOT.",
    );
    p.h2("Backups");
    // The environments this reader may act on (restore into, clone from and into).
    let operable: Vec<String> = data::environments(&st)
        .into_iter()
        .filter(|e| may_operate(&ctx, Some(e)))
        .collect();
    let operable_options = env_options(&operable, None);
    // A restore needs the operator role on the backup's environment and the target's.
    let restore = |k: &crate::store::Backup| {
        if may_operate(&ctx, Some(&k.environment)) && !operable.is_empty() {
            action_form_html(
                &ctx,
                "restore",
                &format!(
                    "<input type=\"hidden\" name=\"backup_id\" value=\"{}\">\
                     <select name=\"environment\" aria-label=\"restore into\">{}</select>",
                    k.id, operable_options
                ),
                "restore",
            )
        } else {
            "—".into()
        }
    };
    tables::backups(
        &mut p,
        &b.backups,
        tables::Across::Every,
        Some(&restore),
        "No backups recorded yet.",
    );
    p.h2("Clone an environment");
    let targets: Vec<String> = operable
        .iter()
        .filter(|e| !crate::console::api::is_production(&st, e))
        .cloned()
        .collect();
    if !targets.is_empty() {
        p.raw(&action_form_html(
            &ctx,
            "clone",
            &format!(
                "<select name=\"from\" aria-label=\"clone from\">{}</select> → \
                 <select name=\"environment\" aria-label=\"clone into\">{}</select>",
                operable_options,
                env_options(&targets, None)
            ),
            "clone",
        ));
        p.para("A clone copies the source's database and filestore into the target and neutralizes it; production is never a clone target.");
    } else {
        p.raw(NEED_OPERATOR);
    }
    respond(&ctx, &p)
}

pub(super) async fn modules(State(st): State<AppState>, ctx: Ctx) -> Response {
    let mut p = Page::new(
        "Modules",
        Maturity::Scaffold,
        &["ssot (Environment.modules, ModuleSet waves)"],
    );
    let envs = data::modules(&st);
    if envs.is_empty() {
        p.empty("No environments in the SSOT.");
    }
    for e in &envs {
        p.h2(&e.environment);
        let install = if e.install.is_empty() {
            "none besides the module set's".to_string()
        } else {
            format!("<code>{}</code>", esc(&e.install.join(", ")))
        };
        p.raw(&format!(
            "<p>Module set: {} · core policy: {} · extra modules to install: {install}</p>",
            opt(e.module_set.as_deref()),
            opt(e.core_policy.as_deref()),
        ));
        let rows: Vec<Vec<String>> = e
            .waves
            .iter()
            .map(|w| {
                vec![
                    w.wave.to_string(),
                    opt(w.name.as_deref()),
                    format!("<code>{}</code>", esc(&w.modules.join(", "))),
                ]
            })
            .collect();
        p.table(
            &["Wave", "Name", "Allowed modules"],
            &rows,
            "No module set: only the modules listed under install.",
        );
    }
    respond(&ctx, &p)
}

pub(super) async fn secrets(State(st): State<AppState>, ctx: Ctx) -> Response {
    let s = match data::secrets(&st).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Secrets",
        Maturity::Beta,
        &[
            "ssot (SecretRegistry)",
            "process environment (presence only)",
            "ops.secret_sync_runs",
        ],
    );
    p.para("Presence only: whether the variable is set in this console's environment. Values are never shown.");
    let rows: Vec<Vec<String>> = s
        .keys
        .iter()
        .map(|k| {
            vec![
                format!("<code>{}</code>", esc(&k.name)),
                esc(&k.source),
                esc(&k.required_by.join(", ")),
                badge(if k.present { "present" } else { "missing" }),
            ]
        })
        .collect();
    p.table(
        &["Key", "Source", "Required by", "Present"],
        &rows,
        "No secret registry keys in the SSOT.",
    );
    p.h2("Sync runs");
    let rows: Vec<Vec<String>> = s
        .syncs
        .iter()
        .map(|r| {
            vec![
                esc(&r.target),
                opt(r.environment.as_deref()),
                badge(&r.outcome),
                esc(&r.pushed_keys.to_string()),
                ts(&r.created_at),
            ]
        })
        .collect();
    p.table(
        &["Target", "Environment", "Outcome", "Pushed keys", "At"],
        &rows,
        "No secret sync recorded yet.",
    );
    respond(&ctx, &p)
}

// ------------------------------------------------------------------ events, inventory, settings

pub(super) async fn events(
    State(st): State<AppState>,
    ctx: Ctx,
    q: Result<Query<EventQuery>, QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    let mut p = Page::new("Events", Maturity::Beta, &["ops.run_events"]);
    let v = |o: &Option<String>| esc(o.as_deref().unwrap_or(""));
    let mut levels = String::from("<option value=\"\">any level</option>");
    for l in crate::store::Level::ALL {
        let sel = if q.level.as_deref() == Some(l.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            levels,
            "<option value=\"{0}\"{sel}>{0}+</option>",
            l.as_str()
        );
    }
    p.raw(&format!(
        "<form class=\"filters\" method=\"get\" action=\"/events\">\
         <input name=\"environment\" aria-label=\"environment\" placeholder=\"environment\" value=\"{}\">\
         <select name=\"level\" aria-label=\"minimum level\">{levels}</select>\
         <input name=\"correlation_id\" aria-label=\"correlation id\" placeholder=\"correlation id\" value=\"{}\">\
         <input name=\"since\" aria-label=\"since (RFC 3339)\" placeholder=\"since (RFC 3339)\" value=\"{}\">\
         <button type=\"submit\">Filter</button></form>",
        v(&q.environment),
        v(&q.correlation_id),
        v(&q.since)
    ));
    match data::events(&st, &q).await {
        Ok(evs) => events_table(&mut p, &evs),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            p.raw(&format!("<p class=\"empty\">{}</p>", esc(&e.message)));
        }
        Err(e) => return fail(e),
    }
    respond(&ctx, &p)
}

pub(super) async fn inventory(State(st): State<AppState>, ctx: Ctx) -> Response {
    let inv = match data::inventory(&st).await {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Inventory",
        Maturity::Scaffold,
        &["ops.inventory (latest ingest)"],
    );
    let rows: Vec<Vec<String>> = inv
        .iter()
        .map(|o| {
            vec![
                esc(&o.provider),
                esc(&o.object_type),
                format!("<code>{}</code>", esc(&o.object_id)),
                opt(o.name.as_deref()),
                opt(o.environment.as_deref()),
                badge(if o.owned { "owned" } else { "foreign" }),
                ts(&o.observed_at),
            ]
        })
        .collect();
    p.table(
        &[
            "Provider",
            "Type",
            "Id",
            "Name",
            "Environment",
            "Ownership",
            "Observed",
        ],
        &rows,
        "No inventory ingested yet. Run `odooops inventory`.",
    );
    respond(&ctx, &p)
}

pub(super) async fn settings(State(st): State<AppState>, ctx: Ctx) -> Response {
    let s = match data::settings(&st).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Settings",
        Maturity::Scaffold,
        &[
            "console configuration",
            "ssot (Project.console)",
            "ops.webhook_deliveries",
        ],
    );
    let yes = |b: bool| if b { "yes" } else { "no" };
    let rows = vec![
        vec!["Version".into(), esc(s.version)],
        vec!["Listening on".into(), esc(&s.listen)],
        vec!["Started".into(), ts(&s.started_at)],
        vec![
            "Evidence store".into(),
            format!(
                "{} <code>{}</code>",
                esc(&format!("{:?}", s.store_backend)),
                esc(&s.store_location)
            ),
        ],
        vec![
            "Artifacts".into(),
            format!("<code>{}</code>", esc(&s.artifacts)),
        ],
        vec!["SSOT revision".into(), opt(s.ssot_revision.as_deref())],
        vec!["Public read".into(), yes(s.public_read).into()],
        vec![
            "Tokens".into(),
            format!("{} viewer, {} operator", s.viewer_tokens, s.operator_tokens),
        ],
        vec![
            "Token keys not set".into(),
            esc(&s.missing_token_keys.join(", ")),
        ],
        vec![
            "GitHub webhook".into(),
            yes(s.github_webhook_configured).into(),
        ],
        vec![
            "Plane webhook".into(),
            yes(s.plane_webhook_configured).into(),
        ],
        vec!["Signed in as".into(), esc(ctx.role.as_str())],
    ];
    p.table(&["Setting", "Value"], &rows, "");
    p.h2("Recent webhook deliveries");
    let rows: Vec<Vec<String>> = s
        .recent_webhooks
        .iter()
        .map(|d| {
            vec![
                format!("<code>{}</code>", esc(&d.delivery_id)),
                esc(&d.source),
                badge(if d.processed { "done" } else { "pending" }),
                ts(&d.received_at),
            ]
        })
        .collect();
    p.table(
        &["Delivery", "Source", "Processed", "Received"],
        &rows,
        "No webhook deliveries yet.",
    );
    if ctx.role > Role::Anonymous {
        p.raw(&format!("<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Sign out</button></form>", esc(&ctx.csrf)));
    }
    respond(&ctx, &p)
}
