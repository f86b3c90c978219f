//! Android system XML files (`packages.xml`, `settings_*.xml`,
//! `appops.xml`, …) as a flat list of elements, whether they are written as
//! text XML or (Android 12 and later) as ABX, AOSP's binary XML
//! (`com.android.internal.util.BinaryXmlSerializer`).
//!
//! ABX: the magic `ABX\0`, then tokens. A token byte is `type << 4 |
//! command`; commands are XmlPullParser's (`START_TAG` = 2, `END_TAG` = 3,
//! `TEXT` = 4, …, `ATTRIBUTE` = 15); types say how the value that follows is
//! written: a `u16` big-endian length and modified UTF-8 (string), a `u16`
//! index into the strings interned so far (`0xFFFF`: a new string follows,
//! appended to the table), a `u16` length and bytes (hex or base64 bytes),
//! a big-endian `i32`/`i64`/`f32`/`f64`, or nothing (null, true, false).
//!
//! Hostile input: every length is checked against the bytes left, interned
//! strings are shared (`Arc<str>`, never copied per use), and the number of
//! elements, attributes and the nesting depth are capped, so memory stays
//! a small multiple of the input. Nothing here panics on any bytes.

use std::sync::Arc;

/// `ABX\0`, then format version 0.
pub const MAGIC: &[u8; 4] = b"ABX\0";
/// Most elements one document may hold.
pub const MAX_ELEMENTS: usize = 1_000_000;
/// Most attributes over the whole document.
pub const MAX_ATTRIBUTES: usize = 4_000_000;
/// Deepest nesting accepted (AOSP's files nest under 10).
pub const MAX_DEPTH: usize = 256;
/// Most bytes of text content kept per element.
pub const MAX_TEXT: usize = 64 * 1024;

const CMD_START_DOCUMENT: u8 = 0;
const CMD_END_DOCUMENT: u8 = 1;
const CMD_START_TAG: u8 = 2;
const CMD_END_TAG: u8 = 3;
const CMD_TEXT: u8 = 4;
const CMD_CDSECT: u8 = 5;
const CMD_ENTITY_REF: u8 = 6;
const CMD_IGNORABLE_WHITESPACE: u8 = 7;
const CMD_PROCESSING_INSTRUCTION: u8 = 8;
const CMD_COMMENT: u8 = 9;
const CMD_DOCDECL: u8 = 10;
const CMD_ATTRIBUTE: u8 = 15;

const TYPE_NULL: u8 = 1;
const TYPE_STRING: u8 = 2;
const TYPE_STRING_INTERNED: u8 = 3;
const TYPE_BYTES_HEX: u8 = 4;
const TYPE_BYTES_BASE64: u8 = 5;
const TYPE_INT: u8 = 6;
const TYPE_INT_HEX: u8 = 7;
const TYPE_LONG: u8 = 8;
const TYPE_LONG_HEX: u8 = 9;
const TYPE_FLOAT: u8 = 10;
const TYPE_DOUBLE: u8 = 11;
const TYPE_BOOLEAN_TRUE: u8 = 12;
const TYPE_BOOLEAN_FALSE: u8 = 13;

/// An attribute's value as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Arc<str>),
    /// Bytes written as hex (`hex` true) or base64.
    Bytes {
        data: Vec<u8>,
        hex: bool,
    },
    Int(i64),
    /// An int or long written as hex.
    Hex(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl Value {
    /// The value as AOSP's text form shows it (what `abx2xml` prints):
    /// hex bytes in upper case, base64 without wrapping, hex ints without
    /// `0x`.
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Bytes { data, hex: true } => hex::encode_upper(data),
            Value::Bytes { data, hex: false } => base64_encode(data),
            Value::Int(n) => n.to_string(),
            Value::Hex(n) if *n < 0 => format!("-{:x}", n.unsigned_abs()),
            Value::Hex(n) => format!("{n:x}"),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
        }
    }

    /// The value as bytes: bytes as written, or a string of hex digits
    /// (text XML writes certificates that way) decoded.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes { data, .. } => Some(data.clone()),
            Value::Str(s) => hex::decode(s.trim()).ok(),
            _ => None,
        }
    }

    /// The value as an integer (a decimal string counts).
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(n) | Value::Hex(n) => Some(*n),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// One element: its name, depth (the root is 0), parent (index in
/// [`Document::elements`]), attributes and text content.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    pub name: Arc<str>,
    pub depth: usize,
    pub parent: Option<usize>,
    pub attrs: Vec<(Arc<str>, Value)>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.attrs
            .iter()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| v)
    }

    /// An attribute's text form, or "" when absent.
    pub fn attr_text(&self, name: &str) -> String {
        self.attr(name).map(Value::text).unwrap_or_default()
    }
}

