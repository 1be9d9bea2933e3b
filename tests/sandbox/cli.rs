//! The binary's headless commands: `ls --json` and `sandbox reset`.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn opsdeck(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("OPSDECK_SIM_DELAY_MS", "0")
        .env("OPSDECK_SANDBOX_PG", "simulated")
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ls_json_lists_the_estate_and_reset_restores_it() {
    let home = tempfile::tempdir().unwrap();
    let instances = json(&opsdeck(home.path(), &["ls", "instances", "--json"]));
    let ids: Vec<&str> = instances
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6);
    let regions: std::collections::BTreeSet<&str> = instances
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["region"].as_str().unwrap())
        .collect();
    assert!(regions.len() >= 3, "{regions:?}");
    assert!(
        instances
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["state"] == "stopped")
    );
    assert!(
        instances
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["ssm_ping"] == "connection_lost" && i["state"] == "running")
    );

    let tenants = json(&opsdeck(home.path(), &["ls", "tenants", "--json"]));
    assert_eq!(tenants.as_array().unwrap().len(), 11);
    let fi = tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["app"] == "filter-ical" && t["env"] == "staging")
        .unwrap();
    let sha_before = fi["deployed_sha"].as_str().unwrap().to_string();
    assert_eq!(fi["containers_up"], 2);

    let objects = json(&opsdeck(
        home.path(),
        &["ls", "objects", "cohuron-code-prod-957207443425", "--json"],
    ));
    assert_eq!(
        objects.to_string(),
        r#"[{"Prefix":"api/"},{"Prefix":"web/"}]"#
    );
    let backups = json(&opsdeck(home.path(), &["ls", "backups", "--json"]));
    assert!(
        backups
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["location"] == "s3")
    );
    assert!(
        backups
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["database"] == "enssol")
    );

    // Change the estate by hand, then reset: everything is back.
    let path = String::from_utf8(opsdeck(home.path(), &["sandbox", "path"]).stdout).unwrap();
    let checkout = Path::new(path.trim()).join("hosts/i-0a4f1c2e9b7d30001/opt/apps/filter-ical");
    let pulled = Command::new("git")
        .args(["pull", "-q", "--ff-only", "origin", "main"])
        .current_dir(&checkout)
        .status()
        .unwrap();
    assert!(pulled.success());
    let reset = opsdeck(home.path(), &["sandbox", "reset"]);
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&checkout)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(head.stdout).unwrap().trim(), sha_before);
}

#[test]
fn ls_objects_without_a_bucket_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let out = opsdeck(home.path(), &["ls", "objects"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "opsdeck: ls objects needs a bucket: opsdeck ls objects BUCKET [PREFIX]"
    );
    let out = opsdeck(home.path(), &["ls", "objects", "no-such-bucket"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "opsdeck: s3://no-such-bucket: NoSuchBucket: the bucket does not exist"
    );
}

/// A value the runbook cannot take is a usage error (2), with the reason in
/// words; a guard's refusal is 3. Nothing is sent either way.
#[test]
fn a_bad_parameter_is_a_usage_error_and_a_guard_a_refusal() {
    let home = tempfile::tempdir().unwrap();
    let out = opsdeck(
        home.path(),
        &["run", "logs", "container=nginx-platform", "lines=abc"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"abc\" is not a whole number"), "{err}");
    let out = opsdeck(
        home.path(),
        &["run", "logs", "container=nginx-platform", "nope=1"],
    );
    assert_eq!(out.status.code(), Some(2));
    // A change without --yes is refused by the guard.
    let out = opsdeck(home.path(), &["run", "restart", "container=nginx-platform"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every argument and flag of every command says what it is for.
#[test]
fn every_flag_has_a_help_line() {
    let home = tempfile::tempdir().unwrap();
    for cmd in [
        vec!["--help"],
        vec!["ls", "--help"],
        vec!["run", "--help"],
        vec!["history", "--help"],
        vec!["drill", "start", "--help"],
        vec!["drill", "verify", "--help"],
        vec!["drill", "report", "--help"],
        vec!["runbook", "list", "--help"],
        vec!["runbook", "check", "--help"],
        vec!["init", "--help"],
    ] {
        let out = opsdeck(home.path(), &cmd);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        let mut section = "";
        for (i, line) in lines.iter().enumerate() {
            if line.ends_with(':') && !line.starts_with(' ') {
                section = line;
                continue;
            }
            let entry = line.trim_start();
            let indent = line.len() - entry.len();
            // An entry: `  -x, --flag <V>` or `  <ARG>`, its help on the same
            // line after two spaces, or on the next, indented deeper.
            if !matches!(section, "Arguments:" | "Options:")
                || indent > 6
                || !entry.starts_with(['-', '<', '['])
            {
                continue;
            }
            let same_line = entry.split("  ").filter(|p| !p.trim().is_empty()).count() >= 2;
            let next_line = lines
                .get(i + 1)
                .is_some_and(|n| n.len() - n.trim_start().len() > 6 && !n.trim().is_empty());
            assert!(
                same_line || next_line,
                "{cmd:?}: `{entry}` has no help line\n{text}"
            );
        }
    }
}
