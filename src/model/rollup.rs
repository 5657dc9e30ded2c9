//! Pure roll-up model: one program, one period. Built from the epics GitLab returned and
//! the snapshots of the last delivered roll-up; rendering it is left to the renderers.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::collections::HashMap;

use crate::model::epic::{Epic, EpicState, ItemKind, Person, Progress};
use crate::model::extract::{self, Health, Priority, Rules, Section};
use crate::model::phases::{self, Phase};
use crate::model::schedule::Period;
use crate::model::signals::{Facts, Signals};

/// Roll-ups a trend covers, this one included.
pub const TREND_LENGTH: usize = 8;
/// An item whose section was not edited for this long is silent.
const SILENT_AFTER_DAYS: i64 = 14;

/// The roll-up of one program for one period.
#[derive(Debug, Clone, Serialize)]
pub struct RollUp {
    pub program: String,
    pub title: String,
    pub period: Period,
    /// The local date of the scheduled run.
    pub date: NaiveDate,
    /// GitLab instance URL, for references in sections.
    pub gitlab_url: String,
    pub summary: Summary,
    /// Sorted by priority, then health (worst first), then title.
    pub entries: Vec<Entry>,
    /// Epics in the last roll-up that are no longer selected (closed or label removed).
    pub departed: Vec<Departed>,
    /// Whether a previous roll-up existed to compare with.
    pub compared_with_previous: bool,
    /// The roll-up issue filed in GitLab for this roll-up, once it exists.
    pub issue_url: Option<String>,
    /// What a reader must know about how the items were read (a label found nowhere,
    /// an item GitLab could not return).
    pub notices: Vec<Notice>,
    /// What one item is called: "epic", "issue" or "item".
    pub item_noun: &'static str,
    /// Entries carry an **Update status** button (the program takes updates from Slack).
    #[serde(skip)]
    pub update_buttons: bool,
}

/// Something about reading the program's items that its readers must see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// A configured label exists nowhere in the group, so nothing can carry it: most
    /// likely a typo in the config.
    LabelNotFound { label: String, group: String },
    /// GitLab returned an item as an error only; there is nothing to list it by.
    ItemNotRead { reason: String },
}

impl Notice {
    /// The notice as one plain-text sentence (renderers escape it).
    pub fn text(&self) -> String {
        match self {
            Notice::LabelNotFound { label, group } => format!(
                "No label \"{label}\" exists in GitLab group {group}, so nothing was selected. \
                 Check the program's labels in rolly's config."
            ),
            Notice::ItemNotRead { reason } => {
                format!("GitLab could not return one item: {reason}")
            }
        }
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub total: usize,
    pub at_risk: usize,
    pub needs_attention: usize,
    pub on_track: usize,
    pub unknown: usize,
    /// Epics with no usable status section.
    pub no_update: usize,
    /// Epics whose section is stale.
    pub stale: usize,
    pub overdue: usize,
    pub new: usize,
    pub departed: usize,
    /// Items whose owner says on track while the facts point to risk.
    pub disagree: usize,
}

impl Summary {
    /// The number of epics at `health`.
    pub fn count(&self, health: Health) -> usize {
        match health {
            Health::AtRisk => self.at_risk,
            Health::NeedsAttention => self.needs_attention,
            Health::OnTrack => self.on_track,
            Health::Unknown => self.unknown,
        }
    }
}

/// One epic in the roll-up.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub iid: String,
    pub title: String,
    pub web_url: String,
    pub group_path: String,
    pub closed: bool,
    pub priority: Priority,
    pub status: Option<String>,
    pub health: Health,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub overdue: bool,
    pub progress: Progress,
    pub assignees: Vec<Person>,
    pub kind: ItemKind,
    /// GitLab's reason when some fields of the item could not be read.
    pub unreadable: Option<String>,
    pub section: Section,
    pub freshness: Freshness,
    /// What changed since the last delivered roll-up.
    pub changes: Vec<Change>,
    /// What the dates, children and edits say, beside the owner's health.
    pub signals: Signals,
    /// The owner says on track while the signals point to risk.
    pub disagree: bool,
    /// Health in the last roll-ups that showed the item, oldest first, this one last.
    pub trend: Vec<Health>,
    /// Its SDLC phases, where the program reads them and it has some.
    pub phases: Vec<Phase>,
    /// Roll-ups in a row, this one included, whose section was stale or missing.
    pub stale_streak: u32,
}

/// How current an entry's status section is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Freshness {
    Fresh,
    /// There is no section to be fresh (see [`Entry::section`]).
    NoUpdate,
    /// The section text is the same as in the last roll-up.
    Unchanged,
    /// The description was last edited this many days ago.
    NotEdited {
        days: i64,
    },
}

impl Freshness {
    /// Stale sections: unchanged since the last roll-up or not edited for too long.
    pub fn is_stale(&self) -> bool {
        matches!(self, Freshness::Unchanged | Freshness::NotEdited { .. })
    }
}

/// A change since the last delivered roll-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    New,
    Health {
        from: Health,
        to: Health,
    },
    Status {
        from: Option<String>,
        to: Option<String>,
    },
    Priority {
        from: Priority,
        to: Priority,
    },
    DueDate {
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    },
}

