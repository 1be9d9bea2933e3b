//! A shell on a host or in a container, from the console (`S`) or
//! `opsdeck shell`: the same refusals, the same name to type on
//! production, the same journal record from start to end, the same program
//! (the provider decides it: [`crate::provider::session`]).

use super::Providers;
use super::actions::{self, Change};
use crate::config::Config;
use crate::domain::Instance;
use crate::provider::session::{self, ForwardTo, SessionSpec};

/// Why no shell may be opened on `instance` at all (read-only, stopped,
/// agent away); `None` when one may, with the name typed on production.
pub fn refusal(instance: &Instance, read_only: bool) -> Option<String> {
    if read_only {
        return Some("read-only: a shell can change anything, so none is opened".into());
    }
    instance.unreachable_reason()
}

/// What the operator types to open a shell on production: the container,
/// else the instance's Name when no other instance has it, else its id.
pub fn confirm_name(
    instance: &Instance,
    instances: &[Instance],
    container: Option<&str>,
) -> String {
    match container {
        Some(c) => c.to_string(),
        None if !instance.name.is_empty() && crate::runbook::unique_name(instances, instance) => {
            instance.name.clone()
        }
        None => instance.id.clone(),
    }
}

fn label(instance: &Instance) -> String {
    if instance.name.is_empty() {
        instance.id.clone()
    } else {
        format!("{} ({})", instance.name, instance.id)
    }
}

/// The program for the shell and its journal record (the provider's
/// answer: a missing CLI or plugin is an error naming what to install).
pub fn open(
    p: &Providers,
    instance: &Instance,
    container: Option<&str>,
) -> Result<(SessionSpec, Change), SessionError> {
    let spec = p
        .cloud
        .session(instance, container)
        .map_err(|e| e.to_string())?;
    let change = Change::Session {
        instance: instance.id.clone(),
        label: label(instance),
        container: container.map(str::to_string),
        call: spec.call.clone(),
    };
    Ok((spec, change))
}

/// Run the shell in this terminal to its end, journaled before and after
/// (who, target, start, end, exit code): its exit code and how it ended in
/// words, or why it did not run or how it died.
pub fn run(
    p: &Providers,
    spec: &SessionSpec,
    change: &Change,
    production: bool,
) -> Result<(i32, String), SessionError> {
    let begun = actions::begin(p, change, production)?;
    match session::run(spec) {
        Ok(c) => {
            let text = actions::end(
                p,
                begun,
                Ok(format!("{} ended (exit {c})", change.title())),
                Some(c),
            )?;
            Ok((c, text))
        }
        Err(e) => Ok(actions::end(p, begun, Err(e.to_string()), None).map(|t| (-1, t))?),
    }
}

message_error!(
    /// Why a session or a forward cannot open, or how it failed.
    SessionError; from crate::ops::actions::ActionError, crate::provider::session::SessionError
);

/// Where a forward to a database goes, as its `[[database]]` entry says:
/// its container (the sandbox finds its server by it) and `pg_host` /
/// `pg_port` as the instance sees them, else `localhost:5432`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub database: String,
    pub container: Option<String>,
    pub host: String,
    pub port: u16,
}

/// The destination of a forward to `database` (no IO); a SQLite file has none.
pub fn destination(config: &Config, database: &str) -> Result<Destination, SessionError> {
    let d = config.database(database);
    if d.and_then(|d| d.via.as_deref()) == Some("sqlite") {
        return Err(format!(
            "{database} is a SQLite file on the host: there is no server to forward to (a shell reaches it)"
        ).into());
    }
    Ok(Destination {
        database: database.to_string(),
        container: d.and_then(|d| d.pg_container.clone()),
        host: d
            .and_then(|d| d.pg_host.clone())
            .unwrap_or_else(|| "localhost".into()),
        port: d.and_then(|d| d.pg_port).unwrap_or(5432),
    })
}

/// The program that forwards to `dest` through `instance` (the provider's
/// answer) and its journal record. `local_port` None: a free one.
pub fn plan_forward(
    p: &Providers,
    instance: &Instance,
    dest: &Destination,
    local_port: Option<u16>,
) -> Result<(SessionSpec, Change), SessionError> {
    let to = ForwardTo {
        database: dest.database.clone(),
        container: dest.container.clone(),
        host: dest.host.clone(),
        port: dest.port,
        local_port: match local_port {
            Some(l) => l,
            None => session::free_local_port()?,
        },
    };
    let spec = p.cloud.forward(instance, &to).map_err(|e| e.to_string())?;
    let change = Change::Forward {
        instance: instance.id.clone(),
        label: label(instance),
        database: dest.database.clone(),
        local_port: to.local_port,
        call: spec.call.clone(),
    };
    Ok((spec, change))
}

/// How a forward ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEnd {
    /// Ended by the operator (the process is stopped).
    Ended,
    /// It stopped by itself, with this exit code.
    Exited(i32),
}

/// Keep a begun forward running in the background until `stop` turns true
/// or it ends by itself; its output lines go to `on_line`; its end is
/// journaled. The process runs in its own group, stopped whole.
pub async fn run_forward(
    p: &Providers,
    begun: actions::Begun,
    spec: &SessionSpec,
    title: &str,
    mut on_line: impl FnMut(String) + Send,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<ForwardEnd, SessionError> {
    use tokio::io::AsyncBufReadExt;
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().cloned())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let why = format!("cannot start {}: {e}", spec.program);
            return Err(actions::end(p, begun, Err(why.clone()), None)
                .err()
                .map_or(SessionError(why), SessionError::from));
        }
    };
    on_line(spec.banner.clone());
    let mut out = child
        .stdout
        .take()
        .map(|s| tokio::io::BufReader::new(s).lines());
    let mut err = child
        .stderr
        .take()
        .map(|s| tokio::io::BufReader::new(s).lines());
    let pid = child.id();
    let end = loop {
        tokio::select! {
            Some(Ok(Some(l))) = async { match out.as_mut() { Some(o) => Some(o.next_line().await), None => None } } => on_line(l),
            Some(Ok(Some(l))) = async { match err.as_mut() { Some(e) => Some(e.next_line().await), None => None } } => on_line(l),
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    if let Some(pid) = pid {
                        // The whole group: the CLI and its plugin.
                        let _ = std::process::Command::new("kill")
                            .args(["-s", "TERM", "--", &format!("-{pid}")])
                            .status();
                    }
                    if tokio::time::timeout(std::time::Duration::from_secs(3), child.wait())
                        .await
                        .is_err()
                    {
                        let _ = child.kill().await;
                    }
                    break ForwardEnd::Ended;
                }
            }
            status = child.wait() => {
                break ForwardEnd::Exited(status.map_or(-1, |s| s.code().unwrap_or(-1)));
            }
        }
    };
    let (result, code) = match &end {
        ForwardEnd::Ended => (Ok(format!("{title} ended by the operator")), None),
        ForwardEnd::Exited(0) => (Ok(format!("{title} ended (exit 0)")), Some(0)),
        ForwardEnd::Exited(c) => (Err(format!("{title} stopped (exit {c})")), Some(*c)),
    };
    match actions::end(p, begun, result, code) {
        Err(e) if e.0.contains("could not be journaled") => Err(e.into()),
        _ => Ok(end),
    }
}
