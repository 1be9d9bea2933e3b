//! Locks on the host, taken by a job's own start: one change at a time per
//! target, whoever starts it, from whichever opsdeck.
//!
//! Where they live: `<locks>/<name>.lock` on the run's host, held with
//! `flock` by the job's detached leader for its whole life. The start
//! script takes them before it writes the job (a refusal leaves nothing
//! behind and costs no extra call: it is the start's own answer). The
//! kernel drops a lock when its holder dies, however it dies (exit,
//! failure, cancel, timeout, kill -9, reboot), so a lock can never outlive
//! its job. Beside each lock, `<name>.<run>.holder` says who holds it (a
//! [`Holder`] as one JSON line); the leader removes it at the end. A
//! record left by a job that died without its cleanup is stale (its
//! leader no longer holds `<jobs>/<run>.alive`): the next
//! run that gets the lock removes it and says so in its output. A record
//! opsdeck cannot read, or one from a newer opsdeck, is never taken for
//! free: the start is refused and the record shown.
//!
//! `<locks>` is `${OPSDECK_ROOT:-}/var/lib/opsdeck/locks`.

use crate::runbook::locks::LockKey;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::jobs::names::LOCKS_DIR;

/// The version of the holder record this opsdeck writes and reads.
pub const RECORD_VERSION: u32 = 1;

/// Who holds a lock: one line of JSON beside it, `v` first (the start
/// script checks the version with `head -c`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub v: u32,
    pub run: String,
    pub who: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    pub runbook: String,
    pub target: String,
    pub since: DateTime<Utc>,
}

/// A holder record as found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderRecord {
    Known(Holder),
    /// Written by a newer opsdeck: its version.
    Newer {
        run: String,
        version: u64,
    },
    /// Not a record this opsdeck can read: its run (from the file name)
    /// and the start of its text.
    Garbage {
        run: String,
        text: String,
    },
}

impl HolderRecord {
    /// The record of `run`'s file, `bytes` as found.
    pub fn read(run: &str, bytes: &[u8]) -> HolderRecord {
        let text = String::from_utf8_lossy(bytes);
        let garbage = || HolderRecord::Garbage {
            run: run.to_string(),
            text: text.chars().take(60).collect::<String>().trim().to_string(),
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text.trim()) else {
            return garbage();
        };
        match value.get("v").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(RECORD_VERSION) => serde_json::from_value(value)
                .map(HolderRecord::Known)
                .unwrap_or_else(|_| garbage()),
            Some(v) if v > u64::from(RECORD_VERSION) => HolderRecord::Newer {
                run: run.to_string(),
                version: v,
            },
            _ => garbage(),
        }
    }

    /// The holder's run, as far as it is known.
    pub fn run(&self) -> &str {
        match self {
            HolderRecord::Known(h) => &h.run,
            HolderRecord::Newer { run, .. } | HolderRecord::Garbage { run, .. } => run,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            HolderRecord::Known(h) => format!(
                "{} — `{}` on {}, run {}, since {}",
                h.who,
                h.runbook,
                h.target,
                h.run,
                h.since.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            HolderRecord::Newer { run, version } => format!(
                "run {run}, by a newer opsdeck (record v{version}): not taken for free; update opsdeck"
            ),
            HolderRecord::Garbage { run, text } => format!(
                "an unreadable lock record ({run}.holder: {text:?}): not taken for free; remove it once you know no run holds it"
            ),
        }
    }
}

/// A start refused because a lock is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub host: String,
    /// The lock's name.
    pub key: String,
    pub holders: Vec<HolderRecord>,
}

impl Locked {
    /// The run holding the lock, when its record says (to follow it).
    pub fn holder_run(&self) -> Option<&str> {
        self.holders.iter().find_map(|h| match h {
            HolderRecord::Known(h) => Some(h.run.as_str()),
            _ => None,
        })
    }
}

impl std::fmt::Display for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {} is held by ", self.key, self.host)?;
        if self.holders.is_empty() {
            return f.write_str("a run that is starting or ending (no holder record yet)");
        }
        let all: Vec<String> = self.holders.iter().map(HolderRecord::describe).collect();
        f.write_str(&all.join("; "))
    }
}

