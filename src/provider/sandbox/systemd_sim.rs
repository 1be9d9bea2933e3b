//! `systemctl` and `journalctl` on a sandbox host, for the services a
//! document runs on the host rather than in docker (Enssol: nginx in
//! front of gunicorn serving Django). Units live in the host's simulated
//! state; a host tree with `etc/opsdeck-sim/GUNICORN_FAIL` makes gunicorn
//! fail to start, as a broken release would.

use super::sim_state::{SimUnit, Store, now_epoch};
use std::io::Write;
use std::path::Path;

type Res = Result<i32, Box<dyn std::error::Error>>;

fn unit_name(arg: &str) -> &str {
    arg.strip_suffix(".service").unwrap_or(arg)
}

fn when(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .format("%a %Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// `systemctl is-active|status|restart|start|stop|list-units UNIT…`.
pub(super) fn systemctl(root: &Path, args: &[String], out: &mut impl Write) -> Res {
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let Some((&cmd, units)) = words.split_first() else {
        eprintln!("systemctl (simulated): a command is needed");
        return Ok(1);
    };
    let store = Store::open(root)?;
    let mut st = store.load();
    let now = now_epoch();
    match cmd {
        "list-units" => {
            for u in &st.units {
                let sub = if u.state == "active" {
                    "running"
                } else {
                    "dead"
                };
                writeln!(
                    out,
                    "{}.service loaded {} {sub} {}",
                    u.name, u.state, u.description
                )?;
            }
            Ok(0)
        }
        "is-active" => {
            let mut all = true;
            for n in units {
                let state = st
                    .units
                    .iter()
                    .find(|u| u.name == unit_name(n))
                    .map_or("inactive", |u| u.state.as_str());
                writeln!(out, "{state}")?;
                all &= state == "active";
            }
            Ok(if all { 0 } else { 3 })
        }
        "status" => {
            let mut code = 0;
            for n in units {
                let Some(u) = st.units.iter().find(|u| u.name == unit_name(n)) else {
                    eprintln!("Unit {}.service could not be found.", unit_name(n));
                    return Ok(4);
                };
                let dot = if u.state == "active" { "●" } else { "×" };
                writeln!(out, "{dot} {}.service - {}", u.name, u.description)?;
                writeln!(
                    out,
                    "     Loaded: loaded (/etc/systemd/system/{}.service; enabled; vendor preset: enabled)",
                    u.name
                )?;
                let sub = match u.state.as_str() {
                    "active" => "active (running)",
                    "failed" => "failed (Result: exit-code)",
                    _ => "inactive (dead)",
                };
                writeln!(out, "     Active: {sub} since {}", when(u.since_epoch))?;
                writeln!(out, "    Process: ExecStart={}", u.exec)?;
                if u.state != "active" {
                    code = 3;
                }
            }
            Ok(code)
        }
        "restart" | "start" | "stop" => {
            for n in units {
                let fail = root.join("etc/opsdeck-sim/GUNICORN_FAIL").exists();
                let Some(u) = st.units.iter_mut().find(|u| u.name == unit_name(n)) else {
                    eprintln!(
                        "Failed to {cmd} {}.service: Unit {}.service not found.",
                        unit_name(n),
                        unit_name(n)
                    );
                    return Ok(5);
                };
                u.since_epoch = now;
                if cmd == "stop" {
                    u.state = "inactive".into();
                } else if fail && u.name == "gunicorn" {
                    u.state = "failed".into();
                    let name = u.name.clone();
                    store.save(&st)?;
                    eprintln!(
                        "Job for {name}.service failed because the control process exited with error code.\nSee \"systemctl status {name}.service\" and \"journalctl -xeu {name}.service\" for details."
                    );
                    return Ok(1);
                } else {
                    u.state = "active".into();
                    u.restarts += 1;
                }
            }
            store.save(&st)?;
            Ok(0)
        }
        other => {
            eprintln!(
                "systemctl (simulated): '{other}' is not simulated (is-active, status, restart, start, stop, list-units)"
            );
            Ok(1)
        }
    }
}

/// `journalctl -u UNIT [-n N] [--no-pager]`: the unit's log, from its state.
pub(super) fn journalctl(root: &Path, args: &[String], out: &mut impl Write) -> Res {
    let flag = |f: &str| args.windows(2).find(|w| w[0] == f).map(|w| w[1].clone());
    let Some(name) = flag("-u").or_else(|| flag("--unit")) else {
        eprintln!("journalctl (simulated): only -u UNIT is simulated");
        return Ok(1);
    };
    let n: usize = flag("-n").and_then(|v| v.parse().ok()).unwrap_or(50);
    let st = Store::open(root)?.load();
    let Some(u) = st.units.iter().find(|u| u.name == unit_name(&name)) else {
        writeln!(out, "-- No entries --")?;
        return Ok(0);
    };
    let fail = root.join("etc/opsdeck-sim/GUNICORN_FAIL").exists();
    let host = "enssol-app-prod-001";
    let stamp = |e: i64| {
        chrono::DateTime::from_timestamp(e, 0)
            .unwrap_or_default()
            .format("%b %d %H:%M:%S")
            .to_string()
    };
    let mut lines = vec![format!(
        "{} {host} systemd[1]: Started {}.",
        stamp(u.since_epoch),
        u.description
    )];
    match (u.name.as_str(), u.state.as_str()) {
        ("gunicorn", "failed") if fail => {
            lines.push(format!("{} {host} gunicorn[2211]: ModuleNotFoundError: No module named 'obligations.settings_prod'", stamp(u.since_epoch)));
            lines.push(format!("{} {host} systemd[1]: gunicorn.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED", stamp(u.since_epoch)));
            lines.push(format!(
                "{} {host} systemd[1]: gunicorn.service: Failed with result 'exit-code'.",
                stamp(u.since_epoch)
            ));
        }
        ("gunicorn", _) => {
            lines.push(format!(
                "{} {host} gunicorn[2211]: [INFO] Listening at: unix:/run/gunicorn.sock (2211)",
                stamp(u.since_epoch)
            ));
            lines.push(format!(
                "{} {host} gunicorn[2211]: [INFO] Booting worker with pid: 2213",
                stamp(u.since_epoch + 1)
            ));
        }
        _ => {}
    }
    let skip = lines.len().saturating_sub(n);
    for l in lines.iter().skip(skip) {
        writeln!(out, "{l}")?;
    }
    Ok(0)
}

/// The host's unit `name`, if it runs one.
pub(super) fn unit(root: &Path, name: &str) -> Option<SimUnit> {
    Store::open(root)
        .ok()?
        .load()
        .units
        .into_iter()
        .find(|u| u.name == name)
}
