//! `odooops gates run`: the parity gates over every environment (or one), evidence recorded in
//! the store; exit 0 when no gate fails, 1 otherwise.

use super::{Output, EXIT_ERROR, EXIT_OK, EXIT_USAGE};
use crate::gates::{self, GateReport, Outcome, RunOptions};
use crate::jobs::CancelToken;
use crate::store::Trigger;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum GatesCommand {
    /// Run every gate on every environment in its scope and record the evidence.
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// ENV=URL: the PostgreSQL URL of an environment's Odoo database (repeatable). Also read
    /// from ODOOOPS_ENV_DB_<ENV> (upper case, `-` → `_`). Gates needing a database report
    /// `skipped` without one.
    #[arg(
        long = "db",
        visible_alias = "database-url-for",
        value_name = "ENV=URL"
    )]
    pub db: Vec<String>,
    /// Addons paths (comma-separated) for the module dependency graph.
    #[arg(long, value_name = "DIR,…")]
    pub addons_path: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
}

pub fn run(
    ssot_dir: &Path,
    database_url: Option<&str>,
    data_dir: &Path,
    cmd: GatesCommand,
) -> anyhow::Result<i32> {
    let GatesCommand::Run(args) = cmd;
    let ssot = super::reconcile::load_ssot(ssot_dir)?;
    let mut databases = gates::run::databases_from_env(&ssot);
    for pair in &args.db {
        let Some((env, url)) = pair.split_once('=') else {
            eprintln!("error: --db {pair:?}: expected ENV=URL");
            return Ok(EXIT_USAGE);
        };
        if ssot.environment(env).is_none() {
            eprintln!("error: --db {env}=…: no environment `{env}` in the SSOT");
            return Ok(EXIT_USAGE);
        }
        databases.insert(env.to_string(), url.to_string());
    }
    let opts = RunOptions {
        environment: args.env.clone(),
        databases,
        addons_paths: args
            .addons_path
            .as_deref()
            .map(crate::odoo::graph::split_paths)
            .unwrap_or_default(),
        actor: std::env::var("USER").unwrap_or_else(|_| "cli".to_string()),
        trigger: Trigger::Cli,
    };
    let rt = tokio::runtime::Runtime::new()?;
    let report = rt.block_on(async {
        let store =
            super::open_store(super::SsotRef::Loaded(&ssot), database_url, data_dir).await?;
        let r = gates::run::run_bounded(&ssot, &opts, &store, &CancelToken::on_ctrl_c())
            .await
            .context("running the gates");
        store.close().await;
        r
    })?;
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Output::Text => print!("{}", table(&report)),
    }
    Ok(if report.failed() { EXIT_ERROR } else { EXIT_OK })
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null() && !v.is_array())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// The human table: gate × environment → outcome, measured, threshold, message.
pub fn table(report: &GateReport) -> String {
    let head = ["GATE", "ENVIRONMENT", "OUTCOME", "MEASURED", "THRESHOLD"];
    let rows: Vec<[String; 5]> = report
        .results
        .iter()
        .map(|r| {
            [
                r.gate.clone(),
                r.environment.clone(),
                r.outcome.to_string(),
                compact(&r.measured),
                compact(&r.threshold),
            ]
        })
        .collect();
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(head);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out.push('\n');
    for r in &report.results {
        if r.outcome != Outcome::Pass {
            out.push_str(&format!(
                "{} {} on {}: {}\n",
                r.outcome, r.gate, r.environment, r.message
            ));
        }
    }
    out.push_str(&format!(
        "{} pass, {} warn, {} fail, {} skipped{}\n",
        report.count(Outcome::Pass),
        report.count(Outcome::Warn),
        report.count(Outcome::Fail),
        report.count(Outcome::Skipped),
        report
            .run_id
            .map(|id| format!(" (run {id})"))
            .unwrap_or_default()
    ));
    out
}
