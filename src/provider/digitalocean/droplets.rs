//! Droplets, their actions and tags. Creates and actions are asynchronous: each call here
//! returns once the work is done (or its deadline passed).

use super::normalize::{decode, droplet_body, normalize_droplet, tag_resources_body};
use super::{ok_if_gone, timed_out, DigitalOcean, DropletCreate, LiveDroplet, Waits};
use crate::provider::error::ProviderError;
use crate::provider::http::Request;
use crate::provider::paginate;
use reqwest::Method;
use serde_json::{json, Value};

/// Whether a refused action says the droplet is busy with another one (retry later).
fn locked(e: &ProviderError) -> bool {
    e.status == Some(422) && e.error.to_lowercase().contains("pending event")
}

impl DigitalOcean {
    /// Every droplet carrying `tag`: one paginated list.
    pub async fn observe_droplets(&self, tag: &str) -> Result<Vec<LiveDroplet>, ProviderError> {
        self.observe_droplets_where(tag, |_| true).await
    }

    /// The droplets carrying `tag` that `keep` selects, normalized page by page.
    pub async fn observe_droplets_where(
        &self,
        tag: &str,
        keep: impl Fn(&LiveDroplet) -> bool,
    ) -> Result<Vec<LiveDroplet>, ProviderError> {
        paginate::digitalocean_map(
            &self.http,
            "/v2/droplets",
            "droplets",
            &[("tag_name", tag.to_string())],
            |v| normalize_droplet(v).map(|d| keep(&d).then_some(d)),
        )
        .await
    }

    /// The droplet named `name` carrying `owner_tag`, other than `exclude` (a droplet being
    /// replaced is never adopted as its own replacement).
    pub async fn find_droplet(
        &self,
        owner_tag: &str,
        name: &str,
        exclude: Option<u64>,
    ) -> Result<Option<LiveDroplet>, ProviderError> {
        Ok(self
            .observe_droplets(owner_tag)
            .await?
            .into_iter()
            .find(|d| d.droplet.name == name && Some(d.id) != exclude))
    }

