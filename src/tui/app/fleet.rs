//! Fleet runs in the console: instances marked on Instances (space, `*`)
//! or named by a tag (`:run NAME tag:KEY=VALUE`), the runbook's form filled
//! once, one confirmation that lists every target with the guard's
//! decision (typed: the tag, or the number of targets, when a target is
//! production or the runbook destructive), then a row per target on Runs,
//! each with its status, exit and complete output, and a summary line; `e`
//! keeps only what did not succeed. No IO here: the plan goes out as an
//! effect; the effects runner journals it and drives the engine.

use super::*;
use crate::jobs::fleet::{FleetCounts, FleetEvent, TargetEnd};
use crate::runbook::Target;
use crate::runbook::spec::TargetKind;

/// The instances a form is filled for, once for all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSelection {
    pub ids: Vec<String>,
    pub tag: Option<(String, String)>,
}

/// One fleet run as the console follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetView {
    pub id: RunId,
    pub runbook: String,
    pub selection: String,
    /// Targets sent to (the others were refused).
    pub targets: usize,
    pub refused: usize,
    /// SSM's counts while it runs.
    pub counts: FleetCounts,
    /// How each target ended, by instance id.
    pub ended: BTreeMap<String, TargetEnd>,
    /// Targets whose job is tailed live (opened while they ran).
    pub followed: std::collections::BTreeSet<String>,
}

impl FleetView {
    /// `deploy on tag:Env=prod: 3 succeeded · 1 failed · 1 running · 1 refused · 0 not started`
    pub fn summary(&self) -> String {
        let count = |f: &dyn Fn(&TargetEnd) -> bool| self.ended.values().filter(|e| f(e)).count();
        let succeeded = count(&|e| *e == TargetEnd::Succeeded);
        let failed = count(&|e| e.is_error());
        let not_started = count(&|e| *e == TargetEnd::NotStarted);
        let cancelled = count(&|e| *e == TargetEnd::Cancelled);
        let running = self.targets - self.ended.len();
        let mut s = format!(
            "fleet {} on {}: {succeeded} succeeded · {failed} failed · {running} running · {} refused · {not_started} not started",
            self.runbook, self.selection, self.refused
        );
        if cancelled > 0 {
            s.push_str(&format!(" · {cancelled} cancelled"));
        }
        if running > 0 {
            s.push_str(&format!(
                " ({}/{} done per SSM)",
                self.counts.completed, self.counts.targets
            ));
        }
        s
    }
}

/// Marked rows show a ● before their name.
pub fn show_marks(t: &mut TableData, marked: &std::collections::BTreeSet<String>) {
    if marked.is_empty() {
        return;
    }
    for r in &mut t.rows {
        if marked.contains(&r.key)
            && let Some(name) = r.cells.first_mut()
        {
            *name = format!("● {name}");
        }
    }
}

fn status_of(end: &TargetEnd) -> RunStatus {
    match end {
        TargetEnd::Succeeded => RunStatus::Succeeded,
        TargetEnd::Failed(c) if *c == crate::jobs::journaled::EXIT_DATA_KEPT => RunStatus::DataKept,
        TargetEnd::Failed(c) => RunStatus::Failed(*c),
        TargetEnd::Cancelled => RunStatus::Cancelled(143),
        TargetEnd::NotStarted => RunStatus::NotStarted,
        TargetEnd::Error(e) => RunStatus::Error(e.clone()),
    }
}

impl App {
    pub(super) fn toggle_mark(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Instances {
            return vec![];
        }
        let Some(id) = self.selected_key() else {
            return vec![];
        };
        if !self.runs.marked.remove(&id) {
            self.runs.marked.insert(id);
        }
        self.say_marks();
        self.rebuild_keeping(Screen::Instances);
        vec![]
    }

    pub(super) fn mark_all_shown(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Instances {
            return vec![];
        }
        let t = self.table(Screen::Instances);
        let shown: Vec<String> = self
            .list(Screen::Instances)
            .visible
            .iter()
            .filter_map(|i| t.rows.get(*i).map(|r| r.key.clone()))
            .collect();
        if !shown.is_empty() && shown.iter().all(|k| self.runs.marked.contains(k)) {
            for k in &shown {
                self.runs.marked.remove(k);
            }
        } else {
            self.runs.marked.extend(shown);
        }
        self.say_marks();
        self.rebuild_keeping(Screen::Instances);
        vec![]
    }

    fn say_marks(&mut self) {
        let n = self.runs.marked.len();
        if n == 0 {
            self.notify(Level::Info, "no instance marked");
        } else {
            self.notify(
                Level::Info,
                format!("{n} marked: r runs a runbook on all of them (space unmarks, * all shown)"),
            );
        }
    }

