//! Database neutralization exactly as `odoo-bin neutralize` does it: for every module
//! installed, to upgrade or to remove in `ir_module_module`, run its `data/neutralize.sql` from
//! the Odoo source the database belongs to ([`OdooSource`]: its `odoo/addons` and `addons`
//! folders, then the project's addons paths) — all in ONE transaction — then run the
//! post-check ([`check_in`]) in the same transaction, before commit or rollback. A dry run
//! rolls back and reports what would have changed.
//!
//! Refuse rather than guess: with no rules chosen, an Odoo source of another series, or an
//! installed module found nowhere, nothing runs (see [`NeutralizeError`]). The built-in rules
//! ([`rules`], from the [`catalog`]) run only when asked for ([`Rules::Builtin`]), and the
//! report says so.
//!
//! Order: `base` first, then the other modules alphabetically (Odoo's query has no order; base
//! first lets an addon's script refine what base did).

pub mod catalog;
pub mod rules;
pub mod source;
mod verify;
mod verify_payment;

pub use source::{Missing, OdooSource, Planned, Rules, RulesChoice, SourceError, SOURCE_VAR};
pub use verify::{
    check_in, check_url, is_real_host, verify, verify_in, verify_url, CheckResult, Outcome,
    PostCheck, Violation,
};

use rules::Columns;
use serde::Serialize;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Connection, Row};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum NeutralizeError {
    #[error("cannot connect to the database: {0} (check the Odoo database URL)")]
    Connect(#[source] sqlx::Error),
    #[error("{0}")]
    Database(#[from] sqlx::Error),
    #[error("not an Odoo database: table ir_module_module is missing")]
    NotOdoo,
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("module {module}: {source_name} failed: {error} (the transaction was rolled back; nothing changed)")]
    Statement {
        module: String,
        source_name: String,
        error: sqlx::Error,
    },
    #[error("refused, nothing was changed: no Odoo source is known for this database. Pass --odoo-src DIR (the Odoo source the database runs on: the folder holding odoo-bin) or set ODOOOPS_ODOO_SRC; --builtin-rules runs OdooOps's built-in rules instead of Odoo's own scripts")]
    NoOdooSource,
    #[error("refused, nothing was changed: {0}")]
    Source(#[from] SourceError),
    #[error("refused, nothing was changed: the database is Odoo {database} but the Odoo source is {source_series} ({path}); pass the source of the database's series")]
    SeriesMismatch {
        database: String,
        source_series: String,
        path: String,
    },
    #[error("refused, nothing was changed: cannot tell the database's Odoo series (module base has no version in ir_module_module)")]
    UnknownSeries,
    #[error("refused, nothing was changed: {count} installed module(s) were found neither in the Odoo source nor in the addons paths ({searched}) — {missing}. Add the folders holding them to --addons-path, or pass --builtin-rules to fall back to the built-in rules")]
    ModulesNotFound {
        count: usize,
        searched: String,
        missing: Missing,
    },
}

impl NeutralizeError {
    /// A refusal: nothing was run, nothing changed.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            NeutralizeError::NoOdooSource
                | NeutralizeError::Source(_)
                | NeutralizeError::SeriesMismatch { .. }
                | NeutralizeError::UnknownSeries
                | NeutralizeError::ModulesNotFound { .. }
        )
    }
}

/// Where a module's neutralization came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The module's own `data/neutralize.sql`.
    File { path: String, sha256: String },
    /// OdooOps's built-in rules (`--builtin-rules`).
    Builtin,
    /// The module was found and ships no script.
    NoScript,
    /// Found nowhere (`--builtin-rules` only: otherwise a refusal).
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementResult {
    pub description: String,
    pub rows: u64,
    /// Why a built-in statement did not run (the schema lacks its table or column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleStep {
    pub module: String,
    pub state: String,
    pub source: Source,
    pub statements: Vec<StatementResult>,
}

