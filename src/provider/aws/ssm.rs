//! The SSM transport: SendCommand with AWS-RunShellScript, then
//! GetCommandInvocation polled with backoff until the invocation ends.
//!
//! Handles Pending / InProgress / Delayed / Cancelling (keep polling),
//! Success / Failed (a result, with the script's exit code), TimedOut,
//! Cancelled, InvocationDoesNotExist right after the send (the invocation is
//! created asynchronously: retry), and throttling on either call (jittered
//! exponential backoff, never a spin). The run protocol sits on top of this,
//! so runbook output streams although SSM returns output only at the end.

use crate::transport::{ExecOutput, PollPolicy, Transport, TransportError};
use async_trait::async_trait;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationError;
use aws_sdk_ssm::types::CommandInvocationStatus;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Polling rhythm of one command. The defaults keep a command under 30 API
/// calls a minute: one SendCommand and a GetCommandInvocation every 2 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsmTiming {
    /// First poll after the send (short commands are often done by then).
    /// When SSM has not created the invocation yet at that point, the
    /// transport waits longer before later first polls (up to 2 s), so a
    /// slow region costs one call per command, not two.
    pub first_poll: Duration,
    /// Between polls while the command runs.
    pub poll_interval: Duration,
    /// Base of the backoff after throttling; doubles up to `max_backoff`.
    pub throttle_base: Duration,
    pub max_backoff: Duration,
    /// How long InvocationDoesNotExist is taken for "not created yet".
    pub invocation_grace: Duration,
}

impl Default for SsmTiming {
    fn default() -> Self {
        Self {
            first_poll: Duration::from_millis(600),
            poll_interval: Duration::from_millis(
                std::env::var("OPSDECK_SSM_POLL_MS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(3000),
            ),
            throttle_base: Duration::from_millis(400),
            max_backoff: Duration::from_secs(10),
            invocation_grace: Duration::from_secs(15),
        }
    }
}

/// Which region each instance lives in (filled by the inventory).
pub type HostRegions = Arc<RwLock<HashMap<String, String>>>;

pub struct SsmTransport {
    clients: HashMap<String, Client>,
    default_region: String,
    host_regions: HostRegions,
    timing: SsmTiming,
    policy: PollPolicy,
    /// Counts API calls (for the budget tests and the log).
    pub calls: Arc<AtomicU64>,
    jitter: AtomicU64,
    /// The first poll's wait as learned (ms): starts at `timing.first_poll`.
    first_wait_ms: AtomicU64,
}

pub(super) fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
        )
    )
}

impl SsmTransport {
    /// `clients` by region; hosts are routed with `host_regions`, else to `default_region`.
    pub fn new(
        clients: HashMap<String, Client>,
        default_region: String,
        host_regions: HostRegions,
        timing: SsmTiming,
    ) -> Self {
        Self {
            clients,
            default_region,
            host_regions,
            timing,
            policy: default_policy(),
            calls: Arc::new(AtomicU64::new(0)),
            jitter: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
            first_wait_ms: AtomicU64::new(timing.first_poll.as_millis() as u64),
        }
    }

    /// Override how the run protocol polls over this transport.
    pub fn with_policy(mut self, policy: PollPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The region `host` is in (as the inventory learned it).
    pub(super) fn region_of(&self, host: &str) -> String {
        self.host_regions
            .read()
            .ok()
            .and_then(|m| m.get(host).cloned())
            .unwrap_or_else(|| self.default_region.clone())
    }

    pub(super) fn client_in(&self, region: &str) -> Option<&Client> {
        self.clients.get(region)
    }

    pub(super) fn client(&self, host: &str) -> Result<&Client, TransportError> {
        let region = self.region_of(host);
        self.clients
            .get(&region)
            .ok_or_else(|| TransportError::Failed {
                host: host.into(),
                message: format!("no SSM client for region {region}"),
            })
    }

    /// Full-jitter backoff: a random wait in [base·2ⁿ/2, base·2ⁿ], capped.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let mut x = self.jitter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.store(x, Ordering::Relaxed);
        let ceiling = self
            .timing
            .throttle_base
            .saturating_mul(1 << attempt.min(10))
            .min(self.timing.max_backoff);
        let half = ceiling / 2;
        half + Duration::from_nanos(x % (half.as_nanos().max(1) as u64))
    }

