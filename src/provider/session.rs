//! Interactive sessions on a host: what program the terminal is handed to.
//! The provider decides (the AWS CLI with the Session Manager plugin, or a
//! shell in a sandbox host's tree); the console suspends itself and runs
//! it, `opsdeck shell` runs it in place. Nothing here draws or runs.

use std::path::{Path, PathBuf};

message_error!(
    /// Why a session (shell, forward, login) cannot start, or how it failed.
    SessionError
);

/// A program to hand the terminal to, and what it is in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// What is called, in one line (the journal, the notices).
    pub call: String,
    /// Said on the terminal before the session starts.
    pub banner: String,
}

pub const INSTALL_CLI: &str = "install the AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html";
pub const INSTALL_PLUGIN: &str = "install the Session Manager plugin: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html";

/// Whether `program` is an executable file on PATH.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|d| {
        std::fs::metadata(d.join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The AWS CLI (and for sessions the Session Manager plugin) on PATH, or
/// what to install.
fn need_aws(plugin: bool) -> Result<(), SessionError> {
    if !on_path("aws") {
        return Err(format!("no `aws` on PATH: {INSTALL_CLI}").into());
    }
    if plugin && !on_path("session-manager-plugin") {
        return Err(format!("no `session-manager-plugin` on PATH: {INSTALL_PLUGIN}").into());
    }
    Ok(())
}

/// Container names docker gives (and the only ones put in a command).
pub fn valid_container(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The command inside a container: bash when it has one, else sh.
fn container_command(container: &str) -> String {
    format!(
        "sudo docker exec -it {container} sh -c 'command -v bash >/dev/null && exec bash || exec sh'"
    )
}

/// `aws ssm start-session` on an instance (a shell), or on a container
/// through it (`AWS-StartInteractiveCommand` running `docker exec -it`).
/// Refused with what to install when the CLI or the plugin is missing.
pub fn aws_shell(
    instance: &str,
    region: &str,
    profile: Option<&str>,
    container: Option<&str>,
) -> Result<SessionSpec, SessionError> {
    need_aws(true)?;
    let mut args: Vec<String> = [
        "ssm",
        "start-session",
        "--target",
        instance,
        "--region",
        region,
    ]
    .map(String::from)
    .to_vec();
    if let Some(p) = profile {
        args.extend(["--profile".into(), p.to_string()]);
    }
    let what = match container {
        Some(c) => {
            if !valid_container(c) {
                return Err(format!("{c:?} is not a container name").into());
            }
            let params = serde_json::json!({ "command": [container_command(c)] });
            args.extend([
                "--document-name".into(),
                "AWS-StartInteractiveCommand".into(),
                "--parameters".into(),
                params.to_string(),
            ]);
            format!("a shell in {c} on {instance}")
        }
        None => format!("a shell on {instance}"),
    };
    let call = format!(
        "aws {}",
        args.iter()
            .map(|a| shlex::try_quote(a).map_or_else(|_| a.clone(), |q| q.into_owned()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(SessionSpec {
        program: "aws".into(),
        args,
        env: vec![],
        cwd: None,
        call,
        banner: format!(
            "opsdeck: {what} through SSM Session Manager; `exit` brings the console back"
        ),
    })
}

/// A shell in a sandbox host's tree: its root as the working directory,
/// `OPSDECK_ROOT` set and the simulated docker on PATH, as runbooks see it.
pub fn sandbox_shell(
    host: &str,
    root: &Path,
    bin: &Path,
    container: Option<&str>,
) -> Result<SessionSpec, SessionError> {
    if let Some(c) = container
        && !valid_container(c)
    {
        return Err(format!("{c:?} is not a container name").into());
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let banner = match container {
        // The sandbox runs no docker engine: its containers have no inside.
        Some(c) => format!(
            "opsdeck: the sandbox simulates docker, so {c} has no inside; this is a shell on its host {host} (`docker logs {c}`, `docker inspect {c}` answer); `exit` brings the console back"
        ),
        None => format!(
            "opsdeck: a shell on sandbox host {host} (its tree, the simulated docker on PATH); `exit` brings the console back"
        ),
    };
    Ok(SessionSpec {
        program: "bash".into(),
        args: vec!["--norc".into(), "-i".into()],
        env: vec![
            ("OPSDECK_ROOT".into(), root.display().to_string()),
            ("OPSDECK_HOST".into(), host.into()),
            ("PATH".into(), path),
            ("PS1".into(), format!("[sandbox {host}] \\w $ ")),
        ],
        cwd: Some(root.to_path_buf()),
        call: format!("bash -i in the sandbox host {host}"),
        banner,
    })
}

/// Where a port forward goes: a database's server as the instance sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTo {
    pub database: String,
    /// Its docker container, when it runs in one (the sandbox finds its server by it).
    pub container: Option<String>,
    /// The server's address from the instance (`localhost` for one on the host).
    pub host: String,
    pub port: u16,
    /// The port on this machine.
    pub local_port: u16,
}

/// `aws ssm start-session` with `AWS-StartPortForwardingSessionToRemoteHost`:
/// this machine's `local_port` to `host:port` as the instance reaches it.
pub fn aws_forward(
    instance: &str,
    region: &str,
    profile: Option<&str>,
    to: &ForwardTo,
) -> Result<SessionSpec, SessionError> {
    need_aws(true)?;
    let args = forward_args(instance, region, profile, to);
    Ok(SessionSpec {
        program: "aws".into(),
        call: format!("aws {}", args.join(" ")),
        args,
        env: vec![],
        cwd: None,
        banner: format!(
            "opsdeck: forwarding 127.0.0.1:{} to {} ({}:{} from {instance})",
            to.local_port, to.database, to.host, to.port
        ),
    })
}

/// The arguments of `aws` for a port forward.
fn forward_args(
    instance: &str,
    region: &str,
    profile: Option<&str>,
    to: &ForwardTo,
) -> Vec<String> {
    let params = serde_json::json!({
        "host": [to.host],
        "portNumber": [to.port.to_string()],
        "localPortNumber": [to.local_port.to_string()],
    });
    let mut args: Vec<String> = [
        "ssm",
        "start-session",
        "--target",
        instance,
        "--region",
        region,
        "--document-name",
        "AWS-StartPortForwardingSessionToRemoteHost",
        "--parameters",
    ]
    .map(String::from)
    .to_vec();
    args.push(params.to_string());
    if let Some(p) = profile {
        args.extend(["--profile".into(), p.to_string()]);
    }
    args
}

/// A free port on this machine's loopback.
pub fn free_local_port() -> Result<u16, SessionError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| SessionError(format!("no free local port: {e}")))
}

/// `aws sso login --profile PROFILE` in this terminal (it prints a code
/// and opens, or names, the browser page that takes it).
pub fn aws_login(profile: &str) -> Result<SessionSpec, SessionError> {
    need_aws(false)?;
    let args = vec![
        "sso".into(),
        "login".into(),
        "--profile".into(),
        profile.to_string(),
    ];
    Ok(SessionSpec {
        program: "aws".into(),
        call: format!(
            "aws sso login --profile {}",
            shlex::try_quote(profile).map_or_else(|_| profile.to_string(), |q| q.into_owned())
        ),
        args,
        env: vec![],
        cwd: None,
        banner: format!(
            "opsdeck: signing in to AWS SSO as profile {profile}; the console comes back when it is done"
        ),
    })
}

/// Make this process's group the terminal's foreground again. A shell with
/// job control gives its own group the terminal and gives it back when it
/// exits, but not when it is killed: then opsdeck would be a background
/// process on its own terminal (reads fail, the console hangs). SIGTTOU is
/// blocked meanwhile, as shells do, so the call is allowed.
fn reclaim_terminal() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let tty = std::io::stdin();
    if !std::io::IsTerminal::is_terminal(&tty) {
        return;
    }
    let mut ttou = SigSet::empty();
    ttou.add(Signal::SIGTTOU);
    let mut old = SigSet::empty();
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old));
    let _ = nix::unistd::tcsetpgrp(&tty, nix::unistd::getpgrp());
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
}

