//! The built-in neutralization rules (`--builtin-rules`): SQL generated from the
//! [`catalog`](super::catalog) for every module of Odoo 17.0 Community that ships a
//! `data/neutralize.sql`, plus `base`. Each statement names the tables and columns it needs and
//! is skipped — and reported as skipped — when the database lacks them (a module's table may
//! differ across series). Statements touch only rows that still need the change, so a second
//! run changes nothing.

use super::catalog::{self, Op, Val};
use std::collections::{HashMap, HashSet};

/// Name of the dummy outgoing mail server Odoo inserts.
pub const DUMMY_MAIL_SERVER: &str = "neutralization - disable emails";
/// What Odoo writes into server-action webhook URLs.
pub const DISABLED_WEBHOOK: &str = "neutralization - disable webhook";
/// The `ir_ui_view` key of the "neutralized database" banner (module `web`).
pub const BANNER_VIEW: &str = "web.neutralize_banner";
/// The `ir_ui_view` key of the website's "neutralized" ribbon (module `website`).
pub const RIBBON_VIEW: &str = "website.neutralize_ribbon";

/// Tables → columns of the current schema.
#[derive(Debug, Default, Clone)]
pub struct Columns(pub HashMap<String, HashSet<String>>);

impl Columns {
    pub fn has(&self, table: &str, cols: &[&str]) -> bool {
        self.0
            .get(table)
            .is_some_and(|c| cols.iter().all(|col| c.contains(*col)))
    }
    pub fn has_table(&self, table: &str) -> bool {
        self.0.contains_key(table)
    }
    /// The first of `cols` the table lacks (or the table itself), for a skip reason.
    fn missing(&self, table: &str, cols: &[&str]) -> Option<String> {
        match self.0.get(table) {
            None => Some(format!("no table {table}")),
            Some(have) => cols
                .iter()
                .find(|c| !have.contains(**c))
                .map(|c| format!("no column {table}.{c}")),
        }
    }
}

/// One built-in statement, or why it does not apply to this schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub description: String,
    pub sql: String,
    /// Set when the schema lacks what the statement needs; `sql` is then empty.
    pub skipped: Option<String>,
}

fn st(description: &str, sql: impl Into<String>) -> Statement {
    Statement {
        description: description.to_string(),
        sql: sql.into(),
        skipped: None,
    }
}

/// A statement guarded by the columns it needs.
fn guarded(
    cols: &Columns,
    description: &str,
    table: &str,
    needs: &[&str],
    sql: impl FnOnce() -> String,
) -> Statement {
    match cols.missing(table, needs) {
        Some(why) => Statement {
            description: description.to_string(),
            sql: String::new(),
            skipped: Some(why),
        },
        None => st(description, sql()),
    }
}

/// A SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn literal(v: Val) -> String {
    match v {
        Val::Null => "NULL".into(),
        Val::Bool(b) => b.to_string(),
        Val::Text(t) => quote(t),
    }
}

fn keys(list: &[&str]) -> String {
    list.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ")
}

/// The SQL of one catalog operation.
fn op_statement(op: &Op, cols: &Columns) -> Statement {
    match *op {
        Op::Set {
            what,
            table,
            set,
            only,
        } => {
            let names: Vec<&str> = set.iter().map(|(c, _)| *c).collect();
            guarded(cols, what, table, &names, || {
                let assign: Vec<String> = set
                    .iter()
                    .map(|(c, v)| format!("{c} = {}", literal(*v)))
                    .collect();
                let differs: Vec<String> = set
                    .iter()
                    .map(|(c, v)| format!("{c} IS DISTINCT FROM {}", literal(*v)))
                    .collect();
                let only = only.map(|o| format!("({o}) AND ")).unwrap_or_default();
                format!(
                    "UPDATE {table} SET {} WHERE {only}({})",
                    assign.join(", "),
                    differs.join(" OR ")
                )
            })
        }
        Op::DropParams { what, keys: k } => {
            guarded(cols, what, "ir_config_parameter", &["key"], || {
                format!("DELETE FROM ir_config_parameter WHERE key IN ({})", keys(k))
            })
        }
        Op::BlankParams { what, keys: k } => {
            guarded(cols, what, "ir_config_parameter", &["key", "value"], || {
                format!(
                    "UPDATE ir_config_parameter SET value = '' WHERE key IN ({}) \
                     AND value IS DISTINCT FROM ''",
                    keys(k)
                )
            })
        }
        Op::Empty { what, table } => guarded(cols, what, table, &[], || {
            format!("TRUNCATE {table} CASCADE")
        }),
        Op::ShowView { what, key } => guarded(cols, what, "ir_ui_view", &["key", "active"], || {
            format!(
                "UPDATE ir_ui_view SET active = true WHERE key = {} AND active IS DISTINCT FROM true",
                quote(key)
            )
        }),
        Op::DisableIapTokens => {
            let what = "disable IAP account tokens (+disabled)";
            guarded(cols, what, "iap_account", &["account_token"], || {
                // Current tokens are at most 33 characters: whatever follows the first `+` is
                // replaced by `+disabled`; longer (pre-17.0) ones by a disabled placeholder.
                "UPDATE iap_account SET account_token = CASE \
                 WHEN length(account_token) <= 33 THEN split_part(account_token, '+', 1) || '+disabled' \
                 ELSE 'dummy_value+disabled' END \
                 WHERE (length(account_token) <= 33 \
                        AND account_token IS DISTINCT FROM split_part(account_token, '+', 1) || '+disabled') \
                    OR (length(account_token) > 33 AND account_token NOT LIKE '%+disabled')"
                    .to_string()
            })
        }
    }
}

