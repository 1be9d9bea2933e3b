//! A leaf (it imports nothing of the crate): where jobs live on a host,
//! what a job may be named, a fleet target's job name, and the shell that
//! cancels a job. The run protocol, the fleet engine and the transports
//! all use these; keeping them here means a transport needs nothing from
//! the layers built on it.

/// The job directory on a host (under `$OPSDECK_ROOT` on the sandbox).
pub const JOBS_DIR: &str = "${OPSDECK_ROOT:-}/var/lib/opsdeck/jobs";

/// The lock directory on a host (see `jobs::locks`).
pub const LOCKS_DIR: &str = "${OPSDECK_ROOT:-}/var/lib/opsdeck/locks";

/// A job id that can go into a shell snippet unquoted: letters, digits,
/// `-` and `_`, at most 96.
pub fn valid_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 96
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The job of fleet run `run` on `host`.
pub fn target_job(run: &str, host: &str) -> RunId {
    RunId(format!("{run}-{host}"))
}

/// Kill job `job`'s whole process group; it ends with exit code 143, and
/// its lock holder records go with it (the kernel has dropped its locks). The
/// script says `OPSDECK-CANCEL done`, or `OPSDECK-CANCEL nojob` when there
/// is no such job. `job` must be a [`valid_job_id`].
pub fn cancel_script(job: &str) -> String {
    format!(
        r#"d="{JOBS_DIR}"; id='{job}'
pid=$(cat "$d/$id.pid" 2>/dev/null || echo 0)
if [ "$pid" -le 0 ]; then echo "OPSDECK-CANCEL nojob"; exit 0; fi
: > "$d/$id.cancelled"
kill -TERM -- "-$pid" 2>/dev/null || true
i=0; while kill -0 -- "-$pid" 2>/dev/null && [ "$i" -lt 30 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL -- "-$pid" 2>/dev/null || true
if [ ! -f "$d/$id.exit" ]; then echo 143 > "$d/$id.exit.tmp"; mv "$d/$id.exit.tmp" "$d/$id.exit"; fi
rm -f "{LOCKS_DIR}"/*."$id".holder
echo "OPSDECK-CANCEL done"
"#
    )
}

/// A fleet limit as SSM takes it (MaxConcurrency, MaxErrors): a number of
/// targets, or a percentage of them. Parsed once, where it is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Count(usize),
    /// 0 to 100.
    Percent(u8),
}

/// A limit that is neither a number nor a percentage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: write a number or a percentage (10 or 10%)")]
pub struct BadLimit(pub String);

impl std::str::FromStr for Limit {
    type Err = BadLimit;
    fn from_str(s: &str) -> Result<Limit, BadLimit> {
        let l = s.trim();
        let bad = || BadLimit(s.to_string());
        match l.strip_suffix('%') {
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= 100 => Ok(Limit::Percent(p)),
                _ => Err(bad()),
            },
            None => l.parse().map(Limit::Count).map_err(|_| bad()),
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Count(n) => write!(f, "{n}"),
            Limit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Limit {
    /// This limit of `total` targets, as a number of them.
    pub fn of(self, total: usize) -> usize {
        match self {
            Limit::Count(n) => n,
            Limit::Percent(p) => (total * usize::from(p)).div_ceil(100),
        }
    }
}

/// A run's id: the same text on the host (its job directory), in the
/// journal and on screen. Nothing reads a run's kind or target from it.
#[derive(
    Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for RunId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for RunId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for RunId {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl From<String> for RunId {
    fn from(s: String) -> RunId {
        RunId(s)
    }
}

impl From<&str> for RunId {
    fn from(s: &str) -> RunId {
        RunId(s.to_string())
    }
}

impl From<&String> for RunId {
    fn from(s: &String) -> RunId {
        RunId(s.clone())
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> String {
        id.0
    }
}

impl PartialEq<str> for RunId {
    fn eq(&self, o: &str) -> bool {
        self.0 == o
    }
}

impl PartialEq<&str> for RunId {
    fn eq(&self, o: &&str) -> bool {
        self.0 == *o
    }
}

impl PartialEq<String> for RunId {
    fn eq(&self, o: &String) -> bool {
        &self.0 == o
    }
}

impl PartialEq<RunId> for str {
    fn eq(&self, o: &RunId) -> bool {
        self == o.0
    }
}

impl PartialEq<RunId> for &str {
    fn eq(&self, o: &RunId) -> bool {
        *self == o.0
    }
}

impl PartialEq<RunId> for String {
    fn eq(&self, o: &RunId) -> bool {
        *self == o.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A run id is its text in the journal: journals written before the
    /// type existed read the same.
    #[test]
    fn a_run_id_is_a_plain_string_in_json() {
        let id: RunId = serde_json::from_str("\"20260302-100000-deploy-1\"").unwrap();
        assert_eq!(id, "20260302-100000-deploy-1");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"20260302-100000-deploy-1\""
        );
        assert_eq!(target_job(&id, "i-0abc"), "20260302-100000-deploy-1-i-0abc");
    }
}
