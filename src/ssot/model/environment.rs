//! `Environment`: one branch of a project running on one host with one database.

use super::common::{Maturity, Stage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Name of the `Project` this environment belongs to.
    pub project: String,
    pub stage: Stage,
    /// Git branch deployed here.
    pub branch: String,
    pub maturity: Maturity,
    pub host: Host,
    pub database: Database,
    #[serde(default)]
    pub odoo: OdooServer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    pub mail: Mail,
    #[serde(default)]
    pub modules: Modules,
    /// Where this environment's data comes from (staging = neutralized copy of production).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging_source: Option<StagingSource>,
    #[serde(default)]
    pub reconcile: ReconcilePolicy,
    #[serde(default)]
    pub limits: ResourceLimits,
    #[serde(default)]
    pub firewall: FirewallPolicy,
    /// Names of `Notifier` resources told about this environment's findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifiers: Vec<String>,
    /// Secret-registry keys this environment's runtime needs (pushed, never stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// How Odoo is delivered to the host (with the project's `odoo.source`): releases of
    /// the branch's commit, over SSH or on this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<super::Delivery>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum HostProvider {
    #[default]
    Digitalocean,
}

/// A DigitalOcean droplet.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Host {
    #[serde(default)]
    pub provider: HostProvider,
    /// Region slug; default: the project's `defaultRegion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Droplet size slug, e.g. `s-2vcpu-4gb`.
    pub size: String,
    #[serde(default = "default_image")]
    pub image: String,
    /// Names of SSH keys registered on the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<String>,
    /// Extra tags (ownership tags `odooops:project=…`/`odooops:env=…` are always added).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default = "yes")]
    pub monitoring: bool,
    #[serde(default)]
    pub ipv6: bool,
    #[serde(default)]
    pub backups: bool,
}

fn default_image() -> String {
    "ubuntu-24-04-x64".to_string()
}
fn yes() -> bool {
    true
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseProvider {
    Supabase,
    Digitalocean,
    Postgres,
}

/// How Odoo connects. Odoo needs LISTEN/NOTIFY and prepared statements: `session` (Supabase
/// session pooler, port 5432) or `direct`; the `transaction` pooler (6543) is refused.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionMode {
    #[default]
    Session,
    Direct,
    Transaction,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Database {
    pub provider: DatabaseProvider,
    /// Database name.
    pub name: String,
    /// DigitalOcean managed cluster name (provider `digitalocean`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Supabase project ref (provider `supabase`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ref: Option<String>,
    #[serde(default)]
    pub connection_mode: ConnectionMode,
    /// Database role Odoo connects as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Secret-registry key of the role's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<String>,
    /// Secret-registry key of a full connection URL (provider `postgres`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_secret: Option<String>,
}

/// Odoo server options (`odoo.conf`); unset values take Odoo's defaults, except `workers`
/// (production: computed from the droplet size; staging/development: 1).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OdooServer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cron_threads: Option<u32>,
    /// MiB (odoo.conf takes bytes; rendering converts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_memory_soft_mib: Option<u64>,
    /// MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_memory_hard_mib: Option<u64>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_time_cpu: Option<u32>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_time_real: Option<u32>,
    /// Seconds; -1 = same as limitTimeReal, 0 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_time_real_cron: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_request: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_maxconn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_db: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbfilter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Domain {
    /// DNS zone managed on DigitalOcean, e.g. `example.com`.
    pub zone: String,
    /// Record name inside the zone (`@` for the apex, `staging`, `erp`).
    pub record: String,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

fn default_ttl() -> u32 {
    1800
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailMode {
    /// Real outgoing SMTP (production only).
    Smtp,
    /// Capture outgoing mail (non-production, like Odoo.sh's "Mails" tab).
    Catcher,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpEncryption {
    Ssl,
    Starttls,
    None,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mail {
    pub mode: MailMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// 465 (SSL) or 587 (STARTTLS); port 25 is refused (Odoo.sh parity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<SmtpEncryption>,
    /// Secret-registry key of the SMTP user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_secret: Option<String>,
    /// Secret-registry key of the SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Modules {
    /// Modules to install, in addition to the ModuleSet's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub install: Vec<String>,
    /// Name of a `ModuleSet` (allowed modules, waves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_set: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StagingSource {
    /// The project's production environment.
    pub from_environment: String,
    /// Neutralize the copy (mail, crons, payment, ...). Must be true.
    pub neutralize: bool,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReconcileMode {
    /// Apply changes to converge.
    #[default]
    Auto,
    /// Record and notify drift; never correct it.
    DetectOnly,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReconcilePolicy {
    #[serde(default)]
    pub mode: ReconcileMode,
    /// Delete owned objects no longer desired (off by default).
    #[serde(default)]
    pub prune: bool,
    /// JSON pointers of live fields never compared (e.g. `/droplet/size`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

/// Staging/dev resource limits (Odoo.sh parity).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_workers: Option<u32>,
    /// MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Wall-clock bound of one job (backup, restore, clone, gate), seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_timeout_seconds: Option<u64>,
    /// Days a development database lives (Odoo.sh: about 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_days: Option<u32>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FirewallPolicy {
    /// CIDRs allowed to reach SSH (22). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_sources: Vec<String>,
    /// CIDRs allowed to reach HTTP/HTTPS. Default: anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_sources: Vec<String>,
}
