//! The database drills' faults: the drill's own database and backups
//! (the sandbox's backups of it set aside while it runs), then a corrupt
//! newest backup, or a lost database with only S3's copy left.

use super::DRILL_DB;
use super::pg::PgTarget;
use crate::provider::sandbox::{Sandbox, estate};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a database drill keeps the sandbox's own backups of the drilled
/// database while it runs (on the host, outside the backup directory).
fn aside_dir(mt: &Path) -> PathBuf {
    mt.join("var/lib/opsdeck/drill-aside")
}

fn backup_dir(mt: &Path) -> PathBuf {
    mt.join("opt/backups/postgres")
}

/// `{db}_YYYYmmdd_HHMMSS…`: a backup of exactly `db` (not of `{db}_other`).
fn is_backup_of(file: &str, db: &str) -> bool {
    let Some(rest) = file.strip_prefix(db).and_then(|r| r.strip_prefix('_')) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() > 15
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'_'
        && b[9..15].iter().all(u8::is_ascii_digit)
}

/// Move the host's backups of `db` aside; how many.
pub(super) fn set_aside(mt: &Path, db: &str) -> Result<usize, super::DrillError> {
    let (dir, aside) = (backup_dir(mt), aside_dir(mt));
    let mut n = 0;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    std::fs::create_dir_all(&aside).map_err(|e| format!("{}: {e}", aside.display()))?;
    for e in entries.flatten() {
        let name = e.file_name();
        if is_backup_of(&name.to_string_lossy(), db) {
            std::fs::rename(e.path(), aside.join(&name))
                .map_err(|e| format!("setting {} aside: {e}", name.to_string_lossy()))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Bring back what a database drill set aside (the sandbox's own files win
/// over a drill file of the same name); how many.
pub(super) fn put_back(mt: &Path) -> Result<usize, super::DrillError> {
    let (dir, aside) = (backup_dir(mt), aside_dir(mt));
    let Ok(entries) = std::fs::read_dir(&aside) else {
        return Ok(0);
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut n = 0;
    for e in entries.flatten() {
        std::fs::rename(e.path(), dir.join(e.file_name()))
            .map_err(|err| format!("putting {} back: {err}", e.file_name().to_string_lossy()))?;
        n += 1;
    }
    let _ = std::fs::remove_dir(&aside);
    Ok(n)
}

/// The drill's database, created afresh with a little data; its fingerprint.
fn seed_drill_db(pg: &PgTarget) -> Result<String, super::DrillError> {
    let db = DRILL_DB;
    pg.psql("postgres", &format!("DROP DATABASE IF EXISTS {db}"))?;
    pg.psql("postgres", &format!("CREATE DATABASE {db}"))?;
    pg.psql(
        db,
        "CREATE TABLE calendars (id serial PRIMARY KEY, owner text NOT NULL);
         CREATE TABLE events (id serial PRIMARY KEY, calendar_id int NOT NULL REFERENCES calendars(id), title text, starts_at timestamptz);
         INSERT INTO calendars (owner) SELECT 'owner ' || g FROM generate_series(1, 200) g;
         INSERT INTO events (calendar_id, title, starts_at) SELECT 1 + g % 200, 'event ' || g, now() - (g || ' minutes')::interval FROM generate_series(1, 5000) g;",
    )?;
    pg.fingerprint(db)
}

/// pg_dump | gzip of the drill's database into `path`.
fn dump_to(pg: &PgTarget, path: &Path) -> Result<(), super::DrillError> {
    let st = Command::new("bash")
        .args([
            "-c",
            "set -o pipefail; pg_dump -h \"$1\" -p \"$2\" -U \"$5\" -d \"$3\" --no-owner --no-privileges | gzip -c > \"$4\"",
            "dump",
            &pg.host,
            &pg.port.to_string(),
            DRILL_DB,
            &path.display().to_string(),
            &pg.user,
        ])
        .status()
        .map_err(|e| e.to_string())?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("pg_dump into {} failed", path.display()).into())
    }
}

/// A backup taken 3 h ago went to S3; since then the host's backup volume
/// and the database itself are gone.
pub(super) fn lost_database(
    sandbox: &Sandbox,
    mt: &Path,
    pg: &PgTarget,
    now: DateTime<Utc>,
    facts: &mut BTreeMap<String, String>,
) -> Result<String, super::DrillError> {
    let db = DRILL_DB;
    let good = seed_drill_db(pg)?;
    let at = now - Duration::hours(3);
    let name = format!("{db}_{}.sql.gz", at.format("%Y%m%d_%H%M%S"));
    let dir = backup_dir(mt);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let local = dir.join(&name);
    dump_to(pg, &local)?;
    // The off-instance copy (what sync-backups does every night).
    let bucket = "cohuron-backups";
    let key = format!("postgres/{name}");
    crate::provider::sandbox::s3_store(&sandbox.dir, bucket, &key, &local)
        .map_err(|e| e.to_string())?;
    let size = std::fs::metadata(&local).map(|m| m.len()).unwrap_or(0);
    let mut estate = sandbox.estate().map_err(|e| e.to_string())?;
    let b = estate
        .buckets
        .iter_mut()
        .find(|b| b.name == bucket)
        .ok_or("the sandbox has no cohuron-backups bucket")?;
    b.objects.retain(|o| o.key != key);
    b.objects.push(estate::SimObject {
        key: key.clone(),
        versions: vec![estate::SimVersion {
            version_id: estate::version_id_for(&key),
            size,
            last_modified: at,
            delete_marker: false,
            storage_class: "STANDARD".into(),
        }],
    });
    b.objects.sort_by(|x, y| x.key.cmp(&y.key));
    sandbox.save_estate(&estate).map_err(|e| e.to_string())?;
    // The fault: the host's backups (the sandbox's own are set aside) and
    // the database are gone.
    std::fs::remove_file(&local).map_err(|e| format!("{}: {e}", local.display()))?;
    pg.psql("postgres", &format!("DROP DATABASE {db}"))?;
    facts.insert("database".into(), db.into());
    facts.insert("pg".into(), pg.fact());
    facts.insert("good_backup".into(), name.clone());
    facts.insert("good_backup_at".into(), at.to_rfc3339());
    facts.insert("good_fingerprint".into(), good);
    Ok(format!(
        "{db} is gone, and the host's /opt/backups went with the old volume. The nightly off-instance copies are in s3://{bucket}/postgres/: restore from there. ({})",
        pg.reach()
    ))
}

/// Yesterday's good backup (state A), today's backup of newer data that
/// arrives truncated, then the live database loses a table.
pub(super) fn corrupt_latest_backup(
    mt: &Path,
    pg: &PgTarget,
    now: DateTime<Utc>,
    facts: &mut BTreeMap<String, String>,
) -> Result<String, super::DrillError> {
    let db = DRILL_DB;
    let good = seed_drill_db(pg)?;
    let dir = backup_dir(mt);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let dump = |name: &str| dump_to(pg, &dir.join(name));
    let prev_at = now - Duration::hours(22);
    let prev = format!("{db}_{}.sql.gz", prev_at.format("%Y%m%d_%H%M%S"));
    dump(&prev)?;
    pg.psql(db, "INSERT INTO events (calendar_id, title, starts_at) SELECT 1, 'late ' || g, now() FROM generate_series(1, 300) g")?;
    let latest = format!(
        "{db}_{}.sql.gz",
        (now - Duration::hours(1)).format("%Y%m%d_%H%M%S")
    );
    dump(&latest)?;
    let path = dir.join(&latest);
    let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
    std::fs::write(&path, &bytes[..bytes.len() / 2]).map_err(|e| e.to_string())?;
    // The fault: the events table is gone.
    pg.psql(db, "DROP TABLE events")?;
    facts.insert("database".into(), db.into());
    facts.insert("pg".into(), pg.fact());
    facts.insert("good_backup".into(), prev.clone());
    facts.insert("good_backup_at".into(), prev_at.to_rfc3339());
    facts.insert("corrupt_backup".into(), latest.clone());
    facts.insert("good_fingerprint".into(), good);
    Ok(format!(
        "{db} lost its events table and the nightly check says its newest backup {latest} does not restore. Find a backup that does and restore it. ({})",
        pg.reach()
    ))
}
