//! `spydar indicators list|stats|check VALUE|update`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};

use super::{EXIT_CLEAN, EXIT_FINDINGS, IocArgs};
use crate::error::Error;
use crate::indicators::{BUNDLED_ATTRIBUTION, Matcher, mvt, normalize, roles};
use crate::model::{Observable, ObservableType as T};

#[derive(Args)]
pub struct IndicatorsArgs {
    #[command(subcommand)]
    pub action: Action,
    #[command(flatten)]
    pub iocs: IocArgs,
}

#[derive(Subcommand)]
pub enum Action {
    /// One line per source: indicators, the set's date (its newest STIX modified/created time),
    /// malware, sha256, origin (bundled, downloaded when, file, mvt folder or MVT_STIX2).
    List,
    /// Counts per source and per STIX key.
    Stats,
    /// Says which indicators a value matches (domain, URL, process, path, hash, app id, ...), and
    /// when a match is a warning (a vendor website, a watchware app). Exit 1 if any.
    Check { value: String },
    /// Download the published bundles (mvt-indicators' index) for later scans. Exit 2 if none could be fetched.
    Update(super::update::UpdateArgs),
}

pub fn run(args: IndicatorsArgs) -> Result<u8, Error> {
    let action = match args.action {
        Action::Update(update) => return super::update::run(update),
        other => other,
    };
    let set = args.iocs.load()?;
    match action {
        // Answered above, before any indicator is loaded.
        Action::Update(_) => Ok(EXIT_CLEAN),
        Action::List => {
            let fetched: BTreeMap<String, String> = super::update::default_dir()
                .and_then(|d| super::update::read_manifest(&d))
                .map(|m| {
                    m.sources
                        .into_iter()
                        .map(|e| {
                            let note = match e.replaces {
                                Some(r) => format!("{} (replaces bundled {r})", e.fetched),
                                None => e.fetched,
                            };
                            (e.file, note)
                        })
                        .collect()
                })
                .unwrap_or_default();
            for s in &set.sources {
                let origin =
                    if let Some(file) = s.name.strip_prefix(super::update::DOWNLOADED_PREFIX) {
                        format!(
                            "downloaded {}",
                            fetched.get(file).map(String::as_str).unwrap_or("")
                        )
                    } else if s.name.starts_with(mvt::FOLDER_PREFIX) {
                        "mvt folder".to_string()
                    } else if s.name.starts_with(mvt::ENV_PREFIX) {
                        mvt::ENV_VAR.to_string()
                    } else if args
                        .iocs
                        .iocs
                        .iter()
                        .any(|p| s.name.starts_with(&*p.display().to_string()))
                    {
                        "file".to_string()
                    } else {
                        "bundled".to_string()
                    };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    s.name,
                    s.indicators,
                    s.date.as_deref().unwrap_or("-"),
                    s.malware.join(", "),
                    s.sha256,
                    origin.trim_end()
                );
            }
            eprintln!("{BUNDLED_ATTRIBUTION}");
            Ok(EXIT_CLEAN)
        }
        Action::Stats => {
            let mut totals: BTreeMap<String, usize> = BTreeMap::new();
            for s in &set.sources {
                println!(
                    "{}: {} indicators ({})",
                    s.name,
                    s.indicators,
                    s.malware.join(", ")
                );
                for (k, n) in &s.per_key {
                    println!("    {k:<28} {n}");
                    *totals.entry(k.clone()).or_default() += n;
                }
                if !s.skipped.is_empty() {
                    println!("    {:<28} {}", "skipped", s.skipped.len());
                }
            }
            println!(
                "total: {} indicators in {} sources",
                set.total(),
                set.sources.len()
            );
            for (k, n) in &totals {
                println!("    {k:<28} {n}");
            }
            Ok(EXIT_CLEAN)
        }
        Action::Check { value } => {
            let matcher = Matcher::new(set);
            let mut found = false;
            for kind in guess_kinds(&value) {
                for hit in matcher.match_observable(&Observable {
                    kind,
                    value: value.clone(),
                }) {
                    let ind = matcher.indicator(hit.indicator);
                    found = true;
                    // A vendor website or a watchware app is a warning.
                    let level = matcher
                        .set()
                        .described(ind)
                        .and_then(roles::role)
                        .and_then(|r| r.rule)
                        .map(|r| format!("  {} ({})", r.level.as_str(), r.id))
                        .unwrap_or_default();
                    println!(
                        "{} {:?} matches {} {}  [{}]  {}  {}{level}",
                        kind,
                        value,
                        ind.malware.as_deref().unwrap_or("(no malware name)"),
                        ind.pattern,
                        ind.id,
                        ind.source,
                        match hit.how {
                            crate::indicators::matcher::MatchHow::Exact => "exact",
                            crate::indicators::matcher::MatchHow::SubDomain => "sub-domain",
                            crate::indicators::matcher::MatchHow::UrlHost => "URL host",
                            crate::indicators::matcher::MatchHow::TruncatedProcess =>
                                "truncated process name",
                            crate::indicators::matcher::MatchHow::UnderFolder => "under folder",
                            crate::indicators::matcher::MatchHow::BaseName => "file name",
                            crate::indicators::matcher::MatchHow::InText => "in text",
                        }
                    );
                }
            }
            if !found {
                println!("{value:?}: no indicator matches");
            }
            Ok(if found { EXIT_FINDINGS } else { EXIT_CLEAN })
        }
    }
}

/// The observable types a bare value could be, most specific first.
fn guess_kinds(v: &str) -> Vec<T> {
    let v = v.trim();
    if v.contains("://") {
        return vec![T::Url];
    }
    if v.parse::<std::net::IpAddr>().is_ok() {
        return vec![T::Ipv4, T::Ipv6];
    }
    if v.contains('@') {
        return vec![T::Email];
    }
    if v.starts_with('/') {
        return vec![T::FilePath, T::Process];
    }
    let hex = v
        .chars()
        .filter(|c| *c != ':')
        .all(|c| c.is_ascii_hexdigit());
    if hex && matches!(v.replace(':', "").len(), 32 | 40 | 64) {
        return vec![T::Sha256, T::Sha1, T::Md5, T::CertHash];
    }
    let mut kinds = vec![
        T::Process,
        T::AppId,
        T::ProfileId,
        T::AndroidProperty,
        T::FileName,
    ];
    if v.contains('/') {
        kinds.insert(0, T::Url);
    } else if normalize::domain(v).is_some() && v.contains('.') {
        kinds.insert(0, T::Domain);
    }
    kinds
}
