//! A broken config names the file, line, column and field, and the binary
//! exits non-zero before touching the terminal.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn run_with(fixture: &str) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .current_dir(root)
        .args([
            "--config",
            &format!("tests/fixtures/config/{fixture}"),
            "ls",
            "instances",
        ])
        .env("XDG_DATA_HOME", tmp.path().join("data"))
        .env("XDG_STATE_HOME", tmp.path().join("state"))
        .env("XDG_CONFIG_HOME", tmp.path().join("config"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap().trim().to_string(),
    )
}

#[test]
fn each_bad_config_gets_its_exact_message() {
    let cases = [
        (
            "bad-type.toml",
            "opsdeck: config error: tests/fixtures/config/bad-type.toml:2:13: field `read_only`: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "unknown-field.toml",
            "opsdeck: config error: tests/fixtures/config/unknown-field.toml:4:1: field `region`: unknown field `region`, expected one of `name`, `provider`, `profile`, `regions`, `production`, `read_only`, `locks_bucket`",
        ),
        (
            "missing-field.toml",
            "opsdeck: config error: tests/fixtures/config/missing-field.toml:1:1: field `name`: missing field `name`",
        ),
        (
            "bad-provider.toml",
            "opsdeck: config error: tests/fixtures/config/bad-provider.toml:3:12: field `provider`: unknown variant `gcp`, expected `sandbox` or `aws`",
        ),
        (
            "bad-region.toml",
            "opsdeck: config error: tests/fixtures/config/bad-region.toml:4:27: field `regions`: `Stockholm` is not an AWS region name (like eu-north-1)",
        ),
        (
            "unknown-app.toml",
            "opsdeck: config error: tests/fixtures/config/unknown-app.toml:3:10: field `apps`: app `filter-ical` has no [[app]] entry",
        ),
        (
            "syntax.toml",
            "opsdeck: config error: tests/fixtures/config/syntax.toml:1:14: field `theme`: invalid basic string, expected `\"`",
        ),
        (
            "bad-theme.toml",
            "opsdeck: config error: tests/fixtures/config/bad-theme.toml:1:10: field `theme`: unknown theme `solarized` (built in: dark, light; or a path to a .toml file)",
        ),
    ];
    let mut failures = Vec::new();
    for (fixture, expected) in cases {
        let (code, stdout, stderr) = run_with(fixture);
        assert_eq!(code, 2, "{fixture}: exit code");
        assert!(
            stdout.is_empty(),
            "{fixture}: nothing may reach the terminal: {stdout:?}"
        );
        if stderr != expected {
            failures.push(format!(
                "{fixture}:\n  expected {expected}\n  got      {stderr}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_config_file_is_named() {
    let (code, _, stderr) = run_with("does-not-exist.toml");
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "opsdeck: config error: tests/fixtures/config/does-not-exist.toml:0:0: cannot read:"
        ),
        "{stderr}"
    );
}

#[test]
fn init_writes_a_starter_config_that_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("opsdeck.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["--config", cfg.to_str().unwrap(), "init"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("[[context]]") && text.contains("filter_ical_{env}"));
    opsdeck::config::load_file(&cfg).unwrap();
    // A second init refuses to overwrite.
    let again = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["--config", cfg.to_str().unwrap(), "init"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}
