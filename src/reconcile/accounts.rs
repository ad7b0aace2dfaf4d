//! Provider accounts: one client per account the SSOT names. Each `Project` names its
//! DigitalOcean (and, for secret presence, Supabase and Vercel) account by API base URL and
//! the registry key of its token; projects naming the same account share one client, and
//! every project's objects are observed and changed through its own account. A token the
//! SSOT needs but the process lacks is an error naming the registry key — never a silent
//! skip.

use super::secrets::{self, SecretProviders};
use crate::provider::digitalocean::{DigitalOcean, Poll};
use crate::provider::http::{Auth, ClientConfig, HttpClient, Metrics};
use crate::provider::supabase::Supabase;
use crate::provider::{Provider, ProviderError, SecretSource, SecretValue};
use crate::ssot::{Project, ProviderAccount, Ssot};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("secret `{key}` ({provider} token of project `{project}`) is not set in the environment: set it, or pass --sim URL to use the simulator")]
    MissingToken {
        key: String,
        provider: &'static str,
        project: String,
    },
    #[error("project `{project}` has environments but no providers.digitalocean account: add one (tokenSecret names the registry key of its token)")]
    NoDigitalOcean { project: String },
    #[error("environment `{env}` lists secrets synced to {provider}, but project `{project}` has no providers.{provider} account")]
    NoSecretAccount {
        env: String,
        provider: &'static str,
        project: String,
    },
    #[error(transparent)]
    Http(#[from] ProviderError),
}

/// How clients are made: against the real APIs (base URLs and tokens from the SSOT and the
/// secret source), or against a simulator.
#[derive(Clone)]
pub struct Connect<'a> {
    /// The simulator's root URL (`http://127.0.0.1:8787`): every provider is reached there,
    /// without client-side rate limits (the simulator answers 429 itself), polling quickly.
    pub sim: Option<&'a str>,
    pub metrics: Arc<Metrics>,
    /// Where token values are read (the registry's source: the process environment).
    pub secrets: &'a dyn SecretSource,
}

/// The DigitalOcean accounts of an SSOT.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    clients: Vec<DigitalOcean>,
    /// Project → index into `clients`.
    by_project: BTreeMap<String, usize>,
    /// The account of projects not listed (a single-account setup, tests).
    fallback: Option<usize>,
}

impl Accounts {
    /// One account for every project.
    pub fn single(dig: DigitalOcean) -> Accounts {
        Accounts {
            clients: vec![dig],
            by_project: BTreeMap::new(),
            fallback: Some(0),
        }
    }

    /// The account index of `project`.
    pub fn index_of(&self, project: &str) -> Option<usize> {
        self.by_project.get(project).copied().or(self.fallback)
    }

    /// The client of `project`'s account.
    pub fn for_project(&self, project: &str) -> Option<&DigitalOcean> {
        self.index_of(project).and_then(|i| self.clients.get(i))
    }

    /// Every distinct account, with its index.
    pub fn all(&self) -> impl Iterator<Item = (usize, &DigitalOcean)> {
        self.clients.iter().enumerate()
    }
}

/// The token of `account`: from the secret source; against the simulator a missing one is
/// a stand-in named after its key (the simulator decides whether it is accepted).
fn token(
    c: &Connect<'_>,
    account: &ProviderAccount,
    provider: &'static str,
    project: &Project,
) -> Result<SecretValue, AccountError> {
    match (c.secrets.get(&account.token_secret), c.sim) {
        (Some(v), _) => Ok(v),
        (None, Some(_)) => Ok(SecretValue::new(format!(
            "test-token-sim-{}",
            account.token_secret
        ))),
        (None, None) => Err(AccountError::MissingToken {
            key: account.token_secret.clone(),
            provider,
            project: project.metadata.name.clone(),
        }),
    }
}

