//! The journal across a crash: `kill -9` of opsdeck in the middle of a
//! deploy, then a console on the same state dir finds the run, resumes the
//! tail from the recorded offset, loses no line and records the end.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, cli, git_head, sandbox_ctx, sim_env};
use opsdeck::provider::sandbox::estate::MT_HOST;
use opsdeck::store::journal::Journal;
use opsdeck::tui::app::RunStatus;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_deploy_then_reattach_loses_no_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_path_buf();
    let sandbox_dir = d.join("data/opsdeck/sandbox");
    let state = d.join("state/opsdeck");
    let journal = Journal::new(&state);

    // A slow deploy (each simulated build line takes 150 ms), started headless.
    let mut child = cli(&d)
        .env("OPSDECK_SIM_DELAY_MS", "150")
        .args(["run", "deploy", "tenant=filter-ical-staging", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let id = loop {
        let unfinished = journal.unfinished("sandbox");
        if let Some(e) = unfinished.first() {
            let out =
                std::fs::read_to_string(journal.output_path(&e.start.run)).unwrap_or_default();
            if out.contains("[backend 2/4]") {
                break e.start.run.clone();
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the deploy never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL: no cleanup, no finish record
    child.wait().unwrap();
    let (offset, len) = journal.progress(&id).expect("progress was recorded");
    assert!(offset > 0 && len > 0);
    assert_eq!(journal.unfinished("sandbox").len(), 1);

    // The job goes on on the host. A console opens on the same dirs.
    let mut h = Harness::in_dir(
        tmp,
        &sandbox_dir,
        &state,
        sandbox_ctx(),
        sim_env(common::fixed_now()),
    )
    .await;
    let t = Instant::now();
    loop {
        if let Some(r) = h.app.runs.iter().find(|r| r.id == id)
            && !r.status.is_active()
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the run was not reattached and finished"
        );
        tokio::time::timeout(Duration::from_secs(1), h.step())
            .await
            .ok();
    }
    let run = h.app.runs.iter().find(|r| r.id == id).unwrap();
    assert_eq!(
        run.status,
        RunStatus::Succeeded,
        "{:?}",
        run.output.iter().collect::<Vec<_>>()
    );

    // Every line the job wrote on the host is in the journal's copy, once.
    let host_log = std::fs::read_to_string(
        sandbox_dir
            .join("hosts")
            .join(MT_HOST)
            .join("var/lib/opsdeck/jobs")
            .join(format!("{id}.log")),
    )
    .unwrap();
    let local = std::fs::read_to_string(journal.output_path(&id)).unwrap();
    assert_eq!(local, host_log);
    assert!(local.contains("==> opsdeck result: succeeded"));
    // The pane shows it whole too (what was there before the crash, then the rest).
    assert_eq!(run.output.total as usize, host_log.lines().count());

    let (entries, skipped) = journal.entries();
    assert_eq!(skipped, 0);
    let e = entries.iter().find(|e| e.start.run == id).unwrap();
    let f = e.finish.as_ref().expect("the end is recorded");
    assert_eq!(f.status, "succeeded");
    assert!(f.reattached);
    assert_eq!(f.result.as_deref(), Some("succeeded"));
    assert_eq!(
        git_head(
            &sandbox_dir
                .join("hosts")
                .join(MT_HOST)
                .join("opt/apps/filter-ical")
        ),
        git_head(&sandbox_dir.join("remotes/filter-ical.git"))
    );
    // A second console finds nothing left to reattach.
    assert!(journal.unfinished("sandbox").is_empty());
}
