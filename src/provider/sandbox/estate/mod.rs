//! The embedded sandbox estate, modelled on the seeds: the multi-tenant
//! platform host (eu-north-1), the PMO host (us-east-1), the Enssol t2.nano
//! (ap-southeast-2, SQLite), the MAP system's host (`map.rs`), a stopped
//! instance and one whose SSM agent is offline; versioned buckets with the PMO key layouts; a week of backups.
//! Deterministic: the same `now` gives the same estate, byte for byte
//! (git commits use fixed dates, so SHAs never change).
//!
//! `cloud.rs` holds what the cloud APIs show (instances, buckets, posture),
//! `repos.rs` the git repositories the hosts deploy from; this file builds
//! the hosts' trees and keeps `estate.json`.

mod cloud;
pub mod machines;
mod map;
mod repos;

pub use cloud::{PMO_LATEST, buckets, findings, instances, version_id_for};
pub use map::{MAP_APPS, MAP_BROKER, MAP_DATABASES, MAP_PLATFORM, MAP_POSTGRES};
pub use repos::app_services;
pub(crate) use repos::{git, head};

use super::sim_state::{SimContainer, SimState, image_id, save_state, short_id, sim_dump};
use crate::domain::Instance;
use chrono::{DateTime, Duration, TimeZone, Utc};
use repos::{create_app_repo, create_platform_repo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

pub const MT_HOST: &str = "i-0a4f1c2e9b7d30001";
pub const PMO_HOST: &str = "i-07f64b1f8de8f6b26";
pub const ENSSOL_HOST: &str = "i-0e5501c0a5d1ab002";
pub const STOPPED_HOST: &str = "i-0b3c9d2e1f4a50003";
pub const OFFLINE_HOST: &str = "i-0d7e6f5a4b3c20004";
pub const MAP_HOST: &str = "i-0c9a8b7d6e5f40005";

pub const APPS: [&str; 3] = ["paiss", "filter-ical", "gabs-massage"];
pub const ENVS: [&str; 2] = ["staging", "production"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Estate {
    pub created_at: DateTime<Utc>,
    pub instances: Vec<Instance>,
    pub buckets: Vec<SimBucket>,
    /// Machine images (a copy of the host tree each).
    #[serde(default)]
    pub images: Vec<machines::SimImage>,
    #[serde(default)]
    pub addresses: Vec<machines::SimAddress>,
    /// How each instance launched in the sandbox was launched (key pair,
    /// metadata options, volumes): what a later launch-like copies.
    #[serde(default)]
    pub launched: std::collections::BTreeMap<String, crate::provider::machines::LaunchLike>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimBucket {
    pub name: String,
    pub region: String,
    pub versioning: String,
    pub encryption: String,
    pub public_access_block: String,
    pub lifecycle: String,
    pub objects: Vec<SimObject>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimObject {
    pub key: String,
    /// Oldest first; the last one is the current version (or a delete marker).
    pub versions: Vec<SimVersion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimVersion {
    pub version_id: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub delete_marker: bool,
    pub storage_class: String,
}

pub(super) fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, text)
}

fn gzip_file(path: &Path, text: &str, corrupt: bool) -> std::io::Result<()> {
    gzip_bytes(path, text.as_bytes(), corrupt)
}

fn gzip_bytes(path: &Path, data: &[u8], corrupt: bool) -> std::io::Result<()> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)?;
    let mut bytes = enc.finish()?;
    if corrupt {
        // A truncated upload: the gzip trailer and half the stream are gone.
        bytes.truncate(bytes.len() / 2);
    }
    write_bytes(path, &bytes)
}

fn write_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, bytes)
}

