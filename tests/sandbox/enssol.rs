//! Enssol as its document runs it: ALB → nginx → gunicorn → Django on the
//! host under systemd, no docker. Its services' health, a restart and the
//! journal work without docker; a gunicorn that does not come back is
//! named with its log, and nginx answers 502 for it.

use crate::common;

use common::run_cli;
use opsdeck::provider::sandbox::estate::ENSSOL_HOST;
use std::path::{Path, PathBuf};

fn sandbox(d: &Path) -> PathBuf {
    let (code, _, err) = run_cli(d, &["ls", "instances"]);
    assert_eq!(code, 0, "{err}");
    d.join("data/opsdeck/sandbox")
}

fn run(d: &Path, runbook: &str, extra: &[&str], change: bool) -> (i32, String) {
    let target = format!("instance={ENSSOL_HOST}");
    let mut args = vec!["run", runbook, target.as_str()];
    args.extend(extra);
    if change {
        args.extend(["--yes", "--confirm", "enssol-web-prod"]);
    }
    let (code, out, err) = run_cli(d, &args);
    (code, format!("{out}{err}"))
}

#[test]
fn the_host_services_are_checked_restarted_and_read_without_docker() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    // No docker on this host: the container view has nothing of it.
    let (_, containers, _) = run_cli(d, &["ls", "containers", "--json"]);
    assert!(!containers.contains(ENSSOL_HOST), "{containers}");

    // The services and health URL come from its [[host]] entry.
    let (code, out) = run(d, "service-health", &[], false);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("service.nginx=active") && out.contains("service.gunicorn=active"),
        "{out}"
    );
    assert!(
        out.contains("http://localhost/health/ answered 200"),
        "{out}"
    );

    let (code, out) = run(d, "service-restart", &["unit=gunicorn"], true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("gunicorn is active") && out.contains("answered 200"),
        "{out}"
    );
    let (code, out) = run(
        d,
        "service-logs",
        &["unit=gunicorn", "grep=Listening"],
        false,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("[INFO] Listening at: unix:/run/gunicorn.sock"),
        "{out}"
    );

    // A release that breaks the app: gunicorn fails to start.
    let fail = sb
        .join("hosts")
        .join(ENSSOL_HOST)
        .join("etc/opsdeck-sim/GUNICORN_FAIL");
    std::fs::create_dir_all(fail.parent().unwrap()).unwrap();
    std::fs::write(&fail, "").unwrap();
    let (code, out) = run(d, "service-restart", &["unit=gunicorn"], true);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("gunicorn did not start; its last log lines:"),
        "{out}"
    );
    assert!(
        out.contains("ModuleNotFoundError: No module named 'obligations.settings_prod'"),
        "{out}"
    );
    let (code, out) = run(d, "service-health", &[], false);
    assert_ne!(code, 0);
    assert!(out.contains("gunicorn: failed"), "{out}");
    assert!(out.contains("Active: failed (Result: exit-code)"), "{out}");

    // A unit the host does not have is refused before anything is done.
    let (code, out) = run(d, "service-restart", &["unit=apache2"], true);
    assert_ne!(code, 0);
    assert!(out.contains("no service apache2 on this host"), "{out}");
}
