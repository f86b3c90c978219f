//! STIX2 bundles in, a compiled `Matcher` out. Every indicator keeps its
//! provenance (pattern, STIX id, malware name, source file).

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}
pub mod matcher;
pub mod mvt;
pub mod normalize;
pub mod pattern;
pub mod prefilter;
pub mod roles;
mod stix;
pub mod stock;

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
    /// The bundles embedded in the binary (`indicators/` at build time).
    pub fn bundled() -> Self {
        let mut set = IndicatorSet::default();
        for (name, bytes) in bundled::BUNDLED {
            // The bundled files are checked by the test suite; a bad one
            // is a build defect, reported as a skipped source, not a panic.
            if let Err(e) = set.add_bytes(name, bytes) {
                set.sources.push(SourceInfo {
                    name: name.to_string(),
                    sha256: String::new(),
                    indicators: 0,
                    malware: Vec::new(),
                    date: None,
                    skipped: vec![(String::new(), e.to_string())],
                    per_key: BTreeMap::new(),
                });
            }
        }
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
        let parsed =
            stix::parse_bundle(bytes).map_err(|e| Error::Indicators(format!("{name}: {e}")))?;
        let mut info = SourceInfo {
            name: name.to_string(),
            sha256: hex::encode(Sha256::digest(bytes)),
            indicators: 0,
            malware: parsed.malware_names.clone(),
            date: parsed.date.map(|t| t.strftime("%Y-%m-%d").to_string()),
            skipped: Vec::new(),
            per_key: BTreeMap::new(),
        };
        for ind in parsed.indicators {
            let comparisons = match pattern::parse(&ind.pattern) {
                Ok(c) => c,
                Err(e) => {
                    info.skipped.push((ind.pattern.clone(), e.0));
                    continue;
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
                    self.descriptions.insert(
                        ind.id.clone(),
                        Described {
                            indicator: ind.description.clone(),
                            malware: ind.malware_description.clone(),
                        },
                    );
                }
            }
        }
        let n = info.indicators;
        self.sources.push(info);
        Ok(n)
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
