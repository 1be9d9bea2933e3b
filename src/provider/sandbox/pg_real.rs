//! Real PostgreSQL servers for the sandbox.
//!
//! When the PostgreSQL server binaries are on this machine (Debian's
//! `/usr/lib/postgresql/N/bin`, or `initdb` on PATH), the sandbox's database
//! servers are real: one cluster per server of the estate, initialised when
//! the sandbox is built, started on demand on a free loopback port (no unix
//! socket, never the system service), stopped by `opsdeck sandbox stop` and
//! by a watcher after [`idle_secs`] without use. As root the server runs as
//! `nobody` (PostgreSQL refuses root), and its data directory lives in the
//! temp dir, since `nobody` cannot enter root's home; `pg/SERVER/cluster.json`
//! in the sandbox says where.
//!
//! The simulated `docker exec CONTAINER psql|pg_dump|…` of the estate's
//! database containers runs the real client against its server.

use super::estate;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

message_error!(
    /// What a sandbox PostgreSQL server could not do.
    PgError
);

/// What to install for real databases (the header and README say it).
pub const INSTALL_HINT: &str = "apt install postgresql";

/// `OPSDECK_SANDBOX_PG=simulated` keeps a new sandbox's databases simulated
/// even when the binaries are here (the tests use it for speed).
pub const ENV: &str = "OPSDECK_SANDBOX_PG";

/// How a new sandbox's database servers are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Databases {
    /// Real clusters, with the server binaries in this directory.
    Real(PathBuf),
    Simulated,
}

impl Databases {
    /// Real when the server binaries are on this machine, unless
    /// `OPSDECK_SANDBOX_PG=simulated`.
    pub fn choose() -> Databases {
        if std::env::var(ENV).is_ok_and(|v| v == "simulated") {
            return Databases::Simulated;
        }
        bindir().map_or(Databases::Simulated, Databases::Real)
    }
}

/// One database server of the estate: its host and docker container.
#[derive(Debug, Clone, Copy)]
pub struct Server {
    pub name: &'static str,
    pub host: &'static str,
    pub container: &'static str,
    /// The superuser the server is created with (its `POSTGRES_USER`).
    pub superuser: &'static str,
    /// The databases it holds and the seed that fills each.
    pub databases: &'static [(&'static str, Seed)],
}

/// What a seeded database looks like (the seeds' schemas) and how big it is.
#[derive(Debug, Clone, Copy)]
pub enum Seed {
    /// filter-ical: calendars, their events and feeds.
    Calendar { calendars: u32, events: u32 },
    /// gabs-massage: clients, therapists, bookings and payments.
    Bookings { clients: u32, bookings: u32 },
    /// PMO: tenants, their clients, employees, projects and tasks (owned
    /// by the application's role `app`).
    Pmo { projects: u32, tasks: u32 },
    /// One of the MAP system's Django databases: its own tables, `rows` in
    /// the main one, and Django's `django_migrations`.
    Map { kind: MapKind, rows: u32 },
}

/// Which MAP service a database belongs to.
#[derive(Debug, Clone, Copy)]
pub enum MapKind {
    /// users, roles, user_roles (auth_db, ams_authentication, budgetpro_auth).
    Auth,
    /// workflows, steps, tickets (workflowmanagement).
    Workflow,
    /// tickets, comments (helpdesk).
    Helpdesk,
    /// notifications (notificationservice).
    Notifications,
    /// assets, checkouts (ams_assets).
    Assets,
    /// departments, employees (ams_contexts).
    Contexts,
    /// budgets, expenses (budgetpro_db).
    Budget,
}

/// The estate's database servers.
pub const SERVERS: &[Server] = &[PLATFORM, PMO, MAP];

