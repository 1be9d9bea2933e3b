//! What needs attention now: every signal opsdeck already reads, gathered
//! into one list, worst first. Crash loops and unhealthy containers, RPO
//! breaches and newest backups that failed or never had a validation,
//! certificates close to expiry (from the last `cert-expiry` run), queues
//! backed up or without a consumer (from the last `queue-depth` run), offline
//! agents and stopped hosts, failed or lost runs, posture findings, buckets
//! that hold data without encryption, versioning or a public-access block,
//! a drill in progress. Each item says what is wrong, since when when that
//! is known, and which runbook fixes it on which target.
//!
//! No IO and no extra API call: the console feeds it what its screens
//! loaded, `opsdeck ls attention` what `ls` reads.

use crate::config::Config;
use crate::domain::{Backup, Bucket, Finding, Instance, SsmPing};
use crate::ops::Inventory;
use crate::runbook::spec::TargetKind;
use crate::store::journal::{Entry, RunOutcome};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// The runbook that fixes an item, on its target (as `opsdeck run` names it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    pub runbook: String,
    pub target_kind: TargetKind,
    pub target: String,
    /// The headless command that opens it.
    pub command: String,
}

impl Fix {
    fn new(runbook: &str, target_kind: TargetKind, target: impl Into<String>) -> Fix {
        let target = target.into();
        let command = format!(
            "opsdeck run {runbook} {}={}",
            target_kind.label(),
            shlex::try_quote(&target).unwrap_or_default()
        );
        Fix {
            runbook: runbook.into(),
            target_kind,
            target,
            command,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub severity: Severity,
    /// What kind of signal: crash-loop, unhealthy, rpo, backup-failed, …
    pub kind: &'static str,
    /// What it is about: a container, host, database, bucket, run…
    pub subject: String,
    /// What is wrong, in a sentence.
    pub what: String,
    /// Since when, when opsdeck knows.
    pub since: Option<DateTime<Utc>>,
    pub fix: Option<Fix>,
}

impl Item {
    /// A stable key for a list row.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.kind, self.subject, self.what)
    }
}

/// What the signals are read from.
pub struct Signals<'a> {
    pub config: &'a Config,
    pub inv: &'a Inventory,
    pub buckets: &'a [Bucket],
    pub findings: &'a [Finding],
    /// The journal (any order).
    pub journal: &'a [Entry],
    pub drill: Option<&'a crate::drill::Active>,
    pub now: DateTime<Utc>,
}

/// Restarts from which a container counts as crash looping.
pub const CRASH_LOOP_RESTARTS: u32 = 5;
/// Days before a certificate's expiry from which it is an item (critical
/// from [`CERT_CRITICAL_DAYS`]).
pub const CERT_WARN_DAYS: i64 = 21;
pub const CERT_CRITICAL_DAYS: i64 = 7;
/// How far back failed runs are items (unless a later run of the same
/// runbook on the same target succeeded).
pub const RUNS_LOOKBACK_HOURS: i64 = 24;

/// The order of kinds within a severity: what stops service first, then
/// what risks data, then what only weakens the estate.
const KIND_ORDER: [&str; 16] = [
    "crash-loop",
    "unhealthy",
    "run",
    "rpo",
    "backup-failed",
    "queue",
    "certificate",
    "agent-offline",
    "schedule-failed",
    "schedule-missed",
    "stopped-host",
    "stopped-container",
    "drill",
    "unvalidated",
    "bucket",
    "posture",
];

fn rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

/// Everything that needs attention: critical first, then by kind
/// ([`KIND_ORDER`]), then the oldest first.
pub fn gather(s: &Signals) -> Vec<Item> {
    let mut items = Vec::new();
    containers(s, &mut items);
    instances(s.inv, &mut items);
    backups(s, &mut items);
    certificates(s, &mut items);
    queues(s, &mut items);
    runs(s, &mut items);
    schedules(s, &mut items);
    posture(s.findings, &mut items);
    buckets(s, &mut items);
    if let Some(d) = s.drill {
        items.push(Item {
            severity: Severity::Warning,
            kind: "drill",
            subject: d.scenario.clone(),
            what: "a drill is in progress: verify it when recovered (:drill verify)".into(),
            since: Some(d.started_at),
            fix: None,
        });
    }
    items.sort_by(|a, b| {
        (
            a.severity,
            rank(a.kind),
            a.since.is_none(),
            a.since,
            &a.subject,
        )
            .cmp(&(
                b.severity,
                rank(b.kind),
                b.since.is_none(),
                b.since,
                &b.subject,
            ))
    });
    items
}

