//! What the headless run commands share (`run`, fleet runs, `forward`):
//! their exit codes and arguments, the preview they print and how a run
//! that could not be prepared is said. A leaf: it uses no other command.

use crate::ops;
use crate::runbook::{Danger, RenderedRun};
use std::io::Write;

/// Exit codes of `opsdeck run`.
pub mod exit {
    pub const SUCCEEDED: u8 = 0;
    /// The script ran and failed (including a failed pre-check).
    pub const FAILED: u8 = 1;
    /// Bad usage or configuration (clap and config errors use it too).
    pub const USAGE: u8 = 2;
    /// A guard refused it: nothing was sent.
    pub const REFUSED: u8 = 3;
    pub const CANCELLED: u8 = 4;
    /// The job vanished or the transport gave up: the outcome is unknown.
    pub const LOST: u8 = 5;
    /// A step failed, and what there was is kept (a restore of a database
    /// that did not exist before keeps the restored copy).
    pub const DATA_KEPT: u8 = 6;

    /// The exit code of a run that ended so.
    pub fn of(outcome: crate::store::journal::RunOutcome) -> u8 {
        use crate::store::journal::RunOutcome as O;
        match outcome {
            O::Succeeded => SUCCEEDED,
            O::Failed => FAILED,
            O::Cancelled => CANCELLED,
            O::DataKept => DATA_KEPT,
            O::Lost | O::Error => LOST,
            O::Refused => REFUSED,
        }
    }
}

pub struct RunArgs {
    pub runbook: String,
    pub assignments: Vec<String>,
    pub dry_run: bool,
    pub yes: bool,
    pub confirm: Option<String>,
    pub json: bool,
    pub read_only: bool,
    pub production_context: bool,
    /// Fleet runs: SSM's MaxConcurrency and MaxErrors (`N` or `N%`).
    pub max_concurrency: crate::jobs::fleet::Limit,
    pub max_errors: crate::jobs::fleet::Limit,
    /// `--wait[=DURATION]`: queue behind a run holding the target's lock
    /// for at most this long, then start; None refuses at once.
    pub wait: Option<std::time::Duration>,
}

/// What the guards ask of a headless run, in the CLI's words.
fn headless_guard_text(run: &RenderedRun) -> String {
    match (&run.confirm_with, run.danger) {
        (Some(_), _) => run.guard_text(),
        (None, Danger::Read) => "read runbook: runs as is".into(),
        (None, d) => format!("{} runbook: runs with --yes", d.label()),
    }
}

pub(super) fn print_preview(out: &mut impl Write, run: &RenderedRun) -> std::io::Result<()> {
    writeln!(out, "# runbook   {} — {}", run.runbook, run.title)?;
    writeln!(
        out,
        "# target    {} {} on {}",
        run.target.kind.label(),
        run.target.label,
        run.host
    )?;
    writeln!(
        out,
        "# danger    {}{}",
        run.danger.label(),
        if run.production { " · PRODUCTION" } else { "" }
    )?;
    writeln!(out, "# on fail   {}", run.on_failure)?;
    writeln!(out, "# guards    {}", headless_guard_text(run))?;
    for (k, v) in &run.params {
        writeln!(out, "# param     {k}={}", v.replace('\n', "\\n"))?;
    }
    for (what, names) in run.plan.parts() {
        writeln!(out, "# plan      {what}: {names}")?;
    }
    if !run.locks.is_empty() {
        let locks: Vec<String> = run.locks.iter().map(ToString::to_string).collect();
        writeln!(out, "# locks     {} on {}", locks.join(", "), run.host)?;
    }
    writeln!(out, "# sha256    {}", run.digest)?;
    writeln!(out, "{}", crate::store::mask::mask_text(&run.script))
}

/// A run that could not be prepared: what the operator wrote is wrong (a
/// parameter's value, an unknown parameter or runbook, the wrong kind of
/// target) — a usage error (2), not a guard's refusal (3). Nothing was sent.
pub(super) fn not_prepared(e: &ops::PrepareError) -> u8 {
    use crate::runbook::RenderError;
    match e {
        ops::PrepareError::UnknownRunbook { .. }
        | ops::PrepareError::Render(
            RenderError::Param(_) | RenderError::Unknown { .. } | RenderError::WrongTarget { .. },
        ) => {
            eprintln!("opsdeck: {e}");
            exit::USAGE
        }
        ops::PrepareError::Render(RenderError::NoRollback(_) | RenderError::Lock(_)) => {
            eprintln!("opsdeck: refused: {e}");
            exit::REFUSED
        }
    }
}
