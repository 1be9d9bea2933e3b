//! Headless runbooks: `opsdeck run`, `opsdeck history`, `opsdeck runbook`.
//! Same library, renderer, guards, engine and journal as the console.

use crate::config::Config;
use crate::jobs::engine::RunEvent;
use crate::ops::{self, Providers};
use crate::runbook::spec::TargetKind;
use crate::runbook::{Danger, Library, RenderedRun};
use crate::store::journal::{Entry, RunOutcome};
use crate::table::rows;
use std::collections::BTreeMap;
use std::io::Write;

pub use super::headless::{RunArgs, exit};
use super::headless::{not_prepared, print_preview};

/// A refused consent, phrased for the command line (`--yes`, `--confirm`).
fn headless_consent_text(run: &RenderedRun, why: &ops::Refusal) -> String {
    match why {
        ops::Refusal::NotConfirmed { runbook, danger } => format!(
            "`{runbook}` is a {danger} runbook: pass --yes to run it without the console{}",
            run.confirm_with
                .as_ref()
                .map(|n| format!(" (and --confirm {n})"))
                .unwrap_or_default()
        ),
        ops::Refusal::NameMissing { name, .. } => {
            let what = if run.danger == Danger::Destructive {
                "destructive"
            } else {
                "production"
            };
            format!("{what}: pass --confirm {name}")
        }
        ops::Refusal::NameMismatch { typed, name } => {
            format!(
                "--confirm {typed} does not name the target: `{name}` needs no typed name; drop --confirm or write --confirm {name}"
            )
        }
        other => other.to_string(),
    }
}

/// `opsdeck run`. Returns the exit code.
pub async fn run(
    p: &Providers,
    config: &Config,
    lib: &Library,
    args: RunArgs,
) -> anyhow::Result<u8> {
    let refuse = |msg: String| {
        eprintln!("opsdeck: refused: {msg}");
        Ok(exit::REFUSED)
    };
    let Some(spec) = lib.get(&args.runbook) else {
        let names: Vec<&str> = lib.all().map(|s| s.name()).collect();
        eprintln!(
            "opsdeck: no runbook named {:?} (known: {})",
            args.runbook,
            names.join(", ")
        );
        return Ok(exit::USAGE);
    };
    let kind = spec.target;
    let mut target_value = None;
    let mut tag = None;
    let mut values = BTreeMap::new();
    for a in &args.assignments {
        let Some((k, v)) = a.split_once('=') else {
            eprintln!("opsdeck: {a:?}: write KEY=VALUE");
            return Ok(exit::USAGE);
        };
        if k == kind.label() {
            target_value = Some(v.to_string());
        } else if k == "tag" && kind == TargetKind::Instance {
            tag = Some(v.to_string());
        } else {
            values.insert(k.to_string(), v.to_string());
        }
    }
    if let Some(tag) = tag {
        return crate::cli::fleet::run_on_tag(p, config, lib, spec, &tag, &values, &args).await;
    }
    let Some(target_value) = target_value else {
        eprintln!(
            "opsdeck: `{}` runs on a {k}: add {k}=…{}",
            args.runbook,
            if kind == TargetKind::Instance {
                " (or tag=KEY=VALUE for every instance with that tag)"
            } else {
                ""
            },
            k = kind.label()
        );
        return Ok(exit::USAGE);
    };
    let (inv, warnings) = ops::load_inventory(p, config, kind != TargetKind::Instance).await?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let target = match inv.resolve(kind, &target_value) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return Ok(exit::USAGE);
        }
    };
    let cx = ops::Context {
        config,
        library: lib,
        production: args.production_context,
    };
    let rendered = match ops::prepare_run(cx, &inv, &args.runbook, &target, &values) {
        Ok(r) => r,
        // A bad parameter never reaches a shell.
        Err(e) => return Ok(not_prepared(&e)),
    };
    let guard = ops::guard(&rendered, args.read_only, &inv.instances).err();
    if args.dry_run {
        return print_dry_run(&rendered, guard, args.json);
    }
    if let Some(why) = guard {
        return refuse(why.to_string());
    }
    if let Err(why) = ops::consent(&rendered, args.yes, args.confirm.as_deref()) {
        return refuse(headless_consent_text(&rendered, &why));
    }
    let protocol = crate::jobs::protocol::RunProtocol::new(p.transport.clone());
    let until = args.wait.map(|w| std::time::Instant::now() + w);
    loop {
        if let Some(until) = until
            && let Err(code) = wait_for_locks(&protocol, p, &rendered, until).await
        {
            return Ok(code);
        }
        let id = new_run_id(&rendered.runbook);
        let Some(ended) = start_and_follow(p, &protocol, &id, &rendered, args.json).await else {
            return Ok(exit::USAGE);
        };
        // Another run took the lock between the wait and the start (or,
        // for a procedure, whose locks are not on a host to ask, holds it).
        if ended.status == RunOutcome::Refused
            && until.is_some_and(|u| std::time::Instant::now() < u)
        {
            eprintln!("opsdeck: {id} refused; waiting again");
            if rendered.procedure.is_some() {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            continue;
        }
        report_end(p, &id, &rendered, &ended, args.json)?;
        return Ok(ended.code);
    }
}

