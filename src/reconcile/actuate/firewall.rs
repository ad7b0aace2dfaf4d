//! Firewalls: created (adopting one an earlier attempt made), replaced whole by PUT.

use super::{after, bad, Act, ActCx, Actuator, Done};
use crate::provider::digitalocean::Firewall;
use crate::reconcile::plan::Action;
use serde_json::json;

pub struct FirewallActuator;

impl Actuator for FirewallActuator {
    fn create<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let fw: Firewall = after(a)?;
            let (live, adopted) = cx.dig()?.create_firewall(&fw, !cx.look_first).await?;
            Ok(Done::new(adopted, json!({"id": live.id})).with_id(live.id))
        })
    }

    fn update<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let fw: Firewall = after(a)?;
            let id = a
                .diff
                .live_id
                .as_deref()
                .ok_or_else(|| bad("firewall without id"))?;
            let live = cx.dig()?.update_firewall(id, &fw).await?;
            Ok(Done::new(false, json!({"id": live.id})))
        })
    }

    /// Every firewall field changes in place: a replace is an update.
    fn replace<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        self.update(cx, a)
    }

    fn delete<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let id = a
                .diff
                .live_id
                .as_deref()
                .ok_or_else(|| bad("firewall without id"))?;
            cx.dig()?.delete_firewall(id).await?;
            Ok(Done::new(false, json!({"id": id})))
        })
    }
}
