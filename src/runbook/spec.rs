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
            TargetKind::Backup => &["backup", "database", "project", "format", "version_id"],
            TargetKind::Database => &["database", "project"],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    pub name: String,
    /// Bash; runs with `set -euo pipefail` in a subshell.
    #[serde(default)]
    pub run: Option<Spanned<String>>,
    /// Or a cloud action ([`super::cloud::Action`]) instead of a script.
    #[serde(default)]
    pub cloud: Option<Spanned<String>>,
    /// The cloud action's arguments: templates over the target's
    /// variables, the parameters and earlier cloud steps' outputs.
    #[serde(default)]
    pub with: std::collections::BTreeMap<String, String>,
    /// A script step runs on the instance an earlier cloud step gives
    /// (its output's name, e.g. `new_instance`) instead of the target's host.
    #[serde(default)]
    pub on: Option<Spanned<String>>,
}

impl Block {
    /// The script (empty for a cloud step).
    pub fn script(&self) -> &str {
        self.run
            .as_ref()
            .map(|r| r.get_ref().as_str())
            .unwrap_or("")
    }
    /// The cloud action, when this is a cloud step.
    pub fn action(&self) -> Option<super::cloud::Action> {
        self.cloud
            .as_ref()
            .and_then(|c| super::cloud::Action::parse(c.get_ref()))
    }
}

impl Spec {
    /// Whether a step is a cloud action (the run is then a procedure).
    pub fn has_cloud_steps(&self) -> bool {
        self.steps.iter().any(|b| b.cloud.is_some())
    }
    /// Whether a script of it runs on the target's host (every runbook
    /// but one whose scripts all run on instances its cloud steps give).
    pub fn needs_target_host(&self) -> bool {
        self.prechecks
            .iter()
            .chain(&self.postchecks)
            .next()
            .is_some()
            || self.steps.iter().any(|b| b.run.is_some() && b.on.is_none())
    }
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
        check_param(text, file, p, &mut seen)?;
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
    check_blocks(text, file, &spec)?;
    Ok(spec)
}

/// A parameter: a shell variable name, not reserved, defined once, with
/// what its type needs (an anchored pattern, options), and a valid default.
fn check_param<'a>(
    text: &str,
    file: &str,
    p: &'a ParamSpec,
    seen: &mut std::collections::BTreeSet<&'a str>,
) -> Result<(), ConfigError> {
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
    Ok(())
}

/// Each block is a script or a cloud action, never both; cloud steps name
/// a known action with exactly its arguments, whose templates refer only
/// to what exists by then; `on` names an earlier step's instance.
fn check_blocks(text: &str, file: &str, spec: &Spec) -> Result<(), ConfigError> {
    use super::cloud::RUNTIME;
    let at_name = |b: &Block| {
        text.find(&format!("\"{}\"", b.name))
            .or_else(|| text.find(&format!("'{}'", b.name)))
            .unwrap_or(0)
    };
    let fail =
        |at: usize, field: &str, message: String| Err(err_at(text, file, at, field, message));
    for b in spec.prechecks.iter().chain(&spec.postchecks) {
        if b.run.is_none() || b.cloud.is_some() || b.on.is_some() || !b.with.is_empty() {
            return fail(
                at_name(b),
                "run",
                format!(
                    "check `{}`: a check is a script (`run`) on the target's host",
                    b.name
                ),
            );
        }
    }
    let cloud = spec.has_cloud_steps();
    if cloud && let Some(b) = spec.prechecks.first().or(spec.postchecks.first()) {
        return fail(
            at_name(b),
            "precheck",
            "a runbook with cloud steps takes its checks as steps (no [[precheck]] or [[postcheck]])"
                .into(),
        );
    }
    if cloud && spec.on_failure != OnFailure::Abort {
        return fail(
            text.find("on_failure").unwrap_or(0),
            "on_failure",
            "a runbook with cloud steps stops at a failed step and says what exists (on_failure = \"abort\")"
                .into(),
        );
    }
    // What a template may name: the target's variables, the parameters,
    // run-time values, and what earlier cloud steps give.
    let mut known: Vec<String> = spec.target.vars().iter().map(|s| s.to_string()).collect();
    known.extend(spec.params.iter().map(|p| p.name().to_string()));
    known.extend(RUNTIME.iter().map(|s| s.to_string()));
    let mut instances: Vec<String> = Vec::new();
    for b in &spec.steps {
        match (&b.run, &b.cloud) {
            (Some(_), Some(_)) | (None, None) => {
                return fail(
                    at_name(b),
                    "run",
                    format!(
                        "step `{}`: give either `run` (a script) or `cloud` (an action)",
                        b.name
                    ),
                );
            }
            (Some(_), None) => {
                if !b.with.is_empty() {
                    return fail(
                        at_name(b),
                        "with",
                        format!("step `{}`: `with` is for cloud steps", b.name),
                    );
                }
                if let Some(on) = &b.on
                    && !instances.contains(on.get_ref())
                {
                    return fail(
                        on.span().start,
                        "on",
                        format!(
                            "step `{}`: `on = \"{}\"` is not an instance an earlier cloud step gives ({})",
                            b.name,
                            on.get_ref(),
                            if instances.is_empty() {
                                "none does".to_string()
                            } else {
                                instances.join(", ")
                            }
                        ),
                    );
                }
            }
            (None, Some(c)) => {
                check_cloud_step(text, file, spec, b, c, &mut known, &mut instances)?;
            }
        }
    }
    Ok(())
}

