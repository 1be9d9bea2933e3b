//! What the sandbox's cloud APIs answer: its instances (EC2, SSM ping),
//! its buckets with their versions, and its posture findings.

use super::{
    ENSSOL_HOST, MAP_HOST, MT_HOST, OFFLINE_HOST, PMO_HOST, STOPPED_HOST, SimBucket, SimObject,
    SimVersion,
};
use crate::domain::{Instance, SsmPing};
use crate::provider::sandbox::sim_state::short_id;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn instance(
    id: &str,
    name: &str,
    region: &str,
    ty: &str,
    state: &str,
    ip: (&str, Option<&str>),
    ping: SsmPing,
    platform: &str,
    extra: &[(&str, &str)],
) -> Instance {
    let mut t = tags(extra);
    t.insert("Name".into(), name.into());
    Instance {
        id: id.into(),
        name: name.into(),
        region: region.into(),
        instance_type: ty.into(),
        state: state.into(),
        private_ip: Some(ip.0.into()),
        public_ip: ip.1.map(str::to_string),
        ssm_ping: ping,
        platform: platform.into(),
        tags: t,
    }
}

pub fn instances() -> Vec<Instance> {
    vec![
        instance(
            MT_HOST,
            "multi-tenant-platform",
            "eu-north-1",
            "t3.medium",
            "running",
            ("172.31.18.44", Some("13.51.92.17")),
            SsmPing::Online,
            "Amazon Linux 2023",
            &[
                ("Environment", "production"),
                ("Project", "multi-tenant-platform"),
                ("Access", "ssm-only"),
            ],
        ),
        instance(
            PMO_HOST,
            "cohuron-pmo-api",
            "us-east-1",
            "t3.medium",
            "running",
            ("10.0.1.25", Some("100.28.36.248")),
            SsmPing::Online,
            "Ubuntu 22.04",
            &[("Environment", "production"), ("Project", "cohuron-pmo")],
        ),
        instance(
            ENSSOL_HOST,
            "enssol-web-prod",
            "ap-southeast-2",
            "t2.nano",
            "running",
            ("172.31.4.10", Some("54.206.11.83")),
            SsmPing::Online,
            "Ubuntu 16.04",
            &[("Environment", "production"), ("Project", "enssol")],
        ),
        instance(
            STOPPED_HOST,
            "pmo-worker-legacy",
            "us-east-1",
            "t3.small",
            "stopped",
            ("10.0.1.77", None),
            SsmPing::ConnectionLost,
            "Ubuntu 22.04",
            &[("Environment", "staging"), ("Project", "cohuron-pmo")],
        ),
        instance(
            MAP_HOST,
            "map-system",
            "eu-north-1",
            "t3.xlarge",
            "running",
            ("172.31.22.9", Some("16.170.44.201")),
            SsmPing::Online,
            "Amazon Linux 2023",
            &[
                ("Environment", "production"),
                ("Project", "map-system"),
                ("Access", "ssm-only"),
            ],
        ),
        // The IndiVillage web tier: running, but its SSM agent lost touch.
        instance(
            OFFLINE_HOST,
            "indivillage-web",
            "us-east-1",
            "t3.medium",
            "running",
            ("10.20.1.14", None),
            SsmPing::ConnectionLost,
            "Amazon Linux 2023",
            &[("Environment", "staging"), ("Project", "indivillage")],
        ),
    ]
}

pub fn version_id_for(seed: &str) -> String {
    version_id(seed)
}

/// The seeds' posture: the PMO group open on 22/80/443/4000/5173, the
/// Enssol group open to all traffic with an unencrypted 8 GiB volume, IMDSv1
/// left optional on the PMO host and the legacy worker.
pub fn findings() -> Vec<crate::domain::Finding> {
    use crate::domain::{Finding, FindingKind::*};
    let f = |kind, region: &str, resource: &str, instances: &[&str], detail: &str| Finding {
        kind,
        region: region.into(),
        resource: resource.into(),
        instances: instances.iter().map(|s| s.to_string()).collect(),
        detail: detail.into(),
    };
    vec![
        f(
            OpenSecurityGroup,
            "ap-southeast-2",
            "sg-0e55a11d0c0ffee01",
            &[ENSSOL_HOST],
            "all (enssol-web-sg)",
        ),
        f(
            OpenSecurityGroup,
            "us-east-1",
            "sg-07f64b1f8de8f6b26",
            &[PMO_HOST, STOPPED_HOST],
            "22/tcp, 80/tcp, 443/tcp, 4000/tcp, 5173/tcp (cohuron-pmo-sg)",
        ),
        f(
            UnencryptedVolume,
            "ap-southeast-2",
            "vol-0e55a11d0c0ffee02",
            &[ENSSOL_HOST],
            "8 GiB standard",
        ),
        f(
            ImdsV1Allowed,
            "us-east-1",
            PMO_HOST,
            &[PMO_HOST],
            "HttpTokens=optional",
        ),
        f(
            ImdsV1Allowed,
            "us-east-1",
            STOPPED_HOST,
            &[STOPPED_HOST],
            "HttpTokens=optional",
        ),
    ]
}

fn version_id(seed: &str) -> String {
    format!("{}{}", short_id(seed), short_id(&format!("v:{seed}")))
}

/// PMO's daily backup key in `cohuron-backups`, as its document names it.
pub const PMO_LATEST: &str = "db/latest.sql.gz";

