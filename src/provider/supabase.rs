//! Supabase Management API adapter: projects (read-only: projects are not created by us),
//! service health, edge-function secrets, storage buckets and SQL queries. What is read is
//! normalized (sorted, server noise dropped). Secret values only ever travel outward, built
//! into the request body at call time; what the API answers for a secret (a SHA-256 digest)
//! is kept private and used only to tell whether a value changed.

use super::error::{Provider, ProviderError};
use super::http::{HttpClient, Request};
use super::paginate;
use super::secret::SecretValue;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt;

const P: Provider = Provider::Supabase;
/// Longest secret name and value the API accepts.
pub const MAX_NAME: usize = 256;
pub const MAX_VALUE: usize = 24576;

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Database {
    pub host: String,
    pub version: String,
    pub postgres_engine: String,
    pub release_channel: String,
}

/// A project as `GET /v1/projects[/{ref}]` describes it.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Project {
    #[serde(rename = "ref")]
    pub project_ref: String,
    pub name: String,
    pub organization_id: String,
    pub organization_slug: Option<String>,
    pub region: String,
    pub status: String,
    pub created_at: String,
    pub database: Option<Database>,
}

/// A project as an organization's project list describes it.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct OrgProject {
    #[serde(rename = "ref")]
    pub project_ref: String,
    pub name: String,
    pub region: String,
    pub status: String,
    pub is_branch: bool,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ServiceHealth {
    pub name: String,
    pub status: String,
    /// `status == ACTIVE_HEALTHY` (the API's own `healthy` flag is deprecated).
    pub healthy: bool,
}

/// A secret as listed: its name and when it changed. The digest the API answers is kept
/// private: it is not a value, and is never printed or serialized.
#[derive(Serialize, Clone, PartialEq, Eq)]
pub struct SecretMeta {
    pub name: String,
    pub updated_at: Option<String>,
    #[serde(skip)]
    digest: Option<String>,
}

impl SecretMeta {
    /// Whether the stored secret holds exactly `value` (compared by SHA-256 digest).
    pub fn holds(&self, value: &SecretValue) -> bool {
        self.digest
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case(&sha256_hex(value.expose())))
    }
}

impl fmt::Debug for SecretMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretMeta")
            .field("name", &self.name)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub id: String,
    pub name: String,
    pub public: bool,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn decode(msg: &str) -> ProviderError {
    ProviderError::new(P, "decode", msg.to_string())
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn req_text(v: &Value, k: &str, what: &str) -> Result<String, ProviderError> {
    text(v, k).ok_or_else(|| decode(&format!("{what} without `{k}`")))
}

pub fn normalize_project(v: &Value) -> Result<Project, ProviderError> {
    let database = v
        .get("database")
        .filter(|d| d.is_object())
        .map(|d| Database {
            host: text(d, "host").unwrap_or_default(),
            version: text(d, "version").unwrap_or_default(),
            postgres_engine: text(d, "postgres_engine").unwrap_or_default(),
            release_channel: text(d, "release_channel").unwrap_or_default(),
        });
    Ok(Project {
        project_ref: text(v, "ref")
            .or_else(|| text(v, "id"))
            .ok_or_else(|| decode("project without `ref`"))?,
        name: req_text(v, "name", "project")?,
        organization_id: text(v, "organization_id").unwrap_or_default(),
        organization_slug: text(v, "organization_slug"),
        region: text(v, "region").unwrap_or_default(),
        status: text(v, "status").unwrap_or_default(),
        created_at: text(v, "created_at").unwrap_or_default(),
        database,
    })
}

/// Check a secret name the way the API does, before sending anything.
/// The bulk-create body `[{name, value}]`, built at call time and dropped after it.
pub fn secrets_body(secrets: &[(String, SecretValue)]) -> Value {
    Value::Array(
        secrets
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value.expose()}))
            .collect(),
    )
}

