//! `cron_timeout`: Odoo.sh's cron rules, from the database's `ir_cron`.
//!
//! - an active cron must not run more often than every `minIntervalMinutes` (default 5);
//! - a recorded run must not take longer than `maxSeconds` (default: the environment's
//!   effective cron time limit — `limit_time_real_cron`, else `limit_time_real`, 120 s);
//! - a cron whose latest `autoDisableAfter` (default 3) runs all timed out is to be disabled;
//!   with `enforce: true` the gate sets `active = false` on it and reports what it disabled.
//!
//! Run durations come from Odoo's `ir_cron_progress` (17.0+): one row per run, created when the
//! run starts and written as it progresses, so `write_date - create_date` is the run's length as
//! far as it was recorded, and `timed_out_counter` (when present) is Odoo's own count of
//! consecutive timeouts. Without that table there is no duration data: the gate says so with
//! a warning, never a pass. Odoo 18's `failure_count` is reported when the column exists.

use super::{GateError, Outcome, Verdict};
use crate::odoo::render::defaults;
use crate::ssot::{Environment, GateParams};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgPool, Row};
use std::collections::BTreeMap;

pub const DEFAULT_MIN_INTERVAL_MINUTES: u64 = 5;
pub const DEFAULT_AUTO_DISABLE_AFTER: u32 = 3;

/// One `ir_cron` row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CronRow {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub interval_number: i64,
    pub interval_type: String,
    /// Odoo 18+: consecutive failures.
    pub failure_count: Option<i64>,
}

/// One recorded run of a cron.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CronRun {
    pub cron_id: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_seconds: f64,
    /// Odoo's consecutive-timeout counter on this run, when recorded.
    pub timed_out_counter: Option<i64>,
}

/// What was read from the database.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CronMeasure {
    pub crons: Vec<CronRow>,
    /// `None` when the database has no duration source.
    pub runs: Option<Vec<CronRun>>,
    pub duration_source: Option<String>,
}

/// The limits in force.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronLimits {
    pub max_seconds: u64,
    pub min_interval_minutes: u64,
    pub auto_disable_after: u32,
    pub enforce: bool,
}

impl CronLimits {
    pub fn resolve(params: &GateParams, env: &Environment) -> CronLimits {
        let odoo = &env.spec.odoo;
        let real = odoo.limit_time_real.unwrap_or(defaults::LIMIT_TIME_REAL);
        let cron_limit = match odoo.limit_time_real_cron {
            Some(c) if c > 0 => c as u64,
            _ => real as u64,
        };
        CronLimits {
            max_seconds: params.max_seconds.unwrap_or(cron_limit),
            min_interval_minutes: params
                .min_interval_minutes
                .unwrap_or(DEFAULT_MIN_INTERVAL_MINUTES),
            auto_disable_after: params
                .auto_disable_after
                .unwrap_or(DEFAULT_AUTO_DISABLE_AFTER)
                .max(1),
            enforce: params.enforce.unwrap_or(false),
        }
    }
}

