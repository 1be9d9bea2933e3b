//! End to end: the real binary in a real terminal (tmux on a private
//! socket). Open the console, go to Tenants, deploy filter-ical staging, see
//! streamed lines before the run finishes, see success, quit, and check the
//! terminal is restored.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "support/tmux.rs"]
mod tmux;

use std::process::Command;
use std::time::{Duration, Instant};
use tmux::Tmux;

#[test]
fn deploy_from_the_console_streams_live_and_the_terminal_is_restored() {
    assert!(
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "tmux is required for this test; `bash .ci/test` installs it"
    );
    let tmp = tempfile::tempdir().unwrap();
    let tmux = Tmux::console(
        "opsdeck-e2e",
        tmp.path(),
        "OPSDECK_SIM_DELAY_MS=250 OPSDECK_SANDBOX_PG=simulated",
    );

    tmux.wait_for("Tenants [11]", Duration::from_secs(30));
    tmux.wait_for("filter_ical_staging", Duration::from_secs(30));
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "1",
        "the console uses the alternate screen"
    );

    // Go to Tenants through the palette, pick filter-ical staging with the filter.
    tmux.send(&["2"]);
    tmux.wait_for("Instances [6]", Duration::from_secs(5));
    tmux.send(&[":"]);
    tmux.literal("tenants");
    tmux.send(&["Enter", "/"]);
    tmux.literal("filter staging");
    tmux.send(&["Enter"]);
    tmux.wait_for("Tenants [1/11]", Duration::from_secs(5));
    tmux.send(&["d"]);
    tmux.wait_for("deploy filter-ical-staging", Duration::from_secs(5));
    tmux.wait_for("Enter runs it", Duration::from_secs(5));
    tmux.send(&["Enter"]);

    // Lines arrive while the run is still running.
    let t = Instant::now();
    let mut streamed_while_running = None;
    let final_screen = loop {
        let s = tmux.screen();
        if s.contains("running")
            && s.contains("==> [2/6] docker compose")
            && !s.contains("deployed filter-ical-staging")
        {
            streamed_while_running.get_or_insert(s.clone());
        }
        if s.contains("succeeded") && s.contains("exit 0") {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "deploy did not finish:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(40));
    };
    let during = streamed_while_running.expect("saw streamed lines while the deploy was running");
    assert!(
        during.contains("#1 [backend internal]") || during.contains("==> [1/6] git pull"),
        "{during}"
    );
    assert!(final_screen.contains("exit 0"), "{final_screen}");
    assert!(
        final_screen.contains("deployed filter-ical-staging"),
        "{final_screen}"
    );

    // A paste arrives whole (bracketed paste), not as keys: its line break
    // does not press Enter on the form, it is refused in the value.
    tmux.send(&["3", "/"]);
    tmux.literal("nginx-platform");
    tmux.send(&["Enter", ":"]);
    tmux.literal("run logs");
    tmux.send(&["Enter"]);
    tmux.wait_for("logs of nginx-platform", Duration::from_secs(5));
    tmux.send(&["Down"]);
    tmux.cmd(&["set-buffer", "-b", "e2e", "GET\nPOST"]);
    tmux.cmd(&["paste-buffer", "-p", "-b", "e2e", "-t", "e2e"]);
    let s = tmux.wait_for("control character", Duration::from_secs(5));
    assert!(s.contains("parameters"), "the form is still open:\n{s}");
    // Esc on a form with typed text asks; y discards.
    tmux.send(&["Escape"]);
    tmux.wait_for("y discards them", Duration::from_secs(5));
    tmux.send(&["y"]);
    tmux.wait_for("discarded", Duration::from_secs(5));

    // Quit: the terminal leaves the alternate screen and the shell sees exit 0.
    tmux.send(&["q"]);
    let after = tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(10));
    assert!(
        !after.contains("Tenants ["),
        "the console's screen is gone:\n{after}"
    );
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0",
        "alternate screen left"
    );
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{cursor_flag}"])
            .trim(),
        "1",
        "cursor visible again"
    );
}

