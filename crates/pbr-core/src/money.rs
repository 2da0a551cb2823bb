//! Money: integer minor units with an ISO currency, exact ratios, and named rounding modes.
//!
//! Invariants: no floating point anywhere; every operation is checked and returns an error
//! instead of overflowing; a derived amount is rounded exactly once, where it is created,
//! with the rounding mode the contract names. A price per unit derived from a rate and a
//! ratio ([`DerivedPrice`]) is created either as the unit price or as the total of its units,
//! whichever the contract's [`RoundAt`] names.

use std::fmt;

use bincode::{Decode, Encode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, quoted};

/// An ISO 4217 currency. The position of a variant is its bincode tag: append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Encode,
    Decode,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Currency {
    /// Danish krone (øre).
    DKK,
    /// Euro (cent).
    EUR,
    /// Pound sterling (penny).
    GBP,
}

impl Currency {
    /// The ISO code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::DKK => "DKK",
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
        }
    }

    /// Digits after the decimal point of the minor unit.
    pub fn minor_digits(self) -> u32 {
        2
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How a derived amount is rounded to the minor unit, in our own words.
/// The position of a variant is its bincode tag: append only.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    /// Towards minus infinity (for positive amounts: truncate).
    Floor,
    /// Towards plus infinity.
    Ceiling,
    /// Towards zero.
    TowardZero,
    /// To the nearest; halves away from zero (commercial rounding).
    HalfUp,
    /// To the nearest; halves to the even neighbour (banker's rounding).
    HalfEven,
}

impl Rounding {
    /// The name the terms use (`floor`, `half-up`, …), also the function name in a
    /// statement's arithmetic: `floor(12326.01 × 7/10)`.
    pub fn name(self) -> &'static str {
        match self {
            Rounding::Floor => "floor",
            Rounding::Ceiling => "ceiling",
            Rounding::TowardZero => "toward-zero",
            Rounding::HalfUp => "half-up",
            Rounding::HalfEven => "half-even",
        }
    }
}

/// Where a price per unit that is derived from a rate and a ratio is rounded: the
/// contract's `round-at`. Shares of an amount (co-financing, waterfall tiers, a facility's
/// fee) are not unit prices: each is rounded once, where the share is taken, either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RoundAt {
    /// The price of one unit is rounded, then multiplied by the number of units:
    /// `n × round(rate × ratio)` (scenarios.md §5.B: 12,326 × 70 % = 8,628.20 an off-benefit
    /// month).
    #[default]
    UnitPrice,
    /// The total of the units is rounded once: `round(n × rate × ratio)`.
    Total,
}

/// A price per unit that is a rate times a ratio: savings per off-benefit month (monthly
/// rate × attribution), a partial outcome (the other outcome's price × fraction). Kept
/// exact until [`DerivedPrice::times`] rounds it where `round_at` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DerivedPrice {
    /// The rate, in minor units.
    pub rate: Money,
    /// The ratio applied to it.
    pub ratio: Ratio,
    /// How it is rounded.
    pub rounding: Rounding,
    /// Where it is rounded.
    pub round_at: RoundAt,
}

impl DerivedPrice {
    /// The price of one unit, rounded: `round(rate × ratio)` (one unit is its own total).
    pub fn unit(self) -> Result<Money, CoreError> {
        self.rate.mul_ratio(self.ratio, self.rounding)
    }

    /// What `count` units cost: `count × round(rate × ratio)` at the unit price,
    /// `round(count × rate × ratio)` at the total.
    pub fn times(self, count: i64) -> Result<Money, CoreError> {
        match self.round_at {
            RoundAt::UnitPrice => self.unit()?.checked_mul(count),
            RoundAt::Total => self
                .rate
                .checked_mul(count)?
                .mul_ratio(self.ratio, self.rounding),
        }
    }

    /// The rounded unit price with its arithmetic: `floor(12326.01 × 7/10) = 8628.20`.
    pub fn unit_calc(self) -> Result<String, CoreError> {
        Ok(format!(
            "{}({} × {}) = {}",
            self.rounding.name(),
            self.rate.to_decimal(),
            self.ratio,
            self.unit()?.to_decimal()
        ))
    }