const MAP: Server = Server {
    name: "map",
    host: estate::MAP_HOST,
    container: estate::MAP_POSTGRES,
    superuser: "postgres",
    databases: &[
        (
            "auth_db",
            Seed::Map {
                kind: MapKind::Auth,
                rows: 3_000,
            },
        ),
        (
            "workflowmanagement",
            Seed::Map {
                kind: MapKind::Workflow,
                rows: 8_000,
            },
        ),
        (
            "helpdesk",
            Seed::Map {
                kind: MapKind::Helpdesk,
                rows: 6_000,
            },
        ),
        (
            "notificationservice",
            Seed::Map {
                kind: MapKind::Notifications,
                rows: 20_000,
            },
        ),
        (
            "ams_authentication",
            Seed::Map {
                kind: MapKind::Auth,
                rows: 800,
            },
        ),
        (
            "ams_assets",
            Seed::Map {
                kind: MapKind::Assets,
                rows: 5_000,
            },
        ),
        (
            "ams_contexts",
            Seed::Map {
                kind: MapKind::Contexts,
                rows: 1_200,
            },
        ),
        (
            "budgetpro_db",
            Seed::Map {
                kind: MapKind::Budget,
                rows: 4_000,
            },
        ),
        (
            "budgetpro_auth",
            Seed::Map {
                kind: MapKind::Auth,
                rows: 500,
            },
        ),
    ],
};

const PMO: Server = Server {
    name: "pmo",
    host: estate::PMO_HOST,
    container: "pmo-postgres",
    superuser: "postgres",
    databases: &[(
        "app",
        Seed::Pmo {
            projects: 1_200,
            tasks: 20_000,
        },
    )],
};

const PLATFORM: Server = Server {
    name: "platform",
    host: estate::MT_HOST,
    container: "postgres-platform",
    // The multi-tenant document: `POSTGRES_USER: platform_admin`; there is
    // no `postgres` role on this server.
    superuser: "platform_admin",
    databases: &[
        (
            "filter_ical_production",
            Seed::Calendar {
                calendars: 2_000,
                events: 60_000,
            },
        ),
        (
            "filter_ical_staging",
            Seed::Calendar {
                calendars: 200,
                events: 6_000,
            },
        ),
        (
            "gabs_massage_production",
            Seed::Bookings {
                clients: 4_000,
                bookings: 30_000,
            },
        ),
        (
            "gabs_massage_staging",
            Seed::Bookings {
                clients: 400,
                bookings: 3_000,
            },
        ),
    ],
};

/// The server behind a database container of a sandbox host.
pub fn server_of(host: &str, container: &str) -> Option<&'static Server> {
    SERVERS
        .iter()
        .find(|s| s.host == host && s.container == container)
}

/// The server binaries: Debian's /usr/lib/postgresql/N/bin (newest), else
/// the directory of `initdb` on PATH.
pub fn bindir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").exists().then_some((v, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if let Some((_, b)) = found.pop() {
        return Some(b);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
}

/// Seconds without use after which the watcher stops a server
/// (`OPSDECK_SANDBOX_PG_IDLE_SECS`, default 15 minutes).
pub fn idle_secs() -> u64 {
    std::env::var("OPSDECK_SANDBOX_PG_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900)
}

/// Where a server's cluster is, kept in the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cluster {
    bindir: PathBuf,
    data: PathBuf,
    /// The port it had last; kept when free so that a restart keeps it.
    port: u16,
    /// A data directory made outside the sandbox (as root), removed with it.
    #[serde(default)]
    outside: Option<PathBuf>,
}

fn server_dir(sandbox: &Path, server: &str) -> PathBuf {
    sandbox.join("pg").join(server)
}

fn cluster_file(sandbox: &Path, server: &str) -> PathBuf {
    server_dir(sandbox, server).join("cluster.json")
}

fn load(sandbox: &Path, server: &str) -> Option<Cluster> {
    let text = std::fs::read_to_string(cluster_file(sandbox, server)).ok()?;
    serde_json::from_str(&text).ok()
}

fn save(sandbox: &Path, server: &str, c: &Cluster) -> Result<(), PgError> {
    let p = cluster_file(sandbox, server);
    let text = serde_json::to_vec_pretty(c).map_err(|e| e.to_string())?;
    std::fs::write(&p, text)
        .map_err(|e| format!("{}: {e}", p.display()))
        .map_err(Into::into)
}

/// Whether this sandbox's databases are real (it was built with them).
pub fn is_real(sandbox: &Path) -> bool {
    SERVERS
        .iter()
        .all(|s| cluster_file(sandbox, s.name).exists())
}

/// Whether this process runs as root (PostgreSQL's server then runs as `nobody`).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    })
}

