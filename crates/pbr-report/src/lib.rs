//! Reports derived from the log: the ESF+ participant micro-records and common indicators
//! ([`esf`]), the INDIGO project export ([`indigo`]), the budget view for a party
//! ([`budget`]), the audit report ([`audit`]), and a deterministic XLSX writer ([`xlsx`]).
//!
//! Architecture invariant: pure and deterministic. No IO, no clock, no environment, no
//! randomness, no floating point, and no hash-map iteration order: the caller streams the
//! log's events in, and the same events give the same report, byte for byte.

#![warn(clippy::unwrap_used, clippy::float_arithmetic)]

pub mod audit;
pub mod budget;
mod error;
pub mod esf;
pub mod indigo;
mod period;
pub mod xlsx;

pub use error::ReportError;
pub use period::DateRange;
