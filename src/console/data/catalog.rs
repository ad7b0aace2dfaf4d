//! Gates, backups, modules, secrets, events, inventory and settings.

use super::*;

#[derive(Serialize, JsonSchema)]
pub struct GateDef {
    pub name: String,
    pub gate_type: String,
    pub severity: String,
    pub scope: Value,
    pub params: Value,
}

#[derive(Serialize, JsonSchema)]
pub struct Gates {
    pub defined: Vec<GateDef>,
    pub outcomes: Vec<StatusCount>,
    pub runs: Vec<GateRun>,
    pub results: Vec<GateResult>,
}

pub async fn gates(st: &AppState) -> R<Gates> {
    let all = sees_all(st);
    let envs = env_names(st);
    let defined = st
        .ssot
        .iter()
        .flat_map(|s| s.gates())
        // A gate scoped to environments is shown where one of them is in scope; an unscoped
        // gate applies to every environment.
        .filter(|g| {
            all || g.spec.scope.environments.is_empty()
                || g.spec.scope.environments.iter().any(|e| envs.contains(e))
        })
        .map(|g| GateDef {
            name: g.metadata.name.clone(),
            gate_type: value_str(&g.spec.gate_type),
            severity: value_str(&g.spec.severity),
            scope: to_value(&g.spec.scope),
            params: to_value(&g.spec.params),
        })
        .collect();
    if all {
        return Ok(Gates {
            defined,
            outcomes: st.store.gate_outcomes().await?,
            runs: st.store.recent_gate_runs(LIST).await?,
            results: st.store.recent_gate_results(LIST).await?,
        });
    }
    let mut runs = st.store.recent_gate_runs(fetch(st, LIST)).await?;
    runs.retain(|r| visible(st, Some(&r.environment)));
    runs.truncate(LIST as usize);
    let all_results = st.store.recent_gate_results(5_000).await?;
    let mut outcomes: Vec<StatusCount> = Vec::new();
    let mut results = Vec::new();
    for r in all_results {
        if !visible(st, Some(&r.environment)) {
            continue;
        }
        match outcomes.iter_mut().find(|c| c.status == r.outcome) {
            Some(c) => c.count += 1,
            None => outcomes.push(StatusCount {
                status: r.outcome.clone(),
                count: 1,
            }),
        }
        if results.len() < LIST as usize {
            results.push(r);
        }
    }
    outcomes.sort_by(|a, b| a.status.cmp(&b.status));
    Ok(Gates {
        defined,
        outcomes,
        runs,
        results,
    })
}

#[derive(Serialize, JsonSchema)]
pub struct Backups {
    pub policies: Vec<Value>,
    pub backups: Vec<Backup>,
}

pub async fn backups(st: &AppState) -> R<Backups> {
    let mut backups = st.store.backups(None, fetch(st, LIST)).await?;
    backups.retain(|b| visible(st, Some(&b.environment)));
    backups.truncate(LIST as usize);
    Ok(Backups {
        policies: st
            .ssot
            .iter()
            .flat_map(|s| s.backup_policies())
            .filter(|p| visible(st, Some(&p.spec.environment)))
            .map(to_value)
            .collect(),
        backups,
    })
}