/// Minutes between runs (`months` counted as 30 days); `None` for an unknown unit.
pub fn interval_minutes(number: i64, unit: &str) -> Option<i64> {
    let per = match unit {
        "minutes" => 1,
        "hours" => 60,
        "days" => 1_440,
        "weeks" => 10_080,
        "months" => 43_200,
        _ => return None,
    };
    Some(number.saturating_mul(per))
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CronIssue {
    pub id: i64,
    pub name: String,
    pub value: f64,
}

/// Pure evaluation; also returns the ids of the crons to disable.
pub fn evaluate(m: &CronMeasure, limits: &CronLimits) -> (Verdict, Vec<i64>) {
    // Facts in any order give the same verdict: crons by id, runs by (cron, start, length).
    let mut crons: Vec<&CronRow> = m.crons.iter().collect();
    crons.sort_by_key(|c| c.id);
    let active: Vec<&CronRow> = crons.iter().copied().filter(|c| c.active).collect();
    let mut too_frequent = Vec::new();
    let mut bad_interval = Vec::new();
    for c in &active {
        match interval_minutes(c.interval_number, &c.interval_type) {
            Some(mins) if mins < limits.min_interval_minutes as i64 => {
                too_frequent.push(CronIssue {
                    id: c.id,
                    name: c.name.clone(),
                    value: mins as f64,
                })
            }
            Some(_) => {}
            None => bad_interval.push(c.name.clone()),
        }
    }
    let names: BTreeMap<i64, &CronRow> = m.crons.iter().map(|c| (c.id, c)).collect();
    let mut slow = Vec::new();
    let mut inactive_slow = Vec::new();
    let mut disable = Vec::new();
    if let Some(runs) = &m.runs {
        let mut by_cron: BTreeMap<i64, Vec<&CronRun>> = BTreeMap::new();
        for r in runs {
            by_cron.entry(r.cron_id).or_default().push(r);
        }
        for (id, mut rs) in by_cron {
            let Some(cron) = names.get(&id) else { continue };
            rs.sort_by(|a, b| {
                (a.started_at, a.duration_seconds)
                    .partial_cmp(&(b.started_at, b.duration_seconds))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let longest = rs.iter().map(|r| r.duration_seconds).fold(0.0, f64::max);
            if longest > limits.max_seconds as f64 {
                // An inactive cron's slow history is reported, not held against the environment
                // (e.g. one this gate disabled on an earlier run).
                let into = if cron.active {
                    &mut slow
                } else {
                    &mut inactive_slow
                };
                into.push(CronIssue {
                    id,
                    name: cron.name.clone(),
                    value: longest,
                });
            }
            let trailing = rs
                .iter()
                .rev()
                .take_while(|r| r.duration_seconds > limits.max_seconds as f64)
                .count() as i64;
            let counted = rs.last().and_then(|r| r.timed_out_counter).unwrap_or(0);
            let consecutive = trailing.max(counted);
            if cron.active && consecutive >= limits.auto_disable_after as i64 {
                disable.push(CronIssue {
                    id,
                    name: cron.name.clone(),
                    value: consecutive as f64,
                });
            }
        }
    }
    let measured = json!({
        "crons": m.crons.len(),
        "active": active.len(),
        "tooFrequent": too_frequent.len(),
        "overMaxSeconds": slow.len(),
        "toDisable": disable.len(),
        "durationSource": m.duration_source,
    });
    let threshold = serde_json::to_value(limits).unwrap_or_default();
    let details = json!({
        "tooFrequent": too_frequent,
        "unknownIntervalType": bad_interval,
        "overMaxSeconds": slow,
        "inactiveOverMaxSeconds": inactive_slow,
        "toDisable": disable,
        "failureCounts": crons.iter().filter_map(|c| c.failure_count.filter(|n| *n > 0).map(|n| json!({"id": c.id, "name": c.name, "failureCount": n}))).collect::<Vec<_>>(),
    });
    let mut problems = Vec::new();
    if !too_frequent.is_empty() {
        problems.push(format!(
            "{} cron(s) more often than every {} min: {}",
            too_frequent.len(),
            limits.min_interval_minutes,
            list(&too_frequent)
        ));
    }
    if !bad_interval.is_empty() {
        problems.push(format!(
            "unknown interval type on {}",
            bad_interval.join(", ")
        ));
    }
    if !slow.is_empty() {
        problems.push(format!(
            "{} cron(s) ran longer than {} s: {}",
            slow.len(),
            limits.max_seconds,
            list(&slow)
        ));
    }
    if !disable.is_empty() {
        problems.push(format!(
            "{} cron(s) timed out {}+ times in a row: {}",
            disable.len(),
            limits.auto_disable_after,
            list(&disable)
        ));
    }
    let ids: Vec<i64> = disable.iter().map(|c| c.id).collect();
    let verdict = if !problems.is_empty() {
        Verdict::new(Outcome::Fail, measured, threshold, problems.join("; "))
    } else if m.runs.is_none() {
        Verdict::new(
            Outcome::Warn,
            measured,
            threshold,
            format!(
                "{} active cron(s), intervals ok; no duration data (no ir_cron_progress): run times not checked",
                active.len()
            ),
        )
    } else {
        Verdict::new(
            Outcome::Pass,
            measured,
            threshold,
            format!(
                "{} active cron(s): intervals ≥ {} min, runs ≤ {} s",
                active.len(),
                limits.min_interval_minutes,
                limits.max_seconds
            ),
        )
    };
    (verdict.with_details(details), ids)
}

fn list(issues: &[CronIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{} (#{})", i.name, i.id))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn columns(pool: &PgPool, table: &str) -> Result<Vec<String>, GateError> {
    let rows = sqlx::query(
        "SELECT column_name::text FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .map_err(GateError::sql("information_schema.columns"))?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()
        .map_err(GateError::sql("information_schema.columns"))
}

/// Read `ir_cron` and, when present, `ir_cron_progress`.
pub async fn measure(pool: &PgPool) -> Result<CronMeasure, GateError> {
    let cols = columns(pool, "ir_cron").await?;
    if cols.is_empty() {
        return Err(GateError::NotOdoo("ir_cron"));
    }
    let has = |c: &str| cols.iter().any(|x| x == c);
    let name = if has("cron_name") {
        "COALESCE(cron_name::text, 'cron ' || id)"
    } else {
        "'cron ' || id"
    };
    let failures = if has("failure_count") {
        "failure_count::bigint"
    } else {
        "NULL::bigint"
    };
    let sql = format!(
        "SELECT id::bigint AS id, {name} AS name, COALESCE(active, false) AS active,
                interval_number::bigint AS interval_number, interval_type::text AS interval_type,
                {failures} AS failure_count
           FROM ir_cron ORDER BY id"
    );
    let rows = sqlx::query(&sql)
        .fetch_all(pool)
        .await
        .map_err(GateError::sql("ir_cron"))?;
    let crons = rows
        .iter()
        .map(|r| {
            Ok(CronRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                active: r.try_get("active")?,
                interval_number: r.try_get("interval_number")?,
                interval_type: r.try_get("interval_type")?,
                failure_count: r.try_get("failure_count")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(GateError::sql("ir_cron"))?;

    let pcols = columns(pool, "ir_cron_progress").await?;
    if pcols.is_empty() {
        return Ok(CronMeasure {
            crons,
            runs: None,
            duration_source: None,
        });
    }
    let counter = if pcols.iter().any(|c| c == "timed_out_counter") {
        "timed_out_counter::bigint"
    } else {
        "NULL::bigint"
    };
    let sql = format!(
        "SELECT cron_id::bigint AS cron_id,
                create_date::timestamp AS started_at,
                GREATEST(EXTRACT(EPOCH FROM (write_date - create_date)), 0)::float8 AS duration,
                {counter} AS counter
           FROM ir_cron_progress
          WHERE create_date IS NOT NULL AND write_date IS NOT NULL
          ORDER BY cron_id, create_date, id"
    );
    let rows = sqlx::query(&sql)
        .fetch_all(pool)
        .await
        .map_err(GateError::sql("ir_cron_progress"))?;
    let runs = rows
        .iter()
        .map(|r| {
            let started: Option<chrono::NaiveDateTime> = r.try_get("started_at")?;
            Ok(CronRun {
                cron_id: r.try_get("cron_id")?,
                started_at: started.map(|t| t.and_utc()),
                duration_seconds: r.try_get("duration")?,
                timed_out_counter: r.try_get("counter")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(GateError::sql("ir_cron_progress"))?;
    Ok(CronMeasure {
        crons,
        runs: Some(runs),
        duration_source: Some("ir_cron_progress".to_string()),
    })
}

/// A cron the gate disabled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Disabled {
    pub id: i64,
    pub name: String,
}

/// Set `active = false` on the given crons that are still active; returns those changed.
pub async fn disable(pool: &PgPool, ids: &[i64]) -> Result<Vec<Disabled>, GateError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let cols = columns(pool, "ir_cron").await?;
    let name = if cols.iter().any(|c| c == "cron_name") {
        "COALESCE(cron_name::text, 'cron ' || id)"
    } else {
        "'cron ' || id"
    };
    let sql = format!(
        "UPDATE ir_cron SET active = false WHERE id = ANY($1) AND active RETURNING id::bigint AS id, {name} AS name"
    );
    let rows = sqlx::query(&sql)
        .bind(ids)
        .fetch_all(pool)
        .await
        .map_err(GateError::sql("ir_cron (disable)"))?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(Disabled {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(GateError::sql("ir_cron (disable)"))?;
    out.sort_by_key(|d| d.id);
    Ok(out)
}
