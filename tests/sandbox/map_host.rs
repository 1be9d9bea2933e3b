//! The MAP system's host in the sandbox, as its infrastructure plan
//! describes it: the Django services and Celery workers of its systems as
//! compose projects with their ports, Kong, RabbitMQ with the plan's queues,
//! one PostgreSQL with nine databases. Driven as an operator would: the
//! lists, queue depth, a worker's logs and restart, backup-all, validate
//! and restore one database, and the console's grouped Containers screen.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Harness, run_cli, run_cli_at};
use crossterm::event::KeyCode;
use opsdeck::provider::sandbox::estate::{MAP_DATABASES, MAP_HOST, MAP_POSTGRES};
use opsdeck::tui::app::Screen;
use serde_json::Value;
use std::path::Path;

fn json(d: &Path, args: &[&str]) -> Vec<Value> {
    let (code, out, err) = run_cli(d, args);
    assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn the_map_host_is_its_compose_projects_ports_and_an_online_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    let instances = json(d, &["ls", "instances", "--json"]);
    let map = instances.iter().find(|i| i["id"] == MAP_HOST).unwrap();
    assert_eq!(map["name"], "map-system");
    assert_eq!(map["ssm_ping"], "online");
    // Another host stays unreachable, for the refusal paths.
    assert!(
        instances
            .iter()
            .any(|i| i["state"] == "running" && i["ssm_ping"] == "connection_lost"),
        "{instances:?}"
    );

    let containers: Vec<Value> = json(d, &["ls", "containers", "--json"])
        .into_iter()
        .filter(|c| c["host"] == MAP_HOST)
        .collect();
    let project = |c: &Value| c["labels"]["com.docker.compose.project"].clone();
    let of = |p: &str| -> Vec<String> {
        let mut v: Vec<String> = containers
            .iter()
            .filter(|c| project(c) == p)
            .map(|c| {
                c["labels"]["com.docker.compose.service"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(of("map-platform"), ["kong", "postgres", "rabbitmq"]);
    assert_eq!(
        of("map-tts-production"),
        [
            "helpdesk-service",
            "messaging-service",
            "notification-service",
            "notification-worker",
            "workflow-api",
            "workflow-worker"
        ]
    );
    assert_eq!(of("map-auth-production"), ["auth-service", "auth-worker"]);
    assert_eq!(
        of("map-ams-production"),
        [
            "assets-service",
            "authentication-service",
            "contexts-service"
        ]
    );
    assert_eq!(
        of("map-hdts-production"),
        ["helpdesk-service", "helpdesk-worker"]
    );
    assert_eq!(of("map-bms-production"), ["auth-service", "budget-service"]);
    // The plan's ports, as docker ps publishes them.
    let port = |name: &str| {
        containers.iter().find(|c| c["name"] == name).unwrap()["ports"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(port("map-kong"), "0.0.0.0:8080->8000/tcp");
    assert_eq!(port("map-tts-workflow-api"), "0.0.0.0:1001->8000/tcp");
    assert!(port("map-rabbitmq").contains("15672"));

    // A tenant per system, each with its main database; the stopped
    // notification worker degrades TTS.
    let tenants: Vec<Value> = json(d, &["ls", "tenants", "--json"])
        .into_iter()
        .filter(|t| t["host"] == MAP_HOST)
        .collect();
    let names: Vec<&str> = tenants.iter().map(|t| t["app"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["map-auth", "map-tts", "map-ams", "map-hdts", "map-bms"]
    );
    let tts = tenants.iter().find(|t| t["app"] == "map-tts").unwrap();
    assert_eq!(tts["health"], "degraded");
    assert_eq!(tts["database"], "workflowmanagement");
    assert_eq!(
        (
            tts["containers_up"].as_u64(),
            tts["containers_total"].as_u64()
        ),
        (Some(5), Some(6))
    );

    // The nightly dumps of all nine databases are on the host.
    let backups = json(d, &["ls", "backups", "--json"]);
    for db in MAP_DATABASES {
        assert!(
            backups
                .iter()
                .any(|b| b["database"] == db && b["origin"] == MAP_HOST),
            "{db}"
        );
    }
}

#[test]
fn a_stopped_worker_piles_up_its_queues_and_its_restart_drains_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    // Queue depth per queue, the broker prefilled from the host's entry.
    let (code, out, err) = run_cli(d, &["run", "queue-depth", "instance=map-system"]);
    assert_eq!(code, 1, "{out}{err}");
    for q in ["TICKET_TASKS_PRODUCTION", "auth-sync-queue", "celery"] {
        assert!(out.contains(q), "{q}: {out}");
    }
    assert!(
        out.contains("!! notification-queue has 4213 messages and 0 consumers"),
        "{out}"
    );
    assert!(
        out.contains("!! inapp-notification-queue has 1877 messages"),
        "{out}"
    );
    assert!(!out.contains("!! TICKET_TASKS_PRODUCTION"), "{out}");
    // What needs attention now names the backlog, with the check to rerun.
    let queue_items = |d: &Path, at| -> Vec<Value> {
        let (_, out, _) = common::run_cli_at(d, at, &["ls", "attention", "--json"]);
        let items: Vec<Value> = serde_json::from_str(&out).unwrap();
        items.into_iter().filter(|i| i["kind"] == "queue").collect()
    };
    let items = queue_items(d, common::fixed_now());
    assert_eq!(items.len(), 3, "{items:#?}");
    let n = items
        .iter()
        .find(|i| i["subject"] == "notification-queue")
        .unwrap();
    assert_eq!(n["severity"], "critical");
    assert!(
        n["what"]
            .as_str()
            .unwrap()
            .starts_with("4213 messages, no consumer"),
        "{n}"
    );
    assert_eq!(
        n["fix"]["command"],
        format!("opsdeck run queue-depth instance={MAP_HOST}")
    );

    // Its logs say why it stopped.
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "logs",
            "container=map-tts-notification-worker",
            "lines=5",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Warm shutdown"), "{out}");
    let (code, out, _) = run_cli(d, &["run", "logs", "container=map-kong", "lines=3"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("kong_request_id"), "{out}");

    // Ten minutes on (the journal orders runs by their start).
    let later = common::fixed_now() + chrono::Duration::minutes(10);
    // A production restart wants the container's name typed.
    let (code, _, err) = run_cli(
        d,
        &[
            "run",
            "restart",
            "container=map-tts-notification-worker",
            "--yes",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("--confirm map-tts-notification-worker"),
        "{err}"
    );
    let (code, out, err) = run_cli_at(
        d,
        later,
        &[
            "run",
            "restart",
            "container=map-tts-notification-worker",
            "--yes",
            "--confirm",
            "map-tts-notification-worker",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("map-tts-notification-worker is up"), "{out}");

    // Back at work, it drains its queues and the check passes.
    let (code, out, err) = run_cli_at(d, later, &["run", "queue-depth", "instance=map-system"]);
    assert_eq!(code, 0, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("notification-queue"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["notification-queue", "2", "1"]
    );
    let tenants = json(d, &["ls", "tenants", "--json"]);
    let tts = tenants.iter().find(|t| t["app"] == "map-tts").unwrap();
    assert_eq!(tts["health"], "healthy");
    assert!(
        queue_items(d, later).is_empty(),
        "a passing check clears the backlog"
    );

    // The broker of a host that has none is named in the error.
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "queue-depth",
            "instance=multi-tenant-platform",
            "broker=postgres-platform",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a broker"), "{out}");
}

#[test]
fn backup_all_then_validate_and_restore_one_of_the_nine() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = common::real_db_sandbox(d);
    let sb = db.sandbox();
    let q = |name: &str, sql: &str| {
        let (code, out, err) = common::pg::docker_psql(&sb, MAP_HOST, MAP_POSTGRES, name, sql);
        assert_eq!(code, 0, "{sql}: {err}");
        out
    };
    // The nine databases are real, each with Django's migrations table.
    let listed = q(
        "postgres",
        "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'",
    );
    let mut nine = MAP_DATABASES.to_vec();
    nine.sort_unstable();
    assert_eq!(listed, nine.join(","));
    assert_eq!(
        q("notificationservice", "SELECT count(*) FROM notifications"),
        "20000"
    );
    assert_eq!(
        q("auth_db", "SELECT count(*) > 0 FROM django_migrations"),
        "t"
    );

    // backup-all: one run, a file, size and checksum per database. The
    // server's container comes from the host's entry, not a typed value.
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "backup-all",
            "instance=map-system",
            "--yes",
            "--confirm",
            "map-system",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    // (No pg_container was given: the default, postgres-platform, is not
    // on this host, so the dumps above came through the host's entry.)
    for name in MAP_DATABASES {
        assert!(
            out.contains(&format!("report: file.{name}=")),
            "{name}: {out}"
        );
        assert!(
            out.contains(&format!("report: sha256.{name}=")),
            "{name}: {out}"
        );
    }
    assert!(out.contains("report: failed=0"), "{out}");
    let backups = json(d, &["ls", "backups", "--json"]);
    let newest = |name: &str| {
        backups
            .iter()
            .filter(|b| b["database"] == name && b["origin"] == MAP_HOST)
            .map(|b| {
                b["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .max()
            .unwrap()
    };

    // Validate one: restored into a scratch database, its key table counted.
    let file = newest("ams_assets");
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "validate-backup",
            &format!("backup={file}"),
            "--yes",
            "--confirm",
            "ams_assets",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rows.public.assets=5000"), "{out}");

    // Restore another after losing rows: everything is back, and its
    // system's containers were stopped and started around it.
    let file = newest("helpdesk");
    let before = q(
        "helpdesk",
        "SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY id)) FROM comments c",
    );
    q("helpdesk", "DELETE FROM comments WHERE id % 3 = 0");
    assert_ne!(
        q(
            "helpdesk",
            "SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY id)) FROM comments c"
        ),
        before
    );
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "restore-database",
            &format!("backup={file}"),
            "--yes",
            "--confirm",
            "helpdesk",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("all containers of map-hdts-production are healthy"),
        "{out}"
    );
    assert_eq!(
        q(
            "helpdesk",
            "SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY id)) FROM comments c"
        ),
        before
    );
    // The other eight were not touched.
    assert_eq!(
        q("notificationservice", "SELECT count(*) FROM notifications"),
        "20000"
    );
}

#[tokio::test]
async fn the_containers_screen_groups_by_project_and_p_shows_one() {
    let mut h = Harness::loaded().await;
    h.keys("3");
    let table = h.app.table(Screen::Containers).clone();
    let project = table.headers.iter().position(|c| *c == "PROJECT").unwrap();
    // Grouped: each project's rows are together.
    let order: Vec<&str> = table
        .rows
        .iter()
        .map(|r| r.cells[project].as_str())
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    for p in &order {
        if seen.last() != Some(p) {
            assert!(!seen.contains(p), "{p} is split: {order:?}");
            seen.push(p);
        }
    }
    // `p` on a TTS container: only its project; again: every project.
    let at = table
        .rows
        .iter()
        .position(|r| r.cells[0] == "map-tts-workflow-api")
        .unwrap();
    for _ in 0..at {
        h.key(KeyCode::Char('j'));
    }
    h.key(KeyCode::Char('p'));
    let list = h.app.list(Screen::Containers);
    assert_eq!(list.filter, "project:=map-tts-production");
    assert_eq!(list.visible.len(), 6);
    let screen = common::text(&common::render(&h.app, 160, 40));
    assert!(screen.contains("map-tts-notification-worker"), "{screen}");
    assert!(!screen.contains("map-kong"), "{screen}");
    // The project is written on its group's first row (and the cursor's).
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("map-tts-") && !l.contains("/project:="))
        .collect();
    assert_eq!(rows.len(), 6, "{screen}");
    let labelled: Vec<bool> = rows
        .iter()
        .map(|l| l.contains("map-tts-production"))
        .collect();
    assert_eq!(
        labelled,
        [true, false, false, false, true, false],
        "{screen}"
    );
    // Its details show the published ports as docker does.
    h.key(KeyCode::Enter);
    match &h.app.mode {
        opsdeck::tui::app::Mode::Detail { fields, .. } => assert!(
            fields
                .iter()
                .any(|(k, v)| k == "ports" && v == "0.0.0.0:1001->8000/tcp"),
            "{fields:?}"
        ),
        _ => panic!("Enter opened no details"),
    }
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('p'));
    assert_eq!(
        h.app.list(Screen::Containers).visible.len(),
        table.rows.len()
    );

    // Enter on a tenant opens exactly its project's containers.
    h.keys("1");
    let tenants = h.app.table(Screen::Tenants).clone();
    let at = tenants
        .rows
        .iter()
        .position(|r| r.key == "map-ams-production")
        .unwrap();
    h.key(KeyCode::Char('g'));
    for _ in 0..at {
        h.key(KeyCode::Char('j'));
    }
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Containers);
    let list = h.app.list(Screen::Containers);
    assert_eq!(list.filter, "project:=map-ams-production");
    assert_eq!(list.visible.len(), 3);
}
