//! Headless listing: `opsdeck ls KIND [--json]`, through the same providers
//! as the console. JSON output is the domain types, stable for scripts.

use crate::app::views;
use crate::config::Config;
use crate::domain::{Backup, human_size};
use crate::provider::host::{HostInventory, HostSnapshot};
use crate::runner::{Providers, s3_backups};
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
}

pub async fn snapshots(
    p: &Providers,
    config: &Config,
) -> anyhow::Result<(BTreeMap<String, HostSnapshot>, Vec<String>)> {
    let instances = p.cloud.instances().await?;
    let inv = HostInventory::new(p.transport.clone());
    let mut snaps = BTreeMap::new();
    let mut errors = Vec::new();
    // Only configured hosts: on AWS each one costs an SSM command.
    let configured: Vec<&str> = config.hosts.iter().map(|h| h.instance.as_str()).collect();
    for i in instances
        .iter()
        .filter(|i| i.unreachable_reason().is_none() && configured.contains(&i.id.as_str()))
    {
        match inv.snapshot(&i.id).await {
            Ok(s) => {
                snaps.insert(i.id.clone(), s);
            }
            Err(e) => errors.push(e),
        }
    }
    Ok((snaps, errors))
}

pub fn table(out: &mut impl Write, t: &crate::app::list::TableData) -> std::io::Result<()> {
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

/// Print a listing; returns the process exit code.
pub async fn ls(
    p: &Providers,
    config: &Config,
    kind: Kind,
    target: &[String],
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let now = crate::clock::now();
    let rpo = |db: &str| config.rpo_hours(db);
    let mut warnings = Vec::new();
    match kind {
        Kind::Instances => {
            let v = p.cloud.instances().await?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &v)?;
                writeln!(out)?;
            } else {
                table(out, &views::instances_table(&v))?;
            }
        }
        Kind::Posture => {
            let v = p.cloud.posture().await?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &v)?;
                writeln!(out)?;
            } else {
                let t = views::findings_table(&v);
                table(out, &t)?;
            }
        }
        Kind::Buckets => {
            let v = p.store.buckets().await?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &v)?;
                writeln!(out)?;
            } else {
                table(out, &views::buckets_table(&v))?;
            }
        }
        Kind::Objects => {
            let Some(bucket) = target.first() else {
                anyhow::bail!("ls objects needs a bucket: opsdeck ls objects BUCKET [PREFIX]");
            };
            let prefix = target.get(1).cloned().unwrap_or_default();
            let v = p.store.list(bucket, &prefix).await?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &v)?;
                writeln!(out)?;
            } else {
                table(out, &views::objects_table(&v, &prefix, now))?;
            }
        }
        Kind::Containers | Kind::Tenants | Kind::Backups => {
            let (snaps, errs) = snapshots(p, config).await?;
            warnings.extend(errs);
            let s3: Vec<Backup> = match &config.backups.bucket {
                Some(b) => match s3_backups(p.store.as_ref(), b, &config.backups.prefix).await {
                    Ok(v) => v,
                    Err(e) => {
                        warnings.push(format!("S3 backups: {e}"));
                        vec![]
                    }
                },
                None => vec![],
            };
            let names: BTreeMap<String, String> = p
                .cloud
                .instances()
                .await?
                .into_iter()
                .map(|i| (i.id, i.name))
                .collect();
            match kind {
                Kind::Containers => {
                    let v: Vec<_> = snaps.values().flat_map(|s| s.containers.clone()).collect();
                    if json {
                        serde_json::to_writer_pretty(&mut *out, &v)?;
                        writeln!(out)?;
                    } else {
                        table(out, &views::containers_table(&v, &names))?;
                    }
                }
                Kind::Tenants => {
                    let v = views::derive_tenants(config, &snaps, &s3);
                    if json {
                        serde_json::to_writer_pretty(&mut *out, &v)?;
                        writeln!(out)?;
                    } else {
                        table(out, &views::tenants_table(&v, now, &rpo))?;
                    }
                }
                _ => {
                    let mut v: Vec<Backup> = snaps
                        .values()
                        .flat_map(|s| s.backups.clone())
                        .chain(s3)
                        .collect();
                    v.sort_by(|a, b| {
                        a.database
                            .cmp(&b.database)
                            .then(b.taken_at.cmp(&a.taken_at))
                    });
                    if json {
                        serde_json::to_writer_pretty(&mut *out, &v)?;
                        writeln!(out)?;
                    } else {
                        let checks = views::validation_results(&p.journal.entries().0);
                        table(out, &views::backups_table(&v, now, &rpo, &names, &checks))?;
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
