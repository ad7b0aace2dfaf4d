//! `DatabaseCluster`: a managed PostgreSQL cluster environments keep their databases in.
//! It is desired state like everything else: created from this spec (never from defaults
//! hidden in code), shown in the plan, shared by every environment that names it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClusterProvider {
    /// A DigitalOcean managed PostgreSQL cluster.
    #[default]
    Digitalocean,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabaseClusterSpec {
    /// The `Project` whose DigitalOcean account holds the cluster (and whose
    /// `defaultRegion` it defaults to); default: the project of the first environment (by
    /// name) that uses it. Every environment using it must be on that account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default)]
    pub provider: ClusterProvider,
    /// Region slug; default: the project's `defaultRegion`. Fixed at create (a different
    /// region is refused, never a new empty cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Node size slug, e.g. `db-s-1vcpu-1gb` (changed in place by a resize).
    pub size: String,
    /// PostgreSQL major version. Fixed at create.
    #[serde(default = "default_version")]
    pub version: String,
    /// Nodes, 1 (primary only) to 3 (changed in place by a resize).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 3))]
    pub nodes: u32,
}

fn default_version() -> String {
    "16".to_string()
}

fn one() -> u32 {
    1
}
