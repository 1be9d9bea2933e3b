//! Changes that are not scripts — start or stop an instance, restore or
//! undelete an S3 object version — and downloads that read data out: each
//! is journaled like a run (who, when, context, target, the API call and
//! its arguments, the outcome) before and after it is made, so History and
//! `opsdeck history` show them beside the runbooks. No journal, no change.

use super::{Providers, RunId};
use crate::runbook::Danger;
use crate::store::journal::{Finished, Record, RunOutcome, Started};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// One change or download, as the operator confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    SetRunning {
        id: String,
        running: bool,
    },
    RestoreVersion {
        bucket: String,
        key: String,
        version_id: String,
    },
    Undelete {
        bucket: String,
        key: String,
    },
    Download {
        bucket: String,
        key: String,
        version_id: Option<String>,
        /// The local file it is saved to.
        to: PathBuf,
    },
    /// A shell on an instance (or in a container on it): the terminal is
    /// handed over ([`crate::provider::session`]); journaled from start to
    /// end like the rest, but not made by [`perform`] (see [`begin`]).
    Session {
        instance: String,
        /// What the operator knows it by (Name (id)).
        label: String,
        container: Option<String>,
        /// The program called, in one line.
        call: String,
    },
    /// A local port forwarded to a database through an instance, until
    /// it is ended (journaled from start to end like a session).
    Forward {
        instance: String,
        label: String,
        database: String,
        local_port: u16,
        call: String,
    },
    /// Cancel a run someone else started (its job's process group on its
    /// host is killed): journaled under this operator, naming the owner.
    CancelRun {
        /// The instance id.
        host: String,
        run: String,
        owner: String,
        runbook: String,
        target: String,
    },
    /// Remove the lock records on `host` that no run holds (left by a run
    /// killed without its cleanup, unreadable, or from a newer opsdeck).
    Unlock {
        host: String,
        /// The target, as the operator named it.
        target: String,
        /// The lock names (checked).
        locks: Vec<String>,
        /// The records shown to the operator before (descriptions).
        shown: Vec<String>,
    },
}

/// What a journaled change says of itself.
struct About {
    /// Its name in the journal's runbook column.
    name: &'static str,
    title: String,
    target_kind: &'static str,
    target: String,
    /// The host column: the instance, or the bucket.
    host: String,
    danger: Danger,
    /// The API call and its arguments, in one line.
    call: String,
    params: Vec<(String, String)>,
}

impl Change {
    fn about(&self) -> About {
        let object = |bucket: &str, key: &str| format!("s3://{bucket}/{key}");
        match self {
            Change::SetRunning { id, running } => {
                let (name, verb, api) = if *running {
                    ("instance-start", "start", "StartInstances")
                } else {
                    ("instance-stop", "stop", "StopInstances")
                };
                About {
                    name,
                    title: format!("{verb} {id}"),
                    target_kind: "instance",
                    target: id.clone(),
                    host: id.clone(),
                    danger: Danger::Change,
                    call: format!("ec2 {api} InstanceIds=[{id}]"),
                    params: vec![("instance".into(), id.clone())],
                }
            }
            Change::RestoreVersion {
                bucket,
                key,
                version_id,
            } => About {
                name: "s3-restore-version",
                title: format!("restore {} to version {version_id}", object(bucket, key)),
                target_kind: "object",
                target: object(bucket, key),
                host: format!("s3://{bucket}"),
                danger: Danger::Change,
                call: format!(
                    "s3 CopyObject Bucket={bucket} Key={key} CopySource={bucket}/{key}?versionId={version_id}"
                ),
                params: vec![
                    ("bucket".into(), bucket.clone()),
                    ("key".into(), key.clone()),
                    ("version_id".into(), version_id.clone()),
                ],
            },
            Change::Undelete { bucket, key } => About {
                name: "s3-undelete",
                title: format!("undelete {}", object(bucket, key)),
                target_kind: "object",
                target: object(bucket, key),
                host: format!("s3://{bucket}"),
                danger: Danger::Change,
                call: format!(
                    "s3 DeleteObject Bucket={bucket} Key={key} VersionId=<the delete marker on top>"
                ),
                params: vec![
                    ("bucket".into(), bucket.clone()),
                    ("key".into(), key.clone()),
                ],
            },
            Change::Download {
                bucket,
                key,
                version_id,
                to,
            } => {
                let mut params = vec![
                    ("bucket".into(), bucket.clone()),
                    ("key".into(), key.clone()),
                ];
                let mut call = format!("s3 GetObject Bucket={bucket} Key={key}");
                if let Some(v) = version_id {
                    params.push(("version_id".into(), v.clone()));
                    call.push_str(&format!(" VersionId={v}"));
                }
                params.push(("to".into(), to.display().to_string()));
                About {
                    name: "s3-download",
                    title: format!("download {}", object(bucket, key)),
                    target_kind: "object",
                    target: object(bucket, key),
                    host: format!("s3://{bucket}"),
                    danger: Danger::Read,
                    call,
                    params,
                }
            }
            Change::Forward {
                instance,
                label,
                database,
                local_port,
                call,
            } => About {
                name: "forward",
                title: format!("forward 127.0.0.1:{local_port} to {database} on {label}"),
                target_kind: "database",
                target: database.clone(),
                host: instance.clone(),
                // Reads and writes go through it as through any client.
                danger: Danger::Change,
                call: call.clone(),
                params: vec![
                    ("database".into(), database.clone()),
                    ("local_port".into(), local_port.to_string()),
                ],
            },
            Change::CancelRun {
                host,
                run,
                owner,
                runbook,
                target,
            } => about_cancel(host, run, owner, runbook, target),
            Change::Unlock {
                host,
                target,
                locks,
                shown,
            } => about_unlock(host, target, locks, shown),
            Change::Session {
                instance,
                label,
                container,
                call,
            } => {
                let mut params = vec![("instance".into(), instance.clone())];
                if let Some(c) = container {
                    params.push(("container".into(), c.clone()));
                }
                About {
                    name: "shell",
                    title: match container {
                        Some(c) => format!("shell in {c} on {label}"),
                        None => format!("shell on {label}"),
                    },
                    target_kind: if container.is_some() {
                        "container"
                    } else {
                        "instance"
                    },
                    target: container.clone().unwrap_or_else(|| label.clone()),
                    host: instance.clone(),
                    // A shell can change anything.
                    danger: Danger::Destructive,
                    call: call.clone(),
                    params,
                }
            }
        }
    }

