//! The PostgreSQL adapter: a server reached by URL (local, DigitalOcean managed, or Supabase in
//! session mode — never the transaction pooler, which breaks Odoo's prepared statements and
//! LISTEN/NOTIFY). Lists databases, roles and extensions; creates a database or role when
//! missing (idempotent, identifiers quoted); counts a database's tables and sequences the way
//! Odoo.sh's 10,000-object limit does. The gates and the backups share this code.
//!
//! Queries are built at run time (no `query!` macros), so the crate builds offline.

use crate::store::redact_url;
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Row};
use std::str::FromStr;
use std::time::Duration;

/// PostgreSQL's identifier length limit (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "invalid PostgreSQL URL {0}: expected postgres://user[:password]@host[:port]/database"
    )]
    InvalidUrl(String),
    #[error("connecting to {url}: {source} (check the URL, the network path and the credentials)")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("query on {url} failed: {source}")]
    Query {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("invalid identifier {0:?}: expected 1–63 bytes without NUL")]
    InvalidIdentifier(String),
}

pub type Result<T, E = PgError> = std::result::Result<T, E>;

/// Quote an identifier for SQL (`"name"`, inner `"` doubled). Refuses empty, NUL-bearing and
/// over-long names rather than letting the server truncate them.
pub fn quote_ident(name: &str) -> Result<String> {
    if name.is_empty() || name.len() > MAX_IDENTIFIER_BYTES || name.contains('\0') {
        return Err(PgError::InvalidIdentifier(name.to_string()));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// Quote a string literal (`'value'`, inner `'` doubled; standard_conforming_strings is on
/// since PostgreSQL 9.1). For the few statements that take no bind parameters (DDL).
pub fn quote_literal(value: &str) -> Result<String> {
    if value.contains('\0') {
        return Err(PgError::InvalidIdentifier("<literal with NUL>".to_string()));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

/// Parse a `postgres://` / `postgresql://` URL (any other scheme is refused).
pub fn parse_url(url: &str) -> Result<PgConnectOptions> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(PgError::InvalidUrl(redact_url(url)));
    }
    PgConnectOptions::from_str(url).map_err(|_| PgError::InvalidUrl(redact_url(url)))
}

/// `url` with its database replaced by `database`.
pub fn url_for_database(url: &str, database: &str) -> Result<PgConnectOptions> {
    Ok(parse_url(url)?.database(database))
}

/// Tables and sequences of one database (Odoo.sh counts both against one limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectCount {
    pub tables: u64,
    pub sequences: u64,
    pub total: u64,
}

/// An installed extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Extension {
    pub name: String,
    pub version: String,
}

/// Whether an `ensure_*` call created the object or found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ensured {
    Created,
    Exists,
}

/// A PostgreSQL server (one small pool on the URL's database, usually `postgres`).
#[derive(Clone, Debug)]
pub struct PgServer {
    pool: PgPool,
    url: String,
}

const OBJECT_COUNT_SQL: &str = "SELECT
    count(*) FILTER (WHERE c.relkind IN ('r', 'p'))::bigint AS tables,
    count(*) FILTER (WHERE c.relkind = 'S')::bigint AS sequences
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'S')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND n.nspname NOT LIKE 'pg_temp_%'
   AND n.nspname NOT LIKE 'pg_toast_temp_%'";

async fn pool_for(opts: PgConnectOptions, shown: &str) -> Result<PgPool> {
    // One direct connection first: a refused or rejected connection fails at once with the
    // server's reason, instead of the pool retrying until its acquire timeout.
    let probe = opts.connect().await.map_err(|source| PgError::Connect {
        url: shown.to_string(),
        source,
    })?;
    let _ = probe.close().await;
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(15))
        .connect_with(opts)
        .await
        .map_err(|source| PgError::Connect {
            url: shown.to_string(),
            source,
        })
}

/// Open a pool on a database URL (used by the gates to reach an environment's database).
pub async fn connect_database(url: &str) -> Result<PgPool> {
    pool_for(parse_url(url)?, &redact_url(url)).await
}

/// Count tables (relkind `r`, `p`) and sequences (`S`) outside the system schemas.
pub async fn object_count_on(pool: &PgPool, shown: &str) -> Result<ObjectCount> {
    let row = sqlx::query(OBJECT_COUNT_SQL)
        .fetch_one(pool)
        .await
        .map_err(|source| PgError::Query {
            url: shown.to_string(),
            source,
        })?;
    let tables: i64 = row.try_get("tables").map_err(|source| PgError::Query {
        url: shown.to_string(),
        source,
    })?;
    let sequences: i64 = row.try_get("sequences").map_err(|source| PgError::Query {
        url: shown.to_string(),
        source,
    })?;
    let (tables, sequences) = (tables.max(0) as u64, sequences.max(0) as u64);
    Ok(ObjectCount {
        tables,
        sequences,
        total: tables + sequences,
    })
}

/// Count the objects of the database at `db_url`.
pub async fn object_count(db_url: &str) -> Result<ObjectCount> {
    let pool = connect_database(db_url).await?;
    let out = object_count_on(&pool, &redact_url(db_url)).await;
    pool.close().await;
    out
}

impl PgServer {
    pub async fn connect(url: &str) -> Result<PgServer> {
        let shown = redact_url(url);
        let pool = pool_for(parse_url(url)?, &shown).await?;
        Ok(PgServer { pool, url: shown })
    }

