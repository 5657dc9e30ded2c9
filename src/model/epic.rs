//! What rolly knows about a roll-up item (an epic, or an issue on GitLab Free),
//! independent of how it was fetched.
//!
//! The GitLab client fills these plain records; extraction, the roll-up model and the
//! renderers read them. Nothing here knows about HTTP or GraphQL.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A roll-up item as read from GitLab: a work item of type EPIC, or of type ISSUE for
/// programs with `item_types = ["issue"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epic {
    /// Global id, e.g. `gid://gitlab/WorkItem/123`.
    pub id: String,
    pub kind: ItemKind,
    /// Internal id within its group, e.g. `42`.
    pub iid: String,
    pub title: String,
    pub web_url: String,
    pub state: EpicState,
    /// Full path of the group the epic lives in (resolves `&45` references).
    pub group_path: String,
    /// Label titles exactly as GitLab returns them.
    pub labels: Vec<String>,
    /// The raw description markdown, if any.
    pub description: Option<String>,
    /// When the description was last edited; falls back to creation time if never edited.
    pub description_edited_at: Option<DateTime<Utc>>,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// From the health status widget; `None` when unset or the widget is absent.
    pub health_status: Option<HealthStatus>,
    pub assignees: Vec<Person>,
    /// Closed and open children: child issues of an epic, child tasks of an issue.
    pub progress: Progress,
    /// GitLab's reason when some of the item's fields could not be read; what was read
    /// is still shown.
    pub unreadable: Option<String>,
    /// Child epics, read where the program reads phases.
    pub children: Vec<Child>,
}

/// Which kind of work item a roll-up item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Epic,
    Issue,
}

impl ItemKind {
    /// How a roll-up of items of `kinds` calls one of them: "epic", "issue" or "item".
    pub fn noun(kinds: &[ItemKind]) -> &'static str {
        match kinds.first() {
            None => "epic",
            Some(first) if kinds.iter().all(|k| k == first) => first.noun_of_one(),
            Some(_) => "item",
        }
    }

    fn noun_of_one(self) -> &'static str {
        match self {
            ItemKind::Epic => "epic",
            ItemKind::Issue => "issue",
        }
    }

    /// What an item's children are called in its progress: issues of an epic, tasks of
    /// an issue.
    pub fn children(self) -> &'static str {
        match self {
            ItemKind::Epic => "issues",
            ItemKind::Issue => "tasks",
        }
    }
}

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpicState {
    Open,
    Closed,
}

/// GitLab's health status widget values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    OnTrack,
    NeedsAttention,
    AtRisk,
}

/// A GitLab user as shown on an epic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub username: String,
    pub name: String,
    /// Only set when the user made their email public.
    pub public_email: Option<String>,
}

/// Child issues of an epic, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub open: u32,
    pub closed: u32,
}

impl Progress {
    /// All child issues, open or closed.
    pub fn total(&self) -> u32 {
        self.open + self.closed
    }
}

impl Epic {
    /// A minimal open epic in `group_path` on `gitlab_url`, to build on with the
    /// `with_*` methods (tests, the demo and benchmarks).
    pub fn new(gitlab_url: &str, group_path: &str, iid: u32, title: &str) -> Self {
        Self {
            id: format!("gid://gitlab/WorkItem/{}", 1000 + iid),
            kind: ItemKind::Epic,
            iid: iid.to_string(),
            title: title.to_owned(),
            web_url: format!(
                "{}/groups/{group_path}/-/epics/{iid}",
                gitlab_url.trim_end_matches('/')
            ),
            state: EpicState::Open,
            group_path: group_path.to_owned(),
            labels: Vec::new(),
            description: None,
            description_edited_at: None,
            start_date: None,
            due_date: None,
            health_status: None,
            assignees: Vec::new(),
            progress: Progress::default(),
            unreadable: None,
            children: Vec::new(),
        }
    }

    /// Sets the labels.
    pub fn with_labels<I: IntoIterator<Item = S>, S: Into<String>>(mut self, labels: I) -> Self {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the description and when it was last edited.
    pub fn with_description(mut self, description: &str, edited_at: DateTime<Utc>) -> Self {
        self.description = Some(description.to_owned());
        self.description_edited_at = Some(edited_at);
        self
    }

    /// Sets the health status widget.
    pub fn with_health(mut self, health: HealthStatus) -> Self {
        self.health_status = Some(health);
        self
    }

    /// Sets the start date.
    pub fn with_start_date(mut self, start: NaiveDate) -> Self {
        self.start_date = Some(start);
        self
    }

    /// Sets the due date.
    pub fn with_due_date(mut self, due: NaiveDate) -> Self {
        self.due_date = Some(due);
        self
    }

    /// Adds an assignee.
    pub fn with_assignee(mut self, username: &str, name: &str, public_email: Option<&str>) -> Self {
        self.assignees.push(Person {
            username: username.to_owned(),
            name: name.to_owned(),
            public_email: public_email.map(str::to_owned),
        });
        self
    }

    /// Sets the child issue counts.
    pub fn with_progress(mut self, closed: u32, open: u32) -> Self {
        self.progress = Progress { open, closed };
        self
    }

    /// Adds a child epic.
    pub fn with_child(mut self, child: Child) -> Self {
        self.children.push(child);
        self
    }

    /// Marks the epic closed.
    pub fn closed(mut self) -> Self {
        self.state = EpicState::Closed;
        self
    }
}

/// A child of an item, as read with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    pub title: String,
    pub closed: bool,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub labels: Vec<String>,
}
