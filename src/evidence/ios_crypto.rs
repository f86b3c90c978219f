//! The cryptography of encrypted iOS backups (iTunes, Finder,
//! libimobiledevice), as pure functions over bytes.
//!
//! The chain, from the password to a file's plaintext:
//! 1. `Manifest.plist` holds `BackupKeyBag`, a tag-length-value blob
//!    ([`KeyBag::parse`]) with the KDF parameters and the wrapped class keys.
//! 2. The password gives a 32-byte key ([`derive_key`]): since iOS 10.2
//!    PBKDF2-HMAC-SHA256 (`DPSL`, `DPIC`, usually 10,000,000 rounds) then
//!    PBKDF2-HMAC-SHA1 (`SALT`, `ITER`); before, the SHA-1 stage only.
//! 3. That key unwraps each class key (RFC 3394 AES key wrap). The wrap has
//!    an integrity check, so a wrong password fails here, right after the
//!    derivation, and nowhere later ([`KeyBag::unlock`]).
//! 4. `ManifestKey` (4-byte little-endian class, then a 40-byte wrapped key)
//!    opens `Manifest.db`, AES-256-CBC with a zero IV.
//! 5. Each file's `MBFile.EncryptionKey` (same 44-byte shape) opens that
//!    file, AES-256-CBC with a zero IV, trimmed to the recorded `Size`.
//!
//! Every key is held in a [`Zeroizing`] buffer and wiped when dropped.
//! Nothing here touches the disk except [`save_key`] / [`load_key`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use aes_kw::{KeyInit, KwAes256};
use cbc::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, consts::U16, consts::U32};
use zeroize::Zeroizing;

/// Length of every AES key in a backup (AES-256).
pub const KEY_LEN: usize = 32;
/// Length of an RFC 3394 wrapped 32-byte key.
pub const WRAPPED_LEN: usize = 40;
/// A key in memory, wiped on drop.
pub type Key = Zeroizing<[u8; KEY_LEN]>;

/// Class-key wrap flags (the keybag's `WRAP` field).
pub const WRAP_DEVICE: u32 = 1;
pub const WRAP_PASSCODE: u32 = 2;

/// Largest keybag accepted (real ones are about 1.5 KB).
const MAX_KEYBAG: usize = 64 * 1024;
/// Iteration counts above this are refused rather than computed for hours.
/// Apple uses 10,000,000 for the SHA-256 stage and 10,000 for SHA-1.
pub const MAX_ITERATIONS: u32 = 200_000_000;

/// What can go wrong in the crypto layer. Callers add the file path.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("malformed BackupKeyBag: {0}")]
    Keybag(String),
    /// The class-key unwrap failed its integrity check.
    #[error("wrong password (the backup's class keys do not unwrap)")]
    WrongPassword,
    #[error("no unwrapped key for protection class {0}")]
    NoClassKey(u32),
    #[error("malformed wrapped key: {0}")]
    WrappedKey(String),
    #[error("ciphertext of {0} bytes is not a whole number of AES blocks")]
    NotBlockAligned(u64),
    #[error("decrypted {have} bytes but the manifest records {want}")]
    ShortCiphertext { have: u64, want: u64 },
    /// A key file that cannot be written or read (the caller names it).
    #[error("{0}")]
    KeyFile(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One class key record of the keybag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassKeyRecord {
    pub uuid: Vec<u8>,
    /// Protection class (`CLAS`).
    pub class: u32,
    /// `WRAP`: bit 0 device-bound, bit 1 passcode (here: backup password).
    pub wrap: u32,
    /// `KTYP`: 0 AES, 1 Curve25519.
    pub key_type: u32,
    /// `WPKY`: the wrapped key.
    pub wrapped: Vec<u8>,
}

/// Parameters of the password-to-key derivation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// `SALT` and `ITER`: the PBKDF2-HMAC-SHA1 stage.
    pub salt: Vec<u8>,
    pub iter: u32,
    /// `DPSL` and `DPIC`: the PBKDF2-HMAC-SHA256 stage (iOS 10.2 and later).
    pub double_protection: Option<(Vec<u8>, u32)>,
}

