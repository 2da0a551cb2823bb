//! CPR numbers and participant pseudonyms (`domain.md` §4.1).
//!
//! A CPR number is checked for syntax only: ten digits whose first six and seventh give a
//! real birth date under the century rule. The modulus-11 check is *not* a validity test
//! since 2007; failing it is a warning, never an error, and never even a warning for a
//! 1 January birth date. The number itself never leaves this module: the ledger stores only
//! the participant reference, a BLAKE3 keyed hash under the commissioner's secret.

use chrono::NaiveDate;

use crate::error::CoreError;
use crate::ids::ParticipantRef;

/// The fixed `blake3::derive_key` context of participant references.
pub const PARTICIPANT_REF_CONTEXT: &str = "pbr participant-ref v1";

/// A syntactically valid CPR number. Deliberately has no `Display` and a redacting `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Cpr {
    digits: [u8; 10],
    birth_date: NaiveDate,
}

impl std::fmt::Debug for Cpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cpr(<redacted>)")
    }
}

/// Something about a CPR number worth a warning, not a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CprWarning {
    /// The weighted digit sum is not divisible by 11. Valid numbers without modulus 11 have
    /// been issued since 2007.
    Modulus11,
}

impl Cpr {
    /// Parses `DDMMYYSSSS` or `DDMMYY-SSSS`.
    pub fn parse(text: &str) -> Result<(Cpr, Vec<CprWarning>), CoreError> {
        let compact: String = text.trim().chars().filter(|c| *c != '-').collect();
        let dashes = text.trim().matches('-').count();
        let well_placed = dashes == 0 || (dashes == 1 && text.trim().find('-') == Some(6));
        if compact.len() != 10 || !compact.bytes().all(|b| b.is_ascii_digit()) || !well_placed {
            // Never echo the input: it may be a real CPR number with a typo.
            return Err(CoreError::invalid("a CPR number is 10 digits, DDMMYY-SSSS"));
        }
        let mut digits = [0u8; 10];
        for (digit, byte) in digits.iter_mut().zip(compact.bytes()) {
            *digit = byte - b'0';
        }
        let pair = |i: usize| u32::from(digits[i]) * 10 + u32::from(digits[i + 1]);
        let (day, month, year) = (pair(0), pair(2), pair(4) as i32);
        let century = match digits[6] {
            0..=3 => 1900,
            4 | 9 => {
                if year <= 36 {
                    2000
                } else {
                    1900
                }
            }
            _ => {
                if year <= 57 {
                    2000
                } else {
                    1800
                }
            }
        };
        let birth_date = NaiveDate::from_ymd_opt(century + year, month, day)
            .ok_or_else(|| CoreError::invalid("a CPR number must start with a real birth date"))?;
        let weights = [4u32, 3, 2, 7, 6, 5, 4, 3, 2, 1];
        let sum: u32 = digits
            .iter()
            .zip(weights)
            .map(|(d, w)| u32::from(*d) * w)
            .sum();
        let january_first = day == 1 && month == 1;
        let warnings = if !sum.is_multiple_of(11) && !january_first {
            vec![CprWarning::Modulus11]
        } else {
            Vec::new()
        };
        Ok((Cpr { digits, birth_date }, warnings))
    }

    /// The birth date.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The pseudonymous participant reference under `key`.
    pub fn participant_ref(&self, key: &PseudonymKey) -> ParticipantRef {
        let mut text = [0u8; 10];
        for (byte, digit) in text.iter_mut().zip(self.digits) {
            *byte = b'0' + digit;
        }
        ParticipantRef(*blake3::keyed_hash(&key.0, &text).as_bytes())
    }
}

/// The key of participant references, derived from the commissioner's secret, which is kept
/// outside the ledger. Whoever holds the secret can recompute a citizen's reference from the
/// CPR number; nobody can go the other way.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<secret>)")
    }
}

impl PseudonymKey {
    /// Derives the key from the commissioner's secret (at least 32 bytes).
    pub fn from_secret(secret: &[u8]) -> Result<PseudonymKey, CoreError> {
        if secret.len() < 32 {
            return Err(CoreError::invalid(
                "the pseudonym secret must be at least 32 bytes",
            ));
        }
        Ok(PseudonymKey(blake3::derive_key(
            PARTICIPANT_REF_CONTEXT,
            secret,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_and_century_rule() -> Result<(), CoreError> {
        // Digit 7 = 0..3: 1900s. 4/9: 2000-2036 for 00-36. 5-8: 2000-2057 for 00-57, 1858-1899 for 58-99.
        let cases = [
            ("010203-0000", "1903-02-01"),
            ("010203-4000", "2003-02-01"),
            ("010240-4000", "1940-02-01"),
            ("010260-5000", "1860-02-01"),
            ("010257-5000", "2057-02-01"),
            ("0102039000", "2003-02-01"),
        ];
        for (text, birth) in cases {
            assert_eq!(
                Cpr::parse(text)?.0.birth_date().to_string(),
                birth,
                "{text}"
            );
        }
        for bad in [
            "310203-1234",
            "300201-1234",
            "12345",
            "0102031234x",
            "01020-31234",
            "abcdefghij",
        ] {
            assert!(Cpr::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn modulus_11_is_only_a_warning_and_never_on_january_first() -> Result<(), CoreError> {
        // 070761-4285 passes modulus 11 (4·0+3·7+2·0+7·7+6·6+5·1+4·4+3·2+2·8+1·5 = 154 = 14·11).
        assert!(Cpr::parse("070761-4285")?.1.is_empty());
        assert_eq!(Cpr::parse("070761-4286")?.1, vec![CprWarning::Modulus11]);
        assert!(
            Cpr::parse("010165-1234")?.1.is_empty(),
            "1 January: no warning"
        );
        Ok(())
    }

    #[test]
    fn references_are_keyed_and_stable() -> Result<(), CoreError> {
        let key = PseudonymKey::from_secret(&[7; 32])?;
        let other = PseudonymKey::from_secret(&[8; 32])?;
        let (cpr, _) = Cpr::parse("070761-4285")?;
        let (same, _) = Cpr::parse("0707614285")?;
        assert_eq!(cpr.participant_ref(&key), same.participant_ref(&key));
        assert_ne!(cpr.participant_ref(&key), cpr.participant_ref(&other));
        assert!(PseudonymKey::from_secret(&[1; 16]).is_err());
        assert_eq!(format!("{cpr:?}"), "Cpr(<redacted>)");
        Ok(())
    }
}
