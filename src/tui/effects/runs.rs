//! Runs: a runbook started or followed again from the journal, a fleet
//! run (journaled per target, SSM as its engine), a fleet target tailed
//! live, cancelling.

use super::{EffectsRunner, Providers, Tx, not_journaled};
use crate::jobs::engine::{RunEvent, RunId};
use crate::jobs::protocol::RunProtocol;
use crate::tui::app::Msg;
use tokio::sync::mpsc::UnboundedSender;

impl EffectsRunner {
    /// Journal the run's start, then drive it; its events come back as
    /// messages.
    pub(super) fn start_run(&mut self, p: &Providers, id: RunId, run: crate::runbook::RenderedRun) {
        match crate::jobs::journaled::launch(
            RunProtocol::new(p.transport.clone()),
            Some(p.cloud.clone()),
            &p.journal,
            &p.operator,
            &id,
            &run,
            self.run_tx.clone(),
        ) {
            Ok(handle) => {
                self.handles.insert(id, handle);
            }
            Err(e) => {
                // No journal, no run: nothing was sent.
                let _ = self.run_tx.send(RunEvent::Failed {
                    run: id,
                    error: not_journaled(p, &e),
                });
            }
        }
    }

    /// Follow again the runs the journal says were in flight; close as lost
    /// the shells, forwards and changes of an opsdeck that died.
    pub(super) fn reattach(&mut self, p: &Providers) {
        let tx = self.tx.clone();
        if let Ok(closed) = p.journal.close_orphans(&p.operator.context)
            && !closed.is_empty()
        {
            let _ = tx.send(Msg::ActionDone {
                title: "journal".into(),
                result: Ok(format!(
                    "closed as lost, their opsdeck having stopped: {}",
                    closed.join("; ")
                )),
                reload: vec![],
            });
        }
        for entry in p.journal.unfinished(&p.operator.context) {
            // Another opsdeck follows it (and records its end): leave it.
            if matches!(p.journal.follow(&entry.start.run), Ok(None)) {
                super::fail(
                    &tx,
                    format!("reattach {}", entry.start.title),
                    format!(
                        "{} is followed by another opsdeck (a console or `opsdeck attach`)",
                        entry.start.run
                    ),
                );
                continue;
            }
            let output = crate::jobs::journaled::kept_output(&p.journal, &entry.start.run)
                .unwrap_or_default();
            let id = entry.start.run.clone();
            let _ = tx.send(Msg::RunAttached {
                entry: Box::new(entry.clone()),
                output,
            });
            match crate::jobs::journaled::reattach(
                RunProtocol::new(p.transport.clone()),
                &p.journal,
                &entry,
                self.run_tx.clone(),
            ) {
                Ok(h) => {
                    self.handles.insert(id, h);
                }
                Err(e) => {
                    let _ = self.run_tx.send(RunEvent::Failed {
                        run: id,
                        error: format!("cannot reattach: {e}"),
                    });
                }
            }
        }
    }

