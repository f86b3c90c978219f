//! The bundled sets, precompiled: build.rs runs the parser (`Parsed::new`,
//! this crate's own source compiled into the build script) over each file
//! under `indicators/` and embeds [`encode`]'s bytes; at run time
//! [`Blob`] gives back the same `Parsed` with no JSON, STIX pattern or
//! normalisation work (~5 ms of CPU instead of ~55 at every start, issue
//! 15). A test compares the two for every bundled file.
//!
//! The form, all integers little-endian: the magic `MAGIC` (which holds the
//! version); a string table (a 32-bit count, the 32-bit end offset of each
//! string, a 32-bit length and the UTF-8 text of them all, each string
//! once); then the source info, the indicators and the descriptions, each
//! string as its 32-bit index in the table (`NONE` for an absent `Option`),
//! a list as a 32-bit count before its items. The decoder checks the text
//! once, every offset, index and count against the blob, and refuses
//! (never panics on) a truncated or garbled blob. The descriptions borrow
//! their text from the blob (it is in the binary), the rest is copied.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::parsed::{Described, Parsed, SourceInfo};
use crate::model::{Indicator, ObservableType};

/// The first bytes of a blob; the last digit is the version of the form.
pub const MAGIC: &[u8; 8] = b"spydar:2";

/// The index of an absent `Option<String>`.
const NONE: u32 = u32::MAX;

/// The blob of one parsed bundle.
#[allow(dead_code)] // Used by build.rs and the tests.
pub fn encode(p: &Parsed) -> Vec<u8> {
    let mut t = Table::default();
    let mut w = Vec::new();
    let info = &p.info;
    put(&mut w, t.id(&info.name));
    put(&mut w, t.id(&info.sha256));
    w.extend_from_slice(&(info.indicators as u64).to_le_bytes());
    count(&mut w, info.malware.len());
    for m in &info.malware {
        put(&mut w, t.id(m));
    }
    put(&mut w, t.opt(info.date.as_deref()));
    count(&mut w, info.skipped.len());
    for (pattern, reason) in &info.skipped {
        put(&mut w, t.id(pattern));
        put(&mut w, t.id(reason));
    }
    count(&mut w, info.per_key.len());
    for (key, n) in &info.per_key {
        put(&mut w, t.id(key));
        w.extend_from_slice(&(*n as u64).to_le_bytes());
    }
    count(&mut w, p.indicators.len());
    for ind in &p.indicators {
        let kind = ObservableType::ALL.iter().position(|k| *k == ind.kind);
        w.push(kind.and_then(|k| u8::try_from(k).ok()).unwrap_or(u8::MAX));
        for s in [&ind.value, &ind.pattern, &ind.id] {
            put(&mut w, t.id(s));
        }
        put(&mut w, t.opt(ind.malware.as_deref()));
        put(&mut w, t.id(&ind.source));
    }
    count(&mut w, p.descriptions.len());
    for (id, d) in &p.descriptions {
        put(&mut w, t.id(id));
        put(&mut w, t.opt(d.indicator.as_deref()));
        put(&mut w, t.opt(d.malware.as_deref()));
    }
    let mut out = MAGIC.to_vec();
    count(&mut out, t.ends.len());
    for end in &t.ends {
        put(&mut out, *end);
    }
    count(&mut out, t.text.len());
    out.extend_from_slice(t.text.as_bytes());
    out.extend_from_slice(&w);
    out
}

/// Each string once, by first use.
#[derive(Default)]
struct Table<'a> {
    index: HashMap<&'a str, u32>,
    ends: Vec<u32>,
    text: String,
}

#[allow(dead_code)] // Used by build.rs and the tests.
impl<'a> Table<'a> {
    fn id(&mut self, s: &'a str) -> u32 {
        let next = u32::try_from(self.ends.len()).unwrap_or(NONE);
        let id = *self.index.entry(s).or_insert(next);
        if id == next {
            self.text.push_str(s);
            self.ends
                .push(u32::try_from(self.text.len()).unwrap_or(NONE));
        }
        id
    }

    fn opt(&mut self, s: Option<&'a str>) -> u32 {
        s.map_or(NONE, |s| self.id(s))
    }
}

#[allow(dead_code)] // Used by build.rs and the tests.
fn put(w: &mut Vec<u8>, n: u32) {
    w.extend_from_slice(&n.to_le_bytes());
}

