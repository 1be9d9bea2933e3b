//! The MAP host on call beyond its databases: Kong and every service
//! behind it answer (a stopped API is named), and the media_files volume
//! — the uploads no database dump covers — is archived and restored.

use crate::common;

use common::run_cli;
use opsdeck::provider::sandbox::estate::MAP_HOST;
use std::path::{Path, PathBuf};

const MEDIA: &str = "var/lib/docker/volumes/media_files/_data";

fn sandbox(d: &Path) -> PathBuf {
    let (code, _, err) = run_cli(d, &["ls", "instances"]);
    assert_eq!(code, 0, "{err}");
    d.join("data/opsdeck/sandbox")
}

fn run(d: &Path, runbook: &str, extra: &[&str]) -> (i32, String) {
    let target = format!("instance={MAP_HOST}");
    let mut args = vec!["run", runbook, target.as_str()];
    args.extend(extra);
    args.extend(["--yes", "--confirm", "map-system"]);
    let (code, out, err) = run_cli(d, &args);
    (code, format!("{out}{err}"))
}

fn docker(sb: &Path, args: &[&str]) {
    let st = std::process::Command::new(sb.join("bin/docker"))
        .env("OPSDECK_ROOT", sb.join("hosts").join(MAP_HOST))
        .args(args)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn kong_and_every_service_behind_it_answer_and_a_stopped_one_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    let (code, out) = run(d, "gateway-health", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("http://localhost:8080/ answered 404 (Kong is up)"),
        "{out}"
    );
    assert!(out.contains("map-tts-workflow-api :1001 200"), "{out}");
    assert!(out.contains("map-auth-auth :8003 200"), "{out}");
    assert!(out.contains("11 of 11 services answer 200"), "{out}");

    docker(&sb, &["stop", "map-tts-workflow-api"]);
    let (code, out) = run(d, "gateway-health", &[]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("!! map-tts-workflow-api :1001 is exited"),
        "{out}"
    );
    assert!(out.contains("10 of 11 services answer 200"), "{out}");

    docker(&sb, &["stop", "map-kong"]);
    let (code, out) = run(d, "gateway-health", &[]);
    assert_ne!(code, 0);
    assert!(out.contains("map-kong is exited"), "{out}");
}

#[test]
fn the_media_volume_is_archived_and_restored_with_its_containers_stopped_meanwhile() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    let media = sb.join("hosts").join(MAP_HOST).join(MEDIA);
    let attachment = media.join("tickets/2026/02/T-10231/invoice.pdf");
    let before = std::fs::read(&attachment).unwrap();

    let (code, out) = run(d, "backup-volume", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("==> opsdeck report: files=5"), "{out}");
    let file = out
        .lines()
        .find_map(|l| l.strip_prefix("==> opsdeck report: file="))
        .unwrap()
        .to_string();
    assert!(
        file.starts_with("media_files_") && file.ends_with(".tar.gz"),
        "{file}"
    );

    // Uploads lost.
    std::fs::remove_dir_all(media.join("tickets")).unwrap();
    std::fs::write(media.join("stray.tmp"), "x").unwrap();
    let archive = format!("archive=/opt/backups/volumes/{file}");
    let (code, out) = run(d, "restore-volume", &[&archive]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("stopped 14 containers"), "{out}");
    assert!(out.contains("5 files in media_files"), "{out}");
    assert_eq!(std::fs::read(&attachment).unwrap(), before);
    assert!(
        !media.join("stray.tmp").exists(),
        "the volume is the archive's, exactly"
    );
    // The containers that mount it run again.
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            sb.join("hosts")
                .join(MAP_HOST)
                .join("var/lib/docker-sim/state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let api = state["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "map-tts-workflow-api")
        .unwrap();
    assert_eq!(api["state"], "running");

    // A file that is not a whole archive is refused before anything changes.
    std::fs::write(
        sb.join("hosts")
            .join(MAP_HOST)
            .join("opt/backups/volumes/bad.tar.gz"),
        "nope",
    )
    .unwrap();
    let (code, out) = run(
        d,
        "restore-volume",
        &["archive=/opt/backups/volumes/bad.tar.gz"],
    );
    assert_ne!(code, 0);
    assert!(out.contains("is not a whole tar.gz"), "{out}");
    assert_eq!(std::fs::read(&attachment).unwrap(), before);
}
