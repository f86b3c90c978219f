//! One STIX2 bundle, parsed: its source line, its indicators and what it
//! says about them. A file with no `crate::` path but the model's indicator
//! types, because build.rs compiles it too (with `stix`, `pattern` and
//! `normalize`) to precompile the bundled sets (`super::precompiled`): the
//! bundled sets and a file loaded at run time go through this same code.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use super::{normalize, pattern, stix};
use crate::model::Indicator;

/// One loaded bundle, for the report's `indicators.sources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
///
/// Text borrowed from the binary for the bundled sets (no allocation: the
/// stalkerware set describes nearly all of its 5,598 indicators), owned for
/// a set loaded at run time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Described {
    pub indicator: Option<Cow<'static, str>>,
    pub malware: Option<Cow<'static, str>>,
}

/// One bundle, parsed: what it adds to an [`IndicatorSet`].
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub info: SourceInfo,
    pub indicators: Vec<Indicator>,
    pub descriptions: Vec<(Cow<'static, str>, Described)>,
}

impl Parsed {
    pub fn failed(info: SourceInfo) -> Self {
        Parsed {
            info,
            indicators: Vec::new(),
            descriptions: Vec::new(),
        }
    }

    /// Parses the bundle `bytes` (named `name`, hashed `sha256`); the
    /// error names the bundle.
    pub fn new(name: &str, bytes: &[u8], sha256: String) -> Result<Self, String> {
        let parsed = stix::parse_bundle(bytes).map_err(|e| format!("{name}: {e}"))?;
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
                    Cow::Owned(ind.id),
                    Described {
                        indicator: ind.description.map(Cow::Owned),
                        malware: ind.malware_description.map(Cow::Owned),
                    },
                ));
            }
        }
    }
}