/// A command run as the server's user (`nobody` when we are root).
pub fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<String, PgError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim()).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The superuser of the server named `server`.
fn superuser(server: &str) -> &'static str {
    SERVERS
        .iter()
        .find(|s| s.name == server)
        .map_or("postgres", |s| s.superuser)
}

/// A running server: where to reach it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub port: u16,
    pub bindir: PathBuf,
    /// The server's superuser.
    pub user: String,
}

impl Endpoint {
    /// Environment for a client of this server (psql, pg_dump…).
    pub fn client_env(&self) -> [(&'static str, String); 4] {
        [
            ("PGHOST", "127.0.0.1".into()),
            ("PGPORT", self.port.to_string()),
            ("PGUSER", self.user.clone()),
            ("PGCONNECT_TIMEOUT", "10".into()),
        ]
    }

    /// psql as the superuser; its trimmed output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, PgError> {
        let mut c = Command::new(self.bindir.join("psql"));
        c.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U"])
            .args([self.user.as_str(), "-d", db, "-c", sql])
            .envs(self.client_env());
        run(&mut c, &format!("psql on {db}")).map(|s| s.trim().to_string())
    }

    /// pg_dump of `db` as the backup runbooks take it.
    pub fn dump(&self, db: &str) -> Result<Vec<u8>, PgError> {
        let out = Command::new(self.bindir.join("pg_dump"))
            .args([
                "-U",
                self.user.as_str(),
                "-d",
                db,
                "--no-owner",
                "--no-privileges",
            ])
            .envs(self.client_env())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pg_dump {db}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_dump {db}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(out.stdout)
    }
}

/// `postmaster.pid`: the server's pid, port and status, when it has one.
fn postmaster(data: &Path) -> Option<(u32, u16, String)> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let pid = lines.first()?.trim().parse().ok()?;
    let port = lines.get(3)?.trim().parse().ok()?;
    let status = lines
        .get(7)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Some((pid, port, status))
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn free_port() -> Result<u16, PgError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
        .map_err(Into::into)
}

