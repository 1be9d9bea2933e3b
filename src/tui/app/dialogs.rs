//! The dialogs' keys. Each dialog handles a key in place and says what
//! happens next ([`Next`]): it stays open, it closes, or it closes and the
//! console completes it (runs the command, opens the form, starts the
//! run). A dialog is taken out of the mode only when it closes.

use super::runbooks::{Form, Picker};
use super::*;
use crate::runbook::Target;
use crate::runbook::spec::ParamType;
use crossterm::event::KeyModifiers;

/// What a dialog says after a key or a paste.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// It stays open (changed or not).
    Stay,
    /// It stays open, and the status line says this.
    Say(Level, String),
    /// It closes, saying this if there is something to say.
    Close(Option<(Level, String)>),
    /// It closes, and the console completes it.
    Done,
    /// The console does this with what it holds.
    Ask(Ask),
}

/// What a dialog needs from the rest of the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// The filter as typed so far, applied as it is typed (it stays open).
    Filter(String),
    /// Esc in the filter: cleared, and closed.
    ClearFilter,
    /// Tab in the palette: complete what is typed (it stays open).
    Complete(String),
    /// Tab in the preview: back to its form, with the same values.
    Edit,
    /// `f` on a refused start: follow the run holding the lock.
    FollowHolder,
    /// `w` on a refused start: wait for the lock, then start.
    WaitForLocks,
    /// Esc while waiting: stop it.
    StopWaiting,
}

impl Next {
    fn closed(level: Level, text: String) -> Next {
        Next::Close(Some((level, text)))
    }
}

/// What a form checks its values against: the runbook's parameters and
/// what the estate offers for choices.
pub struct Checks<'a> {
    pub library: &'a runbook::Library,
    pub inv: &'a crate::ops::Inventory,
}

impl Checks<'_> {
    pub fn revalidate(&self, f: &mut Form) {
        let Some(spec) = self.library.get(&f.runbook) else {
            return;
        };
        let choices = self.inv.choices(&f.target);
        for field in &mut f.fields {
            if let Some(p) = spec.param(&field.name) {
                field.error = runbook::params::validate(p, &field.value, &choices)
                    .err()
                    .map(|e| e.0);
            }
        }
    }
}

/// The filter line: applied as typed; Enter keeps it, Esc clears it.
fn filter_key(ta: &mut TextArea<'static>, key: KeyEvent) -> Next {
    match key.code {
        KeyCode::Enter => Next::Close(None),
        KeyCode::Esc => Next::Ask(Ask::ClearFilter),
        _ => {
            ta.input(key);
            Next::Ask(Ask::Filter(first_line(ta)))
        }
    }
}

fn first_line(ta: &TextArea<'_>) -> String {
    ta.lines().first().cloned().unwrap_or_default()
}

/// The palette: Enter runs the command, Tab completes it.
fn palette_key(ta: &mut TextArea<'static>, key: KeyEvent) -> Next {
    match key.code {
        KeyCode::Enter => Next::Done,
        KeyCode::Esc => Next::Close(None),
        KeyCode::Tab => Next::Ask(Ask::Complete(first_line(ta))),
        _ => {
            ta.input(key);
            Next::Stay
        }
    }
}

/// A detail scrolls with the moving keys; any other key closes it.
fn detail_key(lines: usize, scroll: &mut u16, action: Option<Action>) -> Next {
    let step: i32 = match action {
        Some(Action::Down) => 1,
        Some(Action::Up) => -1,
        Some(Action::PageDown) => 10,
        Some(Action::PageUp) => -10,
        Some(Action::Top) => -10_000,
        Some(Action::Bottom) => 10_000,
        _ => {
            *scroll = 0;
            return Next::Close(None);
        }
    };
    let most = u16::try_from(lines).unwrap_or(u16::MAX);
    let at = i32::from(*scroll) + step;
    *scroll = u16::try_from(at.clamp(0, i32::from(most))).unwrap_or(0);
    Next::Stay
}

/// A yes/no question: `y` completes it, anything else closes it.
fn yes_or(key: KeyEvent, no: Option<(Level, &str)>) -> Next {
    if confirm::yes(key) {
        Next::Done
    } else {
        Next::Close(no.map(|(l, t)| (l, t.to_string())))
    }
}

impl ActionConfirm {
    pub fn key(&mut self, key: KeyEvent) -> Next {
        match self.typed.key(self.confirm_with.as_deref(), key) {
            confirm::Answer::Abort => {
                Next::closed(Level::Info, format!("{}: not done", self.title))
            }
            confirm::Answer::Go => Next::Done,
            confirm::Answer::NotYet(n) => Next::Say(Level::Warn, confirm::type_exactly(&n)),
            confirm::Answer::Edited | confirm::Answer::Other => Next::Stay,
        }
    }

