//! EC2 instances across the context's regions (paginated, regions fetched
//! concurrently), joined with SSM DescribeInstanceInformation. If that call
//! is not available, SSM state is "unknown" — the list never fails for it.

use crate::domain::{Instance, SsmPing};
use crate::provider::{ProviderError, ProviderResult};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use std::collections::{BTreeMap, HashMap};

/// Per-region clients for the inventory.
#[derive(Clone)]
pub struct RegionClients {
    pub region: String,
    /// DescribeInstances page size (5..=1000).
    pub page_size: i32,
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
}

fn ec2_err<E>(region: &str, e: &E) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    super::error(format!("describing instances in {region}"), e)
}

/// SSM ping status by instance id; `None` when the call is unavailable.
async fn ssm_pings(c: &RegionClients) -> Option<HashMap<String, SsmPing>> {
    let mut out = HashMap::new();
    // No retries: when the call is unavailable (some endpoints lack it), the
    // list must not wait for the SDK's backoff; SSM is then "unknown".
    let conf = c
        .ssm
        .config()
        .to_builder()
        .retry_config(aws_sdk_ssm::config::retry::RetryConfig::disabled())
        .build();
    let ssm = aws_sdk_ssm::Client::from_conf(conf);
    let mut pages = ssm
        .describe_instance_information()
        .max_results(50)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => {
                for info in p.instance_information_list() {
                    let ping = match info.ping_status().map(|s| s.as_str()) {
                        Some("Online") => SsmPing::Online,
                        Some("ConnectionLost") => SsmPing::ConnectionLost,
                        Some("Inactive") => SsmPing::Inactive,
                        _ => SsmPing::Unknown,
                    };
                    if let Some(id) = info.instance_id() {
                        out.insert(id.to_string(), ping);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(region = %c.region, error = %aws_sdk_ssm::error::DisplayErrorContext(&e), "DescribeInstanceInformation unavailable; SSM state unknown");
                return None;
            }
        }
    }
    Some(out)
}

pub async fn instances_in(c: &RegionClients) -> ProviderResult<Vec<Instance>> {
    instances_matching(c, &[], None).await
}

/// Instances of one region that carry tag `key` = `value` (EC2 filters), for
/// runbooks aimed at many instances by tag.
pub async fn instances_tagged(
    c: &RegionClients,
    key: &str,
    value: &str,
) -> ProviderResult<Vec<Instance>> {
    let f = aws_sdk_ec2::types::Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build();
    instances_matching(c, &[f], None).await
}

/// DescribeInstances' first page when rows are shown as they arrive.
const FIRST_PAGE: i32 = 50;

/// Where pages of instances go as they arrive (before SSM's ping status is
/// joined in: those rows say "unknown" until the whole list is read).
pub type PageSink = tokio::sync::mpsc::UnboundedSender<Vec<Instance>>;

async fn instances_matching(
    c: &RegionClients,
    filters: &[aws_sdk_ec2::types::Filter],
    pages_to: Option<&PageSink>,
) -> ProviderResult<Vec<Instance>> {
    let (ec2, pings) = tokio::join!(
        async {
            let mut list = Vec::new();
            // Someone is waiting for rows: the first page is one screen's
            // worth, so it arrives in a fraction of a full page's server
            // time; the pages after it are full ones.
            let mut size = match pages_to {
                Some(_) => c.page_size.min(FIRST_PAGE),
                None => c.page_size,
            };
            let mut token: Option<String> = None;
            loop {
                let page = c
                    .ec2
                    .describe_instances()
                    .set_filters((!filters.is_empty()).then(|| filters.to_vec()))
                    .max_results(size)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| ec2_err(&c.region, &e))?;
                size = c.page_size;
                let first = list.len();
                for r in page.reservations() {
                    for i in r.instances() {
                        list.push(i.clone());
                    }
                }
                if let Some(tx) = pages_to {
                    let rows = list[first..]
                        .iter()
                        .map(|i| instance(&c.region, i, None))
                        .collect();
                    let _ = tx.send(rows);
                }
                match page.next_token() {
                    // A server that hands back the token it was given would
                    // loop forever: stop as the SDK's paginators do.
                    Some(t) if !t.is_empty() && token.as_deref() != Some(t) => {
                        token = Some(t.to_string());
                    }
                    _ => break,
                }
            }
            Ok::<_, ProviderError>(list)
        },
        ssm_pings(c)
    );
    Ok(ec2?
        .iter()
        .map(|i| instance(&c.region, i, pings.as_ref()))
        .collect())
}

/// One EC2 instance as opsdeck shows it. `pings`: `None` while SSM's
/// answer is not in yet, or when SSM could not be asked.
fn instance(
    region: &str,
    i: &aws_sdk_ec2::types::Instance,
    pings: Option<&HashMap<String, SsmPing>>,
) -> Instance {
    let id = i.instance_id().unwrap_or_default().to_string();
    let tags: BTreeMap<String, String> = i
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let ssm_ping = match pings {
        None => SsmPing::Unknown,
        // Not registered with SSM at all: commands cannot reach it.
        Some(p) => p.get(&id).copied().unwrap_or(SsmPing::Inactive),
    };
    Instance {
        name: tags.get("Name").cloned().unwrap_or_default(),
        region: region.to_string(),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map_or(crate::domain::InstanceState::Unknown, |n| {
                crate::domain::InstanceState::parse(n.as_str())
            }),
        private_ip: i.private_ip_address().map(str::to_string),
        public_ip: i.public_ip_address().map(str::to_string),
        ssm_ping,
        platform: i.platform_details().unwrap_or_default().to_string(),
        tags,
        id,
    }
}

