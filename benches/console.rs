//! Console speed goals (figures go in the issue notes, not in tests):
//! * render one frame of a 100k-row list (goal ≤ 1 ms)
//! * fuzzy-filter 100k rows, the work of one keystroke (goal ≤ 10 ms)
//! * ingest 1M output lines into the output pane (goal ≥ 1M lines/s)
//! * mask 1M realistic output lines (part of the ≥ 2M lines/s end-to-end goal)
//! * start to first frame on an existing sandbox (goal ≤ 30 ms)
//! * a big estate loaded at once (5,000 instances, 20,000 containers on 200
//!   hosts, 100,000 objects): a frame, a filter keystroke and a page of
//!   scrolling on each screen (goals 1 ms and 10 ms); the memory it takes is
//!   printed (resident set before and after loading)
//!
//! Run: `cargo bench --bench console`

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opsdeck::config::Dirs;
use opsdeck::domain::Container;
use opsdeck::session::{self, Options};
use opsdeck::table::rows as views;
use opsdeck::table::{ListState, new_matcher};
use opsdeck::tui::app::keymap::Keymap;
use opsdeck::tui::app::output::OutputBuffer;
use opsdeck::tui::app::{App, Screen};
use opsdeck::tui::ui::{self, theme::Theme};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

fn containers(n: usize) -> Vec<Container> {
    containers_on(n, 40)
}

fn containers_on(n: usize, hosts: usize) -> Vec<Container> {
    (0..n)
        .map(|i| Container {
            host: format!("i-{:017x}", i % hosts),
            name: format!(
                "{}-{}-{}",
                ["paiss", "filter-ical", "gabs-massage", "pmo"][i % 4],
                ["web", "backend", "frontend"][i % 3],
                if i % 2 == 0 { "staging" } else { "production" }
            ) + &format!("-{i}"),
            image: format!("registry/app-{}:{}", i % 97, i % 13),
            state: "running".into(),
            status: "Up 3 days (healthy)".into(),
            health: "healthy".into(),
            restarts: (i % 7) as u32,
            cpu_percent: Some((i % 400) as f64 / 10.0),
            mem_bytes: Some((i as u64 % 512) * 1024 * 1024),
            labels: BTreeMap::new(),
            ports: String::new(),
            image_id: String::new(),
        })
        .collect()
}

fn app_with_rows(n: usize) -> App {
    let ctx = opsdeck::tui::app::ContextInfo {
        name: "bench".into(),
        provider: "sandbox".into(),
        production: false,
        read_only: false,
        simulated: true,
        real_db: false,
        regions: vec!["eu-north-1".into()],
        identity: None,
    };
    let cfg =
        opsdeck::config::parse(opsdeck::provider::sandbox::SANDBOX_CONFIG, "sandbox.toml").unwrap();
    let mut app = App::new(cfg, ctx, Keymap::builtin(), chrono::Utc::now());
    let table = views::containers_table(&containers(n), &BTreeMap::new());
    let mut list = ListState::default();
    list.refilter(&table, &mut new_matcher());
    list.move_by(n as isize / 2, &table);
    app.nav.tables.insert(Screen::Containers, table);
    app.nav.lists.insert(Screen::Containers, list);
    app.screen = Screen::Containers;
    app
}

fn render_100k(c: &mut Criterion) {
    let app = app_with_rows(100_000);
    let theme = Theme::dark();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50)).unwrap();
    c.bench_function("render frame, 100k-row list (200x50)", |b| {
        b.iter(|| {
            term.draw(|f| ui::draw(f, black_box(&app), &theme)).unwrap();
        });
    });
}

fn filter_100k(c: &mut Criterion) {
    let table = views::containers_table(&containers(100_000), &BTreeMap::new());
    let mut matcher = new_matcher();
    let mut group = c.benchmark_group("fuzzy filter 100k rows");
    for pattern in ["f", "fil stag", "gabs prod 99"] {
        group.bench_function(pattern, |b| {
            let mut list = ListState::default();
            list.filter = pattern.into();
            b.iter(|| list.refilter(black_box(&table), &mut matcher));
        });
    }
    group.finish();
}

fn ingest_1m(c: &mut Criterion) {
    // 1M lines arriving as 64 KiB chunks, as the engine delivers them.
    let line = "#4 [backend 3/4] RUN pip install --no-cache-dir -r requirements.txt\n";
    let chunk: String = line.repeat(65_536 / line.len());
    let lines_per_chunk = chunk.matches('\n').count();
    let chunks = 1_000_000 / lines_per_chunk;
    let mut group = c.benchmark_group("output pane");
    group.throughput(Throughput::Elements((chunks * lines_per_chunk) as u64));
    group.sample_size(10);
    group.bench_function("ingest 1M lines", |b| {
        b.iter(|| {
            let mut buf = OutputBuffer::default();
            for _ in 0..chunks {
                buf.push_str(black_box(&chunk));
            }
            assert_eq!(buf.total as usize, chunks * lines_per_chunk);
            buf
        });
    });
    group.finish();
}

