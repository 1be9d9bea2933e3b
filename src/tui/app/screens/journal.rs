//! History, Drills and Findings: screens read from the journal, the drill
//! reports and the posture checks. They load when opened (Findings once),
//! reload on `R`; Enter opens a past run's output or a drill's report.

use super::super::*;

impl App {
    /// The load a journal screen needs when opened (`again`: on `R`, or
    /// Findings once more); `None` for the other screens.
    pub(in crate::tui::app) fn journal_load(
        &mut self,
        s: Screen,
        again: bool,
    ) -> Option<Vec<Effect>> {
        match s {
            Screen::History => {
                self.history.loading = true;
                Some(vec![Effect::LoadHistory])
            }
            Screen::Drills => {
                self.drills.loading = true;
                Some(vec![Effect::LoadDrills])
            }
            Screen::Findings if again || !self.findings.loaded => {
                self.findings.loading = true;
                Some(vec![Effect::LoadPosture])
            }
            Screen::Findings => Some(vec![]),
            // Attention reads everything: `R` reloads everything.
            Screen::Attention if again => {
                let mut fx = self.refresh_all();
                self.history.loading = true;
                self.drills.loading = true;
                self.findings.loading = true;
                fx.extend([Effect::LoadHistory, Effect::LoadDrills, Effect::LoadPosture]);
                Some(fx)
            }
            _ => None,
        }
    }

    /// Enter on History (the run's output) or Drills (the report).
    pub(in crate::tui::app) fn journal_select(&mut self, key: &str) -> Vec<Effect> {
        match self.screen {
            Screen::Findings => {
                if let Some(f) = self.findings.data.iter().find(|f| f.resource == key) {
                    let mut fields = vec![
                        ("finding".to_string(), f.kind.label().to_string()),
                        ("region".into(), f.region.clone()),
                        ("resource".into(), f.resource.clone()),
                        ("detail".into(), f.detail.clone()),
                    ];
                    fields.extend(
                        f.instances
                            .iter()
                            .map(|i| ("instance".to_string(), i.clone())),
                    );
                    self.mode = Mode::Detail {
                        title: format!("finding on {}", f.resource),
                        fields,
                    };
                }
                vec![]
            }
            Screen::History => {
                // Read on a blocking task; the spinner turns until it is here.
                self.actions_in_flight += 1;
                vec![Effect::OpenPastOutput(key.to_string())]
            }
            Screen::Drills => {
                if self.drill.as_ref().is_some_and(|d| d.id == key) {
                    return self.run_command("drill");
                }
                if let Some(r) = self.drills.data.iter().find(|r| r.id == key) {
                    self.mode = drill_report_popup(r);
                }
                vec![]
            }
            _ => vec![],
        }
    }

    pub(in crate::tui::app) fn on_history(&mut self, entries: Vec<crate::store::journal::Entry>) {
        self.history.data = entries;
        self.history.loading = false;
        self.history.loaded = true;
        self.rebuild(Screen::History);
        // The Backups screen shows each backup's last validation.
        self.rebuild(Screen::Backups);
    }

    pub(in crate::tui::app) fn on_drills(
        &mut self,
        active: Option<crate::drill::Active>,
        reports: Vec<crate::drill::Report>,
    ) {
        self.drills.loading = false;
        self.drill = active;
        self.drills.data = reports.into_iter().rev().collect();
        self.drills.loaded = true;
        self.rebuild(Screen::Drills);
    }

    pub(in crate::tui::app) fn on_posture(
        &mut self,
        result: ProviderResult<Vec<crate::domain::Finding>>,
    ) {
        self.findings.loading = false;
        match result {
            Ok(v) => {
                self.findings.loaded = true;
                self.findings.error = None;
                self.findings.data = v;
            }
            Err(e) => self.findings.error = Some(e.to_string()),
        }
        self.rebuild(Screen::Findings);
    }
}
