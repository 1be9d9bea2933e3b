//! The effects runner: the one place that turns an [`Effect`] into work.
//! It spawns tasks that call providers and the run engine, and sends the
//! results back as [`Msg`]s.

mod journal;
mod load;
mod runs;
mod sessions;

use crate::jobs::engine::{RunEvent, RunHandle, RunId};
use crate::ops::actions::Change;
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
    handles: HashMap<RunId, RunHandle>,
    /// Port forwards: they live in this process and end with the console.
    /// Their own map, filled by [`Effect::StartForward`] alone, so nothing
    /// but a forward is ever stopped on quit.
    forwards: HashMap<RunId, RunHandle>,
    /// Fleet runs in flight: their cancel switch (CancelCommand).
    fleets: HashMap<RunId, tokio::sync::watch::Sender<bool>>,
    /// Waits for a refused run's locks (stopped when the operator gives up).
    waits: HashMap<u64, tokio::task::JoinHandle<()>>,
}

impl EffectsRunner {
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
            let result = crate::ops::actions::perform(&p, &change, production)
                .await
                .map_err(String::from);
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
            waits: HashMap::new(),
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

    /// Route an effect to the module of its domain.
    pub fn dispatch(&mut self, fx: Effect) {
        let p = self.current();
        let tx = self.tx.clone();
        match fx {
            Effect::SwitchContext(name) => self.switch_context(name),
            Effect::LoadInstances => load::instances(p, tx),
            Effect::LoadSnapshot(host) => load::snapshot(p, tx, host),
            Effect::LoadBuckets => load::buckets(p, tx),
            Effect::LoadObjects { bucket, prefix } => load::objects(p, tx, bucket, prefix),
            Effect::LoadVersions { bucket, key } => load::versions(p, tx, bucket, key),
            Effect::LoadS3Backups { bucket, prefix } => load::s3_backups(p, tx, bucket, prefix),
            Effect::LoadPosture => load::posture(p, tx),
            Effect::StartRun { id, run } => self.start_run(&p, id, *run),
            Effect::Reattach => self.reattach(&p),
            Effect::StartFleet { id, plan } => self.start_fleet(&p, id, *plan),
            Effect::FollowTarget { id, host } => self.follow_target(&p, id, host),
            Effect::CancelFleet { id } => self.cancel_fleet(&id),
            Effect::CancelRun { id, host } => self.cancel_run(&p, id, host),
            Effect::LoadHostRuns(instances) => load::host_runs(p, tx, instances),
            Effect::WaitForLocks { wait, run } => {
                let task = runs::wait_for_locks(p, tx, wait, *run);
                self.waits.insert(wait, task);
            }
            Effect::StopWaiting(wait) => {
                if let Some(task) = self.waits.remove(&wait) {
                    task.abort();
                }
            }
            Effect::CancelElsewhere { run, production } => {
                self.perform(p, run.cancel_change(), production, vec![]);
            }
            Effect::LoadDrills => journal::drills(p, tx),
            Effect::StartDrill(name) => journal::start_drill(p, tx, name),
            Effect::VerifyDrill => journal::verify_drill(p, tx),
            Effect::LoadHistory => journal::history(p, tx),
            Effect::OpenPastOutput(id) => journal::past_output(p, tx, id),
            Effect::StartForward {
                id,
                instance,
                dest,
                local_port,
                production,
            } => self.start_forward(p, id, instance, dest, local_port, production),
            // The console takes these itself (it owns the terminal).
            Effect::Login { profile } => fail(
                &tx,
                format!("login {profile}"),
                "a login needs the console's terminal",
            ),
            Effect::Shell { instance, .. } => fail(
                &tx,
                format!("shell on {}", instance.id),
                "a shell needs the console's terminal",
            ),
            Effect::SetRunning {
                id,
                running,
                production,
            } => {
                let change = Change::SetRunning { id, running };
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
                let change = Change::RestoreVersion {
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
                self.perform(p, Change::Undelete { bucket, key }, production, reload);
            }
            Effect::Download {
                bucket,
                key,
                version_id,
                production,
            } => {
                let to = download_path(&p.download_dir, &key, version_id.as_deref());
                let change = Change::Download {
                    bucket,
                    key,
                    version_id,
                    to,
                };
                self.perform(p, change, production, vec![]);
            }
        }
    }
}

type Tx = UnboundedSender<Msg>;

/// A failure said as a notice: the one shape of every failed reply.
fn fail(tx: &Tx, title: impl Into<String>, error: impl Into<String>) {
    let _ = tx.send(Msg::ActionDone {
        title: title.into(),
        result: Err(error.into()),
        reload: vec![],
    });
}

/// Why a run was not started when its journal record cannot be written
/// (nothing was sent).
fn not_journaled(p: &Providers, e: &std::io::Error) -> String {
    format!(
        "not started: cannot write the journal in {}: {e}",
        p.journal.root().display()
    )
}
