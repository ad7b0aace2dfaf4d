//! Managed database clusters, their databases and users. A cluster is created from its
//! desired spec (nothing hard-coded) and waited for until it is `online`.

use super::normalize::{cluster_body, decode, normalize_cluster};
use super::{ok_if_gone, timed_out, ClusterSpec, DigitalOcean, LiveCluster, Waits};
use crate::provider::error::ProviderError;
use crate::provider::http::Request;
use reqwest::Method;
use serde_json::{json, Value};

impl DigitalOcean {
    /// Every cluster (the list is unpaginated), optionally by tag.
    pub async fn observe_clusters(
        &self,
        tag: Option<&str>,
    ) -> Result<Vec<LiveCluster>, ProviderError> {
        let mut req = Request::get("/v2/databases");
        if let Some(t) = tag {
            req = req.query("tag_name", t);
        }
        let v = self.http.json(req).await?;
        let items = v
            .get("databases")
            .and_then(Value::as_array)
            .ok_or_else(|| decode("answer without databases"))?;
        items.iter().map(normalize_cluster).collect()
    }

    /// One cluster by id (`None`: it does not exist).
    pub async fn cluster(&self, id: &str) -> Result<Option<LiveCluster>, ProviderError> {
        match self
            .http
            .json(Request::get(format!("/v2/databases/{id}")))
            .await
        {
            Ok(v) => normalize_cluster(
                v.get("database")
                    .ok_or_else(|| decode("answer without database"))?,
            )
            .map(Some),
            Err(e) if e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Create a cluster from its spec, tagged `tags`, and wait until it is online. With
    /// `look_first` (a retry, or a ledger row a crash left) a cluster of that name carrying
    /// `tags[0]` is adopted; one without it is not ours and is an error. Returns the cluster
    /// and whether it was adopted.
    pub async fn create_cluster(
        &self,
        spec: &ClusterSpec,
        tags: &[String],
        look_first: bool,
    ) -> Result<(LiveCluster, bool), ProviderError> {
        if look_first {
            if let Some(c) = self
                .observe_clusters(None)
                .await?
                .into_iter()
                .find(|c| c.spec.name == spec.name)
            {
                if tags.first().is_some_and(|t| !c.tags.contains(t)) {
                    return Err(ProviderError::new(
                        super::P,
                        "conflict",
                        format!(
                            "a database cluster named `{}` exists but is not ours (no `{}` tag)",
                            spec.name,
                            tags.first().map(String::as_str).unwrap_or_default()
                        ),
                    ));
                }
                return Ok((self.wait_online(&c.id).await?, true));
            }
        }
        let v = self
            .http
            .json(Request::post("/v2/databases", cluster_body(spec, tags)))
            .await?;
        let c = normalize_cluster(
            v.get("database")
                .ok_or_else(|| decode("answer without database"))?,
        )?;
        Ok((self.wait_online(&c.id).await?, false))
    }

    /// Wait until cluster `id` is `online`.
    pub async fn wait_online(&self, id: &str) -> Result<LiveCluster, ProviderError> {
        let deadline = self.poll.cluster_deadline;
        let mut waits = Waits::new(&self.poll, deadline);
        loop {
            match self.cluster(id).await? {
                Some(c) if c.status == "online" => return Ok(c),
                Some(_) => {}
                None => {
                    return Err(ProviderError::new(
                        super::P,
                        "not_found",
                        format!("database cluster {id} disappeared while waiting for it"),
                    ))
                }
            }
            if !waits.wait().await {
                return Err(timed_out(&format!("database cluster {id}"), deadline));
            }
        }
    }

    /// Resize a cluster (size and node count; 202, then `resizing` until `online`).
    pub async fn resize_cluster(
        &self,
        id: &str,
        size: &str,
        nodes: u32,
    ) -> Result<LiveCluster, ProviderError> {
        self.http
            .send(
                Request::new(Method::PUT, format!("/v2/databases/{id}/resize"))
                    .json(json!({"size": size, "num_nodes": nodes})),
            )
            .await?;
        self.wait_online(id).await
    }

    /// Create a database in a cluster. An existing one (422) is success only when `adopt`
    /// (a retry of our own create); otherwise it is someone else's and an error.
    pub async fn create_database(
        &self,
        cluster_id: &str,
        name: &str,
        adopt: bool,
    ) -> Result<bool, ProviderError> {
        match self
            .http
            .send(Request::post(
                format!("/v2/databases/{cluster_id}/dbs"),
                json!({"name": name}),
            ))
            .await
        {
            Ok(_) => Ok(false),
            Err(e) if e.status == Some(422) && adopt => Ok(true),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_database(&self, cluster_id: &str, name: &str) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(
                    Method::DELETE,
                    format!("/v2/databases/{cluster_id}/dbs/{name}"),
                ))
                .await
                .map(|_| ()),
        )
    }

    /// Create a database user (the generated password in the answer is dropped: Odoo's
    /// password comes from the secret registry). An existing one is success only when
    /// `adopt`.
    pub async fn create_user(
        &self,
        cluster_id: &str,
        name: &str,
        adopt: bool,
    ) -> Result<bool, ProviderError> {
        match self
            .http
            .send(Request::post(
                format!("/v2/databases/{cluster_id}/users"),
                json!({"name": name}),
            ))
            .await
        {
            Ok(_) => Ok(false),
            Err(e) if e.status == Some(422) && adopt => Ok(true),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_user(&self, cluster_id: &str, name: &str) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(
                    Method::DELETE,
                    format!("/v2/databases/{cluster_id}/users/{name}"),
                ))
                .await
                .map(|_| ()),
        )
    }
}
