//! Configuration: `--config FILE`, else `$XDG_CONFIG_HOME/opsdeck/config.toml`,
//! else the embedded sandbox. A bad file is reported with its path, line,
//! column and field, before the terminal is touched.

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The themes that ship in the binary (files in `themes/`), by name.
pub mod themes {
    pub const DARK: &str = include_str!("../themes/dark.toml");
    pub const LIGHT: &str = include_str!("../themes/light.toml");

    pub fn builtin(name: &str) -> Option<&'static str> {
        match name {
            "dark" => Some(DARK),
            "light" => Some(LIGHT),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Sandbox,
    Aws,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextConfig {
    pub name: String,
    pub provider: ProviderKind,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub production: bool,
    #[serde(default)]
    pub read_only: bool,
    /// An S3 bucket where the runs that have no host to hold their locks
    /// (`recover-instance`'s cloud steps) keep them, under
    /// `opsdeck/locks/`. None: such runs are not locked across operators,
    /// and say so.
    #[serde(default)]
    pub locks_bucket: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub instance: String,
    #[serde(default)]
    pub apps: Vec<String>,
    #[serde(default = "default_envs")]
    pub envs: Vec<String>,
    /// The host's PostgreSQL container: what `pg_container` of a runbook
    /// run on this instance defaults to (`backup-all`).
    #[serde(default)]
    pub pg_container: Option<String>,
    #[serde(default)]
    pub pg_user: Option<String>,
    /// The host's RabbitMQ container (`queue-depth`'s `broker`).
    #[serde(default)]
    pub broker: Option<String>,
    /// Services the host runs under systemd rather than docker (Enssol:
    /// nginx, gunicorn): what `service-health` checks.
    #[serde(default)]
    pub services: Vec<String>,
    /// Where the host's app answers (`service-health`, `service-restart`).
    #[serde(default)]
    pub health_url: Option<String>,
}

impl HostConfig {
    /// Runbook parameter values this entry provides to runs on its instance.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        [
            ("pg_container", &self.pg_container),
            ("pg_user", &self.pg_user),
            ("broker", &self.broker),
            ("health_url", &self.health_url),
            (
                "services",
                &(!self.services.is_empty()).then(|| self.services.join(",")),
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }
}

fn default_envs() -> Vec<String> {
    vec!["staging".into(), "production".into()]
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub name: String,
    /// Database name template, `{env}` replaced by the environment.
    #[serde(default)]
    pub database: Option<String>,
    /// How a deploy migrates its schema: `alembic` (the multi-tenant
    /// backends), `django` (`python manage.py migrate`, the MAP services),
    /// `none`, or a command run in `migrate_service`.
    #[serde(default)]
    pub migrate: Option<String>,
    /// The compose service the migration runs in (default `backend`).
    #[serde(default)]
    pub migrate_service: Option<String>,
    /// A URL the deploy's last check GETs (`{env}` replaced), e.g. the
    /// document's `https://filter-ical.de/health`.
    #[serde(default)]
    pub health_url: Option<String>,
}

impl AppConfig {
    pub fn database_for(&self, env: &str) -> Option<String> {
        self.database.as_ref().map(|d| d.replace("{env}", env))
    }

    /// Runbook parameter values this entry provides to runs on its tenants.
    pub fn params(&self, env: &str) -> Vec<(&'static str, String)> {
        [
            ("migrate", self.migrate.clone()),
            ("migrate_service", self.migrate_service.clone()),
            (
                "health_url",
                self.health_url.as_ref().map(|u| u.replace("{env}", env)),
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupsConfig {
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default = "default_prefix")]
    pub prefix: String,
    #[serde(default = "default_rpo")]
    pub rpo_hours: u32,
}

fn default_prefix() -> String {
    "postgres/".into()
}
fn default_rpo() -> u32 {
    24
}

impl Default for BackupsConfig {
    fn default() -> Self {
        Self {
            bucket: None,
            prefix: default_prefix(),
            rpo_hours: default_rpo(),
        }
    }
}

/// How to reach one database, and what its backups must prove. Fills the
/// backup runbooks' parameters (a value typed in the form still wins).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub name: String,
    /// docker (psql in a container), tcp, or sqlite.
    #[serde(default)]
    pub via: Option<String>,
    #[serde(default)]
    pub pg_container: Option<String>,
    #[serde(default)]
    pub pg_host: Option<String>,
    #[serde(default)]
    pub pg_port: Option<u16>,
    #[serde(default)]
    pub pg_user: Option<String>,
    #[serde(default)]
    pub sqlite_path: Option<String>,
    /// The host's backup directory (where `backup` writes; always scanned).
    #[serde(default)]
    pub dir: Option<String>,
    /// Host paths of this database's backups made outside opsdeck, as its
    /// document makes them (PMO: `/app/backup.sql`); a file name may hold
    /// `{stamp}` (YYYYmmdd_HHMMSS), else the file's time is when it was taken.
    #[serde(default)]
    pub backup_paths: Vec<String>,
    /// An S3 key in `[backups] bucket` that each backup overwrites (PMO:
    /// `db/latest.sql.gz`): its versions are this database's backups.
    #[serde(default)]
    pub s3_latest: Option<String>,
    /// Tables that must not be empty in a restored backup.
    #[serde(default)]
    pub key_tables: Vec<String>,
    /// `table.column` whose newest value must be close to the backup's time.
    #[serde(default)]
    pub fresh_column: Option<String>,
    #[serde(default)]
    pub fresh_hours: Option<u32>,
    /// Overrides `[backups] rpo_hours` for this database.
    #[serde(default)]
    pub rpo_hours: Option<u32>,
}

impl DatabaseConfig {
    /// Runbook parameter values this entry provides.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        let mut put = |k: &'static str, val: Option<String>| {
            if let Some(x) = val {
                v.push((k, x));
            }
        };
        put("via", self.via.clone());
        put("pg_container", self.pg_container.clone());
        put("pg_host", self.pg_host.clone());
        put("pg_port", self.pg_port.map(|p| p.to_string()));
        put("pg_user", self.pg_user.clone());
        put("sqlite_path", self.sqlite_path.clone());
        put("dir", self.dir.clone());
        put(
            "check_tables",
            (!self.key_tables.is_empty()).then(|| self.key_tables.join(",")),
        );
        put("fresh_column", self.fresh_column.clone());
        put("fresh_hours", self.fresh_hours.map(|h| h.to_string()));
        v
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub theme: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default, rename = "context")]
    pub contexts: Vec<ContextConfig>,
    #[serde(default, rename = "host")]
    pub hosts: Vec<HostConfig>,
    #[serde(default, rename = "app")]
    pub apps: Vec<AppConfig>,
    #[serde(default)]
    pub backups: BackupsConfig,
    #[serde(default, rename = "database")]
    pub databases: Vec<DatabaseConfig>,
    #[serde(default, rename = "schedule")]
    pub schedules: Vec<ScheduleConfig>,
}

