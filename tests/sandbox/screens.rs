//! Every screen rendered at a fixed size, fixed clock and ids, from the
//! sandbox loaded through the real providers and effects runner; compared
//! with insta snapshots. The same buffers are written to screenshots/ as SVG.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Harness, render, text};
use crossterm::event::KeyCode;
use opsdeck::tui::app::{Mode, Screen};
use std::path::Path;

const W: u16 = 120;
const H: u16 = 30;

fn snap(h: &Harness) -> String {
    text(&render(&h.app, W, H))
}

fn goto(h: &mut Harness, cmd: &str) {
    h.keys(":");
    h.keys(cmd);
    h.key(KeyCode::Enter);
}

/// Replace the temp dir in run output so pictures do not change per run.
fn scrub(h: &mut Harness) {
    let tmp = h.dir.path().display().to_string();
    for r in &mut h.app.runs.all {
        let lines: Vec<String> = r
            .output
            .iter()
            .map(|l| l.replace(&tmp, "/sandbox"))
            .collect();
        r.output = Default::default();
        for l in lines {
            r.output.push_str(&format!("{l}\n"));
        }
    }
}

fn screenshot(h: &Harness, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let svg = common::svg::render(&render(&h.app, W, H));
    std::fs::write(dir.join(format!("{name}.svg")), svg).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_renders_the_sandbox_estate() {
    let mut h = Harness::loaded().await;

    // Tenants: the app × env grid with deployed SHAs and backup ages.
    let s = snap(&h);
    assert!(s.contains("filter-ical  production 2/2 healthy"), "{s}");
    insta::assert_snapshot!("tenants", s);
    screenshot(&h, "tenants");

    goto(&mut h, "instances");
    let s = snap(&h);
    assert!(s.contains("pmo-worker-legacy") && s.contains("stopped"));
    insta::assert_snapshot!("instances", s);
    screenshot(&h, "instances");

    goto(&mut h, "containers");
    let s = snap(&h);
    assert!(
        s.contains("PROJECT") && s.contains("map-kong") && s.contains("pmo-worker"),
        "{s}"
    );
    insta::assert_snapshot!("containers", s);
    screenshot(&h, "containers");

    goto(&mut h, "backups");
    let s = snap(&h);
    // PMO's backups first (by database): its document's plain dump and
    // the versions of its daily latest key among opsdeck's own.
    assert!(
        s.contains("backup.sql") && s.contains("latest.sql.gz ~") && s.contains("s3"),
        "{s}"
    );
    insta::assert_snapshot!("backups", s);

    goto(&mut h, "buckets");
    let s = snap(&h);
    assert!(
        s.contains("cohuron-attachments-prod-957207443425") && s.contains("Suspended"),
        "{s}"
    );
    insta::assert_snapshot!("buckets", s);
    screenshot(&h, "buckets");

    goto(&mut h, "schedules");
    let s = snap(&h);
    assert!(
        s.contains("pmo-daily-backup") && s.contains("daily 02:00 UTC") && s.contains("never run"),
        "{s}"
    );
    insta::assert_snapshot!("schedules", s);
    screenshot(&h, "schedules");
    goto(&mut h, "buckets");

    // Drill down: bucket → prefixes → a key → its versions and delete marker.
    h.key(KeyCode::Enter);
    h.settle().await;
    h.key(KeyCode::Enter); // tenant_id=acme/? no: prefixes are sorted, acme first
    h.settle().await;
    let s = snap(&h);
    insta::assert_snapshot!("objects", s);
    assert_eq!(h.app.screen, Screen::Objects);
    h.key(KeyCode::Esc);
    h.settle().await;
    h.key(KeyCode::Char('j')); // tenant_id=demo/
    h.key(KeyCode::Enter);
    h.settle().await;
    h.key(KeyCode::Enter); // entity=client/
    h.settle().await;
    h.key(KeyCode::Enter); // entity_id=…/
    h.settle().await;
    let s = snap(&h);
    assert!(s.contains("photo-id.jpg"), "{s}");
    assert!(
        s.contains("contract.pdf -         DELETED"),
        "a key under a delete marker is listed as deleted: {s}"
    );

    // The fuzzy filter narrows the list and shows in the title.
    h.keys("/");
    h.keys("photo");
    h.key(KeyCode::Enter);
    let s = snap(&h);
    assert!(s.contains("[1/2]") && s.contains("/photo"), "{s}");
    // Up to entity=project/ and the key with three versions.
    h.key(KeyCode::Esc); // clears the filter
    h.key(KeyCode::Esc); // up to entity=client/
    h.settle().await;
    h.key(KeyCode::Esc); // up to tenant_id=demo/
    h.settle().await;
    h.keys("/");
    h.keys("entity=project");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    h.settle().await;
    h.key(KeyCode::Enter);
    h.settle().await;
    h.keys("/");
    h.keys("abc123");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    h.settle().await;
    assert_eq!(h.app.screen, Screen::Versions);
    let s = snap(&h);
    assert!(s.contains("abc123def456.pdf [3]"), "{s}");
    insta::assert_snapshot!("versions", s);

    // Help lists the keys of the current screen.
    h.keys("?");
    assert!(matches!(h.app.mode, Mode::Help));
    let s = snap(&h);
    assert!(s.contains("filter the list"));
    insta::assert_snapshot!("help", s);
    h.key(KeyCode::Esc);

    // A production deploy preview: red frame, typed confirmation required.
    goto(&mut h, "tenants");
    h.keys("jjj");
    h.keys("d");
    let s = snap(&h);
    assert!(s.contains("type filter-ical-production then Enter"), "{s}");
    assert!(s.contains("PRODUCTION"));
    insta::assert_snapshot!("preview-production", s);
    h.key(KeyCode::Esc);

    // A real deploy of filter-ical staging, streamed into the output pane.
    h.keys("k");
    h.keys("d");
    h.key(KeyCode::Enter);
    h.settle().await;
    scrub(&mut h);
    assert_eq!(h.app.screen, Screen::RunOutput);
    let s = snap(&h);
    assert!(s.contains("succeeded") && s.contains("exit 0"), "{s}");
    insta::assert_snapshot!("run-output", s);
    screenshot(&h, "run-output");
    // Esc goes back where the deploy was started: Tenants.
    h.key(KeyCode::Esc);
    assert_eq!(h.app.screen, Screen::Tenants);
    h.keys("6");
    assert_eq!(h.app.screen, Screen::Runs);
    insta::assert_snapshot!("runs", snap(&h));

    // History: the journal, newest first (real clock and user scrubbed).
    h.keys("7");
    h.settle().await;
    while !h.app.estate.history.loaded() {
        h.step().await;
    }
    let mut entries = h.app.estate.history.data.clone();
    for e in &mut entries {
        e.start.at = common::fixed_now();
        e.start.operator.who = "oncall".into();
        if let Some(f) = e.finish.as_mut() {
            f.duration_ms = 2400;
        }
    }
    h.app.update(opsdeck::tui::app::Msg::History(entries));
    let s = snap(&h);
    assert!(s.contains("History [1]") && s.contains("succeeded"), "{s}");
    insta::assert_snapshot!("history", s);
    screenshot(&h, "history");

    // A drill from the palette: the fault is injected, the header counts.
    goto(&mut h, "drill crash-loop");
    h.settle().await;
    while h.app.estate.drill.is_none() {
        h.step().await;
    }
    h.settle().await;
    let s = snap(&h);
    assert!(s.contains("DRILL crash-loop"), "{s}");
    assert!(s.contains("keeps restarting"), "the alarm: {s}");
    // `:drill` shows the whole alarm again.
    goto(&mut h, "drill");
    let s = snap(&h);
    assert!(
        s.contains("keeps restarting") && s.contains(":drill verify when it is recovered"),
        "{s}"
    );
    h.key(KeyCode::Esc);
    goto(&mut h, "containers");
    h.keys("/gabs-massage-backend");
    h.key(KeyCode::Enter);
    let s = snap(&h);
    assert!(s.contains("Restarting (137)"), "{s}");
    h.key(KeyCode::Esc);
    // Verifying too early: not recovered, the report says what is missing.
    goto(&mut h, "drill verify");
    while !matches!(h.app.mode, Mode::Detail { .. }) {
        h.step().await;
    }
    let s = snap(&h);
    assert!(
        s.contains("FAILED ·") && s.contains("✗ the container is up and healthy"),
        "{s}"
    );
    h.key(KeyCode::Esc);
    h.keys("8");
    while !h.app.estate.drills.loaded() || h.app.estate.drills.data.is_empty() {
        h.step().await;
    }
    let s = snap(&h);
    // The failed verification's report, under the drill still in progress.
    assert!(
        s.contains("Drills [2]")
            && s.contains("IN PROGRESS")
            && s.contains("crash-loop")
            && s.contains("FAILED"),
        "{s}"
    );

    // Posture findings of the sandbox (the seeds' open ports, unencrypted volumes, IMDSv1).
    h.keys("9");
    h.settle().await;
    let s = snap(&h);
    assert!(
        s.contains("Findings [5]") && s.contains("open to the internet"),
        "{s}"
    );
    insta::assert_snapshot!("findings", s);
    screenshot(&h, "findings");

    // What needs attention, worst first, with the runbook that fixes each.
    h.keys("0g");
    let s = snap(&h);
    assert!(s.contains("Attention [30]") && s.contains("drill"), "{s}");
    insta::assert_snapshot!("attention", s);
    screenshot(&h, "attention");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_picker_form_preview_and_confirmation() {
    let mut h = Harness::loaded().await;
    // Tenants → filter-ical production → r: the runbooks for a tenant.
    h.keys("jjj");
    assert_eq!(
        h.app.selected_key().as_deref(),
        Some("filter-ical-production")
    );
    h.keys("r");
    assert!(matches!(h.app.mode, Mode::Picker(_)));
    let s = snap(&h);
    assert!(
        s.contains("rollback") && s.contains("deploy") && s.contains("query"),
        "{s}"
    );
    insta::assert_snapshot!("runbook-picker", s);
    screenshot(&h, "runbook-picker");

    // Typing filters; Enter opens the parameter form.
    h.keys("roll");
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.mode, Mode::Form(_)));
    // ←→ cycle the choices: previous, then the SHAs the host has deployed.
    h.key(KeyCode::Right);
    let s = snap(&h);
    assert!(s.contains("to"), "{s}");
    // A revision reads as what it is: short SHA, subject, when deployed;
    // never 40 bare hex digits.
    assert!(s.contains("· live since 2026-"), "{s}");
    let bare_sha = s
        .split(|c: char| !c.is_ascii_hexdigit())
        .any(|w| w.len() == 40);
    assert!(!bare_sha, "{s}");
    insta::assert_snapshot!("runbook-form", s);
    screenshot(&h, "runbook-form");
    h.key(KeyCode::Esc);

    // A container's logs: a bad value is shown at its field, Enter refuses it.
    h.keys("3");
    h.keys("/");
    h.keys("nginx-platform");
    h.key(KeyCode::Enter);
    h.keys("r");
    h.keys("logs");
    h.key(KeyCode::Enter);
    h.keys("x"); // lines: "200x"
    let s = snap(&h);
    assert!(s.contains("\"200x\" is not a whole number"), "{s}");
    insta::assert_snapshot!("runbook-form-error", s);
    h.key(KeyCode::Enter);
    assert!(
        matches!(h.app.mode, Mode::Form(_)),
        "not previewed with a bad value"
    );
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Down);
    h.keys("GET");
    h.key(KeyCode::Enter);
    let Mode::Preview(p) = &h.app.mode else {
        panic!("preview")
    };
    assert_eq!(p.run.params[1], ("filter".into(), "GET".into()));
    let s = snap(&h);
    assert!(
        s.contains("filter=GET") && !s.contains("filter=GET\n"),
        "{s}"
    );
    insta::assert_snapshot!("runbook-preview", s);
    screenshot(&h, "runbook-preview");
    // Tab goes back to the form with the values kept.
    h.key(KeyCode::Tab);
    let Mode::Form(f) = &h.app.mode else {
        panic!("form")
    };
    assert_eq!(f.fields[1].value, "GET");
    h.key(KeyCode::Esc);

    // The ad-hoc command: typed in the multi-line editor, destructive, so
    // the instance's name is typed to confirm.
    h.keys("2");
    h.keys("g");
    h.keys(":");
    h.keys("run command");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter); // opens the editor
    h.keys("uptime");
    h.key(KeyCode::Enter);
    h.keys("df -h /");
    let s = snap(&h);
    assert!(s.contains("editor"), "{s}");
    insta::assert_snapshot!("runbook-editor", s);
    h.key(KeyCode::Esc); // keeps the text
    h.key(KeyCode::Enter); // preview
    h.keys("multi-tenant");
    let Mode::Preview(p) = &h.app.mode else {
        panic!("preview")
    };
    assert_eq!(p.run.confirm_with.as_deref(), Some("multi-tenant-platform"));
    assert!(
        p.run.script.contains("command='uptime\ndf -h /'"),
        "{}",
        p.run.script
    );
    let s = snap(&h);
    assert!(
        s.contains("destructive: type multi-tenant-platform then Enter"),
        "{s}"
    );
    insta::assert_snapshot!("runbook-confirm", s);
    screenshot(&h, "runbook-confirm");
}

