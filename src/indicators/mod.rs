//! STIX2 bundles in, a compiled `Matcher` out. Every indicator keeps its
//! provenance (pattern, STIX id, malware name, source file).

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}
pub mod late;
pub mod matcher;
pub mod mvt;
pub mod normalize;
pub mod pattern;
pub mod prefilter;
pub mod roles;
mod stix;
pub mod stock;

pub use late::LateMatcher;
pub use matcher::{Hit, Matcher};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub use crate::model::Indicator;

/// One loaded bundle, for the report's `indicators.sources`.
#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    pub name: String,
    pub sha256: String,
    pub indicators: usize,
    pub malware: Vec<String>,
    /// The newest `modified`/`created` time in the bundle, as a UTC date
    /// (`YYYY-MM-DD`): when the set was last changed.
    #[serde(skip)]
    pub date: Option<String>,
    /// Patterns skipped, with the reason, as `(pattern, reason)`.
    #[serde(skip)]
    pub skipped: Vec<(String, String)>,
    /// Per original STIX key, how many comparisons were loaded.
    #[serde(skip)]
    pub per_key: BTreeMap<String, usize>,
}

/// What a bundle says about an indicator besides its pattern: the
/// indicator's own description and its malware's. Echap's stalkerware set
/// says there which domains are vendor websites and which applications are
/// watchware; `artifacts::indicator_roles` turns that into levels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Described {
    pub indicator: Option<String>,
    pub malware: Option<String>,
}

/// Every indicator loaded, from every source.
#[derive(Clone, Debug, Default)]
pub struct IndicatorSet {
    pub indicators: Vec<Indicator>,
    pub sources: Vec<SourceInfo>,
    /// By indicator id, for the indicators whose bundle describes them.
    pub descriptions: HashMap<String, Described>,
}

impl IndicatorSet {
    /// What the bundle says about `ind`, if anything.
    pub fn described(&self, ind: &Indicator) -> Option<&Described> {
        self.descriptions.get(&ind.id)
    }
}

impl IndicatorSet {
    /// The bundles embedded in the binary (`indicators/` at build time,
    /// compressed), parsed in parallel on the current rayon pool, added in
    /// order. Each bundle's JSON is freed as soon as it is parsed.
    pub fn bundled() -> Self {
        use rayon::prelude::*;
        let parsed: Vec<Parsed> = bundled::BUNDLED
            .par_iter()
            .map(|&(name, packed, len, sha256)| {
                // The bundled files are checked by the test suite; a bad one
                // is a build defect, reported as a skipped source, not a panic.
                let parsed = zstd::bulk::decompress(packed, len)
                    .map_err(|e| Error::Indicators(format!("{name}: {e}")))
                    .and_then(|json| Parsed::new(name, &json, sha256.to_string()));
                parsed.unwrap_or_else(|e| {
                    Parsed::failed(SourceInfo {
                        name: name.to_string(),
                        sha256: String::new(),
                        indicators: 0,
                        malware: Vec::new(),
                        date: None,
                        skipped: vec![(String::new(), e.to_string())],
                        per_key: BTreeMap::new(),
                    })
                })
            })
            .collect();
        let mut set = IndicatorSet::default();
        for p in parsed {
            set.add_parsed(p);
        }
        set.indicators.shrink_to_fit();
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
        let parsed = Parsed::new(name, bytes, hex::encode(Sha256::digest(bytes)))?;
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

/// One bundle, parsed: what it adds to an [`IndicatorSet`].
struct Parsed {
    info: SourceInfo,
    indicators: Vec<Indicator>,
    descriptions: Vec<(String, Described)>,
}

impl Parsed {
    fn failed(info: SourceInfo) -> Self {
        Parsed {
            info,
            indicators: Vec::new(),
            descriptions: Vec::new(),
        }
    }

    /// Parses the bundle `bytes` (named `name`, hashed `sha256`).
    fn new(name: &str, bytes: &[u8], sha256: String) -> Result<Self> {
        let parsed =
            stix::parse_bundle(bytes).map_err(|e| Error::Indicators(format!("{name}: {e}")))?;
        let mut out = Parsed::failed(SourceInfo {
            name: name.to_string(),
            sha256,
            indicators: 0,
            malware: parsed.malware_names,
            date: parsed.date.map(|t| t.strftime("%Y-%m-%d").to_string()),
            skipped: Vec::new(),
            per_key: BTreeMap::new(),
        });
        for ind in parsed.indicators {
            out.add(name, ind);
        }
        Ok(out)
    }

    /// Adds one STIX indicator: each comparison of its pattern that spydar
    /// can use, the others listed as skipped.
    fn add(&mut self, name: &str, ind: stix::RawIndicator) {
        let info = &mut self.info;
        let comparisons = match pattern::parse(&ind.pattern) {
            Ok(c) => c,
            Err(e) => {
                info.skipped.push((ind.pattern, e.0));
                return;
            }
        };
        let mut added = false;
        let single = comparisons.len() == 1;
        for cmp in comparisons {
            match normalize::indicator(&cmp.key, &cmp.value) {
                Ok((kind, value)) => {
                    *info
                        .per_key
                        .entry(normalize::canonical_key(&cmp.key))
                        .or_default() += 1;
                    self.indicators.push(Indicator {
                        kind,
                        value,
                        pattern: if single {
                            ind.pattern.clone()
                        } else {
                            cmp.to_pattern()
                        },
                        id: ind.id.clone(),
                        malware: ind.malware.clone(),
                        source: name.to_string(),
                    });
                    added = true;
                }
                Err(reason) => info.skipped.push((
                    if single {
                        ind.pattern.clone()
                    } else {
                        cmp.to_pattern()
                    },
                    reason,
                )),
            }
        }
        if added {
            info.indicators += 1;
            if ind.description.is_some() || ind.malware_description.is_some() {
                self.descriptions.push((
                    ind.id,
                    Described {
                        indicator: ind.description,
                        malware: ind.malware_description,
                    },
                ));
            }
        }
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

    /// build.rs's length and SHA-256 of each bundled file are those of the
    /// file under `indicators/` (and of what the loader decompresses), in
    /// the hex `add_bytes` gives a file loaded at run time.
    #[test]
    fn bundled_lengths_and_hashes_are_the_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("indicators");
        let set = IndicatorSet::bundled();
        assert!(!bundled::BUNDLED.is_empty());
        assert_eq!(set.sources.len(), bundled::BUNDLED.len());
        for (&(name, packed, len, sha256), source) in bundled::BUNDLED.iter().zip(&set.sources) {
            let file = std::fs::read(root.join(name)).unwrap();
            assert_eq!(len, file.len(), "{name}");
            assert!(
                zstd::bulk::decompress(packed, len).unwrap() == file,
                "{name}"
            );
            assert_eq!(sha256, hex::encode(Sha256::digest(&file)), "{name}");
            assert_eq!(
                (source.name.as_str(), source.sha256.as_str()),
                (name, sha256)
            );
        }
    }
}
