//! Drills: the drill reports, newest first, and the drill in progress.
//! They load when opened and on `R`; Enter on the drill in progress shows
//! its steps, on a report the report.

use super::*;

pub struct Drills;

impl View for Drills {
    fn spec(&self) -> ScreenSpec {
        use Action::{Filter, Refresh, Select};
        ScreenSpec {
            title: "Drills",
            command: Some("drills"),
            tab: Some("drills (:drill SCENARIO starts one on the sandbox)"),
            actions: &[Select, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(views::drills_table(
            &app.estate.drills.data,
            app.estate.drill.as_ref(),
            app.now,
        ))
    }

    fn opened(&self, app: &mut App) -> Vec<Effect> {
        app.estate.drills.start();
        vec![Effect::LoadDrills]
    }

    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        self.opened(app)
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        if app.estate.drill.as_ref().is_some_and(|d| d.id == key) {
            return app.run_command("drill");
        }
        if let Some(r) = app.estate.drills.data.iter().find(|r| r.id == key) {
            app.mode = drill_report_popup(r);
        }
        vec![]
    }
}

impl App {
    pub(in crate::tui::app) fn on_drills(
        &mut self,
        active: Option<crate::drill::Active>,
        reports: Vec<crate::drill::Report>,
    ) {
        self.estate.drill = active;
        self.estate.drills.data = reports.into_iter().rev().collect();
        self.estate.drills.done();
        self.rebuild(Screen::Drills);
    }
}