/// The output pane never shows blank rows where output exists: at the top
/// (`g`), in the middle (PgDn from the top), at the bottom (`G`), and for
/// an output shorter than the pane (PgUp does nothing to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_output_pane_scrolls_without_blank_rows() {
    use opsdeck::tui::app::{RunKind, RunStatus, RunView};
    let mut h = Harness::loaded().await;
    let add = |h: &mut Harness, id: &str, n: usize| {
        let mut output = opsdeck::tui::app::output::OutputBuffer::default();
        for i in 1..=n {
            output.push_str(&format!("line {i:03} of {n}\n"));
        }
        h.app.runs.all.push(RunView {
            id: id.into(),
            kind: RunKind::Runbook,
            title: format!("logs {id}"),
            runbook: "logs".into(),
            host: "i-0test".into(),
            production: false,
            started_at: h.app.now,
            finished_at: Some(h.app.now),
            status: RunStatus::Succeeded,
            output,
        });
    };
    add(&mut h, "long", 202);
    add(&mut h, "short", 5);
    h.app.nav.pane.show("long".into(), true);
    h.app.screen = Screen::RunOutput;
    let shown = |s: &str| s.lines().filter(|l| l.contains("line ")).count();
    let bottom = snap(&h);
    let rows = shown(&bottom);
    assert!(rows > 10, "{bottom}");
    assert!(bottom.contains("line 202 of 202"), "{bottom}");
    insta::assert_snapshot!("output-bottom", bottom);
    h.keys("g");
    let top = snap(&h);
    assert_eq!(shown(&top), rows, "{top}");
    assert!(
        top.contains("line 001 of 202") && !top.contains("line 202"),
        "{top}"
    );
    insta::assert_snapshot!("output-top", top);
    h.key(KeyCode::PageDown);
    let middle = snap(&h);
    assert_eq!(shown(&middle), rows, "{middle}");
    assert!(
        !middle.contains("line 001 ") && !middle.contains("line 202"),
        "{middle}"
    );
    insta::assert_snapshot!("output-middle", middle);
    h.keys("G");
    assert_eq!(snap(&h), bottom);

    h.app.nav.pane.show("short".into(), true);
    h.key(KeyCode::PageUp);
    let short = snap(&h);
    assert_eq!(shown(&short), 5, "{short}");
    insta::assert_snapshot!("output-short", short);
    h.keys("g");
    assert_eq!(snap(&h), short);
}