/// What the start script prints when a lock is held: `OPSDECK-LOCKED
/// <name>`, then `OPSDECK-HOLDER <run> <base64 record>` per record.
pub fn parse_refusal(host: &str, stdout: &str) -> Option<Locked> {
    let mut lines = stdout.lines();
    let key = lines.find_map(|l| l.strip_prefix("OPSDECK-LOCKED "))?;
    let holders = lines
        .filter_map(|l| l.strip_prefix("OPSDECK-HOLDER "))
        .map(|rest| {
            let (run, b64) = rest.split_once(' ').unwrap_or((rest, ""));
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap_or_else(|_| b64.as_bytes().to_vec());
            HolderRecord::read(run, &bytes)
        })
        .collect();
    Some(Locked {
        host: host.to_string(),
        key: key.trim().to_string(),
        holders,
    })
}

/// The locks a job takes at its start (none for a read runbook), and the
/// record of who started it: beside each lock while it is held, and as the
/// job's `<id>.owner` for as long as the job's files are kept (what
/// everyone's Runs list shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLocks {
    pub keys: Vec<LockKey>,
    pub holder: Holder,
}

/// The shell functions the start and probe scripts share. Expects `$d`
/// (the jobs directory); sets `$L` and `$fds`. `opsdeck_lock KEY MODE
/// TAKE` takes a lock with `flock -n` or exits 0 after printing the
/// refusal; with TAKE=1 it removes stale records, saying so in `$tookover`.
const LOCK_FUNCTIONS: &str = r#"L="${OPSDECK_ROOT:-}/var/lib/opsdeck/locks"
mkdir -p "$L"
fds=""; tookover=""
opsdeck_held() {
  printf 'OPSDECK-LOCKED %s\n' "$1"
  for r in "$L/$1".*.holder; do
    [ -e "$r" ] || continue
    run=${r#"$L/$1."}; run=${run%.holder}
    printf 'OPSDECK-HOLDER %s %s\n' "$run" "$(base64 -w0 < "$r")"
  done
  exit 0
}
opsdeck_live() {
  [ -e "$d/$1.alive" ] || return 1
  exec {t}>>"$d/$1.alive"
  if flock -n -x "$t"; then exec {t}>&-; return 1; fi
  exec {t}>&-
}
opsdeck_lock() {
  exec {fd}>>"$L/$1.lock"
  flock -n "-$2" "$fd" || opsdeck_held "$1"
  for r in "$L/$1".*.holder; do
    [ -e "$r" ] || continue
    case "$(head -c 7 "$r")" in '{"v":1,') ;; *) opsdeck_held "$1" ;; esac
    run=${r#"$L/$1."}; run=${run%.holder}
    if [ "$2" = s ] && opsdeck_live "$run"; then continue; fi
    if [ "$3" = 1 ]; then
      who=$(sed -n 's/.*"who":"\([^"]*\)".*/\1/p' "$r")
      rb=$(sed -n 's/.*"runbook":"\([^"]*\)".*/\1/p' "$r")
      tookover="$tookover==> opsdeck: took over a stale lock: $1 was held by run $run ($who, $rb), which is no longer running (killed, or the host restarted)
"
      rm -f "$r"
    fi
  done
  fds="$fds $fd"
}
"#;

impl JobLocks {
    /// Shell lines taking every lock (TAKE=1 at a start, 0 for a probe).
    fn take_lines(&self, take: bool) -> String {
        let mut s = String::from(LOCK_FUNCTIONS);
        for k in &self.keys {
            s.push_str(&format!(
                "opsdeck_lock '{}' {} {}\n",
                k.name(),
                k.mode().flag(),
                u8::from(take)
            ));
        }
        s
    }

    /// The start's part before the job is written: the locks taken (or
    /// the start refused).
    pub fn start_lines(&self) -> String {
        self.take_lines(true)
    }

