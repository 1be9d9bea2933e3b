//! Headless runbooks: `opsdeck run`, `opsdeck history`, `opsdeck runbook`.
//! Same library, renderer, guards, engine and journal as the console.

use crate::app::views;
use crate::config::Config;
use crate::domain::{Backup, Container};
use crate::engine::RunEvent;
use crate::journal::Entry;
use crate::runbook::spec::TargetKind;
use crate::runbook::{self, Danger, Library, RenderedRun, Target};
use crate::runner::Providers;
use std::collections::BTreeMap;
use std::io::Write;

/// Exit codes of `opsdeck run`.
pub mod exit {
    pub const SUCCEEDED: u8 = 0;
    /// The script ran and failed (including a failed pre-check).
    pub const FAILED: u8 = 1;
    /// Bad usage or configuration (clap and config errors use it too).
    pub const USAGE: u8 = 2;
    /// A guard refused it: nothing was sent.
    pub const REFUSED: u8 = 3;
    pub const CANCELLED: u8 = 4;
    /// The job vanished or the transport gave up: the outcome is unknown.
    pub const LOST: u8 = 5;
}

pub struct RunArgs {
    pub runbook: String,
    pub assignments: Vec<String>,
    pub dry_run: bool,
    pub yes: bool,
    pub confirm: Option<String>,
    pub json: bool,
    pub read_only: bool,
    pub production_context: bool,
}

/// What the estate looks like right now, for targets and choices.
struct Inventory {
    instances: Vec<crate::domain::Instance>,
    tenants: Vec<crate::domain::Tenant>,
    containers: Vec<Container>,
    backups: Vec<Backup>,
    snapshots: BTreeMap<String, crate::provider::host::HostSnapshot>,
}

async fn inventory(p: &Providers, config: &Config, kind: TargetKind) -> anyhow::Result<Inventory> {
    let instances = p.cloud.instances().await?;
    // Instances need no host reads; everything else does.
    let (snapshots, errors) = if kind == TargetKind::Instance {
        (BTreeMap::new(), vec![])
    } else {
        crate::headless::snapshots(p, config).await?
    };
    for e in errors {
        eprintln!("warning: {e}");
    }
    let tenants = views::derive_tenants(config, &snapshots, &[]);
    let containers = snapshots
        .values()
        .flat_map(|s| s.containers.clone())
        .collect();
    let mut backups: Vec<Backup> = snapshots.values().flat_map(|s| s.backups.clone()).collect();
    // Backups kept in S3 are targets too (restored on their database's host).
    if kind == TargetKind::Backup
        && let Some(bucket) = &config.backups.bucket
    {
        match crate::runner::s3_backups(p.store.as_ref(), bucket, &config.backups.prefix).await {
            Ok(v) => backups.extend(v),
            Err(e) => eprintln!("warning: S3 backups: {e}"),
        }
    }
    Ok(Inventory {
        instances,
        tenants,
        containers,
        backups,
        snapshots,
    })
}

fn project_of(inv: &Inventory, database: &str) -> String {
    runbook::project_of(&inv.tenants, database)
}

