//! opsdeck — a full-screen terminal ops console for small AWS estates.
//!
//! Layers (data flows down, events flow up): [`cli`] and [`tui`] are the
//! two front ends; both prepare runs through [`ops`] (inventory, targets,
//! guards, prepare); [`jobs`] drive a run over a [`transport`] with the run
//! protocol and journal it in [`store`]; [`provider`]s (AWS, the embedded
//! sandbox) return [`domain`] types; [`runbook`] and [`drill`] are data and
//! scenarios; [`table`] builds the rows both front ends show.

/// A module's error that is a sentence for the operator (why a value is
/// refused, what a sandbox step could not do): its own type at the
/// module's seam, made from the words that say it.
macro_rules! message_error {
    ($(#[$meta:meta])* $name:ident $(; from $($other:path),+)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("{0}")]
        pub struct $name(pub String);

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        // Where only the words are wanted (a notice, a message between layers).
        impl From<$name> for String {
            fn from(e: $name) -> String {
                e.0
            }
        }

        $($(
            impl From<$other> for $name {
                fn from(e: $other) -> Self {
                    $name(e.to_string())
                }
            }
        )+)?
    };
}

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
pub mod when;
