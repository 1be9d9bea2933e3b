//! The audit journal: one JSON line per event, appended under the state dir
//! with owner-only permissions. A run writes a `start` line before anything
//! is sent and a `finish` line when it ends; its script (masked) and full
//! output live next to it in `runs/<id>/`. Appends take an exclusive lock,
//! and a line torn by a crash is fenced off with a newline before the next
//! append, so a crash mid-write never corrupts earlier entries: readers skip
//! the torn line and keep everything else.

use crate::runbook::Danger;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Who runs things, where (goes into every start record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// The local user.
    pub who: String,
    /// On AWS, the caller ARN.
    pub identity: Option<String>,
    pub context: String,
}

impl Operator {
    /// `OPSDECK_OPERATOR` names the operator when set (two operators on
    /// one machine, a shared account); else the local user.
    pub fn local(context: &str, identity: Option<String>) -> Operator {
        let who = std::env::var("OPSDECK_OPERATOR")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .map(|u| u.trim().to_string())
            .map(Ok)
            .unwrap_or_else(|| std::env::var("USER"))
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| {
                let out = std::process::Command::new("id").arg("-un").output().ok()?;
                let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
                (!name.is_empty()).then_some(name)
            })
            .unwrap_or_else(|| "unknown".into());
        Operator {
            who,
            identity,
            context: context.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub run: crate::jobs::names::RunId,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub operator: Operator,
    pub runbook: String,
    pub title: String,
    pub danger: Danger,
    pub production: bool,
    /// Masked values.
    pub params: Vec<(String, String)>,
    /// sha256 of the script sent.
    pub digest: String,
    pub target: String,
    /// What the target is: tenant, instance, container, backup, database.
    #[serde(default)]
    pub target_kind: String,
    pub host: String,
    /// The job's name on the host (the run protocol's job directory).
    pub job: String,
    pub on_failure: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    pub run: crate::jobs::names::RunId,
    pub at: DateTime<Utc>,
    pub status: RunOutcome,
    pub exit_code: Option<i32>,
    /// The script's own last words: `==> opsdeck result: …`.
    pub result: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// True when this console picked the run up after a restart.
    pub reattached: bool,
    /// Figures the script reported (`report KEY VALUE`): row counts, sizes…
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub report: std::collections::BTreeMap<String, String>,
}

/// How a run ended, in the words the journal has always kept (old
/// journals read as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    Succeeded,
    /// The script exited non-zero (a step or a pre-check failed).
    Failed,
    Cancelled,
    /// A step failed and the way back kept data rather than destroy it (a
    /// restore of a database that did not exist before: the restored copy
    /// stays). Still a failure; nothing the operator had is gone.
    #[serde(rename = "failed-data-kept")]
    DataKept,
    /// The job vanished: the outcome on the host is unknown.
    Lost,
    /// The transport or the protocol gave up.
    Error,
    /// Never started: a lock it needs is held by another run.
    Refused,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::DataKept => "failed-data-kept",
            RunOutcome::Lost => "lost",
            RunOutcome::Error => "error",
            RunOutcome::Refused => "refused",
        }
    }
}

/// `outcome == "succeeded"`: the journal's word for it.
impl PartialEq<&str> for RunOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Start(Box<Started>),
    Finish(Finished),
    /// A drill's report (see `drill.rs`).
    Drill(Box<crate::drill::report::Report>),
}

/// A run as the journal knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub start: Started,
    pub finish: Option<Finished>,
}

impl Entry {
    pub fn status(&self) -> &str {
        self.finish
            .as_ref()
            .map(|f| f.status.as_str())
            .unwrap_or("in flight")
    }
}

#[derive(Debug, Clone)]
pub struct Journal {
    root: PathBuf,
}

fn private_dir(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(p)?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700))
}

