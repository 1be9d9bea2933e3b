//! The SSM state machine and the run protocol over SSM, on mocked clients
//! (aws-smithy-mocks): moto runs no command, so the states a real agent
//! goes through (Pending → InProgress → Delayed → Success/Failed/TimedOut),
//! InvocationDoesNotExist right after the send, and throttling are played
//! here. A simulated host answers the run protocol's scripts, so output
//! streams in chunks, beyond SSM's 24,000-character cap.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ssm::Client;
use aws_sdk_ssm::operation::get_command_invocation::{
    GetCommandInvocationError, GetCommandInvocationOutput,
};
use aws_sdk_ssm::operation::send_command::{SendCommandError, SendCommandOutput};
use aws_sdk_ssm::types::error::{InvalidInstanceId, InvocationDoesNotExist};
use aws_sdk_ssm::types::{Command, CommandInvocationStatus as S};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use base64::Engine as _;
use opsdeck::jobs::engine::{RunEvent, RunRequest, spawn_run};
use opsdeck::jobs::protocol::RunProtocol;
use opsdeck::provider::aws::ssm::{SsmTiming, SsmTransport};
use opsdeck::transport::{Transport, TransportError};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOST: &str = "i-0a4f1c2e9b7d30001";

fn fast() -> SsmTiming {
    SsmTiming {
        first_poll: Duration::from_millis(1),
        poll_interval: Duration::from_millis(2),
        throttle_base: Duration::from_millis(2),
        max_backoff: Duration::from_millis(10),
        invocation_grace: Duration::from_secs(5),
    }
}

fn transport(client: Client, timing: SsmTiming) -> SsmTransport {
    SsmTransport::new(
        HashMap::from([("eu-north-1".to_string(), client)]),
        "eu-north-1".into(),
        Default::default(),
        timing,
    )
}

fn sent(id: &'static str) -> impl Fn() -> SendCommandOutput + Send + Sync {
    move || {
        SendCommandOutput::builder()
            .command(Command::builder().command_id(id).build())
            .build()
    }
}

fn inv(status: S, code: i32, out: &str) -> GetCommandInvocationOutput {
    GetCommandInvocationOutput::builder()
        .status(status)
        .response_code(code)
        .standard_output_content(out)
        .build()
}

#[tokio::test]
async fn pending_in_progress_delayed_then_success() {
    let send = mock!(Client::send_command).then_output(sent("c-1"));
    let get = mock!(Client::get_command_invocation)
        .sequence()
        .output(|| inv(S::Pending, -1, ""))
        .output(|| inv(S::InProgress, -1, ""))
        .output(|| inv(S::Delayed, -1, ""))
        .output(|| inv(S::Success, 0, "hello\n"))
        .build();
    let t = transport(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get]),
        fast(),
    );
    let out = t
        .exec(HOST, "echo hello", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!((out.stdout.as_str(), out.exit_code), ("hello\n", 0));
    assert_eq!(send.num_calls(), 1);
    assert_eq!(get.num_calls(), 4);
    assert_eq!(t.calls.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn invocation_does_not_exist_right_after_the_send_is_retried() {
    let send = mock!(Client::send_command).then_output(sent("c-2"));
    let get = mock!(Client::get_command_invocation)
        .sequence()
        .error(|| {
            GetCommandInvocationError::InvocationDoesNotExist(
                InvocationDoesNotExist::builder().build(),
            )
        })
        .times(2)
        .output(|| inv(S::Success, 0, "ok"))
        .build();
    let t = transport(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get]),
        fast(),
    );
    assert_eq!(
        t.exec(HOST, "true", Duration::from_secs(30))
            .await
            .unwrap()
            .stdout,
        "ok"
    );
    assert_eq!(get.num_calls(), 3);
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_on_both_calls() {
    let throttled = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
    let send = mock!(Client::send_command)
        .sequence()
        .http_status(400, Some(throttled.to_string()))
        .times(3)
        .output(sent("c-3"))
        .build();
    let get = mock!(Client::get_command_invocation)
        .sequence()
        .http_status(400, Some(throttled.to_string()))
        .times(3)
        .output(|| inv(S::Success, 0, "after throttling"))
        .build();
    let t = transport(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get]),
        fast(),
    );
    let out = t.exec(HOST, "true", Duration::from_secs(30)).await.unwrap();
    assert_eq!(out.stdout, "after throttling");
    assert!(
        send.num_calls() >= 4 && get.num_calls() >= 4,
        "send {} get {}",
        send.num_calls(),
        get.num_calls()
    );
}

