//! BackupPolicy rules: the environment, the schedules, retention, storage, restore drill.

use super::project::storage;
use super::{names_hint, Ctx, Index};
use crate::ssot::cron::Cron;
use crate::ssot::model::*;
use crate::ssot::structural::Entry;

pub(super) fn backup_policy(cx: &mut Ctx, e: &Entry, b: &BackupPolicy, idx: &Index) {
    let spec = &b.spec;
    match idx.envs.get(spec.environment.as_str()) {
        None if !idx.missing(Kind::Environment, &spec.environment, false) => {}
        None => {
            let hint = names_hint("environment", idx.envs.keys().copied(), &spec.environment);
            cx.err(
                e,
                "/spec/environment",
                "unresolved-reference",
                format!("environment `{}` is not defined", spec.environment),
                hint,
            );
        }
        Some(env) if env.spec.stage == Stage::Development => cx.warn(
            e,
            "/spec/environment",
            "backup-stage",
            format!(
                "`{}` is a development environment; Odoo.sh keeps no backups of those",
                spec.environment
            ),
            "",
        ),
        _ => {}
    }
    if let Err(msg) = Cron::parse(&spec.schedule) {
        cx.err(
            e,
            "/spec/schedule",
            "cron",
            msg,
            "five fields, UTC: `0 3 * * *` runs daily at 03:00",
        );
    }
    let r = &spec.retention;
    if r.daily + r.weekly + r.monthly == 0 {
        cx.err(
            e,
            "/spec/retention",
            "retention",
            "this retention keeps no scheduled backup",
            "keep at least one (Odoo.sh keeps 7 daily, 4 weekly, 3 monthly)",
        );
    }
    if let Some(s) = &spec.storage {
        storage(cx, e, "/spec/storage", s);
    }
    if let Some(drill) = &spec.restore_drill {
        if let Err(msg) = Cron::parse(&drill.schedule) {
            cx.err(
                e,
                "/spec/restoreDrill/schedule",
                "cron",
                msg,
                "five fields, UTC: `0 5 * * 0` runs Sundays at 05:00",
            );
        }
        if let Some(t) = &drill.target_environment {
            match idx.envs.get(t.as_str()) {
                None if !idx.missing(Kind::Environment, t, false) => {}
                None => {
                    let hint = names_hint("environment", idx.envs.keys().copied(), t);
                    cx.err(
                        e,
                        "/spec/restoreDrill/targetEnvironment",
                        "unresolved-reference",
                        format!("environment `{t}` is not defined"),
                        hint,
                    );
                }
                Some(env) if env.spec.stage == Stage::Production => cx.err(
                    e,
                    "/spec/restoreDrill/targetEnvironment",
                    "restore-target",
                    "a restore drill must never target production",
                    "target a staging environment or leave it out for a scratch database",
                ),
                _ => {}
            }
        }
    }
}