/// How a run this command started ended.
struct Ended {
    code: u8,
    status: RunOutcome,
    exit_code: Option<i32>,
    error: Option<String>,
    output_tail: String,
    report: BTreeMap<String, String>,
}

/// Start `rendered` as run `id`, journaled, and follow it to its end
/// (None: the journal could not be written, nothing was sent).
async fn start_and_follow(
    p: &Providers,
    protocol: &crate::jobs::protocol::RunProtocol,
    id: &str,
    rendered: &RenderedRun,
    json: bool,
) -> Option<Ended> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = match crate::jobs::journaled::launch(
        protocol.clone(),
        Some(p.cloud.clone()),
        &p.journal,
        &p.operator,
        id,
        rendered,
        tx,
    ) {
        Ok(h) => h,
        Err(e) => {
            eprintln!(
                "opsdeck: not started: cannot write the journal in {}: {e}",
                p.journal.root().display()
            );
            return None;
        }
    };
    eprintln!("opsdeck: run {id} started ({})", rendered.title);
    let (code, status, exit_code, error, output_tail, report) = follow(id, rx, &handle, json).await;
    Some(Ended {
        code,
        status,
        exit_code,
        error,
        output_tail,
        report,
    })
}

/// `--wait`: until every lock of `rendered` is free on its host (asked
/// every 2 s, taking none), saying who holds them; Err(exit code) when
/// `until` passes first or the host cannot be asked.
async fn wait_for_locks(
    protocol: &crate::jobs::protocol::RunProtocol,
    p: &Providers,
    rendered: &RenderedRun,
    until: std::time::Instant,
) -> Result<(), u8> {
    let mut said = String::new();
    loop {
        match crate::jobs::journaled::locks_held(protocol, rendered, &p.operator).await {
            Ok(None) => return Ok(()),
            Ok(Some(l)) => {
                let now = l.to_string();
                if now != said {
                    eprintln!("opsdeck: waiting: {now}");
                    said = now;
                }
            }
            Err(e) => {
                eprintln!(
                    "opsdeck: not started: cannot ask {} for its locks: {e}",
                    rendered.host
                );
                return Err(exit::LOST);
            }
        }
        if std::time::Instant::now() >= until {
            eprintln!("opsdeck: refused: still held after the --wait time: {said}");
            return Err(exit::REFUSED);
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// The end of a run as the command prints it: a line on stderr, or the
/// JSON summary on stdout.
fn report_end(
    p: &Providers,
    id: &str,
    rendered: &RenderedRun,
    ended: &Ended,
    json: bool,
) -> anyhow::Result<()> {
    let result = crate::jobs::journaled::result_line(&ended.output_tail);
    let Ended {
        status,
        exit_code,
        error,
        report,
        ..
    } = ended;
    if json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({
                "run": id,
                "runbook": rendered.runbook,
                "target": rendered.target.label,
                "host": rendered.host,
                "status": status,
                "exit_code": exit_code,
                "result": result,
                "report": report,
                "error": error,
                "digest": rendered.digest,
                "output": p.journal.output_path(id),
            }),
        )?;
        writeln!(out)?;
    } else {
        let kept = (*status == RunOutcome::DataKept).then_some(
            ": a step failed; the data is kept, nothing was destroyed (see the output above)",
        );
        eprintln!(
            "opsdeck: {id} {status}{}{}",
            exit_code
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default(),
            error
                .as_ref()
                .map(|e| format!(": {e}"))
                .or(kept.map(str::to_string))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// A new run's id. One process may start several runs (`schedule
/// run-due`): each gets its own.
fn new_run_id(runbook: &str) -> String {
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = ops::process_tag();
    let suffix = if n == 0 {
        format!("h{tag}")
    } else {
        format!("h{tag}{n}")
    };
    ops::RunId::new(crate::clock::now(), runbook, &suffix).into_string()
}

/// `--dry-run`: the rendered run (JSON with `--json`) and whether the
/// guards would refuse it.
fn print_dry_run(
    rendered: &RenderedRun,
    guard: Option<crate::ops::Refusal>,
    json: bool,
) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({
                "runbook": rendered.runbook,
                "title": rendered.title,
                "target": rendered.target,
                "host": rendered.host,
                "danger": rendered.danger,
                "production": rendered.production,
                "confirm_with": rendered.confirm_with,
                "on_failure": rendered.on_failure,
                "params": rendered.params,
                "digest": rendered.digest,
                "script": crate::store::mask::mask_text(&rendered.script),
                "refused": guard.as_ref().map(ToString::to_string),
            }),
        )?;
        writeln!(out)?;
    } else {
        print_preview(&mut out, rendered)?;
    }
    if let Some(why) = guard {
        eprintln!("opsdeck: this run would be refused: {why}");
        return Ok(exit::REFUSED);
    }
    Ok(exit::SUCCEEDED)
}

/// How a followed run ended: the exit status, its outcome, its exit code,
/// its error, the tail of its output and the figures it reported.
type Followed = (
    u8,
    RunOutcome,
    Option<i32>,
    Option<String>,
    String,
    BTreeMap<String, String>,
);

/// Follow a run's events to its end, its output on stdout (stderr with
/// `--json`); Ctrl-C cancels it (its process group on the host).
async fn follow(
    id: &str,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<RunEvent>,
    handle: &crate::jobs::engine::RunHandle,
    json: bool,
) -> Followed {
    let mut cancel_requested = false;
    let mut output_tail = String::new();
    let mut report = BTreeMap::new();
    let (code, status, exit_code, error) = loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::signal::ctrl_c(), if !cancel_requested => {
                cancel_requested = true;
                eprintln!("opsdeck: cancelling {id} (its process group on the host is killed)…");
                handle.cancel();
                continue;
            }
        };
        let Some(ev) = ev else {
            break (
                exit::LOST,
                RunOutcome::Lost,
                None,
                Some("the run's events stopped".to_string()),
            );
        };
        if let Some((outcome, exit_code, error)) = crate::jobs::journaled::ending(&ev) {
            break (exit::of(outcome), outcome, exit_code, error);
        }
        if let RunEvent::Output { text, .. } = ev {
            {
                if json {
                    eprint!("{text}");
                } else {
                    print!("{text}");
                    let _ = std::io::stdout().flush();
                }
                crate::jobs::journaled::report_lines(&text, &mut report);
                output_tail.push_str(&text);
                if output_tail.len() > 64 * 1024 {
                    let cut = output_tail.len() - 32 * 1024;
                    let cut = (cut..output_tail.len())
                        .find(|i| output_tail.is_char_boundary(*i))
                        .unwrap_or(0);
                    output_tail.drain(..cut);
                }
            }
        }
    };
    (code, status, exit_code, error, output_tail, report)
}

