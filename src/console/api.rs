//! `/api/**` handlers: the pages' data as JSON in the envelope; operator actions are in
//! [`super::actions`] (re-exported here).

use super::data::{self, EventQuery};
use super::errors::{ok, ApiError, ApiResult, Query};
use super::views;
use super::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The query of a route that takes no parameter: any parameter is refused (400, named), so a
/// caller never mistakes an ignored parameter for an honoured one.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `limit`: see [`parse_int`].
pub fn parse_limit(v: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    parse_int("limit", v, default, max)
}

/// A whole-number query parameter `name`: absent means `default`; anything but an integer in
/// `1..=max` is a 400 naming it (`invalid_query` when it is not an integer, `bad_request` when
/// it is out of bounds).
pub fn parse_int(name: &str, v: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    let Some(v) = v else { return Ok(default) };
    let shown = v.chars().take(64).collect::<String>();
    match v.trim().parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        Ok(_) => Err(ApiError::bad_request(format!(
            "{name} must be between 1 and {max}, got {shown}"
        ))),
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("{name}: expected an integer from 1 to {max}, got {shown:?}"),
        )),
    }
}

pub async fn overview(
    State(st): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<data::Overview> {
    Ok(ok(data::overview(&st).await?))
}

pub async fn environments(
    State(st): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<Vec<data::EnvHealth>> {
    Ok(ok(data::environment_list(&st).await?))
}

pub async fn environment(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<views::EnvPage> {
    Ok(ok(views::environment(&st, &name).await?))
}

pub async fn plan(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<views::PlanView> {
    Ok(ok(views::plan(&st, &id).await?))
}

/// `/api/jobs`' query.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JobFilter {
    pub status: Option<String>,
}

pub async fn jobs(
    State(st): State<AppState>,
    Query(q): Query<JobFilter>,
) -> ApiResult<Vec<views::JobRow>> {
    let status = q.status.filter(|s| !s.is_empty());
    Ok(ok(views::jobs(&st, status.as_deref()).await?))
}

/// `/api/drift/history`'s query.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HistoryFilter {
    pub environment: Option<String>,
    pub days: Option<String>,
}

pub async fn drift_history(
    State(st): State<AppState>,
    Query(q): Query<HistoryFilter>,
) -> ApiResult<views::DriftHistory> {
    let env = q.environment.filter(|e| !e.is_empty());
    let days = parse_int(
        "days",
        q.days.as_deref(),
        views::DRIFT_DAYS,
        views::MAX_DAYS,
    )?;
    Ok(ok(views::drift_history(&st, env.as_deref(), days).await?))
}

/// `/api/drift`'s query.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DriftParams {
    pub environment: Option<String>,
    pub limit: Option<String>,
}

pub async fn drift(
    State(st): State<AppState>,
    Query(q): Query<DriftParams>,
) -> ApiResult<data::Drift> {
    let env = q.environment.filter(|e| !e.is_empty());
    let limit = parse_limit(q.limit.as_deref(), data::DRIFT_LIST, 1000)?;
    Ok(ok(data::drift(&st, env.as_deref(), Some(limit)).await?))
}

/// `/api/runs`'s query.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RunsParams {
    pub limit: Option<String>,
}

pub async fn runs(
    State(st): State<AppState>,
    Query(q): Query<RunsParams>,
) -> ApiResult<data::Runs> {
    let limit = parse_limit(q.limit.as_deref(), data::RUN_LIST, 1000)?;
    Ok(ok(data::runs_limited(&st, limit).await?))
}

pub async fn run(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<data::RunDetail> {
    Ok(ok(data::run(&st, &id).await?))
}

pub async fn run_events(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<Vec<crate::store::Event>> {
    Ok(ok(data::run(&st, &id).await?.events))
}

pub async fn job(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<data::JobView> {
    Ok(ok(data::job(&st, &id).await?))
}

pub async fn gates(
    State(st): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<data::Gates> {
    Ok(ok(data::gates(&st).await?))
}

pub async fn backups(
    State(st): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<data::Backups> {
    Ok(ok(data::backups(&st).await?))
}

pub async fn modules(
    State(st): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<Vec<data::EnvModules>> {
    Ok(ok(data::modules(&st)))
}

pub async fn secrets(
    State(st): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<data::Secrets> {
    Ok(ok(data::secrets(&st).await?))
}

/// `/api/events`'s query (the events page's, with unknown parameters refused).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    pub environment: Option<String>,
    pub level: Option<String>,
    pub correlation_id: Option<String>,
    pub since: Option<String>,
    pub limit: Option<String>,
}

pub async fn events(
    State(st): State<AppState>,
    Query(q): Query<EventParams>,
) -> ApiResult<Vec<crate::store::Event>> {
    let limit = parse_limit(q.limit.as_deref(), 200, 1000)?;
    let q = EventQuery {
        environment: q.environment,
        level: q.level,
        correlation_id: q.correlation_id,
        since: q.since,
        limit: Some(limit),
    };
    Ok(ok(data::events(&st, &q).await?))
}

pub async fn inventory(
    State(st): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<Vec<crate::store::InventoryObject>> {
    Ok(ok(data::inventory(&st).await?))
}

pub async fn settings(
    State(st): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<data::Settings> {
    Ok(ok(data::settings(&st).await?))
}

/// `/api/artifacts/{id}`: the artifact's metadata and where its content is.
#[derive(Serialize, JsonSchema)]
pub struct ArtifactAnswer {
    pub artifact: crate::store::Artifact,
    pub links: ArtifactLinks,
}

#[derive(Serialize, JsonSchema)]
pub struct ArtifactLinks {
    /// The content (`/artifacts/{sha256}`), served with its media type.
    pub content: String,
}

pub async fn artifact(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<ArtifactAnswer> {
    let a = data::artifact(&st, &id).await?;
    Ok(ok(ArtifactAnswer {
        links: ArtifactLinks {
            content: format!("/artifacts/{}", a.sha256),
        },
        artifact: a,
    }))
}

/// Test-only route (mounted with `Config::test_routes`): proves panics become JSON 500s.
pub async fn test_panic() -> ApiResult<()> {
    panic!("deliberate panic from /api/_test/panic");
}

pub use super::actions::*;
