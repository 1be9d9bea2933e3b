//! The estate as runbooks see it, derived in one place for the console, the
//! headless CLI and the drills: instances, tenants, containers, backups
//! (the hosts' and S3's merged, by database then newest first), and the
//! host facts they came from. Targets are built and resolved from it here,
//! so "which backup is production" or "which host keeps a database" is
//! decided once.

use crate::config::Config;
use crate::domain::{Backup, BackupLocation, Container, Instance, ObjectEntry, Tenant};
use crate::provider::host::{HostInventory, HostSnapshot};
use crate::provider::layout::{BackupFormat, Layouts, Reading};
use crate::provider::{ObjectStore, ProviderResult};
use crate::runbook::spec::TargetKind;
use crate::runbook::{self, Choices, Target};
use std::collections::BTreeMap;

message_error!(
    /// Why a target cannot be found (or is ambiguous), and what to write.
    Unresolved
);

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub instances: Vec<Instance>,
    pub tenants: Vec<Tenant>,
    pub containers: Vec<Container>,
    /// Host-local and S3 backups, by database, newest first.
    pub backups: Vec<Backup>,
    /// Host facts by instance id (containers, backups, deploy records).
    pub snapshots: BTreeMap<String, HostSnapshot>,
}

impl Inventory {
    /// The one derivation: tenants from the config and the host facts,
    /// every host's containers, every backup (hosts' and S3's) sorted.
    pub fn derive(
        config: &Config,
        instances: Vec<Instance>,
        snapshots: BTreeMap<String, HostSnapshot>,
        s3_backups: &[Backup],
    ) -> Inventory {
        let tenants = derive_tenants(config, &snapshots, s3_backups);
        let containers = snapshots
            .values()
            .flat_map(|s| s.containers.clone())
            .collect();
        let mut backups: Vec<Backup> = snapshots
            .values()
            .flat_map(|s| s.backups.clone())
            .chain(s3_backups.iter().cloned())
            .collect();
        backups.sort_by(|a, b| {
            a.database
                .cmp(&b.database)
                .then(b.taken_at.cmp(&a.taken_at))
        });
        Inventory {
            instances,
            tenants,
            containers,
            backups,
            snapshots,
        }
    }

    /// The hosts whose facts are read: configured and reachable (never
    /// every instance: on AWS each costs an SSM command per refresh).
    pub fn fact_hosts(config: &Config, instances: &[Instance]) -> Vec<String> {
        config
            .hosts
            .iter()
            .filter(|h| {
                instances
                    .iter()
                    .any(|i| i.id == h.instance && i.unreachable_reason().is_none())
            })
            .map(|h| h.instance.clone())
            .collect()
    }

    /// Whether an instance is tagged production.
    pub fn host_is_production(&self, host: &str) -> bool {
        self.instances
            .iter()
            .any(|i| i.id == host && i.is_production())
    }

    /// The compose project of the tenant using `database` ("" if none).
    pub fn project_of(&self, database: &str) -> String {
        runbook::project_of(&self.tenants, database)
    }

    /// Where `database` lives: its tenant's host, else a host keeping its backups.
    pub fn host_of_database(&self, database: &str) -> Option<String> {
        runbook::host_of_database(&self.tenants, &self.backups, database)
    }

    pub fn tenant_target(&self, t: &Tenant) -> Target {
        Target::tenant(t)
    }

    pub fn container_target(&self, c: &Container) -> Target {
        Target::container(c, self.host_is_production(&c.host))
    }

    pub fn instance_target(&self, i: &Instance) -> Target {
        Target::instance(i, runbook::unique_name(&self.instances, i))
    }

    /// A backup is production when its database is (as its tenant says,
    /// else by its name).
    pub fn backup_target(&self, b: &Backup) -> Target {
        let production = runbook::database_is_production(&self.tenants, &b.database, false);
        let db_host = self.host_of_database(&b.database);
        Target::backup(
            b,
            production,
            &self.project_of(&b.database),
            db_host.as_deref(),
        )
    }