/// The Drills screen takes corrupt-latest-backup from alarm to a passing
/// report on the sandbox's own PostgreSQL, everything through the console:
/// start the drill, validate the corrupt newest backup (it fails), validate
/// the one before, restore it (typing the database's name), verify.
#[test]
fn a_database_drill_from_alarm_to_report_in_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let _db = common::real_db_sandbox(tmp.path());
    let tmux = Tmux::console(
        "opsdeck-e2e-drill",
        tmp.path(),
        "OPSDECK_SIM_DELAY_MS=0 OPSDECK_SIM_HEALTH_GRACE=0",
    );
    let long = Duration::from_secs(60);
    tmux.wait_for("PostgreSQL real", Duration::from_secs(30));
    tmux.send(&[":"]);
    tmux.literal("drill corrupt-latest-backup");
    tmux.send(&["Enter"]);
    tmux.wait_for("DRILL corrupt-latest-backup", long);

    // A runbook on the one backup whose name holds `stamp`.
    let run_on = |stamp: &str, runbook: &str| {
        tmux.send(&["5", "/", "Escape", "/"]);
        tmux.literal(stamp);
        tmux.send(&["Enter"]);
        tmux.wait_for("Backups [1/", Duration::from_secs(10));
        tmux.send(&[":"]);
        tmux.literal(&format!("run {runbook}"));
        tmux.send(&["Enter"]);
        tmux.wait_for(&format!("runbook   {runbook}"), Duration::from_secs(10));
        tmux.send(&["Enter"]);
        tmux.wait_for("preview", Duration::from_secs(10));
    };
    // The newest (an hour before the alarm) is the corrupt one…
    run_on("20260302_090000", "validate-backup");
    tmux.send(&["Enter"]);
    tmux.wait_for("not a valid gzip file", long);
    // …the one before restores, and is restored.
    run_on("20260301_120000", "validate-backup");
    tmux.send(&["Enter"]);
    tmux.wait_for("check=passed", long);
    run_on("20260301_120000", "restore-database");
    tmux.wait_for("type filter_ical_staging", Duration::from_secs(10));
    tmux.literal("filter_ical_staging");
    tmux.send(&["Enter"]);
    tmux.wait_for("restored filter_ical_staging from", long);
    tmux.send(&[":"]);
    tmux.literal("drill verify");
    tmux.send(&["Enter"]);
    let report = tmux.wait_for("PASSED", long);
    assert!(
        report.contains("✓ the database holds exactly the good backup's data"),
        "{report}"
    );
    assert!(!report.contains('✗'), "{report}");
}

/// The instance-lost drill through the console: the alarm, the lost PMO
/// host stopped on Instances, recover-instance from its row (the preview's
/// calls, the name typed, the run streamed to its end), then verify.
#[test]
fn the_instance_lost_drill_from_alarm_to_report_in_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let _db = common::real_db_sandbox(tmp.path());
    let tmux = Tmux::console(
        "opsdeck-e2e-lost",
        tmp.path(),
        "OPSDECK_SIM_DELAY_MS=0 OPSDECK_SIM_HEALTH_GRACE=0",
    );
    let long = Duration::from_secs(60);
    tmux.wait_for("PostgreSQL real", Duration::from_secs(30));
    tmux.send(&[":"]);
    tmux.literal("drill instance-lost");
    tmux.send(&["Enter"]);
    tmux.wait_for("DRILL instance-lost", long);
    tmux.send(&["2", "/"]);
    tmux.literal("cohuron-pmo-api");
    tmux.send(&["Enter"]);
    tmux.wait_for("stopped", Duration::from_secs(10));
    tmux.send(&[":"]);
    tmux.literal("run recover-instance");
    tmux.send(&["Enter"]);
    tmux.wait_for("runbook   recover-instance", Duration::from_secs(10));
    tmux.send(&["Enter"]);
    let preview = tmux.wait_for("type cohuron-pmo-api", Duration::from_secs(10));
    assert!(preview.contains("cloud `newest-image`"), "{preview}");
    tmux.literal("cohuron-pmo-api");
    tmux.send(&["Enter"]);
    tmux.wait_for("==> opsdeck result: succeeded", long);
    tmux.send(&[":"]);
    tmux.literal("drill verify");
    tmux.send(&["Enter"]);
    let report = tmux.wait_for("PASSED", long);
    assert!(
        report.contains("✓ the database holds the newest S3 backup's data"),
        "{report}"
    );
    assert!(!report.contains('✗'), "{report}");
}

