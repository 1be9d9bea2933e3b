//! Each seed host of the sandbox as its document describes it, checked
//! fact by fact so the sandbox cannot drift back to fitting the runbooks:
//! what the hosts hold (users, paths, how code arrives, how services run,
//! labels they do not have, backup layouts), read from a fresh sandbox's
//! trees, its simulated state and the CLI's lists.

use crate::common;

use common::run_cli;
use opsdeck::provider::sandbox::estate::{ENSSOL_HOST, MAP_APPS, MAP_HOST, MT_HOST, PMO_HOST};
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Estate {
    _tmp: tempfile::TempDir,
    sb: PathBuf,
    containers: Vec<Value>,
    backups: Vec<Value>,
}

fn estate() -> Estate {
    let tmp = tempfile::tempdir().unwrap();
    let list = |what: &str| -> Vec<Value> {
        let (code, out, err) = run_cli(tmp.path(), &["ls", what, "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let containers = list("containers");
    let backups = list("backups");
    let sb = tmp.path().join("data/opsdeck/sandbox");
    Estate {
        _tmp: tmp,
        sb,
        containers,
        backups,
    }
}

fn host(e: &Estate, id: &str) -> PathBuf {
    e.sb.join("hosts").join(id)
}

fn state(e: &Estate, id: &str) -> Value {
    let p = host(e, id).join("var/lib/docker-sim/state.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn on(e: &Estate, id: &str) -> Vec<Value> {
    e.containers
        .iter()
        .filter(|c| c["host"] == id)
        .cloned()
        .collect()
}

#[test]
fn the_multi_tenant_host_follows_its_document() {
    let e = estate();
    let mt = host(&e, MT_HOST);
    // Builds are plain `docker-compose up -d --build`: compose's labels only.
    for c in on(&e, MT_HOST) {
        let labels = c["labels"].as_object().unwrap();
        assert!(
            labels.keys().all(|k| k.starts_with("com.docker.compose.")),
            "{}: {labels:?}",
            c["name"]
        );
    }
    // Only docker-compose (v1), as its scripts call.
    assert!(
        mt.join(opsdeck::provider::sandbox::docker_sim::NO_COMPOSE_V2)
            .exists()
    );
    // The platform in /opt/platform, each app's one checkout in /opt/apps.
    assert!(mt.join("opt/platform/.git").is_dir());
    for app in ["paiss", "filter-ical", "gabs-massage"] {
        assert!(
            mt.join("opt/apps")
                .join(app)
                .join("docker-compose.yml")
                .is_file(),
            "{app}"
        );
    }
    // backup.sh's names in /opt/backups/postgres.
    let names: Vec<&str> = e
        .backups
        .iter()
        .filter(|b| b["origin"] == MT_HOST)
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    assert!(!names.is_empty());
    for n in &names {
        assert!(
            n.starts_with("/opt/backups/postgres/") && n.ends_with(".sql.gz"),
            "{n}"
        );
    }
    // One certificate, gabs-massage's, every app's domain a SAN.
    let st = state(&e, MT_HOST);
    let certs = st["certs"].as_array().unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["name"], "gabs-massage.example.com");
    assert_eq!(certs[0]["domains"].as_array().unwrap().len(), 3);
    // Images are built on the server: old builds pile up.
    assert!(!st["dangling"].as_array().unwrap().is_empty());
    // The platform's PostgreSQL role is the document's POSTGRES_USER.
    let h = config()
        .hosts
        .into_iter()
        .find(|h| h.instance == MT_HOST)
        .unwrap();
    assert_eq!(h.pg_user.as_deref(), Some("platform_admin"));
}

fn config() -> opsdeck::config::Config {
    opsdeck::config::parse(opsdeck::provider::sandbox::SANDBOX_CONFIG, "sandbox.toml").unwrap()
}

#[test]
fn the_pmo_host_follows_its_document() {
    let e = estate();
    let pmo = host(&e, PMO_HOST);
    // The app lives in /app: its env, the unpacked code, ./deploy.sh.
    assert!(read(&pmo.join("app/.env")).contains("localhost:5434/app"));
    for part in ["api", "web"] {
        assert!(
            pmo.join("app").join(part).join("VERSION").is_file(),
            "{part}"
        );
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(pmo.join("app/deploy.sh"))
            .unwrap()
            .permissions(),
    );
    assert!(mode & 0o111 != 0, "deploy.sh is executable");
    // The manual backup: plain SQL, no time in its name.
    let manual = read(&pmo.join("app/backup.sql"));
    assert!(manual.contains("PostgreSQL database dump"));
    let b = e
        .backups
        .iter()
        .find(|b| b["path"] == "/app/backup.sql")
        .unwrap();
    assert_eq!(
        (b["database"].as_str(), b["format"].as_str()),
        (Some("app"), Some("sql"))
    );
    // The daily backup: one key, kept by the bucket's versions.
    let latest = e
        .backups
        .iter()
        .filter(|b| b["path"] == "db/latest.sql.gz")
        .count();
    assert!(latest >= 7, "{latest} versions of db/latest.sql.gz");
    // The code bucket as the document lists it.
    let code = e.sb.join("s3data/cohuron-code-prod-957207443425");
    for k in ["api/latest.tar.gz", "web/latest.tar.gz"] {
        assert!(code.join(k).is_file(), "{k}");
    }
    // The database is the app role's (PGPASSWORD=app … -U app -d app).
    let d = config()
        .databases
        .into_iter()
        .find(|d| d.name == "app")
        .unwrap();
    assert_eq!(d.pg_user.as_deref(), Some("app"));
    assert_eq!(d.s3_latest.as_deref(), Some("db/latest.sql.gz"));
}

#[test]
fn the_enssol_host_follows_its_document() {
    let e = estate();
    let ens = host(&e, ENSSOL_HOST);
    // No docker: nginx → gunicorn → Django on the host, under systemd.
    assert!(on(&e, ENSSOL_HOST).is_empty());
    let units: Vec<String> = state(&e, ENSSOL_HOST)["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(units, ["nginx", "gunicorn"]);
    // A real SQLite database and its daily copies.
    let db = std::fs::read(ens.join("opt/enssol/db.sqlite3")).unwrap();
    assert!(db.starts_with(b"SQLite format 3\0"), "a real SQLite file");
    let daily: Vec<&Value> = e
        .backups
        .iter()
        .filter(|b| b["database"] == "enssol")
        .collect();
    assert!(!daily.is_empty());
    assert!(daily.iter().all(|b| b["format"] == "sqlite_gz"));
    // RPO 24 h (ENS:141), not a week.
    assert_eq!(config().rpo_hours("enssol"), 24);
}

#[test]
fn the_map_host_follows_its_plan() {
    let e = estate();
    let map = host(&e, MAP_HOST);
    // A checkout per system: compose with the plan's names, Django.
    for system in MAP_APPS {
        let dir = map.join("opt/apps").join(system);
        assert!(dir.join("manage.py").is_file(), "{system}");
        let compose = read(&dir.join("docker-compose.yml"));
        assert!(
            compose.contains("container_name:") && compose.contains("media_files"),
            "{system}"
        );
        let app = config()
            .apps
            .into_iter()
            .find(|a| a.name == system)
            .unwrap();
        assert_eq!(app.migrate.as_deref(), Some("django"), "{system}");
    }
    // Kong in front, RabbitMQ with the plan's queues, one PostgreSQL.
    let names: Vec<String> = on(&e, MAP_HOST)
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    for c in ["map-kong", "map-rabbitmq", "map-postgres"] {
        assert!(names.iter().any(|n| n == c), "{c}");
    }
    assert!(!state(&e, MAP_HOST)["queues"].as_array().unwrap().is_empty());
    // Nine databases, each with its nightly dump.
    let mut dbs: Vec<&str> = e
        .backups
        .iter()
        .filter(|b| b["origin"] == MAP_HOST)
        .map(|b| b["database"].as_str().unwrap())
        .collect();
    dbs.sort_unstable();
    dbs.dedup();
    assert_eq!(dbs.len(), 9, "{dbs:?}");
}
