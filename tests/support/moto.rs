//! The AWS API peer a test binary talks to: moto's server with its SSM side
//! made to execute commands (`tests/peer/ssm_peer.py`), one per binary, on
//! a free loopback port, stopped by a watchdog when the binary ends. Also
//! the few calls the tests make to it directly, and the registration of
//! managed instances (the peer runs their commands with bash in a root
//! directory of the test's). Included with `#[path]` by the tests that need
//! it (not a test target itself).

#![allow(dead_code)]

use aws_credential_types::Credentials;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

struct Peer {
    url: String,
    dir: PathBuf,
}

/// The Python with moto that `bash .ci/test` installs (a virtualenv under
/// `target/`), or `OPSDECK_TEST_PYTHON`.
pub fn peer_python() -> PathBuf {
    if let Some(p) = std::env::var_os("OPSDECK_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python")
}

fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let me = std::process::id();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ssm-peer-{me}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("hosts")).unwrap();
        let python = peer_python();
        assert!(
            python.exists(),
            "{} is missing: `bash .ci/test` creates the test virtualenv with moto",
            python.display()
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peer/ssm_peer.py");
        let q = |p: &Path| shlex::try_quote(&p.display().to_string()).unwrap().into_owned();
        // The watchdog ends the server (and only it) once this process is
        // gone, and removes the peer's directory.
        let sh = format!(
            "OPSDECK_PEER_DIR={d} {py} {script} -H 127.0.0.1 -p {port} >{d}/server.log 2>&1 & m=$!; while kill -0 {me} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done; kill $m 2>/dev/null; sleep 1; rm -rf {d}",
            d = q(&dir),
            py = q(&python),
            script = q(&script),
        );
        // Never waited for on purpose: the watchdog outlives every test and
        // ends itself (and the server) once this process is gone.
        #[allow(clippy::zombie_processes)]
        let _watchdog = std::process::Command::new("bash")
            .args(["-c", &sh])
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("bash");
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the SSM peer did not start: {}",
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Peer {
            url: format!("http://127.0.0.1:{port}"),
            dir,
        }
    })
}

/// Start the peer once per test binary; returns its endpoint URL.
pub fn moto() -> &'static str {
    &peer().url
}

/// How the peer runs an instance's commands.
pub struct ManagedHost<'a> {
    pub region: &'a str,
    pub root: &'a Path,
    pub env: Vec<(String, String)>,
    pub path_prepend: Vec<PathBuf>,
    /// "Online", "ConnectionLost" or "Inactive".
    pub ping: &'a str,
}

/// Make `instance` a managed instance of the peer (its agent registered),
/// or change how it answers (e.g. its ping status).
pub fn manage(instance: &str, h: &ManagedHost) {
    let env: serde_json::Map<String, serde_json::Value> = h
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let v = serde_json::json!({
        "region": h.region,
        "root": h.root,
        "env": env,
        "path_prepend": h.path_prepend,
        "ping": h.ping,
    });
    let hosts = peer().dir.join("hosts");
    let tmp = hosts.join(format!(".{instance}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(&v).unwrap()).unwrap();
    std::fs::rename(&tmp, hosts.join(format!("{instance}.json"))).unwrap();
}

/// One SSM API call the peer answered.
#[derive(Debug, Clone)]
pub struct PeerCall {
    pub t: f64,
    pub action: String,
    pub command: Option<String>,
    pub instance: Option<String>,
}

/// Every SSM call the peer has answered so far (all tests of the binary).
pub fn peer_calls() -> Vec<PeerCall> {
    let text = std::fs::read_to_string(peer().dir.join("calls.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| PeerCall {
            t: v["t"].as_f64().unwrap_or(0.0),
            action: v["action"].as_str().unwrap_or("").to_string(),
            command: v["command"].as_str().map(str::to_string),
            instance: v["instance"].as_str().map(str::to_string),
        })
        .collect()
}

pub fn creds() -> Credentials {
    Credentials::new("testing", "testing", None, None, "opsdeck-tests")
}

pub async fn sdk(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(opsdeck::provider::aws::http_client())
        .endpoint_url(moto())
        .credentials_provider(creds())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await
}

pub async fn run_instances(region: &str, count: i32, project: &str) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(&sdk(region).await);
    let mut ids = Vec::new();
    let mut left = count;
    while left > 0 {
        let n = left.min(250);
        let out = ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Medium)
            .min_count(n)
            .max_count(n)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(
                        Tag::builder()
                            .key("Name")
                            .value(format!("{project}-host"))
                            .build(),
                    )
                    .tags(Tag::builder().key("Project").value(project).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ids.extend(
            out.instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string)),
        );
        left -= n;
    }
    ids
}
