//! Device-local times. Some sysdiagnose logs (mobile_installation,
//! containermanagerd) write `Wed Aug 11 05:51:02 2021` with no zone. Such a
//! time is stored as if it were UTC with `time_zone: "unknown, device-local"`
//! and the text as written in `local_time`; when the sysdiagnose's root
//! folder names its offset (`sysdiagnose_2024.01.02_03-04-05+0200_…`), the
//! scan converts it with that offset and says so in `time_zone`.

use jiff::ToSpan;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use serde_json::Value;

use crate::model::Record;

/// `time_zone` of a time whose zone is not known (one wording for every
/// source, REPORT.md).
pub use crate::time::UNKNOWN_LOCAL as UNKNOWN;

/// The `Www Mmm d HH:MM:SS YYYY` prefix of a log line (the day may be
/// space-padded), as a civil time.
pub fn log_prefix(line: &str) -> Option<DateTime> {
    let mut parts = line.split_whitespace();
    let fields: Vec<&str> = parts.by_ref().take(5).collect();
    if fields.len() < 5 || fields[0].len() != 3 || fields[1].len() != 3 {
        return None;
    }
    let text = fields.join(" ");
    jiff::fmt::strtime::parse("%a %b %d %H:%M:%S %Y", &text)
        .ok()?
        .to_datetime()
        .ok()
}

/// Marks `r` with a device-local time: the timestamp holds the civil time
/// read as UTC until [`apply_offset`] converts it.
pub fn at_local(r: Record, dt: Option<DateTime>) -> Record {
    let Some(dt) = dt else {
        return r;
    };
    let ts = jiff::tz::TimeZone::UTC.to_timestamp(dt).ok();
    r.at(ts)
        .field("local_time", dt.to_string())
        .field("time_zone", UNKNOWN)
}

/// The UTC offset named by a sysdiagnose root folder
/// (`sysdiagnose_YYYY.MM.DD_HH-MM-SS±ZZZZ…`).
pub fn root_offset(root: &str) -> Option<Offset> {
    let rest = root.strip_prefix("sysdiagnose_")?;
    let time = rest.split('_').nth(1)?;
    let (sign, zone) = (time.get(8..9)?, time.get(9..13)?);
    if !zone.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i8 = zone.get(..2)?.parse().ok()?;
    let minutes: i8 = zone.get(2..4)?.parse().ok()?;
    let secs = (i32::from(hours) * 3600 + i32::from(minutes) * 60)
        * match sign {
            "+" => 1,
            "-" => -1,
            _ => return None,
        };
    Offset::from_seconds(secs).ok()
}

/// Converts every device-local time in `records` with `offset` (named by
/// the folder `root`), and says where the offset came from.
pub fn apply_offset(records: &mut [Record], offset: Offset, root: &str) {
    let secs = offset.seconds();
    let label = format!(
        "{}{:02}:{:02} (from the sysdiagnose folder name {root}: the offset at collection time)",
        if secs < 0 { '-' } else { '+' },
        secs.abs() / 3600,
        secs.abs() % 3600 / 60
    );
    for r in records {
        if r.fields.get("time_zone").and_then(Value::as_str) != Some(UNKNOWN) {
            continue;
        }
        if let Some(ts) = r.timestamp {
            // ts is the local civil time read as UTC: UTC = local - offset.
            r.timestamp = ts.checked_sub(offset.seconds().seconds()).ok().or(Some(ts));
        }
        r.fields
            .insert("time_zone".into(), Value::from(label.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(ts: Option<jiff::Timestamp>) -> Option<String> {
        ts.map(|t| t.to_string())
    }

    #[test]
    fn prefix_forms() {
        let dt = log_prefix("Fri Feb  5 18:03:23 2021 [1272] <notice> x").unwrap();
        assert_eq!(dt.to_string(), "2021-02-05T18:03:23");
        let dt = log_prefix("Wed Aug 11 05:51:02 2021 [176] <notice>").unwrap();
        assert_eq!(dt.to_string(), "2021-08-11T05:51:02");
        assert!(log_prefix("    \"systemgroup.com.apple.configurationprofiles\"").is_none());
        assert!(log_prefix("Wéd Aug 11 05:51:02 2021").is_none());
    }

    #[test]
    fn offsets_from_root_names() {
        let o = root_offset("sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62");
        assert_eq!(o.unwrap().seconds(), 7200);
        let o = root_offset("sysdiagnose_2024.01.02_03-04-05-0530_x");
        assert_eq!(o.unwrap().seconds(), -19800);
        assert_eq!(
            root_offset("sysdiagnose_2099.01.01_00-00-00+0000_realpieces")
                .unwrap()
                .seconds(),
            0
        );
        assert!(root_offset("sysdiagnose_2024.01.02_03-04-05").is_none());
        assert!(root_offset("sysdiagnose_2024.01.02_03-04-05+02é0_x").is_none());
        assert!(root_offset("mydump").is_none());
    }

    #[test]
    fn offset_applied_and_named() {
        let dt = log_prefix("Mon Jan  1 10:00:00 2024 [1]").unwrap();
        let mut recs = vec![
            at_local(Record::new("m", "a"), Some(dt)),
            Record::new("m", "a").at(Some("2024-01-01T10:00:00Z".parse().unwrap())),
        ];
        assert_eq!(recs[0].fields.get("time_zone").unwrap(), UNKNOWN);
        apply_offset(&mut recs, Offset::from_hours(2).unwrap(), "sysdiagnose_x");
        assert_eq!(utc(recs[0].timestamp).unwrap(), "2024-01-01T08:00:00Z");
        let tz = recs[0].fields.get("time_zone").unwrap().as_str().unwrap();
        assert!(
            tz.starts_with("+02:00 ") && tz.contains("sysdiagnose_x"),
            "{tz}"
        );
        assert_eq!(
            recs[0].fields.get("local_time").unwrap(),
            "2024-01-01T10:00:00"
        );
        // A UTC record is left alone.
        assert_eq!(utc(recs[1].timestamp).unwrap(), "2024-01-01T10:00:00Z");
        assert!(recs[1].fields.get("time_zone").is_none());
    }
}
