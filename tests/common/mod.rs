//! Shared test harness: a deterministic sandbox (fixed clock), the real
//! effects runner, and helpers to drive the app the way the console does.
#![allow(dead_code)]

pub mod pg;
pub mod svg;

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsdeck::config;
use opsdeck::provider::sandbox::{Databases, SANDBOX_CONFIG, Sandbox, SandboxCloud};
use opsdeck::tui::app::keymap::Keymap;
use opsdeck::tui::app::{App, ContextInfo, Effect, Msg};
use opsdeck::tui::effects::{EffectsRunner, Providers};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opsdeck"))
}

/// Simulation settings for tests: fixed docker clock, no artificial delay,
/// health known at once.
pub fn sim_env(now: DateTime<Utc>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("OPSDECK_SIM_NOW".into(), now.timestamp().to_string());
    env.insert("OPSDECK_SIM_DELAY_MS".into(), "0".into());
    env.insert("OPSDECK_SIM_HEALTH_GRACE".into(), "0".into());
    env
}

/// A sandbox at `dir` as of `now`, its databases simulated (a real server
/// per test sandbox would be slow; `real_db_sandbox` makes one that is real).
pub fn sim_sandbox(dir: &Path, now: DateTime<Utc>) -> Sandbox {
    Sandbox::ensure_with(dir, now, &exe(), &Databases::Simulated).unwrap()
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    pub app: App,
    pub runner: EffectsRunner,
    pub rx: mpsc::UnboundedReceiver<Msg>,
    pub providers: Providers,
}

pub fn sandbox_ctx() -> ContextInfo {
    ContextInfo {
        name: "sandbox".into(),
        provider: "sandbox".into(),
        production: false,
        read_only: false,
        simulated: true,
        real_db: false,
        regions: vec![
            "eu-north-1".into(),
            "us-east-1".into(),
            "ap-southeast-2".into(),
        ],
        identity: None,
    }
}

pub fn providers(sandbox: &Sandbox, env: &BTreeMap<String, String>, state: &Path) -> Providers {
    let cloud = Arc::new(SandboxCloud::new(sandbox.clone()));
    Providers {
        cloud: cloud.clone(),
        store: cloud,
        transport: Arc::new(sandbox.transport(env)),
        journal: opsdeck::store::journal::Journal::new(state),
        operator: opsdeck::store::journal::Operator::local("sandbox", None),
        download_dir: state.join("downloads"),
        layouts: config::parse(SANDBOX_CONFIG, "sandbox.toml")
            .unwrap()
            .layouts(),
        sandbox: Some(sandbox.clone()),
    }
}

impl Harness {
    /// A fresh sandbox and an app that has loaded everything.
    pub async fn loaded() -> Harness {
        Self::with_ctx(sandbox_ctx()).await
    }

    pub async fn with_ctx(ctx: ContextInfo) -> Harness {
        Self::with_env(ctx, sim_env(fixed_now())).await
    }

    pub async fn with_env(ctx: ContextInfo, env: BTreeMap<String, String>) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let (sb, state) = (dir.path().join("sandbox"), dir.path().join("state"));
        Self::in_dir(dir, &sb, &state, ctx, env).await
    }

    /// A console on an existing (or new) sandbox and state directory, as
    /// the binary lays them out under XDG dirs (see [`cli`]).
    pub async fn in_dir(
        dir: tempfile::TempDir,
        sandbox_dir: &Path,
        state: &Path,
        ctx: ContextInfo,
        env: BTreeMap<String, String>,
    ) -> Harness {
        let now = fixed_now();
        let sandbox = sim_sandbox(sandbox_dir, now);
        let providers = providers(&sandbox, &env, state);
        let (tx, rx) = mpsc::unbounded_channel();
        let runner = EffectsRunner::new(providers.clone(), tx);
        let cfg = config::parse(SANDBOX_CONFIG, "sandbox.toml").unwrap();
        let app = App::new(cfg, ctx, Keymap::builtin(), now);
        let mut h = Harness {
            dir,
            sandbox,
            app,
            runner,
            rx,
            providers,
        };
        let fx = h.app.startup();
        h.dispatch(fx);
        h.settle().await;
        h
    }

    pub fn dispatch(&mut self, fx: Vec<Effect>) {
        for f in fx {
            self.runner.dispatch(f);
        }
    }

    /// Feed results back until nothing is loading or running.
    pub async fn settle(&mut self) {
        while self.app.busy() {
            let msg = tokio::time::timeout(Duration::from_secs(30), self.rx.recv())
                .await
                .expect("the app settled within 30 s")
                .expect("channel open");
            let fx = self.app.update(msg);
            self.dispatch(fx);
        }
    }

    pub fn key(&mut self, code: KeyCode) {
        let fx = self
            .app
            .update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        self.dispatch(fx);
    }

    /// Handle one message from the runner (waits up to 30 s for it).
    pub async fn step(&mut self) {
        let msg = tokio::time::timeout(Duration::from_secs(30), self.rx.recv())
            .await
            .expect("a message within 30 s")
            .expect("channel open");
        let fx = self.app.update(msg);
        self.dispatch(fx);
    }

    pub fn ctrl(&mut self, c: char) {
        let fx = self.app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )));
        self.dispatch(fx);
    }

    pub fn keys(&mut self, s: &str) {
        for c in s.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    pub fn host_root(&self) -> PathBuf {
        self.sandbox
            .host_root(opsdeck::provider::sandbox::estate::MT_HOST)
    }
}

