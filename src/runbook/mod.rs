//! Runbooks: TOML files (a built-in library plus the user's directory)
//! rendered into one bash script per target. Parameters are validated by
//! type, then enter the script only as shell-quoted variable assignments
//! at its top ([`Quoted`]): a runbook's text is never spliced with a value,
//! so there is no way to write an unquoted interpolation.

mod builtin;
mod choices;
use builtin::BUILTIN;
pub mod cloud;
pub mod locks;
pub mod params;
pub mod procedure;
pub mod spec;

pub use choices::{Choices, choices};
use procedure::procedure_for;
pub use procedure::{Part, Procedure, RUNTIME_MARK};

use crate::config::ConfigError;
use spec::{Block, OnFailure, Spec, TargetKind};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// A value that has been validated and shell-quoted; the only way a
/// parameter enters a rendered script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted(String);

impl fmt::Display for Quoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter `{name}`: {why}")]
    Invalid { name: String, why: String },
}

/// Names of apps, environments, containers: `[A-Za-z0-9][A-Za-z0-9_.-]*`, ≤ 128 chars.
pub fn name_param(name: &str, value: &str) -> Result<Quoted, ParamError> {
    let bad = |why: &str| ParamError::Invalid {
        name: name.into(),
        why: why.into(),
    };
    if value.is_empty() {
        return Err(bad("must not be empty"));
    }
    if value.len() > 128 {
        return Err(bad("longer than 128 characters"));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(bad("must start with a letter or digit"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(bad(&format!(
            "{c:?} is not allowed (letters, digits, '-', '_' and '.' only)"
        )));
    }
    quote(name, value)
}

/// Quote any string for bash (refuses NUL, which no shell argument can hold).
pub fn quote(name: &str, value: &str) -> Result<Quoted, ParamError> {
    shlex::try_quote(value)
        .map(|q| Quoted(q.into_owned()))
        .map_err(|e| ParamError::Invalid {
            name: name.into(),
            why: e.to_string(),
        })
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Danger {
    Read,
    Change,
    Destructive,
}

impl Danger {
    pub fn label(self) -> &'static str {
        match self {
            Danger::Read => "read",
            Danger::Change => "change",
            Danger::Destructive => "destructive",
        }
    }
}

/// What a runbook runs against: the host, what to call it, the name a
/// user types to confirm, and the variables the script gets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub kind: TargetKind,
    pub host: String,
    pub label: String,
    pub production: bool,
    pub confirm_name: String,
    pub vars: Vec<(String, String)>,
}

impl Target {
    /// The value of target variable `name` ("" when it has none).
    pub fn var(&self, name: &str) -> &str {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
    pub fn tenant(t: &crate::domain::Tenant) -> Target {
        Target {
            kind: TargetKind::Tenant,
            host: t.host.clone(),
            label: t.project(),
            production: t.env == "production",
            confirm_name: t.project(),
            vars: vec![
                ("app".into(), t.app.clone()),
                ("env".into(), t.env.clone()),
                ("project".into(), t.project()),
                ("database".into(), t.database.clone().unwrap_or_default()),
            ],
        }
    }
    pub fn container(c: &crate::domain::Container, host_production: bool) -> Target {
        let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
        let production = c.name.ends_with("-production")
            || c.name.ends_with("-platform")
            || (host_production && !c.name.ends_with("-staging"));
        Target {
            kind: TargetKind::Container,
            host: c.host.clone(),
            label: c.name.clone(),
            production,
            confirm_name: c.name.clone(),
            vars: vec![
                ("container".into(), c.name.clone()),
                ("project".into(), label("com.docker.compose.project")),
                ("service".into(), label("com.docker.compose.service")),
            ],
        }
    }
    /// `unique_name`: the instance's Name when no other instance shares it.
    pub fn instance(i: &crate::domain::Instance, unique_name: bool) -> Target {
        let confirm = if unique_name && !i.name.is_empty() {
            i.name.clone()
        } else {
            i.id.clone()
        };
        Target {
            kind: TargetKind::Instance,
            host: i.id.clone(),
            label: if i.name.is_empty() {
                i.id.clone()
            } else {
                format!("{} ({})", i.name, i.id)
            },
            production: i.is_production(),
            confirm_name: confirm,
            vars: vec![("instance".into(), i.id.clone())],
        }
    }
    /// `project`: the compose project of the tenant using the database,
    /// whose app containers a restore stops (empty when none). `db_host`:
    /// where the database lives, for a backup kept in S3 (runbooks on it
    /// run there and fetch it first).
    pub fn backup(
        b: &crate::domain::Backup,
        production: bool,
        project: &str,
        db_host: Option<&str>,
    ) -> Target {
        let mut file = b.path.rsplit('/').next().unwrap_or(&b.path).to_string();
        if let Some(v) = &b.version_id {
            file = format!("{file} (version {v})");
        }
        let (host, path) = if b.origin.starts_with("s3://") {
            (
                db_host.unwrap_or(&b.origin).to_string(),
                format!("{}/{}", b.origin, b.path),
            )
        } else {
            (b.origin.clone(), b.path.clone())
        };
        Target {
            kind: TargetKind::Backup,
            host,
            label: file.clone(),
            production,
            confirm_name: b.database.clone(),
            vars: vec![
                ("backup".into(), path),
                ("database".into(), b.database.clone()),
                ("project".into(), project.to_string()),
                ("format".into(), b.format.as_str().to_string()),
                (
                    "version_id".into(),
                    b.version_id.clone().unwrap_or_default(),
                ),
            ],
        }
    }
    pub fn database(host: &str, database: &str, production: bool, project: &str) -> Target {
        Target {
            kind: TargetKind::Database,
            host: host.to_string(),
            label: database.to_string(),
            production,
            confirm_name: database.to_string(),
            vars: vec![
                ("database".into(), database.to_string()),
                ("project".into(), project.to_string()),
            ],
        }
    }
}

/// The compose project of the tenant using `database` ("" if none).
pub fn project_of(tenants: &[crate::domain::Tenant], database: &str) -> String {
    tenants
        .iter()
        .find(|t| t.database.as_deref() == Some(database))
        .map(|t| t.project())
        .unwrap_or_default()
}

/// Where `database` lives: its tenant's host, else a host keeping its backups.
pub fn host_of_database(
    tenants: &[crate::domain::Tenant],
    backups: &[crate::domain::Backup],
    database: &str,
) -> Option<String> {
    tenants
        .iter()
        .find(|t| t.database.as_deref() == Some(database))
        .map(|t| t.host.clone())
        .or_else(|| {
            backups
                .iter()
                .find(|b| b.database == database && b.origin.starts_with("i-"))
                .map(|b| b.origin.clone())
        })
}

/// Whether a database counts as production: as the tenant using it says,
/// else by its name or `otherwise` (its host's tag, the row it came from).
pub fn database_is_production(
    tenants: &[crate::domain::Tenant],
    database: &str,
    otherwise: bool,
) -> bool {
    match tenants
        .iter()
        .find(|t| t.database.as_deref() == Some(database))
    {
        Some(t) => t.env == "production",
        None => otherwise || database.contains("production"),
    }
}

/// Whether no other instance has `i`'s Name (then the Name is what to type).
pub fn unique_name(instances: &[crate::domain::Instance], i: &crate::domain::Instance) -> bool {
    instances.iter().filter(|x| x.name == i.name).count() == 1
}

/// The library: built-in runbooks, overridden or extended by the user's.
#[derive(Debug, Clone)]
pub struct Library {
    specs: BTreeMap<String, Spec>,
}

impl Library {
    pub fn builtin() -> Library {
        let mut specs = BTreeMap::new();
        for (file, text) in BUILTIN {
            match spec::parse_unchecked_shell(text, &format!("built-in/{file}")) {
                Ok(mut s) => {
                    s.source = "built-in".into();
                    specs.insert(s.name().to_string(), s);
                }
                // A test checks every built-in; never crash the console for one.
                Err(e) => tracing::error!("{e}"),
            }
        }
        Library { specs }
    }

    /// Built-ins plus every `*.toml` in `dir` (same name = override).
    pub fn load(dir: &Path) -> Result<Library, ConfigError> {
        let mut lib = Library::builtin();
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Ok(lib);
        };
        let mut files: Vec<_> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            let s = check_file(&f, &lib)?;
            lib.specs.insert(s.name().to_string(), s);
        }
        Ok(lib)
    }

    pub fn get(&self, name: &str) -> Option<&Spec> {
        self.specs.get(name)
    }
    pub fn all(&self) -> impl Iterator<Item = &Spec> {
        self.specs.values()
    }
    pub fn for_target(&self, kind: TargetKind) -> Vec<&Spec> {
        self.specs.values().filter(|s| s.target == kind).collect()
    }
}