/// The rules that ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RulesUsed {
    /// The Odoo source's own scripts.
    OdooSource(OdooSource),
    /// The built-in rules, describing Odoo `catalog_series`.
    Builtin { catalog_series: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeutralizeReport {
    pub database: String,
    /// The series of the database's `base` module (e.g. `17.0`).
    pub database_series: Option<String>,
    pub dry_run: bool,
    /// True when the changes were committed (never on a dry run).
    pub committed: bool,
    pub rules: RulesUsed,
    /// The folders searched for scripts, in order.
    pub search_path: Vec<String>,
    pub modules: Vec<ModuleStep>,
    pub rows_changed: u64,
    /// Said loudly by every caller (the command line on stderr, clone and restore as
    /// events): the built-in rules in use, modules they left alone, a series mismatch.
    pub warnings: Vec<String>,
    /// Every post-check with its outcome (inside the same transaction).
    pub checks: Vec<CheckResult>,
    /// Empty means neutralized.
    pub violations: Vec<Violation>,
}

impl NeutralizeReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
    /// The post-check part of the report.
    pub fn post_check(&self) -> PostCheck {
        PostCheck {
            checks: self.checks.clone(),
            violations: self.violations.clone(),
        }
    }
}

/// How to neutralize.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The Odoo source's scripts, or the built-in rules; `None` (no source known) is refused.
    pub rules: Option<Rules>,
    /// The project's addons paths, searched after Odoo's own folders.
    pub addons_paths: Vec<PathBuf>,
    pub dry_run: bool,
}

/// Connect to `url` (one connection, failing fast when the server is unreachable) and
/// neutralize (see [`run_on`]).
pub async fn run(url: &str, opts: &Options) -> Result<NeutralizeReport, NeutralizeError> {
    if opts.rules.is_none() {
        return Err(NeutralizeError::NoOdooSource);
    }
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(NeutralizeError::Connect)?;
    let r = run_on(&mut conn, opts).await;
    let _ = conn.close().await;
    r
}

/// Neutralize through a connection of an existing pool.
pub async fn run_with(pool: &PgPool, opts: &Options) -> Result<NeutralizeReport, NeutralizeError> {
    if opts.rules.is_none() {
        return Err(NeutralizeError::NoOdooSource);
    }
    let mut conn = pool.acquire().await?;
    run_on(&mut conn, opts).await
}

/// Check, before anything runs, that `rules` can neutralize a database of `database_series`
/// with these installed `modules`; returns the plan (one entry per module, same order).
pub fn precheck(
    rules: Option<&Rules>,
    addons_paths: &[PathBuf],
    database_series: Option<&str>,
    modules: &[String],
) -> Result<Vec<Planned>, NeutralizeError> {
    let rules = rules.ok_or(NeutralizeError::NoOdooSource)?;
    if let Rules::Odoo(src) = rules {
        let db = database_series.ok_or(NeutralizeError::UnknownSeries)?;
        if db != src.series {
            return Err(NeutralizeError::SeriesMismatch {
                database: db.to_string(),
                source_series: src.series.clone(),
                path: src.path.display().to_string(),
            });
        }
    }
    source::plan(rules, addons_paths, modules).map_err(|missing| NeutralizeError::ModulesNotFound {
        count: missing.with_script.len() + missing.unknown.len(),
        searched: source::search_path(rules, addons_paths)
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        missing,
    })
}

/// The database's modules to neutralize (base first) and its series.
async fn installed(
    conn: &mut PgConnection,
) -> Result<(Vec<(String, String)>, Option<String>), NeutralizeError> {
    let mut modules: Vec<(String, String)> = sqlx::query(
        "SELECT name::text AS name, state::text AS state FROM ir_module_module \
         WHERE state IN ('installed', 'to upgrade', 'to remove')",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("name")?, r.try_get("state")?)))
    .collect::<Result<_, sqlx::Error>>()?;
    modules.sort_by(|a, b| (a.0 != "base", &a.0).cmp(&(b.0 != "base", &b.0)));
    let version: Option<String> =
        sqlx::query_scalar("SELECT latest_version::text FROM ir_module_module WHERE name = 'base'")
            .fetch_optional(&mut *conn)
            .await?
            .flatten();
    Ok((
        modules,
        version.as_deref().and_then(source::series_of_version),
    ))
}