    /// Its title, as the console's notices and History show it.
    pub fn title(&self) -> String {
        self.about().title
    }
}

fn about_cancel(host: &str, run: &str, owner: &str, runbook: &str, target: &str) -> About {
    About {
        name: "cancel-run",
        title: format!("cancel {owner}'s run {run} (`{runbook}` on {target})"),
        target_kind: "run",
        target: target.to_string(),
        host: host.to_string(),
        danger: Danger::Destructive,
        call: format!("kill the process group of job {run} on {host} (TERM, then KILL)"),
        params: vec![
            ("run".into(), run.to_string()),
            ("owner".into(), owner.to_string()),
            ("runbook".into(), runbook.to_string()),
        ],
    }
}

fn about_unlock(host: &str, target: &str, locks: &[String], shown: &[String]) -> About {
    About {
        name: "unlock",
        title: format!("unlock {target} on {host}"),
        target_kind: "lock",
        target: target.to_string(),
        host: host.to_string(),
        danger: Danger::Destructive,
        call: format!(
            "remove the records beside {} that no run holds (each while holding its lock)",
            locks.join(", ")
        ),
        params: std::iter::once(("locks".to_string(), locks.join(" ")))
            .chain(shown.iter().map(|s| ("record".to_string(), s.clone())))
            .collect(),
    }
}

/// Tells apart the changes one process journals in the same second.
static SEQ: AtomicU32 = AtomicU32::new(0);

message_error!(
    /// Why a change was refused or failed, as the operator reads it.
    ActionError
);

/// A change whose start is journaled: [`end`] journals its outcome.
pub struct Begun {
    id: crate::jobs::names::RunId,
    about: About,
    started_at: chrono::DateTime<chrono::Utc>,
    /// Held until the end is recorded: a record nobody holds after its
    /// opsdeck stopped is closed as lost ([`crate::store::journal::Journal::close_orphans`]).
    _follow: Option<std::fs::File>,
}

impl Begun {
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Journal the start of `change` (who, when, target, the call); a change
/// whose start cannot be journaled must not be made.
pub fn begin(p: &Providers, change: &Change, production: bool) -> Result<Begun, ActionError> {
    begin_as(p, change, production, None)
}

/// [`begin`], under `id` when the caller named the run already (a
/// forward shown on Runs before it starts).
pub fn begin_as(
    p: &Providers,
    change: &Change,
    production: bool,
    id: Option<String>,
) -> Result<Begun, ActionError> {
    let about = change.about();
    let started_at = crate::clock::now();
    let id = id.unwrap_or_else(|| {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed) + 1;
        RunId::new(
            started_at,
            about.name,
            &format!("{seq:03}-{}", super::process_tag()),
        )
        .into_string()
    });
    let start = Started {
        run: id.clone().into(),
        at: started_at,
        operator: p.operator.clone(),
        runbook: about.name.into(),
        title: about.title.clone(),
        danger: about.danger,
        production,
        params: about.params.clone(),
        digest: crate::runbook::sha256_hex(&about.call),
        target: about.target.clone(),
        target_kind: about.target_kind.into(),
        host: about.host.clone(),
        // Not a job on a host: nothing to reattach to.
        job: String::new(),
        on_failure: "none".into(),
    };
    let mut follow = None;
    p.journal
        .prepare_run(&id, &format!("# {}\n{}\n", about.title, about.call))
        .and_then(|()| {
            // Taken before the start is written: never an unheld open record.
            follow = p.journal.follow(&id)?;
            p.journal.append(&Record::Start(Box::new(start)))
        })
        .map_err(|e| {
            format!(
                "not done: cannot write the journal in {}: {e}",
                p.journal.root().display()
            )
        })?;
    tracing::info!(action = %about.title, call = %about.call, "change");
    Ok(Begun {
        id: id.into(),
        about,
        started_at,
        _follow: follow,
    })
}

