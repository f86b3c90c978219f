//! One normal form per observable type, used for indicators and for values
//! found on a device alike, so that matching is a lookup.

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
    let h = host.trim().trim_end_matches('.');
    let h = h.strip_prefix("*.").unwrap_or(h);
    if h.is_empty() || h.contains(['/', ' ', '@']) {
        return None;
    }
    if h.is_ascii() {
        return Some(h.to_ascii_lowercase());
    }
    idna::domain_to_ascii(h).ok().filter(|s| !s.is_empty())
}

/// Splits a URL-ish string into (host, rest after the host). Accepts URLs with
/// or without scheme, userinfo and port.
pub fn url_host(url: &str) -> Option<(&str, &str)> {
    let u = url.trim();
    let after_scheme = match u.find("://") {
        Some(i)
            if u[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            &u[i + 3..]
        }
        _ => u,
    };
    let end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..end];
    let rest = &after_scheme[end..];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(stripped) = host_port.strip_prefix('[') {
        stripped.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        None
    } else {
        Some((host, rest))
    }
}

/// The key under which URL indicators are compared: scheme dropped, host
/// normalised, path kept as written. So `https://Evil.com/x` and
/// `evil.com/x` compare equal, and a feed's `domain/path` value works.
pub fn url_key(url: &str) -> String {
    match url_host(url) {
        Some((host, rest)) => format!(
            "{}{}",
            domain(host).unwrap_or_else(|| host.to_lowercase()),
            rest
        ),
        None => url.trim().to_string(),
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

    #[test]
    fn hashes_drop_colons() {
        assert_eq!(value_of(T::CertHash, "AB:CD").as_deref(), Some("abcd"));
    }
}