    async fn send(
        &self,
        client: &Client,
        host: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<String, TransportError> {
        let secs = timeout.as_secs().max(1);
        let mut attempt = 0;
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let res = client
                .send_command()
                .document_name("AWS-RunShellScript")
                .instance_ids(host)
                .parameters("commands", vec![script.to_string()])
                .parameters("executionTimeout", vec![secs.to_string()])
                .timeout_seconds(60)
                .comment(comment_for(script))
                .send()
                .await;
            match res {
                Ok(out) => {
                    return out
                        .command()
                        .and_then(|c| c.command_id())
                        .map(str::to_string)
                        .ok_or_else(|| TransportError::Failed {
                            host: host.into(),
                            message: "SendCommand returned no command id".into(),
                        });
                }
                Err(e) => {
                    let why = super::say(&e);
                    let se = e.into_service_error();
                    if is_throttling(se.code()) && attempt < 8 {
                        tokio::time::sleep(self.backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    let message = format!("SendCommand: {why}",);
                    return Err(match se.code() {
                        Some("InvalidInstanceId") => TransportError::Unreachable {
                            host: host.into(),
                            reason: "the instance is not managed by SSM, not running, or its agent is offline (InvalidInstanceId)".into(),
                        },
                        _ if matches!(se, aws_sdk_ssm::operation::send_command::SendCommandError::InvalidInstanceId(_)) => TransportError::Unreachable {
                            host: host.into(),
                            reason: "the instance is not managed by SSM, not running, or its agent is offline (InvalidInstanceId)".into(),
                        },
                        _ => TransportError::Failed { host: host.into(), message },
                    });
                }
            }
        }
    }

    /// After a first poll: when the invocation did not exist yet, wait
    /// 250 ms longer next time (at most 2 s); when it did, 50 ms less (not
    /// below `timing.first_poll`).
    fn learn_first_wait(&self, too_early: bool) {
        let floor = self.timing.first_poll.as_millis() as u64;
        let _ = self
            .first_wait_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |ms| {
                Some(if too_early {
                    (ms + 250).clamp(floor, floor.max(2000))
                } else {
                    ms.saturating_sub(50).max(floor)
                })
            });
    }

    /// Best-effort cancel of an SSM command (not every endpoint has it).
    async fn cancel_command(client: Client, command_id: String, host: String) {
        let _ = client
            .cancel_command()
            .command_id(command_id)
            .instance_ids(host)
            .send()
            .await;
    }
}

/// The comment names the run when the script is a run-protocol snippet.
fn comment_for(script: &str) -> String {
    let id = script
        .lines()
        .flat_map(|l| l.split(';'))
        .find_map(|part| {
            part.trim_start()
                .strip_prefix("id='")
                .and_then(|r| r.split('\'').next())
        })
        .unwrap_or("command");
    let mut c = format!("opsdeck {id}");
    c.truncate(100);
    c
}

/// Cancels the in-flight command if the exec future is dropped (Ctrl-C on a run).
struct InFlight {
    client: Option<Client>,
    command_id: String,
    host: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(SsmTransport::cancel_command(
                client,
                self.command_id.clone(),
                self.host.clone(),
            ));
        }
    }
}