/// `opsdeck runbook check FILE`: parse, check, and resolve its rollback
/// against `lib` (plus itself).
pub fn check_file(path: &Path, lib: &Library) -> Result<Spec, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: 0,
        column: 0,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    let s = spec::parse(&text, &file)?;
    if let Some(r) = &s.rollback {
        let target = lib
            .get(r.get_ref())
            .map(|x| x.target)
            .or_else(|| (r.get_ref() == s.name()).then_some(s.target));
        match target {
            None => {
                let (line, column) = crate::config::line_col(&text, r.span().start);
                return Err(ConfigError {
                    file,
                    line,
                    column,
                    field: Some("rollback".into()),
                    message: format!("no runbook named `{}`", r.get_ref()),
                });
            }
            Some(t) if t != s.target => {
                let (line, column) = crate::config::line_col(&text, r.span().start);
                return Err(ConfigError {
                    file,
                    line,
                    column,
                    field: Some("rollback".into()),
                    message: format!(
                        "`{}` runs on a {}, this runbook on a {}",
                        r.get_ref(),
                        t.label(),
                        s.target.label()
                    ),
                });
            }
            _ => {}
        }
    }
    Ok(s)
}

/// A runbook ready to run: what it is, where, and the exact script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRun {
    pub runbook: String,
    pub title: String,
    pub host: String,
    pub target: Target,
    pub danger: Danger,
    pub production: bool,
    /// What a user must type to confirm, when confirmation is required.
    pub confirm_with: Option<String>,
    /// Parameter values as the script gets them (secrets masked).
    pub params: Vec<(String, String)>,
    pub on_failure: String,
    pub script: String,
    /// sha256 of the script, hex.
    pub digest: String,
    /// What the script does, in words (shown above it).
    pub plan: Plan,
    /// When the runbook has cloud steps: its parts in order (`script`
    /// is then their text, as previewed and journaled).
    pub procedure: Option<Procedure>,
    /// What the run holds on its host from its start to its end.
    pub locks: Vec<locks::LockKey>,
}

