//! A deterministic simulation of the docker CLI for sandbox hosts.
//!
//! The sandbox cannot run a docker engine, so `docker` on a sandbox host's
//! PATH is a shim that calls `opsdeck __docker-sim …`. State lives in
//! `$OPSDECK_ROOT/var/lib/docker-sim/state.json`, guarded by a file lock.
//! Everything else a runbook does (git, bash, gzip) is real.
//!
//! Fault injection for drills: a file `BUILD_FAIL` in an app's checkout makes
//! the build fail, `HEALTH_FAIL` makes its containers unhealthy, and
//! `migrations/FAIL` makes `alembic upgrade head` fail, `NO_RECREATE` makes
//! `compose up` build the images but leave the containers (`compose.rs`).
//!
//! `docker compose` is v2; `docker-compose` (v1) is the same simulation. A
//! host whose tree has `NO_COMPOSE_V2` has only v1, as the multi-tenant
//! document's host does (its scripts call `docker-compose`).

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

pub use super::sim_state::{
    SimContainer, SimState, docker_duration, load_state, now_epoch, save_state, short_id, sim_dump,
};
use super::sim_state::{Store, flag_value, image_id, positional};

mod compose;
mod disk;
mod platform;
use compose::compose;
pub use compose::compose_services;
use disk::{disk, volume};
use platform::{certbot, nginx};

fn delay() -> Duration {
    let ms = std::env::var("OPSDECK_SIM_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    Duration::from_millis(ms)
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

type Res = Result<i32, Box<dyn std::error::Error>>;

/// `docker image inspect [--format F] NAME…`: an image built here or one
/// its containers were pulled from.
fn image_inspect(root: &Path, rest: &[String], out: &mut impl Write) -> Res {
    let st = Store::open(root)?.load();
    let fmt = flag_value(rest, &["--format", "-f"]);
    let names = positional(&rest[1..], &["--format", "-f"]);
    let mut found = Vec::new();
    for n in &names {
        let known = st.images.contains_key(n) || st.containers.iter().any(|c| &c.image == n);
        if !known {
            eprintln!("Error response from daemon: No such image: {n}");
            return Ok(1);
        }
        found.push(json!({"Id": st.image_id(n), "RepoTags": [n]}));
    }
    print_inspected(out, fmt.as_deref(), &found)
}

/// What `inspect` found, as docker prints it: each through `--format`, or
/// all as a JSON array.
fn print_inspected(out: &mut impl Write, fmt: Option<&str>, found: &[Value]) -> Res {
    match fmt {
        Some(f) => {
            for v in found {
                writeln!(out, "{}", render_template(f, v))?;
            }
        }
        None => writeln!(out, "{}", serde_json::to_string_pretty(found)?)?,
    }
    Ok(0)
}

pub use super::sim_state::NO_COMPOSE_V2;

/// What a queue holds once its consumer has caught up.
const DRAINED: u64 = 2;

pub(super) fn run(root: &Path, args: &[String], out: &mut impl Write) -> Res {
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
                    && let Some(v) = f.strip_prefix("volume=")
                    && !c.volumes.iter().any(|x| x == v)
                {
                    continue;
                }
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
        "image" if rest.first().is_some_and(|s| s == "inspect") => image_inspect(root, rest, out),
        "image" | "builder" | "system" => disk(root, cmd, rest, out),
        "volume" => volume(root, rest, out),
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
            print_inspected(out, fmt.as_deref(), &found)
        }
        "stats" => {
            let st = Store::open(root)?.load();
            let fmt = flag_value(rest, &["--format"]);
            let running: Vec<&SimContainer> = st
                .containers
                .iter()
                .filter(|c| c.state == "running")
                .collect();
            match &fmt {
                Some(f) => {
                    for c in running {
                        writeln!(out, "{}", render_template(f, &stats_json(c)))?;
                    }
                }
                None => write!(out, "{}", stats_table(&running))?,
            }
            Ok(0)
        }
        "stop" | "start" | "restart" => lifecycle(root, cmd, rest, now, out),
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
        // `docker compose` (v2); a host whose tree has NO_COMPOSE_V2 has
        // only `docker-compose` (v1), as the multi-tenant document's does.
        "compose" if root.join(NO_COMPOSE_V2).exists() => {
            eprintln!("docker: 'compose' is not a docker command.\nSee 'docker --help'");
            Ok(1)
        }
        "compose" | "compose-v1" if rest.first().map(String::as_str) == Some("version") => {
            if cmd == "compose" {
                writeln!(
                    out,
                    "Docker Compose version v2.29.1 (opsdeck sandbox simulation)"
                )?;
            } else {
                writeln!(
                    out,
                    "docker-compose version 1.29.2, build 5becea4c (opsdeck sandbox simulation)"
                )?;
            }
            Ok(0)
        }
        "compose" | "compose-v1" => compose(root, rest, out),
        other => {
            eprintln!("docker (simulated): '{other}' is not simulated");
            Ok(1)
        }
    }
}

