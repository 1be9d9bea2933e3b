//! Fleet runs on the sandbox's hosts: its simulated Run Command behaves
//! like SSM's (MaxConcurrency, MaxErrors, the instance id in
//! `AWS_SSM_INSTANCE_ID`), under the same engine as on AWS (the peer's
//! tests are in aws_peer.rs).

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use opsdeck::jobs::fleet::{
    self, FleetEvent, FleetReport, FleetRequest, FleetTarget, TargetEnd, Targets,
};
use opsdeck::provider::sandbox::estate::{ENSSOL_HOST, MAP_HOST, MT_HOST, PMO_HOST};
use opsdeck::transport::Transport;
use std::sync::Arc;
use std::time::Duration;

struct Setup {
    dir: tempfile::TempDir,
    transport: Arc<dyn Transport>,
    instances: Vec<opsdeck::domain::Instance>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let sb = common::sim_sandbox(&dir.path().join("sb"), common::fixed_now());
    let p = common::providers(&sb, &common::sim_env(common::fixed_now()), dir.path());
    Setup {
        dir,
        transport: p.transport.clone(),
        instances: opsdeck::provider::sandbox::estate::instances(),
    }
}

async fn run(
    s: &Setup,
    id: &str,
    hosts: &[&str],
    script: &str,
    conc: &str,
    errs: &str,
) -> FleetReport {
    let req = FleetRequest {
        run: id.into(),
        targets: hosts
            .iter()
            .map(|h| FleetTarget {
                host: h.to_string(),
                label: h.to_string(),
                script: script.into(),
            })
            .collect(),
        tag: None,
        max_concurrency: conc.parse().unwrap(),
        max_errors: errs.parse().unwrap(),
        timeout: Duration::from_secs(60),
        poll: Duration::from_millis(50),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (_cancel, cancel_rx) = tokio::sync::watch::channel(false);
    let report = fleet::run(s.transport.clone(), req, tx, cancel_rx)
        .await
        .unwrap();
    // Every target's end came as an event too.
    let mut ended = 0;
    while let Ok(ev) = rx.try_recv() {
        if matches!(ev, FleetEvent::Ended { .. }) {
            ended += 1;
        }
    }
    assert_eq!(ended, hosts.len());
    report
}

/// The most targets whose `start`..`end` marks in `file` overlap.
fn peak(file: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    let (mut now, mut peak) = (0usize, 0usize);
    for l in text.lines() {
        if l == "start" {
            now += 1;
            peak = peak.max(now);
        } else {
            now -= 1;
        }
    }
    peak
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_runs_the_one_script_with_its_own_id() {
    let s = setup();
    let hosts = [MT_HOST, PMO_HOST, ENSSOL_HOST];
    let r = run(
        &s,
        "fleet-1",
        &hosts,
        "echo \"hello from $AWS_SSM_INSTANCE_ID\"",
        "50",
        "0",
    )
    .await;
    for h in hosts {
        assert_eq!(r.ends[h], TargetEnd::Succeeded, "{h}");
        assert_eq!(r.outputs[h], format!("hello from {h}\n"));
    }
    assert_eq!(r.commands.len(), 1, "one command for the fleet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_tag_at_most_max_concurrency_at_once() {
    let s = setup();
    let prod = Targets::parse("tag:Environment=production")
        .unwrap()
        .select(&s.instances)
        .unwrap();
    assert_eq!(prod.len(), 4);
    let hosts: Vec<&str> = prod.iter().map(|i| i.id.as_str()).collect();
    for (n, conc) in ["1", "3"].iter().enumerate() {
        let marks = s.dir.path().join(format!("marks-{n}"));
        let q = marks.display();
        let script = format!("echo start >> '{q}'; sleep 0.4; echo end >> '{q}'");
        let r = run(&s, &format!("fleet-c{n}"), &hosts, &script, conc, "0").await;
        assert!(r.ends.values().all(|e| *e == TargetEnd::Succeeded));
        let p = peak(&marks);
        assert!(p <= conc.parse().unwrap(), "{p} at once with {conc}");
        if *conc == "3" {
            assert!(p > 1, "never more than one at once");
        }
    }
    assert!(
        Targets::parse("i-nope")
            .unwrap()
            .select(&s.instances)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_errors_no_more_targets_are_started() {
    let s = setup();
    let hosts = [MT_HOST, PMO_HOST, ENSSOL_HOST, MAP_HOST];
    let r = run(&s, "fleet-e", &hosts, "echo trying; exit 3", "1", "0").await;
    let failed = r
        .ends
        .values()
        .filter(|e| **e == TargetEnd::Failed(3))
        .count();
    let not_started = r
        .ends
        .values()
        .filter(|e| **e == TargetEnd::NotStarted)
        .count();
    assert_eq!((failed, not_started), (1, 3), "{:?}", r.ends);
    // With one error allowed, the second failure stops it.
    let r = run(&s, "fleet-e2", &hosts, "echo trying; exit 3", "1", "1").await;
    let failed = r
        .ends
        .values()
        .filter(|e| **e == TargetEnd::Failed(3))
        .count();
    assert_eq!(failed, 2, "{:?}", r.ends);
}

/// The console: marks on Instances, the runbook's form once for all, one
/// confirmation listing every target, a row per target on Runs with the
/// summary line; `:run NAME tag:K=V` the same by tag; `e` keeps failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_run_from_the_console_by_marks_and_by_tag() {
    use crossterm::event::KeyCode;
    use opsdeck::tui::app::{Mode, RunStatus, Screen};
    let mut h = common::Harness::loaded().await;
    h.keys("2");
    assert_eq!(h.app.screen, Screen::Instances);
    // Mark the first two, then pick a runbook: it is for both.
    h.keys(" j ");
    assert_eq!(h.app.runs.marked.len(), 2);
    let screen = common::text(&common::render(&h.app, 120, 20));
    assert!(screen.contains("● 2 marked"), "{screen}");
    h.keys("r");
    h.keys("host-stats");
    h.key(KeyCode::Enter);
    let Mode::Form(f) = &h.app.mode else {
        panic!("the form opens")
    };
    assert_eq!(f.fleet.as_ref().unwrap().ids.len(), 2);
    let screen = common::text(&common::render(&h.app, 120, 20));
    assert!(
        screen.contains("2 marked instances: one form for all"),
        "{screen}"
    );
    h.key(KeyCode::Enter);
    let Mode::Confirm(c) = &h.app.mode else {
        panic!("one confirmation for the fleet")
    };
    assert_eq!(c.title, "host-stats on 2 marked");
    assert!(
        c.lines
            .iter()
            .any(|l| l.contains("multi-tenant-platform") && l.contains("runs"))
    );
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(h.app.screen, Screen::Runs);
    assert!(h.app.runs.marked.is_empty(), "marks are spent");
    assert_eq!(h.app.runs.all.len(), 2);
    assert!(
        h.app
            .runs
            .all
            .iter()
            .all(|r| r.status == RunStatus::Succeeded)
    );
    assert!(
        h.app
            .runs
            .all
            .iter()
            .all(|r| r.output.iter().any(|l| l.contains("==> [1/3] disk")))
    );
    let screen = common::text(&common::render(&h.app, 160, 20));
    assert!(
        screen.contains("fleet host-stats on 2 marked: 2 succeeded · 0 failed · 0 running · 0 refused · 0 not started"),
        "{screen}"
    );

    // By tag, from the palette: the staging ones are refused, by name.
    h.keys(":");
    h.keys("run limits-audit tag:Environment=staging");
    h.key(KeyCode::Enter);
    // Every target refused: nothing to confirm, and it says why.
    assert!(matches!(h.app.mode, Mode::Form(_)), "the form opens first");
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.mode, Mode::Normal));
    let notice = h.app.notices.current.as_ref().unwrap().text.clone();
    assert!(
        notice.contains("every target refused") && notice.contains("pmo-worker-legacy"),
        "{notice}"
    );

    // A read runbook on every production instance: one Enter, four targets.
    h.keys(":");
    h.keys("run cert-expiry tag:Environment=production");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    let Mode::Confirm(c) = &h.app.mode else {
        panic!("confirmation")
    };
    assert_eq!(c.lines.iter().filter(|l| l.contains(" — runs")).count(), 4);
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(h.app.runs.all.len(), 6);
    // cert-expiry fails where a certificate is close to expiry: `e` keeps those.
    let failed = h
        .app
        .runs
        .all
        .iter()
        .filter(|r| r.status != RunStatus::Succeeded)
        .count();
    assert!(failed >= 1);
    h.keys("e");
    assert_eq!(h.app.list(Screen::Runs).visible.len(), failed);
    h.keys("e");
    assert_eq!(h.app.list(Screen::Runs).visible.len(), 6);
    // Each target is its own journal record, with its output.
    let (entries, _) = h.providers.journal.entries();
    assert_eq!(entries.len(), 6);
    assert!(entries.iter().all(|e| e.finish.is_some()));
}

/// Opening a fleet target while it runs tails its job live; its end brings
/// the complete output in place of the tail (no line twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opened_fleet_target_streams_and_ends_with_its_whole_output() {
    use crossterm::event::KeyCode;
    use opsdeck::tui::app::{Mode, RunStatus, Screen};
    let mut env = common::sim_env(common::fixed_now());
    env.insert("OPSDECK_SIM_DELAY_MS".into(), "120".into());
    let mut h = common::Harness::with_env(common::sandbox_ctx(), env).await;
    h.keys(":");
    h.keys("run deploy-platform tag:Project=multi-tenant-platform");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    let Mode::Confirm(c) = &h.app.mode else {
        panic!("confirmation")
    };
    // A change on a production instance: the tag is typed.
    assert_eq!(
        c.confirm_with.as_deref(),
        Some("tag:Project=multi-tenant-platform")
    );
    h.keys("tag:Project=multi-tenant-platform");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Runs);
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::RunOutput);
    let id = h.app.runs.all[0].id.clone();
    // Lines arrive while the target still runs.
    let t = std::time::Instant::now();
    while h.app.runs.all[0].output.is_empty() || !h.app.runs.all[0].status.is_active() {
        assert!(
            h.app.runs.all[0].status.is_active(),
            "it ended before a line was tailed"
        );
        assert!(t.elapsed() < Duration::from_secs(30));
        h.step().await;
    }
    h.settle().await;
    let run = &h.app.runs.all[0];
    assert_eq!(run.status, RunStatus::Succeeded);
    let shown: Vec<&str> = run.output.iter().collect();
    let journaled = std::fs::read_to_string(h.providers.journal.output_path(&id)).unwrap();
    assert_eq!(shown, journaled.lines().collect::<Vec<_>>());
}

