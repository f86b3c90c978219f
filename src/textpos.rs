//! Where a line of device text names a process.
//!
//! A published process name can be an ordinary word (Pegasus's `payload`),
//! so free text may match it only where the text gives the word that role:
//! the last component of an absolute path, a `NAME.app` bundle, a
//! `NAME[pid]` / `NAME(pid)` log prefix, a `Process: NAME` style field,
//! `remaining client pid: N (PATH)`, a tombstone's `>>> NAME <<<`, or the
//! command column of a ps/top row. Everything here works on bytes and knows
//! nothing of indicators or artifacts.

use std::ops::Range;

/// Byte classes as a table: these run on every byte of every swept line,
/// where a `contains` over a list of bytes was most of the scan's time.
const DELIM: u8 = 1;
const NAME: u8 = 2;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_whitespace() {
            t[b] |= DELIM;
        }
        if c.is_ascii_alphanumeric() || c >= 0x80 {
            t[b] |= NAME;
        }
        b += 1;
    }
    let delims = b"\"'`()[]{}<>,;|=";
    let mut i = 0;
    while i < delims.len() {
        t[delims[i] as usize] |= DELIM;
        i += 1;
    }
    let names = b"_-.+@";
    let mut i = 0;
    while i < names.len() {
        t[names[i] as usize] |= NAME;
        i += 1;
    }
    t
};

/// Bytes that end a path or a name in running text.
#[inline]
fn is_delim(b: u8) -> bool {
    CLASS[b as usize] & DELIM != 0
}

/// Bytes of a process name written without spaces.
#[inline]
fn is_name_byte(b: u8) -> bool {
    CLASS[b as usize] & NAME != 0
}

/// Keys of `KEY: NAME` / `KEY=NAME` fields whose value is a process, lower case.
const FIELD_KEYS: &[&[u8]] = &[
    b"process",
    b"procname",
    b"proc_name",
    b"process_name",
    b"processname",
    b"parentproc",
    b"responsible",
    b"responsibleproc",
    b"cmd line",
    b"cmdline",
    b"comm",
];

/// Byte ranges of the tokens of `line` that the text marks as a process (or
/// an executable file). Sorted, without duplicates.
pub fn process_tokens(line: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    path_tokens(line, &mut out);
    pid_prefix_tokens(line, &mut out);
    let keys: Vec<(usize, usize, bool)> = key_hits(line).collect();
    field_tokens(line, &keys, &mut out);
    client_pid_tokens(line, &keys, &mut out);
    tombstone_tokens(line, &mut out);
    ps_row_tokens(line, &mut out);
    out.retain(|r| r.start < r.end && r.end <= line.len());
    out.sort_by_key(|r| (r.start, r.end));
    out.dedup();
    out
}

/// Whether `range` of `line` is exactly one of its process tokens.
pub fn is_process_position(line: &[u8], range: Range<usize>) -> bool {
    if range.start >= range.end || range.end > line.len() {
        return false;
    }
    process_tokens(line).contains(&range)
}

/// The absolute path whose last component is `range`, if the token is one
/// (`/data/local/tmp/gatekeeperd`, `file:///usr/libexec/x`, `path:/x/y`).
pub fn enclosing_path(line: &[u8], range: Range<usize>) -> Option<Range<usize>> {
    if range.start == 0 || range.end > line.len() || line.get(range.start - 1) != Some(&b'/') {
        return None;
    }
    let mut s = range.start;
    while s > 0 && !is_delim(line[s - 1]) {
        s -= 1;
    }
    let seg = &line[s..range.start];
    let slash = memchr::memchr(b'/', seg)?;
    let start = if let Some(scheme) = memchr::memmem::find(seg, b"://") {
        if !seg[..scheme].eq_ignore_ascii_case(b"file") {
            return None;
        }
        s + scheme + 3
    } else if slash == 0 || seg[slash - 1] == b':' {
        s + slash
    } else {
        return None;
    };
    (line.get(start) == Some(&b'/')).then_some(start..range.end)
}

/// `range` without trailing `:` and `.` (a sentence or a log prefix).
fn trim_tail(line: &[u8], mut r: Range<usize>) -> Range<usize> {
    while r.end > r.start && matches!(line[r.end - 1], b':' | b'.') {
        r.end -= 1;
    }
    r
}

