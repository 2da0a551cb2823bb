//! Domain types of outcomes contracts: money, dates, ids, contract terms, the event
//! vocabulary, validation and settlement arithmetic.
//!
//! The vocabulary is defined by issue 4 ("Contracts, parties and events"); the event log
//! below it (`pbr-log`) needs nothing from here.
//!
//! Architecture invariant: pure. No IO, no clock, no environment, no randomness, and no
//! floating point: money is integer minor units.

#![warn(clippy::unwrap_used, clippy::float_arithmetic)]
