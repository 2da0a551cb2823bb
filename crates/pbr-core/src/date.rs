//! Business dates and settlement periods.
//!
//! Business dates decide outcomes and periods; they are `chrono::NaiveDate` in memory and,
//! in signed bytes, the number of days since 1970-01-01 (an `i32`), which has exactly one
//! encoding per date.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::error::{CoreError, quoted};

/// 1970-01-01, day 0 of the encoding.
fn epoch() -> NaiveDate {
    // Invariant: a fixed, valid date.
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date")
}

/// Days since 1970-01-01.
pub fn to_days(date: NaiveDate) -> i32 {
    // Dates chrono can represent are within ±262,143 years, so the day count fits an i32.
    i32::try_from(date.signed_duration_since(epoch()).num_days()).unwrap_or(i32::MAX)
}

/// The date `days` after 1970-01-01, for dates from 0001-01-01 to 9999-12-31 (the range
/// `docs/format.md` §8.1 fixes, so that every decoder spells every date the same way).
pub fn from_days(days: i32) -> Result<NaiveDate, CoreError> {
    let base = epoch();
    let date = if days >= 0 {
        base.checked_add_days(Days::new(days as u64))
    } else {
        base.checked_sub_days(Days::new(days.unsigned_abs() as u64))
    };
    date.filter(|date| (1..=9999).contains(&date.year()))
        .ok_or_else(|| CoreError::invalid(format!("day {days} is outside 0001-01-01..9999-12-31")))
}

/// Checks a month index (`year × 12 + month − 1`) for 0001-01 to 9999-12.
pub fn check_month_index(index: i32) -> Result<Month, CoreError> {
    if (12..=9999 * 12 + 11).contains(&index) {
        Ok(Month::from_index(index))
    } else {
        Err(CoreError::invalid(format!(
            "month index {index} is outside 0001-01..9999-12"
        )))
    }
}

/// Parses an ISO date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<NaiveDate, CoreError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| CoreError::invalid(format!("{} is not a date (YYYY-MM-DD)", quoted(text))))
}

/// A calendar month, `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    /// The year.
    pub year: i32,
    /// 1..=12.
    pub month: u32,
}

impl Month {
    /// The month of a date.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The first day.
    pub fn first_day(self) -> NaiveDate {
        // Invariant: month is 1..=12, checked on construction.
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month")
    }

    /// The last day.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    /// The following month.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// A month index: `year × 12 + month − 1`, the encoding in signed bytes.
    pub fn index(self) -> i32 {
        self.year * 12 + self.month as i32 - 1
    }

    /// The month of an index.
    pub fn from_index(index: i32) -> Month {
        Month {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) as u32 + 1,
        }
    }
}

impl FromStr for Month {
    type Err = CoreError;
    fn from_str(text: &str) -> Result<Month, CoreError> {
        let bad = || CoreError::invalid(format!("{} is not a month (YYYY-MM)", quoted(text)));
        let (year, month) = text.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u32 = month.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || year.to_string().len() != 4 {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A settlement period: a month, a calendar quarter or a year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// `2025-07`.
    Month(Month),
    /// `2025-Q3`.
    Quarter {
        /// The year.
        year: i32,
        /// 1..=4.
        quarter: u32,
    },
    /// `2025`.
    Year(i32),
}

/// How often a contract settles.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Calendar {
    /// Every calendar month.
    Month,
    /// Every calendar quarter.
    Quarter,
    /// Every calendar year.
    Year,
}

impl Calendar {
    /// Its period as a word: `month`, `quarter` or `year`.
    pub fn noun(self) -> &'static str {
        match self {
            Calendar::Month => "month",
            Calendar::Quarter => "quarter",
            Calendar::Year => "year",
        }
    }
}

impl Period {
    /// The period of `calendar` that ends when this one does, so that "through 2025" means
    /// through 2025-Q4 to a contract that settles every quarter, and "through 2025-09" through
    /// 2025-Q3. A period that ends inside one of the calendar's (2025-07 to a quarterly
    /// contract) has none: the error names the two it falls between.
    pub fn ending_with(self, calendar: Calendar) -> Result<Period, CoreError> {
        let containing = Period::containing(calendar, self.last_day());
        if containing.last_day() == self.last_day() {
            return Ok(containing);
        }
        Err(CoreError::invalid(format!(
            "{self} ends inside {containing}, and the contract settles every {}: give a period \
             that ends with one of its {}s, such as {} or {containing}",
            calendar.noun(),
            calendar.noun(),
            containing.prev()
        )))
    }

    /// The period of `calendar` that holds `date`.
    pub fn containing(calendar: Calendar, date: NaiveDate) -> Period {
        match calendar {
            Calendar::Month => Period::Month(Month::of(date)),
            Calendar::Quarter => Period::Quarter {
                year: date.year(),
                quarter: date.month0() / 3 + 1,
            },
            Calendar::Year => Period::Year(date.year()),
        }
    }

    /// The first day.
    pub fn first_day(self) -> NaiveDate {
        match self {
            Period::Month(month) => month.first_day(),
            Period::Quarter { year, quarter } => Month {
                year,
                month: (quarter - 1) * 3 + 1,
            }
            .first_day(),
            Period::Year(year) => Month { year, month: 1 }.first_day(),
        }
    }

    /// The last day, when a period settles.
    pub fn last_day(self) -> NaiveDate {
        match self {
            Period::Month(month) => month.last_day(),
            Period::Quarter { year, quarter } => Month {
                year,
                month: quarter * 3,
            }
            .last_day(),
            Period::Year(year) => Month { year, month: 12 }.last_day(),
        }
    }

    /// Whether `date` falls in the period.
    pub fn contains(self, date: NaiveDate) -> bool {
        self.first_day() <= date && date <= self.last_day()
    }

