//! The tests on the embedded sandbox, one module per area, in one binary:
//! the library and the AWS SDK are linked once for all of them instead of
//! once per file. The console in tmux (`e2e_tmux`), the responsiveness
//! check and the tests against the moto peer (`aws_*`, which share one
//! peer per binary) stay binaries of their own.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod actions;
mod app_update;
mod apps;
mod attention;
mod backups;
mod cli;
mod config_errors;
mod drills;
mod enssol;
mod fidelity;
mod fleet;
mod hostile;
mod journal;
mod layouts;
mod library;
mod locks;
mod map_host;
mod map_ops;
mod one_path;
mod platform;
mod pmo;
mod procedures;
mod recovery;
mod runbooks;
mod runproto;
mod sandbox_db;
mod schedules;
mod screens;
mod shell;
mod ssm_mock;
mod ssm_runbook;
