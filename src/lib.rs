//! opsdeck — a full-screen terminal ops console for small AWS estates.
//!
//! Layers (data flows down, events flow up): [`cli`] and [`tui`] are the
//! two front ends; both prepare runs through [`ops`] (inventory, targets,
//! guards, prepare); [`jobs`] drive a run over a [`transport`] with the run
//! protocol and journal it in [`store`]; [`provider`]s (AWS, the embedded
//! sandbox) return [`domain`] types; [`runbook`] and [`drill`] are data and
//! scenarios; [`table`] builds the rows both front ends show.

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod drill;
pub mod jobs;
pub mod ops;
pub mod provider;
pub mod runbook;
pub mod session;
pub mod store;
pub mod table;
pub mod transport;
pub mod tui;
