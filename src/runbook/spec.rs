//! The runbook file format (TOML) and its checks. A check error names the
//! file, line and problem, like config errors do.

use super::Danger;
pub use super::params::{ParamSpec, ParamType, Source};
use crate::config::{ConfigError, line_col, toml_error};
use serde::Deserialize;
use toml::Spanned;

/// What a runbook runs against; it decides the host and the target
/// variables every script gets (`app`, `env`, `project`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// An app in one environment (`{app}-{env}` compose project).
    Tenant,
    /// An EC2 instance (a host).
    Instance,
    /// A docker container on a host.
    Container,
    /// A backup file on a host.
    Backup,
    /// A database on a host (PostgreSQL or SQLite).
    Database,
}

impl TargetKind {
    pub fn label(self) -> &'static str {
        match self {
            TargetKind::Tenant => "tenant",
            TargetKind::Instance => "instance",
            TargetKind::Container => "container",
            TargetKind::Backup => "backup",
            TargetKind::Database => "database",
        }
    }
    /// The kind a [`TargetKind::label`] names.
    pub fn parse(label: &str) -> Option<TargetKind> {
        [
            TargetKind::Tenant,
            TargetKind::Instance,
            TargetKind::Container,
            TargetKind::Backup,
            TargetKind::Database,
        ]
        .into_iter()
        .find(|k| k.label() == label)
    }
    /// The shell variables a target of this kind sets.
    pub fn vars(self) -> &'static [&'static str] {
        match self {
            TargetKind::Tenant => &["app", "env", "project", "database"],
            TargetKind::Instance => &["instance"],
            TargetKind::Container => &["container", "project", "service"],
            TargetKind::Backup => &["backup", "database", "project"],
            TargetKind::Database => &["database", "project"],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    pub name: String,
    /// Bash; runs with `set -euo pipefail` in a subshell.
    pub run: Spanned<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Abort,
    Continue,
    /// Run the runbook named in `rollback`, then fail.
    Rollback,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub name: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub target: TargetKind,
    pub danger: Danger,
    #[serde(default, rename = "param")]
    pub params: Vec<ParamSpec>,
    #[serde(default, rename = "precheck")]
    pub prechecks: Vec<Block>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Block>,
    #[serde(default, rename = "postcheck")]
    pub postchecks: Vec<Block>,
    #[serde(default)]
    pub on_failure: OnFailure,
    #[serde(default)]
    pub rollback: Option<Spanned<String>>,
    /// Where it came from: `built-in` or a file path.
    #[serde(skip)]
    pub source: String,
}

impl Spec {
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name() == name)
    }
}

/// Names scripts use for themselves: parameters cannot shadow them.
const RESERVED: &[&str] = &[
    "root",
    "host",
    "step",
    "keep",
    "say",
    "app",
    "env",
    "project",
    "database",
    "container",
    "service",
    "instance",
    "backup",
];

fn err_at(text: &str, file: &str, offset: usize, field: &str, message: String) -> ConfigError {
    let (line, column) = line_col(text, offset);
    ConfigError {
        file: file.to_string(),
        line,
        column,
        field: Some(field.to_string()),
        message,
    }
}

/// Parse and check one runbook file (everything but references to other
/// runbooks, which the library checks), including `bash -n` of its blocks.
pub fn parse(text: &str, file: &str) -> Result<Spec, ConfigError> {
    let spec = parse_unchecked_shell(text, file)?;
    check_bash(text, file, &spec)?;
    Ok(spec)
}

