//! The bundled sets, precompiled: build.rs runs the parser (`Parsed::new`,
//! this crate's own source compiled into the build script) over each file
//! under `indicators/` and embeds [`encode`]'s bytes; at run time
//! [`decode`] gives back the same `Parsed` with no JSON, STIX pattern or
//! normalisation work (a few milliseconds instead of ~55 ms of CPU at every
//! start, issue 15). A test compares the two for every bundled file.
//!
//! The form: the magic `MAGIC` (which holds the version), then the source
//! info, the indicators and the descriptions, every string as a 32-bit
//! little-endian length and its UTF-8 bytes, an `Option` as a byte 0 or 1
//! before its value, a list as a 32-bit count before its items. The decoder
//! checks every length against what is left and the end of the blob, and
//! refuses (never panics on) a truncated or garbled blob.

use std::collections::BTreeMap;

use super::parsed::{Described, Parsed, SourceInfo};
use crate::model::{Indicator, ObservableType};

/// The first bytes of a blob; the last digit is the version of the form.
pub const MAGIC: &[u8; 8] = b"spydar:1";

/// The blob of one parsed bundle.
#[allow(dead_code)] // Used by build.rs and the tests.
pub fn encode(p: &Parsed) -> Vec<u8> {
    let mut w = Writer(MAGIC.to_vec());
    let info = &p.info;
    w.str(&info.name);
    w.str(&info.sha256);
    w.u64(info.indicators as u64);
    w.count(info.malware.len());
    for m in &info.malware {
        w.str(m);
    }
    w.opt(info.date.as_deref());
    w.count(info.skipped.len());
    for (pattern, reason) in &info.skipped {
        w.str(pattern);
        w.str(reason);
    }
    w.count(info.per_key.len());
    for (key, n) in &info.per_key {
        w.str(key);
        w.u64(*n as u64);
    }
    w.count(p.indicators.len());
    for ind in &p.indicators {
        let kind = ObservableType::ALL
            .iter()
            .position(|k| *k == ind.kind)
            .unwrap_or(usize::MAX);
        w.0.push(u8::try_from(kind).unwrap_or(u8::MAX));
        w.str(&ind.value);
        w.str(&ind.pattern);
        w.str(&ind.id);
        w.opt(ind.malware.as_deref());
        w.str(&ind.source);
    }
    w.count(p.descriptions.len());
    for (id, d) in &p.descriptions {
        w.str(id);
        w.opt(d.indicator.as_deref());
        w.opt(d.malware.as_deref());
    }
    w.0
}

struct Writer(Vec<u8>);

#[allow(dead_code)] // Used by build.rs and the tests.
impl Writer {
    fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    /// A length or a count; one over 4 GiB cannot be stored (nor bundled).
    fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    fn str(&mut self, s: &str) {
        self.count(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }
}

/// What [`encode`] gave, back; an error says where the blob is bad.
pub fn decode(blob: &[u8]) -> Result<Parsed, String> {
    let mut r = Reader { b: blob, i: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err("not a precompiled indicator set of this version".into());
    }
    let name = r.string()?;
    let sha256 = r.string()?;
    let indicators = r.usize()?;
    let malware = r.list(4, Reader::string)?;
    let date = r.opt()?;
    let skipped = r.list(8, |r| Ok((r.string()?, r.string()?)))?;
    let per_key: BTreeMap<String, usize> = r
        .list(12, |r| Ok((r.string()?, r.usize()?)))?
        .into_iter()
        .collect();
    let list = r.list(18, |r| {
        let kind = *ObservableType::ALL
            .get(usize::from(r.u8()?))
            .ok_or("unknown observable type")?;
        Ok(Indicator {
            kind,
            value: r.string()?,
            pattern: r.string()?,
            id: r.string()?,
            malware: r.opt()?,
            source: r.string()?,
        })
    })?;
    let descriptions = r.list(6, |r| {
        Ok((
            r.string()?,
            Described {
                indicator: r.opt()?,
                malware: r.opt()?,
            },
        ))
    })?;
    if r.i != blob.len() {
        return Err(format!("{} bytes after the end", blob.len() - r.i));
    }
    Ok(Parsed {
        info: SourceInfo {
            name,
            sha256,
            indicators,
            malware,
            date,
            skipped,
            per_key,
        },
        indicators: list,
        descriptions,
    })
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

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn usize(&mut self) -> Result<usize, String> {
        let b = self.take(8)?;
        let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(n).map_err(|_| format!("count {n} too large at byte {}", self.i))
    }

    fn string(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        let at = self.i;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| format!("string at byte {at} is not UTF-8"))
    }

    fn opt(&mut self) -> Result<Option<String>, String> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            t => Err(format!("option tag {t} at byte {}", self.i - 1)),
        }
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