    /// The period after this one.
    pub fn next(self) -> Period {
        match self {
            Period::Month(month) => Period::Month(month.next()),
            Period::Quarter { year, quarter: 4 } => Period::Quarter {
                year: year + 1,
                quarter: 1,
            },
            Period::Quarter { year, quarter } => Period::Quarter {
                year,
                quarter: quarter + 1,
            },
            Period::Year(year) => Period::Year(year + 1),
        }
    }

    /// The period `n` periods later.
    pub fn plus(self, n: u32) -> Period {
        (0..n).fold(self, |period, _| period.next())
    }

    /// The period before this one.
    pub fn prev(self) -> Period {
        match self {
            Period::Month(month) => Period::Month(Month::from_index(month.index() - 1)),
            Period::Quarter { year, quarter: 1 } => Period::Quarter {
                year: year - 1,
                quarter: 4,
            },
            Period::Quarter { year, quarter } => Period::Quarter {
                year,
                quarter: quarter - 1,
            },
            Period::Year(year) => Period::Year(year - 1),
        }
    }

    /// The period `n` periods earlier.
    pub fn minus(self, n: u32) -> Period {
        (0..n).fold(self, |period, _| period.prev())
    }

    /// The date `months` after `date`, clamped to the month's end (2024-01-31 + 1 = 2024-02-29).
    pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
        date.checked_add_months(Months::new(months))
            .unwrap_or(NaiveDate::MAX)
    }
}

impl FromStr for Period {
    type Err = CoreError;
    fn from_str(text: &str) -> Result<Period, CoreError> {
        let text = text.trim();
        let bad = || {
            CoreError::invalid(format!(
                "{} is not a period (2025, 2025-Q3, 2025-07)",
                quoted(text)
            ))
        };
        if let Some((year, quarter)) = text.split_once("-Q") {
            let year: i32 = year.parse().map_err(|_| bad())?;
            let quarter: u32 = quarter.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&quarter) || year.to_string().len() != 4 {
                return Err(bad());
            }
            return Ok(Period::Quarter { year, quarter });
        }
        if text.len() == 4 {
            if !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            return text.parse().map(Period::Year).map_err(|_| bad());
        }
        text.parse::<Month>().map(Period::Month).map_err(|_| bad())
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Period, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(month) => month.fmt(f),
            Period::Quarter { year, quarter } => write!(f, "{year:04}-Q{quarter}"),
            Period::Year(year) => write!(f, "{year:04}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn days_round_trip() -> Result<(), CoreError> {
        for text in [
            "1970-01-01",
            "2013-09-30",
            "1969-12-31",
            "2027-03-31",
            "0001-01-01",
            "9999-12-31",
        ] {
            assert_eq!(from_days(to_days(date(text)))?, date(text));
        }
        assert!(from_days(to_days(date("0001-01-01")) - 1).is_err());
        assert!(from_days(to_days(date("9999-12-31")) + 1).is_err());
        assert!(from_days(i32::MAX).is_err() && from_days(i32::MIN).is_err());
        assert!(check_month_index(11).is_err() && check_month_index(12).is_ok());
        assert!(check_month_index(9999 * 12 + 12).is_err());
        assert_eq!(to_days(date("1970-01-02")), 1);
        assert_eq!(to_days(date("1969-12-31")), -1);
        Ok(())
    }

    #[test]
    fn quarters_settle_on_their_last_day() -> Result<(), CoreError> {
        let q: Period = "2013-Q4".parse()?;
        assert_eq!(q.first_day(), date("2013-10-01"));
        assert_eq!(q.last_day(), date("2013-12-31"));
        assert_eq!(Period::containing(Calendar::Quarter, date("2013-10-11")), q);
        assert_eq!(q.next().to_string(), "2014-Q1");
        assert_eq!("2024-02".parse::<Period>()?.last_day(), date("2024-02-29"));
        assert_eq!("2025".parse::<Period>()?.last_day(), date("2025-12-31"));
        for bad in [
            "2025-Q5", "2025-13", "25-Q1", "2025-Q", "Q3", "-001", "+202", "",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn a_period_ends_with_one_of_a_calendar_or_names_the_two_around_it() -> Result<(), CoreError> {
        let period = |text: &str| text.parse::<Period>();
        let quarter = Calendar::Quarter;
        assert_eq!(period("2025")?.ending_with(quarter)?, period("2025-Q4")?);
        assert_eq!(period("2025-Q3")?.ending_with(quarter)?, period("2025-Q3")?);
        assert_eq!(period("2025-09")?.ending_with(quarter)?, period("2025-Q3")?);
        assert_eq!(
            period("2025")?.ending_with(Calendar::Month)?,
            period("2025-12")?
        );
        assert_eq!(
            period("2025")?.ending_with(Calendar::Year)?,
            period("2025")?
        );
        let Err(error) = period("2025-07")?.ending_with(quarter) else {
            return Err(CoreError::invalid("2025-07 ended with a quarter"));
        };
        assert_eq!(
            error.reason,
            "2025-07 ends inside 2025-Q3, and the contract settles every quarter: give a period \
             that ends with one of its quarters, such as 2025-Q2 or 2025-Q3"
        );
        assert!(period("2025-Q2")?.ending_with(Calendar::Year).is_err());
        Ok(())
    }

    #[test]
    fn week_clocks_of_scenario_a() {
        // 13 weeks from 2013-09-02 is 2013-12-02; 26 weeks is 2014-03-03 (scenarios §5.0.5).
        let start = date("2013-09-02");
        assert_eq!(start + chrono::Days::new(91), date("2013-12-02"));
        assert_eq!(start + chrono::Days::new(182), date("2014-03-03"));
    }
}