    pub fn database_target(&self, host: &str, database: &str) -> Target {
        let production =
            runbook::database_is_production(&self.tenants, database, self.host_is_production(host));
        Target::database(host, database, production, &self.project_of(database))
    }

    /// Everything a target also stands for: a tenant or backup is also its
    /// database (back it up now), a backup also its host (sync to S3).
    pub fn related_targets(&self, first: &Target) -> Vec<Target> {
        let db = first
            .vars
            .iter()
            .find(|(k, _)| k == "database")
            .map(|(_, v)| v.clone())
            .filter(|d| !d.is_empty());
        let mut v = vec![first.clone()];
        if let Some(db) = db
            && matches!(first.kind, TargetKind::Backup | TargetKind::Tenant)
            && self.instances.iter().any(|i| i.id == first.host)
        {
            v.push(self.database_target(&first.host, &db));
        }
        if first.kind == TargetKind::Backup
            && let Some(i) = self.instances.iter().find(|i| i.id == first.host)
        {
            v.push(self.instance_target(i));
        }
        v
    }

    /// What `choice` parameters can offer for `target`.
    pub fn choices(&self, target: &Target) -> Choices {
        runbook::choices(
            target,
            &self.tenants,
            &self.containers,
            &self.backups,
            self.snapshots.get(&target.host).map(|s| &s.deploys),
            self.snapshots.get(&target.host).map(|s| &s.commits),
        )
    }

    /// A target named as the operator types it on the command line (or
    /// in a palette): a tenant's project, an instance's id or unique Name,
    /// `CONTAINER[@INSTANCE]`, a backup's file name or path or S3 URL,
    /// `DATABASE[@INSTANCE]`. Ambiguity is an error that says what to write.
    pub fn resolve(&self, kind: TargetKind, value: &str) -> Result<Target, Unresolved> {
        match kind {
            TargetKind::Tenant => self
                .tenants
                .iter()
                .find(|t| t.project() == value)
                .map(|t| self.tenant_target(t))
                .ok_or_else(|| {
                    let known: Vec<String> = self.tenants.iter().map(Tenant::project).collect();
                    Unresolved(format!("no tenant {value:?} (known: {})", known.join(", ")))
                }),
            TargetKind::Instance => {
                let matches: Vec<_> = self
                    .instances
                    .iter()
                    .filter(|i| i.id == value || i.name == value)
                    .collect();
                match matches.as_slice() {
                    [i] => Ok(self.instance_target(i)),
                    [] => Err(format!("no instance with id or Name {value:?}").into()),
                    _ => Err(format!(
                        "{} instances are named {value:?}: use the instance id",
                        matches.len()
                    )
                    .into()),
                }
            }
            TargetKind::Container => {
                let (name, host) = match value.split_once('@') {
                    Some((n, h)) => (n, Some(h)),
                    None => (value, None),
                };
                let matches: Vec<_> = self
                    .containers
                    .iter()
                    .filter(|c| c.name == name && host.is_none_or(|h| c.host == h))
                    .collect();
                match matches.as_slice() {
                    [c] => Ok(self.container_target(c)),
                    [] => Err(format!("no container {value:?} on the configured hosts").into()),
                    _ => Err(
                        format!("{value:?} runs on several hosts: write NAME@INSTANCE-ID").into(),
                    ),
                }
            }
            TargetKind::Backup => {
                // A host's file first; `s3://bucket/key` (or the key) for one in
                // S3, `?versionId=ID` for an older version of a `latest` key.
                let (value, version) = match value.split_once("?versionId=") {
                    Some((v, id)) => (v, Some(id)),
                    None => (value, None),
                };
                let tail = format!("/{value}");
                let found = self
                    .backups
                    .iter()
                    .filter(|b| b.origin.starts_with("i-"))
                    .find(|b| b.path == value || b.path.ends_with(&tail))
                    .or_else(|| {
                        self.backups.iter().find(|b| {
                            b.origin.starts_with("s3://")
                                && b.version_id.as_deref() == version
                                && (format!("{}/{}", b.origin, b.path) == value
                                    || b.path == value
                                    || b.path.ends_with(&tail))
                        })
                    });
                match found {
                    Some(b) if b.unrecognised.is_some() => Err(format!(
                        "{value:?} is not a backup opsdeck can read: {} (name it in a [[database]]'s backup_paths or s3_latest)",
                        b.unrecognised.as_deref().unwrap_or_default()
                    )
                    .into()),
                    Some(b) => Ok(self.backup_target(b)),
                    None => Err(format!(
                        "no backup {value:?} on the configured hosts or in S3"
                    )
                    .into()),
                }
            }
            TargetKind::Database => {
                let (db, host) = match value.split_once('@') {
                    Some((d, h)) => (d, Some(h.to_string())),
                    None => (value, None),
                };
                // Where it lives: the tenant using it, else the host keeping its backups.
                let mut hosts: Vec<String> = self
                    .tenants
                    .iter()
                    .filter(|t| t.database.as_deref() == Some(db))
                    .map(|t| t.host.clone())
                    .chain(
                        self.backups
                            .iter()
                            .filter(|b| b.database == db)
                            .map(|b| b.origin.clone()),
                    )
                    .filter(|h| h.starts_with("i-"))
                    .collect();
                hosts.sort();
                hosts.dedup();
                let host = match (host, hosts.as_slice()) {
                    (Some(h), _) => h,
                    (None, [h]) => h.clone(),
                    (None, []) => {
                        return Err(format!(
                            "no database {db:?} known on the configured hosts (write NAME@INSTANCE-ID)"
                        ).into());
                    }
                    (None, _) => {
                        return Err(
                            format!("{db:?} is on several hosts: write {db}@INSTANCE-ID").into(),
                        );
                    }
                };
                Ok(self.database_target(&host, db))
            }
        }
    }

