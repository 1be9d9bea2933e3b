//! Backups: pg_dump and SQLite backups on the hosts and in S3, with their
//! age against the RPO and their last validation. Enter shows one; `o`
//! downloads an S3 backup.

use super::*;

pub struct Backups;

impl View for Backups {
    fn spec(&self) -> ScreenSpec {
        use Action::{Download, Filter, Refresh, Runbooks, Select};
        ScreenSpec {
            title: "Backups",
            command: Some("backups"),
            tab: Some("backups"),
            actions: &[Runbooks, Select, Download, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        let rpo = |db: &str| app.config.rpo_hours(db);
        Some(views::backups_table(
            &app.estate.inv.backups,
            app.now,
            &rpo,
            &app.host_names(),
            &views::validation_results(&app.estate.history.data),
        ))
    }

    fn production(&self, app: &App) -> bool {
        inventory::production(app)
    }

    fn status(&self, app: &App) -> (bool, Option<String>) {
        inventory::status(app)
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        app.backup_detail(&key)
    }

    fn target(&self, app: &App, key: &str) -> Option<Target> {
        let inv = &app.estate.inv;
        inv.backups
            .iter()
            .find(|b| views::backup_key(b) == key || b.path == key)
            .filter(|b| b.unrecognised.is_none())
            .map(|b| inv.backup_target(b))
    }
}
