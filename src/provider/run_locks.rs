//! Locks for the runs that have no host to hold them: the cloud steps of
//! `recover-instance`, whose lost instance cannot keep a lock. Each lock is
//! one object written only if absent (S3's `If-None-Match: *`, as
//! Terraform's S3 backend writes its lock file), holding the same holder
//! record as a host's lock. A holder renews its object while it runs (a
//! write with `If-Match` on its tag); one left unrenewed past the lease is
//! stale, and the next run takes it over with `If-Match` on the stale tag,
//! so of two runs taking over at once only one wins. The end of a run
//! deletes its object with `If-Match`, so it never removes another's.
//!
//! On AWS the objects live in the context's `locks_bucket` under
//! `opsdeck/locks/`; on the sandbox, files in its directory, each change
//! made under an exclusive file lock (the same atomic answers).

use super::ProviderResult;
use async_trait::async_trait;
use std::path::PathBuf;
use std::time::Duration;

/// What an attempt to take a lock found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// Written: ours, with this tag.
    Took { tag: String },
    /// Someone's object is there: its bytes, its tag, and how long ago it
    /// was last written (renewed), when the store says.
    Held {
        record: Vec<u8>,
        tag: String,
        age: Option<Duration>,
    },
}

#[async_trait]
pub trait LockStore: Send + Sync {
    /// Where the locks live, as said to the user (`s3://B/opsdeck/locks`).
    fn place(&self) -> String;
    /// Write `record` as lock `name` unless one is there.
    async fn take(&self, name: &str, record: &[u8]) -> ProviderResult<Take>;
    /// Write `record` as lock `name` only if its tag is still `stale`.
    async fn take_over(&self, name: &str, record: &[u8], stale: &str) -> ProviderResult<Take>;
    /// Rewrite our lock (its tag `tag`) so it is not stale; false when it
    /// is no longer ours.
    async fn renew(&self, name: &str, record: &[u8], tag: &str) -> ProviderResult<bool>;
    /// Remove our lock (its tag `tag`); false when it is no longer ours.
    async fn release(&self, name: &str, tag: &str) -> ProviderResult<bool>;
}

/// How long a lock lives unrenewed before the next run may take it over
/// (`OPSDECK_CLOUD_LEASE_SECS`, default 5 minutes); a holder renews it
/// every fifth of that.
pub fn lease() -> Duration {
    let secs = std::env::var("OPSDECK_CLOUD_LEASE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(300);
    Duration::from_secs(secs)
}

/// The sandbox's lock store: `<sandbox>/cloud-locks/<name>.json`.
pub struct DirLocks {
    dir: PathBuf,
}

impl DirLocks {
    pub fn new(dir: PathBuf) -> DirLocks {
        DirLocks { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// `f` under the store's exclusive lock (every change is atomic, as
    /// S3's conditional writes are).
    fn locked<T>(&self, f: impl FnOnce() -> std::io::Result<T>) -> ProviderResult<T> {
        let fail = |e: std::io::Error| {
            super::ProviderError::new(format!("the lock store {}", self.place()), e.to_string())
        };
        std::fs::create_dir_all(&self.dir).map_err(fail)?;
        let guard = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".guard"))
            .map_err(fail)?;
        guard.lock().map_err(fail)?;
        let out = f().map_err(fail);
        let _ = guard.unlock();
        out
    }

    /// The lock's bytes, tag and age, if it is there.
    fn read(&self, name: &str) -> std::io::Result<Option<Found>> {
        match std::fs::read(self.path(name)) {
            Ok(bytes) => {
                let age = std::fs::metadata(self.path(name))
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                let tag = tag_of(&bytes);
                Ok(Some(Found {
                    record: bytes,
                    tag,
                    age,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write(&self, name: &str, record: &[u8]) -> std::io::Result<String> {
        std::fs::write(self.path(name), record)?;
        Ok(tag_of(record))
    }
}

/// A content tag, as S3's ETag of a single-part object is its MD5.
fn tag_of(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// A lock as [`DirLocks`] found it.
struct Found {
    record: Vec<u8>,
    tag: String,
    age: Option<Duration>,
}

fn held(f: Found) -> Take {
    Take::Held {
        record: f.record,
        tag: f.tag,
        age: f.age,
    }
}

#[async_trait]
impl LockStore for DirLocks {
    fn place(&self) -> String {
        "the sandbox's lock store".into()
    }

    async fn take(&self, name: &str, record: &[u8]) -> ProviderResult<Take> {
        self.locked(|| match self.read(name)? {
            Some(found) => Ok(held(found)),
            None => Ok(Take::Took {
                tag: self.write(name, record)?,
            }),
        })
    }

    async fn take_over(&self, name: &str, record: &[u8], stale: &str) -> ProviderResult<Take> {
        self.locked(|| match self.read(name)? {
            Some(found) if found.tag != stale => Ok(held(found)),
            _ => Ok(Take::Took {
                tag: self.write(name, record)?,
            }),
        })
    }

    async fn renew(&self, name: &str, record: &[u8], tag: &str) -> ProviderResult<bool> {
        self.locked(|| match self.read(name)? {
            Some(f) if f.tag == tag => {
                self.write(name, record)?;
                Ok(true)
            }
            _ => Ok(false),
        })
    }

    async fn release(&self, name: &str, tag: &str) -> ProviderResult<bool> {
        self.locked(|| match self.read(name)? {
            Some(f) if f.tag == tag => {
                std::fs::remove_file(self.path(name))?;
                Ok(true)
            }
            _ => Ok(false),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_taker_wins_a_stale_lock_is_taken_over_once_and_release_is_ours_only() {
        let tmp = tempfile::tempdir().unwrap();
        let s = DirLocks::new(tmp.path().join("locks"));
        let Take::Took { tag: a } = s.take("host-i-1", b"alice").await.unwrap() else {
            panic!("the first take must win");
        };
        let Take::Held { record, tag, .. } = s.take("host-i-1", b"bob").await.unwrap() else {
            panic!("the second take must find alice's");
        };
        assert_eq!(record, b"alice");
        assert_eq!(tag, a);
        // Two take over the same stale tag: one wins.
        let first = s.take_over("host-i-1", b"bob", &a).await.unwrap();
        let second = s.take_over("host-i-1", b"carol", &a).await.unwrap();
        let Take::Took { tag: b } = first else {
            panic!("bob takes it over");
        };
        assert!(matches!(second, Take::Held { ref record, .. } if record == b"bob"));
        // Alice's end neither renews nor removes bob's lock.
        assert!(!s.renew("host-i-1", b"alice", &a).await.unwrap());
        assert!(!s.release("host-i-1", &a).await.unwrap());
        assert!(s.renew("host-i-1", b"bob", &b).await.unwrap());
        assert!(s.release("host-i-1", &b).await.unwrap());
        assert!(matches!(
            s.take("host-i-1", b"dave").await.unwrap(),
            Take::Took { .. }
        ));
    }
}
