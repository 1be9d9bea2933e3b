//! The git repositories the sandbox's hosts deploy from: each app's source,
//! its bare origin and the host's checkout, and the platform's repo.
//! Commits use fixed dates, so SHAs never change.

use super::write;
use std::path::Path;
use std::process::Command;

pub(crate) fn git(dir: &Path, args: &[&str], date: &str) -> std::io::Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Platform Team")
        .env("GIT_AUTHOR_EMAIL", "platform@example.com")
        .env("GIT_COMMITTER_NAME", "Platform Team")
        .env("GIT_COMMITTER_EMAIL", "platform@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Services per app, as in the multi-tenant doc's table.
pub fn app_services(app: &str) -> &'static [&'static str] {
    match app {
        "paiss" => &["web"],
        "filter-ical" => &["backend", "frontend"],
        _ => &["backend"],
    }
}

fn compose_file(app: &str) -> String {
    let mut s =
        format!("# {app}: deployed as docker compose project {app}-${{ENVIRONMENT}}\nservices:\n");
    for svc in app_services(app) {
        s.push_str(&format!(
            "  {svc}:\n    build: ./{svc}\n    restart: unless-stopped\n    networks: [platform]\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:3000/health\"]\n      interval: 30s\n"
        ));
    }
    s.push_str("networks:\n  platform:\n    external: true\n");
    s
}

/// A commit of the sandbox's app history: message, date, files written.
type Commit = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Create the app's origin (bare) repository with four commits, and a host
/// checkout one commit behind, so a deploy moves a real SHA.
pub(super) fn create_app_repo(sandbox: &Path, host_root: &Path, app: &str) -> std::io::Result<()> {
    let src = sandbox.join("remotes").join(format!("{app}-src"));
    let bare = sandbox.join("remotes").join(format!("{app}.git"));
    std::fs::create_dir_all(&src)?;
    let d0 = "2026-01-05T09:00:00Z";
    git(&src, &["init", "-q", "-b", "main"], d0)?;
    let commits: [Commit; 4] = [
        (
            "initial import",
            "2026-01-05T09:00:00Z",
            &[
                ("README.md", "app\n"),
                (
                    "migrations/0001_initial.sql",
                    "CREATE TABLE events (id serial primary key);\n",
                ),
            ],
        ),
        (
            "add /health endpoint",
            "2026-01-12T14:30:00Z",
            &[(
                "backend/health.py",
                "def health():\n    return {'status': 'ok'}\n",
            )],
        ),
        (
            "migration: index events by start time",
            "2026-01-19T11:15:00Z",
            &[(
                "migrations/0002_events_starts_at.sql",
                "CREATE INDEX ON events (starts_at);\n",
            )],
        ),
        (
            "fix: calendar sync honours the event time zone",
            "2026-01-26T16:45:00Z",
            &[("backend/sync.py", "TZ_AWARE = True\n")],
        ),
    ];
    for (i, (msg, date, files)) in commits.iter().enumerate() {
        if i == 0 {
            write(&src.join("docker-compose.yml"), &compose_file(app))?;
            write(
                &src.join("README.md"),
                &format!(
                    "# {app}\n\nDeployed with `docker compose -p {app}-{{env}} up -d --build`.\n"
                ),
            )?;
        }
        for (path, text) in files.iter().filter(|(p, _)| *p != "README.md") {
            write(&src.join(path), text)?;
        }
        git(&src, &["add", "-A"], date)?;
        git(&src, &["commit", "-q", "-m", msg], date)?;
    }
    publish(
        sandbox,
        &src,
        &bare,
        &host_root.join("opt/apps").join(app),
        d0,
    )
}

/// `src`'s history as its bare origin `bare`, and the host's `checkout`
/// of it one commit behind (so a deploy moves a real SHA).
fn publish(
    sandbox: &Path,
    src: &Path,
    bare: &Path,
    checkout: &Path,
    d0: &str,
) -> std::io::Result<()> {
    git(
        sandbox,
        &[
            "clone",
            "-q",
            "--bare",
            &src.display().to_string(),
            &bare.display().to_string(),
        ],
        d0,
    )?;
    git(
        src,
        &["remote", "add", "origin", &bare.display().to_string()],
        d0,
    )?;
    std::fs::create_dir_all(checkout.parent().unwrap_or(sandbox))?;
    git(
        sandbox,
        &[
            "clone",
            "-q",
            &bare.display().to_string(),
            &checkout.display().to_string(),
        ],
        d0,
    )?;
    git(checkout, &["reset", "-q", "--hard", "HEAD~1"], d0)
}

