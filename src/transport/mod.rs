//! Transport: "run this short script on host H, give me stdout and the exit code".
//!
//! The run protocol (`crate::jobs::protocol`) is built on top of this one operation,
//! so the same POSIX shell snippets run over the local transport (sandbox,
//! tests) and over SSM (AWS-RunShellScript) later.

pub mod local;

use async_trait::async_trait;
use std::time::Duration;

pub use local::LocalTransport;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("unknown host {0}")]
    UnknownHost(String),
    #[error("host {host} is unreachable: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("command on {host} timed out after {secs}s")]
    Timeout { host: String, secs: u64 },
    #[error("transport failed on {host}: {message}")]
    Failed { host: String, message: String },
}

/// How the run engine should poll a job over this transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// How long one tail call may wait on the host for new bytes.
    pub long_poll: Duration,
    /// After the first new byte, how long to let more output accumulate
    /// before answering (fewer, larger chunks on expensive transports).
    pub settle: Duration,
    /// Pause between the end of one tail call and the start of the next
    /// (API budget; a prefetch after a full chunk waits for it too).
    pub min_interval: Duration,
    /// Largest chunk of log returned by one tail call, in bytes.
    pub max_chunk: usize,
}

#[async_trait]
pub trait Transport: Send + Sync {
    /// Short name shown in the UI ("local", "ssm").
    fn name(&self) -> &'static str;

    /// Run `script` with bash on `host` and wait for it (at most `timeout`).
    async fn exec(
        &self,
        host: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<ExecOutput, TransportError>;

    fn poll_policy(&self) -> PollPolicy;

    /// Run Command on many instances at once, when this transport can.
    fn fleet(&self) -> Option<&dyn Fleet> {
        None
    }
}

/// One command for many instances (SSM's SendCommand with InstanceIds).
#[derive(Debug, Clone)]
pub struct FleetSend {
    /// The fleet's run id (each target's job is `<run>-<instance>`).
    pub run: crate::jobs::names::RunId,
    pub hosts: Vec<String>,
    /// Send by tag instead (SSM's Targets `tag:KEY` = VALUE): one command
    /// for all of `hosts`, however many. Only when the tag selects exactly
    /// `hosts`.
    pub tag: Option<(String, String)>,
    pub script: String,
    pub max_concurrency: crate::jobs::names::Limit,
    pub max_errors: crate::jobs::names::Limit,
    pub timeout: Duration,
    pub comment: String,
}

/// Where one invocation of a fleet command stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationState {
    Running,
    Success,
    Failed(i32),
    /// `started`: it ran before it was cancelled (else it was never sent,
    /// e.g. once MaxErrors was passed).
    Cancelled {
        started: bool,
    },
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetInvocation {
    pub host: String,
    pub state: InvocationState,
    /// What the listing carries of the output (SSM: up to 2,500
    /// characters; [`Fleet::invocation`]: up to 24,000).
    pub output: String,
}

/// A fleet command's aggregate state (SSM's ListCommands).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetProgress {
    pub completed: usize,
    pub errors: usize,
    pub finished: bool,
}

#[async_trait]
pub trait Fleet: Send + Sync {
    /// Hosts of one command must share this (SSM: the region).
    fn partition(&self, _host: &str) -> String {
        String::new()
    }
    /// Send one command; its id.
    async fn send(&self, req: &FleetSend) -> Result<String, TransportError>;
    /// One call, whatever the number of targets.
    async fn progress(&self, command: &str) -> Result<FleetProgress, TransportError>;
    /// Every invocation of the command (SSM: ListCommandInvocations with
    /// Details, 50 a page).
    async fn invocations(&self, command: &str) -> Result<Vec<FleetInvocation>, TransportError>;
    /// One invocation with more of its output (SSM: GetCommandInvocation).
    async fn invocation(
        &self,
        command: &str,
        host: &str,
    ) -> Result<FleetInvocation, TransportError>;
    async fn cancel(&self, command: &str) -> Result<(), TransportError>;
}
