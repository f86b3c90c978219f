//! Small helpers shared by the iOS modules: tolerant SQLite value access,
//! link extraction, plist → JSON.

use rusqlite::types::ValueRef;
use serde_json::Value;

use crate::strings::LINK;

/// Every `http(s)://` link in a text (MVT's `check_for_links`, minus
/// trailing punctuation that ends a sentence). A link also stops at a
/// quote or angle bracket (`<a href="…">`), and the search goes on from
/// there, so `"https://a"https://b` gives both.
pub fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !may_link(text.as_bytes()) {
        return out;
    }
    let mut from = 0;
    while let Some(m) = LINK.find_at(text, from) {
        let scheme = m.as_str().find("://").map_or(0, |i| i + 3);
        let rest = &m.as_str()[scheme..];
        let end = m.start() + scheme + rest.find(['<', '>', '"', '\'']).unwrap_or(rest.len());
        let link = text[m.start()..end].trim_end_matches(['.', ',', ';', ')', ']', '!', '?']);
        if end > m.start() + scheme && link.len() > 8 {
            out.push(link.to_string());
        }
        from = end;
    }
    out
}

/// Whether `bytes` may hold a link (`LINK` needs `://`): most texts (a
/// message, a bplist blob) do not, and are then not searched at all.
pub fn may_link(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"://").is_some()
}

/// Text of a column, whether stored as TEXT or as a UTF-8 BLOB.
pub fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        // Valid UTF-8 (nearly every value) is checked by `from_utf8`, which
        // skips ASCII a word at a time; only invalid bytes take the lossy path.
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(match std::str::from_utf8(t) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null => None,
    }
}