/// A length or a count; one over 4 GiB cannot be stored (nor bundled).
#[allow(dead_code)] // Used by build.rs and the tests.
fn count(w: &mut Vec<u8>, n: usize) {
    put(w, u32::try_from(n).unwrap_or(NONE));
}

/// What [`encode`] gave, back, the descriptions borrowing from `blob`; an
/// error says where the blob is bad. (`IndicatorSet::bundled` decodes the
/// indicators of all blobs into one vector: see `Blob`.)
#[cfg(test)]
pub fn decode(blob: &'static [u8]) -> Result<Parsed, String> {
    let b = Blob::open(blob)?;
    Ok(Parsed {
        indicators: (0..b.indicator_count()).map(|i| b.indicator(i)).collect(),
        descriptions: b.descriptions(Cow::Borrowed).collect(),
        info: b.info,
    })
}

/// [`decode`] of a blob that is not `'static` (the tests' garbled copies).
#[cfg(test)]
pub fn decode_copy(blob: &[u8]) -> Result<Parsed, String> {
    let b = Blob::open(blob)?;
    Ok(Parsed {
        indicators: (0..b.indicator_count()).map(|i| b.indicator(i)).collect(),
        descriptions: b.descriptions(|s| Cow::Owned(s.to_owned())).collect(),
        info: b.info,
    })
}

/// Bytes of one indicator: its type, then value, pattern, id, malware and
/// source as string indices.
const RECORD: usize = 1 + 5 * 4;
/// Bytes of one description: the indicator id, its and its malware's text.
const DESCRIPTION: usize = 3 * 4;

/// A blob, checked whole (every index of every record in the table): its
/// indicators can then be decoded one by one, in any order, on any thread,
/// with nothing left to fail (`IndicatorSet::bundled` decodes them
/// straight into the set's one vector).
pub struct Blob<'a> {
    pub info: SourceInfo,
    strings: Strings<'a>,
    records: &'a [u8],
    descriptions: &'a [u8],
}

impl<'a> Blob<'a> {
    pub fn open(blob: &'a [u8]) -> Result<Self, String> {
        let mut r = Reader { b: blob, i: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err("not a precompiled indicator set of this version".into());
        }
        let strings = r.table()?;
        let s = strings;
        let name = s.owned(r.u32()?)?;
        let sha256 = s.owned(r.u32()?)?;
        let indicators = r.usize()?;
        let malware = r.list(4, |r| s.owned(r.u32()?))?;
        let date = s.opt(r.u32()?)?.map(str::to_owned);
        let skipped = r.list(8, |r| Ok((s.owned(r.u32()?)?, s.owned(r.u32()?)?)))?;
        let per_key: BTreeMap<String, usize> = r
            .list(12, |r| Ok((s.owned(r.u32()?)?, r.usize()?)))?
            .into_iter()
            .collect();
        let records = r.counted(RECORD)?;
        for rec in records.chunks_exact(RECORD) {
            ObservableType::ALL
                .get(usize::from(rec[0]))
                .ok_or("unknown observable type")?;
            for k in 0..5 {
                let id = word(&rec[1..], k).ok_or("truncated indicator")?;
                // The malware name (the fourth string) may be absent.
                if !(k == 3 && id == NONE) {
                    s.get(id)?;
                }
            }
        }
        let descriptions = r.counted(DESCRIPTION)?;
        for d in descriptions.chunks_exact(DESCRIPTION) {
            for k in 0..3 {
                let id = word(d, k).ok_or("truncated description")?;
                if !(k > 0 && id == NONE) {
                    s.get(id)?;
                }
            }
        }
        if r.i != blob.len() {
            return Err(format!("{} bytes after the end", blob.len() - r.i));
        }
        Ok(Blob {
            info: SourceInfo {
                name,
                sha256,
                indicators,
                malware,
                date,
                skipped,
                per_key,
            },
            strings,
            records,
            descriptions,
        })
    }

    /// Indicators in the blob.
    pub fn indicator_count(&self) -> usize {
        self.records.len() / RECORD
    }

    /// Descriptions in the blob.
    pub fn description_count(&self) -> usize {
        self.descriptions.len() / DESCRIPTION
    }

