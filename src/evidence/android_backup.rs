//! Android `adb backup` files (`.ab`): a text header, optional AES-256-CBC
//! encryption under a PBKDF2 user key, optional zlib, then a tar stream.
//! Everything is streamed: the tar is walked once and only the members a
//! caller asks for are kept in memory.

use std::io::{BufRead, BufReader, Read};

use aes::cipher::{BlockCipherDecrypt, KeyInit};
use sha1::Sha1;

use super::{is_safe_member_name, read_capped};

/// Largest single tar member kept in memory (SMS chunks are a few MB).
pub const MAX_KEPT_MEMBER: u64 = 256 * 1024 * 1024;
/// Most bytes kept from one backup, all members together.
pub const MAX_KEPT_TOTAL: u64 = 512 * 1024 * 1024;

/// Android's PBKDF2 salts are 512 bits.
const SALT_BYTES: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbHeader {
    pub version: u32,
    pub compressed: bool,
    /// `none` or `AES-256`.
    pub encryption: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AbError {
    #[error("not an Android backup (no \"ANDROID BACKUP\" header)")]
    NotBackup,
    #[error("invalid backup header: {0}")]
    BadHeader(String),
    #[error("unsupported backup version {0}")]
    UnsupportedVersion(u32),
    #[error("unsupported encryption {0:?}")]
    UnsupportedEncryption(String),
    /// The encryption header is not what Android writes; says which field.
    #[error("malformed encryption header: {0}")]
    BadEncryptionHeader(String),
    #[error("encrypted backup and no password given")]
    PasswordRequired,
    #[error("wrong password")]
    WrongPassword,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A member of the tar that the caller wanted.
#[derive(Clone, Debug)]
pub struct AbMember {
    pub name: String,
    pub mtime: Option<i64>,
    pub data: Vec<u8>,
}

/// What a walk over the tar found.
#[derive(Debug, Default)]
pub struct AbContents {
    /// Every member name seen, in tar order.
    pub names: Vec<String>,
    /// The members `want` accepted, with their bytes.
    pub kept: Vec<AbMember>,
    /// Set when the stream ended early (truncated file, corrupt zlib/tar):
    /// what was read before is still in `names`/`kept`.
    pub truncated: Option<String>,
    /// Other problems (unsafe member names, oversize members).
    pub notes: Vec<String>,
}

fn read_line(r: &mut impl BufRead, what: &str) -> Result<String, AbError> {
    let mut line = Vec::new();
    r.by_ref().take(4096).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(AbError::BadHeader(format!("missing {what}")));
    }
    line.pop();
    String::from_utf8(line).map_err(|_| AbError::BadHeader(format!("{what} is not text")))
}

/// Reads the four header lines.
pub fn read_header(r: &mut impl BufRead) -> Result<AbHeader, AbError> {
    let magic = read_line(r, "magic").map_err(|_| AbError::NotBackup)?;
    if magic != "ANDROID BACKUP" {
        return Err(AbError::NotBackup);
    }
    let version: u32 = read_line(r, "version")?
        .trim()
        .parse()
        .map_err(|_| AbError::BadHeader("version is not a number".into()))?;
    if !(1..=5).contains(&version) {
        return Err(AbError::UnsupportedVersion(version));
    }
    let compressed = match read_line(r, "compression flag")?.trim() {
        "1" => true,
        "0" => false,
        other => return Err(AbError::BadHeader(format!("compression flag {other:?}"))),
    };
    let encryption = read_line(r, "encryption")?.trim().to_string();
    Ok(AbHeader {
        version,
        compressed,
        encryption,
    })
}

/// Opens a backup stream: returns the header and a reader over the tar.
pub fn open<'a, R: Read + 'a>(
    input: R,
    password: Option<&str>,
) -> Result<(AbHeader, Box<dyn Read + 'a>), AbError> {
    let mut r = BufReader::with_capacity(1 << 20, input);
    let header = read_header(&mut r)?;
    let plain: Box<dyn Read + 'a> = match header.encryption.as_str() {
        "none" => Box::new(r),
        "AES-256" => {
            // The header is checked before a password is asked for, so a
            // broken file is not reported as a wrong password.
            let enc = read_encryption_header(&mut r)?;
            let password = password.ok_or(AbError::PasswordRequired)?;
            let (key, iv) = unlock(&enc, password, header.version)?;
            Box::new(CbcReader::new(r, &key, iv))
        }
        other => return Err(AbError::UnsupportedEncryption(other.to_string())),
    };
    let tar: Box<dyn Read + 'a> = if header.compressed {
        Box::new(flate2::read::ZlibDecoder::new(plain))
    } else {
        plain
    };
    Ok((header, tar))
}