/// Splits `line[range]` into the ranges between `/`.
fn components(line: &[u8], range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = range.start;
    for i in range.clone() {
        if line[i] == b'/' {
            out.push(start..i);
            start = i + 1;
        }
    }
    out.push(start..range.end);
    out
}

/// The stem of a bundle component (`Name.app`, `Name.appex`, `Name.xpc`).
fn bundle_stem(line: &[u8], c: &Range<usize>) -> Option<Range<usize>> {
    let s = &line[c.clone()];
    for ext in [&b".app"[..], b".appex", b".xpc"] {
        if s.len() > ext.len() && s.ends_with(ext) {
            return Some(c.start..c.end - ext.len());
        }
    }
    None
}

/// Absolute paths (and `file://` URLs): the last component, and the stem of
/// every bundle component; relative paths: bundle stems and the executable
/// right after a bundle.
fn path_tokens(line: &[u8], out: &mut Vec<Range<usize>>) {
    // Only a segment with a `/` can be a path: find the slashes, then the
    // segment around each (most lines hold none, and cost one memchr).
    let mut from = 0;
    while let Some(k) = memchr::memchr(b'/', &line[from..]) {
        let slash_at = from + k;
        let mut start = slash_at;
        while start > from && !is_delim(line[start - 1]) {
            start -= 1;
        }
        let mut i = slash_at;
        while i < line.len() && !is_delim(line[i]) {
            i += 1;
        }
        from = i.max(slash_at + 1);
        let seg = start..i;
        let bytes = &line[seg.clone()];
        let Some(slash) = memchr::memchr(b'/', bytes) else {
            continue;
        };
        let path = if let Some(scheme_end) = memchr::memmem::find(bytes, b"://") {
            // URLs are matched as URLs; only `file://` names a local file.
            if !bytes[..scheme_end].eq_ignore_ascii_case(b"file") {
                continue;
            }
            start + scheme_end + 2..seg.end
        } else if slash == 0 || bytes[slash - 1] == b':' {
            start + slash..seg.end
        } else {
            // A relative path: only bundles say it holds an executable.
            let comps = components(line, seg.clone());
            for (n, c) in comps.iter().enumerate() {
                if let Some(stem) = bundle_stem(line, c) {
                    out.push(stem);
                    if n + 2 == comps.len() {
                        out.push(trim_tail(line, comps[n + 1].clone()));
                    }
                }
            }
            continue;
        };
        let comps = components(line, path);
        for c in &comps {
            if let Some(stem) = bundle_stem(line, c) {
                out.push(stem);
            }
        }
        if let Some(last) = comps.last() {
            out.push(trim_tail(line, last.clone()));
        }
    }
}

/// `NAME[pid]`, `NAME[pid:tid]`, `NAME(pid)`, `NAME( pid)` (logcat), and
/// `NAME(Subsystem)[pid]` (iOS syslog).
fn pid_prefix_tokens(line: &[u8], out: &mut Vec<Range<usize>>) {
    for i in memchr::memchr2_iter(b'[', b'(', line) {
        let b = line[i];
        let close = match b {
            b'[' => b']',
            b'(' => b')',
            _ => continue,
        };
        if !pid_group(line, i + 1, close) {
            continue;
        }
        let mut end = i;
        // `NAME(Subsystem)[pid]`: step over the subsystem group.
        if b == b'[' && end > 0 && line[end - 1] == b')' {
            match line[..end - 1].iter().rposition(|&c| c == b'(') {
                Some(open) => end = open,
                None => continue,
            }
        }
        let mut start = end;
        while start > 0 && is_name_byte(line[start - 1]) {
            start -= 1;
        }
        let name = trim_leading_dots(line, start..end);
        if line[name.clone()].iter().any(u8::is_ascii_alphabetic) {
            out.push(name);
        }
    }
}

fn trim_leading_dots(line: &[u8], mut r: Range<usize>) -> Range<usize> {
    while r.start < r.end && matches!(line[r.start], b'.' | b'-') {
        r.start += 1;
    }
    r
}

