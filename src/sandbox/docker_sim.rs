//! A deterministic simulation of the docker CLI for sandbox hosts.
//!
//! The sandbox cannot run a docker engine, so `docker` on a sandbox host's
//! PATH is a shim that calls `opsdeck __docker-sim …`. State lives in
//! `$OPSDECK_ROOT/var/lib/docker-sim/state.json`, guarded by a file lock.
//! Everything else a runbook does (git, bash, gzip) is real.
//!
//! Fault injection for drills: a file `BUILD_FAIL` in an app's checkout makes
//! the build fail, `HEALTH_FAIL` makes its containers unhealthy, and
//! `migrations/FAIL` makes `alembic upgrade head` fail.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SimState {
    pub containers: Vec<SimContainer>,
    /// compose project → applied migration names.
    #[serde(default)]
    pub migrations: BTreeMap<String, Vec<String>>,
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

fn delay() -> Duration {
    let ms = std::env::var("OPSDECK_SIM_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    Duration::from_millis(ms)
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

    fn ps_json(&self, now: i64) -> Value {
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
        })
    }

    fn inspect_json(&self, now: i64) -> Value {
        let mut state = json!({
            "Status": self.state,
            "Running": self.state == "running",
            "ExitCode": self.exit_code,
        });
        if self.healthcheck {
            state["Health"] = json!({"Status": self.health(now)});
        }
        json!({
            "Id": self.id,
            "Name": format!("/{}", self.name),
            "RestartCount": self.restarts,
            "State": state,
            "Config": {"Image": self.image, "Labels": self.labels},
            "HostConfig": {
                "Memory": self.mem_limit_mib * 1024 * 1024,
                "NanoCpus": self.cpu_limit_milli * 1_000_000,
            },
        })
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

/// Render docker's Go templates for the few forms runbooks use:
/// `{{json .}}` and `{{.Field.Sub}}`.
pub fn render_template(tpl: &str, v: &Value) -> String {
    let mut out = String::new();
    let mut rest = tpl;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = rest[start + 2..start + end].trim();
        if expr == "json ." {
            out.push_str(&v.to_string());
        } else if let Some(args) = expr.strip_prefix("index .") {
            // {{index .Config.Labels "key"}}
            let (path, key) = args.split_once(' ').unwrap_or((args, ""));
            let mut cur = v;
            for part in path.split('.') {
                cur = cur.get(part).unwrap_or(&Value::Null);
            }
            match cur.get(key.trim().trim_matches('"')) {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => out.push_str("<no value>"),
            }
        } else if let Some(path) = expr.strip_prefix('.') {
            let mut cur = v;
            for part in path.split('.') {
                cur = cur.get(part).unwrap_or(&Value::Null);
            }
            match cur {
                Value::String(s) => out.push_str(s),
                Value::Null => out.push_str("<no value>"),
                other => out.push_str(&other.to_string()),
            }
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

struct Store {
    path: PathBuf,
    lock: std::fs::File,
}

impl Store {
    fn open(root: &Path) -> std::io::Result<Self> {
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
    fn load(&self) -> SimState {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }
    fn save(&self, st: &SimState) -> std::io::Result<()> {
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

/// Entry point of `opsdeck __docker-sim ARGS…`; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    // `curl` on sandbox hosts answers from the simulated estate.
    if args.first().map(String::as_str) == Some("curl") {
        let root = std::env::var_os("OPSDECK_ROOT").map(PathBuf::from);
        return curl(root.as_deref(), &args[1..]);
    }
    // `aws s3 sync` on sandbox hosts writes into the sandbox's buckets.
    if args.first().map(String::as_str) == Some("aws") {
        let root = std::env::var_os("OPSDECK_ROOT").map(PathBuf::from);
        return match aws(root.as_deref(), &args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("aws (simulated): {e}");
                1
            }
        };
    }
    if std::env::var_os("OPSDECK_SIM_NO_DOCKER").is_some() {
        eprintln!("bash: docker: command not found");
        return 127;
    }
    let Some(root) = std::env::var_os("OPSDECK_ROOT").map(PathBuf::from) else {
        eprintln!(
            "opsdeck docker simulation: OPSDECK_ROOT is not set (only sandbox hosts have it)"
        );
        return 125;
    };
    let out = std::io::stdout();
    let mut out = out.lock();
    match run(&root, args, &mut out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("docker (simulated): {e}");
            1
        }
    }
}

type Res = Result<i32, Box<dyn std::error::Error>>;

fn flag_value(args: &[String], names: &[&str]) -> Option<String> {
    args.iter()
        .position(|a| names.contains(&a.as_str()))
        .and_then(|i| args.get(i + 1).cloned())
}

/// Arguments without option flags (and the values of the flags that take one).
fn positional(args: &[String], with_value: &[&str]) -> Vec<String> {
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

fn run(root: &Path, args: &[String], out: &mut impl Write) -> Res {
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => {
            eprintln!("Usage: docker [OPTIONS] COMMAND (simulated)");
            return Ok(1);
        }
    };
    let now = now_epoch();
    match cmd {
        "ps" => {
            let store = Store::open(root)?;
            let st = store.load();
            let all = rest.iter().any(|a| a == "-a" || a == "--all");
            let quiet = rest
                .iter()
                .any(|a| a == "-q" || a == "-aq" || a == "--quiet");
            let all = all || rest.iter().any(|a| a == "-aq");
            let fmt = flag_value(rest, &["--format"]);
            let filter = flag_value(rest, &["--filter", "-f"]);
            for c in st
                .containers
                .iter()
                .filter(|c| all || c.state == "running" || c.state == "restarting")
            {
                if let Some(f) = &filter
                    && let Some(lbl) = f.strip_prefix("label=")
                {
                    let (k, v) = lbl.split_once('=').unwrap_or((lbl, ""));
                    if c.labels.get(k).map(String::as_str) != Some(v) {
                        continue;
                    }
                }
                if quiet {
                    writeln!(out, "{}", c.id)?;
                } else if let Some(f) = &fmt {
                    writeln!(out, "{}", render_template(f, &c.ps_json(now)))?;
                } else {
                    writeln!(out, "{}\t{}\t{}\t{}", c.id, c.image, c.status(now), c.name)?;
                }
            }
            Ok(0)
        }
        "inspect" => {
            let st = Store::open(root)?.load();
            let fmt = flag_value(rest, &["--format", "-f"]);
            let names = positional(rest, &["--format", "-f", "--type"]);
            let mut found = Vec::new();
            for n in &names {
                match st.containers.iter().find(|c| &c.name == n || &c.id == n) {
                    Some(c) => found.push(c.inspect_json(now)),
                    None => {
                        eprintln!("Error: No such object: {n}");
                        return Ok(1);
                    }
                }
            }
            match fmt {
                Some(f) => {
                    for v in &found {
                        writeln!(out, "{}", render_template(&f, v))?;
                    }
                }
                None => writeln!(out, "{}", serde_json::to_string_pretty(&found)?)?,
            }
            Ok(0)
        }
        "stats" => {
            let st = Store::open(root)?.load();
            let fmt = flag_value(rest, &["--format"]);
            for c in st.containers.iter().filter(|c| c.state == "running") {
                let v = json!({
                    "Name": c.name,
                    "ID": c.id,
                    "CPUPerc": format!("{}.{:02}%", c.cpu_centi / 100, c.cpu_centi % 100),
                    "MemUsage": format!("{}MiB / 3.8GiB", c.mem_mib),
                });
                match &fmt {
                    Some(f) => writeln!(out, "{}", render_template(f, &v))?,
                    None => writeln!(out, "{}\t{}\t{}", c.name, v["CPUPerc"], v["MemUsage"])?,
                }
            }
            Ok(0)
        }
        "restart" => {
            let store = Store::open(root)?;
            let mut st = store.load();
            for n in positional(rest, &["-t", "--time"]) {
                let Some(c) = st.containers.iter_mut().find(|c| c.name == n || c.id == n) else {
                    eprintln!("Error response from daemon: No such container: {n}");
                    return Ok(1);
                };
                c.restarts += 1;
                c.state = "running".into();
                c.started_epoch = now;
                writeln!(out, "{n}")?;
            }
            store.save(&st)?;
            Ok(0)
        }
        "logs" => {
            let st = Store::open(root)?.load();
            let tail: usize = flag_value(rest, &["--tail", "-n"])
                .and_then(|t| t.parse().ok())
                .unwrap_or(100);
            let names = positional(rest, &["--tail", "-n", "--since"]);
            let Some(c) = names
                .first()
                .and_then(|n| st.containers.iter().find(|c| &c.name == n))
            else {
                eprintln!("Error: No such container: {}", names.join(" "));
                return Ok(1);
            };
            for line in sim_logs(c, now, tail) {
                writeln!(out, "{line}")?;
            }
            Ok(0)
        }
        "info" => {
            let st = Store::open(root)?.load();
            let running = st
                .containers
                .iter()
                .filter(|c| c.state == "running")
                .count();
            writeln!(
                out,
                "Server:\n Containers: {}\n  Running: {running}\n Server Version: 24.0.7 (opsdeck sandbox simulation)",
                st.containers.len()
            )?;
            Ok(0)
        }
        "exec" => exec(root, rest, out),
        "compose" => compose(root, rest, out),
        other => {
            eprintln!("docker (simulated): '{other}' is not simulated");
            Ok(1)
        }
    }
}

fn sim_logs(c: &SimContainer, now: i64, tail: usize) -> Vec<String> {
    let n = 200usize;
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        let t = now - ((n - i) as i64) * 37;
        let ts = chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ");
        let line = match c.service.as_str() {
            "nginx" | "web" | "frontend" => format!(
                "{ts} 10.0.{}.{} - - \"GET /{} HTTP/1.1\" {} {}",
                i % 4,
                (i * 7) % 250,
                ["", "api/health", "assets/app.js", "calendar.ics"][i % 4],
                if i % 53 == 0 { 502 } else { 200 },
                512 + i * 3
            ),
            "postgres" => format!("{ts} LOG:  checkpoint complete: wrote {} buffers", i % 90),
            _ => format!(
                "{ts} INFO:     {} \"GET /api/{} HTTP/1.1\" {}",
                format_args!("172.18.0.{}:4{:04}", i % 9 + 2, i),
                ["health", "events", "domains", "sync"][i % 4],
                if i % 41 == 0 { 500 } else { 200 }
            ),
        };
        lines.push(line);
    }
    let skip = lines.len().saturating_sub(tail);
    lines.split_off(skip)
}

fn exec(root: &Path, rest: &[String], out: &mut impl Write) -> Res {
    let pos = positional(rest, &["-u", "--user", "-e", "--env", "-w"]);
    let Some((name, cmd)) = pos.split_first() else {
        eprintln!("docker exec: container name required");
        return Ok(1);
    };
    let st = Store::open(root)?.load();
    let Some(c) = st.containers.iter().find(|c| &c.name == name) else {
        eprintln!("Error response from daemon: No such container: {name}");
        return Ok(1);
    };
    if c.state != "running" {
        eprintln!("Error response from daemon: container {name} is not running");
        return Ok(1);
    }
    let db = flag_value(rest, &["-d", "--dbname"]).unwrap_or_else(|| "postgres".into());
    let now = now_epoch();
    match cmd.first().map(String::as_str) {
        Some("certbot") if cmd.get(1).map(String::as_str) == Some("certificates") => {
            writeln!(
                out,
                "Saving debug log to /var/log/letsencrypt/letsencrypt.log\n"
            )?;
            writeln!(
                out,
                "- - - - - - - - - - - - - - - - - - - - - - - - - - - -"
            )?;
            writeln!(out, "Found the following certs:")?;
            for (domain, days) in [
                ("filter-ical.example.com", 64),
                ("gabs-massage.example.com", 12),
                ("paiss.example.com", 45),
            ] {
                let expiry = chrono::DateTime::from_timestamp(now + days * 86_400, 0)
                    .unwrap_or_default()
                    .format("%Y-%m-%d %H:%M:%S+00:00");
                writeln!(out, "  Certificate Name: {domain}")?;
                writeln!(out, "    Domains: {domain}")?;
                writeln!(out, "    Expiry Date: {expiry} (VALID: {days} days)")?;
                writeln!(
                    out,
                    "    Certificate Path: /etc/letsencrypt/live/{domain}/fullchain.pem"
                )?;
            }
            writeln!(
                out,
                "- - - - - - - - - - - - - - - - - - - - - - - - - - - -"
            )?;
            Ok(0)
        }
        Some("rabbitmqctl") if cmd.get(1).map(String::as_str) == Some("list_queues") => {
            for (q, n, consumers) in [
                ("orders.created", 14, 2),
                ("documents.ocr", 4_213, 1),
                ("notifications.email", 3, 1),
                ("reports.nightly", 0, 0),
            ] {
                writeln!(out, "{q}\t{n}\t{consumers}")?;
            }
            Ok(0)
        }
        Some("pg_dump") => {
            write!(out, "{}", sim_dump(&db))?;
            Ok(0)
        }
        Some("psql") if rest.iter().any(|a| a == "-c" || a == "--command") => {
            eprintln!(
                "psql (opsdeck sandbox): the sandbox's PostgreSQL is simulated and answers no queries; run the database runbooks with via=tcp against a real PostgreSQL"
            );
            Ok(2)
        }
        Some("psql") => {
            let mut input = String::new();
            let _ = std::io::stdin().read_to_string(&mut input);
            let n = input.matches(';').count();
            writeln!(out, "-- psql (simulated) on {db}: {n} statements applied")?;
            Ok(0)
        }
        Some(other) => {
            writeln!(out, "(simulated) {other} ran in {name}")?;
            Ok(0)
        }
        None => Ok(0),
    }
}

/// `curl` on a sandbox host. PMO's API answers on localhost:4000
/// (/api/health, /api/v1/s3-backend/health); a tenant's domain
/// (`https://{app}[-{env}].example.com/…`) answers 200 when every container
/// of its project is healthy and 503 otherwise; anything else is refused.
fn curl(root: Option<&Path>, args: &[String]) -> i32 {
    let fail_on_error = args.iter().any(|a| {
        a == "-f"
            || a == "--fail"
            || (a.starts_with('-') && !a.starts_with("--") && a.contains('f') && a.len() <= 4)
    });
    let write_out = flag_value(args, &["-w", "--write-out"]);
    let to_null = flag_value(args, &["-o", "--output"]).is_some_and(|o| o == "/dev/null");
    let pos = positional(
        args,
        &[
            "-w",
            "--write-out",
            "-o",
            "--output",
            "-m",
            "--max-time",
            "-H",
        ],
    );
    let Some(url) = pos.last() else {
        eprintln!("curl: no URL specified");
        return 2;
    };
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host_id = std::env::var("OPSDECK_HOST").unwrap_or_default();
    let now = now_epoch();
    let answer: Option<(u16, String)> =
        if hostport == "localhost:4000" && host_id == super::estate::PMO_HOST {
            match path {
                "/api/health" => Some((200, r#"{"status":"ok","database":"ok"}"#.into())),
                "/api/v1/s3-backend/health" => {
                    Some((200, r#"{"status":"ok","bucket":"pmo-documents"}"#.into()))
                }
                _ => Some((404, r#"{"error":"not found"}"#.into())),
            }
        } else if let Some(sub) = hostport.strip_suffix(".example.com") {
            let project = if sub.ends_with("-staging") || sub.ends_with("-production") {
                sub.to_string()
            } else {
                format!("{sub}-production")
            };
            let st = root
                .and_then(|r| Store::open(r).ok())
                .map(|s| s.load())
                .unwrap_or_default();
            let cs: Vec<_> = st
                .containers
                .iter()
                .filter(|c| c.project == project)
                .collect();
            if cs.is_empty() {
                None
            } else if cs
                .iter()
                .all(|c| c.state == "running" && matches!(c.health(now).as_str(), "healthy" | ""))
            {
                Some((200, r#"{"status":"ok"}"#.into()))
            } else {
                Some((503, "Service Unavailable".into()))
            }
        } else {
            None
        };
    let Some((code, body)) = answer else {
        eprintln!("curl: (7) Failed to connect to {hostport}: Connection refused");
        return 7;
    };
    if fail_on_error && code >= 400 {
        eprintln!("curl: (22) The requested URL returned error: {code}");
        return 22;
    }
    if !to_null {
        print!("{body}");
    }
    if let Some(w) = write_out {
        print!("{}", w.replace("%{http_code}", &code.to_string()));
    }
    0
}

/// `aws s3 sync DIR s3://BUCKET/PREFIX [--exclude GLOB]…` against the
/// sandbox estate's buckets: files missing there or of another size are
/// uploaded (a new version), like the real command.
fn aws(root: Option<&Path>, args: &[String]) -> Result<i32, Box<dyn std::error::Error>> {
    let pos = positional(args, &["--exclude", "--include", "--region", "--profile"]);
    let sandbox_dir = root
        .and_then(|r| r.parent()?.parent())
        .ok_or("not on a sandbox host")?
        .to_path_buf();
    if pos.first().map(String::as_str) == Some("s3") && pos.get(1).map(String::as_str) == Some("cp")
    {
        let (Some(src), Some(dst)) = (pos.get(2), pos.get(3)) else {
            eprintln!("usage: aws s3 cp s3://BUCKET/KEY FILE");
            return Ok(2);
        };
        let Some((bucket, key)) = src.strip_prefix("s3://").and_then(|r| r.split_once('/')) else {
            eprintln!(
                "aws (simulated): only downloads (aws s3 cp s3://BUCKET/KEY FILE) are simulated"
            );
            return Ok(2);
        };
        let data = super::s3_content(&sandbox_dir, bucket, key);
        let Some(from) = data.filter(|p| p.exists()) else {
            eprintln!(
                "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found (the sandbox keeps contents only for objects uploaded with aws s3 sync)"
            );
            return Ok(1);
        };
        std::fs::copy(&from, dst)?;
        println!("download: {src} to {dst}");
        return Ok(0);
    }
    if pos.first().map(String::as_str) != Some("s3")
        || pos.get(1).map(String::as_str) != Some("sync")
    {
        eprintln!(
            "aws (simulated): only `aws s3 sync DIR s3://BUCKET/PREFIX` and `aws s3 cp s3://… FILE` are simulated"
        );
        return Ok(2);
    }
    let (Some(src), Some(dst)) = (pos.get(2), pos.get(3)) else {
        eprintln!("usage: aws s3 sync DIR s3://BUCKET/PREFIX");
        return Ok(2);
    };
    let Some(rest) = dst.strip_prefix("s3://") else {
        eprintln!("aws (simulated): {dst} is not an s3:// URL");
        return Ok(2);
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let excludes: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--exclude")
        .map(|w| w[1].trim_start_matches('*'))
        .collect();
    let estate_path = sandbox_dir.join("estate.json");
    let mut estate: super::estate::Estate =
        serde_json::from_str(&std::fs::read_to_string(&estate_path)?)?;
    let Some(b) = estate.buckets.iter_mut().find(|b| b.name == bucket) else {
        eprintln!(
            "fatal error: An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist"
        );
        return Ok(1);
    };
    let mut files: Vec<(String, u64)> = std::fs::read_dir(src)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .filter(|(n, _)| !excludes.iter().any(|x| n.ends_with(x)))
        .collect();
    files.sort();
    let now = chrono::DateTime::from_timestamp(now_epoch(), 0).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    for (name, size) in files {
        let key = format!(
            "{prefix}{}{name}",
            if prefix.is_empty() || prefix.ends_with('/') {
                ""
            } else {
                "/"
            }
        );
        let current = b
            .objects
            .iter()
            .find(|o| o.key == key)
            .and_then(|o| o.versions.last())
            .filter(|v| !v.delete_marker)
            .map(|v| v.size);
        if current == Some(size) {
            continue;
        }
        super::s3_store(&sandbox_dir, bucket, &key, &Path::new(src).join(&name))?;
        let version = super::estate::SimVersion {
            version_id: super::estate::version_id_for(&format!("{key}:{size}:{}", now.timestamp())),
            size,
            last_modified: now,
            delete_marker: false,
            storage_class: "STANDARD".into(),
        };
        match b.objects.iter_mut().find(|o| o.key == key) {
            Some(o) => o.versions.push(version),
            None => b.objects.push(super::estate::SimObject {
                key: key.clone(),
                versions: vec![version],
            }),
        }
        writeln!(out, "upload: {src}/{name} to s3://{bucket}/{key}")?;
    }
    b.objects.sort_by(|x, y| x.key.cmp(&y.key));
    let tmp = estate_path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&estate)?)?;
    std::fs::rename(&tmp, &estate_path)?;
    Ok(0)
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

/// Service names of a compose file (two-space indented keys under `services:`),
/// each with whether it declares a healthcheck.
pub fn compose_services(text: &str) -> Vec<(String, bool)> {
    let mut services: Vec<(String, bool)> = Vec::new();
    let mut in_services = false;
    for line in text.lines() {
        if line.starts_with("services:") {
            in_services = true;
            continue;
        }
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_services = false;
        }
        if !in_services {
            continue;
        }
        if let Some(name) = line.strip_prefix("  ")
            && !name.starts_with(' ')
            && let Some(name) = name.trim_end().strip_suffix(':')
        {
            services.push((name.to_string(), false));
        } else if line.trim_start().starts_with("healthcheck:")
            && let Some(last) = services.last_mut()
        {
            last.1 = true;
        }
    }
    services
}

fn git_head(dir: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn compose(root: &Path, rest: &[String], out: &mut impl Write) -> Res {
    let Some(project) = flag_value(rest, &["-p", "--project-name"]) else {
        eprintln!("docker compose (simulated): -p PROJECT is required");
        return Ok(1);
    };
    // Tenants are `{app}-{env}` ({app}-{svc}-{env} containers); the
    // platform project has no env ({svc}-platform containers).
    let (app, env) = project.rsplit_once('-').unwrap_or((project.as_str(), ""));
    let container_name = |svc: &str| {
        if env.is_empty() {
            format!("{svc}-{app}")
        } else {
            format!("{app}-{svc}-{env}")
        }
    };
    let pos = positional(
        rest,
        &[
            "-p",
            "--project-name",
            "-f",
            "--file",
            "--format",
            "--tail",
            "-n",
        ],
    );
    let sub = pos.first().cloned().unwrap_or_default();
    let cwd = std::env::current_dir()?;
    let now = now_epoch();
    match sub.as_str() {
        "up" => {
            let file =
                flag_value(rest, &["-f", "--file"]).unwrap_or_else(|| "docker-compose.yml".into());
            let text = std::fs::read_to_string(cwd.join(&file))
                .map_err(|e| format!("no {file} in {}: {e}", cwd.display()))?;
            let services = compose_services(&text);
            let sha = git_head(&cwd);
            let short = &sha[..sha.len().min(7)];
            let build = rest.iter().any(|a| a == "--build");
            let d = delay();
            let mut step = 0;
            if build {
                for (svc, _) in &services {
                    for line in [
                        format!("[{svc} internal] load build definition from Dockerfile"),
                        format!("[{svc} 1/4] FROM docker.io/library/python:3.12-slim"),
                        format!("[{svc} 2/4] COPY requirements.txt ."),
                        format!("[{svc} 3/4] RUN pip install --no-cache-dir -r requirements.txt"),
                        format!("[{svc} 4/4] COPY . ."),
                    ] {
                        step += 1;
                        writeln!(out, "#{step} {line}")?;
                        out.flush()?;
                        std::thread::sleep(d);
                    }
                    if cwd.join("BUILD_FAIL").exists() {
                        writeln!(
                            out,
                            "#{step} ERROR: process \"/bin/sh -c pip install\" did not complete successfully: exit code: 1"
                        )?;
                        eprintln!("failed to solve: {svc}: exit code 1");
                        return Ok(17);
                    }
                    step += 1;
                    writeln!(
                        out,
                        "#{step} naming to docker.io/library/{project}-{svc}:latest (revision {short}) done"
                    )?;
                    out.flush()?;
                }
            }
            let store = Store::open(root)?;
            let mut st = store.load();
            let unhealthy = cwd.join("HEALTH_FAIL").exists();
            for (svc, hc) in &services {
                let name = container_name(svc);
                let mut labels = BTreeMap::new();
                labels.insert("com.docker.compose.project".into(), project.clone());
                labels.insert("com.docker.compose.service".into(), svc.clone());
                labels.insert("org.opencontainers.image.revision".into(), sha.clone());
                let old = st.containers.iter().find(|c| c.name == name).cloned();
                let restarts = 0;
                // Built services get a project image; pulled ones keep theirs.
                let image = match (&old, build) {
                    (Some(o), false) => o.image.clone(),
                    _ => format!("{project}-{svc}"),
                };
                st.containers.retain(|c| c.name != name);
                st.containers.push(SimContainer {
                    id: short_id(&format!("{name}:{sha}")),
                    name: name.clone(),
                    image,
                    project: project.clone(),
                    service: svc.clone(),
                    state: "running".into(),
                    exit_code: 0,
                    healthcheck: *hc,
                    target_health: if unhealthy { "unhealthy" } else { "healthy" }.into(),
                    restarts,
                    started_epoch: now,
                    created_epoch: now,
                    cpu_centi: 20 + (short_id(&name).len() as u32 * 13) % 300,
                    mem_mib: 60 + (name.len() as u32 * 11) % 200,
                    labels,
                    mem_limit_mib: old.as_ref().map_or(0, |o| o.mem_limit_mib),
                    cpu_limit_milli: old.as_ref().map_or(0, |o| o.cpu_limit_milli),
                });
                writeln!(out, " Container {name}  Recreated")?;
                writeln!(out, " Container {name}  Started")?;
                out.flush()?;
            }
            st.containers.sort_by(|a, b| a.name.cmp(&b.name));
            store.save(&st)?;
            Ok(0)
        }
        "ps" => {
            let st = Store::open(root)?.load();
            let services_only = rest.iter().any(|a| a == "--services");
            let fmt = flag_value(rest, &["--format"]);
            for c in st.containers.iter().filter(|c| c.project == project) {
                if services_only {
                    writeln!(out, "{}", c.service)?;
                } else if let Some(f) = &fmt {
                    let mut v = c.ps_json(now);
                    v["Name"] = json!(c.name);
                    v["Service"] = json!(c.service);
                    v["Health"] = json!(c.health(now));
                    writeln!(out, "{}", render_template(f, &v))?;
                } else {
                    writeln!(out, "{}\t{}\t{}", c.name, c.service, c.status(now))?;
                }
            }
            Ok(0)
        }
        "exec" => {
            let svc = pos.get(1).cloned().unwrap_or_default();
            let cmd: Vec<&str> = pos.iter().skip(2).map(String::as_str).collect();
            let store = Store::open(root)?;
            let mut st = store.load();
            if !st
                .containers
                .iter()
                .any(|c| c.project == project && c.service == svc && c.state == "running")
            {
                eprintln!("service \"{svc}\" is not running");
                return Ok(1);
            }
            if cmd.starts_with(&["alembic", "upgrade"]) {
                let mut files: Vec<String> = std::fs::read_dir(cwd.join("migrations"))
                    .map(|rd| {
                        rd.filter_map(|e| e.ok())
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .filter(|n| n.ends_with(".sql"))
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                writeln!(
                    out,
                    "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl."
                )?;
                let applied = st.migrations.entry(project.clone()).or_default();
                let mut prev = applied.last().cloned().unwrap_or_else(|| "base".into());
                for f in files {
                    if applied.contains(&f) {
                        continue;
                    }
                    std::thread::sleep(delay());
                    writeln!(
                        out,
                        "INFO  [alembic.runtime.migration] Running upgrade {prev} -> {f}"
                    )?;
                    out.flush()?;
                    if cwd.join("migrations/FAIL").exists() {
                        writeln!(
                            out,
                            "sqlalchemy.exc.ProgrammingError: (psycopg2.errors.DuplicateColumn) column already exists"
                        )?;
                        store.save(&st)?;
                        return Ok(1);
                    }
                    applied.push(f.clone());
                    prev = f;
                }
                store.save(&st)?;
                return Ok(0);
            }
            writeln!(
                out,
                "(simulated) {} ran in {app}-{svc}-{env}",
                cmd.join(" ")
            )?;
            Ok(0)
        }
        "stop" | "start" => {
            let store = Store::open(root)?;
            let mut st = store.load();
            for c in st.containers.iter_mut().filter(|c| c.project == project) {
                if sub == "stop" {
                    c.state = "exited".into();
                    c.exit_code = 0;
                    writeln!(out, " Container {}  Stopped", c.name)?;
                } else {
                    c.state = "running".into();
                    c.started_epoch = now;
                    writeln!(out, " Container {}  Started", c.name)?;
                }
            }
            store.save(&st)?;
            Ok(0)
        }
        "restart" => {
            let store = Store::open(root)?;
            let mut st = store.load();
            for c in st.containers.iter_mut().filter(|c| c.project == project) {
                c.restarts += 1;
                c.started_epoch = now;
                writeln!(out, " Container {}  Started", c.name)?;
            }
            store.save(&st)?;
            Ok(0)
        }
        other => {
            eprintln!("docker compose (simulated): '{other}' is not simulated");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_like_docker() {
        let v = json!({"Names": "web", "State": {"Health": {"Status": "healthy"}}});
        assert_eq!(render_template("{{.Names}}", &v), "web");
        assert_eq!(render_template("{{.State.Health.Status}}", &v), "healthy");
        assert_eq!(render_template("{{json .}}", &json!({"a":1})), "{\"a\":1}");
        assert_eq!(render_template("x {{.Nope}} y", &v), "x <no value> y");
    }

    #[test]
    fn reads_services_and_healthchecks_from_compose_files() {
        let text = "services:\n  backend:\n    build: ./backend\n    healthcheck:\n      test: [x]\n  frontend:\n    build: ./frontend\nnetworks:\n  platform:\n";
        assert_eq!(
            compose_services(text),
            vec![
                ("backend".to_string(), true),
                ("frontend".to_string(), false)
            ]
        );
    }

    #[test]
    fn durations_match_docker_wording() {
        assert_eq!(docker_duration(30), "30 seconds");
        assert_eq!(docker_duration(90), "About a minute");
        assert_eq!(docker_duration(3 * 3600), "3 hours");
        assert_eq!(docker_duration(3 * 86_400), "3 days");
    }
}
