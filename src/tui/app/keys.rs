//! The screen keys through the keymap (dialogs have theirs in
//! `dialogs`): moving, going back, refreshing, the filter and the palette.

use super::*;

impl App {
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
        let Some(action) = self.keymap.action_in(self.screen.view().keys(), &key) else {
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
                let active = self
                    .selected_run_id()
                    .and_then(|id| self.run(&id))
                    .filter(|r| r.status.is_active());
                if let Some(RunKind::Elsewhere { run, .. }) = active.map(|r| &r.kind) {
                    let run = (**run).clone();
                    return self.confirm_cancel_elsewhere(run);
                }
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
