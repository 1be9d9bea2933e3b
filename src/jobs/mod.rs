//! Jobs: a runbook's script running on a host. The engine drives one job
//! through the run protocol over a transport and emits tagged events;
//! `journaled` starts and reattaches runs with the journal's records;
//! `fleet` runs one runbook on many instances with SSM as the engine;
//! `procedure` runs a runbook with cloud steps, part by part; `locks`
//! keeps one change at a time per target, on the target's host.
//! Nothing here knows a terminal.

pub mod engine;
pub mod fleet;
pub mod journaled;
pub mod locks;
pub mod markers;
pub mod names;
pub mod procedure;
pub mod protocol;