fn config(
    c: &Connect<'_>,
    provider: Provider,
    project: &Project,
    token: SecretValue,
) -> ClientConfig {
    match c.sim {
        Some(url) => {
            let mut cfg = ClientConfig::new(
                provider,
                &format!("{}/{}", url.trim_end_matches('/'), provider.as_str()),
                Auth::Bearer(token),
            );
            // The providers' documented limits belong to the real APIs; the simulator
            // signals its own pressure with 429 + Retry-After, which the client honours.
            cfg.rates = Vec::new();
            cfg
        }
        None => ClientConfig::new(
            provider,
            &project
                .spec
                .providers
                .base_url(provider.as_str())
                .unwrap_or_default(),
            Auth::Bearer(token),
        ),
    }
}

/// The DigitalOcean account of every project that has environments.
pub fn digitalocean(ssot: &Ssot, c: &Connect<'_>) -> Result<Accounts, AccountError> {
    let mut accounts = Accounts::default();
    let mut by_key: BTreeMap<(String, String), usize> = BTreeMap::new();
    let used: std::collections::BTreeSet<&str> = ssot
        .environments()
        .map(|e| e.spec.project.as_str())
        .collect();
    for project in ssot.projects() {
        let name = project.metadata.name.as_str();
        let (key, account) = match &project.spec.providers.digitalocean {
            Some(a) => (
                (
                    project
                        .spec
                        .providers
                        .base_url("digitalocean")
                        .unwrap_or_default(),
                    a.token_secret.clone(),
                ),
                Some(a),
            ),
            None if c.sim.is_some() => ((String::new(), String::new()), None),
            None if used.contains(name) => {
                return Err(AccountError::NoDigitalOcean {
                    project: name.to_string(),
                })
            }
            None => continue,
        };
        let index = match by_key.get(&key) {
            Some(i) => *i,
            None => {
                let token = match account {
                    Some(a) => token(c, a, "DigitalOcean", project)?,
                    None => SecretValue::new("test-token-sim"),
                };
                let cfg = config(c, Provider::Digitalocean, project, token);
                let mut dig = DigitalOcean::new(HttpClient::new(cfg, c.metrics.clone())?);
                if c.sim.is_some() {
                    dig = dig.with_poll(Poll::quick());
                }
                accounts.clients.push(dig);
                by_key.insert(key, accounts.clients.len() - 1);
                accounts.clients.len() - 1
            }
        };
        accounts.by_project.insert(name.to_string(), index);
    }
    Ok(accounts)
}

/// Supabase and Vercel clients for the projects whose environments want secrets synced
/// there; each project through its own account.
pub fn secret_providers(ssot: &Ssot, c: &Connect<'_>) -> Result<SecretProviders, AccountError> {
    let mut out = SecretProviders::default();
    for env in ssot.environments() {
        let Some(project) = ssot.project(&env.spec.project) else {
            continue;
        };
        let pname = project.metadata.name.clone();
        for d in secrets::desired(ssot, project, env) {
            let (provider, account, label) = match d.key.kind {
                super::diff::ObjectKind::SupabaseSecret => (
                    Provider::Supabase,
                    project.spec.providers.supabase.as_ref(),
                    "supabase",
                ),
                _ => (
                    Provider::Vercel,
                    project.spec.providers.vercel.as_ref(),
                    "vercel",
                ),
            };
            let have = match provider {
                Provider::Supabase => out.supabase_by_project.contains_key(&pname),
                _ => out.vercel_by_project.contains_key(&pname),
            };
            if have {
                continue;
            }
            let account = account.ok_or_else(|| AccountError::NoSecretAccount {
                env: env.metadata.name.clone(),
                provider: label,
                project: pname.clone(),
            })?;
            let tok = token(
                c,
                account,
                if label == "supabase" {
                    "Supabase"
                } else {
                    "Vercel"
                },
                project,
            )?;
            let http = HttpClient::new(config(c, provider, project, tok), c.metrics.clone())?;
            match provider {
                Provider::Supabase => {
                    out.supabase_by_project
                        .insert(pname.clone(), Supabase::new(http));
                }
                _ => {
                    out.vercel_by_project.insert(pname.clone(), http);
                }
            }
        }
    }
    Ok(out)
}
