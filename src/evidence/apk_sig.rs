//! The signing certificates of an APK, from its APK Signing Block (scheme
//! v2, v3 and v3.1: Android 7 and later sign every APK this way). The
//! block sits just before the zip's central directory: `u64` size, pairs
//! of (`u64` length, `u32` id, value), the size again and the magic
//! `APK Sig Block 42`. A v2/v3 value is a length-prefixed list of signers,
//! each with length-prefixed signed data whose second item is the list of
//! certificates (DER). Every length is checked; nothing panics.
//!
//! An APK signed with the v1 (JAR) scheme only carries its certificates in
//! a PKCS#7 `SignedData` under `META-INF/` (`*.RSA`, `*.DSA`, `*.EC`):
//! read with a small DER walker when the APK has no signing block.

const EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const MAGIC: &[u8; 16] = b"APK Sig Block 42";
/// Signature scheme v2, v3 and v3.1 block ids.
const SCHEME_IDS: &[u32] = &[0x7109_871a, 0xf053_68c0, 0x1b93_ad61];
/// Most certificates returned per APK.
const MAX_CERTS: usize = 64;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The items of a sequence of `u32`-length-prefixed values.
fn items(mut b: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let n = usize::try_from(u32_at(b, 0)?).ok()?;
        let item = b.get(4..4usize.checked_add(n)?)?;
        b = &b[4 + n..];
        Some(item)
    })
}

/// One `u32`-length-prefixed value at the start of `b`.
fn first(b: &[u8]) -> Option<&[u8]> {
    items(b).next()
}

/// The central directory's offset, from the end-of-central-directory
/// record (searched in the last 64 KiB + 22 bytes).
fn central_directory(apk: &[u8]) -> Option<usize> {
    let from = apk.len().saturating_sub(65_557);
    let at = apk
        .get(from..)?
        .windows(4)
        .rposition(|w| w == EOCD_SIG)?
        .checked_add(from)?;
    usize::try_from(u32_at(apk, at.checked_add(16)?)?).ok()
}

/// The pairs region of the APK Signing Block.
fn signing_block(apk: &[u8]) -> Option<&[u8]> {
    let cd = central_directory(apk)?;
    let footer = cd.checked_sub(24)?;
    if apk.get(cd.checked_sub(16)?..cd)? != MAGIC {
        return None;
    }
    let size = usize::try_from(u64_at(apk, footer)?).ok()?;
    let start = cd.checked_sub(size)?.checked_sub(8)?;
    if usize::try_from(u64_at(apk, start)?).ok()? != size {
        return None;
    }
    apk.get(start.checked_add(8)?..footer)
}

/// The DER certificates of every v2/v3 signer, distinct, in order; those
/// of the v1 signature when there is no signing block.
pub fn certificates(apk: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let Some(mut pairs) = signing_block(apk) else {
        return v1_certificates(apk);
    };
    while let Some(len) = u64_at(pairs, 0).and_then(|n| usize::try_from(n).ok()) {
        let Some(pair) = 8usize.checked_add(len).and_then(|end| pairs.get(8..end)) else {
            break;
        };
        pairs = &pairs[8 + len..];
        let Some(id) = u32_at(pair, 0) else { continue };
        if !SCHEME_IDS.contains(&id) {
            continue;
        }
        let signers = first(&pair[4..]).unwrap_or_default();
        for signer in items(signers) {
            let Some(signed_data) = first(signer) else {
                continue;
            };
            let mut parts = items(signed_data);
            let (_digests, certs) = (parts.next(), parts.next());
            for der in certs.into_iter().flat_map(items) {
                if out.len() < MAX_CERTS && !out.iter().any(|c| c == der) {
                    out.push(der.to_vec());
                }
            }
        }
    }
    out
}

/// Largest `META-INF/` signature file read.
const MAX_V1_SIG_BYTES: u64 = 1024 * 1024;

/// One DER element at the start of `b`: (tag, content, rest).
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = b
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, b.get(head..end)?, b.get(end..)?))
}

/// The certificates of a PKCS#7 `SignedData` (`ContentInfo`): the
/// `[0] IMPLICIT` set after the version, digest algorithms and content.
fn pkcs7_certificates(b: &[u8]) -> Vec<Vec<u8>> {
    fn signed_data(b: &[u8]) -> Option<&[u8]> {
        let (_, content_info, _) = der(b)?; // SEQUENCE
        let (_, _oid, rest) = der(content_info)?;
        let (_, explicit, _) = der(rest)?; // [0] EXPLICIT
        let (_, sd, _) = der(explicit)?; // SignedData SEQUENCE
        let (_, _version, rest) = der(sd)?;
        let (_, _digests, rest) = der(rest)?;
        let (_, _content, rest) = der(rest)?;
        let (tag, certs, _) = der(rest)?;
        (tag == 0xa0).then_some(certs)
    }
    let mut out = Vec::new();
    let Some(mut certs) = signed_data(b) else {
        return out;
    };
    while let Some((_, _, rest)) = der(certs) {
        let whole = &certs[..certs.len() - rest.len()];
        if out.len() < MAX_CERTS {
            out.push(whole.to_vec());
        }
        certs = rest;
    }
    out
}

