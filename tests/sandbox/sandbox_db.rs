//! The sandbox's real PostgreSQL (when the server binaries are installed,
//! as `bash .ci/test` makes sure): seeded from the seeds' schemas, a week
//! of real pg_dump backups with the truncated one, reached by the simulated
//! `docker exec postgres-platform psql|pg_dump`, started on demand and
//! stopped by `opsdeck sandbox stop`.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::run_cli;
use std::path::Path;

const MT: &str = "i-0a4f1c2e9b7d30001";

fn ok(d: &Path, args: &[&str]) -> String {
    let (code, out, err) = run_cli(d, args);
    assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
    out
}

/// psql inside the multi-tenant host's postgres-platform container.
fn container_psql(sandbox: &Path, db: &str, sql: &str) -> (i32, String, String) {
    common::pg::docker_psql(sandbox, MT, "postgres-platform", db, sql)
}

fn q(sandbox: &Path, db: &str, sql: &str) -> String {
    let (code, out, err) = container_psql(sandbox, db, sql);
    assert_eq!(code, 0, "{sql}: {err}");
    out
}

/// Every table's row count and an md5 of its rows, in one line.
fn fingerprint(sandbox: &Path, db: &str) -> String {
    let tables = q(
        sandbox,
        db,
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    tables
        .split(',')
        .map(|t| {
            q(
                sandbox,
                db,
                &format!("SELECT '{t}:' || count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x"),
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The host's backup files of `db`, oldest first.
fn backups_of(d: &Path, db: &str) -> Vec<(String, String)> {
    let list = ok(d, &["ls", "backups", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let mut mine: Vec<(String, String)> = all
        .iter()
        .filter(|b| b["database"] == db && b["location"] == "host")
        .map(|b| {
            let path = b["path"].as_str().unwrap();
            (
                path.rsplit('/').next().unwrap().to_string(),
                path.to_string(),
            )
        })
        .collect();
    mine.sort();
    mine
}

#[test]
fn the_sandbox_databases_are_real_postgresql_with_real_backups() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = common::real_db_sandbox(d);
    let sb = db.sandbox();

    // Seeded from the seeds' schemas, over 100k rows in the tenant databases.
    let mut total = 0;
    for (name, tables) in [
        ("filter_ical_production", "calendars events feeds"),
        ("filter_ical_staging", "calendars events feeds"),
        (
            "gabs_massage_production",
            "bookings clients payments therapists",
        ),
        (
            "gabs_massage_staging",
            "bookings clients payments therapists",
        ),
    ] {
        let have = q(
            &sb,
            name,
            "SELECT string_agg(table_name, ' ' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'",
        );
        assert_eq!(have, tables, "{name}");
        for t in tables.split(' ') {
            total += q(&sb, name, &format!("SELECT count(*) FROM {t}"))
                .parse::<u64>()
                .unwrap();
        }
    }
    assert!(total >= 100_000, "{total} rows");

    // The week of host backups are real dumps; the truncated one stays so.
    let files = backups_of(d, "filter_ical_production");
    assert_eq!(files.len(), 7, "{files:?}");
    let newest = &files[6].0;
    let truncated = &files[5].0;
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "validate-backup",
            &format!("backup={newest}"),
            "check_tables=events,calendars",
            "--yes",
            "--confirm",
            "filter_ical_production",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rows.public.events=60000"), "{out}");
    assert!(out.contains("check=passed"), "{out}");
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "validate-backup",
            &format!("backup={truncated}"),
            "--yes",
            "--confirm",
            "filter_ical_production",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("check=corrupt gzip"), "{out}");

    // PMO's server is real too: its S3 copies are real dumps, validated in
    // its own container as the application's role.
    let list = ok(d, &["ls", "backups", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let s3_app = all
        .iter()
        .filter(|b| b["database"] == "app" && b["location"] == "s3")
        .map(|b| b["path"].as_str().unwrap())
        .max()
        .unwrap()
        .to_string();
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "validate-backup",
            &format!("backup=s3://cohuron-backups/{s3_app}"),
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rows.public.tasks=20000"), "{out}");

    // A restore round trip: lose rows, restore the newest, every table's
    // rows and checksums are back.
    let before = fingerprint(&sb, "filter_ical_production");
    q(
        &sb,
        "filter_ical_production",
        "DELETE FROM events WHERE id % 7 = 0; UPDATE calendars SET name = 'x'",
    );
    assert_ne!(fingerprint(&sb, "filter_ical_production"), before);
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "restore-database",
            &format!("backup={newest}"),
            "check_tables=events",
            "--yes",
            "--confirm",
            "filter_ical_production",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fingerprint(&sb, "filter_ical_production"), before);

    // Stopped by `sandbox stop`, started again on demand.
    assert!(ok(d, &["sandbox", "stop"]).contains("stopped PostgreSQL: platform, pmo"));
    assert!(ok(d, &["sandbox", "stop"]).contains("no sandbox database server is running"));
    // Its data gone too (a data dir in the temp dir does at a reboot): the
    // same seed comes back.
    let cluster: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sb.join("pg/platform/cluster.json")).unwrap(),
    )
    .unwrap();
    std::fs::remove_dir_all(cluster["data"].as_str().unwrap()).unwrap();
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "query",
            "tenant=gabs-massage-staging",
            "sql=SELECT count(*) AS n FROM bookings",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3000"), "{out}");
}

/// A sandbox built without real databases says how to get them, and its
/// `docker exec … psql -c` refuses with the same advice.
#[test]
fn a_simulated_sandbox_says_how_to_get_real_databases() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["ls", "backups", "--json"]);
    let sb = d.join("data/opsdeck/sandbox");
    assert!(!sb.join("pg").exists());
    let (code, _, err) = container_psql(&sb, "filter_ical_production", "SELECT 1");
    assert_eq!(code, 2);
    assert!(
        err.contains("apt install postgresql") && err.contains("opsdeck sandbox reset"),
        "{err}"
    );
    assert!(ok(d, &["sandbox", "stop"]).contains("no sandbox database server is running"));
}

/// A sandbox deleted by hand leaves no server behind: its watcher stops
/// the servers and removes a data dir it made outside the sandbox.
#[test]
fn a_deleted_sandbox_leaves_no_server_running() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = common::real_db_sandbox(d);
    let sb = db.sandbox();
    let mut servers = Vec::new();
    for name in ["platform", "pmo"] {
        let cluster: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(sb.join("pg").join(name).join("cluster.json")).unwrap(),
        )
        .unwrap();
        let data = std::path::PathBuf::from(cluster["data"].as_str().unwrap());
        let pid: u32 = std::fs::read_to_string(data.join("postmaster.pid"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        servers.push((pid, data));
    }
    std::fs::remove_dir_all(&sb).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while servers
        .iter()
        .any(|(pid, data)| Path::new(&format!("/proc/{pid}")).exists() || data.exists())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "still there a minute after the sandbox was deleted: {servers:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The platform's PostgreSQL as the multi-tenant document creates it
/// (`POSTGRES_USER: platform_admin`): there is no `postgres` role, and
/// `query` reaches a tenant's database as the host's `pg_user` says.
#[test]
fn the_platform_server_has_platform_admin_and_no_postgres_role() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let _db = common::real_db_sandbox(d);
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "query",
            "tenant=filter-ical-staging",
            "sql=SELECT current_user, count(*) FROM events",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("platform_admin"), "{out}");
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "query",
            "tenant=filter-ical-staging",
            "sql=SELECT 1",
            "pg_user=postgres",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        format!("{out}{err}").contains("role \"postgres\" does not exist"),
        "{out}{err}"
    );
}
