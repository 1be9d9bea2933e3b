//! The run protocol over the local transport: real bash, real processes.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use opsdeck::jobs::engine::{RunEvent, RunRequest, spawn_run};
use opsdeck::jobs::protocol::RunProtocol;
use opsdeck::transport::local::{LocalHost, LocalTransport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn protocol(root: &std::path::Path) -> RunProtocol {
    let mut t = LocalTransport::new();
    t.add_host(
        "h1",
        LocalHost {
            root: root.to_path_buf(),
            env: BTreeMap::new(),
            path_prepend: vec![],
        },
    );
    RunProtocol::new(Arc::new(t))
}

fn alive(pid: i32) -> bool {
    // kill -0 through the shell: no extra crate for one syscall in a test.
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[tokio::test]
async fn start_tail_offsets_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let p = protocol(dir.path());
    p.start(
        "h1",
        "job-1",
        "echo one; sleep 0.3; echo two; printf 'no newline'; exit 7",
    )
    .await
    .unwrap();
    let mut offset = 0;
    let mut all = Vec::new();
    let mut chunks = 0;
    loop {
        let c = p.tail("h1", "job-1", offset).await.unwrap();
        assert_eq!(c.next_offset, offset + c.data.len() as u64);
        offset = c.next_offset;
        all.extend_from_slice(&c.data);
        chunks += 1;
        if c.is_complete() {
            assert_eq!(c.exit_code, Some(7));
            break;
        }
        assert!(chunks < 50, "never completed");
    }
    assert_eq!(String::from_utf8(all).unwrap(), "one\ntwo\nno newline");
    assert!(chunks >= 2, "the first line arrived before the job ended");
    // Reading again from the middle returns the rest, byte-exact.
    let c = p.tail("h1", "job-1", 4).await.unwrap();
    assert_eq!(c.data, b"two\nno newline");
    // The job is listed with its exit code.
    let jobs = p.list("h1").await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, "job-1");
    assert_eq!(jobs[0].exit_code, Some(7));
    assert!(!jobs[0].alive);
    // A job id is never reused.
    assert!(p.start("h1", "job-1", "true").await.is_err());
}

#[tokio::test]
async fn long_poll_waits_on_the_host_for_new_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = protocol(dir.path());
    p.start("h1", "slow", "sleep 0.8; echo late").await.unwrap();
    let t = Instant::now();
    let c = p.tail("h1", "slow", 0).await.unwrap();
    // One call waited for the line instead of returning empty at once.
    assert_eq!(c.data, b"late\n");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn cancel_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let p = protocol(dir.path());
    // A job with children and a grandchild in a subshell.
    let script = format!(
        "sleep 300 & echo $! > {d}/child.pid\n( sleep 300 & echo $! > {d}/grandchild.pid; wait ) &\necho started\nwait",
        d = dir.path().display()
    );
    p.start("h1", "victim", &script).await.unwrap();
    let c = p.tail("h1", "victim", 0).await.unwrap();
    assert_eq!(c.data, b"started\n");
    let read = |f: &str| -> i32 {
        for _ in 0..50 {
            if let Ok(s) = std::fs::read_to_string(dir.path().join(f))
                && let Ok(n) = s.trim().parse()
            {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{f} never written");
    };
    let (child, grandchild) = (read("child.pid"), read("grandchild.pid"));
    assert!(alive(child) && alive(grandchild));
    p.cancel("h1", "victim").await.unwrap();
    for _ in 0..40 {
        if !alive(child) && !alive(grandchild) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(child), "child survived cancel");
    assert!(!alive(grandchild), "grandchild survived cancel");
    let c = p.tail("h1", "victim", 8).await.unwrap();
    assert!(c.is_complete());
    assert!(c.cancelled);
    assert_eq!(c.exit_code, Some(143));
}

#[tokio::test]
async fn engine_streams_events_and_resumes_from_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = protocol(dir.path());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let log = dir.path().join("local/run.log");
    spawn_run(
        p.clone(),
        RunRequest {
            run: "r1".into(),
            host: "h1".into(),
            script: "for i in 1 2 3; do echo \"line $i ✓\"; sleep 0.2; done; exit 3".into(),
            local_log: Some(log.clone()),
            resume_from: None,
            progress: None,
            locks: None,
        },
        tx,
    );
    let mut text = String::new();
    let mut saw_output_before_end = false;
    let mut started = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            RunEvent::Started { .. } => started = true,
            RunEvent::Output { text: t, .. } => {
                text.push_str(&t);
                saw_output_before_end = true;
            }
            RunEvent::Finished { exit_code, .. } => {
                assert_eq!(exit_code, 3);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(started && saw_output_before_end);
    assert_eq!(text, "line 1 ✓\nline 2 ✓\nline 3 ✓\n");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        text,
        "the complete output is kept locally"
    );

    // Reattach: a new engine picks the same job up from an offset, losing nothing.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    spawn_run(
        p,
        RunRequest {
            run: "r1".into(),
            host: "h1".into(),
            script: String::new(),
            local_log: None,
            resume_from: Some("line 1 ✓\n".len() as u64),
            progress: None,
            locks: None,
        },
        tx,
    );
    let mut rest = String::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            RunEvent::Output { text: t, .. } => rest.push_str(&t),
            RunEvent::Finished { exit_code, .. } => {
                assert_eq!(exit_code, 3);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rest, "line 2 ✓\nline 3 ✓\n");
}

