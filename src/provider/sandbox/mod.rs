//! The embedded sandbox: a deterministic estate on this machine, so opsdeck
//! does its main job with no AWS account. Hosts are directory trees where
//! runbooks run with real bash, git and gzip; docker is simulated (see
//! [`docker_sim`]) and labelled as such in the header.

mod aws_sim;
mod curl_sim;
pub mod docker_sim;
pub mod estate;
pub mod pg_real;
pub mod sim_state;
mod systemd_sim;

use crate::domain::{Bucket, Instance, ObjectEntry, ObjectVersion};
use crate::provider::machines::{Address, Image, LaunchLike};
use crate::provider::{CloudInventory, ObjectStore, ProviderError, ProviderResult};
use crate::transport::local::{LocalHost, LocalTransport};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use estate::{Estate, machines};
pub use pg_real::Databases;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bumped when the estate's layout changes; an older sandbox is rebuilt.
pub const ESTATE_VERSION: &str = "4";

/// The config the console uses when none is given: the sandbox's hosts and apps.
pub const SANDBOX_CONFIG: &str = include_str!("sandbox.toml");

#[derive(Debug, Clone)]
pub struct Sandbox {
    pub dir: PathBuf,
}

impl Sandbox {
    /// Open the sandbox at `dir`, creating it as of `now` if it is missing or
    /// from an older version, with real databases when this machine can
    /// ([`Databases::choose`]). The `docker` shims are refreshed to point at `exe`.
    pub fn ensure(dir: &Path, now: DateTime<Utc>, exe: &Path) -> std::io::Result<Sandbox> {
        Self::ensure_with(dir, now, exe, &Databases::choose())
    }

    /// [`Sandbox::ensure`], saying how a new sandbox's databases are made.
    pub fn ensure_with(
        dir: &Path,
        now: DateTime<Utc>,
        exe: &Path,
        dbs: &Databases,
    ) -> std::io::Result<Sandbox> {
        let version = std::fs::read_to_string(dir.join("VERSION")).unwrap_or_default();
        if version.trim() != ESTATE_VERSION {
            if dir.exists() {
                Self::remove(dir)?;
            }
            // Build next to the final place, then move in: a crash never leaves half an estate.
            let tmp = dir.with_extension("creating");
            if tmp.exists() {
                std::fs::remove_dir_all(&tmp)?;
            }
            estate::create(&tmp, now)?;
            std::fs::write(tmp.join("VERSION"), ESTATE_VERSION)?;
            // Repos record absolute origin paths: fix them for the final place.
            std::fs::rename(&tmp, dir)?;
            fix_origins(dir, &tmp)?;
            // Real servers are made in the final place (their watcher and
            // cluster files name it); a failure leaves no sandbox behind.
            if let Databases::Real(bindir) = dbs
                && let Err(e) = real_databases(dir, bindir, now)
            {
                let _ = Self::remove(dir);
                return Err(std::io::Error::other(format!(
                    "real PostgreSQL for the sandbox: {e} (OPSDECK_SANDBOX_PG=simulated builds it without)"
                )));
            }
        }
        let sb = Sandbox {
            dir: dir.to_path_buf(),
        };
        sb.write_shims(exe)?;
        Ok(sb)
    }

    /// Delete the sandbox and build it anew.
    pub fn reset(dir: &Path, now: DateTime<Utc>, exe: &Path) -> std::io::Result<Sandbox> {
        if dir.exists() {
            Self::remove(dir)?;
        }
        Self::ensure(dir, now, exe)
    }

    /// Whether this sandbox's database servers are real PostgreSQL.
    pub fn real_databases(&self) -> bool {
        pg_real::is_real(&self.dir)
    }

    fn remove(dir: &Path) -> std::io::Result<()> {
        // Refuse to delete something that is not a sandbox.
        if !estate::path(dir).exists() && dir.read_dir()?.next().is_some() {
            return Err(std::io::Error::other(format!(
                "{} exists and is not an opsdeck sandbox; not deleting it",
                dir.display()
            )));
        }
        pg_real::remove_all(dir).map_err(std::io::Error::other)?;
        std::fs::remove_dir_all(dir)
    }

