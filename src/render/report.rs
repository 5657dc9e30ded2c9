//! The Weekly Status Report: one self-contained HTML page per program and period (CSS and
//! SVG inline, no script, nothing loaded from elsewhere), for the weekly status meeting,
//! on screen or printed. GitLab content is untrusted: titles are escaped by the template
//! engine, sections go through a markdown parser and an allow-list sanitizer.

use std::collections::HashSet;

use chrono::NaiveDate;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::roadmap::{colour, roadmap, trend};
use crate::model::extract::{Health, Section};
use crate::model::rollup::{Change, Entry, RollUp, Summary};

/// The page's stylesheet: screen and print (A4 and Letter, entries never cut).
const CSS: &str = r#"
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; }
* { box-sizing: border-box; }
body { font: 15px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 1000px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; margin-top: 2rem; }
.meta, .muted { color: var(--muted); }
.counts { display: flex; gap: .6rem; flex-wrap: wrap; margin: .8rem 0; }
.count { border: 1px solid var(--line); border-radius: 6px; padding: .3rem .7rem; }
.dot { display: inline-block; width: .7rem; height: .7rem; border-radius: 50%; margin-right: .3rem; }
svg .label, svg .tick, svg .today-label, svg .overdue-mark { font-size: 11px; fill: var(--ink); }
svg .tick { fill: var(--muted); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .today { stroke: #cf222e; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg .today-label, svg .overdue-mark { fill: #cf222e; }
svg .bar.overdue { stroke: #cf222e; stroke-width: 2; }
svg .phase { fill: #ffffff; fill-opacity: .35; stroke: #ffffff; stroke-width: 1; }
svg .phase.done { fill-opacity: .0; }
svg .phase.current { fill: #ffffff; fill-opacity: .0; stroke: var(--ink); stroke-width: 1.5; }
svg .phase.late { stroke: #cf222e; stroke-width: 2; }
.entry { border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; margin: .8rem 0;
         break-inside: avoid; page-break-inside: avoid; }
.entry h3 { margin: 0 0 .3rem; font-size: 1.05rem; }
.entry .facts { color: var(--muted); font-size: .9rem; }
.entry .signals { margin: .3rem 0; }
.entry .disagree { color: #cf222e; font-weight: 600; }
.section { margin-top: .5rem; overflow-wrap: anywhere; }
.section table { border-collapse: collapse; }
.section td, .section th { border: 1px solid var(--line); padding: .2rem .5rem; }
.section pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; white-space: pre-wrap; }
a { color: #0969da; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  svg { break-inside: avoid; page-break-inside: avoid; }
}
"#;

/// The report of `rollup`, with the program's summaries of its last roll-ups (oldest
/// first, labelled by period) for the trend.
pub fn render(rollup: &RollUp, history: &[(String, Summary)]) -> String {
    let today = rollup.date;
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Nothing but this page's own inline style may load or run.
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'; img-src 'none'";
                title { (rollup.title) " · Weekly Status Report " (rollup.period) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (rollup.title) " · Weekly Status Report" }
                    p.meta {
                        (rollup.period) " · " (today.format("%A %-d %B %Y")) " · "
                        (rollup.summary.total) " " (rollup.item_noun) "s"
                    }
                    (counts(&rollup.summary))
                    @for notice in &rollup.notices {
                        p.disagree { "⚠ " (notice.text()) }
                    }
                }
                @if let Some(svg) = roadmap(&rollup.entries, today) {
                    h2 { "Roadmap" }
                    (svg)
                    p.muted { "Bars run from start to due date, coloured by health; diamonds mark items with a due date only; outlined segments are phases." }
                }
                @if let Some(svg) = trend(history) {
                    h2 { "Health over the last roll-ups" }
                    (svg)
                }
                h2 { "Changes since the last roll-up" }
                (changes(rollup))
                h2 { "Status by " (rollup.item_noun) }
                @for e in &rollup.entries {
                    (entry(e, &rollup.gitlab_url))
                }
            }
        }
    };
    page.into_string()
}

fn counts(s: &Summary) -> Markup {
    html! {
        div.counts {
            @for h in Health::ALL {
                span.count { span.dot style={ "background:" (colour(h)) } {} (s.count(h)) " " (h.label()) }
            }
            span.count { (s.overdue) " overdue" }
            span.count { (s.stale) " stale" }
            span.count { (s.no_update) " without update" }
            span.count { (s.disagree) " signals disagree" }
        }
    }
}

fn changes(r: &RollUp) -> Markup {
    let changed: Vec<&Entry> = r.entries.iter().filter(|e| !e.changes.is_empty()).collect();
    html! {
        @if changed.is_empty() && r.departed.is_empty() {
            p.muted { "Nothing changed." }
        } @else {
            ul {
                @for e in &changed {
                    li { a href=(safe_url(&e.web_url)) { (e.title) } ": " (change_words(&e.changes)) }
                }
                @for d in &r.departed {
                    li { a href=(safe_url(&d.web_url)) { (d.title) } ": left the roll-up (closed or label removed)" }
                }
            }
        }
    }
}

fn change_words(changes: &[Change]) -> String {
    let words: Vec<String> = changes
        .iter()
        .map(|c| match c {
            Change::New => "new".to_owned(),
            Change::Health { from, to } => format!("health {} → {}", from.label(), to.label()),
            Change::Status { from, to } => format!(
                "status {} → {}",
                from.as_deref().unwrap_or("none"),
                to.as_deref().unwrap_or("none")
            ),
            Change::Priority { from, to } => format!("priority {from} → {to}"),
            Change::DueDate { from, to } => format!("due date {} → {}", date(*from), date(*to)),
        })
        .collect();
    words.join(" · ")
}

fn date(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "none".to_owned(), |d| d.format("%-d %b %Y").to_string())
}

fn entry(e: &Entry, gitlab_url: &str) -> Markup {
    let phrases = e.signals.phrases();
    html! {
        article.entry {
            h3 {
                span.dot style={ "background:" (colour(e.health)) } {}
                a href=(safe_url(&e.web_url)) { (e.title) }
            }
            div.facts {
                (e.priority) " · " (e.health.label())
                @if let Some(status) = &e.status { " · " (status) }
                @if e.start_date.is_some() || e.due_date.is_some() {
                    " · " (date(e.start_date)) " → " (date(e.due_date))
                }
                @if e.overdue { " · overdue" }
                @if e.progress.total() > 0 {
                    " · " (e.progress.closed) "/" (e.progress.total()) " " (e.kind.children()) " closed"
                }
                @if !e.assignees.is_empty() {
                    " · " (e.assignees.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "))
                }
            }
            @if e.disagree {
                p.signals.disagree { "Signals disagree with “" (e.health.label()) "”: " (phrases.join(" · ")) }
            } @else if !phrases.is_empty() {
                p.signals.muted { "Signals: " (phrases.join(" · ")) }
            }
            div.section {
                @match &e.section {
                    Section::Text(md) => (PreEscaped(section_html(md, gitlab_url))),
                    other => p.muted { "No status update: " (other.missing_reason().unwrap_or_default()) }
                }
            }
        }
    }
}

/// A link target, or `#` for anything but http(s) and mailto.
fn safe_url(url: &str) -> &str {
    let lower = url.trim_start().to_ascii_lowercase();
    if ["https://", "http://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
    {
        url
    } else {
        "#"
    }
}

/// A status section's markdown as HTML that can neither run nor load anything: parsed
/// with pulldown-cmark, then cleaned by ammonia's allow-list (no scripts, no event
/// handlers, links only to http(s) and mailto, no images, which would load from
/// elsewhere).
pub fn section_html(markdown: &str, gitlab_url: &str) -> String {
    let options = pulldown_cmark::Options::ENABLE_TABLES
        | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
        | pulldown_cmark::Options::ENABLE_TASKLISTS;
    let mut raw = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut raw, pulldown_cmark::Parser::new_ext(markdown, options));
    let mut cleaner = ammonia::Builder::default();
    cleaner
        .rm_tags(&HashSet::from(["img"]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"));
    if let Ok(base) = url::Url::parse(&format!("{}/", gitlab_url.trim_end_matches('/'))) {
        cleaner.url_relative(ammonia::UrlRelative::RewriteWithBase(base));
    } else {
        cleaner.url_relative(ammonia::UrlRelative::Deny);
    }
    cleaner.clean(&raw).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_sections_come_out_inert() {
        let hostile = "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
                       [click](javascript:alert(3)) [data](data:text/html,<b>x</b>) \
                       <a href=\"JaVaScRiPt:alert(4)\" onclick=\"alert(5)\">a</a> <!channel> \
                       ![remote](https://evil.example.com/pixel.png) <iframe src=https://x></iframe>\n\n\
                       <div style=\"background:url(https://evil.example.com/x)\">styled</div>";
        let html = section_html(hostile, "https://gitlab.example.com").to_ascii_lowercase();
        for bad in [
            "<script",
            "onerror",
            "onclick",
            "javascript:",
            "data:",
            "<img",
            "<iframe",
            "evil.example.com/pixel",
            "style=",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        // Slack's mention syntax is a bogus HTML comment to a browser: dropped.
        assert!(!html.contains("<!channel"), "{html}");
        assert!(
            html.contains(">click</a>") && html.contains(">styled</div>"),
            "{html}"
        );
    }

    #[test]
    fn relative_links_point_into_gitlab_and_markdown_survives() {
        let html = section_html(
            "**Done**: see [the plan](/it/pmo/-/issues/3)\n\n| a | b |\n|---|---|\n| 1 | 2 |",
            "https://gitlab.example.com",
        );
        assert!(html.contains("<strong>Done</strong>"), "{html}");
        assert!(
            html.contains("href=\"https://gitlab.example.com/it/pmo/-/issues/3\""),
            "{html}"
        );
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn a_long_section_is_rendered_whole_and_titles_are_escaped() {
        let mut r = crate::demo::rollup();
        r.entries[0].title = "<b onmouseover=alert(1)>CPQ</b>".into();
        r.entries[0].section = Section::Text("x".repeat(10_000));
        let page = render(&r, &[]);
        assert!(page.contains("&lt;b onmouseover=alert(1)&gt;CPQ&lt;/b&gt;"));
        assert!(!page.contains("<b onmouseover"));
        assert!(page.contains(&"x".repeat(10_000)));
        assert!(!page.to_ascii_lowercase().contains("<script"));
    }
}
