//! Buckets → Objects → Versions: the S3 browser's own state (where it is,
//! what is listed, pages so far), its drill-down and going up a prefix, the
//! listings as they arrive, and the changes it offers on a version (restore,
//! undelete, download), each confirmed like a runbook.

use super::*;

/// Where the S3 browser is and what it has listed there.
#[derive(Debug, Clone, Default)]
pub struct S3View {
    /// Bucket and prefix the Objects screen lists.
    pub at: (String, String),
    pub objects: Loaded<Vec<ObjectEntry>>,
    /// Pages of the current listing received so far.
    pages: usize,
    /// Bucket and key whose versions the Versions screen lists.
    pub versions_of: (String, String),
    pub versions: Loaded<Vec<ObjectVersion>>,
}

impl S3View {
    pub fn loading(&self) -> bool {
        self.objects.loading() || self.versions.loading()
    }

    fn is_at(&self, bucket: &str, prefix: &str) -> bool {
        (bucket, prefix) == (self.at.0.as_str(), self.at.1.as_str())
    }

    /// The key's last part (what an operator types to confirm).
    fn base(&self) -> String {
        let key = &self.versions_of.1;
        key.rsplit('/').next().unwrap_or(key).to_string()
    }
}

/// An S3 location as the titles show it, shortened in the middle.
pub(super) fn location(bucket: &str, path: &str) -> String {
    crate::table::elide_middle(&format!("s3://{bucket}/{path}"), 72)
}

impl App {
    pub(in crate::tui::app) fn open_objects(
        &mut self,
        bucket: String,
        prefix: String,
        push: bool,
    ) -> Vec<Effect> {
        self.estate.s3.at = (bucket.clone(), prefix.clone());
        self.estate.s3.objects.start();
        self.estate.s3.objects.data.clear();
        self.estate.s3.pages = 0;
        self.nav.lists.insert(Screen::Objects, ListState::default());
        if self.screen == Screen::Objects {
            self.rebuild(Screen::Objects);
        } else {
            self.go(Screen::Objects, push);
        }
        vec![Effect::LoadObjects { bucket, prefix }]
    }

    pub(in crate::tui::app) fn open_versions(&mut self, key: String) -> Vec<Effect> {
        let bucket = self.estate.s3.at.0.clone();
        self.estate.s3.versions_of = (bucket.clone(), key.clone());
        self.estate.s3.versions.start();
        self.estate.s3.versions.data.clear();
        self.nav
            .lists
            .insert(Screen::Versions, ListState::default());
        self.go(Screen::Versions, true);
        vec![Effect::LoadVersions { bucket, key }]
    }

    pub(in crate::tui::app) fn on_objects_page(
        &mut self,
        bucket: &str,
        prefix: &str,
        page: Vec<ObjectEntry>,
    ) {
        if !self.estate.s3.is_at(bucket, prefix) {
            return;
        }
        self.estate.s3.objects.data.extend(page);
        self.estate.s3.pages += 1;
        // Rows show as soon as the first pages arrive; later pages are
        // folded in every tenth page so a 100k listing stays cheap.
        if self.estate.s3.pages <= 3 || self.estate.s3.pages.is_multiple_of(10) {
            self.rebuild(Screen::Objects);
        }
    }

    pub(in crate::tui::app) fn on_objects(
        &mut self,
        bucket: &str,
        prefix: &str,
        result: ProviderResult<Vec<ObjectEntry>>,
    ) {
        if !self.estate.s3.is_at(bucket, prefix) {
            return; // an answer for a place we already left
        }
        match result {
            Ok(rest) => {
                self.estate.s3.objects.data.extend(rest);
                self.estate.s3.objects.done();
            }
            Err(e) => {
                self.estate.s3.objects.fail(e.to_string());
                self.notify(
                    Level::Error,
                    format!("listing s3://{bucket}/{prefix} failed: {e}"),
                );
            }
        }
        self.rebuild(Screen::Objects);
    }

