//! `smtp_policy` (SSOT only): non-production environments capture mail (`mode: catcher`), no
//! environment uses port 25 (closed on Odoo.sh: use 465 or 587), and the production mail
//! credentials (every production environment's `mail.userSecret`/`mail.passwordSecret`) are not
//! referenced by any non-production environment.

use super::{Outcome, Verdict};
use crate::ssot::{Environment, MailMode, Ssot, Stage};
use serde_json::json;
use std::collections::BTreeSet;

/// Secret keys holding production mail credentials.
pub fn production_mail_keys(ssot: &Ssot) -> BTreeSet<String> {
    ssot.environments()
        .filter(|e| e.spec.stage == Stage::Production)
        .flat_map(|e| [&e.spec.mail.user_secret, &e.spec.mail.password_secret])
        .filter_map(|k| k.clone())
        .collect()
}

/// Every secret key an environment references.
pub fn referenced_keys(env: &Environment) -> BTreeSet<String> {
    let s = &env.spec;
    [
        &s.mail.user_secret,
        &s.mail.password_secret,
        &s.database.password_secret,
        &s.database.url_secret,
    ]
    .into_iter()
    .filter_map(|k| k.clone())
    .chain(s.secrets.iter().cloned())
    .collect()
}

/// Pure evaluation of one environment against the SSOT.
pub fn evaluate(ssot: &Ssot, env: &Environment) -> Verdict {
    let mail = &env.spec.mail;
    let production = env.spec.stage == Stage::Production;
    let mut problems = Vec::new();
    if !production && mail.mode != MailMode::Catcher {
        problems.push(format!(
            "{} environment sends real mail (mail.mode smtp): use mode catcher",
            env.spec.stage.as_str()
        ));
    }
    if mail.port == Some(25) {
        problems.push(
            "mail.port 25 is closed (Odoo.sh parity): use 465 (SSL) or 587 (STARTTLS)".to_string(),
        );
    }
    let leaked: Vec<String> = if production {
        Vec::new()
    } else {
        referenced_keys(env)
            .intersection(&production_mail_keys(ssot))
            .cloned()
            .collect()
    };
    if !leaked.is_empty() {
        problems.push(format!(
            "references production mail credential(s) {}: give this environment its own keys or none",
            leaked.join(", ")
        ));
    }
    let mode = match mail.mode {
        MailMode::Smtp => "smtp",
        MailMode::Catcher => "catcher",
    };
    let measured = json!({"mode": mode, "port": mail.port, "productionCredentialRefs": leaked});
    let threshold = json!({
        "mode": if production { "smtp|catcher" } else { "catcher" },
        "forbiddenPorts": [25],
    });
    if problems.is_empty() {
        Verdict::new(
            Outcome::Pass,
            measured,
            threshold,
            format!(
                "mail {mode}{}, no production credential referenced",
                mail.port.map(|p| format!(" port {p}")).unwrap_or_default()
            ),
        )
    } else {
        Verdict::new(Outcome::Fail, measured, threshold, problems.join("; "))
    }
}