/// Whether any item is critical (`ls attention` exits 1).
pub fn any_critical(items: &[Item]) -> bool {
    items.iter().any(|i| i.severity == Severity::Critical)
}

fn container_ref(c: &crate::domain::Container) -> String {
    format!("{}@{}", c.name, c.host)
}

fn containers(s: &Signals, items: &mut Vec<Item>) {
    for c in &s.inv.containers {
        let subject = c.name.clone();
        if c.state == "restarting" || c.restarts >= CRASH_LOOP_RESTARTS {
            items.push(Item {
                severity: Severity::Critical,
                kind: "crash-loop",
                subject,
                what: format!(
                    "{} with {} restarts ({}): read its logs, then restart or roll back",
                    c.state, c.restarts, c.status
                ),
                since: None,
                fix: Some(Fix::new("logs", TargetKind::Container, container_ref(c))),
            });
        } else if c.health == "unhealthy" {
            items.push(Item {
                severity: Severity::Critical,
                kind: "unhealthy",
                subject,
                what: format!("health check failing ({})", c.status),
                since: None,
                fix: Some(Fix::new("restart", TargetKind::Container, container_ref(c))),
            });
        } else if matches!(c.state.as_str(), "exited" | "dead") {
            items.push(Item {
                severity: Severity::Warning,
                kind: "stopped-container",
                subject,
                what: format!("{} ({})", c.state, c.status),
                since: None,
                fix: Some(Fix::new("restart", TargetKind::Container, container_ref(c))),
            });
        }
    }
}

fn instances(inv: &Inventory, items: &mut Vec<Item>) {
    for i in &inv.instances {
        let subject = label(i);
        if i.state == crate::domain::InstanceState::Stopped {
            items.push(Item {
                severity: Severity::Warning,
                kind: "stopped-host",
                subject,
                what: format!("{} is stopped (start it from Instances)", i.id),
                since: None,
                fix: None,
            });
        } else if i.state == crate::domain::InstanceState::Running && i.ssm_ping != SsmPing::Online
        {
            items.push(Item {
                severity: Severity::Warning,
                kind: "agent-offline",
                subject,
                what: format!(
                    "SSM agent {}: no runbook can reach {}",
                    i.ssm_ping.label(),
                    i.id
                ),
                since: None,
                fix: None,
            });
        }
    }
}

fn label(i: &Instance) -> String {
    if i.name.is_empty() {
        i.id.clone()
    } else {
        i.name.clone()
    }
}

fn file_of(b: &Backup) -> &str {
    b.path.rsplit('/').next().unwrap_or(&b.path)
}

fn backups(s: &Signals, items: &mut Vec<Item>) {
    let checks = crate::store::journal::validation_results(s.journal);
    let mut newest: BTreeMap<&str, &Backup> = BTreeMap::new();
    for b in s.inv.backups.iter().filter(|b| b.unrecognised.is_none()) {
        let slot = newest.entry(&b.database).or_insert(b);
        // The host's copy wins over S3's at the same time (it can be validated there).
        if b.taken_at > slot.taken_at || (b.taken_at == slot.taken_at && b.origin.starts_with("i-"))
        {
            *slot = b;
        }
    }
    for (db, b) in newest {
        let rpo = i64::from(s.config.rpo_hours(db));
        let age = (s.now - b.taken_at).num_hours();
        let db_ref = if b.origin.starts_with("i-") {
            format!("{db}@{}", b.origin)
        } else {
            db.to_string()
        };
        if age >= rpo {
            items.push(Item {
                severity: Severity::Critical,
                kind: "rpo",
                subject: db.into(),
                what: format!("newest backup is {age} h old (RPO {rpo} h): take one now"),
                since: Some(b.taken_at + Duration::hours(rpo)),
                fix: Some(Fix::new("backup", TargetKind::Database, db_ref.clone())),
            });
        }
        let file = file_of(b);
        let backup_ref = if b.origin.starts_with("i-") {
            file.to_string()
        } else {
            format!("{}/{}", b.origin, b.path)
        };
        match checks.get(file) {
            Some(c) if c.starts_with("FAILED") => items.push(Item {
                severity: Severity::Critical,
                kind: "backup-failed",
                subject: db.into(),
                what: format!("newest backup {file} {c}: take a new one"),
                since: Some(b.taken_at),
                fix: Some(Fix::new("backup", TargetKind::Database, db_ref)),
            }),
            Some(_) => {}
            None => items.push(Item {
                severity: Severity::Warning,
                kind: "unvalidated",
                subject: db.into(),
                what: format!("newest backup {file} was never validated"),
                since: Some(b.taken_at),
                fix: Some(Fix::new("validate-backup", TargetKind::Backup, backup_ref)),
            }),
        }
    }
}