/// Production rows are marked on every screen that lists them, as on
/// Tenants: the red frame and the PRODUCTION badge follow the selection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_rows_are_marked_on_instances_and_containers() {
    use opsdeck::provider::sandbox::estate::{MT_HOST, STOPPED_HOST};
    let mut h = Harness::loaded().await;
    let at = |h: &mut Harness, screen: &str, key: &str| {
        h.keys(screen);
        h.keys("g");
        while h.app.selected_key().as_deref() != Some(key) {
            let before = h.app.selected_key();
            h.keys("j");
            assert_ne!(before, h.app.selected_key(), "{key} not listed");
        }
        snap(h).lines().next().unwrap().contains("PRODUCTION")
    };
    assert!(at(&mut h, "2", MT_HOST), "the production platform host");
    assert!(h.app.production_in_view());
    assert!(!at(&mut h, "2", STOPPED_HOST), "a staging host");
    let prod = h
        .app
        .estate
        .inv
        .containers
        .iter()
        .find(|c| c.name.ends_with("-production"))
        .map(opsdeck::table::rows::container_key)
        .unwrap();
    let staging = h
        .app
        .estate
        .inv
        .containers
        .iter()
        .find(|c| c.name.ends_with("-staging"))
        .map(opsdeck::table::rows::container_key)
        .unwrap();
    assert!(at(&mut h, "3", &prod), "{prod}");
    assert!(!at(&mut h, "3", &staging), "{staging}");
}

