//! Inline SVG charts (no script): a step chart of open drift over a fixed time range, bars
//! per day, and a dot chart of deploy durations. Pure functions of their inputs; axes carry
//! dates and the range drawn is the range asked for (the caption states it).

use super::html::esc;
use crate::store::{DriftSpan, Timestamp};
use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 170.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;
const INK: &str = "#344054";
const GRID: &str = "#e4e7ec";
const LINE: &str = "#714b67";

/// Open findings over `[from, to]`: the count at `from`, then one step per change inside
/// the range, ending at `to`.
pub fn open_series(spans: &[DriftSpan], from: Timestamp, to: Timestamp) -> Vec<(Timestamp, i64)> {
    let mut open = 0i64;
    let mut deltas: Vec<(Timestamp, i64)> = Vec::new();
    for s in spans {
        let opened_before = s.first_seen <= from;
        let resolved_before = s.resolved_at.is_some_and(|r| r <= from);
        if opened_before && !resolved_before {
            open += 1;
        } else if !opened_before && s.first_seen <= to {
            deltas.push((s.first_seen, 1));
        }
        if let Some(r) = s.resolved_at {
            if r > from && r <= to && (opened_before || s.first_seen <= to) {
                deltas.push((r, -1));
            }
        }
    }
    deltas.sort_by_key(|d| d.0);
    let mut out = vec![(from, open)];
    for (t, d) in deltas {
        open += d;
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = open,
            _ => out.push((t, open)),
        }
    }
    out.push((to, open));
    out
}

/// A tick label: dates for ranges of two days or more, times of day below.
fn tick_label(t: &Timestamp, span_secs: i64) -> String {
    if span_secs >= 2 * 86_400 {
        t.format("%b %d").to_string()
    } else {
        t.format("%H:%M").to_string()
    }
}

struct Frame {
    from: f64,
    to: f64,
    max: f64,
}

impl Frame {
    fn x(&self, t: &Timestamp) -> f64 {
        let v = t.timestamp_millis() as f64;
        LEFT + ((v - self.from) / (self.to - self.from)).clamp(0.0, 1.0) * (W - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        H - BOTTOM - (v / self.max).clamp(0.0, 1.0) * (H - TOP - BOTTOM)
    }
}

/// The frame, grid and axes of a chart over `[from, to]` with values up to `max`.
fn frame(label: &str, from: &Timestamp, to: &Timestamp, max: f64, unit: &str) -> (String, Frame) {
    let f = Frame {
        from: from.timestamp_millis() as f64,
        to: (to.timestamp_millis() as f64).max(from.timestamp_millis() as f64 + 1.0),
        max: if max > 0.0 { max } else { 1.0 },
    };
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {W} {H}\" \
         preserveAspectRatio=\"xMinYMin meet\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(label)
    );
    // Y: 0, half, max.
    for frac in [0.0, 0.5, 1.0] {
        let v = f.max * frac;
        let y = f.y(v);
        let text = if v.fract() != 0.0 && f.max < 10.0 {
            format!("{v:.1}")
        } else {
            format!("{}", v.round())
        };
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{GRID}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"{INK}\">{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            esc(&text)
        );
    }
    if !unit.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"10\" fill=\"{INK}\" dx=\"4\">{}</text>",
            TOP + 2.0,
            esc(unit)
        );
    }
    // X: five ticks across the range.
    let span = ((f.to - f.from) / 1000.0) as i64;
    for i in 0..5 {
        let ms = f.from + (f.to - f.from) * i as f64 / 4.0;
        let Some(t) = chrono::DateTime::from_timestamp_millis(ms as i64) else {
            continue;
        };
        let x = f.x(&t);
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{b:.1}\" x2=\"{x:.1}\" y2=\"{b2:.1}\" stroke=\"{INK}\"/>\
             <text x=\"{x:.1}\" y=\"{ty:.1}\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"{INK}\">{}</text>",
            esc(&tick_label(&t, span)),
            b = H - BOTTOM,
            b2 = H - BOTTOM + 4.0,
            ty = H - 8.0,
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\" stroke=\"{INK}\"/>",
        b = H - BOTTOM,
        r = W - RIGHT
    );
    (svg, f)
}

/// "from … to …" in UTC, for a chart's caption.
pub fn range_caption(from: &Timestamp, to: &Timestamp) -> String {
    format!(
        "{} – {} UTC",
        from.format("%Y-%m-%d %H:%M"),
        to.format("%Y-%m-%d %H:%M")
    )
}

