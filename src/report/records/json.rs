//! A record as one line of JSON, written straight into a byte buffer: the
//! bytes `serde_json::to_writer` gives for a [`Record`] (same key order,
//! same escapes, numbers written by `serde_json` itself), without the
//! serializer's per-call dispatch, and with runs of text that need no
//! escape copied eight bytes at a time. `tests` checks the identity.

use serde_json::Value;

use crate::model::{Alert, FieldOrder, Observable, Record};
use crate::report::time_text::TimeCells;

thread_local! {
    /// The time formatter of this thread's records (it keeps the last day's date).
    static TIMES: std::cell::RefCell<TimeCells> = std::cell::RefCell::new(TimeCells::default());
}

/// Appends `r` as JSON (no newline) to `out`; `order` is scratch space for
/// the sorted field order, reused record after record.
pub fn write_record(out: &mut Vec<u8>, r: &Record, order: &mut FieldOrder) {
    out.extend_from_slice(b"{\"module\":");
    string(out, &r.module);
    out.extend_from_slice(b",\"artifact\":");
    string(out, &r.artifact);
    out.extend_from_slice(b",\"timestamp\":");
    match &r.timestamp {
        Some(t) => {
            // jiff serialises a timestamp with `collect_str` (its Display:
            // RFC 3339, digits, `-`, `:`, `.`, `T`, `Z`; nothing to escape),
            // which `TimeCells` writes with the date part kept a day.
            out.push(b'"');
            TIMES.with_borrow_mut(|times| times.push(*t, out));
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"event\":");
    string(out, &r.event);
    out.extend_from_slice(b",\"description\":");
    string(out, &r.description);
    out.extend_from_slice(b",\"fields\":{");
    list(out, r.fields.sorted(order), |out, (k, v)| entry(out, k, v));
    out.extend_from_slice(b"},\"observables\":[");
    list(out, &r.observables, observable);
    out.push(b']');
    if !r.alerts.is_empty() {
        out.extend_from_slice(b",\"alerts\":[");
        list(out, &r.alerts, alert);
        out.push(b']');
    }
    out.push(b'}');
}

/// `items` written by `each`, separated by commas.
fn list<T>(out: &mut Vec<u8>, items: impl IntoIterator<Item = T>, each: impl Fn(&mut Vec<u8>, T)) {
    for (i, x) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, x);
    }
}

/// `"key":value` of an object.
fn entry(out: &mut Vec<u8>, key: &str, v: &Value) {
    string(out, key);
    out.push(b':');
    value(out, v);
}

fn observable(out: &mut Vec<u8>, o: &Observable) {
    out.extend_from_slice(b"{\"type\":\"");
    // The serialised names are plain snake_case words.
    out.extend_from_slice(o.kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"value\":");
    string(out, &o.value);
    out.push(b'}');
}

fn alert(out: &mut Vec<u8>, a: &Alert) {
    out.extend_from_slice(b"{\"rule\":");
    string(out, &a.rule);
    out.extend_from_slice(b",\"level\":\"");
    out.extend_from_slice(a.level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"severity\":\"");
    out.extend_from_slice(a.severity.as_str().as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    string(out, &a.message);
    out.push(b'}');
}

/// A JSON value as `serde_json` writes it (compact).
fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // itoa / ryu (and `null` for a non-finite float), exactly as serde_json.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => string(out, s),
        Value::Array(a) => {
            out.push(b'[');
            list(out, a, value);
            out.push(b']');
        }
        Value::Object(m) => {
            out.push(b'{');
            list(out, m, |out, (k, x)| entry(out, k, x));
            out.push(b'}');
        }
    }
}

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `w` is below 0x20, `"` or `\`.
#[inline]
fn needs_escape(w: u64) -> bool {
    let zero = |x: u64| x.wrapping_sub(LOW) & !x & HIGH;
    let below_space = w.wrapping_sub(LOW * 0x20) & !w & HIGH;
    (below_space | zero(w ^ (LOW * b'"' as u64)) | zero(w ^ (LOW * b'\\' as u64))) != 0
}

/// Whether no byte of `bytes` needs an escape (eight at a time; the last
/// few padded with a byte that needs none).
#[inline]
fn clean(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        if needs_escape(u64::from_le_bytes(word)) {
            return false;
        }
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return true;
    }
    if bytes.len() >= 8 {
        // The last eight bytes, overlapping the words already checked.
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[bytes.len() - 8..]);
        return !needs_escape(u64::from_le_bytes(word));
    }
    // Fewer than eight: padded with a byte that needs no escape.
    let mut w = u64::from_le_bytes([b'a'; 8]);
    for (i, &b) in rest.iter().enumerate() {
        w = (w & !(0xff << (8 * i))) | (u64::from(b) << (8 * i));
    }
    !needs_escape(w)
}

/// `s` as a JSON string, escaped as serde_json escapes: `\"`, `\\`, the
/// short escapes `\b \t \n \f \r`, `\u00xx` (lower-case hex) for the other
/// control bytes; everything else (DEL, non-ASCII) as it is.
fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if clean(bytes) {
        out.extend_from_slice(bytes);
    } else {
        escaped(out, bytes);
    }
    out.push(b'"');
}

