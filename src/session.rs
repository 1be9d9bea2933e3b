//! Opening a session: resolve the config and context, prepare the providers.
//! Shared by the console, the headless commands and the tests.

use crate::app::ContextInfo;
use crate::config::{self, Config, ConfigError, Dirs, ProviderKind};
use crate::runner::Providers;
use crate::sandbox::{SANDBOX_CONFIG, Sandbox, SandboxCloud};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config: Option<PathBuf>,
    pub context: Option<String>,
    pub read_only: bool,
    pub sandbox_dir: Option<PathBuf>,
}

pub struct Session {
    pub config: Config,
    pub ctx: ContextInfo,
    pub providers: Providers,
    pub sandbox: Option<Sandbox>,
    /// Something the user should know at once (shown as the first notice).
    pub warning: Option<String>,
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

pub fn open(
    opts: &Options,
    dirs: &Dirs,
    now: DateTime<Utc>,
    exe: &Path,
) -> Result<Session, SessionError> {
    let (user, _path) = load_config(opts, dirs)?;
    let mut warning = None;
    let chosen = match &opts.context {
        Some(name) => Some(
            user.contexts
                .iter()
                .find(|c| &c.name == name)
                .cloned()
                .ok_or_else(|| {
                    let known: Vec<&str> = user.contexts.iter().map(|c| c.name.as_str()).collect();
                    SessionError::Other(format!(
                        "no context named {name:?} (known: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ))
                })?,
        ),
        None => user.contexts.first().cloned(),
    };
    let read_only =
        opts.read_only || user.read_only || chosen.as_ref().is_some_and(|c| c.read_only);
    if let Some(c) = &chosen
        && c.provider == ProviderKind::Aws
    {
        warning = Some(format!(
            "context {:?} uses the AWS provider, which this build does not have yet; showing the sandbox instead",
            c.name
        ));
    }
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
        regions: sandbox_ctx.map(|c| c.regions).unwrap_or_default(),
    };
    let cloud = Arc::new(SandboxCloud::new(sandbox.clone()));
    let transport = Arc::new(sandbox.transport(&BTreeMap::new()));
    Ok(Session {
        config,
        ctx,
        providers: Providers {
            cloud: cloud.clone(),
            store: cloud,
            transport,
            runs_dir: dirs.state.join("runs"),
        },
        sandbox: Some(sandbox),
        warning,
    })
}
