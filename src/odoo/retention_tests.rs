use super::*;
use chrono::TimeZone;

/// SplitMix64: a small deterministic PRNG, enough for property tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 18, 0, 0)
        .single()
        .expect("valid time")
}

fn meta(id: &str, hours_ago: i64, kind: BackupKind, status: BackupStatus) -> BackupMeta {
    BackupMeta {
        id: id.to_string(),
        taken_at: now() - Duration::hours(hours_ago),
        kind,
        status,
    }
}

fn random_history(rng: &mut Rng) -> Vec<BackupMeta> {
    let n = rng.below(120);
    let span_hours = 24 * (1 + rng.below(400)) as i64;
    (0..n)
        .map(|i| {
            let kind = if rng.below(5) == 0 {
                BackupKind::Manual
            } else {
                BackupKind::Automatic
            };
            let status = if rng.below(6) == 0 {
                BackupStatus::Failed
            } else {
                BackupStatus::Succeeded
            };
            // Some backups share a timestamp; a few are slightly in the future (clock skew).
            let hours = rng.below(span_hours as u64) as i64 - 2;
            meta(&format!("b{i:03}"), hours, kind, status)
        })
        .collect()
}

fn random_policy(rng: &mut Rng) -> Retention {
    Retention {
        daily: rng.below(10) as u32,
        weekly: rng.below(8) as u32,
        monthly: rng.below(14) as u32,
        manual_per_day: 5,
        manual_keep: rng.below(7) as u32,
    }
}

/// The obvious, slow definition, written independently of the bucket maps.
fn reference(
    policy: &Retention,
    backups: &[BackupMeta],
    now: DateTime<Utc>,
) -> BTreeMap<String, KeepClass> {
    let ok: Vec<&BackupMeta> = backups
        .iter()
        .filter(|b| b.status == BackupStatus::Succeeded)
        .collect();
    let newest_of = |pred: &dyn Fn(&BackupMeta) -> bool| -> Option<String> {
        ok.iter()
            .filter(|b| b.kind == BackupKind::Automatic && pred(b))
            .max_by(|a, b| a.taken_at.cmp(&b.taken_at).then_with(|| a.id.cmp(&b.id)))
            .map(|b| b.id.clone())
    };
    let today = now.date_naive();
    let mut out: BTreeMap<String, KeepClass> = BTreeMap::new();
    for k in 0..policy.daily as i64 {
        let day = today - Duration::days(k);
        if let Some(id) = newest_of(&|b| b.taken_at.date_naive() == day) {
            out.entry(id).or_insert(KeepClass::Daily);
        }
    }
    for k in 0..policy.weekly as i64 {
        let target = (today - Duration::weeks(k)).iso_week();
        if let Some(id) = newest_of(&|b| b.taken_at.date_naive().iso_week() == target) {
            out.entry(id).or_insert(KeepClass::Weekly);
        }
    }
    for k in 0..policy.monthly as i32 {
        let total = today.year() * 12 + today.month0() as i32 - k;
        let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
        if let Some(id) = newest_of(&|b| {
            let d = b.taken_at.date_naive();
            d.year() == y && d.month0() == m0
        }) {
            out.entry(id).or_insert(KeepClass::Monthly);
        }
    }
    let mut manual: Vec<&&BackupMeta> =
        ok.iter().filter(|b| b.kind == BackupKind::Manual).collect();
    manual.sort_by(|a, b| b.taken_at.cmp(&a.taken_at).then_with(|| b.id.cmp(&a.id)));
    for b in manual.into_iter().take(policy.manual_keep as usize) {
        out.entry(b.id.clone()).or_insert(KeepClass::Manual);
    }
    if let Some(b) = ok
        .iter()
        .max_by(|a, b| a.taken_at.cmp(&b.taken_at).then_with(|| a.id.cmp(&b.id)))
    {
        out.entry(b.id.clone()).or_insert(KeepClass::Newest);
    }
    out
}

#[test]
fn property_random_histories_match_the_reference_and_the_invariants() {
    let mut rng = Rng(0x0DD0_0DD0);
    for case in 0..3000 {
        let policy = random_policy(&mut rng);
        let history = random_history(&mut rng);
        let plan = select(&policy, &history, now());
        let ctx = || format!("case {case}: {policy:?}");

        // Never more than the policy allows (+1 for the newest).
        assert!(plan.keep.len() <= max_kept(&policy), "{}", ctx());
        // Every backup decided exactly once.
        assert_eq!(
            plan.keep.len() + plan.prune.len(),
            history.len(),
            "{}",
            ctx()
        );
        // Failed backups are never kept.
        for (id, _) in &plan.keep {
            let b = history
                .iter()
                .find(|b| &b.id == id)
                .expect("kept id exists");
            assert_eq!(b.status, BackupStatus::Succeeded, "{}", ctx());
        }
        // The newest successful backup always survives.
        if let Some(newest) = history
            .iter()
            .filter(|b| b.status == BackupStatus::Succeeded)
            .max_by(|a, b| a.taken_at.cmp(&b.taken_at).then_with(|| a.id.cmp(&b.id)))
        {
            assert!(
                plan.class_of(&newest.id).is_some(),
                "{}: newest {} pruned",
                ctx(),
                newest.id
            );
            assert!(!plan.prune.contains(&newest.id), "{}", ctx());
        }
        // The right survivors, with the right classes.
        let got: BTreeMap<String, KeepClass> = plan.keep.iter().cloned().collect();
        assert_eq!(got, reference(&policy, &history, now()), "{}", ctx());
    }
}

