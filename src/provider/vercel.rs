//! Vercel adapter for one project: environment variables (list, create — checking `failed[]`
//! even on a 201 — upsert, edit, delete), deployments and project domains. `teamId` is added
//! to every call when the project is team-owned. Env vars are normalized: targets sorted,
//! the list sorted by (key, targets); encrypted and sensitive values are never read.

use super::error::{Provider, ProviderError};
use super::http::{HttpClient, Request};
use super::paginate;
use super::secret::SecretValue;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Map, Value};

const P: Provider = Provider::Vercel;
pub const ALL_TARGETS: [&str; 3] = ["development", "preview", "production"];

/// An env var as read back, normalized. `value` is only known for `plain` variables.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    pub id: String,
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Sorted, deduplicated.
    pub target: Vec<String>,
    pub git_branch: Option<String>,
    /// Only for `plain` variables (configuration, not secrets).
    pub plain_value: Option<String>,
}

/// An env var to create. The value is a [`SecretValue`]: it prints `***`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvCreate {
    pub key: String,
    pub value: SecretValue,
    /// `encrypted`, `sensitive`, `plain`, …
    pub kind: String,
    pub target: Vec<String>,
    pub git_branch: Option<String>,
}

impl EnvCreate {
    /// An encrypted variable for every target.
    pub fn encrypted(key: &str, value: SecretValue) -> Self {
        EnvCreate {
            key: key.to_string(),
            value,
            kind: "encrypted".into(),
            target: ALL_TARGETS.iter().map(|t| t.to_string()).collect(),
            git_branch: None,
        }
    }
    pub fn body(&self) -> Value {
        let mut b = json!({"key": self.key, "value": self.value.expose(), "type": self.kind,
                           "target": sorted(self.target.clone())});
        if let (Some(branch), Some(m)) = (&self.git_branch, b.as_object_mut()) {
            m.insert("gitBranch".into(), json!(branch));
        }
        b
    }
}

/// A partial edit; only the fields set are sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvPatch {
    pub value: Option<SecretValue>,
    pub kind: Option<String>,
    pub target: Option<Vec<String>>,
    pub git_branch: Option<String>,
    pub comment: Option<String>,
}

