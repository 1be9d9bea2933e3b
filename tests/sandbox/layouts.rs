//! Backups as the documents make them, not only as opsdeck names them:
//! PMO's manual `pg_dump … > backup.sql` (plain SQL in the app's directory)
//! and its daily `s3://cohuron-backups/db/latest.sql.gz` (one key, kept by
//! the bucket's versions) are listed, restored and validated; a file no
//! layout explains is listed with the reason and refused, never dropped.

use crate::common;

use common::run_cli;
use opsdeck::provider::sandbox::estate::PMO_HOST;
use std::path::Path;

fn backups(d: &Path) -> Vec<serde_json::Value> {
    let (code, out, err) = run_cli(d, &["ls", "backups", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn pmo_q(sandbox: &Path, sql: &str) -> String {
    let (code, out, err) = common::pg::docker_psql(sandbox, PMO_HOST, "pmo-postgres", "app", sql);
    assert_eq!(code, 0, "{sql}: {err}");
    out.trim().to_string()
}

#[test]
fn the_pmo_documents_backups_are_listed_restored_and_validated() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = common::real_db_sandbox(d);
    let sb = db.sandbox();

    let all = backups(d);
    let manual = all
        .iter()
        .find(|b| b["path"] == "/app/backup.sql")
        .expect("the document's manual backup is listed");
    assert_eq!(manual["database"], "app");
    assert_eq!(manual["format"], "sql");
    assert_eq!(manual["location"], "host");
    let latest: Vec<&serde_json::Value> = all
        .iter()
        .filter(|b| b["path"] == "db/latest.sql.gz")
        .collect();
    assert_eq!(latest.len(), 7, "a week of versions of db/latest.sql.gz");
    assert!(
        latest
            .iter()
            .all(|b| b["database"] == "app" && b["format"] == "sql_gz")
    );
    let older: Vec<&str> = latest
        .iter()
        .filter_map(|b| b["version_id"].as_str())
        .collect();
    assert_eq!(older.len(), 6, "the current version is the key itself");

    // Tasks are lost; the plain SQL dump brings them back.
    let tasks = pmo_q(&sb, "SELECT count(*) FROM tasks");
    assert_ne!(tasks, "0");
    pmo_q(&sb, "DELETE FROM tasks");
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "restore-database",
            "backup=/app/backup.sql",
            "--yes",
            "--confirm",
            "app",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("backup.sql: a sql backup of app"), "{out}");
    assert!(out.contains("bytes of plain SQL"), "{out}");
    assert_eq!(pmo_q(&sb, "SELECT count(*) FROM tasks"), tasks);

    // An older day of the latest key restores into a scratch database.
    let url = format!(
        "backup=s3://cohuron-backups/db/latest.sql.gz?versionId={}",
        older[2]
    );
    let (code, out, err) = run_cli(d, &["run", "validate-backup", &url, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("gzip intact"), "{out}");
    assert!(
        out.contains("==> opsdeck report: check=passed") || out.contains("passed"),
        "{out}"
    );

    // A version the bucket does not have is named, nothing restored.
    let (code, _, err) = run_cli(
        d,
        &[
            "run",
            "validate-backup",
            "backup=s3://cohuron-backups/db/latest.sql.gz?versionId=nope",
            "--yes",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("no backup"), "{err}");
}

#[test]
fn files_no_layout_explains_are_listed_with_the_reason_and_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The sandbox is made by the first command.
    backups(d);
    let host = d
        .join("data/opsdeck/sandbox/hosts")
        .join(PMO_HOST)
        .join("opt/backups/postgres");
    std::fs::write(host.join("notes.gz"), b"not a backup").unwrap();
    std::fs::write(
        host.join("app_20261201_020000.dump"),
        b"PGDMP custom format",
    )
    .unwrap();
    // Not a backup extension at all: not listed (a backup directory may hold a README).
    std::fs::write(host.join("README"), b"backups of app").unwrap();

    let all = backups(d);
    let find = |file: &str| {
        all.iter()
            .find(|b| b["path"].as_str().is_some_and(|p| p.ends_with(file)))
            .unwrap_or_else(|| panic!("{file} is listed"))
    };
    let notes = find("/notes.gz");
    assert_eq!(notes["database"], "");
    assert!(
        notes["unrecognised"]
            .as_str()
            .unwrap()
            .contains("no database and time"),
        "{notes}"
    );
    let dump = find("/app_20261201_020000.dump");
    assert!(
        dump["unrecognised"]
            .as_str()
            .unwrap()
            .contains("not a format opsdeck restores"),
        "{dump}"
    );
    assert!(
        !all.iter()
            .any(|b| b["path"].as_str().unwrap_or("").ends_with("README"))
    );

    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "restore-database",
            "backup=notes.gz",
            "--yes",
            "--confirm",
            "app",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("not a backup opsdeck can read"), "{err}");
    assert!(err.contains("backup_paths"), "the way out is named: {err}");

    // The table says so too.
    let (_, table, _) = run_cli(d, &["ls", "backups"]);
    let row = table.lines().find(|l| l.contains("notes.gz")).unwrap();
    assert!(row.starts_with('?'), "{row}");
    assert!(row.contains("unrecognised:"), "{row}");
}