/// Neutralize on one connection: refuse or plan first, then one transaction, post-checked
/// before commit or rollback.
pub async fn run_on(
    conn: &mut PgConnection,
    opts: &Options,
) -> Result<NeutralizeReport, NeutralizeError> {
    let rules = opts.rules.as_ref().ok_or(NeutralizeError::NoOdooSource)?;
    let mut tx = conn.begin().await?;
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *tx)
        .await?;
    let cols = columns(&mut tx).await?;
    if !cols.has("ir_module_module", &["name", "state"]) {
        return Err(NeutralizeError::NotOdoo);
    }
    let (modules, database_series) = installed(&mut tx).await?;
    let names: Vec<String> = modules.iter().map(|(n, _)| n.clone()).collect();
    let plan = precheck(
        Some(rules),
        &opts.addons_paths,
        database_series.as_deref(),
        &names,
    )?;
    let mut warnings = Vec::new();
    if *rules == Rules::Builtin {
        warnings.push(format!(
            "--builtin-rules: OdooOps's built-in rules (written for Odoo {}) ran instead of the Odoo source's own scripts; modules newer than them are not neutralized — only the post-check stands guard",
            catalog::SERIES
        ));
        if database_series.as_deref() != Some(catalog::SERIES) {
            warnings.push(format!(
                "the database is Odoo {}, the built-in rules describe {}",
                database_series.as_deref().unwrap_or("(unknown)"),
                catalog::SERIES
            ));
        }
        let lost: Vec<&str> = names
            .iter()
            .zip(&plan)
            .filter(|(_, p)| **p == Planned::NotFound)
            .map(|(n, _)| n.as_str())
            .collect();
        if !lost.is_empty() {
            warnings.push(format!(
                "{} module(s) without a built-in rule and not found in the addons paths, so not neutralized (a script they ship cannot run): {}",
                lost.len(),
                lost.join(", ")
            ));
        }
    }

    let mut steps = Vec::new();
    let mut total = 0u64;
    for ((module, state), planned) in modules.into_iter().zip(plan) {
        let (source, statements) = match planned {
            Planned::Script(path) => {
                let shown = path.display().to_string();
                let bytes = std::fs::read(&path).map_err(|error| NeutralizeError::Read {
                    path: shown.clone(),
                    error,
                })?;
                let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                let sql = String::from_utf8_lossy(&bytes);
                let done = sqlx::raw_sql(sql.trim())
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| NeutralizeError::Statement {
                        module: module.clone(),
                        source_name: shown.clone(),
                        error,
                    })?;
                (
                    Source::File {
                        path: shown,
                        sha256,
                    },
                    vec![StatementResult {
                        description: source::SCRIPT.to_string(),
                        rows: done.rows_affected(),
                        skipped: None,
                    }],
                )
            }
            Planned::Builtin => {
                let mut results = Vec::new();
                for s in rules::builtin(&module, &cols).unwrap_or_default() {
                    let rows = if s.skipped.is_some() {
                        0
                    } else {
                        sqlx::raw_sql(&s.sql)
                            .execute(&mut *tx)
                            .await
                            .map_err(|error| NeutralizeError::Statement {
                                module: module.clone(),
                                source_name: format!("built-in rule `{}`", s.description),
                                error,
                            })?
                            .rows_affected()
                    };
                    results.push(StatementResult {
                        description: s.description,
                        rows,
                        skipped: s.skipped,
                    });
                }
                (Source::Builtin, results)
            }
            Planned::NoScript => (Source::NoScript, Vec::new()),
            Planned::NotFound => (Source::NotFound, Vec::new()),
        };
        total += statements.iter().map(|s| s.rows).sum::<u64>();
        steps.push(ModuleStep {
            module,
            state,
            source,
            statements,
        });
    }
    let post = check_in(&mut tx).await?;
    let committed = if opts.dry_run {
        tx.rollback().await?;
        false
    } else {
        tx.commit().await?;
        true
    };
    Ok(NeutralizeReport {
        database,
        database_series,
        dry_run: opts.dry_run,
        committed,
        search_path: source::search_path(rules, &opts.addons_paths)
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        rules: match rules {
            Rules::Odoo(src) => RulesUsed::OdooSource(src.clone()),
            Rules::Builtin => RulesUsed::Builtin {
                catalog_series: catalog::SERIES.to_string(),
            },
        },
        modules: steps,
        rows_changed: total,
        warnings,
        checks: post.checks,
        violations: post.violations,
    })
}

/// Columns of every table in the current schema.
pub(crate) async fn columns(conn: &mut PgConnection) -> Result<Columns, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut map: HashMap<String, HashSet<String>> = HashMap::new();
    for r in rows {
        let t: String = r.try_get("t")?;
        let c: String = r.try_get("c")?;
        map.entry(t).or_default().insert(c);
    }
    Ok(Columns(map))
}
