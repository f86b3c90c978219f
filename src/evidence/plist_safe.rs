//! Every property list spydar reads goes through here.
//!
//! The `plist` crate builds values without recursion, but dropping,
//! cloning or deserialising a value recurses once per nesting level: a
//! plist nested 100,000 deep (a few hundred KB of `<array>`) overflows the
//! stack and aborts the whole process. A binary plist can also share one
//! container between many parents, so a few KB expand to gigabytes.
//!
//! So before the crate sees the bytes, a cheap scan measures the nesting
//! depth (XML and the old ASCII format: by their tokens; binary: by walking
//! the object table without recursion) and, for binary plists, the size the
//! expanded tree would have. Deeper than [`MAX_DEPTH`] or larger than
//! [`max_expanded_bytes`] is refused with a one-line error.

use std::io::Cursor;
use std::path::Path;

use plist::Value;
use serde::de::DeserializeOwned;

/// Deepest nesting of arrays and dictionaries accepted. Apple's plists
/// nest a few dozen levels at most; 256 levels still deserialise within a
/// 2 MiB worker-thread stack in a debug build (512 do not).
pub const MAX_DEPTH: usize = 256;

/// Largest property-list file read from disk.
pub const MAX_PLIST_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The most a binary plist may expand to (shared references counted once
/// per use): 32 times its size plus 64 MiB.
pub fn max_expanded_bytes(input_len: usize) -> u64 {
    (input_len as u64).saturating_mul(32) + 64 * 1024 * 1024
}

/// Why a property list was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlistError {
    #[error("property list nested deeper than {MAX_DEPTH} levels (refused)")]
    TooDeep,
    #[error("binary property list whose shared objects expand to more than {0} bytes (refused)")]
    TooLarge(u64),
    #[error("not a property list: malformed binary plist ({0})")]
    Malformed(&'static str),
    #[error("not a property list: {0}")]
    Parse(#[from] plist::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How the bytes may be handed to the crate.
enum Route {
    /// Any format (what `Value::from_reader` detects).
    Any,
    /// Only as XML: the bytes start like XML and are shallow as XML, but
    /// read as the old ASCII format they would be too deep.
    XmlOnly,
}

/// Parses a property list (binary, XML or ASCII) into a value, refusing
/// input that is too deep or expands too much.
pub fn value_from_bytes(bytes: &[u8]) -> Result<Value, PlistError> {
    match check(bytes)? {
        Route::Any => Ok(Value::from_reader(Cursor::new(bytes))?),
        Route::XmlOnly => Ok(Value::from_reader_xml(bytes)?),
    }
}

/// Deserialises a property list into `T`, with the same guard.
pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PlistError> {
    match check(bytes)? {
        Route::Any => Ok(plist::from_bytes(bytes)?),
        Route::XmlOnly => Ok(plist::from_reader_xml(bytes)?),
    }
}

/// Reads a property-list file inside evidence: a regular file, never a
/// link, at most [`MAX_PLIST_FILE_BYTES`].
pub fn value_from_file(path: &Path) -> Result<Value, PlistError> {
    let file = super::open_regular_nofollow(path)?;
    let bytes = super::read_capped(file, MAX_PLIST_FILE_BYTES)?;
    value_from_bytes(&bytes)
}

fn check(bytes: &[u8]) -> Result<Route, PlistError> {
    if bytes.starts_with(b"bplist00") {
        check_binary(bytes)?;
        return Ok(Route::Any);
    }
    let ascii = ascii_depth(bytes);
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let starts_xml = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<');
    if !starts_xml {
        return if ascii > MAX_DEPTH {
            Err(PlistError::TooDeep)
        } else {
            Ok(Route::Any)
        };
    }
    // `<plist>` and leaf elements add two levels to the container depth.
    if xml_depth(bytes)? > MAX_DEPTH + 2 {
        return Err(PlistError::TooDeep);
    }
    // The crate falls back to the ASCII format when the first XML event
    // fails; reading as XML only keeps that fallback out.
    Ok(if ascii > MAX_DEPTH {
        Route::XmlOnly
    } else {
        Route::Any
    })
}

/// Upper bound of the element depth of an XML document, as quick-xml (the
/// crate's parser) would see it. Every `<` that opens a tag counts as a
/// start wherever it is (also inside comments: over-counting only makes
/// the guard stricter); an end tag counts only outside comments, CDATA,
/// processing instructions and quoted attribute values, whose extent is
/// taken generously.
fn xml_depth(b: &[u8]) -> Result<usize, PlistError> {
    let find = |from: usize, pat: &[u8]| -> usize {
        memchr::memmem::find(&b[from.min(b.len())..], pat).map_or(b.len(), |i| from + i + pat.len())
    };
    let mut depth: usize = 0;
    let mut max = 0usize;
    let mut i = 0usize;
    while let Some(off) = memchr::memchr(b'<', &b[i..]) {
        let at = i + off;
        let rest = &b[at..];
        if rest.starts_with(b"<!--") {
            // Starts hidden in the comment still count.
            let end = find(at + 4, b"-->");
            depth += count_starts(&b[at + 4..end.min(b.len())]);
            max = max.max(depth);
            i = end;
        } else if rest.starts_with(b"<![CDATA[") {
            let end = find(at + 9, b"]]>");
            depth += count_starts(&b[at + 9..end.min(b.len())]);
            max = max.max(depth);
            i = end;
        } else if rest.starts_with(b"<?") {
            let end = find(at + 2, b"?>");
            depth += count_starts(&b[at + 2..end.min(b.len())]);
            max = max.max(depth);
            i = end;
        } else if rest.starts_with(b"<!") {
            // DOCTYPE and other declarations: Apple's has no `<` inside;
            // one that has could hide markup, so it is refused.
            let end = find(at + 2, b">");
            if memchr::memchr(b'<', &b[at + 2..end.min(b.len())]).is_some() {
                return Err(PlistError::Malformed("XML declaration with nested markup"));
            }
            i = end;
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = at + 2;
        } else {
            let (end, self_closing) = tag_end(b, at + 1);
            if !self_closing {
                depth += 1;
                max = max.max(depth);
            }
            i = end;
        }
        if i >= b.len() {
            break;
        }
    }
    Ok(max)
}

/// Tag starts (`<` not followed by `/`) in a skipped region.
fn count_starts(region: &[u8]) -> usize {
    region
        .windows(2)
        .filter(|w| w[0] == b'<' && w[1] != b'/')
        .count()
}

/// End of a start tag beginning at `from` (after `<`), aware of quoted
/// attribute values, and whether it closes itself (`/>`).
fn tag_end(b: &[u8], from: usize) -> (usize, bool) {
    let mut quote: Option<u8> = None;
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return (i + 1, i > from && b[i - 1] == b'/'),
            None => {}
        }
        i += 1;
    }
    (b.len(), false)
}

/// Nesting depth of the input read as an old-style (OpenStep/ASCII)
/// plist, tokenised exactly as the crate's ASCII reader does.
fn ascii_depth(b: &[u8]) -> usize {
    let mut depth: usize = 0;
    let mut max = 0usize;
    let mut i = 0usize;
    let unquoted_end = |mut i: usize| -> usize {
        while i < b.len() && !matches!(b[i], b' ' | b')' | b'\r' | b'\t' | b';' | b',') {
            i += 1;
        }
        i
    };
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'(' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b'}' => depth = depth.saturating_sub(1),
            b'\'' | b'"' => {
                // Quoted string: to the matching quote; a backslash takes
                // the next byte with it.
                while i < b.len() && b[i] != c {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' => match b.get(i) {
                Some(b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                Some(b'*') => {
                    // The crate's block comment, step by step: it ends at a
                    // `*` followed by `/` (so `/*/` is a whole comment), and
                    // a `*` followed by anything else swallows that byte.
                    let mut latest = b' ';
                    loop {
                        if latest == b'*' {
                            let next = b.get(i).copied();
                            i += 1;
                            if next.is_none_or(|c| c == b'/') {
                                break;
                            }
                        }
                        match b.get(i) {
                            Some(&c) => {
                                latest = c;
                                i += 1;
                            }
                            None => break,
                        }
                    }
                }
                Some(_) => i = unquoted_end(i),
                None => {}
            },
            b',' | b';' | b'=' | b' ' | b'\r' | b'\t' | b'\n' => {}
            _ => i = unquoted_end(i),
        }
    }
    max
}

/// A big-endian unsigned number of 0 to 8 bytes.
pub(crate) fn be(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// A binary plist's trailer, checked: where it starts, the offset and
/// reference sizes, the object count, the top object and the offset table.
pub(crate) struct Trailer {
    pub start: usize,
    pub offset_size: usize,
    pub ref_size: usize,
    pub num: usize,
    pub top: u64,
    pub table: usize,
}

pub(crate) fn trailer(b: &[u8]) -> Result<Trailer, PlistError> {
    use PlistError::Malformed;
    if b.len() < 8 + 32 {
        return Err(Malformed("too short"));
    }
    let start = b.len() - 32;
    let t = &b[start..];
    let offset_size = t[6] as usize;
    let ref_size = t[7] as usize;
    if !matches!(offset_size, 1..=4 | 8) || !matches!(ref_size, 1..=4 | 8) {
        return Err(Malformed("bad trailer"));
    }
    let num = be(&t[8..16]);
    let top = be(&t[16..24]);
    let table = be(&t[24..32]);
    num.checked_mul(offset_size as u64)
        .and_then(|n| n.checked_add(table))
        .filter(|&e| e <= start as u64)
        .ok_or(Malformed("offset table out of range"))?;
    Ok(Trailer {
        start,
        offset_size,
        ref_size,
        num: num as usize,
        top,
        table: table as usize,
    })
}

/// Walks a binary plist's object graph from the top object without
/// recursion: refuses cycles, nesting deeper than [`MAX_DEPTH`] and
/// expansion past [`max_expanded_bytes`].
fn check_binary(b: &[u8]) -> Result<(), PlistError> {
    use PlistError::Malformed;
    let Trailer {
        start: trailer_start,
        offset_size,
        ref_size,
        num: n,
        top,
        table,
    } = trailer(b)?;
    let offset_of = |idx: usize| -> Result<usize, PlistError> {
        let at = table + idx * offset_size;
        let off = be(&b[at..at + offset_size]) as usize;
        if off >= trailer_start {
            return Err(Malformed("object offset out of range"));
        }
        Ok(off)
    };
    let read_len = |pos: usize, low: u8| -> Result<(u64, usize), PlistError> {
        if low != 0x0f {
            return Ok((u64::from(low), pos));
        }
        let marker = *b.get(pos).ok_or(Malformed("length out of range"))?;
        let width = 1usize << (marker & 0x03);
        let bytes = b
            .get(pos + 1..pos + 1 + width)
            .ok_or(Malformed("length out of range"))?;
        Ok((be(bytes), pos + 1 + width))
    };
    let cap = max_expanded_bytes(b.len());

    // Per object: 0 unseen, 1 on the walk's path, 2 done.
    let mut state = vec![0u8; n];
    let mut height = vec![0u32; n];
    let mut weight = vec![0u64; n];

    struct Frame {
        obj: usize,
        refs_at: usize,
        count: u64,
        next: u64,
        height: u32,
        weight: u64,
    }

    // Scalars are sized at once; containers become frames.
    let open = |obj: usize| -> Result<Result<Frame, u64>, PlistError> {
        let off = offset_of(obj)?;
        let token = b[off];
        let (ty, low) = (token >> 4, token & 0x0f);
        Ok(match ty {
            0xa | 0xd => {
                let (len, refs_at) = read_len(off + 1, low)?;
                let count = if ty == 0xd {
                    len.saturating_mul(2)
                } else {
                    len
                };
                let end = count
                    .checked_mul(ref_size as u64)
                    .and_then(|x| x.checked_add(refs_at as u64))
                    .ok_or(Malformed("container out of range"))?;
                if end > trailer_start as u64 {
                    return Err(Malformed("container out of range"));
                }
                Ok(Frame {
                    obj,
                    refs_at,
                    count,
                    next: 0,
                    height: 1,
                    weight: 32,
                })
            }
            0x4 | 0x5 => Err(read_len(off + 1, low)?.0.saturating_add(32)),
            0x6 => Err(read_len(off + 1, low)?
                .0
                .saturating_mul(3)
                .saturating_add(32)),
            _ => Err(32),
        })
    };

    let top = usize::try_from(top)
        .ok()
        .filter(|&t| t < n)
        .ok_or(Malformed("top object out of range"))?;
    let mut stack: Vec<Frame> = Vec::new();
    match open(top)? {
        Ok(f) => {
            state[top] = 1;
            stack.push(f);
        }
        Err(w) if w > cap => return Err(PlistError::TooLarge(cap)),
        Err(_) => return Ok(()),
    }
    while let Some(frame) = stack.last_mut() {
        if frame.next == frame.count {
            let done = stack.pop().expect("frame present");
            state[done.obj] = 2;
            height[done.obj] = done.height;
            weight[done.obj] = done.weight;
            if done.height as usize > MAX_DEPTH {
                return Err(PlistError::TooDeep);
            }
            if done.weight > cap {
                return Err(PlistError::TooLarge(cap));
            }
            if let Some(parent) = stack.last_mut() {
                parent.height = parent.height.max(done.height + 1);
                parent.weight = parent.weight.saturating_add(done.weight.saturating_add(8));
            }
            continue;
        }
        let at = frame.refs_at + frame.next as usize * ref_size;
        frame.next += 1;
        let child = usize::try_from(be(&b[at..at + ref_size]))
            .ok()
            .filter(|&c| c < n)
            .ok_or(Malformed("object reference out of range"))?;
        match state[child] {
            1 => return Err(Malformed("an object contains itself")),
            2 => {
                frame.height = frame.height.max(height[child] + 1);
                frame.weight = frame.weight.saturating_add(weight[child].saturating_add(8));
                if frame.weight > cap {
                    return Err(PlistError::TooLarge(cap));
                }
            }
            _ => match open(child)? {
                Ok(f) => {
                    if stack.len() > MAX_DEPTH {
                        return Err(PlistError::TooDeep);
                    }
                    state[child] = 1;
                    stack.push(f);
                }
                Err(w) => {
                    state[child] = 2;
                    weight[child] = w;
                    frame.weight = frame.weight.saturating_add(w.saturating_add(8));
                    if frame.weight > cap {
                        return Err(PlistError::TooLarge(cap));
                    }
                }
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::hostile::{
        nested_binary_plist as nested_binary, nested_xml_plist as nested_xml,
    };

    #[test]
    fn deep_xml_is_refused_shallow_is_read() {
        assert!(matches!(
            value_from_bytes(&nested_xml(100_000)),
            Err(PlistError::TooDeep)
        ));
        assert!(value_from_bytes(&nested_xml(MAX_DEPTH)).is_ok());
    }

    #[test]
    fn deep_binary_is_refused_shallow_is_read() {
        assert!(matches!(
            value_from_bytes(&nested_binary(100_000)),
            Err(PlistError::TooDeep)
        ));
        let ok = nested_binary(MAX_DEPTH);
        assert!(value_from_bytes(&ok).is_ok(), "{:?}", value_from_bytes(&ok));
        assert!(value_from_bytes(&nested_binary(150)).is_ok());
    }

    #[test]
    fn deep_ascii_is_refused() {
        let deep = format!("{}{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(matches!(
            value_from_bytes(deep.as_bytes()),
            Err(PlistError::TooDeep)
        ));
        assert!(value_from_bytes(b"{ a = (1, 2, \"x)\"); }").is_ok());
        // Strings and comments do not hide nesting.
        let hidden = format!("/* ) */ \"))\" {}", "(".repeat(300));
        assert!(matches!(
            value_from_bytes(hidden.as_bytes()),
            Err(PlistError::TooDeep)
        ));
    }

    #[test]
    fn xml_comments_do_not_hide_nesting() {
        let mut s = String::from("<plist>");
        for _ in 0..300 {
            s.push_str("<array><!-- </array> -->");
        }
        s.push_str(&"</array>".repeat(300));
        s.push_str("</plist>");
        assert!(matches!(
            value_from_bytes(s.as_bytes()),
            Err(PlistError::TooDeep)
        ));
    }

    #[test]
    fn shared_containers_that_expand_are_refused() {
        // Object i is an array holding object i+1 twice: 2^60 leaves.
        let depth = 60usize;
        let mut out = b"bplist00".to_vec();
        let mut offsets = Vec::new();
        for i in 0..depth {
            offsets.push(out.len() as u8);
            if i + 1 == depth {
                out.extend_from_slice(&[0x5f, 0x10, 200]);
                out.extend(std::iter::repeat_n(b'x', 200));
            } else {
                out.extend_from_slice(&[0xa2, (i + 1) as u8, (i + 1) as u8]);
            }
        }
        let table = out.len() as u64;
        let offsets: Vec<u16> = offsets.into_iter().map(u16::from).collect();
        // Offsets may exceed a byte once the string is in; use 2 bytes.
        for o in &offsets {
            out.extend_from_slice(&o.to_be_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 1]);
        out.extend_from_slice(&(depth as u64).to_be_bytes());
        out.extend_from_slice(&0u64.to_be_bytes());
        out.extend_from_slice(&table.to_be_bytes());
        assert!(matches!(
            value_from_bytes(&out),
            Err(PlistError::TooLarge(_))
        ));
    }

    #[test]
    fn ordinary_plists_and_typed_reads() {
        let mut d = plist::Dictionary::new();
        d.insert("a".into(), Value::String("b".into()));
        let v = Value::Dictionary(d);
        let mut bin = Vec::new();
        v.to_writer_binary(&mut bin).unwrap();
        let mut xml = Vec::new();
        v.to_writer_xml(&mut xml).unwrap();
        assert_eq!(value_from_bytes(&bin).unwrap(), v);
        assert_eq!(value_from_bytes(&xml).unwrap(), v);
        let m: std::collections::BTreeMap<String, String> = from_bytes(&xml).unwrap();
        assert_eq!(m["a"], "b");
        assert!(matches!(
            value_from_bytes(b"bplist00 garbage"),
            Err(PlistError::Malformed(_))
        ));
    }

    #[test]
    fn depth_limit_fits_a_worker_stack() {
        // Values at the limit are dropped and deserialised on a thread with
        // rayon's default 2 MiB stack.
        let xml = nested_xml(MAX_DEPTH);
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let v = value_from_bytes(&xml).unwrap();
                let _typed: Value = from_bytes(&xml).unwrap();
                drop(v.clone());
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