    pub fn paste(&mut self, text: &str) -> Next {
        self.typed.paste(self.confirm_with.as_deref(), text);
        Next::Stay
    }
}

impl Preview {
    pub fn key(&mut self, key: KeyEvent) -> Next {
        let need = self.run.confirm_with.clone();
        match self.typed.key(need.as_deref(), key) {
            confirm::Answer::Abort => {
                Next::closed(Level::Info, format!("{}: not started", self.run.title))
            }
            confirm::Answer::Go => {
                // The run's own consent rule is the authority.
                let typed = self.typed.as_asked(need.as_deref());
                match crate::ops::consent(&self.run, true, typed) {
                    Ok(()) => Next::Done,
                    Err(why) => Next::Say(Level::Warn, why.to_string()),
                }
            }
            confirm::Answer::NotYet(n) => Next::Say(Level::Warn, confirm::type_exactly(&n)),
            confirm::Answer::Edited => Next::Stay,
            confirm::Answer::Other => match key.code {
                KeyCode::Tab | KeyCode::BackTab => Next::Ask(Ask::Edit),
                KeyCode::Down => {
                    self.scroll = self.scroll.saturating_add(1);
                    Next::Stay
                }
                KeyCode::Up => {
                    self.scroll = self.scroll.saturating_sub(1);
                    Next::Stay
                }
                _ => Next::Stay,
            },
        }
    }

    pub fn paste(&mut self, text: &str) -> Next {
        self.typed.paste(self.run.confirm_with.as_deref(), text);
        Next::Stay
    }
}

impl Picker {
    pub fn key(&mut self, key: KeyEvent) -> Next {
        let n = self.visible().len();
        match key.code {
            KeyCode::Esc => return Next::Close(None),
            KeyCode::Enter if self.chosen().is_some() => return Next::Done,
            KeyCode::Down | KeyCode::Tab => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1));
            }
            KeyCode::Up | KeyCode::BackTab => self.selected = self.selected.saturating_sub(1),
            KeyCode::Backspace => {
                self.filter.pop();
                self.selected = 0;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.push(c);
                self.selected = 0;
            }
            _ => {}
        }
        Next::Stay
    }

    /// The runbook under the cursor and its target.
    pub fn chosen(&self) -> Option<(String, Target)> {
        self.visible()
            .get(self.selected)
            .map(|(name, _, _, target)| (name.clone(), target.clone()))
    }
}

impl Form {
    pub fn key(&mut self, key: KeyEvent, checks: &Checks) -> Next {
        // The multi-line editor has the keys until Esc.
        if let Some(ed) = self.editor.as_mut() {
            if key.code == KeyCode::Esc {
                let text = ed.lines().join("\n");
                self.editor = None;
                if let Some(field) = self.fields.get_mut(self.focus) {
                    field.value = text;
                }
                checks.revalidate(self);
            } else {
                ed.input(key);
                self.dirty = true;
            }
            return Next::Stay;
        }
        if std::mem::take(&mut self.discard_asked) {
            if confirm::yes(key) {
                return Next::closed(Level::Info, format!("{}: discarded", self.title));
            }
            return Next::Say(Level::Info, "the form is kept".into());
        }
        match key.code {
            KeyCode::Esc if self.dirty => {
                self.discard_asked = true;
                Next::Say(
                    Level::Warn,
                    "the form has changes: y discards them, any other key keeps editing".into(),
                )
            }
            KeyCode::Esc => Next::closed(Level::Info, format!("{}: not started", self.title)),
            KeyCode::Down | KeyCode::Tab | KeyCode::Up | KeyCode::BackTab => {
                let n = self.fields.len();
                self.focus = if matches!(key.code, KeyCode::Down | KeyCode::Tab) {
                    (self.focus + 1).min(n.saturating_sub(1))
                } else {
                    self.focus.saturating_sub(1)
                };
                if let Some(field) = self.fields.get_mut(self.focus) {
                    field.cursor = field.value.chars().count();
                }
                Next::Stay
            }
            KeyCode::Enter => self.submit(),
            _ => {
                self.edit_field(key, checks);
                Next::Stay
            }
        }
    }

    /// Enter: an empty text field opens its editor; a field in error says
    /// so; else the form is done.
    fn submit(&mut self) -> Next {
        if let Some(field) = self.fields.get(self.focus)
            && field.kind == ParamType::Text
            && field.value.is_empty()
        {
            self.editor = Some(runbooks::editor_for(""));
            return Next::Stay;
        }
        match self.fields.iter().find(|x| x.error.is_some()) {
            Some(bad) => Next::Say(
                Level::Warn,
                format!("{}: {}", bad.name, bad.error.clone().unwrap_or_default()),
            ),
            None => Next::Done,
        }
    }

