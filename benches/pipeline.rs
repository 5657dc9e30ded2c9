//! Micro benchmarks of the pure stages for 100 / 1,000 / 5,000 epics:
//! section extraction, markdown to mrkdwn, model building and Block Kit splitting.
//! Run with `cargo bench --bench pipeline`.

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rolly::{
    Context, Epic, HealthStatus, Period, RefContext, RollUp, Rules, build_model, extract,
    render_slack, to_mrkdwn,
};

// The end-to-end benchmark's descriptions, for the "long sections" measurement.
#[path = "common/description.rs"]
mod description;

const URL: &str = "https://gitlab.example.com";
const SIZES: [usize; 3] = [100, 1_000, 5_000];

/// `n` epics with short status sections (about 200 characters: a heading, two tasks,
/// a quote and a small table).
fn epics(n: usize) -> Vec<Epic> {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let body = format!(
                "Charter in the doc.\n\n<!-- Status Start -->\n### Week {i}\n- [x] Migrated **{i}** tables, see &{i}\n\
                 - [ ] Reports for @owner{i}\n\n> Risk: storage quota\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\
                 <!-- Status End -->\nFooter"
            );
            Epic::new(URL, "it/pmo", i as u32 + 1, &format!("Epic {i}"))
                .with_labels([format!("it-priority::p{}", i % 5), "it-status::build".to_owned()])
                .with_health(if i % 3 == 0 { HealthStatus::AtRisk } else { HealthStatus::OnTrack })
                .with_progress(i as u32 % 7, 3)
                .with_assignee("jdoe", "Jane Doe", None)
                .with_description(&body, now - Duration::days(i as i64 % 10))
        })
        .collect()
}

/// `n` epics with the end-to-end benchmark's long sections (about 1 KB each).
fn long_epics(n: usize) -> Vec<Epic> {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
    epics(n)
        .into_iter()
        .enumerate()
        .map(|(i, e)| e.with_description(&description::description(i), now - Duration::days(2)))
        .collect()
}

fn build(epics: &[Epic], rules: &Rules) -> RollUp {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
    let ctx = Context {
        program: "bench",
        title: "Bench program",
        period: Period::containing(now, chrono_tz::UTC),
        timezone: chrono_tz::UTC,
        now,
        stale_after_days: 7,
        gitlab_url: URL,
        rules,
        previous: None,
        kinds: &[],
        notices: &[],
        history: None,
    };
    build_model(epics, &ctx)
}

fn stages(c: &mut Criterion) {
    let rules = Rules::default();
    for n in SIZES {
        let input = epics(n);
        let rollup = build(&input, &rules);
        let mut g = c.benchmark_group("stages");
        g.bench_with_input(BenchmarkId::new("extract", n), &input, |b, e| {
            b.iter(|| {
                e.iter()
                    .map(|e| extract(black_box(e), &rules))
                    .collect::<Vec<_>>()
            })
        });
        g.bench_with_input(BenchmarkId::new("mrkdwn", n), &input, |b, e| {
            let refs = RefContext {
                gitlab_url: URL,
                group_path: Some("it/pmo"),
                project_path: None,
            };
            b.iter(|| {
                e.iter()
                    .map(|e| {
                        to_mrkdwn(black_box(e.description.as_deref().unwrap_or("")), &refs).len()
                    })
                    .sum::<usize>()
            })
        });
        g.bench_with_input(BenchmarkId::new("model", n), &input, |b, e| {
            b.iter(|| build(black_box(e), &rules))
        });
        g.bench_with_input(BenchmarkId::new("block_kit", n), &rollup, |b, r| {
            b.iter(|| render_slack(black_box(r)))
        });
        g.bench_with_input(
            BenchmarkId::new("extract_model_render", n),
            &input,
            |b, e| b.iter(|| render_slack(&build(black_box(e), &rules))),
        );
        g.bench_with_input(
            BenchmarkId::new("extract_model_render_long_sections", n),
            &long_epics(n),
            |b, e| b.iter(|| render_slack(&build(black_box(e), &rules))),
        );
        g.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
