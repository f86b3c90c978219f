//! A small, strict parser for the STIX 2.1 patterns that indicator feeds use:
//! `[object:property = 'value']`, comparisons joined by `OR` inside one
//! observation, and observations joined by `OR`. Anything else (AND,
//! FOLLOWEDBY, qualifiers, other operators) is refused with a reason, so the
//! loader can count and report it instead of guessing.

/// Longest pattern accepted, in bytes (published patterns are under 4 KiB;
/// a bundle with a longer one is refused).
pub const MAX_PATTERN_BYTES: usize = 1024 * 1024;
/// Most comparisons one pattern may join with `OR`.
pub const MAX_TERMS: usize = 10_000;
/// Longest value of one comparison, in bytes (long URLs are a few KiB).
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

/// Checks a pattern against the documented limits, in one linear pass.
/// A pattern that does not parse is not a limit problem (the loader skips
/// it and says why).
pub fn check_limits(pattern: &str) -> Result<(), String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "pattern of {} bytes, more than the {MAX_PATTERN_BYTES} accepted",
            pattern.len()
        ));
    }
    let Ok(comparisons) = parse(pattern) else {
        return Ok(());
    };
    if comparisons.len() > MAX_TERMS {
        return Err(format!(
            "pattern with {} comparisons, more than the {MAX_TERMS} accepted",
            comparisons.len()
        ));
    }
    if let Some(c) = comparisons.iter().find(|c| c.value.len() > MAX_VALUE_BYTES) {
        return Err(format!(
            "value of {} bytes for {}, more than the {MAX_VALUE_BYTES} accepted",
            c.value.len(),
            c.key
        ));
    }
    Ok(())
}

/// One `object:property = 'value'` comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// `object:property` as written, quotes kept (`file:hashes.'SHA-256'`).
    pub key: String,
    pub value: String,
}

