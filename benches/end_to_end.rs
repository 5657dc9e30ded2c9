//! End-to-end benchmark: the real `rolly` binary delivers roll-ups from a synthetic
//! GitLab (P epics with child issues, every answer delayed by a configurable latency)
//! to a local Slack, and an idle daemon is weighed.
//!
//! For each scenario it reports GitLab requests, Slack requests, the time until the
//! first post (the roll-up is fetched and built), wall time and peak memory, and the
//! times from rolly's first GitLab request to its first and last post (the run itself,
//! without starting a process, as in the daemon), beside their floors:
//! - GitLab requests: ceil(epics / 100) per program, since a page holds 100 epics;
//! - wall time: a group's pages, read one after another on one cursor, times the
//!   latency; programs run side by side, [`MAX_CONCURRENT_PROGRAMS`] at a time.
//!
//! Each run starts, by default, from a state file holding last week's delivered roll-up
//! of the same epics (`--state weekly`), as every Monday's run but the first: the
//! roll-up is compared with it, and its snapshots are read and replaced. `--state
//! fresh` starts from a new file instead, as the very first run.
//!
//! The stand-ins take time of their own: a page is answered a little after the latency,
//! and a post takes a loopback round trip. Both are measured with a bare HTTP client
//! and give a second floor for the run to the last post, that of a client that reads
//! the pages one after another and does nothing but wait for them: pages times the
//! page's answer time, plus a program's posts (which follow one another in a thread)
//! times the post's.
//!
//! ```text
//! cargo bench --bench end_to_end -- --latency-ms 20 --sizes 100,1000,5000 --repeats 5
//! ```
//!
//! Prints a Markdown table (the one in BENCHMARKS.md). Linux only: peak memory is
//! `ru_maxrss` from `wait4`, taken by a small helper process (this binary, started
//! with `measure`) because a child started straight from this large process would
//! inherit its high-water mark; idle memory is read from `/proc`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use rolly::MAX_CONCURRENT_PROGRAMS;
use serde_json::{Value, json};

// The integration tests' GitLab stand-in, for its epics and their JSON.
#[allow(dead_code)]
#[path = "../tests/it/helpers/fake_gitlab.rs"]
mod fake_gitlab;

use fake_gitlab::{FakeEpic, epic, epic_json, keyset_page};

// The descriptions both benchmarks use.
#[path = "common/description.rs"]
mod description;

use description::{description, description_of_week};

/// GitLab's page size, which rolly asks for.
const PAGE: usize = 100;
/// First argument that makes this binary the measuring helper.
const MEASURE: &str = "measure";
/// The bot token the local Slack is given (it checks none).
const SLACK_TOKEN: &str = "xoxb-bench";

#[derive(Debug, Parser)]
#[command(about = "End-to-end benchmark of rolly against local GitLab and Slack stand-ins")]
struct Args {
    /// Latency added to every GitLab answer, in milliseconds.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Portfolio sizes (epics), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    sizes: Vec<usize>,
    /// Runs per scenario; the median wall time and the largest peak memory are reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// The largest size is also measured split over this many programs (groups).
    #[arg(long, default_value_t = 10)]
    programs: usize,
    /// How long the idle daemon runs before it is weighed, in seconds.
    #[arg(long, default_value_t = 3)]
    idle_secs: u64,
    /// The state file each run starts from: `weekly` holds last week's delivered
    /// roll-up of the same epics, as on every Monday but the first (sections and health
    /// have changed since, so the roll-up compares); `fresh` is a new file, as on the
    /// first run.
    #[arg(long, value_enum, default_value_t = StateFile::Weekly)]
    state: StateFile,
    /// Instead of measuring, serve a GitLab of this many epics and a Slack until
    /// interrupted, and print a `rolly once` command line that uses them: for tracing
    /// and profiling a run by hand.
    #[arg(long, value_name = "EPICS")]
    serve: Option<usize>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// What the state file holds when a run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StateFile {
    Weekly,
    Fresh,
}

/// Which week's epics a synthetic GitLab serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Week {
    Last,
    This,
}

/// One roll-up run to measure: `epics` spread evenly over `programs` groups.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    epics: usize,
    programs: usize,
}

impl Scenario {
    fn per_program(self) -> usize {
        self.epics.div_ceil(self.programs)
    }

