//! Operations: the one path from an intent ("deploy on filter-ical-staging")
//! to a run ready to send, shared by the console, the headless CLI and the
//! drills. [`Inventory`] is the estate derived once; [`prepare_run`] looks the
//! runbook up, fills the config's defaults and renders it; [`guard`] decides
//! whether it may be sent; [`consent`] whether the operator agreed to it the
//! way its danger requires; [`RunId`] names it. Nothing here knows a
//! terminal: the console and the CLI only phrase the answers.

pub mod actions;
pub mod attention;
pub mod fleet;
pub mod inventory;
pub mod runs;
pub mod schedule;
pub mod session;

pub use inventory::Inventory;

use crate::config::Config;
use crate::domain::Instance;
use crate::provider::{CloudInventory, ObjectStore};
use crate::runbook::{self, Danger, Library, RenderError, RenderedRun, Target};
use crate::transport::Transport;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything opsdeck reads from and acts on, behind the provider seam.
#[derive(Clone)]
pub struct Providers {
    pub cloud: Arc<dyn CloudInventory>,
    pub store: Arc<dyn ObjectStore>,
    pub transport: Arc<dyn Transport>,
    /// The audit journal (every run, its script and full output).
    pub journal: crate::store::journal::Journal,
    /// Who runs things here (recorded with every run).
    pub operator: crate::store::journal::Operator,
    /// Where downloads go (the user's download directory, else the current one).
    pub download_dir: PathBuf,
    /// How the hosts' and S3's backups are found and named (the config's).
    pub layouts: crate::provider::layout::Layouts,
    /// The sandbox, when this context is one (drills run there only).
    pub sandbox: Option<crate::provider::sandbox::Sandbox>,
}

/// The estate read at once (the headless CLI; the console reads the same
/// pieces as effects and derives them with [`Inventory::derive`]). Host
/// facts are skipped when `facts` is false (instance runbooks need none);
/// per-host and S3 errors come back as warnings.
pub async fn load_inventory(
    p: &Providers,
    config: &Config,
    facts: bool,
) -> anyhow::Result<(Inventory, Vec<String>)> {
    let instances = p.cloud.instances().await?;
    let mut warnings = Vec::new();
    let snapshots = if facts {
        let hosts = Inventory::fact_hosts(config, &instances);
        let reader = crate::provider::host::HostInventory::with_layouts(
            p.transport.clone(),
            p.layouts.clone(),
        );
        let (snaps, errors) = inventory::read_snapshots(&reader, &hosts).await;
        warnings.extend(errors);
        snaps
    } else {
        BTreeMap::new()
    };
    let s3 = match &config.backups.bucket {
        Some(b) => {
            match inventory::s3_backups(p.store.as_ref(), b, &config.backups.prefix, &p.layouts)
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    warnings.push(format!("S3 backups: {e}"));
                    vec![]
                }
            }
        }
        None => vec![],
    };
    Ok((
        Inventory::derive(config, instances, snapshots, &s3),
        warnings,
    ))
}

/// The runbook `name`, or the error that names the known ones.
pub fn lookup<'a>(
    library: &'a Library,
    name: &str,
) -> Result<&'a runbook::spec::Spec, PrepareError> {
    library
        .get(name)
        .ok_or_else(|| PrepareError::UnknownRunbook {
            name: name.to_string(),
            known: library
                .all()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Why a run could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error("no runbook named `{name}` (known: {known})")]
    UnknownRunbook { name: String, known: String },
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// What the operator chose, before the estate is consulted.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub config: &'a Config,
    pub library: &'a Library,
    /// The context is production (every run in it counts as production).
    pub production: bool,
}

/// The one way a run is prepared: the runbook by name, the config's
/// `[[database]]`/`[backups]` defaults under `values`, choices from the
/// inventory, rendered (parameters validated and quoted, digest taken).
pub fn prepare_run(
    cx: Context<'_>,
    inv: &Inventory,
    name: &str,
    target: &Target,
    values: &BTreeMap<String, String>,
) -> Result<RenderedRun, PrepareError> {
    let spec = lookup(cx.library, name)?;
    let values = runbook::with_config_defaults(cx.config, spec, target, values);
    Ok(runbook::render(
        cx.library,
        spec,
        target,
        &values,
        &inv.choices(target),
        cx.production,
    )?)
}

