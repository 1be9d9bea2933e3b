//! Host facts read over the transport: containers (docker ps / inspect /
//! stats), host-local backups and the deploy records opsdeck keeps on the
//! host. One short script per host per refresh, so over SSM a refresh costs
//! one command per host.

use crate::domain::{Backup, BackupLocation, Container, DeployRecord};
pub use crate::provider::layout::parse_backup_name;
use crate::provider::layout::{BackupFormat, Layouts, Reading};
use crate::transport::Transport;
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

message_error!(
    /// Why a host's snapshot cannot be read.
    SnapshotError
);

/// Everything one refresh learns about one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostSnapshot {
    pub host: String,
    /// False when the host has no docker at all.
    pub has_docker: bool,
    pub containers: Vec<Container>,
    pub backups: Vec<Backup>,
    /// `{app}-{env}` → deploy records, oldest first.
    pub deploys: BTreeMap<String, Vec<DeployRecord>>,
    /// Commit SHA → subject, from the apps' checkouts (recent history), so
    /// a revision is offered with what it is, not as 40 hex digits.
    pub commits: BTreeMap<String, String>,
}

pub const SNAPSHOT_SCRIPT: &str = r#"R="${OPSDECK_ROOT:-}"
echo '@@ps'
if command -v docker >/dev/null 2>&1 && docker ps -a --format '{{json .}}' 2>/dev/null; then
  echo '@@inspect'
  ids=$(docker ps -aq 2>/dev/null)
  [ -n "$ids" ] && docker inspect $ids 2>/dev/null
  echo '@@stats'
  docker stats --no-stream --format '{{json .}}' 2>/dev/null
else
  echo '@@nodocker'
fi
echo '@@backups'
BACKUP_DIRS="${BACKUP_DIRS:-/opt/backups/postgres /opt/backups/sqlite}"
for d in $BACKUP_DIRS; do
  for f in "$R$d"/*; do
    case "$f" in *.gz|*.sql|*.dump|*.bak) ;; *) continue ;; esac
    [ -f "$f" ] && printf '%s %s %s\n' "$(stat -c %s "$f")" "$(stat -c %Y "$f")" "${f#"$R"}"
  done
done
echo '@@deploys'
for f in "$R"/var/lib/opsdeck/deploys/*; do
  [ -f "$f" ] || continue
  echo "F $(basename "$f")"
  tail -n 20 "$f"
done
echo '@@commits'
for d in "$R"/opt/apps/*/; do
  [ -d "$d.git" ] && git -c safe.directory='*' -C "$d" log --all -n 50 --format='%H %s' 2>/dev/null
done
echo '@@end'
"#;

pub struct HostInventory {
    transport: Arc<dyn Transport>,
    layouts: Layouts,
}

