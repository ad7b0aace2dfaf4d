//! Backup retention as a pure function: grandfather-father-son, Odoo.sh style.
//!
//! Calendar windows, UTC, counted back from `now`: the newest successful automatic backup of
//! each of the last `daily` days (today included), of each of the last `weekly` ISO weeks (this
//! week included), and of each of the last `monthly` calendar months (this month included).
//! Manual backups have their own quota: the `manualKeep` newest successful ones. The newest
//! successful backup of any kind is never pruned, whatever the policy. Failed backups are never
//! kept. With Odoo.sh's 7/4/3 at most 14 automatic backups survive (fewer, since the newest of
//! a week is often also a day's newest).

use crate::ssot::Retention;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    /// Taken by the schedule (or automatically before an update).
    Automatic,
    /// Asked for by a person.
    Manual,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    Succeeded,
    Failed,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BackupMeta {
    pub id: String,
    pub taken_at: DateTime<Utc>,
    pub kind: BackupKind,
    pub status: BackupStatus,
}

impl BackupMeta {
    fn ok(&self) -> bool {
        self.status == BackupStatus::Succeeded
    }
}

/// Why a backup survives (the first reason that applies, in this order).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum KeepClass {
    Daily,
    Weekly,
    Monthly,
    Manual,
    /// Kept only because it is the newest successful backup.
    Newest,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct RetentionPlan {
    /// Survivors, newest first.
    pub keep: Vec<(String, KeepClass)>,
    /// Everything else (failed backups included), newest first.
    pub prune: Vec<String>,
}

impl RetentionPlan {
    pub fn class_of(&self, id: &str) -> Option<KeepClass> {
        self.keep.iter().find(|(k, _)| k == id).map(|(_, c)| *c)
    }
}

/// The most backups a plan may keep under `policy`.
pub fn max_kept(policy: &Retention) -> usize {
    (policy.daily + policy.weekly + policy.monthly + policy.manual_keep) as usize + 1
}

/// Months since year 0, for "the last N calendar months".
fn month_index(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// Monday of the ISO week holding `d`.
fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// Order: newest first; equal timestamps by id (descending) so the result is deterministic.
fn newer(a: &BackupMeta, b: &BackupMeta) -> std::cmp::Ordering {
    b.taken_at.cmp(&a.taken_at).then_with(|| b.id.cmp(&a.id))
}

/// Decide which backups to keep and which to prune.
pub fn select(policy: &Retention, backups: &[BackupMeta], now: DateTime<Utc>) -> RetentionPlan {
    let mut sorted: Vec<&BackupMeta> = backups.iter().collect();
    sorted.sort_by(|a, b| newer(a, b));
    let today = now.date_naive();
    let this_week = week_start(today);
    let this_month = month_index(today);

    // Bucket key → newest backup in it (sorted newest-first, so the first seen wins).
    let mut daily: BTreeMap<NaiveDate, &str> = BTreeMap::new();
    let mut weekly: BTreeMap<NaiveDate, &str> = BTreeMap::new();
    let mut monthly: BTreeMap<i64, &str> = BTreeMap::new();
    let mut manual: Vec<&str> = Vec::new();
    for b in sorted.iter().filter(|b| b.ok()) {
        let day = b.taken_at.date_naive();
        match b.kind {
            BackupKind::Automatic => {
                let age_days = (today - day).num_days();
                if (0..i64::from(policy.daily)).contains(&age_days) {
                    daily.entry(day).or_insert(&b.id);
                }
                let week = week_start(day);
                let age_weeks = (this_week - week).num_days() / 7;
                if (0..i64::from(policy.weekly)).contains(&age_weeks) {
                    weekly.entry(week).or_insert(&b.id);
                }
                let age_months = this_month - month_index(day);
                if (0..i64::from(policy.monthly)).contains(&age_months) {
                    monthly.entry(month_index(day)).or_insert(&b.id);
                }
            }
            BackupKind::Manual => {
                if manual.len() < policy.manual_keep as usize {
                    manual.push(&b.id);
                }
            }
        }
    }
    let mut class: BTreeMap<&str, KeepClass> = BTreeMap::new();
    for (ids, c) in [
        (
            daily.values().copied().collect::<Vec<_>>(),
            KeepClass::Daily,
        ),
        (weekly.values().copied().collect(), KeepClass::Weekly),
        (monthly.values().copied().collect(), KeepClass::Monthly),
        (manual, KeepClass::Manual),
    ] {
        for id in ids {
            class.entry(id).or_insert(c);
        }
    }
    if let Some(newest) = sorted.iter().find(|b| b.ok()) {
        class.entry(&newest.id).or_insert(KeepClass::Newest);
    }
    let mut plan = RetentionPlan::default();
    let mut done: HashSet<&str> = HashSet::new();
    for b in &sorted {
        // An id listed twice is decided once.
        if !done.insert(&b.id) {
            continue;
        }
        match class.get(b.id.as_str()) {
            Some(c) if b.ok() => plan.keep.push((b.id.clone(), *c)),
            _ => plan.prune.push(b.id.clone()),
        }
    }
    plan
}

/// May another manual backup be taken now? Odoo.sh allows `manualPerDay` (5) per UTC day;
/// failed attempts do not use the quota.
pub fn manual_allowed(policy: &Retention, backups: &[BackupMeta], now: DateTime<Utc>) -> bool {
    let today = now.date_naive();
    let taken = backups
        .iter()
        .filter(|b| b.kind == BackupKind::Manual && b.ok() && b.taken_at.date_naive() == today)
        .count();
    taken < policy.manual_per_day as usize
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
