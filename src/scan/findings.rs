//! Record → findings: each record's observables against the indicators,
//! its heuristic alerts, the stock-name check, and the folding of repeated
//! findings into one with a count.

use std::collections::HashMap;

use crate::indicators::Matcher;
use crate::indicators::matcher::{Hit, MatchHow};
use crate::indicators::roles;
use crate::indicators::stock::StockKind;
use crate::model::{
    DeviceScan, Finding, FindingKind, IndicatorRef, Level, Observable, ObservableType, Record,
    Severity,
};

/// What makes two findings the same for aggregation.
fn key(f: &Finding) -> FindingKey {
    (
        f.level,
        f.module.clone(),
        f.kind,
        f.indicator.as_ref().map(|i| i.id.clone()),
        f.rule.clone(),
        f.observable.clone(),
        f.message.clone(),
    )
}

/// Folds `other` (the same finding from another record) into `into`.
fn absorb(into: &mut Finding, other: &Finding) {
    into.count += other.count;
    let times = [
        into.first_seen,
        into.timestamp,
        other.first_seen,
        other.timestamp,
        into.last_seen,
        other.last_seen,
    ];
    into.first_seen = times.iter().flatten().min().copied();
    into.last_seen = times.iter().flatten().max().copied();
}

type FindingKey = (
    Level,
    String,
    FindingKind,
    Option<String>,
    Option<String>,
    Option<Observable>,
    String,
);

/// Repeated findings folded into one with a count and first/last times, so
/// a log in which every line is a hit yields one finding per distinct
/// (module, level, indicator or rule, observable, message), not one per line.
#[derive(Default)]
pub struct Aggregator {
    index: HashMap<FindingKey, usize>,
    findings: Vec<Finding>,
}

