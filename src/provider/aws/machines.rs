//! The EC2 lifecycle on AWS: CreateImage / DescribeImages /
//! DeregisterImage + DeleteSnapshot, DescribeInstances for a launch's
//! model, RunInstances, DescribeAddresses / AssociateAddress.

use super::ec2::RegionClients;
use crate::provider::machines::{Address, Image, ImageState, LaunchLike, SOURCE_TAG};
use crate::provider::{ProviderError, ProviderResult};
use aws_sdk_ec2::types::{
    Filter, IamInstanceProfileSpecification, ResourceType, Tag, TagSpecification,
};

fn err<E>(what: String) -> impl FnOnce(E) -> ProviderError
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| super::error(what, &e)
}

fn image_of(i: &aws_sdk_ec2::types::Image) -> Image {
    Image {
        id: i.image_id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        state: i
            .state()
            .map_or(ImageState::Unknown, |s| ImageState::parse(s.as_str())),
        created: i.creation_date().and_then(creation_date),
        snapshots: i
            .block_device_mappings()
            .iter()
            .filter_map(|b| b.ebs().and_then(|e| e.snapshot_id()))
            .map(str::to_string)
            .collect(),
        source_instance: i
            .tags()
            .iter()
            .find(|t| t.key() == Some(SOURCE_TAG))
            .and_then(|t| t.value())
            .map(str::to_string),
    }
}

/// EC2 says `2026-03-02T10:00:00.000Z`; some endpoints leave the zone out
/// (then it is UTC).
fn creation_date(d: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(d)
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(d.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

pub async fn images(c: &RegionClients, instance: &str) -> ProviderResult<Vec<Image>> {
    let out = c
        .ec2
        .describe_images()
        .owners("self")
        .filters(
            Filter::builder()
                .name(format!("tag:{SOURCE_TAG}"))
                .values(instance)
                .build(),
        )
        .send()
        .await
        .map_err(err(format!("images of {instance} in {}", c.region)))?;
    Ok(out.images().iter().map(image_of).collect())
}

pub async fn image(c: &RegionClients, id: &str) -> ProviderResult<Image> {
    let out = c
        .ec2
        .describe_images()
        .image_ids(id)
        .send()
        .await
        .map_err(err(format!("image {id} in {}", c.region)))?;
    out.images()
        .first()
        .map(image_of)
        .ok_or_else(|| ProviderError::not_found(format!("image {id}"), "InvalidAMIID.NotFound"))
}

pub async fn create_image(c: &RegionClients, instance: &str, name: &str) -> ProviderResult<String> {
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Image)
        .tags(Tag::builder().key(SOURCE_TAG).value(instance).build())
        .tags(Tag::builder().key("Name").value(name).build())
        .build();
    let out = c
        .ec2
        .create_image()
        .instance_id(instance)
        .name(name)
        .description(format!("opsdeck image of {instance}"))
        .no_reboot(true)
        .tag_specifications(tags)
        .send()
        .await
        .map_err(err(format!("CreateImage of {instance} in {}", c.region)))?;
    out.image_id()
        .map(str::to_string)
        .ok_or_else(|| ProviderError::new("CreateImage", "no image id in the answer"))
}

pub async fn delete_image(c: &RegionClients, id: &str) -> ProviderResult<Vec<String>> {
    // Its snapshots first (the image's record names them), then deregister,
    // then delete them: a snapshot in use by a registered image cannot go.
    let snapshots = image(c, id).await?.snapshots;
    c.ec2
        .deregister_image()
        .image_id(id)
        .send()
        .await
        .map_err(err(format!("DeregisterImage {id} in {}", c.region)))?;
    for s in &snapshots {
        c.ec2
            .delete_snapshot()
            .snapshot_id(s)
            .send()
            .await
            .map_err(err(format!(
                "DeleteSnapshot {s} (of the deregistered {id}) in {}",
                c.region
            )))?;
    }
    Ok(snapshots)
}

pub async fn launch_config(c: &RegionClients, instance: &str) -> ProviderResult<LaunchLike> {
    let out = c
        .ec2
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .map_err(err(format!("describing {instance} in {}", c.region)))?;
    let i = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .ok_or_else(|| {
            ProviderError::not_found(format!("instance {instance}"), "InvalidInstanceID.NotFound")
        })?;
    // The volumes' type, size and encryption (the image keeps only snapshots).
    let ids: Vec<(String, String)> = i
        .block_device_mappings()
        .iter()
        .filter_map(|b| {
            Some((
                b.device_name()?.to_string(),
                b.ebs()?.volume_id()?.to_string(),
            ))
        })
        .collect();
    let mut volumes = Vec::new();
    if !ids.is_empty() {
        let vols = c
            .ec2
            .describe_volumes()
            .set_volume_ids(Some(ids.iter().map(|(_, v)| v.clone()).collect()))
            .send()
            .await
            .map_err(err(format!(
                "describing {instance}'s volumes in {}",
                c.region
            )))?;
        for (device, id) in &ids {
            if let Some(v) = vols
                .volumes()
                .iter()
                .find(|v| v.volume_id() == Some(id.as_str()))
            {
                volumes.push(crate::provider::machines::VolumeLike {
                    device: device.clone(),
                    volume_type: v
                        .volume_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    size_gib: v.size().unwrap_or_default(),
                    encrypted: v.encrypted().unwrap_or(false),
                    kms_key_id: v.kms_key_id().map(str::to_string),
                    iops: v.iops(),
                    throughput: v.throughput(),
                });
            }
        }
    }
    let metadata = i
        .metadata_options()
        .map(|m| crate::provider::machines::Metadata {
            http_tokens: m.http_tokens().map(|t| t.as_str().to_string()),
            http_endpoint: m.http_endpoint().map(|t| t.as_str().to_string()),
            hop_limit: m.http_put_response_hop_limit(),
            instance_tags: m.instance_metadata_tags().map(|t| t.as_str().to_string()),
        });
    Ok(LaunchLike {
        key_name: i.key_name().map(str::to_string),
        metadata: metadata.unwrap_or_default(),
        volumes,
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        subnet: i.subnet_id().map(str::to_string),
        security_groups: i
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .map(str::to_string)
            .collect(),
        iam_profile: i
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .map(str::to_string),
        tags: i
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .filter(|(k, _)| !k.starts_with("aws:"))
            .collect(),
    })
}

pub async fn launch(
    c: &RegionClients,
    image: &str,
    like: &LaunchLike,
    name: &str,
) -> ProviderResult<String> {
    let mut tags = TagSpecification::builder().resource_type(ResourceType::Instance);
    for (k, v) in &like.tags {
        if k != "Name" {
            tags = tags.tags(Tag::builder().key(k).value(v).build());
        }
    }
    tags = tags.tags(Tag::builder().key("Name").value(name).build());
    let mut req = c
        .ec2
        .run_instances()
        .image_id(image)
        .min_count(1)
        .max_count(1)
        .instance_type(aws_sdk_ec2::types::InstanceType::from(
            like.instance_type.as_str(),
        ))
        .tag_specifications(tags.build());
    if let Some(s) = &like.subnet {
        req = req.subnet_id(s);
    }
    for g in &like.security_groups {
        req = req.security_group_ids(g);
    }
    if let Some(arn) = &like.iam_profile {
        req = req.iam_instance_profile(IamInstanceProfileSpecification::builder().arn(arn).build());
    }
    if let Some(k) = &like.key_name {
        req = req.key_name(k);
    }
    let m = &like.metadata;
    if m != &crate::provider::machines::Metadata::default() {
        use aws_sdk_ec2::types::{
            HttpTokensState, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest,
            InstanceMetadataTagsState,
        };
        req = req.metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .set_http_tokens(m.http_tokens.as_deref().map(HttpTokensState::from))
                .set_http_endpoint(
                    m.http_endpoint
                        .as_deref()
                        .map(InstanceMetadataEndpointState::from),
                )
                .set_http_put_response_hop_limit(m.hop_limit)
                .set_instance_metadata_tags(
                    m.instance_tags
                        .as_deref()
                        .map(InstanceMetadataTagsState::from),
                )
                .build(),
        );
    }
    for v in &like.volumes {
        use aws_sdk_ec2::types::{BlockDeviceMapping, EbsBlockDevice, VolumeType};
        req = req.block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(&v.device)
                .ebs(
                    EbsBlockDevice::builder()
                        .volume_type(VolumeType::from(v.volume_type.as_str()))
                        .volume_size(v.size_gib)
                        .encrypted(v.encrypted)
                        .set_kms_key_id(v.kms_key_id.clone())
                        .set_iops(v.iops)
                        .set_throughput(v.throughput)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        );
    }
    let out = req
        .send()
        .await
        .map_err(err(format!("RunInstances of {image} in {}", c.region)))?;
    out.instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_string)
        .ok_or_else(|| ProviderError::new("RunInstances", "no instance in the answer"))
}