fn container(
    name: &str,
    image: &str,
    project: &str,
    service: &str,
    now: i64,
    up_secs: i64,
    hc: bool,
) -> SimContainer {
    let mut labels = BTreeMap::new();
    labels.insert(
        "com.docker.compose.project".to_string(),
        project.to_string(),
    );
    labels.insert(
        "com.docker.compose.service".to_string(),
        service.to_string(),
    );
    SimContainer {
        // Pulled, or built before the sandbox's history: an id from its name.
        image_id: image_id(image, ""),
        id: short_id(name),
        name: name.into(),
        image: image.into(),
        project: project.into(),
        service: service.into(),
        state: "running".into(),
        exit_code: 0,
        healthcheck: hc,
        target_health: "healthy".into(),
        restarts: 0,
        started_epoch: now - up_secs,
        created_epoch: now - up_secs,
        cpu_centi: 10 + (u32::from_str_radix(&short_id(name)[..4], 16).unwrap_or(0) % 400),
        mem_mib: 40 + (u32::from_str_radix(&short_id(name)[4..8], 16).unwrap_or(0) % 300),
        labels,
        mem_limit_mib: 0,
        cpu_limit_milli: 0,
        ports: String::new(),
        volumes: Vec::new(),
    }
}

/// Build the whole estate under `dir` as of `now`.
pub fn create(dir: &Path, now: DateTime<Utc>) -> std::io::Result<Estate> {
    let mut estate = Estate {
        created_at: now,
        instances: instances(),
        buckets: buckets(now),
        images: Vec::new(),
        addresses: Vec::new(),
        launched: std::collections::BTreeMap::new(),
    };
    std::fs::create_dir_all(dir)?;

    multi_tenant_host(&dir.join("hosts").join(MT_HOST), dir, now)?;
    pmo_host(&dir.join("hosts").join(PMO_HOST), now)?;
    enssol_host(&dir.join("hosts").join(ENSSOL_HOST), now)?;
    // The MAP system's host.
    map::create(dir, &dir.join("hosts").join(MAP_HOST), now)?;

    // Hosts that exist but cannot be reached still get a directory.
    for h in [STOPPED_HOST, OFFLINE_HOST] {
        std::fs::create_dir_all(dir.join("hosts").join(h))?;
    }
    recovery_content(dir, &estate)?;
    machines::seed(dir, &mut estate, now).map_err(std::io::Error::other)?;
    save(dir, &estate)?;
    Ok(estate)
}

