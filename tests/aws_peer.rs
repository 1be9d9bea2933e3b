//! The aws provider against an SSM peer that executes commands, over HTTP:
//! moto's server with its SSM side extended (`tests/peer/ssm_peer.py`), the
//! multi-tenant host's directory tree of a sandbox as the managed
//! instance's root. The binary is configured as a user would (`provider =
//! "aws"`, `AWS_ENDPOINT_URL`, `[[host]]` and `[[database]]` entries) and
//! runs the built-in runbooks through the real SendCommand /
//! GetCommandInvocation / CancelCommand calls, signing and parsing; the
//! mocked-API tests (`ssm_mock.rs`) keep the failure states the peer cannot
//! produce (throttling, Delayed, odd errors).

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "aws_peer/locks.rs"]
mod locks;
#[path = "support/moto.rs"]
mod moto;
#[path = "support/peer_cli.rs"]
mod peer_cli;
#[path = "aws_peer/seeds.rs"]
mod seeds;
#[path = "support/tmux.rs"]
mod tmux;

use common::{fixed_now, git_head};
use moto::{ManagedHost, manage, moto, peer_calls, run_instances};
use opsdeck::provider::sandbox::estate::MT_HOST;
use opsdeck::store::journal::Journal;
use peer_cli::aws_cli;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A moto instance whose agent runs commands in a sandbox's multi-tenant
/// host, and the binary's config for it.
struct PeerEstate {
    home: tempfile::TempDir,
    sandbox: PathBuf,
    id: String,
    region: &'static str,
    cfg: PathBuf,
    /// The tail rhythm: SSM's defaults, or a fast one for tests that do
    /// not measure it.
    fast: bool,
    /// The binary's and the host's clock.
    now: chrono::DateTime<chrono::Utc>,
    _db: Option<common::RealDb>,
}

impl PeerEstate {
    async fn new(region: &'static str, real_db: bool) -> PeerEstate {
        let home = tempfile::tempdir().unwrap();
        let sandbox = home.path().join("data/opsdeck/sandbox");
        let db = if real_db {
            Some(common::real_db_sandbox(home.path()))
        } else {
            common::sim_sandbox(&sandbox, fixed_now());
            None
        };
        let id = run_instances(region, 1, "peer-mt").await.remove(0);
        let cfg = home.path().join("opsdeck.toml");
        std::fs::write(
            &cfg,
            format!(
                r#"[[context]]
name = "peer"
provider = "aws"
regions = ["{region}"]

[[host]]
instance = "{id}"
apps = ["paiss", "filter-ical", "gabs-massage"]
envs = ["staging", "production"]
# The platform's PostgreSQL role, as its document creates it.
pg_user = "platform_admin"

[[app]]
name = "paiss"

[[app]]
name = "filter-ical"
database = "filter_ical_{{env}}"

[[app]]
name = "gabs-massage"
database = "gabs_massage_{{env}}"

[[database]]
name = "filter_ical_staging"
via = "docker"
pg_container = "postgres-platform"
key_tables = ["events"]
"#
            ),
        )
        .unwrap();
        let e = PeerEstate {
            home,
            sandbox,
            id,
            region,
            cfg,
            fast: true,
            now: fixed_now(),
            _db: db,
        };
        e.agent("Online", 0);
        e
    }

    /// (Re)register the instance's agent: its ping status, and how long
    /// each simulated build line takes on the host.
    fn agent(&self, ping: &str, delay_ms: u32) {
        let mut env: Vec<(String, String)> = common::sim_env(self.now).into_iter().collect();
        env.retain(|(k, _)| k != "OPSDECK_SIM_DELAY_MS");
        env.push(("OPSDECK_SIM_DELAY_MS".into(), delay_ms.to_string()));
        env.push(("OPSDECK_HOST".into(), MT_HOST.into()));
        manage(
            &self.id,
            &ManagedHost {
                region: self.region,
                root: &self.root(),
                env,
                path_prepend: vec![self.sandbox.join("bin")],
                ping,
            },
        );
    }

