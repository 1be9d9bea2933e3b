//! The console's state and its one entry point, [`App::update`]: a message
//! in, effects out. No IO, no async: everything here is unit-testable, and
//! the effects runner is the one place that turns an effect into work.

pub mod keymap;
pub mod list;
pub mod output;
pub mod runbooks;
pub mod views;

use crate::config::Config;
use crate::domain::{Backup, Bucket, Instance, ObjectEntry, ObjectVersion, Tenant};
use crate::engine::{RunEvent, RunId};
use crate::provider::ProviderResult;
use crate::provider::host::HostSnapshot;
use crate::runbook::{self, RenderedRun};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use keymap::{Action, Keymap};
use list::{ListState, TableData};
use nucleo_matcher::Matcher;
use output::OutputBuffer;
use ratatui_textarea::TextArea;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Screen {
    Tenants,
    Instances,
    Containers,
    Buckets,
    Objects,
    Versions,
    Backups,
    Runs,
    RunOutput,
    History,
    Drills,
    Findings,
}

impl Screen {
    pub fn title(self) -> &'static str {
        match self {
            Screen::Tenants => "Tenants",
            Screen::Instances => "Instances",
            Screen::Containers => "Containers",
            Screen::Buckets => "Buckets",
            Screen::Objects => "Objects",
            Screen::Versions => "Versions",
            Screen::Backups => "Backups",
            Screen::Runs => "Runs",
            Screen::RunOutput => "Run output",
            Screen::History => "History",
            Screen::Drills => "Drills",
            Screen::Findings => "Findings",
        }
    }

    /// Palette commands and their screens.
    pub const COMMANDS: [(&'static str, Screen); 9] = [
        ("tenants", Screen::Tenants),
        ("instances", Screen::Instances),
        ("containers", Screen::Containers),
        ("buckets", Screen::Buckets),
        ("backups", Screen::Backups),
        ("runs", Screen::Runs),
        ("history", Screen::History),
        ("drills", Screen::Drills),
        ("findings", Screen::Findings),
    ];

    /// Actions that do something on this screen (for help and the footer).
    pub fn actions(self) -> &'static [Action] {
        use Action::*;
        match self {
            Screen::Tenants => &[Runbooks, Deploy, Select, Filter, Refresh],
            Screen::Containers => &[Runbooks, Restart, Select, Filter, Refresh],
            Screen::Instances => &[
                Runbooks,
                Select,
                StartInstance,
                StopInstance,
                Filter,
                Refresh,
            ],
            Screen::Backups => &[Runbooks, Select, Download, Filter, Refresh],
            Screen::Buckets | Screen::Objects => &[Select, Back, Filter, Refresh],
            Screen::Versions => &[RestoreVersion, Undelete, Download, Filter, Back, Refresh],
            Screen::Runs => &[Select, CancelRun, Filter],
            Screen::RunOutput => &[CancelRun, Bottom, Back],
            Screen::History => &[Select, Filter, Refresh],
            Screen::Drills => &[Select, Filter, Refresh],
            Screen::Findings => &[Filter, Refresh],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Starting,
    Running,
    Succeeded,
    Failed(i32),
    Cancelled(i32),
    Error(String),
}

impl RunStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, RunStatus::Starting | RunStatus::Running)
    }
    pub fn label(&self) -> String {
        match self {
            RunStatus::Starting => "starting".into(),
            RunStatus::Running => "running".into(),
            RunStatus::Succeeded => "succeeded".into(),
            RunStatus::Failed(c) => format!("failed ({c})"),
            RunStatus::Cancelled(_) => "cancelled".into(),
            RunStatus::Error(_) => "error".into(),
        }
    }
    /// How a run that ended shows (from the journal's outcome).
    pub fn ended(
        outcome: crate::journal::RunOutcome,
        exit_code: Option<i32>,
        error: Option<String>,
    ) -> RunStatus {
        use crate::journal::RunOutcome as O;
        match (outcome, exit_code) {
            (O::Succeeded, _) => RunStatus::Succeeded,
            (O::Failed, Some(c)) => RunStatus::Failed(c),
            (O::Cancelled, Some(c)) => RunStatus::Cancelled(c),
            (other, _) => RunStatus::Error(error.unwrap_or_else(|| other.to_string())),
        }
    }
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            RunStatus::Succeeded => Some(0),
            RunStatus::Failed(c) | RunStatus::Cancelled(c) => Some(*c),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunView {
    pub id: RunId,
    pub title: String,
    pub runbook: String,
    pub host: String,
    pub production: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub output: OutputBuffer,
}