fn mask_1m(c: &mut Criterion) {
    // Realistic output: build and deploy lines, one in fifty with a
    // variable whose name looks like a secret, one in a hundred with a URL.
    let mut lines: Vec<String> = Vec::new();
    for i in 0..1_000 {
        lines.push(match i % 100 {
            0 => format!("DATABASE_URL=postgresql://app:s3cr3t{i}@db:5432/app"),
            n if n % 50 == 1 => format!("export API_TOKEN=tok_{i:08}"),
            n if n % 3 == 0 => {
                format!("#4 [backend 3/4] RUN pip install -r requirements.txt ({i})")
            }
            n if n % 3 == 1 => format!("{i:>6} GET /api/v1/events?page={i} 200 12ms"),
            _ => format!("==> [2/5] docker compose -p filter-ical-staging up -d --build ({i})"),
        });
    }
    let mut group = c.benchmark_group("masking");
    group.throughput(Throughput::Elements(1_000_000));
    group.sample_size(10);
    group.bench_function("mask 1M output lines", |b| {
        b.iter(|| {
            let mut masked = 0usize;
            for _ in 0..1_000 {
                for l in &lines {
                    if let std::borrow::Cow::Owned(_) = opsdeck::store::mask::mask(black_box(l)) {
                        masked += 1;
                    }
                }
            }
            assert_eq!(masked, 1_000 * 30);
            masked
        });
    });
    group.finish();
}

fn start_to_first_frame(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = Dirs {
        config: tmp.path().join("config"),
        data: tmp.path().join("data"),
        state: tmp.path().join("state"),
    };
    let exe = std::env::current_exe().unwrap();
    let opts = Options::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The sandbox exists already (as on every start but the first).
    rt.block_on(session::open(&opts, &dirs, chrono::Utc::now(), &exe))
        .unwrap();
    let theme = Theme::dark();
    let mut group = c.benchmark_group("startup");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("open session + first frame (120x32)", |b| {
        b.iter(|| {
            let s = rt
                .block_on(session::open(&opts, &dirs, chrono::Utc::now(), &exe))
                .unwrap();
            let mut app = App::new(s.config, s.ctx, Keymap::builtin(), chrono::Utc::now());
            let _effects = app.startup();
            let mut term =
                ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 32)).unwrap();
            term.draw(|f| ui::draw(f, &app, &theme)).unwrap();
        });
    });
    group.finish();
}

fn instances(n: usize) -> Vec<opsdeck::domain::Instance> {
    (0..n)
        .map(|i| opsdeck::domain::Instance {
            id: format!("i-{i:017x}"),
            name: format!(
                "{}-{}-{i}",
                ["web", "worker", "db", "api"][i % 4],
                ["prod", "staging"][i % 2]
            ),
            region: ["eu-north-1", "us-east-1"][i % 2].into(),
            instance_type: ["t3.medium", "t3.small", "m6i.large"][i % 3].into(),
            state: if i % 17 == 0 { "stopped" } else { "running" }.into(),
            private_ip: Some(format!("10.0.{}.{}", i / 250, i % 250)),
            public_ip: None,
            ssm_ping: opsdeck::domain::SsmPing::Online,
            platform: "Linux/UNIX".into(),
            tags: BTreeMap::from([
                ("Name".to_string(), format!("host-{i}")),
                (
                    "Environment".to_string(),
                    ["production", "staging"][i % 2].to_string(),
                ),
            ]),
        })
        .collect()
}

fn objects(n: usize) -> Vec<opsdeck::domain::ObjectEntry> {
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    (0..n)
        .map(|i| opsdeck::domain::ObjectEntry::Object {
            key: format!("attachments/2026/{:02}/doc-{i:06}.pdf", i % 12 + 1),
            size: (i as u64 % 5_000) * 1_024,
            storage_class: "STANDARD".into(),
            last_modified: at,
        })
        .collect()
}

