//! Actions and the keymap file that binds keys to them. The built-in keymap
//! ships in the binary; a user file overrides individual keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use std::collections::HashMap;

message_error!(
    /// Why a keymap cannot be read: the key or action it names.
    KeymapError
);

pub const DEFAULT_KEYMAP: &str = include_str!("keymap.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum Action {
    Quit,
    Palette,
    Filter,
    Help,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Select,
    Back,
    Refresh,
    CancelRun,
    Deploy,
    Restart,
    Runbooks,
    StartInstance,
    StopInstance,
    RestoreVersion,
    Undelete,
    Download,
    /// Containers: only the selected one's compose project (again: all).
    Project,
    /// A shell on the instance, or inside the container.
    Shell,
    /// Instances: mark the selected one for a fleet run (again: unmark).
    Mark,
    /// Instances: mark every instance shown (again: unmark all).
    MarkAll,
    /// Runs: only the runs that did not succeed (again: all).
    Failures,
    /// Open a screen (its tab): `go_` and its palette command.
    Go(super::Screen),
    /// The last notices, whole.
    Notices,
    /// Unbinds a key in a user keymap.
    None,
}

/// Every action but the tabs' (`go_NAME`, one per screen with a tab, from
/// the screens' registry): its name in a keymap file and what help says.
const ACTIONS: &[(&str, Action, &str)] = &[
    ("quit", Action::Quit, "quit"),
    (
        "palette",
        Action::Palette,
        "command palette (:tenants, :runs …)",
    ),
    (
        "filter",
        Action::Filter,
        "filter the list: words as typed (else fuzzy), column:value, !word",
    ),
    ("help", Action::Help, "this help"),
    ("up", Action::Up, "move up"),
    ("down", Action::Down, "move down"),
    ("top", Action::Top, "first row"),
    ("bottom", Action::Bottom, "last row / follow output"),
    ("page_up", Action::PageUp, "page up"),
    ("page_down", Action::PageDown, "page down"),
    ("select", Action::Select, "open / drill down"),
    ("back", Action::Back, "back"),
    ("refresh", Action::Refresh, "reload from the provider"),
    (
        "cancel_run",
        Action::CancelRun,
        "cancel the run (asks first)",
    ),
    (
        "deploy",
        Action::Deploy,
        "deploy the tenant (preview first)",
    ),
    (
        "restart",
        Action::Restart,
        "restart the container (preview first)",
    ),
    (
        "runbooks",
        Action::Runbooks,
        "runbooks for the selected row: pick, fill, preview, run",
    ),
    (
        "start_instance",
        Action::StartInstance,
        "start the instance (asks first)",
    ),
    (
        "stop_instance",
        Action::StopInstance,
        "stop the instance (asks first)",
    ),
    (
        "restore_version",
        Action::RestoreVersion,
        "make this version current again (asks first)",
    ),
    (
        "undelete",
        Action::Undelete,
        "remove the delete marker hiding the key (asks first)",
    ),
    (
        "download",
        Action::Download,
        "save this version to the download directory",
    ),
    (
        "project",
        Action::Project,
        "only this container's compose project (again: every project)",
    ),
    (
        "shell",
        Action::Shell,
        "a shell on the instance / in the container (SSM Session Manager)",
    ),
    (
        "mark",
        Action::Mark,
        "mark the instance for a fleet run (r then runs a runbook on every mark)",
    ),
    (
        "mark_all",
        Action::MarkAll,
        "mark every instance shown (again: unmark all)",
    ),
    (
        "failures",
        Action::Failures,
        "only the runs that did not succeed (again: all)",
    ),
    (
        "notices",
        Action::Notices,
        "the last notices, whole (newest first)",
    ),
    ("none", Action::None, "nothing"),
];

