//! EC2 recovery through the aws provider on the moto server (with the SSM
//! peer, whose images and launches carry the managed host along): the PMO
//! host as the document describes it (t3.medium in its subnet, its
//! security group, the cohuron-ec2-role instance profile, an Elastic IP),
//! the sandbox's PMO host tree as its root. `snapshot-instance` makes
//! images with CreateImage and keeps the newest with DeregisterImage and
//! DeleteSnapshot; `recover-instance` launches a new instance like it with
//! RunInstances, moves the Elastic IP with AssociateAddress and restores
//! the code and the database over SSM on the new instance.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "support/moto.rs"]
mod moto;
#[path = "support/peer_cli.rs"]
mod peer_cli;

use moto::{ManagedHost, manage, moto, sdk};
use opsdeck::provider::machines::SOURCE_TAG;
use opsdeck::provider::sandbox::estate::PMO_HOST;
use peer_cli::aws_cli;

const REGION: &str = "ca-central-1";

/// The PMO host's cloud side, made with boto3 (IAM has no client in
/// opsdeck): instance profile, VPC, subnet, security group, the instance,
/// its Elastic IP. Returns the ids as JSON.
fn pmo_on_moto() -> serde_json::Value {
    let script = r#"
import boto3, json, os, sys
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=sys.argv[1],
          aws_access_key_id="testing", aws_secret_access_key="testing")
iam, ec2 = boto3.client("iam", **kw), boto3.client("ec2", **kw)
arn = iam.create_instance_profile(InstanceProfileName="cohuron-ec2-role")["InstanceProfile"]["Arn"]
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
sg = ec2.create_security_group(GroupName="pmo-api", Description="api 4000, web 5173", VpcId=vpc)["GroupId"]
tags = [{"Key": "Name", "Value": "cohuron-pmo-api"}, {"Key": "Project", "Value": "cohuron-pmo"},
        {"Key": "Environment", "Value": "production"}]
ec2.create_key_pair(KeyName="cohuron-pmo-key")
i = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.medium",
                      SubnetId=subnet, SecurityGroupIds=[sg], IamInstanceProfile={"Arn": arn},
                      KeyName="cohuron-pmo-key", MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
                      BlockDeviceMappings=[{"DeviceName": "/dev/sda1",
                                            "Ebs": {"VolumeSize": 30, "VolumeType": "gp3", "Encrypted": True}}],
                      TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])["Instances"][0]["InstanceId"]
eip = ec2.allocate_address(Domain="vpc")
ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=i)
print(json.dumps({"id": i, "arn": arn, "subnet": subnet, "sg": sg, "ip": eip["PublicIp"],
                  "allocation": eip["AllocationId"]}))
