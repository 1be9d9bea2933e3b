//! The console and the headless CLI prepare runs through one path: for
//! every built-in runbook on every target of the sandbox that the console
//! offers (each row of Tenants, Instances, Containers and Backups, and what
//! each row also stands for), `opsdeck run … --dry-run --json` reaches the
//! same decision — the same refusal or none, the same script digest, the
//! same name to type.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Harness, cli, sandbox_ctx, sim_env};
use crossterm::event::KeyCode;
use opsdeck::runbook::Target;
use opsdeck::tui::app::Screen;
use std::collections::BTreeMap;

/// What the operator types on the command line for `t`.
fn typed(t: &Target) -> String {
    let var = |k: &str| {
        t.vars
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    use opsdeck::runbook::spec::TargetKind as K;
    match t.kind {
        K::Tenant => t.label.clone(),
        K::Instance => var("instance"),
        K::Container => format!("{}@{}", t.label, t.host),
        // An older version of a `latest` key is typed with its id.
        K::Backup if !var("version_id").is_empty() => {
            format!("{}?versionId={}", var("backup"), var("version_id"))
        }
        K::Backup => var("backup"),
        K::Database => format!("{}@{}", t.label, t.host),
    }
}

/// The console's decision: the digest and the name to type, or the
/// refusal's words.
fn console_decision(h: &Harness, name: &str, t: &Target) -> Result<(String, String), String> {
    let run = h
        .app
        .prepare(name, t, &BTreeMap::new())
        .map_err(|e| e.to_string())?;
    match h.app.run_refusal(&run) {
        Some(why) => Err(why),
        None => Ok((run.digest, run.confirm_with.unwrap_or_default())),
    }
}

/// The CLI's decision for the same runbook and target.
fn cli_decision(d: &std::path::Path, name: &str, t: &Target) -> Result<(String, String), String> {
    let arg = format!("{}={}", t.kind.label(), typed(t));
    let out = cli(d)
        .args(["run", name, &arg, "--dry-run", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match serde_json::from_str::<serde_json::Value>(&stdout) {
        Ok(v) => match v["refused"].as_str() {
            Some(why) => Err(why.to_string()),
            None => Ok((
                v["digest"].as_str().unwrap().to_string(),
                v["confirm_with"].as_str().unwrap_or_default().to_string(),
            )),
        },
        Err(_) => Err(stderr
            .trim()
            // A guard's refusal (exit 3) or a bad parameter (exit 2).
            .trim_start_matches("opsdeck: ")
            .trim_start_matches("refused: ")
            .to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_cli_make_the_same_decision_for_every_runbook_and_target() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_path_buf();
    let (sb, state) = (d.join("data/opsdeck/sandbox"), d.join("state/opsdeck"));
    let mut h = Harness::in_dir(
        tmp,
        &sb,
        &state,
        sandbox_ctx(),
        sim_env(common::fixed_now()),
    )
    .await;

    // Every target the console offers, row by row.
    let mut targets: Vec<Target> = Vec::new();
    for (screen, key) in [
        (Screen::Tenants, '1'),
        (Screen::Instances, '2'),
        (Screen::Containers, '3'),
        (Screen::Backups, '5'),
    ] {
        h.keys(&key.to_string());
        h.settle().await;
        assert_eq!(h.app.screen, screen);
        let rows = h.app.nav.tables.get(&screen).map_or(0, |t| t.rows.len());
        assert!(rows > 0, "{screen:?} has rows");
        h.key(KeyCode::Char('g'));
        for _ in 0..rows {
            for t in h.app.selection_targets() {
                if !targets.contains(&t) {
                    targets.push(t);
                }
            }
            h.key(KeyCode::Char('j'));
        }
    }
    let lib = opsdeck::runbook::Library::builtin();
    let mut cases = Vec::new();
    for t in &targets {
        for spec in lib.for_target(t.kind) {
            let console = console_decision(&h, spec.name(), t);
            cases.push((spec.name().to_string(), t.clone(), console));
        }
    }
    assert!(cases.len() > 100, "{} cases", cases.len());
    assert!(cases.iter().any(|c| c.2.is_ok()), "some runs are allowed");
    assert!(cases.iter().any(|c| c.2.is_err()), "some are refused");
    assert!(
        cases
            .iter()
            .any(|c| c.2.as_ref().is_ok_and(|(_, name)| !name.is_empty())),
        "some need a typed name"
    );

    // The CLI, two at a time.
    let half = cases.len().div_ceil(2);
    let mismatches: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(half)
            .map(|chunk| {
                let d = d.clone();
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(name, t, console)| {
                            let headless = cli_decision(&d, name, t);
                            (&headless != console).then(|| {
                                format!(
                                    "{name} on {} {}: console {console:?}, cli {headless:?}",
                                    t.kind.label(),
                                    typed(t)
                                )
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

/// `--confirm` that names another target is a mistake: refused, not
/// ignored, even where no typed name is needed. The headless preview says
/// what the CLI needs, not the console's keys.
#[test]
fn a_confirm_that_names_another_target_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, out, err) = common::run_cli(
        d,
        &[
            "run",
            "health",
            "tenant=filter-ical-staging",
            "--confirm",
            "filter-ical-production",
        ],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("does not name the target"), "{err}");
    let (code, out, _) = common::run_cli(d, &["history", "--json"]);
    assert_eq!((code, out.trim()), (0, "[]"), "nothing was started");
    let (code, out, err) = common::run_cli(
        d,
        &[
            "run",
            "health",
            "tenant=filter-ical-staging",
            "--confirm",
            "filter-ical-staging",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = common::run_cli(
        d,
        &["run", "health", "tenant=filter-ical-staging", "--dry-run"],
    );
    assert!(
        out.contains("# guards    read runbook: runs as is"),
        "{out}"
    );
    assert!(!out.contains("Enter"), "{out}");
    let (_, out, _) = common::run_cli(
        d,
        &["run", "deploy", "tenant=filter-ical-staging", "--dry-run"],
    );
    assert!(
        out.contains("# guards    change runbook: runs with --yes"),
        "{out}"
    );
    // The plan in words comes before the script.
    assert!(
        out.contains("# plan      steps: 1. git pull origin main  2. docker compose up -d --build"),
        "{out}"
    );
    assert!(
        out.contains("# plan      on failure: a failed pre-check stops before anything changes; a failed step rolls back automatically with `rollback`"),
        "{out}"
    );
}

/// A runbook name that does not exist says so (it used to read as "names
/// a rollback runbook that does not exist").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_runbook_is_named_as_such() {
    let h = Harness::loaded().await;
    let t = h
        .app
        .estate
        .inv
        .resolve(
            opsdeck::runbook::spec::TargetKind::Tenant,
            "filter-ical-staging",
        )
        .unwrap();
    let e = h
        .app
        .prepare("no-such", &t, &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no runbook named `no-such`"), "{e}");
    assert!(!e.contains("names a rollback"), "{e}");
}