    /// Pages one program reads; a group with no epics still costs one request.
    fn pages_per_program(self) -> usize {
        self.per_program().div_ceil(PAGE).max(1)
    }

    fn gitlab_floor(self) -> usize {
        self.programs * self.pages_per_program()
    }

    /// Until the last program has read its last page.
    fn wall_floor(self, latency: Duration) -> Duration {
        let waves = self.programs.div_ceil(MAX_CONCURRENT_PROGRAMS);
        latency * (waves * self.pages_per_program()) as u32
    }

    /// Until the first program has read its last page.
    fn first_post_floor(self, latency: Duration) -> Duration {
        latency * self.pages_per_program() as u32
    }

    /// Until the last program has posted its last message, for a client that reads
    /// the pages one after another and only waits for the stand-ins; `posts` is how
    /// many messages all programs posted.
    fn stand_ins_floor(self, stand_ins: StandIns, posts: usize) -> Duration {
        let waves = self.programs.div_ceil(MAX_CONCURRENT_PROGRAMS) as u32;
        let per_program = stand_ins.page * self.pages_per_program() as u32
            + stand_ins.post * posts.div_ceil(self.programs) as u32;
        per_program * waves
    }
}

/// How long the stand-ins take to answer, as a bare client sees it.
#[derive(Debug, Clone, Copy)]
struct StandIns {
    /// A full page of epics, request sent to body read.
    page: Duration,
    /// A roll-up message posted.
    post: Duration,
}

/// What one run of `rolly once` cost.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// From start until the first message reached Slack: fetched, built, claimed.
    first_post: Duration,
    wall: Duration,
    /// From rolly's first GitLab request until its first post: the run without the
    /// process starting (which a daemon does once).
    run_first_post: Duration,
    /// From rolly's first GitLab request until its last post.
    run_last_post: Duration,
    gitlab_requests: usize,
    slack_requests: usize,
    slack_posts: usize,
    /// User plus system CPU time of rolly: what the run costs whatever the latency.
    cpu: Duration,
    peak_rss_kib: u64,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(MEASURE) {
        return measure_helper(&argv[2..]);
    }
    let args = Args::parse();
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(run(args));
    ExitCode::SUCCESS
}

async fn run(args: Args) {
    let latency = Duration::from_millis(args.latency_ms);
    if let Some(epics) = args.serve {
        return serve(epics, latency, args.state).await;
    }
    let mut scenarios: Vec<Scenario> = args
        .sizes
        .iter()
        .map(|&epics| Scenario { epics, programs: 1 })
        .collect();
    if let Some(&largest) = args.sizes.iter().max()
        && args.programs > 1
    {
        scenarios.push(Scenario {
            epics: largest,
            programs: args.programs,
        });
    }

    println!("{}", machine());
    println!(
        "GitLab latency {} ms per request; {} run(s) per row: median times, largest peak RSS; {}.",
        args.latency_ms,
        args.repeats,
        match args.state {
            StateFile::Weekly => "each run starts from last week's state",
            StateFile::Fresh => "each run starts from a new state file",
        }
    );
    let stand_ins = StandIns {
        page: page_answer_time(latency).await,
        post: post_answer_time().await,
    };
    println!(
        "The synthetic GitLab answers a page of {PAGE} epics in {:.1} ms, the local Slack a post in {:.2} ms (medians, as a bare client sees them).\n",
        stand_ins.page.as_secs_f64() * 1e3,
        stand_ins.post.as_secs_f64() * 1e3,
    );
    println!(
        "| epics | programs | pages per program | GitLab requests (floor, ×) | first post ms (floor, ×) | wall time ms (floor, ×) | run: first post ms (floor, ×) | run: last post ms (floor, ×) | run: last post, stand-ins' floor ms (×) | rolly CPU ms | Slack requests (posts) | peak RSS MiB |"
    );
    println!("|---:|---:|---|---|---|---|---|---|---|---:|---|---:|");
    for scenario in scenarios {
        let mut runs = Vec::new();
        for _ in 0..args.repeats.max(1) {
            runs.push(measure(scenario, latency, args.state).await);
        }
        report(scenario, latency, stand_ins, &runs);
    }
    let idle = idle_daemon(Duration::from_secs(args.idle_secs)).await;
    println!(
        "\nIdle daemon (one program, HTTP endpoint on, after {} s): RSS {:.1} MiB, peak {:.1} MiB.",
        args.idle_secs,
        mib(idle.0),
        mib(idle.1)
    );
}

