//! `opsdeck unlock KIND=NAME`: for the lock records a run cannot take over
//! by itself — an unreadable record, one from a newer opsdeck, or a stale
//! one the operator wants gone now. The records are shown first; a lock a
//! running run holds is never broken (cancel that run instead); the
//! removal needs --yes (and the name typed on production) and is journaled.

use crate::ops::Providers;
use crate::ops::actions::Change;
use crate::runbook::spec::TargetKind;
use crate::runbook::{Danger, Target};

use super::headless::exit;

pub struct UnlockArgs {
    /// KIND=NAME, as `opsdeck run` names its target.
    pub target: String,
    pub yes: bool,
    pub confirm: Option<String>,
    pub read_only: bool,
    pub production_context: bool,
}

/// The locks a run on `target` may hold: every one a change or a
/// destructive run of it takes, but the host's own (shared by every run
/// on the host) only for an instance.
pub fn lock_names(target: &Target) -> Result<Vec<String>, crate::runbook::locks::BadLockName> {
    let keys = crate::runbook::locks::for_target(Danger::Destructive, target)?;
    Ok(keys
        .iter()
        .map(|k| k.name().to_string())
        .filter(|n| target.kind == TargetKind::Instance || !n.starts_with("host-"))
        .collect())
}

pub async fn unlock(
    p: &Providers,
    config: &crate::config::Config,
    args: UnlockArgs,
) -> anyhow::Result<u8> {
    let Some((kind, name)) = args
        .target
        .split_once('=')
        .and_then(|(k, v)| Some((TargetKind::parse(k)?, v)))
    else {
        eprintln!(
            "opsdeck: {:?}: write KIND=NAME (tenant=APP-ENV, database=NAME, instance=ID|NAME, container=NAME)",
            args.target
        );
        return Ok(exit::USAGE);
    };
    let (inv, warnings) =
        crate::ops::load_inventory(p, config, kind != TargetKind::Instance).await?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let target = match inv.resolve(kind, name) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return Ok(exit::USAGE);
        }
    };
    let names = match lock_names(&target) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("opsdeck: refused: {e}");
            return Ok(exit::REFUSED);
        }
    };
    let protocol = crate::jobs::protocol::RunProtocol::new(p.transport.clone());
    let found = protocol.inspect_locks(&target.host, &names).await?;
    let mut shown = Vec::new();
    let mut live = Vec::new();
    for l in &found {
        for r in &l.records {
            let state = if r.alive {
                live.push(l.name.clone());
                "held: its run is still running"
            } else {
                "no run holds it"
            };
            eprintln!(
                "opsdeck: {} on {}: {} ({state})",
                l.name,
                target.host,
                r.record.describe()
            );
            if !r.alive {
                shown.push(format!("{}: {}", l.name, r.record.describe()));
            }
        }
    }
    if !live.is_empty() {
        eprintln!(
            "opsdeck: a running run holds {}: unlock never breaks that; cancel the run (`opsdeck attach RUN`, then Ctrl-C)",
            live.join(", ")
        );
    }
    if shown.is_empty() {
        eprintln!(
            "opsdeck: nothing to unlock on {} for {}",
            target.host, target.label
        );
        return Ok(if live.is_empty() {
            exit::SUCCEEDED
        } else {
            exit::REFUSED
        });
    }
    if args.read_only {
        eprintln!("opsdeck: refused: read-only mode: changes are refused");
        return Ok(exit::REFUSED);
    }
    let production = args.production_context || target.production;
    if !args.yes {
        eprintln!("opsdeck: refused: removing lock records is a change: pass --yes");
        return Ok(exit::REFUSED);
    }
    if production && args.confirm.as_deref() != Some(target.confirm_name.as_str()) {
        eprintln!(
            "opsdeck: refused: production: pass --confirm {}",
            target.confirm_name
        );
        return Ok(exit::REFUSED);
    }
    let change = Change::Unlock {
        host: target.host.clone(),
        target: target.label.clone(),
        locks: names,
        shown,
    };
    match crate::ops::actions::perform(p, &change, production).await {
        Ok(said) => {
            eprintln!("opsdeck: {said} (journaled)");
            Ok(exit::SUCCEEDED)
        }
        Err(e) => {
            eprintln!("opsdeck: unlock failed: {e}");
            Ok(exit::FAILED)
        }
    }
}