/// `opsdeck history [RUN] [--json]`.
pub fn history(
    p: &Providers,
    run: Option<&str>,
    json: bool,
    limit: usize,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let (mut entries, skipped) = p.journal.entries();
    if skipped > 0 {
        eprintln!("warning: {skipped} unreadable journal line(s) skipped");
    }
    entries.reverse();
    if let Some(id) = run {
        let Some(e) = entries.iter().find(|e| e.start.run == id) else {
            eprintln!("opsdeck: no run {id:?} in the journal");
            return Ok(exit::USAGE);
        };
        if json {
            serde_json::to_writer_pretty(&mut *out, e)?;
            writeln!(out)?;
        } else {
            let text = std::fs::read_to_string(p.journal.output_path(id)).unwrap_or_default();
            write!(out, "{text}")?;
            eprintln!(
                "opsdeck: {id}: {} · {}",
                e.status(),
                p.journal.output_path(id).display()
            );
        }
        return Ok(0);
    }
    let shown: Vec<&Entry> = entries.iter().take(limit).collect();
    if json {
        serde_json::to_writer_pretty(&mut *out, &shown)?;
        writeln!(out)?;
    } else {
        let names = BTreeMap::new();
        let owned: Vec<Entry> = shown.into_iter().cloned().collect();
        let mut t = rows::history_table(&owned, &names);
        t.headers.insert(0, "RUN");
        for (row, e) in t.rows.iter_mut().zip(&owned) {
            row.cells.insert(0, e.start.run.clone().into());
        }
        crate::cli::ls::table(out, &t)?;
    }
    Ok(0)
}

