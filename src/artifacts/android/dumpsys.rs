//! Splitting a dumpstate / dumpsys text into its sections, and the shared
//! helpers the section parsers use.

use jiff::Timestamp;

/// The 79-dash line between dumpsys services; MVT ends a section at the
/// first line that starts with 78 dashes.
const DELIM: &str =
    "------------------------------------------------------------------------------";

/// Text of the section after the line `DUMP OF SERVICE <name>:` up to the
/// next dash delimiter (only the first occurrence counts). `None` when the
/// service is absent.
pub fn section<'a>(text: &'a str, service: &str) -> Option<&'a str> {
    let marker = format!("DUMP OF SERVICE {service}:");
    let finder = memchr::memmem::Finder::new(marker.as_bytes());
    let bytes = text.as_bytes();
    for at in finder.find_iter(bytes) {
        // The marker must be alone on its line (bar white space). Look only
        // at the white space around it, never the whole line: a line of
        // false markers would otherwise make this quadratic.
        let before = &bytes[..at];
        let lead = before
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace() && **b != b'\n')
            .count();
        if at - lead > 0 && bytes[at - lead - 1] != b'\n' {
            continue;
        }
        let after = at + marker.len();
        let trail = bytes[after..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace() && **b != b'\n')
            .count();
        let line_end = after + trail;
        if line_end < bytes.len() && bytes[line_end] != b'\n' {
            continue;
        }
        let body_start = (line_end + 1).min(text.len());
        let body = &text[body_start..];
        let mut end = body.len();
        let mut pos = 0;
        for line in body.split_inclusive('\n') {
            if line.trim().starts_with(DELIM) {
                end = pos;
                break;
            }
            pos += line.len();
        }
        return Some(body[..end].trim_end_matches('\n'));
    }
    None
}

/// The dumpstate `------ SYSTEM PROPERTIES` block, up to the next `------`
/// line that is not a duration line (Android 8+ prints
/// `------ 0.02s was the duration of 'SYSTEM PROPERTIES' ------`, older
/// dumpstates a bare `------`).
pub fn system_properties(text: &str) -> Option<&str> {
    command_section(text, "SYSTEM PROPERTIES")
}

/// The body of the dumpstate block `------ <title> (command) ------`, up to
/// the next `------` line; `------ 0.1s was the duration of ...` lines that
/// land inside a block do not end it (as MVT's `extract_command_section`).
pub fn command_section<'a>(text: &'a str, title: &str) -> Option<&'a str> {
    let marker = format!("------ {title}");
    let at = memchr::memmem::find(text.as_bytes(), marker.as_bytes())?;
    let start = text[at..].find('\n').map(|i| at + i + 1)?;
    let body = &text[start..];
    let mut pos = 0;
    for line in body.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with("------") && !is_duration_line(t) {
            return Some(&body[..pos]);
        }
        pos += line.len();
    }
    Some(body)
}

fn is_duration_line(t: &str) -> bool {
    t.trim_start_matches('-')
        .trim_start()
        .split_once("s was the duration of")
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// The log blocks of a dumpstate (`------ SYSTEM LOG (...) ------`, EVENT
/// LOG, RADIO LOG, KERNEL LOG, LAST LOGCAT ...): (title, body) pairs; a body
/// ends at the next `------ ` line.
pub fn log_blocks(text: &str) -> Vec<(&str, &str)> {
    const TITLES: &[&str] = &[
        "SYSTEM LOG",
        "EVENT LOG",
        "RADIO LOG",
        "KERNEL LOG",
        "LAST LOGCAT",
        "LAST KMSG",
    ];
    let mut out = Vec::new();
    let finder = memchr::memmem::Finder::new(b"\n------ ");
    let bytes = text.as_bytes();
    let starts: Vec<usize> = finder.find_iter(bytes).map(|i| i + 1).collect();
    for (k, &at) in starts.iter().enumerate() {
        let line_end = text[at..].find('\n').map(|i| at + i).unwrap_or(text.len());
        let title = &text[at + 7..line_end];
        let Some(name) = TITLES.iter().find(|t| title.starts_with(**t)) else {
            continue;
        };
        let body_end = starts.get(k + 1).copied().unwrap_or(text.len());
        let body_start = (line_end + 1).min(body_end);
        out.push((*name, &text[body_start..body_end]));
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS[.fff]` device wall clock, read as if UTC; the scan
/// then re-reads every dumpsys time in the device's zone (`localise` in
/// `android/mod.rs`), or marks it `unknown, device-local`.
pub fn parse_local(text: &str) -> Option<Timestamp> {
    crate::time::parse_iso(text.trim())
}

/// Leading spaces of a line.
pub fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Packages whose presence means the phone was rooted.
pub const ROOT_PACKAGES: &[&str] = &[
    "com.noshufou.android.su",
    "com.noshufou.android.su.elite",
    "eu.chainfire.supersu",
    "com.koushikdutta.superuser",
    "com.thirdparty.superuser",
    "com.yellowes.su",
    "com.koushikdutta.rommanager",
    "com.koushikdutta.rommanager.license",
    "com.dimonvideo.luckypatcher",
    "com.chelpus.lackypatch",
    "com.ramdroid.appquarantine",
    "com.ramdroid.appquarantinepro",
    "com.devadvance.rootcloak",
    "com.devadvance.rootcloakplus",
    "de.robv.android.xposed.installer",
    "com.saurik.substrate",
    "com.zachspong.temprootremovejb",
    "com.amphoras.hidemyroot",
    "com.amphoras.hidemyrootadfree",
    "com.formyhm.hiderootPremium",
    "com.formyhm.hideroot",
    "me.phh.superuser",
    "eu.chainfire.supersu.pro",
    "com.kingouser.com",
    "com.topjohnwu.magisk",
];

pub fn is_root_package(name: &str) -> bool {
    ROOT_PACKAGES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections() {
        let d = "-".repeat(79);
        let text = format!(
            "x\n{d}\nDUMP OF SERVICE a:\nA1\nA2\n--------- 0.1s was the duration\n{d}\nDUMP OF SERVICE b:\nB\n"
        );
        assert_eq!(
            section(&text, "a"),
            Some("A1\nA2\n--------- 0.1s was the duration")
        );
        assert_eq!(section(&text, "b"), Some("B"));
        assert_eq!(section(&text, "c"), None);
        let props = "------ SYSTEM PROPERTIES (getprop) ------\n[a]: [b]\n------\n[x]: [y]\n";
        assert_eq!(system_properties(props), Some("[a]: [b]\n"));
        let modern = "------ SYSTEM PROPERTIES (getprop) ------\n[a]: [b]\n------ 0.02s was the duration of 'SYSTEM PROPERTIES' ------\n[c]: [d]\n------ KERNEL LOG ------\n[x]: [y]\n";
        assert_eq!(
            system_properties(modern),
            Some(
                "[a]: [b]\n------ 0.02s was the duration of 'SYSTEM PROPERTIES' ------\n[c]: [d]\n"
            )
        );
        let dump = "x\n------ SYSTEM LOG (logcat) ------\nl1\nl2\n------ 0.1s was the duration of 'SYSTEM LOG' ------\n------ EVENT LOG (logcat -b events) ------\ne1\n";
        assert_eq!(
            log_blocks(dump),
            [("SYSTEM LOG", "l1\nl2\n"), ("EVENT LOG", "e1\n")]
        );
    }
}
