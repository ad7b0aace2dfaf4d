//! Access per project: what one request may see and do.
//!
//! A console token is listed in a Project's `console.tokens`, so it belongs to that project
//! (a secret listed by several projects belongs to each, with its role there). `publicRead`
//! opens one project's pages to anonymous readers. The authentication middleware resolves the
//! request's [`Scope`] and runs the handler inside it ([`Scope::run`]); the view models in
//! [`super::data`] and [`super::views`] read it with [`Scope::current`] and keep only what the
//! scope covers:
//!
//! - a record naming an environment is visible when that environment's project is;
//! - a record naming no environment (a project-wide run, a global event, a job without a
//!   target) or an environment the SSOT does not define is visible only to a scope covering
//!   every project of the SSOT;
//! - a single record outside the scope answers 404, as an unknown one does (its existence is
//!   not revealed); lists are filtered;
//! - a write needs the operator role on the project of every environment it names, and on
//!   every project when it names none.
//!
//! Outside a request (no scope set) nothing is visible: the default fails closed.

use super::auth::Role;
use super::errors::ApiError;
use super::AppState;
use crate::ssot::Ssot;
use crate::store::{DriftCount, Plan, QueueJob};
use serde_json::Value;
use std::collections::BTreeMap;

tokio::task_local! {
    static SCOPE: Scope;
}

/// The projects a request may see, with its role on each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// The role on every project, and on records of none (a token configured without a
    /// project, or `publicRead` for the whole console).
    every: Option<Role>,
    /// Roles on single projects (project name → role); Anonymous is read-only through a
    /// project's `publicRead`.
    projects: BTreeMap<String, Role>,
}

impl Scope {
    /// Nothing visible.
    pub fn none() -> Scope {
        Scope::default()
    }

    /// Every project with `role`.
    pub fn all(role: Role) -> Scope {
        Scope {
            every: Some(role),
            projects: BTreeMap::new(),
        }
    }

    /// The scope of the current request (nothing outside one).
    pub fn current() -> Scope {
        SCOPE.try_with(Clone::clone).unwrap_or_default()
    }

    /// Run `fut` with this scope as the current one.
    pub async fn run<F: std::future::Future>(self, fut: F) -> F::Output {
        SCOPE.scope(self, fut).await
    }

    /// Add `role` on `project` (the better role wins).
    pub fn grant(&mut self, project: &str, role: Role) {
        let e = self.projects.entry(project.to_string()).or_insert(role);
        *e = (*e).max(role);
    }

    /// Add `role` on every project (the better role wins).
    pub fn grant_all(&mut self, role: Role) {
        self.every = Some(self.every.map_or(role, |r| r.max(role)));
    }

    /// Whether nothing at all is visible.
    pub fn is_empty(&self) -> bool {
        self.every.is_none() && self.projects.is_empty()
    }

    /// The best role held on any project.
    pub fn best_role(&self) -> Role {
        self.projects
            .values()
            .copied()
            .chain(self.every)
            .max()
            .unwrap_or(Role::Anonymous)
    }

    /// The role on one project, if it is visible.
    pub fn role_on(&self, project: &str) -> Option<Role> {
        match (self.every, self.projects.get(project)) {
            (Some(a), Some(b)) => Some(a.max(*b)),
            (a, b) => a.or(b.copied()),
        }
    }

    /// The role on every project of the SSOT (the least of them), when all are visible:
    /// what a record of no project, or a write naming no environment, needs.
    pub fn role_on_all(&self, ssot: Option<&Ssot>) -> Option<Role> {
        let Some(ssot) = ssot else {
            return self.every;
        };
        let mut least: Option<Role> = self.every;
        for p in ssot.projects() {
            let r = self.role_on(&p.metadata.name)?;
            least = Some(least.map_or(r, |l| l.min(r)));
        }
        least
    }

    /// Whether every project is visible (records of no project are then visible too).
    pub fn sees_all(&self, ssot: Option<&Ssot>) -> bool {
        self.role_on_all(ssot).is_some()
    }

    /// The role on an environment's project, if it is visible. An environment the SSOT does
    /// not define belongs to no project.
    pub fn role_on_env(&self, ssot: Option<&Ssot>, env: &str) -> Option<Role> {
        match ssot.and_then(|s| s.environment(env)) {
            Some(e) => self.role_on(&e.spec.project),
            None => self.role_on_all(ssot),
        }
    }

