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

    pub(super) fn confirm_set_running(&mut self, running: bool) -> Vec<Effect> {
        if self.screen != Screen::Instances {
            self.notify(
                Level::Info,
                "start and stop work on an instance: press 2 for Instances",
            );
            return vec![];
        }
        let Some(i) = self
            .selected_key()
            .and_then(|k| self.instances.data.iter().find(|i| i.id == k).cloned())
        else {
            return vec![];
        };
        let verb = if running { "start" } else { "stop" };
        if (running && i.state == "running") || (!running && i.state == "stopped") {
            self.notify(Level::Info, format!("{} is already {}", i.id, i.state));
            return vec![];
        }
        let production = self.ctx.production || i.is_production();
        // The name to type must say which instance: when several share it, the id.
        let unique = !i.name.is_empty() && runbook::unique_name(&self.instances.data, &i);
        let name = if unique { i.name.clone() } else { i.id.clone() };
        let mut lines = vec![
            format!(
                "instance  {} ({})",
                i.id,
                if i.name.is_empty() {
                    "no Name tag"
                } else {
                    i.name.as_str()
                }
            ),
            format!("region    {}", i.region),
            format!(
                "state     {} → {}",
                i.state,
                if running { "running" } else { "stopped" }
            ),
        ];
        if !running {
            lines.push("every app on it goes down until it is started again".into());
        }
        self.ask(ActionConfirm {
            title: format!("{verb} {name}"),
            lines,
            production,
            confirm_with: production.then_some(name),
            typed: confirm::Typed::default(),
            effect: Effect::SetRunning { id: i.id, running },
        })
    }

    pub(super) fn selected_version(&self) -> Option<ObjectVersion> {
        if self.screen != Screen::Versions {
            return None;
        }
        let k = self.selected_key()?;
        self.versions
            .data
            .iter()
            .find(|v| v.version_id == k)
            .cloned()
    }

    pub(super) fn confirm_restore(&mut self) -> Vec<Effect> {
        let Some(v) = self.selected_version() else {
            self.notify(
                Level::Info,
                "restore works on a version: open a key's versions (Buckets → Enter)",
            );
            return vec![];
        };
        if v.is_delete_marker || v.is_latest {
            self.notify(Level::Info, "pick an older version (not the current one, not a delete marker); `u` removes a delete marker");
            return vec![];
        }
        let (bucket, key) = self.versions_of.clone();
        let base = key.rsplit('/').next().unwrap_or(&key).to_string();
        self.ask(ActionConfirm {
            title: format!(
                "restore {base} to version {}",
                &v.version_id[..v.version_id.len().min(12)]
            ),
            lines: vec![
                format!("object    s3://{bucket}/{key}"),
                format!(
                    "version   {} ({} bytes, {})",
                    v.version_id,
                    v.size,
                    v.last_modified.format("%Y-%m-%d %H:%M")
                ),
                "copies it over the key: it becomes the current version; history is kept".into(),
            ],
            production: self.ctx.production,
            confirm_with: self.ctx.production.then_some(base),
            typed: confirm::Typed::default(),
            effect: Effect::RestoreVersion {
                bucket,
                key,
                version_id: v.version_id,
            },
        })
    }

    pub(super) fn confirm_undelete(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Versions {
            self.notify(
                Level::Info,
                "undelete works on a key's versions (Buckets → Enter)",
            );
            return vec![];
        }
        if !self
            .versions
            .data
            .first()
            .is_some_and(|v| v.is_latest && v.is_delete_marker)
        {
            self.notify(
                Level::Info,
                "this key is not deleted: its latest version is not a delete marker",
            );
            return vec![];
        }
        let (bucket, key) = self.versions_of.clone();
        let base = key.rsplit('/').next().unwrap_or(&key).to_string();
        self.ask(ActionConfirm {
            title: format!("undelete {base}"),
            lines: vec![
                format!("object    s3://{bucket}/{key}"),
                "removes the delete marker: the newest version is visible again".into(),
            ],
            production: self.ctx.production,
            confirm_with: self.ctx.production.then_some(base),
            typed: confirm::Typed::default(),
            effect: Effect::Undelete { bucket, key },
        })
    }

    pub(super) fn download_selected(&mut self) -> Vec<Effect> {
        if self.screen == Screen::Backups {
            return self.download_backup();
        }
        let Some(v) = self.selected_version().filter(|v| !v.is_delete_marker) else {
            self.notify(
                Level::Info,
                "download works on a version (not a delete marker)",
            );
            return vec![];
        };
        let (bucket, key) = self.versions_of.clone();
        self.notify(Level::Info, format!("downloading s3://{bucket}/{key}…"));
        self.actions_in_flight += 1;
        vec![Effect::Download {
            bucket,
            key,
            version_id: (!v.is_latest).then_some(v.version_id),
        }]
    }

    /// `o` on Backups: save an S3 backup to the download directory.
    pub(super) fn download_backup(&mut self) -> Vec<Effect> {
        let Some(key) = self.selected_key() else {
            return vec![];
        };
        let Some(b) = self
            .inv
            .backups
            .iter()
            .find(|b| views::backup_key(b) == key)
            .cloned()
        else {
            return vec![];
        };
        // A host file that is also in S3 downloads from S3.
        let file = b.path.rsplit('/').next().unwrap_or(&b.path).to_string();
        let s3 = if b.location == crate::domain::BackupLocation::S3 {
            Some(b.clone())
        } else {
            self.inv
                .backups
                .iter()
                .find(|x| {
                    x.location == crate::domain::BackupLocation::S3
                        && x.database == b.database
                        && x.path.rsplit('/').next() == Some(file.as_str())
                })
                .cloned()
        };
        let Some(s3) = s3 else {
            self.notify(
                Level::Info,
                "this backup is only on its host: `r` → sync-backups ships it to S3, or restore/validate it there",
            );
            return vec![];
        };
        let bucket = s3.origin.trim_start_matches("s3://").to_string();
        self.notify(
            Level::Info,
            format!("downloading s3://{bucket}/{}…", s3.path),
        );
        self.actions_in_flight += 1;
        vec![Effect::Download {
            bucket,
            key: s3.path,
            version_id: None,
        }]
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
        self.output_run = Some(id.clone());
        self.output_scroll = 0;
        self.output_follow = true;
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
