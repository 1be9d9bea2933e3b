//! `docker compose` (simulated): `up` builds and recreates a project's
//! services from the compose file in the working directory, `ps`, `exec`
//! (alembic migrations), `stop`, `start`, `restart`.

use super::*;

/// One service of a compose file, as the simulation reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComposeService {
    pub name: String,
    pub healthcheck: bool,
    /// `container_name:` (else compose's `{project}-{service}` naming).
    pub container_name: Option<String>,
    /// `image:`: a built image is tagged with it (else `{project}-{service}`).
    pub image: Option<String>,
    /// Named volumes of `volumes: ["NAME:/path", …]`.
    pub volumes: Vec<String>,
}

/// The services of a compose file (two-space indented keys under
/// `services:`) with their healthcheck, container name and image.
pub fn compose_spec(text: &str) -> Vec<ComposeService> {
    let mut services: Vec<ComposeService> = Vec::new();
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
        let field = |key: &str| {
            line.strip_prefix("    ")
                .and_then(|l| l.strip_prefix(key))
                .map(|v| v.trim().trim_matches('"').to_string())
        };
        if let Some(name) = line.strip_prefix("  ")
            && !name.starts_with(' ')
            && let Some(name) = name.trim_end().strip_suffix(':')
        {
            services.push(ComposeService {
                name: name.to_string(),
                ..Default::default()
            });
        } else if let Some(last) = services.last_mut() {
            if line.trim_start().starts_with("healthcheck:") {
                last.healthcheck = true;
            } else if let Some(v) = field("container_name:") {
                last.container_name = Some(v);
            } else if let Some(v) = field("image:") {
                last.image = Some(v);
            } else if let Some(v) = field("volumes:") {
                last.volumes = v
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .filter_map(|m| m.trim().trim_matches('"').split_once(':'))
                    .map(|(name, _)| name.to_string())
                    .filter(|n| !n.starts_with('.') && !n.starts_with('/'))
                    .collect();
            }
        }
    }
    services
}