/// A recurring run (the documents' nightly backup, certbot every 12 h, the
/// monthly image): a runbook, its target as `opsdeck run` names it, when.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub name: String,
    pub runbook: String,
    /// `KIND=VALUE` as on the command line (`database=app`, `instance=i-…`).
    pub target: String,
    /// Daily at this UTC time, `HH:MM`.
    #[serde(default)]
    pub at: Option<String>,
    /// Or every this long (`12h`, `30m`, `7d`).
    #[serde(default)]
    pub every: Option<String>,
    /// Parameter values, as `KEY=VALUE` on the command line.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    /// The target's name, typed once here: the consent a production or
    /// destructive run needs (a schedule runs with nobody at the keyboard).
    #[serde(default)]
    pub confirm: Option<String>,
}

impl Config {
    pub fn app(&self, name: &str) -> Option<&AppConfig> {
        self.apps.iter().find(|a| a.name == name)
    }
    pub fn database(&self, name: &str) -> Option<&DatabaseConfig> {
        self.databases.iter().find(|d| d.name == name)
    }
    /// Where the estate's backups are and how their names read.
    pub fn layouts(&self) -> crate::provider::layout::Layouts {
        use crate::provider::layout::{Layouts, Rule};
        Layouts::new(
            self.databases
                .iter()
                .filter_map(|d| d.dir.clone())
                .collect(),
            self.databases
                .iter()
                .filter(|d| !d.backup_paths.is_empty() || d.s3_latest.is_some())
                .map(|d| Rule {
                    database: d.name.clone(),
                    paths: d.backup_paths.clone(),
                    s3_latest: d.s3_latest.clone(),
                })
                .collect(),
        )
    }
    /// The RPO of a database: its own, else `[backups] rpo_hours`.
    pub fn rpo_hours(&self, database: &str) -> u32 {
        self.database(database)
            .and_then(|d| d.rpo_hours)
            .unwrap_or(self.backups.rpo_hours)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn backticked(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = msg[start..].find('`')? + start;
    Some(msg[start..end].to_string())
}

fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (k, _) = l.split_once('=')?;
    let k = k.trim().trim_matches('"');
    (!k.is_empty() && !k.starts_with('#')).then(|| k.to_string())
}

/// Parse `text` (read from `file`) into a checked [`Config`].
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let cfg: Config = toml::from_str(text).map_err(|e| toml_error(text, file, e))?;
    validate(&cfg, text, file)?;
    Ok(cfg)
}

