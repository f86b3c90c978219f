//! `dumpsys batterystats`, battery history: jobs, foreground ("top") apps
//! and wake locks with their uid, as MVT 2026 reads them. Times: a
//! `RESET:TIME:` / `TIME:` line anchors the elapsed offsets (`+1h2m3s4ms`)
//! to the device's wall clock, so each event gets an absolute time; lines
//! that print `MM-DD HH:MM:SS.mmm` take the anchor's year (MVT takes 1900).

use std::sync::LazyLock;

use regex::Regex;

use super::{DumpRead, DumpstateModule, Part};
use crate::model::{ObservableType, Record};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_battery_history",
    in_androidqf: Some("aqf_dumpsys_battery_history"),
    part: Part::Service("batterystats"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

static TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:RESET:)?TIME:\s*(\S+)").expect("static regex"));
static JOB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"([+-])job=([^:\s]+):"([^"]+)""#).expect("static regex"));
static TOP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"([+-])top=([^:\s]+):"([^"]+)""#).expect("static regex"));
static WAKE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\+wake_lock=([^:\s]+):"([^"]+)""#).expect("static regex"));
static ELAPSED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d+)(ms|d|h|m|s)").expect("static regex"));

use jiff::civil::DateTime;

/// `2022-01-04-17-30-01[-123]` or `2022-01-04 17:30:01.123`.
fn wall_time(value: &str) -> Option<DateTime> {
    if let Some(dt) = crate::time::parse_civil(value) {
        return Some(dt);
    }
    let parts: Vec<&str> = value.split('-').collect();
    let (date, time) = match parts.as_slice() {
        [y, mo, d, h, mi, s] => (format!("{y}-{mo}-{d}"), format!("{h}:{mi}:{s}")),
        [y, mo, d, h, mi, s, f] => (format!("{y}-{mo}-{d}"), format!("{h}:{mi}:{s}.{f}")),
        _ => return None,
    };
    crate::time::parse_civil(&format!("{date} {time}"))
}

/// `+1h26m18s315ms` → milliseconds.
fn elapsed_ms(token: &str) -> Option<i64> {
    let rest = token.strip_prefix('+')?;
    let mut total = 0i64;
    for c in ELAPSED.captures_iter(rest) {
        let n: i64 = c[1].parse().ok()?;
        let unit = match &c[2] {
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            _ => 1,
        };
        // A hostile or corrupt figure gives no time, not an overflow.
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// The package a wake lock or job name points at, when it names one
/// (`*walarm*:com.x/.Y`, `com.x.sync`, `*job*/com.x/.Svc`).
fn package_from_name(name: &str) -> Option<String> {
    let clean = name
        .strip_prefix("*walarm*:")
        .or_else(|| name.strip_prefix("*alarm*:"))
        .unwrap_or(name);
    let looks = |s: &str| s.starts_with("com.") || s.starts_with("org.") || s.starts_with("net.");
    let slash: Vec<&str> = clean.split('/').collect();
    if slash.len() > 1 {
        let first = slash[0].trim_start_matches('@');
        if looks(first) {
            return Some(first.to_string());
        }
        for part in slash[1..].iter().rev() {
            let candidate = part.trim_start_matches('@').split(':').next().unwrap_or("");
            if looks(candidate) {
                return Some(candidate.to_string());
            }
        }
    }
    let parts: Vec<&str> = clean
        .split('.')
        .take_while(|p| p.chars().next().is_some_and(|c| c.is_lowercase()))
        .collect();
    (parts.len() >= 2).then(|| parts.join("."))
}

/// WorkManager decorates job names with scheduler prefixes (`a@b@pkg/.Svc`).
fn normalize_service(service: &str) -> &str {
    if service.contains('@')
        && let Some(last) = service.split('@').rfind(|p| p.contains('/'))
    {
        return last;
    }
    service
}

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let has_heading = section.lines().any(|l| l.starts_with("Battery History"));
    let mut in_history = !has_heading;
    let mut anchor: Option<(DateTime, i64)> = None;
    for line in section.lines() {
        let t = line.trim();
        if line.starts_with("Battery History") {
            if in_history {
                break;
            }
            in_history = true;
            continue;
        }
        if !in_history {
            continue;
        }
        if has_heading && t.is_empty() {
            break;
        }
        if let Some(c) = TIME.captures(t) {
            if let Some(at) = wall_time(&c[1]) {
                let first = t.split_whitespace().next().unwrap_or("");
                anchor = Some((at, elapsed_ms(first).unwrap_or(0)));
            }
            continue;
        }
        let fields: Vec<&str> = t.split_whitespace().collect();
        let Some(first) = fields.first() else {
            continue;
        };
        let absolute = fields.len() > 1
            && first.len() == 5
            && first.as_bytes()[2] == b'-'
            && first.bytes().filter(u8::is_ascii_digit).count() == 4;
        let (time_elapsed, when) = if absolute {
            let text = format!("{} {}", fields[0], fields[1]);
            let when =
                anchor.and_then(|(a, _)| crate::time::parse_civil(&format!("{}-{text}", a.year())));
            (text, when)
        } else {
            let when = match (anchor, elapsed_ms(first)) {
                (Some((a, a_ms)), Some(ms)) => ms
                    .checked_sub(a_ms)
                    .and_then(|d| a.checked_add(jiff::SignedDuration::from_millis(d)).ok()),
                _ => None,
            };
            (first.to_string(), when)
        };
        let mut add = |event: &str, uid: &str, service: &str, package: Option<String>| {
            let package = package.unwrap_or_default();
            out.push(
                Record::new(MODULE.name, artifact)
                    // Device wall clock; the scan converts it with the zone.
                    .at(when.and_then(|w| jiff::tz::TimeZone::UTC.to_timestamp(w).ok()))
                    .event(
                        event,
                        format!("{event} {package} (uid {uid}) at {time_elapsed}"),
                    )
                    .field("time_elapsed", time_elapsed.as_str())
                    .field("uid", uid)
                    .field("package_name", package.as_str())
                    .field("service", service)
                    .observe(ObservableType::AppId, package.as_str()),
            );
        };
        for c in JOB.captures_iter(line) {
            let service = normalize_service(&c[3]);
            let package = package_from_name(service)
                .or_else(|| Some(service.split('/').next().unwrap_or(service).to_string()));
            let event = if &c[1] == "+" { "start_job" } else { "end_job" };
            add(event, &c[2], service, package);
        }
        for c in TOP.captures_iter(line) {
            let event = if &c[1] == "+" { "start_top" } else { "end_top" };
            add(event, &c[2], "", Some(c[3].to_string()));
        }
        if let Some(c) = WAKE.captures(line) {
            add("wake", &c[1], &c[2], package_from_name(&c[2]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_wake_locks_and_absolute_times() {
        let s = "Battery History (1% used, 10KB used of 1MB, 5 strings using 300B):\n\
                    0 (10) RESET:TIME: 2022-01-04-17-30-01\n\
               +47s645ms (2) 100 +job=u0a94:\"com.example.reminder/.Svc\"\n\
               +1h00m00s000ms (2) 100 +top=u0a280:\"com.whatsapp\" +running +wake_lock=u0a12:\"*walarm*:com.example.alarm/.R\"\n\
               +1h00m01s000ms (2) 100 +wake_lock=1000:\"NetworkStats\"\n\
               +1h00m02s000ms (2) 100 -job=u0a94:\"androidx.work.systemjobscheduler@com.example.work/androidx.work.impl.background.systemjob.SystemJobService\"\n\
               01-05 09:00:00.000 (2) 100 -top=u0a280:\"com.whatsapp\"\n\
               \n\
               Per-PID Stats:\n";
        let r = parse(s, "a");
        let got: Vec<_> = r
            .iter()
            .map(|r| {
                (
                    r.event.as_str(),
                    r.fields["package_name"].as_str().unwrap().to_string(),
                    r.timestamp.map(|t| t.to_string()),
                )
            })
            .collect();
        let ts = |s: &str| Some(s.to_string());
        assert_eq!(
            got,
            [
                (
                    "start_job",
                    "com.example.reminder".into(),
                    ts("2022-01-04T17:30:48.645Z")
                ),
                (
                    "start_top",
                    "com.whatsapp".into(),
                    ts("2022-01-04T18:30:01Z")
                ),
                (
                    "wake",
                    "com.example.alarm".into(),
                    ts("2022-01-04T18:30:01Z")
                ),
                ("wake", String::new(), ts("2022-01-04T18:30:02Z")),
                (
                    "end_job",
                    "com.example.work".into(),
                    ts("2022-01-04T18:30:03Z")
                ),
                ("end_top", "com.whatsapp".into(), ts("2022-01-05T09:00:00Z")),
            ]
        );
        assert!(r[3].observables.is_empty(), "no package, no app id");
        assert_eq!(elapsed_ms("+2d23h22m24s588ms"), Some(256_944_588));
        // Found by the dumpsys fuzz target: no overflow, no time.
        assert_eq!(elapsed_ms("+5555555555555555555d"), None);
        assert_eq!(elapsed_ms("+9000000000000000000s"), None);
        assert_eq!(elapsed_ms("+9223372036854775807ms+1ms"), None);
    }
}
