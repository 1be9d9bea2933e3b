//! The real binary in a real terminal: tmux on a private socket, driven
//! with send-keys and read with capture-pane. Included with `#[path]` by
//! the tests that need it (not a test target itself); needs `common`.

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// The console in a 120×32 session `e2e` on a private socket, its XDG
    /// dirs under `home`, its clock pinned, `env` added; after it quits the
    /// shell prints `OPSDECK_EXIT=<code>`.
    pub fn console(socket: &str, home: &std::path::Path, env: &str) -> Tmux {
        Tmux::console_args(socket, home, env, "")
    }

    /// The same, with arguments for the binary (`args`, shell words).
    pub fn console_args(socket: &str, home: &std::path::Path, env: &str, args: &str) -> Tmux {
        Tmux::console_then(socket, home, env, args, "")
    }

    /// The same, and `after` (shell words) runs in the pane once the
    /// console has ended and its exit code is printed.
    pub fn console_then(
        socket: &str,
        home: &std::path::Path,
        env: &str,
        args: &str,
        after: &str,
    ) -> Tmux {
        let tmux = Tmux {
            socket: format!("{socket}-{}", std::process::id()),
        };
        let p = home.display().to_string();
        let shell = format!(
            "env OPSDECK_NOW={now} XDG_DATA_HOME={p}/data XDG_STATE_HOME={p}/state XDG_CONFIG_HOME={p}/config {env} TERM=xterm-256color {exe} {args}; echo OPSDECK_EXIT=$?; {after} sleep 120",
            now = crate::common::fixed_now().to_rfc3339(),
            exe = env!("CARGO_BIN_EXE_opsdeck")
        );
        tmux.cmd(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "120",
            "-y",
            "32",
            &shell,
        ]);
        tmux
    }

    /// The console's process id (the pane's shell's child).
    pub fn console_pid(&self) -> u32 {
        let shell: u32 = self
            .cmd(&["display", "-p", "-t", "e2e", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("the pane's pid");
        let t = Instant::now();
        loop {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
                // pid (comm) state ppid …: the fields after the last ')'.
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                if ppid == Some(shell) {
                    return pid;
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no console under {shell}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (the test command installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "e2e"])
    }
    pub fn send(&self, keys: &[&str]) {
        for k in keys {
            self.cmd(&["send-keys", "-t", "e2e", k]);
            std::thread::sleep(Duration::from_millis(120));
        }
    }
    pub fn literal(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "e2e", "-l", text]);
        std::thread::sleep(Duration::from_millis(120));
    }
    pub fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                t.elapsed() < timeout,
                "waited {timeout:?} for {what:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only our private server: no other tmux session is touched.
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}