/// A cloud step: a known action with exactly its arguments, each naming
/// only what exists by then (and no secret); what it gives is known after it.
fn check_cloud_step(
    text: &str,
    file: &str,
    spec: &Spec,
    b: &Block,
    c: &Spanned<String>,
    known: &mut Vec<String>,
    instances: &mut Vec<String>,
) -> Result<(), ConfigError> {
    use super::cloud::{ACTIONS, Action, ArgType, references};
    let fail =
        |at: usize, field: &str, message: String| Err(err_at(text, file, at, field, message));
    let Some(action) = Action::parse(c.get_ref()) else {
        return fail(
            c.span().start,
            "cloud",
            format!(
                "step `{}`: no cloud action `{}` (known: {})",
                b.name,
                c.get_ref(),
                ACTIONS.map(|a| a.name()).join(", ")
            ),
        );
    };
    let wants: Vec<&str> = action.args().iter().map(|(n, _)| *n).collect();
    let given: Vec<&str> = b.with.keys().map(String::as_str).collect();
    let mut sorted = wants.clone();
    sorted.sort_unstable();
    if given != sorted {
        return fail(
            c.span().start,
            "with",
            format!(
                "step `{}`: `{}` takes with = {{ {} }}",
                b.name,
                action.name(),
                wants.join(", ")
            ),
        );
    }
    for (k, v) in &b.with {
        // A call's arguments are shown, printed and journaled.
        if let Some(r) = references(v)
            .into_iter()
            .find(|r| spec.param(r).is_some() && super::is_secret_name(r))
        {
            return fail(
                c.span().start,
                "with",
                format!(
                    "step `{}`: `{k}` refers to {{{r}}}, a secret by its name: a call's arguments are shown and journaled",
                    b.name
                ),
            );
        }
        if let Some(r) = references(v).into_iter().find(|r| !known.contains(r)) {
            return fail(
                c.span().start,
                "with",
                format!(
                    "step `{}`: `{k}` refers to {{{r}}}, which nothing before it gives (known: {})",
                    b.name,
                    known.join(", ")
                ),
            );
        }
    }
    if b.on.is_some() {
        return fail(
            c.span().start,
            "on",
            format!(
                "step `{}`: a cloud step runs in opsdeck; `on` is for scripts",
                b.name
            ),
        );
    }
    if action.changes() && spec.danger == Danger::Read {
        return fail(
            c.span().start,
            "danger",
            format!(
                "step `{}`: `{}` changes the estate; the runbook cannot be danger = \"read\"",
                b.name,
                action.name()
            ),
        );
    }
    for (o, ty) in action.outputs() {
        if spec.param(o).is_some() {
            return fail(
                c.span().start,
                "cloud",
                format!(
                    "step `{}`: `{}` gives `{o}`, which a parameter is named too",
                    b.name,
                    action.name()
                ),
            );
        }
        known.push(o.to_string());
        if *ty == Some(ArgType::InstanceId) {
            instances.push(o.to_string());
        }
    }
    Ok(())
}

/// `bash -n` on every block, with errors mapped back to the file's lines.
fn check_bash(text: &str, file: &str, spec: &Spec) -> Result<(), ConfigError> {
    let blocks = spec
        .prechecks
        .iter()
        .chain(&spec.steps)
        .chain(&spec.postchecks);
    for b in blocks {
        let Some(run) = &b.run else { continue };
        let body = run.get_ref();
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
        let (start_line, _) = line_col(text, run.span().start);
        let opens_multiline = text[run.span().start..].starts_with("'''")
            || text[run.span().start..].starts_with("\"\"\"");
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