    /// The start's part once the job's files exist: stale takeovers in the
    /// job's log, the holder record beside each lock.
    pub fn record_lines(&self) -> String {
        let record = serde_json::to_string(&self.holder).unwrap_or_default();
        let b64 = base64::engine::general_purpose::STANDARD.encode(record.as_bytes());
        // The leader also holds `<id>.alive` for its life: whether a job
        // still runs is a lock too, free once it is gone (a zombie or a
        // reused pid cannot pass for it).
        let mut s = format!(
            "exec {{fd}}>>\"$d/$id.alive\"; flock -n -x \"$fd\"; fds=\"$fds $fd\"\nprintf '%s' \"$tookover\" >> \"$d/$id.log\"\nh='{b64}'\n"
        );
        s.push_str("printf '%s' \"$h\" | base64 -d > \"$d/$id.owner\"\n");
        for k in &self.keys {
            s.push_str(&format!(
                "printf '%s' \"$h\" | base64 -d > \"$L/{}.$id.holder\"\n",
                k.name()
            ));
        }
        s
    }

    /// A script that says `OPSDECK-FREE` when every lock could be taken
    /// now, or the refusal (takes nothing, changes nothing).
    pub fn probe_script(&self) -> String {
        format!(
            "set -eu\nd=\"{}\"\n{}echo OPSDECK-FREE\n",
            crate::jobs::names::JOBS_DIR,
            self.take_lines(false)
        )
    }
}

/// A holder record as `opsdeck unlock` finds it: whether its run is alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRecord {
    pub record: HolderRecord,
    /// Its run's leader still holds `<run>.alive`: the lock is really held.
    pub alive: bool,
}

/// One lock on its host and the records beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockState {
    pub name: String,
    pub records: Vec<FoundRecord>,
}

impl LockState {
    /// Held by a run that is still running (unlock never breaks that).
    pub fn live(&self) -> Option<&HolderRecord> {
        self.records.iter().find(|r| r.alive).map(|r| &r.record)
    }
}