    fn write_shims(&self, exe: &Path) -> std::io::Result<()> {
        let bin = self.dir.join("bin");
        std::fs::create_dir_all(&bin)?;
        let exe_q = shlex::try_quote(&exe.display().to_string())
            .map_err(std::io::Error::other)?
            .into_owned();
        for (name, prefix) in [
            ("docker", ""),
            ("docker-compose", "compose-v1 "),
            ("curl", "curl "),
            ("aws", "aws "),
            ("systemctl", "systemctl "),
            ("journalctl", "journalctl "),
        ] {
            let text = format!(
                "#!/bin/sh\n# opsdeck sandbox: simulated docker (no engine runs here)\nexec {exe_q} __docker-sim {prefix}\"$@\"\n"
            );
            let path = bin.join(name);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, text)?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        Ok(())
    }

    /// Publish a new release of `app` on its origin (the way a developer
    /// pushes to main): write `files` in the source repository, commit,
    /// push. The next deploy pulls it. Drills use it to ship a bad release
    /// (a `HEALTH_FAIL` file, a failing migration). Returns the new SHA.
    pub fn push_release(
        &self,
        app: &str,
        message: &str,
        files: &[(&str, &str)],
    ) -> std::io::Result<String> {
        let src = self.dir.join("remotes").join(format!("{app}-src"));
        if !src.join(".git").exists() {
            return Err(std::io::Error::other(format!(
                "no app {app} in the sandbox"
            )));
        }
        let date = "2026-02-02T12:00:00Z";
        for (path, text) in files {
            let p = src.join(path);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::write(p, text)?;
        }
        estate::git(&src, &["add", "-A"], date)?;
        estate::git(&src, &["commit", "-q", "-m", message], date)?;
        estate::git(&src, &["push", "-q", "origin", "main"], date)?;
        Ok(estate::head(&src))
    }

    pub fn host_root(&self, id: &str) -> PathBuf {
        self.dir.join("hosts").join(id)
    }

    /// Write the estate back (atomically: a crash never leaves half a file).
    pub fn save_estate(&self, e: &Estate) -> Result<(), ProviderError> {
        estate::save(&self.dir, e).map_err(|err| {
            ProviderError::new(
                format!("writing {}", estate::path(&self.dir).display()),
                err,
            )
        })
    }

    pub fn estate(&self) -> Result<Estate, ProviderError> {
        estate::load(&self.dir).map_err(|e| {
            ProviderError::new(format!("reading {}", estate::path(&self.dir).display()), e)
        })
    }

    /// The local transport over this sandbox's hosts. Like SSM, it cannot
    /// reach an instance that is stopped or whose agent is offline: the
    /// estate is checked at every command, so starting an instance makes it
    /// reachable. A pinned clock (`OPSDECK_NOW`) is the hosts' clock too.
    pub fn transport(&self, extra_env: &BTreeMap<String, String>) -> LocalTransport {
        let mut t = LocalTransport::new();
        let mut base = extra_env.clone();
        if let Ok(Some(at)) = crate::clock::pinned() {
            base.entry("OPSDECK_SIM_NOW".into())
                .or_insert_with(|| at.timestamp().to_string());
        }
        for i in estate::instances() {
            let mut env = base.clone();
            if i.id == estate::ENSSOL_HOST {
                env.insert("OPSDECK_SIM_NO_DOCKER".into(), "1".into());
            }
            env.insert("OPSDECK_HOST".into(), i.id.clone());
            t.add_host(
                i.id.clone(),
                LocalHost {
                    root: self.host_root(&i.id),
                    env,
                    path_prepend: vec![self.dir.join("bin")],
                },
            );
        }
        // Instances launched from an image: their host tree, the same tools.
        let sb = self.clone();
        let launched_env = base.clone();
        t.set_resolver(std::sync::Arc::new(move |host: &str| {
            let known = sb.estate().ok()?.instances.iter().any(|i| i.id == host);
            let root = sb.host_root(host);
            (known && root.is_dir()).then(|| {
                let mut env = launched_env.clone();
                env.insert("OPSDECK_HOST".into(), host.to_string());
                LocalHost {
                    root,
                    env,
                    path_prepend: vec![sb.dir.join("bin")],
                }
            })
        }));
        let sb = self.clone();
        t.set_gate(std::sync::Arc::new(move |host: &str| {
            let estate = sb.estate().ok()?;
            estate
                .instances
                .iter()
                .find(|i| i.id == host)?
                .unreachable_reason()
        }));
        t
    }
}

