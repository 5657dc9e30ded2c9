//! The report's pictures as inline SVG: the roadmap (one bar per dated item from start to
//! due date, phases as segments, a line for today, overdue marked) and the program's
//! health trend. Text in them is escaped by the template engine.

use chrono::{Datelike, Duration, NaiveDate};
use maud::{Markup, html};

use crate::model::extract::Health;
use crate::model::phases::PhaseState;
use crate::model::rollup::{Entry, Summary};

const WIDTH: f64 = 960.0;
const LABEL_WIDTH: f64 = 280.0;
const ROW: f64 = 24.0;
const TOP: f64 = 28.0;
const BAR: f64 = 14.0;

/// The colour of a health level, as the report's legend shows it.
pub fn colour(h: Health) -> &'static str {
    match h {
        Health::AtRisk => "#cf222e",
        Health::NeedsAttention => "#d4a72c",
        Health::OnTrack => "#2da44e",
        Health::Unknown => "#8c959f",
    }
}

/// One item's span on the roadmap.
struct Span<'a> {
    entry: &'a Entry,
    start: NaiveDate,
    end: NaiveDate,
    /// Only a due date is known: drawn as a marker, not a bar from a guessed start.
    point: bool,
}

fn span(e: &Entry, today: NaiveDate) -> Option<Span<'_>> {
    match (e.start_date, e.due_date) {
        (Some(s), Some(d)) => Some(Span {
            entry: e,
            start: s.min(d),
            end: d.max(s),
            point: false,
        }),
        (Some(s), None) => Some(Span {
            entry: e,
            start: s,
            end: today.max(s),
            point: false,
        }),
        (None, Some(d)) => Some(Span {
            entry: e,
            start: d,
            end: d,
            point: true,
        }),
        (None, None) => None,
    }
}

/// The roadmap of `entries` with a line at `today`; `None` when no item has a date.
pub fn roadmap(entries: &[Entry], today: NaiveDate) -> Option<Markup> {
    // Dates are clamped to three years around today: a typo like 2206 must not draw
    // thousands of month lines.
    let (floor, ceiling) = (
        today - Duration::days(3 * 366),
        today + Duration::days(3 * 366),
    );
    let spans: Vec<Span<'_>> = entries
        .iter()
        .filter_map(|e| span(e, today))
        .map(|s| Span {
            start: s.start.clamp(floor, ceiling),
            end: s.end.clamp(floor, ceiling),
            ..s
        })
        .collect();
    let first = spans.iter().map(|s| s.start).min()?.min(today) - Duration::days(7);
    let last = spans.iter().map(|s| s.end).max()?.max(today) + Duration::days(7);
    let days = (last - first).num_days().max(1) as f64;
    let chart = WIDTH - LABEL_WIDTH - 10.0;
    let x = |d: NaiveDate| LABEL_WIDTH + (d - first).num_days() as f64 / days * chart;
    let height = TOP + ROW * spans.len() as f64 + 10.0;
    let months = month_starts(first, last);
    Some(html! {
        svg class="roadmap" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox={ "0 0 " (WIDTH) " " (height) } width="100%"
            aria-label="Roadmap: items by start and due date" {
            @for m in &months {
                line x1=(x(*m)) x2=(x(*m)) y1=(TOP - 6.0) y2=(height) class="grid" {}
                text x=(x(*m) + 3.0) y=(TOP - 10.0) class="tick" { (m.format("%b %Y")) }
            }
            @for (i, s) in spans.iter().enumerate() {
                @let y = TOP + ROW * i as f64;
                @let e = s.entry;
                text x="4" y=(y + BAR) class="label" {
                    (truncated(&e.title, 40))
                }
                @if s.point {
                    rect class="bar point" x=(x(s.end) - 5.0) y=(y + 2.0) width="10" height="10"
                        transform={ "rotate(45 " (x(s.end)) " " (y + 7.0) ")" }
                        fill=(colour(e.health)) {
                        title { (e.title) " — due " (s.end) }
                    }
                } @else {
                    rect class={ "bar" @if e.overdue { " overdue" } } x=(x(s.start)) y=(y + 2.0)
                        width=((x(s.end) - x(s.start)).max(3.0)) height=(BAR) rx="3"
                        fill=(colour(e.health)) {
                        title { (e.title) " — " (s.start) " to " (s.end) }
                    }
                    @for (p, (from, to)) in phase_spans(e, s.start) {
                        rect class={ "phase " (phase_class(p.state)) @if p.late { " late" } }
                            x=(x(from)) y=(y + 2.0) width=((x(to) - x(from)).max(2.0)) height=(BAR) {
                            title { (p.name) @if p.late { " — late" } }
                        }
                    }
                }
                @if e.overdue {
                    text x=(x(s.end) + 6.0) y=(y + BAR) class="overdue-mark" { "overdue" }
                }
            }
            line x1=(x(today)) x2=(x(today)) y1=(TOP - 6.0) y2=(height) class="today" {}
            text x=(x(today) + 3.0) y=(height - 2.0) class="today-label" { "today" }
        }
    })
}

