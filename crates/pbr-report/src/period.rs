//! The reporting period: an inclusive range of business dates.

use chrono::NaiveDate;
use pbr_core::date::{Period, parse_date};

use crate::ReportError;

/// An inclusive range of business dates, `from..=to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateRange {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
}

impl DateRange {
    /// Parses `FROM..TO` (two dates, both included), or a calendar period: `YYYY`,
    /// `YYYY-Qn` or `YYYY-MM`.
    pub fn parse(text: &str) -> Result<DateRange, ReportError> {
        let bad = |why: &str| ReportError::Input(format!("period {text:?}: {why}"));
        if let Some((from, to)) = text.split_once("..") {
            let from = parse_date(from).map_err(|e| bad(&e.reason))?;
            let to = parse_date(to).map_err(|e| bad(&e.reason))?;
            if to < from {
                return Err(bad("it ends before it starts"));
            }
            return Ok(DateRange { from, to });
        }
        let period: Period = text.parse().map_err(|_| {
            bad("give FROM..TO (YYYY-MM-DD..YYYY-MM-DD, both included), YYYY, YYYY-Qn or YYYY-MM")
        })?;
        Ok(DateRange {
            from: period.first_day(),
            to: period.last_day(),
        })
    }

    /// Whether `date` falls in the range.
    pub fn contains(self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

impl std::fmt::Display for DateRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}
