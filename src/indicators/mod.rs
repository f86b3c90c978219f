//! STIX2 bundles in, a compiled `Matcher` out. Every indicator keeps its
//! provenance (pattern, STIX id, malware name, source file).

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}
pub mod late;
pub mod matcher;
pub mod mvt;
pub mod normalize;
mod parsed;
pub mod pattern;
mod precompiled;
pub mod prefilter;
pub mod roles;
mod stix;
pub mod stock;

pub use late::LateMatcher;
pub use matcher::{Hit, Matcher};
pub use parsed::{Described, SourceInfo};

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use parsed::Parsed;

pub use crate::model::Indicator;

/// Every indicator loaded, from every source.
#[derive(Clone, Debug, Default)]
pub struct IndicatorSet {
    pub indicators: Vec<Indicator>,
    pub sources: Vec<SourceInfo>,
    /// By indicator id, for the indicators whose bundle describes them
    /// (hashed with foldhash: SipHash was a tenth of loading the bundled
    /// sets).
    pub descriptions: HashMap<Cow<'static, str>, Described, foldhash::fast::RandomState>,
}

impl IndicatorSet {
    /// What the bundle says about `ind`, if anything.
    pub fn described(&self, ind: &Indicator) -> Option<&Described> {
        self.descriptions.get(ind.id.as_str())
    }
}

impl IndicatorSet {
    /// The bundles embedded in the binary (`indicators/` at build time,
    /// precompiled by build.rs: see `precompiled`), decoded on the
    /// current rayon pool: the blobs checked in parallel, then every
    /// indicator decoded in parallel straight into the set's one vector
    /// while the descriptions are added, all in the bundles' order.
    pub fn bundled() -> Self {
        use rayon::prelude::*;
        // The blobs are checked by the test suite; a bad one is a build
        // defect, reported as a skipped source, not a panic.
        let blobs: Vec<_> = bundled::BUNDLED
            .par_iter()
            .map(|&(_, blob)| precompiled::Blob::open(blob))
            .collect();
        let good: Vec<&precompiled::Blob> = blobs.iter().filter_map(|b| b.as_ref().ok()).collect();
        // Where each blob's indicators start in the set.
        let starts: Vec<usize> = good
            .iter()
            .scan(0, |n, b| {
                let start = *n;
                *n += b.indicator_count();
                Some(start)
            })
            .collect();
        let total = good.iter().map(|b| b.indicator_count()).sum();
        let mut set = IndicatorSet::default();
        let descriptions = || {
            let mut map = HashMap::<_, _, foldhash::fast::RandomState>::default();
            map.reserve(good.iter().map(|b| b.description_count()).sum());
            for b in &good {
                map.extend(b.descriptions(Cow::Borrowed));
            }
            map
        };
        let indicators = |out: &mut Vec<Indicator>| {
            (0..total)
                .into_par_iter()
                .map(|g| {
                    let b = starts.partition_point(|&s| s <= g).saturating_sub(1);
                    good[b].indicator(g - starts[b])
                })
                .collect_into_vec(out)
        };
        (set.descriptions, ()) = rayon::join(descriptions, || indicators(&mut set.indicators));
        set.sources = (blobs.into_iter().zip(bundled::BUNDLED))
            .map(|(b, &(name, _))| {
                b.map(|b| b.info).unwrap_or_else(|e| SourceInfo {
                    name: name.to_string(),
                    sha256: String::new(),
                    indicators: 0,
                    malware: Vec::new(),
                    date: None,
                    skipped: vec![(
                        String::new(),
                        Error::Indicators(format!("{name}: precompiled: {e}")).to_string(),
                    )],
                    per_key: BTreeMap::new(),
                })
            })
            .collect();
        set
    }

