//! opsdeck — a full-screen terminal ops console for small AWS estates.
//!
//! Layers (data flows down, events flow up):
//! `ui` draws [`app::App`]; `app` is state + `update(Msg) -> Vec<Effect>` with
//! no IO; [`runner`] turns effects into provider calls and runs; [`engine`]
//! drives a job through the [`runproto`] over a [`transport`]; [`provider`]s
//! return domain types; [`sandbox`] is the embedded estate.

pub mod app;
pub mod aws;
pub mod clock;
pub mod config;
pub mod console;
pub mod domain;
pub mod drill;
pub mod engine;
pub mod fanout;
pub mod headless;
pub mod headless_run;
pub mod journal;
pub mod mask;
pub mod ops;
pub mod provider;
pub mod runbook;
pub mod runner;
pub mod runproto;
pub mod runs;
pub mod sandbox;
pub mod session;
pub mod transport;
pub mod ui;