    /// Rebuild a screen's table and keep its filter and cursor.
    fn rebuild_keeping(&mut self, s: Screen) {
        self.rebuild(s);
    }

    /// `e` on Runs: only what did not succeed (again: everything).
    pub(super) fn toggle_failures(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Runs {
            return vec![];
        }
        const FAILURES: &str = "!status:succeeded !status:running !status:starting";
        if self.list(Screen::Runs).filter == FAILURES {
            self.set_filter(String::new());
        } else {
            self.set_filter(FAILURES.into());
        }
        vec![]
    }

    /// The fleet a form opened for `target` is filled for: a pending
    /// `:run NAME tag:…`, else the marks when the target is a marked
    /// instance's runbook on Instances.
    pub(super) fn fleet_selection(&mut self, target: &Target) -> Option<FleetSelection> {
        if let Some(sel) = self.runs.pending_fleet.take() {
            return Some(sel);
        }
        self.marked_fleet(target)
    }

    /// The marks, when a runbook for `target` runs on them as a fleet: an
    /// instance's runbook on Instances with instances marked.
    pub(super) fn marked_fleet(&self, target: &Target) -> Option<FleetSelection> {
        (target.kind == TargetKind::Instance
            && self.screen == Screen::Instances
            && !self.runs.marked.is_empty())
        .then(|| FleetSelection {
            ids: self.runs.marked.iter().cloned().collect(),
            tag: None,
        })
    }

    /// `:run NAME tag:KEY=VALUE`: the form, once, for every instance with the tag.
    pub(super) fn run_on_tag(&mut self, name: &str, tag: &str) -> Vec<Effect> {
        let targets = match crate::jobs::fleet::Targets::parse(tag) {
            Ok(t) => t,
            Err(e) => {
                self.notify(Level::Error, e);
                return vec![];
            }
        };
        let selected = match targets.select(&self.estate.instances.data) {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => {
                self.notify(Level::Error, format!("no instance has {tag}"));
                return vec![];
            }
            Err(e) => {
                self.notify(Level::Error, e);
                return vec![];
            }
        };
        let first = self.estate.inv.instance_target(selected[0]);
        let sel = FleetSelection {
            ids: selected.iter().map(|i| i.id.clone()).collect(),
            tag: match targets {
                crate::jobs::fleet::Targets::Tag { key, value } => Some((key, value)),
                crate::jobs::fleet::Targets::Ids(_) => None,
            },
        };
        self.runs.pending_fleet = Some(sel);
        let fx = self.open_form(name, first, &BTreeMap::new());
        // Refused before the form opened: nothing is pending any more.
        self.runs.pending_fleet = None;
        fx
    }

    /// The form was filled: every target with the guard's decision, one
    /// confirmation for all.
    pub(super) fn open_fleet_confirm(
        &mut self,
        name: &str,
        sel: FleetSelection,
        values: &BTreeMap<String, String>,
    ) -> Vec<Effect> {
        let selected: Vec<&Instance> = self
            .estate
            .instances
            .data
            .iter()
            .filter(|i| sel.ids.contains(&i.id))
            .collect();
        let cx = crate::ops::Context {
            config: &self.config,
            library: &self.library,
            production: self.ctx.production,
        };
        let plan = match crate::ops::fleet::plan(
            cx,
            &self.estate.inv,
            name,
            &selected,
            sel.tag.clone(),
            values,
            self.read_only(),
        ) {
            Ok(p) => p,
            Err(e) => {
                self.notify(Level::Error, format!("{name}: {e}"));
                return vec![];
            }
        };
        if plan.runs.is_empty() {
            let why: Vec<String> = plan
                .refused
                .iter()
                .map(|(_, t, w)| format!("{t}: {w}"))
                .collect();
            self.notify(
                Level::Error,
                format!("{name}: every target refused — {}", why.join("; ")),
            );
            return vec![];
        }
        self.runs.seq += 1;
        let mut tag = format!("f{:03}", self.runs.seq);
        if !self.runs.tag.is_empty() {
            tag = format!("{tag}-{}", self.runs.tag);
        }
        let id = crate::ops::RunId::new(self.now, name, &tag).into_string();
        let mut lines = vec![
            format!(
                "one command to {} target(s) through SSM: at most 50 at once, none more after a failure",
                plan.runs.len()
            ),
            String::new(),
        ];
        lines.extend(
            plan.decisions()
                .into_iter()
                .map(|(t, d)| format!("{t} — {d}")),
        );
        self.mode = Mode::Confirm(ActionConfirm {
            title: format!("{name} on {}", plan.selection),
            lines,
            production: plan.runs.iter().any(|r| r.production),
            confirm_with: plan.confirm_with.clone(),
            typed: confirm::Typed::default(),
            effect: Effect::StartFleet {
                id: id.into(),
                plan: Box::new(plan),
            },
        });
        vec![]
    }

