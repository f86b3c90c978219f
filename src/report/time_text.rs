//! Times as jiff's `Display` writes them (`YYYY-MM-DDTHH:MM:SS[.f]Z`,
//! fraction without trailing zeros), without its cost per call: the date
//! part is taken from jiff once a day and kept. `timeline.csv` and the
//! records' JSON both write their times with it.

use jiff::Timestamp;

/// Formats times; the date part of the last day formatted is kept.
#[derive(Default)]
pub struct TimeCells {
    /// The day (seconds / 86,400, floored) of `prefix`.
    day: Option<i64>,
    /// `YYYY-MM-DDT` of `day`, as jiff writes it.
    prefix: Vec<u8>,
}

impl TimeCells {
    /// Appends `t` as jiff's `Display` writes it.
    pub fn push(&mut self, t: Timestamp, out: &mut Vec<u8>) {
        let secs = t.as_second();
        let nanos = t.subsec_nanosecond();
        if nanos < 0 {
            // Before 1970 with a fraction: rare, jiff's own formatting.
            use std::io::Write as _;
            let _ = write!(out, "{t}");
            return;
        }
        let day = secs.div_euclid(86_400);
        if self.day != Some(day) {
            let midnight = Timestamp::from_second(day * 86_400).unwrap_or(t);
            let s = midnight.to_string();
            let end = s.find('T').map_or(s.len(), |i| i + 1);
            self.prefix.clear();
            self.prefix.extend_from_slice(&s.as_bytes()[..end]);
            self.day = Some(day);
        }
        out.extend_from_slice(&self.prefix);
        let sod = secs.rem_euclid(86_400) as u32;
        let two = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
        };
        two(out, sod / 3600);
        out.push(b':');
        two(out, sod / 60 % 60);
        out.push(b':');
        two(out, sod % 60);
        if nanos > 0 {
            let mut digits = [0u8; 9];
            let mut n = nanos as u32;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
            let len = 9 - digits.iter().rev().take_while(|&&d| d == b'0').count();
            out.push(b'.');
            out.extend_from_slice(&digits[..len]);
        }
        out.push(b'Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_time_is_what_jiff_writes() {
        let mut cells = TimeCells::default();
        let mut x: i64 = 987;
        let mut secs: Vec<i64> = vec![0, -1, 86_399, 86_400, -86_401, 253_402_300_799];
        for _ in 0..2_000 {
            x = (x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1)) & 0xffff_ffff_ffff;
            secs.push((x % 8_000_000_000) - 2_000_000_000);
        }
        for (i, s) in secs.iter().enumerate() {
            // The same day twice in a row, then another: the kept date
            // must follow.
            for n in [0, 120_000_000, -(i as i32 % 1_000), 999_999_999] {
                if let Ok(t) = Timestamp::new(*s, n) {
                    let mut out = Vec::new();
                    cells.push(t, &mut out);
                    assert_eq!(String::from_utf8(out).unwrap(), t.to_string());
                }
            }
        }
        for t in [Timestamp::MIN, Timestamp::MAX] {
            let mut out = Vec::new();
            cells.push(t, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), t.to_string());
        }
    }
}