    /// Every target of the estate of a kind, as [`Inventory::resolve`]
    /// names it: (what to type, the target).
    pub fn all_targets(&self, kind: TargetKind) -> Vec<(String, Target)> {
        match kind {
            TargetKind::Tenant => self
                .tenants
                .iter()
                .map(|t| (t.project(), self.tenant_target(t)))
                .collect(),
            TargetKind::Instance => self
                .instances
                .iter()
                .map(|i| (i.id.clone(), self.instance_target(i)))
                .collect(),
            TargetKind::Container => self
                .containers
                .iter()
                .map(|c| (format!("{}@{}", c.name, c.host), self.container_target(c)))
                .collect(),
            TargetKind::Backup => self
                .backups
                .iter()
                .map(|b| {
                    let mut typed = if b.origin.starts_with("s3://") {
                        format!("{}/{}", b.origin, b.path)
                    } else {
                        b.path.clone()
                    };
                    if let Some(v) = &b.version_id {
                        typed = format!("{typed}?versionId={v}");
                    }
                    (typed, self.backup_target(b))
                })
                .collect(),
            TargetKind::Database => {
                let mut dbs: Vec<(String, String)> = self
                    .backups
                    .iter()
                    .filter(|b| b.origin.starts_with("i-") && b.unrecognised.is_none())
                    .map(|b| (b.database.clone(), b.origin.clone()))
                    .chain(
                        self.tenants
                            .iter()
                            .filter_map(|t| Some((t.database.clone()?, t.host.clone()))),
                    )
                    .collect();
                dbs.sort();
                dbs.dedup();
                dbs.into_iter()
                    .map(|(db, host)| (format!("{db}@{host}"), self.database_target(&host, &db)))
                    .collect()
            }
        }
    }
}

