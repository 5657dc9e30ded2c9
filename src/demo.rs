//! Built-in sample data for `rolly demo`: an IT program of a dozen epics with the
//! status sections, labels and slips a real portfolio has, plus last week's snapshots
//! so the week-over-week changes show. No network, no credentials, same pipeline.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use crate::model::epic::{Child, Epic, HealthStatus};
use crate::model::extract::{Health, PhaseRule, Rules};
use crate::model::portfolio::{self, PortfolioView, ProgramLine};
use crate::model::rollup::{self, Context, History, Previous, RollUp, Snapshot};
use crate::model::schedule::Period;

/// The demo's GitLab instance.
pub const GITLAB_URL: &str = "https://gitlab.example.com";
const GROUP: &str = "it/business-technology";

/// The demo's "now": Monday 23 November 2026, 00:00 in Los Angeles (the default schedule).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0)
        .single()
        .expect("valid instant")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn section(body: &str) -> String {
    format!(
        "Project charter and scope are in the linked doc.\n\n<!-- Status Start -->\n{body}\n<!-- Status End -->\n"
    )
}

fn phase(name: &str, closed: bool, due: NaiveDate) -> Child {
    Child {
        title: format!("{name}: data warehouse migration"),
        closed,
        start_date: None,
        due_date: Some(due),
        labels: Vec::new(),
    }
}

fn epic(iid: u32, title: &str) -> Epic {
    Epic::new(GITLAB_URL, GROUP, iid, title)
}

/// This week's epics.
pub fn epics() -> Vec<Epic> {
    let friday = now() - Duration::days(3);
    vec![
        epic(101, "Salesforce CPQ cut-over")
            .with_labels(["it-proj::crm", "it-priority::p0", "it-status::build"])
            .with_health(HealthStatus::AtRisk)
            .with_due_date(date(2026, 11, 20))
            .with_progress(14, 9)
            .with_assignee("mlopez", "Maria Lopez", Some("maria.lopez@example.com"))
            .with_assignee("tkim", "Tae Kim", None)
            .with_description(
                &section(
                    "**Go-live slipped** past the 20 Nov target: the vendor's price-book export fails on \
                     ~3% of SKUs.\n\n\
                     - [x] Sandbox refresh\n- [x] UAT round 1 (see &88)\n- [ ] Fix export, tracked in \
                     [VEN-2291](https://vendor.example.com/tickets/2291)\n- [ ] UAT round 2\n\n\
                     Decision needed from @cfo-office by **Wed**: accept a phased cut-over?",
                ),
                friday,
            ),
        epic(102, "Data warehouse migration to the new cluster")
            .with_labels(["it-proj::crm", "IT-Priority::P1", "it-status::wip-review"])
            .with_health(HealthStatus::NeedsAttention)
            .with_start_date(date(2026, 8, 1))
            .with_due_date(date(2027, 1, 15))
            .with_progress(22, 18)
            .with_child(phase("Intake", true, date(2026, 8, 14)))
            .with_child(phase("Define", true, date(2026, 9, 4)))
            .with_child(phase("Design", true, date(2026, 10, 2)))
            .with_child(phase("Build", false, date(2026, 11, 20)))
            .with_child(phase("Test", false, date(2026, 12, 18)))
            .with_assignee("jdoe", "Jane Doe", Some("jane.doe@example.com"))
            .with_description(
                &section(
                    "### This week\n1. Migrated 180 of 240 tables\n2. Nightly loads run on both clusters\n\n\
                     ### Risks\n> Storage quota runs out on 10 Dec unless the PO is approved.\n\n\
                     | Stage | Done | ETA |\n|---|---|---|\n| Tables | 75% | 4 Dec |\n| Reports | 40% | 18 Dec |",
                ),
                friday,
            ),
        epic(103, "SSO for field-service app")
            .with_labels(["it-proj::crm", "it-priority::p1", "it-status::deployed-0"])
            .with_health(HealthStatus::OnTrack)
            .with_due_date(date(2026, 12, 4))
            .with_progress(11, 1)
            .with_assignee("pnair", "Priya Nair", Some("priya.nair@example.com"))
            .with_description(
                &section("Pilot group of 40 technicians live since Tuesday, no incidents. ~~Rollback plan~~ retired."),
                friday,
            ),
        epic(104, "Retire legacy quoting tool")
            .with_labels(["it-proj::crm", "it-priority::p2", "it-status::build"])
            .with_health(HealthStatus::OnTrack)
            .with_progress(6, 6)
            .with_assignee("okafor", "Chidi Okafor", None)
            .with_description(
                &section("Read-only mode since 16 Nov. Export of 2019–2021 archives: `quote-archive.sh` done."),
                friday,
            ),
        epic(105, "Customer 360 dashboard")
            .with_labels(["it-proj::crm", "it-priority::p2", "it-status::assigned"])
            .with_progress(0, 12)
            .with_assignee("rsato", "Rin Sato", Some("rin.sato@example.com"))
            .with_description(&section("Kick-off held; see the design notes in #512 (to be moved)."), now() - Duration::days(12)),
        epic(106, "Contract lifecycle management RFP")
            .with_labels(["it-proj::crm", "it-priority::p3", "it-status::wip-review"])
            .with_health(HealthStatus::NeedsAttention)
            .with_assignee("alee", "Alex Lee", Some("alex.lee@example.com"))
            .with_description("Scope and vendors to be decided. No status section yet.", now() - Duration::days(20)),
        epic(107, "Partner portal <!channel> refresh")
            .with_labels(["it-proj::crm", "it-priority::p3", "it-status::build"])
            .with_health(HealthStatus::OnTrack)
            .with_start_date(date(2026, 6, 1))
            .with_due_date(date(2027, 3, 1))
            .with_progress(3, 15)
            .with_description(
                &section("Design review done. <@U024BE7LH> asked for a dark mode; parked for phase 2. <script>alert(1)</script>"),
                friday,
            ),
        epic(108, "Email deliverability (SPF/DKIM) for campaigns")
            .with_labels(["it-proj::crm", "it-priority::tbd", "it-status::stale"])
            .with_assignee("mlopez", "Maria Lopez", Some("maria.lopez@example.com"))
            .with_description("<!-- Status Start -->\nWaiting on DNS change window.", now() - Duration::days(40)),
        epic(109, "Sales territory realignment")
            .with_labels(["it-proj::crm", "it-status::out of scope"])
            .with_description(&section(""), now() - Duration::days(2)),
    ]
}