/// An epic that was in the last roll-up and is not in this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Departed {
    pub title: String,
    pub web_url: String,
}

/// What is kept of each epic of a delivered roll-up, to compare the next one with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub epic_id: String,
    pub title: String,
    pub web_url: String,
    pub status: Option<String>,
    pub priority: Priority,
    pub health: Health,
    pub due_date: Option<NaiveDate>,
    /// SHA-256 of the section text; `None` without a section.
    pub section_hash: Option<String>,
    /// Its section was stale (or missing) in that roll-up.
    #[serde(default)]
    pub stale: bool,
}

/// The snapshots of the last delivered roll-up, found by epic id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Previous {
    /// Sorted by epic id.
    snapshots: Vec<Snapshot>,
}

impl Previous {
    /// Indexes `snapshots`, given in any order.
    pub fn new(mut snapshots: Vec<Snapshot>) -> Self {
        snapshots.sort_unstable_by(|a, b| a.epic_id.cmp(&b.epic_id));
        Self { snapshots }
    }

    /// The snapshot of epic `id`, if the last roll-up showed it.
    pub fn get(&self, id: &str) -> Option<&Snapshot> {
        let at = self
            .snapshots
            .binary_search_by(|s| s.epic_id.as_str().cmp(id))
            .ok()?;
        Some(&self.snapshots[at])
    }

    /// Every snapshot, by epic id.
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snapshots
    }
}

/// What earlier delivered roll-ups showed of each item, oldest first: for trends and
/// due-date moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    by_item: HashMap<String, Vec<Seen>>,
}

/// What one earlier roll-up showed of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    health: Health,
    due_date: Option<NaiveDate>,
    stale: bool,
}

impl History {
    /// From the snapshots of earlier roll-ups, oldest roll-up first.
    pub fn new(runs: Vec<Vec<Snapshot>>) -> Self {
        let mut by_item: HashMap<String, Vec<Seen>> = HashMap::new();
        for run in runs {
            for s in run {
                by_item.entry(s.epic_id).or_default().push(Seen {
                    health: s.health,
                    due_date: s.due_date,
                    stale: s.stale,
                });
            }
        }
        Self { by_item }
    }

