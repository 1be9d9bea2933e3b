//! Schedules: the documents' recurring tasks (the nightly backup at 02:00,
//! certbot every 12 h, the monthly image) as `[[schedule]]` entries. Each
//! is due at its times; `opsdeck schedule run-due` starts those due through
//! the same run path and journal as any run (who = `schedule:NAME`), on
//! the sandbox by its own clock, on a host by cron or a systemd timer
//! calling it. A schedule whose last run failed, or that has not run since
//! a time it was due (missed), is an attention item.

use crate::config::{Config, ScheduleConfig};
use crate::store::journal::Entry;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// How long after a due time a schedule may still start before it counts
/// as missed.
pub const GRACE_MINUTES: i64 = 60;

pub use crate::when::When;

/// Where a schedule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// It ran since it was last due, and it succeeded (or is running).
    Ok,
    /// Its last run failed.
    Failed,
    /// Due now, within the grace period.
    Due,
    /// It has never run (it starts at the next `run-due`).
    NeverRun,
    /// Not run since a time it was due, past the grace period.
    Missed,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Failed => "failed",
            State::Due => "due",
            State::NeverRun => "never run",
            State::Missed => "missed",
        }
    }
}

/// One schedule, its last run and what comes next.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub runbook: String,
    pub target: String,
    pub when: String,
    /// What SSM State Manager would be given.
    pub expression: String,
    pub last_run: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
    pub last_status: Option<String>,
    pub due_at: DateTime<Utc>,
    pub next_at: DateTime<Utc>,
    pub state: State,
}

/// Who a schedule's runs are journaled as.
pub fn operator(name: &str) -> String {
    format!("schedule:{name}")
}

/// Every schedule of `config` as of `now`, from the journal's runs.
pub fn statuses(config: &Config, journal: &[Entry], now: DateTime<Utc>) -> Vec<Status> {
    config
        .schedules
        .iter()
        .filter_map(|s| {
            let when = When::parse(s.at.as_deref(), s.every.as_deref()).ok()?;
            let who = operator(&s.name);
            let last = journal
                .iter()
                .filter(|e| e.start.operator.who == who && e.start.runbook == s.runbook)
                .max_by_key(|e| e.start.at);
            let due_at = when.last_due(now);
            let status = last.map(|e| e.status().to_string());
            let state = match last {
                Some(e) if e.start.at >= due_at - Duration::minutes(1) => {
                    if matches!(status.as_deref(), Some("succeeded" | "running")) {
                        State::Ok
                    } else {
                        State::Failed
                    }
                }
                Some(e) if !matches!(e.status(), "succeeded" | "running") => State::Failed,
                None => State::NeverRun,
                Some(_) if now - due_at > Duration::minutes(GRACE_MINUTES) => State::Missed,
                Some(_) => State::Due,
            };
            Some(Status {
                name: s.name.clone(),
                runbook: s.runbook.clone(),
                target: s.target.clone(),
                when: when.label(),
                expression: when.expression(),
                last_run: last.map(|e| e.start.run.to_string()),
                last_at: last.map(|e| e.start.at),
                last_status: status,
                due_at,
                next_at: when.next_due(now),
                state,
            })
        })
        .collect()
}

/// The schedules to start now: not run since they were last due.
pub fn due<'a>(
    config: &'a Config,
    journal: &[Entry],
    now: DateTime<Utc>,
) -> Vec<&'a ScheduleConfig> {
    let st = statuses(config, journal, now);
    config
        .schedules
        .iter()
        .filter(|s| {
            st.iter().any(|x| {
                x.name == s.name
                    && (matches!(x.state, State::Due | State::Missed | State::NeverRun)
                        || (x.state == State::Failed
                            && x.last_at
                                .is_some_and(|a| a < x.due_at - Duration::minutes(1))))
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    trait OfSchedule {
        fn of_schedule(s: &ScheduleConfig) -> Result<When, String>;
    }
    impl OfSchedule for When {
        fn of_schedule(s: &ScheduleConfig) -> Result<When, String> {
            When::parse(s.at.as_deref(), s.every.as_deref())
        }
    }

    fn sc(at: Option<&str>, every: Option<&str>) -> ScheduleConfig {
        ScheduleConfig {
            name: "n".into(),
            runbook: "backup".into(),
            target: "database=app".into(),
            at: at.map(str::to_string),
            every: every.map(str::to_string),
            params: Default::default(),
            confirm: None,
        }
    }

    #[test]
    fn times_and_expressions_read_as_state_manager_writes_them() {
        let now: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let daily = When::of_schedule(&sc(Some("02:00"), None)).unwrap();
        assert_eq!(
            daily.last_due(now).to_rfc3339(),
            "2026-03-02T02:00:00+00:00"
        );
        assert_eq!(
            daily.next_due(now).to_rfc3339(),
            "2026-03-03T02:00:00+00:00"
        );
        assert_eq!(daily.expression(), "cron(0 2 ? * * *)");
        let twelve = When::of_schedule(&sc(None, Some("12h"))).unwrap();
        assert_eq!(
            twelve.last_due(now).to_rfc3339(),
            "2026-03-02T00:00:00+00:00"
        );
        assert_eq!(twelve.expression(), "rate(12 hours)");
        assert_eq!(twelve.label(), "every 12h");
        assert!(When::of_schedule(&sc(Some("25:00"), None)).is_err());
        assert!(When::of_schedule(&sc(None, Some("5m"))).is_err());
        assert!(When::of_schedule(&sc(Some("02:00"), Some("1d"))).is_err());
        assert!(When::of_schedule(&sc(None, None)).is_err());
    }
}
