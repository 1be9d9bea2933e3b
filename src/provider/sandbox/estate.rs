//! The embedded sandbox estate, modelled on the seeds: the multi-tenant
//! platform host (eu-north-1), the PMO host (us-east-1), the Enssol t2.nano
//! (ap-southeast-2, SQLite), a stopped instance and one whose SSM agent is
//! offline; versioned buckets with the PMO key layouts; a week of backups.
//! Deterministic: the same `now` gives the same estate, byte for byte
//! (git commits use fixed dates, so SHAs never change).

use super::sim_state::{SimContainer, SimState, save_state, short_id, sim_dump};
use crate::domain::{Instance, SsmPing};
use chrono::{DateTime, Duration, TimeZone, Utc};
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

pub const APPS: [&str; 3] = ["paiss", "filter-ical", "gabs-massage"];
pub const ENVS: [&str; 2] = ["staging", "production"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Estate {
    pub created_at: DateTime<Utc>,
    pub instances: Vec<Instance>,
    pub buckets: Vec<SimBucket>,
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

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn instance(
    id: &str,
    name: &str,
    region: &str,
    ty: &str,
    state: &str,
    ip: (&str, Option<&str>),
    ping: SsmPing,
    platform: &str,
    extra: &[(&str, &str)],
) -> Instance {
    let mut t = tags(extra);
    t.insert("Name".into(), name.into());
    Instance {
        id: id.into(),
        name: name.into(),
        region: region.into(),
        instance_type: ty.into(),
        state: state.into(),
        private_ip: Some(ip.0.into()),
        public_ip: ip.1.map(str::to_string),
        ssm_ping: ping,
        platform: platform.into(),
        tags: t,
    }
}

pub fn instances() -> Vec<Instance> {
    vec![
        instance(
            MT_HOST,
            "multi-tenant-platform",
            "eu-north-1",
            "t3.medium",
            "running",
            ("172.31.18.44", Some("13.51.92.17")),
            SsmPing::Online,
            "Amazon Linux 2023",
            &[
                ("Environment", "production"),
                ("Project", "multi-tenant-platform"),
                ("Access", "ssm-only"),
            ],
        ),
        instance(
            PMO_HOST,
            "cohuron-pmo-api",
            "us-east-1",
            "t3.medium",
            "running",
            ("10.0.1.25", Some("100.28.36.248")),
            SsmPing::Online,
            "Ubuntu 22.04",
            &[("Environment", "production"), ("Project", "cohuron-pmo")],
        ),
        instance(
            ENSSOL_HOST,
            "enssol-web-prod",
            "ap-southeast-2",
            "t2.nano",
            "running",
            ("172.31.4.10", Some("54.206.11.83")),
            SsmPing::Online,
            "Ubuntu 16.04",
            &[("Environment", "production"), ("Project", "enssol")],
        ),
        instance(
            STOPPED_HOST,
            "pmo-worker-legacy",
            "us-east-1",
            "t3.small",
            "stopped",
            ("10.0.1.77", None),
            SsmPing::ConnectionLost,
            "Ubuntu 22.04",
            &[("Environment", "staging"), ("Project", "cohuron-pmo")],
        ),
        instance(
            OFFLINE_HOST,
            "map-rabbitmq",
            "eu-north-1",
            "t3.small",
            "running",
            ("172.31.22.9", None),
            SsmPing::ConnectionLost,
            "Amazon Linux 2023",
            &[("Environment", "staging"), ("Project", "map-system")],
        ),
    ]
}

pub fn version_id_for(seed: &str) -> String {
    version_id(seed)
}

/// The seeds' posture: the PMO group open on 22/80/443/4000/5173, the
/// Enssol group open to all traffic with an unencrypted 8 GiB volume, IMDSv1
/// left optional on the PMO host and the legacy worker.
pub fn findings() -> Vec<crate::domain::Finding> {
    use crate::domain::{Finding, FindingKind::*};
    let f = |kind, region: &str, resource: &str, instances: &[&str], detail: &str| Finding {
        kind,
        region: region.into(),
        resource: resource.into(),
        instances: instances.iter().map(|s| s.to_string()).collect(),
        detail: detail.into(),
    };
    vec![
        f(
            OpenSecurityGroup,
            "ap-southeast-2",
            "sg-0e55a11d0c0ffee01",
            &[ENSSOL_HOST],
            "all (enssol-web-sg)",
        ),
        f(
            OpenSecurityGroup,
            "us-east-1",
            "sg-07f64b1f8de8f6b26",
            &[PMO_HOST, STOPPED_HOST],
            "22/tcp, 80/tcp, 443/tcp, 4000/tcp, 5173/tcp (cohuron-pmo-sg)",
        ),
        f(
            UnencryptedVolume,
            "ap-southeast-2",
            "vol-0e55a11d0c0ffee02",
            &[ENSSOL_HOST],
            "8 GiB standard",
        ),
        f(
            ImdsV1Allowed,
            "us-east-1",
            PMO_HOST,
            &[PMO_HOST],
            "HttpTokens=optional",
        ),
        f(
            ImdsV1Allowed,
            "us-east-1",
            STOPPED_HOST,
            &[STOPPED_HOST],
            "HttpTokens=optional",
        ),
    ]
}

fn version_id(seed: &str) -> String {
    format!("{}{}", short_id(seed), short_id(&format!("v:{seed}")))
}

fn obj(key: &str, sizes: &[u64], base: DateTime<Utc>, delete_marker: bool) -> SimObject {
    let mut versions: Vec<SimVersion> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| SimVersion {
            version_id: version_id(&format!("{key}#{i}")),
            size: *s,
            last_modified: base + Duration::days(i as i64 * 9),
            delete_marker: false,
            storage_class: "STANDARD".into(),
        })
        .collect();
    if delete_marker {
        versions.push(SimVersion {
            version_id: version_id(&format!("{key}#dm")),
            size: 0,
            last_modified: base + Duration::days(sizes.len() as i64 * 9),
            delete_marker: true,
            storage_class: String::new(),
        });
    }
    SimObject {
        key: key.into(),
        versions,
    }
}

pub fn buckets(now: DateTime<Utc>) -> Vec<SimBucket> {
    let base = now - Duration::days(60);
    let p = "tenant_id=demo/entity=project/entity_id=5f0c2d3e-8a1b-4c6d-9e7f-0a1b2c3d4e5f";
    let t = "tenant_id=demo/entity=task/entity_id=9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d";
    let e = "tenant_id=demo/entity=employee/entity_id=3c2b1a09-8f7e-4d6c-b5a4-392817161514";
    let c = "tenant_id=demo/entity=client/entity_id=7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9";
    let a = "tenant_id=acme/entity=project/entity_id=0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
    let mut attachments = vec![
        obj(
            &format!("{p}/abc123def456.pdf"),
            &[182_344, 190_112, 201_775],
            base,
            false,
        ),
        obj(&format!("{p}/xyz789ghi012.jpg"), &[1_204_311], base, false),
        obj(
            &format!("{p}/def456abc789.xlsx"),
            &[48_200, 51_904],
            base,
            false,
        ),
        obj(&format!("{t}/attachment1.docx"), &[23_551], base, false),
        obj(
            &format!("{t}/attachment2.png"),
            &[402_118, 398_004],
            base,
            false,
        ),
        obj(&format!("{e}/resume.pdf"), &[88_412], base, false),
        obj(
            &format!("{c}/contract.pdf"),
            &[310_009, 311_450],
            base,
            true,
        ),
        obj(&format!("{c}/photo-id.jpg"), &[655_873], base, false),
        obj(
            &format!("{a}/kickoff-notes.md"),
            &[4_210, 4_388, 5_021, 5_540],
            base,
            false,
        ),
    ];
    attachments.sort_by(|x, y| x.key.cmp(&y.key));
    let code = vec![
        obj(
            "api/latest.tar.gz",
            &[8_112_003, 8_140_554, 8_201_337],
            base,
            false,
        ),
        obj("api/v1.0.0.tar.gz", &[8_112_003], base, false),
        obj("web/latest.tar.gz", &[3_550_120, 3_601_876], base, false),
        obj("web/v1.0.0.tar.gz", &[3_550_120], base, false),
    ];
    let mut backups: Vec<SimObject> = (1..=5)
        .map(|d| {
            let day = now - Duration::days(d);
            obj(
                &format!("postgres/app_{}_020000.sql.gz", day.format("%Y%m%d")),
                &[2_400_000 + d as u64 * 1_111],
                day.date_naive()
                    .and_hms_opt(2, 5, 0)
                    .map(|t| Utc.from_utc_datetime(&t))
                    .unwrap_or(day),
                false,
            )
        })
        .collect();
    backups.sort_by(|x, y| x.key.cmp(&y.key));
    vec![
        SimBucket {
            name: "cohuron-attachments-prod-957207443425".into(),
            region: "us-east-1".into(),
            versioning: "Enabled".into(),
            encryption: "AES256".into(),
            public_access_block: "all blocked".into(),
            lifecycle: "IA@90d, GLACIER@180d, expire noncurrent@365d".into(),
            objects: attachments,
        },
        SimBucket {
            name: "cohuron-backups".into(),
            region: "us-east-1".into(),
            versioning: "Enabled".into(),
            encryption: "AES256".into(),
            public_access_block: "all blocked".into(),
            lifecycle: "expire@30d".into(),
            objects: backups,
        },
        SimBucket {
            name: "cohuron-code-prod-957207443425".into(),
            region: "us-east-1".into(),
            versioning: "Enabled".into(),
            encryption: "AES256".into(),
            public_access_block: "all blocked".into(),
            lifecycle: "none".into(),
            objects: code,
        },
        SimBucket {
            name: "cohuron-artifacts-prod-957207443425".into(),
            region: "us-east-1".into(),
            versioning: "Suspended".into(),
            encryption: "none".into(),
            public_access_block: "partial".into(),
            lifecycle: "none".into(),
            objects: vec![obj("legacy/2024/report-q4.pdf", &[722_001], base, false)],
        },
        SimBucket {
            name: "enssol-static-assets".into(),
            region: "ap-southeast-2".into(),
            versioning: "none".into(),
            encryption: "none".into(),
            public_access_block: "none".into(),
            lifecycle: "none".into(),
            objects: vec![obj("static/css/site.css", &[18_220], base, false)],
        },
    ]
}

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

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, text)
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
fn create_app_repo(sandbox: &Path, host_root: &Path, app: &str) -> std::io::Result<()> {
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
        &src,
        &["remote", "add", "origin", &bare.display().to_string()],
        d0,
    )?;
    let checkout = host_root.join("opt/apps").join(app);
    std::fs::create_dir_all(checkout.parent().unwrap_or(host_root))?;
    git(
        host_root,
        &[
            "clone",
            "-q",
            &bare.display().to_string(),
            &checkout.display().to_string(),
        ],
        d0,
    )?;
    git(&checkout, &["reset", "-q", "--hard", "HEAD~1"], d0)?;
    Ok(())
}