/// Help lists what the screen does, every screen's key and every palette
/// command (from the keymap and the command table); Tab in the palette
/// completes runbook, scenario and context names and cycles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_and_palette_completion_come_from_the_tables() {
    let mut h = Harness::loaded().await;
    h.keys("?");
    let s = snap(&h);
    for want in [
        "7 history",
        "9 findings",
        ":history",
        ":drills",
        ":findings",
        ":run NAME",
        ":drill SCENARIO|verify",
        ":ctx NAME",
        "deploy the tenant",
    ] {
        assert!(s.contains(want), "help lacks {want}: {s}");
    }
    h.key(KeyCode::Esc);
    h.keys("2");
    h.keys("?");
    let s = snap(&h);
    assert!(
        s.contains("start the instance") && !s.contains("deploy the tenant"),
        "{s}"
    );
    h.key(KeyCode::Esc);

    let line = |h: &Harness| match &h.app.mode {
        Mode::Palette(ta) => ta.lines()[0].clone(),
        _ => panic!("palette closed"),
    };
    // On a tenant, `:run ` + Tab: the tenant's runbooks, one per Tab.
    h.keys("1");
    h.keys(":run ");
    h.key(KeyCode::Tab);
    let first = line(&h);
    assert!(first.starts_with("run ") && first != "runs", "{first}");
    h.key(KeyCode::Tab);
    let second = line(&h);
    assert!(second.starts_with("run ") && second != first, "{second}");
    let names: Vec<String> = h.app.completions("run ");
    assert!(names.contains(&"run deploy".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "run restart"),
        "container runbooks are not offered on a tenant: {names:?}"
    );
    h.key(KeyCode::Esc);
    // `:dr` Tab → `drills`, Tab → `drill `, and `:drill ` Tab → a scenario.
    h.keys(":dr");
    h.key(KeyCode::Tab);
    assert_eq!(line(&h), "drills");
    h.key(KeyCode::Tab);
    assert_eq!(line(&h), "drill ");
    h.key(KeyCode::Esc);
    h.keys(":drill ");
    h.key(KeyCode::Tab);
    let scenario = line(&h);
    assert!(
        scenario.starts_with("drill ") && scenario.len() > "drill ".len(),
        "{scenario}"
    );
    h.key(KeyCode::Tab);
    assert_ne!(line(&h), scenario, "Tab again: the next scenario");
    h.key(KeyCode::Esc);
    h.app.estate.contexts = vec!["sandbox".into(), "staging-eu".into()];
    h.keys(":ctx st");
    h.key(KeyCode::Tab);
    assert_eq!(line(&h), "ctx staging-eu");
}

