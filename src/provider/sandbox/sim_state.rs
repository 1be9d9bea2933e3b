//! The simulated docker engine's state on a sandbox host (containers,
//! migrations), kept in `var/lib/docker-sim/state.json` under a file lock,
//! and its clock. A leaf: the estate builder and the docker shim both use
//! it, neither is used by it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SimState {
    pub containers: Vec<SimContainer>,
    /// compose project → applied migration names.
    #[serde(default)]
    pub migrations: BTreeMap<String, Vec<String>>,
    /// The RabbitMQ broker's queues on this host (the MAP host's).
    #[serde(default)]
    pub queues: Vec<SimQueue>,
    /// Local images: name → id. A build gives its image the id of what it
    /// was built from (the same code, the same id, as docker's cache
    /// does); an image not listed was pulled, its id from its name.
    #[serde(default)]
    pub images: BTreeMap<String, String>,
    /// Let's Encrypt certificates certbot manages on this host.
    #[serde(default)]
    pub certs: Vec<SimCert>,
    /// When nginx last (re)loaded its configuration and certificates.
    #[serde(default)]
    pub nginx_loaded_epoch: i64,
    /// Image ids no tag points at any more (what a rebuild leaves), with
    /// their size in MiB: what `docker image prune` removes.
    #[serde(default)]
    pub dangling: Vec<(String, u64)>,
    /// The build cache, in MiB: what `docker builder prune` removes.
    #[serde(default)]
    pub build_cache_mib: u64,
    /// Services the host runs under systemd (Enssol's nginx and gunicorn).
    #[serde(default)]
    pub units: Vec<SimUnit>,
}

/// A file in a host's tree: the host has no `docker compose` (v2) plugin.
pub const NO_COMPOSE_V2: &str = "etc/opsdeck-sim/no-compose-v2";

/// A systemd service on a sandbox host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimUnit {
    /// Without `.service`.
    pub name: String,
    pub description: String,
    /// What it runs (ExecStart).
    pub exec: String,
    /// active, inactive or failed.
    pub state: String,
    pub since_epoch: i64,
    pub restarts: u32,
}

/// One certificate: its name, the domains it covers, when it expires.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimCert {
    pub name: String,
    pub domains: Vec<String>,
    pub expires_epoch: i64,
    /// When it was last issued or renewed.
    #[serde(default)]
    pub issued_epoch: i64,
}

impl SimState {
    /// The id image `name` has on this host now.
    pub fn image_id(&self, name: &str) -> String {
        self.images
            .get(name)
            .cloned()
            .unwrap_or_else(|| image_id(name, ""))
    }
}

/// An image id as docker shows it (`sha256:` and hex), from the image's
/// name and what it was built from.
pub fn image_id(name: &str, built_from: &str) -> String {
    let seed = format!("{name}@{built_from}");
    format!(
        "sha256:{}{}",
        short_id(&seed),
        short_id(&format!("{seed}#"))
    )
}

/// One queue of the simulated broker. Its consumers are the running
/// containers of the compose service `consumer`; a consumer that starts
/// drains what piled up while none ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimQueue {
    pub name: String,
    pub messages: u64,
    /// The compose service consuming it (a Celery worker).
    pub consumer: String,
}

impl SimState {
    /// Running containers of service `consumer`, as `rabbitmqctl` counts consumers.
    pub fn consumers(&self, consumer: &str) -> usize {
        self.containers
            .iter()
            .filter(|c| c.service == consumer && c.state == "running")
            .count()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub project: String,
    pub service: String,
    /// running / exited
    pub state: String,
    pub exit_code: i32,
    pub healthcheck: bool,
    /// Health once the start grace has passed: healthy / unhealthy.
    pub target_health: String,
    pub restarts: u32,
    pub started_epoch: i64,
    pub created_epoch: i64,
    pub cpu_centi: u32,
    pub mem_mib: u32,
    pub labels: BTreeMap<String, String>,
    /// Resource limits (0 = none), as `docker inspect` HostConfig shows them.
    #[serde(default)]
    pub mem_limit_mib: u64,
    #[serde(default)]
    pub cpu_limit_milli: u64,
    /// Published ports as `docker ps` shows them: `0.0.0.0:8080->8000/tcp`.
    #[serde(default)]
    pub ports: String,
    /// The id of the image it was created from (`docker inspect`'s
    /// `Image`): a rebuilt image it was not recreated from has another.
    #[serde(default)]
    pub image_id: String,
    /// Named volumes it mounts (MAP's `media_files`).
    #[serde(default)]
    pub volumes: Vec<String>,
}

pub fn short_id(seed: &str) -> String {
    // FNV-1a, twice, for a docker-looking 12-hex id that never changes.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

/// The simulation's clock: `OPSDECK_SIM_NOW` (seconds) when set, else opsdeck's.
pub fn now_epoch() -> i64 {
    if let Some(n) = std::env::var("OPSDECK_SIM_NOW")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    crate::clock::now().timestamp()
}

/// Seconds a started container reports `starting`. Under a pinned clock
/// (`OPSDECK_SIM_NOW`) no time passes, so a grace would never end: none.
fn health_grace() -> i64 {
    std::env::var("OPSDECK_SIM_HEALTH_GRACE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::var_os("OPSDECK_SIM_NOW").is_some() {
            0
        } else {
            2
        })
}

impl SimContainer {
    pub fn health(&self, now: i64) -> String {
        if !self.healthcheck {
            return String::new();
        }
        if self.state != "running" {
            return "unhealthy".into();
        }
        if now - self.started_epoch < health_grace() {
            "starting".into()
        } else {
            self.target_health.clone()
        }
    }

