//! `odooops modules deps`: the module graph of addons paths (manifestoo-style report).

use super::{Output, EXIT_ERROR, EXIT_OK};
use crate::odoo::graph::{self, DepsReport};
use std::io::Write;

pub fn deps(
    addons_path: &str,
    select: Option<&str>,
    series: &str,
    output: Output,
) -> anyhow::Result<i32> {
    let paths = graph::split_paths(addons_path);
    if paths.is_empty() {
        anyhow::bail!("--addons-path is empty: give DIR[,DIR…]");
    }
    let index = graph::discover(&paths)?;
    let selection: Vec<String> = select
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let report = graph::deps(&index, &selection, series)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Output::Text => write_text(&mut out, &report, index.addons.len())?,
    }
    Ok(if report.is_clean() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

fn write_text(out: &mut impl Write, r: &DepsReport, discovered: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "series {} — {} addon(s) discovered, {} selected",
        r.series,
        discovered,
        r.selection.len()
    )?;
    writeln!(out, "depends ({}): {}", r.depends.len(), list(&r.depends))?;
    writeln!(out, "missing: {}", list(&r.missing))?;
    let cycles: Vec<String> = r.cycles.iter().map(|c| c.join(" -> ")).collect();
    writeln!(out, "cycles: {}", list(&cycles))?;
    writeln!(out, "not installable: {}", list(&r.not_installable))?;
    writeln!(out, "version mismatch: {}", list(&r.version_mismatch))?;
    writeln!(out, "licenses:")?;
    for (addon, license) in &r.licenses {
        writeln!(out, "  {addon:<32} {license}")?;
    }
    for e in &r.errors {
        writeln!(out, "error: {}: {}", e.addon, e.error)?;
    }
    writeln!(
        out,
        "{}",
        if r.is_clean() { "ok" } else { "problems found" }
    )
}
