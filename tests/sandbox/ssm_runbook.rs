//! A library runbook end to end over the SSM transport: the AWS API is
//! mocked (aws-smithy-mocks), but behind it a fake SSM agent really runs
//! each SendCommand's script with bash on a sandbox host, answering
//! GetCommandInvocation with InProgress until the script ends, then its
//! status, exit code and stdout (cut at SSM's 24,000 characters). The deploy
//! goes through the run protocol, the engine and the journal exactly as on
//! AWS: what works on the sandbox works over SSM.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationOutput;
use aws_sdk_ssm::operation::send_command::SendCommandOutput;
use aws_sdk_ssm::types::{Command, CommandInvocationStatus as S};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use common::git_head;
use opsdeck::jobs::engine::RunEvent;
use opsdeck::jobs::protocol::RunProtocol;
use opsdeck::provider::aws::ssm::{SsmTiming, SsmTransport};
use opsdeck::provider::sandbox::estate::MT_HOST;
use opsdeck::runbook::{self, Choices, Library, Target};
use opsdeck::store::journal::{Journal, Operator};
use opsdeck::transport::PollPolicy;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Outcome = Arc<Mutex<Option<(i32, String)>>>;

/// The host side of SSM: runs scripts for real.
struct Agent {
    root: PathBuf,
    path: String,
    runs: HashMap<String, Outcome>,
    sent: usize,
}

fn agent_client(agent: Arc<Mutex<Agent>>) -> Client {
    let a1 = agent.clone();
    let send = mock!(Client::send_command).then_compute_output(move |req| {
        let mut a = a1.lock().unwrap();
        a.sent += 1;
        let id = format!("cmd-{}", a.sent);
        let script = req.parameters().unwrap()["commands"].join("\n");
        let outcome: Outcome = Arc::new(Mutex::new(None));
        a.runs.insert(id.clone(), outcome.clone());
        let (root, path) = (a.root.clone(), a.path.clone());
        std::thread::spawn(move || {
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(&script)
                .env("OPSDECK_ROOT", &root)
                .env("OPSDECK_HOST", MT_HOST)
                .env("PATH", &path)
                .env("OPSDECK_SIM_DELAY_MS", "0")
                .env("OPSDECK_SIM_HEALTH_GRACE", "0")
                .output()
                .unwrap();
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            // SSM keeps the first 24,000 characters of stdout.
            if text.len() > 24_000 {
                let mut cut = 24_000;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            *outcome.lock().unwrap() = Some((out.status.code().unwrap_or(-1), text));
        });
        SendCommandOutput::builder()
            .command(Command::builder().command_id(id).build())
            .build()
    });
    let get = mock!(Client::get_command_invocation).then_compute_output(move |req| {
        let a = agent.lock().unwrap();
        let outcome = a.runs[req.command_id().unwrap()].lock().unwrap().clone();
        match outcome {
            None => GetCommandInvocationOutput::builder()
                .status(S::InProgress)
                .response_code(-1)
                .build(),
            Some((code, out)) => GetCommandInvocationOutput::builder()
                .status(if code == 0 { S::Success } else { S::Failed })
                .response_code(code)
                .standard_output_content(out)
                .build(),
        }
    });
    mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&send, &get])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_runs_over_ssm_end_to_end_and_is_journaled() {
    let tmp = tempfile::tempdir().unwrap();
    // Built at the real time: the mocked agent runs the script on the real clock.
    let sandbox = common::sim_sandbox(&tmp.path().join("sandbox"), chrono::Utc::now());
    let root = sandbox.host_root(MT_HOST);
    let agent = Arc::new(Mutex::new(Agent {
        root: root.clone(),
        path: format!(
            "{}:{}",
            sandbox.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        ),
        runs: HashMap::new(),
        sent: 0,
    }));
    let timing = SsmTiming {
        first_poll: Duration::from_millis(20),
        poll_interval: Duration::from_millis(50),
        throttle_base: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        invocation_grace: Duration::from_secs(5),
    };
    let ssm = SsmTransport::new(
        HashMap::from([("eu-north-1".to_string(), agent_client(agent.clone()))]),
        "eu-north-1".into(),
        Default::default(),
        timing,
    )
    .with_policy(PollPolicy {
        long_poll: Duration::from_secs(2),
        settle: Duration::from_millis(50),
        min_interval: Duration::from_millis(100),
        max_chunk: 12_000,
    });

    let lib = Library::builtin();
    let target = Target {
        kind: runbook::spec::TargetKind::Tenant,
        host: MT_HOST.into(),
        label: "filter-ical-staging".into(),
        production: false,
        confirm_name: "filter-ical-staging".into(),
        vars: vec![
            ("app".into(), "filter-ical".into()),
            ("env".into(), "staging".into()),
            ("project".into(), "filter-ical-staging".into()),
            ("database".into(), "filter_ical_staging".into()),
        ],
    };
    let run = runbook::render(
        &lib,
        lib.get("deploy").unwrap(),
        &target,
        &BTreeMap::new(),
        &Choices::default(),
        false,
    )
    .unwrap();
    let checkout = root.join("opt/apps/filter-ical");
    let before = git_head(&checkout);
    let origin = git_head(&sandbox.dir.join("remotes/filter-ical.git"));

    let journal = Journal::new(&tmp.path().join("state"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _h = opsdeck::jobs::journaled::launch(
        RunProtocol::new(Arc::new(ssm)),
        None,
        &journal,
        &Operator::local(
            "aws-test",
            Some("arn:aws:iam::123456789012:user/oncall".into()),
        ),
        "ssm-deploy-1",
        &run,
        tx,
    )
    .unwrap();
    let mut output = String::new();
    let code = loop {
        let ev = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the deploy ends within 60 s")
            .expect("events");
        match ev {
            RunEvent::Output { text, .. } => output.push_str(&text),
            RunEvent::Finished { exit_code, .. } => break exit_code,
            RunEvent::Started { .. } => {}
            other => panic!("{other:?}\n{output}"),
        }
    };
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("==> [1/6] git pull origin main"),
        "{output}"
    );
    assert!(
        output.ends_with("==> opsdeck result: succeeded\n"),
        "{output}"
    );
    assert_ne!(before, origin);
    assert_eq!(git_head(&checkout), origin, "the host moved to origin");
    // The journal's copy is the job's log on the host, byte for byte.
    let host_log =
        std::fs::read_to_string(root.join("var/lib/opsdeck/jobs/ssm-deploy-1.log")).unwrap();
    assert_eq!(
        std::fs::read_to_string(journal.output_path("ssm-deploy-1")).unwrap(),
        host_log
    );
    let (entries, _) = journal.entries();
    assert_eq!(
        entries[0].start.operator.identity.as_deref(),
        Some("arn:aws:iam::123456789012:user/oncall")
    );
    assert_eq!(entries[0].finish.as_ref().unwrap().status, "succeeded");
    let sent = agent.lock().unwrap().sent;
    eprintln!("deploy over the SSM transport: {sent} SendCommand calls");
    assert!(sent >= 2, "a start and at least one tail");
}