impl Journal {
    /// The journal under `state_dir` (created on first write).
    pub fn new(state_dir: &Path) -> Journal {
        Journal {
            root: state_dir.join("journal"),
        }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn file(&self) -> PathBuf {
        self.root.join("journal.jsonl")
    }
    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.root.join("runs").join(run)
    }
    pub fn output_path(&self, run: &str) -> PathBuf {
        self.run_dir(run).join("output.log")
    }
    pub fn progress_path(&self, run: &str) -> PathBuf {
        self.run_dir(run).join("progress")
    }

    /// The right to follow run `run` to its end and record its finish: held
    /// (an advisory lock) by the one opsdeck that does, released when the
    /// file is dropped or that process dies. `None`: another opsdeck (a
    /// console or `opsdeck attach`) follows it now.
    pub fn follow(&self, run: &str) -> std::io::Result<Option<std::fs::File>> {
        let dir = self.run_dir(run);
        private_dir(&dir)?;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("follow.lock"))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Close the records of `context` that an opsdeck started without a job
    /// on a host (a shell, a forward, an API change) and could not end
    /// because it stopped: unfinished, and nobody holds their follow lock.
    /// They end as lost. Returns their titles.
    pub fn close_orphans(&self, context: &str) -> std::io::Result<Vec<String>> {
        let mut closed = Vec::new();
        for e in self.entries().0 {
            if e.finish.is_some() || !e.start.job.is_empty() || e.start.operator.context != context
            {
                continue;
            }
            // Held: its opsdeck is alive and will record the end.
            let Some(_lock) = self.follow(&e.start.run)? else {
                continue;
            };
            let now = crate::clock::now();
            self.append(&Record::Finish(Finished {
                run: e.start.run.clone(),
                at: now,
                status: RunOutcome::Lost,
                exit_code: None,
                result: None,
                error: Some(
                    "the opsdeck that started it stopped before recording its end (a forward's process may still run on this machine; a procedure's last script part may still run on its instance, and what it made is in its output)"
                        .into(),
                ),
                duration_ms: (now - e.start.at).num_milliseconds(),
                reattached: false,
                report: Default::default(),
            }))?;
            closed.push(e.start.title.clone());
        }
        Ok(closed)
    }

    /// Create the run's directory and keep its (masked) script there.
    pub fn prepare_run(&self, run: &str, script: &str) -> std::io::Result<()> {
        private_dir(&self.root)?;
        private_dir(&self.root.join("runs"))?;
        let dir = self.run_dir(run);
        private_dir(&dir)?;
        write_private(
            &dir.join("script.sh"),
            crate::store::mask::mask_text(script).as_bytes(),
        )
    }

    /// Append one record: locked, fenced after a torn line, synced.
    pub fn append(&self, rec: &Record) -> std::io::Result<()> {
        private_dir(&self.root)?;
        let mut line = serde_json::to_string(rec).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = open_private(&self.file(), true)?;
        f.lock()?;
        let len = f.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            f.seek(SeekFrom::Start(len - 1))?;
            f.read_exact(&mut last)?;
            if last[0] != b'\n' {
                line.insert(0, '\n');
            }
        }
        f.write_all(line.as_bytes())?;
        f.sync_data()?;
        f.unlock()
    }

    /// Every run, oldest first; torn or unreadable lines are skipped (and counted).
    pub fn entries(&self) -> (Vec<Entry>, usize) {
        let Ok(text) = std::fs::read_to_string(self.file()) else {
            return (vec![], 0);
        };
        let mut entries: Vec<Entry> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut skipped = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Record>(line) {
                Ok(Record::Start(s)) => {
                    index.insert(s.run.clone(), entries.len());
                    entries.push(Entry {
                        start: *s,
                        finish: None,
                    });
                }
                Ok(Record::Finish(f)) => match index.get(&f.run) {
                    Some(&i) => entries[i].finish = Some(f),
                    None => skipped += 1,
                },
                Ok(Record::Drill(_)) => {}
                Err(_) => skipped += 1,
            }
        }
        (entries, skipped)
    }

    /// Drill reports, oldest first.
    pub fn drills(&self) -> Vec<crate::drill::report::Report> {
        let Ok(text) = std::fs::read_to_string(self.file()) else {
            return vec![];
        };
        text.lines()
            .filter_map(|l| match serde_json::from_str::<Record>(l) {
                Ok(Record::Drill(r)) => Some(*r),
                _ => None,
            })
            .collect()
    }

    /// Runs with a start and no finish: their jobs may still run on the hosts.
    pub fn unfinished(&self, context: &str) -> Vec<Entry> {
        self.entries()
            .0
            .into_iter()
            .filter(|e| {
                // A change made through an API (no job on a host) has
                // nothing to follow again.
                e.finish.is_none() && e.start.operator.context == context && !e.start.job.is_empty()
            })
            .collect()
    }

    /// Read the committed progress of a run: (offset on the host, bytes in output.log).
    pub fn progress(&self, run: &str) -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(self.progress_path(run)).ok()?;
        let mut it = text.split_whitespace().map(|x| x.parse::<u64>().ok());
        Some((it.next()??, it.next()??))
    }
}