/// The parsed `BackupKeyBag`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyBag {
    pub version: u32,
    /// `TYPE`: 1 for a backup keybag.
    pub kind: u32,
    pub uuid: Vec<u8>,
    pub hmck: Vec<u8>,
    pub wrap: u32,
    pub salt: Vec<u8>,
    pub iter: u32,
    pub dpwt: Option<u32>,
    pub dpic: Option<u32>,
    pub dpsl: Option<Vec<u8>>,
    pub class_keys: Vec<ClassKeyRecord>,
}

fn be_u32(value: &[u8], tag: &str) -> Result<u32, CryptoError> {
    <[u8; 4]>::try_from(value)
        .map(u32::from_be_bytes)
        .map_err(|_| CryptoError::Keybag(format!("{tag} is {} bytes, expected 4", value.len())))
}

impl KeyBag {
    /// Parses the TLV blob: `tag (4 ASCII bytes) | length (u32 BE) | value`.
    /// The first `UUID` is the keybag's; each later `UUID` opens a class-key
    /// record that takes the `CLAS`/`WRAP`/`KTYP`/`WPKY` after it.
    pub fn parse(blob: &[u8]) -> Result<KeyBag, CryptoError> {
        if blob.len() > MAX_KEYBAG {
            return Err(CryptoError::Keybag(format!(
                "{} bytes is too large",
                blob.len()
            )));
        }
        let mut bag = KeyBag::default();
        let mut current: Option<ClassKeyRecord> = None;
        let mut seen_uuid = false;
        let mut rest = blob;
        while !rest.is_empty() {
            if rest.len() < 8 {
                return Err(CryptoError::Keybag(format!(
                    "{} trailing bytes",
                    rest.len()
                )));
            }
            let tag = String::from_utf8_lossy(&rest[..4]).into_owned();
            let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
            let value = rest.get(8..8usize.saturating_add(len)).ok_or_else(|| {
                CryptoError::Keybag(format!("{tag} claims {len} bytes past the end"))
            })?;
            rest = &rest[8 + len..];
            if tag == "UUID" {
                if !seen_uuid {
                    seen_uuid = true;
                    bag.uuid = value.to_vec();
                } else {
                    bag.class_keys.extend(current.take());
                    current = Some(ClassKeyRecord {
                        uuid: value.to_vec(),
                        ..Default::default()
                    });
                }
                continue;
            }
            if let Some(class_key) = current.as_mut() {
                match tag.as_str() {
                    "CLAS" => class_key.class = be_u32(value, "CLAS")?,
                    "WRAP" => class_key.wrap = be_u32(value, "WRAP")?,
                    "KTYP" => class_key.key_type = be_u32(value, "KTYP")?,
                    "WPKY" => class_key.wrapped = value.to_vec(),
                    _ => {} // PBKY and future tags: not needed off-device.
                }
                continue;
            }
            match tag.as_str() {
                "VERS" => bag.version = be_u32(value, "VERS")?,
                "TYPE" => bag.kind = be_u32(value, "TYPE")?,
                "HMCK" => bag.hmck = value.to_vec(),
                "WRAP" => bag.wrap = be_u32(value, "WRAP")?,
                "SALT" => bag.salt = value.to_vec(),
                "ITER" => bag.iter = be_u32(value, "ITER")?,
                "DPWT" => bag.dpwt = Some(be_u32(value, "DPWT")?),
                "DPIC" => bag.dpic = Some(be_u32(value, "DPIC")?),
                "DPSL" => bag.dpsl = Some(value.to_vec()),
                _ => {}
            }
        }
        bag.class_keys.extend(current.take());
        if bag.salt.is_empty() || bag.iter == 0 {
            return Err(CryptoError::Keybag("no SALT/ITER".into()));
        }
        if bag.class_keys.is_empty() {
            return Err(CryptoError::Keybag("no class keys".into()));
        }
        bag.kdf_params()?;
        Ok(bag)
    }

    /// The derivation parameters. The SHA-256 stage applies when the keybag
    /// carries `DPSL` and `DPIC` (iOS 10.2 and later write both).
    pub fn kdf_params(&self) -> Result<KdfParams, CryptoError> {
        let double = match (&self.dpsl, self.dpic) {
            (Some(salt), Some(iter)) if iter > 0 => Some((salt.clone(), iter)),
            (None, None) => None,
            _ => return Err(CryptoError::Keybag("DPSL without DPIC, or DPIC 0".into())),
        };
        for n in std::iter::once(self.iter).chain(double.as_ref().map(|d| d.1)) {
            if n > MAX_ITERATIONS {
                return Err(CryptoError::Keybag(format!(
                    "implausible iteration count {n}"
                )));
            }
        }
        Ok(KdfParams {
            salt: self.salt.clone(),
            iter: self.iter,
            double_protection: double,
        })
    }

