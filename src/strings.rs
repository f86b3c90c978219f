//! Small helpers over the strings devices write, shared by the evidence
//! readers, the artifact modules and the matcher: the last component of a
//! `/`-separated path, and the link pattern. Nothing here knows where the
//! string came from.

use std::sync::LazyLock;

use regex::Regex;

/// The last component of a `/`-separated path, trailing slashes ignored
/// (`/a/b/roleaccountd` → `roleaccountd`, `a/b/` → `b`); the whole string
/// when it has no slash.
pub fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// `http://` or `https://` (any case) and everything up to white space:
/// MVT's `check_for_links` pattern. The one link pattern of the tree; a
/// reader that wants links to stop earlier cuts the match (see
/// `artifacts::ios::util::links`).
pub static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)https?://\S+").expect("static regex"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names() {
        assert_eq!(base_name("/a/b/roleaccountd"), "roleaccountd");
        assert_eq!(base_name("a/b/"), "b");
        assert_eq!(base_name("plain"), "plain");
        assert_eq!(base_name(""), "");
        assert_eq!(base_name("/"), "");
        let links: Vec<&str> = LINK
            .find_iter("x HTTPS://a.b/c?d=1. http:// http://e\"f")
            .map(|m| m.as_str())
            .collect();
        assert_eq!(links, ["HTTPS://a.b/c?d=1.", "http://e\"f"]);
    }
}