fn open_private(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(append)
        .write(!append)
        .mode(0o600)
        .open(path)
}

/// Write a whole file, owner-only, atomically (tmp + rename).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = open_private(&tmp, false)?;
        f.set_len(0)?;
        f.write_all(bytes)?;
    }
    std::fs::rename(&tmp, path)
}

/// The last validation of each backup file, from the journal: file name →
/// "passed" or "FAILED: why" (the newest run wins, in any order).
pub fn validation_results(entries: &[Entry]) -> std::collections::BTreeMap<String, String> {
    let mut newest: std::collections::BTreeMap<String, &Entry> = std::collections::BTreeMap::new();
    for e in entries {
        if e.start.runbook == "validate-backup" && e.finish.is_some() {
            let slot = newest.entry(e.start.target.clone()).or_insert(e);
            if e.start.at > slot.start.at {
                *slot = e;
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    for e in newest.into_values() {
        if e.start.runbook != "validate-backup" {
            continue;
        }
        let Some(f) = &e.finish else { continue };
        let rows = f
            .report
            .get("rows")
            .map(|r| format!(", {r} rows"))
            .unwrap_or_default();
        let text = match (f.status.as_str(), f.report.get("check")) {
            ("succeeded", _) => format!("passed {}{rows}", e.start.at.format("%m-%d %H:%M")),
            (_, Some(why)) => format!("FAILED: {why}"),
            // No figure: say which step stopped it.
            (s, None) => match f
                .result
                .as_deref()
                .and_then(|r| r.split_once("step=\""))
                .and_then(|(_, rest)| rest.split_once('"'))
            {
                Some((step, _)) => format!("FAILED at: {step}"),
                None => format!("FAILED: {s}"),
            },
        };
        out.insert(e.start.target.clone(), text);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn started(run: &str) -> Record {
        Record::Start(Box::new(Started {
            run: run.into(),
            at: Utc::now(),
            operator: Operator::local("sandbox", None),
            runbook: "deploy".into(),
            title: "deploy x".into(),
            danger: Danger::Change,
            production: false,
            params: vec![("migrations".into(), "true".into())],
            digest: "ab".into(),
            target: "x".into(),
            target_kind: "tenant".into(),
            host: "i-1".into(),
            job: run.into(),
            on_failure: "abort".into(),
        }))
    }

    #[test]
    fn a_torn_line_loses_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        j.append(&started("r1")).unwrap();
        // A crash in the middle of the second record.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(j.file())
            .unwrap();
        f.write_all(br#"{"kind":"start","run":"r2","at":"20"#)
            .unwrap();
        drop(f);
        j.append(&started("r3")).unwrap();
        let (entries, skipped) = j.entries();
        let runs: Vec<&str> = entries.iter().map(|e| e.start.run.as_str()).collect();
        assert_eq!(runs, ["r1", "r3"]);
        assert_eq!(skipped, 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(j.file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(j.root()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
