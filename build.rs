//! Precompiles every STIX2 bundle under `indicators/` into the binary, so
//! the bundled set is the default with no file next to the executable and
//! costs no parsing at start: the parser (this crate's own `stix`,
//! `pattern`, `normalize` and `parsed` modules, compiled in here by path)
//! runs over each file once, here, and `indicators::precompiled::encode`
//! stores what it gives (source info with the file's SHA-256, indicators,
//! descriptions); `IndicatorSet::bundled` decodes that (issue 15: ~55 ms of
//! CPU at every start before, a few now). A test checks the decoded sets
//! against the parser run over the files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

// The crate's sources, as they are; the paths below are all they need of
// the crate.
#[path = "src/model/indicator.rs"]
mod indicator;
#[path = "src/indicators/normalize.rs"]
#[allow(dead_code, unused_imports)]
mod normalize;
#[path = "src/indicators/parsed.rs"]
mod parsed;
#[path = "src/indicators/pattern.rs"]
#[allow(dead_code)]
mod pattern;
#[path = "src/indicators/precompiled.rs"]
#[allow(dead_code)]
mod precompiled;
#[path = "src/indicators/stix.rs"]
mod stix;

/// `crate::model` as the modules above name it.
mod model {
    pub use super::indicator::{Indicator, ObservableType};
}

/// `crate::strings` as `normalize` names it: it re-exports `base_name`,
/// which the parser never calls.
#[allow(dead_code)]
mod strings {
    pub fn base_name(_path: &str) -> &str {
        unreachable!("build.rs does not use base_name")
    }
}

/// The sources compiled in above: a change to one re-runs this script.
const SOURCES: &[&str] = &[
    "src/model/indicator.rs",
    "src/indicators/normalize.rs",
    "src/indicators/parsed.rs",
    "src/indicators/pattern.rs",
    "src/indicators/precompiled.rs",
    "src/indicators/stix.rs",
];

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

/// The precompiled form of one bundled file, named `rel`.
fn precompile(rel: &str, path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("read a bundled indicator file");
    let sha = hex::encode(Sha256::digest(&bytes));
    let parsed = parsed::Parsed::new(rel, &bytes, sha)
        .unwrap_or_else(|e| panic!("a bundled indicator file does not parse: {e}"));
    precompiled::encode(&parsed)
}

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = root.join("indicators");
    println!("cargo:rerun-if-changed=indicators");
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
    }
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let named: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| {
            println!("cargo:rerun-if-changed={}", f.display());
            let rel = f
                .strip_prefix(&dir)
                .expect("under indicators/")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, f)
        })
        .collect();
    // One thread per file: the script runs unoptimised.
    let blobs: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = named
            .iter()
            .map(|(rel, f)| s.spawn(move || precompile(rel, f)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("precompile a bundled file"))
            .collect()
    });
    let mut code = String::from(
        "/// (name under `indicators/`, `precompiled::encode` of the parsed file)\n\
         pub static BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for (i, ((rel, _), blob)) in named.iter().zip(&blobs).enumerate() {
        let packed = out_dir.join(format!("bundled-{i}.bin"));
        std::fs::write(&packed, blob).expect("write a precompiled indicator file");
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            packed.display().to_string()
        )
        .expect("write to String");
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), code).expect("write bundled.rs");
}
