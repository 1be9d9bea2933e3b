//! The run protocol: detached jobs on a host, driven by short scripts over
//! any [`Transport`].
//!
//! * **start** writes the script to `<jobs>/<id>.sh` and launches it with
//!   `setsid -f` (its own session and process group), output to `<id>.log`,
//!   exit code to `<id>.exit` (written atomically with `mv`).
//! * **tail** returns the log from a byte offset, base64-encoded so that byte
//!   counts are exact over any transport, waiting on the host up to the
//!   long-poll time for new bytes or the exit file.
//! * **start** with locks takes them first (`jobs::locks`): a held lock
//!   refuses the start before anything is written.
//! * **cancel** kills the whole process group (TERM, then KILL) and records 143.
//! * **list** enumerates the jobs on a host (for reattach after a crash).
//!
//! `<jobs>` is `${OPSDECK_ROOT:-}/var/lib/opsdeck/jobs`: `/var/lib/opsdeck/jobs`
//! on a real host, the same path inside a sandbox host's directory tree.

use crate::transport::{PollPolicy, Transport, TransportError};
use base64::Engine as _;
use std::sync::Arc;
use std::time::Duration;

pub use crate::jobs::locks::JobLocks;
use crate::jobs::locks::{Locked, parse_refusal};
pub use crate::jobs::names::JOBS_DIR;
use crate::jobs::names::LOCKS_DIR;

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("invalid job id {0:?} (letters, digits, '-' and '_' only)")]
    BadJobId(String),
    #[error("job {job} on {host}: {message}")]
    Job {
        host: String,
        job: String,
        message: String,
    },
    #[error("refused: {0}")]
    Locked(Locked),
    #[error("unexpected answer from {host}: {detail}")]
    Garbled { host: String, detail: String },
}

/// One chunk of a job's log and what is known of its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailChunk {
    pub data: Vec<u8>,
    /// Offset to ask for next time.
    pub next_offset: u64,
    /// Size of the whole log on the host when the chunk was read.
    pub log_size: u64,
    /// Exit code, once the job has ended.
    pub exit_code: Option<i32>,
    pub cancelled: bool,
    /// Whether the job's process group still has a live leader.
    pub alive: bool,
}

impl TailChunk {
    /// The job has ended and every byte of its log has been read.
    pub fn is_complete(&self) -> bool {
        self.exit_code.is_some() && self.next_offset >= self.log_size
    }
    /// The job is gone without an exit code (host rebooted, killed with -9).
    pub fn is_lost(&self) -> bool {
        self.exit_code.is_none() && !self.alive && self.next_offset >= self.log_size
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    pub id: String,
    pub exit_code: Option<i32>,
    pub log_size: u64,
    pub started_epoch: i64,
    pub alive: bool,
    pub cancelled: bool,
    /// Who started it, from the job's `<id>.owner` (None for a job started
    /// without one: a fleet target through SSM, an older opsdeck).
    pub owner: Option<crate::jobs::locks::HolderRecord>,
}

impl JobInfo {
    /// How the job ended (None while it runs).
    pub fn outcome(&self) -> Option<crate::store::journal::RunOutcome> {
        use crate::store::journal::RunOutcome as O;
        match (self.exit_code, self.alive) {
            (Some(_), _) if self.cancelled => Some(O::Cancelled),
            (Some(0), _) => Some(O::Succeeded),
            (Some(_), _) => Some(O::Failed),
            (None, true) => None,
            (None, false) => Some(O::Lost),
        }
    }
    pub fn in_flight(&self) -> bool {
        self.exit_code.is_none() && self.alive
    }
}

/// `script` as base64 in lines of 76, for a quoted here-document.
pub fn base64_lines(script: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(script.as_bytes());
    let mut wrapped = String::with_capacity(b64.len() + b64.len() / 76 + 1);
    for (i, ch) in b64.chars().enumerate() {
        if i > 0 && i % 76 == 0 {
            wrapped.push('\n');
        }
        wrapped.push(ch);
    }
    wrapped
}

#[derive(Clone)]
pub struct RunProtocol {
    transport: Arc<dyn Transport>,
}

const SHORT: Duration = Duration::from_secs(30);

fn check_id(id: &str) -> Result<(), ProtocolError> {
    if crate::jobs::names::valid_job_id(id) {
        Ok(())
    } else {
        Err(ProtocolError::BadJobId(id.to_string()))
    }
}

impl RunProtocol {
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self { transport }
    }

    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    pub fn poll_policy(&self) -> PollPolicy {
        self.transport.poll_policy()
    }