fn quoted_names(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A script listing the records beside locks `names` (checked lock names)
/// and whether each one's run is alive; takes nothing, changes nothing.
pub fn inspect_script(names: &[String]) -> String {
    format!(
        r#"d="{jobs}"; L="{LOCKS_DIR}"
for n in {names}; do
  printf 'OPSDECK-LOCK %s
' "$n"
  for r in "$L/$n".*.holder; do
    [ -e "$r" ] || continue
    run=${{r#"$L/$n."}}; run=${{run%.holder}}
    alive=0
    if [ -e "$d/$run.alive" ]; then
      exec {{t}}>>"$d/$run.alive"
      flock -n -x "$t" || alive=1
      exec {{t}}>&-
    fi
    printf 'OPSDECK-HOLDER %s %s %s
' "$run" "$alive" "$(base64 -w0 < "$r")"
  done
done
echo OPSDECK-END
"#,
        jobs = crate::jobs::names::JOBS_DIR,
        names = quoted_names(names)
    )
}

pub fn parse_inspect(stdout: &str) -> Option<Vec<LockState>> {
    if !stdout.contains("OPSDECK-END") {
        return None;
    }
    let mut locks: Vec<LockState> = Vec::new();
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("OPSDECK-LOCK ") {
            locks.push(LockState {
                name: name.trim().to_string(),
                records: vec![],
            });
        } else if let Some(rest) = line.strip_prefix("OPSDECK-HOLDER ") {
            let f: Vec<&str> = rest.splitn(3, ' ').collect();
            let (run, alive, b64) = (f[0], f.get(1) == Some(&"1"), f.get(2).unwrap_or(&""));
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap_or_default();
            locks.last_mut()?.records.push(FoundRecord {
                record: HolderRecord::read(run, &bytes),
                alive,
            });
        }
    }
    Some(locks)
}

/// A script removing the records beside locks `names`, each only while it
/// holds that lock exclusively (so no run holds it, and none can start and
/// write a record meanwhile): `OPSDECK-REMOVED <name> <run>` per record,
/// `OPSDECK-BUSY <name>` for a lock a run holds.
pub fn unlock_script(names: &[String]) -> String {
    format!(
        r#"L="{LOCKS_DIR}"
for n in {names}; do
  set -- "$L/$n".*.holder
  [ -e "$1" ] || continue
  exec {{fd}}>>"$L/$n.lock"
  if flock -n -x "$fd"; then
    for r in "$L/$n".*.holder; do
      [ -e "$r" ] || continue
      run=${{r#"$L/$n."}}; run=${{run%.holder}}
      rm -f "$r" && printf 'OPSDECK-REMOVED %s %s
' "$n" "$run"
    done
  else
    printf 'OPSDECK-BUSY %s
' "$n"
  fi
  exec {{fd}}>&-
done
echo OPSDECK-END
"#,
        names = quoted_names(names)
    )
}

/// What an unlock did: the records removed (lock, run), the locks a run
/// still held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unlocked {
    pub removed: Vec<(String, String)>,
    pub busy: Vec<String>,
}

pub fn parse_unlock(stdout: &str) -> Option<Unlocked> {
    if !stdout.contains("OPSDECK-END") {
        return None;
    }
    let mut u = Unlocked::default();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("OPSDECK-REMOVED ") {
            let (n, run) = rest.split_once(' ').unwrap_or((rest, ""));
            u.removed.push((n.to_string(), run.to_string()));
        } else if let Some(n) = line.strip_prefix("OPSDECK-BUSY ") {
            u.busy.push(n.to_string());
        }
    }
    Some(u)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn holder() -> Holder {
        Holder {
            v: 1,
            run: "run-1".into(),
            who: "alice".into(),
            identity: None,
            runbook: "deploy".into(),
            target: "paiss-staging".into(),
            since: "2026-03-02T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_record_starts_with_its_version_and_reads_back() {
        let json = serde_json::to_string(&holder()).unwrap();
        assert!(json.starts_with(r#"{"v":1,"#), "{json}");
        assert_eq!(
            HolderRecord::read("run-1", json.as_bytes()),
            HolderRecord::Known(holder())
        );
    }

    #[test]
    fn garbage_and_newer_records_are_named_as_such() {
        let g = HolderRecord::read("run-9", b"\x00\x01 not json");
        assert!(matches!(g, HolderRecord::Garbage { .. }), "{g:?}");
        assert!(g.describe().contains("unreadable"), "{}", g.describe());
        let n = HolderRecord::read("run-8", br#"{"v":7,"run":"run-8"}"#);
        assert_eq!(
            n,
            HolderRecord::Newer {
                run: "run-8".into(),
                version: 7
            }
        );
        assert!(n.describe().contains("newer opsdeck"));
        let missing = HolderRecord::read("run-7", br#"{"v":1,"run":"run-7"}"#);
        assert!(matches!(missing, HolderRecord::Garbage { .. }));
    }

    #[test]
    fn a_lock_listing_and_an_unlock_answer_read_back() {
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_string(&holder()).unwrap());
        let out = format!(
            "OPSDECK-LOCK project-p\nOPSDECK-HOLDER run-1 1 {b64}\nOPSDECK-HOLDER x 0 AAc=\nOPSDECK-LOCK database-d\nOPSDECK-END\n"
        );
        let l = parse_inspect(&out).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].live(), Some(&HolderRecord::Known(holder())));
        assert!(matches!(
            l[0].records[1].record,
            HolderRecord::Garbage { .. }
        ));
        assert!(!l[0].records[1].alive && l[1].records.is_empty());
        assert!(parse_inspect("OPSDECK-LOCK a\n").is_none(), "cut short");
        let u = parse_unlock("OPSDECK-REMOVED project-p x\nOPSDECK-BUSY host-h\nOPSDECK-END\n")
            .unwrap();
        assert_eq!(u.removed, [("project-p".to_string(), "x".to_string())]);
        assert_eq!(u.busy, ["host-h"]);
    }

    #[test]
    fn a_refusal_names_the_holder() {
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_string(&holder()).unwrap());
        let out = format!("OPSDECK-LOCKED project-paiss-staging\nOPSDECK-HOLDER run-1 {b64}\n");
        let l = parse_refusal("i-0abc", &out).unwrap();
        assert_eq!(l.holder_run(), Some("run-1"));
        let text = l.to_string();
        assert!(
            text.contains("project-paiss-staging on i-0abc is held by alice — `deploy` on paiss-staging, run run-1, since 2026-03-02 10:00:00 UTC"),
            "{text}"
        );
        assert!(parse_refusal("h", "OPSDECK-STARTED x 1\n").is_none());
    }
}
