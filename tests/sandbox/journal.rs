//! The journal across a crash: `kill -9` of opsdeck in the middle of a
//! deploy, then a console on the same state dir finds the run, resumes the
//! tail from the recorded offset, loses no line and records the end.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Harness, cli, git_head, sandbox_ctx, sim_env};
use opsdeck::provider::sandbox::estate::MT_HOST;
use opsdeck::store::journal::Journal;
use opsdeck::tui::app::RunStatus;
use std::time::{Duration, Instant};

/// Start a deploy headless, `delay_ms` a simulated build line, and SIGKILL
/// its opsdeck once the job is building: the run's id.
fn deploy_killed_mid_build(d: &std::path::Path, journal: &Journal, delay_ms: u32) -> String {
    let mut child = cli(d)
        .env("OPSDECK_SIM_DELAY_MS", delay_ms.to_string())
        .args(["run", "deploy", "tenant=filter-ical-staging", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let id = loop {
        if let Some(e) = journal.unfinished("sandbox").first() {
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
    child.kill().unwrap();
    child.wait().unwrap();
    id.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_deploy_then_reattach_loses_no_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_path_buf();
    let sandbox_dir = d.join("data/opsdeck/sandbox");
    let state = d.join("state/opsdeck");
    let journal = Journal::new(&state);

    // A slow deploy (each simulated build line takes 150 ms), started
    // headless and SIGKILLed mid-build: no cleanup, no finish record.
    let id = deploy_killed_mid_build(&d, &journal, 150);
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
        if let Some(r) = h.app.runs.all.iter().find(|r| r.id == id)
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
    let run = h.app.runs.all.iter().find(|r| r.id == id).unwrap();
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

/// `opsdeck attach`: the run of a killed opsdeck followed to its end,
/// headless, byte for byte; a second follower is refused, so the end is
/// recorded once.
#[test]
fn attach_follows_a_killed_runs_job_and_only_one_opsdeck_records_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_path_buf();
    let state = d.join("state/opsdeck");
    let journal = Journal::new(&state);
    // Slow enough (300 ms a build line) that the job is still going when
    // the second follower comes.
    let id = deploy_killed_mid_build(&d, &journal, 300);

    // The newest unfinished run, followed by `attach`.
    let mut attach = cli(&d)
        .args(["attach"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(attach.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut err, &mut first).unwrap();
    assert!(first.contains(&format!("attached to {id}")), "{first}");
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    // Meanwhile another follower (a console, another attach) is refused.
    let out = cli(&d).args(["attach", &id]).output().unwrap();
    let second = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{second}");
    assert!(second.contains("followed by another opsdeck"), "{second}");
    let out = attach.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What it printed is the job's whole log on the host, once.
    let host_log = std::fs::read_to_string(
        d.join("data/opsdeck/sandbox/hosts")
            .join(MT_HOST)
            .join("var/lib/opsdeck/jobs")
            .join(format!("{id}.log")),
    )
    .unwrap();
    assert_eq!(stdout, host_log);
    assert_eq!(
        std::fs::read_to_string(journal.output_path(&id)).unwrap(),
        host_log
    );
    // One finish record, reattached.
    let raw = std::fs::read_to_string(journal.file()).unwrap();
    let finishes: Vec<&str> = raw
        .lines()
        .filter(|l| l.contains(&id) && l.contains("\"kind\":\"finish\""))
        .collect();
    assert_eq!(finishes.len(), 1, "{raw}");
    let (entries, _) = journal.entries();
    let f = entries
        .iter()
        .find(|e| e.start.run == id)
        .and_then(|e| e.finish.clone())
        .unwrap();
    assert!(f.reattached);
    assert_eq!(f.status, "succeeded");
    // Nothing left to attach to; a finished run says where its output is.
    let out = cli(&d).args(["attach", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has ended (succeeded)"));
}
