//! What needs attention: each signal raised on the sandbox by injecting its
//! fault, read through `opsdeck ls attention --json` (exit 1 when anything
//! is critical), and the console's strip and list.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::{fixed_now, run_cli, run_cli_at};
use opsdeck::provider::sandbox::docker_sim;
use serde_json::Value;
use std::path::Path;

const MT: &str = "i-0a4f1c2e9b7d30001";

/// (exit code, items).
fn attention_at(d: &Path, now: chrono::DateTime<chrono::Utc>) -> (i32, Vec<Value>) {
    let (code, out, err) = run_cli_at(d, now, &["ls", "attention", "--json"]);
    let items: Vec<Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, items)
}

fn attention(d: &Path) -> (i32, Vec<Value>) {
    attention_at(d, fixed_now())
}

fn find<'a>(items: &'a [Value], kind: &str, subject: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|i| i["kind"] == kind && i["subject"] == subject)
}

fn has(items: &[Value], kind: &str, subject: &str) -> Value {
    find(items, kind, subject)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} item for {subject}: {items:#?}"))
}

fn mt_root(d: &Path) -> std::path::PathBuf {
    d.join("data/opsdeck/sandbox/hosts").join(MT)
}

#[test]
fn a_fresh_sandbox_says_what_needs_attention_worst_first() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, items) = attention(d);
    assert_eq!(code, 1, "a crash loop is critical: {items:#?}");
    // The worst first: the worker restarting for the 14th time.
    assert_eq!(items[0]["severity"], "critical");
    assert_eq!(items[0]["kind"], "crash-loop");
    assert_eq!(items[0]["subject"], "pmo-worker");
    assert!(items[0]["what"].as_str().unwrap().contains("14 restarts"));
    assert_eq!(items[0]["fix"]["runbook"], "logs");
    assert_eq!(
        items[0]["fix"]["command"],
        "opsdeck run logs container=pmo-worker@i-07f64b1f8de8f6b26"
    );
    // Hosts runbooks cannot reach.
    assert!(
        has(&items, "agent-offline", "indivillage-web")["what"]
            .as_str()
            .unwrap()
            .contains("ConnectionLost")
    );
    has(&items, "stopped-host", "pmo-worker-legacy");
    // Newest backups nobody validated, with the runbook that does it.
    let v = has(&items, "unvalidated", "filter_ical_production");
    assert_eq!(v["fix"]["runbook"], "validate-backup");
    assert_eq!(
        v["fix"]["target"],
        "filter_ical_production_20260302_020000.sql.gz"
    );
    assert_eq!(v["since"], "2026-03-02T02:00:00Z");
    // Bucket posture: the artifacts bucket is unencrypted and nothing said so.
    let arts = "cohuron-artifacts-prod-957207443425";
    assert!(items.iter().any(|i| i["kind"] == "bucket"
        && i["subject"] == arts
        && i["what"] == "no default encryption"));
    assert!(items.iter().any(|i| {
        i["kind"] == "bucket"
            && i["subject"] == "enssol-static-assets"
            && i["what"]
                .as_str()
                .unwrap()
                .starts_with("public access is not blocked")
    }));
    // The backups bucket is fine: no item.
    assert!(find(&items, "bucket", "cohuron-backups").is_none());
    // Posture findings.
    has(&items, "posture", "sg-0e55a11d0c0ffee01");
    // Critical before warnings, everywhere.
    let first_warning = items
        .iter()
        .position(|i| i["severity"] == "warning")
        .unwrap();
    assert!(
        items[first_warning..]
            .iter()
            .all(|i| i["severity"] == "warning")
    );

    // Without anything critical, the exit code is 0: the worker is fixed.
    let mut st =
        docker_sim::load_state(&d.join("data/opsdeck/sandbox/hosts/i-07f64b1f8de8f6b26")).unwrap();
    let w = st
        .containers
        .iter_mut()
        .find(|c| c.name == "pmo-worker")
        .unwrap();
    w.restarts = 0;
    docker_sim::save_state(
        &d.join("data/opsdeck/sandbox/hosts/i-07f64b1f8de8f6b26"),
        &st,
    )
    .unwrap();
    let (code, items) = attention(d);
    assert_eq!(code, 0, "{items:#?}");
    assert!(find(&items, "crash-loop", "pmo-worker").is_none());
}

