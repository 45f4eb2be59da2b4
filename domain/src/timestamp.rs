//! Timestamps as nudge reads them from clients: RFC 3339's `date-time`, what
//! the API document calls `format: date-time`.

use chrono::{DateTime, Utc};

/// Parses an RFC 3339 `date-time`, `2026-11-24T10:00:00Z` or with an offset,
/// into UTC; `None` for anything else.
///
/// chrono's parser also takes a space between date and time, which RFC 3339's
/// grammar and the document do not: such a timestamp is refused here, so that
/// nudge takes exactly what it documents.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if !text.as_bytes().get(10).is_some_and(|b| b.eq_ignore_ascii_case(&b'T')) {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rfc3339_date_times_are_read_in_utc() {
        let expected = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).single();
        for text in ["2026-11-24T10:00:00Z", "2026-11-24t10:00:00z", "2026-11-24T12:00:00+02:00"] {
            assert_eq!(parse_timestamp(text), expected, "{text}");
        }
        assert!(parse_timestamp("2026-11-24T10:00:00.123456789Z").is_some());
    }

    #[test]
    fn anything_but_an_rfc3339_date_time_is_refused() {
        for text in [
            "2026-11-24 10:00:00Z",
            "2026-11-24T10:00:00",
            "2026-11-24T10:00:00+0200",
            "2026-11-24",
            "2026-11-24T10:00Z",
            " 2026-11-24T10:00:00Z",
            "2026-11-24T10:00:00Z ",
            "",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text:?} was taken");
        }
    }

    proptest! {
        #[test]
        fn every_time_written_as_rfc3339_reads_back(seconds in 0i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let time = DateTime::from_timestamp(seconds, nanos).unwrap_or_default();
            prop_assert_eq!(parse_timestamp(&time.to_rfc3339()), Some(time));
            let spaced = time.to_rfc3339().replacen('T', " ", 1);
            prop_assert_eq!(parse_timestamp(&spaced), None);
        }
    }
}
