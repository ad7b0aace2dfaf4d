use super::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn cron(expr: &str) -> Cron {
    Cron::parse(expr).unwrap_or_else(|e| panic!("`{expr}` refused: {e} ({})", e.help))
}

/// The first `n` firings after `from`, RFC 3339.
fn firings(expr: &str, from: &str, n: usize) -> Vec<String> {
    let c = cron(expr);
    let mut at = t(from);
    let mut out = Vec::new();
    for _ in 0..n {
        at = c
            .next_after(at)
            .unwrap_or_else(|| panic!("`{expr}` stopped firing after {at}"));
        out.push(at.format("%Y-%m-%dT%H:%MZ").to_string());
    }
    out
}

fn refused(expr: &str) -> CronError {
    match Cron::parse(expr) {
        Ok(_) => panic!("`{expr}` was accepted"),
        Err(e) => e,
    }
}

/// The token an error points at.
fn token<'a>(expr: &'a str, e: &CronError) -> &'a str {
    &expr[e.span.clone()]
}

#[test]
fn month_and_day_names_in_any_case_equal_their_numbers() {
    let from = "2026-01-01T00:00:00Z";
    for (named, numbered) in [
        ("0 3 * * MON", "0 3 * * 1"),
        ("0 3 * * mon-fri", "0 3 * * 1-5"),
        ("0 3 * * Sat,Sun", "0 3 * * 6,0"),
        ("0 3 * * SAT-SUN", "0 3 * * 6-7"),
        ("0 0 1 JAN-MAR *", "0 0 1 1-3 *"),
        ("0 0 1 jan,jul *", "0 0 1 1,7 *"),
        ("0 0 1 DEC SUN", "0 0 1 12 0"),
    ] {
        assert_eq!(
            firings(named, from, 12),
            firings(numbered, from, 12),
            "{named}"
        );
    }
    assert_eq!(
        firings("0 3 * * MON", from, 2),
        ["2026-01-05T03:00Z", "2026-01-12T03:00Z"]
    );
}

#[test]
fn macros_expand_to_their_classic_schedules() {
    let from = "2026-05-17T10:30:00Z"; // a Sunday
    for (m, next) in [
        ("@hourly", "2026-05-17T11:00Z"),
        ("@daily", "2026-05-18T00:00Z"),
        ("@midnight", "2026-05-18T00:00Z"),
        ("@weekly", "2026-05-24T00:00Z"),
        ("@monthly", "2026-06-01T00:00Z"),
        ("@yearly", "2027-01-01T00:00Z"),
        ("@annually", "2027-01-01T00:00Z"),
        ("@DAILY", "2026-05-18T00:00Z"),
    ] {
        assert_eq!(firings(m, from, 1), [next], "{m}");
    }
}

#[test]
fn both_day_fields_restricted_means_either_matches_as_in_vixie_cron() {
    // January 2026: the 13th is a Tuesday; Fridays are the 2nd, 9th, 16th, ...
    let from = "2026-01-01T00:00:00Z";
    assert_eq!(
        firings("0 3 13 * FRI", from, 4),
        [
            "2026-01-02T03:00Z",
            "2026-01-09T03:00Z",
            "2026-01-13T03:00Z",
            "2026-01-16T03:00Z"
        ]
    );
    // One restricted field alone restricts: only the 13th, or only Fridays.
    assert_eq!(
        firings("0 3 13 * *", from, 2),
        ["2026-01-13T03:00Z", "2026-02-13T03:00Z"]
    );
    assert_eq!(
        firings("0 3 * * FRI", from, 3),
        [
            "2026-01-02T03:00Z",
            "2026-01-09T03:00Z",
            "2026-01-16T03:00Z"
        ]
    );
    // `?` is `*` in the day fields.
    assert_eq!(
        firings("0 3 ? * FRI", from, 3),
        firings("0 3 * * FRI", from, 3)
    );
    // croner's `+` would AND the two fields: refused.
    let e = refused("0 3 13 * +FRI");
    assert_eq!((e.span.clone(), e.field), (9..10, Some(Field::DayOfWeek)));
    assert!(e.help.contains("OR"), "{}", e.help);
}

