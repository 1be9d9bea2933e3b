//! `opsdeck run RUNBOOK tag=KEY=VALUE`: one instance runbook on every
//! instance with that tag, as one fleet run ([`crate::jobs::fleet`]): SSM
//! sends it and enforces `--max-concurrency` / `--max-errors`; opsdeck
//! refuses unreachable targets before anything is sent, journals every
//! target (its own record, its complete output), prints each target's
//! output with its name when it ends, and a summary (JSON with `--json`).
//! Exit: 0 every target succeeded, 1 one failed, was refused or never
//! started, 3 refused as a whole, 4 cancelled (Ctrl-C: CancelCommand).

use super::run::{RunArgs, exit, not_prepared, print_preview};
use crate::config::Config;
use crate::jobs::fleet::{self, FleetEvent, FleetRequest, FleetTarget, TargetEnd};
use crate::ops::{self, Providers};
use crate::runbook::{Danger, Library, RenderedRun};
use crate::store::journal::{Finished, Record, RunOutcome};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

fn outcome(end: &TargetEnd) -> RunOutcome {
    match end {
        TargetEnd::Succeeded => RunOutcome::Succeeded,
        TargetEnd::Failed(c) if *c == crate::jobs::journaled::EXIT_DATA_KEPT => {
            RunOutcome::DataKept
        }
        TargetEnd::Failed(_) => RunOutcome::Failed,
        TargetEnd::Cancelled | TargetEnd::NotStarted => RunOutcome::Cancelled,
        TargetEnd::Error(_) => RunOutcome::Error,
    }
}

