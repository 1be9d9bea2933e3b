//! The seed hosts over SSM: the PMO, Enssol and MAP hosts of a sandbox,
//! each built as its document describes it, as managed instances of the
//! executing peer, configured with the sandbox's own `[[host]]`, `[[app]]`
//! and `[[database]]` entries (only the instance ids are the peer's). Their
//! own runbooks end over SSM as they end on the sandbox: PMO's artifact
//! deploy and rollback and its plain-SQL backups, Enssol's host services
//! and SQLite, MAP's Django deploy, gateway and media volume.

use super::{instance_name, outcome};
use crate::common::{self, fixed_now};
use crate::moto::{ManagedHost, manage, run_instances, sdk};
use crate::peer_cli::aws_cli;
use aws_sdk_ec2::types::Tag;
use opsdeck::provider::sandbox::SANDBOX_CONFIG;
use opsdeck::provider::sandbox::estate::{ENSSOL_HOST, MAP_HOST, MT_HOST, PMO_HOST};
use std::path::Path;

/// The sandbox's config from its first `[[host]]` to its schedules, for the
/// peer's context, each sandbox instance id replaced by its peer's.
fn peer_config(region: &str, ids: &[(&str, String)]) -> String {
    let start = SANDBOX_CONFIG.find("[[host]]").unwrap();
    let end = SANDBOX_CONFIG
        .find("[[schedule]]")
        .unwrap_or(SANDBOX_CONFIG.len());
    let mut body = SANDBOX_CONFIG[start..end].to_string();
    for (host, id) in ids {
        body = body.replace(host, id);
    }
    format!("[[context]]\nname = \"peer\"\nprovider = \"aws\"\nregions = [\"{region}\"]\n\n{body}")
}

/// The full path of `database`'s newest backup on its host (not in S3).
fn newest(backups_json: &str, database: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(backups_json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|b| {
            b["database"] == database && !b["origin"].as_str().unwrap_or("").starts_with("s3://")
        })
        .filter_map(|b| b["path"].as_str())
        .max_by_key(|p| p.rsplit('/').next().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("no backup of {database} in {backups_json}"))
        .to_string()
}