/// `/opt/platform` (deploy-platform.sh's checkout): nginx, postgres and
/// certbot in one compose file, one commit behind its origin.
fn create_platform_repo(sandbox: &Path, host_root: &Path) -> std::io::Result<()> {
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
        &src,
        &["remote", "add", "origin", &bare.display().to_string()],
        d0,
    )?;
    let checkout = host_root.join("opt/platform");
    std::fs::create_dir_all(host_root.join("opt"))?;
    git(
        host_root,
        &[
            "clone",
            "-q",
            &bare.display().to_string(),
            &checkout.display().to_string(),
        ],
        d0,
    )?;
    git(&checkout, &["reset", "-q", "--hard", "HEAD~1"], d0)
}

pub(crate) fn head(dir: &Path) -> String {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn gzip_file(path: &Path, text: &str, corrupt: bool) -> std::io::Result<()> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes())?;
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
    }
}

/// Build the whole estate under `dir` as of `now`.
pub fn create(dir: &Path, now: DateTime<Utc>) -> std::io::Result<Estate> {
    let estate = Estate {
        created_at: now,
        instances: instances(),
        buckets: buckets(now),
    };
    std::fs::create_dir_all(dir)?;
    let epoch = now.timestamp();

    // The multi-tenant platform host.
    let mt = dir.join("hosts").join(MT_HOST);
    create_platform_repo(dir, &mt)?;
    write(
        &mt.join("opt/platform/platform/.env"),
        "POSTGRES_PASSWORD=sandbox-not-a-secret\n",
    )?;
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
        create_app_repo(dir, &mt, app)?;
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
                c.labels
                    .insert("org.opencontainers.image.revision".into(), sha.clone());
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
    save_state(&mt, &sim)?;
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

    // The PMO host: API, web and PostgreSQL on 5434 in docker.
    let pmo = dir.join("hosts").join(PMO_HOST);
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
    // The message broker the MAP design puts next to the API.
    let mut broker = container(
        "rabbitmq",
        "rabbitmq:3.13-management",
        "pmo",
        "rabbitmq",
        epoch,
        20 * day,
        true,
    );
    broker.mem_limit_mib = 512;
    broker.cpu_limit_milli = 500;
    pmo_sim.containers.push(broker);
    pmo_sim.containers.sort_by(|a, b| a.name.cmp(&b.name));
    save_state(&pmo, &pmo_sim)?;
    write(
        &pmo.join("app/.env"),
        "DATABASE_URL=postgresql://app:app@localhost:5434/app\n",
    )?;
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

    // The Enssol host: Django + SQLite, no docker.
    let ens = dir.join("hosts").join(ENSSOL_HOST);
    write(
        &ens.join("opt/enssol/db.sqlite3"),
        "SQLite format 3\0 (sandbox stand-in)\n",
    )?;
    for d in [1, 8] {
        let at = Utc.from_utc_datetime(
            &(now - Duration::days(d))
                .date_naive()
                .and_hms_opt(4, 30, 0)
                .unwrap_or_default(),
        );
        gzip_file(
            &ens.join("opt/backups/sqlite")
                .join(format!("enssol_{}.sqlite3.gz", at.format("%Y%m%d_%H%M%S"))),
            "SQLite format 3 (sandbox)\n",
            false,
        )?;
    }

    // Hosts that exist but cannot be reached still get a directory.
    for h in [STOPPED_HOST, OFFLINE_HOST] {
        std::fs::create_dir_all(dir.join("hosts").join(h))?;
    }
    save(dir, &estate)?;
    Ok(estate)
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