pub async fn run_on_tag(
    p: &Providers,
    config: &Config,
    lib: &Library,
    spec: &crate::runbook::spec::Spec,
    tag: &str,
    values: &BTreeMap<String, String>,
    args: &RunArgs,
) -> anyhow::Result<u8> {
    let targets = match fleet::Targets::parse(&format!("tag:{tag}")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return Ok(exit::USAGE);
        }
    };
    for limit in [&args.max_concurrency, &args.max_errors] {
        if let Err(e) = fleet::absolute(limit, 1) {
            eprintln!("opsdeck: {e}");
            return Ok(exit::USAGE);
        }
    }
    let (inv, _) = ops::load_inventory(p, config, false).await?;
    let cx = ops::Context {
        config,
        library: lib,
        production: args.production_context,
    };
    let selected = match targets.select(&inv.instances) {
        Ok(v) if !v.is_empty() => v,
        Ok(_) => {
            eprintln!("opsdeck: no instance is tagged {tag}");
            return Ok(exit::USAGE);
        }
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return Ok(exit::USAGE);
        }
    };
    let mut runs: Vec<RenderedRun> = Vec::new();
    let mut refused = Vec::new();
    for i in selected {
        let target = inv.instance_target(i);
        let r = match ops::prepare_run(cx, &inv, spec.name(), &target, values) {
            Ok(r) => r,
            Err(e) => return Ok(not_prepared(&e)),
        };
        match ops::guard(&r, args.read_only, &inv.instances) {
            Ok(()) => runs.push(r),
            Err(why @ ops::Refusal::ReadOnly { .. }) => {
                eprintln!("opsdeck: refused: {why}");
                return Ok(exit::REFUSED);
            }
            Err(why) => refused.push((i.id.clone(), target.label.clone(), why.to_string())),
        }
    }
    let confirm = format!("tag:{tag}");
    let at = crate::clock::now();
    let id = ops::RunId::new(
        at,
        spec.name(),
        &format!("f{:04x}", std::process::id() & 0xffff),
    )
    .into_string();
    let fleet_targets: Vec<FleetTarget> = runs
        .iter()
        .map(|r| FleetTarget {
            host: r.host.clone(),
            label: r.target.label.clone(),
            script: r.script.clone(),
        })
        .collect();
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "# fleet     {} on {} target(s) tagged {tag}, at most {} at once, stop after {} error(s)",
            spec.name(),
            runs.len(),
            args.max_concurrency,
            args.max_errors
        )?;
        for r in &runs {
            writeln!(out, "# target    {} — {}", r.target.label, r.guard_text())?;
        }
        for (_, t, why) in &refused {
            writeln!(out, "# refused   {t} — {why}")?;
        }
        match fleet::neutral_script(&fleet_targets) {
            Ok(s) if !runs.is_empty() => write!(out, "{}", fleet::fleet_script(&id, &s))?,
            Ok(_) => {}
            Err(_) => {
                for r in &runs {
                    print_preview(&mut out, r)?;
                }
            }
        }
        return Ok(exit::SUCCEEDED);
    }
    if spec.danger != Danger::Read && !args.yes {
        eprintln!(
            "opsdeck: refused: pass --yes to run a {} runbook on {confirm}",
            spec.danger.label()
        );
        return Ok(exit::REFUSED);
    }
    if runs.iter().any(|r| r.confirm_with.is_some()) && args.confirm.as_deref() != Some(&confirm) {
        eprintln!("opsdeck: refused: production or destructive targets: pass --confirm {confirm}");
        return Ok(exit::REFUSED);
    }
    for (_, t, why) in &refused {
        eprintln!("opsdeck: {t}: refused: {why}");
    }
    if runs.is_empty() {
        return Ok(exit::REFUSED);
    }
    // Every target is journaled before anything is sent.
    for r in &runs {
        let job = fleet::target_job(&id, &r.host);
        p.journal.prepare_run(&job, &r.script)?;
        p.journal.append(&crate::jobs::journaled::start_record(
            r,
            &job,
            &p.operator,
            at,
        ))?;
    }
    eprintln!(
        "opsdeck: fleet run {id} started: {} on {} target(s)",
        spec.name(),
        runs.len()
    );
    // By tag when the tag selects exactly what runs (nothing refused).
    let by_tag = match (&targets, refused.is_empty()) {
        (fleet::Targets::Tag { key, value }, true) => Some((key.clone(), value.clone())),
        _ => None,
    };
    let req = FleetRequest {
        run: id.clone(),
        targets: fleet_targets,
        tag: by_tag,
        max_concurrency: args.max_concurrency.clone(),
        max_errors: args.max_errors.clone(),
        // SSM's own default for executionTimeout.
        timeout: Duration::from_secs(3600),
        poll: Duration::from_millis(
            std::env::var("OPSDECK_FLEET_POLL_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(3000),
        ),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let engine = tokio::spawn(fleet::run(p.transport.clone(), req, tx, cancel_rx));
    // Output lines carry the target's name, or its id where names repeat.
    let short = |r: &RenderedRun| {
        r.target
            .label
            .split(' ')
            .next()
            .unwrap_or(&r.host)
            .to_string()
    };
    let names: BTreeMap<String, String> = runs
        .iter()
        .map(|r| {
            let name = short(r);
            let unique = runs.iter().filter(|o| short(o) == name).count() == 1;
            (r.host.clone(), if unique { name } else { r.host.clone() })
        })
        .collect();
    let mut cancelled = false;
    let mut last = None;
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::signal::ctrl_c(), if !cancelled => {
                cancelled = true;
                eprintln!("opsdeck: cancelling {id} (CancelCommand: running targets are stopped, no more are sent)…");
                let _ = cancel_tx.send(true);
                continue;
            }
        };
        let Some(ev) = ev else { break };
        match ev {
            FleetEvent::Sent { command, hosts } => {
                eprintln!(
                    "opsdeck: command {command} sent to {} target(s)",
                    hosts.len()
                );
            }
            FleetEvent::Progress(c) => {
                if last != Some(c) {
                    eprintln!(
                        "opsdeck: {}/{} done, {} failed",
                        c.completed, c.targets, c.errors
                    );
                    last = Some(c);
                }
            }
            FleetEvent::Ended { host, end, output } => {
                let prefix = names.get(&host).cloned().unwrap_or_else(|| host.clone());
                {
                    let mut out: Box<dyn Write> = if args.json {
                        Box::new(std::io::stderr().lock())
                    } else {
                        Box::new(std::io::stdout().lock())
                    };
                    for line in output.lines() {
                        let _ = writeln!(out, "[{prefix}] {line}");
                    }
                }
                let job = fleet::target_job(&id, &host);
                crate::store::journal::write_private(
                    &p.journal.output_path(&job),
                    output.as_bytes(),
                )?;
                let mut report = BTreeMap::new();
                crate::jobs::journaled::report_lines(&output, &mut report);
                let now = crate::clock::now();
                p.journal.append(&Record::Finish(Finished {
                    run: job,
                    at: now,
                    status: outcome(&end),
                    exit_code: end.exit_code(),
                    result: crate::jobs::journaled::result_line(&output),
                    error: match &end {
                        TargetEnd::Error(e) => Some(e.clone()),
                        TargetEnd::NotStarted => Some("not started".into()),
                        _ => None,
                    },
                    duration_ms: (now - at).num_milliseconds(),
                    reattached: false,
                    report,
                }))?;
            }
        }
    }
    let report = match engine.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("opsdeck: the fleet run failed: {e}");
            return Ok(exit::FAILED);
        }
        Err(e) => {
            eprintln!("opsdeck: the fleet run failed: {e}");
            return Ok(exit::FAILED);
        }
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rows = Vec::new();
    for r in &runs {
        let end = report
            .ends
            .get(&r.host)
            .cloned()
            .unwrap_or(TargetEnd::Error("no answer".into()));
        *counts.entry(end.word()).or_default() += 1;
        let output = report.outputs.get(&r.host).cloned().unwrap_or_default();
        let mut figures = BTreeMap::new();
        crate::jobs::journaled::report_lines(&output, &mut figures);
        eprintln!(
            "opsdeck: {}: {}{}",
            r.target.label,
            end.word(),
            end.exit_code()
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default()
        );
        rows.push(serde_json::json!({
            "instance": r.host,
            "name": r.target.label,
            "run": fleet::target_job(&id, &r.host),
            "status": end.word(),
            "exit_code": end.exit_code(),
            "error": match &end { TargetEnd::Error(e) => Some(e.clone()), _ => None },
            "result": crate::jobs::journaled::result_line(&output),
            "report": figures,
        }));
    }
    for (host, t, why) in &refused {
        *counts.entry("refused").or_default() += 1;
        rows.push(serde_json::json!({
            "instance": host, "name": t, "status": "refused", "error": why,
        }));
    }
    let summary = counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!("opsdeck: fleet run {id}: {summary}");
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({
                "run": id,
                "runbook": spec.name(),
                "tag": tag,
                "max_concurrency": args.max_concurrency,
                "max_errors": args.max_errors,
                "commands": report.commands,
                "summary": counts,
                "targets": rows,
            }),
        )?;
        writeln!(out)?;
    }
    let failed = report.ends.values().any(|e| *e != TargetEnd::Succeeded) || !refused.is_empty();
    Ok(if cancelled {
        exit::CANCELLED
    } else if failed {
        exit::FAILED
    } else {
        exit::SUCCEEDED
    })
}