#[test]
fn a_shell_on_an_instance_hands_the_terminal_over_and_back() {
    let tmp = tempfile::tempdir().unwrap();
    let tmux = Tmux::console("opsdeck-shell", tmp.path(), "OPSDECK_SANDBOX_PG=simulated");
    tmux.wait_for("Tenants [11]", Duration::from_secs(30));
    tmux.send(&["2"]);
    tmux.wait_for("Instances [6]", Duration::from_secs(5));
    // An instance whose agent is offline: no shell, said why.
    tmux.send(&["/"]);
    tmux.literal("indivillage");
    tmux.send(&["Enter", "S"]);
    tmux.wait_for("no shell:", Duration::from_secs(5));
    // The platform host is production: its name is typed first.
    tmux.send(&["Escape", "/"]);
    tmux.literal("multi-tenant");
    tmux.send(&["Enter", "S"]);
    tmux.wait_for("type multi-tenant-platform", Duration::from_secs(5));
    tmux.literal("multi-tenant-platform");
    tmux.send(&["Enter"]);
    // The shell has the terminal: the primary screen, the host's tree.
    tmux.wait_for("[sandbox i-0a4f1c2e9b7d30001]", Duration::from_secs(10));
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0",
        "the shell runs on the normal screen"
    );
    tmux.literal("docker ps --format '{{.Names}}' | grep -c . ; ls opt/apps; exit 3");
    tmux.send(&["Enter"]);
    // The console is back exactly: alternate screen, its frame, the notice.
    let s = tmux.wait_for("ended (exit 3)", Duration::from_secs(10));
    assert!(s.contains("Instances [1/6]"), "{s}");
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "1",
        "the console is on the alternate screen again"
    );
    // Keys reach the console again, and the shell is in History.
    tmux.send(&["7"]);
    let s = tmux.wait_for("History [", Duration::from_secs(5));
    assert!(s.contains("shell on multi-tenant-platform"), "{s}");
    // A session that crashes (killed by a signal) gives the console back too.
    tmux.send(&["2", "S"]);
    tmux.wait_for("type multi-tenant-platform", Duration::from_secs(5));
    tmux.literal("multi-tenant-platform");
    tmux.send(&["Enter"]);
    tmux.wait_for("[sandbox i-0a4f1c2e9b7d30001]", Duration::from_secs(10));
    tmux.literal("kill -9 $$");
    tmux.send(&["Enter"]);
    let s = tmux.wait_for("ended by signal 9", Duration::from_secs(10));
    assert!(s.contains("Instances [1/6]"), "{s}");
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "1"
    );
    tmux.send(&["q"]);
    tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(5));
}

#[test]
fn login_hands_the_terminal_to_aws_sso_login_and_says_what_is_missing() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let args = tmp.path().join("aws-args");
    std::fs::write(
        bin.join("aws"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\necho 'Attempting to automatically open the SSO authorization page'\necho 'Successfully logged into Start URL'\n",
            args.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("aws"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tmux = Tmux::console(
        "opsdeck-login",
        tmp.path(),
        &format!(
            "OPSDECK_SANDBOX_PG=simulated PATH={}:/usr/local/bin:/usr/bin:/bin",
            bin.display()
        ),
    );
    tmux.wait_for("Tenants [11]", Duration::from_secs(30));
    // The sandbox has no profile: say how to name one.
    tmux.send(&[":"]);
    tmux.literal("login");
    tmux.send(&["Enter"]);
    tmux.wait_for("the sandbox needs no login", Duration::from_secs(5));
    tmux.send(&[":"]);
    tmux.literal("login ops-admin");
    tmux.send(&["Enter"]);
    // Signed in, the context is opened again (its notice comes last).
    tmux.wait_for("context sandbox (sandbox)", Duration::from_secs(15));
    tmux.send(&["n"]);
    let s = tmux.wait_for("signed in as ops-admin", Duration::from_secs(5));
    assert!(s.contains("notices, newest first"), "{s}");
    tmux.send(&["Escape"]);
    assert_eq!(
        std::fs::read_to_string(&args)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        ["sso", "login", "--profile", "ops-admin"]
    );
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "1"
    );
    // Without the CLI: what to install, and the console stays as it is.
    std::fs::remove_file(bin.join("aws")).unwrap();
    tmux.send(&[":"]);
    tmux.literal("login ops-admin");
    tmux.send(&["Enter"]);
    tmux.wait_for("install the AWS CLI v2", Duration::from_secs(5));
    tmux.send(&["q"]);
    tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(5));
}

