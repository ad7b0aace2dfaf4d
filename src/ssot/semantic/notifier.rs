//! Notifier rules: a destination, and Slack credentials.

use super::Ctx;
use crate::ssot::model::*;
use crate::ssot::structural::Entry;

pub(super) fn notifier(cx: &mut Ctx, e: &Entry, n: &Notifier) {
    if n.spec.slack.is_none() && n.spec.plane.is_none() {
        cx.err(
            e,
            "/spec",
            "notifier",
            "a notifier needs `slack` or `plane`",
            "add a `slack:` or `plane:` block",
        );
    }
    if let Some(s) = &n.spec.slack {
        if s.webhook_secret.is_none() && s.bot_token_secret.is_none() {
            cx.err(
                e,
                "/spec/slack",
                "notifier",
                "Slack needs `webhookSecret` or `botTokenSecret`",
                "reference the registry key of an incoming-webhook URL or a bot token",
            );
        }
    }
}
