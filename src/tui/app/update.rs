//! `App::update`: one message in, effects out — provider results, run
//! events, ticks. No IO here: effects are data.

use super::*;

impl App {
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(k) => self.on_key(k),
            Msg::Paste(text) => self.on_paste(&text),
            Msg::Tick(now) => self.on_tick(now),
            Msg::HostRuns { runs, warnings } => self.on_host_runs(runs, warnings),
            Msg::LocksFree { wait, failed } => self.on_locks_free(wait, failed),
            Msg::InstancesPage(page) => self.on_instances_page(page),
            Msg::Instances(r) => self.on_instances(r),
            Msg::Snapshot { host, result } => self.on_snapshot(host, result),
            Msg::Buckets(r) => self.on_buckets(r),
            Msg::ObjectsPage {
                bucket,
                prefix,
                page,
            } => {
                self.on_objects_page(&bucket, &prefix, page);
                vec![]
            }
            Msg::Objects {
                bucket,
                prefix,
                result,
            } => {
                self.on_objects(&bucket, &prefix, result);
                vec![]
            }
            Msg::Versions {
                bucket,
                key,
                result,
            } => {
                self.on_versions(&bucket, &key, result);
                vec![]
            }
            Msg::S3Backups(r) => self.on_s3_backups(r),
            Msg::ForwardStarted {
                id,
                title,
                host,
                production,
            } => self.on_forward_started(id, title, host, production),
            Msg::RunAttached { entry, output } => self.on_run_attached(entry, output),
            Msg::Drills { active, reports } => {
                self.on_drills(active.map(|a| *a), reports);
                vec![]
            }
            Msg::DrillStarted(result) => self.on_drill_started(result),
            Msg::DrillVerified(result) => self.on_drill_verified(result),
            Msg::Posture(result) => {
                self.on_posture(result);
                vec![]
            }
            Msg::History(entries) => {
                self.on_history(entries);
                vec![]
            }
            Msg::PastOutput { entry, text } => self.on_past_output(entry, text),
            Msg::Run(ev) => self.on_run_event(ev),
            Msg::Fleet { run, event } => self.on_fleet_event(&run, event),
            Msg::ContextOpened { ctx, config } => self.on_context_opened(ctx, *config),
            Msg::ActionDone {
                title,
                result,
                reload,
            } => self.on_action_done(title, result, reload),
        }
    }

    fn on_tick(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        self.now = now;
        self.nav.spinner = self.nav.spinner.wrapping_add(1);
        if let Some(n) = &self.notices.current
            && n.level == Level::Info
            && (now - n.at).num_seconds() > 8
        {
            self.notices.current = None;
        }
        if self.runs.all.iter().any(|r| r.status.is_active()) {
            self.rebuild(Screen::Runs);
        }
        // The drill in progress shows its clock on Drills.
        if self.estate.drill.is_some() && self.screen == Screen::Drills {
            self.rebuild(Screen::Drills);
        }
        // Everyone's runs, while Runs is open.
        if self.screen == Screen::Runs {
            return self.ask_host_runs(false);
        }
        vec![]
    }

    fn on_instances_page(&mut self, page: Vec<Instance>) -> Vec<Effect> {
        // The first listing shows rows as they come; a refresh
        // keeps what is on screen until it is complete.
        if self.estate.instances.loading() && !self.estate.instances.loaded() {
            self.estate.instances.data.extend(page);
            self.estate.instance_pages += 1;
            if self.estate.instance_pages <= 3 || self.estate.instance_pages.is_multiple_of(10) {
                self.rebuild(Screen::Instances);
            }
        }
        vec![]
    }

    fn on_instances(&mut self, r: ProviderResult<Vec<Instance>>) -> Vec<Effect> {
        self.estate.instance_pages = 0;
        match r {
            Ok(list) => {
                self.estate.instances.ready(list);
            }
            Err(e) => {
                let hint = if e.kind == crate::provider::ErrorKind::Auth {
                    " — credentials missing or expired: :login signs in"
                } else {
                    ""
                };
                self.notify(Level::Error, format!("loading instances failed: {e}{hint}"));
                self.estate.instances.fail(e.to_string());
            }
        }
        self.rebuild(Screen::Instances);
        self.rederive();
        let reachable =
            crate::ops::Inventory::fact_hosts(&self.config, &self.estate.instances.data);
        reachable
            .into_iter()
            .map(|h| {
                self.estate.snapshots.entry(h.clone()).or_default().start();
                Effect::LoadSnapshot(h)
            })
            .collect()
    }

    fn on_snapshot(&mut self, host: String, result: Result<HostSnapshot, String>) -> Vec<Effect> {
        let entry = self.estate.snapshots.entry(host.clone()).or_default();
        match result {
            Ok(s) => {
                entry.data = Some(s);
                entry.done();
            }
            Err(e) => {
                entry.fail(e.clone());
                self.notify(Level::Error, e);
            }
        }
        self.rederive();
        vec![]
    }

    fn on_buckets(&mut self, r: ProviderResult<Vec<Bucket>>) -> Vec<Effect> {
        match r {
            Ok(b) => {
                self.estate.buckets.ready(b);
            }
            Err(e) => {
                self.estate.buckets.fail(e.to_string());
                self.notify(Level::Error, format!("listing buckets failed: {e}"));
            }
        }
        self.rebuild(Screen::Buckets);
        vec![]
    }

    fn on_s3_backups(&mut self, r: ProviderResult<Vec<Backup>>) -> Vec<Effect> {
        match r {
            Ok(b) => {
                self.estate.s3_backups.ready(b);
            }
            Err(e) => {
                self.estate.s3_backups.fail(e.to_string());
                self.notify(Level::Warn, format!("S3 backups unavailable: {e}"));
            }
        }
        self.rederive();
        vec![]
    }

    fn on_forward_started(
        &mut self,
        id: RunId,
        title: String,
        host: String,
        production: bool,
    ) -> Vec<Effect> {
        self.runs.actions_in_flight = self.runs.actions_in_flight.saturating_sub(1);
        if !self.runs.all.iter().any(|r| r.id == id) {
            self.runs.all.push(RunView {
                id: id.clone(),
                kind: RunKind::Forward,
                title: title.clone(),
                runbook: "forward".into(),
                host,
                production,
                started_at: self.now,
                finished_at: None,
                status: RunStatus::Starting,
                output: OutputBuffer::default(),
            });
            self.rebuild(Screen::Runs);
        }
        self.notify(
            Level::Info,
            format!("{title}: up; Ctrl-C on its row in Runs (6) ends it"),
        );
        vec![]
    }

    fn on_run_attached(
        &mut self,
        entry: Box<crate::store::journal::Entry>,
        output: String,
    ) -> Vec<Effect> {
        let id = entry.start.run.clone();
        if !self.runs.all.iter().any(|r| r.id == id) {
            // Unfinished, followed again: this console drives it now.
            self.runs
                .all
                .push(RunView::of_entry(&entry, RunKind::Runbook, &output));
            self.rebuild(Screen::Runs);
        }
        self.notify(
            Level::Warn,
            format!(
                "reattached to {} (still in flight when opsdeck last stopped): press 6 for Runs",
                entry.start.title
            ),
        );
        vec![]
    }

    fn on_drill_started(
        &mut self,
        result: Result<Box<crate::drill::Active>, String>,
    ) -> Vec<Effect> {
        self.runs.actions_in_flight = self.runs.actions_in_flight.saturating_sub(1);
        match result {
            Ok(a) => {
                self.notify(Level::Warn, format!("DRILL {}: {}", a.scenario, a.alarm));
                self.estate.drill = Some(*a);
                self.rebuild(Screen::Drills);
            }
            Err(e) => self.notify(Level::Error, format!("drill not started: {e}")),
        }
        // The fault changed the estate: read it again.
        self.refresh_all()
    }

    fn on_drill_verified(
        &mut self,
        result: Result<Box<crate::drill::Report>, String>,
    ) -> Vec<Effect> {
        self.runs.actions_in_flight = self.runs.actions_in_flight.saturating_sub(1);
        match result {
            Ok(r) => {
                self.notify(
                    if r.passed { Level::Info } else { Level::Warn },
                    format!(
                        "drill {}: {} (RTO {} s){}",
                        r.scenario,
                        if r.passed {
                            "PASSED"
                        } else {
                            "not recovered yet"
                        },
                        r.rto_seconds,
                        if r.passed {
                            ""
                        } else {
                            "; fix it and :drill verify again"
                        }
                    ),
                );
                if r.passed {
                    self.estate.drill = None;
                    self.rebuild(Screen::Drills);
                }
                self.mode = drill_report_popup(&r);
            }
            Err(e) => self.notify(Level::Error, format!("drill verify: {e}")),
        }
        self.estate.drills.start();
        vec![Effect::LoadDrills]
    }

    fn on_past_output(
        &mut self,
        entry: Box<crate::store::journal::Entry>,
        text: String,
    ) -> Vec<Effect> {
        self.runs.actions_in_flight = self.runs.actions_in_flight.saturating_sub(1);
        let id = entry.start.run.clone();
        // A run of this console keeps its live view; a past one is loaded.
        if !self.runs.all.iter().any(|r| r.id == id) {
            self.runs
                .all
                .push(RunView::of_entry(&entry, RunKind::Journal, &text));
            self.rebuild(Screen::Runs);
        }
        self.nav.pane.show(id, false);
        self.nav.back.push(self.screen);
        self.screen = Screen::RunOutput;
        vec![]
    }

    fn on_context_opened(&mut self, ctx: ContextInfo, config: Config) -> Vec<Effect> {
        self.runs.actions_in_flight = self.runs.actions_in_flight.saturating_sub(1);
        self.notify(
            Level::Info,
            format!("context {} ({})", ctx.name, ctx.provider),
        );
        self.ctx = ctx;
        self.config = config;
        self.estate.instances = Loaded::default();
        self.estate.snapshots.clear();
        self.estate.buckets = Loaded::default();
        self.estate.s3 = screens::S3View::default();
        self.estate.s3_backups = Loaded::default();
        self.nav.lists.clear();
        self.rederive();
        self.rebuild_all();
        self.nav.back.clear();
        if !matches!(self.screen, Screen::Runs | Screen::RunOutput) {
            self.screen = Screen::Tenants;
        }
        self.refresh_all()
    }

    fn on_action_done(
        &mut self,
        title: String,
        result: Result<String, String>,
        reload: Vec<Effect>,
    ) -> Vec<Effect> {
        self.runs.actions_in_flight = self.runs.actions_in_flight.saturating_sub(1);
        // A change may have ended someone's run: Runs asks the hosts again.
        self.runs.host_runs_asked = None;
        match result {
            Ok(detail) => self.notify(Level::Info, format!("{title}: {detail}")),
            Err(e) => self.notify(Level::Error, format!("{title} failed: {e}")),
        }
        for fx in &reload {
            match fx {
                Effect::LoadInstances => self.estate.instances.start(),
                Effect::LoadVersions { .. } => self.estate.s3.versions.start(),
                Effect::LoadObjects { .. } => self.estate.s3.objects.start(),
                Effect::SwitchContext(_) => self.runs.actions_in_flight += 1,
                _ => {}
            }
        }
        reload
    }

    pub(super) fn on_run_event(&mut self, ev: RunEvent) -> Vec<Effect> {
        let now = self.now;
        // A fleet target's live tail brings output only: how it ends is the
        // fleet's to say (with its complete output).
        if self.fleet_of(ev.run()).is_some() {
            if let RunEvent::Output { run, text } = &ev
                && let Some(r) = self.runs.all.iter_mut().find(|r| &r.id == run)
                && r.status.is_active()
            {
                r.output.push_str(text);
            }
            return vec![];
        }
        let Some(run) = self.runs.all.iter_mut().find(|r| r.id == ev.run()) else {
            return vec![];
        };
        let mut fx = vec![];
        let mut finished = None;
        let refused = match &ev {
            RunEvent::Refused { locked, .. } => Some(locked.clone()),
            _ => None,
        };
        match ev {
            RunEvent::Started { .. } => run.status = RunStatus::Running,
            RunEvent::Output { text, .. } => run.output.push_str(&text),
            ev => {
                if let Some((outcome, exit_code, error)) = crate::jobs::journaled::ending(&ev) {
                    if let Some(e) = &error {
                        run.output.push_str(&format!("\nopsdeck: {e}\n"));
                    }
                    run.status = RunStatus::ended(outcome, exit_code, error);
                    finished = Some(run.clone_summary());
                }
            }
        }
        let id = run.id.clone();
        if !matches!(run.status, RunStatus::Starting) {
            match refused {
                Some(locked) => self.on_refused(id.as_str(), locked),
                None => {
                    self.runs.rendered.remove(id.as_str());
                }
            }
        }
        if let Some((title, host, status)) = finished {
            let Some(run) = self.runs.all.iter_mut().find(|r| r.id == id) else {
                return fx;
            };
            run.finished_at = Some(now);
            let level = if status == RunStatus::Succeeded {
                Level::Info
            } else {
                Level::Error
            };
            // A refusal names the holder: the operator learns who, what and
            // since when without opening the run.
            let said = match &status {
                RunStatus::Refused(why) => why.clone(),
                other => other.label(),
            };
            self.notify(level, format!("{title}: {said}"));
            // What the run changed shows up on the next read of the host.
            self.estate
                .snapshots
                .entry(host.clone())
                .or_default()
                .start();
            fx.push(Effect::LoadSnapshot(host));
            if self.estate.history.loaded() {
                self.estate.history.start();
                fx.push(Effect::LoadHistory);
            }
            // A backup or a sync changes what S3 holds.
            if let Some(bucket) = self.config.backups.bucket.clone() {
                self.estate.s3_backups.start();
                fx.push(Effect::LoadS3Backups {
                    bucket,
                    prefix: self.config.backups.prefix.clone(),
                });
            }
        }
        self.rebuild(Screen::Runs);
        fx
    }
}
