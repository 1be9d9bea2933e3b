//! `opsdeck run RUNBOOK tag=KEY=VALUE`: one instance runbook on every
//! instance with that tag, as one fleet run ([`crate::jobs::fleet`]): SSM
//! sends it and enforces `--max-concurrency` / `--max-errors`; opsdeck
//! refuses unreachable targets before anything is sent, journals every
//! target (its own record, its complete output), prints each target's
//! output with its name when it ends, and a summary (JSON with `--json`).
//! Exit: 0 every target succeeded, 1 one failed, was refused or never
//! started, 3 refused as a whole, 4 cancelled (Ctrl-C: CancelCommand).

use super::headless::{RunArgs, exit, not_prepared, print_preview};
use crate::config::Config;
pub use crate::jobs::fleet::Limit;
use crate::jobs::fleet::{self, FleetEvent, TargetEnd};
use crate::ops::{self, Providers};
use crate::runbook::{Danger, Library, RenderedRun};
use std::collections::BTreeMap;
use std::io::Write;

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
    let tag_kv = match &targets {
        fleet::Targets::Tag { key, value } => Some((key.clone(), value.clone())),
        fleet::Targets::Ids(_) => None,
    };
    let plan = match ops::fleet::plan(
        cx,
        &inv,
        spec.name(),
        &selected,
        tag_kv,
        values,
        args.read_only,
    ) {
        Ok(p) => p,
        Err(ops::fleet::PlanError::Prepare(e)) => return Ok(not_prepared(&e)),
        Err(e) => {
            eprintln!("opsdeck: refused: {e}");
            return Ok(exit::REFUSED);
        }
    };
    let at = crate::clock::now();
    let id = ops::RunId::new(at, spec.name(), &format!("f{}", ops::process_tag())).into_string();
    if args.dry_run {
        return print_plan(spec, &plan, &id, args);
    }
    if ops::fleet::consent(&plan, args.yes, args.confirm.as_deref()).is_err() {
        say_consent_needed(spec, &plan, args);
        return Ok(exit::REFUSED);
    }
    for (_, t, why) in &plan.refused {
        eprintln!("opsdeck: {t}: refused: {why}");
    }
    if plan.runs.is_empty() {
        // Nothing was sent: every target is still in the summary, refused.
        let mut summary = Summary::default();
        summary.refused(&plan.refused);
        summary.print(&id, spec.name(), tag, args, &[])?;
        return Ok(exit::REFUSED);
    }
    // Every target is journaled before anything is sent.
    let req = ops::fleet::start(
        &p.journal,
        &p.operator,
        &plan,
        &id,
        at,
        args.max_concurrency,
        args.max_errors,
        ops::fleet::poll_interval(),
    )?;
    let runs = &plan.runs;
    let refused = &plan.refused;
    eprintln!(
        "opsdeck: fleet run {id} started: {} on {} target(s)",
        spec.name(),
        runs.len()
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let engine = tokio::spawn(fleet::run(p.transport.clone(), req, tx, cancel_rx));
    let names = output_names(runs);
    let cancelled = follow(p, &id, at, &names, args.json, rx, cancel_tx).await?;
    let report = match engine
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(Into::into))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("opsdeck: the fleet run failed: {e}");
            return Ok(exit::FAILED);
        }
    };
    let mut summary = Summary::default();
    summary.ended(&id, runs, &report);
    summary.refused(refused);
    summary.print(&id, spec.name(), tag, args, &report.commands)?;
    let failed = report.ends.values().any(|e| *e != TargetEnd::Succeeded) || !refused.is_empty();
    Ok(if cancelled {
        exit::CANCELLED
    } else if failed {
        exit::FAILED
    } else {
        exit::SUCCEEDED
    })
}

/// Every target of a fleet run with how it ended, refused ones included:
/// the last stderr lines and, with `--json`, the document on stdout.
#[derive(Default)]
struct Summary {
    counts: BTreeMap<&'static str, usize>,
    rows: Vec<serde_json::Value>,
}