    /// The arithmetic of [`DerivedPrice::times`] for `count` units described as `units`: at
    /// the unit price `3 months × floor(12326.01 × 7/10) = 8628.20 = 25884.60`, at the total
    /// `3 months: floor(3 × 12326.01 × 7/10) = 25884.62`.
    pub fn calc(self, units: &str, count: i64) -> Result<String, CoreError> {
        let total = self.times(count)?.to_decimal();
        Ok(match self.round_at {
            RoundAt::UnitPrice => format!("{units} × {} = {total}", self.unit_calc()?),
            RoundAt::Total => format!(
                "{units}: {}({count} × {} × {}) = {total}",
                self.rounding.name(),
                self.rate.to_decimal(),
                self.ratio
            ),
        })
    }
}

/// An amount of money in minor units (øre, cent, penny) of one currency. In JSON:
/// `{"minor": 130000, "currency": "GBP"}`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize,
)]
pub struct Money {
    /// The amount in minor units; negative for refunds and claw-backs.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// An amount in minor units.
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Parses a decimal amount in major units ("1300", "1300.00", "-3300.5"), refusing more
    /// decimals than the currency has: an input amount is never rounded silently.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, CoreError> {
        let decimal = parse_plain_decimal(text).ok_or_else(|| {
            CoreError::invalid(format!("{} is not a decimal amount", quoted(text)))
        })?;
        if decimal.normalize().scale() > currency.minor_digits() {
            return Err(CoreError::invalid(format!(
                "{} has more than {} decimals",
                quoted(text),
                currency.minor_digits()
            )));
        }
        let minor = decimal
            .checked_mul(Decimal::from(10i64.pow(currency.minor_digits())))
            .and_then(|d| i64::try_from(d.normalize()).ok())
            .ok_or_else(|| CoreError::invalid(format!("{} is out of range", quoted(text))))?;
        Ok(Money { minor, currency })
    }

    fn same_currency(self, other: Money) -> Result<(), CoreError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(CoreError::invalid(format!(
                "cannot combine {} with {}",
                self.currency, other.currency
            )))
        }
    }

    /// `self + other`, checked.
    pub fn checked_add(self, other: Money) -> Result<Money, CoreError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or_else(CoreError::overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `self − other`, checked.
    pub fn checked_sub(self, other: Money) -> Result<Money, CoreError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or_else(CoreError::overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `−self`, checked.
    pub fn checked_neg(self) -> Result<Money, CoreError> {
        let minor = self.minor.checked_neg().ok_or_else(CoreError::overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `self × ratio`, computed exactly and rounded once with `rounding`.
    pub fn mul_ratio(self, ratio: Ratio, rounding: Rounding) -> Result<Money, CoreError> {
        let numerator = i128::from(self.minor) * i128::from(ratio.numerator);
        let minor = divide(numerator, i128::from(ratio.denominator), rounding);
        let minor = i64::try_from(minor).map_err(|_| CoreError::overflow())?;
        Ok(Money { minor, ..self })
    }

    /// `self × count`, checked.
    pub fn checked_mul(self, count: i64) -> Result<Money, CoreError> {
        let minor = self
            .minor
            .checked_mul(count)
            .ok_or_else(CoreError::overflow)?;
        Ok(Money { minor, ..self })
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Money) -> Money {
        if other.minor < self.minor {
            other
        } else {
            self
        }
    }

    /// The amount in major units as an exact decimal, for display.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.minor, self.currency.minor_digits())
    }
}

impl fmt::Display for Money {
    /// `1300.00 GBP`: two decimals, no grouping, so the text parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency)
    }
}

/// Parses `-?[0-9]+(.[0-9]+)?` and nothing else (no exponent, no sign `+`, no spaces
/// inside): amounts and ratios have one spelling.
fn parse_plain_decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return None;
    }
    text.parse().ok()
}