/// At `line[at..]`: optional spaces, digits, optional `:digits`, optional
/// spaces, then `close`.
fn pid_group(line: &[u8], at: usize, close: u8) -> bool {
    let mut j = at;
    while j < line.len() && line[j] == b' ' {
        j += 1;
    }
    let digits = j;
    while j < line.len() && line[j].is_ascii_digit() {
        j += 1;
    }
    if j == digits {
        return false;
    }
    if j < line.len() && line[j] == b':' {
        j += 1;
        let d = j;
        while j < line.len() && line[j].is_ascii_digit() {
            j += 1;
        }
        if j == d {
            return false;
        }
    }
    while j < line.len() && line[j] == b' ' {
        j += 1;
    }
    line.get(j) == Some(&close)
}

/// `Process: NAME`, `"procName":"NAME"`, `process=NAME`, `Cmd line: NAME`…
/// A path value gives its last component.
/// The field keys (and `pid`), matched ASCII-case-insensitively, longest
/// first (`process_name` over `process`; no key starts inside a longer one),
/// in one automaton built once: this runs on every swept line, so no
/// per-line copy or searcher.
static KEYS: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(FIELD_KEYS.iter().copied().chain([&b"pid"[..]]))
        .expect("static keys")
});

/// Pattern id of `pid` in `KEYS`.
const PID_KEY: usize = FIELD_KEYS.len();

/// Where `KEYS` match in `line`: (start, end, is `pid`).
fn key_hits(line: &[u8]) -> impl Iterator<Item = (usize, usize, bool)> + '_ {
    KEYS.find_iter(line)
        .map(|m| (m.start(), m.end(), m.pattern().as_usize() == PID_KEY))
}

fn field_tokens(line: &[u8], keys: &[(usize, usize, bool)], out: &mut Vec<Range<usize>>) {
    for &(at, end, pid) in keys {
        if pid {
            continue;
        }
        {
            if at > 0 && (line[at - 1].is_ascii_alphanumeric() || line[at - 1] == b'_') {
                continue;
            }
            let mut j = end;
            if line.get(j) == Some(&b'"') {
                j += 1;
            }
            j = skip_blanks(line, j);
            if !matches!(line.get(j), Some(b':' | b'=')) {
                continue;
            }
            j = skip_blanks(line, j + 1);
            if line.get(j) == Some(&b'"') {
                j += 1;
            }
            let start = j;
            while j < line.len() && !is_delim(line[j]) {
                j += 1;
            }
            let value = trim_tail(line, start..j);
            if value.is_empty() {
                continue;
            }
            let last = components(line, value).pop().unwrap_or(start..start);
            out.push(trim_tail(line, last));
        }
    }
}

fn skip_blanks(line: &[u8], mut j: usize) -> usize {
    while j < line.len() && matches!(line[j], b' ' | b'\t') {
        j += 1;
    }
    j
}

/// `remaining client pid: N (PATH)` (iOS shutdown.log) and other
/// `pid[:=] N (NAME)` forms; the path may hold spaces (`Some App.app`).
fn client_pid_tokens(line: &[u8], keys: &[(usize, usize, bool)], out: &mut Vec<Range<usize>>) {
    for &(at, _, pid) in keys {
        if !pid || (at > 0 && line[at - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let mut j = at + 3;
        if matches!(line.get(j), Some(b':' | b'=')) {
            j += 1;
        }
        j = skip_blanks(line, j);
        let digits = j;
        while j < line.len() && line[j].is_ascii_digit() {
            j += 1;
        }
        if j == digits {
            continue;
        }
        j = skip_blanks(line, j);
        if line.get(j) != Some(&b'(') {
            continue;
        }
        let start = j + 1;
        let Some(len) = memchr::memchr(b')', &line[start..]) else {
            continue;
        };
        let inner = start..start + len;
        let comps = components(line, inner);
        for c in &comps {
            if let Some(stem) = bundle_stem(line, c) {
                out.push(stem);
            }
        }
        if let Some(last) = comps.last() {
            out.push(trim_tail(line, last.clone()));
        }
    }
}

/// Android tombstones: `pid: 1, tid: 1, name: x  >>> /system/bin/NAME <<<`.
fn tombstone_tokens(line: &[u8], out: &mut Vec<Range<usize>>) {
    let Some(open) = memchr::memmem::find(line, b">>> ") else {
        return;
    };
    let start = open + 4;
    let Some(len) = memchr::memmem::find(&line[start..], b" <<<") else {
        return;
    };
    if let Some(last) = components(line, start..start + len).pop() {
        out.push(last);
    }
}

/// Whitespace-separated fields with their ranges.
fn fields(line: &[u8]) -> Vec<Range<usize>> {
    field_iter(line).collect()
}

/// The white-space separated fields of `line`, lazily.
fn field_iter(line: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return None;
        }
        let s = i;
        while i < line.len() && !line[i].is_ascii_whitespace() {
            i += 1;
        }
        Some(s..i)
    })
}