#[tokio::test]
async fn failed_scripts_are_results_and_other_ends_are_errors() {
    // The script ran and exited 2: that is an answer, not a transport failure.
    let send = mock!(Client::send_command).then_output(sent("c-4"));
    let get =
        mock!(Client::get_command_invocation).then_output(|| inv(S::Failed, 2, "partial output"));
    let t = transport(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get]),
        fast(),
    );
    let out = t
        .exec(HOST, "exit 2", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!((out.stdout.as_str(), out.exit_code), ("partial output", 2));

    let get = mock!(Client::get_command_invocation).then_output(|| inv(S::TimedOut, -1, ""));
    let t = transport(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get]),
        fast(),
    );
    assert!(matches!(
        t.exec(HOST, "sleep 999", Duration::from_secs(30)).await,
        Err(TransportError::Timeout { .. })
    ));

    let get = mock!(Client::get_command_invocation).then_output(|| {
        GetCommandInvocationOutput::builder()
            .status(S::Failed)
            .response_code(-1)
            .status_details("Undeliverable")
            .build()
    });
    let t = transport(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get]),
        fast(),
    );
    let e = t
        .exec(HOST, "true", Duration::from_secs(30))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("failed before running: Undeliverable"), "{e}");

    let get = mock!(Client::get_command_invocation).then_output(|| inv(S::Cancelled, -1, ""));
    let t = transport(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get]),
        fast(),
    );
    assert!(
        t.exec(HOST, "true", Duration::from_secs(30))
            .await
            .unwrap_err()
            .to_string()
            .contains("cancelled")
    );

    let refused = mock!(Client::send_command)
        .then_error(|| SendCommandError::InvalidInstanceId(InvalidInstanceId::builder().build()));
    let t = transport(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&refused]),
        fast(),
    );
    let e = t
        .exec(HOST, "true", Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Unreachable { .. }), "{e}");
}

/// A host behind SSM: it keeps a job's log, answers the run protocol's
/// scripts, and (on tokio's clock) finishes a tail command when output
/// arrives or the long-poll ends, as the real script does.
struct FakeHost {
    log: Vec<u8>,
    /// When each byte of `log` appears, from the job's start.
    appears_at: Vec<Duration>,
    started: Option<tokio::time::Instant>,
    exit_after: Duration,
    /// command id → (sent at, script)
    commands: HashMap<String, (tokio::time::Instant, String)>,
    next: u32,
    long_poll: Duration,
    max_stdout: usize,
}

impl FakeHost {
    fn visible(&self, now: tokio::time::Instant) -> usize {
        let Some(s) = self.started else { return 0 };
        self.appears_at
            .iter()
            .take_while(|t| s + **t <= now)
            .count()
    }
    fn exited(&self, now: tokio::time::Instant) -> bool {
        self.started.is_some_and(|s| now >= s + self.exit_after)
    }
    fn answer(&mut self, id: &str) -> GetCommandInvocationOutput {
        let now = tokio::time::Instant::now();
        let (sent, script) = self.commands[id].clone();
        if script.contains("OPSDECK-STARTED") {
            self.started.get_or_insert(now);
            let job = script
                .lines()
                .find_map(|l| l.strip_prefix("id='"))
                .unwrap()
                .trim_end_matches('\'');
            return inv(S::Success, 0, &format!("OPSDECK-STARTED {job} 4242\n"));
        }
        let field = |name: &str| -> usize {
            let at = script.find(&format!("{name}=")).unwrap() + name.len() + 1;
            script[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let (off, max) = (field("off"), field("max"));
        // The host-side long-poll: the command is still running until
        // new bytes, the exit, or the end of the wait.
        let ready = self.visible(now) > off || self.exited(now) || now >= sent + self.long_poll;
        if !ready {
            return inv(S::InProgress, -1, "");
        }
        let exited = self.exited(now);
        let size = self.visible(now);
        let chunk = &self.log[off.min(size)..size.min(off + max)];
        let ex = if exited {
            "0".to_string()
        } else {
            "-".to_string()
        };
        let out = format!(
            "OPSDECK-TAIL {size} {ex} 0 {}\n{}\n",
            u8::from(!exited),
            base64::engine::general_purpose::STANDARD.encode(chunk)
        );
        assert!(
            out.len() <= self.max_stdout,
            "an answer of {} chars would be cut by SSM",
            out.len()
        );
        inv(S::Success, 0, &out)
    }
}

fn fake_ssm(host: Arc<Mutex<FakeHost>>) -> Client {
    let h1 = host.clone();
    let send = mock!(Client::send_command).then_compute_output(move |req| {
        let mut h = h1.lock().unwrap();
        h.next += 1;
        let id = format!("cmd-{}", h.next);
        let script = req.parameters().unwrap()["commands"][0].clone();
        h.commands
            .insert(id.clone(), (tokio::time::Instant::now(), script));
        SendCommandOutput::builder()
            .command(Command::builder().command_id(id).build())
            .build()
    });
    let get = mock!(Client::get_command_invocation)
        .then_compute_output(move |req| host.lock().unwrap().answer(req.command_id().unwrap()));
    mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get])
}

