//! Backup schedules: cron expressions in UTC, at minute resolution.
//!
//! The [`croner`] crate parses and evaluates them; a check of our own runs first so that
//! every refusal names its field and token ([`CronError::span`]) and so that only the
//! dialect below gets through:
//!
//! - five fields, `minute hour day-of-month month day-of-week`, separated by whitespace;
//! - `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from `a` to the field's
//!   end), lists `a,b`;
//! - month names `JAN`–`DEC` in the month field and day names `SUN`–`SAT` in the
//!   day-of-week field, in any case; `0` and `7` are both Sunday;
//! - `L` (day of month: the last day; day of week: `5L`, the month's last Friday), `W`
//!   (`15W`, the weekday nearest the 15th; `LW`, the last weekday), `#` (`1#2`, the second
//!   Monday), and `?` as `*` in the two day fields;
//! - the macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and
//!   `@hourly`.
//!
//! Refused: `@reboot` (a schedule fires at times, not at start-up), a seconds or year field
//! (six or seven fields), croner's `+` day-of-week modifier (it would AND the two day
//! fields), and an expression that never fires (`0 0 30 2 *`).
//!
//! When both day fields are restricted, a day matches if either does, as in classic (Vixie)
//! cron: `0 3 1 * MON` fires on the 1st and on every Monday.

use chrono::{DateTime, DurationRound, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use std::ops::Range;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Cron {
    inner: croner::Cron,
}

/// One of the five fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// What the field takes, for help lines.
    fn takes(self) -> &'static str {
        match self {
            Field::Minute => "0-59",
            Field::Hour => "0-23",
            Field::DayOfMonth => "1-31, `L` (last day), `15W` (nearest weekday), `LW`",
            Field::Month => "1-12 or JAN-DEC",
            Field::DayOfWeek => {
                "0-7 (0 and 7 are Sunday) or SUN-SAT, `5L` (last Friday), `1#2` (second Monday)"
            }
        }
    }

    /// The names (letters) the field allows.
    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Minute | Field::Hour => &[],
            Field::DayOfMonth => &["L", "W", "LW"],
            Field::Month => &MONTHS,
            Field::DayOfWeek => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "L"],
        }
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

const EXAMPLE: &str = "five fields, UTC: `0 3 * * *` runs daily at 03:00";

/// Why an expression was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CronError {
    pub message: String,
    /// What to do instead.
    pub help: String,
    /// Byte range of the offending token in the expression as given.
    pub span: Range<usize>,
    /// The field the token is in, when the problem is inside one.
    pub field: Option<Field>,
}

impl CronError {
    fn new(span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> Self {
        CronError {
            message: message.into(),
            help: help.into(),
            span,
            field: None,
        }
    }
    fn in_field(mut self, field: Field) -> Self {
        self.field = Some(field);
        self
    }
}

/// Where the search starts when checking that an expression fires at all (croner searches
/// up to the year 5000).
fn reference_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build()
}

impl Cron {
    /// Parse a schedule; the error locates the offending token.
    pub fn parse(expr: &str) -> Result<Cron, CronError> {
        let fields = split_fields(expr);
        let Some((first, after_first)) = fields.split_first() else {
            return Err(CronError::new(
                0..expr.len(),
                "the schedule is empty",
                EXAMPLE,
            ));
        };
        let whole = first.start..fields.last().map_or(first.end, |last| last.end);
        if expr[first.clone()].starts_with('@') {
            return macro_expr(expr, first.clone(), after_first, whole);
        }
        check_field_count(expr, &fields, whole.clone())?;
        let texts: Vec<&str> = fields.iter().map(|r| &expr[r.clone()]).collect();
        for ((field, text), span) in Field::ALL.iter().zip(&texts).zip(&fields) {
            check_lexically(*field, text, span.start)?;
        }
        let inner = match parser().parse(&texts.join(" ")) {
            Ok(inner) => inner,
            Err(e) => {
                // Find the field, then the list item, that croner refuses.
                for ((field, text), span) in Field::ALL.iter().zip(&texts).zip(&fields) {
                    check_with_croner(*field, text, span.start)?;
                }
                return Err(CronError::new(
                    whole,
                    format!("not a cron expression: {}", croner_detail(&e)),
                    EXAMPLE,
                ));
            }
        };
        fires_at_all(inner, whole)
    }

