//! `odooops neutralize`: neutralize an Odoo database (one transaction) and verify it.

use super::{Output, EXIT_ERROR, EXIT_OK};
use crate::odoo::graph::split_paths;
use crate::odoo::neutralize::{self, NeutralizeReport, Source, Violation};
use std::io::Write;

pub fn run(
    database_url: &str,
    addons_path: Option<&str>,
    dry_run: bool,
    output: Output,
) -> anyhow::Result<i32> {
    let paths = addons_path.map(split_paths).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(neutralize::run(database_url, &paths, dry_run))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Output::Text => write_text(&mut out, &report)?,
    }
    Ok(if report.ok() { EXIT_OK } else { EXIT_ERROR })
}

/// `--verify-only`: check a database without changing it.
pub fn verify_only(database_url: &str, output: Output) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let violations = rt.block_on(neutralize::verify_url(database_url))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&violations)?)?,
        Output::Text => write_violations(&mut out, &violations)?,
    }
    Ok(if violations.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

fn write_violations(out: &mut impl Write, violations: &[Violation]) -> std::io::Result<()> {
    if violations.is_empty() {
        return writeln!(out, "verified: no violation");
    }
    for v in violations {
        let id = v.id.map(|i| format!(" #{i}")).unwrap_or_default();
        writeln!(out, "violation: {}{id} {}: {}", v.kind, v.name, v.detail)?;
    }
    writeln!(out, "NOT neutralized: {} violation(s)", violations.len())
}

fn write_text(out: &mut impl Write, r: &NeutralizeReport) -> std::io::Result<()> {
    writeln!(
        out,
        "database {}{}",
        r.database,
        if r.dry_run { " (dry run)" } else { "" }
    )?;
    for m in &r.modules {
        let src = match &m.source {
            Source::File { path } => format!("script {path}"),
            Source::Builtin => "built-in rules".to_string(),
            Source::None => "no neutralize script".to_string(),
        };
        writeln!(out, "  {} [{}]: {}", m.module, m.state, src)?;
        for s in &m.statements {
            writeln!(out, "    {}: {} row(s)", s.description, s.rows)?;
        }
    }
    let verb = if r.committed {
        "committed"
    } else {
        "rolled back (dry run)"
    };
    writeln!(out, "{} row(s) changed, {verb}", r.rows_changed)?;
    write_violations(out, &r.violations)
}
