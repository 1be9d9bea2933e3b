//! History: the journal of every run, newest first. It loads when opened
//! and on `R`; Enter opens a past run's output.

use super::*;

pub struct History;

impl View for History {
    fn spec(&self) -> ScreenSpec {
        use Action::{Filter, Refresh, Select};
        ScreenSpec {
            title: "History",
            command: Some("history"),
            tab: Some("history (the journal of every run)"),
            actions: &[Select, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(views::history_table(&app.estate.history.data, &app.host_names()))
    }

    fn opened(&self, app: &mut App) -> Vec<Effect> {
        app.estate.history.start();
        vec![Effect::LoadHistory]
    }

    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        self.opened(app)
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        // Read on a blocking task; the spinner turns until it is here.
        app.runs.actions_in_flight += 1;
        vec![Effect::OpenPastOutput(key.into())]
    }
}

impl App {
    pub(in crate::tui::app) fn on_history(&mut self, entries: Vec<crate::store::journal::Entry>) {
        self.estate.history.ready(entries);
        self.rebuild(Screen::History);
        // The Backups screen shows each backup's last validation, the
        // Schedules screen each schedule's last run.
        self.rebuild(Screen::Backups);
        self.rebuild(Screen::Schedules);
    }
}