    /// Confirmed: a row per target on Runs, and the effect that sends it.
    pub(super) fn start_fleet(&mut self, effect: Effect) -> Vec<Effect> {
        let Effect::StartFleet { id, plan } = &effect else {
            return vec![];
        };
        for r in &plan.runs {
            self.runs.all.push(RunView {
                id: crate::jobs::fleet::target_job(id, &r.host),
                kind: RunKind::FleetTarget { fleet: id.clone() },
                title: r.title.clone(),
                runbook: r.runbook.clone(),
                host: r.host.clone(),
                production: r.production,
                started_at: self.now,
                finished_at: None,
                status: RunStatus::Running,
                output: Default::default(),
            });
        }
        for (host, _, why) in &plan.refused {
            self.runs.all.push(RunView {
                id: crate::jobs::fleet::target_job(id, host),
                kind: RunKind::FleetTarget { fleet: id.clone() },
                title: format!("{} (refused)", plan.runbook),
                runbook: plan.runbook.clone(),
                host: host.clone(),
                production: false,
                started_at: self.now,
                finished_at: Some(self.now),
                status: RunStatus::Refused(why.clone()),
                output: Default::default(),
            });
        }
        self.runs.fleets.push(FleetView {
            id: id.clone(),
            runbook: plan.runbook.clone(),
            selection: plan.selection.clone(),
            targets: plan.runs.len(),
            refused: plan.refused.len(),
            counts: FleetCounts {
                targets: plan.runs.len(),
                ..Default::default()
            },
            ended: BTreeMap::new(),
            followed: Default::default(),
        });
        self.runs.marked.clear();
        self.notify(
            Level::Info,
            format!("{id}: sent to {} target(s)", plan.runs.len()),
        );
        self.goto(Screen::Runs);
        vec![effect]
    }

    pub(super) fn on_fleet_event(&mut self, run: &str, ev: FleetEvent) -> Vec<Effect> {
        match ev {
            FleetEvent::Sent { command, hosts } => {
                tracing::info!(run, command, targets = hosts.len(), "fleet command sent");
            }
            FleetEvent::Progress(c) => {
                if let Some(f) = self.runs.fleets.iter_mut().find(|f| f.id == run) {
                    f.counts = c;
                }
            }
            FleetEvent::Ended { host, end, output } => {
                let job = crate::jobs::fleet::target_job(run, &host);
                let now = self.now;
                if let Some(r) = self.runs.all.iter_mut().find(|r| r.id == job) {
                    r.status = status_of(&end);
                    r.finished_at = Some(now);
                    // The complete output replaces what a live tail showed.
                    r.output = Default::default();
                    r.output.push_str(&output);
                }
                if let Some(f) = self.runs.fleets.iter_mut().find(|f| f.id == run) {
                    f.ended.insert(host, end);
                    if f.ended.len() == f.targets {
                        let s = f.summary();
                        let level = if f.ended.values().all(|e| *e == TargetEnd::Succeeded)
                            && f.refused == 0
                        {
                            Level::Info
                        } else {
                            Level::Warn
                        };
                        self.notify(level, s);
                    }
                }
                self.rebuild(Screen::Runs);
            }
        }
        vec![]
    }

    /// The fleet run `run` (a target's id) belongs to: its row says so.
    pub fn fleet_of(&self, run: &str) -> Option<&FleetView> {
        let RunKind::FleetTarget { fleet } = &self.run(run)?.kind else {
            return None;
        };
        self.runs.fleets.iter().find(|f| &f.id == fleet)
    }

    /// Opening a fleet target that still runs: tail its job live, once. Only
    /// what the operator looks at is tailed; the others' output comes with
    /// their end.
    pub(super) fn follow_fleet_target(&mut self, key: &str) -> Vec<Effect> {
        let Some(run) = self.runs.all.iter().find(|r| r.id == key) else {
            return vec![];
        };
        if !run.status.is_active() {
            return vec![];
        }
        let host = run.host.clone();
        let RunKind::FleetTarget { fleet } = run.kind.clone() else {
            return vec![];
        };
        let Some(f) = self.runs.fleets.iter_mut().find(|f| f.id == fleet) else {
            return vec![];
        };
        if !f.followed.insert(host.clone()) {
            return vec![];
        }
        vec![Effect::FollowTarget {
            id: key.to_string().into(),
            host,
        }]
    }

    /// The newest fleet's summary line (shown above the Runs table).
    pub fn fleet_summary(&self) -> Option<String> {
        self.runs.fleets.last().map(FleetView::summary)
    }
}