/// Read the host facts of `hosts` (errors per host are returned, not fatal).
pub async fn read_snapshots(
    facts: &HostInventory,
    hosts: &[String],
) -> (BTreeMap<String, HostSnapshot>, Vec<String>) {
    let mut snaps = BTreeMap::new();
    let mut errors = Vec::new();
    for h in hosts {
        match facts.snapshot(h).await {
            Ok(s) => {
                snaps.insert(h.clone(), s);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    (snaps, errors)
}

/// The backups kept in S3: the objects under `bucket/prefix`, named by
/// `layouts` (what none explains is listed with the reason), and the
/// versions of each database's `latest` key.
pub async fn s3_backups(
    store: &dyn ObjectStore,
    bucket: &str,
    prefix: &str,
    layouts: &Layouts,
) -> ProviderResult<Vec<Backup>> {
    let latest: Vec<(&str, &str)> = layouts
        .rules
        .iter()
        .filter_map(|r| Some((r.database.as_str(), r.s3_latest.as_deref()?)))
        .collect();
    let origin = format!("s3://{bucket}");
    let backup = |key: String, size, at, version_id| {
        let (database, taken_at, format, unrecognised) = match layouts.read(&key) {
            Reading::Backup {
                database,
                at: named,
                format,
            } => (database, named.unwrap_or(at), format, None),
            Reading::Unrecognised(why) => (String::new(), at, BackupFormat::of(&key), Some(why)),
        };
        Backup {
            database,
            location: BackupLocation::S3,
            origin: origin.clone(),
            path: key,
            taken_at,
            size,
            format,
            version_id,
            unrecognised,
        }
    };
    let mut out: Vec<Backup> = store
        .list(bucket, prefix)
        .await?
        .into_iter()
        .filter_map(|e| match e {
            ObjectEntry::Object {
                key,
                size,
                last_modified,
                ..
            } if !latest.iter().any(|(_, k)| *k == key) => {
                Some(backup(key, size, last_modified, None))
            }
            ObjectEntry::Object { .. } | ObjectEntry::Prefix(_) | ObjectEntry::Deleted { .. } => {
                None
            }
        })
        .collect();
    for (_, key) in latest {
        let versions = match store.versions(bucket, key).await {
            Ok(v) => v,
            Err(e) if e.kind == crate::provider::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        for v in versions {
            if v.is_delete_marker {
                continue;
            }
            // The current version is the key itself; older ones are named by id.
            let id = (!v.is_latest).then_some(v.version_id);
            out.push(backup(v.key, v.size, v.last_modified, id));
        }
    }
    Ok(out)
}

fn derive_tenants(
    config: &Config,
    snapshots: &BTreeMap<String, HostSnapshot>,
    s3_backups: &[Backup],
) -> Vec<Tenant> {
    let mut out = Vec::new();
    for h in &config.hosts {
        let snap = snapshots.get(&h.instance);
        for app in &h.apps {
            for env in &h.envs {
                let project = format!("{app}-{env}");
                let containers: Vec<&Container> = snap
                    .map(|s| {
                        s.containers
                            .iter()
                            .filter(|c| {
                                c.labels.get("com.docker.compose.project") == Some(&project)
                                    || (c.name.starts_with(&format!("{app}-"))
                                        && c.name.ends_with(&format!("-{env}")))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let total = containers.len();
                let up = containers.iter().filter(|c| c.is_up()).count();
                let health = if snap.is_none() {
                    "?".to_string()
                } else if total == 0 || up == 0 {
                    "down".into()
                } else if containers.iter().any(|c| c.health == "unhealthy") {
                    "unhealthy".into()
                } else if up < total {
                    "degraded".into()
                } else if containers.iter().any(|c| c.health == "starting") {
                    "starting".into()
                } else {
                    "healthy".into()
                };
                let last = snap
                    .and_then(|s| s.deploys.get(&project))
                    .and_then(|d| d.last());
                let sha = last.map(|d| d.current.clone()).or_else(|| {
                    containers
                        .iter()
                        .find_map(|c| c.labels.get("org.opencontainers.image.revision").cloned())
                });
                let database = config.app(app).and_then(|a| a.database_for(env));
                let last_backup = database.as_ref().and_then(|db| {
                    snap.into_iter()
                        .flat_map(|s| s.backups.iter())
                        .chain(s3_backups.iter())
                        .filter(|b| &b.database == db)
                        .map(|b| b.taken_at)
                        .max()
                });
                out.push(Tenant {
                    app: app.clone(),
                    env: env.clone(),
                    host: h.instance.clone(),
                    containers_up: up,
                    containers_total: total,
                    health,
                    deployed_sha: sha,
                    last_deploy: last.map(|d| d.at),
                    database,
                    last_backup,
                });
            }
        }
    }
    out
}
