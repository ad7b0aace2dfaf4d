//! The environment page: Odoo.sh's branch view with the evidence behind it.

use super::*;

#[derive(Serialize, JsonSchema)]
pub struct PolicyView {
    pub name: String,
    pub schedule: String,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub manual_keep: u32,
    pub include_filestore: bool,
    /// The schedule's next firing after now (UTC); None when the cron does not parse.
    pub next_run: Option<Timestamp>,
}

/// One object the environment is made of: declared in the SSOT (or recorded and no longer
/// declared), with what this controller recorded of it and its open drift.
#[derive(Serialize, JsonSchema)]
pub struct ResourceView {
    pub kind: String,
    pub name: String,
    /// Whether the SSOT declares it (false: recorded, left to delete).
    pub declared: bool,
    /// The provider's id, when this controller recorded making or adopting it.
    pub provider_id: Option<String>,
    /// Its address as the action that made it answered (a droplet's IPv4).
    pub address: Option<String>,
    pub recorded_at: Option<Timestamp>,
    /// Open drift findings on it.
    pub drifted_fields: usize,
    /// `drifted`, `in sync` (recorded, no open finding), `not recorded` (declared, no record
    /// of it here yet: not created, or made before records were kept) or `not declared`.
    pub state: String,
}

/// The environment's objects: the SSOT's desired ones in plan order, then recorded ones the
/// SSOT no longer declares.
fn resources(
    ssot: &crate::ssot::Ssot,
    env: &crate::ssot::model::Environment,
    managed: &[ManagedRow],
    open_drift: &[DriftFinding],
) -> Vec<ResourceView> {
    let mut desired: Vec<crate::reconcile::diff::ObjectKey> = ssot
        .project(&env.spec.project)
        .map(|p| crate::reconcile::desired::environment(p, env))
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.key)
        .collect();
    // A delivering environment also declares its release (planned apart from the objects).
    if env.spec.delivery.is_some() {
        desired.push(crate::reconcile::release::key(&env.metadata.name));
    }
    let view = |kind: &str, name: &str, declared: bool| {
        let m = managed.iter().find(|m| m.kind == kind && m.name == name);
        let drifted_fields = open_drift
            .iter()
            .filter(|f| f.resource_kind == kind && f.resource_name == name)
            .count();
        let state = match (drifted_fields, m, declared) {
            (_, _, false) => "not declared",
            (n, _, _) if n > 0 => "drifted",
            (_, Some(_), _) => "in sync",
            (_, None, _) => "not recorded",
        };
        ResourceView {
            kind: kind.to_string(),
            name: name.to_string(),
            declared,
            provider_id: m.map(|m| m.provider_id.clone()),
            address: m.and_then(|m| m.address.clone()),
            recorded_at: m.map(|m| m.updated_at),
            drifted_fields,
            state: state.into(),
        }
    };
    let mut out: Vec<ResourceView> = desired
        .iter()
        .map(|k| view(k.kind.as_str(), &k.name, true))
        .collect();
    for m in managed {
        if !out.iter().any(|r| r.kind == m.kind && r.name == m.name) {
            out.push(view(&m.kind, &m.name, false));
        }
    }
    out
}

#[derive(Serialize, JsonSchema)]
pub struct EnvPage {
    pub name: String,
    pub project: String,
    pub client: String,
    pub stage: String,
    pub production: bool,
    pub branch: String,
    pub health: Option<EnvHealth>,
    /// Where Odoo answers: the serving release's URL, else the SSOT's domain.
    pub url: Option<String>,
    /// The release serving now (its latest healthy one).
    pub serving: Option<Release>,
    /// Newest first, at most [`RELEASE_LIST`].
    pub releases: Vec<Release>,
    pub release_total: i64,
    /// (started, seconds, healthy) of the last [`DEPLOY_CHART`] finished deploys.
    pub deploys: Vec<(Timestamp, f64, bool)>,
    /// What the environment is made of and the state of each.
    pub resources: Vec<ResourceView>,
    pub inventory: Vec<InventoryObject>,
    pub open_drift: Vec<DriftFinding>,
    pub drift_spans: Vec<DriftSpan>,
    pub policies: Vec<PolicyView>,
    pub backups: Vec<Backup>,
    pub gate_results: Vec<GateResult>,
    pub jobs: Vec<JobRow>,
    pub runs: Vec<Run>,
    /// How to reach the mail catcher (non-production environments that capture mail).
    pub mail_catcher: Option<String>,
    /// The production environment of the same project (a clone's source), if any.
    pub production_source: Option<String>,
}

/// The Odoo URL an environment's domain gives (`https://record.zone`).
fn domain_url(env: &crate::ssot::model::Environment) -> Option<String> {
    env.spec.domain.as_ref().map(|d| {
        if d.record == "@" || d.record.is_empty() {
            format!("https://{}", d.zone)
        } else {
            format!("https://{}.{}", d.record, d.zone)
        }
    })
}

/// Open findings listed on an environment page.
const OPEN_DRIFT_LIST: i64 = 200;

/// A list's total: its length when it holds fewer than `limit` rows, else what `count` says.
async fn count_beyond(
    listed: usize,
    limit: i64,
    count: impl std::future::Future<Output = Result<i64, crate::store::StoreError>>,
) -> Result<i64, crate::store::StoreError> {
    match i64::try_from(listed) {
        Ok(n) if n < limit => Ok(n),
        _ => count.await,
    }
}

