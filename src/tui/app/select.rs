//! Enter on a row: drill down (bucket → prefixes → versions, tenant →
//! containers, run → output) or show its details.

use super::*;

impl App {
    pub(super) fn open_objects(
        &mut self,
        bucket: String,
        prefix: String,
        push: bool,
    ) -> Vec<Effect> {
        self.objects_at = (bucket.clone(), prefix.clone());
        self.objects.loading = true;
        self.objects.data.clear();
        self.objects_pages = 0;
        self.lists.insert(Screen::Objects, ListState::default());
        if self.screen == Screen::Objects {
            self.rebuild(Screen::Objects);
        } else {
            self.go(Screen::Objects, push);
        }
        vec![Effect::LoadObjects { bucket, prefix }]
    }

    pub(super) fn select(&mut self) -> Vec<Effect> {
        let Some(key) = self.selected_key() else {
            return vec![];
        };
        match self.screen {
            Screen::Findings => vec![],
            Screen::History => vec![Effect::OpenPastOutput(key)],
            Screen::Drills => {
                if let Some(r) = self.drills.data.iter().find(|r| r.id == key) {
                    self.mode = drill_report_popup(r);
                }
                vec![]
            }
            Screen::Buckets => self.open_objects(key, String::new(), true),
            Screen::Objects => {
                if key.ends_with('/') {
                    self.open_objects(self.objects_at.0.clone(), key, false)
                } else {
                    self.versions_of = (self.objects_at.0.clone(), key.clone());
                    self.versions.loading = true;
                    self.versions.data.clear();
                    self.lists.insert(Screen::Versions, ListState::default());
                    self.go(Screen::Versions, true);
                    vec![Effect::LoadVersions {
                        bucket: self.objects_at.0.clone(),
                        key,
                    }]
                }
            }
            Screen::Runs => {
                self.output_run = Some(key);
                self.output_scroll = 0;
                self.output_follow = true;
                self.go(Screen::RunOutput, true);
                vec![]
            }
            Screen::Tenants => {
                // Drill down: the tenant's containers.
                if let Some(t) = self.inv.tenants.iter().find(|t| t.project() == key) {
                    let filter = format!("{} {}", t.app, t.env);
                    self.go(Screen::Containers, true);
                    self.set_filter(filter);
                }
                vec![]
            }
            Screen::Instances => {
                if let Some(i) = self.instances.data.iter().find(|i| i.id == key) {
                    let mut fields = vec![
                        ("id".to_string(), i.id.clone()),
                        ("name".into(), i.name.clone()),
                        ("region".into(), i.region.clone()),
                        ("type".into(), i.instance_type.clone()),
                        ("state".into(), i.state.clone()),
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
            Screen::Containers => {
                if let Some(c) = self
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
            Screen::Backups => {
                if let Some(b) = self
                    .inv
                    .backups
                    .iter()
                    .find(|b| views::backup_key(b) == key)
                {
                    self.mode = Mode::Detail {
                        title: format!("backup of {}", b.database),
                        fields: vec![
                            ("database".into(), b.database.clone()),
                            ("origin".into(), b.origin.clone()),
                            ("path".into(), b.path.clone()),
                            ("taken at".into(), b.taken_at.to_rfc3339()),
                            ("size".into(), format!("{} bytes", b.size)),
                        ],
                    };
                }
                vec![]
            }
            Screen::Versions | Screen::RunOutput => vec![],
        }
    }
}
