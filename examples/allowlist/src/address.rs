//! Address normalization: the many ways a client may spell the same
//! 20-byte (Ethereum-style) address map to one canonical string, so that the
//! allowlist stores and finds each address exactly once.
//!
//! The rules, precisely:
//! - an optional `0x` or `0X` prefix, then 1 to [`MAX_DIGITS`] hexadecimal
//!   digits (`0-9`, `a-f`, `A-F`), nothing else (no sign, no spaces);
//! - the digits denote a number below 2^160; case and leading zeros do not
//!   matter;
//! - the canonical form is `0x` followed by that number in lowercase hex
//!   without leading zeros (`0x0` for zero).
//!
//! So `0x00AbC`, `abc` and `0X0abc` are all `0xabc`.

use std::fmt;

/// The most hex digits an address may have after its prefix (20 bytes).
pub const MAX_DIGITS: usize = 40;

/// Why an address was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing after the optional `0x` prefix.
    Empty,
    /// A character that is not a hex digit, at this (character) position of
    /// the input.
    NotHex { found: char, position: usize },
    /// More than [`MAX_DIGITS`] digits.
    TooLong { digits: usize },
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Empty => write!(f, "the address has no hex digits"),
            AddressError::NotHex { found, position } => {
                write!(f, "{found:?} at position {position} is not a hex digit")
            }
            AddressError::TooLong { digits } => write!(
                f,
                "the address has {digits} hex digits, more than the {MAX_DIGITS} of a 20-byte address"
            ),
        }
    }
}

impl std::error::Error for AddressError {}

/// What a client should send instead, appended to every rejection.
pub const EXPECTED: &str = "expected up to 40 hex digits, optionally prefixed with 0x";

/// The canonical form of `input`, or why it is not an address.
pub fn normalize(input: &str) -> Result<String, AddressError> {
    let (prefix_len, digits) = match input.as_bytes() {
        [b'0', b'x' | b'X', ..] => (2, &input[2..]),
        _ => (0, input),
    };
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        let position = prefix_len + digits[..i].chars().count();
        return Err(AddressError::NotHex { found: c, position });
    }
    // Only ASCII hex digits remain, so bytes are characters.
    if digits.is_empty() {
        return Err(AddressError::Empty);
    }
    if digits.len() > MAX_DIGITS {
        return Err(AddressError::TooLong {
            digits: digits.len(),
        });
    }
    let significant = digits.trim_start_matches('0');
    let mut out = String::with_capacity(2 + significant.len().max(1));
    out.push_str("0x");
    if significant.is_empty() {
        out.push('0');
    } else {
        out.extend(significant.chars().map(|c| c.to_ascii_lowercase()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_case_and_leading_zeros_do_not_matter() {
        for spelling in ["0xabc", "abc", "0XABC", "0x0abc", "000ABC", "0x00AbC"] {
            assert_eq!(normalize(spelling).unwrap(), "0xabc", "{spelling}");
        }
    }

    #[test]
    fn zero_has_one_digit() {
        for spelling in ["0", "0x0", "0X000", "0000000000"] {
            assert_eq!(normalize(spelling).unwrap(), "0x0", "{spelling}");
        }
    }

    #[test]
    fn full_length_addresses_are_kept() {
        let addr = "0xDe0B295669a9FD93d5F28D9Ec85E40f4cb697BAe";
        assert_eq!(
            normalize(addr).unwrap(),
            "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"
        );
        let padded = format!("0x{}", "0".repeat(39) + "1");
        assert_eq!(normalize(&padded).unwrap(), "0x1");
    }

    #[test]
    fn more_than_forty_digits_is_too_long() {
        let long = "1".repeat(41);
        assert_eq!(normalize(&long), Err(AddressError::TooLong { digits: 41 }));
        // Leading zeros count: the input is not a 20-byte spelling.
        let padded = format!("0x0{}", "f".repeat(40));
        assert_eq!(
            normalize(&padded),
            Err(AddressError::TooLong { digits: 41 })
        );
    }

    #[test]
    fn empty_and_bare_prefix_are_rejected() {
        assert_eq!(normalize(""), Err(AddressError::Empty));
        assert_eq!(normalize("0x"), Err(AddressError::Empty));
        assert_eq!(normalize("0X"), Err(AddressError::Empty));
    }

    #[test]
    fn non_hex_characters_are_reported_with_their_position() {
        assert_eq!(
            normalize("0xabg"),
            Err(AddressError::NotHex {
                found: 'g',
                position: 4
            })
        );
        assert_eq!(
            normalize("x12"),
            Err(AddressError::NotHex {
                found: 'x',
                position: 0
            })
        );
        assert_eq!(
            normalize("0x0x1"),
            Err(AddressError::NotHex {
                found: 'x',
                position: 3
            })
        );
        assert_eq!(
            normalize(" 0x1"),
            Err(AddressError::NotHex {
                found: ' ',
                position: 0
            })
        );
        assert_eq!(
            normalize("-1"),
            Err(AddressError::NotHex {
                found: '-',
                position: 0
            })
        );
        // Positions count characters, not bytes.
        assert_eq!(
            normalize("0xé1"),
            Err(AddressError::NotHex {
                found: 'é',
                position: 2
            })
        );
        assert_eq!(
            normalize("ab\u{0}"),
            Err(AddressError::NotHex {
                found: '\u{0}',
                position: 2
            })
        );
    }

    #[test]
    fn messages_say_what_is_wrong() {
        assert_eq!(
            normalize("0xzz").unwrap_err().to_string(),
            "'z' at position 2 is not a hex digit"
        );
        assert!(
            normalize(&"a".repeat(50))
                .unwrap_err()
                .to_string()
                .contains("50 hex digits")
        );
    }

    #[test]
    fn normalization_is_idempotent() {
        for spelling in [
            "0xABC",
            "0",
            "000f",
            "0x0000000000000000000000000000000000000001",
        ] {
            let once = normalize(spelling).unwrap();
            assert_eq!(normalize(&once).unwrap(), once);
        }
    }
}
