//! Keys: the mode a key lands in (dialogs first), then the normal
//! screen keys through the keymap, moving, going back, refreshing.

use super::*;

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.on_normal_key(key),
            Mode::Filter(ta) => self.on_filter_key(ta, key),
            Mode::Palette(ta) => self.on_palette_key(ta, key),
            Mode::Help => vec![],
            // A detail scrolls with the moving keys; any other key closes it.
            Mode::Detail { title, fields } => self.on_detail_key(title, fields, key),
            Mode::Picker(p) => self.on_picker_key(p, key),
            Mode::Form(f) => self.on_form_key(f, key),
            Mode::Preview(p) => self.on_preview_key(p, key),
            Mode::Confirm(c) => self.on_confirm_key(c, key),
            Mode::ConfirmCancel(id) => self.on_cancel_key(id, key),
            Mode::ConfirmQuit => {
                self.quit = confirm::yes(key);
                vec![]
            }
        }
    }

    fn on_confirm_key(&mut self, mut c: ActionConfirm, key: KeyEvent) -> Vec<Effect> {
        match c.typed.key(c.confirm_with.as_deref(), key) {
            confirm::Answer::Abort => {
                self.notify(Level::Info, format!("{}: not done", c.title));
                vec![]
            }
            confirm::Answer::Go if matches!(c.effect, Effect::StartFleet { .. }) => {
                tracing::info!(action = %c.title, "confirmed");
                self.start_fleet(c.effect)
            }
            confirm::Answer::Go => {
                tracing::info!(action = %c.title, "confirmed");
                self.notify(Level::Info, format!("{}…", c.title));
                self.runs.actions_in_flight += 1;
                vec![c.effect]
            }
            confirm::Answer::NotYet(n) => {
                self.notify(Level::Warn, confirm::type_exactly(&n));
                self.mode = Mode::Confirm(c);
                vec![]
            }
            confirm::Answer::Edited | confirm::Answer::Other => {
                self.mode = Mode::Confirm(c);
                vec![]
            }
        }
    }

    fn on_filter_key(&mut self, mut ta: TextArea<'static>, key: KeyEvent) -> Vec<Effect> {
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

    fn on_palette_key(&mut self, mut ta: TextArea<'static>, key: KeyEvent) -> Vec<Effect> {
        // Tab cycles through what the last Tab offered; any other
        // key starts afresh.
        if key.code != KeyCode::Tab {
            self.nav.palette_cycle = None;
        }
        match key.code {
            KeyCode::Enter => {
                let cmd = ta.lines().first().cloned().unwrap_or_default();
                self.run_command(cmd.trim())
            }
            KeyCode::Esc => vec![],
            KeyCode::Tab => {
                let typed = ta.lines().first().cloned().unwrap_or_default();
                if let Some(line) = self.complete(&typed) {
                    ta = input_area("");
                    ta.insert_str(line);
                }
                self.mode = Mode::Palette(ta);
                vec![]
            }
            _ => {
                ta.input(key);
                self.mode = Mode::Palette(ta);
                vec![]
            }
        }
    }

    fn on_detail_key(
        &mut self,
        title: String,
        fields: Vec<(String, String)>,
        key: KeyEvent,
    ) -> Vec<Effect> {
        let step: Option<i32> = match self.keymap.action(&key) {
            Some(Action::Down) => Some(1),
            Some(Action::Up) => Some(-1),
            Some(Action::PageDown) => Some(10),
            Some(Action::PageUp) => Some(-10),
            Some(Action::Top) => Some(-10_000),
            Some(Action::Bottom) => Some(10_000),
            _ => None,
        };
        match step {
            Some(d) => {
                let most = u16::try_from(fields.len()).unwrap_or(u16::MAX);
                let at = i32::from(self.nav.detail_scroll) + d;
                self.nav.detail_scroll = u16::try_from(at.clamp(0, i32::from(most))).unwrap_or(0);
                self.mode = Mode::Detail { title, fields };
            }
            None => self.nav.detail_scroll = 0,
        }
        vec![]
    }

    fn on_preview_key(&mut self, mut p: Preview, key: KeyEvent) -> Vec<Effect> {
        let need = p.run.confirm_with.clone();
        match p.typed.key(need.as_deref(), key) {
            confirm::Answer::Abort => {
                self.notify(Level::Info, format!("{}: not started", p.run.title));
                vec![]
            }
            confirm::Answer::Go => {
                // The run's own consent rule is the authority.
                let typed = p.typed.as_asked(need.as_deref());
                if let Err(why) = crate::ops::consent(&p.run, true, typed) {
                    self.notify(Level::Warn, why.to_string());
                    self.mode = Mode::Preview(p);
                    return vec![];
                }
                self.start_run(p.run)
            }
            confirm::Answer::NotYet(n) => {
                self.notify(Level::Warn, confirm::type_exactly(&n));
                self.mode = Mode::Preview(p);
                vec![]
            }
            confirm::Answer::Edited => {
                self.mode = Mode::Preview(p);
                vec![]
            }
            confirm::Answer::Other => match key.code {
                KeyCode::Tab | KeyCode::BackTab => self.edit_preview(p),
                KeyCode::Down | KeyCode::Up => {
                    p.scroll = if key.code == KeyCode::Down {
                        p.scroll.saturating_add(1)
                    } else {
                        p.scroll.saturating_sub(1)
                    };
                    self.mode = Mode::Preview(p);
                    vec![]
                }
                _ => {
                    self.mode = Mode::Preview(p);
                    vec![]
                }
            },
        }
    }

    fn on_cancel_key(&mut self, id: RunId, key: KeyEvent) -> Vec<Effect> {
        if !confirm::yes(key) {
            self.notify(Level::Info, "the run goes on");
            return vec![];
        }
        let Some(run) = self.run(&id) else {
            return vec![];
        };
        let host = run.host.clone();
        let fx = match &run.kind {
            // A fleet target: the fleet's commands are cancelled (SSM
            // stops the running targets and sends no more).
            RunKind::FleetTarget { fleet } => Effect::CancelFleet { id: fleet.clone() },
            _ => Effect::CancelRun {
                id: id.clone(),
                host,
            },
        };
        self.notify(Level::Warn, format!("cancelling {id}…"));
        vec![fx]
    }

    /// A paste goes where typing would, whole: a form field or the
    /// editor, the filter, the palette, a name to confirm.
    pub(super) fn on_paste(&mut self, text: &str) -> Vec<Effect> {
        let first_line = text.lines().next().unwrap_or_default();
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Form(f) => return self.paste_into_form(f, text),
            Mode::Filter(mut ta) => {
                ta.insert_str(first_line);
                let typed = ta.lines().first().cloned().unwrap_or_default();
                self.set_filter(typed);
                self.mode = Mode::Filter(ta);
            }
            Mode::Palette(mut ta) => {
                ta.insert_str(first_line);
                self.mode = Mode::Palette(ta);
            }
            Mode::Preview(mut p) => {
                p.typed.paste(p.run.confirm_with.as_deref(), text);
                self.mode = Mode::Preview(p);
            }
            Mode::Confirm(mut c) => {
                c.typed.paste(c.confirm_with.as_deref(), text);
                self.mode = Mode::Confirm(c);
            }
            other => self.mode = other,
        }
        vec![]
    }

    pub(super) fn set_filter(&mut self, text: String) {
        let screen = self.screen;
        let table = self.nav.tables.remove(&screen).unwrap_or_default();
        let list = self.nav.lists.entry(screen).or_default();
        list.set_filter(text, &table, &mut self.nav.matcher);
        self.nav.tables.insert(screen, table);
    }

    /// Containers: show only the selected container's compose project, or
    /// every project again when a project is shown.
    pub(super) fn toggle_project(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Containers {
            return vec![];
        }
        if self
            .list(Screen::Containers)
            .filter
            .starts_with("project:=")
        {
            self.set_filter(String::new());
            return vec![];
        }
        let project = self
            .nav
            .lists
            .get(&Screen::Containers)
            .and_then(|l| l.selected_row(self.table(Screen::Containers)))
            .and_then(|r| r.cells.get(1).cloned())
            .filter(|p| p != "-");
        match project {
            Some(p) => self.set_filter(format!("project:={p}")),
            None => self.notify(Level::Info, "this container belongs to no compose project"),
        }
        vec![]
    }

    pub(super) fn request_quit(&mut self) -> Vec<Effect> {
        let active = self
            .runs
            .all
            .iter()
            .filter(|r| r.status.is_active())
            .count();
        if active > 0 {
            self.mode = Mode::ConfirmQuit;
        } else {
            self.quit = true;
        }
        vec![]
    }

    pub(super) fn move_list(&mut self, f: impl FnOnce(&mut ListState, &TableData)) {
        let screen = self.screen;
        if let Some(table) = self.nav.tables.get(&screen) {
            f(self.nav.lists.entry(screen).or_default(), table);
        }
    }

    pub(super) fn on_normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = self.keymap.action(&key) else {
            return vec![];
        };
        if let Some(fx) = self.screen.view().key(self, action) {
            return fx;
        }
        match action {
            Action::Quit => self.request_quit(),
            Action::Palette => {
                let names: Vec<&str> = Screen::commands()
                    .map(|(n, _)| n)
                    .chain(palette::COMMANDS.iter().map(|(n, _, _)| *n))
                    .collect();
                self.mode =
                    Mode::Palette(input_area(&format!("{} (Tab completes)", names.join(", "))));
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
            Action::Notices => {
                let fields: Vec<(String, String)> = self
                    .notices
                    .kept
                    .iter()
                    .rev()
                    .map(|n| (n.at.format("%H:%M:%S").to_string(), n.text.clone()))
                    .collect();
                if fields.is_empty() {
                    self.notify(Level::Info, "no notices yet");
                } else {
                    self.mode = Mode::Detail {
                        title: "notices, newest first".into(),
                        fields,
                    };
                }
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
            Action::Project => self.toggle_project(),
            Action::Shell => self.open_shell(),
            Action::Mark => self.toggle_mark(),
            Action::MarkAll => self.mark_all_shown(),
            Action::Failures => self.toggle_failures(),
            Action::Go(s) => self.goto(s),
            Action::None => vec![],
        }
    }

    pub(super) fn goto(&mut self, s: Screen) -> Vec<Effect> {
        self.go(s, false);
        s.view().opened(self)
    }

    pub(super) fn selected_run_id(&self) -> Option<RunId> {
        self.screen.view().run(self)
    }

    pub(super) fn go_back(&mut self) -> Vec<Effect> {
        // Esc first clears a filter, then goes up a prefix, then back a screen.
        if !self.list(self.screen).filter.is_empty() {
            self.set_filter(String::new());
            return vec![];
        }
        if let Some(fx) = self.screen.view().up(self) {
            return fx;
        }
        if let Some(prev) = self.nav.back.pop() {
            self.screen = prev;
            self.rebuild(prev);
        }
        vec![]
    }

    /// Enter on a row: what the screen does with it (drill down, details).
    pub(super) fn select(&mut self) -> Vec<Effect> {
        let Some(key) = self.selected_key() else {
            return vec![];
        };
        self.screen.view().select(self, key)
    }

    pub(super) fn refresh_screen(&mut self) -> Vec<Effect> {
        self.screen.view().refresh(self)
    }
}