/// A run's plan in plain words: its pre-checks, steps and post-checks by
/// name, and what a failure does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub prechecks: Vec<String>,
    pub steps: Vec<String>,
    pub postchecks: Vec<String>,
    pub on_failure: String,
}

impl Plan {
    /// (what, numbered names joined) for each part that has any, then
    /// "on failure".
    pub fn parts(&self) -> Vec<(&'static str, String)> {
        self.items()
            .into_iter()
            .map(|(what, items)| (what, items.join(Self::separator(what))))
            .collect()
    }

    /// Between two items of a part: two spaces between names, one between words.
    pub fn separator(what: &str) -> &'static str {
        if what == "on failure" { " " } else { "  " }
    }

    /// (what, its numbered names; or the failure's words one by one).
    pub fn items(&self) -> Vec<(&'static str, Vec<String>)> {
        let list = |v: &[String]| {
            v.iter()
                .enumerate()
                .map(|(i, n)| format!("{}. {n}", i + 1))
                .collect::<Vec<_>>()
        };
        let mut out = Vec::new();
        if !self.prechecks.is_empty() {
            out.push(("pre-checks", list(&self.prechecks)));
        }
        if !self.steps.is_empty() {
            out.push(("steps", list(&self.steps)));
        }
        if !self.postchecks.is_empty() {
            out.push(("post-checks", list(&self.postchecks)));
        }
        out.push((
            "on failure",
            self.on_failure.split(' ').map(str::to_string).collect(),
        ));
        out
    }
}