impl Aggregator {
    pub fn add(&mut self, f: Finding) {
        let key = key(&f);
        match self.index.get(&key) {
            Some(&i) => absorb(&mut self.findings[i], &f),
            None => {
                self.index.insert(key, self.findings.len());
                self.findings.push(f);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.findings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// The distinct findings, sorted.
    pub fn into_sorted(self) -> Vec<Finding> {
        let mut all = self.findings;
        for f in &mut all {
            if f.count == 1 {
                f.first_seen = None;
                f.last_seen = None;
            }
        }
        sort_findings(&mut all);
        all
    }
}

/// Folds repeated findings (see `Aggregator`), sorted.
pub fn aggregate(findings: impl IntoIterator<Item = Finding>) -> Vec<Finding> {
    let mut agg = Aggregator::default();
    for f in findings {
        agg.add(f);
    }
    agg.into_sorted()
}

fn describe(hit: &Hit, ind: &IndicatorRef, module: &str) -> String {
    let who = ind
        .malware
        .as_deref()
        .unwrap_or("a published indicator set");
    let what = match hit.how {
        MatchHow::Exact => format!(
            "{} {:?} is a known {} indicator",
            hit.found.kind, hit.found.value, who
        ),
        MatchHow::SubDomain => format!(
            "domain {:?} is under {:?}, a known {} domain",
            hit.found.value, ind.value, who
        ),
        MatchHow::UrlHost => format!(
            "URL {:?} points to {:?}, a known {} indicator",
            hit.found.value, ind.value, who
        ),
        MatchHow::TruncatedProcess => format!(
            "process {:?} looks like a truncated name of {:?}, a known {} process",
            hit.found.value, ind.value, who
        ),
        MatchHow::UnderFolder => format!(
            "path {:?} is under {:?}, a known {} folder",
            hit.found.value, ind.value, who
        ),
        MatchHow::BaseName => format!(
            "file {:?} has the name {:?}, a known {} file name",
            hit.found.value, ind.value, who
        ),
        MatchHow::InText => format!(
            "text mentions {} {:?}, a known {} indicator",
            ind.kind, hit.found.value, who
        ),
    };
    format!("{module}: {what}")
}

/// Matches one record: its observables against the indicators, and its
/// heuristic alerts as findings. One finding per (record, malware,
/// indicator type): a record is one event (a visit, a file, a package), so
/// the same domain published by two bundles of one campaign (cytrox and
/// predator), or a path matching both an absolute and a relative path
/// indicator, is one finding, named by the first indicator that matched a
/// typed field; a package whose app id and certificate both match gives two.
pub fn record_findings(record: &Record, matcher: &Matcher) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: Vec<(Option<&str>, ObservableType)> = Vec::new();
    // Typed observables first, so a URL field wins over the same URL in text
    // (two passes: the order of a stable sort by "is text", with no vector).
    let is_text = |o: &&Observable| o.kind == ObservableType::Text;
    let observables = record.observables.iter();
    let typed_then_text = observables
        .clone()
        .filter(|o| !is_text(o))
        .chain(observables.filter(is_text));
    for obs in typed_then_text {
        let mut hits = matcher.match_observable(obs);
        // A described indicator first: Echap's bundled set says which
        // domains are vendor sites and which apps watchware; a downloaded
        // copy of upstream's bundle with the same values does not.
        hits.sort_by_key(|h| {
            matcher
                .set()
                .described(matcher.indicator(h.indicator))
                .is_none()
        });
        for hit in hits {
            let ind = matcher.indicator(hit.indicator);
            let key = (ind.malware.as_deref(), ind.kind);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let iref = ind.clone();
            let mut message = describe(&hit, &iref, &record.module);
            let mut level = Level::Detected;
            // A value the sweep kept from free text (an `observed` record)
            // was found inside text, though it is now a typed observable.
            let mut severity = if hit.in_text || record.event == crate::artifacts::observe::EVENT {
                Severity::High
            } else {
                Severity::Critical
            };
            if let Some((not_stock, why)) = stock_check(record, obs, &hit, ind, matcher) {
                message = format!("{message}; {why}");
                if !not_stock {
                    // A record already detected for this malware (its file
                    // path indicator matched) needs no weaker second word.
                    if out.iter().any(|f| {
                        f.level == Level::Detected
                            && f.indicator.as_ref().and_then(|i| i.malware.as_deref())
                                == ind.malware.as_deref()
                    }) {
                        continue;
                    }
                    level = Level::Warning;
                    severity = Severity::Medium;
                }
            }
            // What the bundle says the indicator is (a vendor website, a
            // watchware app) may set the level through a catalogue rule.
            let mut rule = None;
            if let Some(role) = matcher.set().described(ind).and_then(roles::role) {
                let name = ind.malware.as_deref().unwrap_or("this application");
                message = format!("{message}; {}", role.note_for(name));
                if let Some(r) = role.rule {
                    level = r.level;
                    severity = r.severity;
                    rule = Some(r.id.to_string());
                }
            }
            out.push(Finding {
                level,
                severity,
                kind: FindingKind::Indicator,
                module: record.module.to_string(),
                artifact: record.artifact.to_string(),
                timestamp: record.timestamp,
                observable: Some(hit.found.clone()),
                indicator: Some(iref),
                rule,
                message,
                record: record.fields.to_map(),
                count: 1,
                first_seen: None,
                last_seen: None,
            });
        }
    }
    for alert in &record.alerts {
        out.push(Finding {
            level: alert.level,
            severity: alert.severity,
            kind: FindingKind::Heuristic,
            module: record.module.to_string(),
            artifact: record.artifact.to_string(),
            timestamp: record.timestamp,
            observable: None,
            indicator: None,
            rule: Some(alert.rule.clone()),
            message: alert.message.clone(),
            record: record.fields.to_map(),
            count: 1,
            first_seen: None,
            last_seen: None,
        });
    }
    out
}

/// Paths the record gives for `name`: the observable itself when it is a
/// path, the path around a text hit, file-path observables and string
/// fields whose path (or a command line's path) ends in `name`.
fn paths_for(record: &Record, obs: &Observable, hit: &Hit, name: &str) -> Vec<String> {
    let ends_in =
        |p: &str| p.starts_with('/') && crate::indicators::normalize::base_name(p) == name;
    let mut out: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if ends_in(p) && !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    };
    if let Some(p) = &hit.path {
        add(p);
    }
    if obs.kind != ObservableType::Text {
        add(obs.value.trim());
    }
    for o in &record.observables {
        if matches!(o.kind, ObservableType::FilePath | ObservableType::Process) {
            add(o.value.trim());
        }
    }
    // A typed observable is about the record; a text hit only about its line.
    if obs.kind != ObservableType::Text {
        for (_, v) in record.fields.iter() {
            if let Some(s) = v.as_str() {
                for word in s.split_whitespace() {
                    add(word.trim_matches(|c| matches!(c, '"' | '\'' | '(' | ')' | ',')));
                }
            }
        }
    }
    out
}

/// For a process or file-name indicator that is also a stock name: whether
/// the record shows the name outside its stock paths (the finding stays
/// `detected`; otherwise it becomes a warning), and the words to add.
fn stock_check(
    record: &Record,
    obs: &Observable,
    hit: &Hit,
    ind: &IndicatorRef,
    matcher: &Matcher,
) -> Option<(bool, String)> {
    if !matches!(ind.kind, ObservableType::Process | ObservableType::FileName) {
        return None;
    }
    let stock = matcher.stock_names().get(&ind.value)?;
    if !stock.downgrades() {
        return None;
    }
    let paths = paths_for(record, obs, hit, &ind.value);
    // A stock daemon's name run from elsewhere is not the stock binary; a
    // stock file name elsewhere is still only a name: the campaign's own
    // path indicator is what can detect it.
    let odd = paths
        .iter()
        .find(|p| !stock.is_stock_path(p))
        .filter(|_| stock.kind == StockKind::Process);
    if let Some(odd) = odd {
        return Some((
            true,
            format!(
                "{}, but here it is at {odd:?}, not a stock path",
                stock.describe()
            ),
        ));
    }
    let where_ = match paths.first() {
        Some(p) => format!("its path here is {p}"),
        None => "the record does not show its path".to_string(),
    };
    Some((
        false,
        format!(
            "{}; {where_}, so this may be the stock one. It may still matter: {}",
            stock.describe(),
            stock.why
        ),
    ))
}

/// Sort key that makes the findings order independent of thread count.
fn finding_order(f: &Finding) -> impl Ord + '_ {
    (
        f.level,
        f.severity,
        f.module.as_str(),
        f.timestamp,
        f.observable.as_ref().map(|o| o.value.as_str()),
        f.indicator.as_ref().map(|i| i.id.as_str()),
        f.rule.as_deref(),
        f.message.as_str(),
    )
}

/// Matches every record of a device scan, in parallel, sorted.
pub fn findings(scan: &DeviceScan, matcher: &Matcher) -> Vec<Finding> {
    use rayon::prelude::*;
    let all: Vec<Finding> = scan
        .modules
        .par_iter()
        .flat_map(|m| m.records.par_iter())
        .flat_map_iter(|r| record_findings(r, matcher))
        .collect();
    aggregate(all)
}

/// Sorts findings so the order does not depend on thread count.
pub fn sort_findings(all: &mut [Finding]) {
    all.sort_by(|a, b| finding_order(a).cmp(&finding_order(b)));
}
