//! The portfolio view: one line per program for leadership, worst first, from what each
//! program's roll-up of the period recorded.

use std::collections::HashSet;

use serde::Serialize;

use crate::model::extract::Health;
use crate::model::rollup::{Previous, Snapshot, Summary};
use crate::model::schedule::Period;

/// One program in the portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramLine {
    pub name: String,
    pub title: String,
    /// `None` when the program's roll-up of the period was not delivered.
    pub summary: Option<Summary>,
    /// Link to the program's roll-up message.
    pub link: Option<String>,
    pub changes: Changes,
    /// The program's state in its last roll-ups, oldest first (see [`overall`]).
    pub trend: Vec<Health>,
}

/// Items whose health got worse or better since last week's roll-up, and items that
/// came or went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub worse: usize,
    pub better: usize,
    pub new: usize,
    pub gone: usize,
}

/// A portfolio for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortfolioView {
    pub name: String,
    pub title: String,
    pub period: Period,
    /// Worst first.
    pub lines: Vec<ProgramLine>,
}

/// How bad a health level is; higher is worse.
fn badness(h: Health) -> u8 {
    match h {
        Health::AtRisk => 3,
        Health::NeedsAttention => 2,
        Health::Unknown => 1,
        Health::OnTrack => 0,
    }
}

/// A program's state in one roll-up: its worst health level with any item in it.
pub fn overall(s: &Summary) -> Health {
    Health::ALL
        .into_iter()
        .find(|h| *h != Health::Unknown && s.count(*h) > 0)
        .unwrap_or(Health::Unknown)
}

/// What changed between last week's snapshots and this week's.
pub fn changes(now: &[Snapshot], before: Option<&[Snapshot]>) -> Changes {
    let Some(before) = before else {
        return Changes::default();
    };
    // Found by id, as a roll-up finds last week's snapshots: programs run to thousands.
    let previous = Previous::new(before.to_vec());
    let mut c = Changes::default();
    for s in now {
        match previous.get(&s.epic_id) {
            None => c.new += 1,
            Some(b) if badness(s.health) > badness(b.health) => c.worse += 1,
            Some(b) if badness(s.health) < badness(b.health) => c.better += 1,
            Some(_) => {}
        }
    }
    let present: HashSet<&str> = now.iter().map(|s| s.epic_id.as_str()).collect();
    c.gone = before
        .iter()
        .filter(|b| !present.contains(b.epic_id.as_str()))
        .count();
    c
}

/// Sorts `lines` worst first: programs without a roll-up, then by items at risk, signals
/// that disagree, items needing attention, overdue, stale; then by title.
pub fn sort_worst_first(lines: &mut [ProgramLine]) {
    lines.sort_by_key(|l| {
        let s = l.summary.clone().unwrap_or_default();
        (
            l.summary.is_some(),
            std::cmp::Reverse(s.at_risk),
            std::cmp::Reverse(s.disagree),
            std::cmp::Reverse(s.needs_attention),
            std::cmp::Reverse(s.overdue),
            std::cmp::Reverse(s.stale),
            l.title.to_lowercase(),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::extract::Priority;

    fn snap(id: &str, health: Health) -> Snapshot {
        Snapshot {
            epic_id: id.into(),
            title: id.into(),
            web_url: String::new(),
            status: None,
            priority: Priority::None,
            health,
            due_date: None,
            section_hash: None,
            stale: false,
        }
    }

    #[test]
    fn changes_count_worse_better_new_and_gone() {
        let before = [
            snap("a", Health::OnTrack),
            snap("b", Health::AtRisk),
            snap("c", Health::OnTrack),
            snap("gone", Health::OnTrack),
        ];
        let now = [
            snap("a", Health::AtRisk),
            snap("b", Health::NeedsAttention),
            snap("c", Health::OnTrack),
            snap("new", Health::OnTrack),
        ];
        assert_eq!(
            changes(&now, Some(&before)),
            Changes {
                worse: 1,
                better: 1,
                new: 1,
                gone: 1
            }
        );
        assert_eq!(changes(&now, None), Changes::default());
    }

    #[test]
    fn the_worst_program_comes_first_and_a_missing_rollup_before_all() {
        let line = |title: &str, summary: Option<Summary>| ProgramLine {
            name: title.into(),
            title: title.into(),
            summary,
            link: None,
            changes: Changes::default(),
            trend: vec![],
        };
        let calm = Summary {
            on_track: 5,
            ..Summary::default()
        };
        let risky = Summary {
            at_risk: 1,
            ..Summary::default()
        };
        let mut lines = vec![
            line("Calm", Some(calm.clone())),
            line("Risky", Some(risky.clone())),
            line("Silent", None),
        ];
        sort_worst_first(&mut lines);
        let titles: Vec<&str> = lines.iter().map(|l| l.title.as_str()).collect();
        assert_eq!(titles, ["Silent", "Risky", "Calm"]);
        assert_eq!(overall(&risky), Health::AtRisk);
        assert_eq!(overall(&calm), Health::OnTrack);
        assert_eq!(overall(&Summary::default()), Health::Unknown);
    }
}