/// v1 (JAR) signature certificates: every `META-INF/*.RSA|DSA|EC`.
fn v1_certificates(apk: &[u8]) -> Vec<Vec<u8>> {
    use std::io::Read;
    let mut out: Vec<Vec<u8>> = Vec::new();
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(apk)) else {
        return out;
    };
    for i in 0..z.len().min(10_000) {
        let Ok(f) = z.by_index(i) else { continue };
        let name = f.name().map(|n| n.to_ascii_uppercase()).unwrap_or_default();
        let is_sig = name.starts_with("META-INF/")
            && [".RSA", ".DSA", ".EC"].iter().any(|e| name.ends_with(e));
        if !is_sig {
            continue;
        }
        let mut data = Vec::new();
        if f.take(MAX_V1_SIG_BYTES).read_to_end(&mut data).is_err() {
            continue;
        }
        for c in pkcs7_certificates(&data) {
            if out.len() < MAX_CERTS && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Builds an APK Signing Block (scheme v2, one signer, these certificates)
/// and places it before a zip's central directory, for fixtures and tests.
pub fn sign_zip_for_tests(zip: &[u8], certs: &[&[u8]]) -> Option<Vec<u8>> {
    fn lp(v: &[u8]) -> Vec<u8> {
        let mut o = (v.len() as u32).to_le_bytes().to_vec();
        o.extend_from_slice(v);
        o
    }
    let cd = central_directory(zip)?;
    let eocd = zip.windows(4).rposition(|w| w == EOCD_SIG)?;
    let cert_seq: Vec<u8> = certs.iter().flat_map(|c| lp(c)).collect();
    let signed_data = [lp(&[]), lp(&cert_seq), lp(&[])].concat();
    let signer = [lp(&signed_data), lp(&[]), lp(&[])].concat();
    let value = lp(&lp(&signer));
    let mut pair = SCHEME_IDS[0].to_le_bytes().to_vec();
    pair.extend_from_slice(&value);
    let mut pairs = (pair.len() as u64).to_le_bytes().to_vec();
    pairs.extend_from_slice(&pair);
    let size = (pairs.len() + 24) as u64;
    let mut block = size.to_le_bytes().to_vec();
    block.extend_from_slice(&pairs);
    block.extend_from_slice(&size.to_le_bytes());
    block.extend_from_slice(MAGIC);
    let mut out = zip.get(..cd)?.to_vec();
    out.extend_from_slice(&block);
    out.extend_from_slice(zip.get(cd..eocd)?);
    let mut end = zip.get(eocd..)?.to_vec();
    let new_cd = u32::try_from(cd + block.len()).ok()?;
    end.get_mut(16..20)?.copy_from_slice(&new_cd.to_le_bytes());
    out.extend_from_slice(&end);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A DER TLV.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut o = vec![tag];
        if content.len() < 0x80 {
            o.push(content.len() as u8);
        } else {
            o.extend_from_slice(&[0x82, (content.len() >> 8) as u8, content.len() as u8]);
        }
        o.extend_from_slice(content);
        o
    }

    #[test]
    fn v1_signature_certificates_from_pkcs7() {
        let cert_a = tlv(0x30, &[0x02, 0x01, 0x01]);
        let cert_b = tlv(0x30, &[0x04; 200]);
        let sd = tlv(
            0x30,
            &[
                tlv(0x02, &[1]),
                tlv(0x31, &[]),
                tlv(0x30, &tlv(0x06, &[0x2a])),
                tlv(0xa0, &[cert_a.clone(), cert_b.clone()].concat()),
                tlv(0x31, &[]),
            ]
            .concat(),
        );
        let ci = tlv(0x30, &[tlv(0x06, &[0x2a, 0x86]), tlv(0xa0, &sd)].concat());
        assert_eq!(
            pkcs7_certificates(&ci),
            vec![cert_a.clone(), cert_b.clone()]
        );
        let mut buf = Vec::new();
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut buf));
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("META-INF/CERT.RSA", o).unwrap();
        z.write_all(&ci).unwrap();
        z.start_file("classes.dex", o).unwrap();
        z.write_all(b"dex").unwrap();
        z.finish().unwrap();
        assert_eq!(certificates(&buf), vec![cert_a, cert_b]);
        for n in 0..ci.len() {
            let _ = pkcs7_certificates(&ci[..n]);
        }
    }

    fn zip() -> Vec<u8> {
        let mut buf = Vec::new();
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut buf));
        z.start_file(
            "AndroidManifest.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(b"manifest").unwrap();
        z.finish().unwrap();
        buf
    }

    #[test]
    fn reads_back_the_certificates_it_signed_with() {
        let apk = sign_zip_for_tests(&zip(), &[b"cert one", b"cert two"]).unwrap();
        assert_eq!(
            certificates(&apk),
            vec![b"cert one".to_vec(), b"cert two".to_vec()]
        );
        // Still a zip.
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(&apk)).unwrap();
        assert_eq!(
            z.by_index(0).unwrap().name().unwrap(),
            "AndroidManifest.xml"
        );
        assert!(certificates(&zip()).is_empty());
        for n in 0..apk.len() {
            let _ = certificates(&apk[..n]);
        }
    }
}