/// The multi-tenant platform host: the platform's nginx, PostgreSQL and
/// certbot, each app's staging and production, their deploy records and a
/// week of nightly backups (the newest production filter-ical one cut short).
fn multi_tenant_host(mt: &Path, dir: &Path, now: DateTime<Utc>) -> std::io::Result<()> {
    let epoch = now.timestamp();
    create_platform_repo(dir, mt)?;
    write(
        &mt.join("opt/platform/platform/.env"),
        "POSTGRES_PASSWORD=sandbox-not-a-secret\n",
    )?;
    // The document's scripts call docker-compose (v1): the host has only it.
    write(&mt.join(super::sim_state::NO_COMPOSE_V2), "")?;
    let mut sim = SimState::default();
    let day = 86_400;
    sim.containers.push(container(
        "nginx-platform",
        "nginx:1.25-alpine",
        "platform",
        "nginx",
        epoch,
        12 * day,
        true,
    ));
    // The platform's database has limits; the doc's audit finds the rest.
    let mut pg = container(
        "postgres-platform",
        "postgres:16-alpine",
        "platform",
        "postgres",
        epoch,
        12 * day,
        true,
    );
    pg.mem_limit_mib = 1024;
    pg.cpu_limit_milli = 1000;
    sim.containers.push(pg);
    sim.containers.push(container(
        "certbot-platform",
        "certbot/certbot",
        "platform",
        "certbot",
        epoch,
        12 * day,
        false,
    ));
    for app in APPS {
        create_app_repo(dir, mt, app)?;
        let checkout = mt.join("opt/apps").join(app);
        let sha = head(&checkout);
        let prev = {
            let out = Command::new("git")
                .args(["rev-parse", "HEAD~1"])
                .current_dir(&checkout)
                .output()?;
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        for (ei, env) in ENVS.iter().enumerate() {
            let project = format!("{app}-{env}");
            let deployed_secs = if ei == 0 {
                2 * day + 3600
            } else {
                5 * day + 7200
            };
            write(
                &mt.join("var/lib/opsdeck/deploys").join(&project),
                &format!("{} {prev} {sha}\n", epoch - deployed_secs),
            )?;
            for svc in app_services(app) {
                let mut c = container(
                    &format!("{app}-{svc}-{env}"),
                    &format!("{project}-{svc}"),
                    &project,
                    svc,
                    epoch,
                    deployed_secs,
                    true,
                );
                // Built from the checkout at its deployed revision; the
                // build sets no labels of its own (the seeds' builds don't).
                let image = format!("{project}-{svc}");
                c.image_id = image_id(&image, &sha);
                sim.images.insert(image, c.image_id.clone());
                sim.containers.push(c);
            }
            sim.migrations.insert(
                project,
                vec![
                    "0001_initial.sql".into(),
                    "0002_events_starts_at.sql".into(),
                ],
            );
        }
    }
    sim.containers.sort_by(|a, b| a.name.cmp(&b.name));
    // The document's one certificate: gabs-massage's name, every app's
    // domain as a SAN (so its renewal failing fails every app), issued 78
    // days ago: 12 days left, inside certbot's 30-day renewal window.
    sim.certs = vec![super::sim_state::SimCert {
        name: "gabs-massage.example.com".into(),
        domains: vec![
            "gabs-massage.example.com".into(),
            "filter-ical.example.com".into(),
            "paiss.example.com".into(),
        ],
        expires_epoch: epoch + 12 * day,
        issued_epoch: epoch - 78 * day,
    }];
    sim.nginx_loaded_epoch = epoch - 12 * day;
    // Images are built on the server (the document's deploy.sh): old
    // builds and their cache pile up on its 30 GB disk.
    sim.dangling = (0..9)
        .map(|i| {
            (
                super::sim_state::image_id("filter-ical-production-backend", &format!("old-{i}")),
                412,
            )
        })
        .collect();
    sim.build_cache_mib = 2_310;
    save_state(mt, &sim)?;
    let databases = [
        "filter_ical_production",
        "filter_ical_staging",
        "gabs_massage_production",
        "gabs_massage_staging",
    ];
    for d in 0..7 {
        let day_start = (now - Duration::days(d)).date_naive();
        let at = Utc.from_utc_datetime(&day_start.and_hms_opt(2, 0, 0).unwrap_or_default());
        if at > now {
            continue;
        }
        for db in databases {
            let file = mt
                .join("opt/backups/postgres")
                .join(format!("{db}_{}.sql.gz", at.format("%Y%m%d_%H%M%S")));
            // The newest production backup of filter-ical is a truncated upload.
            let corrupt = db == "filter_ical_production" && d == 1;
            gzip_file(&file, &sim_dump(db), corrupt)?;
        }
    }
    Ok(())
}

/// The PMO host: API, web and PostgreSQL on 5434 in docker.
fn pmo_host(pmo: &Path, now: DateTime<Utc>) -> std::io::Result<()> {
    let epoch = now.timestamp();
    let day = 86_400;
    let mut pmo_sim = SimState::default();
    pmo_sim.containers.push(container(
        "pmo-api",
        "cohuron/pmo-api:1.0.0",
        "pmo",
        "api",
        epoch,
        3 * day,
        true,
    ));
    pmo_sim.containers.push(container(
        "pmo-web",
        "cohuron/pmo-web:1.0.0",
        "pmo",
        "web",
        epoch,
        3 * day,
        true,
    ));
    pmo_sim.containers.push(container(
        "pmo-postgres",
        "postgres:16",
        "pmo",
        "db",
        epoch,
        20 * day,
        true,
    ));
    let mut worker = container(
        "pmo-worker",
        "cohuron/pmo-api:1.0.0",
        "pmo",
        "worker",
        epoch,
        40,
        false,
    );
    worker.restarts = 14;
    pmo_sim.containers.push(worker);
    pmo_sim.containers.sort_by(|a, b| a.name.cmp(&b.name));
    save_state(pmo, &pmo_sim)?;
    write(
        &pmo.join("app/.env"),
        "DATABASE_URL=postgresql://app:app@localhost:5434/app\n",
    )?;
    // The code the document deploys: each artifact unpacked in /app, and
    // the deploy.sh its workflow runs there (`cd /app && ./deploy.sh`).
    for part in ["api", "web"] {
        write(
            &pmo.join("app").join(part).join("VERSION"),
            &format!("{part}/v1.0.0.tar.gz\n"),
        )?;
    }
    write(&pmo.join("app/deploy.sh"), PMO_DEPLOY_SH)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            pmo.join("app/deploy.sh"),
            std::fs::Permissions::from_mode(0o755),
        )?;
    }
    for d in 0..3 {
        let at = Utc.from_utc_datetime(
            &(now - Duration::days(d))
                .date_naive()
                .and_hms_opt(3, 0, 0)
                .unwrap_or_default(),
        );
        if at > now {
            continue;
        }
        gzip_file(
            &pmo.join("opt/backups/postgres")
                .join(format!("app_{}.sql.gz", at.format("%Y%m%d_%H%M%S"))),
            &sim_dump("app"),
            false,
        )?;
    }
    // The document's manual backup (`pg_dump … -d app > backup.sql`, run
    // from the app's directory): plain SQL, no time in its name, so the
    // file's time says when it was taken.
    let manual = pmo.join(PMO_MANUAL_BACKUP.trim_start_matches('/'));
    write(&manual, &sim_dump("app"))?;
    let taken = now - Duration::hours(30);
    std::fs::File::options()
        .write(true)
        .open(&manual)?
        .set_modified(
            std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(taken.timestamp().max(0).unsigned_abs()),
        )?;
    Ok(())
}