fn obj(key: &str, sizes: &[u64], base: DateTime<Utc>, delete_marker: bool) -> SimObject {
    let mut versions: Vec<SimVersion> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| SimVersion {
            version_id: version_id(&format!("{key}#{i}")),
            size: *s,
            last_modified: base + Duration::days(i as i64 * 9),
            delete_marker: false,
            storage_class: "STANDARD".into(),
        })
        .collect();
    if delete_marker {
        versions.push(SimVersion {
            version_id: version_id(&format!("{key}#dm")),
            size: 0,
            last_modified: base + Duration::days(sizes.len() as i64 * 9),
            delete_marker: true,
            storage_class: String::new(),
        });
    }
    SimObject {
        key: key.into(),
        versions,
    }
}

pub fn buckets(now: DateTime<Utc>) -> Vec<SimBucket> {
    let base = now - Duration::days(60);
    let p = "tenant_id=demo/entity=project/entity_id=5f0c2d3e-8a1b-4c6d-9e7f-0a1b2c3d4e5f";
    let t = "tenant_id=demo/entity=task/entity_id=9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d";
    let e = "tenant_id=demo/entity=employee/entity_id=3c2b1a09-8f7e-4d6c-b5a4-392817161514";
    let c = "tenant_id=demo/entity=client/entity_id=7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9";
    let a = "tenant_id=acme/entity=project/entity_id=0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
    let mut attachments = vec![
        obj(
            &format!("{p}/abc123def456.pdf"),
            &[182_344, 190_112, 201_775],
            base,
            false,
        ),
        obj(&format!("{p}/xyz789ghi012.jpg"), &[1_204_311], base, false),
        obj(
            &format!("{p}/def456abc789.xlsx"),
            &[48_200, 51_904],
            base,
            false,
        ),
        obj(&format!("{t}/attachment1.docx"), &[23_551], base, false),
        obj(
            &format!("{t}/attachment2.png"),
            &[402_118, 398_004],
            base,
            false,
        ),
        obj(&format!("{e}/resume.pdf"), &[88_412], base, false),
        obj(
            &format!("{c}/contract.pdf"),
            &[310_009, 311_450],
            base,
            true,
        ),
        obj(&format!("{c}/photo-id.jpg"), &[655_873], base, false),
        obj(
            &format!("{a}/kickoff-notes.md"),
            &[4_210, 4_388, 5_021, 5_540],
            base,
            false,
        ),
    ];
    attachments.sort_by(|x, y| x.key.cmp(&y.key));
    let code = vec![
        obj(
            "api/latest.tar.gz",
            &[8_112_003, 8_140_554, 8_201_337],
            base,
            false,
        ),
        obj("api/v1.0.0.tar.gz", &[8_112_003], base, false),
        obj("web/latest.tar.gz", &[3_550_120, 3_601_876], base, false),
        obj("web/v1.0.0.tar.gz", &[3_550_120], base, false),
    ];
    // `postgres/app_*`: PMO backups opsdeck's own runbooks made and synced
    // (`backup` + `sync-backups`); the document's are `db/latest.sql.gz`.
    let mut backups: Vec<SimObject> = (1..=5)
        .map(|d| {
            let day = now - Duration::days(d);
            obj(
                &format!("postgres/app_{}_020000.sql.gz", day.format("%Y%m%d")),
                &[2_400_000 + d as u64 * 1_111],
                day.date_naive()
                    .and_hms_opt(2, 5, 0)
                    .map(|t| Utc.from_utc_datetime(&t))
                    .unwrap_or(day),
                false,
            )
        })
        .collect();
    // The PMO document's own daily backup: `db/latest.sql.gz`, overwritten
    // each day at 02:00 and kept by the bucket's versions (30 days; the
    // last week here).
    backups.push(SimObject {
        key: PMO_LATEST.into(),
        versions: (1..=7)
            .rev()
            .map(|d| {
                let day = now - Duration::days(d);
                SimVersion {
                    version_id: version_id(&format!("{PMO_LATEST}#{d}")),
                    size: 2_400_000 + d as u64 * 997,
                    last_modified: day
                        .date_naive()
                        .and_hms_opt(2, 4, 0)
                        .map(|t| Utc.from_utc_datetime(&t))
                        .unwrap_or(day),
                    delete_marker: false,
                    storage_class: "STANDARD".into(),
                }
            })
            .collect(),
    });
    backups.sort_by(|x, y| x.key.cmp(&y.key));
    vec![
        SimBucket {
            name: "cohuron-attachments-prod-957207443425".into(),
            region: "us-east-1".into(),
            versioning: "Enabled".into(),
            encryption: "AES256".into(),
            public_access_block: "all blocked".into(),
            lifecycle: "IA@90d, GLACIER@180d, expire noncurrent@365d".into(),
            objects: attachments,
        },
        SimBucket {
            name: "cohuron-backups".into(),
            region: "us-east-1".into(),
            versioning: "Enabled".into(),
            encryption: "AES256".into(),
            public_access_block: "all blocked".into(),
            lifecycle: "expire@30d".into(),
            objects: backups,
        },
        SimBucket {
            name: "cohuron-code-prod-957207443425".into(),
            region: "us-east-1".into(),
            versioning: "Enabled".into(),
            encryption: "AES256".into(),
            public_access_block: "all blocked".into(),
            lifecycle: "none".into(),
            objects: code,
        },
        SimBucket {
            name: "cohuron-artifacts-prod-957207443425".into(),
            region: "us-east-1".into(),
            versioning: "Suspended".into(),
            encryption: "none".into(),
            public_access_block: "partial".into(),
            lifecycle: "none".into(),
            objects: vec![obj("legacy/2024/report-q4.pdf", &[722_001], base, false)],
        },
        SimBucket {
            name: "enssol-static-assets".into(),
            region: "ap-southeast-2".into(),
            versioning: "none".into(),
            encryption: "none".into(),
            public_access_block: "none".into(),
            lifecycle: "none".into(),
            objects: vec![obj("static/css/site.css", &[18_220], base, false)],
        },
    ]
}
