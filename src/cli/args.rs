//! The command line's grammar: the commands, their flags and their defaults (clap).

use super::{backup, gates, neutralize, render, run, store};
use crate::reconcile::engine::DEFAULT_CONCURRENCY;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `--parallelism`: how many environments are applied at the same time, 1 to 64.
pub fn parse_parallelism(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?}: expected a whole number of environments from 1 to 64"
        )),
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "odooops",
    version,
    about = "An Odoo.sh-equivalent GitOps control plane for Odoo Community"
)]
pub struct Cli {
    /// The SSOT directory (every *.yaml/*.yml under it, any depth).
    #[arg(long, global = true, default_value = "ssot", env = "ODOOOPS_SSOT")]
    pub ssot: PathBuf,
    /// The evidence store: postgres://… (Supabase in production) or sqlite:PATH.
    /// Default: the embedded SQLite file DATA_DIR/ops.db.
    #[arg(
        long,
        global = true,
        env = "ODOOOPS_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Local state: the embedded database and the artifact directory.
    #[arg(
        long,
        global = true,
        default_value = ".odooops",
        env = "ODOOOPS_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// Point every provider adapter at a running simulator (`URL/digitalocean`, …); provider
    /// tokens are then not required.
    #[arg(long, global = true, env = "ODOOOPS_SIM")]
    pub sim: Option<String>,
    /// How many processes of this kind run against the store (e.g. the controller's
    /// replicas): more than one needs a shared PostgreSQL store, never the SQLite file.
    #[arg(long, global = true, env = "ODOOOPS_REPLICAS", default_value_t = 1)]
    pub replicas: u32,
    /// Read the SSOT from this git remote instead of --ssot: its --ssot-git-branch at
    /// --ssot-git-path, exported under DATA_DIR/ssot/. `odooops run` fetches it on every
    /// resync and falls back to the last valid revision when the head is invalid.
    #[arg(long, global = true, env = "ODOOOPS_SSOT_GIT")]
    pub ssot_git: Option<String>,
    #[arg(
        long,
        global = true,
        env = "ODOOOPS_SSOT_GIT_BRANCH",
        default_value = "main"
    )]
    pub ssot_git_branch: String,
    /// The SSOT's directory inside the repository (default: its root).
    #[arg(long, global = true, env = "ODOOOPS_SSOT_GIT_PATH", default_value = "")]
    pub ssot_git_path: String,
    /// Registry key (a variable of this process's environment) of the SSOT repository's
    /// credentials: a token for https URLs, an OpenSSH private key otherwise.
    #[arg(long, global = true, env = "ODOOOPS_SSOT_GIT_CREDENTIALS")]
    pub ssot_git_credentials: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load and validate the SSOT: JSON Schema plus semantic rules, every error located.
    Validate {
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// The provider simulator (DigitalOcean, Supabase, Vercel, Slack, Plane on loopback).
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// Print or write the JSON Schemas generated from the resource types.
    Schema {
        /// Write one schema per kind plus document.schema.json into DIR.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print an environment's rendered odoo.conf or cloud-init user data.
    Render {
        /// Environment name.
        #[arg(long = "env")]
        env: String,
        #[arg(long, value_enum, default_value = "conf")]
        what: render::What,
    },
    /// Addon module graph: dependencies, missing addons, cycles, licenses.
    Modules {
        #[command(subcommand)]
        command: ModulesCommand,
    },
    /// Neutralize an Odoo database (odoo-bin neutralize semantics) and verify the result.
    Neutralize {
        /// PostgreSQL URL of the Odoo database to neutralize (not the evidence store, which
        /// is the global --database-url).
        #[arg(long, env = "ODOOOPS_ODOO_DATABASE_URL", hide_env_values = true)]
        odoo_database_url: String,
        /// The project's addons paths, searched for `<module>/data/neutralize.sql` after the
        /// Odoo source's own folders: DIR[,DIR…].
        #[arg(long)]
        addons_path: Option<String>,
        #[command(flatten)]
        rules: neutralize::RulesArgs,
        /// Run in a transaction that is rolled back; report what would change.
        #[arg(long)]
        dry_run: bool,
        /// Change nothing: only check that the database is neutralized.
        #[arg(long, conflicts_with_all = ["dry_run", "addons_path", "odoo_src", "builtin_rules"])]
        verify_only: bool,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Odoo backups: run, list, download, prune, restore (each a bounded job with evidence).
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Copy an environment into a non-production one: backup, restore into a new database,
    /// verify, neutralize (mandatory), post-check, swap.
    Clone(backup::CloneArgs),
    /// Bounded jobs: states, recent executions, re-enable a job disabled after timeouts.
    Jobs {
        #[command(subcommand)]
        command: backup::JobsCommand,
    },
    /// The evidence store: apply migrations, show status.
    Store {
        #[command(subcommand)]
        action: store::StoreCommand,
    },
    /// Read the unified event stream, newest first.
    Events(store::EventsArgs),
    /// Observe live state, diff it against the SSOT and save a plan (exit 2 with
    /// --detailed-exitcode when there are changes).
    Plan {
        #[arg(long)]
        env: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
        /// Also write the plan JSON to FILE.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        detailed_exitcode: bool,
        #[arg(long)]
        allow_destroy_production: bool,
    },
    /// Apply a saved plan (refused if stale), or plan and apply with --auto-approve.
    Apply {
        plan_id: Option<String>,
        #[arg(long)]
        auto_approve: bool,
        #[arg(long)]
        allow_destroy_production: bool,
        /// Environments applied at the same time (1–64); each environment's actions stay
        /// in plan order.
        #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = parse_parallelism)]
        parallelism: usize,
        /// How long to wait for the store's apply lock when another apply (or the
        /// controller) holds it; 0s fails at once, naming the holder.
        #[arg(long, default_value = "0s", value_parser = run::parse_duration)]
        lock_timeout: std::time::Duration,
    },
    /// Show unified diffs of live state against the SSOT (read-only).
    Diff {
        #[arg(long)]
        env: Option<String>,
    },
    /// Detect drift, record findings, list the open ones (exit 1 when any is open).
    Drift {
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Secret registry operations.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Ingest every provider object we can see into ops.inventory.
    Inventory {
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Parity gates (db object count, cron timeout, module allowlist, SMTP, limits); exit 1
    /// when a gate fails.
    Gates {
        #[command(subcommand)]
        command: gates::GatesCommand,
    },
    /// The main job on the embedded default: simulator + SQLite store + examples/quickstart.
    Demo {
        /// SSOT reconciled by the demo.
        #[arg(long, default_value = "examples/quickstart")]
        tree: PathBuf,
        /// After the demo, serve the console on its store (read-only, loopback) until Ctrl-C.
        #[arg(long)]
        serve: bool,
        /// Where `--serve` listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Deliver Odoo itself: this machine as the host (local transport), a git
        /// repository made here with a custom addon, commit A then commit B (`-u`).
        #[arg(long)]
        odoo: bool,
        /// PostgreSQL for `--odoo` (default: ODOOOPS_TEST_DATABASE_URL).
        #[arg(long)]
        odoo_database_url: Option<String>,
        /// Odoo's source for `--odoo`, the folder of odoo-bin (default: ODOOOPS_ODOO_SRC).
        #[arg(long)]
        odoo_src: Option<PathBuf>,
        /// A Python with Odoo's requirements for `--odoo` (default: ODOOOPS_ODOO_PYTHON;
        /// without one the release builds a virtualenv with pip).
        #[arg(long)]
        odoo_python: Option<PathBuf>,
    },
    /// The continuous controller: watch the SSOT, resync on an interval, run queued jobs,
    /// reconcile (leader-elected on PostgreSQL; one per SQLite store).
    Run(run::RunArgs),
    /// The console: pages, /api/** JSON, /metrics and webhooks over the evidence store.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080", env = "ODOOOPS_LISTEN")]
        listen: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Push registry keys (values from this process's environment) to Supabase secrets and
    /// Vercel env vars; names only are printed and recorded.
    Sync {
        #[arg(long)]
        dry_run: bool,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModulesCommand {
    /// Transitive dependencies of a selection (default: every discovered addon).
    Deps {
        /// DIR[,DIR…]; the first directory holding an addon wins.
        #[arg(long)]
        addons_path: String,
        /// Addons to resolve: a,b,c.
        #[arg(long)]
        select: Option<String>,
        /// Odoo series whose core addons satisfy dependencies.
        #[arg(long, default_value = "17.0")]
        series: String,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
}

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Serve every simulated provider under its own path prefix.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: String,
        /// Fault injection, e.g. `p=0.2,kinds=429|500|503|timeout,seed=7`.
        #[arg(long)]
        faults: Option<String>,
        /// The simulated DigitalOcean hourly request budget (default 5,000, as documented);
        /// raise it to converge thousands of environments in one go.
        #[arg(long)]
        do_hourly_limit: Option<u64>,
        /// Accept this token (repeatable): each token is its own account that sees only its
        /// own objects, and any other token gets the provider's real authentication error.
        /// Without it every token is accepted and all share one account.
        #[arg(long = "token", value_name = "TOKEN")]
        tokens: Vec<String>,
        /// How long asynchronous operations take to complete (droplet creates and actions,
        /// deletes, database clusters), in milliseconds.
        #[arg(long, default_value_t = 1500)]
        delay_ms: u64,
    },
}