/// Every region at once; a failing region fails the list with its name.
/// With `pages_to`, each page of each region goes there as it arrives.
pub async fn instances(
    regions: &[RegionClients],
    pages_to: Option<PageSink>,
) -> ProviderResult<Vec<Instance>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, c) in regions.iter().enumerate() {
        let c = c.clone();
        let tx = pages_to.clone();
        set.spawn(async move { (i, instances_matching(&c, &[], tx.as_ref()).await) });
    }
    drop(pages_to);
    let mut results: Vec<(usize, ProviderResult<Vec<Instance>>)> = Vec::new();
    while let Some(r) = set.join_next().await {
        results.push(r.map_err(|e| ProviderError::new("describing instances", e))?);
    }
    results.sort_by_key(|(i, _)| *i);
    let mut all = Vec::new();
    for (_, r) in results {
        all.extend(r?);
    }
    Ok(all)
}

/// Start or stop an instance; returns the new state name EC2 reports.
pub async fn set_running(c: &RegionClients, id: &str, running: bool) -> ProviderResult<String> {
    let ctx = || {
        format!(
            "{} {id} in {}",
            if running { "starting" } else { "stopping" },
            c.region
        )
    };
    let state = if running {
        let out = c
            .ec2
            .start_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| super::error(ctx(), &e))?;
        out.starting_instances()
            .first()
            .and_then(|s| s.current_state())
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
    } else {
        let out = c
            .ec2
            .stop_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| super::error(ctx(), &e))?;
        out.stopping_instances()
            .first()
            .and_then(|s| s.current_state())
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
    };
    Ok(state.unwrap_or_else(|| "unknown".into()))
}

/// Posture findings of one region: security groups open to the internet
/// (with their ports), unencrypted EBS volumes, instances allowing IMDSv1.
pub async fn posture_in(c: &RegionClients) -> ProviderResult<Vec<crate::domain::Finding>> {
    use crate::domain::{Finding, FindingKind};
    let e = |what: &str, err: &dyn std::fmt::Display| {
        ProviderError::new(format!("{what} in {}", c.region), err.to_string())
    };
    let mut findings = Vec::new();

    // Which instances use which group, and which allow IMDSv1.
    let mut by_group: HashMap<String, Vec<String>> = HashMap::new();
    let mut pages = c
        .ec2
        .describe_instances()
        .max_results(c.page_size)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|x| e("describing instances", &super::say(&x)))?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            let id = i.instance_id().unwrap_or_default().to_string();
            for g in i.security_groups() {
                if let Some(gid) = g.group_id() {
                    by_group
                        .entry(gid.to_string())
                        .or_default()
                        .push(id.clone());
                }
            }
            let tokens = i
                .metadata_options()
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str().to_string());
            let endpoint_on = i
                .metadata_options()
                .and_then(|m| m.http_endpoint())
                .is_none_or(|e| e.as_str() != "disabled");
            if endpoint_on && tokens.as_deref() != Some("required") {
                findings.push(Finding {
                    kind: FindingKind::ImdsV1Allowed,
                    region: c.region.clone(),
                    resource: id.clone(),
                    instances: vec![id.clone()],
                    detail: format!("HttpTokens={}", tokens.unwrap_or_else(|| "unset".into())),
                });
            }
        }
    }

    let mut pages = c
        .ec2
        .describe_security_groups()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|x| e("describing security groups", &super::say(&x)))?;
        for g in page.security_groups() {
            let mut ports = Vec::new();
            for p in g.ip_permissions() {
                let open = p
                    .ip_ranges()
                    .iter()
                    .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
                    || p.ipv6_ranges()
                        .iter()
                        .any(|r| r.cidr_ipv6() == Some("::/0"));
                if !open {
                    continue;
                }
                let proto = p.ip_protocol().unwrap_or("-1");
                ports.push(match (proto, p.from_port(), p.to_port()) {
                    ("-1", _, _) => "all".to_string(),
                    (pr, Some(a), Some(b)) if a == b => format!("{a}/{pr}"),
                    (pr, Some(a), Some(b)) => format!("{a}-{b}/{pr}"),
                    (pr, _, _) => format!("all/{pr}"),
                });
            }
            if !ports.is_empty() {
                let gid = g.group_id().unwrap_or_default().to_string();
                findings.push(Finding {
                    kind: FindingKind::OpenSecurityGroup,
                    region: c.region.clone(),
                    instances: by_group.get(&gid).cloned().unwrap_or_default(),
                    detail: format!("{} ({})", ports.join(", "), g.group_name().unwrap_or("")),
                    resource: gid,
                });
            }
        }
    }

    let mut pages = c
        .ec2
        .describe_volumes()
        .max_results(500)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|x| e("describing volumes", &super::say(&x)))?;
        for v in page.volumes() {
            if v.encrypted() == Some(true) {
                continue;
            }
            findings.push(Finding {
                kind: FindingKind::UnencryptedVolume,
                region: c.region.clone(),
                resource: v.volume_id().unwrap_or_default().to_string(),
                instances: v
                    .attachments()
                    .iter()
                    .filter_map(|a| a.instance_id().map(str::to_string))
                    .collect(),
                detail: format!(
                    "{} GiB {}",
                    v.size().unwrap_or(0),
                    v.volume_type().map(|t| t.as_str()).unwrap_or("")
                ),
            });
        }
    }
    findings.sort_by(|a, b| (a.kind, &a.resource).cmp(&(b.kind, &b.resource)));
    Ok(findings)
}
