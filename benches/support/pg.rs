//! A scratch PostgreSQL database for a benchmark: created on the server named by
//! ODOOOPS_BENCH_DATABASE_URL (else ODOOOPS_TEST_DATABASE_URL), dropped by `drop`.

use sqlx::Connection;

pub struct ScratchDb {
    pub url: String,
    name: String,
    admin: sqlx::PgConnection,
}

impl ScratchDb {
    /// `None` (after saying so) when no server is configured.
    pub async fn create(prefix: &str) -> Option<ScratchDb> {
        let admin = std::env::var("ODOOOPS_BENCH_DATABASE_URL")
            .or_else(|_| std::env::var("ODOOOPS_TEST_DATABASE_URL"))
            .ok()
            .filter(|u| !u.is_empty());
        let Some(admin) = admin else {
            println!(
                "PostgreSQL skipped: set ODOOOPS_BENCH_DATABASE_URL or ODOOOPS_TEST_DATABASE_URL"
            );
            return None;
        };
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect admin");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create db");
        let base = admin.split('?').next().unwrap_or(&admin);
        let cut = base
            .rfind('/')
            .filter(|i| *i > base.find("://").map(|j| j + 2).unwrap_or(0))
            .unwrap_or(base.len());
        let url = format!("{}/{name}", &base[..cut]);
        Some(ScratchDb {
            url,
            name,
            admin: conn,
        })
    }

    pub async fn drop(mut self) {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut self.admin)
            .await
            .expect("drop db");
    }
}
