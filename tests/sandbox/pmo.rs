//! PMO's code as its document deploys it: a build in the code bucket
//! (`api/latest.tar.gz`, versioned), unpacked where the app lives (`/app`),
//! `cd /app && ./deploy.sh`, the API's health; a failed deploy returns to
//! the code that ran before, and an older build is one version id away.

use crate::common;

use common::run_cli;
use opsdeck::provider::sandbox::estate::PMO_HOST;
use std::path::{Path, PathBuf};

const CODE: &str = "cohuron-code-prod-957207443425";

fn sandbox(d: &Path) -> PathBuf {
    let (code, _, err) = run_cli(d, &["ls", "instances"]);
    assert_eq!(code, 0, "{err}");
    d.join("data/opsdeck/sandbox")
}

fn run(d: &Path, runbook: &str, extra: &[&str]) -> (i32, String) {
    let target = format!("instance={PMO_HOST}");
    let mut args = vec!["run", runbook, target.as_str()];
    args.extend(extra);
    args.extend(["--yes", "--confirm", "cohuron-pmo-api"]);
    let (code, out, err) = run_cli(d, &args);
    (code, format!("{out}{err}"))
}

fn version_file(sb: &Path, part: &str) -> String {
    let p = sb
        .join("hosts")
        .join(PMO_HOST)
        .join("app")
        .join(part)
        .join("VERSION");
    std::fs::read_to_string(p).unwrap().trim().to_string()
}

/// The S3 versions of `key` in the code bucket, oldest first.
fn versions(sb: &Path, key: &str) -> Vec<String> {
    let estate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.join("estate.json")).unwrap()).unwrap();
    let bucket = estate["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == CODE)
        .unwrap();
    let o = bucket["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == key)
        .unwrap();
    o["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_code_artifact_deploys_into_app_and_runs_through_deploy_sh() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    assert_eq!(
        version_file(&sb, "api"),
        "api/v1.0.0.tar.gz",
        "what runs as shipped"
    );
    let api = versions(&sb, "api/latest.tar.gz");

    let (code, out) = run(d, "deploy-artifact", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("s3://{CODE}/api/latest.tar.gz version {}", api[2])),
        "{out}"
    );
    assert!(
        out.contains(
            "deploy.sh: pmo-api and pmo-web restarted on api/latest.tar.gz and web/latest.tar.gz"
        ),
        "{out}"
    );
    assert!(
        out.contains(r#"GET http://localhost:4000/api/health: {"status":"ok""#),
        "{out}"
    );
    assert_eq!(version_file(&sb, "api"), "api/latest.tar.gz");
    let record = std::fs::read_to_string(
        sb.join("hosts")
            .join(PMO_HOST)
            .join("var/lib/opsdeck/deploys/code-api"),
    )
    .unwrap();
    assert!(
        record
            .trim_end()
            .ends_with(&format!("unknown {} deploy", api[2])),
        "{record}"
    );

    // An older build, by its version id.
    let (code, out) = run(
        d,
        "rollback-artifact",
        &["artifacts=api/latest.tar.gz", &format!("to={}", api[0])],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        version_file(&sb, "api"),
        format!("api/latest.tar.gz {}", api[0])
    );
    assert_eq!(
        version_file(&sb, "web"),
        "web/latest.tar.gz",
        "the web app untouched"
    );

    // Two artifacts and one version id: refused before anything changes.
    let (code, out) = run(d, "rollback-artifact", &[&format!("to={}", api[0])]);
    assert_ne!(code, 0);
    assert!(
        out.contains("a version id names one build: give one artifact"),
        "{out}"
    );
}

#[test]
fn a_broken_build_returns_to_the_code_that_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    // A build that forgot its VERSION file is uploaded as the latest.
    let build = tmp.path().join("build");
    std::fs::create_dir_all(build.join("dist")).unwrap();
    std::fs::write(build.join("dist/server.js"), "// half a build\n").unwrap();
    let latest = sb.join("s3data").join(CODE).join("api/latest.tar.gz");
    let st = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&latest)
        .arg("-C")
        .arg(&build)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let (code, out) = run(d, "deploy-artifact", &[]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("deploy.sh: no api/VERSION: unpack its artifact first"),
        "{out}"
    );
    assert!(out.contains("==> FAILED: run the deploy script"), "{out}");
    assert!(
        out.contains("rolled back automatically: `rollback-artifact` succeeded"),
        "{out}"
    );
    assert!(
        out.contains("/app/api: the code that ran before is back (api/v1.0.0.tar.gz)"),
        "{out}"
    );
    assert_eq!(version_file(&sb, "api"), "api/v1.0.0.tar.gz");
    assert_eq!(version_file(&sb, "web"), "web/v1.0.0.tar.gz");
    assert!(
        !sb.join("hosts")
            .join(PMO_HOST)
            .join("var/lib/opsdeck/deploys/.code.inflight")
            .exists(),
        "the rollback closed the deploy"
    );
}