/// At 80×24 the lists stay usable: ids and times are whole or left out,
/// never cut mid-value; free text is cut with `…`; the footer keeps `?`
/// and `q`; problem rows carry a mark that survives NO_COLOR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_80_by_24_terminal_keeps_ids_whole_and_the_keys_in_view() {
    let mut h = Harness::loaded().await;
    let small = |h: &Harness| text(&render(&h.app, 80, 24));
    for screen in ["1", "2", "3", "5", "7"] {
        h.keys(screen);
        h.settle().await;
        let s = small(&h);
        let footer = s.lines().last().unwrap();
        assert!(footer.contains("<?>") && footer.contains("<q>"), "{footer}");
        for word in s.split(|c: char| c.is_whitespace() || c == '┃' || c == '│') {
            if let Some(hex) = word.strip_prefix("i-") {
                assert!(
                    hex.len() == 17 && hex.chars().all(|c| c.is_ascii_hexdigit()),
                    "an instance id cut mid-value: {word:?} in\n{s}"
                );
            }
        }
    }
    h.keys("3");
    let s = small(&h);
    insta::assert_snapshot!("containers-80x24", s);
    // The badge is never the part cut off, and every tab keeps its key.
    let mut lines = s.lines();
    assert!(lines.next().unwrap().contains("PRODUCTION"), "{s}");
    let tabs = lines.next().unwrap();
    assert!(
        tabs.contains("3 Containers") && tabs.trim_end().ends_with(" 0"),
        "{tabs}"
    );
    // The crash-looping worker is marked, not only coloured.
    let worker = s.lines().find(|l| l.contains("pmo-worker")).unwrap();
    assert!(worker.contains('!') || worker.contains('✗'), "{worker}");
    h.keys("2");
    insta::assert_snapshot!("instances-80x24", small(&h));
}

