//! Epoch conversions. Every timestamp in a report is UTC; each platform
//! counts from its own epoch, and the conversion happens once, here.

use jiff::Timestamp;

/// Seconds between 1970-01-01 and 2001-01-01 (Apple's "absolute time" epoch).
pub const APPLE_EPOCH_OFFSET: i64 = 978_307_200;
/// Microseconds between 1601-01-01 and 1970-01-01 (WebKit/Chrome epoch).
pub const WEBKIT_EPOCH_OFFSET_US: i64 = 11_644_473_600_000_000;

/// Unix seconds (possibly fractional).
/// Rounded to the microsecond: an f64 of seconds since 1970 or 2001 holds
/// no more, and finer digits would be float noise (`…09.253101824Z`).
pub fn from_unix_f64(secs: f64) -> Option<Timestamp> {
    if !secs.is_finite() {
        return None;
    }
    let micros = (secs * 1e6).round();
    if micros.abs() > 2.5e17 {
        return None;
    }
    Timestamp::from_microsecond(micros as i64).ok()
}

pub fn from_unix(secs: i64) -> Option<Timestamp> {
    Timestamp::from_second(secs).ok()
}

pub fn from_unix_ms(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

pub fn from_unix_us(us: i64) -> Option<Timestamp> {
    Timestamp::from_microsecond(us).ok()
}

/// Apple absolute time (seconds since 2001-01-01), as Core Data and most iOS
/// databases store it. Values over 1e12 are nanoseconds (iOS 11+ sms.db).
pub fn from_apple(value: f64) -> Option<Timestamp> {
    if !value.is_finite() {
        return None;
    }
    let secs = if value.abs() > 1e12 {
        value / 1e9
    } else {
        value
    };
    from_unix_f64(secs + APPLE_EPOCH_OFFSET as f64)
}

/// WebKit/Chrome time: microseconds since 1601-01-01.
pub fn from_webkit(us: i64) -> Option<Timestamp> {
    from_unix_us(us.checked_sub(WEBKIT_EPOCH_OFFSET_US)?)
}

/// Like `from_apple` but treats 0 as "no time" (a common placeholder).
pub fn from_apple_nonzero(value: f64) -> Option<Timestamp> {
    if value == 0.0 {
        None
    } else {
        from_apple(value)
    }
}

/// Parses an RFC 3339 / ISO 8601 instant; a naive date-time is taken as UTC.
pub fn parse_iso(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    let dt: jiff::civil::DateTime = text.replace(' ', "T").parse().ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_epoch_zero_is_2001() {
        assert_eq!(from_apple(0.0).unwrap().to_string(), "2001-01-01T00:00:00Z");
    }

    #[test]
    fn apple_nanoseconds_are_recognised() {
        let secs = from_apple(600_000_000.0).unwrap();
        let nanos = from_apple(600_000_000.0 * 1e9).unwrap();
        assert_eq!(secs, nanos);
        assert_eq!(secs.to_string(), "2020-01-06T10:40:00Z");
    }

    #[test]
    fn fractional_seconds_are_microseconds() {
        assert_eq!(
            from_apple(652_000_000.253_101_8).unwrap().to_string(),
            "2021-08-30T07:06:40.253102Z"
        );
    }

    #[test]
    fn webkit_epoch() {
        assert_eq!(
            from_webkit(13_253_760_000_000_000).unwrap().to_string(),
            "2020-12-30T00:00:00Z"
        );
        assert!(from_webkit(i64::MIN).is_none());
    }

    #[test]
    fn iso_parsing() {
        assert_eq!(
            parse_iso("2021-07-18 10:00:00").unwrap().to_string(),
            "2021-07-18T10:00:00Z"
        );
        assert!(parse_iso("not a time").is_none());
    }
}