    /// A key on the focused field: typing on a text field opens the
    /// editor; a choice cycles; a one-line value edits like a shell line.
    fn edit_field(&mut self, key: KeyEvent, checks: &Checks) {
        let Some(field) = self.fields.get_mut(self.focus) else {
            return;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let cycles =
            matches!(field.kind, ParamType::Choice | ParamType::Bool) && !field.options.is_empty();
        let changed = match key.code {
            KeyCode::Char(_) | KeyCode::Backspace if field.kind == ParamType::Text && !ctrl => {
                let mut ed = runbooks::editor_for(&field.value);
                ed.input(key);
                self.dirty = true;
                self.editor = Some(ed);
                false
            }
            KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') if cycles => {
                let len = field.options.len();
                let i = field
                    .options
                    .iter()
                    .position(|o| *o == field.value)
                    .unwrap_or(len - 1);
                let j = if key.code == KeyCode::Left {
                    (i + len - 1) % len
                } else {
                    (i + 1) % len
                };
                // A choice is one key to pick again: not worth asking about.
                field.value = field.options[j].clone();
                field.cursor = field.value.chars().count();
                true
            }
            _ if field.kind != ParamType::Text => {
                let edited = line_edit::edit(&mut field.value, &mut field.cursor, key)
                    == line_edit::Edit::Changed;
                self.dirty |= edited;
                edited
            }
            _ => false,
        };
        if changed {
            checks.revalidate(self);
        }
    }

    /// A paste: taken whole into the field (or the editor) and checked
    /// once; a paste beyond what any field holds is cut, and that is said.
    pub fn paste(&mut self, text: &str, checks: &Checks) -> Next {
        let mut text = text.replace("\r\n", "\n");
        let total = text.chars().count();
        let mut next = Next::Stay;
        if total > runbooks::MAX_PASTE {
            text = text.chars().take(runbooks::MAX_PASTE).collect();
            next = Next::Say(
                Level::Warn,
                format!(
                    "pasted {total} characters: kept the first {}",
                    runbooks::MAX_PASTE
                ),
            );
        }
        self.discard_asked = false;
        self.dirty = true;
        if let Some(ed) = self.editor.as_mut() {
            ed.insert_str(&text);
        } else if let Some(field) = self.fields.get_mut(self.focus) {
            if field.kind == ParamType::Text {
                let mut ed = runbooks::editor_for(&field.value);
                ed.insert_str(&text);
                self.editor = Some(ed);
            } else {
                // One line: a line break at the very end is the copy's, not the value's.
                let one = text.strip_suffix('\n').unwrap_or(&text);
                line_edit::insert(&mut field.value, &mut field.cursor, one);
                checks.revalidate(self);
            }
        }
        next
    }

    /// The values as filled in, by parameter name.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect()
    }
}