/// Render the app into a fixed-size buffer.
pub fn render(app: &App, w: u16, h: u16) -> ratatui::buffer::Buffer {
    let theme = opsdeck::tui::ui::theme::Theme::dark();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    term.draw(|f| opsdeck::tui::ui::draw(f, app, &theme))
        .unwrap();
    term.backend().buffer().clone()
}

/// The buffer as plain text, one line per row, trailing spaces trimmed.
pub fn text(buf: &ratatui::buffer::Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn git_head(dir: &Path) -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The binary with its XDG dirs under `dir` (sandbox in `dir/data/opsdeck/sandbox`,
/// journal in `dir/state/opsdeck/journal`), no simulated delays, and its
/// clock pinned at [`fixed_now`] (`OPSDECK_NOW`) so that no result depends on
/// the hour the tests run at; [`cli_at`] pins another instant.
pub fn cli(dir: &Path) -> std::process::Command {
    cli_at(dir, fixed_now())
}

pub fn cli_at(dir: &Path, now: DateTime<Utc>) -> std::process::Command {
    let mut c = std::process::Command::new(exe());
    c.env("OPSDECK_NOW", now.to_rfc3339())
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("OPSDECK_SIM_DELAY_MS", "0")
        .env("OPSDECK_SIM_HEALTH_GRACE", "0")
        // Simulated databases unless a test asks for real ones
        // (`real_db_sandbox`): a real server per test sandbox is slow.
        .env("OPSDECK_SANDBOX_PG", "simulated")
        .env_remove("AWS_PROFILE")
        .env_remove("OPSDECK_LOG");
    c
}

/// Run the binary; (exit code, stdout, stderr).
pub fn run_cli(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run_cli_at(dir, fixed_now(), args)
}

/// Run the binary with its clock pinned at `now`.
pub fn run_cli_at(dir: &Path, now: DateTime<Utc>, args: &[&str]) -> (i32, String, String) {
    let out = cli_at(dir, now).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI's sandbox under `dir` built with real PostgreSQL servers (the
/// machine has the binaries: `bash .ci/test` installs them). The servers
/// are stopped when the guard is dropped, even when the test fails.
pub fn real_db_sandbox(dir: &Path) -> RealDb {
    let out = cli(dir)
        .env_remove("OPSDECK_SANDBOX_PG")
        .args(["ls", "backups", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    RealDb {
        dir: dir.to_path_buf(),
    }
}

pub struct RealDb {
    pub dir: PathBuf,
}

impl RealDb {
    /// The sandbox's directory.
    pub fn sandbox(&self) -> PathBuf {
        self.dir.join("data/opsdeck/sandbox")
    }
}

impl Drop for RealDb {
    fn drop(&mut self) {
        let _ = cli(&self.dir).args(["sandbox", "stop"]).output();
        // As root the data lives outside the sandbox (in the temp dir).
        for server in opsdeck::provider::sandbox::pg_real::SERVERS {
            let cluster = self
                .sandbox()
                .join("pg")
                .join(server.name)
                .join("cluster.json");
            if let Some(outside) = std::fs::read_to_string(cluster)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["outside"].as_str().map(PathBuf::from))
            {
                let _ = std::fs::remove_dir_all(outside);
            }
        }
    }
}