/// Snapshots as last week's roll-up left them: some statuses and health levels differ,
/// one epic has since closed, and #105 is new.
pub fn previous_snapshots() -> Vec<Snapshot> {
    let last_week = now() - Duration::days(7);
    let mut epics = epics();
    epics.retain(|e| e.iid != "105");
    for e in &mut epics {
        if e.iid != "104" {
            // Everyone but #104 rewrote their section since; #104's is stale this week.
            e.description = Some(section("Last week's text."));
        }
        match e.iid.as_str() {
            "101" => {
                e.health_status = Some(HealthStatus::NeedsAttention);
                e.due_date = Some(date(2026, 11, 13));
            }
            "102" => {
                e.labels = vec![
                    "it-proj::crm".into(),
                    "it-priority::p2".into(),
                    "it-status::build".into(),
                ];
            }
            _ => {}
        }
    }
    epics.push(
        epic(110, "Lead scoring model v2")
            .with_labels(["it-proj::crm", "it-priority::p2", "it-status::deployed-0"])
            .with_description(&section("Done."), last_week),
    );
    let rules = Rules::default();
    let ctx = context(
        Period::containing(last_week, chrono_tz::America::Los_Angeles),
        last_week,
        &rules,
        None,
        None,
    );
    rollup::snapshots(&rollup::build(&epics, &ctx))
}

fn context<'a>(
    period: Period,
    now: DateTime<Utc>,
    rules: &'a Rules,
    previous: Option<&'a Previous>,
    history: Option<&'a History>,
) -> Context<'a> {
    Context {
        program: "crm-migration",
        title: "CRM migration",
        period,
        timezone: chrono_tz::America::Los_Angeles,
        now,
        stale_after_days: 7,
        gitlab_url: GITLAB_URL,
        rules,
        previous,
        kinds: &[],
        notices: &[],
        history,
    }
}

/// Two weeks ago: the CPQ cut-over was still on track and due a week earlier still,
/// for the trend and the due date moved twice.
fn earlier_health() -> Vec<Snapshot> {
    let mut snapshots = previous_snapshots();
    for s in &mut snapshots {
        if s.epic_id.ends_with("/1101") {
            s.health = Health::OnTrack;
            s.due_date = Some(date(2026, 11, 6));
        }
    }
    snapshots
}

