//! Database clusters: created from their `DatabaseCluster` spec and waited for until
//! online; resized in place (size, nodes). Never replaced nor deleted by the engine: a
//! cluster holds every database in it.

use super::{after, bad, in_place, Act, ActCx, Actuator, Done};
use crate::provider::digitalocean::ClusterSpec;
use crate::reconcile::desired;
use crate::reconcile::plan::Action;
use serde_json::json;

pub struct ClusterActuator;

impl Actuator for ClusterActuator {
    fn create<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let spec: ClusterSpec = after(a)?;
            let tags = desired::cluster_tags();
            let (live, adopted) = cx
                .dig()?
                .create_cluster(&spec, &tags, cx.look_first)
                .await?;
            cx.shared
                .clusters
                .lock()
                .await
                .insert(spec.name.clone(), live.id.clone());
            Ok(Done::new(
                adopted,
                json!({"id": live.id, "name": spec.name, "status": live.status}),
            ))
        })
    }

    fn update<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(async move {
            let spec: ClusterSpec = after(a)?;
            let id = a
                .diff
                .live_id
                .as_deref()
                .ok_or_else(|| bad("cluster without id"))?;
            let fields: Vec<&str> = in_place(a).map(|f| f.path.as_str()).collect();
            let live = cx.dig()?.resize_cluster(id, &spec.size, spec.nodes).await?;
            Ok(Done::new(
                false,
                json!({"id": live.id, "resized": fields, "size": live.spec.size, "nodes": live.spec.nodes}),
            ))
        })
    }

    fn delete<'a>(&'a self, _cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        let key = a.diff.key.to_string();
        Box::pin(async move {
            Err(bad(&format!(
                "{key}: database clusters are never deleted by the engine; delete it by hand once its databases are moved"
            )))
        })
    }
}
