//! `Project`: one Odoo codebase and the accounts it runs on.

use super::common::{OdooSeries, Storage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectSpec {
    pub odoo: OdooRelease,
    pub repository: Repository,
    #[serde(default)]
    pub providers: Providers,
    /// Default DigitalOcean region slug for hosts (e.g. `fra1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_region: Option<String>,
    /// Where artifacts (plans, diffs, logs, dumps) are kept. Default: local `.odooops/artifacts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Storage>,
    /// The `ops.*` evidence store. Default: the embedded SQLite file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreRef>,
    /// The web console's access policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<ConsoleAccess>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OdooRelease {
    pub series: OdooSeries,
    /// Container image; default `odoo:<series>` (the official image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Odoo's source at a pinned revision, for environments with `delivery`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<super::OdooSource>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Repository {
    /// Git URL of the Odoo addons repository.
    pub url: String,
    #[serde(default = "default_branch")]
    pub production_branch: String,
    /// Addons paths inside the repository (relative), searched for `__manifest__.py`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addons_paths: Vec<String>,
    /// Check out submodules (each at the commit the repository records).
    #[serde(default)]
    pub submodules: bool,
    /// Registry key of the credential to fetch with: an HTTPS token, or an SSH private key
    /// for `ssh://`/`git@` URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

fn default_branch() -> String {
    "main".to_string()
}

/// A provider account: API base URL (default: the real API) and the registry key of its token.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderAccount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// Secret-registry key of the API token.
    pub token_secret: String,
    /// Vercel team id, Plane workspace slug, Supabase organization id — where the provider needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Vercel project id or name that receives env vars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Providers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digitalocean: Option<ProviderAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supabase: Option<ProviderAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vercel: Option<ProviderAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<ProviderAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plane: Option<ProviderAccount>,
}

impl Providers {
    /// Default API roots of the real providers.
    pub const DEFAULT_BASE_URLS: &'static [(&'static str, &'static str)] = &[
        ("digitalocean", "https://api.digitalocean.com"),
        ("supabase", "https://api.supabase.com"),
        ("vercel", "https://api.vercel.com"),
        ("slack", "https://slack.com/api"),
        ("plane", "https://api.plane.so"),
    ];

    pub fn accounts(&self) -> Vec<(&'static str, &ProviderAccount)> {
        let all = [
            ("digitalocean", &self.digitalocean),
            ("supabase", &self.supabase),
            ("vercel", &self.vercel),
            ("slack", &self.slack),
            ("plane", &self.plane),
        ];
        all.into_iter()
            .filter_map(|(n, a)| a.as_ref().map(|a| (n, a)))
            .collect()
    }

    /// Base URL of a provider: the SSOT's, else the real API's.
    pub fn base_url(&self, provider: &str) -> Option<String> {
        let configured = self
            .accounts()
            .into_iter()
            .find(|(n, _)| *n == provider)
            .and_then(|(_, a)| a.api_base_url.clone());
        configured.or_else(|| {
            Self::DEFAULT_BASE_URLS
                .iter()
                .find(|(n, _)| *n == provider)
                .map(|(_, u)| u.to_string())
        })
    }
}

/// Reference to the evidence store: a secret key holding its URL.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreRef {
    /// Secret-registry key whose value is the PostgreSQL URL (e.g. Supabase session pooler).
    pub database_url_secret: String,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleRole {
    Viewer,
    Operator,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsoleToken {
    /// Secret-registry key of the token.
    pub secret: String,
    pub role: ConsoleRole,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsoleAccess {
    /// This project's pages and API reads are open without a token (other projects stay
    /// closed; writes still need an operator token).
    #[serde(default)]
    pub public_read: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<ConsoleToken>,
}
