//! Plane adapter: findings become work items, idempotent on (`external_id`,
//! `external_source = "odooops"`). A create first lists by external id and adopts what exists;
//! the server answers 409 on a duplicate pair, so a create may be retried safely (it carries an
//! `Idempotency-Key`) and a 409 is resolved by adopting the existing item.

use super::error::{Provider, ProviderError};
use super::http::{HttpClient, Request};
use super::paginate;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const P: Provider = Provider::Plane;
/// Our `external_source` on every work item we create.
pub const EXTERNAL_SOURCE: &str = "odooops";
const PRIORITIES: [&str; 5] = ["urgent", "high", "medium", "low", "none"];

/// A finding to track as a work item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable id of the finding (our dedupe key on the Plane side).
    pub external_id: String,
    pub name: String,
    pub description_html: String,
    /// `urgent` | `high` | `medium` | `low` | `none`.
    pub priority: String,
    /// Label names (resolved to the project's label ids; missing labels are created).
    pub labels: Vec<String>,
    /// State name (`Backlog`, `Todo`, …); none = the project's default state.
    pub state: Option<String>,
}

/// A work item, normalized: sorted label ids, no server bookkeeping.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct WorkItem {
    pub id: String,
    pub sequence_id: i64,
    pub name: String,
    pub description_html: String,
    pub priority: String,
    pub state: Option<String>,
    /// Sorted, deduplicated label ids.
    pub labels: Vec<String>,
    pub external_id: Option<String>,
    pub external_source: Option<String>,
    pub completed: bool,
}

/// A state or label: id and name (and group for states).
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub id: String,
    pub name: String,
    pub group: Option<String>,
}

