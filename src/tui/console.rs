//! The terminal loop: input thread → messages → `App::update` → effects
//! runner; one redraw per batch of messages.

use crate::tui::app::{App, Msg};
use crate::tui::effects::EffectsRunner;
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
) -> anyhow::Result<()> {
    let mut terminal = ratatui::init();
    // Pastes arrive as one event, not as keys (a 10,000-character paste
    // would otherwise be typed key by key, Enter included).
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
    let stop = Arc::new(AtomicBool::new(false));
    let input = {
        let stop = stop.clone();
        let tx = tx.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
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
    };
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
    let result: anyhow::Result<()> = async {
        loop {
            terminal.draw(|f| ui::draw(f, &app, &theme))?;
            let Some(first) = rx.recv().await else { break };
            let mut msgs = vec![first];
            while msgs.len() < BATCH {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
            for m in msgs {
                for fx in app.update(m) {
                    runner.dispatch(fx);
                }
            }
            if app.quit {
                break;
            }
        }
        Ok(())
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    ticker.abort();
    let _ = input.join();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    ratatui::restore();
    result
}