#[async_trait]
impl Transport for SsmTransport {
    fn name(&self) -> &'static str {
        "ssm"
    }

    async fn exec(
        &self,
        host: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<ExecOutput, TransportError> {
        let client = self.client(host)?.clone();
        let started = Instant::now();
        let command_id = self.send(&client, host, script, timeout).await?;
        let mut guard = InFlight {
            client: Some(client.clone()),
            command_id: command_id.clone(),
            host: host.to_string(),
        };
        tokio::time::sleep(Duration::from_millis(
            self.first_wait_ms.load(Ordering::Relaxed),
        ))
        .await;
        let mut first = true;
        let mut throttled = 0;
        // Poll quickly at first (short commands end at once), then back off
        // toward `poll_interval` while the host is still waiting.
        let mut interval = self.timing.first_poll;
        loop {
            if started.elapsed() > timeout + Duration::from_secs(30) {
                return Err(TransportError::Timeout {
                    host: host.into(),
                    secs: timeout.as_secs(),
                });
            }
            self.calls.fetch_add(1, Ordering::Relaxed);
            let res = client
                .get_command_invocation()
                .command_id(&command_id)
                .instance_id(host)
                .send()
                .await;
            let out = match res {
                Ok(out) => {
                    if std::mem::take(&mut first) {
                        self.learn_first_wait(false);
                    }
                    out
                }
                Err(e) => {
                    let why = super::say(&e);
                    let se = e.into_service_error();
                    if matches!(se, GetCommandInvocationError::InvocationDoesNotExist(_))
                        && started.elapsed() < self.timing.invocation_grace
                    {
                        if std::mem::take(&mut first) {
                            self.learn_first_wait(true);
                        }
                        tokio::time::sleep(
                            self.timing.poll_interval.min(Duration::from_millis(500)),
                        )
                        .await;
                        continue;
                    }
                    if is_throttling(se.code()) {
                        tokio::time::sleep(self.backoff(throttled)).await;
                        throttled += 1;
                        continue;
                    }
                    return Err(TransportError::Failed {
                        host: host.into(),
                        message: format!("GetCommandInvocation {command_id}: {why}"),
                    });
                }
            };
            throttled = 0;
            let stdout = out
                .standard_output_content()
                .unwrap_or_default()
                .to_string();
            let stderr = out.standard_error_content().unwrap_or_default().to_string();
            match out.status() {
                Some(CommandInvocationStatus::Success) => {
                    guard.client = None;
                    return Ok(ExecOutput {
                        stdout,
                        stderr,
                        exit_code: out.response_code(),
                    });
                }
                Some(CommandInvocationStatus::Failed) if out.response_code() >= 0 => {
                    guard.client = None;
                    return Ok(ExecOutput {
                        stdout,
                        stderr,
                        exit_code: out.response_code(),
                    });
                }
                Some(CommandInvocationStatus::Failed) => {
                    guard.client = None;
                    return Err(TransportError::Failed {
                        host: host.into(),
                        message: format!(
                            "command {command_id} failed before running: {}",
                            out.status_details().unwrap_or("no details")
                        ),
                    });
                }
                Some(CommandInvocationStatus::TimedOut) => {
                    guard.client = None;
                    return Err(TransportError::Timeout {
                        host: host.into(),
                        secs: timeout.as_secs(),
                    });
                }
                Some(CommandInvocationStatus::Cancelled) => {
                    guard.client = None;
                    return Err(TransportError::Failed {
                        host: host.into(),
                        message: format!("command {command_id} was cancelled"),
                    });
                }
                Some(
                    CommandInvocationStatus::Pending
                    | CommandInvocationStatus::InProgress
                    | CommandInvocationStatus::Delayed
                    | CommandInvocationStatus::Cancelling,
                )
                | None => {
                    interval = (interval * 3 / 2).min(self.timing.poll_interval);
                    tokio::time::sleep(interval).await;
                }
                Some(other) => {
                    guard.client = None;
                    return Err(TransportError::Failed {
                        host: host.into(),
                        message: format!("command {command_id}: unexpected status {other:?}"),
                    });
                }
            }
        }
    }

    fn poll_policy(&self) -> PollPolicy {
        self.policy
    }

    fn fleet(&self) -> Option<&dyn crate::transport::Fleet> {
        Some(self)
    }
}

/// One tail command waits up to 20 s on the host for new output, lets 0.5 s
/// more accumulate, and carries at most 12,000 bytes (16,000 base64
/// characters, under SSM's 24,000-character output cap); a tail starts 3.6 s
/// after the previous one ended. Measured on a virtual clock
/// (tests/ssm_mock.rs; the engine keeps time with tokio's clock, so the
/// test sees the real rhythm): ≤ 30 API calls a minute, output shown ~2.3 s
/// after it is written on average.
/// `OPSDECK_SSM_SETTLE_MS`, `OPSDECK_SSM_GAP_MS` and `OPSDECK_SSM_POLL_MS`
/// override the rhythm for experiments.
pub fn default_policy() -> PollPolicy {
    PollPolicy {
        long_poll: Duration::from_secs(20),
        settle: Duration::from_millis(
            std::env::var("OPSDECK_SSM_SETTLE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(500),
        ),
        min_interval: Duration::from_millis(
            std::env::var("OPSDECK_SSM_GAP_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(3600),
        ),
        max_chunk: 12_000,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn comments_name_the_run() {
        assert_eq!(
            comment_for("d=x\nid='20260101-deploy-001'; off=0"),
            "opsdeck 20260101-deploy-001"
        );
        // The cancel script names it after another assignment.
        assert_eq!(
            comment_for("d=\"/var/lib/opsdeck/jobs\"; id='20260101-deploy-001'\nkill"),
            "opsdeck 20260101-deploy-001"
        );
        assert_eq!(comment_for("echo hi"), "opsdeck command");
    }
}
