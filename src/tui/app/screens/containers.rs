//! Containers: every container on every host, with its compose project.
//! Enter shows one's details and labels; `t` restarts it; `p` shows only
//! its project; `S` opens a shell inside it.

use super::*;

pub struct Containers;

impl View for Containers {
    fn spec(&self) -> ScreenSpec {
        use Action::{Filter, Project, Refresh, Restart, Runbooks, Select, Shell};
        ScreenSpec {
            title: "Containers",
            command: Some("containers"),
            tab: Some("containers"),
            actions: &[Runbooks, Restart, Shell, Select, Project, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(views::containers_table(&app.estate.inv.containers, &app.host_names()))
    }

    fn production(&self, app: &App) -> bool {
        inventory::production(app)
    }

    fn status(&self, app: &App) -> (bool, Option<String>) {
        inventory::status(app)
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        app.container_detail(&key)
    }

    fn target(&self, app: &App, key: &str) -> Option<Target> {
        let inv = &app.estate.inv;
        inv.containers
            .iter()
            .find(|c| views::container_key(c) == key)
            .map(|c| inv.container_target(c))
    }
}