    /// Whether a record of this environment (None: of no environment) is visible.
    pub fn sees_env(&self, ssot: Option<&Ssot>, env: Option<&str>) -> bool {
        match env {
            Some(e) => self.role_on_env(ssot, e).is_some(),
            None => self.sees_all(ssot),
        }
    }

    /// The SSOT environments this scope sees, in SSOT order.
    pub fn environments(&self, ssot: Option<&Ssot>) -> Vec<String> {
        ssot.map(|s| {
            s.environments()
                .filter(|e| self.role_on(&e.spec.project).is_some())
                .map(|e| e.metadata.name.clone())
                .collect()
        })
        .unwrap_or_default()
    }
}

// ------------------------------------------------------------------ the request's view

/// Whether the request's scope sees a record of this environment (None: of no environment).
pub fn visible(st: &AppState, env: Option<&str>) -> bool {
    Scope::current().sees_env(st.ssot.as_ref(), env)
}

/// Whether the request's scope sees every project (then nothing needs filtering).
pub fn sees_all(st: &AppState) -> bool {
    Scope::current().sees_all(st.ssot.as_ref())
}

/// How many rows to read for a list of `limit` that is filtered afterwards: more when the
/// scope is partial, so the filtered list is still (close to) full.
pub(super) fn fetch(st: &AppState, limit: i64) -> i64 {
    if sees_all(st) {
        limit
    } else {
        (limit * 10).clamp(limit, 5_000)
    }
}

/// The 404 of a record outside the scope (worded as for a missing one).
pub(super) fn hidden(what: String) -> ApiError {
    ApiError::not_found(format!("{what} not found"))
}

/// Open drift counts of the environments in scope.
pub(super) async fn visible_drift_counts(
    st: &AppState,
) -> Result<Vec<DriftCount>, crate::store::StoreError> {
    let all = st.store.open_drift_by_env().await?;
    if sees_all(st) {
        return Ok(all);
    }
    Ok(all
        .into_iter()
        .filter(|d| visible(st, Some(&d.environment)))
        .collect())
}

/// A filter naming an environment outside the scope is a 404 (as a page of it would be);
/// with a scope over every project any name is a filter, as before.
pub(super) fn check_env_filter(st: &AppState, environment: Option<&str>) -> Result<(), ApiError> {
    match environment {
        Some(e) if !visible(st, Some(e)) => Err(ApiError::not_found(format!(
            "no environment {e:?} in the SSOT"
        ))),
        _ => Ok(()),
    }
}

/// Whether a job is in scope: every environment its payload names (`environment`, `from`)
/// is; a job naming none is a project-wide one.
pub fn job_visible(st: &AppState, job: &QueueJob) -> bool {
    let named: Vec<&str> = ["environment", "from"]
        .iter()
        .filter_map(|k| job.payload.get(*k).and_then(Value::as_str))
        .collect();
    if named.is_empty() {
        return visible(st, None);
    }
    named.iter().all(|e| visible(st, Some(e)))
}

/// Whether a plan is in scope: its run's environment is.
pub async fn plan_visible(st: &AppState, plan: &Plan) -> Result<bool, ApiError> {
    if sees_all(st) {
        return Ok(true);
    }
    Ok(match st.store.run(plan.run_id).await? {
        Some(r) => visible(st, r.environment.as_deref()),
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_scope_and_fail_closed_default() {
        assert!(Scope::current().is_empty());
        let mut s = Scope::none();
        s.grant("a", Role::Viewer);
        s.grant("a", Role::Operator);
        s.grant("a", Role::Anonymous);
        s.grant("b", Role::Anonymous);
        assert_eq!(s.role_on("a"), Some(Role::Operator));
        assert_eq!(s.role_on("b"), Some(Role::Anonymous));
        assert_eq!(s.role_on("c"), None);
        assert_eq!(s.best_role(), Role::Operator);
        // Without an SSOT no project list is known: records of no project stay hidden.
        assert!(!s.sees_all(None));
        assert!(!s.sees_env(None, None));
        assert!(Scope::all(Role::Viewer).sees_env(None, None));
        // publicRead for all, operator on one project.
        let mut s = Scope::all(Role::Anonymous);
        s.grant("a", Role::Operator);
        assert_eq!(s.role_on("a"), Some(Role::Operator));
        assert_eq!(s.role_on("b"), Some(Role::Anonymous));
        assert_eq!(s.role_on_all(None), Some(Role::Anonymous));
    }
}
