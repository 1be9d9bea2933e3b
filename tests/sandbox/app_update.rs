//! `App::update` alone: messages in, state and effects out. No IO.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsdeck::config;
use opsdeck::jobs::engine::RunEvent;
use opsdeck::provider::ProviderError;
use opsdeck::provider::host::parse_snapshot;
use opsdeck::provider::sandbox::{SANDBOX_CONFIG, estate};
use opsdeck::tui::app::keymap::Keymap;
use opsdeck::tui::app::{App, ContextInfo, Effect, Mode, Msg, RunStatus, Screen};

fn app() -> App {
    let ctx = ContextInfo {
        name: "sandbox".into(),
        provider: "sandbox".into(),
        production: false,
        read_only: false,
        simulated: true,
        real_db: false,
        regions: vec![],
        identity: None,
    };
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    App::new(
        config::parse(SANDBOX_CONFIG, "sandbox.toml").unwrap(),
        ctx,
        Keymap::builtin(),
        now,
    )
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

const MT_SNAPSHOT: &str = r#"@@ps
{"ID":"a","Image":"filter-ical-staging-backend","Names":"filter-ical-backend-staging","Labels":"com.docker.compose.project=filter-ical-staging,com.docker.compose.service=backend","State":"running","Status":"Up 2 days (healthy)"}
{"ID":"b","Image":"filter-ical-staging-frontend","Names":"filter-ical-frontend-staging","Labels":"com.docker.compose.project=filter-ical-staging","State":"exited","Status":"Exited (1) 3 minutes ago"}
@@inspect
[{"Name":"/filter-ical-backend-staging","RestartCount":2,"State":{"Health":{"Status":"healthy"}}}]
@@stats
@@backups
500 1772330400 /opt/backups/postgres/filter_ical_staging_20260301_020000.sql.gz
@@deploys
F filter-ical-staging
1772400000 aaaaaaaaaaaa bbbbbbbbbbbbbbbb
@@end
"#;

#[test]
fn startup_loads_instances_then_every_reachable_host() {
    let mut a = app();
    let fx = a.startup();
    assert!(fx.contains(&Effect::LoadInstances) && fx.contains(&Effect::LoadBuckets));
    assert!(a.busy());
    let fx = a.update(Msg::Instances(Ok(estate::instances())));
    let hosts: Vec<_> = fx
        .iter()
        .filter_map(|f| {
            if let Effect::LoadSnapshot(h) = f {
                Some(h.as_str())
            } else {
                None
            }
        })
        .collect();
    // The stopped instance and the one with the agent offline are not asked.
    assert_eq!(
        hosts,
        [
            estate::MT_HOST,
            estate::MAP_HOST,
            estate::PMO_HOST,
            estate::ENSSOL_HOST
        ]
    );
}

#[test]
fn instances_show_page_by_page_and_a_refresh_keeps_the_old_rows() {
    let mut a = app();
    a.startup();
    let all = estate::instances();
    let (first, rest) = all.split_at(2);
    // The first page is on screen while the listing goes on.
    a.update(Msg::InstancesPage(first.to_vec()));
    assert!(a.estate.instances.loading(), "still listing");
    assert_eq!(a.table(Screen::Instances).rows.len(), 2);
    a.update(Msg::InstancesPage(rest.to_vec()));
    assert_eq!(a.table(Screen::Instances).rows.len(), all.len());
    // The whole list replaces the pages (SSM status joined in).
    let fx = a.update(Msg::Instances(Ok(all.clone())));
    assert!(!a.estate.instances.loading());
    assert_eq!(a.table(Screen::Instances).rows.len(), all.len());
    assert!(fx.iter().any(|f| matches!(f, Effect::LoadSnapshot(_))));
    // A refresh: pages do not mix with the rows already shown.
    key(&mut a, KeyCode::Char('2'));
    ctrl(&mut a, 'r');
    assert!(a.estate.instances.loading());
    a.update(Msg::InstancesPage(first.to_vec()));
    assert_eq!(a.table(Screen::Instances).rows.len(), all.len());
}

#[test]
fn snapshots_become_tenants_with_health_sha_and_backup_age() {
    let mut a = app();
    a.update(Msg::Instances(Ok(estate::instances())));
    a.update(Msg::Snapshot {
        host: estate::MT_HOST.into(),
        result: Ok(parse_snapshot(estate::MT_HOST, MT_SNAPSHOT)),
    });
    let t = a
        .estate
        .inv
        .tenants
        .iter()
        .find(|t| t.project() == "filter-ical-staging")
        .unwrap();
    assert_eq!((t.containers_up, t.containers_total), (1, 2));
    assert_eq!(t.health, "degraded");
    assert_eq!(t.deployed_sha.as_deref(), Some("bbbbbbbbbbbbbbbb"));
    assert_eq!(
        t.last_backup.unwrap().to_rfc3339(),
        "2026-03-01T02:00:00+00:00"
    );
    let prod = a
        .estate
        .inv
        .tenants
        .iter()
        .find(|t| t.project() == "filter-ical-production")
        .unwrap();
    assert_eq!(prod.health, "down");
    let c = a
        .estate
        .inv
        .containers
        .iter()
        .find(|c| c.name == "filter-ical-backend-staging")
        .unwrap();
    assert_eq!(c.restarts, 2);
}

#[test]
fn a_failed_load_is_a_notice_and_the_console_stays_up() {
    let mut a = app();
    a.startup();
    a.update(Msg::Buckets(Err(ProviderError::new(
        "listing buckets",
        "AccessDenied: not allowed",
    ))));
    let n = a.notices.current.clone().unwrap();
    assert!(n.text.contains("AccessDenied"), "{}", n.text);
    assert_eq!(
        a.estate.buckets.error().as_deref(),
        Some("listing buckets: AccessDenied: not allowed")
    );
    assert!(!a.quit);
    a.update(Msg::Snapshot {
        host: "i-x".into(),
        result: Err("reading containers on i-x: timed out".into()),
    });
    assert!(
        a.notices
            .current
            .clone()
            .unwrap()
            .text
            .contains("timed out")
    );
    // Expired SSO credentials: one line that says so and how to sign in.
    a.update(Msg::Instances(Err(ProviderError::new(
        "listing instances in eu-north-1",
        "ExpiredToken: The security token included in the request is expired",
    )
    .with_kind(opsdeck::provider::ErrorKind::of_code("ExpiredToken")))));
    let n = a.notices.current.clone().unwrap();
    assert!(
        n.text
            .contains("credentials missing or expired: :login signs in"),
        "{}",
        n.text
    );
    assert!(!n.text.contains('\n'));
}

#[test]
fn palette_and_number_keys_switch_screens_and_esc_goes_back() {
    let mut a = app();
    key(&mut a, KeyCode::Char(':'));
    for c in "inst".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Instances);
    key(&mut a, KeyCode::Char('6'));
    assert_eq!(a.screen, Screen::Runs);
    key(&mut a, KeyCode::Char(':'));
    for c in "bogus".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    assert!(
        a.notices
            .current
            .as_ref()
            .unwrap()
            .text
            .contains("unknown command :bogus")
    );
    // Buckets → objects is a drill-down: Esc comes back.
    a.update(Msg::Buckets(Ok(vec![opsdeck::domain::Bucket {
        name: "b1".into(),
        region: "us-east-1".into(),
        versioning: "Enabled".into(),
        encryption: "AES256".into(),
        public_access_block: "all blocked".into(),
        lifecycle: "none".into(),
    }])));
    key(&mut a, KeyCode::Char('4'));
    let fx = key(&mut a, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::LoadObjects {
            bucket: "b1".into(),
            prefix: String::new()
        }]
    );
    assert_eq!(a.screen, Screen::Objects);
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Buckets);
}