impl Action {
    pub fn describe(self) -> &'static str {
        match self {
            Action::Go(s) => s.spec().tab.unwrap_or("a screen"),
            other => ACTIONS
                .iter()
                .find(|(_, a, _)| *a == other)
                .map_or("", |(_, _, d)| *d),
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(name: &str) -> Result<Action, String> {
        if let Some(command) = name.strip_prefix("go_")
            && let Some((_, s)) = super::Screen::commands().find(|(c, _)| *c == command)
        {
            return Ok(Action::Go(s));
        }
        ACTIONS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, a, _)| *a)
            .ok_or_else(|| format!("unknown action `{name}`"))
    }
}

impl TryFrom<String> for Action {
    type Error = String;

    fn try_from(name: String) -> Result<Action, String> {
        name.parse()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeySpec {
    pub fn parse(s: &str) -> Result<KeySpec, KeymapError> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                mods |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                mods |= KeyModifiers::ALT;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            one if one.chars().count() == 1 => KeyCode::Char(one.chars().next().unwrap_or(' ')),
            other => return Err(format!("unknown key `{other}`").into()),
        };
        Ok(KeySpec { code, mods })
    }

    fn from_event(ev: &KeyEvent) -> KeySpec {
        // Shift is part of the character for letters ('G'), not a modifier.
        let mods = ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        KeySpec {
            code: ev.code,
            mods,
        }
    }

    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("Ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("Alt-");
        }
        match self.code {
            KeyCode::Char(' ') => s.push_str("Space"),
            KeyCode::Char(c) => s.push(c),
            KeyCode::Enter => s.push_str("Enter"),
            KeyCode::Esc => s.push_str("Esc"),
            KeyCode::Up => s.push('↑'),
            KeyCode::Down => s.push('↓'),
            KeyCode::PageUp => s.push_str("PgUp"),
            KeyCode::PageDown => s.push_str("PgDn"),
            KeyCode::Home => s.push_str("Home"),
            KeyCode::End => s.push_str("End"),
            other => s.push_str(&format!("{other:?}")),
        }
        s
    }
}

/// Where a key is read: a keymap file's section. A key a section does
/// not bind means what it means on the screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// Every screen (a file's keys outside any section go here too).
    Screens,
    /// The run output pane: moving scrolls lines of output.
    Output,
    /// A detail popup: moving scrolls it; any other key closes it.
    Detail,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Screens, Section::Output, Section::Detail];

    /// Its name in a keymap file: `[screens]`, `[output]`, `[detail]`.
    pub fn name(self) -> &'static str {
        match self {
            Section::Screens => "screens",
            Section::Output => "output",
            Section::Detail => "detail",
        }
    }

    /// What help says of it.
    pub fn about(self) -> &'static str {
        match self {
            Section::Screens => "every screen",
            Section::Output => "the run output pane: moving scrolls lines of output",
            Section::Detail => "a detail: moving scrolls it, any other key closes it",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: HashMap<(Section, KeySpec), Action>,
}