pub fn check_secret_name(name: &str) -> Result<(), ProviderError> {
    let bad = |why: &str| {
        Err(ProviderError::new(
            P,
            "invalid_secret_name",
            format!("secret `{name}`: {why}"),
        ))
    };
    if name.is_empty() || name.len() > MAX_NAME {
        return bad("a name is 1 to 256 characters");
    }
    if name.starts_with("SUPABASE_") {
        return bad("the SUPABASE_ prefix is reserved by Supabase; rename the key");
    }
    Ok(())
}

/// The Supabase adapter over the shared HTTP client.
#[derive(Clone, Debug)]
pub struct Supabase {
    http: HttpClient,
}

impl Supabase {
    pub fn new(http: HttpClient) -> Self {
        Supabase { http }
    }
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Every project the token can see, sorted by ref.
    pub async fn list_projects(&self) -> Result<Vec<Project>, ProviderError> {
        let items = paginate::supabase(&self.http, "/v1/projects", "").await?;
        let mut out = items
            .iter()
            .map(normalize_project)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.project_ref.cmp(&b.project_ref));
        Ok(out)
    }

    /// An organization's projects, every page (`offset`/`limit` 100), sorted by ref.
    pub async fn list_org_projects(&self, slug: &str) -> Result<Vec<OrgProject>, ProviderError> {
        let items = paginate::supabase(
            &self.http,
            &format!("/v1/organizations/{slug}/projects"),
            "projects",
        )
        .await?;
        let mut out = items
            .iter()
            .map(|v| {
                Ok(OrgProject {
                    project_ref: req_text(v, "ref", "project")?,
                    name: req_text(v, "name", "project")?,
                    region: text(v, "region").unwrap_or_default(),
                    status: text(v, "status").unwrap_or_default(),
                    is_branch: v.get("is_branch").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        out.sort_by(|a, b| a.project_ref.cmp(&b.project_ref));
        out.dedup_by(|a, b| a.project_ref == b.project_ref);
        Ok(out)
    }

    /// One project; `None` when it does not exist.
    pub async fn get_project(&self, project_ref: &str) -> Result<Option<Project>, ProviderError> {
        match self
            .http
            .json(Request::get(format!("/v1/projects/{project_ref}")))
            .await
        {
            Ok(v) => normalize_project(&v).map(Some),
            Err(e) if e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Health of the named services (`db`, `auth`, `rest`, …), sorted by name.
    pub async fn health(
        &self,
        project_ref: &str,
        services: &[&str],
    ) -> Result<Vec<ServiceHealth>, ProviderError> {
        if services.is_empty() {
            return Err(ProviderError::new(
                P,
                "invalid_request",
                "name at least one service to check (db, auth, rest, …)",
            ));
        }
        let mut req = Request::get(format!("/v1/projects/{project_ref}/health"));
        for s in services {
            req = req.query("services", s);
        }
        let v = self.http.json(req).await?;
        let list = v
            .as_array()
            .ok_or_else(|| decode("health answer is not a list"))?;
        let mut out = list
            .iter()
            .map(|s| {
                let status = req_text(s, "status", "service health")?;
                Ok(ServiceHealth {
                    name: req_text(s, "name", "service health")?,
                    healthy: status == "ACTIVE_HEALTHY",
                    status,
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Secret names (and when they changed), sorted by name. Never values.
    pub async fn list_secrets(&self, project_ref: &str) -> Result<Vec<SecretMeta>, ProviderError> {
        let items = paginate::supabase(
            &self.http,
            &format!("/v1/projects/{project_ref}/secrets"),
            "",
        )
        .await?;
        let mut out = items
            .iter()
            .map(|s| {
                Ok(SecretMeta {
                    name: req_text(s, "name", "secret")?,
                    updated_at: text(s, "updated_at"),
                    digest: text(s, "value"),
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Create or overwrite secrets in one call. Names are checked first; the body holding the
    /// values is built here and dropped after the call. A bulk upsert is idempotent, so it
    /// carries an idempotency key and is retried like a read.
    pub async fn upsert_secrets(
        &self,
        project_ref: &str,
        secrets: &[(String, SecretValue)],
    ) -> Result<(), ProviderError> {
        if secrets.is_empty() {
            return Ok(());
        }
        for (name, value) in secrets {
            check_secret_name(name)?;
            if value.expose().chars().count() > MAX_VALUE {
                return Err(ProviderError::new(
                    P,
                    "invalid_secret_value",
                    format!("secret `{name}`: a value is at most {MAX_VALUE} characters"),
                ));
            }
        }
        let req = Request::post(
            format!("/v1/projects/{project_ref}/secrets"),
            secrets_body(secrets),
        )
        .idempotency_key(uuid::Uuid::new_v4().to_string());
        self.http.send(req).await.map(|_| ())
    }

    /// Delete secrets by name (names that do not exist are ignored by the API).
    pub async fn delete_secrets(
        &self,
        project_ref: &str,
        names: &[String],
    ) -> Result<(), ProviderError> {
        if names.is_empty() {
            return Ok(());
        }
        let req = Request::new(
            Method::DELETE,
            format!("/v1/projects/{project_ref}/secrets"),
        )
        .json(json!(names));
        self.http.send(req).await.map(|_| ())
    }

    /// Storage buckets, sorted by id.
    pub async fn list_buckets(&self, project_ref: &str) -> Result<Vec<Bucket>, ProviderError> {
        let items = paginate::supabase(
            &self.http,
            &format!("/v1/projects/{project_ref}/storage/buckets"),
            "",
        )
        .await?;
        let mut out = items
            .iter()
            .map(|b| {
                let id = req_text(b, "id", "bucket")?;
                Ok(Bucket {
                    name: text(b, "name").unwrap_or_else(|| id.clone()),
                    public: b.get("public").and_then(Value::as_bool).unwrap_or(false),
                    id,
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Run one SQL statement; the rows come back as JSON objects. Not retried: a query may
    /// have side effects.
    pub async fn run_query(
        &self,
        project_ref: &str,
        sql: &str,
        read_only: bool,
    ) -> Result<Vec<Value>, ProviderError> {
        let v = self
            .http
            .json(Request::post(
                format!("/v1/projects/{project_ref}/database/query"),
                json!({"query": sql, "read_only": read_only}),
            ))
            .await?;
        match v {
            Value::Array(rows) => Ok(rows),
            Value::Null => Ok(Vec::new()),
            _ => Err(decode("query answer is not a list of rows")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_meta_never_shows_its_digest() {
        let value = SecretValue::new(format!("unit-{}", "canary"));
        let m = SecretMeta {
            name: "API_KEY".into(),
            updated_at: None,
            digest: Some(sha256_hex(value.expose())),
        };
        assert!(m.holds(&value));
        assert!(!m.holds(&SecretValue::new("other")));
        let shown = format!("{m:?} {}", serde_json::to_string(&m).unwrap_or_default());
        assert!(!shown.contains(&sha256_hex(value.expose())));
        assert!(!shown.contains(value.expose()));
    }

    #[test]
    fn reserved_and_long_names_are_refused_before_sending() {
        assert!(check_secret_name("STRIPE_KEY").is_ok());
        assert_eq!(
            check_secret_name("SUPABASE_URL").map_err(|e| e.code),
            Err("invalid_secret_name".to_string())
        );
        assert!(check_secret_name(&"A".repeat(257)).is_err());
        assert!(check_secret_name("").is_err());
    }

    #[test]
    fn normalizes_a_project() {
        let p = normalize_project(
            &json!({"id": "abcdefghijklmnopqrst", "ref": "abcdefghijklmnopqrst",
            "organization_id": "o", "name": "acme", "region": "eu-central-1", "created_at": "t",
            "status": "ACTIVE_HEALTHY", "database": {"host": "h", "version": "17", "postgres_engine": "17", "release_channel": "ga"}}),
        );
        assert_eq!(p.map(|p| p.name), Ok("acme".to_string()));
        assert!(normalize_project(&json!({"name": "x"})).is_err());
    }
}
