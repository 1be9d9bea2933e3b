//! What the operator launches from a screen: previews of runbooks and
//! the guards before sending, the typed confirmations of instance and S3
//! changes, downloads, and starting a run.

use super::*;

impl App {
    /// Why the console would not send `run`: read-only mode for anything
    /// but a read runbook, or a host that cannot be reached ([`crate::ops::guard`]).
    pub fn run_refusal(&self, run: &RenderedRun) -> Option<String> {
        crate::ops::guard(run, self.read_only(), &self.instances.data)
            .err()
            .map(|r| r.to_string())
    }

    pub(super) fn open_preview(
        &mut self,
        run: Result<RenderedRun, crate::ops::PrepareError>,
        values: BTreeMap<String, String>,
    ) -> Vec<Effect> {
        match run {
            Ok(run) => match self.run_refusal(&run) {
                Some(why) => self.notify(Level::Error, format!("{} refused: {why}", run.title)),
                None => {
                    self.mode = Mode::Preview(Preview {
                        run,
                        values,
                        typed: confirm::Typed::default(),
                        scroll: 0,
                    });
                }
            },
            Err(e) => self.notify(Level::Error, e.to_string()),
        }
        vec![]
    }

    pub(super) fn preview_deploy(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Tenants {
            self.notify(Level::Info, "deploy works on a tenant: press 1 for Tenants");
            return vec![];
        }
        self.quick_preview("deploy")
    }

    pub(super) fn preview_restart(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Containers {
            self.notify(
                Level::Info,
                "restart works on a container: press 3 for Containers",
            );
            return vec![];
        }
        self.quick_preview("restart")
    }

    pub(super) fn read_only(&self) -> bool {
        self.ctx.read_only || self.config.read_only
    }

    pub(super) fn ask(&mut self, c: ActionConfirm) -> Vec<Effect> {
        if self.read_only() {
            self.notify(
                Level::Error,
                format!("{} refused: read-only mode: changes are refused", c.title),
            );
        } else {
            self.mode = Mode::Confirm(c);
        }
        vec![]
    }

    pub(super) fn download_selected(&mut self) -> Vec<Effect> {
        if self.screen == Screen::Backups {
            return self.download_backup();
        }
        self.download_version()
    }

    pub(super) fn start_run(&mut self, run: RenderedRun) -> Vec<Effect> {
        // Guards are checked again at the moment of sending.
        if let Some(why) = self.run_refusal(&run) {
            self.notify(Level::Error, format!("{} refused: {why}", run.title));
            return vec![];
        }
        self.run_seq += 1;
        let mut tag = format!("{:03}", self.run_seq);
        if !self.run_tag.is_empty() {
            tag = format!("{tag}-{}", self.run_tag);
        }
        let id = crate::ops::RunId::new(self.now, &run.runbook, &tag).into_string();
        self.runs.push(RunView {
            id: id.clone(),
            title: run.title.clone(),
            runbook: run.runbook.clone(),
            host: run.host.clone(),
            production: run.production,
            started_at: self.now,
            finished_at: None,
            status: RunStatus::Starting,
            output: OutputBuffer::default(),
        });
        self.pane.show(id.clone(), true);
        self.rebuild(Screen::Runs);
        // Esc goes back where the operator started it from.
        self.back.clear();
        self.back.push(if self.screen == Screen::RunOutput {
            Screen::Runs
        } else {
            self.screen
        });
        self.screen = Screen::RunOutput;
        vec![Effect::StartRun {
            id,
            run: Box::new(run),
        }]
    }
}

/// A drill report in a popup, as its Markdown.
pub(super) fn drill_report_popup(r: &crate::drill::Report) -> Mode {
    Mode::Detail {
        title: format!("drill {}", r.id),
        fields: crate::drill::markdown(r)
            .lines()
            .map(|l| (String::new(), l.to_string()))
            .collect(),
    }
}

impl RunView {
    pub(super) fn clone_summary(&self) -> (String, String, RunStatus) {
        (self.title.clone(), self.host.clone(), self.status.clone())
    }
}