fn output(c: &mut std::process::Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_hosts_runbooks_end_over_ssm_as_on_the_sandbox() {
    let region = "eu-west-3";
    let home = tempfile::tempdir().unwrap();
    let d = home.path();
    let sandbox_dir = d.join("data/opsdeck/sandbox");
    // Real PostgreSQL: the validations and restores run against it.
    let _db = common::real_db_sandbox(d);
    let hosts = [PMO_HOST, ENSSOL_HOST, MAP_HOST, MT_HOST];
    let moto_ids = run_instances(region, hosts.len() as i32, "peer-seed").await;
    let ids: Vec<(&str, String)> = hosts.iter().copied().zip(moto_ids).collect();
    let cfg = d.join("opsdeck.toml");
    std::fs::write(&cfg, peer_config(region, &ids)).unwrap();
    // The peer's runs a few minutes after the sandbox's (their backups get
    // their own names).
    let peer_now = fixed_now() + chrono::Duration::minutes(5);
    for (host, id) in &ids {
        let mut env: Vec<(String, String)> = common::sim_env(peer_now).into_iter().collect();
        env.push(("OPSDECK_HOST".into(), host.to_string()));
        manage(
            id,
            &ManagedHost {
                region,
                root: &sandbox_dir.join("hosts").join(host),
                env,
                path_prepend: vec![sandbox_dir.join("bin")],
                ping: "Online",
            },
        );
    }
    let peer_id = |host: &str| ids.iter().find(|(h, _)| *h == host).unwrap().1.clone();
    let sandbox = |args: &[&str]| output(common::cli(d).args(args));
    let peer = |args: &[&str]| output(&mut aws_cli(d, &cfg, peer_now, true, args));
    let (_, sandbox_instances, _) = sandbox(&["ls", "instances", "--json"]);
    // Each peer instance carries its sandbox host's tags (its Name, its
    // Environment: the same guards on both sides).
    let ec2 = aws_sdk_ec2::Client::new(&sdk(region).await);
    let listed: serde_json::Value = serde_json::from_str(&sandbox_instances).unwrap();
    for (host, id) in &ids {
        let i = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == *host)
            .unwrap();
        let mut req = ec2.create_tags().resources(id);
        for (k, v) in i["tags"].as_object().unwrap() {
            req = req.tags(Tag::builder().key(k).value(v.as_str().unwrap()).build());
        }
        req.send().await.unwrap();
    }
    let (code, peer_instances, err) = peer(&["ls", "instances", "--json"]);
    assert_eq!(code, 0, "{err}");

    // (host, runbook, parameters, the database whose newest backup is
    // BACKUP); INSTANCE, NAME, BACKUP and ARCHIVE are filled per side.
    let table: &[(&str, &str, &[&str], &str)] = &[
        (PMO_HOST, "host-stats", &["instance=INSTANCE"], ""),
        (
            PMO_HOST,
            "deploy-artifact",
            &["instance=INSTANCE", "--confirm", "NAME"],
            "",
        ),
        (
            PMO_HOST,
            "rollback-artifact",
            &["instance=INSTANCE", "--confirm", "NAME"],
            "",
        ),
        (
            PMO_HOST,
            "backup",
            &["database=app", "--confirm", "app"],
            "",
        ),
        (
            PMO_HOST,
            "validate-backup",
            &["backup=BACKUP", "--confirm", "app"],
            "app",
        ),
        (
            PMO_HOST,
            "restore-database",
            &["backup=BACKUP", "--confirm", "app"],
            "app",
        ),
        (ENSSOL_HOST, "service-health", &["instance=INSTANCE"], ""),
        (
            ENSSOL_HOST,
            "service-logs",
            &["instance=INSTANCE", "unit=gunicorn"],
            "",
        ),
        (
            ENSSOL_HOST,
            "service-restart",
            &["instance=INSTANCE", "unit=gunicorn", "--confirm", "NAME"],
            "",
        ),
        (
            ENSSOL_HOST,
            "backup",
            &["database=enssol", "--confirm", "enssol"],
            "",
        ),
        (
            ENSSOL_HOST,
            "validate-backup",
            &["backup=BACKUP", "--confirm", "enssol"],
            "enssol",
        ),
        (
            ENSSOL_HOST,
            "restore-database",
            &["backup=BACKUP", "--confirm", "enssol"],
            "enssol",
        ),
        (MAP_HOST, "gateway-health", &["instance=INSTANCE"], ""),
        (
            MAP_HOST,
            "deploy",
            &[
                "tenant=map-tts-production",
                "--confirm",
                "map-tts-production",
            ],
            "",
        ),
        (
            MAP_HOST,
            "rollback",
            &[
                "tenant=map-tts-production",
                "--confirm",
                "map-tts-production",
            ],
            "",
        ),
        (
            MAP_HOST,
            "backup-volume",
            &["instance=INSTANCE", "--confirm", "NAME"],
            "",
        ),
        (
            MAP_HOST,
            "restore-volume",
            &["instance=INSTANCE", "archive=ARCHIVE", "--confirm", "NAME"],
            "",
        ),
        (
            MAP_HOST,
            "backup",
            &["database=auth_db", "--confirm", "auth_db"],
            "",
        ),
    ];

    let mut archive = [String::new(), String::new()];
    let mut ran = Vec::new();
    for (host, runbook, params, database) in table {
        let mut ends = Vec::new();
        for (side, name) in ["sandbox", "peer"].into_iter().enumerate() {
            type Run<'a> = &'a dyn Fn(&[&str]) -> (i32, String, String);
            let (instance, instances, run): (String, &str, Run) = if side == 0 {
                (host.to_string(), &sandbox_instances, &sandbox)
            } else {
                (peer_id(host), &peer_instances, &peer)
            };
            let backup = if database.is_empty() {
                String::new()
            } else {
                newest(&run(&["ls", "backups", "--json"]).1, database)
            };
            let mut args = vec!["run".to_string(), runbook.to_string(), "--yes".to_string()];
            args.extend(params.iter().map(|p| {
                p.replace("INSTANCE", &instance)
                    .replace("NAME", &instance_name(instances, &instance))
                    .replace("BACKUP", &backup)
                    .replace("ARCHIVE", &archive[side])
            }));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out, err) = run(&args);
            eprintln!("{runbook} on {host}, {name}: exit {code}");
            if let Some(file) = out
                .lines()
                .find_map(|l| l.strip_prefix("==> opsdeck report: file="))
                .filter(|f| f.starts_with("media_files_"))
            {
                archive[side] = format!("/opt/backups/volumes/{file}");
            }
            ends.push((outcome(code, &out), format!("{out}{err}")));
        }
        assert_eq!(
            ends[0].0, ends[1].0,
            "{runbook} on {host}: the sandbox and SSM disagree\n--- sandbox\n{}\n--- peer\n{}",
            ends[0].1, ends[1].1
        );
        assert!(
            ends[1].0.1.is_some(),
            "{runbook} on {host}: no result line\n{}",
            ends[1].1
        );
        ran.push((*runbook, ends[1].0.0));
    }
    // These are the hosts' own procedures: every one succeeds on its host.
    for (runbook, code) in &ran {
        assert_eq!(*code, 0, "{runbook} failed on its seed host: {ran:?}");
    }
    assert_restored_trees_match(&sandbox_dir);
}

/// After both sides ran, the hosts' trees still hold what the documents
/// say they hold (the peer's runs changed the same trees the sandbox's did).
fn assert_restored_trees_match(sb: &Path) {
    let pmo = sb.join("hosts").join(PMO_HOST);
    assert!(pmo.join("app/deploy.sh").is_file());
    assert!(pmo.join("app/backup.sql").is_file());
    let enssol = sb.join("hosts").join(ENSSOL_HOST);
    assert!(enssol.join("opt/enssol/db.sqlite3").is_file());
    let map = sb.join("hosts").join(MAP_HOST);
    assert!(map.join("opt/apps/map-tts/.git").exists());
}
