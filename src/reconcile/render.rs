//! Human rendering of plans and drift: `+ ~ -` lines like Terraform, coloured on a TTY.

use super::diff::{Change, ResourceDiff};
use super::plan::{Op, Plan};
use std::fmt::Write;

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    // Held deletes are part of the detected-only list.
    let refused = if plan.refused.is_empty() {
        String::new()
    } else {
        format!(
            ", {} refused (holding {})",
            plan.refused.len(),
            plan.held_envs().into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    format!(
        "{} to create, {} to update, {} to replace, {} to delete, {} unchanged, {} held (drift only){refused}",
        s.create, s.update, s.replace, s.delete, s.no_op, plan.detected_only.len()
    )
}

fn sigil(op: Op) -> (&'static str, &'static str) {
    match op {
        Op::Create => ("+", GREEN),
        Op::Update => ("~", YELLOW),
        Op::Replace => ("-/+", YELLOW),
        Op::Delete => ("-", RED),
    }
}

/// The plan as text: one block per action with its field changes, then detected-only drift.
pub fn plan_text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    let paint = |c: &str, s: &str| {
        if color {
            format!("{c}{s}{RESET}")
        } else {
            s.to_string()
        }
    };
    for r in &plan.refused {
        let _ = writeln!(out, "{} {} — {}", paint(RED, "✗"), r.resource, r.reason);
        let _ = writeln!(
            out,
            "    {} is held: none of its changes are applied until this is resolved",
            r.env
        );
    }
    if plan.actions.is_empty() && plan.detected_only.is_empty() {
        let _ = writeln!(
            out,
            "No changes. Live state matches the SSOT ({}).",
            plan.revision
        );
    }
    for a in &plan.actions {
        let (s, c) = sigil(a.op);
        let _ = writeln!(out, "{} {}", paint(c, s), a.diff.key);
        for f in &a.diff.fields {
            let mark = paint(
                c,
                s.chars()
                    .last()
                    .map(String::from)
                    .unwrap_or_default()
                    .as_str(),
            );
            match a.op {
                Op::Create => {
                    let _ = writeln!(out, "    {mark} {} = {}", f.path, f.after);
                }
                Op::Delete => {
                    let _ = writeln!(out, "    {mark} {} = {}", f.path, f.before);
                }
                _ => {
                    let _ = writeln!(out, "    {mark} {}: {} → {}", f.path, f.before, f.after);
                }
            }
        }
        let _ = writeln!(out, "    ledger key {}", a.dedupe_key);
    }
    let held = plan.held_envs();
    for d in &plan.detected_only {
        if let (Change::Held, Some(note)) = (d.change, &d.note) {
            let _ = writeln!(out, "{} {} — held: {note}", paint(YELLOW, "!"), d.key);
            for f in &d.fields {
                let _ = writeln!(out, "    {}: {} (desired {})", f.path, f.before, f.after);
            }
            continue;
        }
        let what = match d.change {
            Change::Delete => "not in the SSOT (held: no prune)",
            Change::Held => "drift of a create-only field (recorded, never acted on)",
            Change::Conflict | Change::Refused => continue,
            _ if held.contains(d.key.env.as_str()) => "held with its environment",
            _ => "drift (detect-only)",
        };
        let _ = writeln!(out, "{} {} — {what}", paint(YELLOW, "!"), d.key);
        for f in &d.fields {
            let _ = writeln!(out, "    {}: {} (desired {})", f.path, f.before, f.after);
        }
    }
    let _ = writeln!(out, "\nPlan: {}.", summary_line(plan));
    out
}

/// Unified diffs of every changed resource.
pub fn diff_text(diffs: &[ResourceDiff], color: bool) -> String {
    let mut out = String::new();
    for d in diffs.iter().filter(|d| d.change != Change::NoOp) {
        let _ = writeln!(out, "--- {} ({:?})", d.key, d.change);
        for line in d.text.lines() {
            let painted = match line.chars().next() {
                Some('+') if color && !line.starts_with("+++") => format!("{GREEN}{line}{RESET}"),
                Some('-') if color && !line.starts_with("---") => format!("{RED}{line}{RESET}"),
                _ => line.to_string(),
            };
            let _ = writeln!(out, "{painted}");
        }
    }
    if out.is_empty() {
        out.push_str("No differences.\n");
    }
    out
}