/// Where the sandbox keeps the content of an S3 object (only objects
/// uploaded with `aws s3 sync` have one; the estate's own objects are sizes).
pub fn s3_content(sandbox_dir: &Path, bucket: &str, key: &str) -> Option<PathBuf> {
    if key.split('/').any(|p| p == ".." || p.is_empty()) || bucket.contains('/') {
        return None;
    }
    Some(sandbox_dir.join("s3data").join(bucket).join(key))
}

/// Where the sandbox keeps one version's bytes of `s3://bucket/key`
/// (versions of a `latest` key; the current one is [`s3_content`]).
pub fn s3_version_content(
    sandbox_dir: &Path,
    bucket: &str,
    key: &str,
    version: &str,
) -> Option<PathBuf> {
    if !version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return None;
    }
    let current = s3_content(sandbox_dir, bucket, key)?;
    let rel = current.strip_prefix(sandbox_dir.join("s3data")).ok()?;
    Some(sandbox_dir.join("s3versions").join(rel).join(version))
}

/// Keep `file` as the content of `s3://bucket/key` in the sandbox.
pub fn s3_store(sandbox_dir: &Path, bucket: &str, key: &str, file: &Path) -> std::io::Result<()> {
    let to = s3_content(sandbox_dir, bucket, key)
        .ok_or_else(|| std::io::Error::other(format!("bad key {key}")))?;
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::copy(file, to).map(|_| ())
}

/// Start and seed the real database servers of a new sandbox, and make
/// its week of host backups real `pg_dump` files of that data (the one the
/// estate made truncated stays truncated: half the gzip stream).
fn real_databases(dir: &Path, bindir: &Path, now: DateTime<Utc>) -> Result<(), String> {
    // The servers are made at once: each is mostly initdb, seeding and
    // dumps, waiting on PostgreSQL.
    let dumps: Vec<(&str, Vec<u8>)> = std::thread::scope(|sc| {
        let made: Vec<_> = pg_real::SERVERS
            .iter()
            .map(|s| sc.spawn(move || real_server(dir, s, bindir, now)))
            .collect();
        made.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a database server's setup panicked".into()))
            })
            .collect::<Result<Vec<_>, String>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    // The backups' off-instance copies in S3 get the same dumps as content.
    let mut estate = estate::load(dir).map_err(|e| e.to_string())?;
    for (db, gz) in &dumps {
        for b in &mut estate.buckets {
            for o in &mut b.objects {
                let latest = *db == "app" && o.key == estate::PMO_LATEST;
                if !latest && !backup_of(o.key.rsplit('/').next().unwrap_or(""), db) {
                    continue;
                }
                if latest {
                    estate::put_versions(dir, &b.name, o, gz).map_err(|e| e.to_string())?;
                }
                let to =
                    s3_content(dir, &b.name, &o.key).ok_or_else(|| format!("bad key {}", o.key))?;
                if let Some(d) = to.parent() {
                    std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
                }
                std::fs::write(&to, gz).map_err(|e| format!("{}: {e}", to.display()))?;
                for v in &mut o.versions {
                    v.size = gz.len() as u64;
                }
            }
        }
    }
    estate::save(dir, &estate).map_err(|e| e.to_string())
}

/// One real server, seeded, and its host's backups of it made real
/// dumps; each database's gzipped dump.
fn real_server(
    dir: &Path,
    server: &pg_real::Server,
    bindir: &Path,
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let ep = pg_real::create(dir, server, bindir, now)?;
    let backups = dir
        .join("hosts")
        .join(server.host)
        .join("opt/backups/postgres");
    let files: Vec<PathBuf> = std::fs::read_dir(&backups)
        .map_err(|e| format!("{}: {e}", backups.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    let mut dumps = Vec::new();
    for (db, _) in server.databases {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &ep.dump(db)?).map_err(|e| e.to_string())?;
        let gz = enc.finish().map_err(|e| e.to_string())?;
        for p in files.iter().filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| backup_of(n, db))
        }) {
            let bytes = if gunzips(p) {
                &gz[..]
            } else {
                &gz[..gz.len() / 2]
            };
            std::fs::write(p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        if server.host == estate::PMO_HOST && *db == "app" {
            // The document's manual backup is plain SQL; its time stays.
            let manual = dir
                .join("hosts")
                .join(server.host)
                .join(estate::PMO_MANUAL_BACKUP.trim_start_matches('/'));
            let written = std::fs::metadata(&manual).and_then(|m| m.modified()).ok();
            std::fs::write(&manual, ep.dump(db)?)
                .map_err(|e| format!("{}: {e}", manual.display()))?;
            if let Some(t) = written {
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&manual)
                    .and_then(|f| f.set_modified(t));
            }
        }
        dumps.push((*db, gz));
    }
    Ok(dumps)
}

