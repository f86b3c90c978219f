//! One normal form per observable type, used for indicators and for values
//! found on a device alike, so that matching is a lookup.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::model::ObservableType;

/// The STIX key with hash spellings unified (`file:hashes.'SHA-256'` and
/// `file:hashes.sha256` are one key), for counting per key.
pub fn canonical_key(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    match lower.split_once(":hashes.") {
        Some((obj, algo)) => format!("{obj}:hashes.{}", algo.replace(['\'', '-'], "")),
        None => lower,
    }
}

/// Maps a STIX `object:property` and its value to an observable type and the
/// normalised value, or says why it cannot be used.
pub fn indicator(key: &str, value: &str) -> Result<(ObservableType, String), String> {
    use ObservableType as T;
    let value = value.trim();
    if value.is_empty() {
        return Err("empty value".into());
    }
    let kind = match canonical_key(key).as_str() {
        "domain-name:value" => {
            // Feeds store IPs as domains (NoviSpy) and the odd URL path
            // inside a domain (Coruna); type them by what they are.
            if value.parse::<Ipv4Addr>().is_ok() {
                T::Ipv4
            } else if value.contains('/') {
                T::Url
            } else {
                T::Domain
            }
        }
        "ipv4-addr:value" => T::Ipv4,
        "ipv6-addr:value" => T::Ipv6,
        "url:value" => T::Url,
        "email-addr:value" => T::Email,
        "process:name" => T::Process,
        "file:path" => T::FilePath,
        "file:name" => T::FileName,
        "file:hashes.sha256" => T::Sha256,
        "file:hashes.sha1" => T::Sha1,
        "file:hashes.md5" => T::Md5,
        "app:id" => T::AppId,
        "app:cert.sha256" | "app:cert.sha1" | "app:cert.md5" => T::CertHash,
        "configuration-profile:id" => T::ProfileId,
        "android-property:name" => T::AndroidProperty,
        other => return Err(format!("unsupported key {other}")),
    };
    let normal = value_of(kind, value).ok_or_else(|| format!("not a valid {kind} value"))?;
    Ok((kind, normal))
}

/// Normal form of a value of `kind`, or `None` when it is not one.
pub fn value_of(kind: ObservableType, value: &str) -> Option<String> {
    use ObservableType as T;
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    match kind {
        T::Domain => domain(v),
        T::Url => Some(url_key(v)),
        T::Ipv4 => v.parse::<Ipv4Addr>().ok().map(|ip| ip.to_string()),
        T::Ipv6 => v
            .trim_matches(['[', ']'])
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| ip.to_string()),
        T::Email => Some(v.to_lowercase()),
        T::Process | T::FileName => Some(v.to_string()),
        T::FilePath => Some(v.to_string()),
        T::Sha256 | T::Sha1 | T::Md5 | T::CertHash => {
            let h: String = v
                .chars()
                .filter(|c| *c != ':')
                .collect::<String>()
                .to_ascii_lowercase();
            h.bytes().all(|b| b.is_ascii_hexdigit()).then_some(h)
        }
        // Issue #2: app ids and profile ids compare case-insensitively.
        T::AppId | T::ProfileId => Some(v.to_lowercase()),
        T::AndroidProperty => Some(v.to_string()),
        T::Text => Some(v.to_string()),
    }
}

/// A host in normal form: lower case, no trailing dot, IDN as ASCII (punycode).
pub fn domain(host: &str) -> Option<String> {
    domain_cow(host).map(Cow::into_owned)
}

/// [`domain`], borrowing `host` (a part of it) when it is already in normal
/// form, so matching a lower-case host allocates nothing.
pub fn domain_cow(host: &str) -> Option<Cow<'_, str>> {
    let h = trim_end_byte(trim(host), b'.');
    let h = h.strip_prefix("*.").unwrap_or(h);
    if h.is_empty() {
        return None;
    }
    // One pass for `contains(['/', ' ', '@'])`, `is_ascii` and upper case
    // (ASCII characters are single bytes in UTF-8, so bytes will do).
    let (mut upper, mut ascii) = (false, true);
    for &b in h.as_bytes() {
        match b {
            b'/' | b' ' | b'@' => return None,
            b'A'..=b'Z' => upper = true,
            0x80.. => ascii = false,
            _ => {}
        }
    }
    if ascii {
        return Some(if upper {
            Cow::Owned(h.to_ascii_lowercase())
        } else {
            Cow::Borrowed(h)
        });
    }
    idna::domain_to_ascii(h)
        .ok()
        .filter(|s| !s.is_empty())
        .map(Cow::Owned)
}

