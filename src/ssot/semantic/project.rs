//! Project rules: one production environment, artifact storage, addons paths.

use super::{Ctx, Index};
use crate::ssot::model::*;
use crate::ssot::structural::Entry;

pub(super) fn project(cx: &mut Ctx, e: &Entry, p: &Project, idx: &Index) {
    let prods: Vec<&&Environment> = idx
        .envs
        .values()
        .filter(|x| x.spec.project == p.metadata.name && x.spec.stage == Stage::Production)
        .collect();
    if prods.is_empty()
        && !idx.broken.incomplete
        && !idx.broken.env_projects.contains(&p.metadata.name)
    {
        cx.err(
            e,
            "/metadata/name",
            "production-count",
            format!(
                "project `{}` has no production environment",
                p.metadata.name
            ),
            "add exactly one Environment with `stage: production` for this project",
        );
    }
    if let Some(s) = &p.spec.artifacts {
        storage(cx, e, "/spec/artifacts", s);
    }
    if let Some(src) = &p.spec.odoo.source {
        if src.url.is_some() == src.path.is_some() {
            cx.err(
                e,
                "/spec/odoo/source",
                "invalid-value",
                "Odoo's source needs exactly one of `url` (a git repository) and `path` (a directory on the controller's machine)",
                "e.g. `url: https://github.com/odoo/odoo.git` with `revision: <commit>`",
            );
        }
        if src.url.is_some() && !is_commit(&src.revision) {
            cx.err(
                e,
                "/spec/odoo/source/revision",
                "invalid-value",
                format!("`{}` is not a commit id", src.revision),
                "pin Odoo to a full 40-character commit (a branch moves; a release records what it ran)",
            );
        }
    }
    for (i, path) in p.spec.repository.addons_paths.iter().enumerate() {
        if path.starts_with('/') || path.split('/').any(|s| s == "..") {
            cx.err(
                e,
                &format!("/spec/repository/addonsPaths/{i}"),
                "invalid-value",
                "addons paths are relative to the repository root",
                "write it like `addons` or `vendor/oca/web`",
            );
        }
    }
}

pub(super) fn storage(cx: &mut Ctx, e: &Entry, ptr: &str, s: &Storage) {
    match s.kind {
        StorageType::Local if s.path.is_none() => cx.err(
            e,
            ptr,
            "storage",
            "local storage needs `path`",
            "add `path: .odooops/artifacts` (or any directory)",
        ),
        StorageType::S3 if s.bucket.is_none() => cx.err(
            e,
            ptr,
            "storage",
            "s3 storage needs `bucket`",
            "add `bucket:`, `endpoint:`, `region:` and the two credential secret keys",
        ),
        _ => {}
    }
}

fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
