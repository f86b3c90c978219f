//! `timeline.csv`'s bytes, written by hand: what the `csv` crate writes
//! (comma, `\n` terminator, a cell quoted when it holds `,` `"` `\r` or
//! `\n`, quotes doubled) for the cells of [`super::csv_cell`], with the
//! time formatted as jiff's `Display` does (`YYYY-MM-DDTHH:MM:SS[.f]Z`,
//! fraction without trailing zeros), the date taken from jiff once a day.
//! Tests check both against the crates on hostile cells and many times.

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

/// Appends one cell: `'` first when [`super::csv_cell`] adds it, quoted
/// when the `csv` crate would quote it.
pub fn cell(out: &mut Vec<u8>, s: &[u8]) {
    let formula = matches!(s.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'));
    // Searched with memchr's vector code: this runs on every description
    // of the timeline (hundreds of thousands), most with none of these.
    let quote =
        memchr::memchr3(b',', b'"', b'\n', s).is_some() || memchr::memchr(b'\r', s).is_some();
    if quote {
        out.push(b'"');
    }
    if formula {
        out.push(b'\'');
    }
    if quote {
        let mut rest = s;
        while let Some(i) = memchr::memchr(b'"', rest) {
            out.extend_from_slice(&rest[..=i]);
            out.push(b'"');
            rest = &rest[i + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'"');
    } else {
        out.extend_from_slice(s);
    }
}

/// Appends one row (time, module, event, description) and its `\n`.
pub fn row(out: &mut Vec<u8>, times: &mut TimeCells, t: Timestamp, cells: [&str; 3]) {
    let at = out.len();
    times.push(t, out);
    if matches!(out.get(at), Some(b'-' | b'+')) {
        // A year before 0 or after 9999: the formula guard applies.
        out.insert(at, b'\'');
    }
    for c in cells {
        out.push(b',');
        cell(out, c.as_bytes());
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_crates(rows: &[(Timestamp, [&str; 3])]) -> Vec<u8> {
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        for (t, c) in rows {
            let time = t.to_string();
            let cells = [
                super::super::csv_cell(&time),
                super::super::csv_cell(c[0]),
                super::super::csv_cell(c[1]),
                super::super::csv_cell(c[2]),
            ];
            csv.write_record(cells.iter().map(|c| c.as_bytes()))
                .unwrap();
        }
        csv.into_inner().unwrap()
    }

    fn by_hand(rows: &[(Timestamp, [&str; 3])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut times = TimeCells::default();
        for (t, c) in rows {
            row(&mut out, &mut times, *t, *c);
        }
        out
    }

    #[test]
    fn rows_are_what_the_csv_crate_writes() {
        let hostile = [
            "",
            " ",
            "plain",
            "a,b",
            "\"",
            "\"\"",
            "say \"hi\"",
            "x\ny",
            "x\r\ny",
            "\r",
            "\n",
            "=1+2",
            "+1",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "=\"a,b\"",
            "-\n",
            "'",
            "#c",
            ";",
            "é,ü\"ß",
            "日本,語",
            "\u{0}",
            "a\u{2028}b",
            "\\\"",
            "\" ",
            " \"",
        ];
        let mut rows = Vec::new();
        for (i, h) in hostile.iter().enumerate() {
            let t = Timestamp::new(1_600_000_000 + i as i64 * 3_601, 0).unwrap();
            rows.push((t, [*h, "event", "d"]));
            rows.push((t, ["m", *h, "d"]));
            rows.push((t, ["m", "e", *h]));
        }
        assert_eq!(by_hand(&rows), by_crates(&rows));
    }

    #[test]
    fn times_are_what_jiff_writes() {
        let mut rows = Vec::new();
        let nanos = [
            0,
            1,
            10,
            100_000_000,
            120_000_000,
            123_456_789,
            999_999_999,
            500_000,
            7,
        ];
        let mut secs: Vec<i64> = vec![
            0,
            1,
            59,
            60,
            3_599,
            3_600,
            86_399,
            86_400,
            951_782_400,
            978_307_200,
            1_700_000_000,
            253_402_300_799,
            -1,
            -86_400,
            -86_401,
            -62_135_596_800,
            -62_135_596_801,
            -377_705_116_800,
            253_402_300_800,
        ];
        // A walk over many days and seconds, some days repeated.
        let mut x: i64 = 12_345;
        for _ in 0..5_000 {
            x = (x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1)) & 0xffff_ffff_ffff;
            secs.push((x % 8_000_000_000) - 2_000_000_000);
        }
        secs.sort();
        for (i, s) in secs.iter().enumerate() {
            let n = nanos[i % nanos.len()];
            for n in [n, -n] {
                if let Ok(t) = Timestamp::new(*s, n) {
                    rows.push((t, ["m", "e", "d"]));
                }
            }
        }
        rows.push((Timestamp::MIN, ["m", "e", "d"]));
        rows.push((Timestamp::MAX, ["m", "e", "d"]));
        assert_eq!(
            String::from_utf8(by_hand(&rows)).unwrap(),
            String::from_utf8(by_crates(&rows)).unwrap()
        );
    }
}
