//! DNS records: the address is a reference to the droplet's (`${droplet:NAME.ipv4}`) until
//! the droplet exists; records carry no tags, so each one created is recorded in the
//! inventory by `zone/id`.

use super::{bad, Act, ActCx, Actuator, Done};
use crate::provider::digitalocean::Record;
use crate::provider::ProviderError;
use crate::reconcile::desired::{self, droplet_ip_ref};
use crate::reconcile::plan::Action;
use serde_json::{json, Value};

pub struct RecordActuator;

fn zone(a: &Action) -> String {
    a.diff
        .after
        .as_ref()
        .and_then(|v| v["zone"].as_str())
        .or_else(|| a.diff.before.as_ref().and_then(|b| b["zone"].as_str()))
        .unwrap_or("")
        .to_string()
}

fn live_id(a: &Action) -> Result<u64, ProviderError> {
    a.diff
        .live_id
        .as_deref()
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| bad("record without id"))
}

/// The desired record with its droplet reference resolved.
async fn record(cx: &ActCx<'_>, a: &Action) -> Result<Record, ProviderError> {
    let v = a.diff.after.as_ref().map(|v| v["record"].clone());
    let mut record: Record =
        serde_json::from_value(v.unwrap_or(Value::Null)).map_err(|e| bad(&e.to_string()))?;
    for (name, ip) in cx.shared.ips.lock().await.iter() {
        if record.data == droplet_ip_ref(name) {
            record.data = ip.clone();
        }
    }
    // The droplet exists but its address was not known when the plan observed it (it was
    // still being created): wait for it.
    if let (Some(name), Some(input)) = (desired::droplet_of_ref(&record.data), cx.input) {
        let dig = cx.dig()?;
        if let Some(d) = dig.find_droplet(&input.owner_tag, name, None).await? {
            let live = dig.wait_active(d.id).await?;
            if let Some(ip) = live.ipv4 {
                cx.shared
                    .ips
                    .lock()
                    .await
                    .insert(name.to_string(), ip.clone());
                record.data = ip;
            }
        }
    }
    if record.data.starts_with("${") {
        return Err(bad("the droplet's address is not known yet"));
    }
    Ok(record)
}

async fn create(cx: &ActCx<'_>, a: &Action) -> Result<Done, ProviderError> {
    let dig = cx.dig()?;
    let zone = zone(a);
    let record = record(cx, a).await?;
    dig.ensure_domain(&zone).await?;
    let (live, adopted) = dig.create_record(&zone, &record, cx.look_first).await?;
    Ok(
        Done::new(adopted, json!({"id": live.id, "data": live.record.data}))
            .with_id(format!("{zone}/{}", live.id)),
    )
}

impl Actuator for RecordActuator {
    fn create<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(create(cx, a))
    }

    fn update<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let zone = zone(a);
            let record = record(cx, a).await?;
            let live = cx.dig()?.update_record(&zone, live_id(a)?, &record).await?;
            Ok(
                Done::new(false, json!({"id": live.id, "data": live.record.data}))
                    .with_id(format!("{zone}/{}", live.id)),
            )
        })
    }

    /// A record's type cannot change: the old record goes, a new one comes.
    fn replace<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let old_zone = a
                .diff
                .before
                .as_ref()
                .and_then(|b| b["zone"].as_str())
                .unwrap_or_default()
                .to_string();
            cx.dig()?.delete_record(&old_zone, live_id(a)?).await?;
            create(cx, a).await
        })
    }

    fn delete<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let id = live_id(a)?;
            cx.dig()?.delete_record(&zone(a), id).await?;
            Ok(Done::new(false, json!({"id": id})))
        })
    }
}
