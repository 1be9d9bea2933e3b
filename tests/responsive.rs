//! The console stays responsive while slow work runs: a drill that cannot
//! start yet (its journal file is a FIFO nobody writes: the read blocks)
//! does not hold the keys up. Nothing here is timed: the drill is released
//! only after the key was answered, by the test itself, or by a watchdog
//! after 10 s — and then the test fails, because the key waited for it.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, render, text};
use crossterm::event::KeyCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Open the FIFO for writing and close it: its reader sees an empty file.
fn release(fifo: &std::path::Path) {
    let _ = std::fs::OpenOptions::new().write(true).open(fifo);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_answered_while_a_drill_starts() {
    let mut h = Harness::loaded().await;
    let fifo = h.providers.journal.root().join("drill-active.json");
    std::fs::create_dir_all(h.providers.journal.root()).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let released = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (released, fifo) = (released.clone(), fifo.clone());
        std::thread::spawn(move || {
            for _ in 0..200 {
                if released.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !released.swap(true, Ordering::SeqCst) {
                release(&fifo);
            }
        })
    };

    // `:drill crash-loop`: the drill's start now waits on the FIFO.
    h.key(KeyCode::Char(':'));
    h.keys("drill crash-loop");
    h.key(KeyCode::Enter);
    // The next key is answered at once, the frame drawn, the drill pending.
    h.key(KeyCode::Char('2'));
    let screen = text(&render(&h.app, 120, 30));
    assert!(
        !released.load(Ordering::SeqCst),
        "the key waited for the drill to start"
    );
    assert!(screen.contains("Instances ["), "{screen}");
    assert!(h.app.estate.drill.is_none());
    assert!(h.app.busy(), "the drill's start is pending");

    // Let the drill start: it arrives as a message, as any result does.
    if !released.swap(true, Ordering::SeqCst) {
        release(&fifo);
    }
    while h.app.estate.drill.is_none() {
        h.step().await;
    }
    assert_eq!(h.app.estate.drill.as_ref().unwrap().scenario, "crash-loop");
    watchdog.join().unwrap();
}
