//! Small types shared by several kinds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Odoo.sh stage of an environment.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Production,
    Staging,
    Development,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Production => "production",
            Stage::Staging => "staging",
            Stage::Development => "development",
        }
    }
    /// The `ODOO_STAGE` value Odoo.sh exposes to code.
    pub fn odoo_stage(self) -> &'static str {
        match self {
            Stage::Production => "production",
            Stage::Staging => "staging",
            Stage::Development => "dev",
        }
    }
}

/// Declared maturity of a feature or environment (constitution rule 10).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Maturity {
    Scaffold,
    Beta,
    Prod,
}

/// Supported Odoo series.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OdooSeries {
    #[serde(rename = "16.0")]
    V16,
    #[serde(rename = "17.0")]
    V17,
    #[serde(rename = "18.0")]
    V18,
    #[serde(rename = "19.0")]
    V19,
}

impl OdooSeries {
    pub fn as_str(self) -> &'static str {
        match self {
            OdooSeries::V16 => "16.0",
            OdooSeries::V17 => "17.0",
            OdooSeries::V18 => "18.0",
            OdooSeries::V19 => "19.0",
        }
    }
}

/// Where blobs (artifacts, backups) are stored.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    /// A directory on the controller's disk.
    #[default]
    Local,
    /// Any S3-compatible bucket (DigitalOcean Spaces, Supabase Storage, AWS S3, MinIO).
    S3,
}

/// A blob storage location. `local` needs `path`; `s3` needs `bucket` (and usually
/// `endpoint`, `region` and the two credential secret keys).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Storage {
    #[serde(rename = "type", default)]
    pub kind: StorageType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Secret-registry key holding the access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_secret: Option<String>,
    /// Secret-registry key holding the secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_secret: Option<String>,
}
