//! The command line: a thin layer of clap over the library. Exit codes follow the design:
//! 0 ok, 1 error or invalid input, 2 changes present (`--detailed-exitcode`), 64 usage.

mod args;
mod backup;
mod demo;
mod demo_odoo;
mod gates;
mod modules;
pub(crate) mod neutralize;
mod providers;
pub(crate) mod reconcile;
mod render;
mod run;
mod serve;
mod sim;
mod store;
mod validate;

use anyhow::Context as _;
use clap::Parser;

pub use args::*;

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 64;

/// Parse arguments and run; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    EXIT_OK
                }
                _ => EXIT_USAGE,
            };
        }
    };
    init_logging(matches!(
        cli.command,
        Command::Run(_) | Command::Serve { .. }
    ));
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_ERROR
        }
    }
}

/// Logs go to stderr, filtered by RUST_LOG; long-running verbs default to `info`, the others
/// to `warn` (their results are printed, not logged).
fn init_logging(long_running: bool) {
    let default = if long_running { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// `--replicas`, set once per process before any store is opened.
static REPLICAS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// The evidence store as every command opens it: `--database-url`, else the SSOT's
/// `Project.spec.store`, else the embedded SQLite file; artifacts where the SSOT's
/// `Project.spec.artifacts` says ([`crate::store::placement`]). `ssot` is the loaded tree,
/// or the directory to read it from (a tree that does not load leaves the flag and the
/// default).
pub(crate) async fn open_store(
    ssot: SsotRef<'_>,
    database_url: Option<&str>,
    data_dir: &std::path::Path,
) -> anyhow::Result<crate::store::Store> {
    let loaded;
    let tree = match ssot {
        SsotRef::Loaded(s) => Some(s),
        SsotRef::Dir(d) => {
            loaded = crate::ssot::load_checked(d).ok();
            loaded.as_ref()
        }
    };
    let replicas = REPLICAS.get().copied().unwrap_or(1);
    crate::store::Store::open_for(tree, database_url, data_dir, replicas)
        .await
        .context("opening the evidence store")
}

/// The SSOT a command has at hand when it opens the store.
#[derive(Clone, Copy)]
pub(crate) enum SsotRef<'a> {
    Loaded(&'a crate::ssot::Ssot),
    Dir(&'a std::path::Path),
}

/// The SSOT's git source, when `--ssot-git` names one.
fn git_source(
    url: Option<String>,
    branch: String,
    path: String,
    credentials: Option<String>,
) -> anyhow::Result<Option<crate::git::SsotSource>> {
    use crate::provider::SecretSource as _;
    let Some(url) = url else {
        return Ok(None);
    };
    let auth = match credentials {
        None => crate::git::GitAuth::None,
        Some(key) => {
            let value = crate::provider::EnvSecrets.get(&key).ok_or_else(|| {
                anyhow::anyhow!(
                    "--ssot-git-credentials {key}: the variable is not set in this process's environment"
                )
            })?;
            crate::git::GitAuth::for_url(&url, value)
        }
    };
    Ok(Some(crate::git::SsotSource::Git {
        url,
        branch,
        path,
        auth,
    }))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let Cli {
        ssot,
        database_url,
        data_dir,
        sim,
        replicas,
        ssot_git,
        ssot_git_branch,
        ssot_git_path,
        ssot_git_credentials,
        command,
    } = cli;
    let _ = REPLICAS.set(replicas);
    let source = git_source(
        ssot_git,
        ssot_git_branch,
        ssot_git_path,
        ssot_git_credentials,
    )?;
    // A git source: every command but the controller reads its head (exported under the
    // data directory); the controller follows it itself.
    let ssot = match (&source, &command) {
        (Some(src), c) if !matches!(c, Command::Run(_)) => {
            let rt = tokio::runtime::Runtime::new()?;
            let out = rt
                .block_on(src.checkout(&data_dir))
                .with_context(|| format!("reading the SSOT from {}", src.key()))?;
            out.dir
        }
        _ => ssot,
    };
    let target = || reconcile::Target {
        sim: sim.as_deref(),
        database_url: database_url.as_deref(),
        data_dir: &data_dir,
    };
    match command {
        Command::Validate { output } => Ok(validate::run(&ssot, output)),
        Command::Schema { out } => validate::schema(out.as_deref()),
        Command::Render { env, what } => render::run(&ssot, &env, what),
        Command::Modules {
            command:
                ModulesCommand::Deps {
                    addons_path,
                    select,
                    series,
                    output,
                },
        } => modules::deps(&addons_path, select.as_deref(), &series, output),
        Command::Neutralize {
            odoo_database_url,
            addons_path,
            rules,
            dry_run,
            verify_only,
            output,
        } => {
            if verify_only {
                neutralize::verify_only(&odoo_database_url, output)
            } else {
                neutralize::run(
                    &odoo_database_url,
                    addons_path.as_deref(),
                    &rules,
                    dry_run,
                    output,
                )
            }
        }
        Command::Sim {
            command:
                SimCommand::Serve {
                    listen,
                    faults,
                    do_hourly_limit,
                    tokens,
                    delay_ms,
                },
        } => sim::serve(sim::ServeArgs {
            listen: &listen,
            faults: faults.as_deref(),
            do_hourly_limit,
            tokens,
            delay_ms,
        }),
        Command::Backup { command } => {
            backup::run(&ssot, database_url.as_deref(), &data_dir, command)
        }
        Command::Clone(args) => backup::clone(&ssot, database_url.as_deref(), &data_dir, args),
        Command::Jobs { command } => {
            backup::jobs_cmd(&ssot, database_url.as_deref(), &data_dir, command)
        }
        Command::Store { action } => store::run(&ssot, database_url.as_deref(), &data_dir, action),
        Command::Events(args) => store::events(&ssot, database_url.as_deref(), &data_dir, args),
        Command::Plan {
            env,
            output,
            out,
            detailed_exitcode,
            allow_destroy_production,
        } => {
            let t = target();
            reconcile::plan(
                &ssot,
                &t,
                reconcile::PlanArgs {
                    env: env.as_deref(),
                    output,
                    out: out.as_deref(),
                    detailed_exitcode,
                    allow_destroy_production,
                },
            )
        }
        Command::Apply {
            plan_id,
            auto_approve,
            allow_destroy_production,
            parallelism,
            lock_timeout,
        } => {
            let t = target();
            reconcile::apply(
                &ssot,
                &t,
                plan_id.as_deref(),
                &reconcile::ApplyOptions {
                    auto_approve,
                    allow_destroy_production,
                    parallelism,
                    lock_timeout,
                },
            )
        }
        Command::Diff { env } => {
            let t = target();
            reconcile::diff(&ssot, &t, env.as_deref())
        }
        Command::Drift { output } => {
            let t = target();
            reconcile::drift(&ssot, &t, output)
        }
        Command::Secrets {
            command: SecretsCommand::Sync { dry_run, output },
        } => {
            let t = target();
            providers::secrets_sync(&t, &ssot, dry_run, output)
        }
        Command::Inventory { output } => {
            let t = target();
            providers::inventory(&t, &ssot, output)
        }
        Command::Gates { command } => {
            gates::run(&ssot, database_url.as_deref(), &data_dir, command)
        }
        Command::Demo {
            odoo: true,
            serve,
            listen,
            odoo_database_url,
            odoo_src,
            odoo_python,
            ..
        } => demo_odoo::run(demo_odoo::Options {
            data_dir: &data_dir,
            database_url: odoo_database_url,
            odoo_src,
            odoo_python,
            serve: serve.then_some(listen.as_str()),
        }),
        Command::Demo {
            tree,
            serve,
            listen,
            ..
        } => demo::run(
            &tree,
            database_url.as_deref(),
            &data_dir,
            serve.then_some(listen.as_str()),
        ),
        Command::Run(args) => run::run(&ssot, source, database_url, &data_dir, sim, args),
        Command::Serve { listen } => serve::run(&ssot, database_url.as_deref(), &data_dir, &listen),
    }
}
