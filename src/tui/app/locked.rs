//! A start refused because another run holds a lock: the dialog names the
//! holder (who, which runbook, since when, its run) with "follow it" and
//! "wait" one key away. Waiting asks the host every 2 s (taking nothing)
//! while the dialog stays open; once the lock is free the run starts as
//! it was previewed and confirmed. Esc stops waiting.

use super::*;
use crate::jobs::locks::{HolderRecord, Locked};
use crate::ops::runs::HostRun;
use crate::runbook::RenderedRun;

/// The refused run, and what holds it back.
#[derive(Debug, Clone)]
pub struct LockedDialog {
    /// The refused run, ready to start again as confirmed.
    pub run: Box<RenderedRun>,
    pub locked: Locked,
    /// Waiting since, and for which wait (a stale answer is dropped).
    pub waiting: Option<(DateTime<Utc>, u64)>,
}

impl LockedDialog {
    /// The holder's run, when its record names one on a host to follow
    /// (a procedure's lock lives in the lock store: nothing to tail).
    fn followable(&self) -> Option<&crate::jobs::locks::Holder> {
        if self.run.procedure.is_some() {
            return None;
        }
        self.locked.holders.iter().find_map(|h| match h {
            HolderRecord::Known(h) => Some(h),
            _ => None,
        })
    }

    pub fn key(&mut self, key: KeyEvent) -> dialogs::Next {
        use dialogs::{Ask, Next};
        match key.code {
            KeyCode::Esc if self.waiting.is_some() => Next::Ask(Ask::StopWaiting),
            KeyCode::Esc => Next::Close(Some((
                Level::Info,
                format!("{}: not started", self.run.title),
            ))),
            KeyCode::Char('f') if self.followable().is_some() => Next::Ask(Ask::FollowHolder),
            KeyCode::Char('f') => Next::Say(
                Level::Warn,
                "its holder cannot be followed from here (no run on a host is named)".into(),
            ),
            KeyCode::Char('w') if self.waiting.is_none() => Next::Ask(Ask::WaitForLocks),
            _ => Next::Stay,
        }
    }

    /// The dialog's text, and its keys on the last line.
    pub fn text(&self, now: DateTime<Utc>) -> String {
        let mut lines = vec![
            format!("{} was not started:", self.run.title),
            format!("{} is held", self.locked.key),
            format!("in {}", self.locked.host),
            String::new(),
        ];
        for h in &self.locked.holders {
            match h {
                HolderRecord::Known(h) => {
                    lines.push(format!("by      {}", h.who));
                    lines.push(format!("runbook {} on {}", h.runbook, h.target));
                    lines.push(format!(
                        "since   {} ({} ago)",
                        h.since.format("%Y-%m-%d %H:%M:%S UTC"),
                        ago(now, h.since)
                    ));
                    lines.push(format!("run     {}", h.run));
                }
                other => lines.push(other.describe()),
            }
        }
        if self.locked.holders.is_empty() {
            lines.push("by a run that is starting or ending (no holder record yet)".into());
        }
        lines.push(String::new());
        if let Some((since, _)) = self.waiting {
            lines.push(format!(
                "waiting {}: asked every 2 s; it starts once the lock is free",
                ago(now, since)
            ));
        }
        let mut keys = Vec::new();
        if self.followable().is_some() {
            keys.push("f = follow it");
        }
        if self.waiting.is_none() {
            keys.push("w = wait, then start");
            keys.push("Esc = leave it");
        } else {
            keys.push("Esc = stop waiting");
        }
        lines.push(keys.join("   "));
        lines.join("\n")
    }
}

fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let s = (now - then).num_seconds().max(0);
    if s < 120 {
        format!("{s} s")
    } else {
        format!("{} min", s / 60)
    }
}

impl App {
    /// A run this console started was refused by a lock: ask what to do,
    /// unless another dialog is open (the notice names the holder then).
    pub(super) fn on_refused(&mut self, id: &str, locked: Locked) {
        let Some(run) = self.runs.rendered.remove(id) else {
            return;
        };
        if matches!(self.mode, Mode::Normal) {
            self.mode = Mode::Locked(LockedDialog {
                run,
                locked,
                waiting: None,
            });
        }
    }

    /// `f`: follow the holder's run from its first byte, read-only.
    pub(super) fn follow_holder(&mut self, d: LockedDialog) -> Vec<Effect> {
        let Some(h) = d.followable().cloned() else {
            return vec![];
        };
        let host = d.run.host.clone();
        if !self.runs.all.iter().any(|r| r.id == h.run.as_str()) {
            let host_name = self
                .host_names()
                .get(&host)
                .cloned()
                .unwrap_or_else(|| host.clone());
            // The host's own listing says whether it is this operator's
            // (asked again while Runs shows); until then: someone else's,
            // so a cancel asks for the name.
            let mine = false;
            self.on_host_runs(
                vec![HostRun {
                    run: h.run.clone(),
                    host: host.clone(),
                    host_name,
                    owner: h.who.clone(),
                    identity: h.identity.clone(),
                    runbook: h.runbook.clone(),
                    target: h.target.clone(),
                    since: h.since,
                    outcome: None,
                    exit_code: None,
                    log_bytes: 0,
                    mine,
                }],
                vec![],
            );
        }
        let mut fx = self.follow_elsewhere(&h.run);
        if self.runs.all.iter().any(|r| r.id == h.run.as_str()) {
            self.nav.pane.show(h.run.into(), true);
            self.go(Screen::RunOutput, true);
        } else {
            fx.clear();
        }
        fx
    }

    /// `w`: wait for the locks, the dialog open.
    pub(super) fn wait_for_locks(&mut self) -> Vec<Effect> {
        let Mode::Locked(d) = &mut self.mode else {
            return vec![];
        };
        self.runs.waits += 1;
        let wait = self.runs.waits;
        d.waiting = Some((self.now, wait));
        vec![Effect::WaitForLocks {
            wait,
            run: d.run.clone(),
        }]
    }

    /// The wait's answer: free (start the run as confirmed), or why it
    /// stopped. An answer for a wait given up is dropped.
    pub(super) fn on_locks_free(&mut self, wait: u64, failed: Option<String>) -> Vec<Effect> {
        let ours =
            matches!(&self.mode, Mode::Locked(d) if d.waiting.is_some_and(|(_, w)| w == wait));
        if !ours {
            return vec![];
        }
        let Mode::Locked(d) = std::mem::replace(&mut self.mode, Mode::Normal) else {
            return vec![];
        };
        match failed {
            Some(why) => {
                self.notify(Level::Error, format!("{}: not started: {why}", d.run.title));
                vec![]
            }
            None => self.start_run(*d.run),
        }
    }
}