fn find_target(inv: &Inventory, kind: TargetKind, value: &str) -> Result<Target, String> {
    let host_prod = |host: &str| {
        inv.instances
            .iter()
            .any(|i| i.id == host && i.is_production())
    };
    match kind {
        TargetKind::Tenant => inv
            .tenants
            .iter()
            .find(|t| t.project() == value)
            .map(Target::tenant)
            .ok_or_else(|| {
                let known: Vec<String> = inv.tenants.iter().map(|t| t.project()).collect();
                format!("no tenant {value:?} (known: {})", known.join(", "))
            }),
        TargetKind::Instance => {
            let matches: Vec<_> = inv
                .instances
                .iter()
                .filter(|i| i.id == value || i.name == value)
                .collect();
            match matches.as_slice() {
                [i] => {
                    let unique = runbook::unique_name(&inv.instances, i);
                    Ok(Target::instance(i, unique))
                }
                [] => Err(format!("no instance with id or Name {value:?}")),
                _ => Err(format!(
                    "{} instances are named {value:?}: use the instance id",
                    matches.len()
                )),
            }
        }
        TargetKind::Container => {
            let (name, host) = match value.split_once('@') {
                Some((n, h)) => (n, Some(h)),
                None => (value, None),
            };
            let matches: Vec<_> = inv
                .containers
                .iter()
                .filter(|c| c.name == name && host.is_none_or(|h| c.host == h))
                .collect();
            match matches.as_slice() {
                [c] => Ok(Target::container(c, host_prod(&c.host))),
                [] => Err(format!("no container {value:?} on the configured hosts")),
                _ => Err(format!(
                    "{value:?} runs on several hosts: write NAME@INSTANCE-ID"
                )),
            }
        }
        TargetKind::Backup => {
            // A host's file first; `s3://bucket/key` (or the key) for one in S3.
            let found = inv
                .backups
                .iter()
                .filter(|b| b.origin.starts_with("i-"))
                .find(|b| b.path == value || b.path.ends_with(&format!("/{value}")))
                .or_else(|| {
                    inv.backups.iter().find(|b| {
                        b.origin.starts_with("s3://")
                            && (format!("{}/{}", b.origin, b.path) == value
                                || b.path == value
                                || b.path.ends_with(&format!("/{value}")))
                    })
                });
            let b = found
                .ok_or_else(|| format!("no backup {value:?} on the configured hosts or in S3"))?;
            let db_host = runbook::host_of_database(&inv.tenants, &inv.backups, &b.database);
            Ok(Target::backup(
                b,
                b.database.contains("production"),
                &project_of(inv, &b.database),
                db_host.as_deref(),
            ))
        }
        TargetKind::Database => {
            let (db, host) = match value.split_once('@') {
                Some((d, h)) => (d, Some(h.to_string())),
                None => (value, None),
            };
            // Where it lives: the tenant using it, else the host keeping its backups.
            let mut hosts: Vec<String> = inv
                .tenants
                .iter()
                .filter(|t| t.database.as_deref() == Some(db))
                .map(|t| t.host.clone())
                .chain(
                    inv.backups
                        .iter()
                        .filter(|b| b.database == db)
                        .map(|b| b.origin.clone()),
                )
                .filter(|h| h.starts_with("i-"))
                .collect();
            hosts.sort();
            hosts.dedup();
            let host = match (host, hosts.as_slice()) {
                (Some(h), _) => h,
                (None, [h]) => h.clone(),
                (None, []) => {
                    return Err(format!(
                        "no database {db:?} known on the configured hosts (write NAME@INSTANCE-ID)"
                    ));
                }
                (None, _) => {
                    return Err(format!(
                        "{db:?} is on several hosts: write {db}@INSTANCE-ID"
                    ));
                }
            };
            let production = runbook::database_is_production(&inv.tenants, db, host_prod(&host));
            Ok(Target::database(
                &host,
                db,
                production,
                &project_of(inv, db),
            ))
        }
    }
}

