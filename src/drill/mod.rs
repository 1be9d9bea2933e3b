//! Drills: rehearsed incidents on the sandbox. `start` injects a fault and
//! raises the alarm (the timer starts); the operator works with the usual
//! runbooks; `verify` checks the recovery, stops the timer and writes a
//! report to the journal: the runs taken, the recovery time (RTO), the age
//! of the backup used (RPO), each check and pass/fail. Reports export as
//! Markdown. No UI here; the console and `opsdeck drill` share it.

pub mod database;
mod instance;
pub mod pg;
pub mod report;

pub use pg::PgTarget;
pub use report::{Check, Objectives, Report, Step, markdown};

use crate::provider::sandbox::{Sandbox, docker_sim, estate};
use crate::store::journal::{Entry, Journal};
use chrono::{DateTime, Utc};
use database::{corrupt_latest_backup, lost_database, put_back, set_aside};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

message_error!(
    /// Why a drill cannot start, stop or be verified, as the operator reads it.
    DrillError; from crate::provider::sandbox::pg_real::PgError
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// A release whose migration fails: the deploy must roll back by itself.
    FailedMigration,
    /// A production container restarting in a loop.
    CrashLoop,
    /// The database is damaged and its newest backup is corrupt (a real PostgreSQL: the sandbox's own, or --pg).
    CorruptLatestBackup,
    /// The database and the host's backups are gone; S3 has a copy (a real PostgreSQL: the sandbox's own, or --pg).
    LostDatabase,
    /// The PMO host is gone with its volume: recover it on a new instance from its image (the sandbox's real PostgreSQL).
    InstanceLost,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::FailedMigration,
        Scenario::CrashLoop,
        Scenario::CorruptLatestBackup,
        Scenario::LostDatabase,
        Scenario::InstanceLost,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Scenario::FailedMigration => "failed-migration",
            Scenario::CrashLoop => "crash-loop",
            Scenario::CorruptLatestBackup => "corrupt-latest-backup",
            Scenario::LostDatabase => "lost-database",
            Scenario::InstanceLost => "instance-lost",
        }
    }
    pub fn parse(s: &str) -> Option<Scenario> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }
    pub fn title(self) -> &'static str {
        match self {
            Scenario::FailedMigration => "failed migration on deploy",
            Scenario::CrashLoop => "crash-looping container",
            Scenario::CorruptLatestBackup => "damaged database, corrupt latest backup",
            Scenario::LostDatabase => "lost database, restore from S3",
            Scenario::InstanceLost => "lost EC2 instance, recover it from its image",
        }
    }
}

/// A drill in progress (one at a time, kept next to the journal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Active {
    pub id: String,
    pub scenario: String,
    pub started_at: DateTime<Utc>,
    pub alarm: String,
    /// What the verification needs to know (SHAs, fingerprints, files…).
    pub facts: BTreeMap<String, String>,
}

fn active_path(j: &Journal) -> PathBuf {
    j.root().join("drill-active.json")
}

pub fn active(j: &Journal) -> Option<Active> {
    let text = std::fs::read_to_string(active_path(j)).ok()?;
    serde_json::from_str(&text).ok()
}

const DRILL_DB: &str = "filter_ical_staging";

