//! Timestamps as RFC 3339 in UTC. Reading also takes the naive ISO 8601 form that the
//! reference's `datetime.isoformat()` writes, and the one its `str()` writes (a space
//! for the `T`, which a state file saved with `json.dump(..., default=str)` holds),
//! taking them as UTC.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    let at = DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
                .map(|at| at.and_utc())
        })
        .map_err(|_| format!("`{text}` is not an ISO 8601 timestamp"))?;
    // What is written must read again, here and in every client (Python's datetime
    // has neither years past 9999 nor leap seconds).
    if !(1..=9999).contains(&at.year()) || at.nanosecond() >= 1_000_000_000 {
        return Err(format!(
            "`{text}` is not a time baton keeps: a time in UTC from year 1 to 9999, \
             without a leap second"
        ));
    }
    Ok(at)
}

/// The same, for optional timestamps (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::serialize(at, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_forms_python_writes_are_read_as_utc() {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 19, 47, 51).unwrap()
            + chrono::Duration::microseconds(616_903);
        for text in [
            "2026-12-05T19:47:51.616903Z",
            "2026-12-05T19:47:51.616903+00:00",
            "2026-12-05T19:47:51.616903",
            "2026-12-05 19:47:51.616903",
            "2026-12-05 19:47:51.616903+00:00",
            "2026-12-05T20:47:51.616903+01:00",
        ] {
            assert_eq!(parse(text), Ok(at), "{text}");
        }
        assert_eq!(
            parse("2026-12-05 19:47:51"),
            Ok(Utc.with_ymd_and_hms(2026, 12, 5, 19, 47, 51).unwrap())
        );
    }

    #[test]
    fn anything_else_is_refused_saying_what_was_read() {
        for text in [
            "2026-12-05",
            "yesterday",
            "19:47:51",
            "",
            "9999-12-31T23:59:59.999999-01:00",
            "0001-01-01T00:00:00+01:00",
            "2026-01-01T23:59:60Z",
        ] {
            let refused = parse(text).unwrap_err();
            assert!(refused.contains(&format!("`{text}`")), "{refused}");
        }
        assert!(parse("9999-12-31T23:59:59.999999Z").is_ok());
        assert!(parse("0001-01-01T00:00:00Z").is_ok());
    }
}
