//! Opening a session: resolve the config and context, prepare the providers.
//! Shared by the console, the headless commands and the tests.

use crate::config::{self, Config, ConfigError, ContextConfig, Dirs, ProviderKind};
use crate::ops::Providers;
use crate::provider::CloudInventory as _;
use crate::provider::sandbox::{SANDBOX_CONFIG, Sandbox, SandboxCloud};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The context the console is looking at.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextInfo {
    pub name: String,
    pub provider: String,
    pub production: bool,
    pub read_only: bool,
    /// True on the sandbox: docker (and, without [`ContextInfo::real_db`],
    /// the databases) are simulated.
    pub simulated: bool,
    /// The sandbox's PostgreSQL servers are real.
    pub real_db: bool,
    pub regions: Vec<String>,
    /// The caller identity on AWS (account and ARN).
    pub identity: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config: Option<PathBuf>,
    pub context: Option<String>,
    pub read_only: bool,
    pub sandbox_dir: Option<PathBuf>,
}

pub struct Session {
    /// Every context `:ctx` can open: the config's, then `sandbox` and `aws`.
    pub contexts: Vec<String>,
    /// True when an AWS context could not be opened and the sandbox is shown instead.
    pub fell_back: bool,
    pub config: Config,
    pub ctx: ContextInfo,
    pub providers: Providers,
    pub sandbox: Option<Sandbox>,
    /// Something the user should know at once (shown as the first notice).
    pub warning: Option<String>,
}

/// What a warning says after why the context could not be opened.
const FELL_BACK: &str = "; showing the sandbox instead";