#[test]
fn next_firings_cross_month_and_year_boundaries() {
    assert_eq!(
        firings("0 0 1 * *", "2026-12-15T08:00:00Z", 2),
        ["2027-01-01T00:00Z", "2027-02-01T00:00Z"]
    );
    // April has no 31st.
    assert_eq!(
        firings("30 23 31 * *", "2026-03-31T23:30:00Z", 2),
        ["2026-05-31T23:30Z", "2026-07-31T23:30Z"]
    );
    // February 29th comes in leap years only.
    assert_eq!(
        firings("0 0 29 2 *", "2026-03-01T00:00:00Z", 2),
        ["2028-02-29T00:00Z", "2032-02-29T00:00Z"]
    );
    // The last minute of the year, strictly after itself: a year later.
    assert_eq!(
        firings("59 23 31 12 *", "2026-12-31T23:59:00Z", 1),
        ["2027-12-31T23:59Z"]
    );
    // Strictly after: a firing minute is not its own next firing, a second later is past it.
    let c = cron("*/15 * * * *");
    assert_eq!(
        c.next_after(t("2026-01-01T10:15:00Z")),
        Some(t("2026-01-01T10:30:00Z"))
    );
    assert_eq!(
        c.next_after(t("2026-01-01T10:14:59.999Z")),
        Some(t("2026-01-01T10:15:00Z"))
    );
}

#[test]
fn utc_has_no_daylight_saving_gaps_or_repeats() {
    // Europe and the US change clocks on 2026-03-29, 2026-03-08, 2026-10-25 and 2026-11-01;
    // a UTC schedule fires every 24 hours straight through all of them.
    for from in ["2026-03-01T00:00:00Z", "2026-10-20T00:00:00Z"] {
        let c = cron("30 2 * * *");
        let mut at = c.next_after(t(from)).expect("fires");
        for _ in 0..40 {
            let next = c.next_after(at).expect("fires");
            assert_eq!(next - at, chrono::Duration::hours(24), "after {at}");
            at = next;
        }
    }
}

#[test]
fn last_nearest_weekday_and_nth_are_supported() {
    let from = "2026-01-01T00:00:00Z";
    // Last day of February, leap year or not.
    assert_eq!(
        firings("0 0 L 2 *", from, 3),
        [
            "2026-02-28T00:00Z",
            "2027-02-28T00:00Z",
            "2028-02-29T00:00Z"
        ]
    );
    // The weekday nearest the 15th: 2026-02-15 is a Sunday, so Monday the 16th.
    assert_eq!(firings("0 0 15W 2 *", from, 1), ["2026-02-16T00:00Z"]);
    // The last weekday of January 2026 (the 31st is a Saturday).
    assert_eq!(firings("0 0 LW 1 *", from, 1), ["2026-01-30T00:00Z"]);
    // The second Monday, and the last Friday, of each month.
    assert_eq!(
        firings("0 0 * * MON#2", from, 2),
        ["2026-01-12T00:00Z", "2026-02-09T00:00Z"]
    );
    assert_eq!(
        firings("0 0 * * 5L", from, 2),
        ["2026-01-30T00:00Z", "2026-02-27T00:00Z"]
    );
}

#[test]
fn ranges_steps_and_lists() {
    let from = "2026-01-01T00:00:00Z";
    assert_eq!(
        firings("5/15 9-10 * * *", from, 5),
        [
            "2026-01-01T09:05Z",
            "2026-01-01T09:20Z",
            "2026-01-01T09:35Z",
            "2026-01-01T09:50Z",
            "2026-01-01T10:05Z"
        ]
    );
    assert_eq!(
        firings("0 1-5/2 * * *", from, 3),
        firings("0 1,3,5 * * *", from, 3)
    );
    assert_eq!(firings("0 0 * * 7", from, 4), firings("0 0 * * 0", from, 4));
}