pub fn real(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

pub fn int(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) if f.is_finite() => Some(f as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Column `name` of a row, as text (`None` if absent or NULL).
pub fn col_text(row: &rusqlite::Row<'_>, name: impl rusqlite::RowIndex) -> Option<String> {
    row.get_ref(name)
        .ok()
        .and_then(text)
        .filter(|s| !s.is_empty())
}

pub fn col_real(row: &rusqlite::Row<'_>, name: impl rusqlite::RowIndex) -> Option<f64> {
    row.get_ref(name).ok().and_then(real)
}

pub fn col_int(row: &rusqlite::Row<'_>, name: impl rusqlite::RowIndex) -> Option<i64> {
    row.get_ref(name).ok().and_then(int)
}

/// JSON for an optional string.
pub fn js(v: Option<String>) -> Value {
    v.map(Value::String).unwrap_or(Value::Null)
}

/// JSON for an optional timestamp (RFC 3339).
pub fn jts(ts: Option<jiff::Timestamp>) -> Value {
    ts.map(|t| Value::String(t.to_string()))
        .unwrap_or(Value::Null)
}

/// A plist value as JSON (dates RFC 3339, data as hex with a length cap).
pub fn plist_json(v: &plist::Value) -> Value {
    match v {
        plist::Value::Array(a) => Value::Array(a.iter().map(plist_json).collect()),
        plist::Value::Dictionary(d) => {
            Value::Object(d.iter().map(|(k, v)| (k.clone(), plist_json(v))).collect())
        }
        plist::Value::Boolean(b) => Value::Bool(*b),
        plist::Value::Data(d) => Value::String(hex::encode(&d[..d.len().min(256)])),
        plist::Value::Date(_) => js(crate::evidence::ios_backup::plist_scalar(v)),
        plist::Value::Real(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        plist::Value::Integer(i) => i
            .as_signed()
            .map(Value::from)
            .or_else(|| i.as_unsigned().map(Value::from))
            .unwrap_or(Value::Null),
        plist::Value::String(s) => Value::String(s.clone()),
        plist::Value::Uid(u) => Value::from(u.get()),
        _ => Value::Null,
    }
}

/// A plist date or number (Apple absolute time) as a timestamp.
pub fn plist_time(v: &plist::Value) -> Option<jiff::Timestamp> {
    match v {
        plist::Value::Date(d) => {
            let st: std::time::SystemTime = (*d).into();
            jiff::Timestamp::try_from(st).ok()
        }
        plist::Value::Real(f) => crate::time::from_apple_nonzero(*f),
        plist::Value::Integer(i) => crate::time::from_apple_nonzero(i.as_signed()? as f64),
        _ => None,
    }
}

/// `table`'s rowid span cut into one range a worker, when it spans at
/// least `min_rows` rows a range (else `None`: read it whole). (Two a
/// worker measured the same, with twice the connections.) Ranges are
/// inclusive, ascending and cover every rowid.
pub fn rowid_ranges(
    conn: &rusqlite::Connection,
    table: &str,
    min_rows: i64,
) -> Option<Vec<(i64, i64)>> {
    let workers = rayon::current_num_threads();
    if workers < 2 {
        return None;
    }
    let (lo, hi): (Option<i64>, Option<i64>) = conn
        .query_row(
            &format!(
                "SELECT min(rowid), max(rowid) FROM \"{}\"",
                table.replace('"', "\"\"")
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()?;
    split_span(lo?, hi?, workers, min_rows)
}

/// `lo..=hi` in up to `workers` inclusive ranges of at least `min_rows`.
fn split_span(lo: i64, hi: i64, workers: usize, min_rows: i64) -> Option<Vec<(i64, i64)>> {
    let span = i128::from(hi) - i128::from(lo) + 1;
    let parts = (span / i128::from(min_rows.max(1))).min(workers as i128);
    if parts < 2 {
        return None;
    }
    let per = (span + parts - 1) / parts;
    let at = |k: i128| i64::try_from(i128::from(lo) + k * per).unwrap_or(i64::MAX);
    Some(
        (0..parts)
            .map(|k| {
                let end = if k + 1 == parts { hi } else { at(k + 1) - 1 };
                (at(k), end)
            })
            .collect(),
    )
}

/// Runs `read` on every range in parallel (part numbers in range order)
/// and joins what the parts return, in order; the first error wins.
pub fn in_parts<F>(
    ranges: &[(i64, i64)],
    read: F,
) -> Result<Vec<crate::model::Record>, crate::artifacts::ModuleError>
where
    F: Fn(usize, (i64, i64)) -> Result<Vec<crate::model::Record>, crate::artifacts::ModuleError>
        + Sync,
{
    use rayon::prelude::*;
    let parts: Vec<_> = ranges
        .par_iter()
        .enumerate()
        .map(|(part, &range)| read(part, range))
        .collect();
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rowid_spans_split_evenly_and_cover_all() {
        assert_eq!(
            split_span(1, 200_003, 2, 20_000),
            Some(vec![(1, 100_002), (100_003, 200_003)])
        );
        assert_eq!(split_span(1, 30_000, 2, 20_000), None);
        assert_eq!(split_span(5, 5, 4, 1), None);
        let r = split_span(i64::MIN, i64::MAX, 3, 20_000).unwrap();
        assert_eq!(r.first().unwrap().0, i64::MIN);
        assert_eq!(r.last().unwrap().1, i64::MAX);
        for w in r.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
    }

    #[test]
    fn finds_links() {
        assert_eq!(
            links("Please click here https://badbadbad.example.org/ now. Or http://x.y/z."),
            vec!["https://badbadbad.example.org/", "http://x.y/z"]
        );
        assert!(links("no link http:// here").is_empty());
        // Searched only where `://` occurs; the scheme in any case.
        assert!(!may_link(b"www.example.org https:/x"));
        assert!(links("www.example.org https:/x").is_empty());
        assert_eq!(links("HTTPS://A.EXAMPLE/x"), vec!["HTTPS://A.EXAMPLE/x"]);
        // Stops at quotes and angle brackets and searches on from there
        // (what the pattern `https?://[^\s<>"']+` found before it was
        // shared with Android's).
        assert_eq!(
            links("<a href=\"https://a.example/x\">https://a.example/x</a> 'http://b.example'"),
            vec![
                "https://a.example/x",
                "https://a.example/x",
                "http://b.example"
            ]
        );
        assert_eq!(
            links("http://\"https://c.example>HTTP://d.example"),
            vec!["https://c.example", "HTTP://d.example"]
        );
    }
}
