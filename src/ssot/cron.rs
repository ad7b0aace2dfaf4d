//! Five-field cron expressions (UTC): `minute hour day-of-month month day-of-week`.
//! Supports `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists, and the
//! shortcuts `@hourly`, `@daily`, `@weekly`, `@monthly`.

/// A parsed schedule: the allowed values of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub minutes: Vec<u32>,
    pub hours: Vec<u32>,
    pub days: Vec<u32>,
    pub months: Vec<u32>,
    pub weekdays: Vec<u32>,
    dom_star: bool,
    dow_star: bool,
}

const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let expanded = match expr.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            other => other,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), found {}",
                parts.len()
            ));
        }
        let mut sets = Vec::with_capacity(5);
        for (part, (name, lo, hi)) in parts.iter().zip(FIELDS) {
            sets.push(
                parse_field(part, lo, hi).map_err(|e| format!("{name} field `{part}`: {e}"))?,
            );
        }
        let mut weekdays = sets.pop().unwrap_or_default();
        for d in weekdays.iter_mut() {
            if *d == 7 {
                *d = 0;
            }
        }
        weekdays.sort_unstable();
        weekdays.dedup();
        let months = sets.pop().unwrap_or_default();
        let days = sets.pop().unwrap_or_default();
        let hours = sets.pop().unwrap_or_default();
        let minutes = sets.pop().unwrap_or_default();
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            dom_star: parts[2] == "*",
            dow_star: parts[4] == "*",
        })
    }

    /// Whether the schedule fires at this minute (UTC). `weekday` is 0 = Sunday.
    pub fn matches(&self, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
        let day_ok = match (self.dom_star, self.dow_star) {
            (true, true) => true,
            (false, true) => self.days.contains(&day),
            (true, false) => self.weekdays.contains(&weekday),
            // Vixie cron: when both are restricted, either matching is enough.
            (false, false) => self.days.contains(&day) || self.weekdays.contains(&weekday),
        };
        day_ok
            && self.minutes.contains(&minute)
            && self.hours.contains(&hour)
            && self.months.contains(&month)
    }
}

fn parse_field(field: &str, lo: u32, hi: u32) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("step `{s}` is not a number"))?;
                if step == 0 {
                    return Err("step must be at least 1".into());
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (num(a, lo, hi)?, num(b, lo, hi)?)
        } else {
            let v = num(range, lo, hi)?;
            (v, if item.contains('/') { hi } else { v })
        };
        if a > b {
            return Err(format!("range {a}-{b} is backwards"));
        }
        out.extend((a..=b).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn num(s: &str, lo: u32, hi: u32) -> Result<u32, String> {
    let v: u32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v < lo || v > hi {
        return Err(format!("{v} is outside {lo}-{hi}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let c = Cron::parse("0 3 * * *").expect("valid");
        assert_eq!(c.minutes, vec![0]);
        assert_eq!(c.hours, vec![3]);
        assert!(c.matches(0, 3, 17, 5, 2));
        assert!(!c.matches(1, 3, 17, 5, 2));
        let c = Cron::parse("*/15 1-5/2 1,15 * 7").expect("valid");
        assert_eq!(c.minutes, vec![0, 15, 30, 45]);
        assert_eq!(c.hours, vec![1, 3, 5]);
        assert_eq!(c.weekdays, vec![0]);
        assert!(Cron::parse("@daily").is_ok());
    }

    #[test]
    fn rejects_bad_forms() {
        assert!(Cron::parse("0 3 * *").is_err());
        assert!(Cron::parse("60 * * * *").is_err());
        assert!(Cron::parse("*/0 * * * *").is_err());
        assert!(Cron::parse("5-1 * * * *").is_err());
        assert!(Cron::parse("a * * * *").is_err());
    }
}