#[test]
fn each_injected_fault_raises_its_item() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    attention(d);
    let mt = mt_root(d);

    // An unhealthy container: critical, fixed by a restart.
    let mut st = docker_sim::load_state(&mt).unwrap();
    let c = st
        .containers
        .iter_mut()
        .find(|c| c.name == "filter-ical-backend-production")
        .unwrap();
    c.target_health = "unhealthy".into();
    docker_sim::save_state(&mt, &st).unwrap();
    let (_, items) = attention(d);
    let u = has(&items, "unhealthy", "filter-ical-backend-production");
    assert_eq!(u["severity"], "critical");
    assert_eq!(u["fix"]["runbook"], "restart");

    // The newest backup gone bad: its validation failed, critical.
    let dir = mt.join("opt/backups/postgres");
    std::fs::remove_file(dir.join("gabs_massage_staging_20260302_020000.sql.gz")).unwrap();
    std::fs::write(
        dir.join("gabs_massage_staging_20260301_020000.sql.gz"),
        b"not gzip",
    )
    .unwrap();
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "validate-backup",
            "backup=gabs_massage_staging_20260301_020000.sql.gz",
            "--yes",
        ],
    );
    assert_ne!(code, 0, "{out}");
    let (_, items) = attention(d);
    let f = has(&items, "backup-failed", "gabs_massage_staging");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["fix"]["runbook"], "backup");
    assert!(f["what"].as_str().unwrap().contains("FAILED"), "{f}");
    // The failed validation is the backup's item, not also a run's.
    assert!(!items.iter().any(|i| {
        i["kind"] == "run"
            && i["subject"]
                .as_str()
                .unwrap()
                .starts_with("validate-backup")
    }));

    // A certificate close to expiry, from the last certificate check.
    let (code, out, _) = run_cli(d, &["run", "cert-expiry", &format!("instance={MT}")]);
    assert_eq!(code, 1, "{out}");
    let (_, items) = attention(d);
    let cert = has(&items, "certificate", "gabs-massage.example.com");
    assert_eq!(cert["severity"], "warning");
    assert!(
        cert["what"]
            .as_str()
            .unwrap()
            .starts_with("certificate expires in 12 days"),
        "{cert}"
    );
    assert_eq!(cert["fix"]["runbook"], "cert-expiry");
    assert!(
        find(&items, "certificate", "filter-ical.example.com").is_none(),
        "64 days left"
    );
    // Ten days later the same check says 2 days: critical.
    let (_, later) = attention_at(d, fixed_now() + Duration::days(10));
    let cert = has(&later, "certificate", "gabs-massage.example.com");
    assert_eq!(cert["severity"], "critical");
    assert!(
        cert["what"]
            .as_str()
            .unwrap()
            .starts_with("certificate expires in 2 days")
    );

    // A failed run, until the same runbook succeeds on the same target.
    let (code, out, _) = run_cli(d, &["run", "health", "tenant=filter-ical-production"]);
    assert_ne!(code, 0, "its backend is unhealthy: {out}");
    let (_, items) = attention(d);
    let r = has(&items, "run", "health filter-ical-production");
    assert_eq!(r["fix"]["runbook"], "health");
    assert_eq!(r["fix"]["target_kind"], "tenant");
    // The backend healthy again and checked: the run's item is gone.
    let mut st = docker_sim::load_state(&mt).unwrap();
    for c in &mut st.containers {
        c.target_health = "healthy".into();
    }
    docker_sim::save_state(&mt, &st).unwrap();
    let later = fixed_now() + Duration::minutes(5);
    let (code, out, _) = run_cli_at(
        d,
        later,
        &["run", "health", "tenant=filter-ical-production"],
    );
    assert_eq!(code, 0, "{out}");
    let (_, items) = attention_at(d, later);
    assert!(find(&items, "run", "health filter-ical-production").is_none());
    assert!(find(&items, "unhealthy", "filter-ical-backend-production").is_none());

    // A day and more later: the RPO of every database is breached.
    let (code, later) = attention_at(d, fixed_now() + Duration::hours(30));
    assert_eq!(code, 1);
    let rpo = has(&later, "rpo", "filter_ical_production");
    assert_eq!(rpo["severity"], "critical");
    assert_eq!(rpo["fix"]["runbook"], "backup");
    assert_eq!(rpo["fix"]["target"], format!("filter_ical_production@{MT}"));
    // …but not the one with a 48 h RPO.
    assert!(find(&later, "rpo", "filter_ical_staging").is_none());

    // A drill in progress.
    let (code, _, err) = run_cli(d, &["drill", "start", "crash-loop"]);
    assert_eq!(code, 0, "{err}");
    let (_, items) = attention(d);
    has(&items, "drill", "crash-loop");
    has(&items, "crash-loop", "gabs-massage-backend-production");
}

/// The console: the Tenants screen leads with the strip, `0` lists every
/// item, Enter opens the runbook that fixes the one selected, prefilled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_leads_with_attention_and_enter_opens_the_fix() {
    use crossterm::event::KeyCode;
    let mut h = common::Harness::loaded().await;
    let screen = common::text(&common::render(&h.app, 140, 34));
    assert!(screen.contains(" ATTENTION "), "{screen}");
    assert!(screen.contains("!! pmo-worker"), "{screen}");
    assert!(
        screen.contains("Tenants [11]"),
        "the tenants stay: {screen}"
    );
    h.key(KeyCode::Char('0'));
    let screen = common::text(&common::render(&h.app, 140, 34));
    assert!(screen.contains("Attention ["), "{screen}");
    assert!(screen.contains("no default encryption"), "{screen}");
    // The first row is the crash loop; Enter opens `logs` on that container.
    h.key(KeyCode::Home);
    h.key(KeyCode::Enter);
    let screen = common::text(&common::render(&h.app, 140, 34));
    assert!(screen.contains("runbook   logs"), "{screen}");
    assert!(screen.contains("pmo-worker"), "{screen}");
    // An item no runbook fixes shows what it is instead.
    h.key(KeyCode::Esc);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    let screen = common::text(&common::render(&h.app, 140, 34));
    assert!(screen.contains("no runbook fixes this one"), "{screen}");
    assert!(screen.contains("ConnectionLost"), "{screen}");
}