fn report(s: Scenario, latency: Duration, stand_ins: StandIns, runs: &[Run]) {
    let median = |of: fn(&Run) -> Duration| {
        let mut all: Vec<Duration> = runs.iter().map(of).collect();
        all.sort();
        all[all.len() / 2]
    };
    let first_post = median(|r| r.first_post);
    let wall = median(|r| r.wall);
    let run_first_post = median(|r| r.run_first_post);
    let run_last_post = median(|r| r.run_last_post);
    let cpu = median(|r| r.cpu);
    let last = runs[runs.len() - 1];
    let peak = runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
    let gitlab_floor = s.gitlab_floor();
    let stand_ins_floor = s.stand_ins_floor(stand_ins, last.slack_posts);
    println!(
        "| {} | {} | {} | {} ({}, {:.2}) | {} | {} | {} | {} | {:.0} ({}) | {:.0} | {} ({}) | {:.1} |",
        s.epics,
        s.programs,
        s.pages_per_program(),
        last.gitlab_requests,
        gitlab_floor,
        last.gitlab_requests as f64 / gitlab_floor as f64,
        against(first_post, s.first_post_floor(latency)),
        against(wall, s.wall_floor(latency)),
        against(run_first_post, s.first_post_floor(latency)),
        against(run_last_post, s.wall_floor(latency)),
        stand_ins_floor.as_secs_f64() * 1e3,
        ratio(run_last_post, stand_ins_floor),
        cpu.as_secs_f64() * 1e3,
        last.slack_requests,
        last.slack_posts,
        mib(peak),
    );
}

/// `measured (floor, measured/floor)` in milliseconds.
fn against(measured: Duration, floor: Duration) -> String {
    format!(
        "{:.0} ({:.0}, {})",
        measured.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
        ratio(measured, floor)
    )
}

fn ratio(measured: Duration, floor: Duration) -> String {
    if floor.is_zero() {
        "-".to_owned()
    } else {
        format!("{:.2}", measured.as_secs_f64() / floor.as_secs_f64())
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One `rolly once` against fresh stand-ins, from the state file `state` says.
async fn measure(s: Scenario, latency: Duration, state: StateFile) -> Run {
    let groups = |week| -> Vec<(String, Vec<FakeEpic>)> {
        (0..s.programs)
            .map(|k| {
                (
                    format!("bench/group-{k}"),
                    portfolio(s.per_program(), k, week),
                )
            })
            .collect()
    };
    let this_week = groups(Week::This);
    let programs: String = this_week
        .iter()
        .enumerate()
        .map(|(k, (group, _))| program_toml(k, group))
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    if state == StateFile::Weekly {
        deliver_last_week(groups(Week::Last), &programs, dir.path()).await;
    }
    let gitlab = SyntheticGitLab::start(this_week, latency).await;
    let slack = LocalSlack::start().await;
    let config = write_config(dir.path(), &gitlab.url, &slack.url, &programs, "");

    let started = Instant::now();
    let mut helper = Command::new(std::env::current_exe().expect("own path"));
    helper.arg(MEASURE).arg(env!("CARGO_BIN_EXE_rolly"));
    let output = tokio::task::spawn_blocking(move || {
        rolly(helper, &config, dir.path(), &["once"])
            .stdout(Stdio::piped())
            .output()
            .map(|out| (out, dir))
    })
    .await
    .expect("waiting for rolly")
    .expect("starting the measuring helper");
    let wall = started.elapsed();
    let (output, dir) = output;
    let answer = String::from_utf8_lossy(&output.stdout);
    let mut numbers = answer.split_whitespace().map(|n| n.parse().unwrap_or(0));
    let peak_rss_kib = numbers.next().unwrap_or(0);
    let cpu = Duration::from_micros(numbers.next().unwrap_or(0));
    if !output.status.success() {
        fail(dir.path(), "rolly once failed");
    }
    let first_post = slack.state.first_post.get().copied().unwrap_or(started);
    let last_post = slack
        .state
        .last_post
        .lock()
        .expect("not poisoned")
        .unwrap_or(started);
    let first_request = gitlab.pages.first_request.get().copied().unwrap_or(started);
    Run {
        first_post: first_post.duration_since(started),
        run_first_post: first_post.duration_since(first_request),
        run_last_post: last_post.duration_since(first_request),
        wall,
        gitlab_requests: gitlab.pages.requests.load(Ordering::Relaxed),
        slack_requests: slack.state.requests.load(Ordering::Relaxed),
        slack_posts: slack.state.posts.load(Ordering::Relaxed),
        cpu,
        peak_rss_kib,
    }
}

/// Leaves in `dir` the state of last week: `rolly once` delivers the roll-ups of
/// `groups` as they were then (to stand-ins of their own, which it does not count),
/// and its runs are moved back a week.
async fn deliver_last_week(groups: Vec<(String, Vec<FakeEpic>)>, programs: &str, dir: &Path) {
    let gitlab = SyntheticGitLab::start(groups, Duration::ZERO).await;
    let slack = LocalSlack::start().await;
    let config = write_config(dir, &gitlab.url, &slack.url, programs, "");
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let status = rolly(
            Command::new(env!("CARGO_BIN_EXE_rolly")),
            &config,
            &dir,
            &["once"],
        )
        .stdout(Stdio::null())
        .status()
        .expect("starting rolly");
        if !status.success() {
            fail(&dir, "rolly once failed to deliver last week's roll-up");
        }
        let db = rusqlite::Connection::open(dir.join("rolly.db")).expect("opening the state");
        let periods: Vec<String> = db
            .prepare("SELECT DISTINCT period FROM runs")
            .and_then(|mut q| q.query_map([], |r| r.get(0))?.collect())
            .expect("reading the periods");
        for period in periods {
            db.execute(
                "UPDATE runs SET period = ?1 WHERE period = ?2",
                [week_before(&period), period],
            )
            .expect("moving a run back a week");
        }
    })
    .await
    .expect("delivering last week's roll-up");
}

