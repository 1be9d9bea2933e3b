//! Runs a procedure (a runbook with cloud steps): each cloud step is a
//! call through the provider seam made here, each script part a job on
//! its instance through the run protocol; all of it one stream of
//! [`RunEvent`]s under the run's id, like any run, so the journal, the
//! console and the CLI need nothing else. A failed step stops it; the
//! output then says what exists now and what to clean up.

use crate::jobs::engine::{RunEvent, RunHandle, RunId, RunRequest, spawn_run};
use crate::jobs::markers::RESULT_MARKER;
use crate::jobs::protocol::RunProtocol;
use crate::provider::CloudInventory;
use crate::runbook::cloud::{Action, references};
use crate::runbook::procedure::{check_arg, with_runtime};
use crate::runbook::{Part, Procedure};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

mod create_image;
mod launch_like;
mod locks;
mod move_address;
mod newest_image;
mod prune_images;
mod stop;
mod terminate;

/// A cloud step's arguments, checked, by name.
type Args = BTreeMap<String, String>;

/// Argument `k` (empty when the action takes none of that name).
fn arg(args: &Args, k: &str) -> String {
    args.get(k).cloned().unwrap_or_default()
}

/// A wait for something in the cloud: since when, how often to look, how
/// long at most, and what it waits for (said when it times out).
struct Wait {
    started: tokio::time::Instant,
    every: Duration,
    limit: Duration,
    what: String,
}

impl Wait {
    fn new(what: impl Into<String>) -> Wait {
        let (every, limit) = poll();
        Wait {
            started: tokio::time::Instant::now(),
            every,
            limit,
            what: what.into(),
        }
    }
}

/// A provider error as a step's failure.
fn err(e: crate::provider::ProviderError) -> Stop {
    Stop::Failed(e.to_string())
}

/// The exit code of a cancelled procedure (as bash's for SIGTERM).
const CANCELLED: i32 = 143;

#[derive(Debug, Clone)]
pub struct ProcedureRequest {
    pub run: RunId,
    /// The target's host (the instance it is about).
    pub host: String,
    pub procedure: Procedure,
    pub local_log: Option<PathBuf>,
    /// What it holds while it runs (kept in the provider's lock store:
    /// its host may be gone).
    pub locks: Option<crate::jobs::locks::JobLocks>,
}

/// How often a wait asks again (`OPSDECK_CLOUD_POLL_MS`, default 2 s) and
/// how long it waits at most (`OPSDECK_CLOUD_WAIT_SECS`, default 15 min).
fn poll() -> (Duration, Duration) {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    (
        Duration::from_millis(env("OPSDECK_CLOUD_POLL_MS", 2000)),
        Duration::from_secs(env("OPSDECK_CLOUD_WAIT_SECS", 900)),
    )
}

pub fn spawn_procedure(
    cloud: Arc<dyn CloudInventory>,
    protocol: RunProtocol,
    req: ProcedureRequest,
    events: mpsc::UnboundedSender<RunEvent>,
) -> RunHandle {
    let (handle, cancel) = RunHandle::new(req.run.clone());
    tokio::spawn(async move {
        let (held, said) = match &req.locks {
            None => (None, Vec::new()),
            Some(l) => match locks::take(cloud.as_ref(), l).await {
                locks::Taking::Took(h, said) => (Some(h), said),
                locks::Taking::Unlocked(why) => (None, vec![why]),
                locks::Taking::Refused(locked) => {
                    let _ = events.send(RunEvent::Refused {
                        run: req.run.clone(),
                        locked,
                    });
                    return;
                }
                locks::Taking::Failed(why) => {
                    let _ = events.send(RunEvent::Failed {
                        run: req.run.clone(),
                        error: format!("not started: cannot take its locks: {why}"),
                    });
                    return;
                }
            },
        };
        let mut r = Runner {
            out: Out::new(&req.run, req.local_log.as_ref(), events.clone()),
            cloud,
            protocol,
            cancel,
            values: req.procedure.values.clone(),
            ledger: Vec::new(),
            region: String::new(),
        };
        let _ = events.send(RunEvent::Started {
            run: req.run.clone(),
            host: req.host.clone(),
            pid: 0,
        });
        for line in said.iter().filter(|l| !l.is_empty()) {
            r.out.line(line);
        }
        let end = r.run(&req).await;
        r.describe_estate(!matches!(end, End::Done));
        if let Some(h) = held {
            h.release().await;
        }
        let ev = match end {
            End::Done => {
                r.out.line(&format!("{RESULT_MARKER}succeeded"));
                RunEvent::Finished {
                    run: req.run.clone(),
                    exit_code: 0,
                }
            }
            End::Failed { step } => {
                r.out.line(&format!(
                    "{RESULT_MARKER}failed step=\"{}\" exit=1",
                    step.replace('"', "'")
                ));
                RunEvent::Finished {
                    run: req.run.clone(),
                    exit_code: 1,
                }
            }
            End::Cancelled => {
                r.out.line(&format!("{RESULT_MARKER}cancelled"));
                RunEvent::Cancelled {
                    run: req.run.clone(),
                    exit_code: CANCELLED,
                }
            }
        };
        let _ = events.send(ev);
    });
    handle
}

