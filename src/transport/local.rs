//! The local transport: runs scripts with the real bash of this machine, in a
//! sandbox host's directory tree. `OPSDECK_ROOT` points at the host's root so
//! `"${OPSDECK_ROOT:-}/opt/apps"` means the same thing here and on a real host.

use super::{
    ExecOutput, Fleet, FleetInvocation, FleetProgress, FleetSend, InvocationState, PollPolicy,
    Transport, TransportError,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct LocalHost {
    /// The host's filesystem root (`/` on the real machine, a directory in the sandbox).
    pub root: PathBuf,
    /// Extra environment for every script on that host.
    pub env: BTreeMap<String, String>,
    /// Directories prepended to PATH (e.g. the sandbox's simulated `docker`).
    pub path_prepend: Vec<PathBuf>,
}

/// Says why a host cannot be reached right now, if it cannot.
pub type Gate = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Finds a host that came into being after the transport was made (an
/// instance launched from an image).
pub type Resolver = std::sync::Arc<dyn Fn(&str) -> Option<LocalHost> + Send + Sync>;

#[derive(Clone, Default)]
pub struct LocalTransport {
    hosts: BTreeMap<String, LocalHost>,
    gate: Option<Gate>,
    resolver: Option<Resolver>,
    fleets: Commands,
}

impl LocalTransport {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_host(&mut self, id: impl Into<String>, host: LocalHost) {
        self.hosts.insert(id.into(), host);
    }

    /// Refuse hosts for which `gate` gives a reason (stopped, agent offline).
    pub fn set_gate(&mut self, gate: Gate) {
        self.gate = Some(gate);
    }

    /// Hosts not added are asked of `resolver`.
    pub fn set_resolver(&mut self, resolver: Resolver) {
        self.resolver = Some(resolver);
    }

    pub fn host(&self, id: &str) -> Option<&LocalHost> {
        self.hosts.get(id)
    }

    fn find(&self, id: &str) -> Option<LocalHost> {
        self.hosts
            .get(id)
            .cloned()
            .or_else(|| self.resolver.as_ref().and_then(|r| r(id)))
    }
}

/// Bytes as text, without a copy when they are UTF-8 (a tail's base64 is).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[async_trait]
impl Transport for LocalTransport {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn exec(
        &self,
        host: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<ExecOutput, TransportError> {
        let h = self
            .find(host)
            .ok_or_else(|| TransportError::UnknownHost(host.to_string()))?;
        if let Some(reason) = self.gate.as_ref().and_then(|g| g(host)) {
            return Err(TransportError::Unreachable {
                host: host.to_string(),
                reason,
            });
        }
        let mut path = h
            .path_prepend
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>();
        path.push(std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()));
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg("-c")
            .arg(script)
            .current_dir(&h.root)
            .env("OPSDECK_ROOT", &h.root)
            .env("PATH", path.join(":"))
            .envs(&h.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| TransportError::Failed {
            host: host.to_string(),
            message: format!("cannot start bash: {e}"),
        })?;
        let pid = child.id();
        match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => Ok(ExecOutput {
                stdout: text(out.stdout),
                stderr: text(out.stderr),
                exit_code: out.status.code().unwrap_or(-1),
            }),
            Ok(Err(e)) => Err(TransportError::Failed {
                host: host.to_string(),
                message: e.to_string(),
            }),
            Err(_) => {
                if let Some(pid) = pid {
                    // The script ran in its own process group: end all of it.
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", "--", &format!("-{pid}")])
                        .status();
                }
                Err(TransportError::Timeout {
                    host: host.to_string(),
                    secs: timeout.as_secs(),
                })
            }
        }
    }

    fn poll_policy(&self) -> PollPolicy {
        PollPolicy {
            long_poll: Duration::from_secs(2),
            settle: Duration::from_millis(0),
            min_interval: Duration::from_millis(0),
            // Large chunks: each tail costs a handful of processes on the
            // host, so a flood is read in few of them (issue 13).
            max_chunk: 4 * 1024 * 1024,
        }
    }

    fn fleet(&self) -> Option<&dyn Fleet> {
        Some(self)
    }
}

/// One fleet command on the sandbox's hosts.
#[derive(Default)]
struct LocalCommand {
    order: Vec<String>,
    state: BTreeMap<String, (InvocationState, String)>,
    run: crate::jobs::names::RunId,
    cancelled: bool,
    finished: bool,
}

type Commands = Arc<Mutex<BTreeMap<String, LocalCommand>>>;

/// The sandbox's hosts have no SSM: this is its Run Command, simulated
/// like SSM behaves (at most MaxConcurrency at once, nothing more sent once
/// more than MaxErrors failed, `AWS_SSM_INSTANCE_ID` set for the script).
#[async_trait]
impl Fleet for LocalTransport {
    async fn send(&self, req: &FleetSend) -> Result<String, TransportError> {
        for h in &req.hosts {
            if !self.hosts.contains_key(h) {
                return Err(TransportError::UnknownHost(h.clone()));
            }
        }
        let n = req.hosts.len();
        let max_conc = req.max_concurrency.of(n).max(1);
        let max_errors = req.max_errors.of(n);
        let id = {
            let mut all = self.fleets.lock().unwrap_or_else(|e| e.into_inner());
            let id = format!("local-{}", all.len() + 1);
            all.insert(
                id.clone(),
                LocalCommand {
                    order: req.hosts.clone(),
                    state: req
                        .hosts
                        .iter()
                        .map(|h| (h.clone(), (InvocationState::Running, String::new())))
                        .collect(),
                    run: req.run.clone(),
                    ..Default::default()
                },
            );
            id
        };
        let (me, fleets, cmd, script, timeout) = (
            self.clone(),
            self.fleets.clone(),
            id.clone(),
            req.script.clone(),
            req.timeout,
        );
        tokio::spawn(async move {
            let mut queue: Vec<String> = lock_cmd(&fleets, &cmd, |c| c.order.clone());
            queue.reverse();
            let mut running = tokio::task::JoinSet::new();
            let mut errors = 0;
            loop {
                let stop = lock_cmd(&fleets, &cmd, |c| c.cancelled) || errors > max_errors;
                while !stop && running.len() < max_conc {
                    let Some(host) = queue.pop() else { break };
                    let q = shlex::try_quote(&host)
                        .map(|q| q.into_owned())
                        .unwrap_or_default();
                    let s = format!("export AWS_SSM_INSTANCE_ID={q}\n{script}");
                    let t = me.clone();
                    running.spawn(async move {
                        let r = t.exec(&host, &s, timeout).await;
                        (host, r)
                    });
                }
                let Some(done) = running.join_next().await else {
                    break;
                };
                let Ok((host, r)) = done else { continue };
                let end = match r {
                    Ok(out) if out.exit_code == 0 => (InvocationState::Success, out.stdout),
                    Ok(out) => {
                        let cancelled = lock_cmd(&fleets, &cmd, |c| c.cancelled);
                        if cancelled {
                            (InvocationState::Cancelled { started: true }, out.stdout)
                        } else {
                            errors += 1;
                            (InvocationState::Failed(out.exit_code), out.stdout)
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        (InvocationState::Error(e.to_string()), String::new())
                    }
                };
                lock_cmd(&fleets, &cmd, |c| {
                    c.state.insert(host, end);
                });
            }
            lock_cmd(&fleets, &cmd, |c| {
                for h in queue {
                    c.state.insert(
                        h,
                        (InvocationState::Cancelled { started: false }, String::new()),
                    );
                }
                c.finished = true;
            });
        });
        Ok(id)
    }

    async fn progress(&self, command: &str) -> Result<FleetProgress, TransportError> {
        self.with_cmd(command, |c| FleetProgress {
            completed: c
                .state
                .values()
                .filter(|(s, _)| *s != InvocationState::Running)
                .count(),
            errors: c
                .state
                .values()
                .filter(|(s, _)| {
                    matches!(s, InvocationState::Failed(_) | InvocationState::Error(_))
                })
                .count(),
            finished: c.finished,
        })
    }

    async fn invocations(&self, command: &str) -> Result<Vec<FleetInvocation>, TransportError> {
        self.with_cmd(command, |c| {
            c.order
                .iter()
                .map(|h| {
                    let (state, output) = c.state[h].clone();
                    FleetInvocation {
                        host: h.clone(),
                        state,
                        output,
                    }
                })
                .collect()
        })
    }

    async fn invocation(
        &self,
        command: &str,
        host: &str,
    ) -> Result<FleetInvocation, TransportError> {
        self.with_cmd(command, |c| {
            let (state, output) = c.state.get(host).cloned().unwrap_or((
                InvocationState::Error("not a target of this command".into()),
                String::new(),
            ));
            FleetInvocation {
                host: host.into(),
                state,
                output,
            }
        })
    }

    /// Ends the running targets' process groups (as the run protocol's
    /// cancel does) and sends no more.
    async fn cancel(&self, command: &str) -> Result<(), TransportError> {
        let (run, running) = self.with_cmd(command, |c| {
            c.cancelled = true;
            let running: Vec<String> = c
                .state
                .iter()
                .filter(|(_, (s, _))| *s == InvocationState::Running)
                .map(|(h, _)| h.clone())
                .collect();
            (c.run.clone(), running)
        })?;
        for host in running {
            let job = crate::jobs::names::target_job(&run, &host);
            if crate::jobs::names::valid_job_id(&job) {
                let script = crate::jobs::names::cancel_script(&job);
                let _ = self.exec(&host, &script, Duration::from_secs(30)).await;
            }
        }
        Ok(())
    }
}

fn lock_cmd<T: Default>(fleets: &Commands, id: &str, f: impl FnOnce(&mut LocalCommand) -> T) -> T {
    let mut all = fleets.lock().unwrap_or_else(|e| e.into_inner());
    all.get_mut(id).map(f).unwrap_or_default()
}

impl LocalTransport {
    fn with_cmd<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut LocalCommand) -> T,
    ) -> Result<T, TransportError> {
        let mut all = self.fleets.lock().unwrap_or_else(|e| e.into_inner());
        all.get_mut(id)
            .map(f)
            .ok_or_else(|| TransportError::Failed {
                host: "fleet".into(),
                message: format!("no fleet command {id}"),
            })
    }
}