async fn follow(protocol: RunProtocol) -> (String, Vec<(tokio::time::Instant, usize)>, i32) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    spawn_run(
        protocol,
        RunRequest {
            run: "run-1".into(),
            host: HOST.into(),
            script: "make output".into(),
            local_log: None,
            resume_from: None,
            progress: None,
            locks: None,
        },
        tx,
    );
    let mut text = String::new();
    let mut arrivals = Vec::new();
    loop {
        match rx.recv().await.unwrap() {
            RunEvent::Started { .. } => {}
            RunEvent::Output { text: t, .. } => {
                text.push_str(&t);
                arrivals.push((tokio::time::Instant::now(), text.len()));
            }
            RunEvent::Finished { exit_code, .. } => return (text, arrivals, exit_code),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn output_beyond_the_ssm_cap_streams_complete_in_chunks() {
    // 60,000 bytes, all there at once: five chunks of 12,000 bytes.
    let log: Vec<u8> = (0..1500)
        .flat_map(|i| format!("line {i:05} of a long migration log........\n").into_bytes())
        .collect();
    assert!(log.len() > 2 * 24_000, "{}", log.len());
    let host = Arc::new(Mutex::new(FakeHost {
        appears_at: vec![Duration::ZERO; log.len()],
        log: log.clone(),
        started: None,
        exit_after: Duration::from_secs(1),
        commands: HashMap::new(),
        next: 0,
        long_poll: Duration::from_secs(20),
        max_stdout: 24_000,
    }));
    let t = Arc::new(transport(fake_ssm(host.clone()), SsmTiming::default()));
    let (text, arrivals, code) = follow(RunProtocol::new(t.clone())).await;
    assert_eq!(code, 0);
    assert_eq!(text.as_bytes(), log.as_slice(), "every byte, in order");
    assert!(
        arrivals.len() >= log.len() / 12_000,
        "{} chunks",
        arrivals.len()
    );
}

/// Run a job that prints `lines` lines, one every `every`, then exits `tail`
/// later; returns (calls per minute, mean latency, worst latency).
async fn budget(lines: usize, every: Duration, tail: Duration) -> (f64, Duration, Duration) {
    let mut log = Vec::new();
    let mut appears_at = Vec::new();
    for i in 0..lines {
        let l = format!("step {i:02}\n");
        appears_at.extend(std::iter::repeat_n(
            every * i as u32 + Duration::from_secs(1),
            l.len(),
        ));
        log.extend(l.into_bytes());
    }
    let host = Arc::new(Mutex::new(FakeHost {
        appears_at: appears_at.clone(),
        log,
        started: None,
        exit_after: every * lines as u32 + tail,
        commands: HashMap::new(),
        next: 0,
        long_poll: opsdeck::provider::aws::ssm::default_policy().long_poll,
        max_stdout: 24_000,
    }));
    let t = Arc::new(transport(fake_ssm(host.clone()), SsmTiming::default()));
    let start = tokio::time::Instant::now();
    let (text, arrivals, code) = follow(RunProtocol::new(t.clone())).await;
    assert_eq!(code, 0);
    assert_eq!(text.lines().count(), lines);
    let calls = t.calls.load(Ordering::Relaxed) as f64;
    let per_minute = calls / start.elapsed().as_secs_f64() * 60.0;
    // Latency: when each line was shown minus when it was written.
    let job_start = host.lock().unwrap().started.unwrap();
    let (mut worst, mut total) = (Duration::ZERO, Duration::ZERO);
    for (i, at) in appears_at
        .iter()
        .enumerate()
        .filter(|(i, _)| text.as_bytes()[*i] == b'\n')
    {
        let shown = arrivals.iter().find(|(_, len)| *len > i).unwrap().0;
        let lat = shown - (job_start + *at);
        worst = worst.max(lat);
        total += lat;
    }
    (per_minute, total / lines as u32, worst)
}

#[tokio::test(start_paused = true)]
async fn latency_and_api_budget_of_a_chatty_command() {
    // A line every 3 s for 3 minutes.
    let (per_minute, mean, worst) =
        budget(60, Duration::from_secs(3), Duration::from_secs(1)).await;
    eprintln!(
        "SSM budget (a line every 3 s): {per_minute:.1} calls/min; latency mean {mean:?}, worst {worst:?}"
    );
    assert!(per_minute <= 30.0, "{per_minute:.1} calls/min");
    assert!(mean <= Duration::from_millis(2500), "mean latency {mean:?}");
}

#[tokio::test(start_paused = true)]
async fn api_budget_of_a_quiet_command() {
    // One line, then five silent minutes (a long migration), then the end.
    let (per_minute, mean, _) = budget(1, Duration::from_secs(1), Duration::from_secs(300)).await;
    eprintln!("SSM budget (quiet for 5 min): {per_minute:.1} calls/min; first line after {mean:?}");
    assert!(per_minute <= 30.0, "{per_minute:.1} calls/min");
}