/// `docker stop|start|restart NAME…`: a restarted worker drains what piled
/// up in its queues without it.
fn lifecycle(root: &Path, cmd: &str, rest: &[String], now: i64, out: &mut impl Write) -> Res {
    let store = Store::open(root)?;
    let mut st = store.load();
    for n in positional(rest, &["-t", "--time"]) {
        let Some(c) = st.containers.iter_mut().find(|c| c.name == n || c.id == n) else {
            eprintln!("Error response from daemon: No such container: {n}");
            return Ok(1);
        };
        if cmd == "stop" {
            c.state = "exited".into();
            c.exit_code = 0;
        } else {
            c.restarts += u32::from(cmd == "restart");
            c.state = "running".into();
            c.started_epoch = now;
            if cmd == "restart" {
                // A worker back at work drains what piled up without it.
                let service = c.service.clone();
                for q in st.queues.iter_mut().filter(|q| q.consumer == service) {
                    q.messages = q.messages.min(DRAINED);
                }
            }
        }
        writeln!(out, "{n}")?;
    }
    store.save(&st)?;
    Ok(0)
}

/// One container's `docker stats` fields, as `--format '{{json .}}'` gives them.
fn stats_json(c: &SimContainer) -> Value {
    // The host has 3.8 GiB; the traffic figures are steady per container.
    let mem_centi = u64::from(c.mem_mib) * 10_000 / (38 * 1024 / 10);
    let seed = c
        .name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 997;
    json!({
        "Name": c.name,
        "ID": c.id,
        "Container": c.id,
        "CPUPerc": format!("{}.{:02}%", c.cpu_centi / 100, c.cpu_centi % 100),
        "MemUsage": format!("{}MiB / 3.8GiB", c.mem_mib),
        "MemPerc": format!("{}.{:02}%", mem_centi / 100, mem_centi % 100),
        "NetIO": format!("{}.{}MB / {}kB", seed / 10, seed % 10, 100 + seed),
        "BlockIO": format!("{}MB / {}kB", 4 + seed % 40, 8 * (1 + seed % 50)),
        "PIDs": (1 + seed % 23).to_string(),
    })
}

/// `docker stats --no-stream` without `--format`: docker's table, its
/// headers, columns padded to the widest cell and three spaces.
fn stats_table(running: &[&SimContainer]) -> String {
    const COLUMNS: [(&str, &str); 8] = [
        ("CONTAINER ID", "ID"),
        ("NAME", "Name"),
        ("CPU %", "CPUPerc"),
        ("MEM USAGE / LIMIT", "MemUsage"),
        ("MEM %", "MemPerc"),
        ("NET I/O", "NetIO"),
        ("BLOCK I/O", "BlockIO"),
        ("PIDS", "PIDs"),
    ];
    let mut rows = vec![COLUMNS.map(|(h, _)| h.to_string())];
    for c in running {
        let v = stats_json(c);
        rows.push(COLUMNS.map(|(_, k)| {
            let cell = v[k].as_str().unwrap_or_default();
            // docker shows a 12-character id.
            if k == "ID" {
                cell.chars().take(12).collect()
            } else {
                cell.to_string()
            }
        }));
    }
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
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
            "rabbitmq" => format!(
                "{ts} [info] <0.{}.0> accepting AMQP connection 172.18.0.{}:5{:04} -> 172.18.0.3:5672",
                900 + i,
                i % 9 + 2,
                i
            ),
            "kong" => format!(
                "{ts} 10.0.0.{} - - \"{} /api/{} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0\" kong_request_id: \"{}\"",
                i % 250,
                ["GET", "POST", "GET", "GET"][i % 4],
                ["auth/token", "tickets", "assets", "budgets"][i % 4],
                if i % 61 == 0 { 504 } else { 200 },
                256 + i * 5,
                &short_id(&format!("kong{i}"))[..8]
            ),
            worker if worker.ends_with("-worker") => {
                if c.state != "running" && i + 3 >= n {
                    // The last words of a worker that stopped.
                    [
                        format!("{ts} [ERROR/MainProcess] consumer: Cannot connect to amqp://map:**@rabbitmq:5672//: [Errno 111] Connection refused."),
                        format!("{ts} [CRITICAL/MainProcess] Unrecoverable error: OperationalError('connection to server at \"postgres\" (172.18.0.4), port 5432 failed: FATAL:  remaining connection slots are reserved')"),
                        format!("{ts} [INFO/MainProcess] worker: Warm shutdown (MainProcess)"),
                    ][i + 3 - n]
                        .clone()
                } else {
                    format!(
                        "{ts} [INFO/ForkPoolWorker-{}] Task {}[{}] succeeded in {}.{:03}s: None",
                        i % 4 + 1,
                        celery_task(worker, i),
                        uuid_like(&format!("{}{i}", c.name)),
                        i % 3,
                        (i * 37) % 1000
                    )
                }
            }
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

/// A task name a Celery worker of the MAP system runs.
fn celery_task(worker: &str, i: usize) -> &'static str {
    let tasks: &[&str] = match worker {
        "notification-worker" => &[
            "notifications.send_email",
            "notifications.create_inapp",
            "notifications.sync_user_email",
        ],
        "workflow-worker" => &[
            "workflows.execute_step",
            "workflows.role_send_default",
            "workflows.seed",
        ],
        "auth-worker" => &["auth.sync_roles", "auth.sync_user"],
        _ => &["helpdesk.process_ticket", "helpdesk.escalate"],
    };
    tasks[i % tasks.len()]
}

