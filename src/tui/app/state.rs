//! The console's vocabulary: modes (dialogs), run views, notices,
//! loaded data, the messages in and the effects out.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Starting,
    Running,
    Succeeded,
    Failed(i32),
    /// Failed, and the data is kept (see [`RunOutcome::DataKept`]).
    ///
    /// [`RunOutcome::DataKept`]: crate::store::journal::RunOutcome::DataKept
    DataKept,
    Cancelled(i32),
    /// Refused before anything was sent: a fleet target the guard
    /// stopped, or a lock another run holds (why, naming the holder).
    Refused(String),
    /// A fleet target the fleet never sent to (it stopped after errors).
    NotStarted,
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
            RunStatus::DataKept => "failed, data kept".into(),
            RunStatus::Cancelled(_) => "cancelled".into(),
            RunStatus::Refused(_) => "refused".into(),
            RunStatus::NotStarted => "not started".into(),
            RunStatus::Error(_) => "error".into(),
        }
    }
    /// How a run that ended shows (from the journal's outcome).
    pub fn ended(
        outcome: crate::store::journal::RunOutcome,
        exit_code: Option<i32>,
        error: Option<String>,
    ) -> RunStatus {
        use crate::store::journal::RunOutcome as O;
        match (outcome, exit_code) {
            (O::Succeeded, _) => RunStatus::Succeeded,
            (O::Failed, Some(c)) => RunStatus::Failed(c),
            (O::DataKept, _) => RunStatus::DataKept,
            (O::Cancelled, Some(c)) => RunStatus::Cancelled(c),
            (O::Refused, _) => RunStatus::Refused(error.unwrap_or_else(|| "refused".into())),
            (other, _) => RunStatus::Error(error.unwrap_or_else(|| other.to_string())),
        }
    }
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            RunStatus::Succeeded => Some(0),
            RunStatus::Failed(c) | RunStatus::Cancelled(c) => Some(*c),
            RunStatus::DataKept => Some(crate::jobs::journaled::EXIT_DATA_KEPT),
            _ => None,
        }
    }
}

/// What a row on Runs is, set where it is made: nothing reads a run's
/// kind from its id or its runbook's name (a user runbook named
/// `db-forward-check` is a runbook, not a forward).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunKind {
    /// A runbook started (or reattached) by this console.
    Runbook,
    /// One target of fleet run `fleet`: its end is the fleet's to say.
    FleetTarget { fleet: RunId },
    /// A port forward: it lives in this process and ends with the console.
    Forward,
    /// A run opened from the journal (History): shown, not driven here.
    Journal,
    /// A run on a host this console did not start (another operator's, or
    /// this operator's from another opsdeck): listed from the host,
    /// followed read-only once opened.
    Elsewhere {
        run: Box<crate::ops::runs::HostRun>,
        followed: bool,
    },
}

#[derive(Debug, Clone)]
pub struct RunView {
    pub id: RunId,
    pub kind: RunKind,
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
    /// A run as the journal has it: its start, its end if it ended, the
    /// output kept.
    pub fn of_entry(entry: &crate::store::journal::Entry, kind: RunKind, output: &str) -> RunView {
        let mut buf = OutputBuffer::default();
        buf.push_str(output);
        RunView {
            id: entry.start.run.clone(),
            kind,
            title: entry.start.title.clone(),
            runbook: entry.start.runbook.clone(),
            host: entry.start.host.clone(),
            production: entry.start.production,
            started_at: entry.start.at,
            finished_at: entry.finish.as_ref().map(|f| f.at),
            status: match entry.finish.as_ref() {
                None => RunStatus::Running,
                Some(f) => RunStatus::ended(f.status, f.exit_code, f.error.clone()),
            },
            output: buf,
        }
    }

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

/// Where a table's data is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Load {
    /// Never asked for.
    #[default]
    Idle,
    /// Asked for; `shown`: an earlier load's data is still there (a
    /// refresh keeps the rows until it is complete).
    Loading {
        shown: bool,
    },
    Ready,
    /// The last load failed; `shown` as for `Loading`.
    Failed {
        error: String,
        shown: bool,
    },
}

/// A table's data and where its load is.
#[derive(Debug, Clone, Default)]
pub struct Loaded<T> {
    pub data: T,
    pub state: Load,
}

impl<T> Loaded<T> {
    /// A load is asked for.
    pub fn start(&mut self) {
        self.state = Load::Loading {
            shown: self.loaded(),
        };
    }

    /// The load ended well (the data is in place).
    pub fn done(&mut self) {
        self.state = Load::Ready;
    }

    /// The load ended well with `data`.
    pub fn ready(&mut self, data: T) {
        self.data = data;
        self.done();
    }

    /// The load failed; what was there stays.
    pub fn fail(&mut self, error: String) {
        let shown = self.loaded();
        self.state = Load::Failed { error, shown };
    }