fn phase_class(state: PhaseState) -> &'static str {
    match state {
        PhaseState::Done => "done",
        PhaseState::Current => "current",
        PhaseState::Next => "next",
    }
}

/// Each phase of `e` with the dates it covers: from its start (or the previous phase's
/// end) to its due date.
fn phase_spans(
    e: &Entry,
    item_start: NaiveDate,
) -> Vec<(&crate::model::phases::Phase, (NaiveDate, NaiveDate))> {
    let mut from = item_start;
    let mut out = Vec::new();
    for p in &e.phases {
        let Some(due) = p.due_date else { continue };
        let start = p.start_date.unwrap_or(from);
        out.push((p, (start.min(due), due)));
        from = due;
    }
    out
}

fn month_starts(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut m = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).unwrap_or(first);
    while m <= last {
        if m >= first {
            out.push(m);
        }
        m = if m.month() == 12 {
            NaiveDate::from_ymd_opt(m.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(m.year(), m.month() + 1, 1)
        }
        .unwrap_or(last + Duration::days(1));
    }
    out
}

fn truncated(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// The program's health over its last roll-ups, oldest first, as stacked bars.
pub fn trend(summaries: &[(String, Summary)]) -> Option<Markup> {
    if summaries.is_empty() {
        return None;
    }
    let most = summaries
        .iter()
        .map(|(_, s)| s.total.max(1))
        .max()
        .unwrap_or(1) as f64;
    let bar_w = 36.0;
    let gap = 14.0;
    let h = 90.0;
    let width = summaries.len() as f64 * (bar_w + gap) + gap;
    Some(html! {
        svg class="trend" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox={ "0 0 " (width) " " (h + 30.0) } width=(width)
            aria-label="Health of the program's items over its last roll-ups" {
            @for (i, (period, s)) in summaries.iter().enumerate() {
                @let x = gap + i as f64 * (bar_w + gap);
                @for (level, n, top, height) in stack(s, most, h) {
                    rect x=(x) y=(top) width=(bar_w) height=(height) fill=(colour(level)) {
                        title { (period) ": " (n) " " (level.label()) }
                    }
                }
                text x=(x + bar_w / 2.0) y=(h + 16.0) class="tick" text-anchor="middle" {
                    (period.split_once("-W").map(|(_, w)| format!("W{w}")).unwrap_or_default())
                }
            }
        }
    })
}

/// The segments of one stacked bar, bottom up: (level, count, top, height).
fn stack(s: &Summary, most: f64, h: f64) -> Vec<(Health, usize, f64, f64)> {
    let mut bottom = h;
    let mut out = Vec::new();
    for level in [
        Health::OnTrack,
        Health::Unknown,
        Health::NeedsAttention,
        Health::AtRisk,
    ] {
        let n = s.count(level);
        if n == 0 {
            continue;
        }
        let height = n as f64 / most * (h - 10.0);
        out.push((level, n, bottom - height, height));
        bottom -= height;
    }
    out
}