/// Inject the fault and raise the alarm. `pg` is needed by database drills.
pub fn start(
    sandbox: &Sandbox,
    j: &Journal,
    scenario: Scenario,
    pg: Option<&PgTarget>,
    now: DateTime<Utc>,
) -> Result<Active, DrillError> {
    if let Some(a) = active(j) {
        return Err(format!(
            "drill {} ({}) is still running: verify it first (opsdeck drill verify)",
            a.id, a.scenario
        )
        .into());
    }
    let mt = sandbox.host_root(estate::MT_HOST);
    let mut facts = BTreeMap::new();
    let alarm = match scenario {
        Scenario::FailedMigration => {
            let checkout = mt.join("opt/apps/gabs-massage");
            facts.insert("before".into(), estate::head(&checkout));
            let bad = sandbox
                .push_release(
                    "gabs-massage",
                    "migration: bookings.deposit",
                    &[
                        (
                            "migrations/0003_bookings_deposit.sql",
                            "ALTER TABLE bookings ADD COLUMN deposit numeric;\n",
                        ),
                        ("migrations/FAIL", ""),
                    ],
                )
                .map_err(|e| format!("cannot publish the release: {e}"))?;
            facts.insert("release".into(), bad.clone());
            format!(
                "Release {} of gabs-massage (\"migration: bookings.deposit\") is on main: deploy it to gabs-massage-staging, and make sure the tenant ends up healthy.",
                &bad[..12]
            )
        }
        Scenario::CrashLoop => {
            let name = "gabs-massage-backend-production";
            let mut st = docker_sim::load_state(&mt).map_err(|e| e.to_string())?;
            let c = st
                .containers
                .iter_mut()
                .find(|c| c.name == name)
                .ok_or("the sandbox has no gabs-massage-backend-production")?;
            c.state = "restarting".into();
            c.exit_code = 137;
            c.restarts += 6;
            facts.insert("container".into(), name.into());
            facts.insert("restarts_before".into(), c.restarts.to_string());
            docker_sim::save_state(&mt, &st).map_err(|e| e.to_string())?;
            format!(
                "{name} keeps restarting (6 restarts in the last 10 minutes, exit 137): find out why and bring it back."
            )
        }
        Scenario::InstanceLost => instance::start(sandbox, &mut facts)?,
        Scenario::CorruptLatestBackup | Scenario::LostDatabase => {
            let own;
            let pg = match pg {
                Some(pg) => pg,
                None if sandbox.real_databases() => {
                    own = PgTarget::sandbox(&sandbox.dir, "platform")?;
                    &own
                }
                None => {
                    return Err(format!(
                        "this drill restores a real database and this sandbox's are simulated: install the PostgreSQL server ({}) and run `opsdeck sandbox reset`, or give a PostgreSQL to use, --pg HOST:PORT (superuser postgres, trust or .pgpass)",
                        crate::provider::sandbox::pg_real::INSTALL_HINT
                    ).into());
                }
            };
            // The drilled database's backups are the drill's own while it
            // runs: the sandbox's nightly files of it step aside, whatever
            // the hour, and come back when the drill ends.
            let n = set_aside(&mt, DRILL_DB)?;
            facts.insert("set_aside".into(), n.to_string());
            let alarm = if scenario == Scenario::CorruptLatestBackup {
                corrupt_latest_backup(&mt, pg, now, &mut facts)
            } else {
                lost_database(sandbox, &mt, pg, now, &mut facts)
            };
            alarm.inspect_err(|_| {
                let _ = put_back(&mt);
            })?
        }
    };
    let a = Active {
        id: format!("drill-{}-{}", now.format("%Y%m%d-%H%M%S"), scenario.name()),
        scenario: scenario.name().into(),
        started_at: now,
        alarm,
        facts,
    };
    std::fs::create_dir_all(j.root()).map_err(|e| e.to_string())?;
    crate::store::journal::write_private(
        &active_path(j),
        serde_json::to_string_pretty(&a)
            .map_err(|e| e.to_string())?
            .as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    Ok(a)
}

/// End the running drill without verifying it: the sandbox's backups that
/// a database drill set aside come back; the fault itself stays (reset the
/// sandbox to undo it). Nothing is journaled: no recovery was verified.
pub fn stop(sandbox: &Sandbox, j: &Journal) -> Result<Active, DrillError> {
    let a = active(j).ok_or("no drill is running")?;
    put_back(&sandbox.host_root(estate::MT_HOST))?;
    std::fs::remove_file(active_path(j)).map_err(|e| e.to_string())?;
    Ok(a)
}

fn check(checks: &mut Vec<Check>, what: &str, passed: bool, detail: impl Into<String>) {
    checks.push(Check {
        what: what.into(),
        passed,
        detail: detail.into(),
    });
}

/// The runs since the alarm, oldest first.
fn steps_since(j: &Journal, since: DateTime<Utc>) -> Vec<Entry> {
    j.entries()
        .0
        .into_iter()
        .filter(|e| e.start.at >= since)
        .collect()
}

fn ran<'a>(
    steps: &'a [Entry],
    runbook: &str,
    target: &str,
    ok: impl Fn(&Entry) -> bool,
) -> Option<&'a Entry> {
    steps
        .iter()
        .find(|e| e.start.runbook == runbook && e.start.target == target && ok(e))
}

