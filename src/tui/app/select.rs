//! Enter on a row: drill down (bucket → prefixes → versions, tenant →
//! containers, run → output) or show its details.

use super::*;

impl App {
    pub(super) fn select(&mut self) -> Vec<Effect> {
        let Some(key) = self.selected_key() else {
            return vec![];
        };
        match self.screen {
            Screen::Findings | Screen::History | Screen::Drills => self.journal_select(&key),
            Screen::Buckets | Screen::Objects => self.s3_select(key),
            Screen::Runs => {
                let fx = self.follow_fleet_target(&key);
                self.pane.show(key, true);
                self.go(Screen::RunOutput, true);
                fx
            }
            Screen::Tenants => {
                // Drill down: the tenant's containers.
                if let Some(t) = self.inv.tenants.iter().find(|t| t.project() == key) {
                    let filter = format!("project:={}", t.project());
                    self.go(Screen::Containers, true);
                    self.set_filter(filter);
                }
                vec![]
            }
            Screen::Instances => self.instance_detail(&key),
            Screen::Containers => self.container_detail(&key),
            Screen::Backups => self.backup_detail(&key),
            Screen::Attention => self.attention_select(&key),
            Screen::Versions | Screen::RunOutput => vec![],
        }
    }
}
