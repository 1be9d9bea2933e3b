//! The headless commands: `opsdeck ls` (listings through the same
//! providers and row builders as the console) and `opsdeck run` /
//! `history` / `runbook` (through the same operations layer).

pub mod fleet;
pub mod forward;
pub mod headless;
pub mod ls;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod unlock;