/// The ISO week period (`2026-W48`) before `period`.
fn week_before(period: &str) -> String {
    use chrono::Datelike;
    let (year, week) = period.split_once("-W").expect("a week period");
    let monday = chrono::NaiveDate::from_isoywd_opt(
        year.parse().expect("a year"),
        week.parse().expect("a week"),
        chrono::Weekday::Mon,
    )
    .expect("a week that exists");
    let before = (monday - chrono::Days::new(7)).iso_week();
    format!("{}-W{:02}", before.year(), before.week())
}

/// How long the synthetic GitLab takes to answer a full page, request sent to body
/// read: the part of each page's time that is the stand-in's, not rolly's.
async fn page_answer_time(latency: Duration) -> Duration {
    let group = "bench/group-0".to_owned();
    let gitlab = SyntheticGitLab::start(
        vec![(group.clone(), portfolio(PAGE, 0, Week::This))],
        latency,
    )
    .await;
    let endpoint = gitlab.url.join("api/graphql").expect("a URL");
    let request = json!({"query": "", "variables": {"group": group}}).to_string();
    median_answer_time(endpoint, request, 11).await
}

/// How long the local Slack takes to accept a post about as large as a roll-up's (50
/// blocks, 10,000 characters), request sent to answer read.
async fn post_answer_time() -> Duration {
    let slack = LocalSlack::start().await;
    let endpoint = slack.url.join("chat.postMessage").expect("a URL");
    let blocks: Vec<Value> = (0..50)
        .map(|i| json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{i:0>200}")}}))
        .collect();
    let post = json!({"channel": "C0BENCH0000", "thread_ts": "1795400000.000001",
        "text": "Roll-up (continued)", "blocks": blocks})
    .to_string();
    median_answer_time(endpoint, post, 101).await
}

/// The median time of `times` JSON posts of `body` to `endpoint` by a bare client, one
/// after another, each until its answer is read.
async fn median_answer_time(endpoint: url::Url, body: String, times: usize) -> Duration {
    let client = reqwest::Client::new();
    let mut took = Vec::new();
    for _ in 0..times {
        let started = Instant::now();
        let answer = client
            .post(endpoint.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .bearer_auth(SLACK_TOKEN)
            .body(body.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the stand-in answers");
        answer.bytes().await.expect("reading the answer");
        took.push(started.elapsed());
    }
    took.sort();
    took[took.len() / 2]
}

/// Serves one program of `epics` epics until interrupted.
async fn serve(epics: usize, latency: Duration, state: StateFile) {
    let group = "bench/group-0".to_owned();
    let programs = program_toml(0, &group);
    let dir = tempfile::tempdir().expect("temporary directory").keep();
    let db = dir.join("rolly.db");
    let start_from = match state {
        StateFile::Weekly => {
            let last_week = vec![(group.clone(), portfolio(epics, 0, Week::Last))];
            deliver_last_week(last_week, &programs, &dir).await;
            let saved = dir.join("last-week.db");
            std::fs::rename(&db, &saved).expect("keeping last week's state");
            format!(
                "rm -f {db}*; cp {} {db}",
                saved.display(),
                db = db.display()
            )
        }
        StateFile::Fresh => format!("rm -f {}*", db.display()),
    };
    let gitlab =
        SyntheticGitLab::start(vec![(group, portfolio(epics, 0, Week::This))], latency).await;
    let slack = LocalSlack::start().await;
    let config = write_config(&dir, &gitlab.url, &slack.url, &programs, "");
    println!(
        "Serving {epics} epics with {} ms latency. In another shell:\n\n  \
         {start_from}; GITLAB_TOKEN={} SLACK_BOT_TOKEN={SLACK_TOKEN} {} --config {} once\n",
        latency.as_millis(),
        fake_gitlab::TOKEN,
        env!("CARGO_BIN_EXE_rolly"),
        config.display(),
    );
    tokio::signal::ctrl_c().await.expect("waiting for Ctrl-C");
    println!(
        "GitLab requests {}, Slack requests {} ({} posts).",
        gitlab.pages.requests.load(Ordering::Relaxed),
        slack.state.requests.load(Ordering::Relaxed),
        slack.state.posts.load(Ordering::Relaxed)
    );
}

/// The helper: runs the command in `argv`, prints its peak RSS in KiB and exits with
/// its exit code. Started fresh, its own high-water mark is small.
fn measure_helper(argv: &[String]) -> ExitCode {
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(Stdio::null())
        .spawn()
        .expect("starting rolly");
    let (code, usage) = wait(child);
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    // Linux reports ru_maxrss in KiB.
    println!(
        "{} {}",
        usage.ru_maxrss,
        micros(usage.ru_utime) + micros(usage.ru_stime)
    );
    ExitCode::from(code)
}

/// A synthetic GitLab: every epic of every group serialised in advance, a page
/// joined from them and answered after `latency`, so what is measured is rolly, not
/// the stand-in. Pages follow GitLab's keyset cursor (`keyset_page`).
struct SyntheticGitLab {
    url: url::Url,
    pages: Arc<Pages>,
}

struct Pages {
    /// group -> its epics as `ItemsPage` nodes, oldest first.
    groups: HashMap<String, Vec<String>>,
    first_request: OnceLock<Instant>,
    latency: Duration,
    requests: AtomicUsize,
}

impl SyntheticGitLab {
    async fn start(groups: Vec<(String, Vec<FakeEpic>)>, latency: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the synthetic GitLab");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let groups = groups
            .into_iter()
            .map(|(group, epics)| {
                let nodes = epics
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut e)| {
                        e.iid = (i + 1) as u32;
                        e.group.clone_from(&group);
                        epic_json(&e, &base).to_string()
                    })
                    .collect();
                (group, nodes)
            })
            .collect();
        let pages = Arc::new(Pages {
            groups,
            first_request: OnceLock::new(),
            latency,
            requests: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/api/graphql", axum::routing::post(answer))
            .with_state(pages.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: base.parse().expect("a URL"),
            pages,
        }
    }
}

/// A local Slack that accepts posts: `chat.postMessage` answers with a new ts,
/// `conversations.history` with an empty channel, `auth.test` with a bot.
struct LocalSlack {
    url: url::Url,
    state: Arc<SlackState>,
}

#[derive(Default)]
struct SlackState {
    requests: AtomicUsize,
    posts: AtomicUsize,
    first_post: OnceLock<Instant>,
    last_post: Mutex<Option<Instant>>,
}

impl LocalSlack {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the local Slack");
        let url = format!("http://{}/api/", listener.local_addr().expect("address"));
        let state = Arc::new(SlackState::default());
        let app = axum::Router::new()
            .route("/api/{method}", axum::routing::any(slack_method))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: url.parse().expect("a URL"),
            state,
        }
    }
}

async fn slack_method(
    State(state): State<Arc<SlackState>>,
    axum::extract::Path(method): axum::extract::Path<String>,
    body: Bytes,
) -> axum::Json<Value> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    axum::Json(match method.as_str() {
        "auth.test" => json!({"ok": true, "url": "https://bench.slack.com/", "team": "Bench",
            "user": "rolly", "team_id": "T0BENCH", "user_id": "U0ROLLY", "bot_id": "B0ROLLY"}),
        "conversations.history" => json!({"ok": true, "messages": [], "has_more": false}),
        "chat.postMessage" => {
            let now = Instant::now();
            state.first_post.get_or_init(|| now);
            *state.last_post.lock().expect("not poisoned") = Some(now);
            let n = state.posts.fetch_add(1, Ordering::Relaxed);
            // Only the channel is read: the stand-in should cost little beside rolly.
            #[derive(serde::Deserialize)]
            struct Post {
                channel: String,
            }
            let channel = serde_json::from_slice::<Post>(&body)
                .map(|p| p.channel)
                .unwrap_or_default();
            let ts = format!("1795400000.{:06}", n + 1);
            json!({"ok": true, "channel": channel, "ts": ts,
                "message": {"type": "message", "ts": ts, "bot_id": "B0ROLLY", "text": ""}})
        }
        _ => json!({"ok": false, "error": "unknown_method"}),
    })
}

