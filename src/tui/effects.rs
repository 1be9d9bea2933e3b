//! The effects runner: the one place that turns an [`Effect`] into work.
//! It spawns tasks that call providers and the run engine, and sends the
//! results back as [`Msg`]s.

use crate::jobs::engine::{RunEvent, RunHandle};
use crate::jobs::protocol::RunProtocol;
use crate::provider::host::HostInventory;
use crate::tui::app::{Effect, Msg};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

pub use crate::ops::Providers;
pub use crate::ops::inventory::s3_backups;

/// A file name in `dir` for `key` that does not overwrite anything.
pub fn download_path(dir: &std::path::Path, key: &str, version_id: Option<&str>) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let base = key
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty())
        .unwrap_or("object");
    let base = match version_id {
        Some(v) => format!("{base}.{}", &v[..v.len().min(12)]),
        None => base.to_string(),
    };
    let mut path = dir.join(&base);
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{base}.{n}"));
        n += 1;
    }
    path
}

/// Opens a context by name (`:ctx NAME`): the providers, what the app
/// shows of it, and its config. The error is shown as a notice.
pub type ContextOpener = Arc<
    dyn Fn(
            String,
        ) -> futures::future::BoxFuture<
            'static,
            Result<
                (
                    Providers,
                    crate::tui::app::ContextInfo,
                    crate::config::Config,
                ),
                String,
            >,
        > + Send
        + Sync,
>;

pub struct EffectsRunner {
    /// Swapped by `:ctx`; each effect works on the providers current when it starts.
    providers: Arc<std::sync::RwLock<Providers>>,
    opener: Option<ContextOpener>,
    tx: UnboundedSender<Msg>,
    run_tx: UnboundedSender<RunEvent>,
    /// Runs and procedures this console drives (cancel goes to them).
    handles: HashMap<String, RunHandle>,
    /// Port forwards: they live in this process and end with the console.
    /// Their own map, filled by [`Effect::StartForward`] alone, so nothing
    /// but a forward is ever stopped on quit.
    forwards: HashMap<String, RunHandle>,
    /// Fleet runs in flight: their cancel switch (CancelCommand).
    fleets: HashMap<String, tokio::sync::watch::Sender<bool>>,
}

impl EffectsRunner {
    /// Journal a fleet run's targets, drive the engine, journal each end
    /// and pass the events on as messages.
    fn start_fleet(&mut self, p: &Providers, id: String, plan: crate::ops::fleet::FleetPlan) {
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
            "50",
            "0",
            crate::ops::fleet::poll_interval(),
        ) {
            Ok(r) => r,
            Err(e) => {
                // No journal, no run: nothing was sent.
                let why = format!(
                    "not started: cannot write the journal in {}: {e}",
                    p.journal.root().display()
                );
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
                Ok(Err(e)) => e,
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

    /// End the port forwards (they live in this process); how many.
    pub fn stop_forwards(&self) -> usize {
        self.forwards.values().map(RunHandle::cancel).count()
    }

    /// The providers of the current context.
    pub fn providers(&self) -> Providers {
        match self.providers.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A change or download, journaled ([`crate::ops::actions::perform`]);
    /// its answer comes back as [`Msg::ActionDone`] with what to reload.
    fn perform(
        &self,
        p: Providers,
        change: crate::ops::actions::Change,
        production: bool,
        reload: Vec<Effect>,
    ) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let title = change.title();
            let result = crate::ops::actions::perform(&p, &change, production).await;
            let _ = tx.send(Msg::ActionDone {
                title,
                result,
                reload,
            });
        });
    }

