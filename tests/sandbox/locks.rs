//! One change at a time per target, across operators: two opsdeck homes
//! (each its own config, journal and identity) on one sandbox directory,
//! driving the binary as two people on call would.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOST: &str = "i-0a4f1c2e9b7d30001";
const TENANT: &str = "tenant=filter-ical-staging";

/// Two homes and the sandbox they share.
struct Estate {
    sandbox: PathBuf,
    root: PathBuf,
    /// The sandbox's real PostgreSQL servers, when it has them (stopped
    /// before the directory goes).
    real_db: Option<common::RealDb>,
    _tmp: tempfile::TempDir,
}

impl Estate {
    fn new() -> Estate {
        let tmp = tempfile::tempdir().unwrap();
        let sandbox = tmp.path().join("sandbox");
        let root = tmp.path().to_path_buf();
        let e = Estate {
            _tmp: tmp,
            sandbox,
            root,
            real_db: None,
        };
        let (code, _, err) = e.run("alice", &["ls", "tenants"]);
        assert_eq!(code, 0, "{err}");
        e
    }

    /// With real PostgreSQL servers (a recovery restores its database):
    /// the shared sandbox is Alice's own.
    fn with_real_db() -> Estate {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let db = common::real_db_sandbox(&root.join("alice"));
        Estate {
            sandbox: db.sandbox(),
            root,
            real_db: Some(db),
            _tmp: tmp,
        }
    }

    /// `who`'s opsdeck: their own home, the shared sandbox; the
    /// simulated docker slow enough that a deploy lasts a few seconds.
    fn cmd(&self, who: &str, args: &[&str]) -> Command {
        let mut c = common::cli(&self.root.join(who));
        c.env("OPSDECK_OPERATOR", who)
            .env("OPSDECK_SIM_DELAY_MS", "250")
            .arg("--sandbox-dir")
            .arg(&self.sandbox)
            .args(args);
        if self.real_db.is_some() {
            c.env_remove("OPSDECK_SANDBOX_PG");
        }
        c
    }

