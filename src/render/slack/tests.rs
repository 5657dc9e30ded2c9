use std::collections::{HashMap, HashSet};

use chrono::Duration;
use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::model::epic::{Epic, HealthStatus};
use crate::model::rollup;
use crate::model::rollup::tests::{build_with as build, now};

const URL: &str = "https://gitlab.example.com";

fn with_section(e: Epic, body: &str) -> Epic {
    e.with_description(
        &format!("<!-- Status Start -->\n{body}\n<!-- Status End -->"),
        now() - Duration::days(1),
    )
}

fn blocks(m: &SlackMessage) -> Vec<Value> {
    m.blocks
        .iter()
        .map(|b| serde_json::to_value(b).unwrap())
        .collect()
}

/// Every text of every block with its type.
fn texts(m: &SlackMessage) -> Vec<(String, String)> {
    blocks(m)
        .into_iter()
        .flat_map(|b| {
            let kind = b["type"].as_str().unwrap().to_owned();
            let mut out = Vec::new();
            if let Some(t) = b["text"]["text"].as_str() {
                out.push((kind.clone(), t.to_owned()));
            }
            for el in b["elements"].as_array().into_iter().flatten() {
                out.push((
                    kind.clone(),
                    el["text"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            out
        })
        .collect()
}

/// Asserts every hard limit and returns how often each epic URL starts an entry.
fn check_limits(plan: &SlackPlan) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for (i, m) in plan.messages.iter().enumerate() {
        assert!(
            m.blocks.len() <= MAX_BLOCKS,
            "message {i}: {} blocks",
            m.blocks.len()
        );
        assert!(!m.text.is_empty() && m.text.chars().count() <= MAX_TEXT_CHARS);
        let mut total = 0;
        for (kind, text) in texts(m) {
            let n = text.chars().count();
            total += n;
            assert!(n > 0, "message {i}: empty {kind} text");
            match kind.as_str() {
                "header" => assert!(n <= MAX_HEADER_CHARS, "header of {n} chars"),
                _ => assert!(n <= MAX_SECTION_CHARS, "{kind} of {n} chars"),
            }
            if kind == "section"
                && let Some(rest) = text.strip_prefix("*<")
            {
                let url = rest.split(['|', '>']).next().unwrap().to_owned();
                *seen.entry(url).or_insert(0) += 1;
            }
        }
        assert!(
            total <= MAX_MESSAGE_BLOCK_CHARS,
            "message {i}: {total} chars of block text"
        );
    }
    seen
}

fn every_epic_once(epics: &[Epic], plan: &SlackPlan) {
    let seen = check_limits(plan);
    for e in epics {
        assert_eq!(
            seen.get(&e.web_url),
            Some(&1),
            "{} appears {:?} times",
            e.title,
            seen.get(&e.web_url)
        );
    }
    assert_eq!(seen.len(), epics.len());
}

#[test]
fn small_rollup_is_one_message_with_header_summary_and_entries() {
    let epics = [with_section(
        Epic::new(URL, "it", 1, "CRM cut-over").with_health(HealthStatus::AtRisk),
        "Blocked on vendor.",
    )];
    let plan = render(&build(&epics, None));
    assert_eq!(plan.messages.len(), 1);
    let t = texts(&plan.messages[0]);
    assert_eq!(
        t[0],
        ("header".into(), "CRM migration · weekly roll-up".into())
    );
    assert!(
        t[1].1
            .starts_with("2026-W48 · Monday 23 November 2026 · 1 epic"),
        "{}",
        t[1].1
    );
    assert!(t[2].1.contains("🔴 1 at risk"), "{}", t[2].1);
    assert!(t[3].1.contains("Blocked on vendor."));
    assert!(
        plan.messages[0]
            .text
            .starts_with("CRM migration roll-up 2026-W48: 1 at risk")
    );
}

#[test]
fn hundred_and_twenty_epics_continue_in_replies_each_epic_once() {
    let epics: Vec<Epic> = (1..=120)
        .map(|i| {
            with_section(
                Epic::new(URL, "it", i, &format!("Epic {i}")),
                &"Progress this week. ".repeat(20),
            )
        })
        .collect();
    let plan = render(&build(&epics, None));
    assert!(plan.messages.len() > 1);
    every_epic_once(&epics, &plan);
    let reply = texts(&plan.messages[1]);
    assert_eq!(reply[0].0, "context");
    assert!(
        reply[0]
            .1
            .contains(&format!("continued (2/{})", plan.messages.len())),
        "{}",
        reply[0].1
    );
}

#[test]
fn a_resumed_plan_posts_what_the_posted_parts_did_not_carry_however_epics_changed() {
    let epic = |i: u32| {
        with_section(
            Epic::new(URL, "it", i, &format!("Epic {i:03}")),
            &"Progress this week. ".repeat(20),
        )
    };
    let before: Vec<Epic> = (1..=120).map(epic).collect();
    let first = render(&build(&before, None));
    assert_eq!(first.carries.len(), first.messages.len());
    let posted: HashSet<Piece> = first.carries[..2].iter().flatten().cloned().collect();
    let posted_urls: HashSet<String> = check_limits(&SlackPlan {
        messages: first.messages[..2].to_vec(),
        ..Default::default()
    })
    .into_keys()
    .collect();

    // Before the resume, two posted epics close and five new ones sort first.
    let mut after: Vec<Epic> = before[2..].to_vec();
    after.extend((121..=125).map(|i| epic(i).with_labels(["it-priority::p0".to_owned()])));
    let rest = render_rest(&build(&after, None), &posted, 2);

    assert_eq!(rest.first_part, 2);
    let seen = check_limits(&rest);
    for e in &after {
        let expected = usize::from(!posted_urls.contains(&e.web_url));
        assert_eq!(
            seen.get(&e.web_url).copied().unwrap_or(0),
            expected,
            "{}",
            e.title
        );
    }
    let total = 2 + rest.messages.len();
    for (i, m) in rest.messages.iter().enumerate() {
        let context = &texts(m)[0];
        assert_eq!(context.0, "context");
        assert!(
            context
                .1
                .contains(&format!("continued ({}/{total})", i + 3)),
            "{}",
            context.1
        );
    }
    assert!(rest.carries.iter().flatten().all(|c| !posted.contains(c)));
}

#[test]
fn huge_section_is_cut_with_a_link_to_the_epic() {
    let long: String = (0..400)
        .map(|i| format!("Paragraph {i} with some words.\n\n"))
        .collect();
    assert!(long.len() > 10_000);
    let epic = with_section(Epic::new(URL, "it", 7, "Long one"), &long);
    let plan = render(&build(std::slice::from_ref(&epic), None));
    check_limits(&plan);
    let section = &texts(&plan.messages[0])[3].1;
    assert!(
        section.ends_with(&format!("… <{}|read more in GitLab>", epic.web_url)),
        "{section}"
    );
    assert!(section.contains("Paragraph 0 with some words."));
}

#[test]
fn mentions_in_gitlab_content_are_escaped() {
    let epic = with_section(
        Epic::new(URL, "it", 1, "<!here> title"),
        "Hey <!channel> and <@U123>",
    );
    let plan = render(&build(&[epic], None));
    let all: String = texts(&plan.messages[0])
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert!(!all.contains("<!channel>") && !all.contains("<@U123>") && !all.contains("<!here>"));
    assert!(all.contains("&lt;!channel&gt;"));
}

#[test]
fn entry_shows_priority_health_status_due_progress_and_assignees() {
    let epic = with_section(
        Epic::new(URL, "it", 1, "Data lake")
            .with_labels(["it-priority::p1", "it-status::build"])
            .with_health(HealthStatus::NeedsAttention)
            .with_due_date(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap())
            .with_progress(5, 7)
            .with_assignee("jdoe", "Jane Doe", None),
        "ok",
    );
    let plan = render(&build(&[epic], None));
    let entry = &texts(&plan.messages[0])[3].1;
    assert!(
        entry.contains("*P1* · 🟠 needs attention · `build` · due 20 Nov 2026 ⏰ *overdue* · 5/12 issues closed · 👤 Jane Doe"),
        "{entry}"
    );
}

#[test]
fn missing_section_is_shown_as_no_status_update() {
    let plan = render(&build(&[Epic::new(URL, "it", 1, "Silent")], None));
    assert!(
        texts(&plan.messages[0])[3]
            .1
            .contains("No status update: no status section")
    );
}

#[test]
fn changes_and_departed_epics_are_shown() {
    let a = with_section(
        Epic::new(URL, "it", 1, "A").with_labels(["it-status::build"]),
        "x",
    );
    let gone = Epic::new(URL, "it", 2, "Gone");
    let previous = rollup::snapshots(&build(&[a.clone(), gone], None));
    let a2 = with_section(
        Epic::new(URL, "it", 1, "A").with_labels(["it-status::deployed-0"]),
        "y",
    );
    let plan = render(&build(&[a2], Some(&previous)));
    let all: Vec<String> = texts(&plan.messages[0])
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert!(
        all.iter().any(|t| t.contains("status build → deployed-0")),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|t| t.contains("Left since the last roll-up") && t.contains("|Gone>")),
        "{all:?}"
    );
}

#[test]
fn empty_program_says_so() {
    let plan = render(&build(&[], None));
    assert!(
        texts(&plan.messages[0])
            .iter()
            .any(|(_, t)| t.contains("No open epics"))
    );
}

#[test]
fn very_long_title_fits_the_header_limit() {
    let mut r = build(&[], None);
    r.title = "x".repeat(500);
    check_limits(&render(&r));
}

fn arb_epic() -> impl Strategy<Value = (String, String, u8, usize)> {
    (".{0,120}", "(.{0,60}\n{0,2}){0,40}", 0u8..4, 0usize..12_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn every_message_keeps_every_limit_and_every_epic_appears_once(
        specs in prop::collection::vec(arb_epic(), 0..260),
    ) {
        let epics: Vec<Epic> = specs
            .iter()
            .enumerate()
            .map(|(i, (title, body, health, pad))| {
                let body = format!("{body}{}", "word ".repeat(*pad / 5));
                let e = Epic::new(URL, "it", i as u32 + 1, title);
                let e = match health {
                    0 => e.with_health(HealthStatus::AtRisk),
                    1 => e.with_health(HealthStatus::OnTrack),
                    _ => e,
                };
                if *health == 3 { e } else { with_section(e, &body) }
            })
            .collect();
        let plan = render(&build(&epics, None));
        every_epic_once(&epics, &plan);
    }
}
