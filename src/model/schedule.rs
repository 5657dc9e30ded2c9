//! Pure schedule arithmetic: cron expressions read in a program's time zone, the next
//! and previous fire times as instants, and the period (ISO week) a fire time belongs to.
//!
//! Schedules are wall-clock schedules: `0 0 * * MON` in America/Los_Angeles fires at local
//! midnight whatever the UTC offset that week. A local time skipped by a daylight-saving
//! change fires one hour later (read with the offset before the change); a local time
//! that occurs twice fires once, at its first occurrence.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};

/// A parsed cron expression, in crontab (5 fields) or seconds-first (6/7 fields) form.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
}

impl Schedule {
    /// Parses `expr`. Five fields are crontab (`min hour dom month dow`, Sunday = 0 or
    /// 7); six or seven fields are `sec min hour dom month dow [year]` with Quartz's
    /// weekday numbering (Sunday = 1), as rolly has always read them. Day names (`MON`,
    /// `MON-FRI`) mean the same in both.
    ///
    /// # Errors
    /// A message saying what is wrong with the expression.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let parser = match expr.split_whitespace().count() {
            5 => CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed),
            6 | 7 => CronParser::builder()
                .seconds(Seconds::Required)
                .alternative_weekdays(true),
            n => {
                return Err(format!(
                    "expected 5 fields (crontab: min hour day month weekday) or 6/7 fields \
                     (with seconds first), found {n}"
                ));
            }
        };
        let cron = parser.build().parse(expr).map_err(|e| e.to_string())?;
        if cron.find_next_occurrence(&Utc::now(), false).is_err() {
            return Err("never fires".into());
        }
        Ok(Self {
            expr: expr.trim().to_owned(),
            cron,
        })
    }

    /// The expression as written in the config.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // The expression is matched against wall-clock times (carried as naive UTC, which
        // has no DST), starting two hours early so a repeated local hour is seen; each is
        // then resolved to an instant by the module's DST rules.
        let start = wall_clock(tz, after) - Duration::hours(2);
        self.cron
            .iter_after(Utc.from_utc_datetime(&start))
            .map(|naive| resolve_local(tz, naive.naive_utc()))
            .find(|instant| *instant > after)
    }

    /// The last fire time at or before `at`.
    pub fn last_at_or_before(&self, tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = wall_clock(tz, at) + Duration::hours(2) + Duration::seconds(1);
        self.cron
            .iter_before(Utc.from_utc_datetime(&start))
            .map(|naive| resolve_local(tz, naive.naive_utc()))
            .find(|instant| *instant <= at)
    }

    /// The next `n` fire times after `after`.
    pub fn upcoming(&self, tz: Tz, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut cursor = after;
        while out.len() < n {
            match self.next_after(tz, cursor) {
                Some(next) => {
                    out.push(next);
                    cursor = next;
                }
                None => break,
            }
        }
        out
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

fn wall_clock(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

/// The instant of a wall-clock time, per the module's rules for DST changes.
///
/// croner's own rule for a skipped time (the first valid minute after the gap) would
/// move a 02:30 run to 03:00; rolly's documented rule is an hour later, 03:30.
fn resolve_local(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            let before = tz.from_utc_datetime(&(naive - Duration::hours(3)));
            let offset = before.offset().fix().local_minus_utc();
            Utc.from_utc_datetime(&(naive - Duration::seconds(offset.into())))
        }
    }
}

/// The reporting period of a run: the ISO week of its scheduled time in the program's
/// time zone, written `2026-W48`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Period(String);

impl Period {
    /// The period containing `at` as seen in `tz`.
    pub fn containing(at: DateTime<Utc>, tz: Tz) -> Self {
        let week = at.with_timezone(&tz).iso_week();
        Self(format!("{}-W{:02}", week.year(), week.week()))
    }

