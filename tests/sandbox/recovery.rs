//! EC2 recovery on the sandbox, driven headless the way an operator would:
//! `snapshot-instance` (the monthly image, with retention) and
//! `recover-instance` (the PMO document's procedure: newest image → a new
//! instance like the lost one → its Elastic IP → code from the code bucket
//! → database from the newest S3 backup → health → DNS), their preview,
//! their guards, and a failure that says what exists.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{run_cli, sim_sandbox};
use opsdeck::provider::sandbox::estate::{self, PMO_HOST};
use std::path::Path;

fn sandbox(home: &Path) -> std::path::PathBuf {
    home.join("data/opsdeck/sandbox")
}

/// The sandbox's estate.json as JSON.
fn estate_json(home: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(sandbox(home).join("estate.json")).unwrap())
        .unwrap()
}

/// The estate's images of `instance`, oldest first: (id, name).
fn images(home: &Path, instance: &str) -> Vec<(String, String)> {
    let e = estate::load(&sandbox(home)).unwrap();
    let mut v: Vec<_> = e
        .images
        .iter()
        .filter(|m| m.image.source_instance.as_deref() == Some(instance))
        .map(|m| (m.image.created, m.image.id.clone(), m.image.name.clone()))
        .collect();
    v.sort();
    v.into_iter().map(|(_, id, name)| (id, name)).collect()
}

/// The instance is lost: stopped, its agent gone.
fn lose(home: &Path, id: &str) {
    let mut e = estate::load(&sandbox(home)).unwrap();
    let i = e.instances.iter_mut().find(|i| i.id == id).unwrap();
    i.state = "stopped".into();
    i.ssm_ping = opsdeck::domain::SsmPing::ConnectionLost;
    estate::save(&sandbox(home), &e).unwrap();
}

