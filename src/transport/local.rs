//! The local transport: runs scripts with the real bash of this machine, in a
//! sandbox host's directory tree. `OPSDECK_ROOT` points at the host's root so
//! `"${OPSDECK_ROOT:-}/opt/apps"` means the same thing here and on a real host.

use super::{ExecOutput, PollPolicy, Transport, TransportError};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
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

#[derive(Clone, Default)]
pub struct LocalTransport {
    hosts: BTreeMap<String, LocalHost>,
    gate: Option<Gate>,
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

    pub fn host(&self, id: &str) -> Option<&LocalHost> {
        self.hosts.get(id)
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
            .hosts
            .get(host)
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
}