    /// Unwraps every password-wrapped class key with the derived key. The
    /// first integrity-check failure means the password (or key file) is
    /// wrong.
    pub fn unlock(&self, derived: &Key) -> Result<ClassKeys, CryptoError> {
        let mut keys = BTreeMap::new();
        for record in &self.class_keys {
            if record.wrap & WRAP_PASSCODE == 0 || record.wrapped.is_empty() {
                continue; // device-bound: cannot be opened off the phone
            }
            let key = unwrap(derived, &record.wrapped).map_err(|e| match e {
                CryptoError::WrappedKey(_) if record.wrapped.len() == WRAPPED_LEN => {
                    CryptoError::WrongPassword
                }
                other => other,
            })?;
            // A key wrapped with the device key as well stays unusable here.
            if record.wrap == WRAP_PASSCODE {
                keys.insert(record.class, key);
            }
        }
        if keys.is_empty() {
            return Err(CryptoError::Keybag("no password-wrapped class keys".into()));
        }
        Ok(ClassKeys { keys })
    }
}

/// Password → key. Pure, deterministic, and as slow as the parameters say:
/// with Apple's 10,000,000 SHA-256 rounds this is the one slow step.
pub fn derive_key(password: &[u8], params: &KdfParams) -> Key {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    match &params.double_protection {
        Some((dpsl, dpic)) => {
            let mut stage1 = Zeroizing::new([0u8; KEY_LEN]);
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, dpsl, (*dpic).max(1), stage1.as_mut());
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                stage1.as_ref(),
                &params.salt,
                params.iter.max(1),
                out.as_mut(),
            );
        }
        None => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
            password,
            &params.salt,
            params.iter.max(1),
            out.as_mut(),
        ),
    }
    out
}

/// RFC 3394 unwrap of a 40-byte blob into a 32-byte key.
pub fn unwrap(kek: &Key, wrapped: &[u8]) -> Result<Key, CryptoError> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(CryptoError::WrappedKey(format!(
            "{} bytes, expected {WRAPPED_LEN}",
            wrapped.len()
        )));
    }
    let kw = KwAes256::new_from_slice(kek.as_ref())
        .map_err(|e| CryptoError::WrappedKey(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    kw.unwrap_key(wrapped, out.as_mut())
        .map_err(|_| CryptoError::WrappedKey("integrity check failed".into()))?;
    Ok(out)
}

/// RFC 3394 wrap of a 32-byte key (the encryption side, for the generator).
pub fn wrap(kek: &Key, key: &Key) -> [u8; WRAPPED_LEN] {
    let mut out = [0u8; WRAPPED_LEN];
    if let Ok(kw) = KwAes256::new_from_slice(kek.as_ref()) {
        // Lengths are fixed here, so wrapping cannot fail.
        let _ = kw.wrap_key(key.as_ref(), &mut out);
    }
    out
}

/// The unwrapped class keys of an unlocked keybag.
pub struct ClassKeys {
    keys: BTreeMap<u32, Key>,
}

impl std::fmt::Debug for ClassKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClassKeys(classes {:?})",
            self.keys.keys().collect::<Vec<_>>()
        )
    }
}

impl ClassKeys {
    /// Builds the set from known keys (generator and tests).
    pub fn from_keys(keys: BTreeMap<u32, Key>) -> Self {
        ClassKeys { keys }
    }

    pub fn classes(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.keys().copied()
    }

    /// Unwraps a 40-byte wrapped key with the key of `class`.
    pub fn unwrap_for_class(&self, class: u32, wrapped: &[u8]) -> Result<Key, CryptoError> {
        let kek = self
            .keys
            .get(&class)
            .ok_or(CryptoError::NoClassKey(class))?;
        unwrap(kek, wrapped)
    }

