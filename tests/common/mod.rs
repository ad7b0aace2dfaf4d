//! Test helper: every store test runs against both backends. SQLite in a temporary directory;
//! PostgreSQL in a fresh database `odooops_test_<uuid>` on the server named by
//! ODOOOPS_TEST_DATABASE_URL (skipped with a message when unset, a failure under CI=true).
#![allow(dead_code)]

mod logs;
#[allow(unused_imports)]
pub use logs::*;

use odooops::store::Store;
use sqlx::Connection;
use tempfile::TempDir;

pub struct Backend {
    pub name: &'static str,
    pub store: Store,
    pub url: String,
    pub dir: TempDir,
    pg_db: Option<(String, String)>,
}

impl Backend {
    /// Close the pool and drop the PostgreSQL test database.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, db)) = self.pg_db {
            drop_pg_db(&admin, &db).await;
        }
    }
}

/// The PostgreSQL server to test against, or None (after saying so) when not configured.
pub fn pg_admin_url() -> Option<String> {
    match std::env::var("ODOOOPS_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but ODOOOPS_TEST_DATABASE_URL is not set: PostgreSQL store tests must run in CI");
            }
            eprintln!(
                "SKIPPED PostgreSQL backend: set ODOOOPS_TEST_DATABASE_URL=postgres://… to run it"
            );
            None
        }
    }
}

/// `postgres://u@h:5432/postgres?x=y` with database `db`.
pub fn with_database(admin: &str, db: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut url = format!("{}/{}", &base[..authority_end], db);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Create an empty database; returns its URL and name.
pub async fn fresh_pg_db(admin: &str) -> (String, String) {
    let name = format!("odooops_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("connect to ODOOOPS_TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    let _ = conn.close().await;
    (with_database(admin, &name), name)
}

pub async fn drop_pg_db(admin: &str, db: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("ops.db").display());
    let store = Store::open(Some(&url), dir.path())
        .await
        .expect("open sqlite store");
    Backend {
        name: "sqlite",
        store,
        url,
        dir,
        pg_db: None,
    }
}

pub async fn postgres(admin: &str) -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, name) = fresh_pg_db(admin).await;
    let store = Store::open(Some(&url), dir.path())
        .await
        .expect("open postgres store");
    Backend {
        name: "postgres",
        store,
        url,
        dir,
        pg_db: Some((admin.to_string(), name)),
    }
}

/// Both backends (SQLite always; PostgreSQL when configured).
pub async fn backends() -> Vec<Backend> {
    let mut v = vec![sqlite().await];
    if let Some(admin) = pg_admin_url() {
        v.push(postgres(&admin).await);
    }
    v
}