/// PMO's `/app/deploy.sh`: (re)start the API, the web app and the worker on
/// the code unpacked in /app (the document names the script, not its body).
const PMO_DEPLOY_SH: &str = r#"#!/usr/bin/env bash
# cohuron PMO: run the code unpacked in /app/api and /app/web.
set -euo pipefail
cd "$(dirname "$0")"
for part in api web; do
  if [ ! -s "$part/VERSION" ]; then echo "deploy.sh: no $part/VERSION: unpack its artifact first" >&2; exit 1; fi
done
docker restart pmo-api pmo-web >/dev/null
echo "deploy.sh: pmo-api and pmo-web restarted on $(head -n 1 api/VERSION) and $(head -n 1 web/VERSION)"
"#;

/// PMO's manual backup on its host, where its document's command writes it.
pub const PMO_MANUAL_BACKUP: &str = "/app/backup.sql";

/// The Enssol host, as its document describes it: nginx → gunicorn →
/// Django on the host (no docker), SQLite, daily database backups, an
/// RPO of 24 h. The document names no paths: the database is
/// `/opt/enssol/db.sqlite3`, a real SQLite file with Django's migrations
/// table and the app's tables; the backups are daily copies of it (04:30),
/// gzipped, in `/opt/backups/sqlite`: the host keeps the last two days
/// (the document ships them to S3 for 30 days; the sandbox's S3 does not
/// hold Enssol's). Without the `sqlite3`
/// program the sandbox still comes up, with a stand-in file that the
/// backup's pre-check refuses as not a database.
fn enssol_host(ens: &Path, now: DateTime<Utc>) -> std::io::Result<()> {
    // ALB → nginx → gunicorn → Django, on the host under systemd (no docker).
    let since = now.timestamp() - 20 * 86_400;
    let unit = |name: &str, description: &str, exec: &str| super::sim_state::SimUnit {
        name: name.into(),
        description: description.into(),
        exec: exec.into(),
        state: "active".into(),
        since_epoch: since,
        restarts: 0,
    };
    let sim = SimState {
        units: vec![
            unit(
                "nginx",
                "A high performance web server and a reverse proxy server",
                "/usr/sbin/nginx -g 'daemon on; master_process on;'",
            ),
            unit(
                "gunicorn",
                "gunicorn daemon for the Enssol Django app",
                "/opt/enssol/venv/bin/gunicorn --workers 3 --bind unix:/run/gunicorn.sock obligations.wsgi:application",
            ),
        ],
        ..SimState::default()
    };
    save_state(ens, &sim)?;
    let db = ens.join("opt/enssol/db.sqlite3");
    if let Err(e) = sqlite_db(&db, ENSSOL_SQL) {
        tracing::warn!("sandbox: Enssol's SQLite database is a stand-in: {e}");
        write(&db, "SQLite format 3\0 (sandbox stand-in: no sqlite3)\n")?;
    }
    let bytes = std::fs::read(&db)?;
    for d in 0..2 {
        let at = Utc.from_utc_datetime(
            &(now - Duration::days(d))
                .date_naive()
                .and_hms_opt(4, 30, 0)
                .unwrap_or_default(),
        );
        if at > now {
            continue;
        }
        gzip_bytes(
            &ens.join("opt/backups/sqlite")
                .join(format!("enssol_{}.sqlite3.gz", at.format("%Y%m%d_%H%M%S"))),
            &bytes,
            false,
        )?;
    }
    Ok(())
}

