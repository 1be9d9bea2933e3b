//! Findings: the posture checks (open security groups, unencrypted
//! volumes, IMDSv1). They load once when first opened, again on `R`;
//! Enter shows a finding whole.

use super::*;

pub struct Findings;

impl View for Findings {
    fn spec(&self) -> ScreenSpec {
        use Action::{Filter, Refresh};
        ScreenSpec {
            title: "Findings",
            command: Some("findings"),
            tab: Some("posture findings (open security groups, unencrypted volumes, IMDSv1)"),
            actions: &[Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(views::findings_table(&app.estate.findings.data))
    }

    fn status(&self, app: &App) -> (bool, Option<String>) {
        (app.estate.findings.loading(), app.estate.findings.error())
    }

    fn opened(&self, app: &mut App) -> Vec<Effect> {
        if app.estate.findings.loaded() {
            return vec![];
        }
        self.refresh(app)
    }

    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        app.estate.findings.start();
        vec![Effect::LoadPosture]
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        if let Some(f) = app.estate.findings.data.iter().find(|f| f.resource == key) {
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
            app.mode = Mode::Detail {
                title: format!("finding on {}", f.resource),
                fields,
            };
        }
        vec![]
    }
}

impl App {
    pub(in crate::tui::app) fn on_posture(
        &mut self,
        result: ProviderResult<Vec<crate::domain::Finding>>,
    ) {
        match result {
            Ok(v) => {
                self.estate.findings.done();
                self.estate.findings.data = v;
            }
            Err(e) => self.estate.findings.fail(e.to_string()),
        }
        self.rebuild(Screen::Findings);
    }
}
