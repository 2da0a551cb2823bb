//! Serde adapters for the JSON form of events (`docs/format.md` §8): days as ISO dates,
//! month indexes as `YYYY-MM`, 32-byte hashes and keys as lowercase hex.

use serde::Serializer;

use crate::date::{self, Month};
use crate::ids::hex;

/// An `i32` day count as `YYYY-MM-DD`.
pub(crate) mod day {
    use super::*;

    /// Serializes days since 1970-01-01 as an ISO date.
    pub(crate) fn serialize<S: Serializer>(days: &i32, serializer: S) -> Result<S::Ok, S::Error> {
        match date::from_days(*days) {
            Ok(date) => serializer.serialize_str(&date.to_string()),
            Err(e) => Err(serde::ser::Error::custom(e.reason)),
        }
    }
}

/// An optional day count.
pub(crate) mod optional_day {
    use super::*;

    /// Serializes `None` as null.
    pub(crate) fn serialize<S: Serializer>(
        days: &Option<i32>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match days {
            Some(days) => day::serialize(days, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// A month index as `YYYY-MM`.
pub(crate) mod month {
    use super::*;

    /// Serializes `year × 12 + month − 1` as `YYYY-MM`.
    pub(crate) fn serialize<S: Serializer>(index: &i32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Month::from_index(*index).to_string())
    }
}

/// 32 bytes as hex.
pub(crate) mod hex32 {
    use super::*;

    /// Serializes as 64 lowercase hex digits.
    pub(crate) fn serialize<S: Serializer>(
        bytes: &[u8; 32],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex(bytes))
    }
}

/// Optional 32 bytes as hex.
pub(crate) mod optional_hex32 {
    use super::*;

    /// Serializes `None` as null.
    pub(crate) fn serialize<S: Serializer>(
        bytes: &Option<[u8; 32]>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => hex32::serialize(bytes, serializer),
            None => serializer.serialize_none(),
        }
    }
}