pub async fn addresses(c: &RegionClients) -> ProviderResult<Vec<Address>> {
    let out = c
        .ec2
        .describe_addresses()
        .send()
        .await
        .map_err(err(format!("Elastic IPs in {}", c.region)))?;
    Ok(out
        .addresses()
        .iter()
        .filter_map(|a| {
            Some(Address {
                allocation_id: a.allocation_id()?.to_string(),
                public_ip: a.public_ip()?.to_string(),
                instance: a.instance_id().map(str::to_string),
            })
        })
        .collect())
}

pub async fn terminate(c: &RegionClients, instance: &str) -> ProviderResult<String> {
    let out = c
        .ec2
        .terminate_instances()
        .instance_ids(instance)
        .send()
        .await
        .map_err(err(format!(
            "TerminateInstances {instance} in {}",
            c.region
        )))?;
    Ok(out
        .terminating_instances()
        .first()
        .and_then(|s| s.current_state())
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_else(|| "unknown".into()))
}

pub async fn associate(c: &RegionClients, allocation: &str, instance: &str) -> ProviderResult<()> {
    c.ec2
        .associate_address()
        .allocation_id(allocation)
        .instance_id(instance)
        .allow_reassociation(true)
        .send()
        .await
        .map_err(err(format!(
            "AssociateAddress {allocation} with {instance} in {}",
            c.region
        )))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn creation_dates_with_or_without_a_zone() {
        let a = super::creation_date("2026-03-02T10:00:00.000Z").unwrap();
        let b = super::creation_date("2026-03-02T10:00:00").unwrap();
        assert_eq!(a, b);
        assert!(super::creation_date("yesterday").is_none());
    }
}
