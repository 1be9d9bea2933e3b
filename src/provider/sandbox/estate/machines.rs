//! The sandbox's EC2 lifecycle: an image is a copy of its instance's host
//! tree (`images/<ami>/`), taken when it is made; an instance launched
//! from it gets a new id and that copy as its host tree, and comes up with
//! its agent online; Elastic IPs move between instances. Kept in
//! `estate.json` beside the instances.

use super::{Estate, MT_HOST, PMO_HOST};
use crate::domain::{Instance, SsmPing};
use crate::provider::machines::{Address, Image, LaunchLike};
use crate::provider::sandbox::sim_state::short_id;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

message_error!(
    /// Why a sandbox machine, image or address change cannot be made.
    MachineError
);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimImage {
    pub region: String,
    #[serde(flatten)]
    pub image: Image,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimAddress {
    pub region: String,
    #[serde(flatten)]
    pub address: Address,
}

/// Where an image's copy of its instance's host tree is kept.
pub fn image_dir(dir: &Path, id: &str) -> PathBuf {
    dir.join("images").join(id)
}

/// In an image's host tree: the instance whose tree it first was (an
/// instance launched from it reaches that one's database server and
/// answers for its services, as the same software would).
const ORIGIN: &str = "var/lib/docker-sim/origin-host";

/// The instance a host tree first belonged to: its origin mark, else the
/// tree's own name (its instance id).
pub fn origin_host(root: &Path) -> String {
    std::fs::read_to_string(root.join(ORIGIN))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            root.file_name()
                .and_then(|h| h.to_str())
                .unwrap_or("")
                .to_string()
        })
}

/// `cp -a FROM TO` (a host tree keeps its modes, links and git repos).
fn copy_tree(from: &Path, to: &Path) -> Result<(), MachineError> {
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .map_err(|e| format!("cp: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "copying {}: {}",
            from.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into())
    }
}

/// How a sandbox instance is configured: its type and tags, and the
/// subnet, security groups and instance profile of its project.
pub fn launch_config(estate: &Estate, i: &Instance) -> LaunchLike {
    // An instance launched here is configured as it was launched.
    if let Some(l) = estate.launched.get(&i.id) {
        return l.clone();
    }
    let project = i.tags.get("Project").cloned().unwrap_or_default();
    let (subnet, sg, profile) = match project.as_str() {
        "cohuron-pmo" => (
            "subnet-0a1b2c3d4e5f60718",
            "sg-0pmo4000api5173web",
            Some("arn:aws:iam::957207443425:instance-profile/cohuron-ec2-role"),
        ),
        "multi-tenant-platform" => (
            "subnet-0b2c3d4e5f6071829",
            "sg-0mtplatform8080",
            Some("arn:aws:iam::111122223333:instance-profile/platform-ssm"),
        ),
        _ => ("subnet-0c3d4e5f607182930", "sg-0default", None),
    };
    let hexish = |s: &str| {
        // Security group ids are hex: derive one from the label.
        format!("sg-{}", &short_id(s)[..12])
    };
    // As the documents create them: PMO's 30 GB gp3 root (IMDSv1 left
    // optional, a finding), Enssol's 8 GiB standard unencrypted volume with
    // IMDSv2 required and its key pair.
    let (key, tokens, volume) = match project.as_str() {
        "cohuron-pmo" => (
            Some("cohuron-pmo-key"),
            "optional",
            ("/dev/sda1", "gp3", 30, true),
        ),
        "enssol" => (
            Some("enssol-prod-ap-southeast-2-key"),
            "required",
            ("/dev/sda1", "standard", 8, false),
        ),
        _ => (None, "required", ("/dev/xvda", "gp3", 30, true)),
    };
    LaunchLike {
        instance_type: i.instance_type.clone(),
        subnet: Some(subnet.to_string()),
        security_groups: vec![hexish(sg)],
        iam_profile: profile.map(str::to_string),
        tags: i.tags.clone(),
        key_name: key.map(str::to_string),
        metadata: crate::provider::machines::Metadata {
            http_tokens: Some(tokens.into()),
            http_endpoint: Some("enabled".into()),
            hop_limit: None,
            instance_tags: None,
        },
        volumes: vec![crate::provider::machines::VolumeLike {
            device: volume.0.into(),
            volume_type: volume.1.into(),
            size_gib: volume.2,
            encrypted: volume.3,
            kms_key_id: None,
            iops: None,
            throughput: None,
        }],
    }
}

fn hex17(seed: &str) -> String {
    format!("{}{}", short_id(seed), &short_id(&format!("{seed}/2"))[..5])
}

/// Make an image of `instance` (its host tree copied now), available at once.
pub fn create_image(
    dir: &Path,
    estate: &mut Estate,
    region: &str,
    instance: &str,
    name: &str,
    at: DateTime<Utc>,
) -> Result<String, MachineError> {
    let i = estate
        .instances
        .iter()
        .find(|i| i.id == instance && i.region == region)
        .ok_or_else(|| format!("InvalidInstanceID.NotFound: {instance} in {region}"))?;
    if i.state == crate::domain::InstanceState::Terminated {
        return Err(format!("IncorrectState: {instance} is terminated").into());
    }
    if estate.images.iter().any(|m| m.image.name == name) {
        return Err(format!("InvalidAMIName.Duplicate: an image named {name} exists").into());
    }
    let id = format!(
        "ami-{}",
        hex17(&format!("{instance}/{name}/{}", estate.images.len()))
    );
    let from = dir.join("hosts").join(instance);
    let origin = origin_host(&from);
    copy_tree(&from, &image_dir(dir, &id))?;
    super::write(&image_dir(dir, &id).join(ORIGIN), &format!("{origin}\n"))
        .map_err(|e| e.to_string())?;
    estate.images.push(SimImage {
        region: region.to_string(),
        image: Image {
            snapshots: vec![format!("snap-{}", hex17(&format!("{id}/root")))],
            id: id.clone(),
            name: name.to_string(),
            state: crate::provider::machines::ImageState::Available,
            created: Some(at),
            source_instance: Some(instance.to_string()),
        },
    });
    Ok(id)
}