/// A decoded document: its elements in document order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// ABX (`true`) or text XML.
    pub binary: bool,
    pub elements: Vec<Element>,
}

impl Document {
    /// The children of element `i` named `name`, with their indices.
    pub fn children<'a>(
        &'a self,
        i: usize,
        name: &'a str,
    ) -> impl Iterator<Item = (usize, &'a Element)> {
        let depth = self.elements.get(i).map_or(usize::MAX, |e| e.depth);
        self.elements
            .iter()
            .enumerate()
            .skip(i.saturating_add(1))
            .take_while(move |(_, e)| e.depth > depth)
            .filter(move |(_, e)| e.parent == Some(i) && e.name.as_ref() == name)
    }

    /// Every element named `name`, with its index.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (usize, &'a Element)> {
        self.elements
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.name.as_ref() == name)
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbxError {
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("unknown token 0x{token:02x} at byte {at}")]
    BadToken { token: u8, at: usize },
    #[error("interned string {index} used before it was defined (byte {at})")]
    BadIndex { index: u16, at: usize },
    #[error("end tag </{0}> does not close the open element")]
    Unbalanced(String),
    #[error("more than {0} {1}")]
    TooMany(usize, &'static str),
    #[error("not XML: {0}")]
    Xml(String),
}

/// Whether `data` is ABX.
pub fn is_abx(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// Reads an ABX or text XML document.
pub fn read(data: &[u8]) -> Result<Document, AbxError> {
    if is_abx(data) {
        decode(data)
    } else {
        read_text_xml(data)
    }
}

// ------------------------------------------------------------------- ABX

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    pool: Vec<Arc<str>>,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AbxError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or(AbxError::Truncated(self.pos))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AbxError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u16(&mut self) -> Result<u16, AbxError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn blob(&mut self) -> Result<&'a [u8], AbxError> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    fn utf(&mut self) -> Result<String, AbxError> {
        Ok(modified_utf8(self.blob()?))
    }

    fn interned(&mut self) -> Result<Arc<str>, AbxError> {
        let at = self.pos;
        let index = self.u16()?;
        if index == 0xFFFF {
            let s: Arc<str> = self.utf()?.into();
            // The table is indexed by u16: a writer never interns more.
            if self.pool.len() < 0xFFFF {
                self.pool.push(s.clone());
            }
            return Ok(s);
        }
        self.pool
            .get(index as usize)
            .cloned()
            .ok_or(AbxError::BadIndex { index, at })
    }

    fn value(&mut self, ty: u8, at: usize, token: u8) -> Result<Value, AbxError> {
        Ok(match ty {
            TYPE_NULL => Value::Null,
            TYPE_STRING => Value::Str(self.utf()?.into()),
            TYPE_STRING_INTERNED => Value::Str(self.interned()?),
            TYPE_BYTES_HEX | TYPE_BYTES_BASE64 => Value::Bytes {
                data: self.blob()?.to_vec(),
                hex: ty == TYPE_BYTES_HEX,
            },
            TYPE_INT => Value::Int(i32::from_be_bytes(self.array()?).into()),
            TYPE_INT_HEX => Value::Hex(i32::from_be_bytes(self.array()?).into()),
            TYPE_LONG => Value::Int(i64::from_be_bytes(self.array()?)),
            TYPE_LONG_HEX => Value::Hex(i64::from_be_bytes(self.array()?)),
            TYPE_FLOAT => Value::Float(f32::from_be_bytes(self.array()?).into()),
            TYPE_DOUBLE => Value::Float(f64::from_be_bytes(self.array()?)),
            TYPE_BOOLEAN_TRUE => Value::Bool(true),
            TYPE_BOOLEAN_FALSE => Value::Bool(false),
            _ => return Err(AbxError::BadToken { token, at }),
        })
    }
}

