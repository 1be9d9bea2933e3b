//! Everyone's runs on Runs: the runs on the hosts that this console did
//! not start (another operator's, or this operator's from another
//! opsdeck), asked of the hosts while Runs is open. Enter follows one
//! read-only from its first byte; Ctrl-C on someone else's asks for its
//! target's name, and the cancel is journaled naming both.

use super::*;
use crate::ops::runs::HostRun;

/// How often Runs asks the hosts again while it is open.
const EVERY_SECONDS: i64 = 15;

impl App {
    /// Ask the hosts for everyone's runs (at most every 15 s unless
    /// `now`); nothing before the instances are known.
    pub(super) fn ask_host_runs(&mut self, now: bool) -> Vec<Effect> {
        let due = self
            .runs
            .host_runs_asked
            .is_none_or(|at| (self.now - at).num_seconds() >= EVERY_SECONDS);
        if !(now || due) || self.estate.instances.data.is_empty() {
            return vec![];
        }
        self.runs.host_runs_asked = Some(self.now);
        vec![Effect::LoadHostRuns(self.estate.instances.data.clone())]
    }

    pub(super) fn on_host_runs(
        &mut self,
        runs: Vec<HostRun>,
        warnings: Vec<String>,
    ) -> Vec<Effect> {
        for w in warnings {
            tracing::warn!("{w}");
        }
        for r in runs {
            match self.runs.all.iter_mut().find(|v| v.id == r.run.as_str()) {
                Some(v) => {
                    if let RunKind::Elsewhere { run, followed } = &mut v.kind {
                        if !*followed {
                            v.status = status_of(&r);
                        }
                        **run = r;
                    }
                    // One of this console's own: it knows it better.
                }
                None => self.runs.all.push(view_of(r)),
            }
        }
        self.runs.all.sort_by_key(|r| r.started_at);
        self.rebuild(Screen::Runs);
        vec![]
    }

    /// Enter on a run from elsewhere: follow it from its first byte (once).
    pub(super) fn follow_elsewhere(&mut self, key: &str) -> Vec<Effect> {
        let Some(v) = self.runs.all.iter_mut().find(|r| r.id == key) else {
            return vec![];
        };
        let RunKind::Elsewhere { followed, .. } = &mut v.kind else {
            return vec![];
        };
        if *followed {
            return vec![];
        }
        *followed = true;
        v.output = OutputBuffer::default();
        v.status = RunStatus::Running;
        v.finished_at = None;
        vec![Effect::FollowTarget {
            id: v.id.clone(),
            host: v.host.clone(),
        }]
    }

    /// Ctrl-C on a run from elsewhere: someone else's needs its target's
    /// name typed; either way the cancel is journaled.
    pub(super) fn confirm_cancel_elsewhere(&mut self, r: HostRun) -> Vec<Effect> {
        let production = self.ctx.production
            || self
                .estate
                .instances
                .data
                .iter()
                .any(|i| i.id == r.host && i.is_production());
        let mut lines = vec![
            format!("run       {}", r.run),
            format!("owner     {}", r.owner),
            format!("runbook   {}", r.runbook),
            format!("target    {} on {}", r.target, r.host_name),
            format!("since     {}", r.since.format("%Y-%m-%d %H:%M:%S UTC")),
            "its process group on the host is killed; it ends as cancelled".into(),
        ];
        if !r.mine {
            lines.push(format!(
                "it is {}'s run: the cancel is journaled under your name and theirs",
                r.owner
            ));
        }
        self.ask(ActionConfirm {
            title: format!("cancel {}", r.describe()),
            lines,
            production,
            confirm_with: (!r.mine || production).then(|| r.target.clone()),
            typed: confirm::Typed::default(),
            effect: Effect::CancelElsewhere {
                run: Box::new(r),
                production,
            },
        })
    }
}

fn status_of(r: &HostRun) -> RunStatus {
    match r.outcome {
        None => RunStatus::Running,
        Some(o) => RunStatus::ended(o, r.exit_code, None),
    }
}

fn view_of(r: HostRun) -> RunView {
    let title = if r.mine {
        format!("yours: {} on {}", r.runbook, r.target)
    } else {
        format!("{}'s {} on {}", r.owner, r.runbook, r.target)
    };
    RunView {
        id: r.run.clone().into(),
        title,
        runbook: r.runbook.clone(),
        host: r.host.clone(),
        production: false,
        started_at: r.since,
        finished_at: None,
        status: status_of(&r),
        output: OutputBuffer::default(),
        kind: RunKind::Elsewhere {
            run: Box::new(r),
            followed: false,
        },
    }
}
