//! What opsdeck keeps: the audit journal (runs, outputs, drill reports)
//! and the masking that keeps secrets out of everything shown or kept.

pub mod journal;
pub mod mask;
