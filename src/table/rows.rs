//! Domain data → table rows for each screen, and the tenants derived from
//! the config and the host snapshots. Pure functions of their inputs.

use super::{Row, TableData, Tone};
use crate::domain::{
    Backup, BackupLocation, Bucket, Container, Instance, ObjectEntry, ObjectVersion, SsmPing,
    Tenant, human_age, human_size,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A container row's key: `HOST/NAME` (one name may run on several hosts).
pub fn container_key(c: &Container) -> String {
    format!("{}/{}", c.host, c.name)
}

/// A backup row's key: `ORIGIN:PATH` (host id or `s3://bucket`), with
/// `?versionId=ID` for an older version of a `latest` key.
pub fn backup_key(b: &Backup) -> String {
    match &b.version_id {
        Some(v) => format!("{}:{}?versionId={v}", b.origin, b.path),
        None => format!("{}:{}", b.origin, b.path),
    }
}

/// A backup's file as a row shows it: an older version of a `latest`
/// key is named with its version (`latest.sql.gz ~3HL4kqtJ`).
fn backup_file(b: &Backup) -> String {
    let file = b.path.rsplit('/').next().unwrap_or(&b.path);
    match &b.version_id {
        Some(v) => format!("{file} ~{}", v.chars().take(8).collect::<String>()),
        None => file.to_string(),
    }
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

fn dash(s: Option<String>) -> String {
    s.unwrap_or_else(|| "-".into())
}

pub fn instances_table(items: &[Instance]) -> TableData {
    TableData {
        headers: vec![
            "ID",
            "NAME",
            "REGION",
            "TYPE",
            "STATE",
            "PRIVATE IP",
            "PUBLIC IP",
            "SSM",
        ],
        rows: items
            .iter()
            .map(|i| Row {
                key: i.id.clone(),
                tone: match (i.state, i.ssm_ping) {
                    (crate::domain::InstanceState::Running, SsmPing::Online) => Tone::Normal,
                    (crate::domain::InstanceState::Running, _) => Tone::Warn,
                    _ => Tone::Dim,
                },
                cells: vec![
                    i.id.clone(),
                    i.name.clone(),
                    i.region.clone(),
                    i.instance_type.clone(),
                    i.state.to_string(),
                    dash(i.private_ip.clone()),
                    dash(i.public_ip.clone()),
                    i.ssm_ping.label().into(),
                ],
            })
            .collect(),
        ..Default::default()
    }
}

pub fn tenants_table(
    items: &[Tenant],
    now: DateTime<Utc>,
    rpo_hours: &dyn Fn(&str) -> u32,
) -> TableData {
    TableData {
        headers: vec![
            "APP",
            "ENV",
            "UP",
            "HEALTH",
            "DEPLOYED",
            "LAST DEPLOY",
            "DATABASE",
            "LAST BACKUP",
        ],
        rows: items
            .iter()
            .map(|t| {
                let stale = t.database.is_some()
                    && t.last_backup.is_none_or(|b| {
                        let rpo = t.database.as_deref().map_or(24, rpo_hours);
                        (now - b).num_hours() >= i64::from(rpo)
                    });
                let tone = match t.health.as_str() {
                    "healthy" if stale => Tone::Warn,
                    "healthy" => Tone::Good,
                    "starting" | "?" => Tone::Normal,
                    "degraded" => Tone::Warn,
                    _ => Tone::Bad,
                };
                Row {
                    key: t.project(),
                    tone,
                    cells: vec![
                        t.app.clone(),
                        t.env.clone(),
                        format!("{}/{}", t.containers_up, t.containers_total),
                        t.health.clone(),
                        dash(t.deployed_sha.as_deref().map(short)),
                        dash(t.last_deploy.map(|d| format!("{} ago", human_age(now, d)))),
                        dash(t.database.clone()),
                        match (&t.database, t.last_backup) {
                            (None, _) => "-".into(),
                            (Some(_), None) => "none!".into(),
                            (Some(_), Some(b)) => format!(
                                "{} ago{}",
                                human_age(now, b),
                                if stale { " (>RPO)" } else { "" }
                            ),
                        },
                    ],
                }
            })
            .collect(),
        ..Default::default()
    }
}

/// docker's `0.0.0.0:8080->8000/tcp, :::8080->8000/tcp` as `8080→8000`:
/// every address is implied but loopback, tcp is, IPv6 twins go.
fn short_ports(ports: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for p in ports.split(", ").filter(|p| !p.is_empty()) {
        let p = p.strip_suffix("/tcp").unwrap_or(p);
        let p = p
            .strip_prefix("0.0.0.0:")
            .or_else(|| p.strip_prefix(":::"))
            .or_else(|| p.strip_prefix("[::]:"))
            .unwrap_or(p)
            .replace("->", "→");
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out.join(" ")
}

/// Containers grouped by host, then compose project (the console shows a
/// project once per group; filter one with `project:NAME`).
pub fn containers_table(items: &[Container], host_names: &BTreeMap<String, String>) -> TableData {
    let host = |c: &Container| {
        host_names
            .get(&c.host)
            .cloned()
            .unwrap_or_else(|| c.host.clone())
    };
    let mut order: Vec<&Container> = items.iter().collect();
    order.sort_by_cached_key(|c| (host(c), c.project().to_string(), c.name.clone()));
    TableData {
        headers: vec![
            "NAME", "PROJECT", "HOST", "IMAGE", "STATUS", "HEALTH", "RESTARTS", "CPU", "MEM",
            "PORTS",
        ],
        group: Some(1),
        rows: order
            .into_iter()
            .map(|c| Row {
                key: container_key(c),
                tone: if !c.is_up() || c.health == "unhealthy" {
                    Tone::Bad
                } else if c.restarts > 5 || c.health == "starting" {
                    Tone::Warn
                } else {
                    Tone::Normal
                },
                cells: vec![
                    c.name.clone(),
                    dash(Some(c.project().to_string()).filter(|p| !p.is_empty())),
                    host(c),
                    c.image.clone(),
                    // HEALTH says it: not twice.
                    c.status
                        .replace(&format!(" ({})", c.health), "")
                        .replace(" (health: starting)", ""),
                    c.health.clone(),
                    c.restarts.to_string(),
                    c.cpu_percent
                        .map(|p| format!("{p:.1}%"))
                        .unwrap_or_else(|| "-".into()),
                    c.mem_bytes.map(human_size).unwrap_or_else(|| "-".into()),
                    dash(Some(short_ports(&c.ports)).filter(|p| !p.is_empty())),
                ],
            })
            .collect(),
        ..Default::default()
    }
}

pub fn buckets_table(items: &[Bucket]) -> TableData {
    TableData {
        headers: vec![
            "NAME",
            "REGION",
            "VERSIONING",
            "ENCRYPTION",
            "PUBLIC ACCESS BLOCK",
            "LIFECYCLE",
        ],
        rows: items
            .iter()
            .map(|b| Row {
                key: b.name.clone(),
                tone: if b.public_access_block != "all blocked" || b.encryption == "none" {
                    Tone::Warn
                } else {
                    Tone::Normal
                },
                cells: vec![
                    b.name.clone(),
                    b.region.clone(),
                    b.versioning.clone(),
                    b.encryption.clone(),
                    b.public_access_block.clone(),
                    b.lifecycle.clone(),
                ],
            })
            .collect(),
        ..Default::default()
    }
}

pub fn objects_table(items: &[ObjectEntry], prefix: &str, now: DateTime<Utc>) -> TableData {
    TableData {
        headers: vec!["NAME", "SIZE", "CLASS", "MODIFIED"],
        rows: items
            .iter()
            .map(|o| {
                let rel = o
                    .name()
                    .strip_prefix(prefix)
                    .unwrap_or(o.name())
                    .to_string();
                match o {
                    ObjectEntry::Prefix(p) => Row {
                        key: p.clone(),
                        tone: Tone::Normal,
                        cells: vec![rel, "-".into(), "PREFIX".into(), "-".into()],
                    },
                    ObjectEntry::Deleted { key, deleted_at } => Row {
                        key: key.clone(),
                        tone: Tone::Bad,
                        cells: vec![
                            rel,
                            "-".into(),
                            "DELETED".into(),
                            format!(
                                "{} ({} ago)",
                                deleted_at.format("%Y-%m-%d %H:%M"),
                                human_age(now, *deleted_at)
                            ),
                        ],
                    },
                    ObjectEntry::Object {
                        key,
                        size,
                        storage_class,
                        last_modified,
                    } => Row {
                        key: key.clone(),
                        tone: Tone::Normal,
                        cells: vec![
                            rel,
                            human_size(*size),
                            storage_class.clone(),
                            format!(
                                "{} ({} ago)",
                                last_modified.format("%Y-%m-%d %H:%M"),
                                human_age(now, *last_modified)
                            ),
                        ],
                    },
                }
            })
            .collect(),
        ..Default::default()
    }
}

pub fn versions_table(items: &[ObjectVersion]) -> TableData {
    TableData {
        headers: vec!["VERSION ID", "LATEST", "KIND", "SIZE", "MODIFIED"],
        rows: items
            .iter()
            .map(|v| Row {
                key: v.version_id.clone(),
                tone: if v.is_delete_marker {
                    Tone::Bad
                } else if v.is_latest {
                    Tone::Good
                } else {
                    Tone::Normal
                },
                cells: vec![
                    v.version_id.clone(),
                    if v.is_latest {
                        "latest".into()
                    } else {
                        String::new()
                    },
                    if v.is_delete_marker {
                        "DELETE MARKER".into()
                    } else {
                        "version".into()
                    },
                    if v.is_delete_marker {
                        "-".into()
                    } else {
                        human_size(v.size)
                    },
                    v.last_modified.format("%Y-%m-%d %H:%M:%S").to_string(),
                ],
            })
            .collect(),
        ..Default::default()
    }
}

/// The last validation of each backup file (it lives with the journal it reads).
pub use crate::store::journal::validation_results;

pub fn backups_table(
    items: &[Backup],
    now: DateTime<Utc>,
    rpo_hours: &dyn Fn(&str) -> u32,
    host_names: &BTreeMap<String, String>,
    checks: &BTreeMap<String, String>,
) -> TableData {
    // Newest per database decides whether the RPO is met.
    let mut newest: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for b in items.iter().filter(|b| b.unrecognised.is_none()) {
        let e = newest.entry(&b.database).or_insert(b.taken_at);
        if b.taken_at > *e {
            *e = b.taken_at;
        }
    }
    // A file on a host that is also in S3 is one row: "host+s3".
    let file_of = |b: &Backup| b.path.rsplit('/').next().unwrap_or(&b.path).to_string();
    let on_host: std::collections::BTreeSet<(String, String)> = items
        .iter()
        .filter(|b| b.location == BackupLocation::Host)
        .map(|b| (b.database.clone(), file_of(b)))
        .collect();
    let in_s3: std::collections::BTreeSet<(String, String)> = items
        .iter()
        .filter(|b| b.location == BackupLocation::S3)
        .map(|b| (b.database.clone(), file_of(b)))
        .collect();
    TableData {
        headers: vec![
            "DATABASE", "LOCATION", "ORIGIN", "TAKEN AT", "AGE", "SIZE", "FILE", "CHECK",
        ],
        rows: items
            .iter()
            .filter(|b| {
                b.location == BackupLocation::Host
                    || !on_host.contains(&(b.database.clone(), file_of(b)))
            })
            .map(|b| {
                let breach = newest
                    .get(b.database.as_str())
                    .is_some_and(|n| (now - *n).num_hours() >= i64::from(rpo_hours(&b.database)));
                let file = b.path.rsplit('/').next().unwrap_or(&b.path).to_string();
                let check = match &b.unrecognised {
                    Some(why) => format!("unrecognised: {why}"),
                    None => checks.get(&file).cloned().unwrap_or_else(|| "-".into()),
                };
                Row {
                    key: backup_key(b),
                    tone: if b.unrecognised.is_some() {
                        Tone::Warn
                    } else if check.starts_with("FAILED") {
                        Tone::Bad
                    } else if breach {
                        Tone::Warn
                    } else {
                        Tone::Normal
                    },
                    cells: vec![
                        if b.database.is_empty() {
                            "?".into()
                        } else {
                            b.database.clone()
                        },
                        match b.location {
                            BackupLocation::Host
                                if in_s3.contains(&(b.database.clone(), file.clone())) =>
                            {
                                "host+s3".into()
                            }
                            BackupLocation::Host => "host".into(),
                            BackupLocation::S3 => "s3".into(),
                        },
                        host_names
                            .get(&b.origin)
                            .cloned()
                            .unwrap_or_else(|| b.origin.clone()),
                        b.taken_at.format("%Y-%m-%d %H:%M").to_string(),
                        format!(
                            "{}{}",
                            human_age(now, b.taken_at),
                            if breach { " >RPO" } else { "" }
                        ),
                        human_size(b.size),
                        backup_file(b),
                        check,
                    ],
                }
            })
            .collect(),
        ..Default::default()
    }
}

/// The journal, newest first: one row per run.
pub fn history_table(
    entries: &[crate::store::journal::Entry],
    host_names: &BTreeMap<String, String>,
) -> TableData {
    let rows = entries
        .iter()
        .map(|e| {
            let s = &e.start;
            let f = e.finish.as_ref();
            let tone = match e.status() {
                "succeeded" => Tone::Good,
                "in flight" => Tone::Normal,
                "cancelled" => Tone::Warn,
                _ => Tone::Bad,
            };
            let duration = f
                .map(|f| format!("{:.1}s", f.duration_ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into());
            Row {
                key: s.run.clone().into(),
                tone,
                cells: vec![
                    s.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    s.runbook.clone(),
                    s.target.clone(),
                    host_names
                        .get(&s.host)
                        .cloned()
                        .unwrap_or_else(|| s.host.clone()),
                    s.operator.context.clone(),
                    s.operator.who.clone(),
                    e.status().to_string(),
                    f.and_then(|f| f.exit_code)
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    duration,
                    f.and_then(|f| f.result.clone().or(f.error.clone()))
                        .unwrap_or_default(),
                ],
            }
        })
        .collect();
    TableData::new(
        vec![
            "STARTED", "RUNBOOK", "TARGET", "HOST", "CONTEXT", "WHO", "STATUS", "EXIT", "TOOK",
            "RESULT",
        ],
        rows,
    )
}

/// Drill reports, newest first.
pub fn drills_table(
    reports: &[crate::drill::Report],
    active: Option<&crate::drill::Active>,
    now: DateTime<Utc>,
) -> TableData {
    // The drill in progress first, with its clock.
    let running = active.map(|a| {
        let secs = (now - a.started_at).num_seconds().max(0);
        Row {
            key: a.id.clone(),
            tone: Tone::Warn,
            cells: vec![
                a.started_at.format("%Y-%m-%d %H:%M").to_string(),
                a.scenario.clone(),
                "IN PROGRESS".into(),
                format!("{secs}s so far"),
                "-".into(),
                "-".into(),
                ":drill verify when recovered".into(),
            ],
        }
    });
    let rows = running
        .into_iter()
        .chain(reports.iter().map(|r| Row {
            key: r.id.clone(),
            tone: if r.passed { Tone::Good } else { Tone::Bad },
            cells: vec![
                r.started_at.format("%Y-%m-%d %H:%M").to_string(),
                r.scenario.clone(),
                if r.passed { "passed" } else { "FAILED" }.into(),
                format!("{}s", r.rto_seconds),
                r.rpo_seconds
                    .map(|s| format!("{:.1}h", s as f64 / 3600.0))
                    .unwrap_or_else(|| "-".into()),
                r.steps.len().to_string(),
                r.backup_used.clone().unwrap_or_else(|| "-".into()),
            ],
        }))
        .collect();
    TableData::new(
        vec![
            "STARTED",
            "SCENARIO",
            "RESULT",
            "RTO",
            "RPO",
            "STEPS",
            "BACKUP USED",
        ],
        rows,
    )
}

/// Posture findings: open security groups, unencrypted volumes, IMDSv1.
pub fn findings_table(v: &[crate::domain::Finding]) -> TableData {
    TableData::new(
        vec!["FINDING", "REGION", "RESOURCE", "INSTANCES", "DETAIL"],
        v.iter()
            .map(|f| Row {
                key: f.resource.clone(),
                tone: Tone::Warn,
                cells: vec![
                    f.kind.label().into(),
                    f.region.clone(),
                    f.resource.clone(),
                    f.instances.join(","),
                    f.detail.clone(),
                ],
            })
            .collect(),
    )
}

/// What needs attention, worst first ([`crate::ops::attention`]).
pub fn attention_table(v: &[crate::ops::attention::Item], now: DateTime<Utc>) -> TableData {
    use crate::ops::attention::Severity;
    TableData::new(
        vec!["", "KIND", "SUBJECT", "WHAT", "SINCE", "FIX"],
        v.iter()
            .map(|i| Row {
                key: i.key(),
                tone: match i.severity {
                    Severity::Critical => Tone::Bad,
                    Severity::Warning => Tone::Warn,
                },
                cells: vec![
                    match i.severity {
                        Severity::Critical => "!!".into(),
                        Severity::Warning => "!".into(),
                    },
                    i.kind.into(),
                    i.subject.clone(),
                    i.what.clone(),
                    i.since
                        .map(|t| format!("{} ago", human_age(now, t)))
                        .unwrap_or_else(|| "-".into()),
                    i.fix
                        .as_ref()
                        .map(|f| format!("{} {}", f.runbook, f.target))
                        .unwrap_or_default(),
                ],
            })
            .collect(),
    )
}

/// The schedules: each one's runbook, target, when, last run and state.
pub fn schedules_table(items: &[crate::ops::schedule::Status]) -> TableData {
    use crate::ops::schedule::State;
    TableData {
        headers: vec![
            "SCHEDULE", "RUNBOOK", "TARGET", "WHEN", "LAST RUN", "RESULT", "NEXT", "STATE",
        ],
        rows: items
            .iter()
            .map(|s| Row {
                key: s.name.clone(),
                tone: match s.state {
                    State::Failed => Tone::Bad,
                    State::Missed | State::Due => Tone::Warn,
                    State::Ok | State::NeverRun => Tone::Normal,
                },
                cells: vec![
                    s.name.clone(),
                    s.runbook.clone(),
                    s.target.clone(),
                    s.when.clone(),
                    s.last_at
                        .map_or("never".into(), |a| a.format("%Y-%m-%d %H:%M").to_string()),
                    s.last_status.clone().unwrap_or_else(|| "-".into()),
                    s.next_at.format("%Y-%m-%d %H:%M").to_string(),
                    s.state.label().to_string(),
                ],
            })
            .collect(),
        ..Default::default()
    }
}