#[test]
fn ctrl_c_cancels_a_run_only_after_confirmation() {
    let mut a = app();
    a.update(Msg::Instances(Ok(estate::instances())));
    a.update(Msg::Snapshot {
        host: estate::MT_HOST.into(),
        result: Ok(parse_snapshot(estate::MT_HOST, MT_SNAPSHOT)),
    });
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('j'));
    assert_eq!(a.selected_key().as_deref(), Some("filter-ical-staging"));
    key(&mut a, KeyCode::Char('d'));
    let fx = key(&mut a, KeyCode::Enter);
    let Some(Effect::StartRun { id, run }) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(run.host, estate::MT_HOST);
    let id = id.clone();
    assert_eq!(a.screen, Screen::RunOutput);
    a.update(Msg::Run(RunEvent::Started {
        run: id.clone(),
        host: run.host.clone(),
        pid: 42,
    }));
    a.update(Msg::Run(RunEvent::Output {
        run: id.clone(),
        text: "==> [1/4] git pull\npartial".into(),
    }));
    assert_eq!(
        a.run(&id).unwrap().output.iter().collect::<Vec<_>>(),
        ["==> [1/4] git pull", "partial"]
    );
    // Ctrl-C asks; anything but y keeps the run.
    assert!(ctrl(&mut a, 'c').is_empty());
    assert!(matches!(a.mode, Mode::ConfirmCancel(_)));
    assert!(key(&mut a, KeyCode::Char('n')).is_empty());
    assert_eq!(a.run(&id).unwrap().status, RunStatus::Running);
    ctrl(&mut a, 'c');
    let fx = key(&mut a, KeyCode::Char('y'));
    assert_eq!(
        fx,
        vec![Effect::CancelRun {
            id: id.clone(),
            host: estate::MT_HOST.into()
        }]
    );
    // Quitting with a run in flight asks too.
    key(&mut a, KeyCode::Char('q'));
    assert!(matches!(a.mode, Mode::ConfirmQuit) && !a.quit);
    key(&mut a, KeyCode::Esc);
    assert!(!a.quit);
    let fx = a.update(Msg::Run(RunEvent::Cancelled {
        run: id.clone(),
        exit_code: 143,
    }));
    assert_eq!(
        fx,
        vec![
            Effect::LoadSnapshot(estate::MT_HOST.into()),
            Effect::LoadS3Backups {
                bucket: "cohuron-backups".into(),
                prefix: "postgres/".into()
            }
        ],
        "a finished run refreshes its host and what S3 holds"
    );
    assert_eq!(a.run(&id).unwrap().status, RunStatus::Cancelled(143));
    key(&mut a, KeyCode::Char('q'));
    assert!(a.quit);
}