impl EnvPatch {
    fn body(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = &self.value {
            m.insert("value".into(), json!(v.expose()));
        }
        if let Some(k) = &self.kind {
            m.insert("type".into(), json!(k));
        }
        if let Some(t) = &self.target {
            m.insert("target".into(), json!(sorted(t.clone())));
        }
        if let Some(b) = &self.git_branch {
            m.insert("gitBranch".into(), json!(b));
        }
        if let Some(c) = &self.comment {
            m.insert("comment".into(), json!(c));
        }
        Value::Object(m)
    }
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub uid: String,
    pub url: Option<String>,
    pub state: Option<String>,
    pub target: Option<String>,
    /// Milliseconds since the epoch.
    pub created: i64,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ProjectDomain {
    pub name: String,
    pub verified: bool,
    pub redirect: Option<String>,
    pub git_branch: Option<String>,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn decode(msg: &str) -> ProviderError {
    ProviderError::new(P, "decode", msg.to_string())
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Normalize one env object of the API.
pub fn normalize_env(v: &Value) -> Result<EnvVar, ProviderError> {
    let target = match v.get("target") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let kind = text(v, "type").ok_or_else(|| decode("env var without `type`"))?;
    Ok(EnvVar {
        id: text(v, "id").ok_or_else(|| decode("env var without `id`"))?,
        key: text(v, "key").ok_or_else(|| decode("env var without `key`"))?,
        plain_value: (kind == "plain").then(|| text(v, "value")).flatten(),
        kind,
        target: sorted(target),
        git_branch: text(v, "gitBranch").filter(|b| !b.is_empty()),
    })
}

/// The env list answers one of three shapes: a single env object, `{envs, pagination}` or
/// `{envs}`. Anything else is an error, never an empty list.
pub fn parse_env_list(v: &Value) -> Result<Vec<EnvVar>, ProviderError> {
    let items: Vec<&Value> = match v.get("envs") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => return Err(decode("`envs` is not a list")),
        None if v.get("key").is_some() => vec![v],
        None => return Err(decode("env answer has neither `envs` nor a single env")),
    };
    let mut out = items
        .into_iter()
        .map(normalize_env)
        .collect::<Result<Vec<_>, _>>()?;
    sort_envs(&mut out);
    Ok(out)
}

fn sort_envs(v: &mut [EnvVar]) {
    v.sort_by(|a, b| (&a.key, &a.target, &a.git_branch).cmp(&(&b.key, &b.target, &b.git_branch)));
}

/// Read a create answer: `{created, failed[]}`. Any failure is an error, even on a 201.
pub fn parse_created(v: &Value) -> Result<Vec<EnvVar>, ProviderError> {
    if let Some(failed) = v
        .get("failed")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
    {
        let first_code = failed
            .first()
            .and_then(|f| f.pointer("/error/code"))
            .and_then(Value::as_str)
            .unwrap_or("env_create_failed");
        let detail: Vec<String> = failed
            .iter()
            .map(|f| {
                let key = f
                    .pointer("/error/envVarKey")
                    .or_else(|| f.pointer("/error/key"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                let code = f
                    .pointer("/error/code")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                format!("{key} ({code})")
            })
            .collect();
        let created = match v.get("created") {
            Some(Value::Array(a)) => a.len(),
            Some(Value::Object(_)) => 1,
            _ => 0,
        };
        let mut e = ProviderError::new(
            P,
            first_code,
            format!(
                "{} env var(s) not created, {created} created: {}; pass upsert to overwrite existing keys",
                failed.len(),
                detail.join(", ")
            ),
        );
        e.status = Some(201);
        return Err(e);
    }
    let mut out = match v.get("created") {
        Some(Value::Array(a)) => a.iter().map(normalize_env).collect::<Result<Vec<_>, _>>()?,
        Some(o @ Value::Object(_)) => vec![normalize_env(o)?],
        _ => return Err(decode("create answer without `created`")),
    };
    sort_envs(&mut out);
    Ok(out)
}

fn ok_if_gone(r: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(e) if e.status == Some(404) => Ok(()),
        other => other,
    }
}

/// The Vercel adapter, bound to one project (id or name) and its team, if any.
#[derive(Clone, Debug)]
pub struct Vercel {
    http: HttpClient,
    project: String,
    team_id: Option<String>,
}

impl Vercel {
    pub fn new(http: HttpClient, project: &str, team_id: Option<&str>) -> Self {
        Vercel {
            http,
            project: project.to_string(),
            team_id: team_id.map(str::to_string),
        }
    }
    pub fn http(&self) -> &HttpClient {
        &self.http
    }
    pub fn project(&self) -> &str {
        &self.project
    }

    fn scoped(&self, mut req: Request) -> Request {
        if let Some(t) = &self.team_id {
            req = req.query("teamId", t);
        }
        req
    }
    fn team_query(&self) -> Vec<(&'static str, String)> {
        self.team_id.iter().map(|t| ("teamId", t.clone())).collect()
    }

    /// Every env var of the project, normalized and sorted.
    pub async fn list_env(&self) -> Result<Vec<EnvVar>, ProviderError> {
        let v = self
            .http
            .json(self.scoped(Request::get(format!("/v10/projects/{}/env", self.project))))
            .await?;
        parse_env_list(&v)
    }

    /// Create variables. An existing key for the same target lands in `failed[]` (answered
    /// with a 201): that is an error here. Not retried — a retry after a lost answer would
    /// itself fail as a duplicate; use [`Vercel::upsert_env`] for a retry-safe write.
    pub async fn create_env(&self, vars: &[EnvCreate]) -> Result<Vec<EnvVar>, ProviderError> {
        self.post_env(vars, false).await
    }

    /// Create or overwrite variables (`upsert=true`). Idempotent, so retried.
    pub async fn upsert_env(&self, vars: &[EnvCreate]) -> Result<Vec<EnvVar>, ProviderError> {
        self.post_env(vars, true).await
    }

    async fn post_env(
        &self,
        vars: &[EnvCreate],
        upsert: bool,
    ) -> Result<Vec<EnvVar>, ProviderError> {
        if vars.is_empty() {
            return Ok(Vec::new());
        }
        let body: Vec<Value> = vars.iter().map(EnvCreate::body).collect();
        let mut req = self.scoped(Request::post(
            format!("/v10/projects/{}/env", self.project),
            json!(body),
        ));
        if upsert {
            req = req
                .query("upsert", "true")
                .idempotency_key(uuid::Uuid::new_v4().to_string());
        }
        let v = self.http.json(req).await?;
        parse_created(&v)
    }

    /// Edit one variable (only the fields set in `patch` are sent).
    pub async fn edit_env(&self, id: &str, patch: &EnvPatch) -> Result<EnvVar, ProviderError> {
        let req = self.scoped(
            Request::new(
                Method::PATCH,
                format!("/v9/projects/{}/env/{id}", self.project),
            )
            .json(patch.body()),
        );
        normalize_env(&self.http.json(req).await?)
    }

    /// Delete one variable; already gone is fine.
    pub async fn delete_env(&self, id: &str) -> Result<(), ProviderError> {
        let req = self.scoped(Request::new(
            Method::DELETE,
            format!("/v9/projects/{}/env/{id}", self.project),
        ));
        ok_if_gone(self.http.send(req).await.map(|_| ()))
    }

    /// Every deployment of the project, newest first (paged with `until`).
    pub async fn list_deployments(&self) -> Result<Vec<Deployment>, ProviderError> {
        let mut q = self.team_query();
        q.push(("projectId", self.project.clone()));
        let items = paginate::vercel(&self.http, "/v6/deployments", "deployments", &q).await?;
        let mut out = items
            .iter()
            .map(|d| {
                Ok(Deployment {
                    uid: text(d, "uid").ok_or_else(|| decode("deployment without `uid`"))?,
                    url: text(d, "url"),
                    state: text(d, "state").or_else(|| text(d, "readyState")),
                    target: text(d, "target"),
                    created: d
                        .get("created")
                        .or_else(|| d.get("createdAt"))
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.uid.cmp(&b.uid)));
        out.dedup_by(|a, b| a.uid == b.uid);
        Ok(out)
    }

    /// The project's domains, sorted by name.
    pub async fn list_domains(&self) -> Result<Vec<ProjectDomain>, ProviderError> {
        let items = paginate::vercel(
            &self.http,
            &format!("/v9/projects/{}/domains", self.project),
            "domains",
            &self.team_query(),
        )
        .await?;
        let mut out = items
            .iter()
            .map(|d| {
                Ok(ProjectDomain {
                    name: text(d, "name").ok_or_else(|| decode("domain without `name`"))?,
                    verified: d.get("verified").and_then(Value::as_bool).unwrap_or(false),
                    redirect: text(d, "redirect"),
                    git_branch: text(d, "gitBranch"),
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(key: &str, target: Value) -> Value {
        json!({"id": format!("env_{key}"), "key": key, "type": "encrypted", "value": "", "target": target})
    }

    #[test]
    fn accepts_all_three_list_shapes() {
        let one = parse_env_list(&env("A", json!("production"))).expect("single");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].target, vec!["production"]);
        let paged = parse_env_list(
            &json!({"envs": [env("B", json!(["production", "preview"])), env("A", json!([]))],
            "pagination": {"count": 2, "next": null, "prev": null}}),
        )
        .expect("paged");
        assert_eq!(
            paged.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["A", "B"]
        );
        assert_eq!(
            paged[1].target,
            vec!["preview", "production"],
            "targets sorted"
        );
        assert_eq!(parse_env_list(&json!({"envs": []})).map(|v| v.len()), Ok(0));
        assert!(
            parse_env_list(&json!({"nothing": 1})).is_err(),
            "no list is not an empty list"
        );
    }

    #[test]
    fn a_201_with_failures_is_an_error() {
        let v = json!({"created": [], "failed": [{"error": {"code": "ENV_ALREADY_EXISTS",
            "message": "exists", "key": "A", "envVarKey": "A"}}]});
        let e = parse_created(&v).expect_err("failed[] is an error");
        assert_eq!(
            (e.code.as_str(), e.status, e.retryable),
            ("ENV_ALREADY_EXISTS", Some(201), false)
        );
        assert!(e.error.contains("A (ENV_ALREADY_EXISTS)"));
        let ok = parse_created(&json!({"created": env("A", json!(["preview"])), "failed": []}));
        assert_eq!(ok.map(|v| v.len()), Ok(1));
    }

    #[test]
    fn create_bodies_hide_the_value_from_debug() {
        let c = EnvCreate::encrypted("API_KEY", SecretValue::new(format!("unit-{}", "canary")));
        assert!(!format!("{c:?}").contains("unit-canary"));
        assert_eq!(c.body()["value"], "unit-canary");
        assert_eq!(
            c.body()["target"],
            json!(["development", "preview", "production"])
        );
    }
}
