//! The provider layer: one shared HTTP client (`http`) and an adapter per provider, each
//! shaped like Crossplane's external client — `observe` (bulk, by ownership tag), `create`,
//! `update`, `delete`, all idempotent — and each normalizing what it reads.

pub mod digitalocean;
pub mod error;
pub mod http;
pub mod paginate;
pub mod plane;
pub mod postgres;
pub mod ratelimit;
pub mod secret;
pub mod secret_sync;
pub mod slack;
pub mod supabase;
pub mod vercel;

pub use error::{Provider, ProviderError};
pub use http::{Auth, ClientConfig, HttpClient, Metrics, Request};
pub use secret::{EnvSecrets, SecretSource, SecretValue, StaticSecrets};

/// Ownership tags: DigitalOcean tag names allow only letters, digits, `_`, `-` and `:`, so
/// the owner is written `odooops:project:<name>` and `odooops:env:<name>`.
pub fn owner_tags(project: &str, env: &str) -> [String; 3] {
    [
        "odooops:managed".to_string(),
        format!("odooops:project:{project}"),
        format!("odooops:env:{env}"),
    ]
}