impl RenderedRun {
    /// Why this run must not be sent, if anything forbids it.
    pub fn refusal(&self, read_only: bool) -> Option<String> {
        (read_only && self.danger != Danger::Read).then(|| {
            format!(
                "read-only mode: `{}` is a {} runbook; only read runbooks run",
                self.runbook,
                self.danger.label()
            )
        })
    }
    /// What the guards require, in words (the preview shows it).
    pub fn guard_text(&self) -> String {
        match (&self.confirm_with, self.danger) {
            (Some(n), Danger::Destructive) => {
                format!("destructive: type `{n}` to confirm")
            }
            (Some(n), _) => format!("production: type `{n}` to confirm"),
            (None, Danger::Read) => "read-only runbook: Enter runs it".into(),
            (None, _) => "Enter runs it".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("unknown parameter `{name}`: `{runbook}` takes {takes}")]
    Unknown {
        runbook: String,
        name: String,
        takes: String,
    },
    #[error("`{runbook}` runs on a {wants}, not on a {got}")]
    WrongTarget {
        runbook: String,
        wants: &'static str,
        got: &'static str,
    },
    #[error("`{0}` names a rollback runbook that does not exist")]
    NoRollback(String),
    #[error(transparent)]
    Lock(#[from] locks::BadLockName),
}

/// Names that look like they hold a secret: their values are masked in
/// everything opsdeck shows or keeps.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "TOKEN", "KEY"]
        .iter()
        .any(|s| n.contains(s))
}

/// `values` completed from the config's `[[database]]` entry for the
/// target's database, or its `[[host]]` entry for an instance (for
/// parameters the runbook has and `values` lacks).
pub fn with_config_defaults(
    config: &crate::config::Config,
    spec: &Spec,
    target: &Target,
    values: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = values.clone();
    let db = target.var("database");
    let mut put = |k: &str, v: String| {
        if spec.param(k).is_some() && !out.contains_key(k) {
            out.insert(k.to_string(), v);
        }
    };
    let var = |name: &str| target.var(name);
    // A tenant's app: how it migrates and where its health answers.
    if let Some(a) = config.app(var("app")) {
        for (k, v) in a.params(var("env")) {
            put(k, v);
        }
    }
    if let Some(d) = config.database(db) {
        for (k, v) in d.params() {
            put(k, v);
        }
    }
    // A run on a host (an instance, or a tenant, container, backup or
    // database there): what its `[[host]]` entry says, after the
    // database's own entry.
    if let Some(h) = config.hosts.iter().find(|h| h.instance == target.host) {
        for (k, v) in h.params() {
            put(k, v);
        }
    }
    // The off-instance copy goes where `[backups]` says.
    if let Some(b) = &config.backups.bucket {
        put("bucket", b.clone());
        put("prefix", config.backups.prefix.clone());
    }
    out
}

/// Validate `values` for `spec` on `target`: canonical values, in the spec's order.
pub fn resolve(
    spec: &Spec,
    target: &Target,
    values: &BTreeMap<String, String>,
    choices: &Choices,
) -> Result<Vec<(String, String)>, RenderError> {
    if spec.target != target.kind {
        return Err(RenderError::WrongTarget {
            runbook: spec.name().into(),
            wants: spec.target.label(),
            got: target.kind.label(),
        });
    }
    if let Some(k) = values.keys().find(|k| spec.param(k).is_none()) {
        let takes: Vec<&str> = spec.params.iter().map(|p| p.name()).collect();
        return Err(RenderError::Unknown {
            runbook: spec.name().into(),
            name: k.clone(),
            takes: if takes.is_empty() {
                "no parameters".into()
            } else {
                takes.join(", ")
            },
        });
    }
    let mut out = Vec::new();
    for p in &spec.params {
        let raw = match values.get(p.name()) {
            Some(v) => v.clone(),
            None => p.default_text().ok_or_else(|| ParamError::Invalid {
                name: p.name().into(),
                why: "required (no default)".into(),
            })?,
        };
        let v = params::validate(p, &raw, choices).map_err(|why| ParamError::Invalid {
            name: p.name().into(),
            why: why.to_string(),
        })?;
        out.push((p.name().to_string(), v));
    }
    Ok(out)
}

/// Render `spec` for `target` with `values` (missing ones take defaults).
/// `production` adds the context's production flag to the target's.
pub fn render(
    lib: &Library,
    spec: &Spec,
    target: &Target,
    values: &BTreeMap<String, String>,
    choices: &Choices,
    production: bool,
) -> Result<RenderedRun, RenderError> {
    let resolved = resolve(spec, target, values, choices)?;
    let locks = locks::for_target(spec.danger, target)?;
    let procedure = if spec.has_cloud_steps() {
        Some(procedure_for(spec, target, &resolved)?)
    } else {
        None
    };
    let mut script = match &procedure {
        Some(p) => p.text(spec, target),
        None => script_for(spec, target, &resolved, &all_steps(spec), true, &[])?,
    };
    let mut on_failure = match spec.on_failure {
        OnFailure::Abort => "abort".to_string(),
        OnFailure::Continue => "continue".to_string(),
        OnFailure::Rollback => String::new(),
    };
    if spec.on_failure == OnFailure::Rollback {
        let rb_name = spec
            .rollback
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_default();
        let rb = lib
            .get(&rb_name)
            .ok_or_else(|| RenderError::NoRollback(rb_name.clone()))?;
        // The rollback gets the parameters it shares with this runbook.
        let shared: BTreeMap<String, String> = resolved
            .iter()
            .filter(|(k, _)| rb.param(k).is_some())
            .cloned()
            .collect();
        let rb_resolved = resolve(rb, target, &shared, choices)?;
        let rb_script = script_for(rb, target, &rb_resolved, &all_steps(rb), true, &[])?;
        let delim = format!("__OPSDECK_ROLLBACK_{}__", &sha256_hex(&rb_script)[..12]);
        script = script.replace(
            NO_ROLLBACK,
            &format!(
                "__rollback_name={}\n__rollback() {{\n  local __rb\n  __rb=$(cat <<'{delim}'\n{rb_script}{delim}\n)\n  OPSDECK_RESULT_PREFIX=rollback bash -c \"$__rb\"\n}}\n",
                quote("rollback", &rb_name)?
            ),
        );
        on_failure = format!("roll back with `{rb_name}`");
    }
    let production = production || target.production;
    let confirm_with = (spec.danger == Danger::Destructive
        || (production && spec.danger == Danger::Change))
        .then(|| target.confirm_name.clone());
    let shown: Vec<(String, String)> = resolved
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_name(k) {
                "••••••".to_string()
            } else {
                crate::store::mask::mask_text(v)
            };
            (k.clone(), v)
        })
        .collect();
    let mut title = spec.title.clone();
    for (k, v) in target.vars.iter().chain(&shown) {
        let v = if k == "backup" {
            v.rsplit('/').next().unwrap_or(v)
        } else {
            v
        };
        title = title.replace(&format!("{{{k}}}"), v);
    }
    let digest = sha256_hex(&script);
    let names = |b: &[spec::Block]| b.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
    let plan = Plan {
        prechecks: names(&spec.prechecks),
        steps: names(&spec.steps),
        postchecks: names(&spec.postchecks),
        on_failure: format!(
            "{}{}",
            if spec.prechecks.is_empty() {
                ""
            } else {
                "a failed pre-check stops before anything changes; "
            },
            match spec.on_failure {
                OnFailure::Abort if procedure.is_some() =>
                    "a failed step stops the run there and says what exists now and what to clean up".to_string(),
                OnFailure::Abort => "a failed step stops the run there".to_string(),
                OnFailure::Continue =>
                    "a failed step is reported and the next ones still run".to_string(),
                OnFailure::Rollback => format!(
                    "a failed step rolls back automatically with `{}` (embedded in the script)",
                    spec.rollback
                        .as_ref()
                        .map(|r| r.get_ref().as_str())
                        .unwrap_or_default()
                ),
            }
        ),
    };
    Ok(RenderedRun {
        runbook: spec.name().into(),
        title,
        host: target.host.clone(),
        target: target.clone(),
        danger: spec.danger,
        production,
        confirm_with,
        params: shown,
        on_failure,
        script,
        digest,
        plan,
        procedure,
        locks,
    })
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(text.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

const NO_ROLLBACK: &str = "__rollback_name=''\n__rollback() { return 1; }\n";

/// Shared shell helpers every rendered script starts with.
const PRELUDE: &str = include_str!("prelude.sh");

fn block_fn(fname: &str, b: &Block) -> String {
    let body = b.script();
    let nl = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fname}() {{\n{body}{nl}}}\n")
}

