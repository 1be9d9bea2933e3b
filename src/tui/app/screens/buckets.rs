//! Buckets: the S3 buckets, with versioning and encryption. Enter lists a
//! bucket's objects.

use super::*;

pub struct Buckets;

impl View for Buckets {
    fn spec(&self) -> ScreenSpec {
        use Action::{Back, Filter, Refresh, Select};
        ScreenSpec {
            title: "Buckets",
            command: Some("buckets"),
            tab: Some("buckets"),
            actions: &[Select, Back, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(views::buckets_table(&app.estate.buckets.data))
    }

    fn status(&self, app: &App) -> (bool, Option<String>) {
        (app.estate.buckets.loading(), app.estate.buckets.error())
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        app.open_objects(key, String::new(), true)
    }
}