#[derive(Serialize, JsonSchema)]
pub struct WaveView {
    pub wave: u32,
    pub name: Option<String>,
    pub modules: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct EnvModules {
    pub environment: String,
    pub module_set: Option<String>,
    pub core_policy: Option<String>,
    pub install: Vec<String>,
    pub waves: Vec<WaveView>,
}

pub fn modules(st: &AppState) -> Vec<EnvModules> {
    let Some(ssot) = &st.ssot else {
        return Vec::new();
    };
    let scope = Scope::current();
    ssot.environments()
        .filter(|e| scope.role_on(&e.spec.project).is_some())
        .map(|e| {
            let set = e
                .spec
                .modules
                .module_set
                .as_deref()
                .and_then(|n| ssot.module_set(n));
            let mut waves: Vec<WaveView> = set
                .map(|s| {
                    s.spec
                        .waves
                        .iter()
                        .map(|w| WaveView {
                            wave: w.wave,
                            name: w.name.clone(),
                            modules: w.modules.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            waves.sort_by_key(|w| w.wave);
            EnvModules {
                environment: e.metadata.name.clone(),
                module_set: e.spec.modules.module_set.clone(),
                core_policy: set.map(|s| value_str(&s.spec.core_policy)),
                install: e.spec.modules.install.clone(),
                waves,
            }
        })
        .collect()
}

#[derive(Serialize, JsonSchema)]
pub struct SecretView {
    pub name: String,
    pub source: String,
    pub required_by: Vec<String>,
    /// Whether the variable is set in the console's process environment. Never the value.
    pub present: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct Secrets {
    pub keys: Vec<SecretView>,
    pub syncs: Vec<SecretSyncRun>,
}

pub async fn secrets(st: &AppState) -> R<Secrets> {
    let all = sees_all(st);
    let scope = Scope::current();
    // A partial scope sees the keys its environments or projects need.
    let mine: Vec<String> = st
        .ssot
        .iter()
        .flat_map(|s| s.projects())
        .map(|p| p.metadata.name.clone())
        .filter(|p| scope.role_on(p).is_some())
        .chain(env_names(st))
        .collect();
    let keys = st
        .ssot
        .iter()
        .flat_map(|s| s.secret_keys())
        .filter(|k| all || k.required_by.iter().any(|r| mine.contains(r)))
        .map(|k| SecretView {
            name: k.name.clone(),
            source: value_str(&k.source),
            required_by: k.required_by.clone(),
            present: std::env::var_os(&k.name).is_some_and(|v| !v.is_empty()),
        })
        .collect();
    let mut syncs = st.store.secret_syncs(None, fetch(st, LIST)).await?;
    syncs.retain(|s| visible(st, s.environment.as_deref()));
    syncs.truncate(LIST as usize);
    Ok(Secrets { keys, syncs })
}

/// Query of the events page and `/api/events`.
#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub struct EventQuery {
    pub environment: Option<String>,
    pub level: Option<String>,
    pub correlation_id: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    pub limit: Option<i64>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub async fn events(st: &AppState, q: &EventQuery) -> R<Vec<Event>> {
    let min_level = match nonempty(&q.level) {
        Some(l) => Some(l.parse::<Level>().map_err(ApiError::bad_request)?),
        None => None,
    };
    let since = match nonempty(&q.since) {
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(&s)
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "since must be RFC 3339 (e.g. 2026-01-31T12:00:00Z): {e}"
                    ))
                })?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and 1000, got {limit}"
        )));
    }
    let environment = nonempty(&q.environment);
    check_env_filter(st, environment.as_deref())?;
    let filter = |environment: Option<String>| EventFilter {
        environment,
        min_level,
        since,
        correlation_id: nonempty(&q.correlation_id),
        run_id: None,
        limit: Some(limit),
    };
    if environment.is_some() || sees_all(st) {
        return Ok(st.store.events(&filter(environment)).await?);
    }
    // A partial scope: its environments' events (never those of no environment), merged
    // newest first.
    let mut out: Vec<Event> = Vec::new();
    for env in env_names(st) {
        out.extend(st.store.events(&filter(Some(env))).await?);
    }
    out.sort_by(|a, b| b.ts.cmp(&a.ts).then(b.id.cmp(&a.id)));
    out.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(out)
}

pub async fn inventory(st: &AppState) -> R<Vec<InventoryObject>> {
    let mut objects = st.store.latest_inventory(2000).await?;
    if sees_all(st) {
        return Ok(objects);
    }
    objects.retain(|o| visible(st, o.environment.as_deref()));
    // The ingest's run (often project-wide) is linked only when the scope covers it.
    let links = objects.iter_mut().map(|o| &mut o.run_id).collect();
    hide_unseen_runs(st, links).await?;
    Ok(objects)
}

#[derive(Serialize, JsonSchema)]
pub struct Settings {
    pub version: &'static str,
    pub listen: String,
    pub started_at: Timestamp,
    pub store_backend: crate::store::Backend,
    pub store_location: String,
    pub artifacts: String,
    pub ssot_revision: Option<String>,
    /// Every project is readable without a token.
    pub public_read: bool,
    /// Projects readable without a token (`console.publicRead`), of those in scope.
    pub public_projects: Vec<String>,
    /// Tokens configured (0 unless the scope covers every project).
    pub viewer_tokens: usize,
    pub operator_tokens: usize,
    /// Registry keys named as console tokens whose variable was unset at start-up.
    pub missing_token_keys: Vec<String>,
    pub github_webhook_configured: bool,
    pub plane_webhook_configured: bool,
    pub recent_webhooks: Vec<WebhookDelivery>,
}

pub async fn settings(st: &AppState) -> R<Settings> {
    use crate::console::auth::Role;
    // The console-wide facts (token counts, webhook deliveries) only for a scope over every
    // project.
    let all = sees_all(st);
    let public_projects = st
        .auth
        .public_projects
        .iter()
        .filter(|p| all || Scope::current().role_on(p).is_some())
        .cloned()
        .collect();
    Ok(Settings {
        public_projects,
        version: env!("CARGO_PKG_VERSION"),
        listen: st.listen.clone(),
        started_at: st.started_at,
        store_backend: st.store.backend(),
        store_location: crate::store::redact_url(st.store.location()),
        artifacts: st.store.artifact_store().describe(),
        ssot_revision: st.ssot.as_ref().map(|s| s.revision.clone()),
        public_read: st.auth.public_read,
        viewer_tokens: if all {
            st.auth.token_count(Role::Viewer)
        } else {
            0
        },
        operator_tokens: if all {
            st.auth.token_count(Role::Operator)
        } else {
            0
        },
        missing_token_keys: if all {
            st.auth.missing.clone()
        } else {
            Vec::new()
        },
        github_webhook_configured: st.github_secret.is_some(),
        plane_webhook_configured: st.plane_secret.is_some(),
        recent_webhooks: if all {
            st.store.recent_webhook_deliveries(50).await?
        } else {
            Vec::new()
        },
    })
}