fn succeeded(e: &Entry) -> bool {
    e.status() == "succeeded"
}

/// Database drills: the live data must equal the good backup's, table by table.
/// `good` names the backup that holds that data as the Backups screen shows
/// it, for the operator who restored another one.
fn check_data(
    sandbox: &Sandbox,
    a: &Active,
    db: &str,
    what: &str,
    good: &str,
    checks: &mut Vec<Check>,
) -> Result<(), DrillError> {
    let Some(pgs) = a.facts.get("pg") else {
        return Ok(());
    };
    let pg = PgTarget::from_fact(&sandbox.dir, pgs)?;
    let now_fp = pg.fingerprint(db).unwrap_or_else(|e| e.to_string());
    let same = Some(&now_fp) == a.facts.get("good_fingerprint");
    check(
        checks,
        what,
        same,
        if same {
            "every table's rows and checksum match".to_string()
        } else {
            format!("the data differs from {good} (now {now_fp})")
        },
    );
    Ok(())
}

/// Age of the good backup at the time of the fault.
fn rpo_of_good_backup(a: &Active) -> Option<i64> {
    let at = DateTime::parse_from_rfc3339(a.facts.get("good_backup_at")?).ok()?;
    Some((a.started_at - at.with_timezone(&Utc)).num_seconds())
}

/// Check the recovery, stop the timer, write the report to the journal.
/// What a scenario's checks found: the backup the fix restored, and the
/// RPO it gave.
type Evidence = (Option<String>, Option<i64>);

pub fn verify(sandbox: &Sandbox, j: &Journal, now: DateTime<Utc>) -> Result<Report, DrillError> {
    let a = active(j).ok_or("no drill is running (opsdeck drill start SCENARIO)")?;
    let scenario = Scenario::parse(&a.scenario).ok_or("unknown scenario in the active drill")?;
    let steps = steps_since(j, a.started_at);
    let mut checks = Vec::new();
    let (backup_used, rpo) = match scenario {
        Scenario::FailedMigration => verify_failed_migration(sandbox, &a, &steps, &mut checks)?,
        Scenario::CrashLoop => verify_crash_loop(sandbox, &a, &steps, &mut checks)?,
        Scenario::LostDatabase => verify_lost_database(sandbox, &a, &steps, &mut checks)?,
        Scenario::InstanceLost => instance::verify(sandbox, &a, &steps, &mut checks)?,
        Scenario::CorruptLatestBackup => {
            verify_corrupt_latest_backup(sandbox, &a, &steps, &mut checks)?
        }
    };
    let passed = checks.iter().all(|c| c.passed);
    let report = Report {
        id: a.id.clone(),
        scenario: a.scenario.clone(),
        title: scenario.title().into(),
        alarm: a.alarm.clone(),
        started_at: a.started_at,
        verified_at: now,
        rto_seconds: (now - a.started_at).num_seconds(),
        rpo_seconds: rpo,
        backup_used,
        objectives: (scenario == Scenario::InstanceLost).then_some(Objectives {
            rto_seconds: instance::RTO_HOURS * 3600,
            rpo_seconds: instance::RPO_HOURS * 3600,
            source: "the PMO document".into(),
        }),
        passed,
        checks,
        steps: steps.iter().map(report_step).collect(),
    };
    // A failed verification keeps the drill open: fix, then verify again.
    if passed {
        let _ = std::fs::remove_file(active_path(j));
    }
    j.append(&crate::store::journal::Record::Drill(Box::new(
        report.clone(),
    )))
    .map_err(|e| format!("cannot write the journal: {e}"))?;
    if passed {
        // The drill is over: the sandbox's own backups come back.
        put_back(&sandbox.host_root(estate::MT_HOST))?;
    }
    Ok(report)
}

