//! A throw-away PostgreSQL database shaped like Odoo's (`tests/fixtures/odoo_fixture.sql`),
//! reusable by neutralization, backup and restore tests.
//!
//! The server comes from `ODOOOPS_TEST_DATABASE_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it is unset the test prints a note and
//! is skipped — unless `CI=true`, where a missing database is a failure.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;

pub const FIXTURE_SQL: &str = include_str!("../fixtures/odoo_fixture.sql");

/// The admin URL, or `None` (with a printed note) when tests should skip.
pub fn test_database_url(test: &str) -> Option<String> {
    match std::env::var("ODOOOPS_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: ODOOOPS_TEST_DATABASE_URL is not set and CI=true: PostgreSQL tests must run in CI");
            }
            eprintln!("note: {test} skipped: set ODOOOPS_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run it");
            None
        }
    }
}

/// Replace the database name of a PostgreSQL URL (query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

pub struct OdooFixture {
    pub name: String,
    /// URL of the fixture database.
    pub url: String,
    pub pool: PgPool,
    admin_url: String,
}

impl OdooFixture {
    /// Create `odooops_odoo_<uuid>` and load the fixture. `None` when skipping.
    pub async fn create(test: &str) -> Option<OdooFixture> {
        let admin_url = test_database_url(test)?;
        let name = format!("odooops_odoo_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnectOptions::from_str(&admin_url)
            .expect("ODOOOPS_TEST_DATABASE_URL parses")
            .connect()
            .await
            .expect("connect to ODOOOPS_TEST_DATABASE_URL");
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("create fixture database");
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        let pool = PgPoolOptions::new()
            .max_connections(3)
            .connect(&url)
            .await
            .expect("connect to fixture database");
        sqlx::raw_sql(FIXTURE_SQL)
            .execute(&pool)
            .await
            .expect("load tests/fixtures/odoo_fixture.sql");
        Some(OdooFixture {
            name,
            url,
            pool,
            admin_url,
        })
    }

    /// Run SQL on the fixture (test setup).
    pub async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .expect("fixture SQL");
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .expect("scalar query")
    }

    pub async fn scalar_text(&self, sql: &str) -> Option<String> {
        sqlx::query_scalar::<_, Option<String>>(sql)
            .fetch_optional(&self.pool)
            .await
            .expect("text query")
            .flatten()
    }

    /// A fingerprint of every fixture table, to prove "nothing changed".
    pub async fn snapshot(&self) -> String {
        let tables = [
            "ir_module_module",
            "ir_model_data",
            "ir_act_server",
            "ir_cron",
            "ir_mail_server",
            "fetchmail_server",
            "ir_config_parameter",
            "payment_provider",
            "delivery_carrier",
            "iap_account",
            "website",
            "mail_template",
        ];
        let mut out = String::new();
        for t in tables {
            let rows: Option<String> = sqlx::query_scalar(&format!(
                "SELECT string_agg(t::text, E'\\n' ORDER BY t.id) FROM {t} t"
            ))
            .fetch_one(&self.pool)
            .await
            .expect("snapshot");
            out.push_str(&format!("== {t}\n{}\n", rows.unwrap_or_default()));
        }
        out
    }

    /// Drop the database (forcefully: pools elsewhere may still hold connections).
    pub async fn drop_db(self) {
        self.pool.close().await;
        if let Ok(mut admin) = PgConnectOptions::from_str(&self.admin_url)
            .expect("url parses")
            .connect()
            .await
        {
            let _ = sqlx::raw_sql(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
            admin.close().await.ok();
        }
    }
}
