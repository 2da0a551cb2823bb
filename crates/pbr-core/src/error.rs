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

/// How many characters of a bad value an error quotes.
pub const QUOTED_CHARS: usize = 40;

/// A value as an error quotes it: in double quotes with escapes, and cut after
/// [`QUOTED_CHARS`] characters (on a character boundary) with `…` after the closing quote, so
/// that a bad cell of a megabyte makes a one-line error a person can read.
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => format!("{text:?}"),
        Some((end, _)) => format!("{:?}…", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_quoted_short_on_a_char_boundary() {
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted(&"x".repeat(40)), format!("\"{}\"", "x".repeat(40)));
        assert_eq!(quoted(&"x".repeat(41)), format!("\"{}\"…", "x".repeat(40)));
        // Two-byte and four-byte characters are never cut in half.
        assert_eq!(quoted(&"ø".repeat(100)), format!("\"{}\"…", "ø".repeat(40)));
        assert_eq!(
            quoted(&"🦀".repeat(41)),
            format!("\"{}\"…", "🦀".repeat(40))
        );
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
    }
}