    /// Unwraps a 44-byte `ManifestKey` / `EncryptionKey`: a little-endian
    /// protection class, then the wrapped key. `fallback_class` (the
    /// MBFile's `ProtectionClass`, which iOSbackup uses) is tried when the
    /// prefix's class does not open it.
    pub fn unwrap_class_prefixed(
        &self,
        blob: &[u8],
        fallback_class: Option<u32>,
    ) -> Result<Key, CryptoError> {
        let (class, wrapped) = split_class_prefixed(blob)?;
        match self.unwrap_for_class(class, wrapped) {
            Ok(key) => Ok(key),
            Err(first) => match fallback_class {
                Some(other) if other != class => {
                    self.unwrap_for_class(other, wrapped).map_err(|_| first)
                }
                _ => Err(first),
            },
        }
    }
}

/// Splits a 44-byte class-prefixed wrapped key.
pub fn split_class_prefixed(blob: &[u8]) -> Result<(u32, &[u8]), CryptoError> {
    if blob.len() != 4 + WRAPPED_LEN {
        return Err(CryptoError::WrappedKey(format!(
            "{} bytes, expected {}",
            blob.len(),
            4 + WRAPPED_LEN
        )));
    }
    let class = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]);
    Ok((class, &blob[4..]))
}

/// Builds a 44-byte class-prefixed wrapped key (the encryption side).
pub fn class_prefixed(class: u32, wrapped: &[u8; WRAPPED_LEN]) -> Vec<u8> {
    let mut out = class.to_le_bytes().to_vec();
    out.extend_from_slice(wrapped);
    out
}

/// AES-256-CBC with a zero IV, decrypted block by block so a file of any
/// size streams through a fixed buffer. Feed whole blocks, in order.
pub struct CbcDecryptor {
    inner: cbc::Decryptor<aes::Aes256>,
}

impl CbcDecryptor {
    pub fn new(key: &Key) -> Self {
        let iv = [0u8; 16];
        CbcDecryptor {
            inner: cbc::Decryptor::<aes::Aes256>::new(key_array(key), &iv.into()),
        }
    }

    /// Decrypts `buf` in place; its length must be a multiple of 16.
    pub fn decrypt(&mut self, buf: &mut [u8]) -> Result<(), CryptoError> {
        let (blocks, tail) = Array::<u8, U16>::slice_as_chunks_mut(buf);
        if !tail.is_empty() {
            return Err(CryptoError::NotBlockAligned(buf_len(
                blocks.len(),
                tail.len(),
            )));
        }
        self.inner.decrypt_blocks(blocks);
        Ok(())
    }
}

/// Borrows a key as the cipher crates' array type, without a copy.
fn key_array(key: &Key) -> &Array<u8, U32> {
    (&**key).into()
}

fn buf_len(blocks: usize, tail: usize) -> u64 {
    (blocks * 16 + tail) as u64
}

/// Decrypts a whole buffer in place (AES-256-CBC, zero IV).
pub fn decrypt_in_place(key: &Key, buf: &mut [u8]) -> Result<(), CryptoError> {
    CbcDecryptor::new(key).decrypt(buf)
}

/// Decrypts a file's ciphertext and trims it to its recorded size (which
/// removes the padding).
pub fn decrypt_file_bytes(
    key: &Key,
    mut data: Vec<u8>,
    size: u64,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    decrypt_in_place(key, &mut data)?;
    let mut data = Zeroizing::new(data);
    if size > data.len() as u64 {
        return Err(CryptoError::ShortCiphertext {
            have: data.len() as u64,
            want: size,
        });
    }
    data.truncate(size as usize);
    Ok(data)
}

/// Decrypts `Manifest.db` (no recorded size: a valid PKCS#7 pad is removed,
/// as SQLite wants a whole number of pages).
pub fn decrypt_manifest_db(
    key: &Key,
    mut data: Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    decrypt_in_place(key, &mut data)?;
    let mut data = Zeroizing::new(data);
    let new_len = pkcs7_unpadded_len(&data);
    data.truncate(new_len);
    Ok(data)
}

fn pkcs7_unpadded_len(data: &[u8]) -> usize {
    let Some(&last) = data.last() else { return 0 };
    let pad = last as usize;
    if (1..=16).contains(&pad)
        && pad <= data.len()
        && data[data.len() - pad..].iter().all(|&b| b as usize == pad)
    {
        data.len() - pad
    } else {
        data.len()
    }
}

