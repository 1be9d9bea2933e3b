//! Each drill scenario run headless to a passing report, the test playing
//! the operator with the same runbooks a person would use; and a drill that
//! is not recovered does not pass.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::{DateTime, Utc};
use common::pg::Pg;
use common::{run_cli, run_cli_at};
use std::path::Path;

fn ok(d: &Path, args: &[&str]) -> String {
    let (code, out, err) = run_cli(d, args);
    assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
    out
}

fn verify(d: &Path) -> serde_json::Value {
    verify_at(d, common::fixed_now())
}

fn verify_at(d: &Path, now: DateTime<Utc>) -> serde_json::Value {
    let (code, out, err) = run_cli_at(d, now, &["drill", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(code == 0, v["passed"] == true, "{out}");
    v
}

#[test]
fn failed_migration_drill() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = ok(d, &["drill", "start", "failed-migration"]);
    assert!(out.contains("ALARM: Release"), "{out}");
    // Verifying before doing anything fails and keeps the drill open.
    let v = verify(d);
    assert_eq!(v["passed"], false);
    assert!(ok(d, &["drill", "status"]).contains("failed-migration"));
    // The operator deploys; the migration fails; the deploy rolls back by itself.
    let (code, out, _) = run_cli(
        d,
        &["run", "deploy", "tenant=gabs-massage-staging", "--yes"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("rollback=done"), "{out}");
    ok(d, &["run", "health", "tenant=gabs-massage-staging"]);
    let v = verify(d);
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(v["steps"].as_array().unwrap().len(), 2);
    assert!(v["rto_seconds"].as_i64().unwrap() >= 0);
    // The report is in the journal and exports as Markdown.
    let md_path = d.join("drill.md");
    ok(
        d,
        &["drill", "report", "--markdown", md_path.to_str().unwrap()],
    );
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(md.contains("# Drill: failed-migration"), "{md}");
    assert!(md.contains("**PASSED**"));
    assert!(
        md.contains("opsdeck run deploy tenant=gabs-massage-staging migrations=true"),
        "{md}"
    );
    assert!(ok(d, &["drill", "status"]).contains("no drill is running"));
}

#[test]
fn crash_loop_drill() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["drill", "start", "crash-loop"]);
    let out = ok(d, &["ls", "containers"]);
    let line = out
        .lines()
        .find(|l| l.contains("gabs-massage-backend-production"))
        .unwrap();
    assert!(line.contains("Restarting (137)"), "{line}");
    ok(
        d,
        &[
            "run",
            "logs",
            "container=gabs-massage-backend-production",
            "lines=50",
        ],
    );
    ok(
        d,
        &[
            "run",
            "restart",
            "container=gabs-massage-backend-production",
            "--yes",
            "--confirm",
            "gabs-massage-backend-production",
        ],
    );
    let v = verify(d);
    assert_eq!(v["passed"], true, "{v:#}");
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert!(checks.contains(&"the container is up and healthy"));
    // The report's commands replay as they were run: with their consent.
    let md = ok(d, &["drill", "report"]);
    assert!(
        md.contains("opsdeck run restart container=gabs-massage-backend-production --yes --confirm gabs-massage-backend-production"),
        "{md}"
    );
    assert!(
        md.contains("opsdeck run logs container=gabs-massage-backend-production lines=50"),
        "{md}"
    );
    assert!(
        !md.contains("lines=50 --yes"),
        "a read runbook needs no consent: {md}"
    );
}