enum End {
    Done,
    Failed { step: String },
    Cancelled,
}

/// The run's output: to its log and as events.
struct Out {
    run: RunId,
    log: Option<std::fs::File>,
    events: mpsc::UnboundedSender<RunEvent>,
}

impl Out {
    fn new(run: &str, log: Option<&PathBuf>, events: mpsc::UnboundedSender<RunEvent>) -> Out {
        let log = log.and_then(|p| {
            if let Some(d) = p.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        Out {
            run: run.to_string().into(),
            log,
            events,
        }
    }
    fn text(&mut self, text: &str) {
        if let Some(f) = &mut self.log {
            let _ = f.write_all(text.as_bytes());
        }
        let _ = self.events.send(RunEvent::Output {
            run: self.run.clone(),
            text: text.to_string(),
        });
    }
    /// A line of the runner's own (the script parts' output comes masked
    /// from the engine): masked like any output.
    fn line(&mut self, l: &str) {
        self.text(&crate::store::mask::mask_text(&format!("{l}\n")));
    }
}

struct Runner {
    out: Out,
    cloud: Arc<dyn CloudInventory>,
    protocol: RunProtocol,
    cancel: watch::Receiver<bool>,
    /// Target variables, parameters, and what cloud steps gave.
    values: BTreeMap<String, String>,
    /// What this run made or changed, for the end's description.
    ledger: Vec<String>,
    region: String,
}

/// Why a step stopped.
enum Stop {
    Cancelled,
    Failed(String),
}

impl From<String> for Stop {
    fn from(why: String) -> Stop {
        Stop::Failed(why)
    }
}

type StepResult = Result<(), Stop>;

impl Runner {
    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    async fn run(&mut self, req: &ProcedureRequest) -> End {
        let p = &req.procedure;
        self.values.insert(
            "stamp".into(),
            crate::clock::now().format("%Y%m%d-%H%M%S").to_string(),
        );
        // Every call goes to the target's region.
        let found = match self.cloud.instances().await {
            Ok(list) => list
                .iter()
                .find(|i| i.id == req.host)
                .map(|i| i.region.clone())
                .ok_or_else(|| format!("{} is not among the instances", req.host)),
            Err(e) => Err(e.to_string()),
        };
        match found {
            Ok(region) => self.region = region,
            Err(why) => {
                self.fail(&why);
                return End::Failed {
                    step: "find the instance".into(),
                };
            }
        }
        for (k, part) in p.parts.iter().enumerate() {
            if self.cancelled() {
                return End::Cancelled;
            }
            match part {
                Part::Cloud {
                    number,
                    name,
                    action,
                    args,
                } => {
                    self.out.line(&format!("==> [{number}/{}] {name}", p.total));
                    match self.cloud_step(*action, name, args).await {
                        Ok(()) => {}
                        Err(Stop::Cancelled) => return End::Cancelled,
                        Err(Stop::Failed(why)) => {
                            self.fail(&why);
                            return End::Failed { step: name.clone() };
                        }
                    }
                }
                Part::Script {
                    steps,
                    later,
                    on,
                    script,
                } => {
                    let host = match on {
                        Some(o) => self.values.get(o).cloned().unwrap_or_default(),
                        None => req.host.clone(),
                    };
                    let first = steps.first().map(|(_, n)| n.clone()).unwrap_or_default();
                    let script = match with_runtime(script, later, &self.values) {
                        Ok(s) => s,
                        Err(e) => {
                            self.fail(&e.to_string());
                            return End::Failed { step: first };
                        }
                    };
                    match self
                        .script_part(&format!("{}-{}", req.run, k + 1), &host, script)
                        .await
                    {
                        Ok(()) => {}
                        Err(Stop::Cancelled) => return End::Cancelled,
                        Err(Stop::Failed(why)) => {
                            // The part names its failed step in its result line.
                            let step = why
                                .split_once("step=\"")
                                .and_then(|(_, r)| r.split_once('"'))
                                .map(|(s, _)| s.to_string())
                                .unwrap_or(first);
                            return End::Failed { step };
                        }
                    }
                }
            }
        }
        End::Done
    }

    fn fail(&mut self, why: &str) {
        self.out.line(&format!("==> FAILED: {why}"));
    }

    fn say(&mut self, s: &str) {
        self.out.line(&format!("    {s}"));
    }

    fn report(&mut self, k: &str, v: &str) {
        self.out
            .line(&format!("{}{k}={v}", crate::jobs::markers::REPORT_MARKER));
    }

    /// Sleep one poll interval, unless cancelled.
    async fn pause(&mut self, every: Duration) -> StepResult {
        tokio::select! {
            _ = tokio::time::sleep(every) => Ok(()),
            _ = self.cancel.changed() => Err(Stop::Cancelled),
        }
    }

    async fn cloud_step(
        &mut self,
        action: Action,
        name: &str,
        templates: &BTreeMap<String, String>,
    ) -> StepResult {
        let mut args = BTreeMap::new();
        for (arg, ty) in action.args() {
            let v = crate::runbook::cloud::fill(
                templates.get(*arg).map(String::as_str).unwrap_or(""),
                &self.values,
            );
            if let Some(r) = references(&v).first() {
                return Err(format!("`{arg}`: no value for {{{r}}}").into());
            }
            check_arg(name, arg, *ty, &v).map_err(|e| e.to_string())?;
            args.insert(arg.to_string(), v);
        }
        self.say(&format!("call: {}", action.call(&args)));
        let region = self.region.clone();
        match action {
            Action::CreateImage => self.create_image(&region, &args).await,
            Action::PruneImages => self.prune_images(&region, &args).await,
            Action::NewestImage => self.newest_image(&region, &args).await,
            Action::LaunchLike => self.launch_like(&region, &args).await,
            Action::Terminate => self.terminate(&region, &args).await,
            Action::Stop => self.stop(&args).await,
            Action::MoveAddress => self.move_address(&region, &args).await,
        }
    }

    /// After a look that found it not done yet: wait one poll interval
    /// (cancel stops it at once), or fail past the wait's limit saying
    /// what did not happen in time. The one wait of every cloud step.
    async fn wait_until(&mut self, w: &Wait) -> StepResult {
        if w.started.elapsed() > w.limit {
            return Err(format!("{} after {} s", w.what, w.limit.as_secs()).into());
        }
        self.pause(w.every).await
    }

    async fn script_part(&mut self, job: &str, host: &str, script: String) -> StepResult {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = spawn_run(
            self.protocol.clone(),
            RunRequest {
                run: job.to_string().into(),
                host: host.to_string(),
                script,
                local_log: None,
                resume_from: None,
                progress: None,
                locks: None,
            },
            tx,
        );
        let mut last = String::new();
        let mut cancel_sent = false;
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = self.cancel.changed(), if !cancel_sent => {
                    cancel_sent = true;
                    handle.cancel();
                    continue;
                }
            };
            let Some(ev) = ev else {
                return Err(format!("the script part on {host} stopped reporting").into());
            };
            match ev {
                RunEvent::Started { .. } => {}
                RunEvent::Output { text, .. } => {
                    if let Some(r) = text
                        .lines()
                        .rev()
                        .find_map(|l| l.strip_prefix("==> part result: "))
                    {
                        last = r.to_string();
                    }
                    self.out.text(&text);
                }
                RunEvent::Finished { exit_code: 0, .. } => return Ok(()),
                RunEvent::Finished { exit_code, .. } => {
                    return Err(Stop::Failed(if last.is_empty() {
                        format!("the script part on {host} exited {exit_code}")
                    } else {
                        last
                    }));
                }
                RunEvent::Cancelled { .. } => return Err(Stop::Cancelled),
                RunEvent::Failed { error, .. } => return Err(format!("on {host}: {error}").into()),
                RunEvent::Refused { locked, .. } => {
                    return Err(format!("refused: {locked}").into());
                }
            }
        }
    }