async fn answer(State(pages): State<Arc<Pages>>, body: Bytes) -> Response {
    pages.first_request.get_or_init(Instant::now);
    pages.requests.fetch_add(1, Ordering::Relaxed);
    // Tokio's timer counts whole milliseconds and rounds up, which would add most of
    // a millisecond to every page; a thread's sleep keeps to the latency.
    let until = Instant::now() + pages.latency;
    tokio::task::spawn_blocking(move || {
        std::thread::sleep(until.saturating_duration_since(Instant::now()))
    })
    .await
    .expect("sleeping");
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let variables = &body["variables"];
    if body["operationName"] == "GroupLabels" {
        // Every program selects its epics by the one label all of them carry.
        let answer = r#"{"data":{"group":{"labels":{"pageInfo":{"hasNextPage":false,"endCursor":null},"nodes":[{"title":"it-proj::bench"}]}}}}"#;
        return ([(header::CONTENT_TYPE, "application/json")], answer).into_response();
    }
    let group = variables["group"].as_str().unwrap_or_default();
    let Some(nodes) = pages.groups.get(group) else {
        return (StatusCode::BAD_REQUEST, format!("no group {group:?}")).into_response();
    };
    let (page, page_info) = keyset_page(nodes, |i| i as u64, variables);
    let answer = format!(
        r#"{{"data":{{"group":{{"workItems":{{"pageInfo":{page_info},"nodes":[{}]}}}}}}}}"#,
        page.join(",")
    );
    ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
}