pub async fn environment(st: &AppState, name: &str) -> R<EnvPage> {
    let ssot = st
        .ssot
        .as_ref()
        .ok_or_else(|| ApiError::not_found(format!("no environment {name:?}: no SSOT loaded")))?;
    let env = ssot
        .environment(name)
        .filter(|e| Scope::current().role_on(&e.spec.project).is_some())
        .ok_or_else(|| ApiError::not_found(format!("no environment {name:?} in the SSOT")))?;
    let since = crate::store::now() - chrono::Duration::days(DRIFT_DAYS);
    let s = &st.store;
    let (
        mut releases,
        timings,
        managed,
        mut inventory,
        mut open_drift,
        drift_spans,
        backups,
        gate_results,
        mut jobs,
        mut runs,
    ) = futures::try_join!(
        s.releases(Some(name), RELEASE_LIST),
        s.release_timings(name, DEPLOY_CHART),
        s.managed_in(name),
        s.inventory_in(name),
        s.open_drift(Some(name), OPEN_DRIFT_LIST),
        s.drift_spans(Some(name), since, 20_000),
        s.backups(Some(name), 50),
        s.gate_results_in(name, 20),
        s.jobs_in(name, 20),
        s.runs_in(name, 20),
    )?;
    // The totals are counted only when a list is full (a shorter list is the whole of it).
    let (open, release_total) = futures::try_join!(
        count_beyond(open_drift.len(), OPEN_DRIFT_LIST, s.open_drift_count(name)),
        count_beyond(releases.len(), RELEASE_LIST, s.release_count(name)),
    )?;
    if !sees_all(st) {
        // Runs over every environment only for a reader of every project; a job naming
        // another environment (a clone's `from`) only when that one is in scope too; links
        // to such runs from this environment's rows are cleared.
        runs.retain(|r| r.environment.is_some());
        jobs.retain(|j| job_visible(st, j));
        let links = releases
            .iter_mut()
            .map(|r| &mut r.run_id)
            .chain(inventory.iter_mut().map(|o| &mut o.run_id))
            .chain(open_drift.iter_mut().map(|f| &mut f.last_run_id))
            .collect();
        data::hide_unseen_runs(st, links).await?;
    }
    // Its runs and the runs over every environment, newest first: the first is its last run.
    let last_run = runs.first().cloned();
    let health = Some(EnvHealth::new(env, open, last_run));
    // Its serving release: among the listed ones (their run links already checked), else
    // older than them.
    let serving = match releases
        .iter()
        .find(|r| r.status == crate::store::RELEASE_HEALTHY)
    {
        Some(r) => Some(r.clone()),
        None => {
            let mut older = s
                .serving_releases()
                .await?
                .into_iter()
                .find(|r| r.environment == name);
            let links = older.iter_mut().map(|r| &mut r.run_id).collect();
            data::hide_unseen_runs(st, links).await?;
            older
        }
    };
    let url = serving
        .as_ref()
        .and_then(|r| r.url.clone())
        .or_else(|| releases.iter().find_map(|r| r.url.clone()))
        .or_else(|| domain_url(env));
    let deploys = timings
        .iter()
        .filter_map(|r| {
            duration_secs(&r.started_at, &r.finished_at).map(|d| {
                (
                    r.started_at,
                    d,
                    matches!(
                        r.status.as_str(),
                        crate::store::RELEASE_HEALTHY | crate::store::RELEASE_SUPERSEDED
                    ),
                )
            })
        })
        .collect();
    let now = crate::store::now();
    let policies = ssot
        .backup_policies()
        .filter(|p| p.spec.environment == name)
        .map(|p| PolicyView {
            name: p.metadata.name.clone(),
            schedule: p.spec.schedule.clone(),
            daily: p.spec.retention.daily,
            weekly: p.spec.retention.weekly,
            monthly: p.spec.retention.monthly,
            manual_keep: p.spec.retention.manual_keep,
            include_filestore: p.spec.include_filestore,
            next_run: crate::ssot::cron::Cron::parse(&p.spec.schedule)
                .ok()
                .and_then(|c| c.next_after(now)),
        })
        .collect();
    let production = env.spec.stage == Stage::Production;
    let delivery = env.spec.delivery.as_ref();
    let resources = resources(ssot, env, &managed, &open_drift);
    let host = delivery
        .and_then(|d| d.address.clone())
        .or_else(|| {
            resources
                .iter()
                .find(|r| r.kind == "droplet")
                .and_then(|r| r.address.clone())
        })
        .or_else(|| {
            inventory.iter().find_map(|o| {
                o.attributes
                    .get("ip")
                    .or_else(|| o.attributes.get("ipv4"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        })
        .unwrap_or_else(|| "<host>".into());
    let user = delivery.map_or("root", |d| d.user.as_str());
    let mail_catcher = crate::odoo::render::captures_mail(env).then(|| {
        format!(
            "ssh -L 8025:127.0.0.1:8025 {user}@{host}, then http://127.0.0.1:8025 (Mailpit on the host's loopback)"
        )
    });
    let production_source = ssot
        .environments()
        .find(|e| {
            e.spec.project == env.spec.project
                && e.spec.stage == Stage::Production
                && e.metadata.name != name
        })
        .map(|e| e.metadata.name.clone());
    Ok(EnvPage {
        name: name.to_string(),
        project: env.spec.project.clone(),
        client: EnvHealth::client_of(env),
        stage: data::value_str(&env.spec.stage),
        production,
        branch: env.spec.branch.clone(),
        health,
        url,
        serving,
        releases,
        release_total,
        deploys,
        resources,
        inventory,
        open_drift,
        drift_spans,
        policies,
        backups,
        gate_results,
        jobs: jobs.into_iter().map(JobRow::of).collect(),
        runs,
        mail_catcher,
        production_source,
    })
}
