//! DatabaseCluster rules: its project, its region, and the environments that use it (every
//! DigitalOcean database names a declared cluster on the same provider account).

use super::{names_hint, Ctx, Index};
use crate::ssot::model::*;
use crate::ssot::structural::Entry;

/// The account a project reaches DigitalOcean with: (API base URL, token registry key).
fn account(p: &Project) -> Option<(Option<&str>, &str)> {
    p.spec
        .providers
        .digitalocean
        .as_ref()
        .map(|a| (a.api_base_url.as_deref(), a.token_secret.as_str()))
}

pub(super) fn database_cluster(cx: &mut Ctx, e: &Entry, c: &DatabaseCluster, idx: &Index) {
    let users: Vec<&&Environment> = idx
        .envs
        .values()
        .filter(|env| env.spec.database.cluster.as_deref() == Some(c.metadata.name.as_str()))
        .collect();
    let project = match &c.spec.project {
        Some(name) => match idx.projects.get(name.as_str()) {
            Some(p) => Some(*p),
            None => {
                if idx.missing(Kind::Project, name, false) {
                    let hint = names_hint("project", idx.projects.keys().copied(), name);
                    cx.err(
                        e,
                        "/spec/project",
                        "unresolved-reference",
                        format!("project `{name}` is not defined"),
                        hint,
                    );
                }
                return;
            }
        },
        None => users
            .iter()
            .min_by(|a, b| a.metadata.name.cmp(&b.metadata.name))
            .and_then(|env| idx.projects.get(env.spec.project.as_str()).copied()),
    };
    let Some(project) = project else {
        cx.warn(
            e,
            "/metadata/name",
            "unused-cluster",
            format!(
                "no environment uses cluster `{}`: it is not created",
                c.metadata.name
            ),
            "name it in an environment's `database.cluster`, or set `spec.project`",
        );
        return;
    };
    if c.spec.region.is_none() && project.spec.default_region.is_none() {
        cx.err(
            e,
            "/spec",
            "cluster-region",
            format!(
                "cluster `{}` has no region and project `{}` no defaultRegion",
                c.metadata.name, project.metadata.name
            ),
            "set `spec.region` (a region slug such as fra1); it is fixed at create",
        );
    }
    let home = account(project);
    for env in users {
        let Some(p) = idx.projects.get(env.spec.project.as_str()) else {
            continue;
        };
        if account(p) != home {
            cx.err(
                e,
                "/metadata/name",
                "cluster-account",
                format!(
                    "environment `{}` (project `{}`) uses cluster `{}`, which lives on the DigitalOcean account of project `{}`; their accounts differ",
                    env.metadata.name, p.metadata.name, c.metadata.name, project.metadata.name
                ),
                "use a cluster on the environment's own account, or the same providers.digitalocean (apiBaseUrl and tokenSecret) in both projects",
            );
        }
    }
}

/// An environment's DigitalOcean database names a declared cluster.
pub(super) fn environment_cluster(cx: &mut Ctx, e: &Entry, env: &Environment, idx: &Index) {
    let db = &env.spec.database;
    if db.provider != DatabaseProvider::Digitalocean {
        return;
    }
    let Some(name) = db.cluster.as_deref() else {
        return;
    };
    if !idx.clusters.contains(name) && idx.missing(Kind::DatabaseCluster, name, false) {
        let hint = match super::super::suggest::closest(name, idx.clusters.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!(
                "declare it: a `DatabaseCluster` named `{name}` with its size (and region, version, nodes); the plan creates it"
            ),
        };
        cx.err(
            e,
            "/spec/database/cluster",
            "unresolved-reference",
            format!("database cluster `{name}` is not declared"),
            hint,
        );
    }
}
