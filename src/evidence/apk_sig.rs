//! The signing certificates of an APK, from its APK Signing Block (scheme
//! v2, v3 and v3.1: Android 7 and later sign every APK this way). The
//! block sits just before the zip's central directory: `u64` size, pairs
//! of (`u64` length, `u32` id, value), the size again and the magic
//! `APK Sig Block 42`. A v2/v3 value is a length-prefixed list of signers,
//! each with length-prefixed signed data whose second item is the list of
//! certificates (DER). Every length is checked; nothing panics.
//!
//! An APK signed with the v1 (JAR) scheme only carries its certificate in a
//! PKCS#7 file under `META-INF/`, not read here.

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

/// The DER certificates of every v2/v3 signer, distinct, in order.
pub fn certificates(apk: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let Some(mut pairs) = signing_block(apk) else {
        return out;
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
        assert_eq!(z.by_index(0).unwrap().name(), "AndroidManifest.xml");
        assert!(certificates(&zip()).is_empty());
        for n in 0..apk.len() {
            let _ = certificates(&apk[..n]);
        }
    }
}
