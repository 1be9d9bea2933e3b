//! The built-in runbook library, each runbook run for real on the sandbox
//! through headless `opsdeck run` (the same engine and guards as the
//! console), with its effect checked on the host.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{git_head, run_cli};
use opsdeck::provider::sandbox::estate::{MT_HOST, OFFLINE_HOST, PMO_HOST, STOPPED_HOST};
use std::path::{Path, PathBuf};

fn sandbox(dir: &Path) -> PathBuf {
    dir.join("data/opsdeck/sandbox")
}
fn mt(dir: &Path) -> PathBuf {
    sandbox(dir).join("hosts").join(MT_HOST)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run_cli(dir, args);
    assert_eq!(code, 0, "{args:?}\nstdout:\n{out}\nstderr:\n{err}");
    out
}

fn container_json(dir: &Path, name: &str) -> serde_json::Value {
    let out = ok(dir, &["ls", "containers", "--json"]);
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    v.into_iter().find(|c| c["name"] == name).unwrap()
}

#[test]
fn deploy_rollback_and_deploy_platform_move_real_revisions() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["ls", "tenants"]);
    let checkout = mt(d).join("opt/apps/paiss");
    let before = git_head(&checkout);
    let origin = git_head(&sandbox(d).join("remotes/paiss.git"));
    assert_ne!(before, origin);
    let image_before = container_json(d, "paiss-web-staging")["image_id"].clone();
    assert!(image_before.as_str().unwrap().starts_with("sha256:"));

    let out = ok(d, &["run", "deploy", "tenant=paiss-staging", "--yes"]);
    assert!(
        out.contains("no backend service: nothing to migrate"),
        "{out}"
    );
    assert_eq!(git_head(&checkout), origin);
    let c = container_json(d, "paiss-web-staging");
    assert_ne!(c["image_id"], image_before, "recreated from a new build");
    assert!(
        c["labels"]
            .get("org.opencontainers.image.revision")
            .is_none()
    );

    // Back to the previous recorded deploy…
    ok(d, &["run", "rollback", "tenant=paiss-staging", "--yes"]);
    assert_eq!(git_head(&checkout), before);
    let c = container_json(d, "paiss-web-staging");
    assert_eq!(
        c["image_id"], image_before,
        "rebuilt from the revision before"
    );
    let records =
        std::fs::read_to_string(mt(d).join("var/lib/opsdeck/deploys/paiss-staging")).unwrap();
    assert!(
        records
            .lines()
            .last()
            .unwrap()
            .ends_with(&format!("{origin} {before} rollback")),
        "{records}"
    );
    // …or to a chosen SHA from the host's history.
    ok(
        d,
        &[
            "run",
            "rollback",
            "tenant=paiss-staging",
            &format!("to={}", &origin[..12]),
            "--yes",
        ],
    );
    assert_eq!(git_head(&checkout), origin);
    // A SHA that is no commit of the app fails on the host, changing nothing.
    let (code, out, _) = run_cli(
        d,
        &[
            "run",
            "rollback",
            "tenant=paiss-staging",
            "to=deadbeefdeadbeef",
            "--yes",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("deadbeefdeadbeef is not a commit of paiss"),
        "{out}"
    );
    assert_eq!(git_head(&checkout), origin);

    // The platform: production host, so its name must be typed.
    let platform = mt(d).join("opt/platform");
    let p_before = git_head(&platform);
    let (code, _, err) = run_cli(
        d,
        &[
            "run",
            "deploy-platform",
            &format!("instance={MT_HOST}"),
            "--yes",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--confirm multi-tenant-platform"), "{err}");
    assert_eq!(git_head(&platform), p_before, "refused: nothing ran");
    let out = ok(
        d,
        &[
            "run",
            "deploy-platform",
            "instance=multi-tenant-platform",
            "--yes",
            "--confirm",
            "multi-tenant-platform",
        ],
    );
    assert!(out.contains("nginx: raise client_max_body_size"), "{out}");
    assert_eq!(
        git_head(&platform),
        git_head(&sandbox(d).join("remotes/platform.git"))
    );
    assert_eq!(container_json(d, "nginx-platform")["health"], "healthy");
}

#[test]
fn read_and_change_runbooks_on_hosts_and_containers() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["ls", "instances"]);

    ok(
        d,
        &["run", "restart", "container=paiss-web-staging", "--yes"],
    );
    assert_eq!(container_json(d, "paiss-web-staging")["restarts"], 1);

    let out = ok(
        d,
        &[
            "run",
            "logs",
            "container=nginx-platform",
            "lines=40",
            "filter=/api/health",
            "context=0",
        ],
    );
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with("==>")).collect();
    assert!(!lines.is_empty(), "{out}");
    assert!(lines.iter().all(|l| l.contains("/api/health")), "{out}");
    let out = ok(
        d,
        &[
            "run",
            "logs",
            "container=nginx-platform",
            "lines=40",
            "filter=/api/health",
            "context=1",
        ],
    );
    assert!(
        out.lines()
            .any(|l| !l.starts_with("==>") && !l.contains("/api/health")),
        "context lines kept: {out}"
    );

    let out = ok(
        d,
        &[
            "run",
            "health",
            "tenant=filter-ical-staging",
            "url=https://filter-ical-staging.example.com/health",
        ],
    );
    assert!(
        out.contains("all containers of filter-ical-staging are healthy"),
        "{out}"
    );
    assert!(out.contains("-> HTTP 200"), "{out}");

    let out = ok(d, &["run", "api-health", &format!("instance={PMO_HOST}")]);
    assert!(out.contains(r#"{"status":"ok","database":"ok"}"#), "{out}");
    assert!(out.contains(r#""bucket":"pmo-documents""#), "{out}");

    let out = ok(d, &["run", "host-stats", &format!("instance={MT_HOST}")]);
    assert!(out.contains("Filesystem"), "{out}");
    assert!(out.contains("postgres-platform"), "docker stats: {out}");
    // docker's own table: its headers, each cell under its column, no
    // quoted or tab-separated fields.
    let header = out
        .lines()
        .find(|l| l.starts_with("CONTAINER ID"))
        .unwrap_or_else(|| panic!("docker stats has its headers: {out}"));
    for col in [
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = out
        .lines()
        .find(|l| l.contains("postgres-platform"))
        .unwrap();
    assert_eq!(
        row.find("postgres-platform"),
        header.find("NAME"),
        "{header}\n{row}"
    );
    assert!(!row.contains('"') && !row.contains('\t'), "{row}");

    let (code, out, _) = run_cli(d, &["run", "cert-expiry", &format!("instance={MT_HOST}")]);
    assert_eq!(
        code, 1,
        "a certificate expiring in 12 days fails the check: {out}"
    );
    assert!(
        out.contains("!! gabs-massage.example.com expires in 12 days"),
        "{out}"
    );
    ok(
        d,
        &[
            "run",
            "cert-expiry",
            &format!("instance={MT_HOST}"),
            "warn_days=10",
        ],
    );

    let out = ok(d, &["run", "limits-audit", &format!("instance={MT_HOST}")]);
    assert!(
        out.contains("paiss-web-production: memory unlimited, cpu unlimited"),
        "{out}"
    );
    assert!(!out.contains("postgres-platform:"), "it has limits: {out}");
    assert!(
        out.contains("10 of 11 running containers have no memory or CPU limit"),
        "{out}"
    );

    let (code, out, _) = run_cli(d, &["run", "queue-depth", "instance=map-system", "warn=10"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("!! TICKET_TASKS_PRODUCTION has 12 messages and 1 consumers"),
        "{out}"
    );
    assert!(
        !out.contains("!! role_send-default"),
        "an empty queue is fine: {out}"
    );

    let out = ok(
        d,
        &[
            "run",
            "query",
            "tenant=filter-ical-staging",
            "sql=SELECT count(*) FROM events",
        ],
    );
    assert!(out.contains("on filter_ical_staging"), "{out}");
    let (code, _, err) = run_cli(d, &["run", "query", "tenant=paiss-staging", "sql=SELECT 1"]);
    assert_eq!(
        code, 1,
        "paiss has no database: the pre-check stops it: {err}"
    );

    // The ad-hoc command is destructive: the name, always.
    let (code, _, err) = run_cli(
        d,
        &[
            "run",
            "command",
            "instance=enssol-web-prod",
            "command=echo hi > marker",
            "--yes",
        ],
    );
    assert_eq!(code, 3, "{err}");
    let ens = sandbox(d).join("hosts/i-0e5501c0a5d1ab002");
    assert!(!ens.join("marker").exists());
    let out = ok(
        d,
        &[
            "run",
            "command",
            "instance=enssol-web-prod",
            "command=echo hi > marker\nls opt",
            "--yes",
            "--confirm",
            "enssol-web-prod",
        ],
    );
    assert!(out.contains("enssol"), "{out}");
    assert_eq!(std::fs::read_to_string(ens.join("marker")).unwrap(), "hi\n");

    // Everything is in the journal, each with its end.
    let out = ok(d, &["history", "--json"]);
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(v.len(), 13, "{out}");
    assert!(v.iter().all(|e| e["finish"]["status"].is_string()));
    let q = v.iter().find(|e| e["start"]["runbook"] == "query").unwrap();
    let run = q["start"]["run"].as_str().unwrap();
    let script = std::fs::read_to_string(
        d.join("state/opsdeck/journal/runs")
            .join(run)
            .join("script.sh"),
    )
    .unwrap();
    assert!(script.contains("BEGIN READ ONLY"));
    assert_eq!(
        opsdeck::runbook::sha256_hex(&script),
        q["start"]["digest"].as_str().unwrap(),
        "the kept script is the one sent"
    );
}

#[test]
fn guards_refuse_before_anything_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["ls", "instances"]);
    let jobs = |host: &str| {
        std::fs::read_dir(
            sandbox(d)
                .join("hosts")
                .join(host)
                .join("var/lib/opsdeck/jobs"),
        )
        .map(|r| r.count())
        .unwrap_or(0)
    };
    let checkout = mt(d).join("opt/apps/filter-ical");
    let head = git_head(&checkout);
    for (args, why) in [
        (
            vec!["run", "deploy", "tenant=filter-ical-production", "--yes"],
            "--confirm filter-ical-production",
        ),
        (
            vec![
                "run",
                "deploy",
                "tenant=filter-ical-production",
                "--yes",
                "--confirm",
                "filter-ical",
            ],
            "--confirm filter-ical-production",
        ),
        (
            vec!["run", "deploy", "tenant=filter-ical-staging"],
            "pass --yes",
        ),
        (
            vec![
                "--read-only",
                "run",
                "deploy",
                "tenant=filter-ical-staging",
                "--yes",
            ],
            "read-only mode",
        ),
        (
            vec!["run", "host-stats", &format!("instance={OFFLINE_HOST}")],
            "agent",
        ),
        (
            vec!["run", "host-stats", &format!("instance={STOPPED_HOST}")],
            "stopped",
        ),
        (
            vec![
                "run",
                "deploy",
                "tenant=filter-ical-staging",
                "migrations=maybe",
                "--yes",
            ],
            "\"maybe\" is not true or false",
        ),
        (
            vec![
                "run",
                "deploy",
                "tenant=filter-ical-staging",
                "colour=red",
                "--yes",
            ],
            "unknown parameter `colour`",
        ),
    ] {
        let (code, out, err) = run_cli(d, &args);
        // What the operator wrote wrong is a usage error (2); a guard's
        // refusal is 3. Neither sends anything.
        let usage = why.contains("not true or false") || why.contains("unknown parameter");
        assert_eq!(code, if usage { 2 } else { 3 }, "{args:?}: {out}{err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert_eq!(jobs(MT_HOST), 0, "nothing reached the host");
    assert_eq!(git_head(&checkout), head);
    let out = ok(d, &["history", "--json"]);
    assert_eq!(out.trim(), "[]", "refused runs are not started");
    // A read runbook runs in read-only mode.
    ok(
        d,
        &["--read-only", "run", "health", "tenant=filter-ical-staging"],
    );
    let after_health = jobs(MT_HOST);
    // The dry run prints the exact script and sends nothing.
    let out = ok(
        d,
        &[
            "run",
            "deploy",
            "tenant=filter-ical-production",
            "--dry-run",
        ],
    );
    assert!(
        out.contains("# guards    production: type `filter-ical-production` to confirm"),
        "{out}"
    );
    assert!(out.contains("\nproject=filter-ical-production\n"), "{out}");
    assert!(out.contains("git pull --ff-only origin main"), "{out}");
    assert_eq!(jobs(MT_HOST), after_health, "a dry run sends nothing");
    assert!(jobs(MT_HOST) > 0, "the health run reached the host");
}

#[test]
fn runbook_check_names_the_file_line_and_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let f = d.join("bad.toml");
    let cases: [(&str, &str); 5] = [
        (
            "name = \"x\"\ntitle = \"t\"\ntarget = \"tenant\"\ndanger = \"change\"\n[[param]]\nname = \"ref\"\ntype = \"string\"\n[[step]]\nname = \"s\"\nrun = \"true\"\n",
            "bad.toml:6:8: field `pattern`: parameter `ref`: a string parameter needs a `pattern`",
        ),
        (
            "name = \"x\"\ntitle = \"t\"\ntarget = \"tenant\"\ndanger = \"change\"\n[[step]]\nname = \"s\"\nrun = '''\nif true; then\n  echo missing fi\n'''\n",
            "bad.toml:10:1: field `run`: step `s`: bash: syntax error",
        ),
        (
            "name = \"x\"\ntitle = \"t\"\ntarget = \"tenant\"\ndanger = \"risky\"\n[[step]]\nname = \"s\"\nrun = \"true\"\n",
            "bad.toml:4:10: field `danger`: unknown variant `risky`",
        ),
        (
            "name = \"x\"\ntitle = \"t\"\ntarget = \"tenant\"\ndanger = \"change\"\non_failure = \"rollback\"\nrollback = \"nope\"\n[[step]]\nname = \"s\"\nrun = \"true\"\n",
            "bad.toml:6:12: field `rollback`: no runbook named `nope`",
        ),
        (
            "name = \"x\"\ntitle = \"t\"\ntarget = \"tenant\"\ndanger = \"change\"\n[[param]]\nname = \"app\"\ntype = \"bool\"\n[[step]]\nname = \"s\"\nrun = \"true\"\n",
            "bad.toml:6:8: field `name`: parameter `app` would shadow a variable opsdeck sets",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&f, text).unwrap();
        let (code, _, err) = run_cli(d, &["runbook", "check", f.to_str().unwrap()]);
        assert_eq!(code, 2, "{text}");
        let got = err.replace(&format!("{}/", d.display()), "");
        assert!(got.contains(want), "want {want}\ngot  {got}");
    }
    std::fs::write(
        &f,
        "name = \"disk\"\ntitle = \"disk of {instance}\"\ntarget = \"instance\"\ndanger = \"read\"\n[[param]]\nname = \"path\"\ntype = \"string\"\npattern = '^/[a-z/]*$'\ndefault = \"/\"\n[[step]]\nname = \"df\"\nrun = 'df -h \"$path\"'\n",
    )
    .unwrap();
    let (code, out, err) = run_cli(d, &["runbook", "check", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ok — `disk` on a instance, read, 1 parameter(s)"),
        "{out}"
    );
    // A user runbook in the config dir joins the library and runs.
    let rb = d.join("config/opsdeck/runbooks");
    std::fs::create_dir_all(&rb).unwrap();
    std::fs::copy(&f, rb.join("disk.toml")).unwrap();
    let out = ok(d, &["runbook", "list"]);
    assert!(out.contains("disk "), "{out}");
    let out = ok(
        d,
        &["run", "disk", &format!("instance={MT_HOST}"), "path=/opt"],
    );
    assert!(out.contains("Filesystem"), "{out}");
    // A broken one stops opsdeck before anything else, naming the file.
    std::fs::write(rb.join("broken.toml"), "name = \"b\"\n").unwrap();
    let (code, _, err) = run_cli(d, &["ls", "instances"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("broken.toml:1:1: field `title`: missing field `title`"),
        "{err}"
    );
}

#[test]
fn an_instance_runbook_on_every_instance_with_a_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, out, err) = run_cli(d, &["run", "limits-audit", "tag=Environment=production"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("[multi-tenant-platform]     10 of 11 running containers"),
        "{out}"
    );
    assert!(
        out.contains("[cohuron-pmo-api] ==> opsdeck result: succeeded"),
        "{out}"
    );
    assert!(
        out.contains("[enssol-web-prod]     no docker engine on this host"),
        "{out}"
    );
    let (_, h, _) = run_cli(d, &["history", "--json"]);
    let v: Vec<serde_json::Value> = serde_json::from_str(&h).unwrap();
    assert!(
        out.contains("[map-system]     16 of 17 running containers"),
        "{out}"
    );
    assert_eq!(v.len(), 4, "one journal entry per instance");
    // Both staging instances are unreachable (stopped, agent offline): refused, nothing sent.
    let (code, _, err) = run_cli(d, &["run", "host-stats", "tag=Environment=staging"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("pmo-worker-legacy") && err.contains("indivillage-web"),
        "{err}"
    );
    // A change on production instances needs the tag typed.
    let (code, _, err) = run_cli(
        d,
        &[
            "run",
            "command",
            "tag=Environment=production",
            "command=true",
            "--yes",
        ],
    );
    assert_eq!(code, 3);
    assert!(
        err.contains("--confirm tag:Environment=production"),
        "{err}"
    );
}

#[test]
fn sync_backups_ships_the_host_backups_to_s3_once() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["ls", "backups"]);
    let on_host = std::fs::read_dir(mt(d).join("opt/backups/postgres"))
        .unwrap()
        .count();
    let args = [
        "run",
        "sync-backups",
        "instance=multi-tenant-platform",
        "bucket=cohuron-backups",
        "--yes",
        "--confirm",
        "multi-tenant-platform",
    ];
    let out = ok(d, &args);
    assert!(
        out.contains(&format!("{on_host} file(s) uploaded")),
        "{out}"
    );
    let out = ok(d, &args);
    assert!(out.contains("0 file(s) uploaded"), "already there: {out}");
    let out = ok(d, &["ls", "backups", "--json"]);
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(
        v.iter()
            .any(|b| b["database"] == "filter_ical_staging" && b["location"] == "s3"),
        "{out}"
    );
    // The table shows one row per file, on the host and in S3.
    let table = ok(d, &["ls", "backups"]);
    assert!(
        table
            .lines()
            .filter(|l| l.starts_with("filter_ical_staging"))
            .all(|l| l.contains("host+s3")),
        "{table}"
    );
    let (code, _, err) = run_cli(
        d,
        &[
            "run",
            "sync-backups",
            "instance=multi-tenant-platform",
            "bucket=no-such-bucket",
            "--yes",
            "--confirm",
            "multi-tenant-platform",
        ],
    );
    assert_eq!(code, 1, "{err}");
}
