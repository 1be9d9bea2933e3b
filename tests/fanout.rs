//! Fan-out on the sandbox's hosts over the local transport (real bash).

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use opsdeck::jobs::fanout::{self, FanoutRequest, TargetStatus, Targets};
use opsdeck::jobs::protocol::RunProtocol;
use opsdeck::provider::sandbox::estate::{
    ENSSOL_HOST, MT_HOST, OFFLINE_HOST, PMO_HOST, STOPPED_HOST,
};
use std::time::{Duration, Instant};

struct Setup {
    _dir: tempfile::TempDir,
    protocol: RunProtocol,
    instances: Vec<opsdeck::domain::Instance>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let sb = common::sim_sandbox(&dir.path().join("sb"), common::fixed_now());
    let p = common::providers(&sb, &common::sim_env(common::fixed_now()), dir.path());
    Setup {
        _dir: dir,
        protocol: RunProtocol::new(p.transport.clone()),
        instances: opsdeck::provider::sandbox::estate::instances(),
    }
}

fn req(script: &str, conc: usize, errs: usize) -> FanoutRequest {
    FanoutRequest {
        run: "fan-1".into(),
        script: script.into(),
        max_concurrency: conc,
        max_errors: errs,
        runs_dir: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reachable_target_runs_and_the_others_are_refused() {
    let s = setup();
    let all: Vec<&_> = s.instances.iter().collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = fanout::run(
        s.protocol.clone(),
        &all,
        req("echo \"hello from $OPSDECK_HOST\"", 5, 5),
        tx,
    )
    .await;
    for h in [MT_HOST, PMO_HOST, ENSSOL_HOST] {
        assert_eq!(report.status[h], TargetStatus::Succeeded, "{h}");
        assert_eq!(report.output[h], format!("hello from {h}\n"));
    }
    assert!(
        matches!(&report.status[STOPPED_HOST], TargetStatus::Refused(w) if w.contains("stopped"))
    );
    assert!(
        matches!(&report.status[OFFLINE_HOST], TargetStatus::Refused(w) if w.contains("ConnectionLost"))
    );
    // Events are tagged per target.
    let mut tagged = std::collections::BTreeSet::new();
    while let Ok(ev) = rx.try_recv() {
        tagged.insert(ev.run().to_string());
    }
    assert!(tagged.contains(&fanout::target_run("fan-1", PMO_HOST)));
    assert!(
        !tagged.iter().any(|r| r.contains(STOPPED_HOST)),
        "nothing was sent to a refused target"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_tag_with_a_concurrency_limit() {
    let s = setup();
    let prod = Targets::parse("tag:Environment=production")
        .unwrap()
        .select(&s.instances)
        .unwrap();
    assert_eq!(prod.len(), 4);
    let t = Instant::now();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let one = fanout::run(s.protocol.clone(), &prod, req("sleep 0.6", 1, 3), tx).await;
    let serial = t.elapsed();
    assert_eq!(one.peak_concurrency, 1);
    assert!(serial >= Duration::from_millis(1800), "{serial:?}");
    let t = Instant::now();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut r = req("sleep 0.6", 3, 3);
    r.run = "fan-2".into();
    let all = fanout::run(s.protocol.clone(), &prod, r, tx).await;
    assert_eq!(all.peak_concurrency, 3);
    assert!(t.elapsed() < serial, "{:?} vs {serial:?}", t.elapsed());
    assert!(
        Targets::parse("i-nope")
            .unwrap()
            .select(&s.instances)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_errors_stops_new_launches() {
    let s = setup();
    let prod = Targets::parse("tag:Environment=production")
        .unwrap()
        .select(&s.instances)
        .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let report = fanout::run(
        s.protocol.clone(),
        &prod,
        req("echo trying; exit 3", 1, 1),
        tx,
    )
    .await;
    let failed = report
        .status
        .values()
        .filter(|s| **s == TargetStatus::Failed(3))
        .count();
    let skipped = report
        .status
        .values()
        .filter(|s| **s == TargetStatus::Skipped)
        .count();
    assert_eq!((failed, skipped), (1, 3), "{:?}", report.status);
}