/// `numerator / denominator` rounded to an integer; `denominator > 0`.
fn divide(numerator: i128, denominator: i128, rounding: Rounding) -> i128 {
    debug_assert!(denominator > 0);
    let floor = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    if remainder == 0 {
        return floor;
    }
    let twice = remainder * 2;
    match rounding {
        Rounding::Floor => floor,
        Rounding::Ceiling => floor + 1,
        Rounding::TowardZero => {
            if numerator < 0 {
                floor + 1
            } else {
                floor
            }
        }
        Rounding::HalfUp => match twice.cmp(&denominator) {
            std::cmp::Ordering::Less => floor,
            std::cmp::Ordering::Greater => floor + 1,
            // A half: away from zero.
            std::cmp::Ordering::Equal => {
                if numerator < 0 {
                    floor
                } else {
                    floor + 1
                }
            }
        },
        Rounding::HalfEven => match twice.cmp(&denominator) {
            std::cmp::Ordering::Less => floor,
            std::cmp::Ordering::Greater => floor + 1,
            std::cmp::Ordering::Equal => floor + (floor & 1),
        },
    }
}

/// An exact fraction such as a share (`11/23`), a percentage (`50%`) or an attribution
/// factor (`0.70`). Kept as integers so that applying it is exact until the one rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Ratio {
    /// The numerator.
    pub numerator: i64,
    /// The denominator, always positive.
    pub denominator: i64,
}

impl Ratio {
    /// `numerator / denominator`, reduced; the denominator must be positive.
    pub fn new(numerator: i64, denominator: i64) -> Result<Ratio, CoreError> {
        if denominator <= 0 {
            return Err(CoreError::invalid("a ratio's denominator must be positive"));
        }
        let divisor = gcd(numerator.unsigned_abs(), denominator.unsigned_abs()).max(1) as i64;
        Ok(Ratio {
            numerator: numerator / divisor,
            denominator: denominator / divisor,
        })
    }

    /// One.
    pub fn one() -> Ratio {
        Ratio {
            numerator: 1,
            denominator: 1,
        }
    }

    /// Parses `"11/23"`, `"50%"`, `"12.5%"` or `"0.70"`.
    pub fn parse(text: &str) -> Result<Ratio, CoreError> {
        let text = text.trim();
        let bad = || {
            CoreError::invalid(format!(
                "{} is not a ratio (11/23, 50%, 0.70)",
                quoted(text)
            ))
        };
        if let Some((n, d)) = text.split_once('/') {
            let n: i64 = n.trim().parse().map_err(|_| bad())?;
            let d: i64 = d.trim().parse().map_err(|_| bad())?;
            return Ratio::new(n, d).map_err(|_| bad());
        }
        let (number, percent) = match text.strip_suffix('%') {
            Some(number) => (number, true),
            None => (text, false),
        };
        let decimal = parse_plain_decimal(number).ok_or_else(bad)?.normalize();
        let mut denominator = 10i64.checked_pow(decimal.scale()).ok_or_else(bad)?;
        if percent {
            denominator = denominator.checked_mul(100).ok_or_else(bad)?;
        }
        let numerator = i64::try_from(decimal.mantissa()).map_err(|_| bad())?;
        Ratio::new(numerator, denominator)
    }