/// Starts `rolly run` with one program that is not due, waits until it is ready, lets
/// it idle and returns its (RSS, peak RSS) in KiB.
async fn idle_daemon(idle: Duration) -> (u64, u64) {
    let group = "bench/group-0".to_owned();
    let gitlab = SyntheticGitLab::start(
        vec![(group.clone(), portfolio(10, 0, Week::This))],
        Duration::ZERO,
    )
    .await;
    let slack = LocalSlack::start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let server = format!("[server]\nlisten = \"127.0.0.1:{port}\"\n");
    let config = write_config(
        dir.path(),
        &gitlab.url,
        &slack.url,
        &program_toml(0, &group),
        &server,
    );
    let mut child = rolly(
        Command::new(env!("CARGO_BIN_EXE_rolly")),
        &config,
        dir.path(),
        &["run"],
    )
    .stdout(Stdio::null())
    .spawn()
    .expect("starting rolly run");
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if Instant::now() > deadline {
            fail(dir.path(), "the daemon did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(idle).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .expect("reading the daemon's /proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let sizes = (field("VmRSS:"), field("VmHWM:"));
    // SAFETY: signalling our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("waiting for the daemon");
    if !status.is_ok_and(|s| s.success()) {
        fail(dir.path(), "the daemon did not stop cleanly on SIGTERM");
    }
    sizes
}

/// `count` epics of group `k` as a PMO keeps them: scoped priority and status labels,
/// health, owners, dates, child issues and a status section of a few paragraphs inside
/// a longer description. Some sections are stale, some epics overdue. A week before,
/// every section but the stale ones read differently and some health differed.
fn portfolio(count: usize, k: usize, week: Week) -> Vec<FakeEpic> {
    const PRIORITIES: [&str; 4] = ["p1", "p2", "p3", "p4"];
    const PHASES: [&str; 5] = ["discovery", "planning", "build", "test", "rollout"];
    const HEALTH: [Option<&str>; 4] = [
        Some("onTrack"),
        Some("needsAttention"),
        Some("atRisk"),
        None,
    ];
    (0..count)
        .map(|i| {
            let id = k * count + i;
            let labels = [
                "it-proj::bench".to_owned(),
                format!("it-priority::{}", PRIORITIES[id % 4]),
                format!("it-status::{}", PHASES[id % 5]),
                "department::finance".to_owned(),
            ];
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            let stale = id.is_multiple_of(7);
            let text = match week {
                Week::Last if !stale => description_of_week(id, "2026-11-13", 31),
                _ => description(id),
            };
            let mut e = epic(&format!(
                "Project {id}: migrate ledger service {id} to the new platform"
            ))
            .labels(&labels)
            .description(&text)
            .created_at("2026-01-05T09:00:00Z")
            .last_edited_at(if stale {
                "2026-10-30T16:00:00Z"
            } else {
                "2026-11-20T16:00:00Z"
            })
            .dates(
                "2026-02-01",
                if id.is_multiple_of(9) {
                    "2026-11-01"
                } else {
                    "2027-03-31"
                },
            )
            .assignee(&format!("lead{id}"), &format!("Lead {id}"), None)
            .child_issues((id % 13) as u32, (id % 29) as u32);
            let shift = usize::from(week == Week::Last && id.is_multiple_of(6));
            if let Some(h) = HEALTH[(id + shift) % 4] {
                e = e.health(h);
            }
            e
        })
        .collect()
}

fn program_toml(k: usize, group: &str) -> String {
    format!(
        "[[program]]\nname = \"program-{k}\"\ntitle = \"Program {k}\"\ngroup = \"{group}\"\n\
         labels = [\"IT-Proj::Bench\"]\nslack_channel = \"C0BENCH{k:04}\"\n\
         schedule = \"0 9 1 1 *\"\n\n"
    )
}

fn write_config(
    dir: &Path,
    gitlab: &url::Url,
    slack: &url::Url,
    programs: &str,
    extra: &str,
) -> PathBuf {
    let path = dir.join("rolly.toml");
    let toml = format!(
        "[gitlab]\nurl = \"{}\"\n[slack]\napi_url = \"{}\"\n[state]\npath = \"{}\"\n{extra}\n{programs}",
        gitlab,
        slack,
        dir.join("rolly.db").display(),
    );
    std::fs::write(&path, toml).expect("writing the config");
    path
}

/// `command` (the release `rolly` binary, or the helper in front of it) set up to run
/// `verb` with the stand-ins' tokens; stderr goes to a file in `dir`.
fn rolly(mut command: Command, config: &Path, dir: &Path, verb: &[&str]) -> Command {
    let log = std::fs::File::create(dir.join("stderr.log")).expect("creating the log file");
    command
        .arg("--config")
        .arg(config)
        .args(["--log-level", "warn"])
        .args(verb)
        .env("GITLAB_TOKEN", fake_gitlab::TOKEN)
        .env("SLACK_BOT_TOKEN", SLACK_TOKEN)
        .stderr(log);
    command
}

/// Waits for `child`; returns its exit code (1 if killed) and its resource usage.
fn wait(child: Child) -> (u8, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain data, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: waits for our own child, which nothing else reaps; the pointers are valid.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(
        reaped,
        pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else {
        1
    };
    (code, usage)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a local port");
    listener.local_addr().expect("local address").port()
}

fn fail(dir: &Path, what: &str) -> ! {
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    panic!("{what}; its stderr:\n{log}");
}

/// The machine the figures come from.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("Machine: {model}, {cores} core(s) available.")
}