/// This week's roll-up of the sample program, through the real extract and model stages.
pub fn rollup() -> RollUp {
    let rules = Rules {
        phases: Some(PhaseRule::Title),
        ..Rules::default()
    };
    let last_week = previous_snapshots();
    let previous = Previous::new(last_week.clone());
    let history = History::new(vec![earlier_health(), last_week]);
    let ctx = context(
        Period::containing(now(), chrono_tz::America::Los_Angeles),
        now(),
        &rules,
        Some(&previous),
        Some(&history),
    );
    let mut r = rollup::build(&epics(), &ctx);
    r.issue_url = Some(format!(
        "{GITLAB_URL}/it/business-technology/pmo/status/-/issues/42"
    ));
    r
}

/// The sample portfolio: the CRM program above and a smaller ERP program, as leadership
/// reads them on Monday.
pub fn portfolio() -> PortfolioView {
    let crm = rollup();
    let erp = erp_rollup();
    let last_week = previous_snapshots();
    let line =
        |r: &RollUp, channel: &str, ts: &str, before: Option<&[Snapshot]>, trend: Vec<Health>| {
            ProgramLine {
                name: r.program.clone(),
                title: r.title.clone(),
                summary: Some(r.summary.clone()),
                link: Some(format!(
                    "https://example.slack.com/archives/{channel}/p{}",
                    ts.replace('.', "")
                )),
                changes: portfolio::changes(&rollup::snapshots(r), before),
                trend,
            }
        };
    let mut lines = vec![
        line(
            &crm,
            "C0123456789",
            "1795424400.000100",
            Some(&last_week),
            vec![Health::NeedsAttention, Health::AtRisk, Health::AtRisk],
        ),
        line(
            &erp,
            "C0ERP000001",
            "1795428000.000200",
            None,
            vec![Health::OnTrack, Health::OnTrack, Health::NeedsAttention],
        ),
    ];
    portfolio::sort_worst_first(&mut lines);
    PortfolioView {
        name: "it-leadership".into(),
        title: "IT portfolio".into(),
        period: crm.period.clone(),
        lines,
    }
}

/// A second, smaller sample program for the portfolio.
fn erp_rollup() -> RollUp {
    let friday = now() - Duration::days(3);
    let epics = vec![
        Epic::new(GITLAB_URL, "it/erp", 201, "General ledger upgrade")
            .with_labels(["it-proj::erp", "it-priority::p1", "it-status::build"])
            .with_health(HealthStatus::NeedsAttention)
            .with_due_date(date(2027, 2, 1))
            .with_progress(8, 12)
            .with_description(&section("Cut-over rehearsal booked for 12 Dec."), friday),
        Epic::new(GITLAB_URL, "it/erp", 202, "Payroll interface")
            .with_labels(["it-proj::erp", "it-priority::p2", "it-status::build"])
            .with_health(HealthStatus::OnTrack)
            .with_progress(5, 2)
            .with_description(&section("Interface tests green."), friday),
    ];
    let rules = Rules::default();
    let mut ctx = context(
        Period::containing(now(), chrono_tz::America::Los_Angeles),
        now(),
        &rules,
        None,
        None,
    );
    ctx.program = "erp-upgrade";
    ctx.title = "ERP upgrade";
    rollup::build(&epics, &ctx)
}

/// The sample program's summaries of its last roll-ups, oldest first, for the report's
/// trend.
pub fn history() -> Vec<(String, crate::model::rollup::Summary)> {
    let now = rollup();
    let mut out = Vec::new();
    for (weeks, at_risk, needs, on_track) in [(3, 0, 1, 6), (2, 0, 2, 5), (1, 1, 1, 4)] {
        let at = self::now() - Duration::weeks(weeks);
        out.push((
            Period::containing(at, chrono_tz::America::Los_Angeles).to_string(),
            crate::model::rollup::Summary {
                total: at_risk + needs + on_track + 2,
                at_risk,
                needs_attention: needs,
                on_track,
                unknown: 2,
                ..Default::default()
            },
        ));
    }
    out.push((now.period.to_string(), now.summary));
    out
}