/// Ctrl-c on a fleet target's row cancels the fleet: the running target's
/// job is stopped on its host, and it shows and is journaled as cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_the_console_cancels_the_fleet() {
    use crossterm::event::KeyCode;
    use opsdeck::tui::app::{RunStatus, Screen};
    let mut env = common::sim_env(common::fixed_now());
    env.insert("OPSDECK_SIM_DELAY_MS".into(), "300".into());
    let mut h = common::Harness::with_env(common::sandbox_ctx(), env).await;
    h.keys(":");
    h.keys("run deploy-platform tag:Project=multi-tenant-platform");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    h.keys("tag:Project=multi-tenant-platform");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Runs);
    let job = h.app.runs.all[0].id.clone();
    let pid = h
        .host_root()
        .join(format!("var/lib/opsdeck/jobs/{job}.pid"));
    let t = std::time::Instant::now();
    while !pid.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the target never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.ctrl('c');
    h.keys("y");
    h.settle().await;
    assert_eq!(h.app.runs.all[0].status, RunStatus::Cancelled(143));
    assert!(h.app.fleet_summary().unwrap().contains("1 cancelled"));
    let (entries, _) = h.providers.journal.entries();
    assert_eq!(entries[0].finish.as_ref().unwrap().status, "cancelled");
}

