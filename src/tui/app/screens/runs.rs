//! Runs: this console's runs, newest first (runbooks, fleet targets, port
//! forwards, runs reattached from the journal), and everyone else's on the
//! hosts (asked while it is open). Enter follows one's output; Ctrl-C
//! cancels it; `e` shows only the runs that did not succeed.

use super::*;

pub struct Runs;

impl View for Runs {
    fn spec(&self) -> ScreenSpec {
        use Action::{CancelRun, Failures, Filter, Select};
        ScreenSpec {
            title: "Runs",
            command: Some("runs"),
            tab: Some("runs"),
            actions: &[Select, CancelRun, Failures, Filter],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(runs_table(app))
    }

    fn badge(&self, app: &App) -> Option<String> {
        app.fleet_summary()
    }

    fn opened(&self, app: &mut App) -> Vec<Effect> {
        app.ask_host_runs(true)
    }

    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        app.notify(Level::Info, "refreshing…");
        let mut fx = app.refresh_all();
        fx.extend(app.ask_host_runs(true));
        fx
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        let mut fx = app.follow_fleet_target(&key);
        fx.extend(app.follow_elsewhere(&key));
        app.nav.pane.show(key.into(), true);
        app.go(Screen::RunOutput, true);
        fx
    }

    fn run(&self, app: &App) -> Option<RunId> {
        app.selected_key().map(Into::into)
    }
}

fn runs_table(app: &App) -> TableData {
    use list::{Row, Tone};
    let names = app.host_names();
    TableData {
        headers: vec![
            "RUN", "TITLE", "HOST", "STATUS", "STARTED", "ELAPSED", "EXIT",
        ],
        rows: app
            .runs.all
            .iter()
            .rev()
            .map(|r| Row {
                key: r.id.clone().into(),
                tone: match r.status {
                    RunStatus::Succeeded => Tone::Good,
                    RunStatus::Starting | RunStatus::Running => Tone::Normal,
                    RunStatus::Cancelled(_) => Tone::Warn,
                    _ => Tone::Bad,
                },
                cells: vec![
                    r.id.clone().into(),
                    r.title.clone(),
                    names
                        .get(&r.host)
                        .cloned()
                        .unwrap_or_else(|| r.host.clone()),
                    r.status.label(),
                    r.started_at.format("%H:%M:%S").to_string(),
                    format!("{}s", r.elapsed(app.now).num_seconds()),
                    r.status
                        .exit_code()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                ],
            })
            .collect(),
        ..Default::default()
    }
}