fn print_preview(out: &mut impl Write, run: &RenderedRun) -> std::io::Result<()> {
    writeln!(out, "# runbook   {} — {}", run.runbook, run.title)?;
    writeln!(
        out,
        "# target    {} {} on {}",
        run.target.kind.label(),
        run.target.label,
        run.host
    )?;
    writeln!(
        out,
        "# danger    {}{}",
        run.danger.label(),
        if run.production { " · PRODUCTION" } else { "" }
    )?;
    writeln!(out, "# on fail   {}", run.on_failure)?;
    writeln!(out, "# guards    {}", run.guard_text())?;
    for (k, v) in &run.params {
        writeln!(out, "# param     {k}={}", v.replace('\n', "\\n"))?;
    }
    writeln!(out, "# sha256    {}", run.digest)?;
    writeln!(out, "{}", crate::mask::mask_text(&run.script))
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
        return run_on_tag(p, config, lib, spec, &tag, &values, &args).await;
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
    let inv = inventory(p, config, kind).await?;
    let target = match find_target(&inv, kind, &target_value) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return Ok(exit::USAGE);
        }
    };
    let choices = runbook::choices(
        &target,
        &inv.tenants,
        &inv.containers,
        &inv.backups,
        inv.snapshots.get(&target.host).map(|s| &s.deploys),
    );
    let values = runbook::with_config_defaults(config, spec, &target, &values);
    let rendered = match runbook::render(
        lib,
        spec,
        &target,
        &values,
        &choices,
        args.production_context,
    ) {
        Ok(r) => r,
        // A bad parameter never reaches a shell.
        Err(e) => return refuse(e.to_string()),
    };
    let unreachable = inv
        .instances
        .iter()
        .find(|i| i.id == rendered.host)
        .map(|i| i.unreachable_reason())
        .unwrap_or_else(|| Some(format!("host {} is not in this context", rendered.host)));
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        if args.json {
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
                    "script": crate::mask::mask_text(&rendered.script),
                    "refused": rendered.refusal(args.read_only).or(unreachable.clone()),
                }),
            )?;
            writeln!(out)?;
        } else {
            print_preview(&mut out, &rendered)?;
        }
        if let Some(why) = rendered.refusal(args.read_only).or(unreachable) {
            eprintln!("opsdeck: this run would be refused: {why}");
            return Ok(exit::REFUSED);
        }
        return Ok(exit::SUCCEEDED);
    }
    if let Some(why) = rendered.refusal(args.read_only) {
        return refuse(why);
    }
    if let Some(why) = unreachable {
        return refuse(why);
    }
    if rendered.danger != Danger::Read && !args.yes {
        return refuse(format!(
            "`{}` is a {} runbook: pass --yes to run it without the console{}",
            rendered.runbook,
            rendered.danger.label(),
            rendered
                .confirm_with
                .as_ref()
                .map(|n| format!(" (and --confirm {n})"))
                .unwrap_or_default()
        ));
    }
    if let Some(need) = &rendered.confirm_with
        && args.confirm.as_deref() != Some(need.as_str())
    {
        return refuse(format!("{}: pass --confirm {need}", rendered.guard_text()));
    }
    let id = format!(
        "{}-{}-h{:04x}",
        crate::clock::now().format("%Y%m%d-%H%M%S"),
        rendered.runbook,
        std::process::id() & 0xffff
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = match crate::runs::launch(
        crate::runproto::RunProtocol::new(p.transport.clone()),
        &p.journal,
        &p.operator,
        &id,
        &rendered,
        tx,
    ) {
        Ok(h) => h,
        Err(e) => {
            eprintln!(
                "opsdeck: not started: cannot write the journal in {}: {e}",
                p.journal.root().display()
            );
            return Ok(exit::USAGE);
        }
    };
    eprintln!("opsdeck: run {id} started ({})", rendered.title);
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
                "lost",
                None,
                Some("the run's events stopped".to_string()),
            );
        };
        match ev {
            RunEvent::Started { .. } => {}
            RunEvent::Output { text, .. } => {
                if args.json {
                    eprint!("{text}");
                } else {
                    print!("{text}");
                    let _ = std::io::stdout().flush();
                }
                crate::runs::report_lines(&text, &mut report);
                output_tail.push_str(&text);
                if output_tail.len() > 64 * 1024 {
                    let cut = output_tail.len() - 32 * 1024;
                    let cut = (cut..output_tail.len())
                        .find(|i| output_tail.is_char_boundary(*i))
                        .unwrap_or(0);
                    output_tail.drain(..cut);
                }
            }
            RunEvent::Finished { exit_code, .. } => {
                break if exit_code == 0 {
                    (exit::SUCCEEDED, "succeeded", Some(exit_code), None)
                } else {
                    (exit::FAILED, "failed", Some(exit_code), None)
                };
            }
            RunEvent::Cancelled { exit_code, .. } => {
                break (exit::CANCELLED, "cancelled", Some(exit_code), None);
            }
            RunEvent::Failed { error, .. } => break (exit::LOST, "lost", None, Some(error)),
        }
    };
    let result = crate::runs::result_line(&output_tail);
    if args.json {
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
                "output": p.journal.output_path(&id),
            }),
        )?;
        writeln!(out)?;
    } else {
        eprintln!(
            "opsdeck: {id} {status}{}{}",
            exit_code
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default(),
            error.map(|e| format!(": {e}")).unwrap_or_default()
        );
    }
    Ok(code)
}