impl HostInventory {
    /// Reads hosts with the default backup layouts.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self::with_layouts(transport, Layouts::default())
    }

    /// Reads hosts scanning `layouts`' directories and naming their files by it.
    pub fn with_layouts(transport: Arc<dyn Transport>, layouts: Layouts) -> Self {
        Self { transport, layouts }
    }

    /// The script one refresh runs: the backup directories first (each
    /// checked safe by [`Layouts::new`]), then [`SNAPSHOT_SCRIPT`].
    pub fn script(&self) -> String {
        format!(
            "BACKUP_DIRS='{}'\n{SNAPSHOT_SCRIPT}",
            self.layouts.dirs.join(" ")
        )
    }

    pub async fn snapshot(&self, host: &str) -> Result<HostSnapshot, SnapshotError> {
        let out = self
            .transport
            .exec(host, &self.script(), Duration::from_secs(30))
            .await
            .map_err(|e| format!("reading containers and backups on {host}: {e}"))?;
        if !out.stdout.contains("@@end") {
            return Err(format!(
                "reading containers and backups on {host}: incomplete answer (exit {}): {}",
                out.exit_code,
                out.stderr.trim()
            )
            .into());
        }
        Ok(parse_snapshot_with(host, &out.stdout, &self.layouts))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PsRow {
    names: String,
    image: String,
    state: String,
    status: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    ports: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectRow {
    name: String,
    /// The image id the container was created from.
    #[serde(default)]
    image: String,
    #[serde(default)]
    restart_count: u32,
    state: InspectState,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectState {
    #[serde(default)]
    health: Option<InspectHealth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectHealth {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StatsRow {
    name: String,
    #[serde(rename = "CPUPerc")]
    cpu_perc: String,
    mem_usage: String,
}

fn sections(stdout: &str) -> BTreeMap<&str, Vec<&str>> {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut current = "";
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            current = name;
            map.entry(current).or_default();
        } else if !current.is_empty() {
            map.entry(current).or_default().push(line);
        }
    }
    map
}

/// Parse docker's "45.3MiB / 3.8GiB" (the used part) into bytes.
pub fn parse_mem(s: &str) -> Option<u64> {
    let used = s.split('/').next()?.trim();
    let idx = used.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = used.split_at(idx);
    let n: f64 = num.trim().parse().ok()?;
    let mult = match unit {
        "B" => 1.0,
        "KiB" | "kB" | "KB" => 1024.0,
        "MiB" | "MB" => 1024.0 * 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

fn health_from_status(status: &str) -> String {
    for h in ["unhealthy", "healthy", "health: starting"] {
        if status.contains(h) {
            return h.trim_start_matches("health: ").to_string();
        }
    }
    "-".to_string()
}

/// A snapshot's answer read with the default backup layouts.
pub fn parse_snapshot(host: &str, stdout: &str) -> HostSnapshot {
    parse_snapshot_with(host, stdout, &Layouts::default())
}

/// One backup line (`SIZE MTIME PATH`) as a backup: named by `layouts`,
/// listed with the reason when nothing explains it.
fn host_backup(host: &str, line: &str, layouts: &Layouts) -> Option<Backup> {
    let mut f = line.splitn(3, ' ');
    let size = f.next()?.parse().unwrap_or(0);
    let mtime = f.next()?.parse::<i64>().ok();
    let path = f.next()?;
    let written = mtime
        .and_then(|m| Utc.timestamp_opt(m, 0).single())
        .unwrap_or_default();
    let (database, taken_at, format, unrecognised) = match layouts.read(path) {
        Reading::Backup {
            database,
            at,
            format,
        } => (database, at.unwrap_or(written), format, None),
        Reading::Unrecognised(why) => (String::new(), written, BackupFormat::of(path), Some(why)),
    };
    Some(Backup {
        database,
        location: BackupLocation::Host,
        origin: host.to_string(),
        path: path.to_string(),
        taken_at,
        size,
        format,
        version_id: None,
        unrecognised,
    })
}

/// A snapshot's answer, its backups named by `layouts`.
pub fn parse_snapshot_with(host: &str, stdout: &str, layouts: &Layouts) -> HostSnapshot {
    let secs = sections(stdout);
    let mut snap = HostSnapshot {
        host: host.to_string(),
        has_docker: !secs.contains_key("nodocker"),
        ..Default::default()
    };
    let mut inspect: BTreeMap<String, InspectRow> = BTreeMap::new();
    if let Some(lines) = secs.get("inspect")
        && let Ok(rows) = serde_json::from_str::<Vec<InspectRow>>(&lines.join("\n"))
    {
        for r in rows {
            inspect.insert(r.name.trim_start_matches('/').to_string(), r);
        }
    }
    let mut stats: BTreeMap<String, (Option<f64>, Option<u64>)> = BTreeMap::new();
    for line in secs.get("stats").into_iter().flatten() {
        if let Ok(r) = serde_json::from_str::<StatsRow>(line) {
            let cpu = r.cpu_perc.trim_end_matches('%').parse().ok();
            stats.insert(r.name, (cpu, parse_mem(&r.mem_usage)));
        }
    }
    for line in secs.get("ps").into_iter().flatten() {
        let Ok(r) = serde_json::from_str::<PsRow>(line) else {
            continue;
        };
        let labels = r
            .labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ins = inspect.get(&r.names);
        let health = ins
            .and_then(|i| i.state.health.as_ref())
            .map(|h| h.status.clone())
            .unwrap_or_else(|| health_from_status(&r.status));
        let (cpu, mem) = stats.get(&r.names).copied().unwrap_or((None, None));
        snap.containers.push(Container {
            host: host.to_string(),
            restarts: ins.map(|i| i.restart_count).unwrap_or(0),
            name: r.names,
            image: r.image,
            state: r.state,
            status: r.status,
            health,
            cpu_percent: cpu,
            mem_bytes: mem,
            labels,
            ports: r.ports,
            image_id: ins.map(|i| i.image.clone()).unwrap_or_default(),
        });
    }
    snap.containers.sort_by(|a, b| a.name.cmp(&b.name));
    snap.backups = secs
        .get("backups")
        .into_iter()
        .flatten()
        .filter_map(|line| host_backup(host, line, layouts))
        .collect();
    let mut current: Option<String> = None;
    for line in secs.get("deploys").into_iter().flatten() {
        if let Some(name) = line.strip_prefix("F ") {
            current = Some(name.to_string());
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if let (Some(project), [epoch, prev, new, ..]) = (current.as_ref(), f.as_slice())
            && let Some(at) = epoch
                .parse::<i64>()
                .ok()
                .and_then(|e| Utc.timestamp_opt(e, 0).single())
        {
            snap.deploys
                .entry(project.clone())
                .or_default()
                .push(DeployRecord {
                    at,
                    previous: prev.to_string(),
                    current: new.to_string(),
                });
        }
    }
    for line in secs.get("commits").into_iter().flatten() {
        if let Some((sha, subject)) = line.split_once(' ')
            && sha.len() == 40
        {
            snap.commits.insert(sha.to_string(), subject.to_string());
        }
    }
    snap
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_backup_file_names_from_the_seed() {
        let (db, at) = parse_backup_name(
            "/opt/backups/postgres/filter_ical_production_20251011_020000.sql.gz",
        )
        .unwrap();
        assert_eq!(db, "filter_ical_production");
        assert_eq!(at.to_rfc3339(), "2025-10-11T02:00:00+00:00");
        assert!(parse_backup_name("/opt/backups/postgres/README").is_none());
    }

    #[test]
    fn parses_docker_memory_usage() {
        assert_eq!(parse_mem("1.5KiB / 3.8GiB"), Some(1536));
        assert_eq!(parse_mem("45MiB / 3.8GiB"), Some(45 * 1024 * 1024));
        assert_eq!(parse_mem("garbage"), None);
    }

    #[test]
    fn a_host_without_docker_still_reports_backups() {
        let out = "@@ps\n@@nodocker\n@@backups\n120 1767225600 /opt/backups/sqlite/db_20260101_020000.sqlite3.gz\n7 1767225600 /opt/backups/sqlite/notes.gz\n@@deploys\n@@end\n";
        let s = parse_snapshot("h", out);
        assert!(!s.has_docker);
        assert_eq!(s.backups.len(), 2);
        assert_eq!(s.backups[0].database, "db");
        assert_eq!(s.backups[0].format, BackupFormat::SqliteGz);
        assert!(s.backups[1].database.is_empty());
        assert!(
            s.backups[1]
                .unrecognised
                .as_deref()
                .unwrap_or("")
                .contains("no database")
        );
    }

    #[test]
    fn commit_subjects_are_read_for_full_shas_only() {
        let sha = "1bbdedd1e88cfe9db20253dc83586657e77b3c57";
        let out = format!(
            "@@ps\n@@nodocker\n@@backups\n@@deploys\nF app-prod\n100 {sha} {sha} deploy\n@@commits\n{sha} fix: the login redirect\nabc not a sha\n@@end\n"
        );
        let s = parse_snapshot("h", &out);
        assert_eq!(s.deploys["app-prod"].len(), 1);
        assert_eq!(s.commits.len(), 1);
        assert_eq!(s.commits[sha], "fix: the login redirect");
    }
}
