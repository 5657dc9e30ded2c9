//! What each program's scheduling task is doing, kept by the daemon for `/healthz`, the
//! systemd watchdog and the next-run metric.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::state::Kind;

/// How late past its wake-up time a sleeping task may be before it counts as stuck; a
/// task wakes at least once a minute.
pub const LATE_GRACE: Duration = Duration::from_secs(5 * 60);
/// How long one attempt of a run may take before it counts as stuck: requests time out
/// and retries are bounded, so a healthy attempt ends well within this.
pub const LONGEST_RUN: Duration = Duration::from_secs(2 * 60 * 60);

/// The scheduling tasks' status; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Status {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    programs: BTreeMap<String, Task>,
    shutting_down: bool,
    /// Another replica leads; this one runs no schedules.
    standby: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    /// Waiting until this time to run a job or retry one.
    Sleeping(DateTime<Utc>),
    /// Running a job (or waiting for a slot to run it) since this time.
    Busy(DateTime<Utc>),
    /// The task ended: the program is no longer scheduled.
    Stopped,
}

impl Status {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain data behind; keep reading it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `program`'s task sleeps until `at`.
    pub fn sleeping(&self, program: &str, at: DateTime<Utc>) {
        self.set(program, Task::Sleeping(at));
    }

    /// `program`'s task runs a job, since `since`.
    pub fn busy(&self, program: &str, since: DateTime<Utc>) {
        self.set(program, Task::Busy(since));
    }

    /// `program`'s task has ended.
    pub fn stopped(&self, program: &str) {
        self.set(program, Task::Stopped);
    }

    /// Whether this replica leads (runs the schedules) or stands by; published as
    /// `rolly_leader`.
    pub fn leading(&self, leads: bool) {
        self.lock().standby = !leads;
        metrics::gauge!("rolly_leader").set(if leads { 1.0 } else { 0.0 });
    }

    /// True while another replica leads.
    pub fn is_standby(&self) -> bool {
        self.lock().standby
    }

    /// The daemon is stopping: tasks that end now end on purpose.
    pub fn shutting_down(&self) {
        self.lock().shutting_down = true;
    }

    fn set(&self, program: &str, task: Task) {
        self.lock().programs.insert(program.to_owned(), task);
    }

    /// Publishes the next scheduled run of `program`'s `kind`.
    pub fn next_run(&self, program: &str, kind: Kind, at: DateTime<Utc>) {
        metrics::gauge!("rolly_next_run_timestamp_seconds", "program" => program.to_owned(), "kind" => kind.as_str())
            .set(at.timestamp() as f64);
    }

    /// What is wrong with the scheduling at `now`, one sentence per program; empty when
    /// every program's task is alive and on time.
    pub fn problems(&self, now: DateTime<Utc>) -> Vec<String> {
        let inner = self.lock();
        let late = chrono::Duration::from_std(LATE_GRACE).unwrap_or_default();
        let longest = chrono::Duration::from_std(LONGEST_RUN).unwrap_or_default();
        inner
            .programs
            .iter()
            .filter_map(|(program, task)| match *task {
                Task::Stopped if !inner.shutting_down => Some(format!(
                    "program {program}: its scheduling task has stopped"
                )),
                Task::Sleeping(at) if now - at > late => Some(format!(
                    "program {program}: its next run was due at {at} and has not started"
                )),
                Task::Busy(since) if now - since > longest => Some(format!(
                    "program {program}: a run has been going on since {since}"
                )),
                _ => None,
            })
            .collect()
    }
}

/// Marks a program's task stopped when it ends, however it ends (a panic included).
pub struct TaskGuard {
    pub status: Status,
    pub program: String,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.status.stopped(&self.program);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + chrono::Duration::minutes(minutes)
    }

    #[test]
    fn on_time_tasks_are_healthy_and_late_or_stopped_ones_are_named() {
        let status = Status::default();
        status.sleeping("a", t(10));
        status.busy("b", t(0));
        assert!(status.problems(t(12)).is_empty());

        assert_eq!(status.problems(t(16)).len(), 1, "a is 6 minutes late");
        assert!(status.problems(t(16))[0].starts_with("program a:"));
        assert!(status.problems(t(3 * 60))[1].contains("going on since"));

        status.sleeping("a", t(200));
        {
            let _guard = TaskGuard {
                status: status.clone(),
                program: "b".into(),
            };
        }
        assert_eq!(
            status.problems(t(1)),
            ["program b: its scheduling task has stopped"]
        );
        status.shutting_down();
        assert!(status.problems(t(1)).is_empty());
    }

    #[test]
    fn a_task_that_panics_is_marked_stopped() {
        let status = Status::default();
        status.sleeping("a", t(10));
        let s = status.clone();
        let _ = std::thread::spawn(move || {
            let _guard = TaskGuard {
                status: s,
                program: "a".into(),
            };
            panic!("boom");
        })
        .join();
        assert_eq!(status.problems(t(0)).len(), 1);
    }
}