fn port_free(port: u16) -> bool {
    port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A lock on one server's directory while it is started or stopped.
fn lock(sandbox: &Path, server: &str) -> Result<std::fs::File, PgError> {
    let p = server_dir(sandbox, server).join("lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    f.lock().map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(f)
}

/// The server, started if it is not running; marks it used (the idle
/// watcher counts from here).
pub fn ensure(sandbox: &Path, server: &str) -> Result<Endpoint, PgError> {
    let c = load(sandbox, server).ok_or_else(|| {
        format!(
            "this sandbox's {server} PostgreSQL is simulated (built without the server binaries)"
        )
    })?;
    let _lock = lock(sandbox, server)?;
    mark_used(sandbox, server);
    if let Some((pid, port, status)) = postmaster(&c.data)
        && alive(pid)
        && status == "ready"
    {
        return Ok(Endpoint {
            port,
            bindir: c.bindir,
            user: superuser(server).into(),
        });
    }
    if !c.data.join("PG_VERSION").exists() {
        // The data went away (a data dir in the temp dir does at a reboot):
        // the same seed again, as of the estate's own time.
        let s = SERVERS
            .iter()
            .find(|s| s.name == server)
            .ok_or_else(|| format!("no database server {server} in the sandbox"))?;
        let now = estate::load(sandbox).map_err(|e| e.to_string())?.created_at;
        if let Some(old) = &c.outside {
            let _ = std::fs::remove_dir_all(old);
        }
        return init(sandbox, s, &c.bindir, now);
    }
    start(sandbox, server, c)
}

/// Held (shared) while a client of the server runs: the idle watcher
/// never stops a server in the middle of a long restore.
pub fn in_use(sandbox: &Path, server: &str) -> Option<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(server_dir(sandbox, server).join("busy"))
        .ok()?;
    f.lock_shared().ok()?;
    Some(f)
}

/// The idle watcher counts from the last use: now.
fn mark_used(sandbox: &Path, server: &str) {
    let _ = std::fs::write(server_dir(sandbox, server).join("used"), b"");
}

fn start(sandbox: &Path, server: &str, mut c: Cluster) -> Result<Endpoint, PgError> {
    let dir = server_dir(sandbox, server);
    mark_used(sandbox, server);
    if !port_free(c.port) {
        c.port = free_port()?;
        save(sandbox, server, &c)?;
    }
    let log_path = dir.join("server.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    // `setsid -f`: the server is nobody's child here (no zombie, no signal
    // from this terminal), and its pid is read from postmaster.pid.
    let mut cmd = Command::new("setsid");
    cmd.arg("-f");
    let server_cmd = as_server_user(&c.bindir.join("postgres"));
    cmd.arg(server_cmd.get_program())
        .args(server_cmd.get_args())
        .arg("-D")
        .arg(&c.data)
        .args(["-p", &c.port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "unix_socket_directories="])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=40"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    let st = cmd
        .status()
        .map_err(|e| format!("starting PostgreSQL ({server}): {e}"))?;
    if !st.success() {
        return Err(format!("starting PostgreSQL ({server}) failed: {st}").into());
    }
    let t = Instant::now();
    loop {
        if let Some((pid, port, status)) = postmaster(&c.data)
            && alive(pid)
            && status == "ready"
        {
            watch(sandbox, server, pid, &c)?;
            return Ok(Endpoint {
                port,
                bindir: c.bindir,
                user: superuser(server).into(),
            });
        }
        if t.elapsed() > Duration::from_secs(30) {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return Err(format!(
                "PostgreSQL ({server}) did not become ready in 30 s; its log ({}) ends with: {}",
                log_path.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The idle watcher: stops the server after [`idle_secs`] without use
/// (a client running is a use), or as soon as the sandbox no longer owns
/// it (deleted, or rebuilt in the same place); then it removes a data dir
/// made outside the sandbox.
fn watch(sandbox: &Path, server: &str, pid: u32, c: &Cluster) -> Result<(), PgError> {
    const SCRIPT: &str = r#"
pid=$1 used=$2 idle=$3 cluster=$4 data=$5 outside=$6 busy=$7
# The sandbox still owns this server while its cluster file names the data.
owned() { grep -qF -- "\"$data\"" "$cluster" 2>/dev/null; }
while [ -e "/proc/$pid" ]; do
  sleep 5
  if ! owned; then kill -INT "$pid" 2>/dev/null; continue; fi
  if [ -e "$busy" ] && ! flock -n -x "$busy" true; then touch "$used"; continue; fi
  last=$(stat -c %Y "$used" 2>/dev/null || echo 0)
  if [ $(( $(date +%s) - last )) -ge "$idle" ]; then kill -INT "$pid" 2>/dev/null; fi
done
if [ -n "$outside" ] && ! owned; then rm -rf -- "$outside"; fi
"#;
    let outside = c
        .outside
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    Command::new("setsid")
        .args(["-f", "bash", "-c", SCRIPT, "opsdeck-pg-watch"])
        .arg(pid.to_string())
        .arg(server_dir(sandbox, server).join("used"))
        .arg(idle_secs().to_string())
        .arg(cluster_file(sandbox, server))
        .arg(&c.data)
        .arg(outside)
        .arg(server_dir(sandbox, server).join("busy"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("starting the idle watcher: {e}"))?;
    Ok(())
}

/// Stop every running server of the sandbox; the names of those stopped.
pub fn stop_all(sandbox: &Path) -> Result<Vec<&'static str>, PgError> {
    let mut stopped = Vec::new();
    for s in SERVERS {
        let Some(c) = load(sandbox, s.name) else {
            continue;
        };
        let _lock = lock(sandbox, s.name)?;
        let Some((pid, _, _)) = postmaster(&c.data).filter(|(pid, _, _)| alive(*pid)) else {
            continue;
        };
        // A fast shutdown (SIGINT), then SIGQUIT if it lingers.
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
        let t = Instant::now();
        while alive(pid) && postmaster(&c.data).is_some() {
            if t.elapsed() > Duration::from_secs(15) {
                let _ = Command::new("kill")
                    .args(["-QUIT", &pid.to_string()])
                    .status();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stopped.push(s.name);
    }
    Ok(stopped)
}

/// Stop the servers and delete their data (the sandbox is being removed).
pub fn remove_all(sandbox: &Path) -> Result<(), PgError> {
    stop_all(sandbox)?;
    for s in SERVERS {
        if let Some(dir) = load(sandbox, s.name).and_then(|c| c.outside) {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    Ok(())
}

/// Initialise server `s` of a new sandbox, start it and seed its
/// databases as of `now`.
pub fn create(
    sandbox: &Path,
    s: &Server,
    bindir: &Path,
    now: DateTime<Utc>,
) -> Result<Endpoint, PgError> {
    let dir = server_dir(sandbox, s.name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _lock = lock(sandbox, s.name)?;
    init(sandbox, s, bindir, now)
}

/// A new cluster for `s`: initdb, start, seed (the caller holds the lock).
fn init(
    sandbox: &Path,
    s: &Server,
    bindir: &Path,
    now: DateTime<Utc>,
) -> Result<Endpoint, PgError> {
    let (data, outside) = data_dir(sandbox, s.name)?;
    let mut c = as_server_user(&bindir.join("initdb"));
    c.arg("-D").arg(&data).args([
        "-U",
        s.superuser,
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--locale=C",
    ]);
    run(&mut c, &format!("initdb ({})", s.name))?;
    let cluster = Cluster {
        bindir: bindir.to_path_buf(),
        data,
        port: free_port()?,
        outside,
    };
    save(sandbox, s.name, &cluster)?;
    let ep = start(sandbox, s.name, cluster)?;
    for (db, seed) in s.databases {
        ep.psql("postgres", &format!("CREATE DATABASE {db}"))?;
        ep.psql(db, &seed_sql(*seed, now))?;
    }
    Ok(ep)
}

/// Where a new cluster's data goes: in the sandbox, or (as root, for
/// `nobody`) in a fresh private directory of the temp dir.
fn data_dir(sandbox: &Path, server: &str) -> Result<(PathBuf, Option<PathBuf>), PgError> {
    if !is_root() {
        return Ok((server_dir(sandbox, server).join("data"), None));
    }
    use std::os::unix::fs::DirBuilderExt;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let base = std::env::temp_dir().join(format!(
        "opsdeck-sandbox-pg-{server}-{}-{stamp}",
        std::process::id()
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&base)
        .map_err(|e| format!("a data dir for {server} in {}: {e}", base.display()))?;
    std::os::unix::fs::chown(&base, Some(65534), Some(65534))
        .map_err(|e| format!("{}: {e}", base.display()))?;
    Ok((base.join("data"), Some(base)))
}

/// The seeds' schemas with data as of `now` (deterministic: the same
/// estate time gives the same rows).
fn seed_sql(seed: Seed, now: DateTime<Utc>) -> String {
    let now = now.format("%Y-%m-%d %H:%M:%S+00");
    match seed {
        Seed::Calendar { calendars, events } => format!(
            "CREATE TABLE calendars (id serial PRIMARY KEY, owner text NOT NULL, name text NOT NULL, created_at timestamptz NOT NULL);
             CREATE TABLE feeds (id serial PRIMARY KEY, calendar_id int NOT NULL REFERENCES calendars(id), url text NOT NULL, last_synced_at timestamptz);
             CREATE TABLE events (id bigserial PRIMARY KEY, calendar_id int NOT NULL REFERENCES calendars(id), uid text NOT NULL, title text NOT NULL, starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL, location text);
             INSERT INTO calendars (owner, name, created_at) SELECT 'owner' || g || '@example.com', 'Calendar ' || g, TIMESTAMPTZ '{now}' - g * interval '37 minutes' FROM generate_series(1, {calendars}) g;
             INSERT INTO feeds (calendar_id, url, last_synced_at) SELECT g, 'https://feeds.example.com/' || g || '.ics', TIMESTAMPTZ '{now}' - (g % 90) * interval '1 minute' FROM generate_series(1, {calendars}) g;
             INSERT INTO events (calendar_id, uid, title, starts_at, ends_at, location) SELECT 1 + g % {calendars}, md5(g::text) || '@filter-ical', 'Event ' || g, TIMESTAMPTZ '{now}' + (g % 4000 - 2000) * interval '3 hours', TIMESTAMPTZ '{now}' + (g % 4000 - 2000) * interval '3 hours' + interval '1 hour', CASE WHEN g % 3 = 0 THEN NULL ELSE 'Room ' || g % 40 END FROM generate_series(1, {events}) g;
             CREATE INDEX ON events (starts_at);
             ANALYZE;"
        ),
        Seed::Bookings { clients, bookings } => format!(
            "CREATE TABLE clients (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, phone text, created_at timestamptz NOT NULL);
             CREATE TABLE therapists (id serial PRIMARY KEY, name text NOT NULL);
             CREATE TABLE bookings (id bigserial PRIMARY KEY, client_id int NOT NULL REFERENCES clients(id), therapist_id int NOT NULL REFERENCES therapists(id), starts_at timestamptz NOT NULL, minutes int NOT NULL, status text NOT NULL);
             CREATE TABLE payments (id bigserial PRIMARY KEY, booking_id bigint NOT NULL REFERENCES bookings(id), amount_cents int NOT NULL, paid_at timestamptz NOT NULL);
             INSERT INTO clients (name, email, phone, created_at) SELECT 'Client ' || g, 'client' || g || '@example.com', '+46 70 ' || lpad(g::text, 7, '0'), TIMESTAMPTZ '{now}' - g * interval '2 hours' FROM generate_series(1, {clients}) g;
             INSERT INTO therapists (name) SELECT 'Therapist ' || g FROM generate_series(1, 12) g;
             INSERT INTO bookings (client_id, therapist_id, starts_at, minutes, status) SELECT 1 + g % {clients}, 1 + g % 12, TIMESTAMPTZ '{now}' + (g % 3000 - 2500) * interval '90 minutes', (ARRAY[30, 60, 90])[1 + g % 3], (ARRAY['booked', 'done', 'cancelled'])[1 + g % 3] FROM generate_series(1, {bookings}) g;
             INSERT INTO payments (booking_id, amount_cents, paid_at) SELECT id, minutes * 1000, starts_at FROM bookings WHERE status = 'done';
             ANALYZE;"
        ),
        Seed::Pmo { projects, tasks } => format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN CREATE ROLE app LOGIN SUPERUSER PASSWORD 'app'; END IF; END $$;
             SET ROLE app;
             CREATE TABLE tenants (id text PRIMARY KEY, name text NOT NULL);
             CREATE TABLE clients (id uuid PRIMARY KEY, tenant_id text NOT NULL REFERENCES tenants(id), name text NOT NULL, created_at timestamptz NOT NULL);
             CREATE TABLE employees (id uuid PRIMARY KEY, tenant_id text NOT NULL REFERENCES tenants(id), name text NOT NULL, email text NOT NULL, title text);
             CREATE TABLE projects (id uuid PRIMARY KEY, tenant_id text NOT NULL REFERENCES tenants(id), client_id uuid NOT NULL REFERENCES clients(id), name text NOT NULL, status text NOT NULL, starts_on date NOT NULL);
             CREATE TABLE tasks (id uuid PRIMARY KEY, tenant_id text NOT NULL REFERENCES tenants(id), project_id uuid NOT NULL REFERENCES projects(id), assignee_id uuid REFERENCES employees(id), title text NOT NULL, status text NOT NULL, due_at timestamptz);
             INSERT INTO tenants VALUES ('demo', 'Demo Corp'), ('acme', 'Acme Ltd');
             INSERT INTO clients SELECT md5('client' || g)::uuid, (ARRAY['demo', 'acme'])[1 + g % 2], 'Client ' || g, TIMESTAMPTZ '{now}' - g * interval '1 day' FROM generate_series(1, 300) g;
             INSERT INTO employees SELECT md5('employee' || g)::uuid, (ARRAY['demo', 'acme'])[1 + g % 2], 'Employee ' || g, 'e' || g || '@cohuron.example.com', (ARRAY['engineer', 'manager', 'analyst'])[1 + g % 3] FROM generate_series(1, 150) g;
             INSERT INTO projects SELECT md5('project' || g)::uuid, (ARRAY['demo', 'acme'])[1 + g % 2], md5('client' || (1 + g % 300))::uuid, 'Project ' || g, (ARRAY['active', 'done', 'planned'])[1 + g % 3], (TIMESTAMPTZ '{now}' - g * interval '5 hours')::date FROM generate_series(1, {projects}) g;
             INSERT INTO tasks SELECT md5('task' || g)::uuid, p.tenant_id, p.id, md5('employee' || (1 + g % 150))::uuid, 'Task ' || g, (ARRAY['todo', 'doing', 'done'])[1 + g % 3], TIMESTAMPTZ '{now}' + (g % 200 - 100) * interval '1 day' FROM generate_series(1, {tasks}) g JOIN projects p ON p.id = md5('project' || (1 + g % {projects}))::uuid;
             ANALYZE;"
        ),
        Seed::Map { kind, rows } => format!(
            "CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied timestamptz NOT NULL);
             INSERT INTO django_migrations (app, name, applied) SELECT a, '000' || g || '_auto', TIMESTAMPTZ '{now}' - interval '40 days' + g * interval '1 day' FROM unnest(ARRAY['contenttypes', 'auth', 'core']) a, generate_series(1, 4) g;
             {}
             ANALYZE;",
            map_sql(kind, rows, &now.to_string())
        ),
    }
}

/// The tables of one MAP database, `rows` in its main table.
fn map_sql(kind: MapKind, rows: u32, now: &str) -> String {
    match kind {
        MapKind::Auth => format!(
            "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, first_name text NOT NULL, last_name text NOT NULL, is_active boolean NOT NULL, date_joined timestamptz NOT NULL);
             CREATE TABLE roles (id serial PRIMARY KEY, name text NOT NULL UNIQUE, system text NOT NULL);
             CREATE TABLE user_roles (user_id bigint NOT NULL REFERENCES users(id), role_id int NOT NULL REFERENCES roles(id), PRIMARY KEY (user_id, role_id));
             INSERT INTO users (email, first_name, last_name, is_active, date_joined) SELECT 'user' || g || '@mapactive.example', 'First' || g, 'Last' || g, g % 17 <> 0, TIMESTAMPTZ '{now}' - g * interval '3 hours' FROM generate_series(1, {rows}) g;
             INSERT INTO roles (name, system) SELECT r || ' ' || s, s FROM unnest(ARRAY['Admin', 'Agent', 'Viewer']) r, unnest(ARRAY['tts', 'ams', 'hdts', 'bms']) s;
             INSERT INTO user_roles SELECT g, 1 + g % 12 FROM generate_series(1, {rows}) g;"
        ),
        MapKind::Workflow => format!(
            "CREATE TABLE workflows (id serial PRIMARY KEY, name text NOT NULL, department text NOT NULL);
             CREATE TABLE steps (id serial PRIMARY KEY, workflow_id int NOT NULL REFERENCES workflows(id), name text NOT NULL, role text NOT NULL, ordering int NOT NULL);
             CREATE TABLE tickets (id bigserial PRIMARY KEY, ticket_number text NOT NULL UNIQUE, workflow_id int NOT NULL REFERENCES workflows(id), current_step_id int REFERENCES steps(id), status text NOT NULL, priority text NOT NULL, created_at timestamptz NOT NULL);
             INSERT INTO workflows (name, department) SELECT 'Workflow ' || g, (ARRAY['IT', 'HR', 'Finance', 'Facilities'])[1 + g % 4] FROM generate_series(1, 24) g;
             INSERT INTO steps (workflow_id, name, role, ordering) SELECT w, 'Step ' || o, (ARRAY['Agent', 'Admin'])[1 + o % 2], o FROM generate_series(1, 24) w, generate_series(1, 4) o;
             INSERT INTO tickets (ticket_number, workflow_id, current_step_id, status, priority, created_at) SELECT 'TX' || lpad(g::text, 6, '0'), 1 + g % 24, 1 + g % 96, (ARRAY['open', 'in_progress', 'resolved', 'closed'])[1 + g % 4], (ARRAY['low', 'medium', 'high', 'critical'])[1 + g % 4], TIMESTAMPTZ '{now}' - g * interval '47 minutes' FROM generate_series(1, {rows}) g;"
        ),
        MapKind::Helpdesk => format!(
            "CREATE TABLE tickets (id bigserial PRIMARY KEY, subject text NOT NULL, status text NOT NULL, priority text NOT NULL, employee_email text NOT NULL, created_at timestamptz NOT NULL);
             CREATE TABLE comments (id bigserial PRIMARY KEY, ticket_id bigint NOT NULL REFERENCES tickets(id), body text NOT NULL, created_at timestamptz NOT NULL);
             INSERT INTO tickets (subject, status, priority, employee_email, created_at) SELECT 'Ticket ' || g, (ARRAY['new', 'open', 'pending', 'resolved'])[1 + g % 4], (ARRAY['low', 'medium', 'high'])[1 + g % 3], 'user' || (1 + g % 3000) || '@mapactive.example', TIMESTAMPTZ '{now}' - g * interval '61 minutes' FROM generate_series(1, {rows}) g;
             INSERT INTO comments (ticket_id, body, created_at) SELECT 1 + g % {rows}, 'Comment ' || g, TIMESTAMPTZ '{now}' - g * interval '29 minutes' FROM generate_series(1, {rows} * 2) g;"
        ),
        MapKind::Notifications => format!(
            "CREATE TABLE notifications (id bigserial PRIMARY KEY, user_email text NOT NULL, channel text NOT NULL, subject text NOT NULL, sent_at timestamptz NOT NULL, read_at timestamptz);
             INSERT INTO notifications (user_email, channel, subject, sent_at, read_at) SELECT 'user' || (1 + g % 3000) || '@mapactive.example', (ARRAY['email', 'inapp'])[1 + g % 2], 'Ticket update ' || g, TIMESTAMPTZ '{now}' - interval '3 hours' - g * interval '7 minutes', CASE WHEN g % 3 = 0 THEN NULL ELSE TIMESTAMPTZ '{now}' - g * interval '5 minutes' END FROM generate_series(1, {rows}) g;"
        ),
        MapKind::Assets => format!(
            "CREATE TABLE assets (id bigserial PRIMARY KEY, tag text NOT NULL UNIQUE, name text NOT NULL, category text NOT NULL, status text NOT NULL, purchased_on date NOT NULL, cost_cents bigint NOT NULL);
             CREATE TABLE checkouts (id bigserial PRIMARY KEY, asset_id bigint NOT NULL REFERENCES assets(id), employee_id int NOT NULL, checked_out_at timestamptz NOT NULL, returned_at timestamptz);
             INSERT INTO assets (tag, name, category, status, purchased_on, cost_cents) SELECT 'AST-' || lpad(g::text, 6, '0'), (ARRAY['Laptop', 'Monitor', 'Phone', 'Desk'])[1 + g % 4] || ' ' || g, (ARRAY['IT', 'Furniture'])[1 + g % 2], (ARRAY['available', 'checked_out', 'repair'])[1 + g % 3], (TIMESTAMPTZ '{now}' - g * interval '9 hours')::date, 10000 + g * 37 FROM generate_series(1, {rows}) g;
             INSERT INTO checkouts (asset_id, employee_id, checked_out_at, returned_at) SELECT 1 + g % {rows}, 1 + g % 1200, TIMESTAMPTZ '{now}' - g * interval '2 hours', CASE WHEN g % 4 = 0 THEN NULL ELSE TIMESTAMPTZ '{now}' - g * interval '1 hour' END FROM generate_series(1, {rows} + {rows} / 2) g;"
        ),
        MapKind::Contexts => format!(
            "CREATE TABLE departments (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
             CREATE TABLE employees (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, department_id int NOT NULL REFERENCES departments(id));
             INSERT INTO departments (name) SELECT unnest(ARRAY['IT', 'HR', 'Finance', 'Facilities', 'Operations']);
             INSERT INTO employees (name, email, department_id) SELECT 'Employee ' || g, 'employee' || g || '@mapactive.example', 1 + g % 5 FROM generate_series(1, {rows}) g;"
        ),
        MapKind::Budget => format!(
            "CREATE TABLE budgets (id serial PRIMARY KEY, department text NOT NULL, fiscal_year int NOT NULL, amount_cents bigint NOT NULL, UNIQUE (department, fiscal_year));
             CREATE TABLE expenses (id bigserial PRIMARY KEY, budget_id int NOT NULL REFERENCES budgets(id), description text NOT NULL, amount_cents bigint NOT NULL, spent_on date NOT NULL);
             INSERT INTO budgets (department, fiscal_year, amount_cents) SELECT d, y, 100000000 + y FROM unnest(ARRAY['IT', 'HR', 'Finance', 'Facilities', 'Operations']) d, generate_series(2024, 2026) y;
             INSERT INTO expenses (budget_id, description, amount_cents, spent_on) SELECT 1 + g % 15, 'Expense ' || g, 1000 + g % 90000, (TIMESTAMPTZ '{now}' - g * interval '4 hours')::date FROM generate_series(1, {rows}) g;"
        ),
    }
}
