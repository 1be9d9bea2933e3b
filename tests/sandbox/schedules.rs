//! The documents' recurring tasks as schedules: listed with their State
//! Manager expression, started when due through the same run path and
//! journal (who = schedule:NAME), a failed one critical in Attention, a
//! missed one (its runner stopped calling) a warning, and a broken entry a
//! config error with its line.

use crate::common;

use common::{fixed_now, run_cli_at};
use serde_json::Value;
use std::path::Path;

fn json(d: &Path, now: chrono::DateTime<chrono::Utc>, args: &[&str]) -> (i32, Value) {
    let (code, out, err) = run_cli_at(d, now, args);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}")),
    )
}

fn find<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[test]
fn schedules_run_when_due_are_journaled_as_theirs_and_failures_and_misses_need_attention() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let now = fixed_now();
    let (code, list) = json(d, now, &["schedule", "--json"]);
    assert_eq!(code, 0, "nothing failed or missed yet: {list:#}");
    assert_eq!(list.as_array().unwrap().len(), 7, "{list:#}");
    let pmo = find(&list, "pmo-daily-backup");
    assert_eq!(pmo["state"], "never_run");
    assert_eq!(pmo["expression"], "cron(0 2 ? * * *)");
    assert_eq!(
        find(&list, "platform-certbot")["expression"],
        "rate(12 hours)"
    );

    // The runner calls run-due: every schedule starts once.
    let (code, _, err) = run_cli_at(d, now, &["schedule", "run-due"]);
    // backup-all needs a real PostgreSQL (this sandbox's is simulated).
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "scheduled runs failed: platform-nightly-backup (exit 1), map-nightly-backup (exit 1)"
        ),
        "{err}"
    );
    let (_, history) = json(d, now, &["history", "--json"]);
    let runs: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["start"])
        .filter(|e| {
            e["who"]
                .as_str()
                .is_some_and(|w| w.starts_with("schedule:"))
        })
        .collect();
    assert_eq!(runs.len(), 7, "{history:#}");
    let ids: std::collections::BTreeSet<&str> =
        runs.iter().map(|e| e["run"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 7, "each run its own id: {ids:?}");
    assert!(
        runs.iter()
            .any(|e| e["who"] == "schedule:pmo-daily-backup" && e["runbook"] == "backup")
    );

    // Nothing more is due until the next time.
    let (code, _, err) = run_cli_at(
        d,
        now + chrono::Duration::minutes(5),
        &["schedule", "run-due"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no schedule is due"), "{err}");

    let (code, list) = json(d, now, &["schedule", "--json"]);
    assert_eq!(code, 1, "a failed schedule: exit 1");
    assert_eq!(find(&list, "pmo-daily-backup")["state"], "ok");
    assert_eq!(find(&list, "platform-nightly-backup")["state"], "failed");
    let (_, att) = json(d, now, &["ls", "attention", "--json"]);
    let failed = att
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "schedule-failed" && i["subject"] == "platform-nightly-backup")
        .unwrap_or_else(|| panic!("{att:#}"));
    assert_eq!(failed["severity"], "critical");

    // A day and a half later the runner has stopped calling: missed.
    let later = now + chrono::Duration::hours(27);
    let (_, list) = json(d, later, &["schedule", "--json"]);
    assert_eq!(find(&list, "pmo-daily-backup")["state"], "missed");
    let (_, att) = json(d, later, &["ls", "attention", "--json"]);
    assert!(
        att.as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "schedule-missed"
                && i["subject"] == "pmo-daily-backup"
                && i["severity"] == "warning"),
        "{att:#}"
    );
    let (_, _, err) = run_cli_at(d, later, &["schedule", "run-due"]);
    assert!(err.contains("schedule pmo-daily-backup is due"), "{err}");
    let (_, list) = json(d, later, &["schedule", "--json"]);
    assert_eq!(find(&list, "pmo-daily-backup")["state"], "ok");
}

#[test]
fn a_schedule_that_does_not_say_when_is_a_config_error_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = d.join("bad.toml");
    std::fs::write(
        &cfg,
        "[[context]]\nname = \"sandbox\"\nprovider = \"sandbox\"\n\n[[schedule]]\nname = \"nightly\"\nrunbook = \"backup\"\ntarget = \"database=app\"\nat = \"2am\"\n",
    )
    .unwrap();
    let (code, _, err) = run_cli_at(
        d,
        fixed_now(),
        &["--config", cfg.to_str().unwrap(), "schedule"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.toml:9:"), "{err}");
    assert!(
        err.contains("field `at`: schedule `nightly`: at = \"2am\" is not a time HH:MM (UTC)"),
        "{err}"
    );
}