impl Comparison {
    /// This comparison alone as a pattern, for an indicator that came from
    /// a pattern of several (each keeps its own few bytes, not a copy of
    /// the whole pattern: memory stays linear in the pattern's size).
    pub fn to_pattern(&self) -> String {
        format!(
            "[{} = '{}']",
            self.key,
            self.value.replace('\\', "\\\\").replace('\'', "\\'")
        )
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct PatternError(pub String);

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let end = self.i + kw.len();
        if end <= self.s.len()
            && self.s[self.i..end].eq_ignore_ascii_case(kw.as_bytes())
            && self.s.get(end).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            self.i = end;
            true
        } else {
            false
        }
    }

    fn done(&mut self) -> bool {
        self.skip_ws();
        self.i >= self.s.len()
    }

    /// An object path: letters, digits, `-`, `_`, `:`, `.`, and quoted parts.
    fn key(&mut self) -> Result<String, PatternError> {
        self.skip_ws();
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b':' | b'.' => self.i += 1,
                b'\'' => {
                    // A quoted path component such as hashes.'SHA-256'.
                    self.i += 1;
                    while let Some(&q) = self.s.get(self.i) {
                        self.i += 1;
                        if q == b'\'' {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        let key = String::from_utf8_lossy(&self.s[start..self.i]).to_string();
        if !key.contains(':') {
            return Err(PatternError(format!(
                "expected object:property, found {key:?}"
            )));
        }
        Ok(key)
    }

    /// A single-quoted string literal with `\'` and `\\` escapes.
    fn literal(&mut self) -> Result<String, PatternError> {
        self.skip_ws();
        if self.s.get(self.i) != Some(&b'\'') {
            return Err(PatternError("only string literals are supported".into()));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return Err(PatternError("unterminated string literal".into())),
                Some(b'\\') => {
                    match self.s.get(self.i + 1) {
                        Some(&c @ (b'\'' | b'\\')) => out.push(c),
                        _ => return Err(PatternError("unknown escape in string literal".into())),
                    }
                    self.i += 2;
                }
                Some(b'\'') => {
                    self.i += 1;
                    break;
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| PatternError("literal is not UTF-8".into()))
    }
}

/// Parses a pattern into the comparisons any one of which makes it match.
pub fn parse(pattern: &str) -> Result<Vec<Comparison>, PatternError> {
    let mut c = Cursor {
        s: pattern.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        if !c.eat(b'[') {
            return Err(PatternError("expected '['".into()));
        }
        loop {
            let key = c.key()?;
            if !c.eat(b'=') {
                return Err(PatternError(format!(
                    "unsupported operator after {key} (only = is supported)"
                )));
            }
            let value = c.literal()?;
            out.push(Comparison { key, value });
            if c.eat(b']') {
                break;
            }
            if c.eat_keyword("AND") {
                return Err(PatternError("AND is not supported".into()));
            }
            if !c.eat_keyword("OR") {
                return Err(PatternError("expected OR or ']'".into()));
            }
        }
        if c.done() {
            return Ok(out);
        }
        if c.eat_keyword("OR") {
            continue;
        }
        return Err(PatternError(
            "only OR between observations is supported (no AND, FOLLOWEDBY or qualifiers)".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, value: &str) -> Vec<Comparison> {
        vec![Comparison {
            key: key.into(),
            value: value.into(),
        }]
    }

    #[test]
    fn published_forms() {
        assert_eq!(
            parse("[domain-name:value='evil.com']").unwrap(),
            one("domain-name:value", "evil.com")
        );
        assert_eq!(
            parse("[url:value = 'https://x.org/a?b=c&d=e']").unwrap(),
            one("url:value", "https://x.org/a?b=c&d=e")
        );
        assert_eq!(
            parse("[file:hashes.'SHA-256'='ab12']").unwrap(),
            one("file:hashes.'SHA-256'", "ab12")
        );
        assert_eq!(
            parse(r"[process:name = 'it\'s\\']").unwrap(),
            one("process:name", r"it's\")
        );
    }

    #[test]
    fn or_forms() {
        let both = parse("[domain-name:value = 'a.com' OR domain-name:value = 'b.com']").unwrap();
        assert_eq!(both.len(), 2);
        let obs = parse("[domain-name:value = 'a.com'] OR [process:name = 'bh']").unwrap();
        assert_eq!(
            obs[1],
            Comparison {
                key: "process:name".into(),
                value: "bh".into()
            }
        );
    }

    #[test]
    fn limits_and_linear_parse() {
        let terms: Vec<String> = (0..MAX_TERMS + 1)
            .map(|i| format!("domain-name:value = 'd{i}.example'"))
            .collect();
        let big = format!("[{}]", terms.join(" OR "));
        let t = std::time::Instant::now();
        assert_eq!(parse(&big).unwrap().len(), MAX_TERMS + 1);
        assert!(t.elapsed().as_secs() < 5);
        assert!(check_limits(&big).unwrap_err().contains("comparisons"));
        let ok = format!("[{}]", terms[..MAX_TERMS].join(" OR "));
        assert!(check_limits(&ok).is_ok());
        let long = format!("[url:value = 'http://x/{}']", "a".repeat(MAX_VALUE_BYTES));
        assert!(check_limits(&long).unwrap_err().contains("value of"));
        let huge = format!("[url:value = '{}']", "a".repeat(MAX_PATTERN_BYTES));
        assert!(check_limits(&huge).unwrap_err().contains("pattern of"));
        let c = Comparison {
            key: "process:name".into(),
            value: r"it's\".into(),
        };
        assert_eq!(parse(&c.to_pattern()).unwrap(), vec![c]);
    }

    #[test]
    fn refused_forms() {
        for p in [
            "[domain-name:value = 'a' AND domain-name:value = 'b']",
            "[domain-name:value != 'a']",
            "[domain-name:value LIKE 'a%']",
            "[a:b = 'x'] FOLLOWEDBY [a:b = 'y']",
            "[a:b = 'x'] WITHIN 5 SECONDS",
            "[a:b = 'x'",
            "a:b = 'x'",
            "[a:b = 5]",
            "[nocolon = 'x']",
            "",
        ] {
            assert!(parse(p).is_err(), "{p}");
        }
    }
}