#[test]
fn a_port_forward_to_a_database_stays_up_until_ended_from_runs() {
    let tmp = tempfile::tempdir().unwrap();
    // Real databases (the test command installs the server): the forward
    // goes to the MAP host's PostgreSQL; the guard stops the servers.
    let _servers = common::RealDb {
        dir: tmp.path().to_path_buf(),
    };
    let tmux = Tmux::console("opsdeck-forward", tmp.path(), "");
    tmux.wait_for("Tenants [11]", Duration::from_secs(60));
    tmux.send(&["/"]);
    tmux.literal("map-hdts");
    tmux.send(&["Enter", ":"]);
    tmux.literal("forward");
    tmux.send(&["Enter"]);
    tmux.wait_for("type helpdesk", Duration::from_secs(5));
    tmux.literal("helpdesk");
    tmux.send(&["Enter"]);
    let s = tmux.wait_for("up; Ctrl-C on its row", Duration::from_secs(20));
    let port: u16 = s
        .split("forward 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {s}"));
    // A client on this machine reaches the database through it.
    let count = || {
        Command::new("psql")
            .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                "helpdesk",
                "-c",
                "SELECT count(*) FROM tickets",
            ])
            .output()
            .unwrap()
    };
    let out = count();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "6000",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It is a row on Runs; Ctrl-C there (confirmed) ends it.
    tmux.send(&["6"]);
    tmux.wait_for("forward-001", Duration::from_secs(5));
    tmux.send(&["C-c"]);
    tmux.wait_for("y = cancel it", Duration::from_secs(5));
    tmux.send(&["y"]);
    tmux.wait_for("cancelled", Duration::from_secs(10));
    assert!(!count().status.success(), "the port is closed");
    // In History from start to end.
    tmux.send(&["7"]);
    let s = tmux.wait_for("History [", Duration::from_secs(5));
    assert!(s.contains("forward") && s.contains("helpdesk"), "{s}");
    tmux.send(&["q"]);
    tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(5));
}

/// A user runbook that reads for `secs` seconds on an instance, in the
/// config dir under `home`, whose name looks like a port forward's id.
fn slow_user_runbook(home: &std::path::Path, secs: u32) {
    let dir = home.join("config/opsdeck/runbooks");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("db-forward-check.toml"),
        format!(
            "name = \"db-forward-check\"\ntitle = \"forward check on {{instance}}\"\ntarget = \"instance\"\ndanger = \"read\"\n\n[[step]]\nname = \"wait\"\nrun = '''\nsleep {secs}\necho check-done\n'''\n"
        ),
    )
    .unwrap();
}

/// On Instances, start `db-forward-check` on the first instance and wait
/// until its step runs.
fn start_slow_runbook(tmux: &Tmux) {
    tmux.send(&["2"]);
    tmux.wait_for("Instances [6]", Duration::from_secs(5));
    tmux.send(&[":"]);
    tmux.literal("run db-forward-check");
    tmux.send(&["Enter"]);
    tmux.wait_for("runbook   db-forward-check", Duration::from_secs(5));
    tmux.send(&["Enter"]);
    tmux.wait_for("Enter runs it", Duration::from_secs(5));
    tmux.send(&["Enter"]);
    tmux.wait_for("==> [1/1] wait", Duration::from_secs(20));
}