/// The release was deployed, rolled back by itself, and checked.
fn verify_failed_migration(
    sandbox: &Sandbox,
    a: &Active,
    steps: &[Entry],
    checks: &mut Vec<Check>,
) -> Result<Evidence, DrillError> {
    let fact = |k: &str| a.facts.get(k).cloned().unwrap_or_default();
    let mt = sandbox.host_root(estate::MT_HOST);
    let project = "gabs-massage-staging";
    let deploy = ran(steps, "deploy", project, |_| true);
    check(
        checks,
        "the release was deployed",
        deploy.is_some(),
        deploy
            .map(|e| e.start.run.to_string())
            .unwrap_or("no deploy of gabs-massage-staging since the alarm".into()),
    );
    let rolled = deploy
        .and_then(|e| e.finish.as_ref())
        .and_then(|f| f.result.clone())
        .unwrap_or_default();
    check(
        checks,
        "the failed migration rolled the deploy back automatically",
        rolled.contains("rollback=done"),
        rolled,
    );
    let head = estate::head(&mt.join("opt/apps/gabs-massage"));
    check(
        checks,
        "the tenant runs the revision from before the release",
        head == fact("before"),
        format!("HEAD {}", &head[..head.len().min(12)]),
    );
    let health_after = deploy.and_then(|d| {
        steps.iter().find(|e| {
            e.start.runbook == "health"
                && e.start.target == project
                && e.start.at >= d.start.at
                && succeeded(e)
        })
    });
    check(
        checks,
        "the operator verified the tenant's health afterwards",
        health_after.is_some(),
        health_after
            .map(|e| e.start.run.to_string())
            .unwrap_or("no successful health run after the deploy".into()),
    );
    Ok((None, None))
}

/// The logs were read, the container restarted or the tenant rolled back, and it is healthy.
fn verify_crash_loop(
    sandbox: &Sandbox,
    a: &Active,
    steps: &[Entry],
    checks: &mut Vec<Check>,
) -> Result<Evidence, DrillError> {
    let fact = |k: &str| a.facts.get(k).cloned().unwrap_or_default();
    let mt = sandbox.host_root(estate::MT_HOST);
    let name = fact("container");
    let looked = ran(steps, "logs", &name, succeeded);
    check(
        checks,
        "the operator read the container's logs",
        looked.is_some(),
        looked
            .map(|e| e.start.run.to_string())
            .unwrap_or("no logs run".into()),
    );
    let fixed = steps.iter().find(|e| {
        succeeded(e)
            && ((e.start.runbook == "restart" && e.start.target == name)
                || (matches!(e.start.runbook.as_str(), "rollback" | "deploy")
                    && e.start.target == "gabs-massage-production"))
    });
    check(
        checks,
        "a restart or rollback succeeded",
        fixed.is_some(),
        fixed
            .map(|e| format!("{} {}", e.start.runbook, e.start.run))
            .unwrap_or("none".into()),
    );
    let st = docker_sim::load_state(&mt).map_err(|e| e.to_string())?;
    let c = st.containers.iter().find(|c| c.name == name);
    let now_epoch = docker_sim::now_epoch();
    let ok = c.is_some_and(|c| {
        c.state == "running" && matches!(c.health(now_epoch).as_str(), "healthy" | "starting")
    });
    check(
        checks,
        "the container is up and healthy",
        ok,
        c.map(|c| c.status(now_epoch)).unwrap_or("gone".into()),
    );
    Ok((None, None))
}

