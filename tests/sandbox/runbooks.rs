//! The two built-in runbooks driven the way a user does (keys in the app),
//! running for real on the sandbox, with their effect checked on the host.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Harness, git_head};
use crossterm::event::KeyCode;
use opsdeck::tui::app::{Mode, RunStatus, Screen};

fn tenant_sha(h: &Harness, project: &str) -> Option<String> {
    h.app
        .estate
        .inv
        .tenants
        .iter()
        .find(|t| t.project() == project)
        .and_then(|t| t.deployed_sha.clone())
}

fn select_tenant(h: &mut Harness, project: &str) {
    h.keys("1");
    h.keys("g");
    while h.app.selected_key().as_deref() != Some(project) {
        let before = h.app.selected_key();
        h.keys("j");
        assert_ne!(
            before,
            h.app.selected_key(),
            "{project} not in the tenants list"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_moves_the_sha_rebuilds_and_records_it() {
    let mut h = Harness::loaded().await;
    let checkout = h.host_root().join("opt/apps/filter-ical");
    let before = git_head(&checkout);
    let origin = git_head(&h.sandbox.dir.join("remotes/filter-ical.git"));
    assert_ne!(
        before, origin,
        "the sandbox starts one commit behind origin"
    );
    assert_eq!(
        tenant_sha(&h, "filter-ical-staging").as_deref(),
        Some(before.as_str())
    );

    let image_of = |h: &Harness, name: &str| {
        h.app
            .estate
            .inv
            .containers
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.image_id.clone())
            .unwrap()
    };
    let images_before: Vec<String> = [
        "filter-ical-backend-staging",
        "filter-ical-frontend-staging",
    ]
    .map(|n| image_of(&h, n))
    .into();
    select_tenant(&mut h, "filter-ical-staging");
    h.keys("d");
    assert!(
        matches!(h.app.mode, Mode::Preview(_)),
        "deploy opens a preview first"
    );
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::RunOutput);
    h.settle().await;

    let run = h.app.runs.all.last().unwrap();
    let out: Vec<&str> = run.output.iter().collect();
    assert_eq!(run.status, RunStatus::Succeeded, "{out:#?}");
    assert!(out.iter().any(|l| l.starts_with("==> [1/6] git pull")));
    assert!(
        out.iter()
            .any(|l| l.contains("Running upgrade") || l.contains("alembic"))
    );
    let deployed = format!(
        "deployed filter-ical-staging: {} -> {}",
        &before[..12],
        &origin[..12]
    );
    assert!(out.iter().any(|l| l.contains(&deployed)), "{out:#?}");
    assert_eq!(out.last().copied(), Some("==> opsdeck result: succeeded"));
    assert!(
        out.iter().any(|l| l
            .starts_with("    filter-ical-backend-staging runs filter-ical-staging-backend ")
            && l.ends_with(&format!(", built from {}", &origin[..12]))),
        "the post-check saw the image built from the new revision: {out:#?}"
    );

    // The host moved, the containers were rebuilt from the new SHA, the deploy is recorded.
    assert_eq!(git_head(&checkout), origin);
    let records = std::fs::read_to_string(
        h.host_root()
            .join("var/lib/opsdeck/deploys/filter-ical-staging"),
    )
    .unwrap();
    assert!(
        records
            .lines()
            .last()
            .unwrap()
            .ends_with(&format!("{before} {origin} deploy"))
    );
    // Each container was recreated from the image this deploy built, and
    // no label says so (the seeds' builds set none).
    for (name, old) in [
        "filter-ical-backend-staging",
        "filter-ical-frontend-staging",
    ]
    .iter()
    .zip(&images_before)
    {
        let c = h
            .app
            .estate
            .inv
            .containers
            .iter()
            .find(|c| c.name == *name)
            .unwrap();
        assert!(c.image_id.starts_with("sha256:"), "{name}: {}", c.image_id);
        assert_ne!(&c.image_id, old, "{name} runs a new image");
        assert!(
            !c.labels.contains_key("org.opencontainers.image.revision"),
            "{name}"
        );
    }
    assert_eq!(tenant_sha(&h, "filter-ical-staging"), Some(origin.clone()));
    // The journal has the run, and its copy of the output is complete.
    let local = std::fs::read_to_string(h.providers.journal.output_path(&run.id)).unwrap();
    assert_eq!(local.lines().count() as u64, run.output.total);
    let (entries, skipped) = h.providers.journal.entries();
    assert_eq!(skipped, 0);
    let e = entries.iter().find(|e| e.start.run == run.id).unwrap();
    assert_eq!(e.start.runbook, "deploy");
    assert_eq!(e.start.target, "filter-ical-staging");
    // Every parameter as sent: the app's [[app]] entry filled migrate and health_url.
    assert_eq!(
        e.start.params,
        [
            ("migrations".into(), "true".into()),
            ("migrate".into(), "alembic".into()),
            ("migrate_service".into(), "backend".into()),
            (
                "health_url".into(),
                "https://filter-ical-staging.example.com/health".into()
            ),
        ]
    );
    assert_eq!(e.start.digest.len(), 64);
    let f = e.finish.as_ref().unwrap();
    assert_eq!((f.status.as_str(), f.exit_code), ("succeeded", Some(0)));
    assert_eq!(f.result.as_deref(), Some("succeeded"));
}

/// The deploy proves the new code runs without a label the seeds' builds
/// never set: a container compose left on its old image fails the
/// post-check, and the deploy rolls itself back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_left_on_its_old_image_fails_the_deploy_and_it_rolls_back() {
    let mut h = Harness::loaded().await;
    let checkout = h.host_root().join("opt/apps/filter-ical");
    let before = git_head(&checkout);
    for c in &h.app.estate.inv.containers {
        assert!(
            !c.labels.contains_key("org.opencontainers.image.revision"),
            "{}: the sandbox sets a label no seed sets",
            c.name
        );
    }
    // A release whose `up` builds the images but leaves the containers.
    h.sandbox
        .push_release(
            "filter-ical",
            "chore: compose tweak",
            &[("NO_RECREATE", "")],
        )
        .unwrap();
    select_tenant(&mut h, "filter-ical-staging");
    h.keys("d");
    h.key(KeyCode::Enter);
    h.settle().await;
    let run = h.app.runs.all.last().unwrap();
    let out: Vec<&str> = run.output.iter().collect();
    assert!(matches!(run.status, RunStatus::Failed(_)), "{out:#?}");
    for needle in [
        "filter-ical-backend-staging was not recreated: it runs image ",
        "==> rolled back automatically: `rollback` succeeded",
    ] {
        assert!(out.iter().any(|l| l.contains(needle)), "{needle}\n{out:#?}");
    }
    assert_eq!(git_head(&checkout), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_failing_health_is_rolled_back_automatically() {
    let mut h = Harness::loaded().await;
    let checkout = h.host_root().join("opt/apps/gabs-massage");
    let before = git_head(&checkout);
    let image_before = h
        .app
        .estate
        .inv
        .containers
        .iter()
        .find(|c| c.name == "gabs-massage-backend-staging")
        .map(|c| c.image_id.clone())
        .unwrap();
    // A developer pushes a release whose containers never get healthy.
    let bad = h
        .sandbox
        .push_release(
            "gabs-massage",
            "feat: new booking flow",
            &[("HEALTH_FAIL", "")],
        )
        .unwrap();
    select_tenant(&mut h, "gabs-massage-staging");
    h.keys("d");
    h.key(KeyCode::Enter);
    h.settle().await;
    let run = h.app.runs.all.last().unwrap();
    let out: Vec<&str> = run.output.iter().collect();
    assert_eq!(run.status, RunStatus::Failed(20), "{out:#?}");
    for needle in [
        "gabs-massage-backend-staging is unhealthy",
        "==> FAILED: wait for the containers to be healthy (exit 20)",
        "==> rolling back automatically with `rollback`",
        "==> rolled back automatically: `rollback` succeeded",
        "==> opsdeck result: failed step=\"wait for the containers to be healthy\" exit=20 rollback=done",
    ] {
        assert!(out.iter().any(|l| l.contains(needle)), "{needle}\n{out:#?}");
    }
    // The host is back where it was, rebuilt from that revision, and says so.
    assert_eq!(git_head(&checkout), before);
    let records = std::fs::read_to_string(
        h.host_root()
            .join("var/lib/opsdeck/deploys/gabs-massage-staging"),
    )
    .unwrap();
    assert!(
        records
            .lines()
            .last()
            .unwrap()
            .ends_with(&format!("{bad} {before} rollback")),
        "{records}"
    );
    let c = h
        .app
        .estate
        .inv
        .containers
        .iter()
        .find(|c| c.name == "gabs-massage-backend-staging")
        .unwrap();
    // Rebuilt from the revision before: the image it ran before.
    assert_eq!(c.image_id, image_before);
    assert_eq!(c.health, "healthy");
    assert!(
        !h.host_root()
            .join("var/lib/opsdeck/deploys/.gabs-massage-staging.inflight")
            .exists()
    );
    let (entries, _) = h.providers.journal.entries();
    let f = entries.last().unwrap().finish.clone().unwrap();
    assert_eq!(f.status, "failed");
    assert!(f.result.unwrap().ends_with("rollback=done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_needs_the_name_typed_and_restart_restarts() {
    let mut h = Harness::loaded().await;
    h.keys("3");
    h.keys("/");
    h.keys("postgres-platform");
    h.key(KeyCode::Enter);
    assert_eq!(
        h.app.selected_key().as_deref(),
        Some("i-0a4f1c2e9b7d30001/postgres-platform")
    );
    h.keys("t");
    let Mode::Preview(p) = &h.app.mode else {
        panic!("no preview")
    };
    assert_eq!(p.run.confirm_with.as_deref(), Some("postgres-platform"));
    // Enter without the name does nothing but say what is needed.
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.mode, Mode::Preview(_)));
    assert!(h.app.runs.all.is_empty());
    assert!(
        h.app
            .notices
            .current
            .as_ref()
            .unwrap()
            .text
            .contains("type postgres-platform exactly")
    );
    h.keys("postgres-platfor");
    h.key(KeyCode::Enter);
    assert!(
        h.app.runs.all.is_empty(),
        "a prefix of the name is not the name"
    );
    h.keys("m");
    h.key(KeyCode::Enter);
    h.settle().await;
    let run = h.app.runs.all.last().unwrap();
    assert_eq!(
        run.status,
        RunStatus::Succeeded,
        "{:?}",
        run.output.iter().collect::<Vec<_>>()
    );
    let c = h
        .app
        .estate
        .inv
        .containers
        .iter()
        .find(|c| c.name == "postgres-platform")
        .unwrap();
    assert_eq!(c.restarts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_unreachable_targets_are_refused_before_anything_is_sent() {
    let mut ctx = common::sandbox_ctx();
    ctx.read_only = true;
    let mut h = Harness::with_ctx(ctx).await;
    select_tenant(&mut h, "filter-ical-staging");
    h.keys("d");
    assert!(matches!(h.app.mode, Mode::Normal));
    assert!(
        h.app
            .notices
            .current
            .as_ref()
            .unwrap()
            .text
            .contains("read-only mode")
    );
    assert!(h.app.runs.all.is_empty());
    assert!(
        !h.sandbox
            .host_root(opsdeck::provider::sandbox::estate::MT_HOST)
            .join("var/lib/opsdeck/jobs")
            .exists(),
        "nothing reached the host"
    );

    // The host stops: its tenants can no longer be deployed.
    let mut h = Harness::loaded().await;
    let mut instances = h.app.estate.instances.data.clone();
    instances
        .iter_mut()
        .find(|i| i.id == opsdeck::provider::sandbox::estate::MT_HOST)
        .unwrap()
        .state = "stopped".into();
    let fx = h
        .app
        .update(opsdeck::tui::app::Msg::Instances(Ok(instances)));
    h.dispatch(fx);
    h.settle().await;
    select_tenant(&mut h, "filter-ical-staging");
    h.keys("d");
    let n = h.app.notices.current.as_ref().unwrap().text.clone();
    assert!(n.contains("refused") && n.contains("is stopped"), "{n}");
    assert!(h.app.runs.all.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_a_running_deploy_on_the_host() {
    let mut env = common::sim_env(common::fixed_now());
    env.insert("OPSDECK_SIM_DELAY_MS".into(), "400".into());
    let mut h = Harness::with_env(common::sandbox_ctx(), env).await;
    select_tenant(&mut h, "filter-ical-staging");
    h.keys("d");
    h.key(KeyCode::Enter);
    // Wait until the build is visibly under way.
    while !h.app.runs.all[0]
        .output
        .iter()
        .any(|l| l.starts_with("#2 "))
    {
        h.step().await;
    }
    assert_eq!(h.app.runs.all[0].status, RunStatus::Running);
    h.ctrl('c');
    assert!(matches!(h.app.mode, Mode::ConfirmCancel(_)));
    h.keys("y");
    h.settle().await;
    let run = &h.app.runs.all[0];
    assert_eq!(
        run.status,
        RunStatus::Cancelled(143),
        "{:?}",
        run.output.iter().collect::<Vec<_>>()
    );
    assert!(
        !run.output.iter().any(|l| l.starts_with("deployed ")),
        "the deploy did not complete"
    );
    // Nothing of the job is left running on the host: no process has the job's script open.
    let jobs = h.host_root().join("var/lib/opsdeck/jobs");
    let pid = std::fs::read_to_string(jobs.join(format!("{}.pid", run.id))).unwrap();
    let group = std::process::Command::new("pgrep")
        .args(["-g", pid.trim()])
        .output()
        .unwrap();
    assert!(
        group.stdout.is_empty(),
        "processes left in the job's group: {}",
        String::from_utf8_lossy(&group.stdout)
    );
    assert!(jobs.join(format!("{}.cancelled", run.id)).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_to_s3_from_the_backups_screen() {
    let mut h = Harness::loaded().await;
    h.keys("5");
    h.keys("/");
    h.keys("host filter_ical_staging");
    h.key(KeyCode::Enter);
    h.keys("r");
    let Mode::Picker(p) = &h.app.mode else {
        panic!("picker")
    };
    let names: Vec<&str> = p.names.iter().map(|e| e.0.as_str()).collect();
    for n in [
        "restore-database",
        "validate-backup",
        "backup",
        "sync-backups",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(
        !names.contains(&"host-stats"),
        "only backup runbooks of the host: {names:?}"
    );
    h.keys("sync");
    h.key(KeyCode::Enter);
    let Mode::Form(f) = &h.app.mode else {
        panic!("form")
    };
    assert_eq!(
        f.fields[0].value, "cohuron-backups",
        "the bucket comes from [backups]"
    );
    h.key(KeyCode::Enter);
    h.keys("multi-tenant-platform");
    h.key(KeyCode::Enter);
    h.settle().await;
    let run = h.app.runs.all.last().unwrap();
    assert_eq!(
        run.status,
        RunStatus::Succeeded,
        "{:?}",
        run.output.iter().collect::<Vec<_>>()
    );
    let s3 = h
        .app
        .estate
        .inv
        .backups
        .iter()
        .filter(|b| b.database == "filter_ical_staging" && b.origin.starts_with("s3://"))
        .count();
    assert!(s3 >= 7, "the synced backups are listed from S3: {s3}");
}

fn field<'a>(h: &'a Harness, name: &str) -> &'a opsdeck::tui::app::runbooks::Field {
    let Mode::Form(f) = &h.app.mode else {
        panic!("no form open")
    };
    f.fields.iter().find(|x| x.name == name).unwrap()
}

/// A form's one-line fields edit like a shell line, a paste is taken whole
/// and checked once, and a changed form is not lost to a stray Esc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_fields_edit_paste_and_keep_their_values() {
    use opsdeck::tui::app::Msg;
    let mut h = Harness::loaded().await;
    h.keys("3");
    h.keys("/nginx-platform");
    h.key(KeyCode::Enter);
    h.keys(":run logs");
    h.key(KeyCode::Enter);
    assert_eq!(field(&h, "lines").value, "200");
    // Home then 1: 1200; End, ← , Backspace: 100; Ctrl-U clears to the start.
    h.key(KeyCode::Home);
    h.keys("1");
    assert_eq!(field(&h, "lines").value, "1200");
    h.key(KeyCode::End);
    h.key(KeyCode::Left);
    h.key(KeyCode::Backspace);
    assert_eq!(field(&h, "lines").value, "120");
    h.ctrl('u');
    assert_eq!(field(&h, "lines").value, "0");
    h.key(KeyCode::Delete);
    h.keys("99999999999999999999");
    let e = field(&h, "lines").error.clone().unwrap();
    assert!(e.contains("above the maximum 10000"), "{e}");
    h.ctrl('w');
    h.keys("50");
    assert_eq!(field(&h, "lines").value, "50");
    assert!(field(&h, "lines").error.is_none());

    // A 10,000-character paste into the filter: whole, checked once, and
    // the very next key lands after it.
    h.key(KeyCode::Down);
    let big = "x".repeat(10_000);
    let fx = h.app.update(Msg::Paste(big));
    h.dispatch(fx);
    h.keys("y");
    let f = field(&h, "filter");
    assert_eq!(f.value.len(), 10_001);
    assert!(f.value.ends_with("xy"));
    let e = f.error.clone().unwrap();
    assert!(e.contains("longer than 256"), "{e}");
    let s = common::text(&common::render(&h.app, 120, 30));
    assert!(s.contains("…"), "a long value shows a window: {s}");
    h.ctrl('u');
    h.keys("GET");
    assert!(field(&h, "filter").error.is_none());

    // Esc on a changed form asks; any key but y keeps it, values intact.
    h.key(KeyCode::Esc);
    assert!(matches!(h.app.mode, Mode::Form(_)));
    h.key(KeyCode::Esc);
    assert!(matches!(h.app.mode, Mode::Form(_)), "a second Esc keeps it");
    assert_eq!(field(&h, "filter").value, "GET");
    h.key(KeyCode::Esc);
    h.keys("y");
    assert!(matches!(h.app.mode, Mode::Normal), "y discards");

    // In the multi-line editor, three Esc leave the editor and keep the form.
    h.keys("2");
    h.keys("/multi-tenant-platform");
    h.key(KeyCode::Enter);
    h.keys(":run command");
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.mode, Mode::Form(_)));
    let fx = h.app.update(Msg::Paste("uptime\ndf -h\n".into()));
    h.dispatch(fx);
    h.key(KeyCode::Esc);
    h.key(KeyCode::Esc);
    h.key(KeyCode::Esc);
    let Mode::Form(f) = &h.app.mode else {
        panic!("the form is kept")
    };
    assert!(f.editor.is_none());
    assert!(f.fields.iter().any(|x| x.value.contains("uptime\ndf -h")));
}

/// A runbook that cannot run on the selection is refused when chosen,
/// before its form: the wrong kind of row, a host whose agent is offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbooks_are_refused_when_chosen() {
    use opsdeck::provider::sandbox::estate::OFFLINE_HOST;
    let mut h = Harness::loaded().await;
    h.keys("3");
    h.keys("/nginx-platform");
    h.key(KeyCode::Enter);
    h.keys(":run deploy");
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.mode, Mode::Normal));
    let n = h.app.notices.current.as_ref().unwrap().text.clone();
    assert!(
        n.contains("deploy runs on a tenant") && n.contains("press 1"),
        "{n}"
    );

    h.keys("2");
    h.keys("g");
    while h.app.selected_key().as_deref() != Some(OFFLINE_HOST) {
        h.keys("j");
    }
    h.keys("r");
    h.key(KeyCode::Enter);
    assert!(
        matches!(h.app.mode, Mode::Normal),
        "no form for an offline host"
    );
    let n = h.app.notices.current.as_ref().unwrap().text.clone();
    assert!(n.contains("refused"), "{n}");
}
