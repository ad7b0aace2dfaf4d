//! Built-in neutralization rules standing in for the core modules' `data/neutralize.sql` when
//! the Odoo sources are not at hand. Each statement names the tables and columns it needs and
//! is skipped when the database lacks them (a module's table may differ across series).

use std::collections::{HashMap, HashSet};

/// Name of the dummy outgoing mail server Odoo inserts.
pub const DUMMY_MAIL_SERVER: &str = "neutralization - disable emails";
/// What Odoo writes into server-action webhook URLs.
pub const DISABLED_WEBHOOK: &str = "neutralization - disable webhook";

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
}

/// One built-in statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub description: String,
    pub sql: String,
}

fn st(description: &str, sql: impl Into<String>) -> Statement {
    Statement {
        description: description.to_string(),
        sql: sql.into(),
    }
}

/// Modules with built-in rules.
pub const MODULES: &[&str] = &[
    "base",
    "mail",
    "fetchmail",
    "payment",
    "delivery",
    "website",
    "iap",
    "web",
];

/// The built-in statements of `module` that apply to this schema (`None`: no built-in rule).
pub fn builtin(module: &str, cols: &Columns) -> Option<Vec<Statement>> {
    let mut v = Vec::new();
    match module {
        "base" => {
            if cols.has(
                "ir_mail_server",
                &["active", "name", "smtp_host", "smtp_port"],
            ) {
                v.push(st(
                    "deactivate every outgoing mail server",
                    format!(
                        "UPDATE ir_mail_server SET active = false WHERE active \
                         AND NOT (name = '{DUMMY_MAIL_SERVER}' AND smtp_host = 'invalid')"
                    ),
                ));
                v.push(st(
                    "re-activate an existing dummy mail server",
                    format!(
                        "UPDATE ir_mail_server SET active = true \
                         WHERE NOT active AND name = '{DUMMY_MAIL_SERVER}' AND smtp_host = 'invalid'"
                    ),
                ));
                let mut names = vec!["name", "smtp_host", "smtp_port", "active"];
                let mut values = vec![
                    format!("'{DUMMY_MAIL_SERVER}'"),
                    "'invalid'".to_string(),
                    "1025".to_string(),
                    "true".to_string(),
                ];
                for (col, val) in [
                    ("smtp_encryption", "'none'"),
                    ("smtp_authentication", "'login'"),
                ] {
                    if cols.has("ir_mail_server", &[col]) {
                        names.push(col);
                        values.push(val.to_string());
                    }
                }
                v.push(st(
                    "add the dummy mail server (host invalid, port 1025) so no command-line SMTP fallback is used",
                    format!(
                        "INSERT INTO ir_mail_server ({}) SELECT {} WHERE NOT EXISTS \
                         (SELECT 1 FROM ir_mail_server WHERE name = '{DUMMY_MAIL_SERVER}' AND smtp_host = 'invalid')",
                        names.join(", "),
                        values.join(", ")
                    ),
                ));
            }
            if cols.has("ir_cron", &["id", "active"])
                && cols.has("ir_model_data", &["module", "name", "model", "res_id"])
            {
                v.push(st(
                    "deactivate every cron except base.autovacuum_job",
                    "UPDATE ir_cron SET active = false WHERE active AND id NOT IN \
                     (SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND module = 'base' \
                     AND name = 'autovacuum_job' AND res_id IS NOT NULL)",
                ));
            }
            if cols.has("ir_config_parameter", &["key", "value"]) {
                v.push(st(
                    "flag the database as neutralized",
                    "UPDATE ir_config_parameter SET value = 'true' \
                     WHERE key = 'database.is_neutralized' AND value IS DISTINCT FROM 'true'",
                ));
                v.push(st(
                    "flag the database as neutralized (insert)",
                    "INSERT INTO ir_config_parameter (key, value) SELECT 'database.is_neutralized', 'true' \
                     WHERE NOT EXISTS (SELECT 1 FROM ir_config_parameter WHERE key = 'database.is_neutralized')",
                ));
            }
            if cols.has("ir_act_server", &["state", "webhook_url"]) {
                v.push(st(
                    "disable server-action webhook URLs",
                    format!(
                        "UPDATE ir_act_server SET webhook_url = '{DISABLED_WEBHOOK}' \
                         WHERE state = 'webhook' AND webhook_url IS DISTINCT FROM '{DISABLED_WEBHOOK}'"
                    ),
                ));
            }
            if cols.has("base_automation", &["trigger", "active"]) {
                v.push(st(
                    "deactivate automation rules triggered by incoming webhooks",
                    "UPDATE base_automation SET active = false WHERE active AND trigger = 'on_webhook'",
                ));
            }
        }
        "mail" => {
            if cols.has("mail_template", &["mail_server_id"]) {
                v.push(st(
                    "detach mail templates from specific mail servers",
                    "UPDATE mail_template SET mail_server_id = NULL WHERE mail_server_id IS NOT NULL",
                ));
            }
        }
        "fetchmail" => {
            if cols.has("fetchmail_server", &["active"]) {
                v.push(st(
                    "deactivate incoming mail servers",
                    "UPDATE fetchmail_server SET active = false WHERE active",
                ));
            }
        }
        "payment" => {
            if cols.has("payment_provider", &["state"]) {
                v.push(st(
                    "switch enabled payment providers to test mode",
                    "UPDATE payment_provider SET state = 'test' WHERE state = 'enabled'",
                ));
            }
            if cols.has("payment_acquirer", &["state"]) {
                v.push(st(
                    "switch enabled payment acquirers to test mode (Odoo 15 and older)",
                    "UPDATE payment_acquirer SET state = 'test' WHERE state = 'enabled'",
                ));
            }
        }
        "delivery" => {
            if cols.has("delivery_carrier", &["prod_environment"]) {
                v.push(st(
                    "switch carriers to their test environment",
                    "UPDATE delivery_carrier SET prod_environment = false WHERE prod_environment",
                ));
            }
            if cols.has("delivery_carrier", &["active", "delivery_type"]) {
                v.push(st(
                    "deactivate carriers of external providers",
                    "UPDATE delivery_carrier SET active = false WHERE active \
                     AND delivery_type NOT IN ('fixed', 'base_on_rule')",
                ));
            } else if cols.has("delivery_carrier", &["active"]) {
                v.push(st(
                    "deactivate carriers",
                    "UPDATE delivery_carrier SET active = false WHERE active",
                ));
            }
        }
        "website" => {
            if cols.has("website", &["domain"]) {
                v.push(st(
                    "clear website domains",
                    "UPDATE website SET domain = NULL WHERE domain IS NOT NULL",
                ));
            }
            if cols.has("website", &["cdn_activated"]) {
                v.push(st(
                    "disable the CDN",
                    "UPDATE website SET cdn_activated = false WHERE cdn_activated",
                ));
            }
            if cols.has("website", &["robots_txt"]) {
                v.push(st(
                    "forbid crawlers (robots.txt Disallow: /)",
                    "UPDATE website SET robots_txt = E'User-agent: *\\nDisallow: /' \
                     WHERE robots_txt IS DISTINCT FROM E'User-agent: *\\nDisallow: /'",
                ));
            }
        }
        "iap" => {
            if cols.has("iap_account", &["account_token"]) {
                v.push(st(
                    "disable IAP account tokens (+disabled)",
                    "UPDATE iap_account SET account_token = account_token || '+disabled' \
                     WHERE account_token IS NOT NULL AND account_token NOT LIKE '%+disabled'",
                ));
            }
        }
        // The "neutralized database" banner is driven by database.is_neutralized (base).
        "web" => {}
        _ => return None,
    }
    Some(v)
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
        assert_eq!(base.len(), 3, "mail server rules only");
        assert!(!base[2].sql.contains("smtp_encryption"));
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
        assert_eq!(builtin("payment", &Columns::default()), Some(vec![]));
        assert_eq!(builtin("acme_sale", &Columns::default()), None);
        assert_eq!(builtin("web", &c), Some(vec![]));
    }

    #[test]
    fn cron_rule_spares_autovacuum_and_survives_null_res_ids() {
        let c = cols(&[
            ("ir_cron", &["id", "active"]),
            ("ir_model_data", &["module", "name", "model", "res_id"]),
        ]);
        let base = builtin("base", &c).expect("base");
        assert!(base[0].sql.contains("name = 'autovacuum_job'"));
        assert!(base[0].sql.contains("res_id IS NOT NULL"));
    }
}