impl App {
    /// A key while a dialog is open (else the screen's keys).
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        // Tab cycles through what the last Tab offered; any other key
        // starts afresh.
        if matches!(self.mode, Mode::Palette(_)) && key.code != KeyCode::Tab {
            self.nav.palette_cycle = None;
        }
        let checks = Checks {
            library: &self.library,
            inv: &self.estate.inv,
        };
        let next = match &mut self.mode {
            Mode::Normal => return self.on_normal_key(key),
            Mode::Filter(ta) => filter_key(ta, key),
            Mode::Palette(ta) => palette_key(ta, key),
            Mode::Help => Next::Close(None),
            Mode::Detail { fields, .. } => detail_key(
                fields.len(),
                &mut self.nav.detail_scroll,
                self.keymap.action_in(keymap::Section::Detail, &key),
            ),
            Mode::Picker(p) => p.key(key),
            Mode::Form(f) => f.key(key, &checks),
            Mode::Preview(p) => p.key(key),
            Mode::Confirm(c) => c.key(key),
            Mode::ConfirmCancel(_) => yes_or(key, Some((Level::Info, "the run goes on"))),
            Mode::ConfirmQuit => yes_or(key, None),
            Mode::Locked(d) => d.key(key),
        };
        self.then(next)
    }

    /// A paste goes where typing would, whole: a form field or the
    /// editor, the filter, the palette, a name to confirm.
    pub(super) fn on_paste(&mut self, text: &str) -> Vec<Effect> {
        let first_line = text.lines().next().unwrap_or_default();
        let checks = Checks {
            library: &self.library,
            inv: &self.estate.inv,
        };
        let next = match &mut self.mode {
            Mode::Form(f) => f.paste(text, &checks),
            Mode::Filter(ta) => {
                ta.insert_str(first_line);
                Next::Ask(Ask::Filter(self::first_line(ta)))
            }
            Mode::Palette(ta) => {
                ta.insert_str(first_line);
                Next::Stay
            }
            Mode::Preview(p) => p.paste(text),
            Mode::Confirm(c) => c.paste(text),
            _ => Next::Stay,
        };
        self.then(next)
    }

    fn then(&mut self, next: Next) -> Vec<Effect> {
        match next {
            Next::Stay => {}
            Next::Say(level, text) => self.notify(level, text),
            Next::Close(say) => {
                self.mode = Mode::Normal;
                if let Some((level, text)) = say {
                    self.notify(level, text);
                }
            }
            Next::Done => {
                let done = std::mem::replace(&mut self.mode, Mode::Normal);
                return self.finish(done);
            }
            Next::Ask(Ask::Filter(text)) => self.set_filter(text),
            Next::Ask(Ask::ClearFilter) => {
                self.mode = Mode::Normal;
                self.set_filter(String::new());
            }
            Next::Ask(Ask::Complete(typed)) => {
                if let Some(line) = self.complete(&typed)
                    && let Mode::Palette(ta) = &mut self.mode
                {
                    *ta = input_area("");
                    ta.insert_str(line);
                }
            }
            Next::Ask(Ask::Edit) => {
                if let Mode::Preview(p) = std::mem::replace(&mut self.mode, Mode::Normal) {
                    return self.edit_preview(p);
                }
            }
            Next::Ask(Ask::FollowHolder) => {
                if let Mode::Locked(d) = std::mem::replace(&mut self.mode, Mode::Normal) {
                    let mut fx = d
                        .waiting
                        .map(|(_, w)| Effect::StopWaiting(w))
                        .into_iter()
                        .collect::<Vec<_>>();
                    fx.extend(self.follow_holder(d));
                    return fx;
                }
            }
            Next::Ask(Ask::WaitForLocks) => return self.wait_for_locks(),
            Next::Ask(Ask::StopWaiting) => {
                if let Mode::Locked(d) = std::mem::replace(&mut self.mode, Mode::Normal) {
                    self.notify(
                        Level::Info,
                        format!("{}: not started (stopped waiting)", d.run.title),
                    );
                    return d
                        .waiting
                        .map(|(_, w)| Effect::StopWaiting(w))
                        .into_iter()
                        .collect();
                }
            }
        }
        vec![]
    }

    /// A dialog done: what it was for.
    fn finish(&mut self, done: Mode) -> Vec<Effect> {
        match done {
            Mode::Confirm(c) => self.confirmed(c),
            Mode::Palette(ta) => self.run_command(first_line(&ta).trim()),
            Mode::Picker(p) => match p.chosen() {
                Some((name, target)) => self.open_form(&name, target, &BTreeMap::new()),
                None => vec![],
            },
            Mode::Form(f) => {
                let values = f.values();
                if let Some(sel) = f.fleet {
                    return self.open_fleet_confirm(&f.runbook, *sel, &values);
                }
                let run = self.prepare(&f.runbook, &f.target, &values);
                self.open_preview(run, values)
            }
            Mode::Preview(p) => self.start_run(p.run),
            Mode::ConfirmCancel(id) => self.cancel_run(&id),
            Mode::ConfirmQuit => {
                self.quit = true;
                vec![]
            }
            Mode::Normal | Mode::Filter(_) | Mode::Help | Mode::Detail { .. } | Mode::Locked(_) => {
                vec![]
            }
        }
    }

    fn confirmed(&mut self, c: ActionConfirm) -> Vec<Effect> {
        tracing::info!(action = %c.title, "confirmed");
        if matches!(c.effect, Effect::StartFleet { .. }) {
            return self.start_fleet(c.effect);
        }
        self.notify(Level::Info, format!("{}…", c.title));
        self.runs.actions_in_flight += 1;
        vec![c.effect]
    }

    fn cancel_run(&mut self, id: &RunId) -> Vec<Effect> {
        let Some(run) = self.run(id) else {
            return vec![];
        };
        let fx = match &run.kind {
            // A fleet target: the fleet's commands are cancelled (SSM
            // stops the running targets and sends no more).
            RunKind::FleetTarget { fleet } => Effect::CancelFleet { id: fleet.clone() },
            _ => Effect::CancelRun {
                id: id.clone(),
                host: run.host.clone(),
            },
        };
        self.notify(Level::Warn, format!("cancelling {id}…"));
        vec![fx]
    }
}
