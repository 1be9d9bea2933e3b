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
}
