//! What a run locks: one lock per thing a change touches, decided from the
//! runbook's danger and its target, before anything is sent.
//!
//! * a read runbook takes none (it never waits and never blocks);
//! * an instance-wide change holds its host exclusively;
//! * a change to a tenant, a container or a database holds its host shared
//!   (so an instance-wide change never overlaps it) and the thing itself
//!   exclusively: a tenant's compose project, a container (its project
//!   when it has one), a database;
//! * validating a backup holds its database shared: beside other
//!   validations, never beside a backup or a restore of it;
//! * a restore also holds the project of the tenant using the database
//!   (it stops that tenant's app containers).
//!
//! A lock's name becomes a file name on the host: a name that is not
//! plain letters, digits, `.`, `-` and `_` (or that starts with a dot) is
//! refused here, so it can never reach outside the lock directory.

use super::spec::TargetKind;
use super::{Danger, Target};

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Beside other shared holders.
    Shared,
    /// Alone.
    Exclusive,
}

impl Mode {
    /// `flock`'s option letter.
    pub fn flag(self) -> &'static str {
        match self {
            Mode::Shared => "s",
            Mode::Exclusive => "x",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Mode::Shared => "shared",
            Mode::Exclusive => "exclusive",
        }
    }
}

/// One lock a run holds from its start to its end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockKey {
    name: String,
    mode: Mode,
}

/// A target name that cannot name a lock file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} {name:?} cannot name a lock: letters, digits, '.', '-' and '_' only, not starting with '.', at most 100"
)]
pub struct BadLockName {
    pub what: &'static str,
    pub name: String,
}

impl LockKey {
    /// The lock on `what` `name` (`project`, `paiss-staging`), checked.
    pub fn new(what: &'static str, name: &str, mode: Mode) -> Result<LockKey, BadLockName> {
        let ok = !name.is_empty()
            && name.len() <= 100
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok {
            return Err(BadLockName {
                what,
                name: name.to_string(),
            });
        }
        Ok(LockKey {
            name: format!("{what}-{name}"),
            mode,
        })
    }
    /// The lock's name on the host (`project-paiss-staging`).
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

impl std::fmt::Display for LockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.mode.label())
    }
}

/// The locks a run of a `danger` runbook on `target` holds.
pub fn for_target(danger: Danger, target: &Target) -> Result<Vec<LockKey>, BadLockName> {
    use Mode::{Exclusive as X, Shared as S};
    if danger == Danger::Read {
        return Ok(Vec::new());
    }
    let var = |k: &str| target.var(k);
    let host = |m| LockKey::new("host", &target.host, m);
    let project = || LockKey::new("project", var("project"), X);
    let destructive = danger == Danger::Destructive;
    let mut keys = match target.kind {
        TargetKind::Instance => vec![host(X)?],
        TargetKind::Tenant => vec![host(S)?, project()?],
        TargetKind::Container if !var("project").is_empty() => vec![host(S)?, project()?],
        TargetKind::Container => vec![host(S)?, LockKey::new("container", var("container"), X)?],
        TargetKind::Database | TargetKind::Backup => {
            let mode = if target.kind == TargetKind::Backup && !destructive {
                S
            } else {
                X
            };
            let mut k = vec![host(S)?, LockKey::new("database", var("database"), mode)?];
            if destructive && !var("project").is_empty() {
                k.push(project()?);
            }
            k
        }
    };
    // Always taken in one order (by name).
    keys.sort();
    keys.dedup();
    Ok(keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn target(kind: TargetKind, vars: &[(&str, &str)]) -> Target {
        Target {
            kind,
            host: "i-0abc".into(),
            label: "t".into(),
            production: false,
            confirm_name: "t".into(),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn names(keys: &[LockKey]) -> Vec<String> {
        keys.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_change_locks_what_it_touches_and_a_read_nothing() {
        let tenant = target(TargetKind::Tenant, &[("project", "paiss-staging")]);
        assert!(for_target(Danger::Read, &tenant).unwrap().is_empty());
        assert_eq!(
            names(&for_target(Danger::Change, &tenant).unwrap()),
            ["host-i-0abc (shared)", "project-paiss-staging (exclusive)"]
        );
        let instance = target(TargetKind::Instance, &[("instance", "i-0abc")]);
        assert_eq!(
            names(&for_target(Danger::Change, &instance).unwrap()),
            ["host-i-0abc (exclusive)"]
        );
        let backup = target(
            TargetKind::Backup,
            &[("database", "paiss_staging"), ("project", "paiss-staging")],
        );
        assert_eq!(
            names(&for_target(Danger::Change, &backup).unwrap()),
            ["database-paiss_staging (shared)", "host-i-0abc (shared)"]
        );
        assert_eq!(
            names(&for_target(Danger::Destructive, &backup).unwrap()),
            [
                "database-paiss_staging (exclusive)",
                "host-i-0abc (shared)",
                "project-paiss-staging (exclusive)"
            ]
        );
        let db = target(TargetKind::Database, &[("database", "paiss_staging")]);
        assert_eq!(
            names(&for_target(Danger::Change, &db).unwrap()),
            ["database-paiss_staging (exclusive)", "host-i-0abc (shared)"]
        );
    }

    #[test]
    fn a_name_that_could_leave_the_lock_directory_is_refused() {
        for bad in ["../etc", "a/b", ".hidden", "", "x y", "$(id)", "a\nb"] {
            let t = target(TargetKind::Tenant, &[("project", bad)]);
            let e = for_target(Danger::Change, &t).unwrap_err();
            assert_eq!(e.name, bad);
            assert!(e.to_string().contains("cannot name a lock"), "{e}");
        }
    }
}
