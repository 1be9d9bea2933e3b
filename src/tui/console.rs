//! The terminal loop: input thread → messages → `App::update` → effects
//! runner; one redraw per batch of messages.

use crate::tui::app::{App, Effect, Msg};
use crate::tui::effects::EffectsRunner;
use crate::tui::terminal::{self as term, Exit, Signals};
use crate::tui::ui::{self, theme::Theme};
use crossterm::event::{self, Event, KeyEventKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Largest number of queued messages handled before the next redraw.
const BATCH: usize = 512;

pub async fn run(
    mut app: App,
    theme: Theme,
    mut runner: EffectsRunner,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    tx: mpsc::UnboundedSender<Msg>,
) -> anyhow::Result<Exit> {
    let mut signals = Signals::listen()?;
    term::install_panic_hook();
    let mut terminal = term::enter()?;
    let stop = Arc::new(AtomicBool::new(false));
    let pause = Pause::default();
    let input = spawn_input(stop.clone(), pause.clone(), tx.clone());
    let ticker = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(Duration::from_millis(100));
            loop {
                iv.tick().await;
                if tx.send(Msg::Tick(crate::clock::now())).is_err() {
                    break;
                }
            }
        })
    };
    for fx in app.startup() {
        runner.dispatch(fx);
    }
    let result: anyhow::Result<Exit> = async {
        loop {
            terminal.draw(|f| ui::draw(f, &app, &theme))?;
            let first = tokio::select! {
                biased;
                Some(n) = signals.recv() => return Ok(Exit::Signal(n)),
                m = rx.recv() => m,
            };
            let Some(first) = first else { break };
            let mut msgs = vec![first];
            while msgs.len() < BATCH {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
            let mut shells = Vec::new();
            let mut logins = Vec::new();
            for m in msgs {
                for fx in app.update(m) {
                    match fx {
                        Effect::Shell {
                            instance,
                            container,
                            production,
                        } => shells.push((instance, container, production)),
                        Effect::Login { profile } => logins.push(profile),
                        fx => runner.dispatch(fx),
                    }
                }
            }
            for (instance, container, production) in shells {
                let result = shell(
                    &mut terminal,
                    &pause,
                    &signals,
                    &runner,
                    &instance,
                    container.as_deref(),
                    production,
                );
                let title = match &container {
                    Some(c) => format!("shell in {c}"),
                    None => format!("shell on {}", instance.id),
                };
                let _ = tx.send(Msg::ActionDone {
                    title,
                    result,
                    reload: vec![Effect::LoadHistory],
                });
            }
            for profile in logins {
                let result = login(&mut terminal, &pause, &signals, &profile);
                // Signed in: the context is opened again with the new credentials.
                let reload = if result.is_ok() {
                    vec![Effect::SwitchContext(app.ctx.name.clone())]
                } else {
                    vec![]
                };
                let _ = tx.send(Msg::ActionDone {
                    title: format!("login {profile}"),
                    result,
                    reload,
                });
            }
            if app.quit {
                break;
            }
        }
        Ok(Exit::Quit)
    }
    .await;
    // Forwards end with the console: stopped and journaled, not orphaned.
    if runner.stop_forwards() > 0 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    stop.store(true, Ordering::Relaxed);
    ticker.abort();
    // The input thread stops within a poll slice; on a terminal that went
    // away (SIGHUP) crossterm's poll may never return: it is then left to
    // end with the process rather than keep the process alive.
    let until = std::time::Instant::now() + Duration::from_millis(300);
    while !input.is_finished() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    if input.is_finished() {
        let _ = input.join();
    }
    drop(terminal);
    term::leave();
    result
}

/// Asks the input thread to stop reading the terminal while a shell has it.
#[derive(Clone, Default)]
struct Pause {
    wanted: Arc<AtomicBool>,
    /// The input thread is not reading (it saw `wanted`).
    idle: Arc<AtomicBool>,
}

impl Pause {
    fn hold(&self) {
        self.wanted.store(true, Ordering::Release);
        // The thread polls in 50 ms slices: it is idle within one.
        let until = std::time::Instant::now() + Duration::from_millis(500);
        while !self.idle.load(Ordering::Acquire) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fn release(&self) {
        self.wanted.store(false, Ordering::Release);
    }
}

/// Hand the terminal to `session` and take it back exactly as it was
/// (alternate screen, raw mode, bracketed paste, a full redraw), whatever
/// way the session ends.
fn handover(
    terminal: &mut ratatui::DefaultTerminal,
    pause: &Pause,
    signals: &Signals,
    session: impl FnOnce() -> Result<String, String>,
) -> Result<String, String> {
    pause.hold();
    signals.handed_over.store(true, Ordering::Release);
    term::leave();
    let result = session();
    let taken = term::enter();
    signals.handed_over.store(false, Ordering::Release);
    pause.release();
    match taken {
        Ok(t) => {
            *terminal = t;
            let _ = terminal.clear();
            result
        }
        Err(e) => Err(format!(
            "{result:?}; the terminal could not be taken back: {e}"
        )),
    }
}

/// A shell on `instance` (in `container`) with the terminal handed over.
/// A missing CLI or plugin is said before the terminal is touched.
fn shell(
    terminal: &mut ratatui::DefaultTerminal,
    pause: &Pause,
    signals: &Signals,
    runner: &EffectsRunner,
    instance: &crate::domain::Instance,
    container: Option<&str>,
    production: bool,
) -> Result<String, String> {
    let providers = runner.providers();
    let (spec, change) = crate::ops::session::open(&providers, instance, container)?;
    tokio::task::block_in_place(|| {
        handover(terminal, pause, signals, || {
            crate::ops::session::run(&providers, &spec, &change, production)
                .map(|(_, text)| text)
                .map_err(String::from)
        })
    })
}

/// `aws sso login --profile PROFILE` with the terminal handed over.
fn login(
    terminal: &mut ratatui::DefaultTerminal,
    pause: &Pause,
    signals: &Signals,
    profile: &str,
) -> Result<String, String> {
    let spec = crate::provider::session::aws_login(profile)?;
    tokio::task::block_in_place(|| {
        handover(
            terminal,
            pause,
            signals,
            || match crate::provider::session::run(&spec)? {
                0 => Ok(format!("signed in as {profile}; reopening the context")),
                c => Err(format!("aws sso login exited {c}")),
            },
        )
    })
}

/// The thread that reads the terminal: keys, pastes and resizes become
/// messages until `stop` is set (it stands aside while a session has the
/// terminal).
fn spawn_input(
    stop: Arc<AtomicBool>,
    pause: Pause,
    tx: mpsc::UnboundedSender<Msg>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            // A shell has the terminal: its keys are not ours.
            if pause.wanted.load(Ordering::Acquire) {
                pause.idle.store(true, Ordering::Release);
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            pause.idle.store(false, Ordering::Release);
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => match event::read() {
                    Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                        if tx.send(Msg::Key(k)).is_err() {
                            break;
                        }
                    }
                    Ok(Event::Paste(text)) => {
                        if tx.send(Msg::Paste(text)).is_err() {
                            break;
                        }
                    }
                    Ok(Event::Resize(..)) => {
                        let _ = tx.send(Msg::Tick(crate::clock::now()));
                    }
                    Ok(_) => {}
                    Err(_) => break,
                },
                Ok(false) => {}
                Err(_) => break,
            }
        }
    })
}
