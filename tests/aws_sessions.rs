//! Shells and port forwards on the aws provider, against moto (for the
//! instances) with a fake `aws` CLI and Session Manager plugin on PATH that
//! record what they are called with: the arguments opsdeck hands the
//! standard tooling, the refusals, the journal, the missing-plugin message.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/moto.rs"]
mod moto;

use moto::{ManagedHost, manage, moto, run_instances};

/// A fake `aws` (and Session Manager plugin) on PATH that records its
/// arguments, says it started a session, reads a line and exits 5.
fn fake_aws(dir: &std::path::Path, with_plugin: bool) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > {log}\necho \"Starting session with SessionId: fake-1\"\nread line\necho \"got: $line\"\nexit 5\n",
        log = dir.join("aws-args").display()
    );
    let mut tools = vec![("aws", script)];
    if with_plugin {
        tools.push(("session-manager-plugin", "#!/bin/sh\nexit 0\n".into()));
    }
    for (name, text) in tools {
        let p = bin.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:/usr/bin:/bin", bin.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_goes_through_aws_ssm_start_session_and_is_journaled() {
    let ids = run_instances("ap-northeast-1", 1, "shell-ctx").await;
    let id = ids[0].as_str();
    let home = tempfile::tempdir().unwrap();
    // Its SSM agent is registered and online (a shell is refused otherwise).
    manage(
        id,
        &ManagedHost {
            region: "ap-northeast-1",
            root: home.path(),
            env: vec![],
            path_prepend: vec![],
            ping: "Online",
        },
    );
    let cfg = home.path().join("opsdeck.toml");
    std::fs::write(&cfg, "[[context]]\nname = \"moto\"\nprovider = \"aws\"\nprofile = \"ops\"\nregions = [\"ap-northeast-1\"]\nproduction = true\n").unwrap();
    let path = fake_aws(home.path(), true);
    let env = [
        ("AWS_ENDPOINT_URL", moto()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("PATH", path.as_str()),
    ];
    let shell = |args: &[&str], stdin: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"));
        cmd.args([
            "--config",
            cfg.to_str().unwrap(),
            "--context",
            "moto",
            "shell",
        ])
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("no-creds"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };

    // Production: the name is typed first.
    let out = shell(&[id], "");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--confirm shell-ctx-host"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The session: the standard tool with the context's profile and region,
    // the terminal (here, stdin and stdout) handed over, its exit code back.
    let out = shell(&[id, "--confirm", "shell-ctx-host"], "hello\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("got: hello"), "{stdout}");
    let args = std::fs::read_to_string(home.path().join("aws-args")).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "ssm",
            "start-session",
            "--target",
            id,
            "--region",
            "ap-northeast-1",
            "--profile",
            "ops"
        ]
    );
    // Inside a container: docker exec -it through AWS-StartInteractiveCommand.
    let out = shell(&[id, "--container", "web-1", "--confirm", "web-1"], "x\n");
    assert_eq!(out.status.code(), Some(5));
    let args = std::fs::read_to_string(home.path().join("aws-args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        args[8..10],
        ["--document-name", "AWS-StartInteractiveCommand"]
    );
    assert_eq!(args[10], "--parameters");
    let params: serde_json::Value = serde_json::from_str(args[11]).unwrap();
    assert!(
        params["command"][0]
            .as_str()
            .unwrap()
            .starts_with("sudo docker exec -it web-1 sh"),
        "{params}"
    );
    // A container name that is not one never reaches a command.
    let out = shell(
        &[id, "--container", "web;reboot", "--confirm", "web;reboot"],
        "",
    );
    assert_eq!(out.status.code(), Some(3));
    // Journaled: who, what, start, end, exit code.
    let hist = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--context",
            "moto",
            "history",
            "--json",
        ])
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("AWS_ENDPOINT_URL", moto())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let v: Vec<serde_json::Value> = serde_json::from_slice(&hist.stdout).unwrap();
    let shells: Vec<&serde_json::Value> = v
        .iter()
        .filter(|e| e["start"]["runbook"] == "shell")
        .collect();
    assert_eq!(shells.len(), 2, "{v:#?}");
    assert!(
        shells
            .iter()
            .all(|e| e["finish"]["exit_code"] == 5 && e["start"]["host"] == id)
    );
    assert!(
        shells
            .iter()
            .any(|e| e["start"]["target_kind"] == "container")
    );

    // Without the plugin: what to install, and nothing hangs.
    let bare = tempfile::tempdir().unwrap();
    let path = fake_aws(bare.path(), false);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    let out = cmd
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--context",
            "moto",
            "shell",
            id,
            "--confirm",
            "shell-ctx-host",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("AWS_ENDPOINT_URL", moto())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PATH", &path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("session-manager-plugin")
            && err.contains("install the Session Manager plugin"),
        "{err}"
    );
}
