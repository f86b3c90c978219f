//! NSKeyedArchiver decoding, as far as iOS backups need it: the `MBFile`
//! object stored in each `Manifest.db` `Files.file` blob (size, mode,
//! owner, timestamps, protection class and, in encrypted backups, the
//! wrapped per-file key).
//!
//! An archive is a binary plist `{ $archiver, $top: {root: UID}, $objects: [...] }`
//! where objects refer to each other by index (`UID`). Nothing here trusts the
//! blob: every missing or mistyped key is simply absent in the result.

use plist::Value;

/// The metadata of one backed-up file, from its `MBFile` archive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MbFile {
    pub size: Option<u64>,
    /// POSIX mode bits (e.g. `0o100644` for a regular file).
    pub mode: Option<u32>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    pub inode: Option<u64>,
    /// Unix seconds.
    pub last_modified: Option<i64>,
    /// Unix seconds.
    pub last_status_change: Option<i64>,
    /// Unix seconds.
    pub birth: Option<i64>,
    /// Data-protection class (1..=11) the file's key is wrapped with.
    pub protection_class: Option<u32>,
    /// `MBFile.Flags` (not the `Files.flags` column).
    pub flags: Option<i64>,
    /// The relative path stored inside the archive.
    pub relative_path: Option<String>,
    /// Symlink target, for `Files.flags == 4`.
    pub target: Option<String>,
    /// The wrapped per-file key as stored: 4-byte little-endian protection
    /// class followed by the 40-byte RFC 3394-wrapped AES-256 key. Present in
    /// encrypted backups (and still present after decryption).
    pub encryption_key: Option<Vec<u8>>,
}

impl MbFile {
    /// The wrapped key without its 4-byte class prefix (the 40 bytes that go
    /// to the AES key unwrap), if present and long enough.
    pub fn wrapped_key(&self) -> Option<&[u8]> {
        self.encryption_key.as_deref().and_then(|k| k.get(4..))
    }
}

/// Why an archive could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum NsKeyedError {
    /// Already says "not a property list" or why the plist was refused.
    #[error("{0}")]
    Plist(String),
    #[error("not an NSKeyedArchiver archive: {0}")]
    Shape(&'static str),
}

/// Decodes an `MBFile` NSKeyedArchiver blob.
pub fn decode_mbfile(blob: &[u8]) -> Result<MbFile, NsKeyedError> {
    let value = super::plist_safe::value_from_bytes(blob)
        .map_err(|e| NsKeyedError::Plist(e.to_string()))?;
    let archive = Archive::new(&value)?;
    let root = archive
        .root()
        .ok_or(NsKeyedError::Shape("no $top.root object"))?;
    let dict = root
        .as_dictionary()
        .ok_or(NsKeyedError::Shape("root is not a dictionary"))?;
    let int = |k: &str| dict.get(k).and_then(as_i64);
    Ok(MbFile {
        size: int("Size").and_then(|v| u64::try_from(v).ok()),
        mode: int("Mode").and_then(|v| u32::try_from(v).ok()),
        user_id: int("UserID"),
        group_id: int("GroupID"),
        inode: int("InodeNumber").and_then(|v| u64::try_from(v).ok()),
        last_modified: int("LastModified"),
        last_status_change: int("LastStatusChange"),
        birth: int("Birth"),
        protection_class: int("ProtectionClass").and_then(|v| u32::try_from(v).ok()),
        flags: int("Flags"),
        relative_path: dict
            .get("RelativePath")
            .and_then(|v| archive.resolve(v))
            .and_then(|v| v.as_string())
            .map(str::to_string),
        target: dict
            .get("Target")
            .and_then(|v| archive.resolve(v))
            .and_then(|v| v.as_string())
            .map(str::to_string),
        encryption_key: dict
            .get("EncryptionKey")
            .and_then(|v| archive.resolve(v))
            .and_then(|v| archive.data(v)),
    })
}

/// A decoded archive: resolves `UID` references into `$objects`.
pub struct Archive<'a> {
    objects: &'a [Value],
    top: &'a plist::Dictionary,
}

impl<'a> Archive<'a> {
    pub fn new(value: &'a Value) -> Result<Self, NsKeyedError> {
        let dict = value
            .as_dictionary()
            .ok_or(NsKeyedError::Shape("top level is not a dictionary"))?;
        let objects = dict
            .get("$objects")
            .and_then(Value::as_array)
            .ok_or(NsKeyedError::Shape("no $objects array"))?;
        let top = dict
            .get("$top")
            .and_then(Value::as_dictionary)
            .ok_or(NsKeyedError::Shape("no $top dictionary"))?;
        Ok(Archive { objects, top })
    }

    /// The object `$top.root` points at.
    pub fn root(&self) -> Option<&'a Value> {
        self.resolve(self.top.get("root")?)
    }

    /// Follows a `UID` to its object (other values are returned as they are).
    /// `$null` resolves to `None`.
    pub fn resolve(&self, value: &'a Value) -> Option<&'a Value> {
        let out = match value {
            Value::Uid(uid) => self.objects.get(usize::try_from(uid.get()).ok()?)?,
            other => other,
        };
        match out {
            Value::String(s) if s == "$null" => None,
            v => Some(v),
        }
    }

    /// Bytes of an `NSData`/`NSMutableData` object, or a raw data value.
    pub fn data(&self, value: &'a Value) -> Option<Vec<u8>> {
        match value {
            Value::Data(d) => Some(d.clone()),
            Value::Dictionary(d) => match d.get("NS.data").and_then(|v| self.resolve(v))? {
                Value::Data(bytes) => Some(bytes.clone()),
                _ => None,
            },
            _ => None,
        }
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i
            .as_signed()
            .or_else(|| i.as_unsigned().and_then(|u| i64::try_from(u).ok())),
        Value::Real(f) if f.is_finite() => Some(*f as i64),
        _ => None,
    }
}

