//! The journal and the drills: History, a past run's output, drill reports,
//! starting and verifying a drill. Git, bash, psql and the journal's files
//! are read on a blocking thread: the console answers keys meanwhile.

use super::{Providers, Tx, fail};
use crate::jobs::engine::RunId;
use crate::tui::app::Msg;

pub(super) fn history(p: Providers, tx: Tx) {
    tokio::task::spawn_blocking(move || {
        let (mut entries, skipped) = p.journal.entries();
        if skipped > 0 {
            tracing::warn!("journal: {skipped} unreadable line(s) skipped");
        }
        entries.reverse();
        let _ = tx.send(Msg::History(entries));
    });
}

pub(super) fn past_output(p: Providers, tx: Tx, id: RunId) {
    tokio::task::spawn_blocking(move || {
        let (entries, _) = p.journal.entries();
        match entries.into_iter().find(|e| e.start.run == id) {
            Some(entry) => {
                let text = std::fs::read_to_string(p.journal.output_path(&id))
                    .unwrap_or_else(|e| format!("(no output file: {e})\n"));
                let _ = tx.send(Msg::PastOutput {
                    entry: Box::new(entry),
                    text,
                });
            }
            None => fail(&tx, format!("open {id}"), "not in the journal"),
        }
    });
}

pub(super) fn drills(p: Providers, tx: Tx) {
    tokio::task::spawn_blocking(move || {
        let _ = tx.send(Msg::Drills {
            active: crate::drill::active(&p.journal).map(Box::new),
            reports: p.journal.drills(),
        });
    });
}

pub(super) fn start_drill(p: Providers, tx: Tx, name: String) {
    tokio::task::spawn_blocking(move || {
        let result = match (&p.sandbox, crate::drill::Scenario::parse(&name)) {
            (None, _) => Err("drills run on the sandbox only (:ctx sandbox)".to_string()),
            (_, None) => Err(format!(
                "no scenario {name:?} (try: {})",
                crate::drill::Scenario::ALL.map(|s| s.name()).join(", ")
            )),
            (Some(sb), Some(sc)) => {
                crate::drill::start(sb, &p.journal, sc, None, crate::clock::now())
                    .map_err(String::from)
            }
        };
        let _ = tx.send(Msg::DrillStarted(result.map(Box::new)));
    });
}

pub(super) fn verify_drill(p: Providers, tx: Tx) {
    tokio::task::spawn_blocking(move || {
        let result = match &p.sandbox {
            None => Err("drills run on the sandbox only".to_string()),
            Some(sb) => {
                crate::drill::verify(sb, &p.journal, crate::clock::now()).map_err(String::from)
            }
        };
        let _ = tx.send(Msg::DrillVerified(result.map(Box::new)));
    });
}