/// Every step with its number (from 1).
fn all_steps(spec: &Spec) -> Vec<(usize, &Block)> {
    spec.steps
        .iter()
        .enumerate()
        .map(|(i, b)| (i + 1, b))
        .collect()
}

/// The script of `steps` (numbered among all of the spec's), with the
/// checks when `checks`; `later`: values opsdeck sets when it starts the
/// script (a procedure's earlier cloud steps), named at [`RUNTIME_MARK`].
fn script_for(
    spec: &Spec,
    target: &Target,
    resolved: &[(String, String)],
    steps: &[(usize, &Block)],
    checks: bool,
    later: &[String],
) -> Result<String, ParamError> {
    let mut s = String::new();
    s.push_str(&format!(
        "#!/usr/bin/env bash\n# opsdeck runbook `{}` ({}) on {} · danger: {}\n",
        spec.name(),
        spec.source,
        target.label.replace('\n', " "),
        spec.danger.label()
    ));
    s.push_str("set -uo pipefail\nroot=\"${OPSDECK_ROOT:-}\"\n");
    s.push_str("# target and parameters: validated and shell-quoted by opsdeck\n");
    for (k, v) in &target.vars {
        s.push_str(&format!("{k}={}\n", quote(k, v)?));
    }
    for (k, v) in resolved {
        s.push_str(&format!("{k}={}\n", quote(k, v)?));
    }
    if !later.is_empty() {
        s.push_str(&format!("{RUNTIME_MARK} {}\n", later.join(" ")));
    }
    s.push_str(PRELUDE);
    s.push_str(NO_ROLLBACK);
    let mut calls = String::new();
    let q = |t: &str| quote("name", t).map(|q| q.to_string());
    let none: &[Block] = &[];
    let (prechecks, postchecks) = if checks {
        (&spec.prechecks[..], &spec.postchecks[..])
    } else {
        (none, none)
    };
    for (i, b) in prechecks.iter().enumerate() {
        let f = format!("__precheck_{}", i + 1);
        s.push_str(&block_fn(&f, b));
        calls.push_str(&format!(
            "__block {} {f}; __rc=$?\nif [ \"$__rc\" -ne 0 ]; then __precheck_failed {} \"$__rc\"; fi\n",
            q(&format!("precheck: {}", b.name))?,
            q(&b.name)?
        ));
    }
    let total = spec.steps.len();
    let failed = match spec.on_failure {
        OnFailure::Continue => "__failed_continue",
        OnFailure::Abort | OnFailure::Rollback => "__failed",
    };
    for (n, b) in steps {
        let f = format!("__step_{n}");
        s.push_str(&block_fn(&f, b));
        calls.push_str(&format!(
            "__block {} {f}; __rc=$?\nif [ \"$__rc\" -ne 0 ]; then {failed} {} \"$__rc\"; fi\n",
            q(&format!("[{n}/{total}] {}", b.name))?,
            q(&b.name)?
        ));
    }
    for (i, b) in postchecks.iter().enumerate() {
        let f = format!("__postcheck_{}", i + 1);
        s.push_str(&block_fn(&f, b));
        calls.push_str(&format!(
            "__block {} {f}; __rc=$?\nif [ \"$__rc\" -ne 0 ]; then {failed} {} \"$__rc\"; fi\n",
            q(&format!("postcheck: {}", b.name))?,
            q(&format!("postcheck: {}", b.name))?
        ));
    }
    s.push_str(&calls);
    s.push_str("__finish\n");
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_passes_the_full_check() {
        let lib = Library::builtin();
        assert_eq!(lib.all().count(), BUILTIN.len());
        for (file, text) in BUILTIN {
            let s = spec::parse(text, file).unwrap_or_else(|e| panic!("{e}"));
            if let Some(r) = &s.rollback {
                assert!(lib.get(r.get_ref()).is_some(), "{file}: rollback");
            }
        }
    }
}
