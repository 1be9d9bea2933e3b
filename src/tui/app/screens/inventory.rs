//! Instances, Containers and Backups: Enter shows a row's details; the
//! changes these screens offer beside runbooks (start/stop an instance,
//! download an S3 backup). Their rows come from the one derived inventory.

use super::*;

impl App {
    pub(in crate::tui::app) fn instance_detail(&mut self, key: &str) -> Vec<Effect> {
        if let Some(i) = self.estate.instances.data.iter().find(|i| i.id == *key) {
            let mut fields = vec![
                ("id".to_string(), i.id.clone()),
                ("name".into(), i.name.clone()),
                ("region".into(), i.region.clone()),
                ("type".into(), i.instance_type.clone()),
                ("state".into(), i.state.to_string()),
                ("platform".into(), i.platform.clone()),
                ("ssm ping".into(), i.ssm_ping.label().into()),
                (
                    "private ip".into(),
                    i.private_ip.clone().unwrap_or_default(),
                ),
                ("public ip".into(), i.public_ip.clone().unwrap_or_default()),
            ];
            if let Some(r) = i.unreachable_reason() {
                fields.push(("runbooks".into(), format!("refused: {r}")));
            }
            fields.extend(i.tags.iter().map(|(k, v)| (format!("tag {k}"), v.clone())));
            self.mode = Mode::Detail {
                title: format!("instance {}", i.id),
                fields,
            };
        }
        vec![]
    }

    pub(in crate::tui::app) fn container_detail(&mut self, key: &str) -> Vec<Effect> {
        if let Some(c) = self
            .estate
            .inv
            .containers
            .iter()
            .find(|c| views::container_key(c) == key)
        {
            let mut fields = vec![
                ("name".to_string(), c.name.clone()),
                ("host".into(), c.host.clone()),
                ("image".into(), c.image.clone()),
                ("status".into(), c.status.clone()),
                ("health".into(), c.health.clone()),
                ("restarts".into(), c.restarts.to_string()),
                (
                    "ports".into(),
                    if c.ports.is_empty() {
                        "-".into()
                    } else {
                        c.ports.clone()
                    },
                ),
            ];
            fields.extend(
                c.labels
                    .iter()
                    .map(|(k, v)| (format!("label {k}"), v.clone())),
            );
            self.mode = Mode::Detail {
                title: format!("container {}", c.name),
                fields,
            };
        }
        vec![]
    }

    pub(in crate::tui::app) fn backup_detail(&mut self, key: &str) -> Vec<Effect> {
        if let Some(b) = self
            .estate
            .inv
            .backups
            .iter()
            .find(|b| views::backup_key(b) == key)
        {
            let mut fields = vec![
                ("database".into(), b.database.clone()),
                ("origin".into(), b.origin.clone()),
                ("path".into(), b.path.clone()),
                ("taken at".into(), b.taken_at.to_rfc3339()),
                ("size".into(), format!("{} bytes", b.size)),
                ("format".into(), b.format.as_str().to_string()),
            ];
            if let Some(v) = &b.version_id {
                fields.push(("version".into(), v.clone()));
            }
            if let Some(why) = &b.unrecognised {
                fields.push(("unrecognised".into(), why.clone()));
            }
            self.mode = Mode::Detail {
                title: match &b.unrecognised {
                    Some(_) => format!("unrecognised file {}", b.path),
                    None => format!("backup of {}", b.database),
                },
                fields,
            };
        }
        vec![]
    }

    /// `S`: a shell on the selected instance, or inside the selected
    /// container (on production, after its name is typed).
    pub(in crate::tui::app) fn open_shell(&mut self) -> Vec<Effect> {
        let key = self.selected_key().unwrap_or_default();
        let (host, container) = match self.screen {
            Screen::Instances => (key, None),
            Screen::Containers => match self
                .estate
                .inv
                .containers
                .iter()
                .find(|c| views::container_key(c) == key)
            {
                Some(c) => (c.host.clone(), Some(c.name.clone())),
                None => return vec![],
            },
            _ => {
                self.notify(
                    Level::Info,
                    "a shell opens on an instance (2 for Instances) or in a container (3)",
                );
                return vec![];
            }
        };
        let Some(i) = self
            .estate
            .instances
            .data
            .iter()
            .find(|i| i.id == host)
            .cloned()
        else {
            return vec![];
        };
        if let Some(why) = crate::ops::session::refusal(&i, self.read_only()) {
            self.notify(Level::Warn, format!("no shell: {why}"));
            return vec![];
        }
        let production = self.ctx.production || i.is_production();
        let name = crate::ops::session::confirm_name(
            &i,
            &self.estate.instances.data,
            container.as_deref(),
        );
        let title = match &container {
            Some(c) => format!("shell in {c} on {}", i.name),
            None => format!("shell on {name}"),
        };
        let effect = Effect::Shell {
            instance: Box::new(i.clone()),
            container,
            production,
        };
        if !production {
            self.runs.actions_in_flight += 1;
            return vec![effect];
        }
        self.ask(ActionConfirm {
            title,
            lines: vec![
                format!("instance  {} ({})", i.id, i.name),
                "the console steps aside until the shell exits; the session is journaled".into(),
            ],
            production,
            confirm_with: Some(name),
            typed: confirm::Typed::default(),
            effect,
        })
    }

