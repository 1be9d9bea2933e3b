//! Everyone's runs, headless: `opsdeck runs [--json]` lists the runs on
//! the estate's hosts whoever started them; `opsdeck attach RUN` follows
//! one this opsdeck's journal does not know (another operator's), read-only,
//! byte for byte from its host's log; Ctrl-C there asks for the target's
//! name before it cancels someone else's run, and journals the cancel under
//! both names.

use crate::jobs::engine::{RunEvent, RunRequest};
use crate::jobs::protocol::RunProtocol;
use crate::ops::Providers;
use crate::ops::runs::HostRun;
use crate::store::journal::RunOutcome;
use std::io::Write;

use super::headless::exit;

/// `opsdeck runs`: in flight and started within `hours`, newest first.
pub async fn runs(
    p: &Providers,
    json: bool,
    hours: i64,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let instances = p.cloud.instances().await?;
    let (runs, warnings) = crate::ops::runs::everyone(
        p,
        &instances,
        chrono::Duration::hours(hours),
        crate::clock::now(),
    )
    .await;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &runs)?;
        writeln!(out)?;
        return Ok(0);
    }
    super::ls::table(out, &table(&runs, crate::clock::now()))?;
    Ok(0)
}

/// The rows `opsdeck runs` prints (and the console's Runs shows for runs
/// it did not start).
pub fn table(runs: &[HostRun], now: chrono::DateTime<chrono::Utc>) -> crate::table::TableData {
    crate::table::TableData {
        headers: vec![
            "RUN", "OWNER", "WHOSE", "RUNBOOK", "TARGET", "HOST", "SINCE", "ELAPSED", "STATUS",
        ],
        rows: runs
            .iter()
            .map(|r| crate::table::Row {
                key: r.run.clone(),
                cells: vec![
                    r.run.clone(),
                    r.owner.clone(),
                    if r.mine { "yours" } else { "someone else's" }.into(),
                    r.runbook.clone(),
                    r.target.clone(),
                    r.host_name.clone(),
                    r.since.format("%Y-%m-%d %H:%M:%S").to_string(),
                    if r.in_flight() {
                        format!("{}s", (now - r.since).num_seconds().max(0))
                    } else {
                        "-".into()
                    },
                    match r.exit_code {
                        Some(c) if c != 0 => format!("{} (exit {c})", r.status()),
                        _ => r.status().into(),
                    },
                ],
                tone: match r.outcome {
                    Some(RunOutcome::Succeeded) => crate::table::Tone::Good,
                    None => crate::table::Tone::Normal,
                    Some(RunOutcome::Cancelled) => crate::table::Tone::Warn,
                    Some(_) => crate::table::Tone::Bad,
                },
            })
            .collect(),
        ..Default::default()
    }
}

/// Find run `run` on the hosts (any age).
pub async fn find(p: &Providers, run: &str) -> anyhow::Result<Option<HostRun>> {
    let instances = p.cloud.instances().await?;
    let (runs, warnings) = crate::ops::runs::everyone(
        p,
        &instances,
        chrono::Duration::days(36500),
        crate::clock::now(),
    )
    .await;
    let found = runs.into_iter().find(|r| r.run == run);
    if found.is_none() {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(found)
}

/// `opsdeck attach RUN` for a run on the hosts that this journal does not
/// have: its log from the first byte, then the rest as it comes, to its
/// end. Nothing is journaled but a cancel (its owner's opsdeck journals the
/// run). Exit: as `run`.
pub async fn attach_elsewhere(p: &Providers, r: &HostRun) -> anyhow::Result<u8> {
    let whose = if r.mine {
        "yours, started elsewhere"
    } else {
        "someone else's"
    };
    eprintln!(
        "opsdeck: following {} on {}, {whose}, read-only{}",
        r.describe(),
        r.host_name,
        if r.in_flight() {
            " (Ctrl-C to cancel it)"
        } else {
            ""
        }
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _handle = crate::jobs::engine::spawn_run(
        RunProtocol::new(p.transport.clone()),
        RunRequest::follow(r.run.clone().into(), r.host.clone()),
        tx,
    );
    let mut cancel_sent = false;
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::signal::ctrl_c(), if !cancel_sent => {
                cancel_sent = ask_and_cancel(p, r).await;
                continue;
            }
        };
        let Some(ev) = ev else {
            eprintln!("opsdeck: {} lost", r.run);
            return Ok(exit::LOST);
        };
        if let Some((outcome, exit_code, error)) = crate::jobs::journaled::ending(&ev) {
            if let Some(e) = error {
                eprintln!("opsdeck: {e}");
            }
            eprintln!(
                "opsdeck: {} {outcome}{}",
                r.run,
                exit_code
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default()
            );
            return Ok(exit::of(outcome));
        }
        if let RunEvent::Output { text, .. } = ev {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
    }
}

/// Ctrl-C on a followed run: someone else's is cancelled only when its
/// target's name is typed; the cancel is journaled. True when it was sent.
async fn ask_and_cancel(p: &Providers, r: &HostRun) -> bool {
    if !r.mine {
        eprint!(
            "\nopsdeck: {} is not yours: type its target's name ({}) to cancel it, anything else to go on following: ",
            r.describe(),
            r.target
        );
        let _ = std::io::stderr().flush();
        let typed = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
        if typed.trim() != r.target {
            eprintln!("opsdeck: not cancelled; still following");
            return false;
        }
    }
    eprintln!("opsdeck: cancelling {}…", r.describe());
    match crate::ops::actions::perform(p, &r.cancel_change(), false).await {
        Ok(said) => {
            eprintln!("opsdeck: {said} (journaled)");
            true
        }
        Err(e) => {
            eprintln!("opsdeck: cancel failed: {e}");
            false
        }
    }
}