/// A step chart of a count over `[from, to]` (`series` from [`open_series`]).
pub fn step_chart(
    label: &str,
    from: &Timestamp,
    to: &Timestamp,
    series: &[(Timestamp, i64)],
) -> String {
    let max = series.iter().map(|p| p.1).max().unwrap_or(0) as f64;
    let (mut svg, f) = frame(label, from, to, max, "open findings");
    if let Some(first) = series.first() {
        let mut d = format!("M{:.1},{:.1}", f.x(&first.0), f.y(first.1 as f64));
        for w in series.windows(2) {
            let _ = write!(d, " H{:.1} V{:.1}", f.x(&w[1].0), f.y(w[1].1 as f64));
        }
        let _ = write!(
            svg,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{LINE}\" stroke-width=\"2\"/>"
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Bars of a count per UTC day over `[from, to]` (e.g. findings resolved per day).
pub fn daily_bars(label: &str, from: &Timestamp, to: &Timestamp, times: &[Timestamp]) -> String {
    let day0 = from.date_naive();
    let days = ((to.date_naive() - day0).num_days() + 1).clamp(1, 400) as usize;
    let mut counts = vec![0i64; days];
    for t in times {
        if t < from || t > to {
            continue;
        }
        let i = (t.date_naive() - day0).num_days();
        if let Some(c) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
            *c += 1;
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0) as f64;
    let (mut svg, f) = frame(label, from, to, max, "per day");
    let width = ((W - LEFT - RIGHT) / days as f64 * 0.7).max(1.0);
    for (i, c) in counts.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        let Some(day) = day0.checked_add_days(chrono::Days::new(i as u64)) else {
            continue;
        };
        let noon = day
            .and_hms_opt(12, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or(*from);
        let x = f.x(&noon) - width / 2.0;
        let y = f.y(*c as f64);
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{LINE}\"><title>{}: {c}</title></rect>",
            (H - BOTTOM - y).max(0.0),
            day.format("%Y-%m-%d")
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One deploy for [`duration_chart`]: when it started, how long it took, and whether it
/// ended healthy.
pub struct Deploy {
    pub at: Timestamp,
    pub seconds: f64,
    pub ok: bool,
}

/// Dots of deploy durations over `[from, to]`, joined by a line; failed deploys in red.
pub fn duration_chart(label: &str, from: &Timestamp, to: &Timestamp, deploys: &[Deploy]) -> String {
    let max = deploys.iter().map(|d| d.seconds).fold(0.0, f64::max);
    let (mut svg, f) = frame(label, from, to, max.ceil(), "seconds");
    let mut sorted: Vec<&Deploy> = deploys.iter().collect();
    sorted.sort_by_key(|d| d.at);
    if sorted.len() > 1 {
        let mut d = String::new();
        for (i, p) in sorted.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                f.x(&p.at),
                f.y(p.seconds)
            );
        }
        let _ = write!(
            svg,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{GRID}\" stroke-width=\"1\"/>"
        );
    }
    for p in &sorted {
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"><title>{} {:.1} s{}</title></circle>",
            f.x(&p.at),
            f.y(p.seconds),
            if p.ok { LINE } else { "#b42318" },
            p.at.format("%Y-%m-%d %H:%M"),
            p.seconds,
            if p.ok { "" } else { " (failed)" }
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn t(day: u32, hour: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0)
            .single()
            .expect("time")
    }

    fn span(first: Timestamp, resolved: Option<Timestamp>) -> DriftSpan {
        DriftSpan {
            environment: "e".into(),
            first_seen: first,
            resolved_at: resolved,
        }
    }

    #[test]
    fn open_series_starts_at_the_range_and_counts_what_was_open_then() {
        let from = t(10, 0);
        let to = t(20, 0);
        let spans = vec![
            span(t(1, 0), None),            // open before the range, still open
            span(t(2, 0), Some(t(5, 0))),   // resolved before the range: not counted
            span(t(3, 0), Some(t(12, 0))),  // open at from, resolved inside
            span(t(15, 0), None),           // opened inside
            span(t(16, 0), Some(t(18, 0))), // opened and resolved inside
            span(t(25, 0), None),           // after the range
        ];
        let s = open_series(&spans, from, to);
        assert_eq!(s.first(), Some(&(from, 2)));
        assert_eq!(s.last(), Some(&(to, 2)));
        let at = |x: Timestamp| s.iter().rev().find(|p| p.0 <= x).map(|p| p.1);
        assert_eq!(at(t(13, 0)), Some(1));
        assert_eq!(at(t(17, 0)), Some(3));
        assert_eq!(at(t(19, 0)), Some(2));
    }

    #[test]
    fn axes_carry_dates_over_days_and_times_within_a_day() {
        let from = t(1, 0);
        let to = from + Duration::days(30);
        let svg = step_chart("drift", &from, &to, &open_series(&[], from, to));
        assert!(svg.contains(">Nov 01<"), "{svg}");
        assert!(svg.contains(">Dec 01<"), "{svg}");
        assert!(!svg.contains("T00:00"), "no raw timestamps: {svg}");
        let short = step_chart("drift", &from, &(from + Duration::hours(6)), &[]);
        assert!(
            short.contains(">00:00<") && short.contains(">06:00<"),
            "{short}"
        );
    }

    #[test]
    fn bars_and_durations_stay_inside_the_frame() {
        let from = t(1, 0);
        let to = t(7, 23);
        let svg = daily_bars("resolved", &from, &to, &[t(2, 3), t(2, 5), t(30, 1)]);
        assert_eq!(svg.matches("<rect").count(), 1, "{svg}");
        assert!(svg.contains("2026-11-02: 2"));
        let d = duration_chart(
            "deploys",
            &from,
            &to,
            &[
                Deploy {
                    at: t(2, 0),
                    seconds: 40.0,
                    ok: true,
                },
                Deploy {
                    at: t(3, 0),
                    seconds: 90.0,
                    ok: false,
                },
            ],
        );
        assert_eq!(d.matches("<circle").count(), 2);
        assert!(d.contains("(failed)"));
        for n in d.split("cx=\"").skip(1) {
            let x: f64 = n.split('"').next().and_then(|v| v.parse().ok()).expect("x");
            assert!((LEFT..=W - RIGHT).contains(&x), "{x}");
        }
    }
}