/// Small things an operator notices: the quit dialog names the runs still
/// going, Enter opens a finding whole, `:drill verify` without a drill
/// says how to start one, and a backup's picker lists what only reads first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_names_runs_findings_open_and_safe_runbooks_come_first() {
    use opsdeck::tui::app::{RunKind, RunStatus, RunView};
    let mut h = Harness::loaded().await;
    h.app.runs.all.push(RunView {
        id: "20260302-100000-deploy-001".into(),
        kind: RunKind::Runbook,
        title: "deploy paiss-staging".into(),
        runbook: "deploy".into(),
        host: opsdeck::provider::sandbox::estate::MT_HOST.into(),
        production: false,
        started_at: h.app.now,
        finished_at: None,
        status: RunStatus::Running,
        output: Default::default(),
    });
    h.keys("q");
    let s = snap(&h);
    assert!(
        s.contains("deploy paiss-staging on multi-tenant-platform"),
        "{s}"
    );
    h.keys("n");
    assert!(!h.app.quit);
    // (A run that never ends would keep the harness waiting.)
    h.app.runs.all.clear();

    h.keys("9");
    h.settle().await;
    h.key(KeyCode::Enter);
    let Mode::Detail { fields, .. } = &h.app.mode else {
        panic!("a finding opens")
    };
    assert!(fields.iter().any(|(k, _)| k == "resource"));
    assert!(fields.iter().any(|(k, _)| k == "detail"));
    h.key(KeyCode::Esc);

    goto(&mut h, "drill verify");
    let n = h.app.notices.current.as_ref().unwrap().text.clone();
    assert!(n.contains(":drill SCENARIO starts one"), "{n}");

    h.keys("5");
    h.keys("g");
    h.keys("r");
    let Mode::Picker(p) = &h.app.mode else {
        panic!("picker")
    };
    let dangers: Vec<_> = p.visible().iter().map(|e| e.2).collect();
    let names: Vec<&str> = p.visible().iter().map(|e| e.0.as_str()).collect();
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(at("validate-backup") < at("restore-database"), "{names:?}");
    assert!(
        dangers.windows(2).all(|w| w[0] <= w[1]),
        "safe runbooks first: {dangers:?}"
    );
}

/// A notice cut at the edge says `n` shows it whole; `n` lists the last
/// notices whole, newest first, in a popup that wraps and scrolls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_notices_open_whole_and_are_kept() {
    let mut h = Harness::loaded().await;
    let long = format!("first notice {} end-of-it", "word ".repeat(40));
    h.app.update(opsdeck::tui::app::Msg::ActionDone {
        title: "download".into(),
        result: Ok(long.clone()),
        reload: vec![],
    });
    h.app.update(opsdeck::tui::app::Msg::ActionDone {
        title: "second".into(),
        result: Err("boom".into()),
        reload: vec![],
    });
    h.app.notices.current = h.app.notices.kept.front().cloned();
    let s = snap(&h);
    let status = s.lines().rev().nth(1).unwrap();
    assert!(status.contains("… (n: whole)"), "{status}");
    h.keys("n");
    let Mode::Detail { fields, .. } = &h.app.mode else {
        panic!("n opens the notices")
    };
    assert!(fields[0].1.contains("boom"), "newest first: {fields:?}");
    assert!(fields[1].1.ends_with("end-of-it"), "whole: {fields:?}");
    let s = snap(&h);
    assert!(s.contains("end-of-it"), "wrapped, not cut: {s}");
    h.key(KeyCode::Esc);
    assert!(matches!(h.app.mode, Mode::Normal));
}

