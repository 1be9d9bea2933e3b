//! Journaled runs: the engine with the journal around it. A start record is
//! written before anything is sent (no journal, no run); the output goes to
//! the run's file with its progress; the finish record is written before the
//! final event is passed on. After a crash, [`reattach`] resumes an
//! unfinished run from its recorded progress. No UI here: the console,
//! headless `run` and tests share it.

use crate::jobs::engine::{RunEvent, RunHandle, RunRequest, spawn_run};
use crate::jobs::names::RunId;
use crate::jobs::protocol::RunProtocol;
use crate::runbook::RenderedRun;
use crate::store::journal::{Entry, Finished, Journal, Operator, Record, RunOutcome, Started};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc::{self, UnboundedSender};

pub use crate::jobs::markers::{EXIT_DATA_KEPT, REPORT_MARKER, RESULT_MARKER};

/// `key=value` pairs of the `==> opsdeck report:` lines in some output.
pub fn report_lines(text: &str, into: &mut std::collections::BTreeMap<String, String>) {
    for l in text.lines() {
        if let Some(kv) = l.strip_prefix(REPORT_MARKER)
            && let Some((k, v)) = kv.split_once('=')
        {
            into.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
}

/// How the run ends, if `ev` is its last event: the outcome, the exit
/// code, the error. The one mapping from events to outcomes (journal,
/// console and CLI alike).
pub fn ending(ev: &RunEvent) -> Option<(RunOutcome, Option<i32>, Option<String>)> {
    match ev {
        RunEvent::Started { .. } | RunEvent::Output { .. } => None,
        RunEvent::Finished { exit_code: 0, .. } => Some((RunOutcome::Succeeded, Some(0), None)),
        RunEvent::Finished {
            exit_code: EXIT_DATA_KEPT,
            ..
        } => Some((RunOutcome::DataKept, Some(EXIT_DATA_KEPT), None)),
        RunEvent::Finished { exit_code, .. } => Some((RunOutcome::Failed, Some(*exit_code), None)),
        RunEvent::Cancelled { exit_code, .. } => {
            Some((RunOutcome::Cancelled, Some(*exit_code), None))
        }
        RunEvent::Refused { locked, .. } => {
            Some((RunOutcome::Refused, None, Some(locked.to_string())))
        }
        RunEvent::Failed { error, .. } => Some((
            if error.contains("without an exit code") {
                RunOutcome::Lost
            } else {
                RunOutcome::Error
            },
            None,
            Some(error.clone()),
        )),
    }
}

/// The start record of `run` as job `id` on its host.
pub fn start_record(run: &RenderedRun, id: &str, operator: &Operator, at: DateTime<Utc>) -> Record {
    Record::Start(Box::new(Started {
        run: id.into(),
        at,
        operator: operator.clone(),
        runbook: run.runbook.clone(),
        title: run.title.clone(),
        danger: run.danger,
        production: run.production,
        params: run.params.clone(),
        digest: run.digest.clone(),
        target: run.target.label.clone(),
        target_kind: run.target.kind.label().into(),
        host: run.host.clone(),
        // A procedure is no one job on a host: its cloud steps run in this
        // opsdeck, so nothing can follow it after a crash (it is closed as
        // lost then, like an API change).
        job: if run.procedure.is_some() {
            String::new()
        } else {
            id.into()
        },
        on_failure: run.on_failure.clone(),
    }))
}

/// What job `id` of `run` holds on its host (nothing for a read runbook),
/// and the record of who started it, left beside its locks and its job.
pub fn job_locks(
    run: &RenderedRun,
    id: &str,
    operator: &Operator,
    at: DateTime<Utc>,
) -> crate::jobs::locks::JobLocks {
    crate::jobs::locks::JobLocks {
        keys: run.locks.clone(),
        holder: crate::jobs::locks::Holder {
            v: crate::jobs::locks::RECORD_VERSION,
            run: id.to_string(),
            who: operator.who.clone(),
            identity: operator.identity.clone(),
            runbook: run.runbook.clone(),
            target: run.target.label.clone(),
            since: at,
        },
    }
}

/// Whether `run`'s locks are free on its host now, taking none: `None`
/// free (or nothing to lock), else who holds one. A procedure's locks are
/// in the provider's lock store, not on its (perhaps lost) host: its start
/// is the question, so it always answers free.
pub async fn locks_held(
    protocol: &RunProtocol,
    run: &RenderedRun,
    operator: &Operator,
) -> Result<Option<crate::jobs::locks::Locked>, crate::jobs::protocol::ProtocolError> {
    if run.locks.is_empty() || run.procedure.is_some() {
        return Ok(None);
    }
    let locks = job_locks(run, "probe", operator, crate::clock::now());
    match protocol.probe_locks(&run.host, &locks).await {
        Ok(()) => Ok(None),
        Err(crate::jobs::protocol::ProtocolError::Locked(l)) => Ok(Some(l)),
        Err(e) => Err(e),
    }
}

/// Start `run` as job `id`, journaled. Fails (and sends nothing) when the
/// journal cannot be written.
pub fn launch(
    protocol: RunProtocol,
    cloud: Option<std::sync::Arc<dyn crate::provider::CloudInventory>>,
    journal: &Journal,
    operator: &Operator,
    id: &str,
    run: &RenderedRun,
    events: UnboundedSender<RunEvent>,
) -> std::io::Result<RunHandle> {
    let cloud = match (&run.procedure, cloud) {
        (Some(_), None) => {
            return Err(std::io::Error::other(format!(
                "`{}` has cloud steps: it needs the provider",
                run.runbook
            )));
        }
        (_, c) => c,
    };
    journal.prepare_run(id, &run.script)?;
    let lock = journal
        .follow(id)?
        .ok_or_else(|| std::io::Error::other(format!("{id} is followed already")))?;
    let at = crate::clock::now();
    journal.append(&start_record(run, id, operator, at))?;
    tracing::info!(run = %id, host = %run.host, runbook = %run.runbook, digest = %run.digest, "starting run");
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = match &run.procedure {
        // Cloud steps made here, script parts sent one after another.
        Some(procedure) => crate::jobs::procedure::spawn_procedure(
            cloud.ok_or_else(|| std::io::Error::other("no provider"))?,
            protocol,
            crate::jobs::procedure::ProcedureRequest {
                run: id.into(),
                host: run.host.clone(),
                procedure: procedure.clone(),
                local_log: Some(journal.output_path(id)),
                locks: Some(job_locks(run, id, operator, at)),
            },
            tx,
        ),
        None => spawn_run(
            protocol,
            RunRequest {
                run: id.into(),
                host: run.host.clone(),
                script: run.script.clone(),
                local_log: Some(journal.output_path(id)),
                resume_from: None,
                progress: Some(journal.progress_path(id)),
                locks: Some(job_locks(run, id, operator, at)),
            },
            tx,
        ),
    };
    record_finish(journal.clone(), id.into(), at, false, rx, events, lock);
    Ok(handle)
}

/// Follow an unfinished run again: the output file is cut back to what the
/// progress file vouches for, and the tail resumes from the matching offset.
/// The output of an unfinished run as far as its journal vouches for it:
/// bytes written after the last progress record are cut (the tail sends
/// them again), so what the pane shows first and what follows never
/// overlap.
pub fn kept_output(journal: &Journal, id: &str) -> std::io::Result<String> {
    let (_, len) = journal.progress(id).unwrap_or((0, 0));
    let out = journal.output_path(id);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&out)?;
    f.set_len(len)?;
    let bytes = std::fs::read(&out)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn reattach(
    protocol: RunProtocol,
    journal: &Journal,
    entry: &Entry,
    events: UnboundedSender<RunEvent>,
) -> std::io::Result<RunHandle> {
    reattach_with_output(protocol, journal, entry, events).map(|(h, _)| h)
}

/// [`reattach`], with the output as far as the journal vouches for it (the
/// events go on from there). Refused when another opsdeck follows the run
/// (a lock per run): two never both record its finish.
pub fn reattach_with_output(
    protocol: RunProtocol,
    journal: &Journal,
    entry: &Entry,
    events: UnboundedSender<RunEvent>,
) -> std::io::Result<(RunHandle, String)> {
    let id = entry.start.run.clone();
    let lock = journal.follow(&id)?.ok_or_else(|| {
        std::io::Error::other(format!(
            "{id} is followed by another opsdeck (a console or `opsdeck attach`)"
        ))
    })?;
    let (offset, _) = journal.progress(&id).unwrap_or((0, 0));
    let out = journal.output_path(&id);
    let kept = kept_output(journal, &id)?;
    tracing::info!(run = %id, offset, "reattaching run");
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = spawn_run(
        protocol,
        RunRequest {
            run: id.clone(),
            host: entry.start.host.clone(),
            script: String::new(),
            local_log: Some(out),
            resume_from: Some(offset),
            progress: Some(journal.progress_path(&id)),
            locks: None,
        },
        tx,
    );
    record_finish(journal.clone(), id, entry.start.at, true, rx, events, lock);
    Ok((handle, kept))
}

/// The last `==> opsdeck result:` line of some output.
pub fn result_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(RESULT_MARKER))
        .map(|r| r.trim().to_string())
}