fn uuid_like(seed: &str) -> String {
    let a = short_id(seed);
    let b = short_id(&format!("{seed}#"));
    format!(
        "{}-{}-4{}-a{}-{}",
        &a[..8],
        &a[8..12],
        &b[..3],
        &b[3..6],
        &b[..12]
    )
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
    if let Some(code) = real_pg_client(root, name, rest, out)? {
        return Ok(code);
    }
    let db = flag_value(rest, &["-d", "--dbname"]).unwrap_or_else(|| "postgres".into());
    // The command as given (its own flags kept): after exec's options and the name.
    let mut raw = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        if matches!(a.as_str(), "-u" | "--user" | "-e" | "--env" | "-w") {
            it.next();
        } else if !a.starts_with('-') {
            raw.extend(it.cloned());
            break;
        }
    }
    match cmd.first().map(String::as_str) {
        Some("certbot") => certbot(root, &raw, out),
        Some("nginx") => nginx(root, &raw, out),
        Some("rabbitmqctl") if cmd.get(1).map(String::as_str) == Some("list_queues") => {
            if st.queues.is_empty() {
                eprintln!(
                    "Error: unable to perform an operation on node 'rabbit@{name}': not a broker"
                );
                return Ok(69);
            }
            for q in &st.queues {
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    q.name,
                    q.messages,
                    st.consumers(&q.consumer)
                )?;
            }
            Ok(0)
        }
        Some("pg_dump") => {
            // A dump takes a while, as docker's steps do (OPSDECK_SIM_DELAY_MS).
            std::thread::sleep(delay());
            write!(out, "{}", sim_dump(&db))?;
            Ok(0)
        }
        Some("psql") if rest.iter().any(|a| a == "-c" || a == "--command") => {
            eprintln!(
                "psql (opsdeck sandbox): the sandbox's PostgreSQL is simulated and answers no queries; for real databases install the server ({}) and run `opsdeck sandbox reset`, or use via=tcp against a real PostgreSQL",
                super::pg_real::INSTALL_HINT
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

/// The PostgreSQL client tools a database container answers for real.
const PG_CLIENTS: &[&str] = &[
    "psql",
    "pg_dump",
    "pg_dumpall",
    "pg_restore",
    "pg_isready",
    "createdb",
    "dropdb",
];

/// `docker exec [-i] CONTAINER psql|pg_dump|… ARGS` on a database container
/// of a sandbox with real servers: the real client, with these ARGS, against
/// the container's server (started if it is idle). `None` when simulated.
fn real_pg_client(
    root: &Path,
    container: &str,
    rest: &[String],
    out: &mut impl Write,
) -> std::io::Result<Option<i32>> {
    let Some(sandbox) = root.parent().and_then(Path::parent) else {
        return Ok(None);
    };
    let host = super::estate::machines::origin_host(root);
    let Some(server) = super::pg_real::server_of(&host, container) else {
        return Ok(None);
    };
    if !super::pg_real::is_real(sandbox) {
        return Ok(None);
    }
    // The command and its arguments as given: after the container's name.
    let mut i = 0;
    while i < rest.len() && rest[i].starts_with('-') {
        i += if ["-u", "--user", "-e", "--env", "-w", "--workdir"].contains(&rest[i].as_str()) {
            2
        } else {
            1
        };
    }
    let cmd = rest.get(i + 1..).unwrap_or(&[]);
    let Some(tool) = cmd.first().filter(|t| PG_CLIENTS.contains(&t.as_str())) else {
        return Ok(None);
    };
    let ep = match super::pg_real::ensure(sandbox, server.name) {
        Ok(ep) => ep,
        Err(e) => {
            eprintln!(
                "{tool}: the sandbox's PostgreSQL ({}) is not available: {e}",
                server.name
            );
            return Ok(Some(2));
        }
    };
    out.flush()?;
    let _busy = super::pg_real::in_use(sandbox, server.name);
    let st = std::process::Command::new(ep.bindir.join(tool))
        .args(&cmd[1..])
        .envs(ep.client_env())
        .status()?;
    Ok(Some(st.code().unwrap_or(1)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
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
