//! The one clock. [`now`] is the wall clock unless `OPSDECK_NOW` pins it
//! (RFC 3339 such as `2026-03-02T10:00:00Z`, or seconds since 1970): then
//! every "now" in the process — journal times, run ids, backup ages, the
//! sandbox's simulated docker and its scripts' `now_epoch` — is that instant,
//! frozen. Tests pin it so that nothing they check depends on the hour CI
//! runs at; a drill can be rehearsed "at 02:30" the same way. Nothing else
//! in opsdeck reads the system clock for a date.

use chrono::{DateTime, Utc};

message_error!(
    /// Why a pinned clock's time cannot be read.
    ClockError
);

/// The environment variable that pins the clock.
pub const ENV: &str = "OPSDECK_NOW";

/// The current instant (pinned when `OPSDECK_NOW` is set and valid).
pub fn now() -> DateTime<Utc> {
    pinned().ok().flatten().unwrap_or_else(Utc::now)
}

/// The pinned instant: `Ok(None)` when `OPSDECK_NOW` is unset or empty, an
/// error naming the variable when it is set to something that is no time.
pub fn pinned() -> Result<Option<DateTime<Utc>>, ClockError> {
    match std::env::var(ENV) {
        Ok(v) if !v.trim().is_empty() => parse(&v).map(Some),
        _ => Ok(None),
    }
}

/// RFC 3339 (`2026-03-02T10:00:00Z`) or whole seconds since 1970.
pub fn parse(s: &str) -> Result<DateTime<Utc>, ClockError> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| format!("{ENV}={s}: out of range"))
            .map_err(Into::into);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{ENV}={s:?}: {e}; write an RFC 3339 time (2026-03-02T10:00:00Z) or seconds since 1970")
        }).map_err(Into::into)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_epoch_and_refuses_the_rest() {
        let t = parse("2026-03-02T10:00:00Z").unwrap();
        assert_eq!(t.timestamp(), 1_772_445_600);
        assert_eq!(parse("1772445600").unwrap(), t);
        assert_eq!(parse("2026-03-02T11:00:00+01:00").unwrap(), t);
        let e = parse("tomorrow").unwrap_err();
        assert!(e.contains("OPSDECK_NOW") && e.contains("RFC 3339"), "{e}");
    }
}
