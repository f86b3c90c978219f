//! Embeds every STIX2 bundle under `indicators/` in the binary, so the
//! bundled set is the default with no file next to the executable. Each is
//! stored zstd-compressed (9.3 MB of JSON in under 1 MB: the loader
//! decompresses one at a time into a buffer it frees once parsed, so the
//! JSON does not stay in the resident set of every scan), with its length
//! and its SHA-256 (the report's `indicators.sources[].sha256`), computed
//! here once rather than at every start.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "stix2" || e == "json")
        {
            out.push(path);
        }
    }
}

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = root.join("indicators");
    println!("cargo:rerun-if-changed=indicators");
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut code = String::from(
        "/// (name, zstd-compressed bytes, length, SHA-256 of the bytes as hex)\n\
         pub static BUNDLED: &[(&str, &[u8], usize, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&dir)
            .expect("under indicators/")
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(f).expect("read a bundled indicator file");
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let packed = out_dir.join(format!("bundled-{sha}.json.zst"));
        let zst = zstd::encode_all(&bytes[..], 9).expect("zstd-compress a bundled indicator file");
        std::fs::write(&packed, zst).expect("write a compressed indicator file");
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?}), {}, {sha:?}),",
            packed.display().to_string(),
            bytes.len()
        )
        .expect("write to String");
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), code).expect("write bundled.rs");
}
