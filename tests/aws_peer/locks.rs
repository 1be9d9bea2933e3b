//! One change at a time per target over SSM: two operators (two opsdeck
//! homes, two names) on one managed host of the executing peer. The lock
//! is the same as on the sandbox: the start's own command takes it.

use super::{PeerEstate, aws_cli, calls_per_minute, epoch};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_over_ssm_one_deploys_the_other_is_refused_naming_her() {
    let e = PeerEstate::new("eu-north-1", false).await;
    // Each simulated build line takes a while: the deploy is still
    // running when Bob tries.
    e.agent("Online", 300);
    let operator = |who: &str, args: &[&str]| {
        let mut c = aws_cli(&e.dir().join(who), &e.cfg, e.now, true, args);
        c.env("OPSDECK_OPERATOR", who);
        c
    };
    let mut alice = operator(
        "alice",
        &["run", "deploy", "tenant=filter-ical-staging", "--yes"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let locks = e.root().join("var/lib/opsdeck/locks");
    let until = Instant::now() + Duration::from_secs(60);
    let record = loop {
        let found = std::fs::read_dir(&locks).ok().and_then(|d| {
            d.flatten()
                .map(|f| f.path())
                .filter(|p| p.extension().is_some_and(|x| x == "holder"))
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
                .find(|p| p.to_string_lossy().contains("project-filter-ical-staging."))
        });
        if let Some(p) = found {
            break p;
        }
        assert!(Instant::now() < until, "alice's deploy never took its lock");
        std::thread::sleep(Duration::from_millis(50));
    };
    let holder: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(holder["who"], "alice", "{holder}");
    let t0 = epoch();
    let out = operator(
        "bob",
        &["run", "rollback", "tenant=filter-ical-staging", "--yes"],
    )
    .output()
    .unwrap();
    let t1 = epoch();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("held by alice")
            && err.contains("`deploy` on filter-ical-staging")
            && err.contains(holder["run"].as_str().unwrap()),
        "{err}"
    );
    let (n, _) = calls_per_minute(&e.id, t0, t1);
    eprintln!("bob's refused rollback over the peer: {n} SSM calls about the instance");
    let done = alice.wait().unwrap();
    let mut alice_err = String::new();
    std::io::Read::read_to_string(alice.stderr.as_mut().unwrap(), &mut alice_err).unwrap();
    assert!(done.success(), "{alice_err}");
    assert!(!record.exists(), "the holder record goes with the run");
    // Free again: Bob's rollback runs.
    let out = operator(
        "bob",
        &["run", "rollback", "tenant=filter-ical-staging", "--yes"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