    pub fn loading(&self) -> bool {
        matches!(self.state, Load::Loading { .. })
    }

    /// Whether a load ever ended well (its data is what shows).
    pub fn loaded(&self) -> bool {
        match &self.state {
            Load::Idle => false,
            Load::Ready => true,
            Load::Loading { shown } | Load::Failed { shown, .. } => *shown,
        }
    }

    /// The last load's error, if it failed.
    pub fn error(&self) -> Option<String> {
        match &self.state {
            Load::Failed { error, .. } => Some(error.clone()),
            _ => None,
        }
    }
}

pub struct Preview {
    pub run: RenderedRun,
    /// The values the run was rendered from (Tab goes back to the form).
    pub values: BTreeMap<String, String>,
    pub typed: super::confirm::Typed,
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
    pub typed: super::confirm::Typed,
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
    /// A start refused by a lock: follow the holder, wait, or leave it.
    Locked(super::locked::LockedDialog),
}

pub use crate::session::ContextInfo;

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste): taken whole.
    Paste(String),
    Tick(DateTime<Utc>),
    /// A wait for a refused run's locks ended: free (`failed` None), or
    /// why not.
    LocksFree {
        wait: u64,
        failed: Option<String>,
    },
    /// Everyone's runs on the hosts, and the hosts that could not be asked.
    HostRuns {
        runs: Vec<crate::ops::runs::HostRun>,
        warnings: Vec<String>,
    },
    /// A page of the instance listing, as it arrives.
    InstancesPage(Vec<Instance>),
    /// The instance listing ended: all of it, or the error that stopped it.
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
    /// An event of fleet run `run` (its end per target is journaled).
    Fleet {
        run: RunId,
        event: crate::jobs::fleet::FleetEvent,
    },
    /// A port forward is up (its output and end come as run events).
    ForwardStarted {
        id: RunId,
        title: String,
        host: String,
        production: bool,
    },
    /// An unfinished run from the journal, followed again (with its output so far).
    RunAttached {
        entry: Box<crate::store::journal::Entry>,
        output: String,
    },
    /// The journal, newest first.
    History(Vec<crate::store::journal::Entry>),
    Drills {
        active: Option<Box<crate::drill::Active>>,
        reports: Vec<crate::drill::Report>,
    },
    DrillStarted(Result<Box<crate::drill::Active>, String>),
    Posture(ProviderResult<Vec<crate::domain::Finding>>),
    DrillVerified(Result<Box<crate::drill::Report>, String>),
    /// A past run's full output, opened from History.
    PastOutput {
        entry: Box<crate::store::journal::Entry>,
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
    /// One runbook on many instances ([`crate::ops::fleet`]).
    StartFleet {
        id: RunId,
        plan: Box<crate::ops::fleet::FleetPlan>,
    },
    /// CancelCommand for a fleet run's commands.
    CancelFleet {
        id: RunId,
    },
    /// Tail one running fleet target's job live (the one the operator
    /// opened): its output comes as run events.
    FollowTarget {
        id: RunId,
        host: String,
    },
    /// Ask `run`'s host every 2 s until its locks are free, taking none
    /// (at most 30 minutes); answered with [`Msg::LocksFree`].
    WaitForLocks {
        wait: u64,
        run: Box<crate::runbook::RenderedRun>,
    },
    /// The operator gave up wait `0`.
    StopWaiting(u64),
    CancelRun {
        id: RunId,
        host: String,
    },
    /// Everyone's runs on these instances' hosts ([`crate::ops::runs`]).
    LoadHostRuns(Vec<Instance>),
    /// Cancel a run this console did not start: journaled, naming its owner.
    CancelElsewhere {
        run: Box<crate::ops::runs::HostRun>,
        production: bool,
    },
    /// The changes and downloads below are journaled like runs
    /// ([`crate::ops::actions`]); `production` goes into the record.
    SetRunning {
        id: String,
        running: bool,
        production: bool,
    },
    RestoreVersion {
        bucket: String,
        key: String,
        version_id: String,
        production: bool,
    },
    Undelete {
        bucket: String,
        key: String,
        production: bool,
    },
    Download {
        bucket: String,
        key: String,
        version_id: Option<String>,
        production: bool,
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
    /// `:forward`: a local port to a database, kept in the background and
    /// shown on Runs (Ctrl-C there ends it).
    StartForward {
        id: RunId,
        instance: Box<crate::domain::Instance>,
        dest: crate::ops::session::Destination,
        local_port: Option<u16>,
        production: bool,
    },
    /// `:login`: hand the terminal to `aws sso login --profile`, then
    /// reopen the context with the fresh credentials.
    Login {
        profile: String,
    },
    /// Hand the terminal to a shell on the instance (in the container):
    /// the console suspends itself for it ([`crate::ops::session`]).
    Shell {
        instance: Box<crate::domain::Instance>,
        container: Option<String>,
        production: bool,
    },
}