/// A TOML parse error as file:line:column, with the field when known.
pub fn toml_error(text: &str, file: &str, e: toml::de::Error) -> ConfigError {
    let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
    let msg = e.message().trim().to_string();
    let field = if msg.starts_with("unknown field") || msg.starts_with("missing field") {
        backticked(&msg)
    } else {
        key_on_line(text, line)
    };
    ConfigError {
        file: file.to_string(),
        line,
        column,
        field,
        message: msg.lines().next().unwrap_or("").to_string(),
    }
}

/// Where `needle` first appears as a value of `field` (for semantic errors).
pub fn locate(text: &str, field: &str, needle: &str) -> (usize, usize) {
    for (i, l) in text.lines().enumerate() {
        if let Some((k, v)) = l.split_once('=')
            && k.trim() == field
            && v.contains(needle)
        {
            let col = l.find(needle).unwrap_or(0) + 1;
            return (i + 1, col);
        }
    }
    (1, 1)
}

/// A semantic error at `field`'s line (where `needle` is its value).
type Err<'a> = &'a dyn Fn(&str, &str, String) -> ConfigError;

fn validate(cfg: &Config, text: &str, file: &str) -> Result<(), ConfigError> {
    let err = |field: &str, needle: &str, message: String| {
        let (line, column) = locate(text, field, needle);
        ConfigError {
            file: file.to_string(),
            line,
            column,
            field: Some(field.to_string()),
            message,
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    for c in &cfg.contexts {
        if !seen.insert(c.name.as_str()) {
            return Err(err(
                "name",
                &c.name,
                format!("context `{}` is defined twice", c.name),
            ));
        }
        for r in &c.regions {
            let ok = r.split('-').count() >= 3
                && r.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
            if !ok {
                return Err(err(
                    "regions",
                    r,
                    format!("`{r}` is not an AWS region name (like eu-north-1)"),
                ));
            }
        }
    }
    for h in &cfg.hosts {
        if !h.instance.starts_with("i-") {
            return Err(err(
                "instance",
                &h.instance,
                format!("`{}` is not an EC2 instance id (i-…)", h.instance),
            ));
        }
        for a in &h.apps {
            if cfg.app(a).is_none() {
                return Err(err("apps", a, format!("app `{a}` has no [[app]] entry")));
            }
        }
    }
    validate_databases(cfg, &err)?;
    validate_schedules(cfg, &err)?;
    if let Some(t) = &cfg.theme
        && themes::builtin(t).is_none()
        && !t.ends_with(".toml")
    {
        return Err(err(
            "theme",
            t,
            format!("unknown theme `{t}` (built in: dark, light; or a path to a .toml file)"),
        ));
    }
    Ok(())
}

/// Each `[[database]]`: safe paths, a key S3 takes, a known `via`.
fn validate_databases(cfg: &Config, err: Err) -> Result<(), ConfigError> {
    for d in &cfg.databases {
        for p in d.dir.iter().chain(&d.backup_paths) {
            let field = if Some(p) == d.dir.as_ref() {
                "dir"
            } else {
                "backup_paths"
            };
            if !crate::provider::layout::safe_path(p) || (field == "dir" && p.contains('{')) {
                return Err(err(
                    field,
                    p,
                    format!(
                        "database `{}`: `{p}` is not an absolute path of letters, digits, `.`, `_`, `-` and `/`{}",
                        d.name,
                        if field == "dir" {
                            ""
                        } else {
                            " (the file name may hold {stamp})"
                        }
                    ),
                ));
            }
        }
        if let Some(k) = &d.s3_latest
            && (k.is_empty()
                || k.starts_with('/')
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)))
        {
            return Err(err(
                "s3_latest",
                k,
                format!(
                    "database `{}`: `{k}` is not an S3 key of letters, digits, `/`, `.`, `_` and `-`",
                    d.name
                ),
            ));
        }
        if let Some(v) = &d.via
            && !matches!(v.as_str(), "docker" | "tcp" | "sqlite")
        {
            return Err(err(
                "via",
                v,
                format!("database `{}`: via must be docker, tcp or sqlite", d.name),
            ));
        }
    }
    Ok(())
}