/// The terminal after the console: main screen, cursor shown, cooked mode
/// (the pane's `stty` printed `icanon echo` before MODE_END).
fn assert_terminal_given_back(tmux: &Tmux, screen: &str) {
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0",
        "alternate screen left:\n{screen}"
    );
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{cursor_flag}"])
            .trim(),
        "1",
        "cursor visible again"
    );
    assert!(
        screen.contains("icanon echo MODE_END"),
        "cooked mode again:\n{screen}"
    );
}

const STTY: &str = "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo MODE_END;";

/// Quitting stops port forwards only: a runbook whose name holds
/// `-forward-` goes on on its host (the run's kind is typed, not read from
/// its id), and `opsdeck attach` follows it to its end.
#[test]
fn a_runbook_named_like_a_forward_survives_quit() {
    let tmp = tempfile::tempdir().unwrap();
    slow_user_runbook(tmp.path(), 6);
    let tmux = Tmux::console(
        "opsdeck-fwdname",
        tmp.path(),
        "OPSDECK_SANDBOX_PG=simulated",
    );
    tmux.wait_for("Tenants [11]", Duration::from_secs(30));
    start_slow_runbook(&tmux);
    tmux.send(&["q"]);
    let s = tmux.wait_for("y = quit", Duration::from_secs(5));
    assert!(s.contains("forward check on"), "{s}");
    assert!(
        !s.contains("Port forwards end"),
        "no forward is running:\n{s}"
    );
    tmux.send(&["y"]);
    tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(10));
    let (code, out, err) = common::run_cli(tmp.path(), &["attach"]);
    let (_, hist, _) = common::run_cli(tmp.path(), &["history", "--json"]);
    assert_eq!(code, 0, "{out}{err}{hist}");
    assert!(out.contains("check-done"), "{out}{err}");
    assert!(
        !out.contains("Terminated") && !err.contains("cancelled"),
        "{out}{err}"
    );
}