/// `{db}_YYYYmmdd…`: a backup file of exactly `db`.
fn backup_of(file: &str, db: &str) -> bool {
    file.strip_prefix(db)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
}

/// Whether a file is a whole gzip stream.
fn gunzips(p: &Path) -> bool {
    std::fs::File::open(p).is_ok_and(|f| {
        std::io::copy(&mut flate2::read::GzDecoder::new(f), &mut std::io::sink()).is_ok()
    })
}

/// After moving the estate into place, point git remotes at the final paths.
fn fix_origins(dir: &Path, old: &Path) -> std::io::Result<()> {
    let mt = dir.join("hosts").join(estate::MT_HOST);
    let repos = estate::APPS
        .iter()
        .map(|app| (app.to_string(), mt.join("opt/apps").join(app)))
        .chain([("platform".to_string(), mt.join("opt/platform"))])
        .chain(estate::MAP_APPS.iter().map(|app| {
            let map = dir.join("hosts").join(estate::MAP_HOST);
            (app.to_string(), map.join("opt/apps").join(app))
        }));
    for (app, checkout) in repos {
        let bare = dir.join("remotes").join(format!("{app}.git"));
        let src = dir.join("remotes").join(format!("{app}-src"));
        for repo in [checkout, src] {
            let status = std::process::Command::new("git")
                .args(["remote", "set-url", "origin", &bare.display().to_string()])
                .current_dir(&repo)
                .status()?;
            if !status.success() {
                return Err(std::io::Error::other(format!(
                    "cannot repoint {} (was under {})",
                    repo.display(),
                    old.display()
                )));
            }
        }
    }
    Ok(())
}

fn object_mut<'a>(
    estate: &'a mut Estate,
    bucket: &str,
    key: &str,
) -> Option<&'a mut estate::SimObject> {
    estate
        .buckets
        .iter_mut()
        .find(|b| b.name == bucket)?
        .objects
        .iter_mut()
        .find(|o| o.key == key)
}

/// The sandbox as a cloud: instances and buckets from `estate.json`.
pub struct SandboxCloud {
    sandbox: Sandbox,
}

impl SandboxCloud {
    pub fn new(sandbox: Sandbox) -> Self {
        Self { sandbox }
    }

    /// Read the estate, change it with `f`, write it back.
    fn change<T>(
        &self,
        what: String,
        f: impl FnOnce(&Path, &mut Estate) -> Result<T, String>,
    ) -> ProviderResult<T> {
        let mut e = self.sandbox.estate()?;
        let out = f(&self.sandbox.dir, &mut e).map_err(|m| ProviderError::new(what, m))?;
        self.sandbox.save_estate(&e)?;
        Ok(out)
    }

    fn bucket(&self, name: &str) -> ProviderResult<estate::SimBucket> {
        self.sandbox
            .estate()?
            .buckets
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| {
                ProviderError::new(
                    format!("s3://{name}"),
                    "NoSuchBucket: the bucket does not exist",
                )
            })
    }
}

#[async_trait]
impl CloudInventory for SandboxCloud {
    fn label(&self) -> String {
        "sandbox".into()
    }
    fn run_locks(&self) -> Option<std::sync::Arc<dyn crate::provider::run_locks::LockStore>> {
        Some(std::sync::Arc::new(
            crate::provider::run_locks::DirLocks::new(self.sandbox.dir.join("cloud-locks")),
        ))
    }
    async fn instances(&self) -> ProviderResult<Vec<Instance>> {
        Ok(self.sandbox.estate()?.instances)
    }

    async fn posture(&self) -> ProviderResult<Vec<crate::domain::Finding>> {
        Ok(estate::findings())
    }

