//! The terminal's lifecycle, in one place: [`enter`] takes it (raw mode,
//! the alternate screen, bracketed paste, the cursor hidden while drawing)
//! and [`leave`] gives it back (cooked mode, the main screen, the cursor
//! shown). Used on start and normal quit, around a handed-over shell or
//! login, on a panic ([`install_panic_hook`]), and when a signal ends the
//! console ([`Signals`]): whatever way the console ends, the shell that
//! started it gets its terminal back.

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::DefaultTerminal;
use ratatui::backend::CrosstermBackend;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Take the terminal for the console.
pub fn enter() -> std::io::Result<DefaultTerminal> {
    crossterm::terminal::enable_raw_mode()?;
    // Pastes arrive as one event, not as keys (a 10,000-character paste
    // would otherwise be typed key by key, Enter included).
    crossterm::execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableBracketedPaste
    )?;
    ratatui::Terminal::new(CrosstermBackend::new(std::io::stdout()))
}

/// Give the terminal back as the shell had it. Safe to call more than
/// once, and from a panic.
pub fn leave() {
    let _ = crossterm::execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = crossterm::terminal::disable_raw_mode();
}

/// A panic gives the terminal back before its message is printed (once per
/// process, whatever number of consoles or handovers).
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            leave();
            previous(info);
        }));
    });
}

/// How the console ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `q` (or `:quit`), answered.
    Quit,
    /// A signal ended it: the process exits 128 + this number.
    Signal(i32),
}

impl Exit {
    /// The process's exit status for this end.
    pub fn code(self) -> u8 {
        match self {
            Exit::Quit => 0,
            Exit::Signal(n) => u8::try_from(128 + n).unwrap_or(u8::MAX),
        }
    }
}

/// The signals that end the console: SIGTERM, SIGHUP (the terminal went
/// away), SIGQUIT, and an external SIGINT (in raw mode Ctrl-C is a key, so
/// a SIGINT comes from someone else: there is nobody to ask, it quits).
/// While a shell or a login has the terminal, a SIGINT is the session's
/// Ctrl-C and is ignored here.
pub struct Signals {
    rx: tokio::sync::mpsc::UnboundedReceiver<i32>,
    /// Set while a session has the terminal.
    pub handed_over: Arc<AtomicBool>,
}

impl Signals {
    /// Listen (replaces the default dispositions for these four signals
    /// in this process; runs in flight are unaffected: they are on their
    /// hosts, and the journal keeps them in flight for the next console).
    pub fn listen() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let handed_over = Arc::new(AtomicBool::new(false));
        for (kind, n) in [
            (SignalKind::terminate(), 15),
            (SignalKind::hangup(), 1),
            (SignalKind::quit(), 3),
            (SignalKind::interrupt(), 2),
        ] {
            let mut stream = signal(kind)?;
            let (tx, handed_over) = (tx.clone(), handed_over.clone());
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if n == 2 && handed_over.load(Ordering::Acquire) {
                        continue;
                    }
                    if tx.send(n).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Signals { rx, handed_over })
    }

    /// The next signal that ends the console.
    pub async fn recv(&mut self) -> Option<i32> {
        self.rx.recv().await
    }
}
