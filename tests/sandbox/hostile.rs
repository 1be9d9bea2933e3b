//! Hostile parameter values through headless `opsdeck run`: each one is
//! refused by its type, or quoted and run as data. None may execute: every
//! value tries to create a canary file, which must never appear.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::run_cli;
use opsdeck::provider::sandbox::estate::MT_HOST;
use opsdeck::runbook::{self, Choices, Library, Target};
use std::collections::BTreeMap;

fn corpus(canary: &str) -> Vec<String> {
    let c = canary;
    vec![
        format!("; touch {c}"),
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        format!("x\ntouch {c}"),
        format!("x\rtouch {c}"),
        format!("' ; touch {c} ; '"),
        format!("\" ; touch {c} ; \""),
        format!("a && touch {c}"),
        format!("a || touch {c}"),
        format!("| touch {c}"),
        format!("> {c}"),
        format!("${{IFS}}touch${{IFS}}{c}"),
        format!("\\; touch {c}"),
        format!("$'\\x3b' touch {c}"),
        format!("-e touch {c}"),
        format!("--help; touch {c}"),
        format!("*; touch {c}"),
        format!("{}; touch {c}", "A".repeat(5000)),
        // Look-alikes: full-width letters, a Unicode hyphen, a right-to-left override.
        format!("ｔｏｕｃｈ {c}"),
        "filter‐ical-staging".to_string(),
        format!("\u{202e}touch {c}"),
        format!("\u{1b}]0;pwned\u{7}; touch {c}"),
    ]
}

#[test]
fn hostile_values_are_refused_or_quoted_never_executed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let canary = d.join("canary");
    let c = canary.display().to_string();
    assert_eq!(run_cli(d, &["ls", "instances"]).0, 0);
    // (runbook, target, parameter): every kind of slot a value can go into.
    let slots: [(&str, String, &str); 10] = [
        ("logs", "container=nginx-platform".into(), "filter"),
        ("logs", "container=nginx-platform".into(), "lines"),
        ("logs", "container=nginx-platform".into(), "follow"),
        ("health", "tenant=filter-ical-staging".into(), "url"),
        ("rollback", "tenant=filter-ical-staging".into(), "to"),
        ("deploy", "tenant=filter-ical-staging".into(), "migrations"),
        ("queue-depth", format!("instance={MT_HOST}"), "broker"),
        ("query", "tenant=filter-ical-staging".into(), "sql"),
        ("health", "tenant".into(), ""),
        ("restart", "container".into(), ""),
    ];
    let mut refused = 0;
    let mut ran = 0;
    for value in corpus(&c) {
        for (rb, target, param) in &slots {
            let (target, assignment) = if param.is_empty() {
                // The value is the target itself.
                (format!("{target}={value}"), None)
            } else {
                (target.clone(), Some(format!("{param}={value}")))
            };
            let mut args = vec!["run", rb, target.as_str(), "--yes"];
            if let Some(a) = &assignment {
                args.push(a);
            }
            let (code, out, err) = run_cli(d, &args);
            match code {
                // Refused before anything was rendered or sent.
                3 | 2 => refused += 1,
                // Quoted: it ran, as data.
                0 | 1 => ran += 1,
                other => panic!("{rb} {param}={value:?}: exit {other}\n{out}\n{err}"),
            }
            assert!(
                !canary.exists(),
                "{rb} {param}={value:?} reached a shell unquoted\n{out}\n{err}"
            );
        }
    }
    // Both paths were exercised: validation refuses most, quoting carries the rest.
    assert!(refused > 100, "refused {refused}");
    assert!(ran > 10, "ran {ran}");
    // The values that ran are in the journal as given (control characters refused).
    let (_, out, _) = run_cli(d, &["history", "--json", "--limit", "1000"]);
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(v.len(), ran);
    assert!(v.iter().any(|e| {
        e["start"]["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[1] == format!("$(touch {c})"))
    }));
    assert!(!canary.exists());
}

#[test]
fn nul_and_oversized_values_are_refused_by_the_renderer() {
    let lib = Library::builtin();
    let spec = lib.get("logs").unwrap();
    let t = Target {
        kind: opsdeck::runbook::spec::TargetKind::Container,
        host: MT_HOST.into(),
        label: "nginx-platform".into(),
        production: false,
        confirm_name: "nginx-platform".into(),
        vars: vec![("container".into(), "nginx-platform".into())],
    };
    for (k, v, why) in [
        ("filter", "a\0b", "NUL"),
        ("filter", &"x".repeat(300), "longer than"),
        ("lines", "99999999999999999999", "above the maximum"),
        ("lines", "0", "below the minimum"),
        ("follow", "1h", "above the maximum"),
    ] {
        let mut values = BTreeMap::new();
        values.insert(k.to_string(), v.to_string());
        let e = runbook::render(&lib, spec, &t, &values, &Choices::default(), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{k}={v:?}: {e}");
    }
    // A text parameter keeps newlines and quotes, as one quoted word.
    let q = lib.get("query").unwrap();
    let tt = Target {
        kind: opsdeck::runbook::spec::TargetKind::Tenant,
        host: MT_HOST.into(),
        label: "a-staging".into(),
        production: false,
        confirm_name: "a-staging".into(),
        vars: vec![("app".into(), "a".into()), ("database".into(), "a".into())],
    };
    let mut values = BTreeMap::new();
    values.insert("sql".to_string(), "SELECT 'x';\nSELECT $(id)".to_string());
    let r = runbook::render(&lib, q, &tt, &values, &Choices::default(), false).unwrap();
    // Evaluate the rendered assignments with bash: the value comes back intact.
    let head = &r.script[..r.script.find("# ---- opsdeck prelude").unwrap()];
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("{head}\nprintf '%s' \"$sql\"")])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "SELECT 'x';\nSELECT $(id)"
    );
}
