//! Every screen rendered at a fixed size, fixed clock and ids, from the
//! sandbox loaded through the real providers and effects runner; compared
//! with insta snapshots. The same buffers are written to screenshots/ as SVG.

mod common;

use common::{Harness, render, text};
use crossterm::event::KeyCode;
use opsdeck::app::{Mode, Screen};
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
    for r in &mut h.app.runs {
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
    assert!(s.contains("postgres-platform") && s.contains("pmo-worker"));
    insta::assert_snapshot!("containers", s);

    goto(&mut h, "backups");
    let s = snap(&h);
    assert!(s.contains("filter_ical_production") && s.contains("s3"));
    insta::assert_snapshot!("backups", s);

    goto(&mut h, "buckets");
    let s = snap(&h);
    assert!(
        s.contains("cohuron-attachments-prod-957207443425") && s.contains("Suspended"),
        "{s}"
    );
    insta::assert_snapshot!("buckets", s);
    screenshot(&h, "buckets");

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
    assert!(s.contains("fuzzy filter the list"));
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
    h.key(KeyCode::Esc);
    assert_eq!(h.app.screen, Screen::Runs);
    insta::assert_snapshot!("runs", snap(&h));
}