fn decode(msg: &str) -> ProviderError {
    ProviderError::new(P, "decode", msg.to_string())
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Normalize a work item object of the API.
pub fn normalize(v: &Value) -> Result<WorkItem, ProviderError> {
    let id = text(v, "id").ok_or_else(|| decode("work item without id"))?;
    // `labels` are ids; with `expand=labels` they are objects.
    let mut labels: Vec<String> = v
        .get("labels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_string).or_else(|| text(l, "id")))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    labels.dedup();
    let state = v
        .get("state")
        .and_then(|s| s.as_str().map(str::to_string).or_else(|| text(s, "id")));
    Ok(WorkItem {
        id,
        sequence_id: v.get("sequence_id").and_then(Value::as_i64).unwrap_or(0),
        name: text(v, "name").unwrap_or_default(),
        description_html: text(v, "description_html").unwrap_or_default(),
        priority: text(v, "priority").unwrap_or_else(|| "none".into()),
        state,
        labels,
        external_id: text(v, "external_id"),
        external_source: text(v, "external_source"),
        completed: v.get("completed_at").is_some_and(|c| !c.is_null()),
    })
}

fn named(v: &Value) -> Result<Named, ProviderError> {
    Ok(Named {
        id: text(v, "id").ok_or_else(|| decode("state or label without id"))?,
        name: text(v, "name").unwrap_or_default(),
        group: text(v, "group"),
    })
}

/// The create body for a finding, with state and labels already resolved to ids.
pub fn work_item_body(f: &Finding, state: Option<&str>, labels: &[String]) -> Value {
    let mut body = json!({
        "name": f.name,
        "description_html": f.description_html,
        "priority": f.priority,
        "labels": labels,
        "external_id": f.external_id,
        "external_source": EXTERNAL_SOURCE,
    });
    if let Some(s) = state {
        body["state"] = json!(s);
    }
    body
}

/// The Plane adapter for one project.
#[derive(Clone, Debug)]
pub struct Plane {
    http: HttpClient,
    workspace: String,
    project: String,
}

impl Plane {
    pub fn new(http: HttpClient, workspace_slug: &str, project_id: &str) -> Self {
        Plane {
            http,
            workspace: workspace_slug.to_string(),
            project: project_id.to_string(),
        }
    }
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn path(&self, tail: &str) -> String {
        format!(
            "/api/v1/workspaces/{}/projects/{}/{tail}",
            self.workspace, self.project
        )
    }

    /// Token check.
    pub async fn me(&self) -> Result<Value, ProviderError> {
        self.http.json(Request::get("/api/v1/users/me/")).await
    }

    pub async fn states(&self) -> Result<Vec<Named>, ProviderError> {
        let items = paginate::plane(&self.http, &self.path("states/"), &[]).await?;
        items.iter().map(named).collect()
    }

    pub async fn labels(&self) -> Result<Vec<Named>, ProviderError> {
        let items = paginate::plane(&self.http, &self.path("labels/"), &[]).await?;
        items.iter().map(named).collect()
    }

    /// A state id by name (case-insensitive); an unknown name lists the known ones.
    pub async fn state_id(&self, name: &str) -> Result<String, ProviderError> {
        let states = self.states().await?;
        states
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.id.clone())
            .ok_or_else(|| {
                let known: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
                ProviderError::new(
                    P,
                    "unknown_state",
                    format!(
                        "no state `{name}` in the project (known: {})",
                        known.join(", ")
                    ),
                )
            })
    }

    /// Label ids for `names`, creating the missing labels (a 409 adopts the existing one).
    pub async fn ensure_labels(&self, names: &[String]) -> Result<Vec<String>, ProviderError> {
        let mut known = self.labels().await?;
        let mut ids = Vec::new();
        for name in names {
            if let Some(l) = known.iter().find(|l| l.name.eq_ignore_ascii_case(name)) {
                ids.push(l.id.clone());
                continue;
            }
            let created = self
                .http
                .json(Request::post(self.path("labels/"), json!({"name": name})))
                .await;
            match created {
                Ok(v) => {
                    let l = named(&v)?;
                    ids.push(l.id.clone());
                    known.push(l);
                }
                Err(e) if e.status == Some(409) => {
                    known = self.labels().await?;
                    let l = known
                        .iter()
                        .find(|l| l.name.eq_ignore_ascii_case(name))
                        .ok_or_else(|| decode("label conflict without the label"))?;
                    ids.push(l.id.clone());
                }
                Err(e) => return Err(e),
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Work items with this external id (ours: `external_source = odooops`).
    pub async fn list_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Vec<WorkItem>, ProviderError> {
        let items = paginate::plane(
            &self.http,
            &self.path("work-items/"),
            &[
                ("external_id", external_id.to_string()),
                ("external_source", EXTERNAL_SOURCE.to_string()),
            ],
        )
        .await?;
        items.iter().map(normalize).collect()
    }

    /// Every work item we created (one paginated list).
    pub async fn observe(&self) -> Result<Vec<WorkItem>, ProviderError> {
        let items = paginate::plane(
            &self.http,
            &self.path("work-items/"),
            &[("external_source", EXTERNAL_SOURCE.to_string())],
        )
        .await?;
        items.iter().map(normalize).collect()
    }

    /// Our work items carrying the label `name` (the list API has no label filter).
    pub async fn list_by_label(&self, name: &str) -> Result<Vec<WorkItem>, ProviderError> {
        let labels = self.labels().await?;
        let Some(label) = labels.iter().find(|l| l.name.eq_ignore_ascii_case(name)) else {
            return Ok(Vec::new());
        };
        Ok(self
            .observe()
            .await?
            .into_iter()
            .filter(|w| w.labels.contains(&label.id))
            .collect())
    }

    /// The work item for `finding`: adopted if it exists, created otherwise. An existing
    /// item is adopted as it is: people triage it in Plane, and we do not overwrite their
    /// edits (use [`Plane::set_state`] / [`Plane::patch`] for deliberate changes).
    pub async fn ensure_work_item(&self, finding: &Finding) -> Result<WorkItem, ProviderError> {
        if !PRIORITIES.contains(&finding.priority.as_str()) {
            return Err(ProviderError::new(
                P,
                "invalid_priority",
                format!(
                    "priority `{}` is not one of {}",
                    finding.priority,
                    PRIORITIES.join(", ")
                ),
            ));
        }
        if let Some(existing) = self.adopt(&finding.external_id).await? {
            return Ok(existing);
        }
        let state = match &finding.state {
            Some(name) => Some(self.state_id(name).await?),
            None => None,
        };
        let labels = self.ensure_labels(&finding.labels).await?;
        let body = work_item_body(finding, state.as_deref(), &labels);
        let req = Request::post(self.path("work-items/"), body)
            .idempotency_key(format!("plane:{EXTERNAL_SOURCE}:{}", finding.external_id));
        match self.http.json(req).await {
            Ok(v) => normalize(&v),
            // Created meanwhile (or by an earlier attempt whose answer was lost): adopt the
            // item the 409 names (or, if it names none, the one the external id finds).
            Err(e) if e.status == Some(409) => match e.existing_id {
                Some(id) => self.get(&id).await,
                None => self
                    .adopt(&finding.external_id)
                    .await?
                    .ok_or_else(|| decode("409 on create, but no work item with the external id")),
            },
            Err(e) => Err(e),
        }
    }

    async fn adopt(&self, external_id: &str) -> Result<Option<WorkItem>, ProviderError> {
        let mut found = self.list_by_external_id(external_id).await?;
        found.sort_by_key(|w| w.sequence_id);
        Ok(found.into_iter().next())
    }

    pub async fn get(&self, id: &str) -> Result<WorkItem, ProviderError> {
        let v = self
            .http
            .json(Request::get(self.path(&format!("work-items/{id}/"))))
            .await?;
        normalize(&v)
    }

    /// Move a work item to the state named `state_name`.
    pub async fn set_state(&self, id: &str, state_name: &str) -> Result<WorkItem, ProviderError> {
        let state = self.state_id(state_name).await?;
        self.patch(id, json!({ "state": state })).await
    }

    /// PATCH is idempotent (same body, same result), so it is retried.
    pub async fn patch(&self, id: &str, body: Value) -> Result<WorkItem, ProviderError> {
        let req = Request::new(Method::PATCH, self.path(&format!("work-items/{id}/")))
            .json(body)
            .idempotency_key(format!("plane:patch:{id}"));
        normalize(&self.http.json(req).await?)
    }

    /// Delete; an already-gone item is fine.
    pub async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        match self
            .http
            .send(Request::new(
                Method::DELETE,
                self.path(&format!("work-items/{id}/")),
            ))
            .await
        {
            Err(e) if e.status == Some(404) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_label_order_and_expanded_forms() {
        let v = json!({"id": "w1", "name": "n", "labels": ["b", {"id": "a"}, "b"],
                       "state": {"id": "s1"}, "completed_at": null, "sequence_id": 3});
        let w = normalize(&v).expect("item");
        assert_eq!(w.labels, vec!["a", "b"]);
        assert_eq!(w.state.as_deref(), Some("s1"));
        assert!(!w.completed);
        assert_eq!(w.priority, "none");
        assert!(normalize(&json!({"name": "x"})).is_err());
    }
}