    /// Loads a STIX2 file, or every `*.stix2`/`*.json` file under a folder.
    pub fn add_path(&mut self, path: &Path) -> Result<usize> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let mut files: Vec<_> = walkdir::WalkDir::new(path)
                .follow_links(false)
                .into_iter()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|p| p.extension().is_some_and(|x| x == "stix2" || x == "json"))
                .collect();
            if files.is_empty() {
                return Err(Error::Indicators(format!(
                    "{}: no *.stix2 or *.json file in this folder",
                    path.display()
                )));
            }
            files.sort();
            let mut n = 0;
            for f in files {
                n += self.add_path(&f)?;
            }
            return Ok(n);
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        self.add_bytes(&path.display().to_string(), &bytes)
    }

    /// Parses one bundle. Returns how many indicators it added.
    pub fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<usize> {
        let parsed = Parsed::new(name, bytes, hex::encode(Sha256::digest(bytes)))
            .map_err(Error::Indicators)?;
        Ok(self.add_parsed(parsed))
    }

    /// Adds what one bundle gave; returns how many indicators it added.
    fn add_parsed(&mut self, parsed: Parsed) -> usize {
        let n = parsed.info.indicators;
        self.indicators.extend(parsed.indicators);
        self.descriptions.extend(parsed.descriptions);
        self.sources.push(parsed.info);
        n
    }

    /// Indicator objects loaded (an OR pattern counts once).
    pub fn total(&self) -> usize {
        self.sources.iter().map(|s| s.indicators).sum()
    }

    /// Patterns skipped across all sources.
    pub fn skipped(&self) -> usize {
        self.sources.iter().map(|s| s.skipped.len()).sum()
    }
}