/// Why a run is not sent. Nothing has reached a host when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("read-only mode: `{runbook}` is a {danger} runbook; only read runbooks run")]
    ReadOnly {
        runbook: String,
        danger: &'static str,
    },
    #[error("host {0} is not in this context's instances (not loaded yet?)")]
    UnknownHost(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("`{runbook}` is a {danger} runbook: it needs the operator's go-ahead")]
    NotConfirmed {
        runbook: String,
        danger: &'static str,
    },
    #[error("{guard}: the name typed does not match")]
    NameMissing { guard: String, name: String },
    #[error("the name typed, `{typed}`, is not the target's (`{name}`)")]
    NameMismatch { typed: String, name: String },
}

/// Whether `run` may be sent at all: read-only mode, a host that is not in
/// the context or that SSM cannot reach.
pub fn guard(run: &RenderedRun, read_only: bool, instances: &[Instance]) -> Result<(), Refusal> {
    let on_host = run
        .procedure
        .as_ref()
        .is_none_or(runbook::Procedure::runs_on_target);
    admit(
        &run.runbook,
        run.danger,
        &run.host,
        on_host,
        read_only,
        instances,
    )
}

/// The same decision before anything is filled in: a runbook of `danger`
/// on `host` (the console refuses it when chosen, not after its form).
/// `on_host`: a script is sent to the host (a runbook of cloud steps
/// only, like recovering a lost instance, needs it known, not reachable).
pub fn admit(
    runbook: &str,
    danger: Danger,
    host: &str,
    on_host: bool,
    read_only: bool,
    instances: &[Instance],
) -> Result<(), Refusal> {
    if read_only && danger != Danger::Read {
        return Err(Refusal::ReadOnly {
            runbook: runbook.to_string(),
            danger: danger.label(),
        });
    }
    let inst = instances
        .iter()
        .find(|i| i.id == host)
        .ok_or_else(|| Refusal::UnknownHost(host.to_string()))?;
    if !on_host {
        return Ok(());
    }
    match inst.unreachable_reason() {
        Some(why) => Err(Refusal::Unreachable(why)),
        None => Ok(()),
    }
}

/// Whether the operator agreed the way the run's danger asks: a change
/// needs a go-ahead (`agreed`: Enter in the console, `--yes` headless); a
/// production or destructive run the target's name typed exactly. A name
/// typed for a run that needs none must still be the target's: a wrong
/// one is a mistake, refused rather than ignored.
pub fn consent(run: &RenderedRun, agreed: bool, typed: Option<&str>) -> Result<(), Refusal> {
    if run.danger != Danger::Read && !agreed {
        return Err(Refusal::NotConfirmed {
            runbook: run.runbook.clone(),
            danger: run.danger.label(),
        });
    }
    match (&run.confirm_with, typed) {
        (Some(need), Some(t)) if t == need => Ok(()),
        (Some(need), _) => Err(Refusal::NameMissing {
            guard: run.guard_text(),
            name: need.clone(),
        }),
        (None, Some(t)) if t != run.target.confirm_name => Err(Refusal::NameMismatch {
            typed: t.to_string(),
            name: run.target.confirm_name.clone(),
        }),
        (None, _) => Ok(()),
    }
}

/// This process's tag in the run ids it makes: eight hex digits drawn
/// once from the standard library's per-process random keys. A process id
/// alone repeats (process ids wrap, and two laptops have the same ones) and
/// the job directory on a host is shared by every operator, so two runs
/// started in one second by two processes must not share an id.
pub fn process_tag() -> &'static str {
    use std::hash::{BuildHasher, Hasher};
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        h.write_u128(nanos);
        format!("{:08x}", h.finish() as u32)
    })
}

/// A run's id: `YYYYmmdd-HHMMSS-RUNBOOK-TAG`, where the tag tells apart runs
/// started in the same second (a console's sequence number, a process's
/// [`process_tag`], a fan-out's index).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(String);

impl RunId {
    pub fn new(at: DateTime<Utc>, runbook: &str, tag: &str) -> RunId {
        RunId(format!("{}-{runbook}-{tag}", at.format("%Y%m%d-%H%M%S")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