    /// The first minute after `after` (strictly) at which the schedule fires, or `None` when
    /// there is none before the year 5000.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inner.find_next_occurrence(&after, false).ok()
    }

    /// Whether the schedule fires at the minute that contains `at`.
    pub fn fires_at(&self, at: DateTime<Utc>) -> bool {
        let Ok(minute) = at.duration_trunc(chrono::Duration::minutes(1)) else {
            return false;
        };
        self.inner.is_time_matching(&minute).unwrap_or(false)
    }
}

/// Byte ranges of the whitespace-separated fields.
fn split_fields(expr: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in expr.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..expr.len());
    }
    out
}

/// A macro (`name_span`), which must stand alone (`rest` empty).
fn macro_expr(
    expr: &str,
    name_span: Range<usize>,
    rest: &[Range<usize>],
    whole: Range<usize>,
) -> Result<Cron, CronError> {
    let given = &expr[name_span.clone()];
    let name = given.to_ascii_lowercase();
    let known = "`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`";
    let expanded = match name.as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        "@reboot" => {
            return Err(CronError::new(
                name_span,
                "`@reboot` runs once at start-up; a backup schedule must fire at times",
                format!("use a macro that fires at times ({known}) or {EXAMPLE}"),
            ))
        }
        _ => {
            return Err(CronError::new(
                name_span,
                format!("unknown macro `{given}`"),
                format!("the macros are {known}; or write {EXAMPLE}"),
            ))
        }
    };
    if let Some(next) = rest.first() {
        return Err(CronError::new(
            next.start..whole.end,
            format!("`{given}` stands alone; nothing may follow it"),
            format!("write either the macro or {EXAMPLE}"),
        ));
    }
    let inner = parser().parse(expanded).map_err(|e| {
        CronError::new(
            whole.clone(),
            format!("not a cron expression: {e}"),
            EXAMPLE,
        )
    })?;
    fires_at_all(inner, whole)
}

fn check_field_count(
    expr: &str,
    fields: &[Range<usize>],
    whole: Range<usize>,
) -> Result<(), CronError> {
    let rest = |from: usize| {
        fields[from..]
            .iter()
            .map(|r| &expr[r.clone()])
            .collect::<Vec<_>>()
            .join(" ")
    };
    match fields.len() {
        5 => Ok(()),
        6 => Err(CronError::new(
            fields[0].clone(),
            "6 fields: the first would be seconds, and schedules fire on whole minutes (UTC)",
            format!("drop the seconds field: `{}`", rest(1)),
        )),
        7 => Err(CronError::new(
            fields[0].clone(),
            "7 fields: seconds and year fields are not accepted; schedules fire on whole minutes (UTC)",
            format!("keep minute hour day-of-month month day-of-week: `{}`", {
                let five: Vec<&str> = fields[1..6].iter().map(|r| &expr[r.clone()]).collect();
                five.join(" ")
            }),
        )),
        n => Err(CronError::new(
            whole,
            format!(
                "{n} field{}: a cron expression has 5 (minute hour day-of-month month day-of-week)",
                if n == 1 { "" } else { "s" }
            ),
            EXAMPLE,
        )),
    }
}

