//! The human summary on stderr.

use std::fmt::Write as _;

use super::{Report, Verdict};
use crate::model::ModuleStatus;

/// Most findings listed per device before "and N more".
const MAX_LISTED: usize = 25;

/// Device text printed on a terminal: control characters (escape
/// sequences could rewrite the screen) shown as `?`, newlines kept.
fn printable(s: String) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\n') {
        return s;
    }
    s.chars()
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}

pub fn summary(r: &Report) -> String {
    printable(summary_text(r))
}

fn summary_text(r: &Report) -> String {
    let mut s = String::new();
    let d = &r.device;
    let who = d
        .name
        .clone()
        .or(d.identifier.clone())
        .unwrap_or_else(|| d.input_path.clone());
    let _ = writeln!(
        s,
        "{} ({}{}): {} modules, {} records, {} ms",
        who,
        d.input_kind,
        d.os_version
            .as_ref()
            .map(|v| format!(", {v}"))
            .unwrap_or_default(),
        r.modules.len(),
        r.modules.iter().map(|m| m.records).sum::<usize>(),
        r.scan.duration_ms
    );
    for f in r.findings.iter().take(MAX_LISTED) {
        let when = f.timestamp.map(|t| format!(" [{t}]")).unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:<8} {}{}",
            f.level.as_str().to_uppercase(),
            f.message,
            when
        );
    }
    if r.findings.len() > MAX_LISTED {
        let _ = writeln!(
            s,
            "  ... and {} more (see report.json)",
            r.findings.len() - MAX_LISTED
        );
    }
    for m in r.modules.iter().filter(|m| m.status == ModuleStatus::Error) {
        let _ = writeln!(
            s,
            "  module {} could not be read: {}",
            m.name,
            m.error.as_deref().unwrap_or("unknown error")
        );
    }
    for n in &r.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    let verdict = match r.summary.verdict {
        Verdict::Detected => "DETECTED",
        Verdict::Warnings => "WARNINGS",
        Verdict::NoFindings => "NO FINDINGS",
        Verdict::NothingRead => "NOTHING READ",
    };
    let _ = writeln!(
        s,
        "  {verdict}: {} detected, {} warnings, {} info. {}",
        r.summary.detected, r.summary.warning, r.summary.info, r.summary.note
    );
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_from_the_device_are_not_printed() {
        assert_eq!(super::printable("a\u{1b}[2Jb\tc\nd".into()), "a?[2Jb?c\nd");
    }
}
