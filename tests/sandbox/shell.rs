//! `opsdeck shell` on the sandbox: the console's `S`, headless. The same
//! refusals (read-only, a host that cannot be reached, production without
//! the typed name), a shell in the host's tree with the simulated docker,
//! its exit code back, and a journal record from start to end. (The AWS
//! side, `aws ssm start-session` with a fake CLI, is in `aws_sessions.rs`; the
//! terminal handed over and back, in `e2e_tmux.rs`.)

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::run_cli;
use opsdeck::provider::sandbox::estate::{MAP_HOST, MT_HOST};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// `opsdeck shell ARGS`, `input` typed into it: (exit code, stdout, stderr).
fn shell(d: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    let mut child = common::cli(d)
        .arg("shell")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_shell_on_a_sandbox_host_runs_in_its_tree_and_is_journaled() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    // Refused before anything starts.
    let (code, _, err) = shell(d, &["indivillage-web"], "");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("ConnectionLost"), "{err}");
    let (code, _, err) = shell(d, &["pmo-worker-legacy"], "");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("stopped"), "{err}");
    let (code, _, err) = shell(d, &["multi-tenant-platform"], "");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--confirm multi-tenant-platform"), "{err}");
    let (code, _, err) = shell(
        d,
        &["--read-only", MT_HOST, "--confirm", "multi-tenant-platform"],
        "",
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("read-only"), "{err}");
    let (code, _, err) = shell(d, &["no-such-host"], "");
    assert_eq!(code, 2, "{err}");

    // The shell: the host's tree, the simulated docker, its exit code back.
    let (code, out, err) = shell(
        d,
        &[
            "multi-tenant-platform",
            "--confirm",
            "multi-tenant-platform",
        ],
        "echo host=$OPSDECK_HOST; ls opt/apps; docker ps --format '{{.Names}}' | grep -c platform; exit 7\n",
    );
    assert_eq!(code, 7, "{out}{err}");
    assert!(out.contains(&format!("host={MT_HOST}")), "{out}");
    assert!(
        out.contains("filter-ical") && out.contains("gabs-massage"),
        "{out}"
    );
    assert!(err.contains("a shell on sandbox host"), "the banner: {err}");
    assert!(err.contains("ended (exit 7)"), "{err}");

    // A container: the sandbox says it has no inside, and opens its host.
    let (code, out, err) = shell(
        d,
        &[
            "map-system",
            "--container",
            "map-kong",
            "--confirm",
            "map-kong",
        ],
        "docker inspect --format '{{.Name}}' map-kong\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("simulates docker"), "{err}");
    assert!(out.contains("/map-kong"), "{out}");

    // Both in the journal, with who, target, start, end and exit code.
    let (_, out, _) = run_cli(d, &["history", "--json"]);
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let shells: Vec<&serde_json::Value> = v
        .iter()
        .filter(|e| e["start"]["runbook"] == "shell")
        .collect();
    assert_eq!(shells.len(), 2, "{v:#?}");
    let mt = shells
        .iter()
        .find(|e| e["start"]["host"] == MT_HOST)
        .unwrap();
    assert_eq!(mt["finish"]["exit_code"], 7);
    assert_eq!(mt["start"]["production"], true);
    assert_eq!(mt["start"]["danger"], "destructive");
    let kong = shells
        .iter()
        .find(|e| e["start"]["host"] == MAP_HOST)
        .unwrap();
    assert_eq!(kong["start"]["target"], "map-kong");
    assert_eq!(kong["start"]["target_kind"], "container");
}

#[test]
fn a_forward_is_refused_with_the_reason_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, _, err) = run_cli(d, &["forward", "helpdesk"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--confirm helpdesk"), "{err}");
    // A SQLite file has no server to forward to.
    let (code, _, err) = run_cli(d, &["forward", "enssol", "--confirm", "enssol"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("SQLite"), "{err}");
    // Simulated databases: nothing listens, and the way to real ones is said.
    let (code, _, err) = run_cli(d, &["forward", "helpdesk", "--confirm", "helpdesk"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("simulated") && err.contains("apt install postgresql"),
        "{err}"
    );
    let (code, _, err) = run_cli(d, &["forward", "no_such_db"]);
    assert_eq!(code, 2, "{err}");
    // Nothing was started, so nothing is in the journal.
    let (_, out, _) = run_cli(d, &["history", "--json"]);
    assert_eq!(out.trim(), "[]");
}

#[test]
fn a_shell_whose_opsdeck_was_killed_is_closed_as_lost_not_left_open() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let journal = opsdeck::store::journal::Journal::new(&d.join("state/opsdeck"));
    let mut child = common::cli(d)
        .args([
            "shell",
            "multi-tenant-platform",
            "--confirm",
            "multi-tenant-platform",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let t = std::time::Instant::now();
    while !journal
        .entries()
        .0
        .iter()
        .any(|e| e.start.runbook == "shell" && e.finish.is_none())
    {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "no shell record"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While its opsdeck lives, nobody closes it.
    let (code, _, err) = run_cli(d, &["attach"]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("closed as lost"), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
    // The shell itself reads stdin: closing it ends it.
    stdin.write_all(b"exit\n").ok();
    drop(stdin);
    let (_, _, err) = run_cli(d, &["attach"]);
    assert!(
        err.contains("closed as lost") && err.contains("shell on multi-tenant-platform"),
        "{err}"
    );
    let (entries, _) = journal.entries();
    let shell = entries.iter().find(|e| e.start.runbook == "shell").unwrap();
    assert_eq!(shell.finish.as_ref().unwrap().status, "lost");
}
