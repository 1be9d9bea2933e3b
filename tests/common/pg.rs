//! A real PostgreSQL for tests: `initdb` in a temp dir, the server on a free
//! loopback port (no system service), stopped when the value is dropped —
//! and by a watchdog if the test process dies first. As root (CI), the
//! server runs as `nobody`, since PostgreSQL refuses to run as root.

use opsdeck::provider::sandbox::pg_real::{self, as_server_user, is_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Pg {
    pub port: u16,
    bin: PathBuf,
    _dir: tempfile::TempDir,
    pid: u32,
    child: std::process::Child,
}

/// The server binaries, found as the sandbox finds them.
fn bindir() -> PathBuf {
    pg_real::bindir().expect("PostgreSQL server binaries not found; `bash .ci/test` installs them")
}

impl Pg {
    pub fn start() -> Pg {
        let bin = bindir();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "65534:65534"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(st.success());
        }
        let out = as_server_user(&bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = as_server_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&data)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // The watchdog stops the server (and only it) if this process dies first.
        let me = std::process::id();
        #[allow(clippy::zombie_processes)]
        let _ = Command::new("bash")
            .args([
                "-c",
                &format!(
                    "while kill -0 {me} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 0.5; done; kill -INT {pid} 2>/dev/null"
                ),
            ])
            .stdin(Stdio::null())
            .spawn();
        let pg = Pg {
            port,
            bin,
            _dir: dir,
            pid,
            child,
        };
        let t = Instant::now();
        while !pg.psql("postgres", "SELECT 1").status.success() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "PostgreSQL did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        pg
    }

    /// psql as the superuser; the output.
    pub fn psql(&self, db: &str, sql: &str) -> std::process::Output {
        Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .unwrap()
    }

    /// psql that must succeed; its trimmed stdout.
    pub fn q(&self, db: &str, sql: &str) -> String {
        let out = self.psql(db, sql);
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Directory of psql / pg_dump matching the server (put first on PATH).
    pub fn bin(&self) -> &Path {
        &self.bin
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Fast shutdown, then wait for it to go.
        let _ = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// psql inside a sandbox host's database container, the way a runbook's
/// `docker exec CONTAINER psql …` reaches it: (exit code, trimmed stdout,
/// stderr).
pub fn docker_psql(
    sandbox: &Path,
    host: &str,
    container: &str,
    db: &str,
    sql: &str,
) -> (i32, String, String) {
    let out = Command::new(sandbox.join("bin/docker"))
        .env("OPSDECK_ROOT", sandbox.join("hosts").join(host))
        .env("OPSDECK_SIM_DELAY_MS", "0")
        .args(["exec", container, "psql", "-X", "-q", "-A", "-t"])
        .args([
            "-U",
            // The server's superuser (the platform's is platform_admin).
            pg_real::SERVERS
                .iter()
                .find(|s| s.container == container)
                .map_or("postgres", |s| s.superuser),
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