    pub fn status(&self, now: i64) -> String {
        if self.state == "restarting" {
            return format!(
                "Restarting ({}) {} ago",
                self.exit_code.max(1),
                docker_duration(now - self.started_epoch)
            );
        }
        if self.state == "running" {
            let h = match self.health(now).as_str() {
                "" => String::new(),
                "starting" => " (health: starting)".into(),
                h => format!(" ({h})"),
            };
            format!("Up {}{h}", docker_duration(now - self.started_epoch))
        } else {
            format!(
                "Exited ({}) {} ago",
                self.exit_code,
                docker_duration(now - self.started_epoch)
            )
        }
    }

    pub(super) fn ps_json(&self, now: i64) -> Value {
        let labels = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        json!({
            "ID": self.id,
            "Image": self.image,
            "Names": self.name,
            "Labels": labels,
            "State": self.state,
            "Status": self.status(now),
            "RunningFor": format!("{} ago", docker_duration(now - self.created_epoch)),
            "Ports": if self.state == "running" { self.ports.as_str() } else { "" },
        })
    }

    pub(super) fn inspect_json(&self, now: i64) -> Value {
        let mut state = json!({
            "Status": self.state,
            "Running": self.state == "running",
            "ExitCode": self.exit_code,
        });
        if self.healthcheck {
            state["Health"] = json!({"Status": self.health(now)});
        }
        let created = chrono::DateTime::from_timestamp(self.created_epoch, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let image_id = if self.image_id.is_empty() {
            image_id(&self.image, "")
        } else {
            self.image_id.clone()
        };
        json!({
            "Id": self.id,
            "Name": format!("/{}", self.name),
            "Image": image_id,
            "Created": created,
            "RestartCount": self.restarts,
            "State": state,
            "Config": {"Image": self.image, "Labels": self.labels},
            "HostConfig": {
                "Memory": self.mem_limit_mib * 1024 * 1024,
                "NanoCpus": self.cpu_limit_milli * 1_000_000,
                // Kept while the container is stopped, as docker keeps it.
                "PortBindings": self.port_bindings(),
            },
        })
    }
}

impl SimContainer {
    /// `ports` ("0.0.0.0:1001->8000/tcp, …") as docker's PortBindings.
    fn port_bindings(&self) -> Value {
        let mut m = serde_json::Map::new();
        for p in self.ports.split(", ").filter(|p| !p.is_empty()) {
            let Some((host, inner)) = p.split_once("->") else {
                continue;
            };
            let (ip, port) = host.rsplit_once(':').unwrap_or(("0.0.0.0", host));
            let e = m.entry(inner.to_string()).or_insert_with(|| json!([]));
            if let Some(a) = e.as_array_mut() {
                a.push(json!({"HostIp": ip, "HostPort": port}));
            }
        }
        Value::Object(m)
    }
}

/// docker's coarse durations: "3 days", "2 hours", "About a minute".
pub fn docker_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0 => "Less than a second".into(),
        1..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

pub(super) struct Store {
    path: PathBuf,
    lock: std::fs::File,
}

impl Store {
    pub(super) fn open(root: &Path) -> std::io::Result<Self> {
        let dir = root.join("var/lib/docker-sim");
        std::fs::create_dir_all(&dir)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        lock.lock()?;
        Ok(Self {
            path: dir.join("state.json"),
            lock,
        })
    }
    pub(super) fn load(&self) -> SimState {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }
    pub(super) fn save(&self, st: &SimState) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(st)?)?;
        std::fs::rename(tmp, &self.path)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.lock.unlock();
    }
}

pub fn save_state(root: &Path, st: &SimState) -> std::io::Result<()> {
    Store::open(root)?.save(st)
}

pub fn load_state(root: &Path) -> std::io::Result<SimState> {
    Ok(Store::open(root)?.load())
}

/// A small deterministic SQL dump standing in for pg_dump's output.
pub fn sim_dump(db: &str) -> String {
    let mut s = format!(
        "--\n-- PostgreSQL database dump (opsdeck sandbox simulation)\n-- Database: {db}\n--\n\
         CREATE TABLE public.events (id integer PRIMARY KEY, title text, starts_at timestamptz);\n\
         COPY public.events (id, title, starts_at) FROM stdin;\n"
    );
    let rows = 50 + (short_id(db).len() * 7) % 40;
    for i in 1..=rows {
        s.push_str(&format!(
            "{i}\tevent {i} of {db}\t2026-01-{:02} 10:00:00+00\n",
            i % 28 + 1
        ));
    }
    s.push_str("\\.\n\n-- PostgreSQL database dump complete\n");
    s
}

pub(super) fn flag_value(args: &[String], names: &[&str]) -> Option<String> {
    args.iter()
        .position(|a| names.contains(&a.as_str()))
        .and_then(|i| args.get(i + 1).cloned())
}

/// Arguments without option flags (and the values of the flags that take one).
pub(super) fn positional(args: &[String], with_value: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if with_value.contains(&a.as_str()) {
            skip = true;
        } else if !a.starts_with('-') {
            out.push(a.clone());
        }
    }
    out
}
