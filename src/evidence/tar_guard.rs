//! Caps on the tar headers that the `tar` crate reads whole into memory.
//!
//! A GNU long-name (`L`) or long-link (`K`) member holds the next member's
//! name, and a pax extended header (`x`) its attributes; the crate keeps
//! either in memory, however large its size field says it is. A 9 MB
//! `.tar.gz` with a 2 GB long name (zeros compress well) took over 6 GB.
//! [`TarHeaderGuard`] sits under the crate and refuses such a header before
//! the crate reads it.
//!
//! Tar headers start on 512-byte boundaries of the stream, so the guard
//! looks at every block there whose type is `L`, `K` or `x` and whose
//! header checksum is valid (the crate checks the same sum, so a header the
//! crate accepts is always seen; a data block that merely looks like one
//! would need a valid checksum too). Blocks of other types cost one byte
//! comparison.

use std::io::Read;

/// Largest GNU long-name or long-link member accepted.
pub const MAX_LONG_NAME_BYTES: u64 = 64 * 1024;
/// Largest pax extended header accepted.
pub const MAX_PAX_HEADER_BYTES: u64 = 1024 * 1024;

/// A reader that fails with a clear error when the tar stream it carries
/// holds an oversized long-name or pax header.
pub struct TarHeaderGuard<R> {
    inner: R,
    /// Bytes of the current 512-byte block seen so far.
    block: Box<[u8; 512]>,
    filled: usize,
}

impl<R: Read> TarHeaderGuard<R> {
    pub fn new(inner: R) -> Self {
        TarHeaderGuard {
            inner,
            block: Box::new([0u8; 512]),
            filled: 0,
        }
    }

    fn observe(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let n = (512 - self.filled).min(bytes.len());
            self.block[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            if self.filled == 512 {
                self.filled = 0;
                check_block(&self.block)?;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for TarHeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

/// Checks one 512-byte block that may be a header.
pub fn check_block(block: &[u8; 512]) -> std::io::Result<()> {
    let cap = match block[156] {
        b'L' | b'K' => MAX_LONG_NAME_BYTES,
        b'x' => MAX_PAX_HEADER_BYTES,
        _ => return Ok(()),
    };
    if !checksum_ok(block) {
        return Ok(());
    }
    let size = header_size(&block[124..136]);
    if size.is_none_or(|s| s > cap) {
        let what = if block[156] == b'x' {
            "pax extended header"
        } else {
            "GNU long-name header"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{what} of {} bytes, more than the {cap}-byte cap (hostile or corrupt archive)",
                size.map_or_else(|| "unreadable".to_string(), |s| s.to_string())
            ),
        ));
    }
    Ok(())
}

fn checksum_ok(block: &[u8; 512]) -> bool {
    let Some(stored) = octal(&block[148..156]) else {
        return false;
    };
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    sum == stored
}

fn octal(field: &[u8]) -> Option<u64> {
    let s: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}

/// The size field: octal, or GNU base-256 when the high bit is set.
fn header_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    octal(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::hostile::tar_extension_header as header;

    #[test]
    fn oversized_extension_headers_are_refused() {
        assert!(check_block(&header(b'L', 100)).is_ok());
        assert!(check_block(&header(b'L', MAX_LONG_NAME_BYTES + 1)).is_err());
        assert!(check_block(&header(b'x', MAX_PAX_HEADER_BYTES)).is_ok());
        let e = check_block(&header(b'x', 2 << 30)).unwrap_err().to_string();
        assert!(e.contains("pax extended header"), "{e}");
        // A data block shaped like a header but with a wrong sum passes.
        let mut fake = header(b'L', 1 << 40);
        fake[0] ^= 1;
        assert!(check_block(&fake).is_ok());
        // Regular members of any size pass.
        assert!(check_block(&header(b'0', 1 << 40)).is_ok());
    }

    #[test]
    fn guard_stops_the_stream() {
        let mut data = header(b'L', 1 << 31).to_vec();
        data.extend_from_slice(&[0u8; 4096]);
        let mut g = TarHeaderGuard::new(&data[..]);
        let mut sink = Vec::new();
        let e = g.read_to_end(&mut sink).unwrap_err();
        assert!(e.to_string().contains("long-name"), "{e}");
    }
}
