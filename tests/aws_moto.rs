//! The aws provider against a real AWS API peer: moto_server on a free
//! loopback port, one per test binary (a watchdog stops it when the test
//! process ends). Covers what moto implements: EC2 (1,000 instances, two
//! regions, tags, filters, pagination, stop/start), S3 (posture set and
//! unset, 5,000 objects by prefix, version restore, undelete, download) and
//! the shapes of SSM SendCommand / GetCommandInvocation / ListCommands.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/moto.rs"]
mod moto;

use aws_sdk_s3::primitives::ByteStream;
use moto::{ManagedHost, creds, manage, moto, run_instances, sdk};
use opsdeck::config::{ContextConfig, ProviderKind};
use opsdeck::domain::{ObjectEntry, SsmPing};
use opsdeck::provider::aws::{self, AwsEstate, Overrides};
use opsdeck::provider::{CloudInventory, ObjectStore};
use opsdeck::transport::Transport;
use std::time::Duration;

const R1: &str = "eu-north-1";
const R2: &str = "us-east-1";

async fn estate(regions: &[&str], page_size: i32) -> AwsEstate {
    estate_with_locks(regions, page_size, None).await
}

async fn estate_with_locks(regions: &[&str], page_size: i32, locks: Option<&str>) -> AwsEstate {
    let ctx = ContextConfig {
        name: "moto".into(),
        provider: ProviderKind::Aws,
        profile: None,
        regions: regions.iter().map(|r| r.to_string()).collect(),
        production: false,
        read_only: false,
        locks_bucket: locks.map(str::to_string),
    };
    aws::connect_with(
        &ctx,
        Overrides {
            endpoint_url: Some(moto().to_string()),
            credentials: Some(creds()),
            page_size: Some(page_size),
        },
    )
    .await
    .expect("connects to moto")
}