    /// One droplet by id (`None`: it does not exist).
    pub async fn droplet(&self, id: u64) -> Result<Option<LiveDroplet>, ProviderError> {
        match self
            .http
            .json(Request::get(format!("/v2/droplets/{id}")))
            .await
        {
            Ok(v) => normalize_droplet(
                v.get("droplet")
                    .ok_or_else(|| decode("answer without droplet"))?,
            )
            .map(Some),
            Err(e) if e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Create a droplet and wait until it is `active` with its public address. A create is
    /// not retried blindly: after a failure whose outcome is unknown, look first and adopt
    /// what exists (never two droplets for one environment). `look_first` also looks before
    /// the first attempt (a retry, or a ledger row a crash left). Returns the droplet and
    /// whether it was adopted.
    pub async fn create_droplet(
        &self,
        c: &DropletCreate,
        owner_tag: &str,
        look_first: bool,
        exclude: Option<u64>,
    ) -> Result<(LiveDroplet, bool), ProviderError> {
        let mut last_err = None;
        for attempt in 0..5 {
            if attempt > 0 || look_first {
                if let Some(existing) = self
                    .find_droplet(owner_tag, &c.droplet.name, exclude)
                    .await?
                {
                    return Ok((self.wait_active(existing.id).await?, true));
                }
            }
            match self
                .http
                .json(Request::post("/v2/droplets", droplet_body(c)))
                .await
            {
                Ok(v) => {
                    let d = normalize_droplet(
                        v.get("droplet")
                            .ok_or_else(|| decode("create answer without droplet"))?,
                    )?;
                    return Ok((self.wait_active(d.id).await?, false));
                }
                Err(e) if e.retryable => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| decode("droplet create did not converge")))
    }

    /// Wait until droplet `id` is `active` with a public IPv4 address.
    pub async fn wait_active(&self, id: u64) -> Result<LiveDroplet, ProviderError> {
        let mut waits = Waits::new(&self.poll, self.poll.deadline);
        loop {
            match self.droplet(id).await? {
                Some(d) if d.status == "active" && d.ipv4.is_some() && !d.locked => return Ok(d),
                Some(_) => {}
                None => {
                    return Err(ProviderError::new(
                        super::P,
                        "not_found",
                        format!("droplet {id} disappeared while it was being created"),
                    ))
                }
            }
            if !waits.wait().await {
                return Err(timed_out(
                    &format!("droplet {id}'s create"),
                    self.poll.deadline,
                ));
            }
        }
    }

    /// Start an action on a droplet and wait for it to complete. A droplet busy with
    /// another action (422 "pending event") is asked again until the deadline.
    pub async fn droplet_action(&self, id: u64, body: Value) -> Result<Value, ProviderError> {
        let what = format!(
            "action {} on droplet {id}",
            body["type"].as_str().unwrap_or("?")
        );
        let mut waits = Waits::new(&self.poll, self.poll.deadline);
        let action = loop {
            match self
                .http
                .json(Request::post(
                    format!("/v2/droplets/{id}/actions"),
                    body.clone(),
                ))
                .await
            {
                Ok(v) => break v,
                Err(e) if locked(&e) => {
                    if !waits.wait().await {
                        return Err(timed_out(&what, self.poll.deadline));
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let action_id = action
            .pointer("/action/id")
            .and_then(Value::as_u64)
            .ok_or_else(|| decode("action answer without id"))?;
        self.wait_action(action_id, &what).await
    }

    /// Poll an action until it is `completed` (an `errored` one is an error).
    pub async fn wait_action(&self, action_id: u64, what: &str) -> Result<Value, ProviderError> {
        let mut waits = Waits::new(&self.poll, self.poll.deadline);
        loop {
            let v = self
                .http
                .json(Request::get(format!("/v2/actions/{action_id}")))
                .await?;
            match v.pointer("/action/status").and_then(Value::as_str) {
                Some("completed") => return Ok(v),
                Some("errored") => {
                    return Err(ProviderError::new(
                        super::P,
                        "action_errored",
                        format!("{what} errored"),
                    ))
                }
                _ => {}
            }
            if !waits.wait().await {
                return Err(timed_out(what, self.poll.deadline));
            }
        }
    }

    /// Resize: a running droplet is powered off, resized (CPU and memory; the disk is kept,
    /// so it can be resized back) and powered on again, each step waited for. Safe to
    /// repeat: each step looks at the droplet first.
    pub async fn resize_droplet(&self, id: u64, size: &str) -> Result<(), ProviderError> {
        let d = self.droplet(id).await?.ok_or_else(|| {
            ProviderError::new(super::P, "not_found", format!("droplet {id} not found"))
        })?;
        let was_on = d.status != "off";
        if d.droplet.size == size && !d.locked {
            return Ok(());
        }
        if was_on {
            self.droplet_action(id, json!({"type": "power_off"}))
                .await?;
        }
        self.droplet_action(id, json!({"type": "resize", "size": size, "disk": false}))
            .await?;
        if was_on {
            self.droplet_action(id, json!({"type": "power_on"})).await?;
        }
        Ok(())
    }

    /// Turn backups on or off (droplet actions `enable_backups` / `disable_backups`).
    pub async fn set_backups(&self, id: u64, on: bool) -> Result<(), ProviderError> {
        let kind = if on {
            "enable_backups"
        } else {
            "disable_backups"
        };
        self.droplet_action(id, json!({"type": kind}))
            .await
            .map(|_| ())
    }

    /// Enable IPv6 (droplet action `enable_ipv6`; there is no action that disables it).
    pub async fn enable_ipv6(&self, id: u64) -> Result<(), ProviderError> {
        self.droplet_action(id, json!({"type": "enable_ipv6"}))
            .await
            .map(|_| ())
    }

    pub async fn power(&self, id: u64, on: bool) -> Result<(), ProviderError> {
        let kind = if on { "power_on" } else { "power_off" };
        self.droplet_action(id, json!({"type": kind}))
            .await
            .map(|_| ())
    }

    /// Start deleting by id; already gone is success.
    pub async fn delete_droplet(&self, id: u64) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(Method::DELETE, format!("/v2/droplets/{id}")))
                .await
                .map(|_| ()),
        )
    }

    /// Delete by id and wait until the droplet is gone (a replacement must not be created
    /// beside, nor adopt, the droplet being destroyed).
    pub async fn delete_droplet_and_wait(&self, id: u64) -> Result<(), ProviderError> {
        self.delete_droplet(id).await?;
        let mut waits = Waits::new(&self.poll, self.poll.deadline);
        while self.droplet(id).await?.is_some() {
            if !waits.wait().await {
                return Err(timed_out(
                    &format!("deleting droplet {id}"),
                    self.poll.deadline,
                ));
            }
        }
        Ok(())
    }

    pub async fn ensure_tag(&self, name: &str) -> Result<(), ProviderError> {
        self.http
            .send(
                Request::post("/v2/tags", json!({"name": name}))
                    .idempotency_key(format!("tag-{name}")),
            )
            .await
            .map(|_| ())
    }

    /// Tag droplets (`POST /v2/tags/{tag}/resources`); the tag is created first (idempotent).
    pub async fn tag_droplets(&self, tag: &str, ids: &[u64]) -> Result<(), ProviderError> {
        self.ensure_tag(tag).await?;
        self.http
            .send(
                Request::post(format!("/v2/tags/{tag}/resources"), tag_resources_body(ids))
                    .idempotency_key(format!("tag-{tag}-{ids:?}")),
            )
            .await
            .map(|_| ())
    }

    /// Untag droplets (`DELETE /v2/tags/{tag}/resources`); a tag already gone is success.
    pub async fn untag_droplets(&self, tag: &str, ids: &[u64]) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(
                    Request::new(Method::DELETE, format!("/v2/tags/{tag}/resources"))
                        .json(tag_resources_body(ids)),
                )
                .await
                .map(|_| ()),
        )
    }
}