fn record_finish(
    journal: Journal,
    id: RunId,
    started: DateTime<Utc>,
    reattached: bool,
    mut rx: mpsc::UnboundedReceiver<RunEvent>,
    events: UnboundedSender<RunEvent>,
    follow: std::fs::File,
) {
    tokio::spawn(async move {
        // Held until the finish is recorded (or this process dies).
        let _follow = follow;
        let mut result = None;
        let mut report = std::collections::BTreeMap::new();
        // After a restart, figures reported before the crash are in the file.
        if reattached && let Ok(text) = std::fs::read_to_string(journal.output_path(&id)) {
            report_lines(&text, &mut report);
        }
        while let Some(ev) = rx.recv().await {
            if let RunEvent::Output { text, .. } = &ev {
                if let Some(r) = result_line(text) {
                    result = Some(r);
                }
                report_lines(text, &mut report);
            }
            let end = ending(&ev);
            if let Some((status, exit_code, error)) = end {
                let now = crate::clock::now();
                let rec = Record::Finish(Finished {
                    run: id.clone(),
                    at: now,
                    status,
                    exit_code,
                    result: result.take(),
                    error,
                    duration_ms: (now - started).num_milliseconds(),
                    reattached,
                    report: std::mem::take(&mut report),
                });
                if let Err(e) = journal.append(&rec) {
                    tracing::error!(run = %id, "cannot journal the end of the run: {e}");
                }
                let _ = events.send(ev);
                return;
            }
            let _ = events.send(ev);
        }
    });
}
