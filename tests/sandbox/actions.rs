//! Changes that are not scripts, driven by keys on the sandbox: start and
//! stop an instance, restore an object version, undelete a key, download.
//! Each asks first (typed name on production) and is refused in read-only mode.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::Harness;
use crossterm::event::KeyCode;
use opsdeck::provider::sandbox::estate::{MT_HOST, STOPPED_HOST};
use opsdeck::transport::TransportError;
use opsdeck::tui::app::{Mode, Screen};
use std::time::Duration;

fn select(h: &mut Harness, key: &str) {
    h.keys("g");
    while h.app.selected_key().as_deref() != Some(key) {
        let before = h.app.selected_key();
        h.keys("j");
        assert_ne!(before, h.app.selected_key(), "{key} not in the list");
    }
}

fn instance_state(h: &Harness, id: &str) -> String {
    h.app
        .estate
        .instances
        .data
        .iter()
        .find(|i| i.id == id)
        .unwrap()
        .state
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_stop_instances_with_guards() {
    let mut h = Harness::loaded().await;
    h.keys("2");
    // The stopped staging instance: Enter confirms.
    select(&mut h, STOPPED_HOST);
    h.keys("x");
    assert!(
        h.app
            .notices
            .current
            .as_ref()
            .unwrap()
            .text
            .contains("already stopped")
    );
    h.keys("s");
    let Mode::Confirm(c) = &h.app.mode else {
        panic!("start asks first")
    };
    assert_eq!(c.confirm_with, None);
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(instance_state(&h, STOPPED_HOST), "running");
    assert!(
        h.app
            .notices
            .current
            .as_ref()
            .unwrap()
            .text
            .contains("now running"),
        "{:?}",
        h.app.notices.current
    );
    // Started, it is reachable over the transport.
    let out = h
        .providers
        .transport
        .exec(STOPPED_HOST, "echo up", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(out.stdout, "up\n");

    // The production platform host needs its name typed.
    select(&mut h, MT_HOST);
    h.keys("x");
    let Mode::Confirm(c) = &h.app.mode else {
        panic!("stop asks first")
    };
    assert_eq!(c.confirm_with.as_deref(), Some("multi-tenant-platform"));
    h.key(KeyCode::Enter);
    assert!(
        matches!(h.app.mode, Mode::Confirm(_)),
        "Enter alone does nothing on production"
    );
    h.keys("multi-tenant-platform");
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(instance_state(&h, MT_HOST), "stopped");
    // Stopped, the transport refuses it, and so do its runbooks.
    let e = h
        .providers
        .transport
        .exec(MT_HOST, "true", Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Unreachable { .. }), "{e}");
    h.keys("1");
    h.keys("d");
    assert!(
        h.app
            .notices
            .current
            .as_ref()
            .unwrap()
            .text
            .contains("is stopped"),
        "{:?}",
        h.app.notices.current
    );
}

async fn open_versions(h: &mut Harness, dir: &str, file: &str) {
    h.keys("4");
    select(h, "cohuron-attachments-prod-957207443425");
    h.key(KeyCode::Enter);
    h.settle().await;
    for part in dir.split_inclusive('/') {
        let prefix = format!("{}{part}", h.app.estate.s3.at.1);
        select(h, &prefix);
        h.key(KeyCode::Enter);
        h.settle().await;
    }
    let key = format!("{}{file}", h.app.estate.s3.at.1);
    select(h, &key);
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(h.app.screen, Screen::Versions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_an_old_version_and_download_it() {
    let mut h = Harness::loaded().await;
    open_versions(
        &mut h,
        "tenant_id=demo/entity=project/entity_id=5f0c2d3e-8a1b-4c6d-9e7f-0a1b2c3d4e5f/",
        "abc123def456.pdf",
    )
    .await;
    assert_eq!(h.app.estate.s3.versions.data.len(), 3);
    let oldest = h.app.estate.s3.versions.data[2].clone();
    // The current version cannot be "restored".
    h.keys("g");
    h.keys("R");
    assert!(matches!(h.app.mode, Mode::Normal));
    h.keys("G");
    h.keys("R");
    let Mode::Confirm(c) = &h.app.mode else {
        panic!("restore asks first")
    };
    assert!(c.lines.iter().any(|l| l.contains(&oldest.version_id)));
    h.key(KeyCode::Enter);
    h.settle().await;
    let v = &h.app.estate.s3.versions.data;
    assert_eq!(v.len(), 4, "history is kept");
    assert!(v[0].is_latest && v[0].size == oldest.size && v[0].version_id != oldest.version_id);

    h.keys("G");
    h.keys("o");
    h.settle().await;
    let n = h.app.notices.current.as_ref().unwrap().text.clone();
    assert!(n.contains("saved to"), "{n}");
    let saved = std::fs::read_dir(h.dir.path().join("state/downloads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(saved, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_is_listed_and_can_be_undeleted() {
    let mut h = Harness::loaded().await;
    let dir = "tenant_id=demo/entity=client/entity_id=7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9/";
    open_versions(&mut h, dir, "contract.pdf").await;
    assert!(h.app.estate.s3.versions.data[0].is_delete_marker);
    h.keys("u");
    h.key(KeyCode::Enter);
    h.settle().await;
    assert!(
        !h.app.estate.s3.versions.data[0].is_delete_marker,
        "{:?}",
        h.app.estate.s3.versions.data
    );
    h.key(KeyCode::Esc);
    let fx = h.app.update(opsdeck::tui::app::Msg::Key(
        crossterm::event::KeyEvent::new(
            KeyCode::Char('r'),
            crossterm::event::KeyModifiers::CONTROL,
        ),
    ));
    h.dispatch(fx);
    h.settle().await;
    let listed = opsdeck::table::rows::objects_table(&h.app.estate.s3.objects.data, dir, h.app.now);
    let row = listed
        .rows
        .iter()
        .find(|r| r.key.ends_with("contract.pdf"))
        .expect("listed again");
    assert_ne!(row.cells[2], "DELETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_every_change() {
    let mut ctx = common::sandbox_ctx();
    ctx.read_only = true;
    let mut h = Harness::with_ctx(ctx).await;
    h.keys("2");
    select(&mut h, STOPPED_HOST);
    h.keys("s");
    assert!(matches!(h.app.mode, Mode::Normal));
    assert!(
        h.app
            .notices
            .current
            .as_ref()
            .unwrap()
            .text
            .contains("read-only")
    );
    assert_eq!(instance_state(&h, STOPPED_HOST), "stopped");
    open_versions(
        &mut h,
        "tenant_id=demo/entity=client/entity_id=7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9/",
        "contract.pdf",
    )
    .await;
    h.keys("u");
    assert!(matches!(h.app.mode, Mode::Normal));
    assert!(h.app.estate.s3.versions.data[0].is_delete_marker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_switches_the_console_to_another_context() {
    let mut h = Harness::loaded().await;
    // A second estate stands in for another account: one of its hosts is stopped.
    let other_dir = h.dir.path().join("other");
    let other = common::sim_sandbox(&other_dir, common::fixed_now());
    let other_p = common::providers(
        &other,
        &common::sim_env(common::fixed_now()),
        &h.dir.path().join("state2"),
    );
    other_p.cloud.set_running(MT_HOST, false).await.unwrap();
    let opener: opsdeck::tui::effects::ContextOpener = std::sync::Arc::new(move |name: String| {
        let p = other_p.clone();
        Box::pin(async move {
            if name != "prod-copy" {
                return Err(format!("no context named {name:?}"));
            }
            let mut ctx = common::sandbox_ctx();
            ctx.name = name;
            ctx.production = true;
            let cfg =
                opsdeck::config::parse(opsdeck::provider::sandbox::SANDBOX_CONFIG, "sandbox.toml")
                    .unwrap();
            Ok((p, ctx, cfg))
        })
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    h.runner =
        opsdeck::tui::effects::EffectsRunner::new(h.providers.clone(), tx).with_opener(opener);
    h.rx = rx;
    h.app.estate.contexts = vec!["sandbox".into(), "prod-copy".into()];

    h.keys(":ctx nope");
    h.key(KeyCode::Enter);
    assert!(
        h.app
            .notices
            .current
            .as_ref()
            .unwrap()
            .text
            .contains("no context named \"nope\"")
    );
    h.keys(":ctx prod-copy");
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(h.app.ctx.name, "prod-copy");
    assert!(
        h.app.production_in_view(),
        "a production context frames everything in red"
    );
    assert_eq!(
        instance_state(&h, MT_HOST),
        "stopped",
        "the other estate's instances are shown"
    );
    // Its stopped platform host has no tenants up to read.
    assert!(
        h.app
            .estate
            .inv
            .tenants
            .iter()
            .filter(|t| t.host == MT_HOST)
            .all(|t| t.health == "?"),
        "{:?}",
        h.app
            .estate
            .inv
            .tenants
            .iter()
            .map(|t| &t.health)
            .collect::<Vec<_>>()
    );
    let s = common::text(&common::render(&h.app, 120, 30));
    assert!(
        s.contains("ctx:prod-copy") && s.contains("PRODUCTION"),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_backup_downloads_from_the_backups_screen() {
    let mut h = Harness::loaded().await;
    h.keys("5");
    h.keys("/");
    h.keys("s3 app_2026");
    h.key(KeyCode::Enter);
    let key = h.app.selected_key().unwrap();
    assert!(key.starts_with("s3://cohuron-backups:"), "{key}");
    h.keys("o");
    h.settle().await;
    let notice = h.app.notices.current.clone().unwrap().text;
    assert!(notice.contains("bytes saved to"), "{notice}");
    let saved: Vec<_> = std::fs::read_dir(h.dir.path().join("state/downloads"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(saved.iter().any(|f| f.starts_with("app_2026")), "{saved:?}");
    // A backup only on its host says how to get it off the host.
    h.key(KeyCode::Esc);
    h.keys("/");
    h.keys("host enssol");
    h.key(KeyCode::Enter);
    h.keys("o");
    assert!(
        h.app
            .notices
            .current
            .clone()
            .unwrap()
            .text
            .contains("only on its host")
    );
}

/// Every change and download is in the journal file, like a run: who,
/// context, target, the API call's arguments, outcome — and History and
/// `opsdeck history --json` show them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_and_download_is_journaled() {
    let mut h = Harness::loaded().await;
    h.keys("2");
    select(&mut h, STOPPED_HOST);
    h.keys("s");
    h.key(KeyCode::Enter);
    h.settle().await;
    select(&mut h, MT_HOST);
    h.keys("x");
    h.keys("multi-tenant-platform");
    h.key(KeyCode::Enter);
    h.settle().await;
    let dir = "tenant_id=demo/entity=project/entity_id=5f0c2d3e-8a1b-4c6d-9e7f-0a1b2c3d4e5f/";
    open_versions(&mut h, dir, "abc123def456.pdf").await;
    let oldest = h.app.estate.s3.versions.data[2].version_id.clone();
    h.keys("G");
    h.keys("R");
    h.key(KeyCode::Enter);
    h.settle().await;
    h.keys("G");
    h.keys("o");
    h.settle().await;
    let deleted = "tenant_id=demo/entity=client/entity_id=7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9/";
    open_versions(&mut h, deleted, "contract.pdf").await;
    h.keys("u");
    h.key(KeyCode::Enter);
    h.settle().await;

    // The journal file itself: a start and a finish per action.
    let text = std::fs::read_to_string(h.providers.journal.file()).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let start = |name: &str| {
        records
            .iter()
            .find(|r| r["kind"] == "start" && r["runbook"] == name)
            .unwrap_or_else(|| panic!("no start of {name} in {text}"))
            .clone()
    };
    let finish = |run: &serde_json::Value| {
        records
            .iter()
            .find(|r| r["kind"] == "finish" && r["run"] == *run)
            .unwrap_or_else(|| panic!("no finish of {run} in {text}"))
            .clone()
    };
    let param = |r: &serde_json::Value, k: &str| {
        r["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == k)
            .map(|p| p[1].as_str().unwrap().to_string())
    };
    let s = start("instance-start");
    assert_eq!(s["target"], STOPPED_HOST);
    assert_eq!(s["target_kind"], "instance");
    assert_eq!(s["context"], "sandbox");
    assert!(!s["who"].as_str().unwrap().is_empty());
    assert_eq!(s["production"], false);
    let f = finish(&s["run"]);
    assert_eq!(f["status"], "succeeded");
    assert!(f["result"].as_str().unwrap().contains("now running"), "{f}");

    let s = start("instance-stop");
    assert_eq!(
        (s["target"].as_str(), s["production"].as_bool()),
        (Some(MT_HOST), Some(true))
    );
    assert_eq!(finish(&s["run"])["status"], "succeeded");

    let s = start("s3-restore-version");
    assert_eq!(param(&s, "version_id").as_deref(), Some(oldest.as_str()));
    assert_eq!(
        param(&s, "key").as_deref(),
        Some(format!("{dir}abc123def456.pdf").as_str())
    );
    assert_eq!(finish(&s["run"])["status"], "succeeded");

    let s = start("s3-download");
    assert_eq!(s["danger"], "read");
    let to = param(&s, "to").unwrap();
    assert!(std::path::Path::new(&to).exists(), "{to}");
    assert!(
        finish(&s["run"])["result"]
            .as_str()
            .unwrap()
            .contains("saved to")
    );

    let s = start("s3-undelete");
    assert_eq!(
        s["target"].as_str().unwrap(),
        format!("s3://cohuron-attachments-prod-957207443425/{deleted}contract.pdf")
    );
    let undelete_run = s["run"].as_str().unwrap().to_string();
    assert_eq!(finish(&s["run"])["status"], "succeeded");
    // Changes made through an API have no job on a host to follow again.
    assert!(h.providers.journal.unfinished("sandbox").is_empty());

    // History shows them, and Enter opens what was called.
    h.keys("7");
    h.settle().await;
    let t = h.app.table(Screen::History);
    for name in [
        "instance-start",
        "instance-stop",
        "s3-restore-version",
        "s3-download",
        "s3-undelete",
    ] {
        assert!(
            t.rows
                .iter()
                .any(|r| r.cells.iter().any(|c| c.contains(name)) || r.key.contains(name)),
            "{name} not in History"
        );
    }
    select(&mut h, &undelete_run);
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(h.app.screen, Screen::RunOutput);
    let out = h
        .app
        .run(&undelete_run)
        .unwrap()
        .output
        .iter()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.contains("s3 DeleteObject Bucket=cohuron-attachments-prod-957207443425"),
        "{out}"
    );

    // `opsdeck history --json` exports them.
    let mut json = Vec::new();
    opsdeck::cli::run::history(&h.providers, None, true, 50, &mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    for name in [
        "instance-start",
        "instance-stop",
        "s3-restore-version",
        "s3-download",
        "s3-undelete",
    ] {
        assert!(
            json.contains(&format!("\"runbook\": \"{name}\"")),
            "{name} not exported"
        );
    }
}

/// No journal, no change: when the journal cannot be written the change is
/// not made, and the console says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_not_made_when_the_journal_cannot_be_written() {
    let mut h = Harness::loaded().await;
    // The journal's directory is a file: nothing can be written there.
    let root = h.providers.journal.root().to_path_buf();
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    std::fs::write(&root, "not a directory").unwrap();
    h.keys("2");
    select(&mut h, STOPPED_HOST);
    h.keys("s");
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(instance_state(&h, STOPPED_HOST), "stopped");
    let n = h.app.notices.current.as_ref().unwrap().text.clone();
    assert!(n.contains("cannot write the journal"), "{n}");
}