impl Session {
    /// Why the asked-for context could not be opened, when the session fell
    /// back to the sandbox (a script or `:ctx` must not get the sandbox).
    pub fn fallback_reason(&self) -> Option<String> {
        self.fell_back.then(|| {
            let w = self.warning.clone().unwrap_or_default();
            w.trim_end_matches(FELL_BACK).to_string()
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Not `#[from]`: the message already holds the whole error, so it must
    /// not be chained again as a source.
    #[error("config error: {0}")]
    Config(ConfigError),
    #[error("{0}")]
    Other(String),
}

impl From<ConfigError> for SessionError {
    fn from(e: ConfigError) -> Self {
        SessionError::Config(e)
    }
}

/// The user's download directory, else the current one.
pub fn download_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.download_dir().map(Path::to_path_buf))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The config file to use: `--config`, else the XDG one if it exists.
pub fn load_config(opts: &Options, dirs: &Dirs) -> Result<(Config, Option<PathBuf>), ConfigError> {
    if let Some(p) = &opts.config {
        return Ok((config::load_file(p)?, Some(p.clone())));
    }
    let default = dirs.config.join("config.toml");
    if default.exists() {
        return Ok((config::load_file(&default)?, Some(default)));
    }
    Ok((
        config::parse(SANDBOX_CONFIG, "<built-in sandbox config>")?,
        None,
    ))
}

/// The context to open: `--context NAME` from the config, else the first
/// one. `--context aws` without such an entry means the standard AWS chain
/// (AWS_PROFILE, AWS_REGION, env credentials) with no further settings.
fn choose_context(opts: &Options, user: &Config) -> Result<Option<ContextConfig>, SessionError> {
    match &opts.context {
        Some(name) => match user.contexts.iter().find(|c| &c.name == name) {
            Some(c) => Ok(Some(c.clone())),
            None if name == "sandbox" => Ok(Some(ContextConfig {
                name: "sandbox".into(),
                provider: ProviderKind::Sandbox,
                profile: None,
                regions: vec![],
                production: false,
                read_only: false,
                locks_bucket: None,
            })),
            None if name == "aws" => Ok(Some(ContextConfig {
                name: "aws".into(),
                provider: ProviderKind::Aws,
                profile: None,
                regions: vec![],
                production: false,
                read_only: false,
                locks_bucket: None,
            })),
            None => {
                let known: Vec<&str> = user.contexts.iter().map(|c| c.name.as_str()).collect();
                Err(SessionError::Other(format!(
                    "no context named {name:?} (known: {}; `aws` uses the standard AWS chain)",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )))
            }
        },
        None => Ok(user.contexts.first().cloned()),
    }
}

pub async fn open(
    opts: &Options,
    dirs: &Dirs,
    now: DateTime<Utc>,
    exe: &Path,
) -> Result<Session, SessionError> {
    let (user, _path) = load_config(opts, dirs)?;
    let chosen = choose_context(opts, &user)?;
    let mut contexts: Vec<String> = user.contexts.iter().map(|c| c.name.clone()).collect();
    for implicit in ["sandbox", "aws"] {
        if !contexts.iter().any(|c| c == implicit) {
            contexts.push(implicit.to_string());
        }
    }
    let read_only =
        opts.read_only || user.read_only || chosen.as_ref().is_some_and(|c| c.read_only);
    let mut warning = None;
    if let Some(c) = chosen.as_ref().filter(|c| c.provider == ProviderKind::Aws) {
        match crate::provider::aws::connect(c).await {
            Ok(est) => {
                let mut config = user.clone();
                config.read_only = read_only;
                let layouts = config.layouts();
                return Ok(Session {
                    contexts,
                    fell_back: false,
                    ctx: ContextInfo {
                        name: c.name.clone(),
                        provider: est.cloud.label(),
                        production: c.production,
                        read_only,
                        simulated: false,
                        real_db: false,
                        regions: est.regions.clone(),
                        identity: Some(est.identity.clone()),
                    },
                    config,
                    providers: Providers {
                        cloud: est.cloud.clone(),
                        store: est.store.clone(),
                        transport: est.transport.clone(),
                        journal: crate::store::journal::Journal::new(&dirs.state),
                        operator: crate::store::journal::Operator::local(
                            &c.name,
                            Some(est.identity.clone()),
                        ),
                        download_dir: download_dir(),
                        layouts,
                        sandbox: None,
                    },
                    sandbox: None,
                    warning: None,
                });
            }
            Err(msg) => warning = Some(format!("{msg}{FELL_BACK}")),
        }
    }
    let mut s = open_sandbox(opts, dirs, now, exe, &user, read_only)?;
    s.fell_back = warning.is_some();
    s.contexts = contexts;
    s.warning = warning;
    Ok(s)
}

fn open_sandbox(
    opts: &Options,
    dirs: &Dirs,
    now: DateTime<Utc>,
    exe: &Path,
    user: &Config,
    read_only: bool,
) -> Result<Session, SessionError> {
    let warning = None;
    // The sandbox always uses its own hosts and apps; user settings that are
    // not about the estate (theme, read-only) still apply.
    let mut config = config::parse(SANDBOX_CONFIG, "<built-in sandbox config>")?;
    config.theme = user.theme.clone();
    config.read_only = read_only;
    let dir = opts
        .sandbox_dir
        .clone()
        .unwrap_or_else(|| dirs.data.join("sandbox"));
    let sandbox = Sandbox::ensure(&dir, now, exe).map_err(|e| {
        SessionError::Other(format!(
            "cannot prepare the sandbox in {}: {e}",
            dir.display()
        ))
    })?;
    let sandbox_ctx = config.contexts.first().cloned();
    let ctx = ContextInfo {
        name: sandbox_ctx
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "sandbox".into()),
        provider: "sandbox".into(),
        production: false,
        read_only,
        simulated: true,
        real_db: sandbox.real_databases(),
        regions: sandbox_ctx.map(|c| c.regions).unwrap_or_default(),
        identity: None,
    };
    let cloud = Arc::new(SandboxCloud::new(sandbox.clone()));
    let transport = Arc::new(sandbox.transport(&BTreeMap::new()));
    let operator = crate::store::journal::Operator::local(&ctx.name, None);
    let layouts = config.layouts();
    Ok(Session {
        contexts: vec![],
        fell_back: false,
        config,
        ctx,
        providers: Providers {
            cloud: cloud.clone(),
            store: cloud,
            transport,
            journal: crate::store::journal::Journal::new(&dirs.state),
            operator,
            download_dir: download_dir(),
            layouts,
            sandbox: Some(sandbox.clone()),
        },
        sandbox: Some(sandbox),
        warning,
    })
}