fn hex_line(r: &mut impl BufRead, what: &str) -> Result<Vec<u8>, AbError> {
    let line = read_line(r, what)
        .map_err(|_| AbError::BadEncryptionHeader(format!("the file ends before the {what}")))?;
    let line = line.trim();
    hex::decode(line).map_err(|_| {
        AbError::BadEncryptionHeader(format!(
            "the {what} is not hexadecimal ({} characters)",
            line.len()
        ))
    })
}

/// The encryption fields after the four header lines.
pub struct EncryptionHeader {
    pub user_salt: Vec<u8>,
    pub checksum_salt: Vec<u8>,
    pub rounds: u32,
    pub user_iv: Vec<u8>,
    pub master_key_blob: Vec<u8>,
}

/// Reads and checks the encryption fields (salts, rounds, IV, master-key
/// blob) against what Android writes, naming the field that is wrong.
pub fn read_encryption_header(r: &mut impl BufRead) -> Result<EncryptionHeader, AbError> {
    let bad = |m: String| AbError::BadEncryptionHeader(m);
    let user_salt = hex_line(r, "user salt")?;
    let checksum_salt = hex_line(r, "checksum salt")?;
    let rounds_line =
        read_line(r, "rounds").map_err(|_| bad("the file ends before the PBKDF2 rounds".into()))?;
    let rounds: u32 = rounds_line.trim().parse().map_err(|_| {
        bad(format!(
            "PBKDF2 rounds {:?} is not a number",
            rounds_line.trim()
        ))
    })?;
    let user_iv = hex_line(r, "IV")?;
    let master_key_blob = hex_line(r, "master-key blob")?;
    if user_salt.len() != SALT_BYTES {
        return Err(bad(format!(
            "user salt is {} bytes, Android writes {SALT_BYTES}",
            user_salt.len()
        )));
    }
    if checksum_salt.len() != SALT_BYTES {
        return Err(bad(format!(
            "checksum salt is {} bytes, Android writes {SALT_BYTES}",
            checksum_salt.len()
        )));
    }
    if rounds == 0 || rounds > 10_000_000 {
        return Err(bad(format!(
            "PBKDF2 rounds {rounds} is outside 1..=10,000,000"
        )));
    }
    if user_iv.len() != 16 {
        return Err(bad(format!("IV is {} bytes, expected 16", user_iv.len())));
    }
    // IV length, IV, key length, key, checksum length, 32-byte checksum,
    // padded: 96 bytes.
    if master_key_blob.len() < 64 || master_key_blob.len() % 16 != 0 {
        return Err(bad(format!(
            "master-key blob is {} bytes, Android writes 96 (a multiple of the 16-byte AES block)",
            master_key_blob.len()
        )));
    }
    Ok(EncryptionHeader {
        user_salt,
        checksum_salt,
        rounds,
        user_iv,
        master_key_blob,
    })
}