/// SIGTERM, SIGHUP, SIGQUIT and an external SIGINT end the console with the
/// terminal given back (main screen, cursor, cooked mode) and exit 128 + n;
/// the run in flight at SIGTERM stays in flight, and the next console
/// follows it to its end.
#[test]
fn signals_give_the_terminal_back_and_the_next_console_finishes_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    slow_user_runbook(tmp.path(), 4);
    let env = "OPSDECK_SANDBOX_PG=simulated";
    {
        let tmux = Tmux::console_then("opsdeck-sigterm", tmp.path(), env, "", STTY);
        tmux.wait_for("Tenants [11]", Duration::from_secs(30));
        start_slow_runbook(&tmux);
        let pid = tmux.console_pid().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let s = tmux.wait_for("MODE_END", Duration::from_secs(10));
        assert!(s.contains("OPSDECK_EXIT=143"), "{s}");
        assert_terminal_given_back(&tmux, &s);
    }
    // The next console picks the run up and sees it end.
    {
        let tmux = Tmux::console("opsdeck-after", tmp.path(), env);
        tmux.wait_for("reattached to forward check on", Duration::from_secs(30));
        tmux.send(&["6"]);
        let s = tmux.wait_for("succeeded", Duration::from_secs(20));
        assert!(s.contains("forward check on"), "{s}");
        tmux.send(&["q"]);
        tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(10));
    }
    let (_, out, _) = common::run_cli(tmp.path(), &["history", "--json"]);
    assert!(out.contains("\"reattached\": true"), "{out}");
    for (sig, code) in [("HUP", 129), ("QUIT", 131), ("INT", 130)] {
        let tmux = Tmux::console_then(&format!("opsdeck-sig{sig}"), tmp.path(), env, "", STTY);
        tmux.wait_for("Tenants [11]", Duration::from_secs(30));
        let pid = tmux.console_pid().to_string();
        let killed = Command::new("kill")
            .args([&format!("-{sig}"), pid.as_str()])
            .status()
            .unwrap();
        assert!(killed.success());
        let s = tmux.wait_for("MODE_END", Duration::from_secs(10));
        assert!(
            s.contains(&format!("OPSDECK_EXIT={code}")),
            "SIG{sig}:\n{s}"
        );
        assert_terminal_given_back(&tmux, &s);
    }
    // The terminal itself goes away (its tmux is killed): the console
    // ends too, instead of spinning on a dead terminal.
    let tmux = Tmux::console("opsdeck-gone", tmp.path(), env);
    tmux.wait_for("Tenants [11]", Duration::from_secs(30));
    let pid = tmux.console_pid();
    drop(tmux);
    let t = std::time::Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        if matches!(state, None | Some("Z" | "X")) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the console outlived its terminal: {stat}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two operators on one sandbox: Bob's console lists Alice's runs (started
/// headless from her own opsdeck), follows one to its end, and cancels the
/// next only once its target's name is typed, journaled under both names.
#[test]
fn another_operator_s_run_is_listed_followed_and_cancelled_from_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = tmp.path().join("sandbox");
    let alice = |args: &[&str]| {
        let mut c = common::cli(&tmp.path().join("alice"));
        c.env("OPSDECK_OPERATOR", "alice")
            .env("OPSDECK_SIM_DELAY_MS", "300")
            .arg("--sandbox-dir")
            .arg(&sandbox)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    assert!(alice(&["ls", "tenants"]).status().unwrap().success());
    let tmux = Tmux::console_args(
        "opsdeck-two",
        &tmp.path().join("bob"),
        "OPSDECK_OPERATOR=bob OPSDECK_SANDBOX_PG=simulated",
        &format!("--sandbox-dir {}", sandbox.display()),
    );
    tmux.wait_for("Tenants [11]", Duration::from_secs(30));
    let deploy = ["run", "deploy", "tenant=filter-ical-staging", "--yes"];
    let first = alice(&deploy).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // On Runs, Alice's deploy: hers, in flight.
    tmux.send(&["6"]);
    tmux.wait_for("alice's deploy on filter-ical", Duration::from_secs(20));
    tmux.send(&["/"]);
    tmux.literal("alice");
    tmux.send(&["Enter", "Enter"]);
    // Followed from its first byte to its end.
    let s = tmux.wait_for("opsdeck result: succeeded", Duration::from_secs(60));
    assert!(
        s.contains("==> precheck") || s.contains("deployed filter-ical-staging"),
        "{s}"
    );
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The next one Bob cancels: asked for the target's name first.
    let second = alice(&deploy).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    tmux.send(&["Escape", "Escape", "6"]);
    tmux.wait_for("Runs [", Duration::from_secs(5));
    tmux.send(&["/"]);
    tmux.literal("running");
    tmux.send(&["Enter"]);
    tmux.wait_for("alice's deploy", Duration::from_secs(20));
    tmux.send(&["C-c"]);
    tmux.wait_for("type filter-ical-staging", Duration::from_secs(5));
    tmux.literal("filter-ical-staging");
    tmux.send(&["Enter"]);
    tmux.wait_for("cancel alice's run", Duration::from_secs(20));
    // And its row says so once the host is asked again.
    tmux.wait_for("nothing matches /running", Duration::from_secs(20));
    tmux.send(&["Escape"]);
    tmux.wait_for("cancelled", Duration::from_secs(5));
    let out = second.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "Alice's deploy was cancelled: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.send(&["q"]);
    tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(10));
    let out = common::cli(&tmp.path().join("bob"))
        .arg("--sandbox-dir")
        .arg(&sandbox)
        .args(["history", "--json", "--limit", "1"])
        .output()
        .unwrap();
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cancel = &history[0];
    assert_eq!(cancel["start"]["runbook"], "cancel-run", "{history}");
    assert_eq!(cancel["start"]["who"], "bob", "{history}");
    assert!(
        cancel["start"]["params"]
            .to_string()
            .contains(r#"["owner","alice"]"#),
        "{history}"
    );
}

/// Bob's console deploys a tenant Alice is deploying from her laptop: the
/// start is refused in a dialog naming her run; `w` waits and starts it
/// once hers is over; the next time `f` follows hers instead.
#[test]
fn a_locked_start_names_the_holder_waits_for_it_or_follows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = tmp.path().join("sandbox");
    let alice = |args: &[&str]| {
        let mut c = common::cli(&tmp.path().join("alice"));
        c.env("OPSDECK_OPERATOR", "alice")
            .env("OPSDECK_SIM_DELAY_MS", "600")
            .arg("--sandbox-dir")
            .arg(&sandbox)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    assert!(alice(&["ls", "tenants"]).status().unwrap().success());
    let tmux = Tmux::console_args(
        "opsdeck-locked",
        &tmp.path().join("bob"),
        "OPSDECK_OPERATOR=bob OPSDECK_SANDBOX_PG=simulated OPSDECK_SIM_DELAY_MS=100",
        &format!("--sandbox-dir {}", sandbox.display()),
    );
    tmux.wait_for("Tenants [11]", Duration::from_secs(30));
    let deploy = ["run", "deploy", "tenant=filter-ical-staging", "--yes"];
    let hold = |first: &std::process::Child| {
        let _ = first;
        let locks = sandbox.join("hosts/i-0a4f1c2e9b7d30001/var/lib/opsdeck/locks");
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let held = std::fs::read_dir(&locks).is_ok_and(|d| {
                d.flatten()
                    .any(|f| f.path().extension().is_some_and(|x| x == "holder"))
            });
            if held {
                break;
            }
            assert!(Instant::now() < until, "alice's deploy took no lock");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let bob_deploys = || {
        tmux.send(&["Escape", "Escape", ":"]);
        tmux.literal("tenants");
        tmux.send(&["Enter", "/"]);
        tmux.literal("filter staging");
        tmux.send(&["Enter"]);
        tmux.wait_for("Tenants [1/11]", Duration::from_secs(5));
        tmux.send(&["d"]);
        tmux.wait_for("Enter runs it", Duration::from_secs(5));
        tmux.send(&["Enter"]);
    };
    let first = alice(&deploy).spawn().unwrap();
    hold(&first);
    bob_deploys();
    // Refused before anything was sent, naming Alice's run.
    let s = tmux.wait_for("w = wait, then start", Duration::from_secs(20));
    assert!(
        s.contains("project-filter-ical-staging is held")
            && s.contains("by      alice")
            && s.contains("runbook deploy on filter-ical-staging")
            && s.contains("f = follow it"),
        "{s}"
    );
    tmux.send(&["w"]);
    tmux.wait_for("asked every 2 s", Duration::from_secs(5));
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Hers over, Bob's starts by itself and runs to its end.
    tmux.wait_for("opsdeck result: succeeded", Duration::from_secs(60));
    let out = common::cli(&tmp.path().join("bob"))
        .arg("--sandbox-dir")
        .arg(&sandbox)
        .args(["history", "--json", "--limit", "2"])
        .output()
        .unwrap();
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(history[0]["start"]["runbook"], "deploy", "{history}");
    assert_eq!(history[0]["finish"]["status"], "succeeded", "{history}");
    assert_eq!(history[1]["finish"]["status"], "refused", "{history}");

    // Again, and this time Bob follows hers from its first byte.
    let second = alice(&deploy).spawn().unwrap();
    hold(&second);
    bob_deploys();
    tmux.wait_for("w = wait, then start", Duration::from_secs(20));
    tmux.send(&["f"]);
    let s = tmux.wait_for(
        "alice's deploy on filter-ical-staging",
        Duration::from_secs(20),
    );
    assert!(
        !s.contains("w = wait, then start"),
        "the dialog closed: {s}"
    );
    tmux.wait_for("opsdeck result: succeeded", Duration::from_secs(60));
    let out = second.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.send(&["q"]);
    tmux.wait_for("OPSDECK_EXIT=0", Duration::from_secs(10));
}
