//! The post-check: a neutralized database has no active mail server pointing at a real host,
//! no active cron but `base.autovacuum_job`, no enabled payment provider, and carries the
//! `database.is_neutralized` flag. New modules sometimes ship without a neutralize script; this
//! is what catches them.

use super::{columns, NeutralizeError};
use serde::Serialize;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Connection, Row};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// `mail_server`, `cron`, `payment_provider` or `flag`.
    pub kind: String,
    pub id: Option<i64>,
    pub name: String,
    pub detail: String,
}

/// Does an SMTP host reach the outside world? `invalid`, loopback, `localhost` and the
/// reserved `.invalid`/`.test`/`.localhost` names do not (a local mail catcher is fine).
pub fn is_real_host(host: &str) -> bool {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if h.is_empty() || h == "invalid" || h == "localhost" || h == "::1" || h.starts_with("127.") {
        return false;
    }
    !(h.ends_with(".invalid") || h.ends_with(".test") || h.ends_with(".localhost"))
}

/// Verify through a pool (after a neutralization was committed).
pub async fn verify(pool: &PgPool) -> Result<Vec<Violation>, NeutralizeError> {
    let mut conn = pool.acquire().await?;
    verify_in(&mut conn).await
}

/// Connect to `url` and verify (read-only).
pub async fn verify_url(url: &str) -> Result<Vec<Violation>, NeutralizeError> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(NeutralizeError::Connect)?;
    let r = verify_in(&mut conn).await;
    let _ = conn.close().await;
    r
}

/// Verify on one connection (inside a transaction, to check before committing).
pub async fn verify_in(conn: &mut PgConnection) -> Result<Vec<Violation>, NeutralizeError> {
    let cols = columns(conn).await?;
    let mut out = Vec::new();
    if cols.has("ir_mail_server", &["id", "name", "smtp_host", "active"]) {
        let rows = sqlx::query(
            "SELECT id::bigint AS id, name::text AS name, coalesce(smtp_host::text, '') AS host, \
             smtp_port::bigint AS port FROM ir_mail_server WHERE active ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            let host: String = r.try_get("host")?;
            if is_real_host(&host) {
                let port: Option<i64> = r.try_get("port")?;
                out.push(Violation {
                    kind: "mail_server".into(),
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    detail: format!(
                        "active outgoing mail server points to a real host: {host}:{}",
                        port.map(|p| p.to_string()).unwrap_or_default()
                    ),
                });
            }
        }
    }
    if cols.has("ir_cron", &["id", "active"]) {
        let name_expr = if cols.has("ir_cron", &["cron_name"]) {
            "c.cron_name::text"
        } else if cols.has("ir_cron", &["name"]) {
            "c.name::text"
        } else {
            "''"
        };
        let autovacuum = if cols.has("ir_model_data", &["module", "name", "model", "res_id"]) {
            "AND c.id NOT IN (SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' \
             AND module = 'base' AND name = 'autovacuum_job' AND res_id IS NOT NULL)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT c.id::bigint AS id, coalesce({name_expr}, '') AS name FROM ir_cron c \
             WHERE c.active {autovacuum} ORDER BY c.id"
        );
        for r in sqlx::query(&sql).fetch_all(&mut *conn).await? {
            out.push(Violation {
                kind: "cron".into(),
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                detail: "active cron other than base.autovacuum_job".into(),
            });
        }
    }
    if cols.has("payment_provider", &["id", "state", "name"]) {
        let rows = sqlx::query(
            "SELECT id::bigint AS id, name::text AS name FROM payment_provider \
             WHERE state = 'enabled' ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            out.push(Violation {
                kind: "payment_provider".into(),
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                detail: "payment provider still enabled (live mode)".into(),
            });
        }
    }
    if cols.has("ir_config_parameter", &["key", "value"]) {
        let flag: Option<String> = sqlx::query_scalar(
            "SELECT value::text FROM ir_config_parameter WHERE key = 'database.is_neutralized'",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let set = flag.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1"));
        if !set {
            out.push(Violation {
                kind: "flag".into(),
                id: None,
                name: "database.is_neutralized".into(),
                detail: "ir_config_parameter database.is_neutralized is not true".into(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::is_real_host;

    #[test]
    fn real_hosts() {
        for h in ["smtp.mailgun.org", "10.0.0.5", "mail.acme-trading.example"] {
            assert!(is_real_host(h), "{h}");
        }
        for h in [
            "invalid",
            "INVALID",
            "localhost",
            "127.0.0.1",
            "::1",
            "",
            "x.invalid",
            "mail.test.",
        ] {
            assert!(!is_real_host(h), "{h}");
        }
    }
}