/// Resident set size of this process, in MB (Linux).
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn big_estate(c: &mut Criterion) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use opsdeck::tui::app::Msg;
    let key = |app: &mut App, code: KeyCode| {
        app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    };
    let before = rss_mb();
    let mut app = app_with_rows(0);
    app.update(Msg::Instances(Ok(instances(5_000))));
    let names = BTreeMap::new();
    for (screen, table) in [
        (
            Screen::Containers,
            views::containers_table(&containers_on(20_000, 200), &names),
        ),
        (
            Screen::Objects,
            views::objects_table(&objects(100_000), "", chrono::Utc::now()),
        ),
    ] {
        let mut list = ListState::default();
        list.refilter(&table, &mut new_matcher());
        app.nav.tables.insert(screen, table);
        app.nav.lists.insert(screen, list);
    }
    eprintln!(
        "big estate: {:.1} MB resident before, {:.1} MB with 5,000 instances, 20,000 containers and 100,000 objects loaded",
        before,
        rss_mb()
    );
    let theme = Theme::dark();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50)).unwrap();
    let mut group = c.benchmark_group("big estate");
    for (screen, name, typed) in [
        (Screen::Instances, "instances 5k", "web-prod"),
        (Screen::Containers, "containers 20k", "gabs prod"),
        (Screen::Objects, "objects 100k", "doc-0421"),
    ] {
        app.screen = screen;
        group.bench_function(format!("{name}: frame (200x50)"), |b| {
            b.iter(|| {
                term.draw(|f| ui::draw(f, black_box(&app), &theme)).unwrap();
            });
        });
        // The first key of a filter: every row is searched.
        key(&mut app, KeyCode::Char('/'));
        let first = typed.chars().next().unwrap_or('a');
        group.bench_function(format!("{name}: filter, first key and its erasure"), |b| {
            b.iter(|| {
                key(&mut app, KeyCode::Char(first));
                key(&mut app, KeyCode::Backspace);
            });
        });
        // The filter as typed, then one more key and its erasure: the
        // work of two keystrokes on a filter that already narrows the list.
        for ch in typed.chars() {
            key(&mut app, KeyCode::Char(ch));
        }
        group.bench_function(format!("{name}: filter, two keystrokes"), |b| {
            b.iter(|| {
                key(&mut app, KeyCode::Char('1'));
                key(&mut app, KeyCode::Backspace);
            });
        });
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Esc);
        group.bench_function(format!("{name}: scroll a page down and up"), |b| {
            b.iter(|| {
                key(&mut app, KeyCode::PageDown);
                key(&mut app, KeyCode::PageUp);
            });
        });
    }
    group.finish();
}

/// Loading the runbook library, and validating + rendering a deploy (what
/// happens between Enter in the form and the preview).
fn runbooks(c: &mut Criterion) {
    use opsdeck::runbook::{self, Choices, Library, Target};
    let mut group = c.benchmark_group("runbooks");
    group.bench_function(
        "parse + check the built-in library (bash -n per block)",
        |b| b.iter(Library::builtin),
    );
    let lib = Library::builtin();
    let spec = lib.get("deploy").unwrap();
    let t = Target {
        kind: runbook::spec::TargetKind::Tenant,
        host: "i-0a4f1c2e9b7d30001".into(),
        label: "filter-ical-production".into(),
        production: true,
        confirm_name: "filter-ical-production".into(),
        vars: vec![
            ("app".into(), "filter-ical".into()),
            ("env".into(), "production".into()),
            ("project".into(), "filter-ical-production".into()),
            ("database".into(), "filter_ical_production".into()),
        ],
    };
    let values = BTreeMap::new();
    group.bench_function("render deploy (with its rollback)", |b| {
        b.iter(|| runbook::render(&lib, spec, &t, &values, &Choices::default(), false).unwrap());
    });
    group.finish();
}

/// The attention list over a big estate: it is gathered again whenever a
/// screen's data changes (an instance page, a host's snapshot).
fn attention_big(c: &mut Criterion) {
    let cfg =
        opsdeck::config::parse(opsdeck::provider::sandbox::SANDBOX_CONFIG, "sandbox.toml").unwrap();
    // One container in seven restarts often enough to be a crash loop.
    let inv = opsdeck::ops::Inventory {
        instances: instances(5_000),
        containers: containers_on(20_000, 200),
        ..Default::default()
    };
    let now = chrono::Utc::now();
    let mut group = c.benchmark_group("attention");
    group.throughput(Throughput::Elements(25_000));
    group.bench_function("gather: 5,000 instances, 20,000 containers", |b| {
        b.iter(|| {
            opsdeck::ops::attention::gather(&opsdeck::ops::attention::Signals {
                config: &cfg,
                inv: &inv,
                buckets: &[],
                findings: &[],
                journal: &[],
                drill: None,
                now,
            })
            .len()
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    attention_big,
    render_100k,
    filter_100k,
    ingest_1m,
    mask_1m,
    start_to_first_frame,
    runbooks,
    big_estate
);
criterion_main!(benches);