/// Builds the element list as tokens arrive.
#[derive(Default)]
struct Builder {
    doc: Document,
    open: Vec<usize>,
    attrs: usize,
}

impl Builder {
    fn start(&mut self, name: Arc<str>) -> Result<(), AbxError> {
        if self.doc.elements.len() >= MAX_ELEMENTS {
            return Err(AbxError::TooMany(MAX_ELEMENTS, "elements"));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(AbxError::TooMany(MAX_DEPTH, "levels of nesting"));
        }
        self.doc.elements.push(Element {
            name,
            depth: self.open.len(),
            parent: self.open.last().copied(),
            attrs: Vec::new(),
            text: String::new(),
        });
        self.open.push(self.doc.elements.len() - 1);
        Ok(())
    }

    fn end(&mut self, name: &str) -> Result<(), AbxError> {
        match self.open.pop() {
            Some(i) if self.doc.elements[i].name.as_ref() == name => Ok(()),
            _ => Err(AbxError::Unbalanced(name.chars().take(64).collect())),
        }
    }

    /// An attribute of the element just started (a stray one is dropped).
    fn attr(&mut self, name: Arc<str>, value: Value) -> Result<(), AbxError> {
        self.attrs += 1;
        if self.attrs > MAX_ATTRIBUTES {
            return Err(AbxError::TooMany(MAX_ATTRIBUTES, "attributes"));
        }
        if let Some(&i) = self.open.last() {
            self.doc.elements[i].attrs.push((name, value));
        }
        Ok(())
    }

    fn text(&mut self, s: &str) {
        if let Some(&i) = self.open.last() {
            let t = &mut self.doc.elements[i].text;
            for c in s.chars() {
                if t.len() + c.len_utf8() > MAX_TEXT {
                    break;
                }
                t.push(c);
            }
        }
    }
}

/// Decodes an ABX document.
pub fn decode(data: &[u8]) -> Result<Document, AbxError> {
    if !is_abx(data) {
        return Err(AbxError::BadToken {
            token: data.first().copied().unwrap_or(0),
            at: 0,
        });
    }
    let mut r = Reader {
        b: data,
        pos: MAGIC.len(),
        pool: Vec::new(),
    };
    let mut b = Builder::default();
    b.doc.binary = true;
    while r.pos < data.len() {
        let at = r.pos;
        let token = r.take(1)?[0];
        let (ty, cmd) = (token >> 4, token & 0x0f);
        match cmd {
            CMD_START_DOCUMENT => {}
            CMD_END_DOCUMENT => break,
            CMD_START_TAG => {
                let name = r.interned()?;
                b.start(name)?;
            }
            CMD_END_TAG => {
                let name = r.interned()?;
                b.end(&name)?;
            }
            CMD_ATTRIBUTE => {
                let name = r.interned()?;
                let v = r.value(ty, at, token)?;
                b.attr(name, v)?;
            }
            CMD_TEXT
            | CMD_CDSECT
            | CMD_ENTITY_REF
            | CMD_IGNORABLE_WHITESPACE
            | CMD_PROCESSING_INSTRUCTION
            | CMD_COMMENT
            | CMD_DOCDECL => {
                let v = r.value(ty, at, token)?;
                if matches!(cmd, CMD_TEXT | CMD_CDSECT | CMD_ENTITY_REF)
                    && let Value::Str(s) = v
                {
                    b.text(&s);
                }
            }
            _ => return Err(AbxError::BadToken { token, at }),
        }
    }
    Ok(b.doc)
}