    /// `:forward [PORT]`: a local port to the selected row's database
    /// (a tenant's, a backup's), through its host; on production after the
    /// database's name is typed.
    pub(in crate::tui::app) fn start_forward(&mut self, arg: &str) -> Vec<Effect> {
        let local_port = match arg {
            "" => None,
            a => match a.parse::<u16>() {
                Ok(p) if p >= 1024 => Some(p),
                _ => {
                    self.notify(
                        Level::Error,
                        format!("{a:?} is not a local port (1024-65535; none: a free one)"),
                    );
                    return vec![];
                }
            },
        };
        if self.read_only() {
            self.notify(
                Level::Error,
                "no forward: read-only mode (a database connection can change anything)",
            );
            return vec![];
        }
        let Some(db) = self.selection_target().and_then(|t| {
            t.vars
                .into_iter()
                .find(|(k, v)| k == "database" && !v.is_empty())
                .map(|(_, v)| v)
        }) else {
            self.notify(
                Level::Info,
                "a forward goes to a database: select a tenant that has one (1) or a backup (5)",
            );
            return vec![];
        };
        let Some(i) = self.estate.inv.host_of_database(&db).and_then(|h| {
            self.estate
                .instances
                .data
                .iter()
                .find(|i| i.id == h)
                .cloned()
        }) else {
            self.notify(Level::Warn, format!("no host is known to hold {db}"));
            return vec![];
        };
        if let Some(why) = i.unreachable_reason() {
            self.notify(Level::Warn, format!("no forward: {why}"));
            return vec![];
        }
        let dest = match crate::ops::session::destination(&self.config, &db) {
            Ok(d) => d,
            Err(e) => {
                self.notify(Level::Warn, format!("no forward: {e}"));
                return vec![];
            }
        };
        let production = self.ctx.production
            || runbook::database_is_production(&self.estate.inv.tenants, &db, i.is_production());
        self.runs.seq += 1;
        let id = crate::ops::RunId::new(self.now, "forward", &format!("{:03}", self.runs.seq))
            .into_string();
        let lines = vec![
            format!(
                "database  {db} ({}:{} from {})",
                dest.host, dest.port, i.name
            ),
            format!(
                "local     127.0.0.1:{}",
                local_port.map_or("a free port".into(), |p| p.to_string())
            ),
            "it stays up until ended from Runs (Ctrl-C on its row)".into(),
        ];
        let effect = Effect::StartForward {
            id: id.into(),
            instance: Box::new(i),
            dest,
            local_port,
            production,
        };
        if !production {
            self.runs.actions_in_flight += 1;
            return vec![effect];
        }
        self.ask(ActionConfirm {
            title: format!("forward to {db}"),
            lines,
            production,
            confirm_with: Some(db),
            typed: confirm::Typed::default(),
            effect,
        })
    }

    pub(in crate::tui::app) fn confirm_set_running(&mut self, running: bool) -> Vec<Effect> {
        if self.screen != Screen::Instances {
            self.notify(
                Level::Info,
                "start and stop work on an instance: press 2 for Instances",
            );
            return vec![];
        }
        let Some(i) = self.selected_key().and_then(|k| {
            self.estate
                .instances
                .data
                .iter()
                .find(|i| i.id == k)
                .cloned()
        }) else {
            return vec![];
        };
        let verb = if running { "start" } else { "stop" };
        if (running && i.state == crate::domain::InstanceState::Running)
            || (!running && i.state == crate::domain::InstanceState::Stopped)
        {
            self.notify(Level::Info, format!("{} is already {}", i.id, i.state));
            return vec![];
        }
        let production = self.ctx.production || i.is_production();
        // The name to type must say which instance: when several share it, the id.
        let unique = !i.name.is_empty() && runbook::unique_name(&self.estate.instances.data, &i);
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
            effect: Effect::SetRunning {
                id: i.id,
                running,
                production,
            },
        })
    }

    /// `o` on Backups: save an S3 backup to the download directory.
    pub(in crate::tui::app) fn download_backup(&mut self) -> Vec<Effect> {
        let Some(key) = self.selected_key() else {
            return vec![];
        };
        let Some(b) = self
            .estate
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
            self.estate
                .inv
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
        self.runs.actions_in_flight += 1;
        let production = self.ctx.production || self.estate.inv.backup_target(&b).production;
        vec![Effect::Download {
            bucket,
            key: s3.path,
            version_id: None,
            production,
        }]
    }
}

/// Tenants, Containers and Backups are derived from the instances and
/// their hosts' snapshots: loading while any of those is.
pub(super) fn status(app: &App) -> (bool, Option<String>) {
    (
        app.estate.instances.loading() || app.estate.snapshots.values().any(|l| l.loading()),
        app.estate.snapshots.values().find_map(|l| l.error()),
    )
}

/// The row's target decides, as the guards do: a production tenant,
/// instance, container or backup.
pub(super) fn production(app: &App) -> bool {
    app.selection_target().is_some_and(|t| t.production)
}
