//! The "resolved" follow-up of an announced finding: the same Plane work item moved to
//! `Done`, one message on the channel of the announcement.

use super::{request_field, EnvNotifiers, FollowUp, Notifications, Outcome};
use crate::ssot::Ssot;
use crate::store::{Action, StoreError};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

impl Notifications<'_> {
    /// The "resolved" follow-up of an announced finding (ledger `row`): a Slack message
    /// when the notifier still subscribes to `how.event`, the Plane work item moved to
    /// `Done`; behind its own ledger row `<row key>:resolved`, so it happens once.
    pub(super) async fn follow_up(
        &self,
        ssot: &Ssot,
        who: &BTreeMap<String, EnvNotifiers<'_>>,
        row: &Action,
        how: &FollowUp,
        run_id: Uuid,
        corr: &str,
    ) -> Result<Outcome, StoreError> {
        let env_name = request_field(row, "env");
        let notifier = request_field(row, "notifier");
        let subject = request_field(row, "subject");
        // Every announcement records its channel (`slack` or `plane`) in its request.
        let slack = request_field(row, "channel") == "slack";
        let spec = who
            .get(env_name)
            .and_then(|(env, list)| {
                list.iter()
                    .find(|(n, _)| n == notifier)
                    .map(|(_, s)| (*env, *s))
            })
            .or_else(|| {
                // The environment no longer lists it (or is gone): still close the loop with
                // the notifier's current settings when it exists.
                let env = ssot.environment(env_name)?;
                let spec = ssot.notifiers().find(|n| n.metadata.name == notifier)?;
                Some((env, &spec.spec))
            });
        let key = format!("{}:resolved", row.dedupe_key);
        let text = format!("[odooops] {}: {subject}", how.text);
        let item = row
            .response_summary
            .as_ref()
            .and_then(|r| r["work_item_id"].as_str())
            .unwrap_or_default()
            .to_string();
        let send = || async {
            let gone = json!({"skipped": "the notifier is no longer in the SSOT"});
            if slack {
                let Some((env, spec)) = spec else {
                    return Ok(gone);
                };
                let wants = spec
                    .slack
                    .as_ref()
                    .is_some_and(|s| s.events.contains(&how.event));
                if !wants {
                    return Ok(json!({"skipped": format!(
                        "{} is not among the notifier's events",
                        serde_json::to_value(how.event).unwrap_or(Value::Null)
                    )}));
                }
                self.slack_post(ssot, env, spec, &text).await
            } else {
                let Some((env, spec)) = spec.filter(|(_, s)| s.plane.is_some()) else {
                    return Ok(gone);
                };
                let plane = self.plane_for(ssot, env, spec)?;
                let done = plane
                    .set_state(&item, "Done")
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"work_item_id": done.id, "state": done.state}))
            }
        };
        let op = if slack { how.slack_op } else { how.plane_op };
        let request = row.request_summary.clone().unwrap_or(Value::Null);
        self.deliver(run_id, corr, env_name, key, op, subject, request, send)
            .await
    }
}
