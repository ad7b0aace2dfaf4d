//! The SSOT resource model: Kubernetes-shaped documents (`apiVersion`, `kind`, `metadata`,
//! `spec`). These Rust types are the single source of the JSON Schemas in `crds/`.

mod cluster;
mod common;
mod delivery;
mod environment;
mod ops;
mod project;

pub use cluster::*;
pub use common::*;
pub use delivery::*;
pub use environment::*;
pub use ops::*;
pub use project::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The only API version this build understands.
pub const API_VERSION: &str = "odooops.dev/v1alpha1";

/// `apiVersion` of every document.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    #[serde(rename = "odooops.dev/v1alpha1")]
    V1alpha1,
}

/// Identity of a resource: a DNS-label name plus free-form labels and annotations.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// DNS label: lowercase letters, digits and `-`, 1–63 characters.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

macro_rules! kinds {
    ($( $kind:ident => $spec:ty, $doc:literal ;)*) => {
        /// The kinds of SSOT document.
        #[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $( $kind, )* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[ $( Kind::$kind, )* ];
            pub fn as_str(self) -> &'static str {
                match self { $( Kind::$kind => stringify!($kind), )* }
            }
            pub fn parse(s: &str) -> Option<Kind> {
                match s { $( stringify!($kind) => Some(Kind::$kind), )* _ => None }
            }
            /// JSON Schema of one document of this kind.
            pub fn schema(self) -> schemars::Schema {
                match self { $( Kind::$kind => schemars::schema_for!($kind), )* }
            }
        }

        impl std::fmt::Display for Kind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        pub mod kind_tags {
            use super::*;
            $(
                #[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
                pub enum $kind { $kind }
            )*
        }

        $(
            #[doc = $doc]
            #[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
            #[serde(deny_unknown_fields)]
            pub struct $kind {
                #[serde(rename = "apiVersion")]
                pub api_version: ApiVersion,
                pub kind: kind_tags::$kind,
                pub metadata: Metadata,
                pub spec: $spec,
            }
        )*

        /// Any one SSOT document, typed. Boxed: kinds differ a lot in size, and a tree of
        /// thousands of resources should not pay the largest kind's size for each.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Resource { $( $kind(Box<$kind>), )* }

        impl Resource {
            pub fn kind(&self) -> Kind {
                match self { $( Resource::$kind(_) => Kind::$kind, )* }
            }
            pub fn metadata(&self) -> &Metadata {
                match self { $( Resource::$kind(r) => &r.metadata, )* }
            }
            pub fn name(&self) -> &str { &self.metadata().name }
            /// Deserialize a document already checked against its kind's schema.
            pub fn from_value(kind: Kind, value: serde_json::Value) -> Result<Resource, serde_json::Error> {
                Ok(match kind { $( Kind::$kind => Resource::$kind(Box::new(serde_json::from_value(value)?)), )* })
            }
            pub fn to_value(&self) -> serde_json::Value {
                let v = match self { $( Resource::$kind(r) => serde_json::to_value(r), )* };
                v.unwrap_or(serde_json::Value::Null)
            }
        }
    };
}

kinds! {
    Project => ProjectSpec, "An Odoo project: series, repository, provider accounts, artifact storage.";
    Environment => EnvironmentSpec, "One Odoo environment (a branch): host, database, server settings, mail, modules.";
    BackupPolicy => BackupPolicySpec, "Backup schedule and retention for one environment.";
    Gate => GateSpec, "A parity gate: a deterministic check with a threshold and a severity.";
    ModuleSet => ModuleSetSpec, "Allowed modules, in waves, and the policy for core addons.";
    SecretRegistry => SecretRegistrySpec, "The secret keys the SSOT may reference (names only, never values).";
    Notifier => NotifierSpec, "Where findings are sent: Slack and/or Plane.";
    DatabaseCluster => DatabaseClusterSpec, "A managed PostgreSQL cluster environments keep their databases in.";
}
