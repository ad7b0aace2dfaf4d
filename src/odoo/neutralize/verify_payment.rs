//! The payment part of the post-check: no provider `enabled`, and no provider in `test` still
//! holding credentials (in 17.0 checkout offers `test` providers, and several gateways decide
//! live or test from the key itself).
//!
//! A provider's credential columns are those its module's neutralization wipes (from the
//! [`catalog`](super::catalog)); for a provider the catalog does not know, every text column
//! named `<code>_…` that looks like a key, secret, token, password, signature or salt. A value
//! is a credential unless it is NULL, empty, or a placeholder neutralization writes. Values
//! never leave the database: the SQL answers yes or no per column.

use super::catalog::{self, Val};
use super::rules::{quote, Columns};
use super::verify::{PostCheck, Violation};
use super::NeutralizeError;
use sqlx::postgres::PgConnection;
use sqlx::Row;

const SECRET_WORDS: &[&str] = &[
    "key",
    "secret",
    "token",
    "password",
    "signature",
    "salt",
    "hash",
];

/// `(column, placeholder)` pairs for a provider code; `None` placeholder: any value but
/// NULL/''/`dummy…` is a credential.
fn credential_columns(
    code: &str,
    cols: &Columns,
    text_columns: &[String],
) -> Vec<(String, Option<&'static str>)> {
    let known: Vec<(String, Option<&'static str>)> = catalog::PAYMENT
        .iter()
        .filter(|p| p.code == code)
        .flat_map(|p| p.columns.iter())
        .filter(|(c, _)| cols.has("payment_provider", &[c]))
        .map(|(c, v)| {
            (
                c.to_string(),
                match v {
                    Val::Text(t) => Some(*t),
                    _ => None,
                },
            )
        })
        .collect();
    if catalog::PAYMENT.iter().any(|p| p.code == code) {
        return known;
    }
    let prefix = format!("{code}_");
    text_columns
        .iter()
        .filter(|c| c.starts_with(&prefix))
        .filter(|c| SECRET_WORDS.iter().any(|w| c.contains(w)))
        .map(|c| (c.clone(), None))
        .collect()
}

/// SQL: is this column holding a credential?
fn holds(column: &str, placeholder: Option<&str>) -> String {
    let base = format!("coalesce({column}::text, '') <> ''");
    match placeholder {
        Some(p) => format!("({base} AND {column}::text <> {})", quote(p)),
        None => format!("({base} AND {column}::text NOT LIKE 'dummy%')"),
    }
}

pub(super) async fn payment(
    conn: &mut PgConnection,
    cols: &Columns,
    pc: &mut PostCheck,
) -> Result<(), NeutralizeError> {
    let what = "no enabled payment provider, and no test one still holding credentials";
    let ok = cols.has("payment_provider", &["id", "state", "name", "code"]);
    let mut found = Vec::new();
    if ok {
        let text_columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'payment_provider' \
             AND data_type IN ('character varying', 'text')",
        )
        .fetch_all(&mut *conn)
        .await?;
        let rows = sqlx::query(
            "SELECT id::bigint AS id, name::text AS name, code::text AS code, state::text AS state \
             FROM payment_provider WHERE state IN ('enabled', 'test') ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let code: String = r.try_get("code")?;
            let state: String = r.try_get("state")?;
            let name: String = r.try_get("name")?;
            let creds = credential_columns(&code, cols, &text_columns);
            let mut held = Vec::new();
            if !creds.is_empty() {
                let exprs: Vec<String> = creds
                    .iter()
                    .enumerate()
                    .map(|(i, (c, p))| format!("{} AS c{i}", holds(c, *p)))
                    .collect();
                let row = sqlx::query(&format!(
                    "SELECT {} FROM payment_provider WHERE id = $1",
                    exprs.join(", ")
                ))
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
                for (i, (c, _)) in creds.iter().enumerate() {
                    if row.try_get::<bool, _>(i)? {
                        held.push(c.clone());
                    }
                }
            }
            let detail = match (state.as_str(), held.is_empty()) {
                ("enabled", true) => "payment provider still enabled (live)".to_string(),
                ("enabled", false) => format!(
                    "payment provider still enabled (live), credentials in {}",
                    held.join(", ")
                ),
                (_, false) => format!(
                    "test payment provider still holds credentials in {} (checkout offers test providers)",
                    held.join(", ")
                ),
                (_, true) => continue,
            };
            found.push(Violation {
                kind: "payment_provider".into(),
                id: Some(id),
                name: super::verify::display_name(&name),
                detail,
            });
        }
    }
    pc.record("payment_provider", what, ok, found);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(list: &[&str]) -> Columns {
        Columns(
            [(
                "payment_provider".to_string(),
                list.iter().map(|s| s.to_string()).collect(),
            )]
            .into_iter()
            .collect(),
        )
    }

    #[test]
    fn known_providers_use_the_catalog_others_the_column_names() {
        let all = [
            "stripe_secret_key",
            "stripe_publishable_key",
            "stripe_webhook_secret",
            "adyen_client_key",
            "adyen_api_key",
            "acmepay_api_key",
            "acmepay_merchant_name",
        ];
        let c = cols(&all);
        let text: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        let stripe: Vec<String> = credential_columns("stripe", &c, &text)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(stripe.len(), 3);
        let adyen: Vec<String> = credential_columns("adyen", &c, &text)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(adyen, vec!["adyen_api_key"], "the client key is public");
        let other = credential_columns("acmepay", &c, &text);
        assert_eq!(other, vec![("acmepay_api_key".to_string(), None)]);
        assert!(holds("xendit_secret_key", Some("dummysecret")).contains("<> 'dummysecret'"));
    }
}