/// Attribution for the bundled sets (their licences require it).
pub const BUNDLED_ATTRIBUTION: &str = "\
Bundled indicators:
  amnesty-investigations/  Amnesty International Security Lab, https://github.com/AmnestyTech/investigations
                           licensed CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/); converted for matching by spydar
  mvt-indicators/          Copyright (c) 2022 MVT, https://github.com/mvt-project/mvt-indicators, MIT licence
                           (the bundles repackage research by Google TAG/GTIG, Lookout, Citizen Lab, Microsoft,
                           Kaspersky, Recorded Future, Meta, Cisco Talos, iVerify, RSF/RESIDENT.NGO and others)
  stalkerware/             Echap, stalkerware-indicators, https://github.com/AssoEchap/stalkerware-indicators
                           licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); rebuilt as one STIX2 bundle";

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `*.stix2`/`*.json` file under `indicators/`, as build.rs
    /// names them, sorted.
    fn bundled_files() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("indicators");
        let mut names: Vec<String> = walkdir::WalkDir::new(&root)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .filter(|p| p.extension().is_some_and(|x| x == "stix2" || x == "json"))
            .map(|p| {
                p.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        names.sort();
        names
    }

    /// The precompiled blob of every bundled file decodes to exactly what
    /// the parser gives for the file under `indicators/` (as `add_bytes`
    /// would load it at run time): every field of the source (SHA-256,
    /// counts, malware, date, skipped patterns, per-key counts), every
    /// indicator and description, in order. None is missing.
    #[test]
    fn precompiled_bundles_are_the_parsed_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("indicators");
        let names: Vec<&str> = bundled::BUNDLED.iter().map(|&(n, _)| n).collect();
        assert_eq!(names, bundled_files());
        let mut from_files = IndicatorSet::default();
        for &(name, blob) in bundled::BUNDLED {
            let file = std::fs::read(root.join(name)).unwrap();
            let parsed = Parsed::new(name, &file, hex::encode(Sha256::digest(&file))).unwrap();
            let decoded = precompiled::decode(blob).unwrap();
            assert_eq!(decoded.info, parsed.info, "{name}");
            assert!(
                decoded.indicators == parsed.indicators,
                "{name}: indicators differ"
            );
            assert!(
                decoded.descriptions == parsed.descriptions,
                "{name}: descriptions differ"
            );
            assert!(decoded == parsed, "{name}");
            // The descriptions' text is the binary's, not a copy.
            assert!(decoded.descriptions.iter().all(|(id, d)| {
                [Some(id), d.indicator.as_ref(), d.malware.as_ref()]
                    .into_iter()
                    .flatten()
                    .all(|s| matches!(s, Cow::Borrowed(_)))
            }));
            assert_eq!(precompiled::encode(&decoded), blob, "{name}");
            from_files.add_parsed(parsed);
        }
        // The set as a whole (decoded by another path: every indicator
        // straight into one vector) is the files loaded one by one.
        let set = IndicatorSet::bundled();
        assert_eq!(set.sources, from_files.sources);
        assert!(set.indicators == from_files.indicators);
        assert!(set.descriptions == from_files.descriptions);
    }

    /// The bundled set: 11,311 indicators from 17 sources, as parsing the
    /// files gave before the sets were precompiled (issue 15).
    #[test]
    fn bundled_counts() {
        let set = IndicatorSet::bundled();
        let counts: Vec<(&str, usize)> = set
            .sources
            .iter()
            .map(|s| (s.name.as_str(), s.indicators))
            .collect();
        assert_eq!(
            counts,
            [
                ("amnesty-investigations/2021-07-18_nso/pegasus.stix2", 1549),
                ("amnesty-investigations/2021-12-16_cytrox/cytrox.stix2", 343),
                (
                    "amnesty-investigations/2023-03-29_android_campaign/malware.stix2",
                    2187
                ),
                (
                    "amnesty-investigations/2024-05-02_wintego_helios/wintego_helios.stix2",
                    175
                ),
                (
                    "amnesty-investigations/2024-12-16_serbia_novispy/novispy.stix2",
                    18
                ),
                ("mvt-indicators/2022-06-23_rcs_lab/rcs.stix2", 40),
                ("mvt-indicators/2023-04-11_quadream/kingspawn.stix2", 167),
                (
                    "mvt-indicators/2023-06_01_operation_triangulation/operation_triangulation.stix2",
                    112
                ),
                (
                    "mvt-indicators/2023-07-25_wyrmspy_dragonegg/wyrmspy_dragonegg.stix2",
                    53
                ),
                (
                    "mvt-indicators/2024-12-25_eaglemsgspy/eaglemsgspy.stix2",
                    51
                ),
                (
                    "mvt-indicators/2026-03-03_coruna_cryptowaters/coruna.stix2",
                    216
                ),
                ("mvt-indicators/2026-03-30_darksword/darksword.stix2", 43),
                ("mvt-indicators/ResidentBat/residentbat.stix2", 48),
                ("mvt-indicators/candiru/candiru.stix2", 125),
                ("mvt-indicators/cellebrite/cellebrite.stix2", 1),
                ("mvt-indicators/intellexa_predator/predator.stix2", 585),
                ("stalkerware/stalkerware.stix2", 5598),
            ]
        );
        assert_eq!(set.total(), 11_311);
        assert!(set.sources.iter().all(|s| s.sha256.len() == 64));
        let described = set.descriptions.len();
        assert!(described > 0 && described <= set.total());
    }

    /// A truncated, lengthened or garbled blob is refused or decoded, never
    /// a panic; cut anywhere, it is refused.
    #[test]
    fn bad_blobs_are_refused_without_panic() {
        let mut seen = 0;
        for &(name, blob) in bundled::BUNDLED {
            // Every cut of the small blobs, ~2,000 cuts of the big ones.
            let step = (blob.len() / 2000).max(1);
            for cut in (0..blob.len()).step_by(step).chain([blob.len() - 1]) {
                assert!(
                    precompiled::decode(&blob[..cut]).is_err(),
                    "{name} cut at {cut}"
                );
                seen += 1;
            }
            let mut longer = blob.to_vec();
            longer.push(0);
            assert!(precompiled::decode_copy(&longer).is_err(), "{name}");
            let mut bad = blob.to_vec();
            bad[0] ^= 1;
            assert!(precompiled::decode_copy(&bad).is_err(), "{name}");
            // Garbled bytes (lengths, counts, tags or text): no panic.
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for _ in 0..200 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mut bad = blob.to_vec();
                let at = (x % bad.len() as u64) as usize;
                bad[at] = bad[at].wrapping_add((x >> 32) as u8 | 1);
                let _ = precompiled::decode_copy(&bad);
            }
        }
        assert!(seen > 10_000);
        assert!(precompiled::decode(&[]).is_err());
    }
}