    pub(in crate::tui::app) fn on_versions(
        &mut self,
        bucket: &str,
        key: &str,
        result: ProviderResult<Vec<ObjectVersion>>,
    ) {
        if (bucket, key)
            != (
                self.estate.s3.versions_of.0.as_str(),
                self.estate.s3.versions_of.1.as_str(),
            )
        {
            return;
        }
        match result {
            Ok(v) => {
                self.estate.s3.versions.ready(v);
            }
            Err(e) => {
                self.estate.s3.versions.fail(e.to_string());
                self.notify(
                    Level::Error,
                    format!("listing versions of s3://{bucket}/{key} failed: {e}"),
                );
            }
        }
        self.rebuild(Screen::Versions);
    }

    fn selected_version(&self) -> Option<ObjectVersion> {
        if self.screen != Screen::Versions {
            return None;
        }
        let k = self.selected_key()?;
        self.estate
            .s3
            .versions
            .data
            .iter()
            .find(|v| v.version_id == k)
            .cloned()
    }

    /// `t` on Versions: copy an older version over the key.
    pub(in crate::tui::app) fn confirm_restore(&mut self) -> Vec<Effect> {
        let Some(v) = self.selected_version() else {
            self.notify(
                Level::Info,
                "restore works on a version: open a key's versions (Buckets → Enter)",
            );
            return vec![];
        };
        if v.is_delete_marker || v.is_latest {
            self.notify(Level::Info, "pick an older version (not the current one, not a delete marker); `u` removes a delete marker");
            return vec![];
        }
        let (bucket, key) = self.estate.s3.versions_of.clone();
        let base = self.estate.s3.base();
        self.ask(ActionConfirm {
            title: format!(
                "restore {base} to version {}",
                &v.version_id[..v.version_id.len().min(12)]
            ),
            lines: vec![
                format!("object    s3://{bucket}/{key}"),
                format!(
                    "version   {} ({} bytes, {})",
                    v.version_id,
                    v.size,
                    v.last_modified.format("%Y-%m-%d %H:%M")
                ),
                "copies it over the key: it becomes the current version; history is kept".into(),
            ],
            production: self.ctx.production,
            confirm_with: self.ctx.production.then_some(base),
            typed: confirm::Typed::default(),
            effect: Effect::RestoreVersion {
                bucket,
                key,
                version_id: v.version_id,
                production: self.ctx.production,
            },
        })
    }

    /// `u` on Versions: remove the delete marker on top.
    pub(in crate::tui::app) fn confirm_undelete(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Versions {
            self.notify(
                Level::Info,
                "undelete works on a key's versions (Buckets → Enter)",
            );
            return vec![];
        }
        if !self
            .estate
            .s3
            .versions
            .data
            .first()
            .is_some_and(|v| v.is_latest && v.is_delete_marker)
        {
            self.notify(
                Level::Info,
                "this key is not deleted: its latest version is not a delete marker",
            );
            return vec![];
        }
        let (bucket, key) = self.estate.s3.versions_of.clone();
        let base = self.estate.s3.base();
        self.ask(ActionConfirm {
            title: format!("undelete {base}"),
            lines: vec![
                format!("object    s3://{bucket}/{key}"),
                "removes the delete marker: the newest version is visible again".into(),
            ],
            production: self.ctx.production,
            confirm_with: self.ctx.production.then_some(base),
            typed: confirm::Typed::default(),
            effect: Effect::Undelete {
                bucket,
                key,
                production: self.ctx.production,
            },
        })
    }

    /// `o` on Versions: save that version to the download directory.
    pub(in crate::tui::app) fn download_version(&mut self) -> Vec<Effect> {
        let Some(v) = self.selected_version().filter(|v| !v.is_delete_marker) else {
            self.notify(
                Level::Info,
                "download works on a version (not a delete marker)",
            );
            return vec![];
        };
        let (bucket, key) = self.estate.s3.versions_of.clone();
        self.notify(Level::Info, format!("downloading s3://{bucket}/{key}…"));
        self.runs.actions_in_flight += 1;
        vec![Effect::Download {
            bucket,
            key,
            version_id: (!v.is_latest).then_some(v.version_id),
            production: self.ctx.production,
        }]
    }
}
