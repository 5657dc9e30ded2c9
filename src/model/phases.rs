//! SDLC phases: an epic whose child epics are its phases (Intake, Define, Design, Build,
//! Test, Deploy, Hypercare) shows where it stands: phases done, the current one, the
//! next ones, and a phase past its due date.

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::epic::Child;
use crate::model::extract::{PhaseRule, scoped_value};

/// The phases of GitLab IT's SDLC, in order.
pub const SDLC: [&str; 7] = [
    "Intake",
    "Define",
    "Design",
    "Build",
    "Test",
    "Deploy",
    "Hypercare",
];

/// Where a phase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseState {
    Done,
    Current,
    Next,
}

/// One phase of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub name: String,
    pub state: PhaseState,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// Open and past its due date.
    pub late: bool,
}

/// The phases among `children`, in SDLC order (unknown names by start date after them):
/// closed ones done, the first open one current, the rest next.
pub fn phases(children: &[Child], rule: &PhaseRule, today: NaiveDate) -> Vec<Phase> {
    let mut found: Vec<(usize, &Child, String)> = children
        .iter()
        .filter_map(|c| {
            let name = match rule {
                PhaseRule::Title => SDLC
                    .iter()
                    .find(|p| starts_with_word(&c.title, p))
                    .map(|p| (*p).to_owned()),
                PhaseRule::Label(prefix) => {
                    scoped_value(&c.labels, prefix).map(|v| canonical(v).unwrap_or(v).to_owned())
                }
            }?;
            let order = SDLC
                .iter()
                .position(|p| p.eq_ignore_ascii_case(&name))
                .unwrap_or(SDLC.len());
            Some((order, c, name))
        })
        .collect();
    found.sort_by_key(|(order, c, _)| (*order, c.start_date));
    let mut current_seen = false;
    found
        .into_iter()
        .map(|(_, c, name)| {
            let state = if c.closed {
                PhaseState::Done
            } else if current_seen {
                PhaseState::Next
            } else {
                current_seen = true;
                PhaseState::Current
            };
            Phase {
                name,
                state,
                start_date: c.start_date,
                due_date: c.due_date,
                late: !c.closed && c.due_date.is_some_and(|d| d < today),
            }
        })
        .collect()
}

fn canonical(value: &str) -> Option<&'static str> {
    SDLC.iter()
        .find(|p| p.eq_ignore_ascii_case(value.trim()))
        .copied()
}

/// `title` starts with `word` (any letter case), followed by nothing or a non-letter.
fn starts_with_word(title: &str, word: &str) -> bool {
    let title = title.trim_start();
    title.len() >= word.len()
        && title.is_char_boundary(word.len())
        && title[..word.len()].eq_ignore_ascii_case(word)
        && !title[word.len()..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn child(title: &str, closed: bool, due: u32) -> Child {
        Child {
            title: title.into(),
            closed,
            start_date: None,
            due_date: Some(day(due)),
            labels: vec![],
        }
    }

    #[test]
    fn phases_by_title_in_sdlc_order_with_the_current_one_late() {
        let children = [
            child("Test", false, 28),
            child("Build: integrations", false, 20),
            child("Intake", true, 2),
            child("Design", true, 9),
            child("Buildings budget", false, 30),
            child("Define", true, 5),
        ];
        let p = phases(&children, &PhaseRule::Title, day(23));
        let names: Vec<(&str, PhaseState, bool)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.state, p.late))
            .collect();
        assert_eq!(
            names,
            [
                ("Intake", PhaseState::Done, false),
                ("Define", PhaseState::Done, false),
                ("Design", PhaseState::Done, false),
                ("Build", PhaseState::Current, true),
                ("Test", PhaseState::Next, false),
            ]
        );
    }

    #[test]
    fn phases_by_scoped_label() {
        let mut a = child("Kick-off", true, 1);
        a.labels = vec!["Phase::intake".into()];
        let mut b = child("Go live", false, 30);
        b.labels = vec!["phase::deploy".into()];
        let c = child("Unrelated child", false, 1);
        let p = phases(&[b, c, a], &PhaseRule::Label("phase".into()), day(23));
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Intake", "Deploy"]);
        assert_eq!(p[1].state, PhaseState::Current);
        assert!(!p[1].late);
    }
}
