//! The post-check: looks at outcomes, not at which scripts ran. A neutralized database has no
//! active outgoing mail server pointing at a real host, no active incoming mail server, only
//! the `base.autovacuum_job` cron active, no enabled payment provider and no test one still
//! holding credentials, no calendar tokens, no enabled OAuth provider, no live IAP token, the
//! `database.is_neutralized` flag, and the banner (and website ribbon) views active. Modules
//! that ship no script, or a script that undoes another, are caught here. A check whose tables
//! are absent is "not applicable", never a pass by default: the report lists each one.

use super::rules::{Columns, BANNER_VIEW, RIBBON_VIEW};
use super::{columns, NeutralizeError};
use serde::Serialize;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Connection, Row};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The check that found it: `mail_server`, `incoming_mail_server`, `cron`,
    /// `payment_provider`, `calendar_token`, `oauth_provider`, `iap_account`, `flag`, `banner`.
    pub kind: String,
    pub id: Option<i64>,
    pub name: String,
    /// What is wrong, naming columns but never their values.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// The database has none of the tables the check reads.
    NotApplicable,
}

/// One check and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub check: String,
    pub what: String,
    pub outcome: Outcome,
    pub violations: usize,
}

/// Every check with its result, and every violation found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PostCheck {
    pub checks: Vec<CheckResult>,
    pub violations: Vec<Violation>,
}

impl PostCheck {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
    /// No violation, and at least one check applied (a database none applies to is not
    /// verified: it is probably not an Odoo database).
    pub fn verified(&self) -> bool {
        self.ok() && self.checks.iter().any(|c| c.outcome == Outcome::Pass)
    }
    pub(super) fn record(
        &mut self,
        check: &str,
        what: &str,
        applicable: bool,
        found: Vec<Violation>,
    ) {
        let outcome = match (applicable, found.is_empty()) {
            (false, _) => Outcome::NotApplicable,
            (true, true) => Outcome::Pass,
            (true, false) => Outcome::Fail,
        };
        self.checks.push(CheckResult {
            check: check.into(),
            what: what.into(),
            outcome,
            violations: found.len(),
        });
        self.violations.extend(found);
    }
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

/// Connect to `url` and run every check (read-only).
pub async fn check_url(url: &str) -> Result<PostCheck, NeutralizeError> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(NeutralizeError::Connect)?;
    let r = check_in(&mut conn).await;
    let _ = conn.close().await;
    r
}

/// Connect to `url` and verify (read-only).
pub async fn verify_url(url: &str) -> Result<Vec<Violation>, NeutralizeError> {
    Ok(check_url(url).await?.violations)
}

/// The violations found on one connection.
pub async fn verify_in(conn: &mut PgConnection) -> Result<Vec<Violation>, NeutralizeError> {
    Ok(check_in(conn).await?.violations)
}

fn violation(kind: &str, id: Option<i64>, name: String, detail: String) -> Violation {
    Violation {
        kind: kind.into(),
        id,
        name,
        detail,
    }
}

/// A readable name from a `name` column that may be a translated JSON object.
pub(super) fn display_name(raw: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(m)) => m
            .get("en_US")
            .or_else(|| m.values().next())
            .and_then(|v| v.as_str())
            .unwrap_or(raw)
            .to_string(),
        _ => raw.to_string(),
    }
}

/// Run every check on one connection (inside a transaction, to check before committing).
pub async fn check_in(conn: &mut PgConnection) -> Result<PostCheck, NeutralizeError> {
    let cols = columns(conn).await?;
    let mut pc = PostCheck::default();
    outgoing_mail(conn, &cols, &mut pc).await?;
    incoming_mail(conn, &cols, &mut pc).await?;
    crons(conn, &cols, &mut pc).await?;
    super::verify_payment::payment(conn, &cols, &mut pc).await?;
    calendar(conn, &cols, &mut pc).await?;
    oauth(conn, &cols, &mut pc).await?;
    iap(conn, &cols, &mut pc).await?;
    flag(conn, &cols, &mut pc).await?;
    banner(conn, &cols, &mut pc).await?;
    Ok(pc)
}

async fn outgoing_mail(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "no active outgoing mail server with a real host";
    let ok = cols.has("ir_mail_server", &["id", "name", "smtp_host", "active"]);
    let mut found = Vec::new();
    if ok {
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
                found.push(violation(
                    "mail_server",
                    r.try_get("id")?,
                    r.try_get("name")?,
                    format!(
                        "active outgoing mail server points to a real host: {host}:{}",
                        port.map(|p| p.to_string()).unwrap_or_default()
                    ),
                ));
            }
        }
    }
    pc.record("mail_server", what, ok, found);
    Ok(())
}

async fn incoming_mail(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "no active incoming (fetchmail) mail server";
    let ok = cols.has("fetchmail_server", &["id", "name", "active"]);
    let mut found = Vec::new();
    if ok {
        let rows = sqlx::query(
            "SELECT id::bigint AS id, name::text AS name, coalesce(server::text, '') AS host \
             FROM fetchmail_server WHERE active ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            let host: String = r.try_get("host")?;
            found.push(violation(
                "incoming_mail_server",
                r.try_get("id")?,
                r.try_get("name")?,
                format!("incoming mail server still active (host {host})"),
            ));
        }
    }
    pc.record("incoming_mail_server", what, ok, found);
    Ok(())
}