    /// Indicator `i` (`i < indicator_count()`). Checked by `open`: the fallbacks here
    /// (an empty string, the first type) are never taken.
    pub fn indicator(&self, i: usize) -> Indicator {
        let rec = i
            .checked_mul(RECORD)
            .and_then(|at| self.records.get(at..))
            .and_then(|r| r.get(..RECORD))
            .unwrap_or_default();
        let at = |k: usize| self.at(rec, 1 + 4 * k);
        Indicator {
            kind: rec
                .first()
                .and_then(|&k| ObservableType::ALL.get(usize::from(k)))
                .copied()
                .unwrap_or(ObservableType::ALL[0]),
            value: at(0).unwrap_or_default().to_owned(),
            pattern: at(1).unwrap_or_default().to_owned(),
            id: at(2).unwrap_or_default().to_owned(),
            malware: at(3).map(str::to_owned),
            source: at(4).unwrap_or_default().to_owned(),
        }
    }

    /// The descriptions, in order, their text given by `keep`.
    pub fn descriptions<'k>(
        &'k self,
        keep: impl Fn(&'a str) -> Cow<'static, str> + 'k,
    ) -> impl Iterator<Item = (Cow<'static, str>, Described)> + 'k {
        self.descriptions.chunks_exact(DESCRIPTION).map(move |d| {
            (
                keep(self.at(d, 0).unwrap_or_default()),
                Described {
                    indicator: self.at(d, 4).map(&keep),
                    malware: self.at(d, 8).map(&keep),
                },
            )
        })
    }

    /// The string whose index is at `bytes[at..at + 4]`; `None` for `NONE`
    /// (and for what `open` refused).
    fn at(&self, bytes: &[u8], at: usize) -> Option<&'a str> {
        self.strings.lookup(word(bytes.get(at..)?, 0)?)
    }
}

/// The string table: the end offset of each string in `text`, as 32-bit
/// words (checked by `Reader::table`: looking a string up allocates
/// nothing, and only a bad index fails).
#[derive(Clone, Copy)]
struct Strings<'a> {
    ends: &'a [u8],
    text: &'a str,
}

/// The 32-bit word `i` of `words`.
fn word(words: &[u8], i: usize) -> Option<u32> {
    let w = words.get(i.checked_mul(4)?..)?.get(..4)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

impl<'a> Strings<'a> {
    fn lookup(&self, id: u32) -> Option<&'a str> {
        let i = id as usize;
        let end = word(self.ends, i)?;
        let start = if i == 0 { 0 } else { word(self.ends, i - 1)? };
        self.text.get(start as usize..end as usize)
    }

    fn get(&self, id: u32) -> Result<&'a str, String> {
        self.lookup(id)
            .ok_or_else(|| format!("string {id} is not in the table"))
    }

    fn owned(&self, id: u32) -> Result<String, String> {
        self.get(id).map(str::to_owned)
    }

    fn opt(&self, id: u32) -> Result<Option<&'a str>, String> {
        if id == NONE {
            Ok(None)
        } else {
            self.get(id).map(Some)
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let bytes = self
            .i
            .checked_add(n)
            .and_then(|end| self.b.get(self.i..end))
            .ok_or_else(|| format!("truncated at byte {}", self.i))?;
        self.i += n;
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let at = self.i;
        word(self.take(4)?, 0).ok_or_else(|| format!("truncated at byte {at}"))
    }

    fn usize(&mut self) -> Result<usize, String> {
        let b = self.take(8)?;
        let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(n).map_err(|_| format!("count {n} too large at byte {}", self.i))
    }

    /// The string table: the text checked as UTF-8 once, and the end
    /// offsets (each checked to be in order and on a char boundary).
    fn table(&mut self) -> Result<Strings<'a>, String> {
        let ends = self.counted(4)?;
        let len = self.u32()? as usize;
        let at = self.i;
        let text = std::str::from_utf8(self.take(len)?)
            .map_err(|e| format!("string table at byte {at}: {e}"))?;
        let mut start = 0;
        for i in 0..ends.len() / 4 {
            let end = word(ends, i).unwrap_or(NONE) as usize;
            if end < start || !text.is_char_boundary(end) {
                return Err(format!(
                    "string end {end} out of order or inside a character"
                ));
            }
            start = end;
        }
        Ok(Strings { ends, text })
    }

    /// A counted run of items of `size` bytes each.
    fn counted(&mut self, size: usize) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        n.checked_mul(size)
            .ok_or_else(|| format!("count {n} at byte {} overruns the blob", self.i - 4))
            .and_then(|len| self.take(len))
    }

    /// A counted list of items of at least `min` bytes each: the count is
    /// checked against what is left before anything is allocated.
    fn list<T>(
        &mut self,
        min: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.b.len() - self.i {
            return Err(format!(
                "count {n} at byte {} overruns the blob",
                self.i - 4
            ));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }
}
