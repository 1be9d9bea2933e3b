//! What belongs to one screen (or one family of screens): its own state,
//! its drill-down, its messages and the changes it offers. The shared
//! parts (tables, filter, keymap, dialogs) stay in `app`.

pub mod attention;
pub mod inventory;
pub mod journal;
pub mod run_output;
pub mod s3;

pub use run_output::OutputPane;
pub use s3::S3View;
