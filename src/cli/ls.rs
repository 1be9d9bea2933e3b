//! Headless listing: `opsdeck ls KIND [--json|--stream]`, through the same
//! providers as the console. JSON output is the domain types, stable for
//! scripts; `--stream` prints them as JSON lines while the pages arrive.

use crate::config::Config;
use crate::domain::human_size;
use crate::ops::Providers;
use crate::table::rows;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Instances,
    Tenants,
    Containers,
    Buckets,
    Objects,
    Backups,
    /// Posture findings: open security groups, unencrypted EBS, IMDSv1.
    Posture,
    /// What needs attention now, worst first (exit 1 when anything is critical).
    Attention,
}

pub fn table(out: &mut impl Write, t: &crate::table::TableData) -> std::io::Result<()> {
    let n = t.headers.len();
    let mut w: Vec<usize> = t.headers.iter().map(|h| h.len()).collect();
    for r in &t.rows {
        for (i, c) in r.cells.iter().enumerate().take(n) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(t.headers.clone()))?;
    for r in &t.rows {
        writeln!(
            out,
            "{}",
            line(r.cells.iter().map(String::as_str).collect())
        )?;
    }
    Ok(())
}

/// How `ls` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    /// JSON lines, printed page by page as the listing arrives.
    Stream,
}

/// Print rows as JSON lines while `listing` runs, page by page.
async fn stream<T, F>(
    out: &mut impl Write,
    listing: impl FnOnce(tokio::sync::mpsc::UnboundedSender<Vec<T>>) -> F,
) -> anyhow::Result<()>
where
    T: serde::Serialize,
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let (tx, mut pages) = tokio::sync::mpsc::unbounded_channel::<Vec<T>>();
    let listing = listing(tx);
    tokio::pin!(listing);
    let mut write = |page: Vec<T>| -> anyhow::Result<()> {
        for row in page {
            serde_json::to_writer(&mut *out, &row)?;
            writeln!(out)?;
        }
        out.flush()?;
        Ok(())
    };
    loop {
        tokio::select! {
            Some(page) = pages.recv() => write(page)?,
            done = &mut listing => {
                while let Ok(page) = pages.try_recv() {
                    write(page)?;
                }
                return done;
            }
        }
    }
}

/// Print a listing; returns the process exit code.
pub async fn ls(
    p: &Providers,
    config: &Config,
    kind: Kind,
    target: &[String],
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    if format == Format::Stream && !matches!(kind, Kind::Instances | Kind::Objects) {
        anyhow::bail!(
            "--stream lists instances and objects (page by page); use --json for the others"
        );
    }
    let json = format != Format::Table;
    let now = crate::clock::now();
    let rpo = |db: &str| config.rpo_hours(db);
    let mut warnings = Vec::new();
    match kind {
        Kind::Instances if format == Format::Stream => {
            stream(out, |tx| async move {
                p.cloud
                    .instance_pages(&mut |page| {
                        let _ = tx.send(page);
                    })
                    .await?;
                Ok(())
            })
            .await?;
        }
        Kind::Instances => {
            let v = p.cloud.instances().await?;
            print(out, json, &v, || rows::instances_table(&v))?;
        }
        Kind::Posture => {
            let v = p.cloud.posture().await?;
            print(out, json, &v, || rows::findings_table(&v))?;
        }
        Kind::Buckets => {
            let v = p.store.buckets().await?;
            print(out, json, &v, || rows::buckets_table(&v))?;
        }
        Kind::Objects => {
            let Some(bucket) = target.first() else {
                anyhow::bail!("ls objects needs a bucket: opsdeck ls objects BUCKET [PREFIX]");
            };
            let prefix = target.get(1).cloned().unwrap_or_default();
            if format == Format::Stream {
                stream(out, |tx| async move {
                    p.store
                        .list_pages(bucket, &prefix, &mut |page| {
                            let _ = tx.send(page);
                        })
                        .await?;
                    Ok(())
                })
                .await?;
                return Ok(0);
            }
            let v = p.store.list(bucket, &prefix).await?;
            print(out, json, &v, || rows::objects_table(&v, &prefix, now))?;
        }
        Kind::Attention => {
            let items = attention(p, config, now, &mut warnings).await?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &items)?;
                writeln!(out)?;
            } else {
                table(out, &rows::attention_table(&items, now))?;
                let critical = items
                    .iter()
                    .filter(|i| i.severity == crate::ops::attention::Severity::Critical)
                    .count();
                writeln!(out, "{} items, {critical} critical", items.len())?;
            }
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            // Critical first: it is what cron pages someone for.
            return Ok(if crate::ops::attention::any_critical(&items) {
                1
            } else if warnings.is_empty() {
                0
            } else {
                3
            });
        }
        Kind::Containers | Kind::Tenants | Kind::Backups => {
            let (inv, errs) = crate::ops::load_inventory(p, config, true).await?;
            warnings.extend(errs);
            let names: BTreeMap<String, String> = inv
                .instances
                .iter()
                .map(|i| (i.id.clone(), i.name.clone()))
                .collect();
            match kind {
                Kind::Containers => {
                    let v = &inv.containers;
                    print(out, json, v, || rows::containers_table(v, &names))?;
                }
                Kind::Tenants => {
                    let v = &inv.tenants;
                    print(out, json, v, || rows::tenants_table(v, now, &rpo))?;
                }
                _ => {
                    let v = &inv.backups;
                    if json {
                        serde_json::to_writer_pretty(&mut *out, v)?;
                        writeln!(out)?;
                    } else {
                        let checks = rows::validation_results(&p.journal.entries().0);
                        table(out, &rows::backups_table(v, now, &rpo, &names, &checks))?;
                        let total: u64 = v.iter().map(|b| b.size).sum();
                        writeln!(out, "{} backups, {}", v.len(), human_size(total))?;
                    }
                }
            }
        }
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(if warnings.is_empty() { 0 } else { 3 })
}

/// `v` as JSON, or as the table `t` makes.
fn print<T: serde::Serialize + ?Sized>(
    out: &mut impl Write,
    json: bool,
    v: &T,
    t: impl FnOnce() -> crate::table::TableData,
) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, v)?;
        writeln!(out)?;
    } else {
        table(out, &t())?;
    }
    Ok(())
}

/// What the attention list reads, read the way `ls` reads each (a source
/// that fails is a warning: the others still count).
async fn attention(
    p: &Providers,
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Vec<crate::ops::attention::Item>> {
    let (inv, errs) = crate::ops::load_inventory(p, config, true).await?;
    warnings.extend(errs);
    let buckets = p.store.buckets().await.unwrap_or_else(|e| {
        warnings.push(e.to_string());
        vec![]
    });
    let findings = p.cloud.posture().await.unwrap_or_else(|e| {
        warnings.push(e.to_string());
        vec![]
    });
    let journal = p.journal.entries().0;
    let drill = crate::drill::active(&p.journal);
    Ok(crate::ops::attention::gather(
        &crate::ops::attention::Signals {
            config,
            inv: &inv,
            buckets: &buckets,
            findings: &findings,
            journal: &journal,
            drill: drill.as_ref(),
            now,
        },
    ))
}
