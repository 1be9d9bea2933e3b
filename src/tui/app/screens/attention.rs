//! Attention: what needs looking at now, from every screen's data
//! ([`crate::ops::attention`]). Enter opens the runbook that fixes the
//! item, on its target; an item no runbook fixes shows its details.

use super::super::*;

impl App {
    /// Enter on an item: its fix's form, prefilled with its target.
    pub(in crate::tui::app) fn attention_select(&mut self, key: &str) -> Vec<Effect> {
        let Some(item) = self.attention.iter().find(|i| i.key() == key).cloned() else {
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
        match self.inv.resolve(fix.target_kind, &fix.target) {
            Ok(target) => self.open_form(&fix.runbook, target, &BTreeMap::new()),
            Err(e) => {
                self.notify(Level::Error, format!("{}: {e}", fix.runbook));
                vec![]
            }
        }
    }
}