/// The slow path of [`string`]: byte by byte, runs copied whole.
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObservableType, Record};

    fn same(r: &Record) {
        same_with(r, &mut FieldOrder::default());
    }

    fn same_with(r: &Record, order: &mut FieldOrder) {
        let mut ours = Vec::new();
        write_record(&mut ours, r, order);
        let theirs = serde_json::to_vec(r).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
        assert_eq!(ours, theirs);
    }

    /// Every string of one or two characters from a set that covers each
    /// escape class, and longer runs around the 8-byte steps.
    fn strings() -> Vec<String> {
        let mut alphabet: Vec<char> = (0u8..0x80).map(char::from).collect();
        alphabet.extend(['é', 'ß', '\u{2028}', '\u{feff}', '😀', '\u{80}', '\u{9f}']);
        let mut out: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
        for a in ['a', '"', '\\', '\n', '\u{1}', 'é', '\u{7f}'] {
            for &b in &alphabet {
                out.push(format!("{a}{b}"));
            }
        }
        for n in 0..40 {
            for special in ['"', '\\', '\u{0}', '\u{1f}', '\t', 'ü', '😀'] {
                let mut s: String = "abcdefghij".chars().cycle().take(n).collect();
                s.insert(n / 2, special);
                out.push(s.clone());
                s.push(special);
                out.push(s);
            }
        }
        out.push("https://example.org/a?b=\"c\"&d=\\e\u{0}\u{1b}[0m ünïcødé 😀 end".into());
        out.push(String::new());
        out
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in strings() {
            let mut ours = Vec::new();
            string(&mut ours, &s);
            assert_eq!(ours, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn records_are_written_as_serde_json_writes_them() {
        use serde_json::json;
        let rule = &crate::rules::SMS_APPLE_THREAT_NOTIFICATION;
        let numbers = [
            json!(0),
            json!(-1),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
            json!(1.0e-7),
            json!(123456789.125),
            json!(0.1),
            json!(f64::MAX),
        ];
        let mut n = 0;
        for (i, s) in strings().into_iter().enumerate() {
            let nested = json!({
                "z": [s.clone(), null, true, false, numbers[i % numbers.len()].clone()],
                "a": {"k\"ey\n": s.clone(), "empty": [], "obj": {}},
            });
            let mut r = Record::new("mod", &format!("Home/{s}"))
                .event(if i % 2 == 0 { "sms_sent" } else { &s }, format!("d {s}"))
                .field("zeta", s.clone())
                .field("alpha", numbers[i % numbers.len()].clone())
                .field(format!("k{s}"), nested)
                .field("m", Value::Null)
                .field("b", i % 3 == 0)
                .field("links", vec![s.clone(), "x".into()])
                .observe(ObservableType::Url, s.clone())
                .observe(ObservableType::Text, format!("{s}{s}"));
            if i % 3 == 0 {
                r = r.at(Some(
                    jiff::Timestamp::from_second(1_700_000_000 + i as i64).unwrap(),
                ));
            }
            if i % 5 == 0 {
                r = r.at(Some(
                    jiff::Timestamp::from_nanosecond(1_700_000_000_123_456_789 + i as i128)
                        .unwrap(),
                ));
            }
            if i % 7 == 0 {
                r.push_alert(rule, format!("alert {s}"));
                r.push_alert(rule, "second");
            }
            same(&r);
            n += 1;
        }
        assert!(n > 1000, "{n}");
        same(&Record::new("", ""));
        let a = Record::new("m", "a").at(Some(jiff::Timestamp::MIN));
        same(&a);
        same(&Record::new("m", "a").at(Some(jiff::Timestamp::MAX)));
        // The field order does not depend on the order they were set in.
        let b = Record::new("m", "a")
            .field("b", 1)
            .field("a", 2)
            .field("B", 3);
        same(&b);
    }

    #[test]
    fn the_field_order_kept_between_records_follows_their_keys() {
        let mut order = FieldOrder::default();
        for i in 0..50 {
            let r = match i % 5 {
                0 => Record::new("m", "a").field("b", 1).field("a", 2),
                1 => Record::new("m", "a").field("a", 1).field("b", 2),
                2 => Record::new("m", "a").field("b", 1).field("c", 2),
                3 => Record::new("m", "a")
                    .field(["z", "c"][i % 2].to_string(), 1)
                    .field("b", 2),
                _ => Record::new("m", "a")
                    .field(["c", "z"][i % 2].to_string(), 1)
                    .field("b", 2)
                    .field("a", 3),
            };
            same_with(&r, &mut order);
        }
    }
}