/// Enssol's database: Django's migrations and the app's sites and
/// obligations (fixed dates: the same file every time).
const ENSSOL_SQL: &str = "
CREATE TABLE django_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied datetime NOT NULL);
INSERT INTO django_migrations (app, name, applied) VALUES
  ('contenttypes', '0001_initial', '2025-11-03 09:00:00'),
  ('auth', '0001_initial', '2025-11-03 09:00:01'),
  ('obligations', '0001_initial', '2025-11-03 09:00:02'),
  ('obligations', '0002_obligation_status', '2026-01-20 14:10:00');
CREATE TABLE obligations_site (id INTEGER PRIMARY KEY AUTOINCREMENT, name varchar(200) NOT NULL, state varchar(3) NOT NULL);
CREATE TABLE obligations_obligation (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id integer NOT NULL REFERENCES obligations_site (id), title varchar(200) NOT NULL, due_on date NOT NULL, status varchar(10) NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
  INSERT INTO obligations_site (name, state) SELECT 'Site ' || i, CASE i % 3 WHEN 0 THEN 'NSW' WHEN 1 THEN 'VIC' ELSE 'QLD' END FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
  INSERT INTO obligations_obligation (site_id, title, due_on, status)
  SELECT 1 + i % 40, 'Obligation ' || i, date('2026-01-01', '+' || i || ' days'),
         CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'done' ELSE 'overdue' END FROM n;
";

/// A new SQLite database at `path` made by `sql` (with the `sqlite3`
/// program, as the host has it).
fn sqlite_db(path: &Path, sql: &str) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let _ = std::fs::remove_file(path);
    let out = Command::new("sqlite3").arg(path).arg(sql).output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "sqlite3: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The sandbox's `estate.json`: where it is (the one place that knows).
pub fn path(dir: &Path) -> std::path::PathBuf {
    dir.join("estate.json")
}

/// Read `estate.json`.
pub fn load(dir: &Path) -> std::io::Result<Estate> {
    let text = std::fs::read_to_string(path(dir))?;
    serde_json::from_str(&text).map_err(std::io::Error::other)
}

/// Write `estate.json` atomically: a crash never leaves half a file.
pub fn save(dir: &Path, estate: &Estate) -> std::io::Result<()> {
    let p = path(dir);
    let tmp = p.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(estate).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, &p)
}

