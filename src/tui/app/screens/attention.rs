//! Attention: what needs looking at now, from every screen's data
//! ([`crate::ops::attention`]). Enter opens the runbook that fixes the
//! item, on its target; an item no runbook fixes shows its details.

use super::*;

pub struct Attention;

impl View for Attention {
    fn spec(&self) -> ScreenSpec {
        use Action::{Filter, Refresh, Runbooks, Select};
        ScreenSpec {
            title: "Attention",
            command: Some("attention"),
            tab: Some("what needs attention now, worst first (Enter opens the runbook that fixes it)"),
            actions: &[Select, Runbooks, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        app.estate.attention = crate::ops::attention::gather(&crate::ops::attention::Signals {
            config: &app.config,
            inv: &app.estate.inv,
            buckets: &app.estate.buckets.data,
            findings: &app.estate.findings.data,
            journal: &app.estate.history.data,
            drill: app.estate.drill.as_ref(),
            now: app.now,
        });
        Some(views::attention_table(&app.estate.attention, app.now))
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        app.attention_select(&key)
    }

    /// `R` reloads everything: Attention reads every screen's data.
    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        let mut fx = app.refresh_all();
        app.estate.history.start();
        app.estate.drills.start();
        app.estate.findings.start();
        fx.extend([Effect::LoadHistory, Effect::LoadDrills, Effect::LoadPosture]);
        fx
    }

    fn target(&self, app: &App, key: &str) -> Option<Target> {
        let fix = app.estate.attention.iter().find(|i| i.key() == key)?.fix.as_ref()?;
        app.estate.inv.resolve(fix.target_kind, &fix.target).ok()
    }
}

impl App {
    /// Enter on an item: its fix's form, prefilled with its target.
    fn attention_select(&mut self, key: &str) -> Vec<Effect> {
        let Some(item) = self.estate.attention.iter().find(|i| i.key() == key).cloned() else {
            return vec![];
        };
        let Some(fix) = &item.fix else {
            self.mode = Mode::Detail {
                title: format!("{} — {}", item.kind, item.subject),
                fields: vec![
                    ("severity".into(), item.severity.label().into()),
                    ("what".into(), item.what.clone()),
                    (
                        "since".into(),
                        item.since
                            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                            .unwrap_or_else(|| "-".into()),
                    ),
                    (
                        "fix".into(),
                        "no runbook fixes this one: act on it where it is".into(),
                    ),
                ],
            };
            return vec![];
        };
        match self.estate.inv.resolve(fix.target_kind, &fix.target) {
            Ok(target) => self.open_form(&fix.runbook, target, &BTreeMap::new()),
            Err(e) => {
                self.notify(Level::Error, format!("{}: {e}", fix.runbook));
                vec![]
            }
        }
    }
}
