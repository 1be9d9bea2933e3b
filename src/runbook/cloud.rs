//! Cloud steps: a runbook step that is an API call through the provider
//! seam instead of a script on a host (create an image, launch an instance
//! like another, move its Elastic IP…). Each action has typed arguments,
//! given in the runbook as templates over the target's variables, the
//! parameters and the outputs of earlier cloud steps (`"{image}"`); what a
//! template names is checked when the runbook is read, every value is
//! checked against its type before any call (at render when it is known
//! then, else when the step starts), and the preview shows the call.

use std::collections::BTreeMap;

/// What an argument must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    InstanceId,
    ImageId,
    /// An image name (EC2's rules: 3–128 of letters, digits, `()./-_ `).
    ImageName,
    /// A Name suffix: `-` then lower-case letters, digits, `-`.
    Suffix,
    /// A whole number from 1 to 1000.
    Count,
    /// An Elastic IP by its address or allocation id, or nothing.
    ElasticIp,
}

impl ArgType {
    pub fn check(self, v: &str) -> Result<(), super::params::Invalid> {
        let id = |prefix: &str| {
            v.strip_prefix(prefix).is_some_and(|h| {
                (8..=17).contains(&h.len())
                    && h.chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            })
        };
        let ok = match self {
            ArgType::InstanceId => id("i-"),
            ArgType::ImageId => id("ami-"),
            ArgType::ImageName => {
                (3..=128).contains(&v.len())
                    && v.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '(' | ')' | '.' | '/' | '-' | '_')
                    })
            }
            ArgType::Suffix => {
                v.len() >= 2
                    && v.len() <= 33
                    && v.starts_with('-')
                    && v[1..]
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            }
            ArgType::Count => v.parse::<u32>().is_ok_and(|n| (1..=1000).contains(&n)),
            ArgType::ElasticIp => {
                v.is_empty() || id("eipalloc-") || v.parse::<std::net::Ipv4Addr>().is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{v:?} is not {}", self.expect()).into())
        }
    }
    pub fn expect(self) -> &'static str {
        match self {
            ArgType::InstanceId => "an instance id (i-…)",
            ArgType::ImageId => "an image id (ami-…)",
            ArgType::ImageName => {
                "an image name (3–128 letters, digits, `(`, `)`, `.`, `/`, `-`, `_`)"
            }
            ArgType::Suffix => "a suffix (`-` then lower-case letters, digits, `-`)",
            ArgType::Count => "a whole number from 1 to 1000",
            ArgType::ElasticIp => "an Elastic IP (its address or eipalloc-…), or nothing",
        }
    }
}

/// A cloud action a step can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// CreateImage of an instance (no reboot), tagged with its source,
    /// then DescribeImages until it is available.
    CreateImage,
    /// Keep the newest N images of an instance: DeregisterImage and
    /// DeleteSnapshot for the others.
    PruneImages,
    /// The newest available image of an instance.
    NewestImage,
    /// RunInstances from an image with another instance's type, subnet,
    /// security groups, IAM profile and tags (Name suffixed), then wait
    /// until it runs and its SSM agent is online.
    LaunchLike,
    /// Move the Elastic IP of one instance (or the one named by
    /// `address`, e.g. left free when the instance was terminated) to
    /// another (AssociateAddress); says the DNS change when there is none.
    MoveAddress,
    /// TerminateInstances, then wait until it is terminated.
    Terminate,
    /// StopInstances (unless it is stopped already), then wait until it is.
    Stop,
}

