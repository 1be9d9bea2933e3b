//! The moto server a test binary talks to (one per binary, on a free
//! loopback port, stopped by a watchdog when the binary ends) and the few
//! calls the tests make to it directly. Included with `#[path]` by the
//! tests that need it (not a test target itself).

#![allow(dead_code)]

use aws_credential_types::Credentials;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use std::sync::OnceLock;
use std::time::Duration;

/// Start moto once per test binary; returns its endpoint URL.
pub fn moto() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let me = std::process::id();
        // The watchdog ends the server (and only it) once this process is gone.
        let script = format!(
            "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; while kill -0 {me} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done; kill $m 2>/dev/null"
        );
        // Never waited for on purpose: the watchdog outlives every test and
        // ends itself (and the server) once this process is gone.
        #[allow(clippy::zombie_processes)]
        let _watchdog = std::process::Command::new("bash")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("bash");
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(30), "moto_server did not start (is moto[server] installed? `bash .ci/test` installs it)");
            std::thread::sleep(Duration::from_millis(100));
        }
        format!("http://127.0.0.1:{port}")
    })
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