/// `/failed` on History keeps failed runs only (no fuzzy noise), and a
/// column can be named: `status:succeeded`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_filter_narrows_by_words_and_columns() {
    let mut h = Harness::loaded().await;
    use opsdeck::store::journal::{Finished, Operator, Record, RunOutcome, Started};
    // Three runs in the journal: one failed, two succeeded — one of them
    // with a result whose letters spell f-a-i-l-e-d in order.
    for (run, outcome, result) in [
        ("r1", RunOutcome::Failed, "failed step=\"pull\""),
        (
            "r2",
            RunOutcome::Succeeded,
            "flaky and idle daemon restarted",
        ),
        ("r3", RunOutcome::Succeeded, "ok"),
    ] {
        let j = &h.providers.journal;
        j.append(&Record::Start(Box::new(Started {
            run: run.into(),
            at: h.app.now,
            operator: Operator::local("sandbox", None),
            runbook: "restart".into(),
            title: format!("restart {run}"),
            danger: opsdeck::runbook::Danger::Change,
            production: false,
            params: vec![],
            digest: "00".into(),
            target: "nginx-platform".into(),
            target_kind: "container".into(),
            host: opsdeck::provider::sandbox::estate::MT_HOST.into(),
            job: run.into(),
            on_failure: "abort".into(),
        })))
        .unwrap();
        j.append(&Record::Finish(Finished {
            run: run.into(),
            at: h.app.now,
            status: outcome,
            exit_code: Some(i32::from(outcome != RunOutcome::Succeeded)),
            result: Some(result.into()),
            error: None,
            duration_ms: 1000,
            reattached: false,
            report: Default::default(),
        }))
        .unwrap();
    }
    h.keys("7");
    h.settle().await;
    assert_eq!(h.app.table(Screen::History).rows.len(), 3);
    h.keys("/failed");
    h.key(KeyCode::Enter);
    let t = h.app.table(Screen::History).clone();
    let l = h.app.list(Screen::History);
    for &i in &l.visible {
        assert!(
            t.rows[i].cells.iter().any(|c| c.contains("failed")),
            "{:?}",
            t.rows[i].cells
        );
    }
    h.key(KeyCode::Esc);
    h.keys("/status:succeeded");
    h.key(KeyCode::Enter);
    let l = h.app.list(Screen::History);
    let status = t.headers.iter().position(|x| *x == "STATUS").unwrap();
    assert_eq!(l.visible.len(), 2);
    for &i in &l.visible {
        assert_eq!(t.rows[i].cells[status], "succeeded");
    }
}

/// A runbook with cloud steps in the console: the preview shows each call
/// and each script part with where it runs; the run streams its steps and
/// ends with what it made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_procedure_is_previewed_and_followed_in_the_console() {
    let mut h = Harness::loaded().await;
    h.keys("2");
    h.keys("/");
    h.keys("cohuron-pmo-api");
    h.key(KeyCode::Enter);
    h.keys("r");
    h.keys("recover");
    h.key(KeyCode::Enter);
    let Mode::Form(f) = &h.app.mode else {
        panic!("form")
    };
    // No database on this sandbox to restore (its PostgreSQL is simulated).
    let db = f.fields.iter().position(|x| x.name == "db").unwrap();
    for _ in 0..db {
        h.key(KeyCode::Down);
    }
    for _ in 0.."app".len() {
        h.key(KeyCode::Backspace);
    }
    h.key(KeyCode::Enter);
    let Mode::Preview(p) = &h.app.mode else {
        panic!("preview")
    };
    assert!(p.run.procedure.is_some());
    let s = snap(&h);
    assert!(
        s.contains("the procedure: the cloud calls opsdeck makes")
            && s.contains("cloud `newest-image`"),
        "{s}"
    );
    insta::assert_snapshot!("procedure-preview", s);
    screenshot(&h, "procedure-preview");
    h.keys("cohuron-pmo-api");
    h.key(KeyCode::Enter);
    h.settle().await;
    scrub(&mut h);
    let r = h.app.runs.all.last().unwrap();
    let out: Vec<String> = r.output.iter().map(str::to_string).collect();
    let out = out.join("\n");
    assert!(
        out.contains("==> [2/9] launch a new instance like it"),
        "{out}"
    );
    assert!(out.contains("==> opsdeck result: succeeded"), "{out}");
    assert!(
        out.contains("==> estate now (what this run made or changed):"),
        "{out}"
    );
    // The old one ran: it is stopped so that it cannot come back beside the new one.
    assert!(
        out.contains("instance i-07f64b1f8de8f6b26 stopped by this run (it was running"),
        "{out}"
    );
    insta::assert_snapshot!("procedure-run", snap(&h));
    screenshot(&h, "procedure-run");
}