#[test]
fn the_output_pane_scrolls_and_follows() {
    let mut a = app();
    a.update(Msg::Instances(Ok(estate::instances())));
    a.update(Msg::Snapshot {
        host: estate::MT_HOST.into(),
        result: Ok(parse_snapshot(estate::MT_HOST, MT_SNAPSHOT)),
    });
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('d'));
    let fx = key(&mut a, KeyCode::Enter);
    let Some(Effect::StartRun { id, .. }) = fx.first() else {
        panic!()
    };
    let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
    a.update(Msg::Run(RunEvent::Output {
        run: id.clone(),
        text,
    }));
    assert!(a.nav.pane.follow);
    key(&mut a, KeyCode::Char('k'));
    assert!(!a.nav.pane.follow);
    assert_eq!(a.nav.pane.scroll, 1);
    key(&mut a, KeyCode::Char('G'));
    assert!(a.nav.pane.follow && a.nav.pane.scroll == 0);
}

#[test]
fn object_pages_show_before_the_listing_ends() {
    use opsdeck::domain::ObjectEntry;
    let mut a = app();
    a.update(Msg::Buckets(Ok(vec![opsdeck::domain::Bucket {
        name: "big".into(),
        region: "us-east-1".into(),
        versioning: "Enabled".into(),
        encryption: "AES256".into(),
        public_access_block: "all blocked".into(),
        lifecycle: "none".into(),
    }])));
    key(&mut a, KeyCode::Char('4'));
    key(&mut a, KeyCode::Enter);
    let obj = |k: &str| ObjectEntry::Object {
        key: k.into(),
        size: 1,
        storage_class: "STANDARD".into(),
        last_modified: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    };
    let page = |from: usize| {
        (from..from + 1000)
            .map(|i| obj(&format!("k{i:06}")))
            .collect::<Vec<_>>()
    };
    a.update(Msg::ObjectsPage {
        bucket: "big".into(),
        prefix: String::new(),
        page: page(0),
    });
    assert!(a.estate.s3.objects.loading(), "still listing");
    assert_eq!(
        a.table(Screen::Objects).rows.len(),
        1000,
        "the first page is on screen"
    );
    // A page of a place already left is ignored.
    a.update(Msg::ObjectsPage {
        bucket: "other".into(),
        prefix: String::new(),
        page: page(0),
    });
    a.update(Msg::ObjectsPage {
        bucket: "big".into(),
        prefix: String::new(),
        page: page(1000),
    });
    let gone = ObjectEntry::Deleted {
        key: "gone.pdf".into(),
        deleted_at: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
    };
    a.update(Msg::Objects {
        bucket: "big".into(),
        prefix: String::new(),
        result: Ok(vec![gone]),
    });
    assert!(!a.estate.s3.objects.loading());
    let t = a.table(Screen::Objects);
    assert_eq!(t.rows.len(), 2001);
    assert_eq!(t.rows.last().unwrap().cells[2], "DELETED");
}

#[test]
fn an_ambiguous_instance_name_must_be_confirmed_with_the_id() {
    let mut a = app();
    let mut list = estate::instances();
    let mut twin = list[1].clone(); // cohuron-pmo-api, production
    twin.id = "i-0twin0000000000001".into();
    list.push(twin);
    a.update(Msg::Instances(Ok(list)));
    key(&mut a, KeyCode::Char('2'));
    key(&mut a, KeyCode::Char('j'));
    assert_eq!(a.selected_key().as_deref(), Some(estate::PMO_HOST));
    key(&mut a, KeyCode::Char('x'));
    let Mode::Confirm(c) = &a.mode else {
        panic!("stop asks first")
    };
    assert_eq!(
        c.confirm_with.as_deref(),
        Some(estate::PMO_HOST),
        "two instances are named cohuron-pmo-api"
    );
    // The right id typed: the effect names that instance.
    for ch in estate::PMO_HOST.chars() {
        key(&mut a, KeyCode::Char(ch));
    }
    let fx = key(&mut a, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::SetRunning {
            id: estate::PMO_HOST.into(),
            running: false,
            production: true
        }]
    );
}
