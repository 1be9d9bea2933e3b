//! The console's state and its one entry point, [`App::update`]: a message
//! in, effects out. No IO, no async: everything here is unit-testable, and
//! the effects runner is the one place that turns an effect into work.

pub mod keymap;
pub mod output;
pub mod runbooks;

use crate::config::Config;
use crate::domain::{Backup, Bucket, Instance, ObjectEntry, ObjectVersion};
use crate::jobs::engine::{RunEvent, RunId};
use crate::provider::ProviderResult;
use crate::provider::host::HostSnapshot;
use crate::runbook::{self, RenderedRun};
use crate::table::{self as list, ListState, TableData, rows as views};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use keymap::{Action, Keymap};
use nucleo_matcher::Matcher;
use output::OutputBuffer;
use ratatui_textarea::TextArea;
use std::collections::BTreeMap;

mod actions;
pub mod confirm;
mod dialogs;
mod elsewhere;
pub mod fleet;
mod keys;
pub mod line_edit;
pub mod locked;
pub mod palette;
pub mod screens;
mod state;
mod update;

use actions::drill_report_popup;
pub use screens::{Screen, ScreenSpec, View};
pub use state::*;

/// How many notices `n` can show again.
const NOTICES_KEPT: usize = 100;

pub struct App {
    pub now: DateTime<Utc>,
    pub config: Config,
    pub ctx: ContextInfo,
    pub keymap: Keymap,
    /// Runbooks: the built-in library plus the user's directory.
    pub library: std::sync::Arc<runbook::Library>,
    pub screen: Screen,
    /// The dialog open over the screen, if any.
    pub mode: Mode,
    pub quit: bool,
    /// What is loaded of the estate, and what is derived from it.
    pub estate: Estate,
    /// This console's runs, fleets and marks.
    pub runs: Runs,
    /// Where the operator is: tables, filters, the way back, the pane.
    pub nav: Nav,
    pub notices: Notices,
}

/// What is loaded of the estate, and what is derived from it.
#[derive(Default)]
pub struct Estate {
    pub instances: Loaded<Vec<Instance>>,
    /// Pages of the first instance listing shown so far (rows appear as
    /// they arrive; a refresh keeps the old rows until it is complete).
    pub instance_pages: usize,
    pub snapshots: BTreeMap<String, Loaded<Option<HostSnapshot>>>,
    /// The estate derived from what is loaded (tenants, containers,
    /// backups…): the same derivation as the headless CLI's.
    pub inv: crate::ops::Inventory,
    pub buckets: Loaded<Vec<Bucket>>,
    /// The S3 browser (Objects, Versions): where it is, what it listed.
    pub s3: screens::S3View,
    pub s3_backups: Loaded<Vec<Backup>>,
    /// The journal, newest first (History screen).
    pub history: Loaded<Vec<crate::store::journal::Entry>>,
    /// Drill reports, newest first, and the drill in progress.
    pub drills: Loaded<Vec<crate::drill::Report>>,
    pub drill: Option<crate::drill::Active>,
    /// Posture findings (loaded when the Findings screen opens).
    pub findings: Loaded<Vec<crate::domain::Finding>>,
    /// What needs attention, from every screen's data ([`crate::ops::attention`]).
    pub attention: Vec<crate::ops::attention::Item>,
    /// Contexts `:ctx` can open (from the config, plus sandbox and aws).
    pub contexts: Vec<String>,
}

/// This console's runs, fleets and marks.
#[derive(Default)]
pub struct Runs {
    /// Every run shown on Runs, oldest first.
    pub all: Vec<RunView>,
    /// Instances marked for a fleet run (ids).
    pub marked: std::collections::BTreeSet<String>,
    /// Fleet runs of this console, oldest first (their targets are in `all`).
    pub fleets: Vec<fleet::FleetView>,
    /// `:run NAME tag:K=V`: the selection the form opened next is for.
    pending_fleet: Option<fleet::FleetSelection>,
    /// Changes and downloads sent and not yet answered (the spinner turns).
    pub actions_in_flight: usize,
    seq: u32,
    /// When everyone's runs were last asked of the hosts.
    pub host_runs_asked: Option<DateTime<Utc>>,
    /// The runs sent and not yet started, as confirmed: one refused by a
    /// lock can wait and start as it was.
    rendered: std::collections::HashMap<String, Box<crate::runbook::RenderedRun>>,
    /// Waits for locks asked so far (each answer names its wait).
    waits: u64,
    /// Distinguishes this console's run ids from another console's started
    /// in the same second (set from the process id; empty in tests).
    pub tag: String,
}

/// Where the operator is: each screen's table and filter, the way back,
/// the output pane, the scroll of a detail, the palette's Tab cycle.
pub struct Nav {
    back: Vec<Screen>,
    pub tables: BTreeMap<Screen, TableData>,
    pub lists: BTreeMap<Screen, ListState>,
    matcher: Matcher,
    /// The run output pane: which run, how far scrolled, following or not.
    pub pane: screens::OutputPane,
    /// How far the open detail popup is scrolled (0 when it opens).
    pub detail_scroll: u16,
    /// Tab in the palette: what was typed, which candidate, the line shown.
    palette_cycle: Option<(String, usize, String)>,
    pub spinner: usize,
}

impl Default for Nav {
    fn default() -> Self {
        Nav {
            back: Vec::new(),
            tables: BTreeMap::new(),
            lists: BTreeMap::new(),
            matcher: list::new_matcher(),
            pane: screens::OutputPane::default(),
            detail_scroll: 0,
            palette_cycle: None,
            spinner: 0,
        }
    }
}

