//! `odooops backup run|list|download|prune|restore`, `odooops clone` and `odooops jobs`.
//! Every backup, restore and clone runs as a bounded job; Ctrl-C cancels it cleanly.

use super::neutralize::RulesArgs;
use super::{Output, EXIT_OK, EXIT_USAGE};
use crate::jobs::{self, CancelToken, JobKind, JobsConfig};
use crate::odoo::backup::{
    self, parse_backup_id, BackupKind, BackupRequest, CloneRequest, PruneRequest, RestoreRequest,
};
use crate::odoo::graph::split_paths;
use crate::store::{Store, Trigger};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Take a backup now: pg_dump -Fc streamed into the artifact store, the filestore as a
    /// tarball when the policy includes it, and a manifest.
    Run {
        #[arg(long = "env")]
        env: String,
        /// The database URL (default: the environment's database.urlSecret key).
        #[arg(long, hide_env_values = true)]
        db: Option<String>,
        /// The environment's filestore directory.
        #[arg(long)]
        filestore: Option<PathBuf>,
        /// A manual backup (own quota and retention) instead of a scheduled one.
        #[arg(long)]
        manual: bool,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// List recorded backups, newest first.
    List {
        #[arg(long = "env")]
        env: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Copy a backup's dump to a file, verifying its sha256.
    Download {
        #[arg(long)]
        backup: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Apply the GFS retention of each environment's BackupPolicy.
    Prune {
        #[arg(long = "env")]
        env: Option<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Restore a backup into a new database, verify it, then swap it in.
    Restore {
        #[arg(long)]
        backup: String,
        /// The environment restored into.
        #[arg(long = "to")]
        to: String,
        #[arg(long, hide_env_values = true)]
        db: Option<String>,
        /// The project's addons paths for neutralization scripts (non-production targets),
        /// searched after the Odoo source's own folders: DIR[,DIR…].
        #[arg(long)]
        addons_path: Option<String>,
        #[command(flatten)]
        rules: RulesArgs,
        /// The environment's filestore directory, replaced by the backup's.
        #[arg(long)]
        filestore: Option<PathBuf>,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
}

#[derive(Args, Debug)]
pub struct CloneArgs {
    #[arg(long)]
    pub from: String,
    #[arg(long)]
    pub to: String,
    #[arg(long, hide_env_values = true)]
    pub db_from: Option<String>,
    #[arg(long, hide_env_values = true)]
    pub db_to: Option<String>,
    /// The project's addons paths, searched for `<module>/data/neutralize.sql` after the Odoo
    /// source's own folders: DIR[,DIR…].
    #[arg(long)]
    pub addons_path: Option<String>,
    #[command(flatten)]
    pub rules: RulesArgs,
    /// The source's filestore directory (archived with the fresh backup).
    #[arg(long)]
    pub filestore_from: Option<PathBuf>,
    /// The target's filestore directory (replaced; the previous one kept as DIR.old_<ts>).
    #[arg(long)]
    pub filestore_to: Option<PathBuf>,
    /// Restore the latest recorded backup of the source instead of taking a fresh one.
    #[arg(long)]
    pub latest: bool,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Job states (disabled ones first) and recent executions.
    List {
        #[arg(long = "env")]
        env: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Re-enable a job disabled after consecutive timeouts.
    Enable {
        /// backup, restore, clone, gate or sync.
        kind: String,
        #[arg(long = "env")]
        env: String,
    },
}

fn actor() -> String {
    std::env::var("USER").unwrap_or_else(|_| "cli".to_string())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Runtime::new()?)
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn run(
    ssot_dir: &Path,
    database_url: Option<&str>,
    data_dir: &Path,
    cmd: BackupCommand,
) -> anyhow::Result<i32> {
    let rt = runtime()?;
    rt.block_on(async {
        let store =
            super::open_store(super::SsotRef::Dir(ssot_dir), database_url, data_dir).await?;
        let r = run_in(ssot_dir, &store, cmd).await;
        store.close().await;
        r
    })
}

async fn run_in(ssot_dir: &Path, store: &Store, cmd: BackupCommand) -> anyhow::Result<i32> {
    let cfg = JobsConfig::default();
    match cmd {
        BackupCommand::Run {
            env,
            db,
            filestore,
            manual,
            output,
        } => {
            let ssot = super::reconcile::load_ssot(ssot_dir)?;
            let kind = if manual {
                BackupKind::Manual
            } else {
                BackupKind::Scheduled
            };
            let mut req = BackupRequest::new(&env, kind);
            req.db_url = db;
            req.filestore = filestore;
            req.trigger = Trigger::Cli;
            req.actor = actor();
            req.progress = true;
            let cancel = CancelToken::on_ctrl_c();
            let ssot = &ssot;
            let o = backup::bounded(store, ssot, &cfg, JobKind::Backup, &env, &cancel, |ctx| {
                req.cancel = ctx.cancel.clone();
                async move {
                    let o = backup::run_backup(store, ssot, &req).await;
                    if let Ok(o) = &o {
                        ctx.set_run(o.run_id);
                    }
                    o
                }
            })
            .await?;
            match output {
                Output::Json => print_json(&o)?,
                Output::Text => println!(
                    "backup {} of {} ({}): dump {} bytes sha256 {}{}; {} modules, {} objects; run {}",
                    o.backup_id,
                    o.environment,
                    o.kind.as_str(),
                    o.dump_bytes,
                    o.dump_sha256,
                    o.filestore_bytes
                        .map(|b| format!(", filestore {b} bytes"))
                        .unwrap_or_default(),
                    o.manifest["modules"].as_array().map(Vec::len).unwrap_or(0),
                    o.manifest["objects"],
                    o.run_id
                ),
            }
            Ok(EXIT_OK)
        }
        BackupCommand::List { env, output } => {
            let rows = store.backups(env.as_deref(), 1000).await?;
            match output {
                Output::Json => print_json(&rows)?,
                Output::Text => {
                    println!(
                        "{:<36}  {:<14}  {:<9}  {:<8}  {:>12}  {:<20}  ODOO",
                        "ID", "ENVIRONMENT", "KIND", "CLASS", "BYTES", "TAKEN"
                    );
                    for b in &rows {
                        println!(
                            "{:<36}  {:<14}  {:<9}  {:<8}  {:>12}  {:<20}  {}",
                            b.id,
                            b.environment,
                            b.kind,
                            b.retention_class,
                            b.size_bytes + b.filestore_size_bytes.unwrap_or(0),
                            b.created_at.format("%Y-%m-%d %H:%M:%S"),
                            b.manifest["odoo_version"].as_str().unwrap_or("-")
                        );
                    }
                    println!("{} backup(s)", rows.len());
                }
            }
            Ok(EXIT_OK)
        }
        BackupCommand::Download { backup: id, out } => {
            let id = parse_backup_id(&id)?;
            let ssot = super::reconcile::load_ssot(ssot_dir)?;
            let (sha, n) = backup::download(store, &ssot, id, &out).await?;
            println!("{}: {n} bytes, sha256 {sha} verified", out.display());
            Ok(EXIT_OK)
        }
        BackupCommand::Prune {
            env,
            dry_run,
            output,
        } => {
            let ssot = super::reconcile::load_ssot(ssot_dir)?;
            let o = backup::prune(
                store,
                &ssot,
                &PruneRequest {
                    environment: env,
                    dry_run,
                    now: crate::store::now(),
                    trigger: Trigger::Cli,
                    actor: actor(),
                },
            )
            .await?;
            match output {
                Output::Json => print_json(&o)?,
                Output::Text => {
                    for e in &o.environments {
                        for (id, class) in &e.keep {
                            println!("keep   {} {id} ({class})", e.environment);
                        }
                        for id in &e.prune {
                            println!(
                                "{} {} {id}",
                                if dry_run { "would prune" } else { "prune " },
                                e.environment
                            );
                        }
                    }
                    let n: usize = o.environments.iter().map(|e| e.prune.len()).sum();
                    let a: usize = o
                        .environments
                        .iter()
                        .map(|e| e.artifacts_deleted.len())
                        .sum();
                    println!(
                        "{n} backup(s) {}, {a} artifact(s) deleted",
                        if dry_run {
                            "to prune (dry run)"
                        } else {
                            "pruned"
                        }
                    );
                }
            }
            Ok(EXIT_OK)
        }
        BackupCommand::Restore {
            backup: id,
            to,
            db,
            addons_path,
            rules,
            filestore,
            output,
        } => {
            let ssot = super::reconcile::load_ssot(ssot_dir)?;
            let id = parse_backup_id(&id)?;
            let mut req = RestoreRequest::new(id, &to);
            req.db_url = db;
            req.filestore = filestore;
            req.addons_paths = addons_path.as_deref().map(split_paths).unwrap_or_default();
            req.rules = rules.choice();
            req.trigger = Trigger::Cli;
            req.actor = actor();
            let cancel = CancelToken::on_ctrl_c();
            let ssot = &ssot;
            let o = backup::bounded(store, ssot, &cfg, JobKind::Restore, &to, &cancel, |ctx| {
                req.cancel = ctx.cancel.clone();
                async move {
                    let o = backup::restore(store, ssot, &req).await;
                    if let Ok(o) = &o {
                        ctx.set_run(o.run_id);
                    }
                    o
                }
            })
            .await?;
            match output {
                Output::Json => print_json(&o)?,
                Output::Text => println!(
                    "restored backup {} into {} ({}): verified {} objects, {} modules{}{}; run {}",
                    o.backup_id,
                    o.environment,
                    o.database,
                    o.verification.actual_objects,
                    o.verification.actual_modules,
                    match (&o.neutralized_with, &o.neutralization_sha256) {
                        (Some(with), Some(sha)) =>
                            format!(", neutralized with {with} (report {sha})"),
                        _ => String::new(),
                    },
                    o.old_database
                        .as_deref()
                        .map(|d| format!("; previous database kept as {d}"))
                        .unwrap_or_default(),
                    o.run_id
                ),
            }
            Ok(EXIT_OK)
        }
    }
}

pub fn clone(
    ssot_dir: &Path,
    database_url: Option<&str>,
    data_dir: &Path,
    args: CloneArgs,
) -> anyhow::Result<i32> {
    let ssot = super::reconcile::load_ssot(ssot_dir)?;
    let rt = runtime()?;
    rt.block_on(async {
        let store =
            super::open_store(super::SsotRef::Loaded(&ssot), database_url, data_dir).await?;
        let mut req = CloneRequest::new(&args.from, &args.to);
        req.db_from = args.db_from;
        req.db_to = args.db_to;
        req.addons_paths = args
            .addons_path
            .as_deref()
            .map(split_paths)
            .unwrap_or_default();
        req.rules = args.rules.choice();
        req.use_latest_backup = args.latest;
        req.filestore_from = args.filestore_from;
        req.filestore_to = args.filestore_to;
        req.trigger = Trigger::Cli;
        req.actor = actor();
        let cancel = CancelToken::on_ctrl_c();
        let cfg = JobsConfig::default();
        let st = &store;
        let ss = &ssot;
        let r = backup::bounded(st, ss, &cfg, JobKind::Clone, &args.to, &cancel, |ctx| {
            req.cancel = ctx.cancel.clone();
            async move {
                let o = backup::clone(st, ss, &req).await;
                if let Ok(o) = &o {
                    ctx.set_run(o.run_id);
                }
                o
            }
        })
        .await;
        store.close().await;
        let o = r?;
        match args.output {
            Output::Json => print_json(&o)?,
            Output::Text => println!(
                "cloned {} → {} from backup {}{}: verified, neutralized with {} (report {}){}; run {}",
                o.from,
                o.to,
                o.backup_id,
                if o.fresh_backup {
                    " (fresh)"
                } else {
                    " (latest)"
                },
                o.neutralized_with,
                o.neutralization_sha256,
                o.old_database
                    .as_deref()
                    .map(|d| format!("; previous database kept as {d}"))
                    .unwrap_or_default(),
                o.run_id
            ),
        }
        Ok(EXIT_OK)
    })
}

pub fn jobs_cmd(
    ssot_dir: &Path,
    database_url: Option<&str>,
    data_dir: &Path,
    cmd: JobsCommand,
) -> anyhow::Result<i32> {
    let rt = runtime()?;
    rt.block_on(async {
        let store =
            super::open_store(super::SsotRef::Dir(ssot_dir), database_url, data_dir).await?;
        let r = async {
            match cmd {
                JobsCommand::Enable { kind, env } => {
                    let kind: JobKind = match kind.parse() {
                        Ok(k) => k,
                        Err(e) => {
                            eprintln!("error: {e}");
                            return Ok(EXIT_USAGE);
                        }
                    };
                    let s = jobs::enable(&store, kind, &env).await?;
                    println!(
                        "job {} on {} enabled (consecutive timeouts reset to {})",
                        s.kind, s.environment, s.consecutive_timeouts
                    );
                    Ok(EXIT_OK)
                }
                JobsCommand::List { env, output } => {
                    let states: Vec<_> = store
                        .job_states()
                        .await?
                        .into_iter()
                        .filter(|s| env.as_deref().is_none_or(|e| e == s.environment))
                        .collect();
                    let runs = jobs::history(&store, None, env.as_deref(), 50).await?;
                    match output {
                        Output::Json => {
                            print_json(&serde_json::json!({"states": states, "runs": runs}))?
                        }
                        Output::Text => {
                            for s in &states {
                                println!(
                                    "{:<8} {:<14} {} (consecutive timeouts {}){}",
                                    s.kind,
                                    s.environment,
                                    if s.disabled { "DISABLED" } else { "enabled" },
                                    s.consecutive_timeouts,
                                    s.disabled_reason
                                        .as_deref()
                                        .map(|r| format!(": {r}"))
                                        .unwrap_or_default()
                                );
                            }
                            for r in &runs {
                                println!(
                                    "{} {:<8} {:<14} {:<9} {:>8} ms{}",
                                    r.started_at.format("%Y-%m-%d %H:%M:%S"),
                                    r.kind,
                                    r.environment,
                                    r.outcome,
                                    r.duration_ms.unwrap_or(0),
                                    r.error
                                        .as_deref()
                                        .map(|e| format!("  {e}"))
                                        .unwrap_or_default()
                                );
                            }
                        }
                    }
                    Ok(EXIT_OK)
                }
            }
        }
        .await;
        store.close().await;
        r
    })
}