    /// Journal a fleet run's targets, drive the engine, journal each end
    /// and pass the events on as messages.
    pub(super) fn start_fleet(
        &mut self,
        p: &Providers,
        id: RunId,
        plan: crate::ops::fleet::FleetPlan,
    ) {
        use crate::jobs::fleet::{FleetEvent, TargetEnd};
        let at = crate::clock::now();
        let tx = self.tx.clone();
        let hosts: Vec<String> = plan.runs.iter().map(|r| r.host.clone()).collect();
        let plan_hosts = hosts.clone();
        let fail_all = move |tx: &UnboundedSender<Msg>, run: &str, why: &str, done: &[String]| {
            for h in hosts.iter().filter(|h| !done.contains(h)) {
                let _ = tx.send(Msg::Fleet {
                    run: run.into(),
                    event: FleetEvent::Ended {
                        host: h.clone(),
                        end: TargetEnd::Error(why.into()),
                        output: String::new(),
                    },
                });
            }
        };
        let req = match crate::ops::fleet::start(
            &p.journal,
            &p.operator,
            &plan,
            &id,
            at,
            crate::jobs::fleet::Limit::Count(50),
            crate::jobs::fleet::Limit::Count(0),
            crate::ops::fleet::poll_interval(),
        ) {
            Ok(r) => r,
            Err(e) => {
                // No journal, no run: nothing was sent.
                let why = not_journaled(p, &e);
                fail_all(&tx, &id, &why, &[]);
                return;
            }
        };
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        self.fleets.insert(id.clone(), cancel_tx);
        let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
        let transport = p.transport.clone();
        let journal = p.journal.clone();
        tokio::spawn(async move {
            let engine = tokio::spawn(crate::jobs::fleet::run(transport, req, etx, cancel_rx));
            let mut done = Vec::new();
            while let Some(ev) = erx.recv().await {
                if let FleetEvent::Ended { host, end, output } = &ev {
                    if let Err(e) = crate::ops::fleet::finish(&journal, &id, host, end, output, at)
                    {
                        tracing::error!(run = %id, host, "cannot journal the end: {e}");
                    }
                    done.push(host.clone());
                }
                let _ = tx.send(Msg::Fleet {
                    run: id.clone(),
                    event: ev,
                });
            }
            let why = match engine.await {
                Ok(Ok(_)) => return,
                Ok(Err(e)) => e.0,
                Err(e) => e.to_string(),
            };
            tracing::error!(run = %id, "fleet run failed: {why}");
            for h in plan_hosts.iter().filter(|h| !done.contains(h)) {
                let end = TargetEnd::Error(why.clone());
                let _ = crate::ops::fleet::finish(&journal, &id, h, &end, "", at);
            }
            fail_all(&tx, &id, &why, &done);
        });
    }

    /// Tail one running fleet target's job live (the one the operator
    /// opened). SSM may not have started it yet: wait for its job (a minute
    /// at most), then tail it from the start. Not kept: it ends with the
    /// job (cancelling is the fleet's).
    pub(super) fn follow_target(&self, p: &Providers, id: RunId, host: String) {
        let protocol = RunProtocol::new(p.transport.clone());
        let run_tx = self.run_tx.clone();
        tokio::spawn(async move {
            for _ in 0..30 {
                match protocol.list(&host).await {
                    Ok(jobs) if !jobs.iter().any(|j| j.id == id) => {
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    }
                    _ => break,
                }
            }
            let _ = crate::jobs::engine::spawn_run(
                protocol,
                crate::jobs::engine::RunRequest::follow(id, host),
                run_tx,
            );
        });
    }

    /// CancelCommand for a fleet run's commands (SSM stops the running
    /// targets and sends no more).
    pub(super) fn cancel_fleet(&self, id: &str) {
        tracing::info!(fleet = %id, "fleet cancel requested");
        if let Some(c) = self.fleets.get(id) {
            let _ = c.send(true);
        }
    }

    /// Cancel a run this console drives, or one it only knows of (its job
    /// is killed on its host through the run protocol).
    pub(super) fn cancel_run(&self, p: &Providers, id: RunId, host: String) {
        tracing::info!(run = %id, "cancel requested");
        if let Some(h) = self.handles.get(&id).or_else(|| self.forwards.get(&id)) {
            h.cancel();
            return;
        }
        let protocol = RunProtocol::new(p.transport.clone());
        let run_tx = self.run_tx.clone();
        tokio::spawn(async move {
            if let Err(e) = protocol.cancel(&host, &id).await {
                let _ = run_tx.send(RunEvent::Failed {
                    run: id,
                    error: format!("cancel failed: {e}"),
                });
            }
        });
    }
}

/// Ask `run`'s host every 2 s whether its locks are free (taking none),
/// for at most 30 minutes; the answer is [`Msg::LocksFree`].
pub(super) fn wait_for_locks(
    p: Providers,
    tx: Tx,
    wait: u64,
    run: crate::runbook::RenderedRun,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let protocol = RunProtocol::new(p.transport.clone());
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(30 * 60);
        let failed = loop {
            match crate::jobs::journaled::locks_held(&protocol, &run, &p.operator).await {
                Ok(None) => break None,
                Ok(Some(_)) if tokio::time::Instant::now() >= until => {
                    break Some("still held after 30 minutes of waiting".to_string());
                }
                Ok(Some(_)) => {}
                Err(e) => break Some(format!("cannot ask {} for its locks: {e}", run.host)),
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        };
        let _ = tx.send(Msg::LocksFree { wait, failed });
    })
}