/// Derives the user key, decrypts the master-key blob and checks its
/// checksum. Returns the master key and IV.
fn unlock(
    enc: &EncryptionHeader,
    password: &str,
    version: u32,
) -> Result<([u8; 32], [u8; 16]), AbError> {
    let EncryptionHeader {
        user_salt,
        checksum_salt: ck_salt,
        rounds,
        user_iv,
        master_key_blob: blob,
    } = enc;
    let rounds = *rounds;
    let mut user_key = zeroize::Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), user_salt, rounds, user_key.as_mut());
    let mut plain = zeroize::Zeroizing::new(blob.clone());
    let mut iv = [0u8; 16];
    iv.copy_from_slice(user_iv);
    cbc_decrypt(user_key.as_ref(), &mut iv, &mut plain);
    // u8 ivLen | iv | u8 keyLen | key | u8 ckLen | checksum
    let mut pos = 0usize;
    let mut take = |p: &[u8]| -> Option<Vec<u8>> {
        let n = *p.get(pos)? as usize;
        let v = p.get(pos + 1..pos + 1 + n)?.to_vec();
        pos += 1 + n;
        Some(v)
    };
    let (Some(m_iv), Some(m_key), Some(ck)) = (take(&plain), take(&plain), take(&plain)) else {
        return Err(AbError::WrongPassword);
    };
    if m_iv.len() != 16 || m_key.len() != 32 {
        return Err(AbError::WrongPassword);
    }
    let mut check = vec![0u8; ck.len().max(1)];
    pbkdf2::pbkdf2_hmac::<Sha1>(
        &checksum_password(&m_key, version),
        ck_salt,
        rounds,
        &mut check,
    );
    if check != ck {
        return Err(AbError::WrongPassword);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&m_key);
    let mut miv = [0u8; 16];
    miv.copy_from_slice(&m_iv);
    Ok((key, miv))
}

/// Android hashes the master key as a Java `char[]` made by widening each
/// *signed* byte, then UTF-8 encodes it: bytes >= 0x80 become U+FF80..U+FFFF
/// (three UTF-8 bytes). Version 1 backups used the raw bytes.
pub fn checksum_password(master_key: &[u8], version: u32) -> Vec<u8> {
    if version <= 1 {
        return master_key.to_vec();
    }
    let mut out = Vec::with_capacity(master_key.len() * 3);
    for &b in master_key {
        if b < 0x80 {
            out.push(b);
        } else {
            let c = 0xFF00u32 | b as u32;
            out.push(0xE0 | (c >> 12) as u8);
            out.push(0x80 | ((c >> 6) & 0x3F) as u8);
            out.push(0x80 | (c & 0x3F) as u8);
        }
    }
    out
}

/// AES-256-CBC decryption in place; `iv` is updated to chain the next call.
fn cbc_decrypt(key: &[u8], iv: &mut [u8; 16], data: &mut [u8]) {
    let Ok(cipher) = aes::Aes256::new_from_slice(key) else {
        return;
    };
    for chunk in data.chunks_exact_mut(16) {
        let mut next_iv = [0u8; 16];
        next_iv.copy_from_slice(chunk);
        let mut block = aes::Block::default();
        block.copy_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        chunk.copy_from_slice(&block);
        for (b, v) in chunk.iter_mut().zip(iv.iter()) {
            *b ^= v;
        }
        *iv = next_iv;
    }
}

/// Streams AES-256-CBC plaintext, removing the PKCS#7 padding at the end
/// (kept as is if it is not valid padding: a truncated file).
struct CbcReader<R> {
    inner: R,
    key: zeroize::Zeroizing<[u8; 32]>,
    iv: [u8; 16],
    /// Decrypted bytes not yet handed out; the last block is held back
    /// until EOF so its padding can be removed.
    out: Vec<u8>,
    out_pos: usize,
    pending: Vec<u8>,
    eof: bool,
}

impl<R: Read> CbcReader<R> {
    fn new(inner: R, key: &[u8; 32], iv: [u8; 16]) -> Self {
        CbcReader {
            inner,
            key: zeroize::Zeroizing::new(*key),
            iv,
            out: Vec::new(),
            out_pos: 0,
            pending: Vec::new(),
            eof: false,
        }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let mut buf = vec![0u8; 256 * 1024];
        while self.out_pos >= self.out.len() && !self.eof {
            let n = self.inner.read(&mut buf)?;
            if n == 0 {
                self.eof = true;
            } else {
                self.pending.extend_from_slice(&buf[..n]);
            }
            // Keep at least one full block back unless at EOF.
            let whole = self.pending.len() / 16 * 16;
            let ready = if self.eof {
                whole
            } else {
                whole.saturating_sub(16)
            };
            if ready == 0 {
                continue;
            }
            let mut chunk: Vec<u8> = self.pending.drain(..ready).collect();
            cbc_decrypt(self.key.as_ref(), &mut self.iv, &mut chunk);
            if self.eof
                && let Some(&pad) = chunk.last()
            {
                let p = pad as usize;
                if (1..=16).contains(&p)
                    && chunk.len() >= p
                    && chunk[chunk.len() - p..].iter().all(|&b| b == pad)
                {
                    chunk.truncate(chunk.len() - p);
                }
            }
            self.out = chunk;
            self.out_pos = 0;
        }
        Ok(())
    }
}