#[test]
fn odoo_sh_policy_over_a_year_of_daily_backups_keeps_at_most_14() {
    let history: Vec<BackupMeta> = (0..365)
        .map(|d| {
            meta(
                &format!("d{d:03}"),
                24 * d + 1,
                BackupKind::Automatic,
                BackupStatus::Succeeded,
            )
        })
        .collect();
    let plan = select(&Retention::default(), &history, now());
    assert!(plan.keep.len() <= 14, "{}", plan.keep.len());
    let count = |c: KeepClass| plan.keep.iter().filter(|(_, k)| *k == c).count();
    assert_eq!(count(KeepClass::Daily), 7);
    // 2026-11-25 is a Wednesday: the newest of this week (today) and of last week (Sunday
    // 11-22) are dailies already; the weeks of 11-09 and 11-02 add their Sundays.
    assert_eq!(count(KeepClass::Weekly), 2);
    assert_eq!(plan.class_of("d010"), Some(KeepClass::Weekly));
    assert_eq!(plan.class_of("d017"), Some(KeepClass::Weekly));
    // November's newest is today's; October's and September's are their last days.
    assert_eq!(count(KeepClass::Monthly), 2);
    let oct_31 = format!("d{:03}", 25); // 25 days before 2026-11-25 17:00 is 2026-10-31.
    assert_eq!(plan.class_of(&oct_31), Some(KeepClass::Monthly));
    assert_eq!(plan.keep[0].0, "d000");
}

#[test]
fn the_newest_survives_even_a_zero_policy_and_failures_never_count() {
    let policy = Retention {
        daily: 0,
        weekly: 0,
        monthly: 0,
        manual_per_day: 0,
        manual_keep: 0,
    };
    let history = vec![
        meta(
            "failed-newer",
            1,
            BackupKind::Automatic,
            BackupStatus::Failed,
        ),
        meta(
            "old-ok",
            24 * 400,
            BackupKind::Manual,
            BackupStatus::Succeeded,
        ),
    ];
    let plan = select(&policy, &history, now());
    assert_eq!(plan.keep, vec![("old-ok".to_string(), KeepClass::Newest)]);
    assert_eq!(plan.prune, vec!["failed-newer".to_string()]);
}

#[test]
fn a_failed_backup_does_not_fill_its_day() {
    let history = vec![
        meta(
            "today-failed",
            1,
            BackupKind::Automatic,
            BackupStatus::Failed,
        ),
        meta(
            "today-ok",
            2,
            BackupKind::Automatic,
            BackupStatus::Succeeded,
        ),
    ];
    let plan = select(&Retention::default(), &history, now());
    assert_eq!(plan.class_of("today-ok"), Some(KeepClass::Daily));
    assert_eq!(plan.prune, vec!["today-failed".to_string()]);
}

#[test]
fn manual_backups_are_capped_by_manual_keep() {
    let history: Vec<BackupMeta> = (0..8)
        .map(|i| {
            meta(
                &format!("m{i}"),
                i,
                BackupKind::Manual,
                BackupStatus::Succeeded,
            )
        })
        .collect();
    let plan = select(&Retention::default(), &history, now());
    let kept: Vec<&str> = plan.keep.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(kept, vec!["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(plan.prune, vec!["m5", "m6", "m7"]);
}

#[test]
fn manual_backups_per_day_follow_manual_per_day() {
    let policy = Retention::default();
    // Five successful manual backups today (hours 0..5 before 18:00), one failed, one yesterday.
    let mut history: Vec<BackupMeta> = (0..5)
        .map(|i| {
            meta(
                &format!("m{i}"),
                i,
                BackupKind::Manual,
                BackupStatus::Succeeded,
            )
        })
        .collect();
    assert!(
        !manual_allowed(&policy, &history, now()),
        "the sixth of the day is refused"
    );
    history.pop();
    history.push(meta("failed", 1, BackupKind::Manual, BackupStatus::Failed));
    history.push(meta(
        "yesterday",
        20,
        BackupKind::Manual,
        BackupStatus::Succeeded,
    ));
    history.push(meta(
        "auto",
        1,
        BackupKind::Automatic,
        BackupStatus::Succeeded,
    ));
    assert!(
        manual_allowed(&policy, &history, now()),
        "failed, yesterday's and automatic ones do not count"
    );
}