/// Each `[[schedule]]`: a unique name, a time that reads, a target.
fn validate_schedules(cfg: &Config, err: Err) -> Result<(), ConfigError> {
    let mut names = std::collections::BTreeSet::new();
    for sc in &cfg.schedules {
        if !names.insert(sc.name.as_str()) {
            return Err(err(
                "name",
                &sc.name,
                format!("schedule `{}` is defined twice", sc.name),
            ));
        }
        if let Err(why) = crate::when::When::parse(sc.at.as_deref(), sc.every.as_deref()) {
            let (field, needle) = match (&sc.at, &sc.every) {
                (Some(a), _) => ("at", a.as_str()),
                (None, Some(e)) => ("every", e.as_str()),
                (None, None) => ("name", sc.name.as_str()),
            };
            return Err(err(field, needle, format!("schedule `{}`: {why}", sc.name)));
        }
        if !sc.target.contains('=') {
            return Err(err(
                "target",
                &sc.target,
                format!(
                    "schedule `{}`: target is KIND=VALUE (e.g. database=app, instance=i-…)",
                    sc.name
                ),
            ));
        }
    }
    Ok(())
}

pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(&text, &path.display().to_string())
}

/// Standard places: the config dir (XDG on Linux), the data dir for the
/// sandbox, the state dir for logs and the journal.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: PathBuf,
    pub data: PathBuf,
    pub state: PathBuf,
}

impl Dirs {
    pub fn discover() -> Dirs {
        match directories::ProjectDirs::from("", "", "opsdeck") {
            Some(p) => Dirs {
                config: p.config_dir().to_path_buf(),
                data: p.data_dir().to_path_buf(),
                state: p
                    .state_dir()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| p.data_dir().join("state")),
            },
            None => {
                let base = std::env::temp_dir().join("opsdeck");
                Dirs {
                    config: base.join("config"),
                    data: base.join("data"),
                    state: base.join("state"),
                }
            }
        }
    }
}

pub const STARTER_CONFIG: &str = include_str!("starter-config.toml");

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_and_starter_configs_parse() {
        parse(crate::provider::sandbox::SANDBOX_CONFIG, "sandbox.toml").unwrap();
        parse(STARTER_CONFIG, "config.toml").unwrap();
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