    fn root(&self) -> PathBuf {
        self.sandbox.join("hosts").join(MT_HOST)
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn journal(&self) -> Journal {
        Journal::new(&self.dir().join("state/opsdeck"))
    }

    /// The binary on the peer's context, its credentials from the
    /// environment, never a real AWS endpoint or shared file.
    fn cli(&self, args: &[&str]) -> Command {
        aws_cli(self.dir(), &self.cfg, self.now, self.fast, args)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cli(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Start a deploy headless, each simulated build line taking 150 ms on
    /// the host, and SIGKILL its opsdeck once the job is building: the
    /// run's id.
    fn deploy_killed_mid_build(&self) -> String {
        self.agent("Online", 150);
        let journal = self.journal();
        let mut child = self
            .cli(&["run", "deploy", "tenant=filter-ical-staging", "--yes"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        let id = loop {
            if let Some(u) = journal.unfinished("peer").first() {
                let out =
                    std::fs::read_to_string(journal.output_path(&u.start.run)).unwrap_or_default();
                if out.contains("[backend 2/4]") {
                    break u.start.run.clone();
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the deploy never got going"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        child.kill().unwrap();
        child.wait().unwrap();
        id.into()
    }

    /// The newest run's id, its journaled output and the job's log on the host.
    fn last_run(&self) -> (String, String, String) {
        let j = self.journal();
        let (entries, _) = j.entries();
        let e = entries.last().expect("a run was journaled");
        let id = e.start.run.clone();
        let journaled = std::fs::read_to_string(j.output_path(&id)).unwrap();
        let host =
            std::fs::read_to_string(self.root().join(format!("var/lib/opsdeck/jobs/{id}.log")))
                .unwrap();
        (id.into(), journaled, host)
    }
}

/// SSM calls about `instance` the peer answered between `from` and `to`
/// (seconds since the epoch), and what that makes a minute.
fn calls_per_minute(instance: &str, from: f64, to: f64) -> (usize, f64) {
    let n = peer_calls()
        .iter()
        .filter(|c| c.t >= from && c.t <= to && c.instance.as_deref() == Some(instance))
        .count();
    (n, n as f64 * 60.0 / (to - from).max(1.0))
}

fn epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_rollback_restart_and_logs_through_the_executing_peer() {
    let mut e = PeerEstate::new("eu-west-3", false).await;

    // The inventory over HTTP: the instance, its agent online.
    let (code, out, err) = e.run(&["ls", "instances", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let me = v
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == e.id.as_str())
        .expect("the instance is listed");
    assert_eq!(me["ssm_ping"], "online", "{me}");
    // Containers come from the host, read with one command.
    let (code, out, err) = e.run(&["ls", "containers"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("filter-ical-backend-staging"), "{out}");

    // A deploy at SSM's own rhythm: output streams, the host moves to
    // origin, the journal holds the job's log byte for byte, and the
    // printed lines are the log's lines.
    e.fast = false;
    let checkout = e.root().join("opt/apps/filter-ical");
    let origin = git_head(&e.sandbox.join("remotes/filter-ical.git"));
    assert_ne!(git_head(&checkout), origin);
    let t0 = epoch();
    let (code, out, err) = e.run(&["run", "deploy", "tenant=filter-ical-staging", "--yes"]);
    let t1 = epoch();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(git_head(&checkout), origin, "the host moved to origin");
    let (id, journaled, host_log) = e.last_run();
    assert_eq!(journaled, host_log, "the journal is the host's log");
    assert!(host_log.ends_with("==> opsdeck result: succeeded\n"));
    for line in host_log.lines() {
        assert!(out.contains(line), "{line:?} was not printed:\n{out}");
    }
    let (n, per_min) = calls_per_minute(&e.id, t0, t1);
    eprintln!(
        "deploy {id} over the peer at SSM's rhythm: {:.1} s, {n} SSM calls, {per_min:.1} calls/min",
        t1 - t0
    );
    e.fast = true;

    // A release whose containers never get healthy is rolled back by the
    // deploy itself.
    let sandbox = opsdeck::provider::sandbox::Sandbox::ensure_with(
        &e.sandbox,
        fixed_now(),
        &common::exe(),
        &opsdeck::provider::sandbox::Databases::Simulated,
    )
    .unwrap();
    let good = git_head(&checkout);
    let bad = sandbox
        .push_release("filter-ical", "feat: broken", &[("HEALTH_FAIL", "")])
        .unwrap();
    let (code, out, _) = e.run(&["run", "deploy", "tenant=filter-ical-staging", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("==> rolled back automatically: `rollback` succeeded"),
        "{out}"
    );
    assert_eq!(git_head(&checkout), good, "back where it was");
    let (_, journaled, host_log) = e.last_run();
    assert_eq!(journaled, host_log);

    // rollback by hand, to a named revision.
    let before = git_head(&checkout);
    let (code, out, err) = e.run(&[
        "run",
        "rollback",
        "tenant=filter-ical-staging",
        &format!("to={bad}"),
        "--yes",
    ]);
    // A rollback *to* the broken release fails health and says so.
    assert_ne!(code, 0, "{out}{err}");
    let (code, out, err) = e.run(&[
        "run",
        "rollback",
        "tenant=filter-ical-staging",
        &format!("to={before}"),
        "--yes",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(git_head(&checkout), before);

    // restart and logs.
    let (code, out, err) = e.run(&[
        "run",
        "restart",
        "container=filter-ical-backend-staging",
        "--yes",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = e.run(&["run", "logs", "container=nginx-platform", "lines=20"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("GET /"), "{out}");
    let (_, journaled, host_log) = e.last_run();
    assert_eq!(journaled, host_log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_agent_is_refused_before_anything_is_sent() {
    let e = PeerEstate::new("eu-south-1", false).await;
    e.agent("ConnectionLost", 0);
    let sent = |id: &str| {
        peer_calls()
            .iter()
            .filter(|c| c.action == "SendCommand" && c.instance.as_deref() == Some(id))
            .count()
    };
    let before = sent(&e.id);
    let (code, out, err) = e.run(&["run", "deploy", "tenant=filter-ical-staging", "--yes"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("agent") || out.contains("agent"), "{out}{err}");
    assert_eq!(sent(&e.id), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_deploy_then_attach_over_the_peer() {
    let e = PeerEstate::new("eu-central-2", false).await;
    let journal = e.journal();
    let id = e.deploy_killed_mid_build();
    assert_eq!(journal.unfinished("peer").len(), 1);

    let (code, out, err) = e.run(&["attach"]);
    assert_eq!(code, 0, "{out}{err}");
    let (last, journaled, host_log) = e.last_run();
    assert_eq!(last, id);
    assert_eq!(journaled, host_log, "no line lost or doubled");
    assert!(host_log.ends_with("==> opsdeck result: succeeded\n"));
    assert!(journal.unfinished("peer").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_the_job_on_the_host_and_leaves_no_command_running() {
    let e = PeerEstate::new("eu-west-2", false).await;
    let journal = e.journal();
    let t0 = epoch();
    let mut child = e
        .cli(&[
            "run",
            "command",
            "instance=peer-mt-host",
            "command=echo $$ > \"$OPSDECK_ROOT/var/lib/opsdeck/ticker.pid\"; while :; do echo tick; sleep 0.2; done",
            "--yes",
            "--confirm",
            "peer-mt-host",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let id = loop {
        if let Some(u) = journal.unfinished("peer").first() {
            let out =
                std::fs::read_to_string(journal.output_path(&u.start.run)).unwrap_or_default();
            if out.lines().count() >= 3 {
                break u.start.run.clone();
            }
        }
        if t.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the command never got going: {:?}\n{}{}",
                journal.entries().0.last().map(|e| e.start.run.clone()),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Ctrl-C, as a terminal sends it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The job's process group is gone and the host recorded the cancel.
    let pid: i32 = std::fs::read_to_string(e.root().join("var/lib/opsdeck/ticker.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let t = Instant::now();
    while nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the job's shell {pid} lives on"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let jobs = e.root().join("var/lib/opsdeck/jobs");
    assert_eq!(
        std::fs::read_to_string(jobs.join(format!("{id}.exit")))
            .unwrap()
            .trim(),
        "143"
    );
    // The cancel went over SSM as its own command, and nothing of ours is
    // left running there: the tail that was waiting on the host ended as
    // soon as the job was gone.
    let ssm = aws_sdk_ssm::Client::new(&moto::sdk(e.region).await);
    let listed = ssm
        .list_command_invocations()
        .instance_id(&e.id)
        .send()
        .await
        .unwrap();
    let invocations = listed.command_invocations();
    assert!(invocations.len() >= 3, "start, tails, cancel");
    for i in invocations {
        assert!(
            matches!(
                i.status(),
                Some(aws_sdk_ssm::types::CommandInvocationStatus::Success)
            ),
            "{:?} is {:?}",
            i.comment(),
            i.status()
        );
        assert_eq!(i.comment(), Some(format!("opsdeck {id}").as_str()));
    }
    let sends = peer_calls()
        .iter()
        .filter(|c| c.t >= t0 && c.action == "SendCommand")
        .count();
    assert!(sends >= 3, "{sends}");
    let (entries, _) = journal.entries();
    let f = entries.last().unwrap().finish.as_ref().unwrap();
    assert_eq!(f.status, "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_calls_per_minute_of_a_running_command_at_ssms_rhythm() {
    let mut e = PeerEstate::new("ca-central-1", false).await;
    e.fast = false;
    let t0 = epoch();
    let (code, out, err) = e.run(&[
        "run",
        "command",
        "instance=peer-mt-host",
        "command=for i in $(seq 1 80); do echo tick $i; sleep 0.5; done",
        "--yes",
        "--confirm",
        "peer-mt-host",
    ]);
    let t1 = epoch();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("tick 80"), "{out}");
    let calls = peer_calls();
    let ours: Vec<_> = calls
        .iter()
        .filter(|c| c.t >= t0 && c.t <= t1 && c.instance.as_deref() == Some(e.id.as_str()))
        .collect();
    let by = |a: &str| ours.iter().filter(|c| c.action == a).count();
    let per_min = ours.len() as f64 * 60.0 / (t1 - t0);
    // While the job runs, each tail is one SendCommand and its polls: the
    // rhythm is the time from one tail's send to the next.
    let sends: Vec<f64> = ours
        .iter()
        .filter(|c| c.action == "SendCommand")
        .map(|c| c.t)
        .collect();
    let tails = &sends[1..];
    let cycle = (tails[tails.len() - 1] - tails[0]) / (tails.len() - 1) as f64;
    let calls_per_tail = (ours.len() - 2) as f64 / tails.len() as f64;
    let steady = calls_per_tail * 60.0 / cycle;
    eprintln!(
        "a 40 s command at SSM's rhythm: {:.1} s, {} calls ({} SendCommand, {} GetCommandInvocation), {per_min:.1} calls/min over the whole run; a tail every {cycle:.2} s, {calls_per_tail:.1} calls each: {steady:.1} calls/min while it runs",
        t1 - t0,
        ours.len(),
        by("SendCommand"),
        by("GetCommandInvocation"),
    );
    // DESIGN's budget is 30 API calls a minute per running command; the
    // figure depends on the machine's load (a slow host makes a tail need
    // a second poll), so it is reported here, and asserted on a virtual
    // clock in ssm_mock.rs.
    assert!(
        calls_per_tail >= 2.0,
        "every tail is a send and at least one poll"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_validate_and_restore_on_real_postgres_through_the_peer() {
    let e = PeerEstate::new("us-west-1", true).await;
    let db = "filter_ical_staging";
    let q = |sql: &str| {
        let (code, out, err) =
            common::pg::docker_psql(&e.sandbox, MT_HOST, "postgres-platform", db, sql);
        assert_eq!(code, 0, "{err}");
        out
    };
    let digest =
        "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM events t";
    let before = q(digest);

    // backup: a new file on the host, with its size and checksum.
    let (code, out, err) = e.run(&["run", "backup", &format!("database={db}"), "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let file = out
        .lines()
        .find_map(|l| l.strip_prefix("==> opsdeck report: file="))
        .unwrap_or_else(|| panic!("the backup names its file:\n{out}"))
        .to_string();
    assert!(
        e.root().join("opt/backups/postgres").join(&file).exists(),
        "{file}"
    );
    assert!(out.contains("==> opsdeck report: sha256="), "{out}");

    // The inventory over SSM lists it; validate restores it into a scratch
    // database and counts the key table.
    let (code, out, err) = e.run(&["ls", "backups", "--json"]);
    assert_eq!(code, 0, "{err}");
    let name = file.as_str();
    assert!(out.contains(name), "{out}");
    let (code, out, err) = e.run(&[
        "run",
        "validate-backup",
        &format!("backup={name}"),
        "--yes",
        "--confirm",
        db,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let rows = before.split(':').next().unwrap();
    assert!(out.contains(&format!("rows.public.events={rows}")), "{out}");

    // Rows lost, then restored from that backup: the same rows again.
    q("DELETE FROM events WHERE id % 2 = 0");
    assert_ne!(q(digest), before);
    let (code, out, err) = e.run(&[
        "run",
        "restore-database",
        &format!("backup={name}"),
        "--yes",
        "--confirm",
        db,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(q(digest), before);
    let (_, journaled, host_log) = e.last_run();
    assert_eq!(journaled, host_log);
}

/// What a run ended with: its exit code, its result line and the names of
/// its report figures.
fn outcome(code: i32, out: &str) -> (i32, Option<String>, Vec<String>) {
    let result = out
        .lines()
        .find(|l| l.starts_with("==> opsdeck result:"))
        .map(str::to_string);
    let mut keys: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("==> opsdeck report: "))
        .filter_map(|l| l.split('=').next())
        .map(str::to_string)
        .collect();
    keys.sort();
    keys.dedup();
    (code, result, keys)
}

fn instance_name(out: &str, id: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_builtin_runbook_ends_over_ssm_as_it_ends_on_the_sandbox() {
    let mut e = PeerEstate::new("sa-east-1", true).await;
    // The peer's runs a few minutes after the sandbox's (their backups get
    // their own names).
    e.now = fixed_now() + chrono::Duration::minutes(5);
    e.agent("Online", 0);
    let sandbox = |args: &[&str]| -> (i32, String, String) {
        let out = common::cli(e.dir()).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let sandbox_name = instance_name(&sandbox(&["ls", "instances", "--json"]).1, MT_HOST);
    let peer_name = instance_name(&e.run(&["ls", "instances", "--json"]).1, &e.id);
    let newest = |out: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter(|b| {
                b["database"] == "filter_ical_staging"
                    && !b["origin"].as_str().unwrap_or("").starts_with("s3://")
            })
            .filter_map(|b| b["path"].as_str())
            .map(|p| p.rsplit('/').next().unwrap().to_string())
            .max()
            .unwrap()
    };
    // (runbook, parameters); INSTANCE, NAME and BACKUP are filled per side.
    let table: &[(&str, &[&str])] = &[
        ("host-stats", &["instance=INSTANCE"]),
        ("limits-audit", &["instance=INSTANCE"]),
        ("cert-expiry", &["instance=INSTANCE"]),
        ("api-health", &["instance=INSTANCE"]),
        ("queue-depth", &["instance=INSTANCE"]),
        ("health", &["tenant=filter-ical-staging"]),
        (
            "logs",
            &["container=nginx-platform", "lines=20", "filter= 200 "],
        ),
        (
            "query",
            &[
                "tenant=filter-ical-staging",
                "sql=SELECT count(*) FROM events",
            ],
        ),
        (
            "command",
            &[
                "instance=INSTANCE",
                "command=echo hello; test -d opt/apps",
                "--confirm",
                "NAME",
            ],
        ),
        ("restart", &["container=filter-ical-backend-staging"]),
        ("deploy", &["tenant=filter-ical-staging"]),
        ("rollback", &["tenant=filter-ical-staging"]),
        (
            "deploy-platform",
            &["instance=INSTANCE", "--confirm", "NAME"],
        ),
        (
            "rollback-platform",
            &["instance=INSTANCE", "--confirm", "NAME"],
        ),
        ("renew-certs", &["instance=INSTANCE", "--confirm", "NAME"]),
        (
            "docker-cleanup",
            &["instance=INSTANCE", "--confirm", "NAME"],
        ),
        // The multi-tenant host has no /app and no host services: these
        // end at their pre-checks (or find nothing) the same on both sides.
        (
            "deploy-artifact",
            &["instance=INSTANCE", "--confirm", "NAME"],
        ),
        (
            "rollback-artifact",
            &["instance=INSTANCE", "--confirm", "NAME"],
        ),
        ("service-health", &["instance=INSTANCE"]),
        ("gateway-health", &["instance=INSTANCE"]),
        ("backup-volume", &["instance=INSTANCE", "--confirm", "NAME"]),
        (
            "restore-volume",
            &["instance=INSTANCE", "--confirm", "NAME"],
        ),
        ("service-logs", &["instance=INSTANCE", "unit=nginx"]),
        (
            "service-restart",
            &["instance=INSTANCE", "unit=gunicorn", "--confirm", "NAME"],
        ),
        ("backup", &["database=filter_ical_staging"]),
        ("backup-all", &["instance=INSTANCE", "--confirm", "NAME"]),
        (
            "sync-backups",
            &[
                "instance=INSTANCE",
                "bucket=cohuron-backups",
                "--confirm",
                "NAME",
            ],
        ),
        (
            "validate-backup",
            &["backup=BACKUP", "--confirm", "filter_ical_staging"],
        ),
        (
            "restore-database",
            &["backup=BACKUP", "--confirm", "filter_ical_staging"],
        ),
        (
            "restore-safety",
            &["backup=BACKUP", "--confirm", "filter_ical_staging"],
        ),
        // Cloud steps: EC2 on moto, the script parts over SSM on the new
        // instance (the multi-tenant host has no PMO code or database).
        (
            "snapshot-instance",
            &["instance=INSTANCE", "--confirm", "NAME"],
        ),
        (
            "recover-instance",
            &[
                "instance=INSTANCE",
                "code_bucket=",
                "db=",
                "health_url=",
                "--confirm",
                "NAME",
            ],
        ),
        (
            "terminate-instance",
            &["instance=INSTANCE", "--confirm", "NAME"],
        ),
    ];
    let builtin = opsdeck::runbook::Library::builtin();
    let mut names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    let mut all: Vec<String> = builtin.all().map(|r| r.name.get_ref().clone()).collect();
    all.sort();
    assert_eq!(names, all, "every built-in runbook is in the table");

    for (runbook, params) in table {
        let mut ends = Vec::new();
        for side in ["sandbox", "peer"] {
            let (instance, name, backups) = if side == "sandbox" {
                (
                    MT_HOST.to_string(),
                    sandbox_name.clone(),
                    sandbox(&["ls", "backups", "--json"]).1,
                )
            } else {
                (
                    e.id.clone(),
                    peer_name.clone(),
                    e.run(&["ls", "backups", "--json"]).1,
                )
            };
            // Only runbooks on a backup need one (after recover-instance
            // stopped the host, its backups cannot be read).
            let backup = if params.iter().any(|p| p.contains("BACKUP")) {
                newest(&backups)
            } else {
                String::new()
            };
            let mut args = vec!["run".to_string(), runbook.to_string(), "--yes".to_string()];
            args.extend(params.iter().map(|p| {
                p.replace("INSTANCE", &instance)
                    .replace("NAME", &name)
                    .replace("BACKUP", &backup)
            }));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out, err) = if side == "sandbox" {
                sandbox(&args)
            } else {
                e.run(&args)
            };
            eprintln!("{runbook} on the {side}: exit {code}");
            if *runbook == "command" {
                assert!(out.contains("hello"), "{out}{err}");
            }
            ends.push((outcome(code, &out), format!("{out}{err}")));
        }
        assert_eq!(
            ends[0].0, ends[1].0,
            "{runbook}: the sandbox and SSM disagree\n--- sandbox\n{}\n--- peer\n{}",
            ends[0].1, ends[1].1
        );
        assert!(
            ends[1].0.1.is_some(),
            "{runbook}: no result line\n{}",
            ends[1].1
        );
    }
}

/// The console on the peer's context, in a real terminal: a run that a
/// killed opsdeck left on the host is reattached at start and finished; a
/// deploy started from Tenants streams its lines while it runs; both are
/// journaled byte for byte as the host logged them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reattaches_and_deploys_through_the_peer() {
    let e = PeerEstate::new("ap-south-1", false).await;
    let killed = e.deploy_killed_mid_build();
    let env = format!(
        "AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE={d}/no-aws-config AWS_SHARED_CREDENTIALS_FILE={d}/no-aws-credentials OPSDECK_SSM_POLL_MS=200 OPSDECK_SSM_GAP_MS=150 OPSDECK_SSM_SETTLE_MS=50",
        moto(),
        d = e.dir().display()
    );
    let tmux = tmux::Tmux::console_args(
        "opsdeck-peer",
        e.dir(),
        &env,
        &format!("--config {} --context peer", e.cfg.display()),
    );
    let long = Duration::from_secs(60);
    tmux.wait_for("reattached to", long);
    tmux.wait_for("Tenants [6]", long);
    tmux.send(&["6"]);
    tmux.wait_for("Runs [1]", Duration::from_secs(10));
    tmux.wait_for("succeeded", long);
    let journal = e.journal();
    let host_log = |id: &str| {
        std::fs::read_to_string(e.root().join(format!("var/lib/opsdeck/jobs/{id}.log"))).unwrap()
    };
    assert_eq!(
        std::fs::read_to_string(journal.output_path(&killed)).unwrap(),
        host_log(&killed),
        "the reattached run lost or doubled no line"
    );

    // A deploy from Tenants: lines arrive while the job still runs.
    tmux.send(&[":"]);
    tmux.literal("tenants");
    tmux.send(&["Enter", "/"]);
    tmux.literal("filter staging");
    tmux.send(&["Enter"]);
    tmux.wait_for("Tenants [1/6]", Duration::from_secs(10));
    tmux.send(&["d"]);
    tmux.wait_for("Enter runs it", Duration::from_secs(10));
    tmux.send(&["Enter"]);
    let t = Instant::now();
    let mut streamed_while_running = false;
    loop {
        let s = tmux.screen();
        if s.contains("running") && s.contains("[backend 2/4]") {
            streamed_while_running = true;
        }
        let (entries, _) = journal.entries();
        if entries.len() == 2 && entries.iter().all(|en| en.finish.is_some()) {
            break;
        }
        assert!(t.elapsed() < long, "the deploy did not finish:\n{s}");
        std::thread::sleep(Duration::from_millis(40));
    }
    assert!(streamed_while_running, "no line was shown before the end");
    tmux.send(&["q"]);
    tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(10));

    let (entries, _) = journal.entries();
    assert_eq!(entries.len(), 2);
    for en in &entries {
        let f = en.finish.as_ref().expect("finished");
        assert_eq!(f.status, "succeeded", "{}", en.start.run);
        assert_eq!(
            std::fs::read_to_string(journal.output_path(&en.start.run)).unwrap(),
            host_log(&en.start.run)
        );
    }
    assert!(
        entries
            .iter()
            .any(|en| en.finish.as_ref().unwrap().reattached)
    );
}

/// Ends of one target's invocations as the peer lists them: (start, finish).
async fn invocation_windows(region: &str, command: &str) -> Vec<(f64, f64)> {
    let ssm = aws_sdk_ssm::Client::new(&moto::sdk(region).await);
    let listed = ssm
        .list_command_invocations()
        .command_id(command)
        .details(true)
        .send()
        .await
        .unwrap();
    listed
        .command_invocations()
        .iter()
        .filter_map(|i| {
            let p = i.command_plugins().first()?;
            Some((
                p.response_start_date_time()?.as_secs_f64(),
                p.response_finish_date_time()?.as_secs_f64(),
            ))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_run_is_one_ssm_command_whose_limits_ssm_enforces() {
    let region = "ap-east-1";
    let home = tempfile::tempdir().unwrap();
    let ids = run_instances(region, 6, "fleet-web").await;
    let root = |n: usize| home.path().join("roots").join(n.to_string());
    for (n, id) in ids.iter().enumerate() {
        std::fs::create_dir_all(root(n).join("opt")).unwrap();
        // All know their role but the third; the sixth's agent is offline.
        if n != 2 {
            std::fs::write(root(n).join("opt/role"), format!("web {n}\n")).unwrap();
        }
        manage(
            id,
            &ManagedHost {
                region,
                root: &root(n),
                env: vec![],
                path_prepend: vec![],
                ping: if n == 5 { "ConnectionLost" } else { "Online" },
            },
        );
    }
    let cfg = home.path().join("opsdeck.toml");
    std::fs::write(
        &cfg,
        format!("[[context]]\nname = \"peer\"\nprovider = \"aws\"\nregions = [\"{region}\"]\n"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = aws_cli(home.path(), &cfg, fixed_now(), true, args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let t0 = epoch();
    // 30,000 bytes of output each: more than SSM's 24,000 characters.
    let (code, out, err) = run(&[
        "run",
        "command",
        "tag=Project=fleet-web",
        "command=cat opt/role && sleep 0.4 && seq 1 6000 | sed 's/^/line /'",
        "--yes",
        "--confirm",
        "tag:Project=fleet-web",
        "--max-concurrency",
        "2",
        "--max-errors",
        "3",
        "--json",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["summary"],
        serde_json::json!({"succeeded": 4, "failed": 1, "refused": 1}),
        "{err}"
    );
    let status = |id: &str| {
        v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["instance"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&ids[2]), "failed");
    assert_eq!(status(&ids[5]), "refused");
    // One SendCommand for the five reachable targets, none to the offline
    // one; the other commands read the rest of an output SSM cut (a run
    // protocol tail on that one host).
    let sends: Vec<_> = peer_calls()
        .into_iter()
        .filter(|c| c.t >= t0 && c.action == "SendCommand")
        .filter(|c| {
            ids.iter()
                .any(|i| c.instance.as_deref().unwrap_or("").contains(i.as_str()))
        })
        .collect();
    let fleet: Vec<_> = sends
        .iter()
        .filter(|c| c.instance.as_deref().unwrap().contains(','))
        .collect();
    assert_eq!(fleet.len(), 1, "{sends:?}");
    assert_eq!(fleet[0].instance.as_deref().unwrap().split(',').count(), 5);
    assert!(
        !sends
            .iter()
            .any(|c| c.instance.as_deref().unwrap().contains(&ids[5]))
    );
    eprintln!(
        "fleet of 5 with 59 kB of output each: 1 fleet command, {} tails for the rest of the cut outputs",
        sends.len() - 1
    );
    // SSM ran at most two at once.
    let command = v["commands"][0]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string();
    let windows = invocation_windows(region, &command).await;
    assert_eq!(windows.len(), 5);
    let peak = windows
        .iter()
        .map(|(s, _)| windows.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap();
    assert!(peak <= 2, "{peak} ran at once");
    // Every target's complete output is journaled, as its host logged it.
    let journal = Journal::new(&home.path().join("state/opsdeck"));
    let (entries, _) = journal.entries();
    assert_eq!(entries.len(), 5, "one record per target sent");
    for (n, id) in ids.iter().enumerate().take(5) {
        let job = format!("{}-{id}", v["run"].as_str().unwrap());
        let host_log =
            std::fs::read_to_string(root(n).join(format!("var/lib/opsdeck/jobs/{job}.log")))
                .unwrap();
        assert_eq!(
            std::fs::read_to_string(journal.output_path(&job)).unwrap(),
            host_log
        );
        if n != 2 {
            assert!(host_log.len() > 30_000);
            assert!(host_log.contains(&format!("web {n}\n")));
            assert!(
                host_log.ends_with("line 6000\n==> opsdeck result: succeeded\n"),
                "{}",
                &host_log[host_log.len() - 200..]
            );
        }
    }

    // No errors allowed, one at a time, three that fail: SSM stops sending
    // after the first failure.
    for n in [0, 1] {
        std::fs::remove_file(root(n).join("opt/role")).unwrap();
    }
    let (code, out, err) = run(&[
        "run",
        "command",
        "tag=Project=fleet-web",
        "command=cat opt/role",
        "--yes",
        "--confirm",
        "tag:Project=fleet-web",
        "--max-concurrency",
        "1",
        "--max-errors",
        "0",
        "--json",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["failed"], 1, "{out}");
    assert!(v["summary"]["not started"].as_u64().unwrap() >= 2, "{out}");

    // Every tagged instance reachable: one command by tag (SSM's Targets),
    // however many there are.
    manage(
        &ids[5],
        &ManagedHost {
            region,
            root: &root(5),
            env: vec![],
            path_prepend: vec![],
            ping: "Online",
        },
    );
    let t1 = epoch();
    let (code, out, err) = run(&[
        "run",
        "command",
        "tag=Project=fleet-web",
        "command=echo ok from $AWS_SSM_INSTANCE_ID",
        "--yes",
        "--confirm",
        "tag:Project=fleet-web",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"], serde_json::json!({"succeeded": 6}), "{err}");
    let sends: Vec<_> = peer_calls()
        .into_iter()
        .filter(|c| c.t >= t1 && c.action == "SendCommand")
        .collect();
    assert_eq!(v["commands"].as_array().unwrap().len(), 1);
    assert!(
        sends.iter().any(|c| c.instance.is_none()),
        "sent by tag, with no instance ids: {sends:?}"
    );
    for id in &ids {
        assert!(err.contains(&format!("[{id}] ok from {id}")), "{err}");
    }

    // The same from the console, in a terminal: the palette names the tag,
    // the form and the confirmation come once, Runs sums the fleet up.
    let env = format!(
        "AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE={d}/no-aws-config AWS_SHARED_CREDENTIALS_FILE={d}/no-aws-credentials OPSDECK_FLEET_POLL_MS=300",
        moto(),
        d = home.path().display()
    );
    let tmux = tmux::Tmux::console_args(
        "opsdeck-peer-fleet",
        home.path(),
        &env,
        &format!("--config {} --context peer", cfg.display()),
    );
    tmux.send(&["2"]);
    tmux.wait_for("fleet-web-host", Duration::from_secs(30));
    tmux.send(&[":"]);
    tmux.literal("run host-stats tag:Project=fleet-web");
    tmux.send(&["Enter"]);
    tmux.wait_for(
        "every instance with tag:Project=fleet-web (6)",
        Duration::from_secs(10),
    );
    tmux.send(&["Enter"]);
    tmux.wait_for(
        "host-stats on tag:Project=fleet-web",
        Duration::from_secs(10),
    );
    tmux.send(&["Enter"]);
    tmux.wait_for(
        "6 succeeded · 0 failed · 0 running · 0 refused · 0 not started",
        Duration::from_secs(60),
    );
    tmux.send(&["q"]);
    tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(10));
}

/// Ctrl-C on a fleet run is CancelCommand: the running target's process
/// group is killed by the agent, and no more targets are started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_a_fleet_run_is_cancel_command() {
    let region = "me-central-1";
    let home = tempfile::tempdir().unwrap();
    let ids = run_instances(region, 3, "fleet-cancel").await;
    for (n, id) in ids.iter().enumerate() {
        let root = home.path().join("roots").join(n.to_string());
        std::fs::create_dir_all(&root).unwrap();
        manage(
            id,
            &ManagedHost {
                region,
                root: &root,
                env: vec![],
                path_prepend: vec![],
                ping: "Online",
            },
        );
    }
    let cfg = home.path().join("opsdeck.toml");
    std::fs::write(
        &cfg,
        format!("[[context]]\nname = \"peer\"\nprovider = \"aws\"\nregions = [\"{region}\"]\n"),
    )
    .unwrap();
    let t0 = epoch();
    let child = aws_cli(
        home.path(),
        &cfg,
        fixed_now(),
        true,
        &[
            "run",
            "command",
            "tag=Project=fleet-cancel",
            "command=echo started; sleep 60",
            "--yes",
            "--confirm",
            "tag:Project=fleet-cancel",
            "--max-concurrency",
            "1",
            "--json",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until one target runs on its host.
    let t = Instant::now();
    let started = || {
        (0..3).any(|n| {
            std::fs::read_dir(
                home.path()
                    .join("roots")
                    .join(n.to_string())
                    .join("var/lib/opsdeck/jobs"),
            )
            .map(|d| {
                d.flatten()
                    .any(|f| f.file_name().to_string_lossy().ends_with(".pid"))
            })
            .unwrap_or(false)
        })
    };
    while !started() {
        assert!(t.elapsed() < Duration::from_secs(30), "no target started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
    assert!(epoch() - t0 < 45.0, "the sleeping target was not stopped");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["summary"],
        serde_json::json!({"cancelled": 1, "not started": 2}),
        "{stderr}"
    );
    assert!(
        peer_calls()
            .iter()
            .any(|c| c.t >= t0 && c.action == "CancelCommand"),
        "CancelCommand reached the peer"
    );
    let journal = Journal::new(&home.path().join("state/opsdeck"));
    let (entries, _) = journal.entries();
    assert_eq!(entries.len(), 3);
    assert!(
        entries
            .iter()
            .all(|e| e.finish.as_ref().is_some_and(|f| f.status == "cancelled"))
    );
}
