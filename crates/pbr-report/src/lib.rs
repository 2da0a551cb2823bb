//! Reports derived from the log: today the ESF+ participant micro-records and common
//! indicators ([`esf`]).
//!
//! Architecture invariant: pure and deterministic. No IO, no clock, no environment, no
//! randomness, no floating point, and no hash-map iteration order: the caller streams the
//! log's events in, and the same events give the same report, byte for byte.

#![warn(clippy::unwrap_used, clippy::float_arithmetic)]

mod error;
pub mod esf;
mod period;
pub mod xlsx;

pub use error::ReportError;
pub use period::DateRange;
