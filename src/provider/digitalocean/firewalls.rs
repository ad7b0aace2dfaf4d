//! Cloud firewalls. They carry no tags of their own: ours are named `odooops-<project>-<env>`
//! and apply to the environment's tag.

use super::normalize::{decode, firewall_body, normalize_firewall};
use super::{ok_if_gone, DigitalOcean, Firewall, LiveFirewall};
use crate::provider::error::ProviderError;
use crate::provider::http::Request;
use crate::provider::paginate;
use reqwest::Method;
use serde_json::Value;

impl DigitalOcean {
    /// Every firewall whose name starts with `prefix` (ours are `odooops-<project>-<env>`).
    pub async fn observe_firewalls(
        &self,
        prefix: &str,
    ) -> Result<Vec<LiveFirewall>, ProviderError> {
        self.observe_firewalls_where(prefix, |_| true).await
    }

    /// The firewalls named `prefix…` that `keep` selects, normalized page by page.
    pub async fn observe_firewalls_where(
        &self,
        prefix: &str,
        keep: impl Fn(&LiveFirewall) -> bool,
    ) -> Result<Vec<LiveFirewall>, ProviderError> {
        paginate::digitalocean_map(&self.http, "/v2/firewalls", "firewalls", &[], |v| {
            // The name is checked before the rules are normalized.
            if !v
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with(prefix))
            {
                return Ok(None);
            }
            normalize_firewall(v).map(|f| keep(&f).then_some(f))
        })
        .await
    }

    /// Create a firewall, adopting one of the same name that an earlier attempt may have
    /// created. The API has no name filter, so looking means listing every firewall: it is
    /// skipped before a `first_attempt` (the caller's ledger records no earlier try, and its
    /// plan observed no such firewall) and done before every retry of a lost answer.
    /// Returns the firewall and whether it was adopted.
    pub async fn create_firewall(
        &self,
        f: &Firewall,
        first_attempt: bool,
    ) -> Result<(LiveFirewall, bool), ProviderError> {
        let mut last_err = None;
        for attempt in 0..5 {
            if attempt > 0 || !first_attempt {
                if let Some(existing) = self
                    .observe_firewalls(&f.name)
                    .await?
                    .into_iter()
                    .find(|x| x.firewall.name == f.name)
                {
                    return Ok((existing, true));
                }
            }
            match self
                .http
                .json(Request::post("/v2/firewalls", firewall_body(f)))
                .await
            {
                Ok(v) => {
                    return normalize_firewall(
                        v.get("firewall")
                            .ok_or_else(|| decode("create answer without firewall"))?,
                    )
                    .map(|live| (live, false))
                }
                Err(e) if e.retryable => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| decode("firewall create did not converge")))
    }

    /// PUT replaces the whole firewall: every rule is sent.
    pub async fn update_firewall(
        &self,
        id: &str,
        f: &Firewall,
    ) -> Result<LiveFirewall, ProviderError> {
        let v = self
            .http
            .json(Request::new(Method::PUT, format!("/v2/firewalls/{id}")).json(firewall_body(f)))
            .await?;
        normalize_firewall(
            v.get("firewall")
                .ok_or_else(|| decode("update answer without firewall"))?,
        )
    }

    pub async fn delete_firewall(&self, id: &str) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(Method::DELETE, format!("/v2/firewalls/{id}")))
                .await
                .map(|_| ()),
        )
    }
}
