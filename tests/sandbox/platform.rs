//! The multi-tenant platform on call, as its document runs it: certbot
//! renews the one certificate every app shares and nginx is reloaded to
//! serve it; an nginx change is applied with `nginx -t` and a reload, and
//! one that does not test clean rolls the platform back; docker's disk is
//! freed of what builds on the server leave.

use crate::common;

use common::{git_head, run_cli};
use opsdeck::provider::sandbox::estate::MT_HOST;
use std::path::{Path, PathBuf};

const CONFIRM: [&str; 3] = ["--yes", "--confirm", "multi-tenant-platform"];

fn sandbox(d: &Path) -> PathBuf {
    let (code, _, err) = run_cli(d, &["ls", "instances"]);
    assert_eq!(code, 0, "{err}");
    d.join("data/opsdeck/sandbox")
}

fn run(d: &Path, runbook: &str, extra: &[&str]) -> (i32, String) {
    let target = format!("instance={MT_HOST}");
    let mut args = vec!["run", runbook, target.as_str()];
    args.extend(extra);
    args.extend(CONFIRM);
    let (code, out, err) = run_cli(d, &args);
    (code, format!("{out}{err}"))
}

/// The MT host's simulated docker state (certificates, nginx, images).
fn state(sb: &Path) -> serde_json::Value {
    let p = sb
        .join("hosts")
        .join(MT_HOST)
        .join("var/lib/docker-sim/state.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn certbot_renews_the_shared_certificate_and_nginx_serves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    // One certificate for every app (the document's 6.2), 12 days left.
    let (code, out) = run(d, "cert-expiry", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Domains: gabs-massage.example.com filter-ical.example.com paiss.example.com"),
        "{out}"
    );
    assert!(
        out.contains("!! gabs-massage.example.com expires in 12 days"),
        "{out}"
    );

    // The challenge cannot be reached: every app's certificate stays as it
    // was, and nginx is not reloaded.
    let fail = sb
        .join("hosts")
        .join(MT_HOST)
        .join("etc/opsdeck-sim/CERTBOT_FAIL");
    std::fs::create_dir_all(fail.parent().unwrap()).unwrap();
    std::fs::write(&fail, "").unwrap();
    let loaded = state(&sb)["nginx_loaded_epoch"].clone();
    let (code, out) = run(d, "renew-certs", &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("All renewals failed"), "{out}");
    assert!(out.contains("==> FAILED: certbot renew"), "{out}");
    assert_eq!(state(&sb)["nginx_loaded_epoch"], loaded, "nginx untouched");

    std::fs::remove_file(&fail).unwrap();
    let (code, out) = run(d, "renew-certs", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "Renewing an existing certificate for gabs-massage.example.com and 2 more domains"
        ),
        "{out}"
    );
    assert!(out.contains("test is successful"), "{out}");
    assert!(out.contains("gabs-massage.example.com: 90 days"), "{out}");
    let st = state(&sb);
    assert_eq!(
        st["nginx_loaded_epoch"], st["certs"][0]["issued_epoch"],
        "reloaded with the new one"
    );
    let (code, out) = run(d, "cert-expiry", &[]);
    assert_eq!(code, 0, "{out}");

    // Not due again: nothing renewed, nothing broken.
    let (code, out) = run(d, "renew-certs", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Certificate not yet due for renewal"), "{out}");
}

#[test]
fn an_nginx_change_is_applied_and_one_that_does_not_test_clean_rolls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb_dir = sandbox(d);
    let sb = common::sim_sandbox(&sb_dir, common::fixed_now());
    let checkout = sb_dir.join("hosts").join(MT_HOST).join("opt/platform");

    // A good change: pulled, tested, reloaded.
    let good = sb
        .push_release(
            "platform",
            "nginx: gzip on",
            &[(
                "platform/nginx/conf.d/gzip.conf",
                "gzip on;\ngzip_types text/css application/json;\n",
            )],
        )
        .unwrap();
    let loaded = state(&sb_dir)["nginx_loaded_epoch"].as_i64().unwrap();
    let (code, out) = run(d, "deploy-platform", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("test is successful") && out.contains("nginx reloaded"),
        "{out}"
    );
    assert_eq!(git_head(&checkout), good);
    assert!(state(&sb_dir)["nginx_loaded_epoch"].as_i64().unwrap() > loaded);

    // A broken one: nginx -t refuses it, the platform goes back.
    sb.push_release(
        "platform",
        "nginx: rate limits",
        &[(
            "platform/nginx/conf.d/limits.conf",
            "limit_req_zone $binary_remote_addr zone=api:10m rate=5r/s\n",
        )],
    )
    .unwrap();
    let (code, out) = run(d, "deploy-platform", &[]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("directive \"limit_req_zone\" is not terminated by \";\" in /etc/nginx/conf.d/limits.conf:1"),
        "{out}"
    );
    assert!(
        out.contains("the new nginx configuration does not test clean: not reloaded"),
        "{out}"
    );
    assert!(
        out.contains("rolled back automatically: `rollback-platform` succeeded"),
        "{out}"
    );
    assert!(
        out.contains("revert it there, or the next deploy-platform brings it back"),
        "{out}"
    );
    assert_eq!(git_head(&checkout), good, "back at the last good platform");
}

#[test]
fn docker_cleanup_frees_what_builds_leave_and_says_how_much() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    let before = state(&sb);
    let in_use: Vec<String> = before["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["image_id"].as_str().unwrap_or_default().to_string())
        .collect();
    let (code, out) = run(d, "docker-cleanup", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("9 dangling images removed"), "{out}");
    assert!(out.contains("images: 3.62GB reclaimed"), "{out}");
    assert!(out.contains("build cache: 2.26GB reclaimed"), "{out}");
    let after = state(&sb);
    assert_eq!(after["dangling"].as_array().unwrap().len(), 0);
    let still: Vec<String> = after["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["image_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(still, in_use, "no container lost its image");
    let (code, out) = run(d, "docker-cleanup", &[]);
    assert_eq!(code, 0);
    assert!(out.contains("images: 0MB reclaimed"), "{out}");
}
