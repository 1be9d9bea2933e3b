//! Instances: the EC2 instances (pages appear as they arrive). Enter shows
//! one's details; `s`/`x` start and stop it; Space and `*` mark instances
//! for a fleet run; `S` opens a shell.

use super::*;

pub struct Instances;

impl View for Instances {
    fn spec(&self) -> ScreenSpec {
        use Action::{
            Filter, Mark, MarkAll, Refresh, Runbooks, Select, Shell, StartInstance, StopInstance,
        };
        ScreenSpec {
            title: "Instances",
            command: Some("instances"),
            tab: Some("instances"),
            actions: &[
                Runbooks,
                Shell,
                Select,
                Mark,
                StartInstance,
                StopInstance,
                MarkAll,
                Filter,
                Refresh,
            ],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        let mut t = views::instances_table(&app.estate.instances.data);
        fleet::show_marks(&mut t, &app.runs.marked);
        Some(t)
    }

    fn production(&self, app: &App) -> bool {
        inventory::production(app)
    }

    fn status(&self, app: &App) -> (bool, Option<String>) {
        (app.estate.instances.loading(), app.estate.instances.error())
    }

    fn badge(&self, app: &App) -> Option<String> {
        (!app.runs.marked.is_empty()).then(|| format!("● {} marked", app.runs.marked.len()))
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        app.instance_detail(&key)
    }

    fn target(&self, app: &App, key: &str) -> Option<Target> {
        app.estate.instances
            .data
            .iter()
            .find(|i| i.id == key)
            .map(|i| app.estate.inv.instance_target(i))
    }
}
