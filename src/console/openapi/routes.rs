//! The API's route table: every `/api` route, its method, who may call it and what it does.

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Viewer token (or none with `publicRead`).
    Read,
    /// Operator token in the Authorization header.
    Write,
    /// HMAC signature of the body.
    Signed,
}

pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> ApiRoute {
    ApiRoute {
        method,
        path,
        access,
        summary,
    }
}

/// Every `/api` route (paths relative to the server root, `{x}` for parameters).
pub const API_ROUTES: &[ApiRoute] = &[
    r(
        "get",
        "/api/overview",
        Access::Read,
        "Health per environment, open drift, last runs, gate pass rate, drift over time",
    ),
    r(
        "get",
        "/api/environments",
        Access::Read,
        "Environments with health",
    ),
    r(
        "get",
        "/api/environments/{name}",
        Access::Read,
        "One environment's page: health, serving release, releases and deploy timings, managed objects, inventory, drift, backups, gates, jobs, runs",
    ),
    r(
        "get",
        "/api/drift",
        Access::Read,
        "Open drift counts by environment and by field, and the most recently seen open findings (?environment=&limit=)",
    ),
    r(
        "get",
        "/api/drift/history",
        Access::Read,
        "Drift over time: the lives of the findings open in the last `days` days and those resolved since (?environment=&days=)",
    ),
    r(
        "get",
        "/api/plans/{id}",
        Access::Read,
        "One saved plan: the run that made it, its diffs, the actions carrying it out, the runs that applied it",
    ),
    r(
        "get",
        "/api/jobs",
        Access::Read,
        "Work-queue jobs, most recently updated first (?status=)",
    ),
    r(
        "get",
        "/api/runs",
        Access::Read,
        "Recent runs (?limit=), queue jobs and saved plans awaiting apply",
    ),
    r(
        "get",
        "/api/runs/{id}",
        Access::Read,
        "One run: plans, diffs, actions, events, artifacts",
    ),
    r(
        "get",
        "/api/runs/{id}/events",
        Access::Read,
        "A run's event timeline, oldest first",
    ),
    r("get", "/api/jobs/{id}", Access::Read, "One work-queue job"),
    r(
        "get",
        "/api/gates",
        Access::Read,
        "Defined gates, gate runs and results",
    ),
    r(
        "get",
        "/api/backups",
        Access::Read,
        "Backup policies and recorded backups",
    ),
    r(
        "get",
        "/api/modules",
        Access::Read,
        "Allowed modules per environment (ModuleSet waves)",
    ),
    r(
        "get",
        "/api/secrets",
        Access::Read,
        "Secret registry keys with presence only, and sync runs",
    ),
    r(
        "get",
        "/api/events",
        Access::Read,
        "Events (?environment=&level=&correlation_id=&since=&limit=)",
    ),
    r(
        "get",
        "/api/inventory",
        Access::Read,
        "Objects of the latest inventory ingest",
    ),
    r(
        "get",
        "/api/settings",
        Access::Read,
        "Console settings (no secret values)",
    ),
    r(
        "get",
        "/api/artifacts/{id}",
        Access::Read,
        "Artifact metadata and its content link",
    ),
    r("get", "/api/openapi.json", Access::Read, "This document"),
    r(
        "post",
        "/api/actions/plan",
        Access::Write,
        "Enqueue a plan (optional environment)",
    ),
    r(
        "post",
        "/api/actions/apply",
        Access::Write,
        "Enqueue an apply: of a saved `planned` plan (plan_id) or of a fresh plan",
    ),
    r(
        "post",
        "/api/actions/resync",
        Access::Write,
        "Enqueue a full resync (optional environment)",
    ),
    r(
        "post",
        "/api/actions/gates",
        Access::Write,
        "Enqueue a gate run (optional environment)",
    ),
    r(
        "post",
        "/api/actions/backup",
        Access::Write,
        "Enqueue a backup (optional environment)",
    ),
    r(
        "post",
        "/api/actions/restore",
        Access::Write,
        "Enqueue a restore of backup_id into environment",
    ),
    r(
        "post",
        "/api/actions/clone",
        Access::Write,
        "Enqueue a clone of `from` into environment (never production)",
    ),
    r(
        "post",
        "/api/webhooks/github",
        Access::Signed,
        "GitHub webhook (X-Hub-Signature-256)",
    ),
    r(
        "post",
        "/api/webhooks/plane",
        Access::Signed,
        "Plane webhook (X-Plane-Signature)",
    ),
];
