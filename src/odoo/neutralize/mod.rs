//! Database neutralization with `odoo-bin neutralize` semantics: for every module installed,
//! to upgrade or to remove in `ir_module_module`, run its `data/neutralize.sql` from the addons
//! paths — or, for core modules whose sources are not at hand, the built-in [`rules`] — all in
//! ONE transaction, then [`verify`] the result in the same transaction. A dry run rolls back
//! and reports what would have changed.
//!
//! Order: `base` first, then the other modules alphabetically (Odoo's query has no order; base
//! first lets an addon's script refine what base did).

pub mod rules;
mod verify;

pub use verify::{is_real_host, verify, verify_in, verify_url, Violation};

use rules::Columns;
use serde::Serialize;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Connection, Row};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
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
}

/// Where a module's neutralization came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The module's own `data/neutralize.sql`, found in the addons paths.
    File { path: String },
    /// OdooOps's built-in rules for a core module.
    Builtin,
    /// Nothing known: a module without a script (verify catches what it leaves behind).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementResult {
    pub description: String,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleStep {
    pub module: String,
    pub state: String,
    pub source: Source,
    pub statements: Vec<StatementResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeutralizeReport {
    pub database: String,
    pub dry_run: bool,
    /// True when the changes were committed (never on a dry run).
    pub committed: bool,
    pub modules: Vec<ModuleStep>,
    pub rows_changed: u64,
    /// Post-check inside the same transaction; empty means neutralized.
    pub violations: Vec<Violation>,
}

impl NeutralizeReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// How to neutralize.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub addons_paths: Vec<PathBuf>,
    pub dry_run: bool,
    /// Skip the built-in rules (only modules' own scripts run). For tests and experts: the
    /// verification then shows what the scripts alone leave behind.
    pub no_builtin: bool,
}

/// Connect to `url` (one connection, failing fast when the server is unreachable) and
/// neutralize (see [`run_on`]).
pub async fn run(
    url: &str,
    addons_paths: &[PathBuf],
    dry_run: bool,
) -> Result<NeutralizeReport, NeutralizeError> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(NeutralizeError::Connect)?;
    let opts = Options {
        addons_paths: addons_paths.to_vec(),
        dry_run,
        no_builtin: false,
    };
    let r = run_on(&mut conn, &opts).await;
    let _ = conn.close().await;
    r
}

/// Neutralize through a connection of an existing pool.
pub async fn run_with(pool: &PgPool, opts: &Options) -> Result<NeutralizeReport, NeutralizeError> {
    let mut conn = pool.acquire().await?;
    run_on(&mut conn, opts).await
}

/// Neutralize on one connection: one transaction, verified before commit or rollback.
pub async fn run_on(
    conn: &mut PgConnection,
    opts: &Options,
) -> Result<NeutralizeReport, NeutralizeError> {
    let mut tx = conn.begin().await?;
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *tx)
        .await?;
    let cols = columns(&mut tx).await?;
    if !cols.has("ir_module_module", &["name", "state"]) {
        return Err(NeutralizeError::NotOdoo);
    }
    let mut modules: Vec<(String, String)> = sqlx::query(
        "SELECT name::text AS name, state::text AS state FROM ir_module_module \
         WHERE state IN ('installed', 'to upgrade', 'to remove')",
    )
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get::<String, _>("name")?,
            r.try_get::<String, _>("state")?,
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    modules.sort_by(|a, b| (a.0 != "base", &a.0).cmp(&(b.0 != "base", &b.0)));

    let mut steps = Vec::new();
    let mut total = 0u64;
    for (module, state) in modules {
        let script = script_path(&opts.addons_paths, &module);
        let builtin = if opts.no_builtin {
            None
        } else {
            rules::builtin(&module, &cols)
        };
        let (source, statements) = match (script, builtin) {
            (Some(path), _) => {
                let shown = path.display().to_string();
                let sql =
                    std::fs::read_to_string(&path).map_err(|error| NeutralizeError::Read {
                        path: shown.clone(),
                        error,
                    })?;
                let done = sqlx::raw_sql(&sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| NeutralizeError::Statement {
                        module: module.clone(),
                        source_name: shown.clone(),
                        error,
                    })?;
                let rows = done.rows_affected();
                (
                    Source::File { path: shown },
                    vec![StatementResult {
                        description: "data/neutralize.sql".to_string(),
                        rows,
                    }],
                )
            }
            (None, Some(stmts)) => {
                let mut results = Vec::new();
                for s in stmts {
                    let done = sqlx::query(&s.sql)
                        .execute(&mut *tx)
                        .await
                        .map_err(|error| NeutralizeError::Statement {
                            module: module.clone(),
                            source_name: format!("built-in rule `{}`", s.description),
                            error,
                        })?;
                    results.push(StatementResult {
                        description: s.description,
                        rows: done.rows_affected(),
                    });
                }
                (Source::Builtin, results)
            }
            (None, None) => (Source::None, Vec::new()),
        };
        total += statements.iter().map(|s| s.rows).sum::<u64>();
        steps.push(ModuleStep {
            module,
            state,
            source,
            statements,
        });
    }
    let violations = verify_in(&mut tx).await?;
    let committed = if opts.dry_run {
        tx.rollback().await?;
        false
    } else {
        tx.commit().await?;
        true
    };
    Ok(NeutralizeReport {
        database,
        dry_run: opts.dry_run,
        committed,
        modules: steps,
        rows_changed: total,
        violations,
    })
}

/// `<addon>/data/neutralize.sql` in the first addons path holding the addon.
pub fn script_path(paths: &[PathBuf], module: &str) -> Option<PathBuf> {
    super::graph::find_in_paths(paths, module, Path::new("data/neutralize.sql"))
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