    /// The period key as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (year, week) = s
            .split_once("-W")
            .ok_or_else(|| format!("period `{s}` is not of the form 2026-W48"))?;
        let year: i32 = year
            .parse()
            .map_err(|_| format!("bad year in period `{s}`"))?;
        let week: u32 = week
            .parse()
            .map_err(|_| format!("bad week in period `{s}`"))?;
        chrono::NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon)
            .ok_or_else(|| format!("week {week} does not exist in {year}"))?;
        Ok(Self(format!("{year}-W{week:02}")))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::Los_Angeles;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn monday_midnight() -> Schedule {
        Schedule::parse("0 0 * * MON").unwrap()
    }

    #[test]
    fn crontab_and_seconds_forms_fire_at_the_same_times() {
        let now = utc("2026-11-18T12:00:00Z");
        let five = Schedule::parse("30 9 * * 1-5").unwrap();
        let six = Schedule::parse("0 30 9 * * MON-FRI").unwrap();
        let seven = Schedule::parse("0 30 9 * * 2-6 *").unwrap();
        let a = five.upcoming(Berlin, now, 10);
        assert_eq!(a, six.upcoming(Berlin, now, 10));
        assert_eq!(a, seven.upcoming(Berlin, now, 10));
    }

    #[test]
    fn crontab_sunday_is_zero_or_seven() {
        let now = utc("2026-11-18T12:00:00Z"); // a Wednesday
        for expr in ["0 8 * * 0", "0 8 * * 7", "0 8 * * SUN"] {
            let next = Schedule::parse(expr)
                .unwrap()
                .next_after(chrono_tz::UTC, now);
            let next = next.unwrap_or_else(|| panic!("{expr} never fires"));
            assert_eq!(next, utc("2026-11-22T08:00:00Z"), "{expr}");
        }
    }

    #[test]
    fn crontab_weekday_ranges_steps_and_wrapping() {
        let now = utc("2026-11-15T12:00:00Z"); // a Sunday
        let days = |expr: &str| -> Vec<u32> {
            Schedule::parse(expr)
                .unwrap()
                .upcoming(chrono_tz::UTC, now, 7)
                .iter()
                .map(|t| t.weekday().num_days_from_sunday())
                .collect()
        };
        assert_eq!(days("0 8 * * 1-5"), [1, 2, 3, 4, 5, 1, 2]);
        assert_eq!(days("0 8 * * 5-7"), [5, 6, 0, 5, 6, 0, 5]);
        assert_eq!(days("0 8 * * */2"), [2, 4, 6, 0, 2, 4, 6]);
        assert_eq!(days("0 8 * * mon,fri"), [1, 5, 1, 5, 1, 5, 1]);
        assert!(Schedule::parse("0 8 * * 8").is_err());
        assert!(Schedule::parse("0 8 * * funday").is_err());
    }

    #[test]
    fn invalid_expressions_are_rejected_with_a_reason() {
        assert!(Schedule::parse("0 0 * *").unwrap_err().contains("found 4"));
        assert!(Schedule::parse("0 25 * * MON").is_err());
        assert!(Schedule::parse("every monday").is_err());
        assert!(Schedule::parse("").is_err());
    }

    #[test]
    fn monday_midnight_los_angeles_is_0800_utc_in_winter_and_0700_in_summer() {
        let s = monday_midnight();
        assert_eq!(
            s.next_after(Los_Angeles, utc("2026-11-18T00:00:00Z")),
            Some(utc("2026-11-23T08:00:00Z"))
        );
        assert_eq!(
            s.next_after(Los_Angeles, utc("2026-07-01T00:00:00Z")),
            Some(utc("2026-07-06T07:00:00Z"))
        );
    }

    #[test]
    fn monday_midnight_fires_right_across_the_spring_and_autumn_changes() {
        let s = monday_midnight();
        // 2027-03-14: clocks go forward in Los Angeles; the Monday after is PDT.
        assert_eq!(
            s.upcoming(Los_Angeles, utc("2027-03-07T12:00:00Z"), 2),
            vec![utc("2027-03-08T08:00:00Z"), utc("2027-03-15T07:00:00Z")]
        );
        // 2026-11-01: clocks go back; the Monday after is PST.
        assert_eq!(
            s.upcoming(Los_Angeles, utc("2026-10-25T12:00:00Z"), 2),
            vec![utc("2026-10-26T07:00:00Z"), utc("2026-11-02T08:00:00Z")]
        );
    }

    #[test]
    fn a_time_skipped_by_the_spring_change_fires_an_hour_later() {
        let s = Schedule::parse("30 2 * * SUN").unwrap();
        // 02:30 does not exist on 2027-03-14 in Los Angeles: fires at 03:30 PDT.
        assert_eq!(
            s.next_after(Los_Angeles, utc("2027-03-13T12:00:00Z")),
            Some(utc("2027-03-14T10:30:00Z"))
        );
    }

    #[test]
    fn a_time_repeated_by_the_autumn_change_fires_once() {
        let s = Schedule::parse("30 1 * * SUN").unwrap();
        let fires = s.upcoming(Los_Angeles, utc("2026-10-31T12:00:00Z"), 2);
        // 01:30 PDT on 2026-11-01, then a week later; not again at 01:30 PST.
        assert_eq!(
            fires,
            vec![utc("2026-11-01T08:30:00Z"), utc("2026-11-08T09:30:00Z")]
        );
    }

    #[test]
    fn last_fire_at_or_before_finds_the_missed_run() {
        let s = monday_midnight();
        let monday_3am = utc("2026-11-23T11:00:00Z");
        assert_eq!(
            s.last_at_or_before(Los_Angeles, monday_3am),
            Some(utc("2026-11-23T08:00:00Z"))
        );
        let exactly = utc("2026-11-23T08:00:00Z");
        assert_eq!(s.last_at_or_before(Los_Angeles, exactly), Some(exactly));
    }

    #[test]
    fn period_is_the_iso_week_in_the_program_time_zone() {
        let sunday_evening_la = utc("2026-11-23T05:00:00Z"); // Sunday 21:00 in LA, Monday in UTC
        assert_eq!(
            Period::containing(sunday_evening_la, Los_Angeles).as_str(),
            "2026-W47"
        );
        assert_eq!(
            Period::containing(sunday_evening_la, chrono_tz::UTC).as_str(),
            "2026-W48"
        );
    }

    #[test]
    fn period_keys_across_the_year_boundary() {
        let p = |s: &str| Period::containing(utc(s), chrono_tz::UTC).to_string();
        assert_eq!(p("2026-12-31T12:00:00Z"), "2026-W53");
        assert_eq!(p("2027-01-03T12:00:00Z"), "2026-W53");
        assert_eq!(p("2027-01-04T12:00:00Z"), "2027-W01");
    }

    #[test]
    fn period_parses_and_rejects_weeks_that_do_not_exist() {
        assert_eq!("2026-W53".parse::<Period>().unwrap().as_str(), "2026-W53");
        assert_eq!("2026-W5".parse::<Period>().unwrap().as_str(), "2026-W05");
        assert!("2027-W53".parse::<Period>().is_err());
        assert!("2026-48".parse::<Period>().is_err());
    }
}