/// A MAP system's repository (`/opt/apps/{system}` on the MAP host): a
/// compose file naming the plan's containers and images (Django services
/// with a healthcheck, Celery workers without), `manage.py` and Django
/// migrations; the checkout one commit behind.
pub(super) fn create_map_repo(
    sandbox: &Path,
    host_root: &Path,
    system: &str,
    services: &[(&str, &str)],
) -> std::io::Result<()> {
    let src = sandbox.join("remotes").join(format!("{system}-src"));
    let bare = sandbox.join("remotes").join(format!("{system}.git"));
    std::fs::create_dir_all(&src)?;
    let d0 = "2026-01-07T09:00:00Z";
    git(&src, &["init", "-q", "-b", "main"], d0)?;
    let mut compose =
        format!("# {system}: docker compose project {system}-production\nservices:\n");
    for (svc, container) in services {
        let short = svc.trim_end_matches("-service");
        compose.push_str(&format!(
            "  {svc}:\n    build: ./{short}\n    image: mapactive/{short}:2.4.1\n    container_name: {container}\n    env_file: /opt/map/.env\n    volumes: [\"media_files:/app/media\"]\n"
        ));
        if !svc.ends_with("-worker") {
            compose.push_str("    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:8000/health/\"]\n");
        }
    }
    compose.push_str("volumes:\n  media_files:\n    external: true\n");
    write(&src.join("docker-compose.yml"), &compose)?;
    write(
        &src.join("manage.py"),
        "#!/usr/bin/env python\n# Django's command-line utility\n",
    )?;
    write(&src.join("migrations/__init__.py"), "")?;
    write(
        &src.join("migrations/0001_initial.py"),
        "# Django migration: initial\n",
    )?;
    git(&src, &["add", "-A"], d0)?;
    git(&src, &["commit", "-q", "-m", "initial import"], d0)?;
    let d1 = "2026-02-16T10:30:00Z";
    write(
        &src.join("migrations/0002_ticket_status.py"),
        "# Django migration: ticket status\n",
    )?;
    git(&src, &["add", "-A"], d1)?;
    git(
        &src,
        &[
            "commit",
            "-q",
            "-m",
            "tickets: a status field (migration 0002)",
        ],
        d1,
    )?;
    publish(
        sandbox,
        &src,
        &bare,
        &host_root.join("opt/apps").join(system),
        d0,
    )
}

/// `/opt/platform` (deploy-platform.sh's checkout): nginx, postgres and
/// certbot in one compose file, one commit behind its origin.
pub(super) fn create_platform_repo(sandbox: &Path, host_root: &Path) -> std::io::Result<()> {
    let src = sandbox.join("remotes/platform-src");
    let bare = sandbox.join("remotes/platform.git");
    std::fs::create_dir_all(&src)?;
    let d0 = "2026-01-02T09:00:00Z";
    git(&src, &["init", "-q", "-b", "main"], d0)?;
    let hc = "    healthcheck:\n      test: [\"CMD\", \"true\"]\n";
    write(
        &src.join("platform/docker-compose.yml"),
        &format!(
            "# the shared platform: one nginx, one PostgreSQL, certbot\nservices:\n  nginx:\n    image: nginx:1.25-alpine\n{hc}  postgres:\n    image: postgres:16-alpine\n{hc}  certbot:\n    image: certbot/certbot\n"
        ),
    )?;
    write(&src.join(".gitignore"), "platform/.env\n")?;
    git(&src, &["add", "-A"], d0)?;
    git(
        &src,
        &["commit", "-q", "-m", "platform: nginx, postgres, certbot"],
        d0,
    )?;
    let d1 = "2026-02-09T10:00:00Z";
    write(
        &src.join("platform/nginx/conf.d/limits.conf"),
        "client_max_body_size 50m;\n",
    )?;
    git(&src, &["add", "-A"], d1)?;
    git(
        &src,
        &[
            "commit",
            "-q",
            "-m",
            "nginx: raise client_max_body_size to 50m",
        ],
        d1,
    )?;
    publish(sandbox, &src, &bare, &host_root.join("opt/platform"), d0)
}

pub(crate) fn head(dir: &Path) -> String {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
