//! Schedules: the config's `[[schedule]]`s (the documents' recurring
//! tasks) with their last run from the journal, the next time and their
//! state. They load with the journal when opened and on `R`; Enter shows
//! one, with the State Manager expression it stands for.

use super::*;

pub struct Schedules;

impl View for Schedules {
    fn spec(&self) -> ScreenSpec {
        use Action::{Filter, Refresh, Select};
        ScreenSpec {
            title: "Schedules",
            command: Some("schedules"),
            // From the palette (`:schedules`); it lights History's tab,
            // whose journal its last runs come from.
            tab: None,
            actions: &[Select, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(views::schedules_table(&crate::ops::schedule::statuses(
            &app.config,
            &app.estate.history.data,
            app.now,
        )))
    }

    fn tab(&self) -> Option<Screen> {
        Some(Screen::History)
    }

    fn opened(&self, app: &mut App) -> Vec<Effect> {
        app.estate.history.start();
        vec![Effect::LoadHistory]
    }

    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        self.opened(app)
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        let all = crate::ops::schedule::statuses(&app.config, &app.estate.history.data, app.now);
        if let Some(s) = all.into_iter().find(|s| s.name == key) {
            app.mode = Mode::Detail {
                title: format!("schedule {}", s.name),
                fields: vec![
                    ("runbook".into(), s.runbook),
                    ("target".into(), s.target),
                    ("when".into(), s.when),
                    ("State Manager".into(), s.expression),
                    ("last run".into(), s.last_run.unwrap_or_else(|| "never".into())),
                    ("result".into(), s.last_status.unwrap_or_else(|| "-".into())),
                    ("due".into(), s.due_at.to_rfc3339()),
                    ("next".into(), s.next_at.to_rfc3339()),
                    ("state".into(), s.state.label().into()),
                    (
                        "runs by".into(),
                        "opsdeck schedule run-due (cron or a systemd timer)".into(),
                    ),
                ],
            };
        }
        vec![]
    }
}
