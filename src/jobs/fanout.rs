//! Fan-out: one script on many instances (by ids or by tag), at most
//! `max_concurrency` at a time, stopping new launches once `max_errors`
//! targets have failed — SSM's own MaxConcurrency / MaxErrors, on top of the
//! run protocol so every target's output streams. Targets that are stopped
//! or whose agent is offline are refused before anything is sent.

use crate::domain::Instance;
use crate::jobs::engine::{RunEvent, RunId, RunRequest, spawn_run};
use crate::jobs::protocol::RunProtocol;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio::sync::mpsc;

/// Which instances a fan-out aims at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    Ids(Vec<String>),
    Tag { key: String, value: String },
}

impl Targets {
    /// `i-1,i-2` or `tag:Key=Value`.
    pub fn parse(s: &str) -> Result<Targets, String> {
        if let Some(rest) = s.strip_prefix("tag:") {
            let (k, v) = rest
                .split_once('=')
                .ok_or_else(|| format!("{s:?}: write tag:Key=Value"))?;
            if k.is_empty() {
                return Err(format!("{s:?}: the tag key is empty"));
            }
            return Ok(Targets::Tag {
                key: k.into(),
                value: v.into(),
            });
        }
        let ids: Vec<String> = s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect();
        if ids.is_empty() || ids.iter().any(|i| !i.starts_with("i-")) {
            return Err(format!(
                "{s:?}: expected instance ids (i-…, comma separated) or tag:Key=Value"
            ));
        }
        Ok(Targets::Ids(ids))
    }

    /// The instances selected, in inventory order; unknown ids are reported.
    pub fn select<'a>(&self, inventory: &'a [Instance]) -> Result<Vec<&'a Instance>, String> {
        match self {
            Targets::Ids(ids) => {
                if let Some(missing) = ids
                    .iter()
                    .find(|id| !inventory.iter().any(|i| &i.id == *id))
                {
                    return Err(format!("instance {missing} is not in this context"));
                }
                Ok(inventory.iter().filter(|i| ids.contains(&i.id)).collect())
            }
            Targets::Tag { key, value } => Ok(inventory
                .iter()
                .filter(|i| i.tags.get(key) == Some(value))
                .collect()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetStatus {
    /// Not sent: the target cannot be reached (why).
    Refused(String),
    /// Not sent: the error budget was spent before its turn.
    Skipped,
    Succeeded,
    Failed(i32),
    Cancelled(i32),
    Error(String),
}

impl TargetStatus {
    /// How a target ended, from the one event → outcome mapping
    /// ([`super::journaled::ending`]) the journal and the console use.
    fn ended(ev: &RunEvent) -> Option<TargetStatus> {
        use crate::store::journal::RunOutcome as O;
        let (outcome, code, error) = super::journaled::ending(ev)?;
        Some(match (outcome, code) {
            (O::Succeeded, _) => TargetStatus::Succeeded,
            (O::Failed | O::DataKept, Some(c)) => TargetStatus::Failed(c),
            (O::Cancelled, Some(c)) => TargetStatus::Cancelled(c),
            (other, _) => TargetStatus::Error(error.unwrap_or_else(|| other.to_string())),
        })
    }

    pub fn is_error(&self) -> bool {
        matches!(self, TargetStatus::Failed(_) | TargetStatus::Error(_))
    }
}

#[derive(Debug, Clone)]
pub struct FanoutRequest {
    pub run: RunId,
    pub script: String,
    pub max_concurrency: usize,
    pub max_errors: usize,
    pub runs_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct FanoutReport {
    /// Per instance id.
    pub status: BTreeMap<String, TargetStatus>,
    pub output: BTreeMap<String, String>,
    /// The most targets that ran at once.
    pub peak_concurrency: usize,
}

/// The run id of one target of a fan-out.
pub fn target_run(run: &str, host: &str) -> RunId {
    format!("{run}-{host}")
}

async fn one(
    protocol: RunProtocol,
    req: RunRequest,
    events: mpsc::UnboundedSender<RunEvent>,
) -> (TargetStatus, String) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _handle = spawn_run(protocol, req, tx);
    let mut out = String::new();
    while let Some(ev) = rx.recv().await {
        let _ = events.send(ev.clone());
        if let RunEvent::Output { text, .. } = &ev {
            out.push_str(text);
        }
        if let Some(status) = TargetStatus::ended(&ev) {
            return (status, out);
        }
    }
    (
        TargetStatus::Error("the run ended without a status".into()),
        out,
    )
}

/// Run `req.script` on `targets`; every target's events go to `events`
/// (tagged with [`target_run`] ids). Returns when every launched target ended.
pub async fn run(
    protocol: RunProtocol,
    targets: &[&Instance],
    req: FanoutRequest,
    events: mpsc::UnboundedSender<RunEvent>,
) -> FanoutReport {
    let mut report = FanoutReport::default();
    let mut queue = Vec::new();
    for t in targets {
        match t.unreachable_reason() {
            Some(why) => {
                report
                    .status
                    .insert(t.id.clone(), TargetStatus::Refused(why));
            }
            None => queue.push(t.id.clone()),
        }
    }
    queue.reverse();
    let max = req.max_concurrency.max(1);
    let mut errors = 0;
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < max && errors < req.max_errors.max(1) {
            let Some(host) = queue.pop() else { break };
            let run = target_run(&req.run, &host);
            let rr = RunRequest {
                local_log: req.runs_dir.as_ref().map(|d| d.join(format!("{run}.log"))),
                run,
                host: host.clone(),
                script: req.script.clone(),
                resume_from: None,
                progress: None,
            };
            let (p, ev) = (protocol.clone(), events.clone());
            running.spawn(async move { (host, one(p, rr, ev).await) });
            report.peak_concurrency = report.peak_concurrency.max(running.len());
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        match done {
            Ok((host, (status, out))) => {
                if status.is_error() {
                    errors += 1;
                }
                report.output.insert(host.clone(), out);
                report.status.insert(host, status);
            }
            Err(e) => {
                errors += 1;
                tracing::warn!("fan-out task failed: {e}");
            }
        }
    }
    for host in queue {
        report.status.insert(host, TargetStatus::Skipped);
    }
    report
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_ids_and_tags() {
        assert_eq!(
            Targets::parse("i-1,i-2").unwrap(),
            Targets::Ids(vec!["i-1".into(), "i-2".into()])
        );
        assert_eq!(
            Targets::parse("tag:Env=prod").unwrap(),
            Targets::Tag {
                key: "Env".into(),
                value: "prod".into()
            }
        );
        assert!(Targets::parse("tag:=x").is_err());
        assert!(Targets::parse("web-1").is_err());
        assert!(Targets::parse("").is_err());
    }
}