impl Keymap {
    #[allow(
        clippy::expect_used,
        reason = "the built-in keymap ships in the binary and a unit test parses it"
    )]
    pub fn builtin() -> Keymap {
        let mut k = Keymap {
            bindings: HashMap::new(),
        };
        k.apply(DEFAULT_KEYMAP)
            .expect("the built-in keymap is valid");
        k
    }

    /// Apply a keymap file's bindings over the current ones: `key =
    /// "action"` at the top (every screen) or in a `[section]`.
    pub fn apply(&mut self, text: &str) -> Result<(), KeymapError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        for (name, value) in table {
            match value {
                toml::Value::Table(keys) => {
                    let section = Section::ALL
                        .into_iter()
                        .find(|s| s.name() == name)
                        .ok_or_else(|| {
                            format!(
                                "unknown section [{name}] (known: {})",
                                Section::ALL.map(Section::name).join(", ")
                            )
                        })?;
                    for (key, value) in keys {
                        self.bind(section, &key, value)?;
                    }
                }
                value => self.bind(Section::Screens, &name, value)?,
            }
        }
        Ok(())
    }

    fn bind(&mut self, section: Section, key: &str, value: toml::Value) -> Result<(), KeymapError> {
        let spec = KeySpec::parse(key)?;
        let action: Action = match value {
            toml::Value::String(s) => s.parse().map_err(|e| format!("key `{key}`: {e}"))?,
            other => {
                return Err(format!("key `{key}`: an action name in quotes, not {other}").into());
            }
        };
        if action == Action::None {
            self.bindings.remove(&(section, spec));
        } else {
            self.bindings.insert((section, spec), action);
        }
        Ok(())
    }

    /// What `ev` means on the screens.
    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        self.action_in(Section::Screens, ev)
    }

    /// What `ev` means in `section` (else what it means on the screens).
    pub fn action_in(&self, section: Section, ev: &KeyEvent) -> Option<Action> {
        let spec = KeySpec::from_event(ev);
        self.bindings
            .get(&(section, spec.clone()))
            .or_else(|| self.bindings.get(&(Section::Screens, spec)))
            .copied()
    }

    /// The keys bound to `action` on the screens, shortest label first.
    pub fn keys_for(&self, action: Action) -> Vec<String> {
        self.keys_in(Section::Screens, action)
    }

    /// The keys bound to `action` in `section` (its own, and the screens'
    /// it leaves as they are), shortest label first.
    pub fn keys_in(&self, section: Section, action: Action) -> Vec<String> {
        let mut keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|((s, k), a)| {
                **a == action
                    && (*s == section
                        || (*s == Section::Screens
                            && !self.bindings.contains_key(&(section, k.clone()))))
            })
            .map(|((_, k), _)| k.label())
            .collect();
        keys.sort();
        keys.dedup();
        // Named keys (Enter, Esc) read best in hints; then the shortest.
        let named =
            |k: &String| k.chars().count() > 1 && k.chars().all(|c| c.is_ascii_alphabetic());
        keys.sort_by(|a, b| {
            named(b)
                .cmp(&named(a))
                .then(a.chars().count().cmp(&b.chars().count()))
                .then(a.cmp(b))
        });
        keys
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn user_overrides_replace_and_unbind_keys() {
        let mut k = Keymap::builtin();
        let d = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE);
        assert_eq!(k.action(&d), Some(Action::Deploy));
        k.apply("d = \"none\"\nx = \"deploy\"").unwrap();
        assert_eq!(k.action(&d), None);
        let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(k.action(&x), Some(Action::Deploy));
        assert!(k.apply("ctrl-nope = \"quit\"").is_err());
        assert!(k.apply("z = \"explode\"").is_err());
    }

    #[test]
    fn a_section_binds_its_mode_and_falls_back_to_the_screens() {
        let mut k = Keymap::builtin();
        let space = KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE);
        let j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(k.action(&space), Some(Action::Mark));
        assert_eq!(k.action_in(Section::Output, &space), Some(Action::PageDown));
        assert_eq!(k.action_in(Section::Output, &j), Some(Action::Down));
        k.apply("[output]\nj = \"page_down\"").unwrap();
        assert_eq!(k.action_in(Section::Output, &j), Some(Action::PageDown));
        assert_eq!(k.action(&j), Some(Action::Down), "the screens keep j");
        assert!(
            k.keys_in(Section::Output, Action::PageDown)
                .contains(&"j".to_string())
        );
        assert!(
            !k.keys_in(Section::Output, Action::Down)
                .contains(&"j".to_string())
        );
        let e = k.apply("[outptu]\nj = \"down\"").unwrap_err();
        assert!(e.contains("unknown section [outptu]"), "{e}");
        let e = k.apply("[output]\nj = 3").unwrap_err();
        assert!(e.contains("key `j`"), "{e}");
    }

    #[test]
    fn shifted_letters_and_ctrl_keys_resolve() {
        let k = Keymap::builtin();
        let g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(k.action(&g), Some(Action::Bottom));
        let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(k.action(&c), Some(Action::CancelRun));
    }
}
