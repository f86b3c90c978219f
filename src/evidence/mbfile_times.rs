//! The three timestamps of an `MBFile` archive (see [`super::nskeyed`]),
//! read straight from the binary plist without building its object tree:
//! a module that needs only the times of tens of thousands of Manifest
//! rows (`triangulation_timeline`) spent most of its time decoding whole
//! archives. Anything this reader does not expect (another layout, a
//! UTF-16 or repeated key, a 16-byte integer, a reference out of range)
//! gives `None`, and the caller decodes the archive in full instead. The
//! trailer and big-endian numbers are read by [`super::plist_safe`]'s own
//! functions.

use super::plist_safe::{be, trailer};

/// `LastModified`, `LastStatusChange` and `Birth` (Unix seconds) of an
/// `MBFile` blob, as [`super::nskeyed::decode_mbfile`] gives them; `None`
/// when the blob is not in the usual layout (decode it in full then).
pub fn mbfile_times(blob: &[u8]) -> Option<[Option<i64>; 3]> {
    let p = Bplist::new(blob)?;
    let top = p.object(p.top)?;
    let objects = p.dict_get(top, b"$objects").ok()??;
    let objects = p.object(objects)?;
    let top_dict = p.dict_get(top, b"$top").ok()??;
    let root = p.dict_get(p.object(top_dict)?, b"root").ok()??;
    let uid = p.uid(p.object(root)?)?;
    let (kind, count, refs) = p.header(objects)?;
    if kind != 0xA || uid >= count {
        return None;
    }
    let root = p.object(p.reference(refs, uid)?)?;
    if p.header(root)?.0 != 0xD {
        return None;
    }
    let mut out = [None; 3];
    for (slot, key) in out
        .iter_mut()
        .zip([&b"LastModified"[..], b"LastStatusChange", b"Birth"])
    {
        *slot = match p.dict_get(root, key).ok()? {
            Some(v) => p.int(p.object(v)?)?,
            None => None,
        };
    }
    Some(out)
}

/// A binary plist's trailer, checked: every offset it gives is in bounds.
struct Bplist<'a> {
    b: &'a [u8],
    /// Where the trailer starts (objects lie before it).
    end: usize,
    offset_size: usize,
    ref_size: usize,
    num: usize,
    top: usize,
    table: usize,
}

impl<'a> Bplist<'a> {
    /// The trailer as [`trailer`] checks it for every plist spydar reads,
    /// plus what this reader relies on: the magic, a top object that
    /// exists, an offset table after the header.
    fn new(b: &'a [u8]) -> Option<Self> {
        if !b.starts_with(b"bplist00") {
            return None;
        }
        let t = trailer(b).ok()?;
        let top = usize::try_from(t.top).ok()?;
        if top >= t.num || t.table < 8 {
            return None;
        }
        Some(Bplist {
            b,
            end: t.start,
            offset_size: t.offset_size,
            ref_size: t.ref_size,
            num: t.num,
            top,
            table: t.table,
        })
    }

    /// Where object `i` starts.
    fn object(&self, i: usize) -> Option<usize> {
        if i >= self.num {
            return None;
        }
        let at = self.table + i * self.offset_size;
        let off = usize::try_from(be(self.b.get(at..at + self.offset_size)?)).ok()?;
        (8..self.end).contains(&off).then_some(off)
    }

    /// An object's type nibble, its count and where its payload starts.
    fn header(&self, off: usize) -> Option<(u8, usize, usize)> {
        let marker = *self.b.get(off)?;
        let (kind, low) = (marker >> 4, marker & 0x0F);
        if low != 0x0F || matches!(kind, 0x0 | 0x1 | 0x2 | 0x3 | 0x8) {
            return Some((kind, usize::from(low), off + 1));
        }
        let len_marker = *self.b.get(off + 1)?;
        if len_marker >> 4 != 0x1 || len_marker & 0x0F > 3 {
            return None;
        }
        let width = 1usize << (len_marker & 0x03);
        let count = usize::try_from(be(self.b.get(off + 2..off + 2 + width)?)).ok()?;
        Some((kind, count, off + 2 + width))
    }

    /// The `i`-th object reference of a list starting at `refs`.
    fn reference(&self, refs: usize, i: usize) -> Option<usize> {
        let at = refs.checked_add(i.checked_mul(self.ref_size)?)?;
        let r = self.b.get(at..at.checked_add(self.ref_size)?)?;
        if at + self.ref_size > self.end {
            return None;
        }
        usize::try_from(be(r)).ok()
    }