/// Letters, `+` and a step without a start, which croner would read more loosely than cron
/// does (it replaces names anywhere in the expression and accepts `+` as an AND modifier).
fn check_lexically(field: Field, text: &str, offset: usize) -> Result<(), CronError> {
    if let Some(i) = text.find('+').filter(|_| field == Field::DayOfWeek) {
        return Err(CronError::new(
            offset + i..offset + i + 1,
            "day-of-week `+` (croner's AND modifier) is not accepted",
            "day-of-month and day-of-week combine with OR, as in classic cron; remove the `+`",
        )
        .in_field(field));
    }
    let mut item_start = 0;
    for item in text.split(',') {
        if item.starts_with('/') {
            let at = offset + item_start;
            return Err(CronError::new(
                at..at + item.len(),
                format!("{} `{item}`: a step needs a start", field.name()),
                format!("write `*{item}` or `a-b{item}`"),
            )
            .in_field(field));
        }
        item_start += item.len() + 1;
    }
    let mut word: Option<usize> = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (c.is_alphabetic(), word) {
            (true, None) => word = Some(i),
            (false, Some(s)) => {
                let name = &text[s..i];
                let upper = name.to_uppercase();
                if !field.names().contains(&upper.as_str()) {
                    return Err(unknown_name(field, name, &upper, offset + s..offset + i));
                }
                word = None;
            }
            _ => {}
        }
    }
    Ok(())
}

fn unknown_name(field: Field, name: &str, upper: &str, span: Range<usize>) -> CronError {
    let days = Field::DayOfWeek.names();
    let message = if field != Field::Month && MONTHS.contains(&upper) {
        format!("`{name}` is a month name, in the {} field", field.name())
    } else if field != Field::DayOfWeek && days.contains(&upper) && upper != "L" {
        format!("`{name}` is a day name, in the {} field", field.name())
    } else {
        format!("{} `{name}`: not a value of this field", field.name())
    };
    CronError::new(
        span,
        message,
        format!(
            "the {} field takes {}; fields are minute hour day-of-month month day-of-week",
            field.name(),
            field.takes()
        ),
    )
    .in_field(field)
}

/// Parse `text` as field `field` with every other field `*`; on failure, find the list
/// item croner refuses.
fn check_with_croner(field: Field, text: &str, offset: usize) -> Result<(), CronError> {
    let probe = |t: &str| {
        let mut parts = ["*"; 5];
        if let Some(i) = Field::ALL.iter().position(|f| *f == field) {
            parts[i] = t;
        }
        parser().parse(&parts.join(" ")).err()
    };
    let Some(err) = probe(text) else {
        return Ok(());
    };
    let mut start = 0;
    let (mut span, mut token, mut detail) = (offset..offset + text.len(), text, err);
    for item in text.split(',') {
        if let Some(e) = probe(item) {
            (span, token, detail) = (offset + start..offset + start + item.len(), item, e);
            break;
        }
        start += item.len() + 1;
    }
    Err(CronError::new(
        span,
        format!("{} `{token}`: {}", field.name(), croner_detail(&detail)),
        format!(
            "the {} field takes {}: numbers, ranges `a-b`, steps `*/n` or `a-b/n`, lists `a,b`",
            field.name(),
            field.takes()
        ),
    )
    .in_field(field))
}

/// croner's message without its prefix and final full stop, starting lowercase.
fn croner_detail(e: &croner::errors::CronError) -> String {
    let text = e.to_string();
    let text = [
        "Component error: ",
        "Invalid pattern: ",
        "Pattern contains illegal characters: CronPattern contains ",
    ]
    .iter()
    .find_map(|p| text.strip_prefix(p))
    .unwrap_or(&text)
    .trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "not valid".to_string(),
    }
}

fn fires_at_all(inner: croner::Cron, whole: Range<usize>) -> Result<Cron, CronError> {
    match inner.find_next_occurrence(&reference_instant(), false) {
        Ok(_) => Ok(Cron { inner }),
        Err(_) => Err(CronError::new(
            whole,
            "this schedule never fires: no date matches its day and month fields",
            "check the day of month against the month (`30 2` is February 30th, which never comes)",
        )),
    }
}

#[cfg(test)]
mod tests;