#[tokio::test]
async fn a_job_killed_without_an_exit_code_is_reported_lost() {
    let dir = tempfile::tempdir().unwrap();
    let p = protocol(dir.path());
    p.start("h1", "doomed", "echo hi; sleep 300").await.unwrap();
    let pid: i32 = std::fs::read_to_string(dir.path().join("var/lib/opsdeck/jobs/doomed.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // kill -9 the whole group, as a host crash would: no exit file is written.
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let c = p.tail("h1", "doomed", 0).await.unwrap();
    assert_eq!(c.data, b"hi\n");
    let c = p.tail("h1", "doomed", c.next_offset).await.unwrap();
    assert!(c.is_lost(), "{c:?}");
}

#[tokio::test]
async fn unknown_hosts_and_jobs_are_errors_not_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let p = protocol(dir.path());
    let e = p.tail("nope", "j", 0).await.unwrap_err().to_string();
    assert!(e.contains("unknown host nope"), "{e}");
    let e = p.tail("h1", "missing", 0).await.unwrap_err().to_string();
    assert!(e.contains("no such job"), "{e}");
    let e = p
        .start("h1", "bad id", "true")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid job id"), "{e}");
}

#[tokio::test]
async fn secrets_never_reach_the_pane_or_the_local_log() {
    let dir = tempfile::tempdir().unwrap();
    let p = protocol(dir.path());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let log = dir.path().join("local/secret.log");
    // The password arrives in two tail chunks, split mid-value.
    let script = "echo start; printf 'POSTGRES_PASSWORD=hun'; sleep 0.4; printf 'ter2\\n'; echo 'DATABASE_URL=postgresql://app:s3cret-canary@db:5434/app'; printf 'TOKEN=tail-canary'";
    spawn_run(
        p,
        RunRequest {
            run: "sec".into(),
            host: "h1".into(),
            script: script.into(),
            local_log: Some(log.clone()),
            resume_from: None,
            progress: None,
            locks: None,
        },
        tx,
    );
    let mut text = String::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            RunEvent::Output { text: t, .. } => text.push_str(&t),
            RunEvent::Finished { .. } => break,
            _ => {}
        }
    }
    let stored = std::fs::read_to_string(&log).unwrap();
    for shown in [&text, &stored] {
        for canary in ["hunter2", "hun", "s3cret-canary", "tail-canary"] {
            assert!(!shown.contains(canary), "{canary} leaked: {shown}");
        }
        assert!(
            shown.contains("POSTGRES_PASSWORD=****\n")
                && shown.contains("postgresql://app:****@db:5434/app")
                && shown.ends_with("TOKEN=****"),
            "{shown}"
        );
    }
    // The raw log on the host is the host's business; what opsdeck keeps is masked.
}
