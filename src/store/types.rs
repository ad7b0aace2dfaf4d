//! Rows and inputs of the evidence store. Rows are plain structs (serde `Serialize`) so the
//! console can return them as JSON; status-like columns are strings on the row and typed enums
//! on the way in.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

pub type Timestamp = DateTime<Utc>;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} {s:?}; expected one of: {}",
                        stringify!($name),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

text_enum!(
    /// What a run did.
    RunKind { Reconcile => "reconcile", Plan => "plan", Apply => "apply", Gate => "gate", Backup => "backup", Restore => "restore", Clone => "clone", Sync => "sync" }
);
text_enum!(
    /// What started a run.
    Trigger { Cli => "cli", Watch => "watch", Resync => "resync", Webhook => "webhook", Schedule => "schedule", Console => "console" }
);
text_enum!(RunStatus { Running => "running", Succeeded => "succeeded", Failed => "failed", Cancelled => "cancelled" });
text_enum!(
    /// A plan's state: `partial` when its other scopes were applied and some were stale (a plan
    /// whose actions failed stays `planned`, to be applied again).
    PlanStatus { Planned => "planned", Applied => "applied", Partial => "partial", Superseded => "superseded", Stale => "stale" }
);
text_enum!(
    /// Status of an idempotency-ledger row.
    ActionStatus { Pending => "pending", InFlight => "in_flight", Succeeded => "succeeded", Failed => "failed", Adopted => "adopted" }
);
text_enum!(
    /// Event level, ordered from least to most severe.
    Level { Trace => "trace", Debug => "debug", Info => "info", Warn => "warn", Error => "error" }
);
text_enum!(
    /// Outcome of one gate on one environment; `skipped` = not measurable (e.g. no database).
    GateOutcome { Pass => "pass", Fail => "fail", Warn => "warn", Skipped => "skipped" }
);
text_enum!(GateRunStatus { Running => "running", Pass => "pass", Fail => "fail", Warn => "warn" });
text_enum!(JobStatus { Running => "running", Succeeded => "succeeded", Failed => "failed" });
text_enum!(QueueStatus { Queued => "queued", Claimed => "claimed", Done => "done", Failed => "failed" });

impl Level {
    /// This level and every more severe one.
    pub fn at_least(self) -> Vec<&'static str> {
        Level::ALL
            .iter()
            .filter(|l| **l >= self)
            .map(|l| l.as_str())
            .collect()
    }
}

