//! The run output pane: which run it shows, how far it is scrolled up
//! from the bottom, whether it follows new lines. Scrolling moves through
//! lines and never past the first or last page, so no blank rows show
//! where output exists.

use super::*;
use std::cell::Cell;

/// Rows the pane had when it was last drawn, until it is drawn once.
const FIRST_HEIGHT: usize = 20;

#[derive(Debug, Clone)]
pub struct OutputPane {
    pub run: Option<RunId>,
    /// Lines scrolled up from the bottom (0: the last page).
    pub scroll: usize,
    pub follow: bool,
    /// Rows of text the pane had when last drawn (the drawing sets it), so
    /// a page is a page and the top is the first page, not one line.
    height: Cell<usize>,
}

impl Default for OutputPane {
    fn default() -> Self {
        OutputPane {
            run: None,
            scroll: 0,
            follow: true,
            height: Cell::new(FIRST_HEIGHT),
        }
    }
}

impl OutputPane {
    /// Show `id` from its bottom; `follow` keeps it there as lines arrive.
    pub fn show(&mut self, id: RunId, follow: bool) {
        self.run = Some(id);
        self.scroll = 0;
        self.follow = follow;
    }

    /// The drawing tells the pane how many rows it has.
    pub fn set_height(&self, rows: usize) {
        self.height.set(rows.max(1));
    }

    /// The lines to draw out of `len`: a whole page whenever there is one.
    pub fn window(&self, len: usize) -> std::ops::Range<usize> {
        let h = self.height.get();
        let end = len.saturating_sub(self.scroll).max(h.min(len));
        end.saturating_sub(h)..end
    }

    /// Move by `by` lines (negative: up), within the first and last page.
    fn scroll_by(&mut self, by: isize, len: usize) {
        let most = len.saturating_sub(self.height.get());
        let scroll = self.scroll.min(most);
        self.scroll = if by < 0 {
            (scroll + by.unsigned_abs()).min(most)
        } else {
            scroll.saturating_sub(by.unsigned_abs())
        };
        self.follow = self.scroll == 0;
    }

    fn page(&self) -> isize {
        isize::try_from(self.height.get().saturating_sub(1).max(1)).unwrap_or(20)
    }
}

/// The output of one run, following it as lines arrive.
pub struct RunOutput;

impl View for RunOutput {
    fn spec(&self) -> ScreenSpec {
        use Action::{Back, Bottom, CancelRun};
        ScreenSpec {
            title: "Run output",
            command: None,
            tab: None,
            actions: &[CancelRun, Bottom, Back],
        }
    }

    fn table(&self, _app: &mut App) -> Option<TableData> {
        None
    }

    fn tab(&self) -> Option<Screen> {
        Some(Screen::Runs)
    }

    fn run(&self, app: &App) -> Option<RunId> {
        app.nav.pane.run.clone()
    }

    fn production(&self, app: &App) -> bool {
        app.nav.pane
            .run
            .as_deref()
            .and_then(|id| app.run(id))
            .is_some_and(|r| r.production)
    }

    fn keys(&self) -> Section {
        Section::Output
    }

    fn key(&self, app: &mut App, action: Action) -> Option<Vec<Effect>> {
        app.on_output_key(action)
    }
}

impl App {
    /// Keys of the output pane: scrolling moves through lines, not rows.
    pub(in crate::tui::app) fn on_output_key(&mut self, action: Action) -> Option<Vec<Effect>> {
        let len = self
            .nav.pane
            .run
            .as_deref()
            .and_then(|id| self.run(id))
            .map(|r| r.output.len())
            .unwrap_or(0);
        let page = self.nav.pane.page();
        match action {
            Action::Up => self.nav.pane.scroll_by(-1, len),
            Action::Down => self.nav.pane.scroll_by(1, len),
            Action::PageUp => self.nav.pane.scroll_by(-page, len),
            Action::PageDown => self.nav.pane.scroll_by(page, len),
            Action::Top => {
                self.nav.pane.scroll = len.saturating_sub(self.nav.pane.height.get());
                self.nav.pane.follow = self.nav.pane.scroll == 0;
            }
            Action::Bottom => {
                self.nav.pane.scroll = 0;
                self.nav.pane.follow = true;
            }
            _ => return None,
        }
        Some(vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_always_a_whole_page_when_there_is_one() {
        let mut p = OutputPane::default();
        p.set_height(33);
        // Top of a 202-line log: the first 33 lines, not one line and blanks.
        p.scroll = 202 - 33;
        assert_eq!(p.window(202), 0..33);
        // Even a scroll too large (from a taller pane) shows a whole page.
        p.scroll = 201;
        assert_eq!(p.window(202), 0..33);
        // A short output shows whole, however far it was scrolled.
        p.scroll = 4;
        assert_eq!(p.window(5), 0..5);
        // Middle and bottom.
        p.scroll = 50;
        assert_eq!(p.window(202), 119..152);
        p.scroll = 0;
        assert_eq!(p.window(202), 169..202);
    }

    #[test]
    fn paging_moves_by_a_page_and_stops_at_the_ends() {
        let mut p = OutputPane::default();
        p.set_height(33);
        p.scroll_by(-32, 202);
        assert_eq!((p.scroll, p.follow), (32, false));
        for _ in 0..10 {
            p.scroll_by(-32, 202);
        }
        assert_eq!(p.scroll, 202 - 33, "stops at the first page");
        p.scroll_by(32, 202);
        assert_eq!(p.window(202), 32..65);
        for _ in 0..10 {
            p.scroll_by(32, 202);
        }
        assert_eq!((p.scroll, p.follow), (0, true));
        // A 5-line output does not scroll at all.
        p.scroll_by(-32, 5);
        assert_eq!((p.window(5), p.follow), (0..5, true));
    }
}