/// `opsdeck runbook list`.
pub fn list(lib: &Library, json: bool, out: &mut impl Write) -> anyhow::Result<u8> {
    if json {
        let v: Vec<_> = lib
            .all()
            .map(|s| {
                serde_json::json!({
                    "name": s.name(),
                    "title": s.title,
                    "target": s.target,
                    "danger": s.danger,
                    "source": s.source,
                    "params": s.params.iter().map(|p| p.name()).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(0);
    }
    for s in lib.all() {
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| match p.default_text() {
                Some(d) => format!("{}={d}", p.name()),
                None => p.name().to_string(),
            })
            .collect();
        writeln!(
            out,
            "{:<16} {:<10} {:<12} {}{}",
            s.name(),
            s.target.label(),
            s.danger.label(),
            s.title,
            if params.is_empty() {
                String::new()
            } else {
                format!("  [{}]", params.join(" "))
            }
        )?;
    }
    Ok(0)
}

/// `opsdeck shell`: the console's `S`, headless (the same refusals, name to
/// type and journal record: [`crate::ops::session`]).
pub async fn shell(
    p: &Providers,
    target: &str,
    container: Option<&str>,
    confirm: Option<&str>,
    read_only: bool,
    production_context: bool,
) -> anyhow::Result<u8> {
    use crate::ops::session;
    let instances = p.cloud.instances().await?;
    let found: Vec<&crate::domain::Instance> = instances
        .iter()
        .filter(|i| i.id == target || i.name == target)
        .collect();
    let i = match found.as_slice() {
        [one] => *one,
        [] => {
            eprintln!("opsdeck: no instance with the id or Name {target:?}");
            return Ok(exit::USAGE);
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|i| i.id.as_str()).collect();
            eprintln!(
                "opsdeck: {} instances are named {target:?} ({}): give the id",
                many.len(),
                ids.join(", ")
            );
            return Ok(exit::USAGE);
        }
    };
    if let Some(why) = session::refusal(i, read_only) {
        eprintln!("opsdeck: refused: {why}");
        return Ok(exit::REFUSED);
    }
    let production = production_context || i.is_production();
    let name = session::confirm_name(i, &instances, container);
    if production && confirm != Some(name.as_str()) {
        eprintln!("opsdeck: refused: production: pass --confirm {name}");
        return Ok(exit::REFUSED);
    }
    let (spec, change) = match session::open(p, i, container) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("opsdeck: refused: {e}");
            return Ok(exit::REFUSED);
        }
    };
    match session::run(p, &spec, &change, production) {
        Ok((code, text)) => {
            eprintln!("opsdeck: {text}");
            Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("opsdeck: {e}");
            Ok(1)
        }
    }
}

