//! The command line: a thin layer of clap over the library. Exit codes follow the design:
//! 0 ok, 1 error or invalid input, 2 changes present (`--detailed-exitcode`), 64 usage.

mod sim;
mod store;
mod validate;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 64;

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
    /// The evidence store: apply migrations, show status.
    Store {
        #[command(subcommand)]
        action: store::StoreCommand,
    },
    /// Read the unified event stream, newest first.
    Events(store::EventsArgs),
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
    },
}

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
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_ERROR
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Validate { output } => Ok(validate::run(&cli.ssot, output)),
        Command::Schema { out } => validate::schema(out.as_deref()),
        Command::Store { action } => store::run(cli.database_url.as_deref(), &cli.data_dir, action),
        Command::Events(args) => store::events(cli.database_url.as_deref(), &cli.data_dir, args),
        Command::Sim {
            command: SimCommand::Serve { listen, faults },
        } => sim::serve(&listen, faults.as_deref()),
    }
}