async fn crons(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "no active cron but base.autovacuum_job";
    let ok = cols.has("ir_cron", &["id", "active"]);
    let mut found = Vec::new();
    if ok {
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
            let name: String = r.try_get("name")?;
            found.push(violation(
                "cron",
                r.try_get("id")?,
                display_name(&name),
                "active cron other than base.autovacuum_job".into(),
            ));
        }
    }
    pc.record("cron", what, ok, found);
    Ok(())
}

async fn calendar(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "no Google or Outlook calendar token";
    let places: [(&str, &[&str]); 2] = [
        (
            "google_calendar_credentials",
            &["calendar_token", "calendar_rtoken"],
        ),
        (
            "res_users",
            &["microsoft_calendar_token", "microsoft_calendar_rtoken"],
        ),
    ];
    let mut applicable = false;
    let mut found = Vec::new();
    for (table, tokens) in places {
        if !cols.has(table, tokens) {
            continue;
        }
        applicable = true;
        let held: Vec<String> = tokens
            .iter()
            .map(|c| format!("coalesce({c}::text, '') <> ''"))
            .collect();
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE {}",
            held.join(" OR ")
        ))
        .fetch_one(&mut *conn)
        .await?;
        if n > 0 {
            found.push(violation(
                "calendar_token",
                None,
                table.into(),
                format!("{n} row(s) still hold {}", tokens.join(" or ")),
            ));
        }
    }
    pc.record("calendar_token", what, applicable, found);
    Ok(())
}

async fn oauth(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "no enabled OAuth provider";
    let ok = cols.has("auth_oauth_provider", &["id", "name", "enabled"]);
    let mut found = Vec::new();
    if ok {
        let rows = sqlx::query(
            "SELECT id::bigint AS id, name::text AS name FROM auth_oauth_provider \
             WHERE enabled ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            let name: String = r.try_get("name")?;
            found.push(violation(
                "oauth_provider",
                r.try_get("id")?,
                display_name(&name),
                "OAuth provider still enabled".into(),
            ));
        }
    }
    pc.record("oauth_provider", what, ok, found);
    Ok(())
}

async fn iap(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "no IAP account token without the +disabled suffix";
    let ok = cols.has("iap_account", &["id", "account_token"]);
    let mut found = Vec::new();
    if ok {
        let service = if cols.has("iap_account", &["service_name"]) {
            "coalesce(service_name::text, '')"
        } else {
            "''"
        };
        let rows = sqlx::query(&format!(
            "SELECT id::bigint AS id, {service} AS name FROM iap_account \
             WHERE coalesce(account_token, '') <> '' AND account_token NOT LIKE '%+disabled' \
             ORDER BY id"
        ))
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            found.push(violation(
                "iap_account",
                r.try_get("id")?,
                r.try_get("name")?,
                "IAP account token is live (no +disabled suffix)".into(),
            ));
        }
    }
    pc.record("iap_account", what, ok, found);
    Ok(())
}

async fn flag(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "database.is_neutralized is true";
    let ok = cols.has("ir_config_parameter", &["key", "value"]);
    let mut found = Vec::new();
    if ok {
        let flag: Option<String> = sqlx::query_scalar(
            "SELECT value::text FROM ir_config_parameter WHERE key = 'database.is_neutralized'",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let set = flag.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1"));
        if !set {
            found.push(violation(
                "flag",
                None,
                "database.is_neutralized".into(),
                "ir_config_parameter database.is_neutralized is not true".into(),
            ));
        }
    }
    pc.record("flag", what, ok, found);
    Ok(())
}

async fn banner(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "the neutralized banner (web) and ribbon (website) views are active";
    let mut applicable = false;
    let mut found = Vec::new();
    if cols.has("ir_ui_view", &["id", "key", "active"]) {
        let rows = sqlx::query(
            "SELECT id::bigint AS id, key::text AS key, coalesce(active, false) AS active \
             FROM ir_ui_view WHERE key IN ($1, $2) ORDER BY id",
        )
        .bind(BANNER_VIEW)
        .bind(RIBBON_VIEW)
        .fetch_all(&mut *conn)
        .await?;
        applicable = !rows.is_empty();
        for r in rows {
            if !r.try_get::<bool, _>("active")? {
                found.push(violation(
                    "banner",
                    r.try_get("id")?,
                    r.try_get("key")?,
                    "view inactive: users are not told this database is neutralized".into(),
                ));
            }
        }
    }
    pc.record("banner", what, applicable, found);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{display_name, is_real_host};

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

    #[test]
    fn translated_names_read_in_english() {
        assert_eq!(
            display_name(r#"{"en_US": "Stripe", "fr_FR": "S"}"#),
            "Stripe"
        );
        assert_eq!(display_name("Google"), "Google");
    }
}
