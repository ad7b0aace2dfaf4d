//! Droplets: created from the desired spec and the cloud-init user data (rendered only
//! now), waited for until active with an address; resized with a power cycle; replaced by
//! deleting, waiting for the old one to be gone, then creating (never adopting the old).

use super::{after, bad, in_place, Act, ActCx, Actuator, Done};
use crate::provider::digitalocean::{Droplet, DropletCreate};
use crate::provider::{owner_tags, ProviderError};
use crate::reconcile::desired;
use crate::reconcile::plan::Action;
use serde_json::{json, Value};

pub struct DropletActuator;

fn live_id(a: &Action) -> Result<u64, ProviderError> {
    a.diff
        .live_id
        .as_deref()
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| bad("droplet without id"))
}

async fn create(cx: &ActCx<'_>, a: &Action, exclude: Option<u64>) -> Result<Done, ProviderError> {
    let dig = cx.dig()?;
    let input = cx.input()?;
    let droplet: Droplet = after(a)?;
    let user_data = desired::user_data(cx.ssot, input)
        .ok_or_else(|| bad("the environment is no longer in the SSOT"))?;
    let create = DropletCreate {
        droplet,
        user_data,
        ssh_keys: input.ssh_keys.clone(),
    };
    // Look first when an earlier attempt may have created it; a replacement also looks,
    // never adopting the droplet it replaced.
    let look = cx.look_first || exclude.is_some();
    let (live, adopted) = dig
        .create_droplet(&create, &input.owner_tag, look, exclude)
        .await?;
    if let Some(ip) = &live.ipv4 {
        cx.shared
            .ips
            .lock()
            .await
            .insert(live.droplet.name.clone(), ip.clone());
    }
    Ok(Done::new(adopted, json!({"id": live.id, "ipv4": live.ipv4})).with_id(live.id.to_string()))
}

impl Actuator for DropletActuator {
    fn create<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(create(cx, a, None))
    }

    fn replace<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let old = live_id(a)?;
            cx.dig()?.delete_droplet_and_wait(old).await?;
            let mut done = create(cx, a, Some(old)).await?;
            done.response["replaced"] = json!(old);
            Ok(done)
        })
    }

    fn update<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let dig = cx.dig()?;
            let id = live_id(a)?;
            let mut done = Vec::new();
            for f in in_place(a) {
                match f.path.as_str() {
                    "/size" => {
                        let size = f.after.as_str().unwrap_or_default();
                        dig.resize_droplet(id, size).await?;
                        done.push(json!({"resize": size}));
                    }
                    // Tags: add the missing, remove the extra — never an ownership tag.
                    "/tags" => {
                        let list = |v: &Value| -> Vec<String> {
                            v.as_array()
                                .map(|a| {
                                    a.iter()
                                        .filter_map(|t| t.as_str().map(str::to_string))
                                        .collect()
                                })
                                .unwrap_or_default()
                        };
                        let (want, have) = (list(&f.after), list(&f.before));
                        let owner: Vec<String> = match cx.input {
                            Some(i) => owner_tags(&i.project, &i.environment).to_vec(),
                            None => Vec::new(),
                        };
                        for t in want.iter().filter(|t| !have.contains(t)) {
                            dig.tag_droplets(t, &[id]).await?;
                            done.push(json!({"tag": t}));
                        }
                        for t in have
                            .iter()
                            .filter(|t| !want.contains(t) && !owner.contains(t))
                            .filter(|t| !t.starts_with("odooops:"))
                        {
                            dig.untag_droplets(t, &[id]).await?;
                            done.push(json!({"untag": t}));
                        }
                    }
                    "/backups" => {
                        let on = f.after.as_bool().unwrap_or(false);
                        dig.set_backups(id, on).await?;
                        done.push(json!({"backups": on}));
                    }
                    "/ipv6" if f.after == Value::Bool(true) => {
                        dig.enable_ipv6(id).await?;
                        done.push(json!({"ipv6": true}));
                    }
                    other => {
                        return Err(bad(&format!(
                            "{other} of a droplet cannot change in place; it is recorded as drift"
                        )))
                    }
                }
            }
            Ok(Done::new(false, json!({"id": id, "changes": done})))
        })
    }

    fn delete<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let id = live_id(a)?;
            cx.dig()?.delete_droplet(id).await?;
            Ok(Done::new(false, json!({"id": id})))
        })
    }
}