fn instances(home: &Path) -> Vec<serde_json::Value> {
    let (code, out, err) = run_cli(home, &["ls", "instances", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn snapshot_instance_makes_an_image_and_keeps_only_the_newest() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    sim_sandbox(&sandbox(home), common::fixed_now());
    let seeded = images(home, PMO_HOST);
    assert_eq!(seeded.len(), 1, "last month's image of the PMO host");

    // The preview says which calls will be made, with their arguments.
    let (code, out, _) = run_cli(
        home,
        &[
            "run",
            "snapshot-instance",
            "instance=cohuron-pmo-api",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains(&format!(
        "call: ec2 CreateImage InstanceId={PMO_HOST} Name=opsdeck-{PMO_HOST}-{{stamp}} NoReboot=true"
    )));
    assert!(out.contains("for each image but the newest 3: DeregisterImage"));

    // A production instance: nothing without its name typed.
    let (code, _, err) = run_cli(
        home,
        &[
            "run",
            "snapshot-instance",
            "instance=cohuron-pmo-api",
            "--yes",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert_eq!(images(home, PMO_HOST), seeded, "refused: nothing made");
    // Read-only mode refuses a change.
    let (code, _, err) = run_cli(
        home,
        &[
            "run",
            "snapshot-instance",
            "instance=cohuron-pmo-api",
            "--read-only",
            "--yes",
            "--confirm",
            "cohuron-pmo-api",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("read-only"), "{err}");

    let snap = |retain: &str, at: &str| {
        common::run_cli_at(
            home,
            at.parse().unwrap(),
            &[
                "run",
                "snapshot-instance",
                "instance=cohuron-pmo-api",
                &format!("retain={retain}"),
                "--yes",
                "--confirm",
                "cohuron-pmo-api",
            ],
        )
    };
    let (code, out, err) = snap("2", "2026-03-02T10:00:00Z");
    assert_eq!(code, 0, "{out}{err}");
    let after_first = images(home, PMO_HOST);
    assert_eq!(after_first.len(), 2, "{out}");
    assert_eq!(after_first[0], seeded[0]);
    assert_eq!(
        after_first[1].1,
        format!("opsdeck-{PMO_HOST}-20260302-100000")
    );
    // The image holds the host's tree as it was.
    let copy = sandbox(home).join("images").join(&after_first[1].0);
    assert!(copy.join("app/.env").exists());
    assert!(out.contains("==> opsdeck report: images_pruned=0"), "{out}");

    // A month later with retain=2: the oldest (last month's) goes, with its snapshot.
    let (code, out, err) = snap("2", "2026-04-02T10:00:00Z");
    assert_eq!(code, 0, "{out}{err}");
    let now = images(home, PMO_HOST);
    assert_eq!(now.len(), 2);
    assert_eq!(now[0], after_first[1]);
    assert!(!now.iter().any(|m| m == &seeded[0]));
    assert!(
        out.contains(&format!("deregistered {} ", seeded[0].0))
            && out.contains("deleted its snapshots snap-"),
        "{out}"
    );
    assert!(!sandbox(home).join("images").join(&seeded[0].0).exists());
    assert!(out.contains("==> opsdeck report: images_pruned=1"), "{out}");
    assert!(
        out.contains("==> estate now (what this run made or changed):"),
        "{out}"
    );

    // Journaled like any run: the procedure's text, its end, its figures.
    let (code, hist, _) = run_cli(home, &["history", "--json"]);
    assert_eq!(code, 0);
    let runs: serde_json::Value = serde_json::from_str(&hist).unwrap();
    let last = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["start"]["runbook"] == "snapshot-instance"
                && r["start"]["at"].as_str().unwrap().starts_with("2026-04-02")
        })
        .cloned()
        .unwrap();
    assert_eq!(last["finish"]["status"], "succeeded", "{last}");
    assert_eq!(last["finish"]["report"]["images_pruned"], "1", "{last}");
}

#[test]
fn recover_instance_brings_the_lost_pmo_host_back_on_a_new_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let _db = common::real_db_sandbox(home);
    let count_tasks = |instance: &str, name: &str| -> String {
        let (code, out, err) = run_cli(
            home,
            &[
                "run",
                "command",
                &format!("instance={instance}"),
                "command=docker exec pmo-postgres psql -U app -d app -A -t -c 'SELECT count(*) FROM tasks'",
                "--yes",
                "--confirm",
                name,
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
        out.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()))
            .unwrap_or_default()
            .to_string()
    };
    let before = count_tasks(PMO_HOST, "cohuron-pmo-api");
    assert!(before.parse::<u32>().unwrap() > 1000, "{before}");
    // The host is lost, and its database with it.
    let (code, out, err) = run_cli(
        home,
        &[
            "run",
            "command",
            "instance=cohuron-pmo-api",
            "command=docker exec pmo-postgres psql -U app -d postgres -c 'DROP DATABASE app WITH (FORCE)'",
            "--yes",
            "--confirm",
            "cohuron-pmo-api",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    lose(home, PMO_HOST);

    // An offline agent does not stop the recovery (it sends the old host nothing).
    let (code, out, err) = run_cli(
        home,
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
    let list = instances(home);
    let new = list
        .iter()
        .find(|i| i["name"] == "cohuron-pmo-api-recovered")
        .unwrap_or_else(|| panic!("no recovered instance: {list:?}"));
    let new_id = new["id"].as_str().unwrap().to_string();
    let old = list.iter().find(|i| i["id"] == PMO_HOST).unwrap();
    assert_ne!(new_id, PMO_HOST);
    assert_eq!(new["state"], "running");
    assert_eq!(new["ssm_ping"], "online");
    assert_eq!(new["instance_type"], old["instance_type"]);
    assert_eq!(new["region"], old["region"]);
    assert_eq!(new["tags"]["Project"], "cohuron-pmo");
    assert_eq!(new["tags"]["Environment"], "production");
    // Launched keeping what protects it: key pair, metadata options, volume.
    assert!(
        out.contains("and key pair cohuron-pmo-key, metadata IMDSv1 allowed, volumes /dev/sda1 gp3 30 GiB encrypted"),
        "{out}"
    );
    let launched = &estate_json(home)["launched"][new_id.as_str()];
    assert_eq!(launched["key_name"], "cohuron-pmo-key");
    assert_eq!(launched["metadata"]["http_tokens"], "optional");
    assert_eq!(launched["volumes"][0]["encrypted"], true);
    // The Elastic IP moved: no DNS change needed.
    assert_eq!(new["public_ip"], "100.28.36.248");
    assert!(old["public_ip"].is_null(), "{old}");
    assert!(
        out.contains("==> opsdeck report: dns_change=none: the Elastic IP moved with the service"),
        "{out}"
    );
    // The code came from the code bucket into /app and runs (deploy.sh);
    // the database from the document's db/latest.sql.gz.
    let root = sandbox(home).join("hosts").join(&new_id);
    assert_eq!(
        std::fs::read_to_string(root.join("app/api/VERSION")).unwrap(),
        "api/latest.tar.gz\n"
    );
    assert!(
        out.contains(
            "deploy.sh: pmo-api and pmo-web restarted on api/latest.tar.gz and web/latest.tar.gz"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("{PMO_HOST} is stopped: nothing to stop")),
        "{out}"
    );
    assert!(
        out.contains("==> opsdeck report: backup=db/latest.sql.gz"),
        "{out}"
    );
    assert!(
        out.contains("==> opsdeck report: backup_age_hours=31"),
        "{out}"
    );
    assert!(
        out.contains("GET http://localhost:4000/api/health: {\"status\":\"ok\""),
        "{out}"
    );
    assert_eq!(count_tasks(&new_id, "cohuron-pmo-api-recovered"), before);
    assert!(out.contains("==> opsdeck result: succeeded"), "{out}");
}

#[test]
fn a_failed_recovery_step_says_what_exists_now() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    sim_sandbox(&sandbox(home), common::fixed_now());
    lose(home, PMO_HOST);
    // A hostile parameter is refused before anything is called.
    let (code, _, err) = run_cli(
        home,
        &[
            "run",
            "recover-instance",
            "instance=cohuron-pmo-api",
            "suffix=-x;reboot",
            "--yes",
            "--confirm",
            "cohuron-pmo-api",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(instances(home).len(), 6, "nothing launched");
    // An artifact that is not in the bucket: the run stops after the launch.
    let (code, out, err) = run_cli(
        home,
        &[
            "run",
            "recover-instance",
            "instance=cohuron-pmo-api",
            "code_artifacts=api/v9.9.9.tar.gz",
            "--yes",
            "--confirm",
            "cohuron-pmo-api",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let new_id = instances(home)
        .iter()
        .find(|i| i["name"] == "cohuron-pmo-api-recovered")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .unwrap();
    assert!(
        out.contains("==> opsdeck result: failed step=\"restore the latest code from the code bucket\" exit=1"),
        "{out}"
    );
    let estate_part = out
        .split("==> estate now: the run stopped")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        estate_part.contains(&format!(
            "instance {new_id} (cohuron-pmo-api-recovered): launched by this run"
        )),
        "{out}"
    );
    assert!(
        estate_part.contains("Elastic IP 100.28.36.248 (eipalloc-")
            && estate_part.contains(&format!("moved from {PMO_HOST} to {new_id}")),
        "{out}"
    );
    // The operator cleans up: the new instance is terminated (its name
    // typed: destructive), and the Elastic IP on it is let go.
    let (code, _, err) = run_cli(
        home,
        &[
            "run",
            "terminate-instance",
            &format!("instance={new_id}"),
            "--yes",
        ],
    );
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = run_cli(
        home,
        &[
            "run",
            "terminate-instance",
            &format!("instance={new_id}"),
            "--yes",
            "--confirm",
            "cohuron-pmo-api-recovered",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "call: ec2 TerminateInstances InstanceIds=[{new_id}]"
        )),
        "{out}"
    );
    let gone = instances(home)
        .into_iter()
        .find(|i| i["id"] == new_id.as_str())
        .unwrap();
    assert_eq!(gone["state"], "terminated");
    assert!(gone["public_ip"].is_null());
    let e = estate::load(&sandbox(home)).unwrap();
    assert!(
        e.addresses
            .iter()
            .all(|a| a.address.instance.as_deref() != Some(new_id.as_str()))
    );

    // Without an image there is nothing to recover from: said before any launch.
    let tmp2 = tempfile::tempdir().unwrap();
    sim_sandbox(&sandbox(tmp2.path()), common::fixed_now());
    let (code, out, _) = run_cli(
        tmp2.path(),
        &[
            "run",
            "recover-instance",
            "instance=multi-tenant-platform",
            "--yes",
            "--confirm",
            "multi-tenant-platform",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("no available image of i-0a4f1c2e9b7d30001"),
        "{out}"
    );
    assert!(
        out.contains("==> estate: this run made nothing and changed nothing in the cloud"),
        "{out}"
    );
}

/// Waits until `out` (a file the run writes) holds `what`.
fn wait_for(out: &Path, what: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if text.contains(what) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {what:?} in:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A recovery whose health check waits for an endpoint that never answers.
fn slow_recovery(home: &Path, out: &Path) -> std::process::Child {
    common::cli(home)
        .args([
            "run",
            "recover-instance",
            "instance=cohuron-pmo-api",
            "db=",
            "health_url=http://localhost:4999/never",
            "--yes",
            "--confirm",
            "cohuron-pmo-api",
        ])
        .env("OPSDECK_HEALTH_TIMEOUT", "120")
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn ctrl_c_stops_a_procedure_and_a_killed_one_is_closed_as_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    sim_sandbox(&sandbox(home), common::fixed_now());
    lose(home, PMO_HOST);
    let out = home.join("out.txt");

    // Ctrl-C while a script part runs on the new instance.
    let mut child = slow_recovery(home, &out);
    wait_for(&out, "==> [8/9] health check");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(4), "cancelled");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("==> opsdeck result: cancelled"), "{text}");
    assert!(
        text.contains("==> estate now: the run stopped") && text.contains("launched by this run"),
        "{text}"
    );
    // The part's job on the new instance was ended, not left looping.
    let new_id = instances(home)
        .iter()
        .find(|i| i["name"] == "cohuron-pmo-api-recovered")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .unwrap();
    let jobs = sandbox(home)
        .join("hosts")
        .join(&new_id)
        .join("var/lib/opsdeck/jobs");
    let exits: Vec<String> = std::fs::read_dir(&jobs)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".exit"))
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    assert!(exits.iter().any(|c| c == "143"), "{exits:?}");
    let (_, hist, _) = run_cli(home, &["history", "--json"]);
    assert!(hist.contains("\"status\": \"cancelled\""), "{hist}");

    // A killed opsdeck: nothing can follow its procedure (its cloud steps
    // ran in it); the next opsdeck closes it as lost and says why.
    lose(home, &new_id);
    let mut child = slow_recovery(home, &out);
    wait_for(&out, "==> [8/9] health check");
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, _, err) = run_cli(home, &["attach"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("closed as lost (the opsdeck that started it stopped): recover"),
        "{err}"
    );
    let (_, hist, _) = run_cli(home, &["history", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&hist).unwrap();
    let lost = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["finish"]["status"] == "lost")
        .unwrap_or_else(|| panic!("{hist}"));
    assert!(
        lost["finish"]["error"]
            .as_str()
            .unwrap()
            .contains("a procedure's last script part may still run on its instance"),
        "{lost}"
    );
    // It does: the test ends the job the killed opsdeck left (its process
    // group), as an operator would, rather than leave it behind.
    let mut ended = 0;
    for host in std::fs::read_dir(sandbox(home).join("hosts"))
        .unwrap()
        .flatten()
    {
        let jobs = host.path().join("var/lib/opsdeck/jobs");
        for f in std::fs::read_dir(&jobs).into_iter().flatten().flatten() {
            let p = f.path();
            if p.extension().is_some_and(|x| x == "pid") && !p.with_extension("exit").exists() {
                let pid: i32 = std::fs::read_to_string(&p).unwrap().trim().parse().unwrap();
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
                ended += 1;
            }
        }
    }
    assert_eq!(
        ended, 1,
        "the killed opsdeck's script part was still running"
    );
}

#[test]
fn cloud_steps_are_checked_when_a_runbook_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let f = d.join("bad.toml");
    let head = "name = \"x\"\ntitle = \"t\"\ntarget = \"instance\"\ndanger = \"change\"\n";
    let cases: [(String, &str); 7] = [
        (
            format!("{head}[[param]]\nname = \"api_token\"\ntype = \"string\"\npattern = '^[a-z]+$'\n[[step]]\nname = \"s\"\ncloud = \"create-image\"\nwith = {{ instance = \"{{instance}}\", name = \"x-{{api_token}}\" }}\n"),
            "field `with`: step `s`: `name` refers to {api_token}, a secret by its name: a call's arguments are shown and journaled",
        ),
        (
            format!("{head}[[step]]\nname = \"s\"\ncloud = \"reboot\"\nwith = {{}}\n"),
            "bad.toml:7:9: field `cloud`: step `s`: no cloud action `reboot` (known: create-image, prune-images, newest-image, launch-like, move-address, terminate, stop)",
        ),
        (
            format!("{head}[[step]]\nname = \"s\"\ncloud = \"create-image\"\nwith = {{ instance = \"{{instance}}\" }}\n"),
            "bad.toml:7:9: field `with`: step `s`: `create-image` takes with = { instance, name }",
        ),
        (
            format!("{head}[[step]]\nname = \"s\"\ncloud = \"create-image\"\nwith = {{ instance = \"{{instance}}\", name = \"{{new_instance}}-x\" }}\n"),
            "field `with`: step `s`: `name` refers to {new_instance}, which nothing before it gives (known: instance, stamp)",
        ),
        (
            format!("{head}[[step]]\nname = \"s\"\non = \"new_instance\"\nrun = \"true\"\n"),
            "bad.toml:7:6: field `on`: step `s`: `on = \"new_instance\"` is not an instance an earlier cloud step gives (none does)",
        ),
        (
            "name = \"x\"\ntitle = \"t\"\ntarget = \"instance\"\ndanger = \"read\"\n[[step]]\nname = \"s\"\ncloud = \"terminate\"\nwith = { instance = \"{instance}\" }\n".to_string(),
            "field `danger`: step `s`: `terminate` changes the estate; the runbook cannot be danger = \"read\"",
        ),
        (
            format!("{head}[[step]]\nname = \"s\"\nrun = \"true\"\ncloud = \"terminate\"\nwith = {{ instance = \"{{instance}}\" }}\n"),
            "bad.toml:6:8: field `run`: step `s`: give either `run` (a script) or `cloud` (an action)",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&f, &text).unwrap();
        let (code, _, err) = run_cli(d, &["runbook", "check", f.to_str().unwrap()]);
        assert_eq!(code, 2, "{text}");
        let got = err.replace(&format!("{}/", d.display()), "");
        assert!(got.contains(want), "want {want}\ngot  {got}");
    }
    // A procedure runs on one instance at a time: not as a fleet.
    sim_sandbox(&sandbox(d), common::fixed_now());
    let (code, _, err) = run_cli(
        d,
        &[
            "run",
            "snapshot-instance",
            "tag=Project=cohuron-pmo",
            "--yes",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("`snapshot-instance` has cloud steps: it runs on one instance at a time"),
        "{err}"
    );
    // A user's own cloud runbook joins the library and runs on the sandbox.
    sim_sandbox(&sandbox(d), common::fixed_now());
    let rb = d.join("config/opsdeck/runbooks");
    std::fs::create_dir_all(&rb).unwrap();
    std::fs::write(
        rb.join("image-now.toml"),
        "name = \"image-now\"\ntitle = \"an image of {instance} now\"\ntarget = \"instance\"\ndanger = \"change\"\n[[step]]\nname = \"image it\"\ncloud = \"create-image\"\nwith = { instance = \"{instance}\", name = \"before-change-{instance}-{stamp}\" }\n[[step]]\nname = \"say which\"\nrun = 'say \"made $image\"'\n",
    )
    .unwrap();
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "image-now",
            "instance=multi-tenant-platform",
            "--yes",
            "--confirm",
            "multi-tenant-platform",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let made = images(d, opsdeck::provider::sandbox::estate::MT_HOST);
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0].1,
        "before-change-i-0a4f1c2e9b7d30001-20260302-100000"
    );
    assert!(out.contains(&format!("    made {}", made[0].0)), "{out}");
}

/// A terminated instance's Elastic IP is free (EC2 lets go of it): without
/// it named, the recovery says the DNS change to make; named, it is put
/// on the new instance.
#[test]
fn a_terminated_instances_elastic_ip_is_named_to_recover_it() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    sim_sandbox(&sandbox(home), common::fixed_now());
    let (code, out, err) = run_cli(
        home,
        &[
            "run",
            "terminate-instance",
            "instance=cohuron-pmo-api",
            "--yes",
            "--confirm",
            "cohuron-pmo-api",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let recover = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "recover-instance",
            "instance=cohuron-pmo-api",
            "db=",
            "health_url=",
            "--yes",
            "--confirm",
            "cohuron-pmo-api",
        ];
        args.extend_from_slice(extra);
        run_cli(home, &args)
    };
    let (code, out, err) = recover(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("{PMO_HOST} had no Elastic IP: nothing to move")),
        "{out}"
    );
    let first = instances(home)
        .into_iter()
        .find(|i| i["name"] == "cohuron-pmo-api-recovered")
        .unwrap();
    let ephemeral = first["public_ip"].as_str().unwrap().to_string();
    assert!(ephemeral.starts_with("54."), "{first}");
    assert!(
        out.contains(&format!("==> opsdeck report: dns_change=point the DNS records at {ephemeral} (they point at the lost instance's address)")),
        "{out}"
    );
    let (code, out, err) = recover(&["elastic_ip=100.28.36.248", "suffix=-recovered-2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("call: ec2 DescribeAddresses (100.28.36.248); AssociateAddress"),
        "{out}"
    );
    let second = instances(home)
        .into_iter()
        .find(|i| i["name"] == "cohuron-pmo-api-recovered-2")
        .unwrap();
    assert_eq!(second["public_ip"], "100.28.36.248");
    assert!(
        out.contains(&format!(
            "Elastic IP 100.28.36.248 moved from nothing to {}",
            second["id"].as_str().unwrap()
        )),
        "{out}"
    );
    // One that does not exist is said, after the launch (which stays, said).
    let (code, out, _) = recover(&["elastic_ip=203.0.113.9", "suffix=-recovered-3"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("==> FAILED: no Elastic IP 203.0.113.9 in us-east-1"),
        "{out}"
    );
    assert!(
        out.contains("cohuron-pmo-api-recovered-3): launched by this run"),
        "{out}"
    );
}