impl RunView {
    pub fn elapsed(&self, now: DateTime<Utc>) -> chrono::Duration {
        self.finished_at.unwrap_or(now) - self.started_at
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone)]
pub struct Notice {
    pub level: Level,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A table's data plus whether a load is in flight and its last error.
#[derive(Debug, Clone, Default)]
pub struct Loaded<T> {
    pub data: T,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<String>,
}

pub struct Preview {
    pub run: RenderedRun,
    /// The values the run was rendered from (Tab goes back to the form).
    pub values: BTreeMap<String, String>,
    pub typed: String,
    pub scroll: u16,
}

/// A change that is not a script (start an instance, restore a version):
/// shown, then confirmed like a runbook.
#[derive(Debug, Clone)]
pub struct ActionConfirm {
    pub title: String,
    pub lines: Vec<String>,
    pub production: bool,
    pub confirm_with: Option<String>,
    pub typed: String,
    pub effect: Effect,
}

pub enum Mode {
    Normal,
    Confirm(ActionConfirm),
    Filter(TextArea<'static>),
    Palette(TextArea<'static>),
    Help,
    Detail {
        title: String,
        fields: Vec<(String, String)>,
    },
    Picker(runbooks::Picker),
    Form(runbooks::Form),
    Preview(Preview),
    ConfirmCancel(RunId),
    ConfirmQuit,
}

/// The context the console is looking at.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextInfo {
    pub name: String,
    pub provider: String,
    pub production: bool,
    pub read_only: bool,
    /// True on the sandbox: docker and databases are simulated.
    pub simulated: bool,
    pub regions: Vec<String>,
    /// The caller identity on AWS (account and ARN).
    pub identity: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Tick(DateTime<Utc>),
    Instances(ProviderResult<Vec<Instance>>),
    Snapshot {
        host: String,
        result: Result<HostSnapshot, String>,
    },
    Buckets(ProviderResult<Vec<Bucket>>),
    /// A page of a listing, as it arrives.
    ObjectsPage {
        bucket: String,
        prefix: String,
        page: Vec<ObjectEntry>,
    },
    /// The listing ended: its last entries, or the error that stopped it.
    Objects {
        bucket: String,
        prefix: String,
        result: ProviderResult<Vec<ObjectEntry>>,
    },
    Versions {
        bucket: String,
        key: String,
        result: ProviderResult<Vec<ObjectVersion>>,
    },
    S3Backups(ProviderResult<Vec<Backup>>),
    Run(RunEvent),
    /// An unfinished run from the journal, followed again (with its output so far).
    RunAttached {
        entry: Box<crate::journal::Entry>,
        output: String,
    },
    /// The journal, newest first.
    History(Vec<crate::journal::Entry>),
    Drills {
        active: Option<Box<crate::drill::Active>>,
        reports: Vec<crate::drill::Report>,
    },
    DrillStarted(Result<Box<crate::drill::Active>, String>),
    Posture(ProviderResult<Vec<crate::domain::Finding>>),
    DrillVerified(Result<Box<crate::drill::Report>, String>),
    /// A past run's full output, opened from History.
    PastOutput {
        entry: Box<crate::journal::Entry>,
        text: String,
    },
    /// `:ctx NAME` opened another context: everything is read anew.
    ContextOpened {
        ctx: ContextInfo,
        config: Box<Config>,
    },
    /// A change or download finished; `reload` refreshes what it changed.
    ActionDone {
        title: String,
        result: Result<String, String>,
        reload: Vec<Effect>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    LoadInstances,
    LoadSnapshot(String),
    LoadBuckets,
    LoadObjects {
        bucket: String,
        prefix: String,
    },
    LoadVersions {
        bucket: String,
        key: String,
    },
    LoadS3Backups {
        bucket: String,
        prefix: String,
    },
    StartRun {
        id: RunId,
        run: Box<RenderedRun>,
    },
    CancelRun {
        id: RunId,
        host: String,
    },
    SetRunning {
        id: String,
        running: bool,
    },
    RestoreVersion {
        bucket: String,
        key: String,
        version_id: String,
    },
    Undelete {
        bucket: String,
        key: String,
    },
    Download {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    SwitchContext(String),
    /// Follow again the runs the journal says were in flight.
    Reattach,
    LoadHistory,
    OpenPastOutput(RunId),
    LoadDrills,
    LoadPosture,
    /// `:drill SCENARIO` (sandbox only).
    StartDrill(String),
    /// `:drill verify`.
    VerifyDrill,
}

pub struct App {
    pub now: DateTime<Utc>,
    pub config: Config,
    pub ctx: ContextInfo,
    pub keymap: Keymap,
    pub screen: Screen,
    back: Vec<Screen>,
    pub mode: Mode,
    pub quit: bool,
    pub spinner: usize,
    pub notice: Option<Notice>,

    pub instances: Loaded<Vec<Instance>>,
    pub snapshots: BTreeMap<String, Loaded<Option<HostSnapshot>>>,
    /// The estate derived from what is loaded (tenants, containers,
    /// backups…): the same derivation as the headless CLI's.
    pub inv: crate::ops::Inventory,
    pub buckets: Loaded<Vec<Bucket>>,
    pub objects: Loaded<Vec<ObjectEntry>>,
    pub objects_at: (String, String),
    objects_pages: usize,
    pub versions: Loaded<Vec<ObjectVersion>>,
    pub versions_of: (String, String),
    pub s3_backups: Loaded<Vec<Backup>>,
    pub runs: Vec<RunView>,
    /// The journal, newest first (History screen).
    pub history: Loaded<Vec<crate::journal::Entry>>,
    /// Drill reports, newest first, and the drill in progress.
    pub drills: Loaded<Vec<crate::drill::Report>>,
    pub drill: Option<crate::drill::Active>,
    /// Posture findings (loaded when the Findings screen opens).
    pub findings: Loaded<Vec<crate::domain::Finding>>,
    /// Contexts `:ctx` can open (from the config, plus sandbox and aws).
    pub contexts: Vec<String>,
    /// Changes and downloads sent and not yet answered (the spinner turns).
    pub actions_in_flight: usize,
    run_seq: u32,
    /// Distinguishes this console's run ids from another console's started
    /// in the same second (set from the process id; empty in tests).
    pub run_tag: String,
    /// Open run in the output pane, lines scrolled up from the bottom, follow flag.
    pub output_run: Option<RunId>,
    pub output_scroll: usize,
    pub output_follow: bool,

    pub tables: BTreeMap<Screen, TableData>,
    pub lists: BTreeMap<Screen, ListState>,
    matcher: Matcher,
    /// Runbooks: the built-in library plus the user's directory.
    pub library: std::sync::Arc<runbook::Library>,
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
            screen: Screen::Tenants,
            back: Vec::new(),
            mode: Mode::Normal,
            quit: false,
            spinner: 0,
            notice: None,
            instances: Loaded::default(),
            snapshots: BTreeMap::new(),
            inv: crate::ops::Inventory::default(),
            buckets: Loaded::default(),
            objects: Loaded::default(),
            objects_at: (String::new(), String::new()),
            objects_pages: 0,
            versions: Loaded::default(),
            versions_of: (String::new(), String::new()),
            s3_backups: Loaded::default(),
            runs: Vec::new(),
            history: Loaded::default(),
            drills: Loaded::default(),
            drill: None,
            findings: Loaded::default(),
            contexts: Vec::new(),
            actions_in_flight: 0,
            run_seq: 0,
            run_tag: String::new(),
            output_run: None,
            output_scroll: 0,
            output_follow: true,
            tables: BTreeMap::new(),
            lists: BTreeMap::new(),
            matcher: list::new_matcher(),
            library: std::sync::Arc::new(runbook::Library::builtin()),
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
        self.history.loading = true;
        fx.push(Effect::LoadHistory);
        self.drills.loading = true;
        fx.push(Effect::LoadDrills);
        fx
    }

    fn refresh_all(&mut self) -> Vec<Effect> {
        self.instances.loading = true;
        self.buckets.loading = true;
        let mut fx = vec![Effect::LoadInstances, Effect::LoadBuckets];
        if let Some(bucket) = self.config.backups.bucket.clone() {
            self.s3_backups.loading = true;
            fx.push(Effect::LoadS3Backups {
                bucket,
                prefix: self.config.backups.prefix.clone(),
            });
        }
        fx
    }

    pub fn busy(&self) -> bool {
        self.instances.loading
            || self.buckets.loading
            || self.objects.loading
            || self.versions.loading
            || self.s3_backups.loading
            || self.findings.loading
            || self.history.loading
            || self.drills.loading
            || self.snapshots.values().any(|s| s.loading)
            || self.runs.iter().any(|r| r.status.is_active())
            || self.actions_in_flight > 0
    }

    pub fn host_names(&self) -> BTreeMap<String, String> {
        self.instances
            .data
            .iter()
            .map(|i| (i.id.clone(), i.name.clone()))
            .collect()
    }

    pub fn table(&self, s: Screen) -> &TableData {
        static EMPTY: std::sync::OnceLock<TableData> = std::sync::OnceLock::new();
        self.tables
            .get(&s)
            .unwrap_or_else(|| EMPTY.get_or_init(TableData::default))
    }

    pub fn list(&self, s: Screen) -> ListState {
        self.lists.get(&s).cloned().unwrap_or_default()
    }

    /// The row under the cursor on the current screen.
    pub fn selected_key(&self) -> Option<String> {
        let t = self.tables.get(&self.screen)?;
        self.lists
            .get(&self.screen)?
            .selected_row(t)
            .map(|r| r.key.clone())
    }

    pub fn run(&self, id: &str) -> Option<&RunView> {
        self.runs.iter().find(|r| r.id == id)
    }

    /// Whether the current view concerns production (drawn with a red frame).
    pub fn production_in_view(&self) -> bool {
        if self.ctx.production {
            return true;
        }
        match self.screen {
            Screen::Tenants => self
                .selected_key()
                .and_then(|k| self.inv.tenants.iter().find(|t| t.project() == k))
                .is_some_and(Tenant::is_production),
            Screen::RunOutput => self
                .output_run
                .as_deref()
                .and_then(|id| self.run(id))
                .is_some_and(|r| r.production),
            _ => false,
        }
    }

    fn notify(&mut self, level: Level, text: impl Into<String>) {
        // Error messages can quote URLs and settings: never show a secret.
        let text = crate::mask::mask_text(&text.into());
        match level {
            Level::Error => tracing::warn!(notice = %text),
            _ => tracing::info!(notice = %text),
        }
        self.notice = Some(Notice {
            level,
            text,
            at: self.now,
        });
    }

    fn rebuild(&mut self, s: Screen) {
        let host_names = self.host_names();
        let config = &self.config;
        let rpo = |db: &str| config.rpo_hours(db);
        let table = match s {
            Screen::Tenants => views::tenants_table(&self.inv.tenants, self.now, &rpo),
            Screen::Instances => views::instances_table(&self.instances.data),
            Screen::Containers => views::containers_table(&self.inv.containers, &host_names),
            Screen::Buckets => views::buckets_table(&self.buckets.data),
            Screen::Objects => {
                views::objects_table(&self.objects.data, &self.objects_at.1, self.now)
            }
            Screen::Versions => views::versions_table(&self.versions.data),
            Screen::Backups => views::backups_table(
                &self.inv.backups,
                self.now,
                &rpo,
                &host_names,
                &views::validation_results(&self.history.data),
            ),
            Screen::Runs => self.runs_table(),
            Screen::History => views::history_table(&self.history.data, &host_names),
            Screen::Drills => views::drills_table(&self.drills.data),
            Screen::Findings => views::findings_table(&self.findings.data),
            Screen::RunOutput => return,
        };
        let list = self.lists.entry(s).or_default();
        list.refilter(&table, &mut self.matcher);
        self.tables.insert(s, table);
    }

    fn rebuild_all(&mut self) {
        for s in [
            Screen::Tenants,
            Screen::Instances,
            Screen::Containers,
            Screen::Buckets,
            Screen::Objects,
            Screen::Versions,
            Screen::Backups,
            Screen::Runs,
            Screen::History,
            Screen::Drills,
            Screen::Findings,
        ] {
            self.rebuild(s);
        }
    }

    fn runs_table(&self) -> TableData {
        use list::{Row, Tone};
        let names = self.host_names();
        TableData {
            headers: vec![
                "RUN", "TITLE", "HOST", "STATUS", "STARTED", "ELAPSED", "EXIT",
            ],
            rows: self
                .runs
                .iter()
                .rev()
                .map(|r| Row {
                    key: r.id.clone(),
                    tone: match r.status {
                        RunStatus::Succeeded => Tone::Good,
                        RunStatus::Starting | RunStatus::Running => Tone::Normal,
                        RunStatus::Cancelled(_) => Tone::Warn,
                        _ => Tone::Bad,
                    },
                    cells: vec![
                        r.id.clone(),
                        r.title.clone(),
                        names
                            .get(&r.host)
                            .cloned()
                            .unwrap_or_else(|| r.host.clone()),
                        r.status.label(),
                        r.started_at.format("%H:%M:%S").to_string(),
                        format!("{}s", r.elapsed(self.now).num_seconds()),
                        r.status
                            .exit_code()
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| "-".into()),
                    ],
                })
                .collect(),
            ..Default::default()
        }
    }

    fn rederive(&mut self) {
        let snaps: BTreeMap<String, HostSnapshot> = self
            .snapshots
            .iter()
            .filter_map(|(h, l)| l.data.clone().map(|s| (h.clone(), s)))
            .collect();
        self.inv = crate::ops::Inventory::derive(
            &self.config,
            self.instances.data.clone(),
            snaps,
            &self.s3_backups.data,
        );
        for s in [Screen::Tenants, Screen::Containers, Screen::Backups] {
            self.rebuild(s);
        }
    }

    fn go(&mut self, s: Screen, push: bool) {
        if push {
            self.back.push(self.screen);
        } else {
            self.back.clear();
        }
        self.screen = s;
        self.rebuild(s);
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(k) => self.on_key(k),
            Msg::Tick(now) => {
                self.now = now;
                self.spinner = self.spinner.wrapping_add(1);
                if let Some(n) = &self.notice
                    && n.level == Level::Info
                    && (now - n.at).num_seconds() > 8
                {
                    self.notice = None;
                }
                if self.runs.iter().any(|r| r.status.is_active()) {
                    self.rebuild(Screen::Runs);
                }
                vec![]
            }
            Msg::Instances(r) => {
                self.instances.loading = false;
                match r {
                    Ok(list) => {
                        self.instances.data = list;
                        self.instances.loaded = true;
                        self.instances.error = None;
                    }
                    Err(e) => {
                        self.notify(Level::Error, format!("loading instances failed: {e}"));
                        self.instances.error = Some(e.to_string());
                    }
                }
                self.rebuild(Screen::Instances);
                self.rederive();
                let reachable =
                    crate::ops::Inventory::fact_hosts(&self.config, &self.instances.data);
                reachable
                    .into_iter()
                    .map(|h| {
                        self.snapshots.entry(h.clone()).or_default().loading = true;
                        Effect::LoadSnapshot(h)
                    })
                    .collect()
            }
            Msg::Snapshot { host, result } => {
                let entry = self.snapshots.entry(host.clone()).or_default();
                entry.loading = false;
                match result {
                    Ok(s) => {
                        entry.data = Some(s);
                        entry.loaded = true;
                        entry.error = None;
                    }
                    Err(e) => {
                        entry.error = Some(e.clone());
                        self.notify(Level::Error, e);
                    }
                }
                self.rederive();
                vec![]
            }
            Msg::Buckets(r) => {
                self.buckets.loading = false;
                match r {
                    Ok(b) => {
                        self.buckets.data = b;
                        self.buckets.loaded = true;
                        self.buckets.error = None;
                    }
                    Err(e) => {
                        self.buckets.error = Some(e.to_string());
                        self.notify(Level::Error, format!("listing buckets failed: {e}"));
                    }
                }
                self.rebuild(Screen::Buckets);
                vec![]
            }
            Msg::ObjectsPage {
                bucket,
                prefix,
                page,
            } => {
                if (bucket.as_str(), prefix.as_str())
                    != (self.objects_at.0.as_str(), self.objects_at.1.as_str())
                {
                    return vec![];
                }
                self.objects.data.extend(page);
                self.objects_pages += 1;
                // Rows show as soon as the first pages arrive; later pages are
                // folded in every tenth page so a 100k listing stays cheap.
                if self.objects_pages <= 3 || self.objects_pages.is_multiple_of(10) {
                    self.rebuild(Screen::Objects);
                }
                vec![]
            }
            Msg::Objects {
                bucket,
                prefix,
                result,
            } => {
                if (bucket.as_str(), prefix.as_str())
                    != (self.objects_at.0.as_str(), self.objects_at.1.as_str())
                {
                    return vec![]; // an answer for a place we already left
                }
                self.objects.loading = false;
                match result {
                    Ok(rest) => {
                        self.objects.data.extend(rest);
                        self.objects.error = None;
                    }
                    Err(e) => {
                        self.objects.error = Some(e.to_string());
                        self.notify(
                            Level::Error,
                            format!("listing s3://{bucket}/{prefix} failed: {e}"),
                        );
                    }
                }
                self.rebuild(Screen::Objects);
                vec![]
            }
            Msg::Versions {
                bucket,
                key,
                result,
            } => {
                if (bucket.as_str(), key.as_str())
                    != (self.versions_of.0.as_str(), self.versions_of.1.as_str())
                {
                    return vec![];
                }
                self.versions.loading = false;
                match result {
                    Ok(v) => {
                        self.versions.data = v;
                        self.versions.error = None;
                    }
                    Err(e) => {
                        self.versions.error = Some(e.to_string());
                        self.notify(
                            Level::Error,
                            format!("listing versions of s3://{bucket}/{key} failed: {e}"),
                        );
                    }
                }
                self.rebuild(Screen::Versions);
                vec![]
            }
            Msg::S3Backups(r) => {
                self.s3_backups.loading = false;
                match r {
                    Ok(b) => {
                        self.s3_backups.data = b;
                        self.s3_backups.error = None;
                    }
                    Err(e) => {
                        self.s3_backups.error = Some(e.to_string());
                        self.notify(Level::Warn, format!("S3 backups unavailable: {e}"));
                    }
                }
                self.rederive();
                vec![]
            }
            Msg::RunAttached { entry, output } => {
                let id = entry.start.run.clone();
                if !self.runs.iter().any(|r| r.id == id) {
                    let mut buf = OutputBuffer::default();
                    buf.push_str(&output);
                    self.runs.push(RunView {
                        id: id.clone(),
                        title: entry.start.title.clone(),
                        runbook: entry.start.runbook.clone(),
                        host: entry.start.host.clone(),
                        production: entry.start.production,
                        started_at: entry.start.at,
                        finished_at: None,
                        status: RunStatus::Running,
                        output: buf,
                    });
                    self.rebuild(Screen::Runs);
                }
                self.notify(
                    Level::Warn,
                    format!(
                        "reattached to {} (still in flight when opsdeck last stopped): press 6 for Runs",
                        entry.start.title
                    ),
                );
                vec![]
            }
            Msg::Drills { active, reports } => {
                self.drills.loading = false;
                self.drill = active.map(|a| *a);
                self.drills.data = reports.into_iter().rev().collect();
                self.drills.loaded = true;
                self.rebuild(Screen::Drills);
                vec![]
            }
            Msg::DrillStarted(result) => {
                self.actions_in_flight = self.actions_in_flight.saturating_sub(1);
                match result {
                    Ok(a) => {
                        self.notify(Level::Warn, format!("DRILL {}: {}", a.scenario, a.alarm));
                        self.drill = Some(*a);
                    }
                    Err(e) => self.notify(Level::Error, format!("drill not started: {e}")),
                }
                // The fault changed the estate: read it again.
                self.refresh_all()
            }
            Msg::DrillVerified(result) => {
                self.actions_in_flight = self.actions_in_flight.saturating_sub(1);
                match result {
                    Ok(r) => {
                        self.notify(
                            if r.passed { Level::Info } else { Level::Warn },
                            format!(
                                "drill {}: {} (RTO {} s){}",
                                r.scenario,
                                if r.passed {
                                    "PASSED"
                                } else {
                                    "not recovered yet"
                                },
                                r.rto_seconds,
                                if r.passed {
                                    ""
                                } else {
                                    "; fix it and :drill verify again"
                                }
                            ),
                        );
                        if r.passed {
                            self.drill = None;
                        }
                        self.mode = drill_report_popup(&r);
                    }
                    Err(e) => self.notify(Level::Error, format!("drill verify: {e}")),
                }
                self.drills.loading = true;
                vec![Effect::LoadDrills]
            }
            Msg::Posture(result) => {
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
                vec![]
            }
            Msg::History(entries) => {
                self.history.data = entries;
                self.history.loading = false;
                self.history.loaded = true;
                self.rebuild(Screen::History);
                self.rebuild(Screen::Backups);
                vec![]
            }
            Msg::PastOutput { entry, text } => {
                let id = entry.start.run.clone();
                let status = match entry.finish.as_ref() {
                    None => RunStatus::Running,
                    Some(f) => RunStatus::ended(f.status, f.exit_code, f.error.clone()),
                };
                // A run of this console keeps its live view; a past one is loaded.
                if !self.runs.iter().any(|r| r.id == id) {
                    let mut buf = OutputBuffer::default();
                    buf.push_str(&text);
                    self.runs.push(RunView {
                        id: id.clone(),
                        title: entry.start.title.clone(),
                        runbook: entry.start.runbook.clone(),
                        host: entry.start.host.clone(),
                        production: entry.start.production,
                        started_at: entry.start.at,
                        finished_at: entry.finish.as_ref().map(|f| f.at),
                        status,
                        output: buf,
                    });
                    self.rebuild(Screen::Runs);
                }
                self.output_run = Some(id);
                self.output_scroll = 0;
                self.output_follow = false;
                self.back.push(self.screen);
                self.screen = Screen::RunOutput;
                vec![]
            }
            Msg::Run(ev) => self.on_run_event(ev),
            Msg::ContextOpened { ctx, config } => {
                self.actions_in_flight = self.actions_in_flight.saturating_sub(1);
                self.notify(
                    Level::Info,
                    format!("context {} ({})", ctx.name, ctx.provider),
                );
                self.ctx = ctx;
                self.config = *config;
                self.instances = Loaded::default();
                self.snapshots.clear();
                self.buckets = Loaded::default();
                self.objects = Loaded::default();
                self.versions = Loaded::default();
                self.s3_backups = Loaded::default();
                self.lists.clear();
                self.rederive();
                self.rebuild_all();
                self.back.clear();
                if !matches!(self.screen, Screen::Runs | Screen::RunOutput) {
                    self.screen = Screen::Tenants;
                }
                self.refresh_all()
            }
            Msg::ActionDone {
                title,
                result,
                reload,
            } => {
                self.actions_in_flight = self.actions_in_flight.saturating_sub(1);
                match result {
                    Ok(detail) => self.notify(Level::Info, format!("{title}: {detail}")),
                    Err(e) => self.notify(Level::Error, format!("{title} failed: {e}")),
                }
                for fx in &reload {
                    match fx {
                        Effect::LoadInstances => self.instances.loading = true,
                        Effect::LoadVersions { .. } => self.versions.loading = true,
                        Effect::LoadObjects { .. } => self.objects.loading = true,
                        _ => {}
                    }
                }
                reload
            }
        }
    }

