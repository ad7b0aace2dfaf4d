//! `odooops store migrate | status` and `odooops events`.

use super::{Output, EXIT_OK, EXIT_USAGE};
use crate::store::{EventFilter, Level, Store, Timestamp};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Apply pending migrations (also done automatically by every command that opens the store).
    Migrate,
    /// Backend, applied migrations and row counts.
    Status {
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// This level and more severe: trace, debug, info, warn, error.
    #[arg(long)]
    pub level: Option<String>,
    /// RFC 3339 instant, or a duration back from now: 30s, 15m, 2h, 7d.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events carrying this correlation id.
    #[arg(long)]
    pub correlation: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn open(ssot_dir: &Path, url: Option<&str>, data_dir: &Path) -> anyhow::Result<Store> {
    super::open_store(super::SsotRef::Dir(ssot_dir), url, data_dir)
        .await
        .with_context(|| match url {
            Some(u) => format!(
                "opening the evidence store at {}",
                crate::store::redact_url(u)
            ),
            None => format!(
                "opening the evidence store (data directory {})",
                data_dir.display()
            ),
        })
}

pub fn run(
    ssot_dir: &Path,
    url: Option<&str>,
    data_dir: &Path,
    cmd: StoreCommand,
) -> anyhow::Result<i32> {
    runtime()?.block_on(async {
        let store = open(ssot_dir, url, data_dir).await?;
        match cmd {
            StoreCommand::Migrate => {
                let status = store.status().await?;
                println!(
                    "{}: migrations applied: {:?} (of {:?})",
                    status.location, status.migrations_applied, status.migrations_known
                );
            }
            StoreCommand::Status { output } => {
                let status = store.status().await?;
                match output {
                    Output::Json => println!("{}", serde_json::to_string_pretty(&status)?),
                    Output::Text => {
                        println!("backend:    {:?}", status.backend);
                        println!("location:   {}", status.location);
                        println!("artifacts:  {}", status.artifacts);
                        println!(
                            "migrations: {:?} applied of {:?}",
                            status.migrations_applied, status.migrations_known
                        );
                        for t in &status.tables {
                            println!("  {:<24} {:>10}", t.table, t.rows);
                        }
                    }
                }
            }
        }
        store.close().await;
        Ok(EXIT_OK)
    })
}

/// `--since`: RFC 3339, or `N` followed by s, m, h or d meaning that long ago.
pub fn parse_since(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("--since {s:?}: expected RFC 3339 or a duration like 15m, 2h, 7d"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "--since {s:?}: unknown unit {unit:?}; use s, m, h or d"
            ))
        }
    };
    n.checked_mul(secs)
        .and_then(chrono::Duration::try_seconds)
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| format!("--since {s:?}: out of range"))
}

pub fn events(
    ssot_dir: &Path,
    url: Option<&str>,
    data_dir: &Path,
    args: EventsArgs,
) -> anyhow::Result<i32> {
    let min_level = match args.level.as_deref().map(str::parse::<Level>) {
        Some(Err(e)) => {
            eprintln!("error: --level: {e}");
            return Ok(EXIT_USAGE);
        }
        Some(Ok(l)) => Some(l),
        None => None,
    };
    let since = match args
        .since
        .as_deref()
        .map(|s| parse_since(s, chrono::Utc::now()))
    {
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let filter = EventFilter {
        environment: args.env,
        min_level,
        since,
        correlation_id: args.correlation,
        run_id: None,
        limit: Some(args.limit),
    };
    runtime()?.block_on(async {
        let store = open(ssot_dir, url, data_dir).await?;
        let events = store.events(&filter).await?;
        match args.output {
            Output::Json => println!("{}", serde_json::to_string_pretty(&events)?),
            Output::Text => {
                for e in &events {
                    let fields = match &e.fields {
                        serde_json::Value::Object(m) if m.is_empty() => String::new(),
                        v => format!(" {v}"),
                    };
                    println!(
                        "{} {:<5} {:<12} {:<12} {} {}{}",
                        e.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        e.level,
                        e.service,
                        e.environment.as_deref().unwrap_or("-"),
                        e.correlation_id.as_deref().unwrap_or("-"),
                        e.message,
                        fields
                    );
                }
            }
        }
        store.close().await;
        Ok(EXIT_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_rfc3339_and_durations() {
        let now = chrono::Utc::now();
        assert_eq!(parse_since("2h", now), Ok(now - chrono::Duration::hours(2)));
        assert_eq!(parse_since("7d", now), Ok(now - chrono::Duration::days(7)));
        let t = parse_since("2026-01-01T00:00:00Z", now).expect("rfc3339");
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert!(parse_since("2w", now).is_err());
        assert!(parse_since("abc", now).is_err());
        assert!(parse_since("99999999999999999d", now).is_err());
    }
}
