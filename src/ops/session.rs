//! A shell on a host or in a container, from the console (`S`) or
//! `opsdeck shell`: the same refusals, the same name to type on
//! production, the same journal record from start to end, the same program
//! (the provider decides it: [`crate::provider::session`]).

use super::Providers;
use super::actions::{self, Change};
use crate::domain::Instance;
use crate::provider::session::{self, SessionSpec};

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

/// The program for the shell and its journal record (the provider's
/// answer: a missing CLI or plugin is an error naming what to install).
pub fn open(
    p: &Providers,
    instance: &Instance,
    container: Option<&str>,
) -> Result<(SessionSpec, Change), String> {
    let spec = p
        .cloud
        .session(instance, container)
        .map_err(|e| e.to_string())?;
    let label = if instance.name.is_empty() {
        instance.id.clone()
    } else {
        format!("{} ({})", instance.name, instance.id)
    };
    let change = Change::Session {
        instance: instance.id.clone(),
        label,
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
) -> Result<(i32, String), String> {
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
        Err(e) => actions::end(p, begun, Err(e), None).map(|t| (-1, t)),
    }
}
