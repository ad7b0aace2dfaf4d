//! The operational kinds: `BackupPolicy`, `Gate`, `ModuleSet`, `SecretRegistry`, `Notifier`.

use super::common::{OdooSeries, Stage, Storage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupPolicySpec {
    /// Name of the `Environment` backed up.
    pub environment: String,
    /// Five-field cron expression, UTC (`0 3 * * *` = daily at 03:00).
    pub schedule: String,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default = "yes")]
    pub include_filestore: bool,
    /// Where dumps go; default: the project's artifact storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_drill: Option<RestoreDrill>,
}

fn yes() -> bool {
    true
}

/// Grandfather-father-son retention; defaults are Odoo.sh's 7 daily / 4 weekly / 3 monthly.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retention {
    #[serde(default = "d7")]
    pub daily: u32,
    #[serde(default = "d4")]
    pub weekly: u32,
    #[serde(default = "d3")]
    pub monthly: u32,
    /// Manual backups allowed per day (Odoo.sh: 5).
    #[serde(default = "d5")]
    pub manual_per_day: u32,
    /// Manual backups kept.
    #[serde(default = "d5")]
    pub manual_keep: u32,
}

fn d7() -> u32 {
    7
}
fn d4() -> u32 {
    4
}
fn d3() -> u32 {
    3
}
fn d5() -> u32 {
    5
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            daily: 7,
            weekly: 4,
            monthly: 3,
            manual_per_day: 5,
            manual_keep: 5,
        }
    }
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreDrill {
    /// Five-field cron expression, UTC.
    pub schedule: String,
    /// Environment restored into (never production); default: a scratch database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_environment: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum GateType {
    DbObjectCount,
    CronTimeout,
    ModuleAllowlist,
    SmtpPolicy,
    ResourceLimits,
}

impl GateType {
    pub fn as_str(self) -> &'static str {
        match self {
            GateType::DbObjectCount => "db_object_count",
            GateType::CronTimeout => "cron_timeout",
            GateType::ModuleAllowlist => "module_allowlist",
            GateType::SmtpPolicy => "smtp_policy",
            GateType::ResourceLimits => "resource_limits",
        }
    }
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Fail,
    Warn,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateSpec {
    #[serde(rename = "type")]
    pub gate_type: GateType,
    #[serde(default)]
    pub params: GateParams,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub scope: GateScope,
}

/// Gate parameters; which apply depends on the gate type.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateParams {
    /// db_object_count: maximum tables + sequences (Odoo.sh: 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// cron_timeout: longest allowed run of one cron, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seconds: Option<u64>,
    /// cron_timeout: shortest allowed interval between runs, minutes (Odoo.sh: 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval_minutes: Option<u64>,
    /// cron_timeout: consecutive timeouts after which a cron is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_disable_after: Option<u32>,
    /// cron_timeout: actually disable offending crons (with evidence) rather than report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce: Option<bool>,
    /// resource_limits: highest limit_memory_hard allowed outside production, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_hard_mib: Option<u64>,
    /// resource_limits: highest limit_time_real allowed, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_time_real: Option<u32>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateScope {
    /// Environment names; empty = every environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Stages; empty = every stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CorePolicy {
    /// Any Odoo Community core addon is allowed.
    #[default]
    AllowAll,
    /// Core addons must be listed in a wave like any other module.
    ListedOnly,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModuleSetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<OdooSeries>,
    #[serde(default)]
    pub core_policy: CorePolicy,
    /// Rollout waves, numbered 1..n.
    pub waves: Vec<Wave>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Wave {
    pub wave: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Addon technical names.
    pub modules: Vec<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    /// The controller's process environment.
    Env,
    /// Supabase project secrets.
    Supabase,
    /// Vercel project environment variables.
    Vercel,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRegistrySpec {
    pub keys: Vec<SecretKey>,
}

/// One secret key: a name and where its value lives. Never a value.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKey {
    /// UPPER_SNAKE_CASE key name; also the environment variable read by the controller.
    #[schemars(regex(pattern = r"^[A-Z][A-Z0-9_]*$"))]
    pub name: String,
    pub source: SecretSource,
    /// Where the value is pushed by `secrets sync` (in addition to the source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_to: Vec<SecretSource>,
    /// Who needs it: resource names or components (`controller`, `odoo`, `console`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyEvent {
    DriftDetected,
    DriftResolved,
    ApplyFailed,
    ApplySucceeded,
    GateFailed,
    BackupFailed,
    BackupSucceeded,
    RestoreCompleted,
    SecretSyncFailed,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifierSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackNotifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plane: Option<PlaneNotifier>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackNotifier {
    /// Secret-registry key of the incoming-webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Secret-registry key of a bot token (for `chat.postMessage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token_secret: Option<String>,
    pub channel: String,
    pub events: Vec<NotifyEvent>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaneNotifier {
    /// Workspace slug.
    pub workspace: String,
    /// Project id (UUID).
    pub project: String,
    /// Secret-registry key of the `X-API-Key`.
    pub api_key_secret: String,
    /// Findings that become work items.
    pub work_items_for: Vec<NotifyEvent>,
    /// Plane label name added to every work item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}