    async fn set_running(&self, id: &str, running: bool) -> ProviderResult<String> {
        let mut estate = self.sandbox.estate()?;
        let i = estate
            .instances
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| {
                ProviderError::not_found(format!("instance {id}"), "InvalidInstanceID.NotFound")
            })?;
        // The sandbox skips pending/stopping: the agent comes up with the host.
        i.state = if running {
            crate::domain::InstanceState::Running
        } else {
            crate::domain::InstanceState::Stopped
        };
        i.ssm_ping = if running {
            crate::domain::SsmPing::Online
        } else {
            crate::domain::SsmPing::ConnectionLost
        };
        let state = i.state.to_string();
        self.sandbox.save_estate(&estate)?;
        Ok(state)
    }

    async fn images(&self, region: &str, instance: &str) -> ProviderResult<Vec<Image>> {
        Ok(self
            .sandbox
            .estate()?
            .images
            .into_iter()
            .filter(|m| m.region == region && m.image.source_instance.as_deref() == Some(instance))
            .map(|m| m.image)
            .collect())
    }
    async fn image(&self, region: &str, id: &str) -> ProviderResult<Image> {
        self.sandbox
            .estate()?
            .images
            .into_iter()
            .find(|m| m.region == region && m.image.id == id)
            .map(|m| m.image)
            .ok_or_else(|| ProviderError::not_found(format!("image {id}"), "InvalidAMIID.NotFound"))
    }
    async fn create_image(
        &self,
        region: &str,
        instance: &str,
        name: &str,
    ) -> ProviderResult<String> {
        self.change(format!("CreateImage of {instance}"), |dir, e| {
            machines::create_image(dir, e, region, instance, name, crate::clock::now())
                .map_err(Into::into)
        })
    }
    async fn delete_image(&self, region: &str, id: &str) -> ProviderResult<Vec<String>> {
        self.change(format!("DeregisterImage {id}"), |dir, e| {
            machines::delete_image(dir, e, region, id).map_err(Into::into)
        })
    }
    async fn launch_config(&self, region: &str, instance: &str) -> ProviderResult<LaunchLike> {
        let e = self.sandbox.estate()?;
        e.instances
            .iter()
            .find(|i| i.id == instance && i.region == region)
            .map(|i| machines::launch_config(&e, i))
            .ok_or_else(|| {
                ProviderError::not_found(
                    format!("instance {instance}"),
                    "InvalidInstanceID.NotFound",
                )
            })
    }
    async fn launch(
        &self,
        region: &str,
        image: &str,
        like: &LaunchLike,
        name: &str,
    ) -> ProviderResult<String> {
        self.change(format!("RunInstances of {image}"), |dir, e| {
            machines::launch(dir, e, region, image, like, name).map_err(Into::into)
        })
    }
    async fn addresses(&self, region: &str) -> ProviderResult<Vec<Address>> {
        Ok(self
            .sandbox
            .estate()?
            .addresses
            .into_iter()
            .filter(|a| a.region == region)
            .map(|a| a.address)
            .collect())
    }
    async fn terminate(&self, region: &str, instance: &str) -> ProviderResult<String> {
        self.change(format!("TerminateInstances {instance}"), |_, e| {
            machines::terminate(e, region, instance).map_err(Into::into)
        })
    }
    async fn associate_address(
        &self,
        region: &str,
        allocation: &str,
        instance: &str,
    ) -> ProviderResult<()> {
        self.change(format!("AssociateAddress {allocation}"), |_, e| {
            machines::associate(e, region, allocation, instance).map_err(Into::into)
        })
    }

    /// The sandbox forwards for real to its database server (when it is
    /// real): this binary's `__forward` relays the local port to it.
    fn forward(
        &self,
        instance: &Instance,
        to: &crate::provider::session::ForwardTo,
    ) -> ProviderResult<crate::provider::session::SessionSpec> {
        let at = format!("a forward to {}", to.database);
        let server = to
            .container
            .as_deref()
            .and_then(|c| pg_real::server_of(&instance.id, c))
            .ok_or_else(|| {
                ProviderError::new(
                    &at,
                    format!(
                        "no database server of the sandbox answers for {}",
                        to.database
                    ),
                )
            })?;
        let ep = pg_real::ensure(&self.sandbox.dir, server.name).map_err(|e| {
            ProviderError::new(
                &at,
                format!(
                    "{e}: nothing listens to forward to ({})",
                    pg_real::INSTALL_HINT
                ),
            )
        })?;
        let exe = std::env::current_exe().map_err(|e| ProviderError::new(&at, e))?;
        let target = format!("127.0.0.1:{}", ep.port);
        Ok(crate::provider::session::SessionSpec {
            program: exe.display().to_string(),
            args: vec![
                "__forward".into(),
                to.local_port.to_string(),
                target.clone(),
            ],
            env: vec![],
            cwd: None,
            call: format!(
                "relay 127.0.0.1:{} to the sandbox's {} server ({target})",
                to.local_port, server.name
            ),
            banner: format!(
                "opsdeck: forwarding 127.0.0.1:{} to {} (the sandbox's {} server)",
                to.local_port, to.database, server.name
            ),
        })
    }

    fn session(
        &self,
        instance: &Instance,
        container: Option<&str>,
    ) -> ProviderResult<crate::provider::session::SessionSpec> {
        let at = format!("a shell on {}", instance.id);
        if !self.sandbox.host_root(&instance.id).is_dir() {
            return Err(ProviderError::new(at, "no such sandbox host"));
        }
        crate::provider::session::sandbox_shell(
            &instance.id,
            &self.sandbox.host_root(&instance.id),
            &self.sandbox.dir.join("bin"),
            container,
        )
        .map_err(|e| ProviderError::new(at, e))
    }
}