    /// The value (object index) of `key` in the dictionary at `off`:
    /// `Ok(None)` when absent, `Err` when this reader cannot tell (a key
    /// that is no ASCII string, a key twice, a reference out of range).
    fn dict_get(&self, off: usize, key: &[u8]) -> Result<Option<usize>, ()> {
        let (kind, count, refs) = self.header(off).ok_or(())?;
        if kind != 0xD {
            return Err(());
        }
        let mut found = None;
        for i in 0..count {
            let k = self.object(self.reference(refs, i).ok_or(())?).ok_or(())?;
            let (kkind, klen, at) = self.header(k).ok_or(())?;
            if kkind != 0x5 {
                return Err(());
            }
            let text = self.b.get(at..at.checked_add(klen).ok_or(())?).ok_or(())?;
            if text == key {
                if found.is_some() {
                    return Err(());
                }
                let v = self
                    .reference(refs, count.checked_add(i).ok_or(())?)
                    .ok_or(())?;
                found = Some(v);
            }
        }
        Ok(found)
    }

    /// The value of a UID object.
    fn uid(&self, off: usize) -> Option<usize> {
        let marker = *self.b.get(off)?;
        if marker >> 4 != 0x8 {
            return None;
        }
        let len = usize::from(marker & 0x0F) + 1;
        if len > 8 {
            return None;
        }
        usize::try_from(be(self.b.get(off + 1..off + 1 + len)?)).ok()
    }

    /// An integer or real as `nskeyed`'s `as_i64` reads it: `Some(None)`
    /// for any other type, `None` when this reader cannot tell.
    fn int(&self, off: usize) -> Option<Option<i64>> {
        let marker = *self.b.get(off)?;
        let width = 1usize << (marker & 0x0F).min(7);
        let bytes = || self.b.get(off + 1..off + 1 + width);
        Some(match (marker >> 4, marker & 0x0F) {
            // 1, 2 and 4 bytes are unsigned, 8 bytes signed.
            (0x1, 0..=2) => Some(i64::try_from(be(bytes()?)).ok()?),
            (0x1, 3) => Some(be(bytes()?) as i64),
            (0x2, 2) => {
                let f = f32::from_be_bytes(bytes()?.try_into().ok()?);
                f.is_finite().then_some(f as i64)
            }
            (0x2, 3) => {
                let f = f64::from_be_bytes(bytes()?.try_into().ok()?);
                f.is_finite().then_some(f as i64)
            }
            (0x1 | 0x2, _) => return None,
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::nskeyed::{MbFile, decode_mbfile, encode_mbfile};

    #[test]
    fn same_times_as_the_full_decoder() {
        let mb = MbFile {
            size: Some(12),
            mode: Some(0o100644),
            last_modified: Some(1_700_000_000),
            last_status_change: Some(-5),
            birth: Some(42),
            relative_path: Some("Library/SMS/Attachments/a/b.jpg".into()),
            encryption_key: Some(vec![3; 44]),
            ..MbFile::default()
        };
        let blob = encode_mbfile(&mb);
        let full = decode_mbfile(&blob).unwrap();
        assert_eq!(
            mbfile_times(&blob),
            Some([full.last_modified, full.last_status_change, full.birth])
        );
        let none = encode_mbfile(&MbFile::default());
        assert_eq!(mbfile_times(&none), Some([None, None, None]));
    }

    /// Apple's own archives (MVT's sample backup) take the fast path, and
    /// give the decoder's times.
    #[test]
    #[ignore = "needs ../shared"]
    fn real_archives_are_read_without_falling_back() {
        let db = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/mvt/ios_backup/Manifest.db");
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut stmt = conn.prepare("SELECT file FROM Files").unwrap();
        let blobs: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(blobs.len() > 1000, "{}", blobs.len());
        let mut with_times = 0;
        for blob in &blobs {
            let full = decode_mbfile(blob).unwrap();
            let want = [full.last_modified, full.last_status_change, full.birth];
            assert_eq!(mbfile_times(blob), Some(want));
            with_times += usize::from(want.iter().all(Option::is_some));
        }
        assert!(with_times > 1000, "{with_times}");
    }

    #[test]
    fn unexpected_bytes_fall_back() {
        let blob = encode_mbfile(&MbFile {
            birth: Some(7),
            ..MbFile::default()
        });
        for cut in [0, 8, 39, blob.len() / 2, blob.len() - 1] {
            let _ = mbfile_times(&blob[..cut]);
        }
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0xA5;
            // Never panics; where it answers, it answers as the decoder.
            if let (Some(t), Ok(full)) = (mbfile_times(&b), decode_mbfile(&b)) {
                assert_eq!(t, [full.last_modified, full.last_status_change, full.birth]);
            }
        }
        assert_eq!(
            mbfile_times(b"not a plist at all, not even close to one"),
            None
        );
    }
}
