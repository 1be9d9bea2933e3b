//! Tenants: one row per tenant (a compose project on a host), with its
//! deploy, health and last backup. Enter shows the tenant's containers;
//! `d` deploys it.

use super::*;

pub struct Tenants;

impl View for Tenants {
    fn spec(&self) -> ScreenSpec {
        use Action::{Deploy, Filter, Refresh, Runbooks, Select};
        ScreenSpec {
            title: "Tenants",
            command: Some("tenants"),
            tab: Some("tenants"),
            actions: &[Runbooks, Deploy, Select, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        let rpo = |db: &str| app.config.rpo_hours(db);
        Some(views::tenants_table(&app.estate.inv.tenants, app.now, &rpo))
    }

    fn production(&self, app: &App) -> bool {
        inventory::production(app)
    }

    fn status(&self, app: &App) -> (bool, Option<String>) {
        inventory::status(app)
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        // Drill down: the tenant's containers.
        if let Some(t) = app.estate.inv.tenants.iter().find(|t| t.project() == key) {
            let filter = format!("project:={}", t.project());
            app.go(Screen::Containers, true);
            app.set_filter(filter);
        }
        vec![]
    }

    fn target(&self, app: &App, key: &str) -> Option<Target> {
        let inv = &app.estate.inv;
        inv.tenants
            .iter()
            .find(|t| t.project() == key)
            .map(|t| inv.tenant_target(t))
    }
}