#[async_trait]
impl ObjectStore for SandboxCloud {
    async fn buckets(&self) -> ProviderResult<Vec<Bucket>> {
        Ok(self
            .sandbox
            .estate()?
            .buckets
            .into_iter()
            .map(|b| Bucket {
                name: b.name,
                region: b.region,
                versioning: b.versioning,
                encryption: b.encryption,
                public_access_block: b.public_access_block,
                lifecycle: b.lifecycle,
            })
            .collect())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> ProviderResult<Vec<ObjectEntry>> {
        let b = self.bucket(bucket)?;
        let mut prefixes = std::collections::BTreeSet::new();
        let mut objects = Vec::new();
        for o in &b.objects {
            let Some(rest) = o.key.strip_prefix(prefix) else {
                continue;
            };
            if let Some(i) = rest.find('/') {
                prefixes.insert(format!("{prefix}{}", &rest[..=i]));
                continue;
            }
            // A key whose current version is a delete marker is not listed.
            let Some(cur) = o.versions.last().filter(|v| !v.delete_marker) else {
                continue;
            };
            objects.push(ObjectEntry::Object {
                key: o.key.clone(),
                size: cur.size,
                storage_class: cur.storage_class.clone(),
                last_modified: cur.last_modified,
            });
        }
        Ok(prefixes
            .into_iter()
            .map(ObjectEntry::Prefix)
            .chain(objects)
            .collect())
    }

    async fn deleted(&self, bucket: &str, prefix: &str) -> ProviderResult<Vec<ObjectEntry>> {
        let b = self.bucket(bucket)?;
        Ok(b.objects
            .iter()
            .filter(|o| {
                o.key
                    .strip_prefix(prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .filter_map(|o| {
                let last = o.versions.last().filter(|v| v.delete_marker)?;
                Some(ObjectEntry::Deleted {
                    key: o.key.clone(),
                    deleted_at: last.last_modified,
                })
            })
            .collect())
    }

    async fn restore_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> ProviderResult<String> {
        let ctx = || format!("restoring s3://{bucket}/{key} to version {version_id}");
        let mut estate = self.sandbox.estate()?;
        let o = object_mut(&mut estate, bucket, key)
            .ok_or_else(|| ProviderError::new(ctx(), "NoSuchKey"))?;
        let old = o
            .versions
            .iter()
            .find(|v| v.version_id == version_id && !v.delete_marker)
            .cloned()
            .ok_or_else(|| ProviderError::new(ctx(), "NoSuchVersion (or it is a delete marker)"))?;
        let new_id = estate::version_id_for(&format!("{key}#restore#{}", o.versions.len()));
        o.versions.push(estate::SimVersion {
            version_id: new_id.clone(),
            last_modified: crate::clock::now(),
            ..old
        });
        self.sandbox.save_estate(&estate)?;
        Ok(new_id)
    }

    async fn undelete(&self, bucket: &str, key: &str) -> ProviderResult<String> {
        let ctx = || format!("undeleting s3://{bucket}/{key}");
        let mut estate = self.sandbox.estate()?;
        let o = object_mut(&mut estate, bucket, key)
            .ok_or_else(|| ProviderError::new(ctx(), "NoSuchKey"))?;
        if !o.versions.last().is_some_and(|v| v.delete_marker) {
            return Err(ProviderError::new(
                ctx(),
                "the key is not deleted (its latest version is not a delete marker)",
            ));
        }
        let marker = o.versions.pop().map(|v| v.version_id).unwrap_or_default();
        self.sandbox.save_estate(&estate)?;
        Ok(marker)
    }

    async fn download(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        to: &std::path::Path,
    ) -> ProviderResult<u64> {
        let ctx = || format!("downloading s3://{bucket}/{key} to {}", to.display());
        let versions = self.versions(bucket, key).await?;
        let v = match version_id {
            Some(id) => versions.iter().find(|v| v.version_id == id),
            None => versions.iter().find(|v| v.is_latest),
        }
        .filter(|v| !v.is_delete_marker)
        .ok_or_else(|| ProviderError::new(ctx(), "NoSuchVersion"))?;
        // The latest version of an object with content (real backups, what
        // `aws s3 sync` uploaded) is that content.
        if v.is_latest
            && let Some(data) = s3_content(&self.sandbox.dir, bucket, key).filter(|p| p.is_file())
        {
            return std::fs::copy(&data, to).map_err(|e| ProviderError::new(ctx(), e));
        }
        // Other objects have sizes but no contents: a labelled stand-in.
        let body = format!(
            "opsdeck sandbox object s3://{bucket}/{key} version {} ({} bytes in the estate)\n",
            v.version_id, v.size
        );
        std::fs::write(to, &body).map_err(|e| ProviderError::new(ctx(), e))?;
        Ok(body.len() as u64)
    }

    async fn versions(&self, bucket: &str, key: &str) -> ProviderResult<Vec<ObjectVersion>> {
        let b = self.bucket(bucket)?;
        let o =
            b.objects.iter().find(|o| o.key == key).ok_or_else(|| {
                ProviderError::not_found(format!("s3://{bucket}/{key}"), "NoSuchKey")
            })?;
        let n = o.versions.len();
        Ok(o.versions
            .iter()
            .enumerate()
            .rev()
            .map(|(i, v)| ObjectVersion {
                key: key.to_string(),
                version_id: v.version_id.clone(),
                is_latest: i + 1 == n,
                is_delete_marker: v.delete_marker,
                size: v.size,
                last_modified: v.last_modified,
            })
            .collect())
    }
}

/// Entry point of `opsdeck __docker-sim ARGS…` (the sandbox hosts' `docker`,
/// `curl` and `aws`); returns the exit code.
pub fn fake_binary_main(args: &[String]) -> i32 {
    // `curl` on sandbox hosts answers from the simulated estate.
    if args.first().map(String::as_str) == Some("curl") {
        let root = std::env::var_os("OPSDECK_ROOT").map(PathBuf::from);
        return curl_sim::curl(root.as_deref(), &args[1..]);
    }
    // `aws s3 sync` on sandbox hosts writes into the sandbox's buckets.
    if args.first().map(String::as_str) == Some("aws") {
        let root = std::env::var_os("OPSDECK_ROOT").map(PathBuf::from);
        return match aws_sim::aws(root.as_deref(), &args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("aws (simulated): {e}");
                1
            }
        };
    }
    // Host services (systemd) on sandbox hosts.
    if let Some(cmd @ ("systemctl" | "journalctl")) = args.first().map(String::as_str) {
        let Some(root) = std::env::var_os("OPSDECK_ROOT").map(PathBuf::from) else {
            eprintln!("{cmd} (simulated): OPSDECK_ROOT is not set (only sandbox hosts have it)");
            return 1;
        };
        let out = std::io::stdout();
        let mut out = out.lock();
        let r = if cmd == "systemctl" {
            systemd_sim::systemctl(&root, &args[1..], &mut out)
        } else {
            systemd_sim::journalctl(&root, &args[1..], &mut out)
        };
        return r.unwrap_or_else(|e| {
            eprintln!("{cmd} (simulated): {e}");
            1
        });
    }
    if std::env::var_os("OPSDECK_SIM_NO_DOCKER").is_some() {
        eprintln!("bash: docker: command not found");
        return 127;
    }
    let Some(root) = std::env::var_os("OPSDECK_ROOT").map(PathBuf::from) else {
        eprintln!(
            "opsdeck docker simulation: OPSDECK_ROOT is not set (only sandbox hosts have it)"
        );
        return 125;
    };
    let out = std::io::stdout();
    let mut out = out.lock();
    match docker_sim::run(&root, args, &mut out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("docker (simulated): {e}");
            1
        }
    }
}
