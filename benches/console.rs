//! Console speed goals (figures go in the issue notes, not in tests):
//! * render one frame of a 100k-row list (goal ≤ 1 ms)
//! * fuzzy-filter 100k rows, the work of one keystroke (goal ≤ 10 ms)
//! * ingest 1M output lines into the output pane (goal ≥ 1M lines/s)
//! * mask 1M realistic output lines (part of the ≥ 2M lines/s end-to-end goal)
//! * start to first frame on an existing sandbox (goal ≤ 30 ms)
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
    (0..n)
        .map(|i| Container {
            host: format!("i-{:017x}", i % 40),
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
    app.tables.insert(Screen::Containers, table);
    app.lists.insert(Screen::Containers, list);
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

criterion_group!(
    benches,
    render_100k,
    filter_100k,
    ingest_1m,
    mask_1m,
    start_to_first_frame,
    runbooks
);
criterion_main!(benches);