/// One instance runbook on every instance tagged `KEY=VALUE`, at most four
/// at a time, each run journaled on its own; output lines are prefixed
/// with the instance's name. Unreachable instances are refused (reported),
/// the others run. A production target among them needs `--confirm tag:KEY=VALUE`.
async fn run_on_tag(
    p: &Providers,
    config: &Config,
    lib: &Library,
    spec: &runbook::spec::Spec,
    tag: &str,
    values: &BTreeMap<String, String>,
    args: &RunArgs,
) -> anyhow::Result<u8> {
    use futures::StreamExt;
    let targets = match crate::fanout::Targets::parse(&format!("tag:{tag}")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return Ok(exit::USAGE);
        }
    };
    let inv = inventory(p, config, TargetKind::Instance).await?;
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
    let mut runs = Vec::new();
    let mut refused = Vec::new();
    for i in selected {
        let unique = runbook::unique_name(&inv.instances, i);
        let target = Target::instance(i, unique);
        let choices = runbook::choices(&target, &[], &[], &[], None);
        let r = match runbook::render(
            lib,
            spec,
            &target,
            values,
            &choices,
            args.production_context,
        ) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("opsdeck: refused: {e}");
                return Ok(exit::REFUSED);
            }
        };
        if let Some(why) = r.refusal(args.read_only) {
            eprintln!("opsdeck: refused: {why}");
            return Ok(exit::REFUSED);
        }
        match i.unreachable_reason() {
            Some(why) => refused.push((target.label.clone(), why)),
            None => runs.push(r),
        }
    }
    let confirm = format!("tag:{tag}");
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        for r in &runs {
            print_preview(&mut out, r)?;
        }
        for (t, why) in &refused {
            eprintln!("opsdeck: {t} would be refused: {why}");
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
    for (t, why) in &refused {
        eprintln!("opsdeck: {t}: refused: {why}");
    }
    if runs.is_empty() {
        return Ok(exit::REFUSED);
    }
    let stamp = crate::clock::now().format("%Y%m%d-%H%M%S").to_string();
    let pid = std::process::id() & 0xffff;
    let results: Vec<(String, &'static str, Option<i32>)> =
        futures::stream::iter(runs.into_iter().enumerate().map(|(n, r)| {
            let id = format!("{stamp}-{}-h{pid:04x}-{}", r.runbook, n + 1);
            async move {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let name = r.target.label.clone();
                let prefix = name.split(' ').next().unwrap_or(&name).to_string();
                if let Err(e) = crate::runs::launch(
                    crate::runproto::RunProtocol::new(p.transport.clone()),
                    &p.journal,
                    &p.operator,
                    &id,
                    &r,
                    tx,
                ) {
                    eprintln!("opsdeck: {name}: not started: cannot write the journal: {e}");
                    return (name, "error", None);
                }
                while let Some(ev) = rx.recv().await {
                    match ev {
                        RunEvent::Output { text, .. } => {
                            let mut out = std::io::stdout().lock();
                            for line in text.lines() {
                                let _ = writeln!(out, "[{prefix}] {line}");
                            }
                        }
                        RunEvent::Finished { exit_code, .. } => {
                            let s = if exit_code == 0 {
                                "succeeded"
                            } else {
                                "failed"
                            };
                            return (name, s, Some(exit_code));
                        }
                        RunEvent::Cancelled { exit_code, .. } => {
                            return (name, "cancelled", Some(exit_code));
                        }
                        RunEvent::Failed { error, .. } => {
                            eprintln!("opsdeck: {name}: {error}");
                            return (name, "lost", None);
                        }
                        RunEvent::Started { .. } => {}
                    }
                }
                (name, "lost", None)
            }
        }))
        .buffer_unordered(4)
        .collect()
        .await;
    let mut code = exit::SUCCEEDED;
    for (name, status, exit_code) in &results {
        eprintln!(
            "opsdeck: {name}: {status}{}",
            exit_code
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default()
        );
        if *status != "succeeded" {
            code = exit::FAILED;
        }
    }
    if !refused.is_empty() {
        code = exit::FAILED;
    }
    Ok(code)
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
        let mut t = views::history_table(&owned, &names);
        t.headers.insert(0, "RUN");
        for (row, e) in t.rows.iter_mut().zip(&owned) {
            row.cells.insert(0, e.start.run.clone());
        }
        crate::headless::table(out, &t)?;
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
