//! The screens: one type per screen behind [`View`], and the one registry
//! that names them ([`screens!`] below). A screen's file holds what it
//! shows (its table, its title's badge, whether it is loading), what its
//! keys do (Enter, `R`, Esc), what its selection targets, and the
//! messages only it receives. The shared parts (tables, filter, keymap,
//! dialogs) stay in `app`.
//!
//! Adding a screen: its file, with a type implementing [`View`], and one
//! line in the registry. The registry makes the [`Screen`] enum, declares
//! the module and gives the tabs their order; the palette command, the
//! tab, help and the footer all come from the screen's [`ScreenSpec`].

use super::*;
use crate::runbook::Target;
use keymap::Section;

// Parts several screens share (not screens themselves).
pub mod inventory;
pub mod s3;

pub use run_output::OutputPane;
pub use s3::S3View;

/// What the console says of a screen: its title, the palette command that
/// opens it, whether it has a tab, and the actions that do something there.
#[derive(Debug, Clone, Copy)]
pub struct ScreenSpec {
    pub title: &'static str,
    /// `:NAME` in the palette (none: reached from another screen).
    pub command: Option<&'static str>,
    /// What its tab key opens, for help (`None`: no tab of its own).
    pub tab: Option<&'static str>,
    /// The actions that do something here (help and the footer).
    pub actions: &'static [Action],
}

/// One screen. Everything has a default but [`View::spec`]; a screen says
/// only what differs.
pub trait View: Sync {
    fn spec(&self) -> ScreenSpec;

    /// Its table, from what the console holds (`None`: it has no table).
    fn table(&self, app: &mut App) -> Option<TableData>;

    /// Whether its data is loading, and the last error loading it.
    fn status(&self, _app: &App) -> (bool, Option<String>) {
        (false, None)
    }

    /// The table's title, when it says more than the screen's title.
    fn title(&self, _app: &App) -> Option<String> {
        None
    }

    /// Said after the row count in the table's title (a fleet's tally…).
    fn badge(&self, _app: &App) -> Option<String> {
        None
    }

    /// The tab lit while it shows (a screen reached from another lights
    /// that one's).
    fn tab(&self) -> Option<Screen> {
        None
    }

    /// Opened from its tab or the palette: what it loads.
    fn opened(&self, _app: &mut App) -> Vec<Effect> {
        vec![]
    }

    /// Enter on the row `key`.
    fn select(&self, _app: &mut App, _key: String) -> Vec<Effect> {
        vec![]
    }

    /// `R`: reload what it shows (by default, the whole estate).
    fn refresh(&self, app: &mut App) -> Vec<Effect> {
        app.notify(Level::Info, "refreshing…");
        app.refresh_all()
    }

    /// Esc, once the filter is clear: `Some` when it goes somewhere of its
    /// own (up a prefix) instead of back a screen.
    fn up(&self, _app: &mut App) -> Option<Vec<Effect>> {
        None
    }

    /// What the row `key` stands for, as a runbook's target.
    fn target(&self, _app: &App, _key: &str) -> Option<Target> {
        None
    }

    /// The run its keys act on (cancel), if it shows one.
    fn run(&self, _app: &App) -> Option<RunId> {
        None
    }

    /// Whether what it shows concerns production (a red frame), beside
    /// the context itself being production.
    fn production(&self, _app: &App) -> bool {
        false
    }

    /// The keymap section its keys are read in.
    fn keys(&self) -> Section {
        Section::Screens
    }

    /// Keys of its own, before the keymap's meaning for every screen
    /// (`Some`: handled).
    fn key(&self, _app: &mut App, _action: Action) -> Option<Vec<Effect>> {
        None
    }
}

/// The registry: `Variant: module::Type`, in the order of the tabs.
macro_rules! screens {
    ($($variant:ident: $module:ident :: $view:ident),+ $(,)?) => {
        $(pub mod $module;)+

        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Screen {
            $($variant),+
        }

        impl Screen {
            /// Every screen, in the order of the tabs.
            pub const ALL: &'static [Screen] = &[$(Screen::$variant),+];

            /// The screen's type.
            pub fn view(self) -> &'static dyn View {
                match self {
                    $(Screen::$variant => &$module::$view),+
                }
            }
        }
    };
}

screens! {
    Tenants: tenants::Tenants,
    Instances: instances::Instances,
    Containers: containers::Containers,
    Buckets: buckets::Buckets,
    Objects: objects::Objects,
    Versions: versions::Versions,
    Backups: backups::Backups,
    Runs: runs::Runs,
    RunOutput: run_output::RunOutput,
    History: history::History,
    Drills: drills::Drills,
    Schedules: schedules::Schedules,
    Findings: findings::Findings,
    Attention: attention::Attention,
}

impl Screen {
    pub fn spec(self) -> ScreenSpec {
        self.view().spec()
    }

    pub fn title(self) -> &'static str {
        self.spec().title
    }

    /// Palette commands and their screens.
    pub fn commands() -> impl Iterator<Item = (&'static str, Screen)> {
        Screen::ALL
            .iter()
            .filter_map(|s| Some((s.spec().command?, *s)))
    }

    /// The screens with a tab, in order.
    pub fn tabs() -> impl Iterator<Item = Screen> {
        Screen::ALL
            .iter()
            .copied()
            .filter(|s| s.spec().tab.is_some())
    }

    /// Actions that do something on this screen (for help and the footer).
    pub fn actions(self) -> &'static [Action] {
        self.spec().actions
    }

    /// The tab lit while this screen shows.
    pub fn tab(self) -> Screen {
        self.view().tab().unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_screen_is_reached_and_named_once() {
        let mut commands: Vec<&str> = Screen::commands().map(|(c, _)| c).collect();
        let n = commands.len();
        commands.sort_unstable();
        commands.dedup();
        assert_eq!(commands.len(), n, "palette commands are unique");
        for s in Screen::ALL {
            let spec = s.spec();
            assert!(!spec.title.is_empty());
            // A screen is opened by its command, or from a screen that is.
            assert!(
                spec.command.is_some() || s.tab() != *s,
                "{s:?} is unreachable"
            );
            // A tab has a command; a screen reached only from the palette
            // (Schedules) lights another's tab.
            assert!(spec.tab.is_none() || spec.command.is_some(), "{s:?}");
            assert!(spec.tab.is_some() || s.tab() != *s, "{s:?} lights no tab");
        }
        assert_eq!(Screen::commands().count(), 11);
        assert_eq!(Screen::tabs().count(), 10);
        // Each tab's key names its screen: `go_` and the palette command.
        for s in Screen::tabs() {
            let name = format!("go_{}", s.spec().command.unwrap_or_default());
            assert_eq!(name.parse::<Action>(), Ok(Action::Go(s)));
        }
    }
}