    /// What exists now because of this run, and what to do with it.
    fn describe_estate(&mut self, stopped: bool) {
        if self.ledger.is_empty() {
            self.out
                .line("==> estate: this run made nothing and changed nothing in the cloud");
            return;
        }
        self.out.line(if stopped {
            "==> estate now: the run stopped; this is what it made or changed (keep it to go on by hand, or clean it up):"
        } else {
            "==> estate now (what this run made or changed):"
        });
        for l in std::mem::take(&mut self.ledger) {
            self.out.line(&format!("    - {l}"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::domain::{Finding, Instance, SsmPing};
    use crate::provider::machines::Image;
    use crate::provider::{ProviderError, ProviderResult};
    use std::sync::atomic::{AtomicU32, Ordering};

    const ID: &str = "i-0123456789abcdef0";
    const AMI: &str = "ami-0123456789abcdef0";

    /// EC2 as it is: a new image is not described at first, then pending,
    /// then available.
    struct Eventual {
        described: AtomicU32,
    }

    #[async_trait::async_trait]
    impl CloudInventory for Eventual {
        fn label(&self) -> String {
            "eventual".into()
        }
        async fn instances(&self) -> ProviderResult<Vec<Instance>> {
            Ok(vec![Instance {
                id: ID.into(),
                name: "web".into(),
                region: "us-east-1".into(),
                instance_type: "t3.small".into(),
                state: "running".into(),
                private_ip: None,
                public_ip: None,
                ssm_ping: SsmPing::Online,
                platform: "Linux".into(),
                tags: Default::default(),
            }])
        }
        async fn posture(&self) -> ProviderResult<Vec<Finding>> {
            Ok(vec![])
        }
        async fn set_running(&self, _: &str, _: bool) -> ProviderResult<String> {
            Err(ProviderError::new("set_running", "not here"))
        }
        async fn create_image(&self, _: &str, _: &str, _: &str) -> ProviderResult<String> {
            Ok(AMI.into())
        }
        async fn image(&self, _: &str, id: &str) -> ProviderResult<Image> {
            let n = self.described.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                return Err(ProviderError::not_found(
                    format!("image {id}"),
                    "InvalidAMIID.NotFound",
                ));
            }
            Ok(Image {
                id: id.into(),
                name: "x".into(),
                state: if n < 3 { "pending" } else { "available" }.into(),
                created: None,
                snapshots: vec!["snap-0123456789abcdef0".into()],
                source_instance: Some(ID.into()),
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_image_not_described_yet_is_waited_for() {
        let procedure = Procedure {
            parts: vec![Part::Cloud {
                number: 1,
                name: "image it".into(),
                action: Action::CreateImage,
                args: BTreeMap::from([
                    ("instance".to_string(), ID.to_string()),
                    ("name".to_string(), "img-{stamp}".to_string()),
                ]),
            }],
            values: BTreeMap::from([("instance".to_string(), ID.to_string())]),
            total: 1,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _h = spawn_procedure(
            Arc::new(Eventual {
                described: AtomicU32::new(0),
            }),
            RunProtocol::new(Arc::new(crate::transport::local::LocalTransport::new())),
            ProcedureRequest {
                run: "r".into(),
                host: ID.into(),
                procedure,
                local_log: None,
                locks: None,
            },
            tx,
        );
        let mut out = String::new();
        let end = loop {
            match rx.recv().await.unwrap() {
                RunEvent::Output { text, .. } => out.push_str(&text),
                RunEvent::Started { .. } => {}
                ev => break ev,
            }
        };
        assert!(
            matches!(end, RunEvent::Finished { exit_code: 0, .. }),
            "{end:?}\n{out}"
        );
        assert_eq!(out.matches("is not described yet").count(), 2, "{out}");
        assert!(out.contains(&format!("image {AMI} is pending")), "{out}");
        assert!(out.contains(&format!("image {AMI} is available")), "{out}");
        assert!(
            out.contains("==> opsdeck report: image=ami-0123456789abcdef0"),
            "{out}"
        );
    }
}
