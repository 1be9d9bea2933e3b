//! Domain types shared by providers, the app state and the screens.
//! Providers return these; screens render them; nothing here does IO.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Reachability of a host's SSM agent, as DescribeInstanceInformation reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SsmPing {
    Online,
    ConnectionLost,
    Inactive,
    Unknown,
}

impl SsmPing {
    pub fn label(self) -> &'static str {
        match self {
            SsmPing::Online => "Online",
            SsmPing::ConnectionLost => "ConnectionLost",
            SsmPing::Inactive => "Inactive",
            SsmPing::Unknown => "unknown",
        }
    }
}

/// An EC2 instance's state (`State.Name`), in EC2's words when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    Stopping,
    Stopped,
    ShuttingDown,
    Terminated,
    /// A state EC2 has not documented (or none was given).
    #[serde(other)]
    Unknown,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Unknown => "unknown",
        }
    }

    /// EC2's state name, read once where it comes in.
    pub fn parse(name: &str) -> InstanceState {
        match name {
            "pending" => InstanceState::Pending,
            "running" => InstanceState::Running,
            "stopping" => InstanceState::Stopping,
            "stopped" => InstanceState::Stopped,
            "shutting-down" => InstanceState::ShuttingDown,
            "terminated" => InstanceState::Terminated,
            _ => InstanceState::Unknown,
        }
    }

    /// Terminated or on its way there: it will never run again.
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            InstanceState::ShuttingDown | InstanceState::Terminated
        )
    }
}

impl From<&str> for InstanceState {
    fn from(name: &str) -> InstanceState {
        InstanceState::parse(name)
    }
}

/// `state == "running"`: EC2's word for it (tests and scripts read it so).
impl PartialEq<&str> for InstanceState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub region: String,
    pub instance_type: String,
    pub state: InstanceState,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub ssm_ping: SsmPing,
    pub platform: String,
    pub tags: BTreeMap<String, String>,
}

impl Instance {
    /// Why a runbook cannot be sent to this instance, if it cannot.
    pub fn unreachable_reason(&self) -> Option<String> {
        if self.state != InstanceState::Running {
            return Some(format!("{} is {} (not running)", self.id, self.state));
        }
        // Unknown (DescribeInstanceInformation unavailable) is not refused:
        // only an agent known to be away is.
        if matches!(self.ssm_ping, SsmPing::ConnectionLost | SsmPing::Inactive) {
            return Some(format!(
                "{}: SSM agent is {}, commands cannot be delivered",
                self.id,
                self.ssm_ping.label()
            ));
        }
        None
    }

    pub fn is_production(&self) -> bool {
        self.tags
            .get("Environment")
            .is_some_and(|e| e.eq_ignore_ascii_case("production"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub host: String,
    pub name: String,
    pub image: String,
    /// running, exited, restarting, created
    pub state: String,
    /// docker's human status, e.g. "Up 3 hours (healthy)".
    pub status: String,
    /// healthy, unhealthy, starting, or "-" when the container has no healthcheck.
    pub health: String,
    pub restarts: u32,
    pub cpu_percent: Option<f64>,
    pub mem_bytes: Option<u64>,
    pub labels: BTreeMap<String, String>,
    /// Published ports, as docker shows them (`0.0.0.0:8080->8000/tcp`).
    #[serde(default)]
    pub ports: String,
    /// The id of the image it was created from (`docker inspect`'s
    /// `Image`, `sha256:…`; empty when docker did not say).
    #[serde(default)]
    pub image_id: String,
}

impl Container {
    /// Its compose project ("" when not started by compose).
    pub fn project(&self) -> &str {
        self.labels
            .get("com.docker.compose.project")
            .map_or("", String::as_str)
    }
    pub fn is_up(&self) -> bool {
        self.state == "running"
    }
}

/// One deploy recorded on a host: `<epoch> <previous sha> <new sha>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRecord {
    pub at: DateTime<Utc>,
    pub previous: String,
    pub current: String,
}

/// An app deployed in one environment on one host (`{app}-{env}` compose project).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub app: String,
    pub env: String,
    pub host: String,
    pub containers_up: usize,
    pub containers_total: usize,
    /// healthy / unhealthy / starting / down / "-"
    pub health: String,
    pub deployed_sha: Option<String>,
    pub last_deploy: Option<DateTime<Utc>>,
    pub database: Option<String>,
    pub last_backup: Option<DateTime<Utc>>,
}

impl Tenant {
    pub fn project(&self) -> String {
        format!("{}-{}", self.app, self.env)
    }
    pub fn is_production(&self) -> bool {
        self.env == "production"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupLocation {
    Host,
    S3,
}

/// How a backup's bytes are stored, as the restore and validate runbooks
/// read them (`format` in their scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackupFormat {
    /// pg_dump's plain SQL, gzipped (`.sql.gz`).
    #[default]
    SqlGz,
    /// pg_dump's plain SQL (`.sql`), as PMO's manual backups are.
    Sql,
    /// An SQLite database file, gzipped (`.sqlite3.gz`, `.gz`).
    SqliteGz,
    /// Something opsdeck cannot restore (custom-format dumps, archives…).
    Unknown,
}

impl BackupFormat {
    /// Its name in runbook scripts: `sql.gz`, `sql`, `sqlite3.gz`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupFormat::SqlGz => "sql.gz",
            BackupFormat::Sql => "sql",
            BackupFormat::SqliteGz => "sqlite3.gz",
            BackupFormat::Unknown => "unknown",
        }
    }

