//! The console: the event loop (`console`), the effects runner that turns
//! the app's effects into provider calls and runs (`effects`), the pure
//! state and its update (`app`), and the drawing (`ui`).

pub mod app;
pub mod console;
pub mod effects;
pub mod terminal;
pub mod ui;
