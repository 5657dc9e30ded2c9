//! The pure middle: what rolly knows about epics and what it makes of them. No I/O, no
//! configuration file types, no clients: everything arrives as arguments.
//!
//! - [`epic`]: plain records of what GitLab returned.
//! - [`extract`]: status sections and scoped labels out of one epic, by a program's
//!   [`extract::Rules`].
//! - [`edit`]: a new status section written into a description, nothing else touched.
//! - [`phases`]: an epic's SDLC phases from its child epics.
//! - [`portfolio`]: one line per program for leadership, worst first.
//! - [`rollup`]: the roll-up of one program and period, compared with the last one.
//! - [`signals`]: what dates, child items and edits say beside the owner's health.
//! - [`schedule`]: cron and time zone to fire times; a fire time to its period.

pub mod edit;
pub mod epic;
pub mod extract;
pub mod phases;
pub mod portfolio;
pub mod rollup;
pub mod schedule;
pub mod signals;