    fn run(&self, who: &str, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(who, args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn spawn(&self, who: &str, args: &[&str]) -> Child {
        self.spawn_slowed(who, args, 250)
    }

    /// With each simulated docker step taking `ms`.
    fn spawn_slowed(&self, who: &str, args: &[&str], ms: u32) -> Child {
        self.cmd(who, args)
            .env("OPSDECK_SIM_DELAY_MS", ms.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn host_dir(&self, what: &str) -> PathBuf {
        self.sandbox
            .join("hosts")
            .join(HOST)
            .join("var/lib/opsdeck")
            .join(what)
    }

    /// Waits until a run of `runbook` holds a lock on the host (its holder
    /// record is there); the record's path.
    fn held_by(&self, runbook: &str) -> PathBuf {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(dir) = std::fs::read_dir(self.host_dir("locks")) {
                for f in dir.flatten() {
                    let p = f.path();
                    if p.extension().is_some_and(|x| x == "holder")
                        && std::fs::read_to_string(&p)
                            .is_ok_and(|t| t.contains(&format!("\"runbook\":\"{runbook}\"")))
                    {
                        return p;
                    }
                }
            }
            assert!(Instant::now() < until, "no run of {runbook} took a lock");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last run in `who`'s journal.
    fn last_run(&self, who: &str) -> serde_json::Value {
        let (code, out, err) = self.run(who, &["history", "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_array().unwrap().first().cloned().unwrap()
    }
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn run_id(record: &Path) -> String {
    let text = std::fs::read_to_string(record).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["run"].as_str().unwrap().to_string()
}

#[test]
fn two_operators_on_one_tenant_one_deploys_the_other_is_refused_then_waits() {
    let e = Estate::new();
    let alice = e.spawn("alice", &["run", "deploy", TENANT, "--yes"]);
    let record = e.held_by("deploy");
    let alice_run = run_id(&record);
    // Bob's rollback meets Alice's deploy: refused, nothing sent, naming her.
    let (code, out, err) = e.run("bob", &["run", "rollback", TENANT, "--yes"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("project-filter-ical-staging")
            && err.contains("held by alice")
            && err.contains("`deploy` on filter-ical-staging")
            && err.contains(&alice_run),
        "{err}"
    );
    assert!(!out.contains("git"), "nothing of the rollback ran: {out}");
    let refused = e.last_run("bob");
    assert_eq!(refused["finish"]["status"], "refused", "{refused}");
    // A read runbook runs beside the change, and never waits.
    let (code, out, err) = e.run("bob", &["run", "health", TENANT]);
    assert_ne!(code, 3, "{out}{err}");
    assert!(!err.contains("held by"), "{err}");
    // With --wait Bob queues behind Alice and runs once she is done.
    let (code, out, err) = e.run("bob", &["run", "rollback", TENANT, "--yes", "--wait=2m"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("waiting: project-filter-ical-staging") && err.contains("held by alice"),
        "{err}"
    );
    let (code, out) = finish(alice);
    assert_eq!(code, 0, "Alice's deploy ran to its end undisturbed: {out}");
    // Both ran, one after the other: Alice's job had ended before Bob's began.
    let jobs = e.host_dir("jobs");
    let bob_run = e.last_run("bob")["start"]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let ended = std::fs::metadata(jobs.join(format!("{alice_run}.exit")))
        .unwrap()
        .modified()
        .unwrap();
    let began = std::fs::metadata(jobs.join(format!("{bob_run}.sh")))
        .unwrap()
        .modified()
        .unwrap();
    assert!(
        began >= ended,
        "bob's rollback began before alice's deploy ended"
    );
    // Nothing is left behind: no holder record once the runs are over.
    let left: Vec<_> = std::fs::read_dir(e.host_dir("locks"))
        .unwrap()
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|x| x == "holder"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_backup_and_a_restore_of_one_database_never_overlap() {
    let e = Estate::new();
    let (code, out, err) = e.run("alice", &["ls", "backups", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let backups: serde_json::Value = serde_json::from_str(&out).unwrap();
    let file = backups
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["database"] == "filter_ical_staging" && b["origin"] == HOST)
        .filter_map(|b| b["path"].as_str())
        .find(|p| p.ends_with(".sql.gz"))
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .expect("a host backup of filter_ical_staging");
    let backup = format!("backup={file}");
    // Alice backs the database up (the simulated dump slowed down, so it
    // is still running while Bob tries).
    let backup_db = ["run", "backup", "database=filter_ical_staging", "--yes"];
    let alice = e.spawn_slowed("alice", &backup_db, 4000);
    let record = e.held_by("backup");
    let restore = [
        "run",
        "restore-database",
        &backup,
        "--yes",
        "--confirm",
        "filter_ical_staging",
    ];
    let (code, out, err) = e.run("bob", &restore);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("database-filter_ical_staging")
            && err.contains("held by alice")
            && err.contains("`backup` on filter_ical_staging")
            && err.contains(&run_id(&record)),
        "{err}"
    );
    assert!(
        !out.contains("precheck"),
        "nothing of the restore ran: {out}"
    );
    // Nor a validation of one of its backups beside the backup.
    let (code, _, err) = e.run("bob", &["run", "validate-backup", &backup, "--yes"]);
    assert_eq!(code, 3, "{err}");
    let (code, out) = finish(alice);
    assert_eq!(code, 0, "{out}");
    // Free again: Bob's own backup runs.
    let (code, out, err) = e.run("bob", &backup_db);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_lock_left_by_a_killed_job_is_taken_over_and_said_so() {
    let e = Estate::new();
    let alice = e.spawn("alice", &["run", "deploy", TENANT, "--yes"]);
    let record = e.held_by("deploy");
    let alice_run = run_id(&record);
    // kill -9 of the job's whole process group: no cleanup runs.
    let pid_file = e.host_dir("jobs").join(format!("{alice_run}.pid"));
    let until = Instant::now() + Duration::from_secs(10);
    while !pid_file.exists() {
        assert!(Instant::now() < until, "the job never reported its pid");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let st = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(record.exists(), "the killed job's record stays behind");
    let (code, out, err) = e.run("bob", &["run", "rollback", TENANT, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let said = format!(
        "took over a stale lock: project-filter-ical-staging was held by run {alice_run} (alice, deploy), which is no longer running"
    );
    assert!(out.contains(&said), "{out}");
    // In the journal's copy of the output too.
    let bob_run = e.last_run("bob")["start"]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, kept, _) = e.run("bob", &["history", &bob_run]);
    assert!(kept.contains(&said), "{kept}");
    assert!(!record.exists());
    // Alice's opsdeck sees her job gone.
    let (code, out) = finish(alice);
    assert_eq!(code, 5, "{out}");
}

#[test]
fn a_cancelled_run_frees_its_target_without_a_stale_record() {
    let e = Estate::new();
    let alice = e.spawn("alice", &["run", "deploy", TENANT, "--yes"]);
    e.held_by("deploy");
    // As a person would: after the run has said it started.
    std::thread::sleep(Duration::from_millis(700));
    let st = Command::new("kill")
        .args(["-INT", &alice.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let (code, out) = finish(alice);
    assert_eq!(code, 4, "{out}");
    let (code, out, err) = e.run("bob", &["run", "rollback", TENANT, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("stale"), "{out}");
}

#[test]
fn a_record_opsdeck_cannot_read_is_shown_and_never_taken_for_free() {
    let e = Estate::new();
    let locks = e.host_dir("locks");
    std::fs::create_dir_all(&locks).unwrap();
    let garbage = locks.join("project-filter-ical-staging.someone-else.holder");
    std::fs::write(&garbage, b"\x00\x07 not a lock record").unwrap();
    let (code, out, err) = e.run("bob", &["run", "deploy", TENANT, "--yes"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("unreadable lock record (someone-else.holder")
            && err.contains("not taken for free"),
        "{err}"
    );
    assert!(garbage.exists(), "the record is left as it was");
    std::fs::write(
        &garbage,
        br#"{"v":9,"run":"someone-else","who":"carol","holders":[]}"#,
    )
    .unwrap();
    let (code, _, err) = e.run("bob", &["run", "deploy", TENANT, "--yes"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("newer opsdeck (record v9)"), "{err}");
    std::fs::remove_file(&garbage).unwrap();
    let (code, out, err) = e.run("bob", &["run", "deploy", TENANT, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
}

/// `who`'s `opsdeck runs --json`.
fn runs_of(e: &Estate, who: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = e.run(who, &["runs", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn everyone_sees_everyone_s_runs_and_follows_them_byte_for_byte() {
    let e = Estate::new();
    let alice = e.spawn_slowed("alice", &["run", "deploy", TENANT, "--yes"], 1000);
    let alice_run = run_id(&e.held_by("deploy"));
    // Bob's opsdeck never started it, yet lists it: Alice's, in flight.
    let listed = runs_of(&e, "bob");
    let row = listed
        .iter()
        .find(|r| r["run"] == alice_run.as_str())
        .unwrap_or_else(|| panic!("{alice_run} not in {listed:?}"));
    assert_eq!(row["owner"], "alice", "{row}");
    assert_eq!(row["runbook"], "deploy");
    assert_eq!(row["target"], "filter-ical-staging");
    assert_eq!(row["status"], "in flight");
    assert_eq!(row["mine"], false);
    // Alice's own list says it is hers.
    let hers = runs_of(&e, "alice");
    let mine = hers
        .iter()
        .find(|r| r["run"] == alice_run.as_str())
        .unwrap();
    assert_eq!(mine["mine"], true, "{mine}");
    let (_, table, _) = e.run("bob", &["runs"]);
    assert!(
        table
            .lines()
            .any(|l| l.contains(&alice_run) && l.contains("someone else's")),
        "{table}"
    );
    // Bob follows it to its end: the same bytes as Alice's journal keeps.
    let (code, followed, err) = e.run("bob", &["attach", &alice_run]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("alice's run") && err.contains("read-only"),
        "{err}"
    );
    let (code, out) = finish(alice);
    assert_eq!(code, 0, "{out}");
    let (_, kept, _) = e.run("alice", &["history", &alice_run]);
    assert!(
        followed.contains("==> opsdeck result: succeeded"),
        "{followed}"
    );
    assert_eq!(followed, kept, "Bob's copy differs from Alice's");
    // Ended, it is still listed (recent), with how it ended.
    let after = runs_of(&e, "bob");
    let row = after
        .iter()
        .find(|r| r["run"] == alice_run.as_str())
        .unwrap();
    assert_eq!(row["status"], "succeeded", "{row}");
}

#[test]
fn cancelling_someone_else_s_run_needs_its_name_typed_and_journals_both_names() {
    use std::io::{BufRead, Write};
    let e = Estate::new();
    let alice = e.spawn_slowed("alice", &["run", "deploy", TENANT, "--yes"], 1000);
    let alice_run = run_id(&e.held_by("deploy"));
    let mut bob = e
        .cmd("bob", &["attach", &alice_run])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (said_tx, said) = std::sync::mpsc::channel::<String>();
    let stderr = bob.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = said_tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let wait_for = |what: &str| {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let line = said
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("never said {what:?}"));
            if line.contains(what) {
                return;
            }
        }
    };
    wait_for("following alice's run");
    std::thread::sleep(Duration::from_millis(300));
    let bob_pid = bob.id().to_string();
    let interrupt = || {
        let st = Command::new("kill")
            .args(["-INT", &bob_pid])
            .status()
            .unwrap();
        assert!(st.success());
    };
    let mut stdin = bob.stdin.take().unwrap();
    // A wrong name cancels nothing: Bob goes on following.
    interrupt();
    std::thread::sleep(Duration::from_millis(300));
    writeln!(stdin, "filter-ical").unwrap();
    wait_for("not cancelled; still following");
    interrupt();
    std::thread::sleep(Duration::from_millis(300));
    writeln!(stdin, "filter-ical-staging").unwrap();
    let code = bob.wait().unwrap().code();
    let err = reader.join().unwrap();
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("type its target's name (filter-ical-staging)"),
        "{err}"
    );
    let (code, out) = finish(alice);
    assert_eq!(code, 4, "Alice's deploy was cancelled: {out}");
    // Bob's journal: the cancel, by Bob, of Alice's run.
    let cancel = e.last_run("bob");
    assert_eq!(cancel["start"]["runbook"], "cancel-run", "{cancel}");
    assert_eq!(cancel["start"]["who"], "bob");
    let params = cancel["start"]["params"].to_string();
    assert!(
        params.contains(&alice_run) && params.contains(r#"["owner","alice"]"#),
        "{params}"
    );
    assert_eq!(cancel["finish"]["status"], "succeeded", "{cancel}");
}

#[test]
fn unlock_shows_the_record_first_removes_what_no_run_holds_and_never_breaks_a_live_lock() {
    let e = Estate::new();
    let locks = e.host_dir("locks");
    std::fs::create_dir_all(&locks).unwrap();
    let garbage = locks.join("project-filter-ical-staging.someone-else.holder");
    std::fs::write(&garbage, b"\x00\x07 not a lock record").unwrap();
    // Shown first; a change, so --yes is needed.
    let (code, _, err) = e.run("bob", &["unlock", TENANT]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(
            "project-filter-ical-staging on i-0a4f1c2e9b7d30001: an unreadable lock record"
        ) && err.contains("no run holds it")
            && err.contains("pass --yes"),
        "{err}"
    );
    assert!(garbage.exists());
    let (code, _, err) = e.run("bob", &["unlock", TENANT, "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("removed project-filter-ical-staging (someone-else)"),
        "{err}"
    );
    assert!(!garbage.exists());
    let unlock = e.last_run("bob");
    assert_eq!(unlock["start"]["runbook"], "unlock", "{unlock}");
    assert_eq!(unlock["finish"]["status"], "succeeded", "{unlock}");
    assert!(
        unlock["start"]["params"]
            .to_string()
            .contains("unreadable lock record"),
        "the record shown is journaled: {unlock}"
    );
    // Free: the deploy the record blocked runs; while it runs, its lock
    // is never broken.
    let alice = e.spawn_slowed("alice", &["run", "deploy", TENANT, "--yes"], 1000);
    let record = e.held_by("deploy");
    let (code, _, err) = e.run("bob", &["unlock", TENANT, "--yes"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("held by alice") || err.contains("alice — `deploy`"),
        "{err}"
    );
    assert!(
        err.contains("a running run holds project-filter-ical-staging"),
        "{err}"
    );
    assert!(record.exists(), "the live record stays");
    let (code, out) = finish(alice);
    assert_eq!(code, 0, "{out}");
    // Nothing left: nothing to do.
    let (code, _, err) = e.run("bob", &["unlock", TENANT, "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to unlock"), "{err}");
}

const RECOVER: [&str; 6] = [
    "run",
    "recover-instance",
    "instance=cohuron-pmo-api",
    "--yes",
    "--confirm",
    "cohuron-pmo-api",
];

impl Estate {
    /// The PMO host is lost: stopped, its agent gone.
    fn lose_pmo(&self) {
        use opsdeck::provider::sandbox::estate;
        let mut st = estate::load(&self.sandbox).unwrap();
        let i = st
            .instances
            .iter_mut()
            .find(|i| i.id == estate::PMO_HOST)
            .unwrap();
        i.state = "stopped".into();
        i.ssm_ping = opsdeck::domain::SsmPing::ConnectionLost;
        estate::save(&self.sandbox, &st).unwrap();
    }

    /// The recovery lock of the lost PMO host (its host cannot keep it).
    fn recovery_lock(&self) -> PathBuf {
        self.sandbox.join("cloud-locks").join(format!(
            "host-{}.json",
            opsdeck::provider::sandbox::estate::PMO_HOST
        ))
    }

    /// Waits until the recovery lock is taken; the run holding it.
    fn recovery_held(&self) -> String {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(t) = std::fs::read_to_string(self.recovery_lock())
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&t)
            {
                return v["run"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < until, "no recovery took its lock");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn replacements(&self) -> usize {
        let st = opsdeck::provider::sandbox::estate::load(&self.sandbox).unwrap();
        st.instances
            .iter()
            .filter(|i| i.name.starts_with("cohuron-pmo-api-recovered"))
            .count()
    }
}

#[test]
fn two_recoveries_of_one_lost_instance_launch_one_replacement() {
    let e = Estate::with_real_db();
    e.lose_pmo();
    let alice = e.spawn_slowed("alice", &RECOVER, 1000);
    let alice_run = e.recovery_held();
    // Bob's recovery of the same lost host is refused before any call,
    // naming Alice's run, though the host itself cannot be asked.
    let (code, out, err) = e.run("bob", &RECOVER);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("held by alice")
            && err.contains("`recover-instance` on cohuron-pmo-api")
            && err.contains(&alice_run)
            && err.contains("the sandbox's lock store"),
        "{err}"
    );
    assert!(!out.contains("RunInstances"), "{out}");
    assert_eq!(e.last_run("bob")["finish"]["status"], "refused");
    let (code, out) = finish(alice);
    assert_eq!(code, 0, "{out}");
    assert_eq!(e.replacements(), 1, "one lost host, one replacement");
    // Released at the end: the next recovery would take it.
    assert!(!e.recovery_lock().exists());
}

#[test]
fn a_recovery_lock_its_opsdeck_stopped_renewing_is_taken_over_after_the_lease() {
    let e = Estate::with_real_db();
    e.lose_pmo();
    let mut alice = e
        .cmd("alice", &RECOVER)
        .env("OPSDECK_SIM_DELAY_MS", "1000")
        .env("OPSDECK_CLOUD_LEASE_SECS", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let alice_run = e.recovery_held();
    // Alice's opsdeck dies without its cleanup: the lock stays, unrenewed.
    alice.kill().unwrap();
    alice.wait().unwrap();
    assert!(e.recovery_lock().exists());
    std::thread::sleep(Duration::from_secs(4));
    let (code, out, err) = e
        .cmd("bob", &RECOVER)
        .env("OPSDECK_CLOUD_LEASE_SECS", "3")
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    let said = format!(
        "took over a stale lock: host-{} was held by run {alice_run} (alice, recover-instance), not renewed for",
        opsdeck::provider::sandbox::estate::PMO_HOST
    );
    assert!(out.contains(&said), "{out}{err}");
    assert_eq!(code, 0, "{out}{err}");
    assert!(!e.recovery_lock().exists());
}