pub const ACTIONS: [Action; 7] = [
    Action::CreateImage,
    Action::PruneImages,
    Action::NewestImage,
    Action::LaunchLike,
    Action::MoveAddress,
    Action::Terminate,
    Action::Stop,
];

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::CreateImage => "create-image",
            Action::PruneImages => "prune-images",
            Action::NewestImage => "newest-image",
            Action::LaunchLike => "launch-like",
            Action::MoveAddress => "move-address",
            Action::Terminate => "terminate",
            Action::Stop => "stop",
        }
    }
    pub fn parse(name: &str) -> Option<Action> {
        ACTIONS.into_iter().find(|a| a.name() == name)
    }
    /// Its arguments, in order.
    pub fn args(self) -> &'static [(&'static str, ArgType)] {
        match self {
            Action::CreateImage => &[
                ("instance", ArgType::InstanceId),
                ("name", ArgType::ImageName),
            ],
            Action::PruneImages => &[("instance", ArgType::InstanceId), ("keep", ArgType::Count)],
            Action::NewestImage => &[("instance", ArgType::InstanceId)],
            Action::LaunchLike => &[
                ("image", ArgType::ImageId),
                ("like", ArgType::InstanceId),
                ("suffix", ArgType::Suffix),
            ],
            Action::MoveAddress => &[
                ("from", ArgType::InstanceId),
                ("to", ArgType::InstanceId),
                ("address", ArgType::ElasticIp),
            ],
            Action::Terminate | Action::Stop => &[("instance", ArgType::InstanceId)],
        }
    }
    /// The values it gives the steps after it (by name).
    pub fn outputs(self) -> &'static [(&'static str, Option<ArgType>)] {
        match self {
            Action::CreateImage => &[("image", Some(ArgType::ImageId))],
            Action::PruneImages => &[("pruned", None)],
            Action::NewestImage => &[("image", Some(ArgType::ImageId)), ("image_age_hours", None)],
            Action::LaunchLike => &[("new_instance", Some(ArgType::InstanceId))],
            Action::MoveAddress => &[("public_ip", None), ("dns_change", None)],
            Action::Terminate | Action::Stop => &[],
        }
    }
    /// Changes the estate (a read-only context refuses the runbook).
    pub fn changes(self) -> bool {
        self != Action::NewestImage
    }
    /// The API calls it makes, with `args` (values, or `{name}` for what an
    /// earlier step gives).
    pub fn call(self, args: &BTreeMap<String, String>) -> String {
        let a = |k: &str| args.get(k).map(String::as_str).unwrap_or("?");
        match self {
            Action::CreateImage => format!(
                "ec2 CreateImage InstanceId={} Name={} NoReboot=true TagSpecifications=[image: {}={}]; DescribeImages ImageIds=[the new image] until available",
                a("instance"),
                a("name"),
                crate::provider::machines::SOURCE_TAG,
                a("instance")
            ),
            Action::PruneImages => format!(
                "ec2 DescribeImages Owners=[self] Filters=[tag:{}={}]; for each image but the newest {}: DeregisterImage ImageId=…, DeleteSnapshot SnapshotId=… (its snapshots)",
                crate::provider::machines::SOURCE_TAG,
                a("instance"),
                a("keep")
            ),
            Action::NewestImage => format!(
                "ec2 DescribeImages Owners=[self] Filters=[tag:{}={}, state=available]: the newest",
                crate::provider::machines::SOURCE_TAG,
                a("instance")
            ),
            Action::LaunchLike => format!(
                "ec2 DescribeInstances InstanceIds=[{like}]; RunInstances ImageId={} MinCount=1 MaxCount=1 with {like}'s InstanceType, SubnetId, SecurityGroupIds, IamInstanceProfile, KeyName, MetadataOptions, BlockDeviceMappings (volume type, size, encryption) and tags (Name + {}); DescribeInstances until running; ssm DescribeInstanceInformation until Online",
                a("image"),
                a("suffix"),
                like = a("like"),
            ),
            Action::MoveAddress => format!(
                "ec2 DescribeAddresses ({}); AssociateAddress AllocationId=(its) InstanceId={} AllowReassociation=true",
                if a("address").is_empty() {
                    format!("the one on {}", a("from"))
                } else {
                    a("address").to_string()
                },
                a("to")
            ),
            Action::Terminate => format!(
                "ec2 TerminateInstances InstanceIds=[{}]; DescribeInstances until terminated",
                a("instance")
            ),
            Action::Stop => format!(
                "ec2 DescribeInstances InstanceIds=[{i}] (nothing more when it is stopped or terminated); StopInstances InstanceIds=[{i}]; DescribeInstances until stopped",
                i = a("instance")
            ),
        }
    }
}

/// The names `{…}` refers to in a template.
pub fn references(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        let Some(j) = after.find('}') else { break };
        out.push(after[..j].to_string());
        rest = &after[j + 1..];
    }
    out
}

/// `template` with the names `values` knows filled in (the others stay `{name}`).
pub fn fill(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut s = template.to_string();
    for (k, v) in values {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

/// A value known only when the run gets there: `stamp` (the run's start,
/// `YYYYmmdd-HHMMSS`).
pub const RUNTIME: &[&str] = &["stamp"];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn argument_types_refuse_what_is_not_theirs() {
        assert!(ArgType::InstanceId.check("i-07f64b1f8de8f6b26").is_ok());
        assert!(ArgType::InstanceId.check("i-07f6; rm -rf /").is_err());
        assert!(ArgType::ImageId.check("ami-0123456789abcdef0").is_ok());
        assert!(ArgType::ImageId.check("i-0123456789abcdef0").is_err());
        assert!(
            ArgType::ImageName
                .check("opsdeck-i-07f64b1f8de8f6b26-20260302-100000")
                .is_ok()
        );
        assert!(ArgType::ImageName.check("a$(id)").is_err());
        assert!(ArgType::Suffix.check("-recovered").is_ok());
        assert!(ArgType::Suffix.check("recovered").is_err());
        assert!(ArgType::Count.check("3").is_ok());
        assert!(ArgType::Count.check("0").is_err());
        assert!(ArgType::ElasticIp.check("").is_ok());
        assert!(ArgType::ElasticIp.check("100.28.36.248").is_ok());
        assert!(
            ArgType::ElasticIp
                .check("eipalloc-0123456789abcdef0")
                .is_ok()
        );
        assert!(ArgType::ElasticIp.check("1.2.3.4; id").is_err());
    }

    #[test]
    fn templates_name_what_they_use() {
        assert_eq!(
            references("opsdeck-{instance}-{stamp}"),
            ["instance", "stamp"]
        );
        let v = BTreeMap::from([("instance".to_string(), "i-1".to_string())]);
        assert_eq!(fill("x-{instance}-{stamp}", &v), "x-i-1-{stamp}");
    }
}