/// A fleet target's record is its job on the host: when opsdeck is killed
/// mid-fleet, `opsdeck attach` follows the target to its end, byte for byte.
#[test]
fn a_fleet_target_left_by_a_killed_opsdeck_is_attached() {
    use opsdeck::store::journal::Journal;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let journal = Journal::new(&d.join("state/opsdeck"));
    let mut child = common::cli(d)
        .env("OPSDECK_SIM_DELAY_MS", "300")
        .env("OPSDECK_FLEET_POLL_MS", "300")
        .args([
            "run",
            "deploy-platform",
            "tag=Project=multi-tenant-platform",
            "--yes",
            "--confirm",
            "tag:Project=multi-tenant-platform",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let root = d.join("data/opsdeck/sandbox/hosts").join(MT_HOST);
    let t = std::time::Instant::now();
    let id = loop {
        if let Some(u) = journal.unfinished("sandbox").first() {
            let log = root.join(format!("var/lib/opsdeck/jobs/{}.log", u.start.run));
            if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("==> [2/5]")) {
                break u.start.run.clone();
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the fleet never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, out, err) = common::run_cli(d, &["attach"]);
    assert_eq!(code, 0, "{out}{err}");
    let host_log =
        std::fs::read_to_string(root.join(format!("var/lib/opsdeck/jobs/{id}.log"))).unwrap();
    assert!(host_log.ends_with("==> opsdeck result: succeeded\n"));
    assert_eq!(
        std::fs::read_to_string(journal.output_path(&id)).unwrap(),
        host_log
    );
    let (entries, _) = journal.entries();
    let f = entries[0].finish.as_ref().unwrap();
    assert_eq!(f.status, "succeeded");
    assert!(f.reattached);
}

/// Every instance marked: the picker names the fleet (not its first
/// instance), and the targets refused before anything was sent (stopped,
/// agent offline) show `refused` on Runs, as the summary counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_names_the_fleet_and_refused_targets_say_refused() {
    use crossterm::event::KeyCode;
    use opsdeck::tui::app::{Mode, RunStatus, Screen};
    let mut h = common::Harness::loaded().await;
    h.keys("2*");
    let marked = h.app.runs.marked.len();
    assert_eq!(marked, 6, "every instance shown is marked");
    h.keys("r");
    let screen = common::text(&common::render(&h.app, 120, 30));
    assert!(
        screen.contains("6 marked instances: one run for all"),
        "{screen}"
    );
    assert!(
        screen.contains("disk, memory and docker stats of 6 marked instances"),
        "{screen}"
    );
    assert!(!screen.contains("target   instance"), "{screen}");
    h.keys("host-stats");
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.mode, Mode::Form(_)));
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.mode, Mode::Confirm(_)));
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(h.app.screen, Screen::Runs);
    let refused: Vec<_> = h
        .app
        .runs
        .all
        .iter()
        .filter(|r| matches!(r.status, RunStatus::Refused(_)))
        .collect();
    assert_eq!(refused.len(), 2, "the stopped host and the offline agent");
    let summary = h.app.fleet_summary().unwrap();
    assert!(summary.contains("2 refused"), "{summary}");
    let screen = common::text(&common::render(&h.app, 160, 20));
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("(refused)")).collect();
    assert_eq!(rows.len(), 2, "{screen}");
    assert!(
        rows.iter()
            .all(|l| l.contains(" refused ") && !l.contains(" error ")),
        "{screen}"
    );
}

/// `--json` lists every target with its status, the refused ones too, and
/// still prints its document when every target is refused (exit 3).
#[test]
fn the_json_summary_lists_every_target_even_when_all_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, out, err) = common::run_cli(
        d,
        &["run", "limits-audit", "tag=Environment=staging", "--json"],
    );
    assert_eq!(code, 3, "{out}{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let targets = doc["targets"].as_array().unwrap();
    assert!(!targets.is_empty(), "{doc}");
    assert!(
        targets
            .iter()
            .all(|t| t["status"] == "refused" && t["error"].is_string()),
        "{doc}"
    );
    assert_eq!(doc["summary"]["refused"], targets.len());
    assert!(
        targets
            .iter()
            .any(|t| t["name"].as_str().unwrap().contains("pmo-worker-legacy")),
        "{doc}"
    );
    // Some refused, some sent: all of them in the document.
    let (code, out, err) = common::run_cli(
        d,
        &["run", "host-stats", "tag=Project=cohuron-pmo", "--json"],
    );
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let statuses: Vec<&str> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"refused"), "{doc}");
    assert!(statuses.contains(&"succeeded"), "{doc}");
    assert_eq!(code, 1, "a refused target makes it a failure: {err}");
}
