//! `curl` on a sandbox host: the apps' health endpoints answer from the
//! simulated containers' state (healthy → 200, else 503).

use super::sim_state::{Store, flag_value, now_epoch, positional};
use std::path::Path;

/// `curl` on a sandbox host. PMO's API answers on localhost:4000
/// (/api/health, /api/v1/s3-backend/health); a tenant's domain
/// (`https://{app}[-{env}].example.com/…`) answers 200 when every container
/// of its project is healthy and 503 otherwise; anything else is refused.
pub(super) fn curl(root: Option<&Path>, args: &[String]) -> i32 {
    let fail_on_error = args.iter().any(|a| {
        a == "-f"
            || a == "--fail"
            || (a.starts_with('-') && !a.starts_with("--") && a.contains('f') && a.len() <= 4)
    });
    let write_out = flag_value(args, &["-w", "--write-out"]);
    let to_null = flag_value(args, &["-o", "--output"]).is_some_and(|o| o == "/dev/null");
    let pos = positional(
        args,
        &[
            "-w",
            "--write-out",
            "-o",
            "--output",
            "-m",
            "--max-time",
            "-H",
        ],
    );
    let Some(url) = pos.last() else {
        eprintln!("curl: no URL specified");
        return 2;
    };
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host_id = root
        .map(super::estate::machines::origin_host)
        .unwrap_or_else(|| std::env::var("OPSDECK_HOST").unwrap_or_default());
    let now = now_epoch();
    let api_up = || {
        let st = root
            .and_then(|r| Store::open(r).ok())
            .map(|s| s.load())
            .unwrap_or_default();
        st.containers
            .iter()
            .any(|c| c.name == "pmo-api" && c.state == "running")
    };
    let answer: Option<(u16, String)> =
        if hostport == "localhost:4000" && host_id == super::estate::PMO_HOST {
            match path {
                _ if !api_up() => None,
                "/api/health" => Some((200, r#"{"status":"ok","database":"ok"}"#.into())),
                "/api/v1/s3-backend/health" => {
                    Some((200, r#"{"status":"ok","bucket":"pmo-documents"}"#.into()))
                }
                _ => Some((404, r#"{"error":"not found"}"#.into())),
            }
        } else if host_id == super::estate::MAP_HOST
            && let Some(port) = hostport
                .strip_prefix("localhost:")
                .or_else(|| hostport.strip_prefix("127.0.0.1:"))
        {
            map_answer(root, port, path, now)
        } else if host_id == super::estate::ENSSOL_HOST
            && matches!(hostport, "localhost" | "127.0.0.1" | "app.enssol.com.au")
        {
            // nginx answers; behind it gunicorn's socket.
            let up = |u: &str| {
                root.and_then(|r| super::systemd_sim::unit(r, u))
                    .is_some_and(|u| u.state == "active")
            };
            if !up("nginx") {
                None
            } else if !up("gunicorn") {
                Some((
                    502,
                    "<html><head><title>502 Bad Gateway</title></head></html>".into(),
                ))
            } else {
                Some((200, r#"{"status":"ok","app":"enssol"}"#.into()))
            }
        } else if let Some(sub) = hostport.strip_suffix(".example.com") {
            let project = if sub.ends_with("-staging") || sub.ends_with("-production") {
                sub.to_string()
            } else {
                format!("{sub}-production")
            };
            let st = root
                .and_then(|r| Store::open(r).ok())
                .map(|s| s.load())
                .unwrap_or_default();
            let cs: Vec<_> = st
                .containers
                .iter()
                .filter(|c| c.project == project)
                .collect();
            if cs.is_empty() {
                None
            } else if cs
                .iter()
                .all(|c| c.state == "running" && matches!(c.health(now).as_str(), "healthy" | ""))
            {
                Some((200, r#"{"status":"ok"}"#.into()))
            } else {
                Some((503, "Service Unavailable".into()))
            }
        } else {
            None
        };
    let Some((code, body)) = answer else {
        eprintln!("curl: (7) Failed to connect to {hostport}: Connection refused");
        return 7;
    };
    if fail_on_error && code >= 400 {
        eprintln!("curl: (22) The requested URL returned error: {code}");
        return 22;
    }
    if !to_null {
        print!("{body}");
    }
    if let Some(w) = write_out {
        print!("{}", w.replace("%{http_code}", &code.to_string()));
    }
    0
}

/// The MAP host: Kong's proxy on 8080, and each service on
/// the port the plan's appendix publishes it at (`/health/`): 200 when its
/// container runs healthy, 503 when it runs unhealthy, refused when stopped.
fn map_answer(root: Option<&Path>, port: &str, path: &str, now: i64) -> Option<(u16, String)> {
    let st = root
        .and_then(|r| Store::open(r).ok())
        .map(|s| s.load())
        .unwrap_or_default();
    let running = |name: &str| {
        st.containers
            .iter()
            .any(|c| c.name == name && c.state == "running")
    };
    // Kong's proxy (8080; its admin API is disabled in production, as the
    // plan's appendix says): it answers for itself when no route matches.
    if port == "8080" {
        if !running("map-kong") {
            return None;
        }
        return Some((
            404,
            r#"{"message":"no Route matched with those values"}"#.into(),
        ));
    }
    let c = st.containers.iter().find(|c| {
        c.ports
            .split(", ")
            .any(|p| p.starts_with(&format!("0.0.0.0:{port}->")))
    })?;
    if c.state != "running" {
        return None;
    }
    if !path.starts_with("/health") {
        return Some((404, "Not Found".into()));
    }
    Some(match c.health(now).as_str() {
        "healthy" | "" => (
            200,
            format!(r#"{{"status":"ok","service":"{}"}}"#, c.service),
        ),
        h => (
            503,
            format!(r#"{{"status":"{h}","service":"{}"}}"#, c.service),
        ),
    })
}
