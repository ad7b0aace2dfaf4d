//! Databases and users inside a cluster: they carry no tags, so each one created is
//! recorded in the inventory by `cluster id/name`; an existing one is adopted only on a
//! retry of our own create (a same-named one of someone else is a conflict, caught when
//! observed). A user moved to another cluster is re-created there; a database never moves.

use super::{bad, Act, ActCx, Actuator, Done};
use crate::provider::ProviderError;
use crate::reconcile::diff::ObjectKind;
use crate::reconcile::plan::Action;
use serde_json::json;

pub struct DatabaseActuator;

fn cluster_name(v: Option<&serde_json::Value>) -> String {
    v.and_then(|v| v["cluster"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The id of the cluster named by the desired value.
async fn cluster_id(cx: &ActCx<'_>, name: &str) -> Result<String, ProviderError> {
    cx.shared.clusters.lock().await.get(name).cloned().ok_or_else(|| {
        bad(&format!(
            "database cluster `{name}` does not exist (its create is planned before, failed, or is held)"
        ))
    })
}

async fn create(cx: &ActCx<'_>, a: &Action) -> Result<Done, ProviderError> {
    let dig = cx.dig()?;
    let cluster = cluster_name(a.diff.after.as_ref());
    let id = cluster_id(cx, &cluster).await?;
    let name = &a.diff.key.name;
    let provider_id = format!("{id}/{name}");
    // Held across the create: a user several environments share is created by the first
    // and adopted by the others, never raced.
    let mut made = cx.shared.made.lock().await;
    let adopt = cx.look_first || made.contains(&provider_id);
    let adopted = match a.diff.key.kind {
        ObjectKind::Database => dig.create_database(&id, name, adopt).await?,
        _ => dig.create_user(&id, name, adopt).await?,
    };
    made.insert(provider_id);
    drop(made);
    Ok(Done::new(adopted, json!({"cluster": id, "name": name})).with_id(format!("{id}/{name}")))
}

async fn delete(cx: &ActCx<'_>, a: &Action) -> Result<Done, ProviderError> {
    let dig = cx.dig()?;
    let (id, name) = a
        .diff
        .live_id
        .as_deref()
        .and_then(|i| i.split_once('/'))
        .ok_or_else(|| bad("database without id"))?;
    match a.diff.key.kind {
        ObjectKind::Database => dig.delete_database(id, name).await?,
        _ => dig.delete_user(id, name).await?,
    }
    Ok(Done::new(false, json!({"cluster": id, "name": name})))
}

impl Actuator for DatabaseActuator {
    fn create<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(create(cx, a))
    }

    /// Nothing of a database or user changes in place (its cluster is its identity).
    fn update<'a>(&'a self, _cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        let key = a.diff.key.to_string();
        Box::pin(async move { Err(bad(&format!("{key} has nothing to change in place"))) })
    }

    fn replace<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            if a.diff.key.kind == ObjectKind::Database {
                return Err(bad(
                    "a database is never replaced by an empty one; move it with backup and restore",
                ));
            }
            let done = create(cx, a).await?;
            delete(cx, a).await?;
            Ok(done)
        })
    }

    fn delete<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(delete(cx, a))
    }
}
