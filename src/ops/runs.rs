//! Everyone's runs: the jobs on the estate's hosts, whoever started them
//! and from whichever opsdeck. Each job carries its owner's record on its
//! host (`<id>.owner`, written by its start), so one listing per host shows
//! the runs in flight and the recent ones of every operator — the record
//! that is true for everyone is the host's, not a laptop's journal.

use crate::domain::Instance;
use crate::jobs::locks::HolderRecord;
use crate::jobs::protocol::{JobInfo, RunProtocol};
use crate::ops::Providers;
use crate::store::journal::RunOutcome;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One job on one host, as everyone's Runs list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRun {
    pub run: String,
    /// The instance id.
    pub host: String,
    /// The instance's Name (its id when it has none).
    pub host_name: String,
    /// Who started it (`unknown` when the job has no owner record).
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    pub runbook: String,
    pub target: String,
    pub since: DateTime<Utc>,
    /// How it ended, in the journal's words; `in flight` (None) while it runs.
    #[serde(rename = "status", serialize_with = "status_words")]
    pub outcome: Option<RunOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub log_bytes: u64,
    /// Started by this operator (same name and identity) or in this
    /// opsdeck's journal.
    pub mine: bool,
}

// serde hands `serialize_with` a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn status_words<S: serde::Serializer>(o: &Option<RunOutcome>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.map_or("in flight", RunOutcome::as_str))
}

impl HostRun {
    pub fn in_flight(&self) -> bool {
        self.outcome.is_none()
    }

    pub fn status(&self) -> &'static str {
        self.outcome.map_or("in flight", RunOutcome::as_str)
    }

    /// Its cancel as a journaled change (under the canceller, naming the
    /// owner).
    pub fn cancel_change(&self) -> crate::ops::actions::Change {
        crate::ops::actions::Change::CancelRun {
            host: self.host.clone(),
            run: self.run.clone(),
            owner: self.owner.clone(),
            runbook: self.runbook.clone(),
            target: self.target.clone(),
        }
    }

    /// "alice's run R (`deploy` on paiss-staging)", as a cancel or a
    /// follow names it.
    pub fn describe(&self) -> String {
        format!(
            "{}'s run {} (`{}` on {})",
            self.owner, self.run, self.runbook, self.target
        )
    }

    fn of(i: &Instance, job: JobInfo, me: &crate::store::journal::Operator, known: bool) -> Self {
        let started = DateTime::from_timestamp(job.started_epoch, 0).unwrap_or_default();
        let (owner, identity, runbook, target, since) = match &job.owner {
            Some(HolderRecord::Known(h)) => (
                h.who.clone(),
                h.identity.clone(),
                h.runbook.clone(),
                h.target.clone(),
                h.since,
            ),
            Some(HolderRecord::Newer { version, .. }) => (
                format!("(a newer opsdeck's record v{version})"),
                None,
                "?".into(),
                "?".into(),
                started,
            ),
            Some(HolderRecord::Garbage { .. }) => (
                "(unreadable owner record)".into(),
                None,
                "?".into(),
                "?".into(),
                started,
            ),
            None => ("unknown".into(), None, "?".into(), i.name.clone(), started),
        };
        let mine = known || (owner == me.who && identity == me.identity);
        HostRun {
            outcome: job.outcome(),
            exit_code: job.exit_code,
            log_bytes: job.log_size,
            run: job.id,
            host: i.id.clone(),
            host_name: if i.name.is_empty() {
                i.id.clone()
            } else {
                i.name.clone()
            },
            owner,
            identity,
            runbook,
            target,
            since,
            mine,
        }
    }
}

/// The runs on every reachable instance: those in flight, and those that
/// started within `recent`; newest first. A host that cannot be asked is a
/// warning, not an error (the others are still listed).
pub async fn everyone(
    p: &Providers,
    instances: &[Instance],
    recent: chrono::Duration,
    now: DateTime<Utc>,
) -> (Vec<HostRun>, Vec<String>) {
    let protocol = RunProtocol::new(p.transport.clone());
    let reachable: Vec<&Instance> = instances
        .iter()
        .filter(|i| i.unreachable_reason().is_none())
        .collect();
    let answers = futures::future::join_all(reachable.iter().map(|i| protocol.list(&i.id))).await;
    let (entries, _) = p.journal.entries();
    let known: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.start.run.as_str()).collect();
    let mut runs = Vec::new();
    let mut warnings = Vec::new();
    for (i, answer) in reachable.iter().zip(answers) {
        match answer {
            Ok(jobs) => runs.extend(
                jobs.into_iter()
                    .map(|j| {
                        let known = known.contains(j.id.as_str());
                        HostRun::of(i, j, &p.operator, known)
                    })
                    // `since` is on the starter's clock, as `now` is on ours.
                    .filter(|r| r.in_flight() || now - r.since <= recent),
            ),
            Err(e) => warnings.push(format!("runs on {}: {e}", i.id)),
        }
    }
    runs.sort_by(|a, b| (b.since, &b.run).cmp(&(a.since, &a.run)));
    (runs, warnings)
}