/// Journal, make and journal the outcome of `change`. The answer is what
/// it did in words, or why it failed.
pub async fn perform(
    p: &Providers,
    change: &Change,
    production: bool,
) -> Result<String, ActionError> {
    let begun = begin(p, change, production)?;

    let result = match change {
        Change::SetRunning { id, running } => p
            .cloud
            .set_running(id, *running)
            .await
            .map(|s| format!("now {s}")),
        Change::RestoreVersion {
            bucket,
            key,
            version_id,
        } => p
            .store
            .restore_version(bucket, key, version_id)
            .await
            .map(|v| format!("current version is now {v}")),
        Change::Undelete { bucket, key } => p
            .store
            .undelete(bucket, key)
            .await
            .map(|m| format!("delete marker {m} removed")),
        Change::Download {
            bucket,
            key,
            version_id,
            to,
        } => p
            .store
            .download(bucket, key, version_id.as_deref(), to)
            .await
            .map(|n| format!("{n} bytes saved to {}", to.display())),
        Change::CancelRun { host, run, .. } => {
            let r = crate::jobs::protocol::RunProtocol::new(p.transport.clone())
                .cancel(host, run)
                .await
                .map(|()| "its process group was killed; it ends as cancelled".to_string())
                .map_err(|e| e.to_string());
            return end(p, begun, r, None);
        }
        Change::Unlock { host, locks, .. } => {
            let r = crate::jobs::protocol::RunProtocol::new(p.transport.clone())
                .unlock(host, locks)
                .await
                .map_err(|e| e.to_string())
                .and_then(|u| {
                    let removed: Vec<String> = u
                        .removed
                        .iter()
                        .map(|(n, r)| format!("{n} ({r})"))
                        .collect();
                    let busy = u.busy.join(", ");
                    if removed.is_empty() && !busy.is_empty() {
                        Err(format!(
                            "still held by a running run: {busy} (cancel the run instead)"
                        ))
                    } else if removed.is_empty() {
                        Ok("no record was left to remove".into())
                    } else if busy.is_empty() {
                        Ok(format!("removed {}", removed.join(", ")))
                    } else {
                        Ok(format!(
                            "removed {}; still held by a running run: {busy}",
                            removed.join(", ")
                        ))
                    }
                });
            return end(p, begun, r, None);
        }
        Change::Session { .. } | Change::Forward { .. } => {
            return end(
                p,
                begun,
                Err("a session runs in the terminal, not here".into()),
                None,
            );
        }
    }
    .map_err(|e| e.to_string());
    end(p, begun, result, None)
}

/// Journal how a begun change ended (`exit_code` for a session).
pub fn end(
    p: &Providers,
    begun: Begun,
    result: Result<String, String>,
    exit_code: Option<i32>,
) -> Result<String, ActionError> {
    let Begun {
        id,
        about,
        started_at,
        _follow,
    } = begun;
    let finished_at = crate::clock::now();
    let (status, text) = match &result {
        Ok(detail) => (RunOutcome::Succeeded, detail.clone()),
        Err(e) => (RunOutcome::Error, e.clone()),
    };
    let output = crate::store::mask::mask_text(&format!(
        "==> {}\n{}\n==> {status}: {text}\n",
        about.title, about.call
    ));
    let finish = Finished {
        run: id.clone(),
        at: finished_at,
        status,
        exit_code,
        result: result.as_ref().ok().cloned(),
        error: result.as_ref().err().cloned(),
        duration_ms: (finished_at - started_at).num_milliseconds(),
        reattached: false,
        report: Default::default(),
    };
    // The change is made: a journal that fails now is said, not hidden.
    let written =
        crate::store::journal::write_private(&p.journal.output_path(&id), output.as_bytes())
            .and_then(|()| p.journal.append(&Record::Finish(finish)));
    match (result, written) {
        (r, Ok(())) => r.map_err(ActionError),
        (Ok(detail), Err(e)) => {
            Err(format!("{detail}, but its outcome could not be journaled: {e}").into())
        }
        (Err(e), Err(_)) => Err(ActionError(e)),
    }
}
