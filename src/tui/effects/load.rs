//! Reading the estate: instances (page by page), a host's snapshot, buckets
//! and their listings, the backups in S3, the posture checks. Each spawns a
//! task and answers with its message.

use super::{Providers, Tx};
use crate::provider::host::HostInventory;
use crate::tui::app::Msg;

pub(super) fn instances(p: Providers, tx: Tx) {
    tokio::spawn(async move {
        let pages = tx.clone();
        let all = p
            .cloud
            .instance_pages(&mut |page| {
                let _ = pages.send(Msg::InstancesPage(page));
            })
            .await;
        let _ = tx.send(Msg::Instances(all));
    });
}

pub(super) fn snapshot(p: Providers, tx: Tx, host: String) {
    tokio::spawn(async move {
        let result = HostInventory::with_layouts(p.transport.clone(), p.layouts.clone())
            .snapshot(&host)
            .await;
        let _ = tx.send(Msg::Snapshot {
            host,
            result: result.map_err(Into::into),
        });
    });
}

pub(super) fn buckets(p: Providers, tx: Tx) {
    tokio::spawn(async move {
        let _ = tx.send(Msg::Buckets(p.store.buckets().await));
    });
}

/// A prefix's keys: pages go to the list as they arrive, then the keys a
/// delete marker hides (so they can be undeleted).
pub(super) fn objects(p: Providers, tx: Tx, bucket: String, prefix: String) {
    tokio::spawn(async move {
        let (b, pr, t) = (bucket.clone(), prefix.clone(), tx.clone());
        let listed = p
            .store
            .list_pages(&bucket, &prefix, &mut |page| {
                let _ = t.send(Msg::ObjectsPage {
                    bucket: b.clone(),
                    prefix: pr.clone(),
                    page,
                });
            })
            .await;
        let result = match listed {
            Ok(()) => Ok(p.store.deleted(&bucket, &prefix).await.unwrap_or_else(|e| {
                tracing::warn!("{e}");
                vec![]
            })),
            Err(e) => Err(e),
        };
        let _ = tx.send(Msg::Objects {
            bucket,
            prefix,
            result,
        });
    });
}

pub(super) fn versions(p: Providers, tx: Tx, bucket: String, key: String) {
    tokio::spawn(async move {
        let result = p.store.versions(&bucket, &key).await;
        let _ = tx.send(Msg::Versions {
            bucket,
            key,
            result,
        });
    });
}

pub(super) fn s3_backups(p: Providers, tx: Tx, bucket: String, prefix: String) {
    tokio::spawn(async move {
        let r = super::s3_backups(p.store.as_ref(), &bucket, &prefix, &p.layouts).await;
        let _ = tx.send(Msg::S3Backups(r));
    });
}

pub(super) fn posture(p: Providers, tx: Tx) {
    tokio::spawn(async move {
        let _ = tx.send(Msg::Posture(p.cloud.posture().await));
    });
}

/// Everyone's runs on the instances' hosts, in flight and from the last day.
pub(super) fn host_runs(p: Providers, tx: Tx, instances: Vec<crate::domain::Instance>) {
    tokio::spawn(async move {
        let (runs, warnings) = crate::ops::runs::everyone(
            &p,
            &instances,
            chrono::Duration::hours(24),
            crate::clock::now(),
        )
        .await;
        let _ = tx.send(Msg::HostRuns { runs, warnings });
    });
}