/// A number as ps and top print them: `1234`, `0.0`, `12.5%`, `100M`.
fn is_numeric_field(f: &[u8]) -> bool {
    let f = f.strip_suffix(b"%").unwrap_or(f);
    let f = match f.last() {
        Some(b'K' | b'M' | b'G' | b'T' | b'k' | b'm' | b'g') => &f[..f.len() - 1],
        _ => f,
    };
    !f.is_empty() && f[0].is_ascii_digit() && f.iter().all(|b| b.is_ascii_digit() || *b == b'.')
}

/// A CPU time column: `0:12.34`, `00:00:05`, `1-02:03:04`.
fn is_time_field(f: &[u8]) -> bool {
    f.contains(&b':')
        && f[0].is_ascii_digit()
        && f.last().is_some_and(u8::is_ascii_digit)
        && f.iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b':' | b'.' | b'-'))
}

/// The command column of a line that looks like a ps or top row: several
/// numeric columns, a pid among the first four, and the command after the
/// CPU-time column (or last, as Android's `ps -A` prints it).
fn ps_row_tokens(line: &[u8], out: &mut Vec<Range<usize>>) {
    // Most lines are not ps rows: a pid among the first four fields is
    // required, and is checked before the line is split whole.
    if !field_iter(line)
        .take(4)
        .any(|r| line[r].iter().all(u8::is_ascii_digit))
    {
        return;
    }
    let f = fields(line);
    if f.len() < 6 {
        return;
    }
    let numeric = f[..f.len() - 1]
        .iter()
        .filter(|r| is_numeric_field(&line[(*r).clone()]))
        .count();
    let pid_early = f[..4]
        .iter()
        .any(|r| line[r.clone()].iter().all(u8::is_ascii_digit));
    if numeric < 3 || !pid_early {
        return;
    }
    let cmd = match f
        .iter()
        .rposition(|r| is_time_field(&line[r.clone()]))
        .filter(|&t| t + 1 < f.len())
    {
        Some(t) => f[t + 1].clone(),
        None => f[f.len() - 1].clone(),
    };
    // Kernel threads print as `[kworker/0:1]`.
    let mut cmd = cmd;
    if line[cmd.clone()].starts_with(b"[") && line[cmd.clone()].ends_with(b"]") && cmd.len() > 2 {
        cmd = cmd.start + 1..cmd.end - 1;
        out.push(cmd);
        return;
    }
    if let Some(last) = components(line, cmd).pop() {
        out.push(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, name, whether the name's last occurrence is a process position)
    const CASES: &[(&str, &str, bool)] = &[
        // Paths.
        ("/usr/libexec/payload", "payload", true),
        ("launched /usr/sbin/bh -x", "bh", true),
        ("exec '/system/bin/gatekeeperd'", "gatekeeperd", true),
        ("path:/private/var/tmp/roleaccountd.", "roleaccountd", true),
        (
            "read /private/var/mobile/Library/Preferences/com.apple.photolibraryd.plist",
            "com.apple.photolibraryd.plist",
            true,
        ),
        ("file:///usr/libexec/payload ok", "payload", true),
        (
            "/var/containers/Bundle/Application/X/Evil.app/Evil crashed",
            "Evil",
            true,
        ),
        ("Payload/Evil.app/Info.plist", "Evil", true),
        // Log prefixes.
        (
            "Nov 30 12:00:01 iPhone payload[123]: started",
            "payload",
            true,
        ),
        ("msgacntd[88:1201] <Notice>: x", "msgacntd", true),
        (
            "SpringBoard(FrontBoard)[57] <Notice>: x",
            "SpringBoard",
            true,
        ),
        ("I/gatekeeperd( 1234): starting", "gatekeeperd", true),
        ("gatekeeperd(1234) exited", "gatekeeperd", true),
        // Fields.
        ("Process:               payload [1234]", "payload", true),
        ("Parent Process:        launchd [1]", "launchd", true),
        ("{\"procName\":\"payload\",\"pid\":3}", "payload", true),
        ("procname: gatekeeperd", "gatekeeperd", true),
        ("process=payload reason=x", "payload", true),
        ("Cmd line: com.evil.app", "com.evil.app", true),
        ("Process: /usr/libexec/payload", "payload", true),
        // shutdown.log and tombstones.
        (
            "remaining client pid: 1209 (/private/var/db/com.apple.xpc.roleaccountd.staging/payload)",
            "payload",
            true,
        ),
        (
            "remaining client pid: 77 (/var/containers/Bundle/Application/U/Some App.app/Some App)",
            "Some App",
            true,
        ),
        (
            "pid: 1234, tid: 1234, name: binder  >>> gatekeeperd <<<",
            "gatekeeperd",
            true,
        ),
        // ps / top rows.
        (
            "root             1     0 10782796   9164 do_epoll_wait       0 S init",
            "init",
            true,
        ),
        (
            "system         612     1 10879972   4796 binder_ioctl        0 S gatekeeperd",
            "gatekeeperd",
            true,
        ),
        (
            "root 0 - 73 1 4004 0.0 0.1 37 0 4223 1234 - ?? Ss 12:00AM 0:12.34 /usr/libexec/payload -d",
            "payload",
            true,
        ),
        (
            "  1234 root  20  0  12G 100M 50M S 0.0 1.2 0:01.23 gatekeeperd --x",
            "gatekeeperd",
            true,
        ),
        (
            "u:r:gatekeeperd:s0 system 612 612 1 10879972 4796 binder_ioctl 0 S 19 0 - 0 fg 00:00:00 gatekeeperd",
            "gatekeeperd",
            true,
        ),
        // Prose and near-misses.
        (
            "<6>[  12.345] q6asm_callback: payload size of 8 is less than expected",
            "payload",
            false,
        ),
        ("the payload was delivered", "payload", false),
        (
            "Starting service 'gatekeeperd' failed, see gatekeeperd for details",
            "gatekeeperd",
            false,
        ),
        ("gatekeeperd is a daemon", "gatekeeperd", false),
        ("https://evil.com/payload", "payload", false),
        ("/private/var/db/payload/other", "payload", false),
        ("failed to process payload", "payload", false),
        ("payload (8 bytes)", "payload", false),
        ("payload[abc]", "payload", false),
        (
            "At 12:00 the payload was delivered to 3 users",
            "payload",
            false,
        ),
        ("relative/payload", "payload", false),
    ];

    #[test]
    fn table() {
        for (line, name, want) in CASES {
            let start = line.rfind(name).expect("name in line");
            let range = start..start + name.len();
            assert_eq!(
                is_process_position(line.as_bytes(), range),
                *want,
                "{name:?} in {line:?}: tokens {:?}",
                process_tokens(line.as_bytes())
                    .into_iter()
                    .map(|r| &line[r])
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn enclosing_paths() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "exec /data/local/tmp/gatekeeperd now",
                "gatekeeperd",
                Some("/data/local/tmp/gatekeeperd"),
            ),
            (
                "file:///system/bin/gatekeeperd",
                "gatekeeperd",
                Some("/system/bin/gatekeeperd"),
            ),
            ("path:/a/b", "b", Some("/a/b")),
            ("gatekeeperd[12]: x", "gatekeeperd", None),
            ("https://h/x", "x", None),
            ("rel/x", "x", None),
        ];
        for (line, name, want) in cases {
            let s = line.rfind(name).unwrap();
            let got = enclosing_path(line.as_bytes(), s..s + name.len()).map(|r| &line[r]);
            assert_eq!(got, *want, "{line:?}");
        }
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        for line in [
            &b""[..],
            b"[",
            b"(",
            b"pid: 3 (",
            b">>> ",
            b"Process:",
            b"/",
            b"//",
            b"a b c d e f",
            b"\xff\xfe[1]",
            b"x.app",
            b"1 2 3 4 5 [",
            b"1 2 3 4 5 []",
        ] {
            let _ = process_tokens(line);
            assert!(!is_process_position(line, 0..line.len() + 1));
        }
    }
}
