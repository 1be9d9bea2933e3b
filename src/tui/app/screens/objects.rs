//! Objects: a bucket's keys under a prefix (pages appear as they arrive).
//! Enter goes into a prefix or lists a key's versions; Esc goes up one
//! prefix, then back to Buckets.

use super::*;

pub struct Objects;

impl View for Objects {
    fn spec(&self) -> ScreenSpec {
        use Action::{Back, Filter, Refresh, Select};
        ScreenSpec {
            title: "Objects",
            command: None,
            tab: None,
            actions: &[Select, Back, Filter, Refresh],
        }
    }

    fn table(&self, app: &mut App) -> Option<TableData> {
        Some(views::objects_table(
            &app.estate.s3.objects.data,
            &app.estate.s3.at.1,
            app.now,
        ))
    }

    fn status(&self, app: &App) -> (bool, Option<String>) {
        (app.estate.s3.objects.loading(), app.estate.s3.objects.error())
    }

    fn title(&self, app: &App) -> Option<String> {
        Some(s3::location(&app.estate.s3.at.0, &app.estate.s3.at.1))
    }

    fn tab(&self) -> Option<Screen> {
        Some(Screen::Buckets)
    }

    fn select(&self, app: &mut App, key: String) -> Vec<Effect> {
        if key.ends_with('/') {
            app.open_objects(app.estate.s3.at.0.clone(), key, false)
        } else {
            app.open_versions(key)
        }
    }

    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        let (b, p) = app.estate.s3.at.clone();
        app.open_objects(b, p, false)
    }

    fn up(&self, app: &mut App) -> Option<Vec<Effect>> {
        if app.estate.s3.at.1.is_empty() {
            return None;
        }
        let p = app.estate.s3.at.1.trim_end_matches('/');
        let parent = match p.rfind('/') {
            Some(i) => p[..=i].to_string(),
            None => String::new(),
        };
        Some(app.open_objects(app.estate.s3.at.0.clone(), parent, false))
    }
}