/// The S3 copy was restored and the database holds exactly its data.
fn verify_lost_database(
    sandbox: &Sandbox,
    a: &Active,
    steps: &[Entry],
    checks: &mut Vec<Check>,
) -> Result<Evidence, DrillError> {
    let fact = |k: &str| a.facts.get(k).cloned().unwrap_or_default();
    let mut backup_used = None;
    let mut rpo = None;
    let db = fact("database");
    let good = fact("good_backup");
    let restore = steps
        .iter()
        .find(|e| e.start.runbook == "restore-database" && e.start.target == good && succeeded(e));
    check(
        checks,
        "the S3 copy was restored (the host has none)",
        restore.is_some(),
        restore
            .map(|e| e.start.run.to_string())
            .unwrap_or(format!("no successful restore-database of {good}")),
    );
    let url = format!("s3://cohuron-backups/postgres/{good}");
    check_data(
        sandbox,
        a,
        &db,
        "the database holds exactly the backup's data",
        &url,
        checks,
    )?;
    if restore.is_some() {
        backup_used = Some(url);
        rpo = rpo_of_good_backup(a);
    }
    Ok((backup_used, rpo))
}

/// The corrupt backup was found by validation, a validated one restored.
fn verify_corrupt_latest_backup(
    sandbox: &Sandbox,
    a: &Active,
    steps: &[Entry],
    checks: &mut Vec<Check>,
) -> Result<Evidence, DrillError> {
    let fact = |k: &str| a.facts.get(k).cloned().unwrap_or_default();
    let mut backup_used = None;
    let mut rpo = None;
    let db = fact("database");
    let corrupt = fact("corrupt_backup");
    let good = fact("good_backup");
    let v_bad = ran(steps, "validate-backup", &corrupt, |e| {
        e.status() == "failed"
    });
    check(
        checks,
        "the corrupt latest backup was validated and failed",
        v_bad.is_some(),
        v_bad
            .map(|e| e.start.run.to_string())
            .unwrap_or(format!("no failed validate-backup of {corrupt}")),
    );
    let restore = steps
        .iter()
        .find(|e| e.start.runbook == "restore-database" && succeeded(e));
    let restored_from = restore.map(|e| e.start.target.clone()).unwrap_or_default();
    check(
        checks,
        "a restore succeeded",
        restore.is_some(),
        if restored_from.is_empty() {
            "no successful restore-database".to_string()
        } else {
            format!("from {restored_from}")
        },
    );
    let validated_first = restore.is_some_and(|r| {
        steps.iter().any(|e| {
            e.start.runbook == "validate-backup"
                && e.start.target == restored_from
                && succeeded(e)
                && e.start.at <= r.start.at
        })
    });
    check(
        checks,
        "the backup restored had been validated first",
        validated_first,
        restored_from.clone(),
    );
    check_data(
        sandbox,
        a,
        &db,
        "the database holds exactly the good backup's data",
        &good,
        checks,
    )?;
    if !restored_from.is_empty() {
        backup_used = Some(restored_from.clone());
        if restored_from == good {
            rpo = rpo_of_good_backup(a);
        }
    }
    Ok((backup_used, rpo))
}

/// What the drill's report keeps of a run.
fn report_step(e: &Entry) -> Step {
    Step {
        at: e.start.at,
        run: e.start.run.clone(),
        runbook: e.start.runbook.clone(),
        target: e.start.target.clone(),
        kind: e.start.target_kind.clone(),
        params: e.start.params.clone(),
        status: e.status().to_string(),
        exit_code: e.finish.as_ref().and_then(|f| f.exit_code),
        result: e.finish.as_ref().and_then(|f| f.result.clone()),
        needs_yes: e.start.danger != crate::runbook::Danger::Read,
        confirm: (e.start.production || e.start.danger == crate::runbook::Danger::Destructive)
            .then(|| confirm_word(&e.start.target, &e.start.target_kind)),
    }
}

/// The name a run's target was confirmed with, from its journal label: an
/// instance's Name (`NAME (ID)`: the Name; no Name: the id), else the label.
fn confirm_word(target: &str, kind: &str) -> String {
    match target.rsplit_once(" (") {
        Some((name, id)) if kind == "instance" => {
            if name.is_empty() {
                id.trim_end_matches(')').to_string()
            } else {
                name.to_string()
            }
        }
        _ => target.to_string(),
    }
}