/// Java's modified UTF-8 (`DataOutput.writeUTF`): UTF-8 but for NUL as
/// `C0 80` and characters beyond the BMP as two 3-byte surrogates. Plain
/// UTF-8 is taken as is; anything unreadable becomes U+FFFD.
fn modified_utf8(b: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        return s.to_string();
    }
    let mut units: Vec<u16> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let cont = |k: usize| b.get(i + k).copied().filter(|x| x & 0xC0 == 0x80);
        if c < 0x80 {
            units.push(c.into());
            i += 1;
        } else if c & 0xE0 == 0xC0
            && let Some(c1) = cont(1)
        {
            units.push((u16::from(c & 0x1F) << 6) | u16::from(c1 & 0x3F));
            i += 2;
        } else if c & 0xF0 == 0xE0
            && let (Some(c1), Some(c2)) = (cont(1), cont(2))
        {
            units.push(
                (u16::from(c & 0x0F) << 12) | (u16::from(c1 & 0x3F) << 6) | u16::from(c2 & 0x3F),
            );
            i += 3;
        } else {
            units.push(0xFFFD);
            i += 1;
        }
    }
    String::from_utf16_lossy(&units)
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (k, b)| n | (u32::from(*b) << (16 - 8 * k)));
        for k in 0..4 {
            if k <= chunk.len() {
                s.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

// -------------------------------------------------------------- text XML

/// Reads a text XML document into the same form (no DTD, no entity
/// expansion beyond XML's five).
fn read_text_xml(data: &[u8]) -> Result<Document, AbxError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(data);
    reader.config_mut().check_end_names = false;
    let mut b = Builder::default();
    let mut buf = Vec::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| AbxError::Xml(e.to_string()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name: Arc<str> = e.name().as_ref().into();
                b.start(name.clone())?;
                for a in e.attributes().with_checks(false).flatten() {
                    let key: Arc<str> = a.key.as_ref().into();
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|_| a.value.to_string());
                    b.attr(key, Value::Str(v.into()))?;
                }
                if matches!(ev, Event::Empty(_)) {
                    b.end(&name)?;
                }
            }
            Event::End(ref e) => {
                b.end(e.name().as_ref())?;
            }
            Event::Text(ref t) => {
                b.text(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
            }
            Event::CData(ref t) => b.text(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if b.doc.elements.is_empty() {
        return Err(AbxError::Xml("no element".into()));
    }
    Ok(b.doc)
}

// ----------------------------------------------------------------- writer

/// Writes ABX the way AOSP's serializer does, for fixtures and tests.
#[derive(Default)]
pub struct Writer {
    out: Vec<u8>,
    pool: Vec<String>,
}

impl Writer {
    pub fn new() -> Self {
        let mut w = Writer::default();
        w.out.extend_from_slice(MAGIC);
        w.out.push(TYPE_NULL << 4 | CMD_START_DOCUMENT);
        w
    }

    fn utf(&mut self, s: &str) {
        let b = s.as_bytes();
        let n = b.len().min(0xFFFF);
        self.out.extend_from_slice(&(n as u16).to_be_bytes());
        self.out.extend_from_slice(&b[..n]);
    }

    fn interned(&mut self, s: &str) {
        match self.pool.iter().position(|p| p == s) {
            Some(i) => self.out.extend_from_slice(&(i as u16).to_be_bytes()),
            None => {
                self.out.extend_from_slice(&0xFFFFu16.to_be_bytes());
                self.utf(s);
                self.pool.push(s.to_string());
            }
        }
    }

    pub fn start(&mut self, name: &str) -> &mut Self {
        self.out.push(TYPE_STRING_INTERNED << 4 | CMD_START_TAG);
        self.interned(name);
        self
    }

    pub fn end(&mut self, name: &str) -> &mut Self {
        self.out.push(TYPE_STRING_INTERNED << 4 | CMD_END_TAG);
        self.interned(name);
        self
    }

    /// A string attribute, interned as AOSP's `attributeInterned` does.
    pub fn attr(&mut self, name: &str, value: &str) -> &mut Self {
        self.out.push(TYPE_STRING_INTERNED << 4 | CMD_ATTRIBUTE);
        self.interned(name);
        self.interned(value);
        self
    }

    /// A string attribute written in full (`attribute`).
    pub fn attr_str(&mut self, name: &str, value: &str) -> &mut Self {
        self.out.push(TYPE_STRING << 4 | CMD_ATTRIBUTE);
        self.interned(name);
        self.utf(value);
        self
    }

    pub fn attr_int(&mut self, name: &str, v: i32) -> &mut Self {
        self.out.push(TYPE_INT << 4 | CMD_ATTRIBUTE);
        self.interned(name);
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn attr_long(&mut self, name: &str, v: i64) -> &mut Self {
        self.out.push(TYPE_LONG << 4 | CMD_ATTRIBUTE);
        self.interned(name);
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn attr_bool(&mut self, name: &str, v: bool) -> &mut Self {
        let ty = if v {
            TYPE_BOOLEAN_TRUE
        } else {
            TYPE_BOOLEAN_FALSE
        };
        self.out.push(ty << 4 | CMD_ATTRIBUTE);
        self.interned(name);
        self
    }

    pub fn attr_hex_bytes(&mut self, name: &str, v: &[u8]) -> &mut Self {
        self.out.push(TYPE_BYTES_HEX << 4 | CMD_ATTRIBUTE);
        self.interned(name);
        let n = v.len().min(0xFFFF);
        self.out.extend_from_slice(&(n as u16).to_be_bytes());
        self.out.extend_from_slice(&v[..n]);
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(TYPE_NULL << 4 | CMD_END_DOCUMENT);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new();
        w.start("packages")
            .start("package")
            .attr("name", "com.example")
            .attr_int("userId", 10123)
            .attr_long("ft", 0x18b_0000_0000)
            .attr_bool("system", false)
            .start("sigs")
            .start("cert")
            .attr_hex_bytes("key", &[0x30, 0x82, 0xab])
            .end("cert")
            .end("sigs")
            .end("package")
            .start("package")
            .attr("name", "com.example")
            .end("package")
            .end("packages");
        w.finish()
    }

    #[test]
    fn decodes_what_the_writer_wrote() {
        let d = read(&sample()).unwrap();
        assert!(d.binary);
        let names: Vec<_> = d.elements.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(names, ["packages", "package", "sigs", "cert", "package"]);
        let p = &d.elements[1];
        assert_eq!(p.attr_text("name"), "com.example");
        assert_eq!(p.attr("userId").and_then(Value::int), Some(10123));
        assert_eq!(p.attr_text("system"), "false");
        assert_eq!(d.elements[3].attr_text("key"), "3082AB");
        assert_eq!(d.elements[3].parent, Some(2));
        assert_eq!(d.elements[4].attr_text("name"), "com.example");
        assert_eq!(d.children(1, "sigs").count(), 1);
    }

    #[test]
    fn text_xml_reads_the_same() {
        let x = br#"<?xml version='1.0' encoding='utf-8' standalone='yes' ?>
<packages><package name="com.example" userId="10123"><sigs count="1"><cert index="0" key="3082ab" /></sigs></package></packages>"#;
        let d = read(x).unwrap();
        assert!(!d.binary);
        assert_eq!(
            d.elements[1].attr("userId").and_then(Value::int),
            Some(10123)
        );
        assert_eq!(
            d.elements[3].attr("key").and_then(|v| v.bytes()),
            Some(vec![0x30, 0x82, 0xab])
        );
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let s = sample();
        for n in 0..s.len() {
            let _ = read(&s[..n]);
        }
        assert!(matches!(
            decode(b"ABX\0\x32\x00\x05"),
            Err(AbxError::BadIndex { .. })
        ));
        assert!(matches!(
            decode(b"ABX\0\x0e"),
            Err(AbxError::BadToken { .. })
        ));
    }

    #[test]
    fn a_reused_interned_string_is_not_copied() {
        // One 60 KB name, then 10,000 attributes naming it by index.
        let mut w = Writer::new();
        let big = "x".repeat(60_000);
        w.start("a").attr(&big, &big);
        for _ in 0..10_000 {
            w.attr(&big, &big);
        }
        w.end("a");
        let d = decode(&w.finish()).unwrap();
        let a = &d.elements[0].attrs;
        assert_eq!(a.len(), 10_001);
        assert!(Arc::ptr_eq(
            &a[0].1.clone().str_arc(),
            &a[9_999].1.clone().str_arc()
        ));
    }

    #[test]
    fn modified_utf8_nul_and_surrogates() {
        assert_eq!(modified_utf8(b"a\xc0\x80b"), "a\0b");
        // U+1F600 as two 3-byte surrogates.
        assert_eq!(modified_utf8(b"\xed\xa0\xbd\xed\xb8\x80"), "\u{1F600}");
        assert_eq!(modified_utf8(b"\xff"), "\u{FFFD}");
        assert_eq!(base64_encode(b"abcd"), "YWJjZA==");
    }

    impl Value {
        fn str_arc(self) -> Arc<str> {
            match self {
                Value::Str(s) => s,
                _ => panic!("not a string"),
            }
        }
    }
}