impl Summary {
    /// Each target that was sent to, with how it ended.
    fn ended(&mut self, id: &str, runs: &[RenderedRun], report: &fleet::FleetReport) {
        for r in runs {
            let end = report
                .ends
                .get(&r.host)
                .cloned()
                .unwrap_or(TargetEnd::Error("no answer".into()));
            *self.counts.entry(end.word()).or_default() += 1;
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
            self.rows.push(serde_json::json!({
                "instance": r.host,
                "name": r.target.label,
                "run": fleet::target_job(id, &r.host),
                "status": end.word(),
                "exit_code": end.exit_code(),
                "error": match &end { TargetEnd::Error(e) => Some(e.clone()), _ => None },
                "result": crate::jobs::journaled::result_line(&output),
                "report": figures,
            }));
        }
    }

    fn refused(&mut self, refused: &[(String, String, String)]) {
        for (host, t, why) in refused {
            *self.counts.entry("refused").or_default() += 1;
            eprintln!("opsdeck: {t}: refused");
            self.rows.push(serde_json::json!({
                "instance": host, "name": t, "status": "refused", "exit_code": null,
                "error": why,
            }));
        }
    }

    fn print(
        &self,
        id: &str,
        runbook: &str,
        tag: &str,
        args: &RunArgs,
        commands: &[String],
    ) -> anyhow::Result<()> {
        let line = self
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        eprintln!("opsdeck: fleet run {id}: {line}");
        if args.json {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({
                    "run": id,
                    "runbook": runbook,
                    "tag": tag,
                    "max_concurrency": args.max_concurrency.to_string(),
                    "max_errors": args.max_errors.to_string(),
                    "commands": commands,
                    "summary": self.counts,
                    "targets": self.rows,
                }),
            )?;
            writeln!(out)?;
        }
        Ok(())
    }
}

/// `--dry-run`: the plan, each target's decision, and the one script.
fn print_plan(
    spec: &crate::runbook::spec::Spec,
    plan: &ops::fleet::FleetPlan,
    id: &str,
    args: &RunArgs,
) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "# fleet     {} on {} target(s) ({}), at most {} at once, stop after {} error(s)",
        spec.name(),
        plan.runs.len(),
        plan.selection,
        args.max_concurrency,
        args.max_errors
    )?;
    for (t, decision) in plan.decisions() {
        writeln!(out, "# target    {t} — {decision}")?;
    }
    match plan.script(id) {
        Ok(s) if !plan.runs.is_empty() => write!(out, "{s}")?,
        Ok(_) => {}
        Err(_) => {
            for r in &plan.runs {
                print_preview(&mut out, r)?;
            }
        }
    }
    Ok(exit::SUCCEEDED)
}

/// Why a fleet run was refused for want of `--yes` or `--confirm`.
fn say_consent_needed(
    spec: &crate::runbook::spec::Spec,
    plan: &ops::fleet::FleetPlan,
    args: &RunArgs,
) {
    match (&plan.confirm_with, args.yes || plan.danger == Danger::Read) {
        (Some(want), true) => {
            eprintln!("opsdeck: refused: production or destructive targets: pass --confirm {want}");
        }
        _ => eprintln!(
            "opsdeck: refused: pass --yes to run a {} runbook on {}",
            spec.danger.label(),
            plan.selection
        ),
    }
}

/// Output lines carry the target's name, or its id where names repeat.
fn output_names(runs: &[RenderedRun]) -> BTreeMap<String, String> {
    let short = |r: &RenderedRun| {
        r.target
            .label
            .split(' ')
            .next()
            .unwrap_or(&r.host)
            .to_string()
    };
    runs.iter()
        .map(|r| {
            let name = short(r);
            let unique = runs.iter().filter(|o| short(o) == name).count() == 1;
            (r.host.clone(), if unique { name } else { r.host.clone() })
        })
        .collect()
}

/// Follow a fleet run's events to its end: each target's output under its
/// name as it ends (on stderr with `--json`), journaled; Ctrl-C cancels
/// it (CancelCommand). Whether it was cancelled.
async fn follow(
    p: &Providers,
    id: &str,
    at: chrono::DateTime<chrono::Utc>,
    names: &BTreeMap<String, String>,
    json: bool,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<FleetEvent>,
    cancel_tx: tokio::sync::watch::Sender<bool>,
) -> anyhow::Result<bool> {
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
                    let mut out: Box<dyn Write> = if json {
                        Box::new(std::io::stderr().lock())
                    } else {
                        Box::new(std::io::stdout().lock())
                    };
                    for line in output.lines() {
                        let _ = writeln!(out, "[{prefix}] {line}");
                    }
                }
                ops::fleet::finish(&p.journal, id, &host, &end, &output, at)?;
            }
        }
    }
    Ok(cancelled)
}