    /// The URL, password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn q(&self, source: sqlx::Error) -> PgError {
        PgError::Query {
            url: self.url.clone(),
            source,
        }
    }

    async fn names(&self, sql: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.q(e))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(|e| self.q(e)))
            .collect()
    }

    /// Databases that accept connections (templates excluded), sorted.
    pub async fn list_databases(&self) -> Result<Vec<String>> {
        self.names(
            "SELECT datname::text FROM pg_catalog.pg_database WHERE NOT datistemplate ORDER BY 1",
        )
        .await
    }

    /// Roles, the built-in `pg_*` ones excluded, sorted.
    pub async fn list_roles(&self) -> Result<Vec<String>> {
        self.names("SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY 1")
            .await
    }

    /// Extensions installed in the connected database, sorted by name.
    pub async fn list_extensions(&self) -> Result<Vec<Extension>> {
        let rows = sqlx::query(
            "SELECT extname::text AS name, extversion::text AS version FROM pg_catalog.pg_extension ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.q(e))?;
        rows.iter()
            .map(|r| {
                Ok(Extension {
                    name: r.try_get("name").map_err(|e| self.q(e))?,
                    version: r.try_get("version").map_err(|e| self.q(e))?,
                })
            })
            .collect()
    }

    async fn exists(&self, sql: &str, name: &str) -> Result<bool> {
        let row = sqlx::query(sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.q(e))?;
        Ok(row.is_some())
    }

    pub async fn database_exists(&self, name: &str) -> Result<bool> {
        self.exists(
            "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
            name,
        )
        .await
    }

    pub async fn role_exists(&self, name: &str) -> Result<bool> {
        self.exists("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", name)
            .await
    }

    /// Create the database unless it exists (a concurrent creator is tolerated).
    pub async fn ensure_database(&self, name: &str, owner: Option<&str>) -> Result<Ensured> {
        let mut sql = format!("CREATE DATABASE {}", quote_ident(name)?);
        if let Some(o) = owner {
            sql.push_str(&format!(" OWNER {}", quote_ident(o)?));
        }
        if self.database_exists(name).await? {
            return Ok(Ensured::Exists);
        }
        self.ddl_tolerating(&sql, "42P04").await
    }

    /// Create a role unless it exists. `login` adds LOGIN; a password is set only on creation
    /// (rotation is a separate, explicit step).
    pub async fn ensure_role(
        &self,
        name: &str,
        login: bool,
        password: Option<&str>,
    ) -> Result<Ensured> {
        let mut sql = format!("CREATE ROLE {}", quote_ident(name)?);
        if login {
            sql.push_str(" LOGIN");
        }
        if let Some(p) = password {
            sql.push_str(&format!(" PASSWORD {}", quote_literal(p)?));
        }
        if self.role_exists(name).await? {
            return Ok(Ensured::Exists);
        }
        self.ddl_tolerating(&sql, "42710").await
    }

    /// Drop a database if it exists, terminating its sessions (PostgreSQL 13+).
    pub async fn drop_database(&self, name: &str) -> Result<()> {
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)?
        );
        sqlx::raw_sql(&sql)
            .execute(&self.pool)
            .await
            .map_err(|e| self.q(e))?;
        Ok(())
    }

    /// Drop a role if it exists.
    pub async fn drop_role(&self, name: &str) -> Result<()> {
        let sql = format!("DROP ROLE IF EXISTS {}", quote_ident(name)?);
        sqlx::raw_sql(&sql)
            .execute(&self.pool)
            .await
            .map_err(|e| self.q(e))?;
        Ok(())
    }

    /// Run DDL; a "duplicate" error with `sqlstate` means someone else created it first.
    async fn ddl_tolerating(&self, sql: &str, sqlstate: &str) -> Result<Ensured> {
        match sqlx::raw_sql(sql).execute(&self.pool).await {
            Ok(_) => Ok(Ensured::Created),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(sqlstate) => {
                Ok(Ensured::Exists)
            }
            Err(e) => Err(self.q(e)),
        }
    }

    /// Count the objects of database `name` on this server.
    pub async fn object_count_of(&self, url: &str, name: &str) -> Result<ObjectCount> {
        let opts = url_for_database(url, name)?;
        let shown = format!("{}#{name}", self.url);
        let pool = pool_for(opts, &shown).await?;
        let out = object_count_on(&pool, &shown).await;
        pool.close().await;
        out
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_checked() {
        assert_eq!(quote_ident("acme").ok().as_deref(), Some("\"acme\""));
        assert_eq!(
            quote_ident("a\"b; DROP").ok().as_deref(),
            Some("\"a\"\"b; DROP\"")
        );
        assert!(quote_ident("").is_err());
        assert!(quote_ident(&"x".repeat(64)).is_err());
        assert!(quote_ident("a\0b").is_err());
        assert_eq!(quote_literal("it's").ok().as_deref(), Some("'it''s'"));
    }

    #[test]
    fn database_is_swapped_in_the_url() {
        let o =
            url_for_database("postgres://u:p@h:5433/postgres?sslmode=disable", "x").expect("url");
        assert_eq!(o.get_database(), Some("x"));
        assert_eq!(o.get_port(), 5433);
        assert!(url_for_database("mysql://nope", "x").is_err());
    }
}
