//! Facts beside the owner's word: what the dates, the child items and the edit history
//! say about an item, computed and shown next to its health, never replacing it.

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::epic::Progress;
use crate::model::extract::Health;

/// An item counts as behind when its closed share of children trails the elapsed share
/// of its time by more than this.
const BEHIND_MARGIN: f64 = 0.3;
/// Too early in an item's time to judge its progress.
const JUDGE_PROGRESS_FROM: f64 = 0.25;
/// A due date moved later this often points to risk.
const MOVES_THAT_COUNT: u32 = 2;

/// What the facts say about one item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Signals {
    /// Days past its due date, for an open item.
    pub overdue_days: Option<i64>,
    /// How often its due date moved later over the roll-ups kept (and this one).
    pub due_moved_later: u32,
    /// Closed share of child items against elapsed share of start to due, in percent,
    /// when the first trails the second by far.
    pub behind: Option<(u8, u8)>,
    /// Whole weeks since its status section was last edited, once that is long.
    pub silent_weeks: Option<i64>,
}

/// What the signals are computed from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub today: NaiveDate,
    pub closed: bool,
    pub start: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub progress: Progress,
    /// Due dates of earlier roll-ups, oldest first.
    pub earlier_due: &'a [Option<NaiveDate>],
    /// Days since the description was edited.
    pub days_since_edit: Option<i64>,
    /// From how many days without an edit an item is silent.
    pub silent_after_days: i64,
}

impl Signals {
    /// The signals of one item.
    pub fn of(f: &Facts<'_>) -> Self {
        let overdue_days = f
            .due
            .filter(|due| !f.closed && *due < f.today)
            .map(|due| (f.today - due).num_days());
        let mut due_moved_later = 0;
        let mut last = None;
        for due in f
            .earlier_due
            .iter()
            .chain(std::iter::once(&f.due))
            .flatten()
        {
            if last.is_some_and(|before| *due > before) {
                due_moved_later += 1;
            }
            last = Some(*due);
        }
        Signals {
            overdue_days,
            due_moved_later,
            behind: behind(f),
            silent_weeks: f
                .days_since_edit
                .filter(|d| !f.closed && *d >= f.silent_after_days)
                .map(|d| d / 7),
        }
    }

    /// Whether the facts point to risk, whatever the owner says.
    pub fn point_to_risk(&self) -> bool {
        self.overdue_days.is_some()
            || self.behind.is_some()
            || self.silent_weeks.is_some()
            || self.due_moved_later >= MOVES_THAT_COUNT
    }

    /// The owner says on track while the facts point to risk.
    pub fn disagree_with(&self, health: Health) -> bool {
        health == Health::OnTrack && self.point_to_risk()
    }

    /// The signals as short phrases, most telling first.
    pub fn phrases(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(days) = self.overdue_days {
            out.push(format!(
                "{days} day{} overdue",
                if days == 1 { "" } else { "s" }
            ));
        }
        if let Some((closed, elapsed)) = self.behind {
            out.push(format!("{closed}% done at {elapsed}% of its time"));
        }
        if self.due_moved_later > 0 {
            out.push(match self.due_moved_later {
                1 => "due date moved later once".to_owned(),
                n => format!("due date moved later {n}×"),
            });
        }
        if let Some(weeks) = self.silent_weeks {
            out.push(format!("no update for {weeks} weeks"));
        }
        out
    }
}

impl Signals {
    /// The phrases an entry does not say elsewhere: progress behind time and due-date
    /// moves (overdue and silence have lines of their own).
    pub fn news(&self) -> Vec<String> {
        Signals {
            overdue_days: None,
            silent_weeks: None,
            ..self.clone()
        }
        .phrases()
    }
}

fn behind(f: &Facts<'_>) -> Option<(u8, u8)> {
    let (start, due) = (f.start?, f.due?);
    let total = f.progress.total();
    if f.closed || total == 0 || due <= start {
        return None;
    }
    let elapsed =
        ((f.today - start).num_days() as f64 / (due - start).num_days() as f64).clamp(0.0, 1.0);
    let done = f64::from(f.progress.closed) / f64::from(total);
    (elapsed >= JUDGE_PROGRESS_FROM && done < elapsed - BEHIND_MARGIN).then(|| {
        (
            (done * 100.0).round() as u8,
            (elapsed * 100.0).round() as u8,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Duration::days(i64::from(d))
    }

    fn facts() -> Facts<'static> {
        Facts {
            today: day(100),
            closed: false,
            start: None,
            due: None,
            progress: Progress::default(),
            earlier_due: &[],
            days_since_edit: Some(1),
            silent_after_days: 14,
        }
    }

    #[test]
    fn an_on_track_item_overdue_and_far_behind_disagrees() {
        // 90 % of its time gone, 10 % of its issues closed, then 20 days overdue.
        let behind = Signals::of(&Facts {
            today: day(90),
            start: Some(day(0)),
            due: Some(day(100)),
            progress: Progress { open: 9, closed: 1 },
            ..facts()
        });
        assert_eq!(behind.behind, Some((10, 90)));
        assert!(behind.disagree_with(Health::OnTrack));
        assert!(!behind.disagree_with(Health::AtRisk), "the owner agrees");

        let overdue = Signals::of(&Facts {
            today: day(120),
            start: Some(day(0)),
            due: Some(day(100)),
            progress: Progress { open: 9, closed: 1 },
            ..facts()
        });
        assert_eq!(overdue.overdue_days, Some(20));
        assert_eq!(
            overdue.phrases(),
            ["20 days overdue", "10% done at 100% of its time"]
        );
    }

    #[test]
    fn progress_is_not_judged_early_or_without_children_or_dates() {
        let early = Facts {
            today: day(10),
            start: Some(day(0)),
            due: Some(day(100)),
            progress: Progress {
                open: 10,
                closed: 0,
            },
            ..facts()
        };
        assert_eq!(Signals::of(&early), Signals::default());
        let no_children = Facts {
            today: day(90),
            progress: Progress::default(),
            ..early
        };
        assert_eq!(Signals::of(&no_children).behind, None);
        let no_start = Facts {
            start: None,
            today: day(90),
            ..early
        };
        assert_eq!(Signals::of(&no_start).behind, None);
    }

    #[test]
    fn due_dates_moved_later_are_counted_and_earlier_ones_are_not() {
        let history = [Some(day(10)), None, Some(day(20)), Some(day(15))];
        let s = Signals::of(&Facts {
            today: day(0),
            due: Some(day(30)),
            earlier_due: &history,
            ..facts()
        });
        assert_eq!(s.due_moved_later, 2);
        assert!(s.point_to_risk());
        assert_eq!(s.phrases(), ["due date moved later 2×"]);
    }

    #[test]
    fn silence_counts_in_weeks_and_closed_items_raise_nothing() {
        let silent = Signals::of(&Facts {
            days_since_edit: Some(22),
            ..facts()
        });
        assert_eq!(silent.silent_weeks, Some(3));
        let closed = Signals::of(&Facts {
            closed: true,
            due: Some(day(1)),
            days_since_edit: Some(90),
            ..facts()
        });
        assert!(!closed.point_to_risk());
    }
}