/// A tab in run output lands on the next tab stop in the pane (every 8
/// columns), as a terminal shows it, instead of vanishing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_in_output_land_on_tab_stops() {
    use opsdeck::tui::app::{RunKind, RunStatus, RunView};
    let mut h = Harness::loaded().await;
    let mut output = opsdeck::tui::app::output::OutputBuffer::default();
    output.push_str("map-ams-assets\t\"0.78%\"\t\"105MiB / 3.8GiB\"\nab\tc\n");
    h.app.runs.all.push(RunView {
        id: "20260302-100000-tabs-001".into(),
        kind: RunKind::Runbook,
        title: "tabs".into(),
        runbook: "tabs".into(),
        host: "i-0test".into(),
        production: false,
        started_at: h.app.now,
        finished_at: Some(h.app.now),
        status: RunStatus::Succeeded,
        output,
    });
    h.app
        .nav
        .pane
        .show("20260302-100000-tabs-001".into(), false);
    h.keys("6");
    h.key(KeyCode::Enter);
    let s = snap(&h);
    let line = |needle: &str| {
        s.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in\n{s}"))
            .to_string()
    };
    let first = line("map-ams-assets");
    let at = |l: &str, what: &str| l.find(what).map(|i| l[..i].chars().count());
    let start = at(&first, "map-ams-assets").unwrap();
    // 14 characters, then the tab: the next stop is column 16.
    assert_eq!(at(&first, "\"0.78%\""), Some(start + 16), "{first}");
    assert_eq!(at(&first, "\"105MiB"), Some(start + 24), "{first}");
    let second = s
        .lines()
        .find(|l| l.contains("ab      c"))
        .map(str::to_string);
    assert!(second.is_some(), "ab<TAB>c puts c at column 8:\n{s}");
}

/// A start refused by a lock: the dialog names the holder and offers
/// follow and wait; `w` shows the wait, Esc stops it and starts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_start_shows_its_holder_follow_and_wait() {
    use opsdeck::jobs::locks::{Holder, HolderRecord, Locked, RECORD_VERSION};
    use opsdeck::tui::app::locked::LockedDialog;
    let mut h = Harness::loaded().await;
    goto(&mut h, "tenants");
    h.keys("/");
    h.keys("filter staging");
    h.key(KeyCode::Enter);
    h.keys("d");
    let Mode::Preview(p) = &h.app.mode else {
        panic!("the deploy's preview")
    };
    let run = Box::new(p.run.clone());
    let since = h.app.now - chrono::Duration::seconds(95);
    h.app.mode = Mode::Locked(LockedDialog {
        run,
        locked: Locked {
            host: "i-0a4f1c2e9b7d30001".into(),
            key: "project-filter-ical-staging".into(),
            holders: vec![HolderRecord::Known(Holder {
                v: RECORD_VERSION,
                run: "20260302-095825-deploy-h3f9a0c21".into(),
                who: "alice".into(),
                identity: None,
                runbook: "deploy".into(),
                target: "filter-ical-staging".into(),
                since,
            })],
        },
        waiting: None,
    });
    let s = snap(&h);
    for want in [
        "project-filter-ical-staging is held",
        "by      alice",
        "runbook deploy on filter-ical-staging",
        "(95 s ago)",
        "run     20260302-095825-deploy-h3f9a0c21",
        "f = follow it   w = wait, then start   Esc = leave it",
    ] {
        assert!(s.contains(want), "{want:?} in\n{s}");
    }
    screenshot(&h, "locked");
    h.keys("w");
    let s = snap(&h);
    assert!(s.contains("waiting 0 s: asked every 2 s"), "{s}");
    assert!(s.contains("Esc = stop waiting"), "{s}");
    h.key(KeyCode::Esc);
    assert!(matches!(h.app.mode, Mode::Normal));
    assert!(
        !h.app
            .runs
            .all
            .iter()
            .any(|r| r.runbook == "deploy" && r.status.is_active()),
        "nothing started"
    );
}