"#;
    let out = std::process::Command::new(moto::peer_python())
        .args(["-c", script, REGION])
        .env("AWS_ENDPOINT_URL", moto())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_retention_and_recovery_of_the_pmo_host_on_moto() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let _db = common::real_db_sandbox(dir);
    let sandbox = dir.join("data/opsdeck/sandbox");
    let pmo = pmo_on_moto();
    let id = pmo["id"].as_str().unwrap().to_string();
    let now = common::fixed_now();
    let agent = |ping: &str| {
        let mut env: Vec<(String, String)> = common::sim_env(now).into_iter().collect();
        env.push(("OPSDECK_HOST".into(), PMO_HOST.into()));
        manage(
            &id,
            &ManagedHost {
                region: REGION,
                root: &sandbox.join("hosts").join(PMO_HOST),
                env,
                path_prepend: vec![sandbox.join("bin")],
                ping,
            },
        );
    };
    agent("Online");
    let cfg = dir.join("opsdeck.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[[context]]
name = "peer"
provider = "aws"
regions = ["{REGION}"]

[[host]]
instance = "{id}"
pg_container = "pmo-postgres"
pg_user = "app"

[backups]
bucket = "cohuron-backups"
prefix = "postgres/"
"#
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = aws_cli(dir, &cfg, now, true, args)
            .env("OPSDECK_CLOUD_POLL_MS", "200")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ec2 = aws_sdk_ec2::Client::new(&sdk(REGION).await);
    let images = || async {
        let out = ec2
            .describe_images()
            .owners("self")
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name(format!("tag:{SOURCE_TAG}"))
                    .values(&id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut v: Vec<(String, Vec<String>)> = out
            .images()
            .iter()
            .map(|i| {
                (
                    i.image_id().unwrap().to_string(),
                    i.block_device_mappings()
                        .iter()
                        .filter_map(|b| b.ebs()?.snapshot_id().map(str::to_string))
                        .collect(),
                )
            })
            .collect();
        v.sort();
        v
    };

    // Two monthly images, keeping one: the first is deregistered and its
    // snapshot deleted.
    let snapshot = |at: &str| {
        let out = aws_cli(
            dir,
            &cfg,
            at.parse().unwrap(),
            true,
            &[
                "run",
                "snapshot-instance",
                &format!("instance={id}"),
                "retain=1",
                "--yes",
                "--confirm",
                "cohuron-pmo-api",
            ],
        )
        .env("OPSDECK_CLOUD_POLL_MS", "200")
        .output()
        .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = snapshot("2026-02-02T10:00:00Z");
    assert_eq!(code, 0, "{out}");
    let first = images().await;
    assert_eq!(first.len(), 1, "{out}");
    assert!(!first[0].1.is_empty(), "the image has a snapshot");
    let (code, out) = snapshot("2026-03-02T09:00:00Z");
    assert_eq!(code, 0, "{out}");
    let second = images().await;
    assert_eq!(second.len(), 1, "{out}");
    assert_ne!(second[0].0, first[0].0, "{out}");
    assert!(
        out.contains(&format!("deregistered {}", first[0].0)),
        "{out}"
    );
    let gone = ec2
        .describe_snapshots()
        .snapshot_ids(&first[0].1[0])
        .send()
        .await;
    assert!(
        gone.map(|o| o.snapshots().is_empty()).unwrap_or(true),
        "the old image's snapshot is deleted"
    );
    let image = ec2
        .describe_images()
        .image_ids(&second[0].0)
        .send()
        .await
        .unwrap();
    assert_eq!(
        image.images()[0].name(),
        Some("opsdeck-{id}-20260302-090000".replace("{id}", &id).as_str())
    );

    // The host is lost: stopped, its agent gone.
    ec2.stop_instances().instance_ids(&id).send().await.unwrap();
    agent("ConnectionLost");
    let (code, out, err) = run(&[
        "run",
        "recover-instance",
        &format!("instance={id}"),
        "--yes",
        "--confirm",
        "cohuron-pmo-api",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("newest image: {}", second[0].0)),
        "{out}"
    );
    let new_id = out
        .lines()
        .find_map(|l| l.strip_prefix("==> opsdeck report: new_instance="))
        .unwrap()
        .to_string();
    let d = ec2
        .describe_instances()
        .instance_ids(&new_id)
        .send()
        .await
        .unwrap();
    let new = &d.reservations()[0].instances()[0];
    assert_eq!(new.image_id(), Some(second[0].0.as_str()));
    assert_eq!(new.instance_type().unwrap().as_str(), "t3.medium");
    assert_eq!(new.subnet_id(), pmo["subnet"].as_str());
    assert_eq!(
        new.security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .collect::<Vec<_>>(),
        vec![pmo["sg"].as_str().unwrap()]
    );
    assert_eq!(
        new.iam_instance_profile().and_then(|p| p.arn()),
        pmo["arn"].as_str()
    );
    let tag = |k: &str| {
        new.tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    // Nothing that protects the host is lost: key pair, IMDSv2, the volume.
    assert_eq!(new.key_name(), Some("cohuron-pmo-key"));
    assert_eq!(
        new.metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str()),
        Some("required")
    );
    let vol_id = new
        .block_device_mappings()
        .iter()
        .find(|b| b.device_name() == Some("/dev/sda1"))
        .and_then(|b| b.ebs()?.volume_id())
        .unwrap()
        .to_string();
    let vols = ec2
        .describe_volumes()
        .volume_ids(&vol_id)
        .send()
        .await
        .unwrap();
    let vol = &vols.volumes()[0];
    assert_eq!(vol.volume_type().map(|t| t.as_str()), Some("gp3"));
    assert_eq!((vol.size(), vol.encrypted()), (Some(30), Some(true)));
    assert_eq!(tag("Name").as_deref(), Some("cohuron-pmo-api-recovered"));
    assert_eq!(tag("Project").as_deref(), Some("cohuron-pmo"));
    assert_eq!(tag("Environment").as_deref(), Some("production"));
    // The Elastic IP is the new instance's.
    let eips = ec2.describe_addresses().send().await.unwrap();
    let eip = eips
        .addresses()
        .iter()
        .find(|a| a.allocation_id() == pmo["allocation"].as_str())
        .unwrap();
    assert_eq!(eip.instance_id(), Some(new_id.as_str()));
    // Over SSM on the new instance: code, database, health.
    assert!(out.contains("==> opsdeck report: code_restored=2"), "{out}");
    assert!(
        out.contains("==> opsdeck report: backup=db/latest.sql.gz"),
        "{out}"
    );
    assert!(out.contains("==> opsdeck report: tables=5"), "{out}");
    assert!(
        out.contains("GET http://localhost:4000/api/health: {\"status\":\"ok\""),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "the new instance is {new_id}; public IP {}",
            pmo["ip"].as_str().unwrap()
        )),
        "{out}"
    );
    assert!(out.contains("==> opsdeck result: succeeded"), "{out}");

    // The lost one is let go for good.
    let (code, out, err) = run(&[
        "run",
        "terminate-instance",
        &format!("instance={id}"),
        "--yes",
        "--confirm",
        "cohuron-pmo-api",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let d = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .as_deref(),
        Some("terminated")
    );
}