/// Builds an `MBFile` archive (for the fixture generator and tests), in the
/// layout iOS writes: `$objects = [$null, MBFile, relativePath, (target),
/// (NSData), class]`.
pub fn encode_mbfile(f: &MbFile) -> Vec<u8> {
    use plist::{Dictionary, Uid};
    let mut objects: Vec<Value> = vec![Value::String("$null".into())];
    let mut root = Dictionary::new();
    objects.push(Value::Boolean(false)); // placeholder for root, index 1
    let push = |objects: &mut Vec<Value>, v: Value| -> Uid {
        objects.push(v);
        Uid::new((objects.len() - 1) as u64)
    };
    let rel = push(
        &mut objects,
        Value::String(f.relative_path.clone().unwrap_or_default()),
    );
    root.insert("RelativePath".into(), Value::Uid(rel));
    if let Some(t) = &f.target {
        let t = push(&mut objects, Value::String(t.clone()));
        root.insert("Target".into(), Value::Uid(t));
    }
    if let Some(k) = &f.encryption_key {
        let mut d = Dictionary::new();
        d.insert("NS.data".into(), Value::Data(k.clone()));
        let cls_index = objects.len() as u64 + 1;
        d.insert("$class".into(), Value::Uid(Uid::new(cls_index)));
        let key = push(&mut objects, Value::Dictionary(d));
        root.insert("EncryptionKey".into(), Value::Uid(key));
        let mut c = Dictionary::new();
        c.insert("$classname".into(), Value::String("NSMutableData".into()));
        c.insert(
            "$classes".into(),
            Value::Array(vec![
                "NSMutableData".into(),
                "NSData".into(),
                "NSObject".into(),
            ]),
        );
        push(&mut objects, Value::Dictionary(c));
    }
    let ints: [(&str, Option<i64>); 10] = [
        ("LastModified", f.last_modified),
        ("Flags", f.flags.or(Some(0))),
        ("GroupID", f.group_id),
        ("LastStatusChange", f.last_status_change),
        ("Birth", f.birth),
        ("Size", f.size.map(|v| v as i64)),
        ("InodeNumber", f.inode.map(|v| v as i64)),
        ("Mode", f.mode.map(i64::from)),
        ("UserID", f.user_id),
        ("ProtectionClass", f.protection_class.map(i64::from)),
    ];
    for (k, v) in ints {
        if let Some(v) = v {
            root.insert(k.into(), Value::Integer(v.into()));
        }
    }
    let mut class = Dictionary::new();
    class.insert("$classname".into(), Value::String("MBFile".into()));
    class.insert(
        "$classes".into(),
        Value::Array(vec!["MBFile".into(), "NSObject".into()]),
    );
    let class_uid = push(&mut objects, Value::Dictionary(class));
    root.insert("$class".into(), Value::Uid(class_uid));
    objects[1] = Value::Dictionary(root);
    let mut top = Dictionary::new();
    top.insert("root".into(), Value::Uid(Uid::new(1)));
    let mut archive = Dictionary::new();
    archive.insert("$version".into(), Value::Integer(100000.into()));
    archive.insert("$archiver".into(), Value::String("NSKeyedArchiver".into()));
    archive.insert("$top".into(), Value::Dictionary(top));
    archive.insert("$objects".into(), Value::Array(objects));
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = Value::Dictionary(archive).to_writer_binary(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_key_and_target() {
        let f = MbFile {
            size: Some(1234),
            mode: Some(0o100644),
            user_id: Some(501),
            group_id: Some(501),
            inode: Some(42),
            last_modified: Some(1_610_674_669),
            last_status_change: Some(1_610_674_670),
            birth: Some(1_610_674_600),
            protection_class: Some(3),
            flags: Some(0),
            relative_path: Some("Library/SMS/sms.db".into()),
            target: Some("/var/mobile/x".into()),
            encryption_key: Some([vec![3, 0, 0, 0], vec![0xAB; 40]].concat()),
        };
        let blob = encode_mbfile(&f);
        let back = decode_mbfile(&blob).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.wrapped_key().unwrap().len(), 40);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_mbfile(b"").is_err());
        assert!(decode_mbfile(b"bplist00garbage").is_err());
        // A valid plist of the wrong shape.
        let mut out = Vec::new();
        Value::Array(vec![Value::Uid(plist::Uid::new(99))])
            .to_writer_binary(&mut out)
            .unwrap();
        assert!(decode_mbfile(&out).is_err());
    }

    #[test]
    fn dangling_uids_are_absent() {
        let mut f = MbFile {
            relative_path: Some("a".into()),
            size: Some(1),
            ..Default::default()
        };
        f.flags = Some(0);
        let blob = encode_mbfile(&f);
        let back = decode_mbfile(&blob).unwrap();
        assert_eq!(back.relative_path.as_deref(), Some("a"));
        assert_eq!(back.encryption_key, None);
    }
}