/// The host's backup files of the drilled database, newest first.
fn host_backups(d: &Path, now: DateTime<Utc>) -> Vec<String> {
    let (code, list, err) = run_cli_at(d, now, &["ls", "backups", "--json"]);
    assert_eq!(code, 0, "{err}");
    let backups: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let mut ours: Vec<String> = backups
        .iter()
        .filter(|b| b["database"] == "filter_ical_staging" && b["location"] != "s3")
        .map(|b| {
            b["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    ours.sort();
    ours.reverse();
    ours
}

/// The corrupt-latest-backup drill as an operator plays it at `now` (the
/// drill already started): validate the newest backup, which fails, then
/// the one before, restore it, verify. The good backup's name and the report.
/// `reach` are the arguments that reach the database (none for the
/// sandbox's own server: the config's via=docker does).
fn play_corrupt_latest_backup(
    reach: &[&str],
    d: &Path,
    now: DateTime<Utc>,
) -> (String, serde_json::Value) {
    // The backups, newest first: the operator validates the newest…
    let ours = host_backups(d, now);
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(reach);
        run_cli_at(d, now, &a)
    };
    let newest = ours[0].clone();
    let (code, out, _) = run(&[
        "run",
        "validate-backup",
        &format!("backup={newest}"),
        "--yes",
    ]);
    assert_eq!(code, 1, "the newest is corrupt: {out}");
    assert!(out.contains("not a valid gzip file"), "{out}");
    // …then the one before, which restores…
    let good = ours[1].clone();
    let (code, out, _) = run(&[
        "run",
        "validate-backup",
        &format!("backup={good}"),
        "check_tables=events",
        "--yes",
    ]);
    assert_eq!(code, 0, "{out}");
    // …and restores it.
    let (code, out, err) = run(&[
        "run",
        "restore-database",
        &format!("backup={good}"),
        "check_tables=events",
        "--yes",
        "--confirm",
        "filter_ical_staging",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    (good, verify_at(d, now))
}

#[test]
fn corrupt_latest_backup_drill_on_real_postgresql() {
    let pg = Pg::start();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Without a PostgreSQL the drill says what it needs.
    let (code, _, err) = run_cli(d, &["drill", "start", "corrupt-latest-backup"]);
    assert_eq!(code, 2);
    assert!(err.contains("--pg HOST:PORT"), "{err}");
    assert!(
        err.contains("apt install postgresql") && err.contains("opsdeck sandbox reset"),
        "how to get real databases: {err}"
    );
    let pgarg = format!("127.0.0.1:{}", pg.port);
    let out = ok(
        d,
        &["drill", "start", "corrupt-latest-backup", "--pg", &pgarg],
    );
    assert!(out.contains("lost its events table"), "{out}");
    let port = format!("pg_port={}", pg.port);
    // This test's own server has the `postgres` role; the host's pg_user is
    // its platform server's (platform_admin).
    let tcp = [
        "via=tcp",
        "pg_host=127.0.0.1",
        port.as_str(),
        "pg_user=postgres",
    ];
    let (good, v) = play_corrupt_latest_backup(&tcp, d, common::fixed_now());
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(v["backup_used"], good.as_str());
    let rpo = v["rpo_seconds"].as_i64().unwrap();
    assert!((22 * 3600 - 5..=22 * 3600 + 5).contains(&rpo), "RPO {rpo}");
    let md = ok(d, &["drill", "report"]);
    assert!(md.contains("**RPO**") && md.contains(&good), "{md}");
    assert!(
        md.contains("- [x] the database holds exactly the good backup's data"),
        "{md}"
    );
}

/// The drill's story holds whatever the hour: the sandbox's nightly 02:00
/// backups of the drilled database never stand between the drill's good
/// and corrupt ones (they are set aside while it runs and come back after).
#[test]
fn corrupt_latest_backup_drill_passes_at_every_hour() {
    let pg = Pg::start();
    let pgarg = format!("127.0.0.1:{}", pg.port);
    let port = format!("pg_port={}", pg.port);
    // This test's own server has the `postgres` role; the host's pg_user is
    // its platform server's (platform_admin).
    let tcp = [
        "via=tcp",
        "pg_host=127.0.0.1",
        port.as_str(),
        "pg_user=postgres",
    ];
    for hm in ["00:30", "02:30", "03:30", "12:00", "23:30"] {
        let now: DateTime<Utc> = format!("2026-11-22T{hm}:00Z").parse().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let before = host_backups(d, now);
        assert!(!before.is_empty(), "{hm}: the sandbox has nightly backups");
        let (code, out, err) = run_cli_at(
            d,
            now,
            &["drill", "start", "corrupt-latest-backup", "--pg", &pgarg],
        );
        assert_eq!(code, 0, "{hm}: {out}{err}");
        let during = host_backups(d, now);
        assert_eq!(
            during.len(),
            2,
            "{hm}: only the drill's own backups: {during:?}"
        );
        let (good, v) = play_corrupt_latest_backup(&tcp, d, now);
        assert_eq!(v["passed"], true, "{hm}: {v:#}");
        assert_eq!(v["backup_used"], good.as_str(), "{hm}");
        assert_eq!(v["rpo_seconds"], 22 * 3600, "{hm}");
        assert_eq!(
            v["started_at"], v["verified_at"],
            "{hm}: the clock is pinned"
        );
        let after = host_backups(d, now);
        assert_eq!(after.len(), before.len() + 2, "{hm}: put back: {after:?}");
        assert!(before.iter().all(|b| after.contains(b)), "{hm}: {after:?}");
    }
}

/// Stopping a database drill without verifying it still brings the
/// sandbox's backups back, and leaves no drill running.
#[test]
fn stopping_a_database_drill_puts_the_sandbox_backups_back() {
    let pg = Pg::start();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let now = common::fixed_now();
    let before = host_backups(d, now);
    let pgarg = format!("127.0.0.1:{}", pg.port);
    ok(d, &["drill", "start", "lost-database", "--pg", &pgarg]);
    assert!(host_backups(d, now).is_empty(), "the host lost them all");
    let out = ok(d, &["drill", "stop"]);
    assert!(out.contains("stopped without a report"), "{out}");
    assert_eq!(host_backups(d, now), before);
    assert!(ok(d, &["drill", "status"]).contains("no drill is running"));
    let (code, _, err) = run_cli(d, &["drill", "stop"]);
    assert_eq!(code, 2);
    assert!(err.contains("no drill is running"), "{err}");
}

#[test]
fn lost_database_drill_restores_from_s3() {
    let pg = Pg::start();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pgarg = format!("127.0.0.1:{}", pg.port);
    let out = ok(d, &["drill", "start", "lost-database", "--pg", &pgarg]);
    assert!(out.contains("s3://cohuron-backups/postgres/"), "{out}");
    assert_eq!(
        pg.q(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'filter_ical_staging'"
        ),
        "0"
    );
    // The host has no backup of it any more; S3 does.
    let list = ok(d, &["ls", "backups", "--json"]);
    let backups: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let mine: Vec<&serde_json::Value> = backups
        .iter()
        .filter(|b| b["database"] == "filter_ical_staging")
        .collect();
    assert!(mine.iter().all(|b| b["location"] == "s3"), "{list}");
    let newest = mine
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .max()
        .unwrap()
        .to_string();
    let url = format!("s3://cohuron-backups/{newest}");
    let port = format!("pg_port={}", pg.port);
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "restore-database",
            &format!("backup={url}"),
            "via=tcp",
            "pg_host=127.0.0.1",
            &port,
            // This test's own server has the `postgres` role.
            "pg_user=postgres",
            "--yes",
            "--confirm",
            "filter_ical_staging",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("download: {url}")),
        "fetched to the host first: {out}"
    );
    let v = verify(d);
    assert_eq!(v["passed"], true, "{v:#}");
    let rpo = v["rpo_seconds"].as_i64().unwrap();
    assert!((3 * 3600 - 5..=3 * 3600 + 5).contains(&rpo), "RPO {rpo}");
    assert_eq!(
        pg.q("filter_ical_staging", "SELECT count(*) FROM events"),
        "5000"
    );
}

/// With the PostgreSQL server installed, the sandbox's own databases are
/// real: both database drills start with no flags and are played with the
/// runbooks as configured (via=docker into postgres-platform), and the
/// data checks of verify reach the same server.
#[test]
fn database_drills_run_on_the_sandboxs_own_postgresql() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let _db = common::real_db_sandbox(d);
    let out = ok(d, &["drill", "start", "corrupt-latest-backup"]);
    assert!(out.contains("postgres-platform container"), "{out}");
    let (good, v) = play_corrupt_latest_backup(&[], d, common::fixed_now());
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(v["backup_used"], good.as_str());

    // The server may have been stopped in between: verify starts it again.
    ok(d, &["sandbox", "stop"]);
    let out = ok(d, &["drill", "start", "lost-database"]);
    assert!(out.contains("s3://cohuron-backups/postgres/"), "{out}");
    let list = ok(d, &["ls", "backups", "--json"]);
    let backups: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let newest = backups
        .iter()
        .filter(|b| b["database"] == "filter_ical_staging" && b["location"] == "s3")
        .map(|b| b["path"].as_str().unwrap())
        .max()
        .unwrap()
        .to_string();
    let url = format!("s3://cohuron-backups/{newest}");
    ok(
        d,
        &[
            "run",
            "restore-database",
            &format!("backup={url}"),
            "--yes",
            "--confirm",
            "filter_ical_staging",
        ],
    );
    ok(d, &["sandbox", "stop"]);
    let v = verify(d);
    assert_eq!(v["passed"], true, "{v:#}");
    assert!(
        v["checks"].as_array().unwrap().iter().any(|c| c["what"]
            == "the database holds exactly the backup's data"
            && c["passed"] == true),
        "{v:#}"
    );
}

/// The PMO host is lost with its volume: the operator recovers it with
/// `recover-instance`, no flags; verify checks the new instance, its
/// Elastic IP, its health endpoint and the database's data, and the report
/// sets RTO and RPO against the PMO document's 4 h / 24 h.
#[test]
fn instance_lost_drill_recovers_the_pmo_host_on_a_new_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let _db = common::real_db_sandbox(d);
    let out = ok(d, &["drill", "start", "instance-lost"]);
    assert!(
        out.contains("cohuron-pmo-api (i-07f64b1f8de8f6b26, us-east-1) failed its status checks"),
        "{out}"
    );
    // The old host refuses runs; nothing is recovered yet.
    let (code, _, err) = run_cli(d, &["run", "api-health", "instance=cohuron-pmo-api"]);
    assert_eq!(code, 3, "{err}");
    let v = verify(d);
    assert_eq!(v["passed"], false, "{v:#}");
    // Half an hour later the operator runs the recovery.
    let later = common::fixed_now() + chrono::Duration::minutes(30);
    let (code, out, err) = run_cli_at(
        d,
        later,
        &[
            "run",
            "recover-instance",
            "instance=cohuron-pmo-api",
            "--yes",
            "--confirm",
            "cohuron-pmo-api",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v = verify_at(d, later + chrono::Duration::minutes(2));
    assert_eq!(v["passed"], true, "{v:#}");
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "a new instance runs in place of the lost one, its SSM agent online",
            "recover-instance ran to its end",
            "the Elastic IP is on the new instance (no DNS change)",
            "its health endpoint answers 200",
            "the database holds the newest S3 backup's data",
        ]
    );
    assert_eq!(v["rto_seconds"], 32 * 60);
    // The newest S3 copy is the document's db/latest.sql.gz, written at
    // 02:04 the day before the 10:00 fault.
    assert_eq!(v["rpo_seconds"], 31 * 3600 + 56 * 60);
    assert_eq!(v["backup_used"], "s3://cohuron-backups/db/latest.sql.gz");
    let md = ok(d, &["drill", "report"]);
    assert!(
        md.contains(
            "- **RTO** (alarm → verified recovery): 32m 00s — within the PMO document's 4h 00m"
        ),
        "{md}"
    );
    assert!(
        md.contains("31h 56m — EXCEEDS the PMO document's 24h 00m by 7h 56m"),
        "{md}"
    );
}
