//! The console's view models: one function per page, shared by the HTML pages and the JSON
//! API so both show the same data. Each keeps only what the request's [`Scope`] covers
//! (see [`super::access`]): lists are filtered, a single record outside it is a 404.

use super::access::{
    check_env_filter, fetch, hidden, job_visible, plan_visible, sees_all, visible,
    visible_drift_counts, Scope,
};
use super::errors::ApiError;
use super::AppState;
use crate::store::{
    Action, Artifact, Backup, DriftCount, DriftFinding, Event, EventFilter, FieldCount, GateResult,
    GateRun, InventoryObject, Level, Plan, QueueJob, Run, SecretSyncRun, StatusCount, Timestamp,
    WebhookDelivery,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

pub(super) type R<T> = Result<T, ApiError>;

pub(super) const LIST: i64 = 200;

pub(super) fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn value_str<T: Serialize>(v: &T) -> String {
    match to_value(v) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

mod catalog;
mod health;
mod runs;

pub use catalog::*;
pub use health::*;
pub use runs::*;
