//! The instance-lost drill: the PMO host fails its status checks and
//! stops for good, its volume (and the PostgreSQL data on it) lost. The
//! operator recovers it with `recover-instance`; verify checks the new
//! instance, its Elastic IP, its health endpoint and that the database
//! holds the newest S3 backup's data, and the report sets RTO and RPO
//! against the PMO document's 4 h / 24 h.

use super::pg::PgTarget;
use super::{Active, Check, check};
use crate::provider::sandbox::{Sandbox, estate, s3_content};
use crate::store::journal::Entry;
use chrono::{DateTime, NaiveDateTime, Utc};
use std::collections::BTreeMap;
use std::process::Command;

const LOST: &str = estate::PMO_HOST;
const DB: &str = "app";
const BUCKET: &str = "cohuron-backups";
const EIP: &str = "100.28.36.248";
/// The PMO document's objectives.
pub(super) const RTO_HOURS: i64 = 4;
pub(super) const RPO_HOURS: i64 = 24;

/// When a backup `…/{db}_YYYYmmdd_HHMMSS.sql.gz` was taken.
fn stamped_at(key: &str) -> Option<DateTime<Utc>> {
    let name = key.rsplit('/').next()?;
    let ts = name.strip_prefix(DB)?.strip_prefix('_')?.get(..15)?;
    NaiveDateTime::parse_from_str(ts, "%Y%m%d_%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

/// When the backup at `key` in the backup bucket was taken: its name's
/// time, or (the PMO document's `db/latest.sql.gz`) when its current
/// version was written.
fn taken_at(e: &estate::Estate, key: &str) -> Option<DateTime<Utc>> {
    stamped_at(key).or_else(|| {
        (key == estate::PMO_LATEST)
            .then(|| {
                e.buckets
                    .iter()
                    .find(|b| b.name == BUCKET)?
                    .objects
                    .iter()
                    .find(|o| o.key == key)?
                    .versions
                    .last()
                    .filter(|v| !v.delete_marker)
                    .map(|v| v.last_modified)
            })
            .flatten()
    })
}

/// The newest backup of the PMO database in S3 (with content): its key.
fn newest_s3_backup(sandbox: &Sandbox) -> Result<String, super::DrillError> {
    let e = sandbox.estate().map_err(|e| e.to_string())?;
    let b = e
        .buckets
        .iter()
        .find(|b| b.name == BUCKET)
        .ok_or("the sandbox has no cohuron-backups bucket")?;
    b.objects
        .iter()
        .filter(|o| o.versions.last().is_some_and(|v| !v.delete_marker))
        .filter(|o| taken_at(&e, &o.key).is_some())
        .filter(|o| s3_content(&sandbox.dir, BUCKET, &o.key).is_some_and(|p| p.exists()))
        .map(|o| o.key.clone())
        .max_by_key(|k| taken_at(&e, k))
        .ok_or_else(|| format!("no backup of {DB} in s3://{BUCKET}"))
        .map_err(Into::into)
}

/// The fingerprint of a backup's data: restored into a scratch database.
fn fingerprint_of_backup(
    pg: &PgTarget,
    file: &std::path::Path,
) -> Result<String, super::DrillError> {
    let scratch = "opsdeck_drill_expected";
    pg.psql("postgres", &format!("DROP DATABASE IF EXISTS {scratch}"))?;
    pg.psql("postgres", &format!("CREATE DATABASE {scratch}"))?;
    let st = Command::new("bash")
        .args([
            "-c",
            "set -o pipefail; gunzip -c \"$4\" | psql -X -q -v ON_ERROR_STOP=1 -h \"$1\" -p \"$2\" -U \"$5\" -d \"$3\" >/dev/null",
            "restore",
            &pg.host,
            &pg.port.to_string(),
            scratch,
            &file.display().to_string(),
            &pg.user,
        ])
        .status()
        .map_err(|e| e.to_string())?;
    let fp = if st.success() {
        pg.fingerprint(scratch)
    } else {
        Err(format!("{} does not restore", file.display()).into())
    };
    pg.psql("postgres", &format!("DROP DATABASE IF EXISTS {scratch}"))?;
    fp
}

/// Inject the fault; the alarm.
pub(super) fn start(
    sandbox: &Sandbox,
    facts: &mut BTreeMap<String, String>,
) -> Result<String, super::DrillError> {
    if !sandbox.real_databases() {
        return Err(format!(
            "this drill recovers the PMO host's real database and this sandbox's are simulated: install the PostgreSQL server ({}) and run `opsdeck sandbox reset`",
            crate::provider::sandbox::pg_real::INSTALL_HINT
        ).into());
    }
    let mut e = sandbox.estate().map_err(|e| e.to_string())?;
    if !e.images.iter().any(|m| {
        m.image.source_instance.as_deref() == Some(LOST)
            && m.image.state == crate::provider::machines::ImageState::Available
    }) {
        return Err(format!(
            "{LOST} has no image to recover from: run snapshot-instance on it first"
        )
        .into());
    }
    let pg = PgTarget::sandbox(&sandbox.dir, "pmo")?;
    let key = newest_s3_backup(sandbox)?;
    let file = s3_content(&sandbox.dir, BUCKET, &key).ok_or("bad backup key")?;
    let expected = fingerprint_of_backup(&pg, &file)?;
    let at = taken_at(&e, &key).ok_or("bad backup name")?;
    // The volume is gone, and the database on it.
    pg.psql(
        "postgres",
        &format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"),
    )?;
    let before: Vec<String> = e.instances.iter().map(|i| i.id.clone()).collect();
    let i = e
        .instances
        .iter_mut()
        .find(|i| i.id == LOST)
        .ok_or("the sandbox has no PMO host")?;
    i.state = crate::domain::InstanceState::Stopped;
    i.ssm_ping = crate::domain::SsmPing::ConnectionLost;
    sandbox.save_estate(&e).map_err(|e| e.to_string())?;
    facts.insert("lost".into(), LOST.into());
    facts.insert("instances_before".into(), before.join(","));
    facts.insert("good_backup".into(), format!("s3://{BUCKET}/{key}"));
    facts.insert("good_backup_at".into(), at.to_rfc3339());
    facts.insert("good_fingerprint".into(), expected);
    facts.insert("pg".into(), pg.fact());
    Ok(format!(
        "cohuron-pmo-api ({LOST}, us-east-1) failed its status checks and stopped; it does not come back: its volume is lost, and the PostgreSQL data on it. The API at {EIP} answers nothing. Bring it back on a new instance — the PMO document's EC2 recovery: image → instance → Elastic IP → code → database → DNS (recover-instance). Objectives: RTO {RTO_HOURS} h, RPO {RPO_HOURS} h."
    ))
}

/// What verify found: the checks, and the backup the recovery used with
/// its age at the time of the fault.
pub(super) fn verify(
    sandbox: &Sandbox,
    a: &Active,
    steps: &[Entry],
    checks: &mut Vec<Check>,
) -> Result<(Option<String>, Option<i64>), super::DrillError> {
    let fact = |k: &str| a.facts.get(k).cloned().unwrap_or_default();
    let before = fact("instances_before");
    let e = sandbox.estate().map_err(|e| e.to_string())?;
    let recovered = e.instances.iter().find(|i| {
        !before.split(',').any(|b| b == i.id)
            && i.tags.get("Project").map(String::as_str) == Some("cohuron-pmo")
    });
    let up = recovered.is_some_and(|i| i.unreachable_reason().is_none());
    check(
        checks,
        "a new instance runs in place of the lost one, its SSM agent online",
        up,
        recovered
            .map(|i| {
                format!(
                    "{} ({}): {}, SSM {}",
                    i.name,
                    i.id,
                    i.state,
                    i.ssm_ping.label()
                )
            })
            .unwrap_or("no new PMO instance".into()),
    );
    let run = steps
        .iter()
        .find(|s| s.start.runbook == "recover-instance" && s.status() == "succeeded");
    check(
        checks,
        "recover-instance ran to its end",
        run.is_some(),
        run.map(|r| r.start.run.clone())
            .unwrap_or("no successful recover-instance since the alarm".into()),
    );
    let Some(new) = recovered else {
        return Ok((None, None));
    };
    let eip = e
        .addresses
        .iter()
        .find(|x| x.address.public_ip == EIP)
        .and_then(|x| x.address.instance.clone());
    check(
        checks,
        "the Elastic IP is on the new instance (no DNS change)",
        eip.as_deref() == Some(new.id.as_str()),
        format!("{EIP} → {}", eip.unwrap_or("nothing".into())),
    );
    let root = sandbox.host_root(&new.id);
    let out = Command::new(sandbox.dir.join("bin/curl"))
        .args(["-sS", "-f", "http://localhost:4000/api/health"])
        .env("OPSDECK_ROOT", &root)
        .env("OPSDECK_HOST", &new.id)
        .current_dir(&root)
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    check(
        checks,
        "its health endpoint answers 200",
        out.status.success(),
        format!(
            "GET http://localhost:4000/api/health: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    );
    let pg = PgTarget::from_fact(&sandbox.dir, &fact("pg"))?;
    let now_fp = pg.fingerprint(DB).unwrap_or_else(|e| e.to_string());
    let same = now_fp == fact("good_fingerprint");
    check(
        checks,
        "the database holds the newest S3 backup's data",
        same,
        if same {
            format!(
                "every table's rows and checksum match {}",
                fact("good_backup")
            )
        } else {
            format!(
                "the data differs from {} (now {now_fp})",
                fact("good_backup")
            )
        },
    );
    // The backup the recovery restored, as its run reported it.
    let used = run.and_then(|r| {
        let param = |k: &str| {
            r.start
                .params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let b = r.finish.as_ref()?.report.get("backup")?.clone();
        // The key as it reported it (with its prefix; older runs: the name).
        Some(if b.contains('/') {
            (format!("s3://{}/{b}", param("bucket")), b)
        } else {
            let key = format!("{}{b}", param("prefix"));
            (format!("s3://{}/{key}", param("bucket")), key)
        })
    });
    let e = sandbox.estate().map_err(|e| e.to_string())?;
    let rpo = used
        .as_ref()
        .and_then(|(_, key)| taken_at(&e, key))
        .map(|at| (a.started_at - at).num_seconds());
    let used = used.map(|(url, _)| url);
    Ok((used, rpo))
}