    /// `tx` receives every result; run events are forwarded into it too.
    pub fn new(providers: Providers, tx: UnboundedSender<Msg>) -> Self {
        let (run_tx, mut run_rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
        let fwd = tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = run_rx.recv().await {
                if fwd.send(Msg::Run(ev)).is_err() {
                    break;
                }
            }
        });
        Self {
            providers: Arc::new(std::sync::RwLock::new(providers)),
            opener: None,
            tx,
            run_tx,
            handles: HashMap::new(),
            forwards: HashMap::new(),
            fleets: HashMap::new(),
        }
    }

    /// Let `:ctx NAME` open other contexts.
    pub fn with_opener(mut self, opener: ContextOpener) -> Self {
        self.opener = Some(opener);
        self
    }

    fn current(&self) -> Providers {
        match self.providers.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn dispatch(&mut self, fx: Effect) {
        let tx = self.tx.clone();
        let p = self.current();
        match fx {
            Effect::SwitchContext(name) => {
                let Some(opener) = self.opener.clone() else {
                    let _ = tx.send(Msg::ActionDone {
                        title: format!("switch to context {name}"),
                        result: Err("this console cannot open other contexts".into()),
                        reload: vec![],
                    });
                    return;
                };
                let slot = self.providers.clone();
                tokio::spawn(async move {
                    match opener(name.clone()).await {
                        Ok((providers, ctx, config)) => {
                            if let Ok(mut s) = slot.write() {
                                *s = providers;
                            }
                            let _ = tx.send(Msg::ContextOpened {
                                ctx,
                                config: Box::new(config),
                            });
                        }
                        Err(e) => {
                            let _ = tx.send(Msg::ActionDone {
                                title: format!("switch to context {name}"),
                                result: Err(e),
                                reload: vec![],
                            });
                        }
                    }
                });
            }
            Effect::LoadInstances => {
                tokio::spawn(async move {
                    let pages = tx.clone();
                    let all = p
                        .cloud
                        .instance_pages(&mut |page| {
                            let _ = pages.send(Msg::InstancesPage(page));
                        })
                        .await;
                    let _ = tx.send(Msg::Instances(all));
                });
            }
            Effect::LoadSnapshot(host) => {
                tokio::spawn(async move {
                    let result = HostInventory::new(p.transport.clone())
                        .snapshot(&host)
                        .await;
                    let _ = tx.send(Msg::Snapshot { host, result });
                });
            }
            Effect::LoadBuckets => {
                tokio::spawn(async move {
                    let _ = tx.send(Msg::Buckets(p.store.buckets().await));
                });
            }
            Effect::LoadObjects { bucket, prefix } => {
                tokio::spawn(async move {
                    // Pages go to the list as they arrive.
                    let (b, pr, t) = (bucket.clone(), prefix.clone(), tx.clone());
                    let listed = p
                        .store
                        .list_pages(&bucket, &prefix, &mut |page| {
                            let _ = t.send(Msg::ObjectsPage {
                                bucket: b.clone(),
                                prefix: pr.clone(),
                                page,
                            });
                        })
                        .await;
                    // Keys hidden by a delete marker are listed too, so they can be undeleted.
                    let result = match listed {
                        Ok(()) => Ok(p.store.deleted(&bucket, &prefix).await.unwrap_or_else(|e| {
                            tracing::warn!("{e}");
                            vec![]
                        })),
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::Objects {
                        bucket,
                        prefix,
                        result,
                    });
                });
            }
            Effect::LoadVersions { bucket, key } => {
                tokio::spawn(async move {
                    let result = p.store.versions(&bucket, &key).await;
                    let _ = tx.send(Msg::Versions {
                        bucket,
                        key,
                        result,
                    });
                });
            }
            Effect::LoadS3Backups { bucket, prefix } => {
                tokio::spawn(async move {
                    let r = s3_backups(p.store.as_ref(), &bucket, &prefix).await;
                    let _ = tx.send(Msg::S3Backups(r));
                });
            }
            Effect::StartRun { id, run } => {
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
                            error: format!(
                                "not started: cannot write the journal in {}: {e}",
                                p.journal.root().display()
                            ),
                        });
                    }
                }
            }
            Effect::Reattach => {
                // Shells, forwards and changes of an opsdeck that died: lost.
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
                        let _ = tx.send(Msg::ActionDone {
                            title: format!("reattach {}", entry.start.title),
                            result: Err(format!(
                                "{} is followed by another opsdeck (a console or `opsdeck attach`)",
                                entry.start.run
                            )),
                            reload: vec![],
                        });
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
            Effect::LoadPosture => {
                tokio::spawn(async move {
                    let _ = tx.send(Msg::Posture(p.cloud.posture().await));
                });
            }
            // Drills (git, bash, psql) and the journal's files are read on a
            // blocking thread: the console answers keys meanwhile.
            Effect::LoadDrills => {
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::Drills {
                        active: crate::drill::active(&p.journal).map(Box::new),
                        reports: p.journal.drills(),
                    });
                });
            }
            Effect::StartDrill(name) => {
                tokio::task::spawn_blocking(move || {
                    let result = match (&p.sandbox, crate::drill::Scenario::parse(&name)) {
                        (None, _) => {
                            Err("drills run on the sandbox only (:ctx sandbox)".to_string())
                        }
                        (_, None) => Err(format!(
                            "no scenario {name:?} (try: {})",
                            crate::drill::Scenario::ALL.map(|s| s.name()).join(", ")
                        )),
                        (Some(sb), Some(sc)) => {
                            crate::drill::start(sb, &p.journal, sc, None, crate::clock::now())
                        }
                    };
                    let _ = tx.send(Msg::DrillStarted(result.map(Box::new)));
                });
            }
            Effect::VerifyDrill => {
                tokio::task::spawn_blocking(move || {
                    let result = match &p.sandbox {
                        None => Err("drills run on the sandbox only".to_string()),
                        Some(sb) => crate::drill::verify(sb, &p.journal, crate::clock::now()),
                    };
                    let _ = tx.send(Msg::DrillVerified(result.map(Box::new)));
                });
            }
            Effect::LoadHistory => {
                tokio::task::spawn_blocking(move || {
                    let (mut entries, skipped) = p.journal.entries();
                    if skipped > 0 {
                        tracing::warn!("journal: {skipped} unreadable line(s) skipped");
                    }
                    entries.reverse();
                    let _ = tx.send(Msg::History(entries));
                });
            }
            Effect::OpenPastOutput(id) => {
                tokio::task::spawn_blocking(move || {
                    let (entries, _) = p.journal.entries();
                    if let Some(entry) = entries.into_iter().find(|e| e.start.run == id) {
                        let text = std::fs::read_to_string(p.journal.output_path(&id))
                            .unwrap_or_else(|e| format!("(no output file: {e})\n"));
                        let _ = tx.send(Msg::PastOutput {
                            entry: Box::new(entry),
                            text,
                        });
                    } else {
                        let _ = tx.send(Msg::ActionDone {
                            title: format!("open {id}"),
                            result: Err("not in the journal".into()),
                            reload: vec![],
                        });
                    }
                });
            }
            Effect::StartForward {
                id,
                instance,
                dest,
                local_port,
                production,
            } => {
                let (handle, stop) = RunHandle::new(id.clone());
                self.forwards.insert(id.clone(), handle);
                let run_tx = self.run_tx.clone();
                tokio::spawn(async move {
                    let what = format!("forward to {}", dest.database);
                    let fail = |e: String| {
                        let _ = tx.send(Msg::ActionDone {
                            title: what.clone(),
                            result: Err(e),
                            reload: vec![],
                        });
                    };
                    // Starting the sandbox's server may take a moment.
                    let planned = {
                        let (p, i, dest) = (p.clone(), instance.clone(), dest.clone());
                        tokio::task::spawn_blocking(move || {
                            crate::ops::session::plan_forward(&p, &i, &dest, local_port)
                        })
                        .await
                    };
                    let (spec, change) = match planned {
                        Ok(Ok(x)) => x,
                        Ok(Err(e)) => return fail(e),
                        Err(e) => return fail(e.to_string()),
                    };
                    let title = change.title();
                    let begun = match crate::ops::actions::begin_as(
                        &p,
                        &change,
                        production,
                        Some(id.clone()),
                    ) {
                        Ok(b) => b,
                        Err(e) => return fail(e),
                    };
                    let _ = tx.send(Msg::ForwardStarted {
                        id: id.clone(),
                        title: title.clone(),
                        host: instance.id.clone(),
                        production,
                    });
                    let _ = run_tx.send(RunEvent::Started {
                        run: id.clone(),
                        host: instance.id.clone(),
                        pid: 0,
                    });
                    let lines = run_tx.clone();
                    let run = id.clone();
                    let ended = crate::ops::session::run_forward(
                        &p,
                        begun,
                        &spec,
                        &title,
                        move |l| {
                            let _ = lines.send(RunEvent::Output {
                                run: run.clone(),
                                text: format!("{l}\n"),
                            });
                        },
                        stop,
                    )
                    .await;
                    let _ = run_tx.send(match ended {
                        Ok(crate::ops::session::ForwardEnd::Ended) => RunEvent::Cancelled {
                            run: id,
                            exit_code: 0,
                        },
                        Ok(crate::ops::session::ForwardEnd::Exited(c)) => RunEvent::Finished {
                            run: id,
                            exit_code: c,
                        },
                        Err(error) => RunEvent::Failed { run: id, error },
                    });
                });
            }
            Effect::Login { profile } => {
                let _ = tx.send(Msg::ActionDone {
                    title: format!("login {profile}"),
                    result: Err("a login needs the console's terminal".into()),
                    reload: vec![],
                });
            }
            Effect::Shell { instance, .. } => {
                // The console takes this one itself (it owns the terminal).
                let _ = tx.send(Msg::ActionDone {
                    title: format!("shell on {}", instance.id),
                    result: Err("a shell needs the console's terminal".into()),
                    reload: vec![],
                });
            }
            Effect::SetRunning {
                id,
                running,
                production,
            } => {
                let change = crate::ops::actions::Change::SetRunning { id, running };
                self.perform(p, change, production, vec![Effect::LoadInstances]);
            }
            Effect::RestoreVersion {
                bucket,
                key,
                version_id,
                production,
            } => {
                let reload = vec![Effect::LoadVersions {
                    bucket: bucket.clone(),
                    key: key.clone(),
                }];
                let change = crate::ops::actions::Change::RestoreVersion {
                    bucket,
                    key,
                    version_id,
                };
                self.perform(p, change, production, reload);
            }
            Effect::Undelete {
                bucket,
                key,
                production,
            } => {
                let reload = vec![Effect::LoadVersions {
                    bucket: bucket.clone(),
                    key: key.clone(),
                }];
                let change = crate::ops::actions::Change::Undelete { bucket, key };
                self.perform(p, change, production, reload);
            }
            Effect::Download {
                bucket,
                key,
                version_id,
                production,
            } => {
                let to = download_path(&p.download_dir, &key, version_id.as_deref());
                let change = crate::ops::actions::Change::Download {
                    bucket,
                    key,
                    version_id,
                    to,
                };
                self.perform(p, change, production, vec![]);
            }
            Effect::StartFleet { id, plan } => self.start_fleet(&p, id, *plan),
            Effect::FollowTarget { id, host } => {
                let protocol = RunProtocol::new(p.transport.clone());
                let run_tx = self.run_tx.clone();
                tokio::spawn(async move {
                    // SSM may not have started the target yet: wait for its
                    // job (a minute at most), then tail it from the start.
                    for _ in 0..30 {
                        match protocol.list(&host).await {
                            Ok(jobs) if !jobs.iter().any(|j| j.id == id) => {
                                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                            }
                            _ => break,
                        }
                    }
                    // Not kept: it ends with the job (cancelling is the fleet's).
                    let _ = crate::jobs::engine::spawn_run(
                        protocol,
                        crate::jobs::engine::RunRequest {
                            run: id,
                            host,
                            script: String::new(),
                            local_log: None,
                            resume_from: Some(0),
                            progress: None,
                        },
                        run_tx,
                    );
                });
            }
            Effect::CancelFleet { id } => {
                tracing::info!(fleet = %id, "fleet cancel requested");
                if let Some(c) = self.fleets.get(&id) {
                    let _ = c.send(true);
                }
            }
            Effect::CancelRun { id, host } => {
                tracing::info!(run = %id, "cancel requested");
                match self.handles.get(&id).or_else(|| self.forwards.get(&id)) {
                    Some(h) => h.cancel(),
                    None => {
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
            }
        }
    }
}
