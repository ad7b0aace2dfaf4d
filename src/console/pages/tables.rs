//! Tables more than one page shows: gate results and backups, on their own pages (every
//! environment) and on an environment's page (its own, without the Environment column).

use super::*;
use crate::store::{Backup, GateResult};

/// Where a table is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Across {
    /// The list page over every environment: an Environment column.
    Every,
    /// One environment's page: no Environment column.
    One,
}

pub(super) fn gate_results(p: &mut Page, results: &[GateResult], across: Across, empty: &str) {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let mut row = vec![esc(&r.gate)];
            if across == Across::Every {
                row.push(env_link(&r.environment));
            }
            row.extend([
                badge(&r.outcome),
                json_cell(&r.measured),
                json_cell(&r.threshold),
                esc(&r.message),
                r.evidence_sha256
                    .as_deref()
                    .map_or("—".into(), artifact_link),
                ts(&r.created_at),
            ]);
            row
        })
        .collect();
    let mut head = vec!["Gate"];
    if across == Across::Every {
        head.push("Environment");
    }
    head.extend([
        "Outcome",
        "Measured",
        "Threshold",
        "Message",
        "Evidence",
        "At",
    ]);
    p.table(&head, &rows, empty);
}

/// Backups, newest first. On the Backups page each row is the anchor `#backup-<id>` the other
/// pages link to; `restore` gives a row's last cell (a restore form) when it is Some.
pub(super) fn backups(
    p: &mut Page,
    backups: &[Backup],
    across: Across,
    restore: Option<&dyn Fn(&Backup) -> String>,
    empty: &str,
) {
    let rows: Vec<Vec<String>> = backups
        .iter()
        .map(|k| {
            let mut row = vec![match across {
                Across::Every => format!(
                    "<span id=\"backup-{}\" title=\"backup {}\"><code>·{}</code></span>",
                    k.id,
                    k.id,
                    short_id(&k.id)
                ),
                Across::One => backup_link(&k.id),
            }];
            if across == Across::Every {
                row.push(env_link(&k.environment));
            }
            row.extend([
                esc(&k.kind),
                esc(&k.retention_class),
                k.size_bytes.to_string(),
                format!("download {}", artifact_link(&k.sha256)),
                k.run_id.as_ref().map_or("—".into(), run_link),
                ts(&k.created_at),
                k.expires_at.as_ref().map_or("—".into(), ts),
            ]);
            if let Some(f) = restore {
                row.push(f(k));
            }
            row
        })
        .collect();
    let mut head = vec!["Backup"];
    if across == Across::Every {
        head.push("Environment");
    }
    head.extend([
        "Kind",
        "Retention",
        "Bytes",
        "Dump",
        "Run",
        "Created",
        "Expires",
    ]);
    if restore.is_some() {
        head.push("Restore into");
    }
    p.table(&head, &rows, empty);
}