/// The newest finished run of `runbook` per target.
fn newest_runs<'a>(journal: &'a [Entry], runbook: &str) -> BTreeMap<&'a str, &'a Entry> {
    let mut out: BTreeMap<&str, &Entry> = BTreeMap::new();
    for e in journal {
        if e.start.runbook != runbook || e.finish.is_none() {
            continue;
        }
        let slot = out.entry(&e.start.target).or_insert(e);
        if e.start.at > slot.start.at {
            *slot = e;
        }
    }
    out
}

fn certificates(s: &Signals, items: &mut Vec<Item>) {
    for e in newest_runs(s.journal, "cert-expiry").into_values() {
        let Some(f) = &e.finish else { continue };
        for (key, days) in &f.report {
            let (Some(domain), Ok(days)) = (key.strip_prefix("cert."), days.parse::<i64>()) else {
                continue;
            };
            // Days counted from the check, not from now.
            let left = days - (s.now - f.at).num_days();
            if left >= CERT_WARN_DAYS {
                continue;
            }
            items.push(Item {
                severity: if left < CERT_CRITICAL_DAYS {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                kind: "certificate",
                subject: domain.into(),
                what: if left < 0 {
                    format!("certificate expired {} days ago", -left)
                } else {
                    format!(
                        "certificate expires in {left} days (checked {})",
                        f.at.format("%m-%d %H:%M")
                    )
                },
                since: Some(f.at),
                // The instance's id: the journal's target is its label.
                fix: Some(Fix::new("cert-expiry", TargetKind::Instance, &e.start.host)),
            });
        }
    }
}

/// Queues the newest `queue-depth` run of a host found too deep or without
/// a consumer (`backlog.QUEUE=MESSAGES/CONSUMERS`); a passing check clears them.
fn queues(s: &Signals, items: &mut Vec<Item>) {
    for e in newest_runs(s.journal, "queue-depth").into_values() {
        let Some(f) = &e.finish else { continue };
        for (key, value) in &f.report {
            let Some(queue) = key.strip_prefix("backlog.") else {
                continue;
            };
            let (messages, consumers) = value.split_once('/').unwrap_or((value, "?"));
            let idle = consumers == "0";
            items.push(Item {
                severity: if idle {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                kind: "queue",
                subject: queue.into(),
                what: format!(
                    "{messages} messages{} (checked {}){}",
                    if idle {
                        ", no consumer".to_string()
                    } else {
                        format!(", {consumers} consumers")
                    },
                    f.at.format("%m-%d %H:%M"),
                    if idle {
                        ": start or restart its worker, then check again"
                    } else {
                        ""
                    }
                ),
                since: Some(f.at),
                fix: Some(Fix::new("queue-depth", TargetKind::Instance, &e.start.host)),
            });
        }
    }
}

fn runs(s: &Signals, items: &mut Vec<Item>) {
    let since = s.now - Duration::hours(RUNS_LOOKBACK_HOURS);
    // The newest finished run per (runbook, target): a later success clears it.
    let mut newest: BTreeMap<(&str, &str), &Entry> = BTreeMap::new();
    for e in s.journal {
        if e.finish.is_none() {
            continue;
        }
        let slot = newest
            .entry((&e.start.runbook, &e.start.target))
            .or_insert(e);
        if e.start.at > slot.start.at {
            *slot = e;
        }
    }
    for ((runbook, target), e) in newest {
        let Some(f) = &e.finish else { continue };
        if f.at < since {
            continue;
        }
        let (severity, what) = match f.status {
            // A refused run never started: another run held its target
            // (a missed schedule still shows as missed).
            RunOutcome::Succeeded | RunOutcome::Cancelled | RunOutcome::Refused => continue,
            // A failed validation is the backup's item, a failed check of
            // certificates or queues their own items: not a run's.
            RunOutcome::Failed
                if matches!(runbook, "validate-backup" | "cert-expiry" | "queue-depth") =>
            {
                continue;
            }
            RunOutcome::Failed => (
                Severity::Warning,
                format!(
                    "{runbook} failed (exit {})",
                    f.exit_code.map_or("?".into(), |c| c.to_string())
                ),
            ),
            RunOutcome::DataKept => (
                Severity::Critical,
                format!("{runbook} failed; the data was kept: look before anything else"),
            ),
            RunOutcome::Lost => (
                Severity::Critical,
                format!("{runbook}: the job vanished, its outcome on the host is unknown"),
            ),
            RunOutcome::Error => (
                Severity::Warning,
                format!(
                    "{runbook} could not finish: {}",
                    f.error.as_deref().unwrap_or("error")
                ),
            ),
        };
        let kind = TargetKind::parse(&e.start.target_kind);
        items.push(Item {
            severity,
            kind: "run",
            subject: format!("{runbook} {target}"),
            what: format!("{what} — run {}", e.start.run),
            since: Some(f.at),
            fix: kind.map(|k| Fix::new(runbook, k, target)),
        });
    }
}

/// A schedule whose last run failed (critical), or that has not run since
/// a time it was due (missed: its runner is not running).
fn schedules(s: &Signals, items: &mut Vec<Item>) {
    use crate::ops::schedule::{self, State};
    for st in schedule::statuses(s.config, s.journal, s.now) {
        let fix = st
            .target
            .split_once('=')
            .and_then(|(k, v)| TargetKind::parse(k).map(|kind| Fix::new(&st.runbook, kind, v)));
        match st.state {
            State::Failed => items.push(Item {
                severity: Severity::Critical,
                kind: "schedule-failed",
                subject: st.name.clone(),
                what: format!(
                    "its last run ({} {}, {}) {}",
                    st.runbook,
                    st.target,
                    st.last_run.clone().unwrap_or_default(),
                    st.last_status.clone().unwrap_or_default()
                ),
                since: st.last_at,
                fix,
            }),
            State::Missed => items.push(Item {
                severity: Severity::Warning,
                kind: "schedule-missed",
                subject: st.name.clone(),
                what: format!(
                    "{} did not run at {} ({}): is `opsdeck schedule run-due` being called?",
                    st.runbook,
                    st.due_at.format("%Y-%m-%d %H:%M"),
                    st.when
                ),
                since: Some(st.due_at),
                fix,
            }),
            State::Ok | State::Due | State::NeverRun => {}
        }
    }
}

fn posture(findings: &[Finding], items: &mut Vec<Item>) {
    for f in findings {
        items.push(Item {
            severity: Severity::Warning,
            kind: "posture",
            subject: f.resource.clone(),
            what: format!("{}: {} ({})", f.kind.label(), f.detail, f.region),
            since: None,
            fix: None,
        });
    }
}

/// Buckets that hold backups or attachments need all three; others need
/// encryption and a public-access block.
fn buckets(s: &Signals, items: &mut Vec<Item>) {
    for b in s.buckets {
        let holds_data = s.config.backups.bucket.as_deref() == Some(b.name.as_str())
            || ["backup", "attachment"].iter().any(|w| b.name.contains(w));
        let mut push = |severity, what: String| {
            items.push(Item {
                severity,
                kind: "bucket",
                subject: b.name.clone(),
                what,
                since: None,
                fix: None,
            });
        };
        if b.public_access_block != "all blocked" {
            push(
                if holds_data && b.public_access_block == "none" {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                format!("public access is not blocked ({})", b.public_access_block),
            );
        }
        if b.encryption == "none" {
            push(Severity::Warning, "no default encryption".into());
        }
        if holds_data && b.versioning != "Enabled" {
            push(
                Severity::Warning,
                format!(
                    "holds backups or attachments and versioning is {}",
                    b.versioning
                ),
            );
        }
    }
}