/// Service names of a compose file, each with whether it declares a healthcheck.
pub fn compose_services(text: &str) -> Vec<(String, bool)> {
    compose_spec(text)
        .into_iter()
        .map(|s| (s.name, s.healthcheck))
        .collect()
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

pub(super) fn compose(root: &Path, rest: &[String], out: &mut impl Write) -> Res {
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
    let now = now_epoch();
    match sub.as_str() {
        "up" => compose_up(root, rest, &project, &container_name, out),
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
        "exec" => compose_exec(root, rest, &project, out),
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

/// `docker compose -p PROJECT up [--build]`: builds (when asked) and
/// recreates each service of the compose file in the working directory.
fn compose_up(
    root: &Path,
    rest: &[String],
    project: &str,
    container_name: &dyn Fn(&str) -> String,
    out: &mut impl Write,
) -> Res {
    let cwd = std::env::current_dir()?;
    let now = now_epoch();
    let file = flag_value(rest, &["-f", "--file"]).unwrap_or_else(|| "docker-compose.yml".into());
    let text = std::fs::read_to_string(cwd.join(&file))
        .map_err(|e| format!("no {file} in {}: {e}", cwd.display()))?;
    let services = compose_spec(&text);
    let sha = git_head(&cwd);
    let image_of = |s: &ComposeService| {
        s.image
            .clone()
            .unwrap_or_else(|| format!("{project}-{}", s.name))
    };
    let build = rest.iter().any(|a| a == "--build");
    let d = delay();
    let mut step = 0;
    if build {
        for spec in &services {
            let svc = &spec.name;
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
            let tag = image_of(spec);
            let tag = if tag.contains(':') {
                tag
            } else {
                format!("{tag}:latest")
            };
            writeln!(out, "#{step} naming to docker.io/library/{tag} done")?;
            out.flush()?;
        }
    }
    let store = Store::open(root)?;
    let mut st = store.load();
    if build {
        // What was built gets the id of the code it was built from.
        for spec in &services {
            let image = image_of(spec);
            let id = image_id(&image, &sha);
            // The image it replaces is left dangling, its layers cached.
            if let Some(old) = st.images.insert(image, id.clone())
                && old != id
            {
                st.dangling.push((old, 412));
            }
            st.build_cache_mib += 96;
        }
    }
    let unhealthy = cwd.join("HEALTH_FAIL").exists();
    // A checkout with NO_RECREATE: the images are built, the containers
    // stay as they were (what a deploy must notice).
    let keep = cwd.join("NO_RECREATE").exists();
    for spec in &services {
        let (svc, hc) = (&spec.name, &spec.healthcheck);
        let name = spec
            .container_name
            .clone()
            .unwrap_or_else(|| container_name(svc));
        if keep && st.containers.iter().any(|c| c.name == name) {
            writeln!(out, " Container {name}  Running")?;
            continue;
        }
        // Compose's own labels only: what the seeds' builds set.
        let mut labels = BTreeMap::new();
        labels.insert("com.docker.compose.project".into(), project.to_string());
        labels.insert("com.docker.compose.service".into(), svc.clone());
        let old = st.containers.iter().find(|c| c.name == name).cloned();
        let restarts = 0;
        // Built services get a project image; pulled ones keep theirs.
        let image = match (&old, build) {
            (Some(o), false) => o.image.clone(),
            _ => image_of(spec),
        };
        st.containers.retain(|c| c.name != name);
        let image_id = st.image_id(&image);
        st.containers.push(SimContainer {
            image_id,
            id: short_id(&format!("{name}:{sha}")),
            name: name.clone(),
            image,
            project: project.to_string(),
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
            ports: old.as_ref().map_or(String::new(), |o| o.ports.clone()),
            volumes: spec.volumes.clone(),
        });
        writeln!(out, " Container {name}  Recreated")?;
        writeln!(out, " Container {name}  Started")?;
        out.flush()?;
    }
    st.containers.sort_by(|a, b| a.name.cmp(&b.name));
    store.save(&st)?;
    Ok(0)
}

/// What an image carries, as the documents describe their builds: the MAP
/// services are Django (`manage.py` in the work dir), the multi-tenant
/// backends carry alembic, frontends node; every image has a shell.
fn image_tools(image: &str, service: &str) -> Vec<&'static str> {
    let mut t = vec!["sh", "test", "cat", "ls", "env"];
    if image.starts_with("mapactive/") {
        t.extend(["python", "python3", "manage.py", "celery"]);
    } else if service == "frontend" {
        t.extend(["node", "npm"]);
    } else {
        t.extend(["python", "python3", "alembic"]);
    }
    t
}

/// `python manage.py migrate --noinput` in a Django service: the
/// checkout's `migrations/*.py` are applied (`migrations/FAIL` fails).
fn django_migrate(cwd: &Path, applied: &mut Vec<String>, out: &mut impl Write) -> Res {
    let mut files: Vec<String> = std::fs::read_dir(cwd.join("migrations"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".py") && n != "__init__.py")
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    writeln!(
        out,
        "Operations to perform:\n  Apply all migrations: admin, auth, contenttypes, core, sessions"
    )?;
    writeln!(out, "Running migrations:")?;
    files.retain(|f| !applied.contains(f));
    if files.is_empty() {
        writeln!(out, "  No migrations to apply.")?;
    }
    for f in files {
        std::thread::sleep(delay());
        if cwd.join("migrations/FAIL").exists() {
            writeln!(out, "  Applying core.{}...", f.trim_end_matches(".py"))?;
            writeln!(
                out,
                "django.db.utils.ProgrammingError: column \"status\" of relation \"core_ticket\" already exists"
            )?;
            return Ok(1);
        }
        writeln!(out, "  Applying core.{}... OK", f.trim_end_matches(".py"))?;
        applied.push(f);
    }
    Ok(0)
}

/// `docker compose -p PROJECT exec SERVICE CMD…`: alembic upgrades apply
/// the checkout's migrations (`migrations/FAIL` fails one); anything else
/// is said to have run.
fn compose_exec(root: &Path, rest: &[String], project: &str, out: &mut impl Write) -> Res {
    let cwd = std::env::current_dir()?;
    let (app, env) = project.rsplit_once('-').unwrap_or((project, ""));
    // After `exec` and its flags: the service, then the command as given.
    let mut after = rest
        .iter()
        .skip_while(|a| *a != "exec")
        .skip(1)
        .skip_while(|a| a.starts_with('-'));
    let svc = after.next().cloned().unwrap_or_default();
    let cmd: Vec<&str> = after.map(String::as_str).collect();
    let store = Store::open(root)?;
    let mut st = store.load();
    let Some(image) = st
        .containers
        .iter()
        .find(|c| c.project == project && c.service == svc && c.state == "running")
        .map(|c| c.image.clone())
    else {
        eprintln!("service \"{svc}\" is not running");
        return Ok(1);
    };
    let tools = image_tools(&image, &svc);
    match cmd.as_slice() {
        ["test", "-f", file] => return Ok(i32::from(!tools.contains(file))),
        ["sh", "-c", script, .., tool] if script.contains("command -v") => {
            if tools.contains(tool) {
                writeln!(out, "/usr/local/bin/{tool}")?;
                return Ok(0);
            }
            return Ok(1);
        }
        [first, ..] if !tools.contains(first) => {
            eprintln!(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{first}\": executable file not found in $PATH: unknown"
            );
            return Ok(126);
        }
        ["python", "manage.py", "migrate", ..] => {
            let applied = st.migrations.entry(project.to_string()).or_default();
            let rc = django_migrate(&cwd, applied, out)?;
            store.save(&st)?;
            return Ok(rc);
        }
        _ => {}
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
        let applied = st.migrations.entry(project.to_string()).or_default();
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