/// Does `module` have built-in rules?
pub fn has_builtin(module: &str) -> bool {
    module == "base" || catalog::ops(module).is_some()
}

/// The built-in statements of `module` for this schema (`None`: no built-in rule). Skipped
/// statements are included, with their reason.
pub fn builtin(module: &str, cols: &Columns) -> Option<Vec<Statement>> {
    if module == "base" {
        return Some(base(cols));
    }
    let ops = catalog::ops(module)?;
    Some(ops.iter().map(|op| op_statement(op, cols)).collect())
}

fn base(cols: &Columns) -> Vec<Statement> {
    let mut v = Vec::new();
    let server = ["active", "name", "smtp_host", "smtp_port"];
    let dummy = format!(
        "name = {} AND smtp_host = 'invalid'",
        quote(DUMMY_MAIL_SERVER)
    );
    v.push(guarded(
        cols,
        "deactivate every outgoing mail server",
        "ir_mail_server",
        &server,
        || format!("UPDATE ir_mail_server SET active = false WHERE active AND NOT ({dummy})"),
    ));
    v.push(guarded(
        cols,
        "re-activate an existing dummy mail server",
        "ir_mail_server",
        &server,
        || format!("UPDATE ir_mail_server SET active = true WHERE NOT active AND {dummy}"),
    ));
    v.push(guarded(
        cols,
        "add the dummy mail server (host invalid, port 1025) so no command-line SMTP fallback is used",
        "ir_mail_server",
        &server,
        || {
            let mut names = vec!["name", "smtp_port", "smtp_host"];
            let mut values = vec![quote(DUMMY_MAIL_SERVER), "1025".into(), "'invalid'".into()];
            for (col, val) in [
                ("smtp_encryption", "'none'"),
                ("active", "true"),
                ("smtp_authentication", "'login'"),
            ] {
                if col == "active" || cols.has("ir_mail_server", &[col]) {
                    names.push(col);
                    values.push(val.to_string());
                }
            }
            format!(
                "INSERT INTO ir_mail_server ({}) SELECT {} WHERE NOT EXISTS \
                 (SELECT 1 FROM ir_mail_server WHERE {dummy})",
                names.join(", "),
                values.join(", ")
            )
        },
    ));
    let cron = "deactivate every cron except base.autovacuum_job";
    v.push(
        match (
            cols.missing("ir_cron", &["id", "active"]),
            cols.missing("ir_model_data", &["module", "name", "model", "res_id"]),
        ) {
            (None, None) => st(
                cron,
                "UPDATE ir_cron SET active = false WHERE active AND id NOT IN \
                 (SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND module = 'base' \
                 AND name = 'autovacuum_job' AND res_id IS NOT NULL)",
            ),
            (Some(why), _) | (None, Some(why)) => Statement {
                description: cron.into(),
                sql: String::new(),
                skipped: Some(why),
            },
        },
    );
    let flag = "key = 'database.is_neutralized'";
    v.push(guarded(
        cols,
        "flag the database as neutralized (database.is_neutralized = true)",
        "ir_config_parameter",
        &["key", "value"],
        || {
            format!(
                "UPDATE ir_config_parameter SET value = 'true' \
                 WHERE {flag} AND value IS DISTINCT FROM 'true'"
            )
        },
    ));
    v.push(guarded(
        cols,
        "flag the database as neutralized (when the key is absent)",
        "ir_config_parameter",
        &["key", "value"],
        || {
            format!(
                "INSERT INTO ir_config_parameter (key, value) SELECT 'database.is_neutralized', 'true' \
                 WHERE NOT EXISTS (SELECT 1 FROM ir_config_parameter WHERE {flag})"
            )
        },
    ));
    v.push(guarded(
        cols,
        "disable server-action webhook URLs",
        "ir_act_server",
        &["state", "webhook_url"],
        || {
            format!(
                "UPDATE ir_act_server SET webhook_url = {w} \
                 WHERE state = 'webhook' AND webhook_url IS DISTINCT FROM {w}",
                w = quote(DISABLED_WEBHOOK)
            )
        },
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(spec: &[(&str, &[&str])]) -> Columns {
        Columns(
            spec.iter()
                .map(|(t, c)| (t.to_string(), c.iter().map(|s| s.to_string()).collect()))
                .collect(),
        )
    }

    #[test]
    fn rules_follow_the_schema() {
        let c = cols(&[(
            "ir_mail_server",
            &["active", "name", "smtp_host", "smtp_port"],
        )]);
        let base = builtin("base", &c).expect("base has rules");
        let applied: Vec<&Statement> = base.iter().filter(|s| s.skipped.is_none()).collect();
        assert_eq!(applied.len(), 3, "mail server rules only");
        assert!(!applied[2].sql.contains("smtp_encryption"));
        assert_eq!(
            base[3].skipped.as_deref(),
            Some("no table ir_cron"),
            "a skipped rule says why"
        );
        let c = cols(&[(
            "ir_mail_server",
            &[
                "active",
                "name",
                "smtp_host",
                "smtp_port",
                "smtp_encryption",
            ],
        )]);
        assert!(builtin("base", &c).expect("base")[2]
            .sql
            .contains("smtp_encryption"));
        assert!(builtin("acme_sale", &Columns::default()).is_none());
        let stripe = builtin("payment_stripe", &Columns::default()).expect("stripe");
        assert_eq!(
            stripe[0].skipped.as_deref(),
            Some("no table payment_provider")
        );
    }

    #[test]
    fn payment_disables_and_providers_wipe_their_keys() {
        let c = cols(&[(
            "payment_provider",
            &[
                "state",
                "stripe_secret_key",
                "stripe_publishable_key",
                "stripe_webhook_secret",
            ],
        )]);
        let p = builtin("payment", &c).expect("payment");
        assert!(p[0].sql.contains("SET state = 'disabled'"), "{}", p[0].sql);
        assert!(p[0].sql.contains("state NOT IN ('test', 'disabled')"));
        let s = builtin("payment_stripe", &c).expect("stripe");
        assert!(
            s[0].sql.contains("stripe_secret_key = NULL"),
            "{}",
            s[0].sql
        );
        assert!(s[0]
            .sql
            .contains("stripe_webhook_secret IS DISTINCT FROM NULL"));
    }

    #[test]
    fn text_values_are_quoted() {
        assert_eq!(quote("it's"), "'it''s'");
        let c = cols(&[("website", &["robots_txt", "domain", "cdn_activated"])]);
        let w = builtin("website", &c).expect("website");
        let robots = w
            .iter()
            .find(|s| s.description.starts_with("forbid crawlers"))
            .expect("robots");
        assert!(robots.sql.contains("'User-agent: *\nDisallow: /'"));
        assert!(
            w.iter()
                .any(|s| s.skipped.as_deref() == Some("no table ir_ui_view")),
            "the ribbon needs ir_ui_view"
        );
    }

    #[test]
    fn cron_rule_spares_autovacuum_and_survives_null_res_ids() {
        let c = cols(&[
            ("ir_cron", &["id", "active"]),
            ("ir_model_data", &["module", "name", "model", "res_id"]),
        ]);
        let base = builtin("base", &c).expect("base");
        assert!(base[3].sql.contains("name = 'autovacuum_job'"));
        assert!(base[3].sql.contains("res_id IS NOT NULL"));
    }
}
