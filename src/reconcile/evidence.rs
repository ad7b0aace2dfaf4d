//! Evidence lines of a run: events with the run id and its correlation id (best effort:
//! a log line that cannot be written is a warning, never a failed reconcile; ledger writes
//! are not best effort and do not come through here).

use crate::store::{Level, NewEvent, Store};
use serde_json::Value;
use uuid::Uuid;

pub async fn event(
    store: &Store,
    run: Uuid,
    corr: &str,
    level: Level,
    env: Option<&str>,
    msg: String,
    fields: Value,
) {
    let mut e = NewEvent::new(level, "reconcile", msg);
    e.run_id = Some(run);
    e.correlation_id = Some(corr.to_string());
    e.environment = env.map(str::to_string);
    e.fields = fields;
    if let Err(err) = store.append_events(&[e]).await {
        tracing::warn!(%err, "could not record event");
    }
}