/// `opsdeck attach [RUN]`: follow an unfinished run (the newest when none
/// is named) to its end, headless: its output so far, then the rest as it
/// comes, the end journaled as a reattached run. Refused (3) when another
/// opsdeck follows it. Exit: as `run` (0 succeeded, 1 failed, …).
pub async fn attach(p: &Providers, run: Option<&str>) -> anyhow::Result<u8> {
    for title in p.journal.close_orphans(&p.operator.context)? {
        eprintln!("opsdeck: closed as lost (the opsdeck that started it stopped): {title}");
    }
    let unfinished = p.journal.unfinished(&p.operator.context);
    let entry = match run {
        Some(r) => match unfinished.iter().find(|e| e.start.run == r) {
            Some(e) => e,
            None => {
                let (all, _) = p.journal.entries();
                match all.iter().find(|e| e.start.run == r) {
                    Some(e) if e.finish.is_some() => {
                        let f = e.finish.as_ref().map(|f| f.status.to_string());
                        eprintln!(
                            "opsdeck: {r} has ended ({}): `opsdeck history {r}` shows its output",
                            f.unwrap_or_default()
                        );
                    }
                    Some(_) => eprintln!("opsdeck: no unfinished run {r} in this context"),
                    // Not this opsdeck's: another operator's, on the hosts.
                    None => match crate::cli::runs::find(p, r).await? {
                        Some(found) => return crate::cli::runs::attach_elsewhere(p, &found).await,
                        None => eprintln!(
                            "opsdeck: no run {r} in this journal or on the hosts (`opsdeck runs` lists them)"
                        ),
                    },
                }
                return Ok(exit::USAGE);
            }
        },
        None => match unfinished.iter().max_by_key(|e| e.start.at) {
            Some(e) => e,
            None => {
                eprintln!("opsdeck: no unfinished run to attach to");
                return Ok(exit::USAGE);
            }
        },
    };
    let id = entry.start.run.clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (handle, kept) = match crate::jobs::journaled::reattach_with_output(
        crate::jobs::protocol::RunProtocol::new(p.transport.clone()),
        &p.journal,
        entry,
        tx,
    ) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("opsdeck: refused: {e}");
            return Ok(exit::REFUSED);
        }
    };
    eprintln!("opsdeck: attached to {id} ({})", entry.start.title);
    print!("{kept}");
    let _ = std::io::stdout().flush();
    let mut cancel_requested = false;
    let (code, status, exit_code) = loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::signal::ctrl_c(), if !cancel_requested => {
                cancel_requested = true;
                eprintln!("opsdeck: cancelling {id} (its process group on the host is killed)…");
                handle.cancel();
                continue;
            }
        };
        let Some(ev) = ev else {
            break (exit::LOST, RunOutcome::Lost, None);
        };
        if let Some((outcome, exit_code, _)) = crate::jobs::journaled::ending(&ev) {
            break (exit::of(outcome), outcome, exit_code);
        }
        if let RunEvent::Output { text, .. } = ev {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
    };
    eprintln!(
        "opsdeck: {id} {status}{}",
        exit_code
            .map(|c| format!(" (exit {c})"))
            .unwrap_or_default()
    );
    Ok(code)
}