impl<R: Read> Read for CbcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.out_pos >= self.out.len() {
            self.fill()?;
        }
        let avail = &self.out[self.out_pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Walks the tar inside a backup stream, keeping members that `want`
/// accepts. Stream errors after the header (truncation, corrupt zlib, bad
/// tar) end the walk and are reported in `truncated`, with what was read.
pub fn walk_tar(tar_stream: impl Read, want: impl Fn(&str) -> bool) -> AbContents {
    let mut out = AbContents::default();
    let mut kept_total = 0u64;
    let mut archive = tar::Archive::new(super::tar_guard::TarHeaderGuard::new(tar_stream));
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            out.truncated = Some(e.to_string());
            return out;
        }
    };
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.truncated = Some(describe(&e));
                break;
            }
        };
        let name = match entry.path() {
            Ok(p) => p.to_string_lossy().replace('\\', "/"),
            Err(_) => String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
        };
        if !entry.header().entry_type().is_file() {
            out.names.push(name);
            continue;
        }
        if !is_safe_member_name(&name) {
            out.notes
                .push(format!("refused unsafe tar member name {name:?}"));
            continue;
        }
        out.names.push(name.clone());
        if want(&name) {
            let left = MAX_KEPT_TOTAL.saturating_sub(kept_total);
            if left == 0 {
                out.notes.push(format!(
                    "{name}: not read: the members kept already reach the {MAX_KEPT_TOTAL}-byte cap for one backup"
                ));
                continue;
            }
            match read_capped(&mut entry, MAX_KEPT_MEMBER.min(left)) {
                Ok(data) => {
                    kept_total += data.len() as u64;
                    let expected = entry.header().size().unwrap_or(0);
                    let mtime = entry.header().mtime().ok().map(|t| t as i64);
                    if (data.len() as u64) < expected {
                        out.truncated = Some(format!("member {name} cut short"));
                        out.kept.push(AbMember { name, mtime, data });
                        break;
                    }
                    out.kept.push(AbMember { name, mtime, data });
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::Other && e.to_string().contains("limit") =>
                {
                    out.notes.push(format!("{name}: {e}"));
                }
                Err(e) => {
                    out.truncated = Some(format!("while reading {name}: {}", describe(&e)));
                    break;
                }
            }
        }
    }
    out
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "the backup ends early (truncated file)".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing() {
        let h = read_header(&mut &b"ANDROID BACKUP\n5\n1\nnone\nxyz"[..]).unwrap();
        assert_eq!(
            h,
            AbHeader {
                version: 5,
                compressed: true,
                encryption: "none".into()
            }
        );
        assert!(matches!(
            read_header(&mut &b"ANDROID BACKUP\n"[..]),
            Err(AbError::BadHeader(_))
        ));
        assert!(matches!(
            read_header(&mut &b"PK\x03\x04"[..]),
            Err(AbError::NotBackup)
        ));
        assert!(matches!(
            read_header(&mut &b"ANDROID BACKUP\n9\n1\nnone\n"[..]),
            Err(AbError::UnsupportedVersion(9))
        ));
    }

    #[test]
    fn truncated_encryption_header() {
        let r = open(&b"ANDROID BACKUP\n5\n0\nAES-256\ntruncated"[..], Some("x"));
        assert!(matches!(r, Err(AbError::BadEncryptionHeader(_))));
    }

    #[test]
    fn java_char_quirk() {
        assert_eq!(
            checksum_password(&[0x41, 0x80, 0xff], 2),
            [0x41, 0xEF, 0xBE, 0x80, 0xEF, 0xBF, 0xBF]
        );
        assert_eq!(checksum_password(&[0x80], 1), [0x80]);
    }
}