pub fn delete_image(
    dir: &Path,
    estate: &mut Estate,
    region: &str,
    id: &str,
) -> Result<Vec<String>, MachineError> {
    let at = estate
        .images
        .iter()
        .position(|m| m.image.id == id && m.region == region)
        .ok_or_else(|| format!("InvalidAMIID.NotFound: {id} in {region}"))?;
    let m = estate.images.remove(at);
    let _ = std::fs::remove_dir_all(image_dir(dir, id));
    Ok(m.image.snapshots)
}

/// Launch an instance from `image` configured like `like`: a new id, the
/// image's host tree, running with its agent online, an ephemeral public
/// IP (the sandbox's subnets are public).
pub fn launch(
    dir: &Path,
    estate: &mut Estate,
    region: &str,
    image: &str,
    like: &LaunchLike,
    name: &str,
) -> Result<String, MachineError> {
    let m = estate
        .images
        .iter()
        .find(|m| m.image.id == image && m.region == region)
        .ok_or_else(|| format!("InvalidAMIID.NotFound: {image} in {region}"))?
        .clone();
    let id = format!(
        "i-{}",
        hex17(&format!("{image}/{}", estate.instances.len()))
    );
    let root = dir.join("hosts").join(&id);
    if root.exists() {
        return Err(format!("the sandbox already has a host {id}").into());
    }
    copy_tree(&image_dir(dir, image), &root)?;
    let source = m
        .image
        .source_instance
        .as_ref()
        .and_then(|s| estate.instances.iter().find(|i| &i.id == s));
    let n = estate.instances.len();
    let mut tags = like.tags.clone();
    tags.insert("Name".into(), name.to_string());
    estate.launched.insert(id.clone(), like.clone());
    estate.instances.push(Instance {
        id: id.clone(),
        name: name.to_string(),
        region: region.to_string(),
        instance_type: like.instance_type.clone(),
        state: crate::domain::InstanceState::Running,
        private_ip: Some(format!("10.0.1.{}", 100 + n % 150)),
        // An ephemeral public address, as a public subnet gives one.
        public_ip: {
            let h = short_id(&id);
            let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(1);
            Some(format!("54.{}.{}.{}", byte(0), byte(2), byte(4).max(1)))
        },
        ssm_ping: SsmPing::Online,
        platform: source
            .map(|s| s.platform.clone())
            .unwrap_or_else(|| "Linux".into()),
        tags,
    });
    Ok(id)
}

pub fn associate(
    estate: &mut Estate,
    region: &str,
    allocation: &str,
    instance: &str,
) -> Result<(), MachineError> {
    if !estate
        .instances
        .iter()
        .any(|i| i.id == instance && i.region == region)
    {
        return Err(format!("InvalidInstanceID.NotFound: {instance} in {region}").into());
    }
    let a = estate
        .addresses
        .iter_mut()
        .find(|a| a.address.allocation_id == allocation && a.region == region)
        .ok_or_else(|| format!("InvalidAllocationID.NotFound: {allocation}"))?;
    let ip = a.address.public_ip.clone();
    let before = a.address.instance.replace(instance.to_string());
    for i in &mut estate.instances {
        if Some(&i.id) == before.as_ref() {
            i.public_ip = None;
        }
        if i.id == instance {
            i.public_ip = Some(ip.clone());
        }
    }
    Ok(())
}

/// The estate's first images and Elastic IPs: last month's image of the
/// PMO host (its tree as built) and its Elastic IP; the platform host's
/// Elastic IP. `dir`'s host trees must exist.
pub fn seed(dir: &Path, estate: &mut Estate, now: DateTime<Utc>) -> Result<(), MachineError> {
    let at = now - chrono::Duration::days(9);
    let name = format!("opsdeck-{PMO_HOST}-{}", at.format("%Y%m%d-%H%M%S"));
    create_image(dir, estate, "us-east-1", PMO_HOST, &name, at)?;
    for (host, region, ip) in [
        (PMO_HOST, "us-east-1", "100.28.36.248"),
        (MT_HOST, "eu-north-1", "13.51.92.17"),
    ] {
        estate.addresses.push(SimAddress {
            region: region.into(),
            address: Address {
                allocation_id: format!("eipalloc-{}", hex17(host)),
                public_ip: ip.into(),
                instance: Some(host.into()),
            },
        });
    }
    Ok(())
}

/// Terminate `instance`: gone for good (its tree stays, unreachable); an
/// Elastic IP on it is disassociated, as EC2 does.
pub fn terminate(
    estate: &mut Estate,
    region: &str,
    instance: &str,
) -> Result<String, MachineError> {
    let i = estate
        .instances
        .iter_mut()
        .find(|i| i.id == instance && i.region == region)
        .ok_or_else(|| format!("InvalidInstanceID.NotFound: {instance} in {region}"))?;
    i.state = crate::domain::InstanceState::Terminated;
    i.ssm_ping = SsmPing::ConnectionLost;
    i.public_ip = None;
    for a in &mut estate.addresses {
        if a.address.instance.as_deref() == Some(instance) {
            a.address.instance = None;
        }
    }
    Ok("terminated".into())
}
