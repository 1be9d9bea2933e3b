//! Apps as their documents run them, through configuration rather than a
//! runbook per seed: the multi-tenant host has only `docker-compose` (v1);
//! its backends migrate with alembic, the MAP systems are Django
//! (`manage.py migrate` in each system's API service, from a checkout per
//! system); a configured migration the image lacks fails the pre-check and
//! names it; a configured health URL that does not answer rolls back.

use crate::common;

use common::{git_head, run_cli};
use opsdeck::provider::sandbox::estate::{MAP_HOST, MT_HOST};
use std::path::{Path, PathBuf};
use std::process::Command;

fn sandbox(d: &Path) -> PathBuf {
    // The first command makes it.
    let (code, _, err) = run_cli(d, &["ls", "tenants"]);
    assert_eq!(code, 0, "{err}");
    d.join("data/opsdeck/sandbox")
}

/// `docker ARGS…` (the sandbox's simulated docker) on `host`: (exit, stdout, stderr).
fn docker_on(sb: &Path, host: &str, bin: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(sb.join("bin").join(bin))
        .env("OPSDECK_ROOT", sb.join("hosts").join(host))
        .env("OPSDECK_SIM_DELAY_MS", "0")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The image id each container of `host` runs, by name.
fn image_ids(sb: &Path, host: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            docker_on(
                sb,
                host,
                "docker",
                &["inspect", "--format", "{{.Image}}", n],
            )
            .1
        })
        .collect()
}

#[test]
fn the_multi_tenant_host_has_only_compose_v1_and_deploys_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    let (code, _, err) = docker_on(&sb, MT_HOST, "docker", &["compose", "version"]);
    assert_ne!(code, 0, "no compose v2 on the document's host");
    assert!(err.contains("'compose' is not a docker command"), "{err}");
    let (code, out, _) = docker_on(&sb, MT_HOST, "docker-compose", &["version"]);
    assert_eq!(code, 0);
    assert!(out.contains("docker-compose version 1."), "{out}");

    let (code, out, err) = run_cli(d, &["run", "deploy", "tenant=filter-ical-staging", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(" Container filter-ical-backend-staging  Recreated"),
        "{out}"
    );
    assert!(out.contains("backend: alembic upgrade head"), "{out}");
    // The app's health URL from its [[app]] entry is the last check.
    assert!(
        out.contains("https://filter-ical-staging.example.com/health answered 200"),
        "{out}"
    );
}

#[test]
fn a_migration_the_image_lacks_fails_the_precheck_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    let checkout = sb.join("hosts").join(MT_HOST).join("opt/apps/filter-ical");
    let before = git_head(&checkout);
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "deploy",
            "tenant=filter-ical-staging",
            "migrate=flask db upgrade",
            "--yes",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("precheck-failed step=\"the migration command is in its service\""),
        "{out}"
    );
    assert!(
        out.contains(
            "flask is not in backend: the configured migration (flask db upgrade) cannot run there"
        ),
        "{out}"
    );
    assert_eq!(git_head(&checkout), before, "nothing was pulled");

    // Django where there is no manage.py: named too.
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "deploy",
            "tenant=filter-ical-staging",
            "migrate=django",
            "--yes",
        ],
    );
    assert_eq!(code, 1);
    assert!(out.contains("no manage.py in backend"), "{out}");
}

#[test]
fn a_map_system_deploys_from_its_checkout_with_django_migrations() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    let checkout = sb.join("hosts").join(MAP_HOST).join("opt/apps/map-tts");
    let origin = git_head(&sb.join("remotes/map-tts.git"));
    assert_ne!(
        git_head(&checkout),
        origin,
        "the checkout starts one commit behind"
    );
    let names = ["map-tts-workflow-api", "map-tts-notification-worker"];
    let ids = image_ids(&sb, MAP_HOST, &names);

    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "deploy",
            "tenant=map-tts-production",
            "--yes",
            "--confirm",
            "map-tts-production",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("workflow-api has manage.py"), "{out}");
    assert!(
        out.contains("workflow-api: python manage.py migrate --noinput"),
        "{out}"
    );
    assert!(
        out.contains("Applying core.0002_ticket_status... OK"),
        "{out}"
    );
    assert_eq!(git_head(&checkout), origin);
    let after = image_ids(&sb, MAP_HOST, &names);
    for (b, a) in ids.iter().zip(&after) {
        assert_ne!(b, a, "recreated from the image this deploy built");
    }
    // The plan's names and images are kept (compose's container_name, image).
    let (_, image, _) = docker_on(
        &sb,
        MAP_HOST,
        "docker",
        &[
            "inspect",
            "--format",
            "{{.Config.Image}}",
            "map-tts-workflow-api",
        ],
    );
    assert_eq!(image.trim(), "mapactive/workflow-api:2.4.1");

    // Again: Django has nothing left to apply.
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "deploy",
            "tenant=map-tts-production",
            "--yes",
            "--confirm",
            "map-tts-production",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No migrations to apply."), "{out}");
}

#[test]
fn a_health_url_that_does_not_answer_rolls_the_deploy_back() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sb = sandbox(d);
    let checkout = sb.join("hosts").join(MT_HOST).join("opt/apps/filter-ical");
    let before = git_head(&checkout);
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "deploy",
            "tenant=filter-ical-staging",
            "health_url=https://filter-ical.invalid/health",
            "--yes",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("https://filter-ical.invalid/health: no answer"),
        "{out}"
    );
    assert!(out.contains("rolled back automatically"), "{out}");
    assert_eq!(git_head(&checkout), before, "back where it was");
}

#[test]
fn a_rollback_says_the_next_deploy_would_bring_the_commit_back() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    sandbox(d);
    let (code, out, err) = run_cli(d, &["run", "deploy", "tenant=filter-ical-staging", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_cli(
        d,
        &["run", "rollback", "tenant=filter-ical-staging", "--yes"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("revert it there (git revert), or the next deploy brings it back"),
        "{out}"
    );
}
