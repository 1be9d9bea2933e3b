//! The run engine: drives one job through the run protocol and reports tagged
//! [`RunEvent`]s. It knows nothing of the UI: the console, headless commands
//! and tests all consume the same event stream.

use crate::jobs::protocol::{ProtocolError, RunProtocol};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

pub use crate::jobs::names::RunId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    Started {
        run: RunId,
        host: String,
        pid: u32,
    },
    /// New output, decoded as UTF-8 on character boundaries.
    Output {
        run: RunId,
        text: String,
    },
    Finished {
        run: RunId,
        exit_code: i32,
    },
    Cancelled {
        run: RunId,
        exit_code: i32,
    },
    /// The job vanished without an exit code, or the transport gave up.
    Failed {
        run: RunId,
        error: String,
    },
    /// Not started: a lock it needs is held (nothing was written or run).
    Refused {
        run: RunId,
        locked: crate::jobs::locks::Locked,
    },
}

impl RunEvent {
    pub fn run(&self) -> &str {
        match self {
            RunEvent::Started { run, .. }
            | RunEvent::Output { run, .. }
            | RunEvent::Finished { run, .. }
            | RunEvent::Cancelled { run, .. }
            | RunEvent::Failed { run, .. }
            | RunEvent::Refused { run, .. } => run,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunRequest {
    pub run: RunId,
    pub host: String,
    pub script: String,
    /// Where to keep the complete output locally (the in-memory pane keeps a ring).
    pub local_log: Option<PathBuf>,
    /// Resume an existing job from this offset instead of starting it.
    pub resume_from: Option<u64>,
    /// Where to record how far the local log is complete: "OFFSET LOG_BYTES",
    /// the job offset up to the last whole line written and the log's size
    /// then. A restarted console truncates the log to LOG_BYTES and resumes
    /// from OFFSET: no line lost, none twice.
    pub progress: Option<PathBuf>,
    /// The locks the job holds for its whole life (taken at its start).
    pub locks: Option<crate::jobs::locks::JobLocks>,
}

impl RunRequest {
    /// Follow job `run` on `host` from its first byte, without starting or
    /// keeping anything (a fleet target, someone else's run).
    pub fn follow(run: RunId, host: String) -> RunRequest {
        RunRequest {
            run,
            host,
            script: String::new(),
            local_log: None,
            resume_from: Some(0),
            progress: None,
            locks: None,
        }
    }
}

/// A running job: dropping it does not stop the job; `cancel` does.
#[derive(Debug, Clone)]
pub struct RunHandle {
    pub run: RunId,
    cancel: watch::Sender<bool>,
}

impl RunHandle {
    /// A handle for something other than a job (a port forward): its
    /// owner watches the receiver.
    pub fn new(run: RunId) -> (RunHandle, watch::Receiver<bool>) {
        let (cancel, rx) = watch::channel(false);
        (RunHandle { run, cancel }, rx)
    }
    pub fn cancel(&self) {
        let _ = self.cancel.send(true);
    }
}

/// Start (or resume) a run in the background; events go to `events`.
pub fn spawn_run(
    protocol: RunProtocol,
    req: RunRequest,
    events: mpsc::UnboundedSender<RunEvent>,
) -> RunHandle {
    let (tx, rx) = watch::channel(false);
    let handle = RunHandle {
        run: req.run.clone(),
        cancel: tx,
    };
    tokio::spawn(async move {
        let run = req.run.clone();
        if let Err(e) = drive(protocol, req, rx, &events).await {
            let _ = events.send(RunEvent::Failed {
                run,
                error: e.to_string(),
            });
        }
    });
    handle
}

/// Turns byte chunks into text without splitting a UTF-8 character.
#[derive(Default)]
struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // Truly invalid bytes: decode lossily, keep nothing back.
            Err(_) => self.pending.len(),
        };
        let text = String::from_utf8_lossy(&self.pending[..valid]).into_owned();
        self.pending.drain(..valid);
        text
    }
    fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

async fn drive(
    protocol: RunProtocol,
    req: RunRequest,
    mut cancel: watch::Receiver<bool>,
    events: &mpsc::UnboundedSender<RunEvent>,
) -> Result<(), ProtocolError> {
    let RunRequest {
        run,
        host,
        script,
        local_log,
        resume_from,
        progress,
        locks,
    } = req;
    let mut offset = match resume_from {
        Some(off) => off,
        None => {
            let pid = match protocol
                .start_locked(&host, &run, &script, locks.as_ref())
                .await
            {
                Ok(pid) => pid,
                Err(ProtocolError::Locked(locked)) => {
                    let _ = events.send(RunEvent::Refused { run, locked });
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            let _ = events.send(RunEvent::Started {
                run: run.clone(),
                host: host.clone(),
                pid,
            });
            0
        }
    };
    let mut out = Written::open(local_log.as_deref(), offset);
    let policy = protocol.poll_policy();
    let mut cancel_sent = false;
    // When the last tail call ended: the next starts min_interval later.
    let mut last_end: Option<Instant> = None;
    let mut transient_errors = 0u32;
    let mut lost_seen = 0u32;
    // The next tail, already asked for while this chunk is decoded, masked
    // and written: a flood keeps the host and opsdeck busy at once.
    let mut next: Option<Tail> = None;
    loop {
        if *cancel.borrow() && !cancel_sent {
            cancel_sent = true;
            protocol.cancel(&host, &run).await?;
        }
        let mut tail = match next.take() {
            Some(t) => t,
            None => {
                let not_before = last_end.map(|e| e + policy.min_interval);
                Tail::spawn(&protocol, &host, &run, offset, not_before)
            }
        };
        let chunk = tokio::select! {
            biased;
            changed = cancel.changed(), if !cancel_sent => {
                next = Some(tail);
                if changed.is_ok() { continue; }
                // The handle was dropped: keep following the job.
                cancel_sent = true;
                continue;
            }
            c = &mut tail.job => c.unwrap_or_else(|e| Err(ProtocolError::Transport(
                crate::transport::TransportError::Failed { host: host.clone(), message: e.to_string() },
            ))),
        };
        last_end = Some(Instant::now());
        let chunk = match chunk {
            Ok(c) => {
                transient_errors = 0;
                c
            }
            Err(ProtocolError::Transport(e)) if transient_errors < 5 => {
                transient_errors += 1;
                tracing::warn!(run = %run, error = %e, "tail failed, retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(transient_errors))).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        // A full chunk: more is waiting on the host. Ask for it now.
        if !chunk.is_complete() && chunk.data.len() >= policy.max_chunk {
            let t = Tail::spawn(
                &protocol,
                &host,
                &run,
                chunk.next_offset,
                last_end.map(|e| e + policy.min_interval),
            );
            next = Some(t);
        }
        offset = chunk.next_offset;
        if !chunk.data.is_empty() {
            out.lines(&chunk.data, offset, events, &run, progress.as_deref());
        }
        if chunk.is_complete() {
            out.last(offset, events, &run, progress.as_deref());
            let exit_code = chunk.exit_code.unwrap_or(-1);
            let ev = if chunk.cancelled {
                RunEvent::Cancelled { run, exit_code }
            } else {
                RunEvent::Finished { run, exit_code }
            };
            let _ = events.send(ev);
            return Ok(());
        }
        // Declared lost only when two reads in a row agree (no exit code,
        // no live process, nothing more to read).
        if chunk.is_lost() {
            lost_seen += 1;
        } else {
            lost_seen = 0;
        }
        if lost_seen >= 2 {
            let _ = events.send(RunEvent::Failed {
                run,
                error: format!(
                    "the job ended on {host} without an exit code (killed or host restarted)"
                ),
            });
            return Ok(());
        }
    }
}

/// What a run's output has become: whole lines, masked, sent as events
/// and appended to the local log; the progress file says how far.
struct Written {
    log: Option<std::fs::File>,
    log_len: u64,
    /// The job's output offset up to which lines are written.
    committed: u64,
    carry: Utf8Carry,
    /// Text read after the last line break.
    line: String,
}

impl Written {
    fn open(local_log: Option<&std::path::Path>, offset: u64) -> Written {
        let log = local_log.and_then(|p| {
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        let log_len = log
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map(|m| m.len())
            .unwrap_or(0);
        Written {
            log,
            log_len,
            committed: offset,
            carry: Utf8Carry::default(),
            line: String::new(),
        }
    }

    /// Bytes read up to `offset`: the whole lines among them go out.
    fn lines(
        &mut self,
        data: &[u8],
        offset: u64,
        events: &mpsc::UnboundedSender<RunEvent>,
        run: &str,
        progress: Option<&std::path::Path>,
    ) {
        self.line.push_str(&self.carry.push(data));
        // Only whole lines leave the engine, masked: a secret is never
        // split across two chunks where the mask could miss it.
        if let Some(nl) = self.line.rfind('\n') {
            let rest = self.line.split_off(nl + 1);
            let text = crate::store::mask::mask_owned(std::mem::replace(&mut self.line, rest));
            self.log_len += emit(&mut self.log, events, run, text);
        }
        // Bytes read but not yet written as whole lines are read again after a restart.
        let pending = (self.carry.pending.len() + self.line.len()) as u64;
        let now_committed = offset.saturating_sub(pending);
        if now_committed != self.committed {
            self.committed = now_committed;
            write_progress(progress, self.committed, self.log_len);
        }
    }

    /// The job ended at `offset`: what is left goes out, line or not.
    fn last(
        &mut self,
        offset: u64,
        events: &mpsc::UnboundedSender<RunEvent>,
        run: &str,
        progress: Option<&std::path::Path>,
    ) {
        self.line.push_str(&self.carry.finish());
        let text = crate::store::mask::mask_owned(std::mem::take(&mut self.line));
        self.log_len += emit(&mut self.log, events, run, text);
        write_progress(progress, offset, self.log_len);
    }
}

/// One tail call in flight on its own task.
struct Tail {
    job: tokio::task::JoinHandle<Result<crate::jobs::protocol::TailChunk, ProtocolError>>,
}

impl Tail {
    fn spawn(
        protocol: &RunProtocol,
        host: &str,
        run: &str,
        offset: u64,
        not_before: Option<Instant>,
    ) -> Self {
        let (protocol, host, run) = (protocol.clone(), host.to_string(), run.to_string());
        let job = tokio::spawn(async move {
            if let Some(at) = not_before {
                tokio::time::sleep_until(at).await;
            }
            protocol.tail(&host, &run, offset).await
        });
        Self { job }
    }
}

/// Send masked output to the pane and append it to the local log; the
/// bytes written to the log.
fn emit(
    log: &mut Option<std::fs::File>,
    events: &mpsc::UnboundedSender<RunEvent>,
    run: &str,
    text: String,
) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let mut written = 0;
    if let Some(f) = log.as_mut()
        && f.write_all(text.as_bytes()).is_ok()
    {
        written = text.len() as u64;
    }
    let _ = events.send(RunEvent::Output {
        run: run.to_string().into(),
        text,
    });
    written
}

fn write_progress(path: Option<&std::path::Path>, offset: u64, log_len: u64) {
    if let Some(p) = path
        && let Err(e) =
            crate::store::journal::write_private(p, format!("{offset} {log_len}\n").as_bytes())
    {
        tracing::warn!("cannot record progress in {}: {e}", p.display());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_never_split_across_chunks() {
        let mut c = Utf8Carry::default();
        let bytes = "héllo ✓".as_bytes();
        let mut out = String::new();
        for b in bytes {
            out.push_str(&c.push(std::slice::from_ref(b)));
        }
        out.push_str(&c.finish());
        assert_eq!(out, "héllo ✓");
    }
}