/// Streams `reader` through the decryptor into `writer`, writing exactly
/// `size` bytes. Memory stays at one buffer whatever the file size.
pub fn decrypt_stream(
    key: &Key,
    mut reader: impl Read,
    mut writer: impl Write,
    size: u64,
) -> Result<u64, CryptoError> {
    const CHUNK: u64 = 1 << 20;
    let mut dec = CbcDecryptor::new(key);
    // Sized to the file (one padded block more than `size`), up to 1 MiB:
    // the buffer is wiped on drop, and wiping 1 MiB for each of 200,000
    // small files would cost more than decrypting them.
    let cap = size
        .div_ceil(16)
        .saturating_mul(16)
        .saturating_add(16)
        .min(CHUNK) as usize;
    let mut buf = Zeroizing::new(vec![0u8; cap]);
    let mut written = 0u64;
    let mut read_total = 0u64;
    loop {
        let mut filled = 0;
        while filled < cap {
            match reader.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            break;
        }
        read_total += filled as u64;
        if filled % 16 != 0 {
            return Err(CryptoError::NotBlockAligned(read_total));
        }
        dec.decrypt(&mut buf[..filled])?;
        let take = (size - written).min(filled as u64) as usize;
        writer.write_all(&buf[..take])?;
        written += take as u64;
        if filled < cap {
            break;
        }
    }
    if written < size {
        return Err(CryptoError::ShortCiphertext {
            have: written,
            want: size,
        });
    }
    Ok(written)
}

/// The plaintext length of a whole CBC/PKCS#7 file (`Manifest.db`, which
/// has no recorded size): only the last block is decrypted (its IV is the
/// block before it) and its padding read. Leaves the reader at the start.
pub fn padded_plaintext_len(
    key: &Key,
    file: &mut (impl Read + std::io::Seek),
) -> Result<u64, CryptoError> {
    use std::io::SeekFrom;
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 || len % 16 != 0 {
        return Err(CryptoError::NotBlockAligned(len));
    }
    let start = len.saturating_sub(32);
    let mut tail = [0u8; 32];
    let n = (len - start) as usize;
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut tail[..n])?;
    file.seek(SeekFrom::Start(0))?;
    let (iv, last) = if n == 32 {
        let (a, b) = tail.split_at(16);
        (<[u8; 16]>::try_from(a).unwrap_or_default(), b)
    } else {
        ([0u8; 16], &tail[..16])
    };
    let mut block = Zeroizing::new([0u8; 16]);
    block.copy_from_slice(last);
    let mut dec = cbc::Decryptor::<aes::Aes256>::new(key_array(key), &iv.into());
    dec.decrypt_block((&mut *block).into());
    Ok(len - 16 + pkcs7_unpadded_len(&*block) as u64)
}

/// Decrypts a reader on the fly (AES-256-CBC, zero IV), yielding exactly
/// `len` plaintext bytes: lets SQLite load a decrypted `Manifest.db` with
/// no second copy in memory.
pub struct DecryptingReader<R> {
    inner: R,
    dec: CbcDecryptor,
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
    end: usize,
    remaining: u64,
}

