//! BackupPolicy rules: the environment, the schedules, retention, storage, restore drill.

use super::project::storage;
use super::{names_hint, Ctx, Index};
use crate::ssot::cron::Cron;
use crate::ssot::model::*;
use crate::ssot::structural::Entry;

/// A schedule croner refuses, reported at its offending token (see [`token_column`]).
fn schedule(cx: &mut Ctx, e: &Entry, pointer: &str, expr: &str) {
    let Err(err) = Cron::parse(expr) else {
        return;
    };
    let mut pos = cx.loaded.value_pos(e.doc, pointer);
    let line = pos
        .line
        .checked_sub(1)
        .and_then(|i| cx.loaded.text(e.doc)?.lines().nth(i as usize));
    if let Some(column) = line.and_then(|l| token_column(l, pos.column, expr, err.span.start)) {
        pos.column = column;
    }
    cx.err_at(e, pointer, pos, "cron", err.message, err.help);
}

/// The column of byte `offset` of `expr` when the value at `value_column` of `line` spells
/// `expr` as it reads (plain, or quoted without escapes); `None` otherwise (the diagnostic
/// then points at the value).
fn token_column(line: &str, value_column: u64, expr: &str, offset: usize) -> Option<u64> {
    let skip = usize::try_from(value_column.checked_sub(1)?).ok()?;
    let rest = &line[line.char_indices().nth(skip)?.0..];
    let quoted = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let inner = rest[1..].strip_prefix(expr)?;
            if expr.contains([q, '\\']) || !inner.starts_with(q) {
                return None;
            }
            true
        }
        _ => {
            rest.strip_prefix(expr)?;
            false
        }
    };
    let before = expr.get(..offset)?.chars().count() as u64;
    Some(value_column + u64::from(quoted) + before)
}

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
    schedule(cx, e, "/spec/schedule", &spec.schedule);
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
        schedule(cx, e, "/spec/restoreDrill/schedule", &drill.schedule);
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

#[cfg(test)]
mod tests {
    use super::token_column;

    #[test]
    fn the_token_column_follows_quotes_and_falls_back_on_escapes() {
        // `  schedule: "0 3 * * FOO"`: the value (its quote) is at column 13.
        let line = "  schedule: \"0 3 * * FOO\"";
        assert_eq!(token_column(line, 13, "0 3 * * FOO", 8), Some(22));
        let line = "  schedule: '0 3 * * FOO'";
        assert_eq!(token_column(line, 13, "0 3 * * FOO", 8), Some(22));
        let line = "  schedule: 0 3 * * FOO # comment";
        assert_eq!(token_column(line, 13, "0 3 * * FOO", 8), Some(21));
        // An escape or a value that does not read as written: the value's own column.
        let line = "  schedule: \"0 3 * * \\x46OO\"";
        assert_eq!(token_column(line, 13, "0 3 * * FOO", 8), None);
        assert_eq!(token_column("  schedule: >", 13, "0 3 * * FOO", 8), None);
        assert_eq!(token_column("", 0, "x", 0), None);
    }
}
