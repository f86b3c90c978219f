//! `timeline.csv`'s bytes, written by hand: what the `csv` crate writes
//! (comma, `\n` terminator, a cell quoted when it holds `,` `"` `\r` or
//! `\n`, quotes doubled) for the cells of [`super::csv_cell`], with the
//! time written by [`TimeCells`]. Tests check both against the crates on
//! hostile cells and many times.

use jiff::Timestamp;

use super::time_text::TimeCells;

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