/// `s.trim()`, without the Unicode look-up when `s` starts and ends with a
/// printable ASCII character (nearly always).
pub fn trim(s: &str) -> &str {
    let plain = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x7f).contains(b));
    if plain(s.as_bytes().first()) && plain(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

/// Whether `h` could parse as an `IpAddr`: only digits and dots (IPv4) or
/// something with a colon (IPv6) can, so other hosts skip the parser.
pub fn may_be_ip(h: &str) -> bool {
    memchr::memchr(b':', h.as_bytes()).is_some()
        || (!h.is_empty() && h.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// `s.to_ascii_lowercase()`, borrowed when `s` has no upper case.
fn ascii_lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// `s.to_lowercase()`, borrowed when that changes nothing (ASCII without
/// upper case).
fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        ascii_lower(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Splits a URL-ish string into (host, rest after the host). Accepts URLs with
/// or without scheme, userinfo and port.
pub fn url_host(url: &str) -> Option<(&str, &str)> {
    url_parts(url).map(|p| (p.host, p.rest))
}

/// A URL cut where [`url_host`] cuts it.
struct UrlParts<'u> {
    /// From the host (or the userinfo) to the end: authority and rest.
    after_scheme: &'u str,
    host: &'u str,
    rest: &'u str,
}

impl UrlParts<'_> {
    /// Whether `after_scheme` is exactly host then rest (no userinfo, port
    /// or brackets), so that a key of host and rest is a slice of it.
    fn host_then_rest(&self) -> bool {
        self.host.len() + self.rest.len() == self.after_scheme.len()
    }
}

/// The byte searches below look for ASCII characters, which are single
/// bytes in UTF-8 (so every position found is a character boundary).
fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let u = trim(url);
    let after_scheme = match find_scheme_end(u) {
        Some(i)
            if u[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            &u[i + 3..]
        }
        _ => u,
    };
    let end =
        memchr::memchr3(b'/', b'?', b'#', after_scheme.as_bytes()).unwrap_or(after_scheme.len());
    let authority = &after_scheme[..end];
    let rest = &after_scheme[end..];
    let host_port = match memchr::memrchr(b'@', authority.as_bytes()) {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = if let Some(stripped) = host_port.strip_prefix('[') {
        before_byte(stripped, b']')
    } else {
        before_byte(host_port, b':')
    };
    if host.is_empty() {
        None
    } else {
        Some(UrlParts {
            after_scheme,
            host,
            rest,
        })
    }
}

/// `u.find("://")`.
fn find_scheme_end(u: &str) -> Option<usize> {
    let b = u.as_bytes();
    let mut from = 0;
    while let Some(p) = memchr::memchr(b':', &b[from..]) {
        let i = from + p;
        if b[i + 1..].starts_with(b"//") {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// `s.trim_end_matches(c as char)` for an ASCII `c`, without the char
/// searcher.
pub fn trim_end_byte(s: &str, c: u8) -> &str {
    let b = s.as_bytes();
    let mut n = b.len();
    while n > 0 && b[n - 1] == c {
        n -= 1;
    }
    &s[..n]
}

/// `s.split(c as char).next()` for an ASCII `c`: `s` up to the first `c`.
fn before_byte(s: &str, c: u8) -> &str {
    memchr::memchr(c, s.as_bytes()).map_or(s, |i| &s[..i])
}

/// The key under which URL indicators are compared: scheme dropped, host
/// normalised, path kept as written. So `https://Evil.com/x` and
/// `evil.com/x` compare equal, and a feed's `domain/path` value works.
pub fn url_key(url: &str) -> String {
    url_key_cow(url).into_owned()
}

/// [`url_key`], borrowed from `url` when the host is already in normal form
/// and directly followed by the rest (the common `https://host/path`).
pub fn url_key_cow(url: &str) -> Cow<'_, str> {
    let Some(p) = url_parts(url) else {
        return Cow::Borrowed(trim(url));
    };
    let host = domain_cow(p.host).unwrap_or_else(|| lower(p.host));
    match host {
        Cow::Borrowed(h) if p.host_then_rest() && std::ptr::eq(h, p.host) => {
            Cow::Borrowed(p.after_scheme)
        }
        h => Cow::Owned(format!("{h}{}", p.rest)),
    }
}

/// The last path component (`/a/b/roleaccountd` → `roleaccountd`).
pub use crate::strings::base_name;

#[cfg(test)]
mod tests {
    use super::*;
    use ObservableType as T;

    #[test]
    fn typed_by_content() {
        assert_eq!(
            indicator("domain-name:value", "1.2.3.4").unwrap(),
            (T::Ipv4, "1.2.3.4".into())
        );
        assert_eq!(
            indicator("domain-name:value", "fgr1w2gnsdvsb.xyz/x").unwrap(),
            (T::Url, "fgr1w2gnsdvsb.xyz/x".into())
        );
        assert_eq!(
            indicator("file:hashes.'SHA-256'", "AB").unwrap(),
            (T::Sha256, "ab".into())
        );
        assert_eq!(indicator("file:hashes.sha256", "ab").unwrap().0, T::Sha256);
        assert!(indicator("x-thing:value", "a").is_err());
        assert!(indicator("file:hashes.sha256", "not-hex").is_err());
    }

    #[test]
    fn domains_and_urls() {
        assert_eq!(domain("Evil.COM.").as_deref(), Some("evil.com"));
        assert_eq!(
            domain("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            url_host("https://user@Evil.com:8443/a?b"),
            Some(("Evil.com", "/a?b"))
        );
        assert_eq!(url_host("evil.com/x"), Some(("evil.com", "/x")));
        assert_eq!(url_host("http://[::1]:80/"), Some(("::1", "/")));
        assert_eq!(url_key("HTTPS://News.Evil.com/x"), "news.evil.com/x");
    }

    /// The borrowed key is the allocated one, and borrows only when nothing
    /// changes.
    #[test]
    fn url_key_borrows_only_when_unchanged() {
        for (url, key, borrowed) in [
            ("https://evil.com/x?y#z", "evil.com/x?y#z", true),
            ("  evil.com/x ", "evil.com/x", true),
            ("evil.com", "evil.com", true),
            ("https://Evil.com/x", "evil.com/x", false),
            ("https://evil.com./x", "evil.com/x", false),
            ("https://*.evil.com/x", "evil.com/x", false),
            ("https://u@evil.com/x", "evil.com/x", false),
            ("https://evil.com:8443/x", "evil.com/x", false),
            ("http://[::1]:80/", "::1/", false),
            ("https://bücher.example/x", "xn--bcher-kva.example/x", false),
            ("https://a b/x", "a b/x", true),
            ("https://A B/x", "a b/x", false),
            ("https:///x", "https:///x", true),
            ("mailto:x@Evil.com", "evil.com", false),
        ] {
            let cow = url_key_cow(url);
            assert_eq!(cow, key, "{url}");
            assert_eq!(url_key(url), key, "{url}");
            assert_eq!(matches!(cow, Cow::Borrowed(_)), borrowed, "{url}");
            let old = match url_host(url) {
                Some((host, rest)) => format!(
                    "{}{}",
                    domain(host).unwrap_or_else(|| host.to_lowercase()),
                    rest
                ),
                None => url.trim().to_string(),
            };
            assert_eq!(old, key, "{url}");
        }
        assert!(matches!(domain_cow("evil.com"), Some(Cow::Borrowed(_))));
        assert!(matches!(domain_cow("Evil.com"), Some(Cow::Owned(_))));
    }

    #[test]
    fn fast_trim_is_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{b}a",
            "a\u{85}",
            "\u{3000}a\u{3000}",
            "ab",
            "é",
            "\x7f",
            "\0a",
            "a\t",
            "[x]",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn byte_cuts_are_the_char_cuts() {
        for u in [
            "a://b://c",
            "é://x/y",
            "x:/y://z",
            "::",
            "a:",
            "a//",
            "é/",
            "https://h:1@u:2/p",
            "//x",
            "a://",
        ] {
            assert_eq!(find_scheme_end(u), u.find("://"), "{u}");
            assert_eq!(before_byte(u, b':'), u.split(':').next().unwrap(), "{u}");
            assert_eq!(trim_end_byte(u, b'/'), u.trim_end_matches('/'), "{u}");
        }
    }

    #[test]
    fn every_ip_passes_the_ip_gate() {
        for h in [
            "1.2.3.4",
            "::",
            "::1",
            "2001:db8::1",
            "::ffff:1.2.3.4",
            "fe80::1",
            "0.0.0.0",
            "255.255.255.255",
            "1:2:3:4:5:6:7:8",
            "evil.com",
            "1.2.3",
            "a::b",
            "1.2.3.4.5",
        ] {
            if h.parse::<std::net::IpAddr>().is_ok() {
                assert!(may_be_ip(h), "{h}");
            }
        }
        assert!(!may_be_ip("evil.com") && !may_be_ip("") && !may_be_ip("1.2.3.x"));
    }

    #[test]
    fn hashes_drop_colons() {
        assert_eq!(value_of(T::CertHash, "AB:CD").as_deref(), Some("abcd"));
    }
}
