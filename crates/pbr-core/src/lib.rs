//! Domain types of outcomes contracts: money, dates, ids, contract terms, the event
//! vocabulary, validation and settlement arithmetic.
//!
//! Architecture invariant: pure. No IO, no clock, no environment, no randomness, and no
//! floating point: money is integer minor units, fractions are exact ratios.

#![warn(clippy::unwrap_used, clippy::float_arithmetic)]

pub mod cpr;
pub mod date;
pub mod error;
pub mod event;
pub mod flows;
pub mod ids;
mod json;
pub mod money;
pub mod settle;
pub mod state;
pub mod terms;
pub mod verdict;

pub use error::CoreError;
pub use ids::{EventId, ParticipantRef};
pub use money::{Currency, Money, Ratio, Rounding};
