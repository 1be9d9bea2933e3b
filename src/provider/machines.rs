//! The EC2 lifecycle behind cloud steps: machine images of an instance,
//! an instance launched like another from an image, its Elastic IP. The
//! sandbox simulates it (a new instance gets a new id and a host tree
//! restored from the image); the aws provider calls EC2.

use chrono::{DateTime, Utc};

/// The tag an image made by opsdeck carries: the instance it was made of
/// (retention and recovery find an instance's images by it).
pub const SOURCE_TAG: &str = "opsdeck:source-instance";

/// An image's state (`State`), in EC2's words when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageState {
    Pending,
    Available,
    Invalid,
    Deregistered,
    Transient,
    Failed,
    Error,
    Disabled,
    #[serde(other)]
    Unknown,
}

impl ImageState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageState::Pending => "pending",
            ImageState::Available => "available",
            ImageState::Invalid => "invalid",
            ImageState::Deregistered => "deregistered",
            ImageState::Transient => "transient",
            ImageState::Failed => "failed",
            ImageState::Error => "error",
            ImageState::Disabled => "disabled",
            ImageState::Unknown => "unknown",
        }
    }

    /// EC2's state name, read once where it comes in.
    pub fn parse(name: &str) -> ImageState {
        match name {
            "pending" => ImageState::Pending,
            "available" => ImageState::Available,
            "invalid" => ImageState::Invalid,
            "deregistered" => ImageState::Deregistered,
            "transient" => ImageState::Transient,
            "failed" => ImageState::Failed,
            "error" => ImageState::Error,
            "disabled" => ImageState::Disabled,
            _ => ImageState::Unknown,
        }
    }

    /// An image that will never become available.
    pub fn is_broken(self) -> bool {
        matches!(
            self,
            ImageState::Failed | ImageState::Invalid | ImageState::Deregistered | ImageState::Error
        )
    }
}

impl From<&str> for ImageState {
    fn from(name: &str) -> ImageState {
        ImageState::parse(name)
    }
}

impl PartialEq<&str> for ImageState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for ImageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A machine image (AMI) of an instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub state: ImageState,
    pub created: Option<DateTime<Utc>>,
    /// The EBS snapshots behind it (deleted with it by retention).
    pub snapshots: Vec<String>,
    /// The instance it was made of (its [`SOURCE_TAG`]).
    pub source_instance: Option<String>,
}

/// An Elastic IP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    pub allocation_id: String,
    pub public_ip: String,
    /// The instance it is associated with, if any.
    pub instance: Option<String>,
}

/// How the instance an image is launched from was configured: what the
/// new one copies (its Name gets a suffix).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LaunchLike {
    pub instance_type: String,
    pub subnet: Option<String>,
    pub security_groups: Vec<String>,
    /// The IAM instance profile's ARN.
    pub iam_profile: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
    /// The key pair (Enssol's `enssol-prod-ap-southeast-2-key`).
    #[serde(default)]
    pub key_name: Option<String>,
    /// The metadata options: a recovery must not turn IMDSv2 off.
    #[serde(default)]
    pub metadata: Metadata,
    /// The EBS volumes by device: type, size, encryption.
    #[serde(default)]
    pub volumes: Vec<VolumeLike>,
}

/// An instance's metadata options, as RunInstances takes them.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Metadata {
    /// `required` (IMDSv2 only) or `optional`.
    pub http_tokens: Option<String>,
    /// `enabled` or `disabled`.
    pub http_endpoint: Option<String>,
    pub hop_limit: Option<i32>,
    /// `enabled`: tags readable from the metadata service.
    pub instance_tags: Option<String>,
}

/// One EBS volume of an instance, as its replacement gets it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct VolumeLike {
    pub device: String,
    pub volume_type: String,
    pub size_gib: i32,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
}

impl LaunchLike {
    /// What is copied besides type, network and tags, in words.
    pub fn extras(&self) -> String {
        let vols: Vec<String> = self
            .volumes
            .iter()
            .map(|v| {
                format!(
                    "{} {} {} GiB{}",
                    v.device,
                    v.volume_type,
                    v.size_gib,
                    if v.encrypted {
                        " encrypted"
                    } else {
                        " unencrypted"
                    }
                )
            })
            .collect();
        // ("HttpTokens=…" would be masked as a secret in the output.)
        let imds = match self.metadata.http_tokens.as_deref() {
            Some("required") => "IMDSv2 required",
            Some("optional") => "IMDSv1 allowed",
            _ => "IMDS as the account's default",
        };
        format!(
            "key pair {}, metadata {imds}, volumes {}",
            self.key_name.as_deref().unwrap_or("none"),
            if vols.is_empty() {
                "as the image has them".to_string()
            } else {
                vols.join(", ")
            }
        )
    }
}

/// `name` with `suffix` (the Name of a recovered instance).
pub fn suffixed(name: &str, suffix: &str) -> String {
    if name.is_empty() {
        suffix.trim_start_matches('-').to_string()
    } else {
        format!("{name}{suffix}")
    }
}

/// Images of one instance, newest first (by creation, then id).
pub fn newest_first(mut images: Vec<Image>) -> Vec<Image> {
    images.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    images
}
