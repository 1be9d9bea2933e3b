//! The platform's certbot and nginx, answered in their containers:
//! certificates that renew, a configuration `nginx -t` really checks.

use super::*;

/// `certbot certificates | renew [--dry-run] [--force-renewal]` in the
/// certbot container: certificates with under 30 days left are renewed
/// for 90 (a host tree with `etc/opsdeck-sim/CERTBOT_FAIL` fails the
/// challenge, as an unreachable /.well-known would).
pub(super) fn certbot(root: &Path, cmd: &[String], out: &mut impl Write) -> Res {
    let store = Store::open(root)?;
    let mut st = store.load();
    let now = now_epoch();
    let sub = cmd.get(1).map(String::as_str).unwrap_or("");
    let dashes = "- - - - - - - - - - - - - - - - - - - - - - - - - - - -";
    writeln!(
        out,
        "Saving debug log to /var/log/letsencrypt/letsencrypt.log\n"
    )?;
    match sub {
        "certificates" => {
            writeln!(out, "{dashes}\nFound the following certs:")?;
            for c in &st.certs {
                let days = (c.expires_epoch - now).div_euclid(86_400);
                let expiry = chrono::DateTime::from_timestamp(c.expires_epoch, 0)
                    .unwrap_or_default()
                    .format("%Y-%m-%d %H:%M:%S+00:00");
                let valid = if days < 0 {
                    "INVALID: EXPIRED".to_string()
                } else {
                    format!("VALID: {days} days")
                };
                writeln!(out, "  Certificate Name: {}", c.name)?;
                writeln!(out, "    Domains: {}", c.domains.join(" "))?;
                writeln!(out, "    Expiry Date: {expiry} ({valid})")?;
                writeln!(
                    out,
                    "    Certificate Path: /etc/letsencrypt/live/{}/fullchain.pem",
                    c.name
                )?;
            }
            writeln!(out, "{dashes}")?;
            Ok(0)
        }
        "renew" => {
            let dry = cmd.iter().any(|a| a == "--dry-run");
            let force = cmd.iter().any(|a| a == "--force-renewal");
            let fail = root.join("etc/opsdeck-sim/CERTBOT_FAIL").exists();
            let mut renewed = Vec::new();
            let mut failed = Vec::new();
            for c in &mut st.certs {
                writeln!(
                    out,
                    "{dashes}\nProcessing /etc/letsencrypt/renewal/{}.conf\n{dashes}",
                    c.name
                )?;
                if !dry && !force && c.expires_epoch - now > 30 * 86_400 {
                    writeln!(out, "Certificate not yet due for renewal")?;
                    continue;
                }
                let more = c.domains.len().saturating_sub(1);
                writeln!(
                    out,
                    "{} an existing certificate for {}{}",
                    if dry {
                        "Simulating renewal of"
                    } else {
                        "Renewing"
                    },
                    c.name,
                    if more > 0 {
                        format!(" and {more} more domains")
                    } else {
                        String::new()
                    }
                )?;
                if fail {
                    writeln!(
                        out,
                        "Certbot failed to authenticate some domains (authenticator: webroot).\n  Domain: {}\n  Type:   connection\n  Detail: Timeout during connect (likely firewall problem)",
                        c.name
                    )?;
                    failed.push(c.name.clone());
                    continue;
                }
                if !dry {
                    c.expires_epoch = now + 90 * 86_400;
                    c.issued_epoch = now;
                }
                renewed.push(format!(
                    "/etc/letsencrypt/live/{}/fullchain.pem (success)",
                    c.name
                ));
            }
            store.save(&st)?;
            writeln!(out, "\n{dashes}")?;
            if !failed.is_empty() {
                writeln!(
                    out,
                    "All renewals failed. The following certificates could not be renewed:"
                )?;
                for f in &failed {
                    writeln!(out, "  /etc/letsencrypt/live/{f}/fullchain.pem (failure)")?;
                }
                writeln!(
                    out,
                    "{dashes}\n{} renew failure(s), 0 parse failure(s)",
                    failed.len()
                )?;
                return Ok(1);
            }
            if renewed.is_empty() {
                writeln!(out, "No renewals were attempted.")?;
            } else {
                writeln!(
                    out,
                    "Congratulations, all {}renewals succeeded:",
                    if dry { "simulated " } else { "" }
                )?;
                for r in &renewed {
                    writeln!(out, "  {r}")?;
                }
            }
            writeln!(out, "{dashes}")?;
            Ok(0)
        }
        other => {
            eprintln!("certbot (simulated): '{other}' is not simulated (certificates, renew)");
            Ok(2)
        }
    }
}

/// `nginx -t` checks the platform's configuration as mounted from the
/// checkout (`/opt/platform/platform/nginx/**/*.conf`: braces balanced,
/// each directive ended by `;`); `nginx -s reload` loads it and the
/// certificates, refusing (and keeping the old) when it does not parse.
pub(super) fn nginx(root: &Path, cmd: &[String], out: &mut impl Write) -> Res {
    let conf = root.join("opt/platform/platform/nginx");
    let problem = nginx_problem(&conf);
    match cmd.get(1..).unwrap_or_default() {
        [t] if t == "-t" => match problem {
            Some(p) => {
                eprintln!(
                    "nginx: [emerg] {p}\nnginx: configuration file /etc/nginx/nginx.conf test failed"
                );
                Ok(1)
            }
            None => {
                eprintln!(
                    "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\nnginx: configuration file /etc/nginx/nginx.conf test is successful"
                );
                Ok(0)
            }
        },
        [s, r] if s == "-s" && r == "reload" => {
            if let Some(p) = problem {
                eprintln!("nginx: [emerg] {p}");
                return Ok(1);
            }
            let store = Store::open(root)?;
            let mut st = store.load();
            st.nginx_loaded_epoch = now_epoch();
            store.save(&st)?;
            let _ = out;
            Ok(0)
        }
        _ => {
            eprintln!("nginx (simulated): only `nginx -t` and `nginx -s reload`");
            Ok(2)
        }
    }
}

/// What `nginx -t` would say is wrong in the `.conf` files under `dir`.
fn nginx_problem(dir: &Path) -> Option<String> {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "conf") {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let shown = format!("/etc/nginx/{}", f.strip_prefix(dir).unwrap_or(&f).display());
        let mut depth = 0i32;
        for (i, line) in text.lines().enumerate() {
            let l = line.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
            if depth < 0 {
                return Some(format!("unexpected \"}}\" in {shown}:{}", i + 1));
            }
            if !(l.ends_with(';') || l.ends_with('{') || l.ends_with('}')) {
                return Some(format!(
                    "directive \"{}\" is not terminated by \";\" in {shown}:{}",
                    l.split_whitespace().next().unwrap_or(l),
                    i + 1
                ));
            }
        }
        if depth > 0 {
            return Some(format!(
                "unexpected end of file, expecting \"}}\" in {shown}:{}",
                text.lines().count()
            ));
        }
    }
    None
}