    /// The format a file name says.
    pub fn of(file: &str) -> BackupFormat {
        let f = file.to_ascii_lowercase();
        if f.ends_with(".sql.gz") {
            BackupFormat::SqlGz
        } else if f.ends_with(".sql") {
            BackupFormat::Sql
        } else if f.ends_with(".sqlite3.gz") || f.ends_with(".db.gz") {
            BackupFormat::SqliteGz
        } else {
            BackupFormat::Unknown
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    pub database: String,
    pub location: BackupLocation,
    /// Host id or `s3://bucket`.
    pub origin: String,
    pub path: String,
    pub taken_at: DateTime<Utc>,
    pub size: u64,
    pub format: BackupFormat,
    /// The S3 version, for a backup kept as a version of a `latest` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Why no layout explains this file (then `database` is empty and
    /// nothing restores it); shown, never dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrecognised: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    pub region: String,
    /// Enabled, Suspended or "none".
    pub versioning: String,
    /// AES256, aws:kms or "none".
    pub encryption: String,
    /// "all blocked", "partial", or "none".
    pub public_access_block: String,
    /// Short summary of lifecycle rules, or "none".
    pub lifecycle: String,
}

/// One row of an object listing by prefix: a common prefix ("folder") or an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectEntry {
    Prefix(String),
    Object {
        key: String,
        size: u64,
        storage_class: String,
        last_modified: DateTime<Utc>,
    },
    /// A key whose latest version is a delete marker (versioned buckets).
    Deleted {
        key: String,
        deleted_at: DateTime<Utc>,
    },
}

impl ObjectEntry {
    pub fn name(&self) -> &str {
        match self {
            ObjectEntry::Prefix(p) => p,
            ObjectEntry::Object { key, .. } | ObjectEntry::Deleted { key, .. } => key,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// A posture finding for the estate (the seeds have all three kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A security group that admits 0.0.0.0/0 (or ::/0).
    OpenSecurityGroup,
    /// An EBS volume that is not encrypted.
    UnencryptedVolume,
    /// An instance whose metadata service accepts IMDSv1 (tokens optional).
    ImdsV1Allowed,
}

impl FindingKind {
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::OpenSecurityGroup => "open to the internet",
            FindingKind::UnencryptedVolume => "unencrypted EBS",
            FindingKind::ImdsV1Allowed => "IMDSv1 allowed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub region: String,
    /// sg-…, vol-…, or i-…
    pub resource: String,
    /// Instances the finding touches.
    pub instances: Vec<String>,
    /// Ports for open groups ("22/tcp", "all"), size for volumes.
    pub detail: String,
}

/// Human size: 1.2 KiB, 3.4 MiB.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Human age relative to `now`: 45s, 12m, 3h, 2d.
pub fn human_age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sizes_and_ages_read_like_a_human_wrote_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        assert_eq!(human_age(now, now - chrono::Duration::seconds(59)), "59s");
        assert_eq!(human_age(now, now - chrono::Duration::hours(3)), "3h");
        assert_eq!(human_age(now, now - chrono::Duration::days(2)), "2d");
    }
}
