//! Player identity.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The prefix of every player stream's name.
pub const STREAM_PREFIX: &str = "player-";

/// Most characters in a player id.
const MAX_LEN: usize = 128;

/// Why a player id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlayerIdError {
    /// The id is empty.
    #[error("must not be empty")]
    Empty,
    /// The id is too long.
    #[error("must be at most 128 characters")]
    TooLong,
    /// The id holds a character outside the allowed set.
    #[error("may only hold A-Z, a-z, 0-9, '.', '_', ':' and '-'")]
    BadCharacter,
}

/// A player id: the CloudEvent `subject`, 1 to 128 characters of `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PlayerId(String);

impl PlayerId {
    /// Checks and wraps a player id.
    pub fn parse(s: &str) -> Result<Self, PlayerIdError> {
        if s.is_empty() {
            return Err(PlayerIdError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(PlayerIdError::TooLong);
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')) {
            return Err(PlayerIdError::BadCharacter);
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of this player's event stream, `player-{id}`.
    pub fn stream_name(&self) -> String {
        format!("{STREAM_PREFIX}{}", self.0)
    }
}

impl fmt::Display for PlayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PlayerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_set_and_names_the_stream() {
        let id = PlayerId::parse("eu-1:player_42.a").unwrap();
        assert_eq!(id.stream_name(), "player-eu-1:player_42.a");
        assert_eq!(PlayerId::parse(&"a".repeat(128)).map(|p| p.as_str().len()), Ok(128));
    }

    #[test]
    fn refuses_empty_long_and_odd_ids() {
        assert_eq!(PlayerId::parse(""), Err(PlayerIdError::Empty));
        assert_eq!(PlayerId::parse(&"a".repeat(129)), Err(PlayerIdError::TooLong));
        assert_eq!(PlayerId::parse("a b"), Err(PlayerIdError::BadCharacter));
        assert_eq!(PlayerId::parse("é"), Err(PlayerIdError::BadCharacter));
        assert!(serde_json::from_str::<PlayerId>("\"a/b\"").is_err());
    }
}