    /// Whether `0 <= self <= 1`.
    pub fn is_fraction(self) -> bool {
        self.numerator >= 0 && self.numerator <= self.denominator
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dkk(minor: i64) -> Money {
        Money::from_minor(minor, Currency::DKK)
    }

    #[test]
    fn parse_amounts_exactly() -> Result<(), CoreError> {
        assert_eq!(Money::parse("1300", Currency::GBP)?.minor, 130_000);
        assert_eq!(Money::parse("8628.20", Currency::DKK)?.minor, 862_820);
        assert_eq!(Money::parse("-3300.5", Currency::DKK)?.minor, -330_050);
        assert_eq!(
            Money::parse("0.100", Currency::DKK)?.minor,
            10,
            "trailing zeros are exact"
        );
        assert!(
            Money::parse("1.005", Currency::DKK).is_err(),
            "never rounds an input"
        );
        assert!(Money::parse("1e3", Currency::DKK).is_err());
        assert!(Money::parse("+1", Currency::DKK).is_err());
        assert!(Money::parse("1.", Currency::DKK).is_err());
        assert!(Money::parse(".5", Currency::DKK).is_err());
        assert!(Money::parse("99999999999999999999", Currency::DKK).is_err());
        Ok(())
    }

    #[test]
    fn scenario_b_floor_and_half_up_differ() -> Result<(), CoreError> {
        // 11/23 × 54,948.40 = 26,279.6695…: floor gives 26,279.66, half-up would give .67.
        let excess = dkk(5_494_840);
        let share = Ratio::parse("11/23")?;
        assert_eq!(excess.mul_ratio(share, Rounding::Floor)?.minor, 2_627_966);
        assert_eq!(excess.mul_ratio(share, Rounding::HalfUp)?.minor, 2_627_967);
        Ok(())
    }

    #[test]
    fn rounding_modes_on_halves_and_negatives() -> Result<(), CoreError> {
        let half = Ratio::new(1, 2)?;
        for (minor, floor, ceiling, toward_zero, half_up, half_even) in [
            (5, 2, 3, 2, 3, 2),
            (7, 3, 4, 3, 4, 4),
            (-5, -3, -2, -2, -3, -2),
            (-7, -4, -3, -3, -4, -4),
            (4, 2, 2, 2, 2, 2),
        ] {
            let m = dkk(minor);
            assert_eq!(
                m.mul_ratio(half, Rounding::Floor)?.minor,
                floor,
                "floor {minor}"
            );
            assert_eq!(
                m.mul_ratio(half, Rounding::Ceiling)?.minor,
                ceiling,
                "ceiling {minor}"
            );
            assert_eq!(
                m.mul_ratio(half, Rounding::TowardZero)?.minor,
                toward_zero,
                "tz {minor}"
            );
            assert_eq!(
                m.mul_ratio(half, Rounding::HalfUp)?.minor,
                half_up,
                "half-up {minor}"
            );
            assert_eq!(
                m.mul_ratio(half, Rounding::HalfEven)?.minor,
                half_even,
                "half-even {minor}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_derived_price_that_overflows_is_an_error() -> Result<(), CoreError> {
        let unit = DerivedPrice {
            rate: dkk(i64::MAX / 2),
            ratio: Ratio::new(7, 10)?,
            rounding: Rounding::Floor,
            round_at: RoundAt::UnitPrice,
        };
        assert!(unit.times(3).is_err());
        let total = DerivedPrice {
            round_at: RoundAt::Total,
            ..unit
        };
        assert!(total.times(3).is_err());
        assert!(total.calc("3 months", 3).is_err());
        Ok(())
    }

    #[test]
    fn ratios_parse_in_three_spellings() -> Result<(), CoreError> {
        assert_eq!(Ratio::parse("0.70")?, Ratio::new(7, 10)?);
        assert_eq!(Ratio::parse("50%")?, Ratio::new(1, 2)?);
        assert_eq!(Ratio::parse("1.5%")?, Ratio::new(3, 200)?);
        assert_eq!(Ratio::parse("22/46")?, Ratio::new(11, 23)?);
        assert!(Ratio::parse("1/0").is_err());
        assert!(Ratio::parse("abc").is_err());
        Ok(())
    }

    #[test]
    fn overflow_and_currency_mismatch_are_errors_not_panics() {
        assert!(dkk(i64::MAX).checked_add(dkk(1)).is_err());
        assert!(dkk(i64::MIN).checked_neg().is_err());
        assert!(
            dkk(1)
                .checked_add(Money::from_minor(1, Currency::EUR))
                .is_err()
        );
        assert!(
            dkk(i64::MAX)
                .mul_ratio(
                    Ratio {
                        numerator: 3,
                        denominator: 1
                    },
                    Rounding::Floor
                )
                .is_err()
        );
    }
}
