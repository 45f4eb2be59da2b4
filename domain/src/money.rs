//! Money: integer minor units and an ISO 4217 currency code. Never floats.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be three upper-case letters (ISO 4217)")]
pub struct CurrencyError;

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The euro.
    pub const EUR: Self = Self(*b"EUR");

    /// Checks and wraps a currency code.
    pub fn parse(s: &str) -> Result<Self, CurrencyError> {
        match s.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(CurrencyError),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only upper-case ASCII letters get in, so this is always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The largest amount, stake, payout or limit an event may carry, in minor units:
/// 10^12 (EUR 10 billion; 10^12 yen or won, 0 decimals, is still more than any
/// one transaction). Far above any real one, and small enough that millions of
/// them sum within an `i64`; the fold saturates beyond that rather than wrap.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// An amount of money in minor units (cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units, e.g. 250 for EUR 2.50.
    pub amount: i64,
    /// Its currency.
    pub currency: Currency,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert_eq!(Currency::parse("EUR").map(|c| c.to_string()), Ok("EUR".to_owned()));
        for bad in ["eur", "EU", "EURO", "E1R", "", "ÉUR"] {
            assert_eq!(Currency::parse(bad), Err(CurrencyError), "{bad}");
        }
    }
}