/// What a recovery downloads from S3 exists: the code bucket's artifacts
/// (small tarballs) and the PMO database's backups (simulated dumps; real
/// ones replace them when the sandbox has real databases).
fn recovery_content(dir: &Path, estate: &Estate) -> std::io::Result<()> {
    let put = |bucket: &str, key: &str, bytes: &[u8]| -> std::io::Result<()> {
        let to = crate::provider::sandbox::s3_content(dir, bucket, key)
            .ok_or_else(|| std::io::Error::other(format!("bad key {key}")))?;
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(to, bytes)
    };
    for b in &estate.buckets {
        for o in &b.objects {
            let Some(v) = o.versions.last().filter(|v| !v.delete_marker) else {
                continue;
            };
            if b.name.starts_with("cohuron-code-") && o.key.ends_with(".tar.gz") {
                let part = o.key.split('/').next().unwrap_or("app");
                // Without `tar` the sandbox still comes up; the recovery's
                // code step then says the artifact is missing.
                match artifact(dir, part, &o.key, v.last_modified.timestamp()) {
                    Ok(bytes) => put(&b.name, &o.key, &bytes)?,
                    Err(e) => tracing::warn!("sandbox artifact {}: {e}", o.key),
                }
                // Each older build of the key is a version of its own (a
                // rollback deploys one): its VERSION names it.
                for old in o.versions.iter().rev().skip(1).filter(|v| !v.delete_marker) {
                    let name = format!("{} {}", o.key, old.version_id);
                    if let Ok(bytes) = artifact(dir, part, &name, old.last_modified.timestamp())
                        && let Some(to) = crate::provider::sandbox::s3_version_content(
                            dir,
                            &b.name,
                            &o.key,
                            &old.version_id,
                        )
                    {
                        if let Some(d) = to.parent() {
                            std::fs::create_dir_all(d)?;
                        }
                        std::fs::write(to, bytes)?;
                    }
                }
            } else if b.name == "cohuron-backups"
                && (o.key.starts_with("postgres/app_") || o.key == cloud::PMO_LATEST)
            {
                let tmp = dir.join("tmp-backup.gz");
                gzip_file(&tmp, &sim_dump("app"), false)?;
                let bytes = std::fs::read(&tmp)?;
                std::fs::remove_file(tmp)?;
                put(&b.name, &o.key, &bytes)?;
                put_versions(dir, &b.name, o, &bytes)?;
            }
        }
    }
    Ok(())
}

/// Every version of `o` holds `bytes` (a `latest` key's history).
pub(crate) fn put_versions(
    dir: &Path,
    bucket: &str,
    o: &SimObject,
    bytes: &[u8],
) -> std::io::Result<()> {
    for v in o.versions.iter().filter(|v| !v.delete_marker) {
        let to = crate::provider::sandbox::s3_version_content(dir, bucket, &o.key, &v.version_id)
            .ok_or_else(|| std::io::Error::other(format!("bad key {}", o.key)))?;
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(to, bytes)?;
    }
    Ok(())
}

/// A deployment artifact: `part`'s code as a gzipped tar (fixed times and
/// owners, so the same estate gives the same bytes).
fn artifact(dir: &Path, part: &str, key: &str, at: i64) -> std::io::Result<Vec<u8>> {
    let src = dir.join("tmp-artifact");
    let _ = std::fs::remove_dir_all(&src);
    write(&src.join("VERSION"), &format!("{key}\n"))?;
    write(
        &src.join(if part == "web" {
            "dist/index.html"
        } else {
            "dist/server.js"
        }),
        &format!("// cohuron-pmo {part}, built from {key}\n"),
    )?;
    let out = Command::new("tar")
        .arg("-C")
        .arg(&src)
        .args([
            "--sort=name",
            &format!("--mtime=@{at}"),
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-cf",
            "-",
            ".",
        ])
        .output();
    // Gone whatever tar did.
    let _ = std::fs::remove_dir_all(&src);
    let out = out?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "tar: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&out.stdout)?;
    enc.finish()
}
