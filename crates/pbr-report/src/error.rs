//! The errors of report building.

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A parameter is malformed, e.g. a period.
    #[error("{0}")]
    Input(String),
    /// The report could not be rendered (a bug).
    #[error("cannot render the report: {0}")]
    Render(String),
}
