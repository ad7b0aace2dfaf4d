//! `odooops neutralize`: neutralize an Odoo database (one transaction) and post-check it.

use super::{Output, EXIT_ERROR, EXIT_OK};
use crate::odoo::graph::split_paths;
use crate::odoo::neutralize::{
    self, NeutralizeError, NeutralizeReport, Options, Outcome, PostCheck, RulesChoice, RulesUsed,
    Source,
};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// Which rules neutralize (shared by `neutralize`, `clone` and `backup restore`).
#[derive(Args, Debug, Clone, Default)]
pub struct RulesArgs {
    /// The Odoo source the database belongs to (the folder holding odoo-bin): the
    /// data/neutralize.sql of every installed module runs from its odoo/addons and addons
    /// folders, then from --addons-path, as `odoo-bin neutralize` does. Default: the
    /// ODOOOPS_ODOO_SRC environment variable. Without a source, neutralization is refused.
    #[arg(long, value_name = "DIR")]
    pub odoo_src: Option<PathBuf>,
    /// No Odoo source: run OdooOps's built-in rules (Odoo 17.0 Community's modules) instead,
    /// with a warning. Modules they do not know are not neutralized; the post-check still runs.
    #[arg(long, conflicts_with = "odoo_src")]
    pub builtin_rules: bool,
}

impl RulesArgs {
    pub fn choice(&self) -> RulesChoice {
        if self.builtin_rules {
            RulesChoice::Builtin
        } else if let Some(dir) = &self.odoo_src {
            RulesChoice::OdooSrc {
                dir: dir.clone(),
                origin: "--odoo-src".into(),
            }
        } else {
            RulesChoice::from_env()
        }
    }
}

pub fn run(
    database_url: &str,
    addons_path: Option<&str>,
    rules: &RulesArgs,
    dry_run: bool,
    output: Output,
) -> anyhow::Result<i32> {
    let opts = Options {
        rules: rules.choice().open().map_err(NeutralizeError::from)?,
        addons_paths: addons_path.map(split_paths).unwrap_or_default(),
        dry_run,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(neutralize::run(database_url, &opts))?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Output::Text => write_text(&mut out, &report)?,
    }
    Ok(if report.post_check().verified() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

/// `--verify-only`: check a database without changing it.
pub fn verify_only(database_url: &str, output: Output) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let post = rt.block_on(neutralize::check_url(database_url))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&post.violations)?)?,
        Output::Text => write_checks(&mut out, &post)?,
    }
    Ok(if post.verified() { EXIT_OK } else { EXIT_ERROR })
}

fn write_checks(out: &mut impl Write, post: &PostCheck) -> std::io::Result<()> {
    for c in &post.checks {
        let outcome = match c.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::NotApplicable => "n/a ",
        };
        writeln!(out, "  check {outcome} {}: {}", c.check, c.what)?;
    }
    for v in &post.violations {
        let id = v.id.map(|i| format!(" #{i}")).unwrap_or_default();
        writeln!(out, "violation: {}{id} {}: {}", v.kind, v.name, v.detail)?;
    }
    if post.verified() {
        let run = post
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Pass)
            .count();
        writeln!(out, "verified: no violation ({run} check(s) passed)")
    } else if post.ok() {
        writeln!(
            out,
            "NOT verified: no check applies to this database (is it an Odoo database?)"
        )
    } else {
        writeln!(
            out,
            "NOT neutralized: {} violation(s)",
            post.violations.len()
        )
    }
}

fn write_text(out: &mut impl Write, r: &NeutralizeReport) -> std::io::Result<()> {
    writeln!(
        out,
        "database {} (Odoo {}){}",
        r.database,
        r.database_series.as_deref().unwrap_or("?"),
        if r.dry_run { " (dry run)" } else { "" }
    )?;
    match &r.rules {
        RulesUsed::OdooSource(src) => writeln!(
            out,
            "rules: the scripts of {} [from {}]",
            src.describe(),
            src.origin
        )?,
        RulesUsed::Builtin { catalog_series } => writeln!(
            out,
            "rules: BUILT-IN (written for Odoo {catalog_series}), not the Odoo source's scripts"
        )?,
    }
    for m in &r.modules {
        let src = match &m.source {
            Source::File { path, sha256 } => format!("script {path} (sha256 {sha256})"),
            Source::Builtin => "built-in rules".to_string(),
            // Counted below (and listed in the warnings).
            Source::NoScript | Source::NotFound => continue,
        };
        writeln!(out, "  {} [{}]: {}", m.module, m.state, src)?;
        for s in &m.statements {
            match &s.skipped {
                Some(why) => writeln!(out, "    {}: skipped ({why})", s.description)?,
                None => writeln!(out, "    {}: {} row(s)", s.description, s.rows)?,
            }
        }
    }
    let count = |s: Source| r.modules.iter().filter(|m| m.source == s).count();
    let quiet = count(Source::NoScript);
    if quiet > 0 {
        writeln!(out, "  ({quiet} other module(s) ship no script)")?;
    }
    let lost = count(Source::NotFound);
    if lost > 0 {
        writeln!(
            out,
            "  ({lost} module(s) NOT neutralized: no built-in rule, not found in the addons paths)"
        )?;
    }
    let verb = if r.committed {
        "committed"
    } else {
        "rolled back (dry run)"
    };
    writeln!(out, "{} row(s) changed, {verb}", r.rows_changed)?;
    write_checks(out, &r.post_check())
}