impl<R: Read> DecryptingReader<R> {
    pub fn new(key: &Key, inner: R, len: u64) -> Self {
        DecryptingReader {
            inner,
            dec: CbcDecryptor::new(key),
            buf: Zeroizing::new(vec![0u8; 64 * 1024]),
            pos: 0,
            end: 0,
            remaining: len,
        }
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.end {
            if self.remaining == 0 {
                return Ok(0);
            }
            let mut filled = 0;
            while filled < self.buf.len() {
                match self.inner.read(&mut self.buf[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            if filled == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.dec
                .decrypt(&mut self.buf[..filled])
                .map_err(std::io::Error::other)?;
            self.pos = 0;
            self.end = (filled as u64).min(self.remaining) as usize;
        }
        let n = out.len().min(self.end - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// AES-256-CBC encryption with a zero IV and PKCS#7 padding, as the phone
/// does (the encryption side, for the generator).
pub fn encrypt_padded(key: &Key, plaintext: &[u8]) -> Vec<u8> {
    let pad = 16 - plaintext.len() % 16;
    let mut buf = Vec::with_capacity(plaintext.len() + pad);
    buf.extend_from_slice(plaintext);
    buf.resize(plaintext.len() + pad, pad as u8);
    let iv = [0u8; 16];
    let mut enc = cbc::Encryptor::<aes::Aes256>::new(key_array(key), &iv.into());
    let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf);
    enc.encrypt_blocks(blocks);
    buf
}

/// Writes a derived key to `path` for `--key-file`: 64 lowercase hex
/// characters and nothing else (the format of `mvt-ios extract-key -k`, so
/// one file serves both tools), created with mode 0600. An existing file is
/// not overwritten.
pub fn save_key(path: &Path, key: &Key) -> Result<(), CryptoError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CryptoError::KeyFile("already exists; refusing to overwrite".into())
        } else {
            CryptoError::KeyFile(e.to_string())
        }
    })?;
    let hex = Zeroizing::new(hex::encode(AsRef::<[u8]>::as_ref(key)));
    file.write_all(hex.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| CryptoError::KeyFile(e.to_string()))
}

/// Reads a key saved by [`save_key`] (or by `mvt-ios extract-key -k`).
/// Surrounding whitespace, such as a trailing newline, is ignored.
pub fn load_key(path: &Path) -> Result<Key, CryptoError> {
    let fail = CryptoError::KeyFile;
    let file = crate::evidence::open_regular(path).map_err(|e| fail(e.to_string()))?;
    let raw =
        Zeroizing::new(crate::evidence::read_capped(file, 1024).map_err(|e| fail(e.to_string()))?);
    let text = std::str::from_utf8(&raw)
        .map_err(|_| fail("not text; expected 64 hex characters".into()))?;
    let text = text.trim();
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if text.len() != 2 * KEY_LEN || hex::decode_to_slice(text, key.as_mut()).is_err() {
        return Err(fail(
            "expected 64 hex characters (a key saved by spydar or mvt-ios extract-key)".into(),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Zeroizing::new([byte; KEY_LEN])
    }

    fn tlv(tag: &str, value: &[u8]) -> Vec<u8> {
        let mut out = tag.as_bytes().to_vec();
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    /// RFC 3394 §4.6: 256-bit KEK, 256-bit key data.
    #[test]
    fn rfc3394_known_answer() {
        let kek: Key = Zeroizing::new(
            hex::decode("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        let data: Key = Zeroizing::new(
            hex::decode("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        let expected = hex::decode(
            "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
        )
        .unwrap();
        assert_eq!(wrap(&kek, &data).to_vec(), expected);
        assert_eq!(*unwrap(&kek, &expected).unwrap(), *data);
        let mut bad = expected.clone();
        bad[39] ^= 1;
        assert!(matches!(
            unwrap(&kek, &bad),
            Err(CryptoError::WrappedKey(_))
        ));
        assert!(unwrap(&kek, &expected[..32]).is_err());
    }

    /// RFC 6070 (PBKDF2-HMAC-SHA1) and the well-known SHA-256 vectors,
    /// checked through the derivation's two stages.
    #[test]
    fn pbkdf2_known_answers() {
        let old = KdfParams {
            salt: b"salt".to_vec(),
            iter: 2,
            double_protection: None,
        };
        assert_eq!(
            hex::encode(&derive_key(b"password", &old)[..20]),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"
        );
        let mut sha256 = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"password", b"salt", 1, &mut sha256);
        assert_eq!(
            hex::encode(sha256),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
        // The iOS 10.2 scheme is stage 2 applied to stage 1's output.
        let new = KdfParams {
            salt: b"salt2".to_vec(),
            iter: 3,
            double_protection: Some((b"salt".to_vec(), 1)),
        };
        let mut expected = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&sha256, b"salt2", 3, &mut expected);
        assert_eq!(*derive_key(b"password", &new), expected);
    }

    /// Two-stage derivation with small counts against Python hashlib's answer, so a
    /// change in either stage (order, salt, length) shows.
    #[test]
    fn double_derivation_known_answer() {
        let params = KdfParams {
            salt: hex::decode("0102030405060708090a0b0c0d0e0f1011121314").unwrap(),
            iter: 10,
            double_protection: Some((
                hex::decode("a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4").unwrap(),
                1000,
            )),
        };
        assert_eq!(
            hex::encode(AsRef::<[u8]>::as_ref(&derive_key(b"test1234", &params))),
            "35c5738a68551454b78b02f55fd2be64294b4fa629c958afb312beacc7a182b6"
        );
    }

    fn sample_keybag(derived: &Key, class_keys: &[(u32, u32, Key)]) -> Vec<u8> {
        let mut blob = Vec::new();
        blob.extend(tlv("VERS", &4u32.to_be_bytes()));
        blob.extend(tlv("TYPE", &1u32.to_be_bytes()));
        blob.extend(tlv("UUID", &[7u8; 16]));
        blob.extend(tlv("HMCK", &[8u8; 40]));
        blob.extend(tlv("WRAP", &0u32.to_be_bytes()));
        blob.extend(tlv("SALT", &[1u8; 20]));
        blob.extend(tlv("ITER", &10u32.to_be_bytes()));
        blob.extend(tlv("DPWT", &1u32.to_be_bytes()));
        blob.extend(tlv("DPIC", &100u32.to_be_bytes()));
        blob.extend(tlv("DPSL", &[2u8; 20]));
        for (class, wrap_flags, k) in class_keys {
            blob.extend(tlv("UUID", &[*class as u8; 16]));
            blob.extend(tlv("CLAS", &class.to_be_bytes()));
            blob.extend(tlv("WRAP", &wrap_flags.to_be_bytes()));
            blob.extend(tlv("KTYP", &0u32.to_be_bytes()));
            blob.extend(tlv("WPKY", &wrap(derived, k)));
        }
        blob
    }

    #[test]
    fn keybag_parse_and_unlock() {
        let derived = key(9);
        let blob = sample_keybag(
            &derived,
            &[(1, 2, key(0x11)), (3, 2, key(0x33)), (4, 3, key(0x44))],
        );
        let bag = KeyBag::parse(&blob).unwrap();
        assert_eq!(
            (bag.version, bag.kind, bag.iter, bag.dpic),
            (4, 1, 10, Some(100))
        );
        assert_eq!(bag.uuid, vec![7u8; 16]);
        assert_eq!(bag.class_keys.len(), 3);
        assert_eq!(bag.class_keys[1].class, 3);
        let params = bag.kdf_params().unwrap();
        assert_eq!(params.double_protection, Some((vec![2u8; 20], 100)));
        let keys = bag.unlock(&derived).unwrap();
        // Class 4 is also device-wrapped: unwrapped (password checked) but unusable.
        assert_eq!(keys.classes().collect::<Vec<_>>(), vec![1, 3]);
        let file_key = key(0x5a);
        let blob44 = class_prefixed(3, &wrap(&key(0x33), &file_key));
        assert_eq!(
            *keys.unwrap_class_prefixed(&blob44, None).unwrap(),
            *file_key
        );
        // A wrong prefix falls back to the MBFile's ProtectionClass.
        let mislabeled = class_prefixed(1, &wrap(&key(0x33), &file_key));
        assert!(keys.unwrap_class_prefixed(&mislabeled, None).is_err());
        assert_eq!(
            *keys.unwrap_class_prefixed(&mislabeled, Some(3)).unwrap(),
            *file_key
        );
        assert!(matches!(
            keys.unwrap_class_prefixed(&class_prefixed(9, &[0; 40]), None),
            Err(CryptoError::NoClassKey(9))
        ));
        assert!(matches!(
            bag.unlock(&key(10)),
            Err(CryptoError::WrongPassword)
        ));
    }

    #[test]
    fn keybag_rejects_bad_input_without_panicking() {
        let derived = key(9);
        let good = sample_keybag(&derived, &[(1, 2, key(1))]);
        for cut in 0..good.len() {
            let _ = KeyBag::parse(&good[..cut]);
        }
        assert!(KeyBag::parse(&good[..good.len() - 3]).is_err());
        let mut huge_len = good.clone();
        huge_len[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(KeyBag::parse(&huge_len).is_err());
        let mut bad_int = tlv("VERS", &[1, 2, 3]);
        bad_int.extend(&good[11..]);
        assert!(KeyBag::parse(&bad_int).is_err());
        assert!(KeyBag::parse(b"").is_err());
        // A hostile iteration count is refused, not computed for hours.
        let mut top = good.clone();
        let at = top.windows(4).position(|w| w == b"DPIC").unwrap();
        top[at + 8..at + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(
            matches!(KeyBag::parse(&top), Err(CryptoError::Keybag(m)) if m.contains("implausible"))
        );
        // Unknown tags are skipped.
        let mut extra = good.clone();
        extra.extend(tlv("PBKY", &[1; 32]));
        extra.extend(tlv("ZZZZ", &[]));
        assert!(KeyBag::parse(&extra).is_ok());
    }

    #[test]
    fn cbc_round_trip_and_trim() {
        let k = key(3);
        for len in [0usize, 1, 15, 16, 17, 100_000] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let ct = encrypt_padded(&k, &plain);
            assert_eq!(ct.len() % 16, 0);
            assert!(ct.len() > len);
            assert_eq!(
                *decrypt_file_bytes(&k, ct.clone(), len as u64).unwrap(),
                plain
            );
            assert_eq!(*decrypt_manifest_db(&k, ct.clone()).unwrap(), plain);
            let mut out = Vec::new();
            assert_eq!(
                decrypt_stream(&k, &ct[..], &mut out, len as u64).unwrap(),
                len as u64
            );
            assert_eq!(out, plain);
        }
        assert!(matches!(
            decrypt_file_bytes(&k, vec![0; 17], 1),
            Err(CryptoError::NotBlockAligned(17))
        ));
        assert!(matches!(
            decrypt_file_bytes(&k, vec![0; 16], 40),
            Err(CryptoError::ShortCiphertext { have: 16, want: 40 })
        ));
        assert!(decrypt_stream(&k, &[0u8; 20][..], Vec::new(), 4).is_err());
        // A lying recorded size: too large is an error, too small trims.
        let ct = encrypt_padded(&k, &[7u8; 3_000_000]);
        assert!(matches!(
            decrypt_stream(&k, &ct[..], std::io::sink(), u64::MAX),
            Err(CryptoError::ShortCiphertext {
                have: 3_000_016,
                ..
            })
        ));
        let mut out = Vec::new();
        assert_eq!(decrypt_stream(&k, &ct[..], &mut out, 5).unwrap(), 5);
        assert_eq!(out, vec![7u8; 5]);
        // Manifest.db: length from the last block, then a streaming reader.
        for len in [0usize, 1, 15, 16, 17, 70_000, 131_072] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 13) as u8).collect();
            let ct = encrypt_padded(&k, &plain);
            let mut cursor = std::io::Cursor::new(ct);
            let n = padded_plaintext_len(&k, &mut cursor).unwrap();
            assert_eq!(n, len as u64);
            let mut got = Vec::new();
            DecryptingReader::new(&k, cursor, n)
                .read_to_end(&mut got)
                .unwrap();
            assert_eq!(got, plain, "{len}");
        }
        let mut odd = std::io::Cursor::new(vec![0u8; 33]);
        assert!(padded_plaintext_len(&k, &mut odd).is_err());
        let mut short = Vec::new();
        let reader = DecryptingReader::new(&k, &[0u8; 16][..], 100);
        assert!(reader.take(200).read_to_end(&mut short).is_err());
    }

    /// NIST SP 800-38A F.2.5 (CBC-AES256 decrypt), first block, with its IV
    /// folded in: CBC with a zero IV over (IV xor P1) gives the same C1.
    #[test]
    fn cbc_known_answer() {
        let k: Key = Zeroizing::new(
            hex::decode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        let iv = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let p1 = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let mut c1 = hex::decode("f58c4c04d6e5f1ba779eabfb5f7bfbd6").unwrap();
        decrypt_in_place(&k, &mut c1).unwrap();
        let expected: Vec<u8> = p1.iter().zip(&iv).map(|(a, b)| a ^ b).collect();
        assert_eq!(c1, expected);
    }

    #[test]
    fn key_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.key");
        let k = key(0xab);
        save_key(&path, &k).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ab".repeat(32));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(*load_key(&path).unwrap(), *k);
        assert!(
            matches!(save_key(&path, &k), Err(CryptoError::KeyFile(m)) if m.contains("already exists"))
        );
        std::fs::write(&path, format!("{}\n", "AB".repeat(32))).unwrap();
        assert_eq!(*load_key(&path).unwrap(), *k);
        std::fs::write(&path, "abcd").unwrap();
        assert!(load_key(&path).is_err());
        std::fs::write(&path, vec![b'a'; 5000]).unwrap();
        assert!(load_key(&path).is_err());
    }
}
