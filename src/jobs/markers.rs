//! What a run's output says of itself, for everything that reads it (the
//! journal, the procedure runner, the console, the CLI). A leaf.

/// The marker a rendered script prints last (see the runbook prelude).
pub const RESULT_MARKER: &str = "==> opsdeck result: ";

/// The script's exit code for "failed, data kept" (the prelude's
/// `__failed` exits with it only then; a step's own 4 becomes 1).
pub const EXIT_DATA_KEPT: i32 = 4;
/// A figure a script reports (`report KEY VALUE` in the prelude).
pub const REPORT_MARKER: &str = "==> opsdeck report: ";