    /// The exact script `start` sends for `script` (shown in previews),
    /// taking `locks` first when there are any.
    pub fn start_script(job: &str, script: &str, locks: Option<&JobLocks>) -> String {
        let wrapped = base64_lines(script);
        let take = locks.map(JobLocks::start_lines).unwrap_or_default();
        let record = locks.map(JobLocks::record_lines).unwrap_or_default();
        // The leader holds the locks (inherited from this script) until
        // the job's end; the job itself runs with them closed, so nothing
        // it leaves behind can keep them.
        format!(
            r#"set -eu
d="{JOBS_DIR}"
id='{job}'
mkdir -p "$d"
if [ -e "$d/$id.sh" ]; then echo "opsdeck: job $id already exists" >&2; exit 3; fi
fds=""; L="{LOCKS_DIR}"
{take}base64 -d > "$d/$id.sh.tmp" <<'OPSDECK_SCRIPT'
{wrapped}
OPSDECK_SCRIPT
mv "$d/$id.sh.tmp" "$d/$id.sh"
: > "$d/$id.log"
{record}setsid -f bash -c 'j=$1; L=$2; shift 2; echo $$ > "$j.pid.tmp"; mv "$j.pid.tmp" "$j.pid"; (for f in "$@"; do eval "exec $f>&-"; done; exec bash "$j.sh") >> "$j.log" 2>&1 < /dev/null; e=$?; rm -f "$L"/*."${{j##*/}}".holder; echo $e > "$j.exit.tmp"; mv "$j.exit.tmp" "$j.exit"' opsdeck-job "$d/$id" "$L" $fds < /dev/null > /dev/null 2>&1
i=0
while [ ! -s "$d/$id.pid" ] && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i+1)); done
printf 'OPSDECK-STARTED %s %s\n' "$id" "$(cat "$d/$id.pid" 2>/dev/null || echo 0)"
"#
        )
    }

    /// Launch `script` detached on `host` as job `job`. Returns the job's pid
    /// (which is also its process group id).
    pub async fn start(&self, host: &str, job: &str, script: &str) -> Result<u32, ProtocolError> {
        self.start_locked(host, job, script, None).await
    }

    /// [`start`](Self::start), holding `locks` for the job's whole life:
    /// refused with [`ProtocolError::Locked`] (nothing written, nothing
    /// run) when one is held.
    pub async fn start_locked(
        &self,
        host: &str,
        job: &str,
        script: &str,
        locks: Option<&JobLocks>,
    ) -> Result<u32, ProtocolError> {
        check_id(job)?;
        let out = self
            .transport
            .exec(host, &Self::start_script(job, script, locks), SHORT)
            .await?;
        if out.exit_code == 0
            && let Some(locked) = parse_refusal(host, &out.stdout)
        {
            return Err(ProtocolError::Locked(locked));
        }
        if out.exit_code != 0 {
            return Err(ProtocolError::Job {
                host: host.into(),
                job: job.into(),
                message: format!(
                    "start failed (exit {}): {}",
                    out.exit_code,
                    out.stderr.trim()
                ),
            });
        }
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with("OPSDECK-STARTED "))
            .ok_or_else(|| ProtocolError::Garbled {
                host: host.into(),
                detail: format!("no start marker in {:?}", out.stdout),
            })?;
        let pid = line
            .split_whitespace()
            .nth(2)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        if pid == 0 {
            return Err(ProtocolError::Job {
                host: host.into(),
                job: job.into(),
                message: "the job did not report its pid".into(),
            });
        }
        Ok(pid)
    }

    /// Whether `locks` could all be taken on `host` now (takes none).
    pub async fn probe_locks(&self, host: &str, locks: &JobLocks) -> Result<(), ProtocolError> {
        let out = self
            .transport
            .exec(host, &locks.probe_script(), SHORT)
            .await?;
        if let Some(locked) = parse_refusal(host, &out.stdout) {
            return Err(ProtocolError::Locked(locked));
        }
        if out.exit_code != 0 || !out.stdout.contains("OPSDECK-FREE") {
            return Err(ProtocolError::Garbled {
                host: host.into(),
                detail: format!(
                    "lock probe answered {:?} {:?}",
                    out.stdout,
                    out.stderr.trim()
                ),
            });
        }
        Ok(())
    }

    /// The records beside locks `names` on `host` (checked lock names),
    /// and whether their runs are alive. Takes nothing.
    pub async fn inspect_locks(
        &self,
        host: &str,
        names: &[String],
    ) -> Result<Vec<crate::jobs::locks::LockState>, ProtocolError> {
        let out = self
            .transport
            .exec(host, &crate::jobs::locks::inspect_script(names), SHORT)
            .await?;
        crate::jobs::locks::parse_inspect(&out.stdout).ok_or_else(|| ProtocolError::Garbled {
            host: host.into(),
            detail: format!(
                "lock listing answered {:?} {:?}",
                out.stdout,
                out.stderr.trim()
            ),
        })
    }

    /// Remove the records beside locks `names` that no run holds.
    pub async fn unlock(
        &self,
        host: &str,
        names: &[String],
    ) -> Result<crate::jobs::locks::Unlocked, ProtocolError> {
        let out = self
            .transport
            .exec(host, &crate::jobs::locks::unlock_script(names), SHORT)
            .await?;
        crate::jobs::locks::parse_unlock(&out.stdout).ok_or_else(|| ProtocolError::Garbled {
            host: host.into(),
            detail: format!("unlock answered {:?} {:?}", out.stdout, out.stderr.trim()),
        })
    }

    pub fn tail_script(job: &str, offset: u64, policy: &PollPolicy) -> String {
        let wait_ticks = (policy.long_poll.as_millis() / 100).max(1);
        let settle_ticks = policy.settle.as_millis() / 100;
        let max = policy.max_chunk;
        format!(
            r#"d="{JOBS_DIR}"
id='{job}'; off={offset}; max={max}; waitt={wait_ticks}; settle={settle_ticks}
f="$d/$id.log"
if [ ! -e "$d/$id.sh" ]; then echo "OPSDECK-NOJOB $id"; exit 0; fi
i=0
while :; do
  [ -f "$d/$id.exit" ] && break
  size=$(stat -c %s "$f" 2>/dev/null || echo 0)
  if [ "$size" -gt "$off" ]; then
    j=0; while [ "$j" -lt "$settle" ] && [ ! -f "$d/$id.exit" ]; do sleep 0.1; j=$((j+1)); done
    break
  fi
  [ "$i" -ge "$waitt" ] && break
  sleep 0.1; i=$((i+1))
done
# Order matters: liveness first, then the exit file (written before the job's
# leader exits), then the size (final once the exit file exists).
alive=0; pid=$(cat "$d/$id.pid" 2>/dev/null || echo 0)
if [ "$pid" -gt 0 ] && kill -0 "$pid" 2>/dev/null; then alive=1; fi
ex=-; [ -f "$d/$id.exit" ] && ex=$(cat "$d/$id.exit")
c=0; [ -f "$d/$id.cancelled" ] && c=1
size=$(stat -c %s "$f" 2>/dev/null || echo 0)
printf 'OPSDECK-TAIL %s %s %s %s\n' "$size" "$ex" "$c" "$alive"
tail -c +$((off+1)) "$f" 2>/dev/null | head -c "$max" | base64 -w0
echo
"#
        )
    }

    /// Read the job's log from `offset`, waiting on the host (long-poll) for
    /// new bytes or the job's end.
    pub async fn tail(
        &self,
        host: &str,
        job: &str,
        offset: u64,
    ) -> Result<TailChunk, ProtocolError> {
        check_id(job)?;
        let policy = self.transport.poll_policy();
        let script = Self::tail_script(job, offset, &policy);
        let out = self
            .transport
            .exec(host, &script, policy.long_poll + SHORT)
            .await?;
        parse_tail(host, job, offset, &out.stdout)
    }

    /// Kill the job's whole process group; the job ends with exit code 143.
    pub async fn cancel(&self, host: &str, job: &str) -> Result<(), ProtocolError> {
        check_id(job)?;
        let script = crate::jobs::names::cancel_script(job);
        let out = self.transport.exec(host, &script, SHORT).await?;
        if out.stdout.contains("OPSDECK-CANCEL nojob") {
            return Err(ProtocolError::Job {
                host: host.into(),
                job: job.into(),
                message: "no such job to cancel".into(),
            });
        }
        if !out.stdout.contains("OPSDECK-CANCEL done") {
            return Err(ProtocolError::Garbled {
                host: host.into(),
                detail: format!("cancel answered {:?} {:?}", out.stdout, out.stderr),
            });
        }
        Ok(())
    }

    /// Every job on the host, oldest first.
    pub async fn list(&self, host: &str) -> Result<Vec<JobInfo>, ProtocolError> {
        let script = format!(
            r#"d="{JOBS_DIR}"
[ -d "$d" ] || exit 0
for s in "$d"/*.sh; do
  [ -e "$s" ] || continue
  id=$(basename "$s" .sh)
  ex=-; [ -f "$d/$id.exit" ] && ex=$(cat "$d/$id.exit")
  size=$(stat -c %s "$d/$id.log" 2>/dev/null || echo 0)
  started=$(stat -c %Y "$s")
  c=0; [ -f "$d/$id.cancelled" ] && c=1
  alive=0; pid=$(cat "$d/$id.pid" 2>/dev/null || echo 0)
  if [ ! -f "$d/$id.exit" ] && [ "$pid" -gt 0 ] && kill -0 "$pid" 2>/dev/null; then alive=1; fi
  o=-; [ -s "$d/$id.owner" ] && o=$(head -c 4096 "$d/$id.owner" | base64 -w0)
  printf 'OPSDECK-JOB %s %s %s %s %s %s %s\n' "$id" "$ex" "$size" "$started" "$alive" "$c" "$o"
done
"#
        );
        let out = self.transport.exec(host, &script, SHORT).await?;
        let mut jobs = Vec::new();
        for line in out.stdout.lines() {
            let Some(rest) = line.strip_prefix("OPSDECK-JOB ") else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() != 7 {
                return Err(ProtocolError::Garbled {
                    host: host.into(),
                    detail: line.into(),
                });
            }
            jobs.push(JobInfo {
                id: f[0].to_string(),
                exit_code: f[1].parse().ok(),
                log_size: f[2].parse().unwrap_or(0),
                started_epoch: f[3].parse().unwrap_or(0),
                alive: f[4] == "1",
                cancelled: f[5] == "1",
                owner: (f[6] != "-").then(|| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(f[6])
                        .unwrap_or_default();
                    crate::jobs::locks::HolderRecord::read(f[0], &bytes)
                }),
            });
        }
        jobs.sort_by(|a, b| (a.started_epoch, &a.id).cmp(&(b.started_epoch, &b.id)));
        Ok(jobs)
    }
}

fn parse_tail(
    host: &str,
    job: &str,
    offset: u64,
    stdout: &str,
) -> Result<TailChunk, ProtocolError> {
    if stdout.contains("OPSDECK-NOJOB") {
        return Err(ProtocolError::Job {
            host: host.into(),
            job: job.into(),
            message: "no such job on the host".into(),
        });
    }
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.starts_with("OPSDECK-TAIL "));
    let header = lines.next().ok_or_else(|| ProtocolError::Garbled {
        host: host.into(),
        detail: format!("no tail marker in {:?}", truncate(stdout)),
    })?;
    let f: Vec<&str> = header.split_whitespace().collect();
    if f.len() != 5 {
        return Err(ProtocolError::Garbled {
            host: host.into(),
            detail: header.into(),
        });
    }
    let log_size: u64 = f[1].parse().unwrap_or(0);
    let exit_code = f[2].parse::<i32>().ok();
    let body = lines.next().unwrap_or("").trim();
    let data = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| ProtocolError::Garbled {
            host: host.into(),
            detail: format!("bad base64 chunk: {e}"),
        })?;
    Ok(TailChunk {
        next_offset: offset + data.len() as u64,
        data,
        log_size,
        exit_code,
        cancelled: f[3] == "1",
        alive: f[4] == "1",
    })
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_tail_answer_and_counts_bytes_exactly() {
        let out = "OPSDECK-TAIL 10 0 0 0\naGVsbG8K\n";
        let c = parse_tail("h", "j", 4, out).unwrap();
        assert_eq!(c.data, b"hello\n");
        assert_eq!(c.next_offset, 10);
        assert_eq!(c.exit_code, Some(0));
        assert!(c.is_complete());
        let running = parse_tail("h", "j", 0, "OPSDECK-TAIL 0 - 0 1\n\n").unwrap();
        assert_eq!(running.exit_code, None);
        assert!(!running.is_complete() && !running.is_lost());
    }

    #[test]
    fn refuses_job_ids_that_could_reach_a_shell() {
        for bad in ["", "a b", "x';rm -rf /", "$(id)", "a/b", "\u{0}"] {
            assert!(check_id(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_id("run-20260101-abc_1").is_ok());
    }
}
