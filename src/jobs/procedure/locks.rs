//! A procedure's locks: its target's host may be gone (a recovery's lost
//! instance), so they live in the provider's lock store
//! ([`crate::provider::run_locks`]) rather than on the host. Taken before
//! the first step, renewed while it runs, released at its end however it
//! ends; a lock left unrenewed past the lease (its opsdeck killed, its
//! laptop gone) is taken over by the next run, which says so. Every lock
//! is held alone here: the store has no shared mode, and the only
//! procedures today hold their instance exclusively anyway.

use crate::jobs::locks::{HolderRecord, JobLocks, Locked};
use crate::provider::CloudInventory;
use crate::provider::run_locks::{LockStore, Take, lease};
use std::sync::Arc;

/// What taking a procedure's locks came to.
pub(super) enum Taking {
    /// All of them held; what to say about stale ones taken over.
    Took(Held, Vec<String>),
    /// Not locked at all: why (said in the output).
    Unlocked(String),
    /// One is held by another run: nothing was done (the rest released).
    Refused(Locked),
    /// The store could not be asked: nothing was done.
    Failed(String),
}

/// Locks held by a running procedure.
pub(super) struct Held {
    store: Arc<dyn LockStore>,
    /// (name, tag) of each.
    taken: Vec<(String, String)>,
    renewing: tokio::task::JoinHandle<()>,
}

pub(super) async fn take(cloud: &dyn CloudInventory, locks: &JobLocks) -> Taking {
    if locks.keys.is_empty() {
        return Taking::Unlocked(String::new());
    }
    let Some(store) = cloud.run_locks() else {
        return Taking::Unlocked(format!(
            "==> opsdeck: not locked across operators: this context has no `locks_bucket` to keep the locks of a run without a host ({}); set one in its [[context]]",
            names(locks)
        ));
    };
    let record = match serde_json::to_vec(&locks.holder) {
        Ok(r) => r,
        Err(e) => return Taking::Failed(format!("the lock record: {e}")),
    };
    let mut taken: Vec<(String, String)> = Vec::new();
    let mut said = Vec::new();
    for key in &locks.keys {
        let name = key.name().to_string();
        let got = match take_one(store.as_ref(), &name, &record).await {
            Ok(g) => g,
            Err(e) => {
                release_all(store.as_ref(), &taken).await;
                return Taking::Failed(e);
            }
        };
        match got {
            One::Took(tag, note) => {
                said.extend(note);
                taken.push((name, tag));
            }
            One::Held(holder) => {
                release_all(store.as_ref(), &taken).await;
                return Taking::Refused(Locked {
                    host: store.place(),
                    key: name,
                    holders: vec![holder],
                });
            }
        }
    }
    let renewing = tokio::spawn(renew(store.clone(), record, taken.clone()));
    Taking::Took(
        Held {
            store,
            taken,
            renewing,
        },
        said,
    )
}

enum One {
    Took(String, Option<String>),
    Held(HolderRecord),
}

/// Take lock `name`, or take it over when its holder stopped renewing it.
/// A record opsdeck cannot read, or one from a newer opsdeck, is never
/// taken for free, stale or not.
async fn take_one(store: &dyn LockStore, name: &str, record: &[u8]) -> Result<One, String> {
    let found = store.take(name, record).await.map_err(|e| e.to_string())?;
    let (bytes, tag, age) = match found {
        Take::Took { tag } => return Ok(One::Took(tag, None)),
        Take::Held { record, tag, age } => (record, tag, age),
    };
    let holder = HolderRecord::read(name, &bytes);
    let stale = age.filter(|a| *a > lease());
    let (HolderRecord::Known(h), Some(age)) = (&holder, stale) else {
        return Ok(One::Held(holder));
    };
    match store
        .take_over(name, record, &tag)
        .await
        .map_err(|e| e.to_string())?
    {
        Take::Took { tag } => Ok(One::Took(
            tag,
            Some(format!(
                "==> opsdeck: took over a stale lock: {name} was held by run {} ({}, {}), not renewed for {} s (its opsdeck stopped without its cleanup)",
                h.run,
                h.who,
                h.runbook,
                age.as_secs()
            )),
        )),
        Take::Held { record, .. } => Ok(One::Held(HolderRecord::read(name, &record))),
    }
}

/// Every fifth of the lease, rewrite each lock so it never looks stale.
async fn renew(store: Arc<dyn LockStore>, record: Vec<u8>, taken: Vec<(String, String)>) {
    let every = lease() / 5;
    loop {
        tokio::time::sleep(every).await;
        for (name, tag) in &taken {
            match store.renew(name, &record, tag).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(lock = %name, "the lock is no longer this run's"),
                Err(e) => tracing::warn!(lock = %name, "renewing the lock: {e}"),
            }
        }
    }
}

async fn release_all(store: &dyn LockStore, taken: &[(String, String)]) {
    for (name, tag) in taken {
        if let Err(e) = store.release(name, tag).await {
            tracing::warn!(lock = %name, "releasing the lock: {e}");
        }
    }
}

impl Held {
    /// The run ended: stop renewing and remove what is still ours.
    pub(super) async fn release(self) {
        self.renewing.abort();
        release_all(self.store.as_ref(), &self.taken).await;
    }
}

fn names(locks: &JobLocks) -> String {
    locks
        .keys
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