impl PartialOrd for Level {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Level {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

// ---------------------------------------------------------------- runs, plans, diffs

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Run {
    pub id: Uuid,
    pub kind: String,
    pub trigger: String,
    pub ssot_revision: String,
    pub actor: String,
    pub environment: Option<String>,
    pub correlation_id: String,
    pub status: String,
    pub summary: Value,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

#[derive(Clone, Debug)]
pub struct NewRun {
    pub kind: RunKind,
    pub trigger: Trigger,
    pub ssot_revision: String,
    pub actor: String,
    pub environment: Option<String>,
    /// Defaults to the run id.
    pub correlation_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Plan {
    pub id: Uuid,
    pub run_id: Uuid,
    pub ssot_revision: String,
    pub live_fingerprint: String,
    pub plan: Value,
    pub rendered: String,
    pub status: String,
    pub artifact_sha256: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewPlan {
    pub run_id: Uuid,
    pub ssot_revision: String,
    pub live_fingerprint: String,
    /// The plan as JSON text.
    pub plan: String,
    pub rendered: String,
}

/// A plan just stored (status `planned`).
#[derive(Clone, Debug)]
pub struct SavedPlan {
    pub id: Uuid,
    /// The plan JSON's artifact.
    pub artifact_sha256: String,
    /// The rendered text, handed back.
    pub rendered: String,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Diff {
    pub id: i64,
    pub run_id: Uuid,
    pub environment: Option<String>,
    pub resource_kind: String,
    pub resource_name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub changes: Value,
    pub unified: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewDiff {
    pub run_id: Uuid,
    pub environment: Option<String>,
    pub resource_kind: String,
    pub resource_name: String,
    /// Normalized live state.
    pub before: Option<Value>,
    /// Desired state.
    pub after: Option<Value>,
    /// Field-level changes (e.g. `[{"path": "spec.size", "from": 1, "to": 2}]`).
    pub changes: Value,
    pub unified: String,
}

// ---------------------------------------------------------------- ledger

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Action {
    pub id: Uuid,
    pub dedupe_key: String,
    pub plan_id: Option<Uuid>,
    pub run_id: Option<Uuid>,
    pub resource_kind: String,
    pub resource_name: String,
    pub operation: String,
    pub status: String,
    pub attempts: i32,
    pub provider_request_id: Option<String>,
    pub request_summary: Option<Value>,
    pub response_summary: Option<Value>,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// `env/kind/name` of the resource a reconcile action acts on (none: notifications and
    /// rows written before generations existed).
    #[serde(default)]
    pub resource_key: Option<String>,
    /// The fencing token of the apply that claimed the row.
    #[serde(default)]
    pub fence: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct NewAction {
    pub dedupe_key: String,
    pub plan_id: Option<Uuid>,
    pub run_id: Option<Uuid>,
    pub resource_kind: String,
    pub resource_name: String,
    pub operation: String,
    /// Redacted: names and shapes, never secret values.
    pub request_summary: Option<Value>,
    /// `env/kind/name` (reconcile actions).
    pub resource_key: Option<String>,
}

/// Outcome of [`crate::store::Store::ledger_insert`].
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "outcome", content = "action", rename_all = "snake_case")]
pub enum LedgerInsert {
    /// This caller owns the action: perform the side effect.
    Inserted(Action),
    /// Somebody recorded this dedupe key before: do not act twice; inspect the row.
    Existing(Action),
}

impl LedgerInsert {
    pub fn action(&self) -> &Action {
        match self {
            LedgerInsert::Inserted(a) | LedgerInsert::Existing(a) => a,
        }
    }
    pub fn is_inserted(&self) -> bool {
        matches!(self, LedgerInsert::Inserted(_))
    }
}

#[derive(Clone, Debug, Default)]
pub struct ActionUpdate {
    pub status: Option<ActionStatus>,
    pub bump_attempts: bool,
    pub provider_request_id: Option<String>,
    pub response_summary: Option<Value>,
    pub error: Option<String>,
}

// ---------------------------------------------------------------- events

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Event {
    pub id: i64,
    pub ts: Timestamp,
    pub level: String,
    pub service: String,
    pub environment: Option<String>,
    pub correlation_id: Option<String>,
    pub run_id: Option<Uuid>,
    pub message: String,
    pub fields: Value,
}

#[derive(Clone, Debug)]
pub struct NewEvent {
    pub ts: Timestamp,
    pub level: Level,
    pub service: String,
    pub environment: Option<String>,
    pub correlation_id: Option<String>,
    pub run_id: Option<Uuid>,
    pub message: String,
    pub fields: Value,
}

impl NewEvent {
    pub fn new(level: Level, service: impl Into<String>, message: impl Into<String>) -> NewEvent {
        NewEvent {
            ts: super::now(),
            level,
            service: service.into(),
            environment: None,
            correlation_id: None,
            run_id: None,
            message: message.into(),
            fields: Value::Object(Default::default()),
        }
    }
}

/// Filter for [`crate::store::Store::events`]; results are newest first.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub environment: Option<String>,
    /// This level and more severe.
    pub min_level: Option<Level>,
    pub since: Option<Timestamp>,
    pub correlation_id: Option<String>,
    pub run_id: Option<Uuid>,
    /// Default 100, at most 10,000.
    pub limit: Option<i64>,
}

// ---------------------------------------------------------------- drift

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct DriftFinding {
    pub id: Uuid,
    pub environment: String,
    pub resource_kind: String,
    pub resource_name: String,
    pub field_path: String,
    pub desired: Option<Value>,
    pub observed: Option<Value>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub resolved_by: Option<String>,
    pub last_run_id: Option<Uuid>,
}

#[derive(Clone, Debug)]
pub struct DriftObservation {
    pub environment: String,
    pub resource_kind: String,
    pub resource_name: String,
    pub field_path: String,
    pub desired: Option<Value>,
    pub observed: Option<Value>,
    pub run_id: Option<Uuid>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct DriftCount {
    pub environment: String,
    pub open: i64,
}

// ---------------------------------------------------------------- gates

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct GateRun {
    pub id: Uuid,
    pub run_id: Option<Uuid>,
    pub environment: String,
    pub status: String,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct GateResult {
    pub id: i64,
    pub gate_run_id: Uuid,
    pub gate: String,
    pub environment: String,
    pub outcome: String,
    pub measured: Option<Value>,
    pub threshold: Option<Value>,
    pub evidence_sha256: Option<String>,
    pub message: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewGateResult {
    pub gate_run_id: Uuid,
    pub gate: String,
    pub environment: String,
    pub outcome: GateOutcome,
    pub measured: Option<Value>,
    pub threshold: Option<Value>,
    /// An artifact id (sha256) holding the gate's report.
    pub evidence_sha256: Option<String>,
    pub message: String,
}

// ---------------------------------------------------------------- backups

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct BackupJob {
    pub id: Uuid,
    pub run_id: Option<Uuid>,
    pub environment: String,
    pub kind: String,
    pub status: String,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Backup {
    pub id: Uuid,
    pub job_id: Option<Uuid>,
    pub environment: String,
    pub kind: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub location: String,
    pub retention_class: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// The run that took the backup.
    pub run_id: Option<Uuid>,
    /// The filestore tarball's artifact id, when the policy includes the filestore.
    pub filestore_sha256: Option<String>,
    pub filestore_size_bytes: Option<i64>,
    /// The manifest (below) stored as a JSON artifact.
    pub manifest_sha256: Option<String>,
    /// PostgreSQL and Odoo versions, installed modules, object count, timings.
    pub manifest: Value,
    pub started_at: Option<Timestamp>,
}

#[derive(Clone, Debug)]
pub struct NewBackup {
    pub job_id: Option<Uuid>,
    pub environment: String,
    pub kind: String,
    pub size_bytes: i64,
    /// The dump's sha256; when the dump is stored as an artifact this is its artifact id and
    /// retention keeps the artifact while the backup is inside its retention.
    pub sha256: String,
    pub location: String,
    pub retention_class: String,
    pub expires_at: Option<Timestamp>,
}

/// What a full backup records beside [`NewBackup`]: its run, filestore and manifest.
#[derive(Clone, Debug, Default)]
pub struct BackupDetails {
    pub run_id: Option<Uuid>,
    pub filestore_sha256: Option<String>,
    pub filestore_size_bytes: Option<i64>,
    pub manifest_sha256: Option<String>,
    pub manifest: Value,
    pub started_at: Option<Timestamp>,
}

// ---------------------------------------------------------------- bounded jobs

text_enum!(
    /// How a bounded job ended (`running` while it runs; `refused` when it was disabled).
    JobOutcome { Running => "running", Ok => "ok", Failed => "failed", Timeout => "timeout", Cancelled => "cancelled", Refused => "refused" }
);

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct JobRun {
    pub id: Uuid,
    pub kind: String,
    pub environment: String,
    pub run_id: Option<Uuid>,
    pub timeout_ms: i64,
    pub outcome: String,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<i64>,
    /// Consecutive timeouts of this job (kind + environment) including this run.
    pub consecutive_timeouts: i32,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct JobState {
    pub kind: String,
    pub environment: String,
    pub consecutive_timeouts: i32,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

// ---------------------------------------------------------------- secrets, inventory, webhooks

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct SecretSyncRun {
    pub id: Uuid,
    pub run_id: Option<Uuid>,
    pub target: String,
    pub environment: Option<String>,
    /// Key names only, never values.
    pub pushed_keys: Value,
    pub skipped_keys: Value,
    pub outcome: String,
    pub message: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewSecretSync {
    pub run_id: Option<Uuid>,
    pub target: String,
    pub environment: Option<String>,
    pub pushed_keys: Vec<String>,
    pub skipped_keys: Vec<String>,
    pub outcome: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct InventoryObject {
    pub id: i64,
    pub ingest_id: Uuid,
    pub run_id: Option<Uuid>,
    pub provider: String,
    pub object_type: String,
    pub object_id: String,
    pub name: Option<String>,
    pub environment: Option<String>,
    pub owned: bool,
    pub attributes: Value,
    pub observed_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct ObservedObject {
    pub provider: String,
    pub object_type: String,
    pub object_id: String,
    pub name: Option<String>,
    pub environment: Option<String>,
    /// Carries our ownership tags.
    pub owned: bool,
    pub attributes: Value,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct WebhookDelivery {
    pub delivery_id: String,
    pub source: String,
    pub received_at: Timestamp,
    pub signature_ok: bool,
    pub processed: bool,
    pub processed_at: Option<Timestamp>,
    pub payload_sha256: Option<String>,
}

// ---------------------------------------------------------------- artifacts, queue

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Artifact {
    /// The artifact id.
    pub sha256: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub storage_uri: String,
    pub run_id: Option<Uuid>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct QueueJob {
    pub id: Uuid,
    pub queue: String,
    pub dedupe_key: String,
    pub payload: Value,
    pub status: String,
    pub attempts: i32,
    pub run_after: Timestamp,
    pub claimed_by: Option<String>,
    pub lease_expires_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// What the worker produced when it completed the job (e.g. `{"run_id": …}`), if anything.
    pub result: Option<Value>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "outcome", content = "job", rename_all = "snake_case")]
pub enum Enqueued {
    /// A new job (or a finished one re-armed).
    New(QueueJob),
    /// A job with this dedupe key is already queued or claimed.
    Existing(QueueJob),
}
