//! Errors of the domain core.

/// A value that is not acceptable, with the reason. Callers add where it came from (file,
/// line, field).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct CoreError {
    /// Why, in one lowercase line.
    pub reason: String,
}

impl CoreError {
    /// An invalid value.
    pub fn invalid(reason: impl Into<String>) -> CoreError {
        CoreError {
            reason: reason.into(),
        }
    }

    /// An arithmetic overflow.
    pub fn overflow() -> CoreError {
        CoreError::invalid("amount out of range")
    }
}