/// [`parse`] without `bash -n` (a process per block): for the built-in
/// library, whose shell a test checks, so that startup stays fast.
pub fn parse_unchecked_shell(text: &str, file: &str) -> Result<Spec, ConfigError> {
    let mut spec: Spec = toml::from_str(text).map_err(|e| toml_error(text, file, e))?;
    spec.source = file.to_string();
    let name = spec.name.get_ref();
    let ok_name = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !ok_name(name) {
        return Err(err_at(
            text,
            file,
            spec.name.span().start,
            "name",
            format!("`{name}`: use lowercase letters, digits and '-'"),
        ));
    }
    if spec.steps.is_empty() {
        return Err(ConfigError {
            file: file.into(),
            line: 1,
            column: 1,
            field: Some("step".into()),
            message: "a runbook needs at least one [[step]]".into(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &spec.params {
        let pn = p.name();
        let at = p.name.span().start;
        let valid = pn.starts_with(|c: char| c.is_ascii_lowercase())
            && pn
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(err_at(
                text,
                file,
                at,
                "name",
                format!(
                    "parameter `{pn}`: use lowercase letters, digits and '_' (a shell variable name)"
                ),
            ));
        }
        if RESERVED.contains(&pn) {
            return Err(err_at(
                text,
                file,
                at,
                "name",
                format!(
                    "parameter `{pn}` would shadow a variable opsdeck sets (reserved: {})",
                    RESERVED.join(", ")
                ),
            ));
        }
        if !seen.insert(pn) {
            return Err(err_at(
                text,
                file,
                at,
                "name",
                format!("parameter `{pn}` is defined twice"),
            ));
        }
        match p.kind {
            ParamType::String => match &p.pattern {
                None => {
                    return Err(err_at(
                        text,
                        file,
                        at,
                        "pattern",
                        format!(
                            "parameter `{pn}`: a string parameter needs a `pattern` (anchored, like \"^[a-z0-9-]+$\")"
                        ),
                    ));
                }
                Some(pat) => {
                    let ps = pat.get_ref();
                    if !ps.starts_with('^') || !ps.ends_with('$') {
                        return Err(err_at(
                            text,
                            file,
                            pat.span().start,
                            "pattern",
                            format!("parameter `{pn}`: the pattern must be anchored with ^ and $"),
                        ));
                    }
                    if let Err(e) = regex_lite::Regex::new(ps) {
                        return Err(err_at(
                            text,
                            file,
                            pat.span().start,
                            "pattern",
                            format!(
                                "parameter `{pn}`: {}",
                                e.to_string().lines().last().unwrap_or("bad pattern")
                            ),
                        ));
                    }
                }
            },
            ParamType::Choice if p.options.is_empty() && p.from.is_none() => {
                return Err(err_at(
                    text,
                    file,
                    at,
                    "options",
                    format!("parameter `{pn}`: a choice needs `options` or `from`"),
                ));
            }
            ParamType::Int | ParamType::Duration => {
                if let (Some(lo), Some(hi)) = (p.min, p.max)
                    && lo > hi
                {
                    return Err(err_at(
                        text,
                        file,
                        at,
                        "min",
                        format!("parameter `{pn}`: min {lo} is above max {hi}"),
                    ));
                }
            }
            _ => {}
        }
        // A default must itself be a valid value.
        if let Some(d) = p.default_text()
            && !(p.kind == ParamType::Choice && p.from.is_some())
            && let Err(why) = super::params::validate(p, &d, &super::Choices::default())
        {
            return Err(err_at(
                text,
                file,
                at,
                "default",
                format!("parameter `{pn}`: the default {d:?} is not valid: {why}"),
            ));
        }
    }
    match (&spec.on_failure, &spec.rollback) {
        (OnFailure::Rollback, None) => {
            return Err(ConfigError {
                file: file.into(),
                line: crate::config::locate(text, "on_failure", "rollback").0,
                column: 1,
                field: Some("rollback".into()),
                message: "on_failure = \"rollback\" needs `rollback = \"RUNBOOK\"`".into(),
            });
        }
        (OnFailure::Abort | OnFailure::Continue, Some(r)) => {
            return Err(err_at(
                text,
                file,
                r.span().start,
                "rollback",
                "`rollback` is only used with on_failure = \"rollback\"".into(),
            ));
        }
        _ => {}
    }
    Ok(spec)
}

/// `bash -n` on every block, with errors mapped back to the file's lines.
fn check_bash(text: &str, file: &str, spec: &Spec) -> Result<(), ConfigError> {
    let blocks = spec
        .prechecks
        .iter()
        .chain(&spec.steps)
        .chain(&spec.postchecks);
    for b in blocks {
        let body = b.run.get_ref();
        let wrapped = format!("__f() {{\n{}\n}}\n", body.trim_end_matches('\n'));
        let out = std::process::Command::new("bash")
            .args(["-n", "-c", &wrapped])
            .output();
        let Ok(out) = out else {
            // No bash here: the host will tell.
            return Ok(());
        };
        if out.status.success() {
            continue;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("syntax error").to_string();
        // "bash: -c: line N: message"
        let (n, msg) = first
            .split_once("line ")
            .and_then(|(_, r)| r.split_once(": "))
            .and_then(|(n, m)| n.parse::<usize>().ok().map(|n| (n, m.to_string())))
            .unwrap_or((2, first.clone()));
        // The body starts on the line after the opening ''' (or on it for "…").
        let (start_line, _) = line_col(text, b.run.span().start);
        let opens_multiline = text[b.run.span().start..].starts_with("'''")
            || text[b.run.span().start..].starts_with("\"\"\"");
        let body_line = start_line + usize::from(opens_multiline);
        let line = body_line + n.saturating_sub(2);
        return Err(ConfigError {
            file: file.into(),
            line,
            column: 1,
            field: Some("run".into()),
            message: format!("step `{}`: bash: {msg}", b.name),
        });
    }
    Ok(())
}