fn s3_client(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(true)
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_instances_across_two_regions_with_tags_filters_and_pages() {
    // Projects unique to this test keep it independent of the others on the same server.
    run_instances(R1, 600, "inv-north").await;
    run_instances(R2, 400, "inv-east").await;
    let e = estate(&[R1, R2], 100).await;
    assert!(e.identity.starts_with("account "), "{}", e.identity);
    let all = e.cloud.instances().await.unwrap();
    let north: Vec<_> = all
        .iter()
        .filter(|i| i.tags.get("Project").map(String::as_str) == Some("inv-north"))
        .collect();
    let east: Vec<_> = all
        .iter()
        .filter(|i| i.tags.get("Project").map(String::as_str) == Some("inv-east"))
        .collect();
    assert_eq!(north.len(), 600, "paginated 100 at a time");
    assert_eq!(east.len(), 400);
    assert!(north.iter().all(|i| i.region == R1
        && i.name == "inv-north-host"
        && i.instance_type == "t3.medium"
        && i.state == "running"));
    assert!(east.iter().all(|i| i.region == R2));
    // No agent registered on them (DescribeInstanceInformation omits
    // them): not managed by SSM, said as Inactive.
    assert!(all.iter().all(|i| i.ssm_ping == SsmPing::Inactive));
    // First rows first: the same listing hands its pages over as they
    // arrive (moto answers a region in one page: one page per region at
    // least, each from one region), then the whole list.
    let mut pages: Vec<Vec<(String, String)>> = Vec::new();
    let whole = e
        .cloud
        .instance_pages(&mut |page| {
            pages.push(page.into_iter().map(|i| (i.id, i.region)).collect());
        })
        .await
        .unwrap();
    assert!(pages.len() >= 2, "{} pages", pages.len());
    assert!(pages.iter().all(|p| p.iter().all(|(_, r)| *r == p[0].1)));
    let mut paged: Vec<String> = pages.concat().into_iter().map(|(id, _)| id).collect();
    let mut ids: Vec<String> = whole.iter().map(|i| i.id.clone()).collect();
    paged.sort();
    ids.sort();
    assert_eq!(paged, ids, "every row arrives once in a page");
    // Tag filters run on the server.
    let rc = e.cloud.region(R2).unwrap();
    let tagged = aws::ec2::instances_tagged(rc, "Project", "inv-east")
        .await
        .unwrap();
    assert_eq!(tagged.len(), 400);
    assert!(
        aws::ec2::instances_tagged(rc, "Project", "inv-north")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_start_an_instance() {
    let region = "eu-west-1";
    let ids = run_instances(region, 1, "stopstart").await;
    let e = estate(&[region], 1000).await;
    let rc = e.cloud.region(region).unwrap();
    let state = aws::ec2::set_running(rc, &ids[0], false).await.unwrap();
    assert!(state == "stopping" || state == "stopped", "{state}");
    let now = e.cloud.instances().await.unwrap();
    assert_eq!(
        now.iter().find(|i| i.id == ids[0]).unwrap().state,
        "stopped"
    );
    aws::ec2::set_running(rc, &ids[0], true).await.unwrap();
    let now = e.cloud.instances().await.unwrap();
    assert_eq!(
        now.iter().find(|i| i.id == ids[0]).unwrap().state,
        "running"
    );
    let err = aws::ec2::set_running(rc, "i-00000000000000000", true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("starting i-00000000000000000 in eu-west-1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_posture_set_and_unset() {
    use aws_sdk_s3::types::*;
    let conf = sdk(R2).await;
    let s3 = s3_client(&conf);
    for b in ["posture-locked", "posture-open"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    s3.put_bucket_encryption()
        .bucket("posture-locked")
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.put_public_access_block()
        .bucket("posture-locked")
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket("posture-locked")
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("archive")
                        .status(ExpirationStatus::Enabled)
                        .filter(LifecycleRuleFilter::builder().prefix("").build())
                        .transitions(
                            Transition::builder()
                                .days(90)
                                .storage_class(TransitionStorageClass::StandardIa)
                                .build(),
                        )
                        .noncurrent_version_expiration(
                            NoncurrentVersionExpiration::builder()
                                .noncurrent_days(365)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let e = estate(&[R2], 1000).await;
    let buckets = e.store.buckets().await.unwrap();
    let locked = buckets.iter().find(|b| b.name == "posture-locked").unwrap();
    let open = buckets.iter().find(|b| b.name == "posture-open").unwrap();
    assert_eq!(locked.region, "us-east-1");
    assert_eq!(locked.encryption, "AES256");
    assert_eq!(locked.public_access_block, "all blocked");
    assert_eq!(locked.lifecycle, "STANDARD_IA@90d, expire noncurrent@365d");
    // Absent configurations are "none", never errors.
    assert_eq!(open.public_access_block, "none");
    assert_eq!(open.lifecycle, "none");
    assert!(
        open.encryption == "none" || open.encryption == "AES256",
        "moto may default to SSE-S3: {}",
        open.encryption
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_objects_listed_by_prefix_in_pages() {
    use futures::StreamExt;
    let conf = sdk(R2).await;
    let s3 = s3_client(&conf);
    let bucket = "many-objects";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    // 5 tenants × 1,000 objects, plus a few at the root.
    let keys: Vec<String> = (0..5000)
        .map(|i| format!("tenant_id=t{}/entity=project/file-{i:05}.pdf", i % 5))
        .chain(["README.md".to_string()])
        .collect();
    futures::stream::iter(keys.iter().map(|k| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket(bucket)
                .key(k)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .unwrap()
        }
    }))
    .buffer_unordered(32)
    .collect::<Vec<_>>()
    .await;
    let e = estate(&[R2], 1000).await;
    let root = e.store.list(bucket, "").await.unwrap();
    let prefixes: Vec<&str> = root
        .iter()
        .filter_map(|o| {
            if let ObjectEntry::Prefix(p) = o {
                Some(p.as_str())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        prefixes,
        [
            "tenant_id=t0/",
            "tenant_id=t1/",
            "tenant_id=t2/",
            "tenant_id=t3/",
            "tenant_id=t4/"
        ]
    );
    assert!(root.iter().any(|o| o.name() == "README.md"));
    // 1,000 objects under one prefix arrive page by page.
    let mut pages = Vec::new();
    e.store
        .list_pages(bucket, "tenant_id=t3/entity=project/", &mut |p| {
            pages.push(p.len());
        })
        .await
        .unwrap();
    assert_eq!(pages.iter().sum::<usize>(), 1000);
    let all = e
        .store
        .list(bucket, "tenant_id=t3/entity=project/")
        .await
        .unwrap();
    assert!(
        all.iter()
            .all(|o| matches!(o, ObjectEntry::Object { size: 1, .. }))
    );
    let missing = e
        .store
        .list("no-such-bucket-here", "")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("no-such-bucket-here") && missing.contains("NoSuchBucket"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_a_version_and_undelete_then_read_back() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let conf = sdk(R2).await;
    let s3 = s3_client(&conf);
    let bucket = "versioned-attachments";
    let key = "tenant_id=demo/entity=client/entity_id=7e6d/contract v2 (signed).pdf";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v1 = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"first draft"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"second draft"))
        .send()
        .await
        .unwrap();
    let read = |s3: aws_sdk_s3::Client| async move {
        match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(o) => Some(String::from_utf8(o.body.collect().await.unwrap().to_vec()).unwrap()),
            Err(_) => None,
        }
    };
    let e = estate(&[R2], 1000).await;
    let versions = e.store.versions(bucket, key).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions[0].is_latest && !versions[0].is_delete_marker);

    // Restore the first version: it becomes current, the history grows.
    e.store.restore_version(bucket, key, &v1).await.unwrap();
    assert_eq!(read(s3.clone()).await.as_deref(), Some("first draft"));
    assert_eq!(e.store.versions(bucket, key).await.unwrap().len(), 3);

    // Delete, see the marker, undelete, read it back.
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(read(s3.clone()).await, None);
    let versions = e.store.versions(bucket, key).await.unwrap();
    assert!(
        versions[0].is_latest && versions[0].is_delete_marker,
        "{versions:?}"
    );
    e.store.undelete(bucket, key).await.unwrap();
    assert_eq!(read(s3.clone()).await.as_deref(), Some("first draft"));
    let err = e.store.undelete(bucket, key).await.unwrap_err().to_string();
    assert!(err.contains("not deleted"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("contract.pdf");
    let n = e.store.download(bucket, key, Some(&v1), &to).await.unwrap();
    assert_eq!(n, 11);
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "first draft");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssm_send_command_shapes() {
    let region = "ap-southeast-2";
    let ids = run_instances(region, 1, "ssm-shapes").await;
    let e = estate(&[region], 1000).await;
    e.cloud.instances().await.unwrap(); // learns which region each host is in
    // The peer refuses an instance without an agent, as SSM does…
    let err = e
        .transport
        .exec(&ids[0], "echo hi", Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("InvalidInstanceId"), "{err}");
    // …and runs the script on one that has one.
    let root = tempfile::tempdir().unwrap();
    manage(
        &ids[0],
        &ManagedHost {
            region,
            root: root.path(),
            env: vec![],
            path_prepend: vec![],
            ping: "Online",
        },
    );
    let out = e
        .transport
        .exec(
            &ids[0],
            "d=x\nid='20260101-deploy-001'; echo hi; pwd; echo oops >&2; exit 3",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout, format!("hi\n{}\n", root.path().display()));
    assert_eq!(out.stderr, "oops\n");
    // Asked at once, the invocation does not exist yet (SSM creates it
    // asynchronously); a moment later it has the script's output, cut as
    // SSM cuts it (24,000 characters of stdout, 8,000 of stderr).
    let ssm = aws_sdk_ssm::Client::new(&sdk(region).await);
    let sent = ssm
        .send_command()
        .document_name("AWS-RunShellScript")
        .instance_ids(&ids[0])
        .parameters(
            "commands",
            vec![
                "head -c 30000 /dev/zero | tr '\\0' o; head -c 9000 /dev/zero | tr '\\0' e >&2"
                    .into(),
            ],
        )
        .send()
        .await
        .unwrap();
    let cid = sent.command().unwrap().command_id().unwrap().to_string();
    let early = ssm
        .get_command_invocation()
        .command_id(&cid)
        .instance_id(&ids[0])
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(early.is_invocation_does_not_exist(), "{early:?}");
    let t = std::time::Instant::now();
    let done = loop {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the command never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = ssm
            .get_command_invocation()
            .command_id(&cid)
            .instance_id(&ids[0])
            .send()
            .await;
        if let Ok(o) = r
            && o.status() == Some(&aws_sdk_ssm::types::CommandInvocationStatus::Success)
        {
            break o;
        }
    };
    assert_eq!(done.standard_output_content().unwrap().len(), 24_000);
    assert_eq!(done.standard_error_content().unwrap().len(), 8_000);
    let cmds = ssm.list_commands().send().await.unwrap();
    let c = cmds
        .commands()
        .iter()
        .find(|c| c.instance_ids().contains(&ids[0]))
        .expect("our command is listed");
    assert_eq!(c.document_name(), Some("AWS-RunShellScript"));
    assert_eq!(c.comment(), Some("opsdeck 20260101-deploy-001"));
    let params = c.parameters().unwrap();
    assert_eq!(
        params["commands"],
        vec!["d=x\nid='20260101-deploy-001'; echo hi; pwd; echo oops >&2; exit 3".to_string()]
    );
    assert_eq!(params["executionTimeout"], vec!["60".to_string()]);
}

fn opsdeck_bin(
    home: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("OPSDECK_SANDBOX_PG", "simulated")
        // Never the network: no instance metadata service, no shared files.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.join("no-aws-credentials"),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_lists_a_context_through_the_standard_chain() {
    run_instances("sa-east-1", 3, "binary-ctx").await;
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("opsdeck.toml");
    std::fs::write(&cfg, "[[context]]\nname = \"moto\"\nprovider = \"aws\"\nregions = [\"sa-east-1\"]\nproduction = true\n").unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", moto()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let out = opsdeck_bin(
        home.path(),
        &env,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--context",
            "moto",
            "ls",
            "instances",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["tags"]["Project"] == "binary-ctx")
        .count();
    assert_eq!(ours, 3);
    // `--stream`: the same rows as JSON lines, printed page by page.
    let out = opsdeck_bin(
        home.path(),
        &env,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--context",
            "moto",
            "ls",
            "instances",
            "--stream",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), ours, "one line per instance");
    assert!(rows.iter().all(|i| i["tags"]["Project"] == "binary-ctx"));
    // `--context aws` alone: the standard chain with AWS_REGION.
    let env = [
        ("AWS_ENDPOINT_URL", moto()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "sa-east-1"),
    ];
    let out = opsdeck_bin(home.path(), &env, &["--context", "aws", "ls", "instances"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("binary-ctx-host"));
}

#[test]
fn missing_credentials_get_one_clear_message() {
    let home = tempfile::tempdir().unwrap();
    // No keys, no profile, no region: the region is reported first…
    let out = opsdeck_bin(home.path(), &[], &["--context", "aws", "ls", "instances"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no AWS region") && err.contains("AWS_REGION"),
        "{err}"
    );
    // …then the credentials, with what to set.
    let out = opsdeck_bin(
        home.path(),
        &[
            ("AWS_REGION", "eu-north-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
        &["--context", "aws", "ls", "instances"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no AWS credentials found")
            && err.contains("AWS_PROFILE")
            && err.contains("aws sso login"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one message: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_finds_open_groups_unencrypted_volumes_and_imdsv1() {
    use aws_sdk_ec2::types::*;
    use opsdeck::domain::FindingKind;
    let region = "ca-central-1";
    let ec2 = aws_sdk_ec2::Client::new(&sdk(region).await);
    let open = ec2
        .create_security_group()
        .group_name("seed-open")
        .description("as in the PMO doc")
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let closed = ec2
        .create_security_group()
        .group_name("seed-closed")
        .description("office only")
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let rule = |port: i32, cidr: &str| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
            .build()
    };
    ec2.authorize_security_group_ingress()
        .group_id(&open)
        .ip_permissions(rule(22, "0.0.0.0/0"))
        .ip_permissions(rule(443, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(&closed)
        .ip_permissions(rule(22, "203.0.113.0/24"))
        .send()
        .await
        .unwrap();
    let run = |tokens: HttpTokensState, group: &str| {
        ec2.run_instances()
            .image_id("ami-12c6146b")
            .min_count(1)
            .max_count(1)
            .security_group_ids(group)
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_tokens(tokens)
                    .build(),
            )
            .send()
    };
    let v1 = run(HttpTokensState::Optional, &open)
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    let v2 = run(HttpTokensState::Required, &closed)
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    let plain = ec2
        .create_volume()
        .availability_zone(format!("{region}a"))
        .size(8)
        .encrypted(false)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    let sealed = ec2
        .create_volume()
        .availability_zone(format!("{region}a"))
        .size(8)
        .encrypted(true)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();

    let e = estate(&[region], 1000).await;
    let f = e.cloud.posture().await.unwrap();
    let open_f = f
        .iter()
        .find(|x| x.resource == open)
        .expect("the open group is a finding");
    assert_eq!(open_f.kind, FindingKind::OpenSecurityGroup);
    assert!(
        open_f.detail.starts_with("22/tcp, 443/tcp"),
        "{}",
        open_f.detail
    );
    assert_eq!(open_f.instances, vec![v1.clone()]);
    assert!(
        !f.iter().any(|x| x.resource == closed),
        "a group open to one office is fine"
    );
    assert!(
        f.iter()
            .any(|x| x.kind == FindingKind::UnencryptedVolume && x.resource == plain)
    );
    assert!(!f.iter().any(|x| x.resource == sealed));
    assert!(
        f.iter()
            .any(|x| x.kind == FindingKind::ImdsV1Allowed && x.resource == v1)
    );
    assert!(
        !f.iter()
            .any(|x| x.kind == FindingKind::ImdsV1Allowed && x.resource == v2)
    );
}

/// The run locks of runs with no host, in S3: one writer wins
/// (If-None-Match), a stale lock is taken over once (If-Match on its
/// ETag), and an end removes only its own (DeleteObject If-Match).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_locks_in_s3_are_conditional_writes() {
    use opsdeck::provider::run_locks::Take;
    let conf = sdk(R2).await;
    let s3 = s3_client(&conf);
    let bucket = "opsdeck-team-locks";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let e = estate_with_locks(&[R2], 1000, Some(bucket)).await;
    let locks = e
        .cloud
        .run_locks()
        .expect("a context with locks_bucket has a lock store");
    assert_eq!(locks.place(), format!("s3://{bucket}/opsdeck/locks"));
    let Take::Took { tag: a } = locks.take("host-i-1", b"{\"run\":\"a\"}").await.unwrap() else {
        panic!("the first take wins");
    };
    let Take::Held { record, tag, age } = locks.take("host-i-1", b"{\"run\":\"b\"}").await.unwrap()
    else {
        panic!("the second finds the first");
    };
    assert_eq!(record, b"{\"run\":\"a\"}");
    assert_eq!(tag, a);
    assert!(age.is_some_and(|a| a.as_secs() < 60), "{age:?}");
    // The object is where the note says.
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("opsdeck/locks/host-i-1.json")
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag().unwrap(), a);
    // Two take over the same stale tag: only one wins.
    let first = locks
        .take_over("host-i-1", b"{\"run\":\"b\"}", &a)
        .await
        .unwrap();
    let second = locks
        .take_over("host-i-1", b"{\"run\":\"c\"}", &a)
        .await
        .unwrap();
    let Take::Took { tag: b } = first else {
        panic!("b takes it over: {first:?}");
    };
    assert!(
        matches!(&second, Take::Held { record, .. } if record == b"{\"run\":\"b\"}"),
        "{second:?}"
    );
    // The first holder's end removes nothing of b's.
    assert!(!locks.release("host-i-1", &a).await.unwrap());
    assert!(
        !locks
            .renew("host-i-1", b"{\"run\":\"a\"}", &a)
            .await
            .unwrap()
    );
    assert!(
        locks
            .renew("host-i-1", b"{\"run\":\"b\"}", &b)
            .await
            .unwrap()
    );
    assert!(locks.release("host-i-1", &b).await.unwrap());
    assert!(matches!(
        locks.take("host-i-1", b"{}").await.unwrap(),
        Take::Took { .. }
    ));
    // Without a locks_bucket there is no store (such runs say so).
    assert!(estate(&[R2], 1000).await.cloud.run_locks().is_none());
}
