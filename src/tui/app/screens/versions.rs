//! Versions: every version and delete marker of one key. `R` makes a
//! version current again, `u` removes the delete marker hiding the key,
//! `o` downloads a version; each asks first.

use super::*;

pub struct Versions;

impl View for Versions {
    fn spec(&self) -> ScreenSpec {
        use Action::{Back, Download, Filter, Refresh, RestoreVersion, Undelete};
        ScreenSpec {
            title: "Versions",
            command: None,
            tab: None,
            actions: &[RestoreVersion, Undelete, Download, Filter, Back, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(views::versions_table(&app.estate.s3.versions.data))
    }

    fn status(&self, app: &App) -> (bool, Option<String>) {
        (app.estate.s3.versions.loading(), app.estate.s3.versions.error())
    }

    fn title(&self, app: &App) -> Option<String> {
        let (bucket, key) = &app.estate.s3.versions_of;
        Some(format!("versions of {}", s3::location(bucket, key)))
    }

    fn tab(&self) -> Option<Screen> {
        Some(Screen::Buckets)
    }

    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        app.estate.s3.versions.start();
        vec![Effect::LoadVersions {
            bucket: app.estate.s3.versions_of.0.clone(),
            key: app.estate.s3.versions_of.1.clone(),
        }]
    }
}