/// The notice on the status line, and the last ones (`n` shows them).
#[derive(Default)]
pub struct Notices {
    pub current: Option<Notice>,
    /// The last notices, oldest first.
    pub kept: std::collections::VecDeque<Notice>,
}

fn input_area(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

impl App {
    pub fn new(config: Config, ctx: ContextInfo, keymap: Keymap, now: DateTime<Utc>) -> App {
        let mut app = App {
            now,
            config,
            ctx,
            keymap,
            library: std::sync::Arc::new(runbook::Library::builtin()),
            screen: Screen::Tenants,
            mode: Mode::Normal,
            quit: false,
            estate: Estate::default(),
            runs: Runs::default(),
            nav: Nav::default(),
            notices: Notices::default(),
        };
        app.rebuild_all();
        app
    }

    /// Effects to run when the console opens.
    pub fn startup(&mut self) -> Vec<Effect> {
        let mut fx = self.refresh_all();
        // Runs the journal says were in flight are followed again; the
        // journal also feeds the Backups screen's last validations.
        fx.push(Effect::Reattach);
        self.estate.history.start();
        fx.push(Effect::LoadHistory);
        self.estate.drills.start();
        fx.push(Effect::LoadDrills);
        // The posture checks feed the attention list from the start.
        self.estate.findings.start();
        fx.push(Effect::LoadPosture);
        fx
    }

    fn refresh_all(&mut self) -> Vec<Effect> {
        self.estate.instances.start();
        self.estate.buckets.start();
        let mut fx = vec![Effect::LoadInstances, Effect::LoadBuckets];
        if let Some(bucket) = self.config.backups.bucket.clone() {
            self.estate.s3_backups.start();
            fx.push(Effect::LoadS3Backups {
                bucket,
                prefix: self.config.backups.prefix.clone(),
            });
        }
        fx
    }

    pub fn busy(&self) -> bool {
        self.estate.instances.loading()
            || self.estate.buckets.loading()
            || self.estate.s3.loading()
            || self.estate.s3_backups.loading()
            || self.estate.findings.loading()
            || self.estate.history.loading()
            || self.estate.drills.loading()
            || self.estate.snapshots.values().any(|s| s.loading())
            || self.runs.all.iter().any(|r| r.status.is_active())
            || self.runs.actions_in_flight > 0
    }

    pub fn host_names(&self) -> BTreeMap<String, String> {
        self.estate
            .instances
            .data
            .iter()
            .map(|i| (i.id.clone(), i.name.clone()))
            .collect()
    }

    pub fn table(&self, s: Screen) -> &TableData {
        static EMPTY: std::sync::OnceLock<TableData> = std::sync::OnceLock::new();
        self.nav
            .tables
            .get(&s)
            .unwrap_or_else(|| EMPTY.get_or_init(TableData::default))
    }

    pub fn list(&self, s: Screen) -> ListState {
        self.nav.lists.get(&s).cloned().unwrap_or_default()
    }

    /// The row under the cursor on the current screen.
    pub fn selected_key(&self) -> Option<String> {
        let t = self.nav.tables.get(&self.screen)?;
        self.nav
            .lists
            .get(&self.screen)?
            .selected_row(t)
            .map(|r| r.key.clone())
    }

    pub fn run(&self, id: &str) -> Option<&RunView> {
        self.runs.all.iter().find(|r| r.id == id)
    }

    /// Whether the current view concerns production (drawn with a red frame).
    pub fn production_in_view(&self) -> bool {
        if self.ctx.production {
            return true;
        }
        self.screen.view().production(self)
    }

    pub(crate) fn notify(&mut self, level: Level, text: impl Into<String>) {
        // Error messages can quote URLs and settings: never show a secret.
        let text = crate::store::mask::mask_text(&text.into());
        match level {
            Level::Error => tracing::warn!(notice = %text),
            _ => tracing::info!(notice = %text),
        }
        let n = Notice {
            level,
            text,
            at: self.now,
        };
        if self.notices.kept.len() >= NOTICES_KEPT {
            self.notices.kept.pop_front();
        }
        self.notices.kept.push_back(n.clone());
        self.notices.current = Some(n);
    }

    /// Rebuild a screen's table from its data, and the attention list,
    /// which reads every screen's data.
    fn rebuild(&mut self, s: Screen) {
        self.rebuild_table(s);
        if s != Screen::Attention {
            self.rebuild_table(Screen::Attention);
        }
    }

    fn rebuild_table(&mut self, s: Screen) {
        let Some(table) = s.view().table(self) else {
            return;
        };
        let list = self.nav.lists.entry(s).or_default();
        list.refilter(&table, &mut self.nav.matcher);
        self.nav.tables.insert(s, table);
    }

    fn rebuild_all(&mut self) {
        for s in Screen::ALL {
            self.rebuild_table(*s);
        }
    }

    fn rederive(&mut self) {
        let snaps: BTreeMap<String, HostSnapshot> = self
            .estate
            .snapshots
            .iter()
            .filter_map(|(h, l)| l.data.clone().map(|s| (h.clone(), s)))
            .collect();
        self.estate.inv = crate::ops::Inventory::derive(
            &self.config,
            self.estate.instances.data.clone(),
            snaps,
            &self.estate.s3_backups.data,
        );
        for s in [Screen::Tenants, Screen::Containers, Screen::Backups] {
            self.rebuild(s);
        }
    }

    fn go(&mut self, s: Screen, push: bool) {
        if push {
            self.nav.back.push(self.screen);
        } else {
            self.nav.back.clear();
        }
        self.screen = s;
        self.rebuild(s);
    }
}
