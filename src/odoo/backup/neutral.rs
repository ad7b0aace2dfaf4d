//! Neutralization inside restore and clone: the rules are settled and checked before anything
//! changes (the Odoo source opened, its series compared with the project's and the
//! database's, every installed module found), then the new database is neutralized and
//! post-checked before it can be swapped in.

use super::pg::{facts, ModuleVersion, PgTarget};
use super::{event, BackupError};
use crate::odoo::neutralize::{self, source, NeutralizeError, Rules, RulesChoice, RulesUsed};
use crate::ssot::Ssot;
use crate::store::{Backup, Level, Store};
use serde_json::json;
use sqlx::Connection;
use std::path::PathBuf;
use uuid::Uuid;

/// How a non-production copy is neutralized.
#[derive(Clone, Debug)]
pub(crate) struct Neutralization {
    pub rules: Rules,
    pub addons_paths: Vec<PathBuf>,
}

impl Neutralization {
    /// `Odoo 17.0 at /src (git …)` or `the built-in rules`, for outcomes and events.
    pub fn describe(&self) -> String {
        match &self.rules {
            Rules::Odoo(src) => format!("the scripts of {}", src.describe()),
            Rules::Builtin => "the built-in rules (--builtin-rules)".into(),
        }
    }
}

fn refused(e: NeutralizeError) -> BackupError {
    BackupError::Refused(e.to_string())
}

/// Open the rules named for environment `env`; an Odoo source must be of its project's series.
pub(crate) fn prepare(
    ssot: &Ssot,
    env: &str,
    choice: &RulesChoice,
    addons_paths: &[PathBuf],
) -> Result<Neutralization, BackupError> {
    let rules = choice
        .open()
        .map_err(|e| refused(e.into()))?
        .ok_or_else(|| refused(NeutralizeError::NoOdooSource))?;
    if let Rules::Odoo(src) = &rules {
        let project = ssot
            .environment(env)
            .and_then(|e| ssot.project(&e.spec.project));
        if let Some(p) = project {
            let series = p.spec.odoo.series.as_str();
            if series != src.series {
                return Err(BackupError::Refused(format!(
                    "refused, nothing was changed: project {} runs Odoo {series} (spec.odoo.series) but the Odoo source {} is {}",
                    p.metadata.name,
                    src.path.display(),
                    src.series
                )));
            }
        }
    }
    Ok(Neutralization {
        rules,
        addons_paths: addons_paths.to_vec(),
    })
}

/// Refuse unless every module of a database (its series and installed modules) can be
/// neutralized with these rules.
pub(crate) fn precheck(
    n: &Neutralization,
    odoo_version: Option<&str>,
    modules: &[ModuleVersion],
) -> Result<(), BackupError> {
    let names: Vec<String> = modules.iter().map(|m| m.name.clone()).collect();
    let series = odoo_version.and_then(source::series_of_version);
    neutralize::precheck(Some(&n.rules), &n.addons_paths, series.as_deref(), &names)
        .map(|_| ())
        .map_err(refused)
}

/// [`precheck`] against a backup's manifest.
pub(crate) fn precheck_backup(n: &Neutralization, backup: &Backup) -> Result<(), BackupError> {
    let m = &backup.manifest;
    let modules = m
        .get("modules")
        .cloned()
        .map(serde_json::from_value::<Vec<ModuleVersion>>)
        .and_then(Result::ok)
        .ok_or_else(|| {
            BackupError::Verification(format!(
                "backup {} has no module list in its manifest to check the neutralization against",
                backup.id
            ))
        })?;
    precheck(n, m.get("odoo_version").and_then(|v| v.as_str()), &modules)
}

/// [`precheck`] against a live database (read-only).
pub(crate) async fn precheck_live(n: &Neutralization, db: &PgTarget) -> Result<(), BackupError> {
    let mut conn = db.connect().await?;
    let f = facts(&mut conn, &db.shown()).await;
    let _ = conn.close().await;
    let f = f?;
    precheck(n, f.odoo_version.as_deref(), &f.modules)
}

/// Neutralize the new database (one transaction) and post-check it on a fresh connection;
/// the report is stored as an artifact either way. Returns the report's sha256.
pub(crate) async fn neutralize_fresh(
    store: &Store,
    run_id: Uuid,
    env: &str,
    fresh: &PgTarget,
    n: &Neutralization,
) -> Result<String, BackupError> {
    let mut conn = fresh.connect().await?;
    let opts = neutralize::Options {
        rules: Some(n.rules.clone()),
        addons_paths: n.addons_paths.clone(),
        dry_run: false,
    };
    let report = neutralize::run_on(&mut conn, &opts).await;
    let _ = conn.close().await;
    let report = report.map_err(|e| {
        if e.is_refusal() {
            refused(e)
        } else {
            BackupError::Neutralization(e.to_string())
        }
    })?;
    let mut post = fresh.connect().await?;
    let post_check = neutralize::check_in(&mut post).await;
    let _ = post.close().await;
    let post_check = post_check.map_err(|e| BackupError::Neutralization(e.to_string()))?;
    let doc = json!({"report": report, "post_check": post_check});
    let bytes = serde_json::to_vec_pretty(&doc)
        .map_err(|e| BackupError::Invalid(format!("serializing the neutralization report: {e}")))?;
    let art = store
        .put_artifact(
            &bytes,
            "application/vnd.odooops.neutralize-report+json",
            Some(run_id),
        )
        .await?;
    for w in &report.warnings {
        event(
            store,
            Level::Warn,
            "neutralize",
            env,
            Some(run_id),
            w.clone(),
            json!({}),
        )
        .await;
    }
    // The in-transaction check and the post-check usually agree; each finding once.
    let mut violations: Vec<String> = Vec::new();
    for v in report.violations.iter().chain(post_check.violations.iter()) {
        let s = format!("{} {}: {}", v.kind, v.name, v.detail);
        if !violations.contains(&s) {
            violations.push(s);
        }
    }
    let scripts = report
        .modules
        .iter()
        .filter(|m| matches!(m.source, neutralize::Source::File { .. }))
        .count();
    let (source_path, revision) = match &report.rules {
        RulesUsed::OdooSource(s) => (
            Some(s.path.display().to_string()),
            s.revision.clone().or(Some(s.scripts_sha256.clone())),
        ),
        RulesUsed::Builtin { .. } => (None, None),
    };
    event(
        store,
        if violations.is_empty() { Level::Info } else { Level::Error },
        "neutralize",
        env,
        Some(run_id),
        if violations.is_empty() {
            format!(
                "neutralized with {}: {scripts} script(s), {} row(s) changed, post-check clean ({} checks)",
                n.describe(),
                report.rows_changed,
                post_check.checks.len()
            )
        } else {
            format!("neutralization left {} violation(s)", violations.len())
        },
        json!({"report_sha256": art.sha256, "rows_changed": report.rows_changed, "scripts": scripts,
               "odoo_source": source_path, "revision": revision, "violations": violations}),
    )
    .await;
    if !violations.is_empty() {
        return Err(BackupError::Neutralization(format!(
            "{} (report artifact {})",
            violations.join("; "),
            art.sha256
        )));
    }
    Ok(art.sha256)
}