    fn of(&self, id: &str) -> &[Seen] {
        self.by_item.get(id).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Everything besides the epics that a roll-up depends on.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub program: &'a str,
    pub title: &'a str,
    pub period: Period,
    pub timezone: Tz,
    /// The scheduled time of the run (also "now" for staleness and overdue).
    pub now: DateTime<Utc>,
    pub stale_after_days: u32,
    pub gitlab_url: &'a str,
    pub rules: &'a Rules,
    /// Snapshots of the last delivered roll-up, if there was one.
    pub previous: Option<&'a Previous>,
    /// The kinds of item the program reads (`item_types`).
    pub kinds: &'a [ItemKind],
    /// What reading the items found that readers must see.
    pub notices: &'a [Notice],
    /// Earlier roll-ups, for trends and due-date moves.
    pub history: Option<&'a History>,
}

/// Builds the roll-up of `epics`: one entry per epic, in roll-up order, and the epics
/// of the last roll-up that are no longer there.
pub fn build(epics: &[Epic], ctx: &Context<'_>) -> RollUp {
    let today = today(ctx);
    let mut entries: Vec<Entry> = epics
        .iter()
        .map(|epic| entry(epic, ctx, today, ctx.previous.map(|p| p.get(&epic.id))))
        .collect();
    // Stable: entries that sort equal keep the order GitLab gave them.
    entries.sort_by_cached_key(|e| (e.priority.clone(), e.health, e.title.to_lowercase()));
    let present: std::collections::HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    let mut departed: Vec<Departed> = ctx
        .previous
        .map(Previous::snapshots)
        .unwrap_or_default()
        .iter()
        .filter(|s| !present.contains(s.epic_id.as_str()))
        .map(|s| Departed {
            title: s.title.clone(),
            web_url: s.web_url.clone(),
        })
        .collect();
    departed.sort_by_cached_key(|d| d.title.to_lowercase());
    RollUp {
        program: ctx.program.to_owned(),
        title: ctx.title.to_owned(),
        period: ctx.period.clone(),
        date: today,
        gitlab_url: base_url(ctx.gitlab_url).to_owned(),
        summary: summarize(&entries, departed.len()),
        entries,
        departed,
        compared_with_previous: ctx.previous.is_some(),
        issue_url: None,
        notices: ctx.notices.to_vec(),
        item_noun: ItemKind::noun(ctx.kinds),
        update_buttons: false,
    }
}

/// The GitLab URL links are made from, as [`RollUp::gitlab_url`] holds it.
pub fn base_url(gitlab_url: &str) -> &str {
    gitlab_url.trim_end_matches('/')
}

fn today(ctx: &Context<'_>) -> NaiveDate {
    ctx.now.with_timezone(&ctx.timezone).date_naive()
}

/// `previous` is `None` without a previous roll-up, `Some(None)` for an epic new since it.
fn entry(
    epic: &Epic,
    ctx: &Context<'_>,
    today: NaiveDate,
    previous: Option<Option<&Snapshot>>,
) -> Entry {
    let x = extract::extract(epic, ctx.rules);
    let closed = epic.state == EpicState::Closed;
    let freshness = freshness(epic, &x.section, ctx, previous.flatten());
    let earlier = ctx.history.map(|h| h.of(&epic.id)).unwrap_or_default();
    let earlier_due: Vec<Option<NaiveDate>> = earlier.iter().map(|s| s.due_date).collect();
    let signals = Signals::of(&Facts {
        today,
        closed,
        start: epic.start_date,
        due: epic.due_date,
        progress: epic.progress,
        earlier_due: &earlier_due,
        days_since_edit: epic
            .description_edited_at
            .map(|at| (ctx.now - at).num_days()),
        silent_after_days: SILENT_AFTER_DAYS,
    });
    let keep = earlier.len().min(TREND_LENGTH - 1);
    let trend: Vec<Health> = earlier[earlier.len() - keep..]
        .iter()
        .map(|s| s.health)
        .chain(std::iter::once(x.health))
        .collect();
    let needs_update = !closed && (freshness == Freshness::NoUpdate || freshness.is_stale());
    let stale_streak = if needs_update {
        1 + earlier.iter().rev().take_while(|s| s.stale).count() as u32
    } else {
        0
    };
    let mut entry = Entry {
        id: epic.id.clone(),
        iid: epic.iid.clone(),
        title: epic.title.clone(),
        web_url: epic.web_url.clone(),
        group_path: epic.group_path.clone(),
        closed,
        priority: x.priority,
        status: x.status,
        health: x.health,
        start_date: epic.start_date,
        due_date: epic.due_date,
        overdue: !closed && epic.due_date.is_some_and(|d| d < today),
        progress: epic.progress,
        assignees: epic.assignees.clone(),
        kind: epic.kind,
        unreadable: epic.unreadable.clone(),
        section: x.section,
        freshness,
        changes: Vec::new(),
        disagree: signals.disagree_with(x.health),
        signals,
        trend,
        phases: ctx
            .rules
            .phases
            .as_ref()
            .map(|rule| phases::phases(&epic.children, rule, today))
            .unwrap_or_default(),
        stale_streak,
    };
    entry.changes = match previous {
        None => Vec::new(),
        Some(None) => vec![Change::New],
        Some(Some(before)) => changes(before, &entry),
    };
    entry
}

fn freshness(
    epic: &Epic,
    section: &Section,
    ctx: &Context<'_>,
    before: Option<&Snapshot>,
) -> Freshness {
    let Some(text) = section.text() else {
        return Freshness::NoUpdate;
    };
    if let Some(edited) = epic.description_edited_at {
        let days = (ctx.now - edited).num_days();
        if days >= i64::from(ctx.stale_after_days) {
            return Freshness::NotEdited { days };
        }
    }
    match before.and_then(|b| b.section_hash.as_deref()) {
        Some(hash) if hash == section_hash(text) => Freshness::Unchanged,
        _ => Freshness::Fresh,
    }
}

fn changes(before: &Snapshot, now: &Entry) -> Vec<Change> {
    let mut out = Vec::new();
    if before.health != now.health {
        out.push(Change::Health {
            from: before.health,
            to: now.health,
        });
    }
    if before.status != now.status {
        out.push(Change::Status {
            from: before.status.clone(),
            to: now.status.clone(),
        });
    }
    if before.priority != now.priority {
        out.push(Change::Priority {
            from: before.priority.clone(),
            to: now.priority.clone(),
        });
    }
    if before.due_date != now.due_date {
        out.push(Change::DueDate {
            from: before.due_date,
            to: now.due_date,
        });
    }
    out
}

fn summarize(entries: &[Entry], departed: usize) -> Summary {
    let mut s = Summary {
        total: entries.len(),
        departed,
        ..Summary::default()
    };
    for e in entries {
        match e.health {
            Health::AtRisk => s.at_risk += 1,
            Health::NeedsAttention => s.needs_attention += 1,
            Health::OnTrack => s.on_track += 1,
            Health::Unknown => s.unknown += 1,
        }
        s.no_update += usize::from(e.freshness == Freshness::NoUpdate);
        s.stale += usize::from(e.freshness.is_stale());
        s.overdue += usize::from(e.overdue);
        s.new += usize::from(e.changes.contains(&Change::New));
        s.disagree += usize::from(e.disagree);
    }
    s
}

/// The hash stored for a section, to tell whether it changed.
pub fn section_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The snapshots to keep of a delivered roll-up.
pub fn snapshots(rollup: &RollUp) -> Vec<Snapshot> {
    rollup
        .entries
        .iter()
        .map(|e| Snapshot {
            epic_id: e.id.clone(),
            title: e.title.clone(),
            web_url: e.web_url.clone(),
            status: e.status.clone(),
            priority: e.priority.clone(),
            health: e.health,
            due_date: e.due_date,
            section_hash: e.section.text().map(section_hash),
            stale: e.stale_streak > 0,
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
