//! When a recurring run is due: daily at a UTC time, or every period. A
//! leaf (only chrono): the config checks it when it is read, the
//! schedules compute from it.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};

/// When a schedule is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every day at this UTC time.
    Daily(NaiveTime),
    /// Every this long, counted from midnight UTC of 1970.
    Every(Duration),
}

impl When {
    /// A schedule's `at` or `every`, or why neither reads.
    pub fn parse(at: Option<&str>, every: Option<&str>) -> Result<When, String> {
        match (at, every) {
            (Some(_), Some(_)) => Err("give `at` (daily) or `every`, not both".into()),
            (Some(at), None) => NaiveTime::parse_from_str(at, "%H:%M")
                .map(When::Daily)
                .map_err(|_| format!("at = {at:?} is not a time HH:MM (UTC)")),
            (None, Some(every)) => parse_every(every).map(When::Every),
            (None, None) => {
                Err("say when: `at = \"02:00\"` (daily, UTC) or `every = \"12h\"`".into())
            }
        }
    }

    /// The last time it was due at or before `now`.
    pub fn last_due(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::Daily(t) => {
                let today = Utc.from_utc_datetime(&now.date_naive().and_time(t));
                if today <= now {
                    today
                } else {
                    today - Duration::days(1)
                }
            }
            When::Every(d) => {
                let secs = d.num_seconds().max(60);
                Utc.timestamp_opt(now.timestamp().div_euclid(secs) * secs, 0)
                    .single()
                    .unwrap_or(now)
            }
        }
    }

    /// The next time it is due after `now`.
    pub fn next_due(self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.last_due(now) + self.period()
    }

    pub fn period(self) -> Duration {
        match self {
            When::Daily(_) => Duration::days(1),
            When::Every(d) => d,
        }
    }

    /// In words: `daily 02:00 UTC`, `every 12h`.
    pub fn label(self) -> String {
        match self {
            When::Daily(t) => format!("daily {} UTC", t.format("%H:%M")),
            When::Every(d) if d.num_days() > 0 && d.num_hours() % 24 == 0 => {
                format!("every {}d", d.num_days())
            }
            When::Every(d) if d.num_hours() > 0 && d.num_minutes() % 60 == 0 => {
                format!("every {}h", d.num_hours())
            }
            When::Every(d) => format!("every {}m", d.num_minutes()),
        }
    }

    /// As SSM State Manager writes it (`cron(0 2 ? * * *)`, `rate(12 hours)`).
    pub fn expression(self) -> String {
        match self {
            When::Daily(t) => format!("cron({} {} ? * * *)", t.format("%-M"), t.format("%-H")),
            When::Every(d) if d.num_days() > 0 && d.num_hours() % 24 == 0 => {
                format!("rate({} days)", d.num_days())
            }
            When::Every(d) if d.num_hours() > 0 && d.num_minutes() % 60 == 0 => {
                format!("rate({} hours)", d.num_hours())
            }
            When::Every(d) => format!("rate({} minutes)", d.num_minutes()),
        }
    }
}

fn parse_every(s: &str) -> Result<Duration, String> {
    let bad = || format!("every = {s:?} is not a period like 30m, 12h or 7d (at least 30m)");
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return Err(bad()),
    };
    if d < Duration::minutes(30) {
        return Err(bad());
    }
    Ok(d)
}