/// Run a session in this terminal to its end: its exit code, or how it died.
/// A Ctrl-C meant for the session does not end opsdeck (a handler is in
/// place while it runs), and the terminal is taken back however it ends.
pub fn run(spec: &SessionSpec) -> Result<i32, SessionError> {
    eprintln!("{}", spec.banner);
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let _in = rt.enter();
        // Registering is enough: the process then survives SIGINT; the
        // child starts with the default disposition.
        let _ = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    }
    let mut cmd = std::process::Command::new(&spec.program);
    cmd.args(&spec.args).envs(spec.env.iter().cloned());
    if let Some(d) = &spec.cwd {
        cmd.current_dir(d);
    }
    let status = cmd.status();
    reclaim_terminal();
    let status = status.map_err(|e| format!("cannot start {}: {e}", spec.program))?;
    match status.code() {
        Some(c) => Ok(c),
        None => {
            use std::os::unix::process::ExitStatusExt;
            Err(format!(
                "{} ended by signal {}",
                spec.program,
                status.signal().unwrap_or(0)
            )
            .into())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_forward_asks_ssm_for_the_remote_host_document() {
        let to = ForwardTo {
            database: "app".into(),
            container: None,
            host: "localhost".into(),
            port: 5434,
            local_port: 15434,
        };
        let args = forward_args("i-0abc", "us-east-1", Some("pmo"), &to);
        assert_eq!(
            args[..8],
            [
                "ssm",
                "start-session",
                "--target",
                "i-0abc",
                "--region",
                "us-east-1",
                "--document-name",
                "AWS-StartPortForwardingSessionToRemoteHost"
            ]
        );
        assert_eq!(args[8], "--parameters");
        let p: serde_json::Value = serde_json::from_str(&args[9]).unwrap();
        assert_eq!(
            p,
            serde_json::json!({"host": ["localhost"], "portNumber": ["5434"], "localPortNumber": ["15434"]})
        );
        assert_eq!(args[10..], ["--profile", "pmo"]);
    }

    #[test]
    fn expired_credentials_are_told_apart() {
        use crate::provider::ErrorKind;
        for code in [
            "ExpiredToken",
            "UnrecognizedClientException",
            "InvalidClientTokenId",
        ] {
            assert_eq!(ErrorKind::of_code(code), ErrorKind::Auth, "{code}");
        }
        assert_eq!(ErrorKind::of_code("AccessDenied"), ErrorKind::Other);
        assert_eq!(
            ErrorKind::of_code("InvalidAMIID.NotFound"),
            ErrorKind::NotFound
        );
        assert_eq!(ErrorKind::of_code("NoSuchBucket"), ErrorKind::NotFound);
        assert_eq!(
            ErrorKind::of_code("ThrottlingException"),
            ErrorKind::Throttled
        );
        assert!(valid_container("map-kong") && !valid_container("web;reboot"));
    }
}
