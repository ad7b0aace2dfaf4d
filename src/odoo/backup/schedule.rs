//! Which environments' backup schedules fired since their last backup (pure; UTC).

use crate::ssot::cron::Cron;
use crate::ssot::Ssot;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Beyond this gap a backup is due whatever the schedule.
const MAX_GAP_DAYS: i64 = 366;

/// Environments whose `BackupPolicy` schedule fired at a minute in (last backup, now]. An
/// environment never backed up is due. `last` may list an environment several times (the
/// newest counts). Sorted, without duplicates; a policy with an unparsable schedule is skipped
/// (validation rejects it before this runs).
pub fn due_backups(
    ssot: &Ssot,
    last: &[(String, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut newest: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for (env, at) in last {
        let e = newest.entry(env.as_str()).or_insert(*at);
        if *at > *e {
            *e = *at;
        }
    }
    let mut due = BTreeSet::new();
    for p in ssot.backup_policies() {
        let env = p.spec.environment.as_str();
        let Ok(cron) = Cron::parse(&p.spec.schedule) else {
            continue;
        };
        let fired = match newest.get(env) {
            None => true,
            Some(last) => fired_between(&cron, *last, now),
        };
        if fired {
            due.insert(env.to_string());
        }
    }
    due.into_iter().collect()
}

/// Whether `cron` fires at a minute m with after < m <= now (minutes, UTC).
pub fn fired_between(cron: &Cron, after: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    if now <= after {
        return false;
    }
    if now - after > Duration::days(MAX_GAP_DAYS) {
        return true;
    }
    cron.next_after(after).is_some_and(|next| next <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssot::{Limits, Ssot};
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn ssot() -> Ssot {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        crate::ssot::load(&dir, &Limits::default())
            .into_ssot()
            .expect("examples/quickstart is valid")
    }

    #[test]
    fn daily_at_three_fires_once_a_day() {
        let s = ssot(); // production: "0 3 * * *"
        let last = vec![("production".to_string(), t("2026-11-25T03:00:05Z"))];
        assert!(due_backups(&s, &last, t("2026-11-25T12:00:00Z")).is_empty());
        assert!(due_backups(&s, &last, t("2026-11-26T02:59:59Z")).is_empty());
        assert_eq!(
            due_backups(&s, &last, t("2026-11-26T03:00:00Z")),
            vec!["production"]
        );
        // A missed window (controller down) is still due later.
        assert_eq!(
            due_backups(&s, &last, t("2026-11-28T10:00:00Z")),
            vec!["production"]
        );
    }

    #[test]
    fn never_backed_up_is_due_and_the_newest_entry_counts() {
        let s = ssot();
        assert_eq!(
            due_backups(&s, &[], t("2026-11-25T12:00:00Z")),
            vec!["production"]
        );
        let last = vec![
            ("production".to_string(), t("2026-11-20T03:00:00Z")),
            ("production".to_string(), t("2026-11-25T03:00:00Z")),
            ("staging".to_string(), t("2020-01-01T00:00:00Z")),
        ];
        // staging has no policy: never due.
        assert!(due_backups(&s, &last, t("2026-11-25T23:00:00Z")).is_empty());
    }

    #[test]
    fn fired_between_is_exclusive_of_after_and_inclusive_of_now() {
        let c = Cron::parse("*/15 * * * *").expect("cron");
        let at = Utc
            .with_ymd_and_hms(2026, 1, 1, 10, 15, 0)
            .single()
            .expect("t");
        assert!(!fired_between(&c, at, at));
        assert!(!fired_between(&c, at, at + Duration::minutes(14)));
        assert!(fired_between(&c, at, at + Duration::minutes(15)));
        assert!(fired_between(&c, at - Duration::seconds(1), at));
        assert!(fired_between(&c, at, at + Duration::days(400)));
    }

    #[test]
    fn a_yearly_schedule_fires_across_the_year_boundary_only() {
        let c = Cron::parse("0 0 1 JAN *").expect("cron");
        let t = |s| DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc));
        let (after, eve, new_year) = (
            t("2026-01-01T00:00:30Z").expect("t"),
            t("2026-12-31T23:59:59Z").expect("t"),
            t("2027-01-01T00:00:00Z").expect("t"),
        );
        assert!(!fired_between(&c, after, eve));
        assert!(fired_between(&c, after, new_year));
    }
}