    fn on_run_event(&mut self, ev: RunEvent) -> Vec<Effect> {
        let now = self.now;
        let Some(run) = self.runs.iter_mut().find(|r| r.id == ev.run()) else {
            return vec![];
        };
        let mut fx = vec![];
        let mut finished = None;
        match ev {
            RunEvent::Started { .. } => run.status = RunStatus::Running,
            RunEvent::Output { text, .. } => run.output.push_str(&text),
            ev => {
                if let Some((outcome, exit_code, error)) = crate::runs::ending(&ev) {
                    if let Some(e) = &error {
                        run.output.push_str(&format!("\nopsdeck: {e}\n"));
                    }
                    run.status = RunStatus::ended(outcome, exit_code, error);
                    finished = Some(run.clone_summary());
                }
            }
        }
        if let Some((title, host, status)) = finished {
            run.finished_at = Some(now);
            let level = if status == RunStatus::Succeeded {
                Level::Info
            } else {
                Level::Error
            };
            self.notify(level, format!("{title}: {}", status.label()));
            // What the run changed shows up on the next read of the host.
            self.snapshots.entry(host.clone()).or_default().loading = true;
            fx.push(Effect::LoadSnapshot(host));
            if self.history.loaded {
                self.history.loading = true;
                fx.push(Effect::LoadHistory);
            }
            // A backup or a sync changes what S3 holds.
            if let Some(bucket) = self.config.backups.bucket.clone() {
                self.s3_backups.loading = true;
                fx.push(Effect::LoadS3Backups {
                    bucket,
                    prefix: self.config.backups.prefix.clone(),
                });
            }
        }
        self.rebuild(Screen::Runs);
        fx
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.on_normal_key(key),
            Mode::Filter(mut ta) => {
                match key.code {
                    KeyCode::Enter => {}
                    KeyCode::Esc => self.set_filter(String::new()),
                    _ => {
                        ta.input(key);
                        let text = ta.lines().first().cloned().unwrap_or_default();
                        self.set_filter(text);
                        self.mode = Mode::Filter(ta);
                    }
                }
                vec![]
            }
            Mode::Palette(mut ta) => match key.code {
                KeyCode::Enter => {
                    let cmd = ta.lines().first().cloned().unwrap_or_default();
                    self.run_command(cmd.trim())
                }
                KeyCode::Esc => vec![],
                KeyCode::Tab => {
                    let typed = ta.lines().first().cloned().unwrap_or_default();
                    if let Some((name, _)) = Screen::COMMANDS
                        .iter()
                        .find(|(n, _)| n.starts_with(typed.trim()))
                    {
                        ta = input_area("");
                        ta.insert_str(name);
                    }
                    self.mode = Mode::Palette(ta);
                    vec![]
                }
                _ => {
                    ta.input(key);
                    self.mode = Mode::Palette(ta);
                    vec![]
                }
            },
            Mode::Help | Mode::Detail { .. } => vec![],
            Mode::Picker(p) => self.on_picker_key(p, key),
            Mode::Form(f) => self.on_form_key(f, key),
            Mode::Preview(mut p) => match key.code {
                KeyCode::Tab | KeyCode::BackTab => self.edit_preview(p),
                KeyCode::Esc => {
                    self.notify(Level::Info, format!("{}: not started", p.run.title));
                    vec![]
                }
                KeyCode::Enter => {
                    // Enter is the go-ahead; the name counts only where one is asked.
                    let typed = p.run.confirm_with.as_ref().map(|_| p.typed.as_str());
                    if crate::ops::consent(&p.run, true, typed).is_err() {
                        let need = p.run.confirm_with.clone().unwrap_or_default();
                        self.notify(
                            Level::Warn,
                            format!("type {need} exactly to confirm (or Esc)"),
                        );
                        self.mode = Mode::Preview(p);
                        return vec![];
                    }
                    self.start_run(p.run)
                }
                KeyCode::Backspace => {
                    p.typed.pop();
                    self.mode = Mode::Preview(p);
                    vec![]
                }
                KeyCode::Down => {
                    p.scroll = p.scroll.saturating_add(1);
                    self.mode = Mode::Preview(p);
                    vec![]
                }
                KeyCode::Up => {
                    p.scroll = p.scroll.saturating_sub(1);
                    self.mode = Mode::Preview(p);
                    vec![]
                }
                KeyCode::Char(c)
                    if p.run.confirm_with.is_some()
                        && !key.modifiers.contains(KeyModifiers::CONTROL) =>
                {
                    if p.typed.len() < 200 {
                        p.typed.push(c);
                    }
                    self.mode = Mode::Preview(p);
                    vec![]
                }
                _ => {
                    self.mode = Mode::Preview(p);
                    vec![]
                }
            },
            Mode::Confirm(mut c) => match key.code {
                KeyCode::Esc => {
                    self.notify(Level::Info, format!("{}: not done", c.title));
                    vec![]
                }
                KeyCode::Enter => {
                    if let Some(need) = &c.confirm_with
                        && &c.typed != need
                    {
                        self.notify(
                            Level::Warn,
                            format!("type {need} exactly to confirm (or Esc)"),
                        );
                        self.mode = Mode::Confirm(c);
                        return vec![];
                    }
                    tracing::info!(action = %c.title, "confirmed");
                    self.notify(Level::Info, format!("{}…", c.title));
                    self.actions_in_flight += 1;
                    vec![c.effect]
                }
                KeyCode::Backspace => {
                    c.typed.pop();
                    self.mode = Mode::Confirm(c);
                    vec![]
                }
                KeyCode::Char(ch)
                    if c.confirm_with.is_some()
                        && !key.modifiers.contains(KeyModifiers::CONTROL) =>
                {
                    if c.typed.len() < 200 {
                        c.typed.push(ch);
                    }
                    self.mode = Mode::Confirm(c);
                    vec![]
                }
                _ => {
                    self.mode = Mode::Confirm(c);
                    vec![]
                }
            },
            Mode::ConfirmCancel(id) => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    let Some(run) = self.run(&id) else {
                        return vec![];
                    };
                    let host = run.host.clone();
                    self.notify(Level::Warn, format!("cancelling {id}…"));
                    vec![Effect::CancelRun { id, host }]
                }
                _ => {
                    self.notify(Level::Info, "the run goes on");
                    vec![]
                }
            },
            Mode::ConfirmQuit => {
                if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    self.quit = true;
                }
                vec![]
            }
        }
    }

    fn set_filter(&mut self, text: String) {
        let screen = self.screen;
        let table = self.tables.remove(&screen).unwrap_or_default();
        let list = self.lists.entry(screen).or_default();
        list.set_filter(text, &table, &mut self.matcher);
        self.tables.insert(screen, table);
    }

    fn run_command(&mut self, cmd: &str) -> Vec<Effect> {
        let cmd = cmd.trim_start_matches(':');
        let (word, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
        if word == "drill" {
            let arg = arg.trim();
            return match arg {
                "" if let Some(d) = self.drill.clone() => {
                    let secs = (self.now - d.started_at).num_seconds().max(0);
                    let mut fields = vec![
                        ("scenario".to_string(), d.scenario.clone()),
                        (
                            "running".to_string(),
                            format!("{}:{:02}", secs / 60, secs % 60),
                        ),
                        (String::new(), String::new()),
                    ];
                    // The alarm, wrapped for the popup.
                    let mut line = String::new();
                    for w in d.alarm.split_whitespace() {
                        if line.len() + w.len() > 80 {
                            let key = if fields.iter().any(|(k, _)| k == "alarm") {
                                ""
                            } else {
                                "alarm"
                            };
                            fields.push((key.into(), std::mem::take(&mut line)));
                        }
                        if !line.is_empty() {
                            line.push(' ');
                        }
                        line.push_str(w);
                    }
                    let key = if fields.iter().any(|(k, _)| k == "alarm") {
                        ""
                    } else {
                        "alarm"
                    };
                    fields.push((key.into(), line));
                    fields.push((String::new(), String::new()));
                    fields.push(("then".into(), ":drill verify when it is recovered".into()));
                    self.mode = Mode::Detail {
                        title: format!("drill {}", d.id),
                        fields,
                    };
                    vec![]
                }
                "" => {
                    self.notify(
                        Level::Info,
                        format!(
                            ":drill SCENARIO ({}) or :drill verify",
                            crate::drill::Scenario::ALL.map(|s| s.name()).join(", ")
                        ),
                    );
                    vec![]
                }
                "verify" => {
                    self.actions_in_flight += 1;
                    vec![Effect::VerifyDrill]
                }
                name => {
                    self.actions_in_flight += 1;
                    vec![Effect::StartDrill(name.to_string())]
                }
            };
        }
        // `:run NAME` (before `runs`, which `run` would abbreviate).
        if matches!(word, "run" | "rb" | "runbook") {
            let name = arg.trim();
            if name.is_empty() {
                return self.open_picker();
            }
            let Some(target) = self.selection_target() else {
                self.notify(
                    Level::Info,
                    "select a tenant, instance, container or backup first",
                );
                return vec![];
            };
            return self.open_form(name, target, &BTreeMap::new());
        }
        if let Some((_, s)) = Screen::COMMANDS
            .iter()
            .find(|(n, _)| *n == word || (word.len() >= 2 && n.starts_with(word)))
        {
            return self.goto(*s);
        }
        match word {
            "" => vec![],

            "q" | "quit" => self.request_quit(),
            "help" => {
                self.mode = Mode::Help;
                vec![]
            }
            "ctx" | "context" => {
                let arg = arg.trim();
                if arg.is_empty() || arg == self.ctx.name {
                    let others: Vec<&str> = self
                        .contexts
                        .iter()
                        .map(String::as_str)
                        .filter(|c| *c != self.ctx.name)
                        .collect();
                    self.notify(
                        Level::Info,
                        format!(
                            "context: {} (others: {})",
                            self.ctx.name,
                            if others.is_empty() {
                                "none".into()
                            } else {
                                others.join(", ")
                            }
                        ),
                    );
                    vec![]
                } else if !self.contexts.iter().any(|c| c == arg) {
                    self.notify(
                        Level::Error,
                        format!(
                            "no context named {arg:?} (known: {})",
                            self.contexts.join(", ")
                        ),
                    );
                    vec![]
                } else {
                    self.notify(Level::Info, format!("opening context {arg}…"));
                    self.actions_in_flight += 1;
                    vec![Effect::SwitchContext(arg.to_string())]
                }
            }
            other => {
                let known: Vec<&str> = Screen::COMMANDS.iter().map(|(n, _)| *n).collect();
                self.notify(
                    Level::Error,
                    format!(
                        "unknown command :{other} (try {}, ctx, help, quit)",
                        known.join(", ")
                    ),
                );
                vec![]
            }
        }
    }

    fn request_quit(&mut self) -> Vec<Effect> {
        let active = self.runs.iter().filter(|r| r.status.is_active()).count();
        if active > 0 {
            self.mode = Mode::ConfirmQuit;
        } else {
            self.quit = true;
        }
        vec![]
    }

    fn move_list(&mut self, f: impl FnOnce(&mut ListState, &TableData)) {
        let screen = self.screen;
        if let Some(table) = self.tables.get(&screen) {
            f(self.lists.entry(screen).or_default(), table);
        }
    }

    fn on_normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = self.keymap.action(&key) else {
            return vec![];
        };
        if self.screen == Screen::RunOutput
            && let Some(fx) = self.on_output_key(action)
        {
            return fx;
        }
        match action {
            Action::Quit => self.request_quit(),
            Action::Palette => {
                self.mode = Mode::Palette(input_area(
                    "tenants, instances, containers, buckets, backups, runs, ctx, quit",
                ));
                vec![]
            }
            Action::Filter => {
                let mut ta = input_area("fuzzy filter");
                ta.insert_str(self.list(self.screen).filter);
                self.mode = Mode::Filter(ta);
                vec![]
            }
            Action::Help => {
                self.mode = Mode::Help;
                vec![]
            }
            Action::Up => {
                self.move_list(|l, t| l.move_by(-1, t));
                vec![]
            }
            Action::Down => {
                self.move_list(|l, t| l.move_by(1, t));
                vec![]
            }
            Action::PageUp => {
                self.move_list(|l, t| l.move_by(-20, t));
                vec![]
            }
            Action::PageDown => {
                self.move_list(|l, t| l.move_by(20, t));
                vec![]
            }
            Action::Top => {
                self.move_list(|l, t| l.to_top(t));
                vec![]
            }
            Action::Bottom => {
                self.move_list(|l, t| l.to_bottom(t));
                vec![]
            }
            Action::Select => self.select(),
            Action::Back => self.go_back(),
            Action::Refresh => self.refresh_screen(),
            Action::CancelRun => {
                match self
                    .selected_run_id()
                    .filter(|id| self.run(id).is_some_and(|r| r.status.is_active()))
                {
                    Some(id) => self.mode = Mode::ConfirmCancel(id),
                    None => self.notify(
                        Level::Info,
                        "no running run selected (Ctrl-C cancels a run; q quits)",
                    ),
                }
                vec![]
            }
            Action::Deploy => self.preview_deploy(),
            Action::Runbooks => self.open_picker(),
            Action::Restart => self.preview_restart(),
            Action::StartInstance => self.confirm_set_running(true),
            Action::StopInstance => self.confirm_set_running(false),
            Action::RestoreVersion => self.confirm_restore(),
            Action::Undelete => self.confirm_undelete(),
            Action::Download => self.download_selected(),
            Action::GoTenants => self.goto(Screen::Tenants),
            Action::GoInstances => self.goto(Screen::Instances),
            Action::GoContainers => self.goto(Screen::Containers),
            Action::GoBuckets => self.goto(Screen::Buckets),
            Action::GoBackups => self.goto(Screen::Backups),
            Action::GoRuns => self.goto(Screen::Runs),
            Action::GoHistory => self.goto(Screen::History),
            Action::GoDrills => self.goto(Screen::Drills),
            Action::GoFindings => self.goto(Screen::Findings),
            Action::None => vec![],
        }
    }

    fn goto(&mut self, s: Screen) -> Vec<Effect> {
        self.go(s, false);
        if s == Screen::History {
            self.history.loading = true;
            return vec![Effect::LoadHistory];
        }
        if s == Screen::Drills {
            self.drills.loading = true;
            return vec![Effect::LoadDrills];
        }
        if s == Screen::Findings && !self.findings.loaded {
            self.findings.loading = true;
            return vec![Effect::LoadPosture];
        }
        vec![]
    }

    fn selected_run_id(&self) -> Option<RunId> {
        match self.screen {
            Screen::RunOutput => self.output_run.clone(),
            Screen::Runs => self.selected_key(),
            _ => None,
        }
    }

    /// Keys of the output pane: scrolling moves through lines, not rows.
    fn on_output_key(&mut self, action: Action) -> Option<Vec<Effect>> {
        let len = self
            .output_run
            .as_deref()
            .and_then(|id| self.run(id))
            .map(|r| r.output.len())
            .unwrap_or(0);
        match action {
            Action::Up | Action::PageUp => {
                let step = if action == Action::Up { 1 } else { 20 };
                self.output_scroll = (self.output_scroll + step).min(len.saturating_sub(1));
                self.output_follow = false;
            }
            Action::Down | Action::PageDown => {
                let step = if action == Action::Down { 1 } else { 20 };
                self.output_scroll = self.output_scroll.saturating_sub(step);
                self.output_follow = self.output_scroll == 0;
            }
            Action::Top => {
                self.output_scroll = len.saturating_sub(1);
                self.output_follow = false;
            }
            Action::Bottom => {
                self.output_scroll = 0;
                self.output_follow = true;
            }
            _ => return None,
        }
        Some(vec![])
    }

    fn go_back(&mut self) -> Vec<Effect> {
        // Esc first clears a filter, then goes up a prefix, then back a screen.
        if !self.list(self.screen).filter.is_empty() {
            self.set_filter(String::new());
            return vec![];
        }
        if self.screen == Screen::Objects && !self.objects_at.1.is_empty() {
            let p = self.objects_at.1.trim_end_matches('/');
            let parent = match p.rfind('/') {
                Some(i) => p[..=i].to_string(),
                None => String::new(),
            };
            return self.open_objects(self.objects_at.0.clone(), parent, false);
        }
        if let Some(prev) = self.back.pop() {
            self.screen = prev;
            self.rebuild(prev);
        }
        vec![]
    }

    fn refresh_screen(&mut self) -> Vec<Effect> {
        match self.screen {
            Screen::Objects => {
                let (b, p) = self.objects_at.clone();
                self.open_objects(b, p, false)
            }
            Screen::History => {
                self.history.loading = true;
                vec![Effect::LoadHistory]
            }
            Screen::Drills => {
                self.drills.loading = true;
                vec![Effect::LoadDrills]
            }
            Screen::Findings => {
                self.findings.loading = true;
                vec![Effect::LoadPosture]
            }
            Screen::Versions => {
                self.versions.loading = true;
                vec![Effect::LoadVersions {
                    bucket: self.versions_of.0.clone(),
                    key: self.versions_of.1.clone(),
                }]
            }
            _ => {
                self.notify(Level::Info, "refreshing…");
                self.refresh_all()
            }
        }
    }

    fn open_objects(&mut self, bucket: String, prefix: String, push: bool) -> Vec<Effect> {
        self.objects_at = (bucket.clone(), prefix.clone());
        self.objects.loading = true;
        self.objects.data.clear();
        self.objects_pages = 0;
        self.lists.insert(Screen::Objects, ListState::default());
        if self.screen != Screen::Objects {
            self.go(Screen::Objects, push);
        } else {
            self.rebuild(Screen::Objects);
        }
        vec![Effect::LoadObjects { bucket, prefix }]
    }

    fn select(&mut self) -> Vec<Effect> {
        let Some(key) = self.selected_key() else {
            return vec![];
        };
        match self.screen {
            Screen::Findings => vec![],
            Screen::History => vec![Effect::OpenPastOutput(key)],
            Screen::Drills => {
                if let Some(r) = self.drills.data.iter().find(|r| r.id == key) {
                    self.mode = drill_report_popup(r);
                }
                vec![]
            }
            Screen::Buckets => self.open_objects(key, String::new(), true),
            Screen::Objects => {
                if key.ends_with('/') {
                    self.open_objects(self.objects_at.0.clone(), key, false)
                } else {
                    self.versions_of = (self.objects_at.0.clone(), key.clone());
                    self.versions.loading = true;
                    self.versions.data.clear();
                    self.lists.insert(Screen::Versions, ListState::default());
                    self.go(Screen::Versions, true);
                    vec![Effect::LoadVersions {
                        bucket: self.objects_at.0.clone(),
                        key,
                    }]
                }
            }
            Screen::Runs => {
                self.output_run = Some(key);
                self.output_scroll = 0;
                self.output_follow = true;
                self.go(Screen::RunOutput, true);
                vec![]
            }
            Screen::Tenants => {
                // Drill down: the tenant's containers.
                if let Some(t) = self.inv.tenants.iter().find(|t| t.project() == key) {
                    let filter = format!("{} {}", t.app, t.env);
                    self.go(Screen::Containers, true);
                    self.set_filter(filter);
                }
                vec![]
            }
            Screen::Instances => {
                if let Some(i) = self.instances.data.iter().find(|i| i.id == key) {
                    let mut fields = vec![
                        ("id".to_string(), i.id.clone()),
                        ("name".into(), i.name.clone()),
                        ("region".into(), i.region.clone()),
                        ("type".into(), i.instance_type.clone()),
                        ("state".into(), i.state.clone()),
                        ("platform".into(), i.platform.clone()),
                        ("ssm ping".into(), i.ssm_ping.label().into()),
                        (
                            "private ip".into(),
                            i.private_ip.clone().unwrap_or_default(),
                        ),
                        ("public ip".into(), i.public_ip.clone().unwrap_or_default()),
                    ];
                    if let Some(r) = i.unreachable_reason() {
                        fields.push(("runbooks".into(), format!("refused: {r}")));
                    }
                    fields.extend(i.tags.iter().map(|(k, v)| (format!("tag {k}"), v.clone())));
                    self.mode = Mode::Detail {
                        title: format!("instance {}", i.id),
                        fields,
                    };
                }
                vec![]
            }
            Screen::Containers => {
                if let Some(c) = self
                    .inv
                    .containers
                    .iter()
                    .find(|c| views::container_key(c) == key)
                {
                    let mut fields = vec![
                        ("name".to_string(), c.name.clone()),
                        ("host".into(), c.host.clone()),
                        ("image".into(), c.image.clone()),
                        ("status".into(), c.status.clone()),
                        ("health".into(), c.health.clone()),
                        ("restarts".into(), c.restarts.to_string()),
                    ];
                    fields.extend(
                        c.labels
                            .iter()
                            .map(|(k, v)| (format!("label {k}"), v.clone())),
                    );
                    self.mode = Mode::Detail {
                        title: format!("container {}", c.name),
                        fields,
                    };
                }
                vec![]
            }
            Screen::Backups => {
                if let Some(b) = self
                    .inv
                    .backups
                    .iter()
                    .find(|b| views::backup_key(b) == key)
                {
                    self.mode = Mode::Detail {
                        title: format!("backup of {}", b.database),
                        fields: vec![
                            ("database".into(), b.database.clone()),
                            ("origin".into(), b.origin.clone()),
                            ("path".into(), b.path.clone()),
                            ("taken at".into(), b.taken_at.to_rfc3339()),
                            ("size".into(), format!("{} bytes", b.size)),
                        ],
                    };
                }
                vec![]
            }
            Screen::Versions | Screen::RunOutput => vec![],
        }
    }

    /// Why the console would not send `run`: read-only mode for anything
    /// but a read runbook, or a host that cannot be reached ([`crate::ops::guard`]).
    pub fn run_refusal(&self, run: &RenderedRun) -> Option<String> {
        crate::ops::guard(run, self.read_only(), &self.instances.data)
            .err()
            .map(|r| r.to_string())
    }

    fn open_preview(
        &mut self,
        run: Result<RenderedRun, crate::ops::PrepareError>,
        values: BTreeMap<String, String>,
    ) -> Vec<Effect> {
        match run {
            Ok(run) => match self.run_refusal(&run) {
                Some(why) => self.notify(Level::Error, format!("{} refused: {why}", run.title)),
                None => {
                    self.mode = Mode::Preview(Preview {
                        run,
                        values,
                        typed: String::new(),
                        scroll: 0,
                    })
                }
            },
            Err(e) => self.notify(Level::Error, e.to_string()),
        }
        vec![]
    }

    fn preview_deploy(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Tenants {
            self.notify(Level::Info, "deploy works on a tenant: press 1 for Tenants");
            return vec![];
        }
        self.quick_preview("deploy")
    }

    fn preview_restart(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Containers {
            self.notify(
                Level::Info,
                "restart works on a container: press 3 for Containers",
            );
            return vec![];
        }
        self.quick_preview("restart")
    }

    fn read_only(&self) -> bool {
        self.ctx.read_only || self.config.read_only
    }

    fn ask(&mut self, c: ActionConfirm) -> Vec<Effect> {
        if self.read_only() {
            self.notify(
                Level::Error,
                format!("{} refused: read-only mode: changes are refused", c.title),
            );
        } else {
            self.mode = Mode::Confirm(c);
        }
        vec![]
    }

    fn confirm_set_running(&mut self, running: bool) -> Vec<Effect> {
        if self.screen != Screen::Instances {
            self.notify(
                Level::Info,
                "start and stop work on an instance: press 2 for Instances",
            );
            return vec![];
        }
        let Some(i) = self
            .selected_key()
            .and_then(|k| self.instances.data.iter().find(|i| i.id == k).cloned())
        else {
            return vec![];
        };
        let verb = if running { "start" } else { "stop" };
        if (running && i.state == "running") || (!running && i.state == "stopped") {
            self.notify(Level::Info, format!("{} is already {}", i.id, i.state));
            return vec![];
        }
        let production = self.ctx.production || i.is_production();
        // The name to type must say which instance: when several share it, the id.
        let unique = !i.name.is_empty() && runbook::unique_name(&self.instances.data, &i);
        let name = if unique { i.name.clone() } else { i.id.clone() };
        let mut lines = vec![
            format!(
                "instance  {} ({})",
                i.id,
                if i.name.is_empty() {
                    "no Name tag"
                } else {
                    i.name.as_str()
                }
            ),
            format!("region    {}", i.region),
            format!(
                "state     {} → {}",
                i.state,
                if running { "running" } else { "stopped" }
            ),
        ];
        if !running {
            lines.push("every app on it goes down until it is started again".into());
        }
        self.ask(ActionConfirm {
            title: format!("{verb} {name}"),
            lines,
            production,
            confirm_with: production.then_some(name),
            typed: String::new(),
            effect: Effect::SetRunning { id: i.id, running },
        })
    }

    fn selected_version(&self) -> Option<ObjectVersion> {
        if self.screen != Screen::Versions {
            return None;
        }
        let k = self.selected_key()?;
        self.versions
            .data
            .iter()
            .find(|v| v.version_id == k)
            .cloned()
    }

    fn confirm_restore(&mut self) -> Vec<Effect> {
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
        let (bucket, key) = self.versions_of.clone();
        let base = key.rsplit('/').next().unwrap_or(&key).to_string();
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
            typed: String::new(),
            effect: Effect::RestoreVersion {
                bucket,
                key,
                version_id: v.version_id,
            },
        })
    }

    fn confirm_undelete(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Versions {
            self.notify(
                Level::Info,
                "undelete works on a key's versions (Buckets → Enter)",
            );
            return vec![];
        }
        if !self
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
        let (bucket, key) = self.versions_of.clone();
        let base = key.rsplit('/').next().unwrap_or(&key).to_string();
        self.ask(ActionConfirm {
            title: format!("undelete {base}"),
            lines: vec![
                format!("object    s3://{bucket}/{key}"),
                "removes the delete marker: the newest version is visible again".into(),
            ],
            production: self.ctx.production,
            confirm_with: self.ctx.production.then_some(base),
            typed: String::new(),
            effect: Effect::Undelete { bucket, key },
        })
    }

    fn download_selected(&mut self) -> Vec<Effect> {
        if self.screen == Screen::Backups {
            return self.download_backup();
        }
        let Some(v) = self.selected_version().filter(|v| !v.is_delete_marker) else {
            self.notify(
                Level::Info,
                "download works on a version (not a delete marker)",
            );
            return vec![];
        };
        let (bucket, key) = self.versions_of.clone();
        self.notify(Level::Info, format!("downloading s3://{bucket}/{key}…"));
        self.actions_in_flight += 1;
        vec![Effect::Download {
            bucket,
            key,
            version_id: (!v.is_latest).then_some(v.version_id),
        }]
    }

    /// `o` on Backups: save an S3 backup to the download directory.
    fn download_backup(&mut self) -> Vec<Effect> {
        let Some(key) = self.selected_key() else {
            return vec![];
        };
        let Some(b) = self
            .inv
            .backups
            .iter()
            .find(|b| views::backup_key(b) == key)
            .cloned()
        else {
            return vec![];
        };
        // A host file that is also in S3 downloads from S3.
        let file = b.path.rsplit('/').next().unwrap_or(&b.path).to_string();
        let s3 = if b.location == crate::domain::BackupLocation::S3 {
            Some(b.clone())
        } else {
            self.inv
                .backups
                .iter()
                .find(|x| {
                    x.location == crate::domain::BackupLocation::S3
                        && x.database == b.database
                        && x.path.rsplit('/').next() == Some(file.as_str())
                })
                .cloned()
        };
        let Some(s3) = s3 else {
            self.notify(
                Level::Info,
                "this backup is only on its host: `r` → sync-backups ships it to S3, or restore/validate it there",
            );
            return vec![];
        };
        let bucket = s3.origin.trim_start_matches("s3://").to_string();
        self.notify(
            Level::Info,
            format!("downloading s3://{bucket}/{}…", s3.path),
        );
        self.actions_in_flight += 1;
        vec![Effect::Download {
            bucket,
            key: s3.path,
            version_id: None,
        }]
    }

    fn start_run(&mut self, run: RenderedRun) -> Vec<Effect> {
        // Guards are checked again at the moment of sending.
        if let Some(why) = self.run_refusal(&run) {
            self.notify(Level::Error, format!("{} refused: {why}", run.title));
            return vec![];
        }
        self.run_seq += 1;
        let mut tag = format!("{:03}", self.run_seq);
        if !self.run_tag.is_empty() {
            tag = format!("{tag}-{}", self.run_tag);
        }
        let id = crate::ops::RunId::new(self.now, &run.runbook, &tag).into_string();
        self.runs.push(RunView {
            id: id.clone(),
            title: run.title.clone(),
            runbook: run.runbook.clone(),
            host: run.host.clone(),
            production: run.production,
            started_at: self.now,
            finished_at: None,
            status: RunStatus::Starting,
            output: OutputBuffer::default(),
        });
        self.output_run = Some(id.clone());
        self.output_scroll = 0;
        self.output_follow = true;
        self.rebuild(Screen::Runs);
        // Esc goes back where the operator started it from.
        self.back.clear();
        self.back.push(if self.screen == Screen::RunOutput {
            Screen::Runs
        } else {
            self.screen
        });
        self.screen = Screen::RunOutput;
        vec![Effect::StartRun {
            id,
            run: Box::new(run),
        }]
    }
}

/// A drill report in a popup, as its Markdown.
fn drill_report_popup(r: &crate::drill::Report) -> Mode {
    Mode::Detail {
        title: format!("drill {}", r.id),
        fields: crate::drill::markdown(r)
            .lines()
            .map(|l| (String::new(), l.to_string()))
            .collect(),
    }
}

impl RunView {
    fn clone_summary(&self) -> (String, String, RunStatus) {
        (self.title.clone(), self.host.clone(), self.status.clone())
    }
}