#[test]
fn fires_at_is_minute_resolution() {
    let c = cron("0 3 * * *");
    assert!(c.fires_at(t("2026-06-01T03:00:00Z")));
    assert!(c.fires_at(t("2026-06-01T03:00:59Z")));
    assert!(!c.fires_at(t("2026-06-01T03:01:00Z")));
}

#[test]
fn refusals_name_the_field_and_point_at_the_token() {
    let cases: [(&str, &str, Option<Field>, &str, &str); 12] = [
        // (expression, token, field, in the message, in the help)
        (
            "0 3 * * FOO",
            "FOO",
            Some(Field::DayOfWeek),
            "day-of-week `FOO`",
            "SUN-SAT",
        ),
        (
            "61 * * * *",
            "61",
            Some(Field::Minute),
            "minute `61`: number out of bounds",
            "0-59",
        ),
        (
            "0 3 1,2,99 * *",
            "99",
            Some(Field::DayOfMonth),
            "day-of-month `99`",
            "1-31",
        ),
        ("0 24 * * *", "24", Some(Field::Hour), "hour `24`", "0-23"),
        (
            "0 0 1 13 *",
            "13",
            Some(Field::Month),
            "month `13`",
            "JAN-DEC",
        ),
        (
            "0 3 * * JAN",
            "JAN",
            Some(Field::DayOfWeek),
            "month name, in the day-of-week field",
            "SUN-SAT",
        ),
        (
            "MON 3 * * *",
            "MON",
            Some(Field::Minute),
            "day name, in the minute field",
            "0-59",
        ),
        (
            "0 3 * * SUNDAY",
            "SUNDAY",
            Some(Field::DayOfWeek),
            "`SUNDAY`",
            "SUN-SAT",
        ),
        (
            "*/0 * * * *",
            "*/0",
            Some(Field::Minute),
            "step cannot be zero",
            "steps",
        ),
        (
            "/10 * * * *",
            "/10",
            Some(Field::Minute),
            "needs a start",
            "`*/10`",
        ),
        (
            "@reboot",
            "@reboot",
            None,
            "`@reboot` runs once at start-up",
            "@daily",
        ),
        (
            "@fortnightly",
            "@fortnightly",
            None,
            "unknown macro",
            "@weekly",
        ),
    ];
    for (expr, tok, field, message, help) in cases {
        let e = refused(expr);
        assert_eq!(token(expr, &e), tok, "{expr}: {e:?}");
        assert_eq!(e.field, field, "{expr}");
        assert!(e.message.contains(message), "{expr}: {}", e.message);
        assert!(e.help.contains(help), "{expr}: {}", e.help);
    }
}

#[test]
fn seconds_and_year_fields_are_refused_with_the_five_field_form() {
    let e = refused("0 0 3 * * *");
    assert_eq!(e.span, 0..1);
    assert!(e.message.contains("seconds"), "{}", e.message);
    assert_eq!(e.help, "drop the seconds field: `0 3 * * *`");
    let e = refused("0 0 3 * * * 2027");
    assert!(e.message.contains("seconds and year"), "{}", e.message);
    assert!(e.help.ends_with("`0 3 * * *`"), "{}", e.help);
}

#[test]
fn wrong_field_counts_empty_and_never_firing_schedules_are_refused() {
    let e = refused("0 3 * *");
    assert_eq!(e.span, 0..7);
    assert!(e.message.starts_with("4 fields"), "{}", e.message);
    assert!(refused("   ").message.contains("empty"));
    let e = refused("@daily 3");
    assert_eq!(token("@daily 3", &e), "3");
    let e = refused("0 0 30 2 *");
    assert_eq!(e.span, 0..10);
    assert!(e.message.contains("never fires"), "{}", e.message);
    // Spans count from the expression as given, leading blanks included.
    let e = refused("  0 3 * * FOO");
    assert_eq!(e.span, 10..13);
}
