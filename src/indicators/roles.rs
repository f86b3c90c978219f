//! What a bundle says about an indicator, as data: a match's level comes
//! from the table here, not from the module that found the value.
//!
//! Echap's stalkerware set (bundled as `stalkerware/`) describes each
//! application as "Stalkerware application" or "Watchware application"
//! (monitoring software sold for consensual use: parental control, family
//! locators), and each domain as a "Command-and-control domain", a
//! "Distribution site" or a "Vendor website". A covert stalkerware app, its
//! certificate, its APK or its server stays `detected`; a watchware match
//! and a visit to a vendor's public site are warnings, each raised through
//! its catalogue rule so that `rules list`, README and `--allow rule:ID`
//! know them.

use crate::model::Rule;
use crate::rules;

use super::Described;

/// Which description a role reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum About {
    /// The indicator's own `description`.
    Indicator,
    /// The `description` of the malware it `indicates`.
    Malware,
}

/// One row of [`ROLES`].
#[derive(Clone, Copy, Debug)]
pub struct Role {
    pub about: About,
    /// The description, compared without case.
    pub says: &'static str,
    /// The rule that sets the level (`None`: the match stays `detected`).
    pub rule: Option<&'static Rule>,
    /// Added to the finding's message; `{name}` is the application's name.
    pub note: &'static str,
}

const STALKERWARE_NOTE: &str =
    "{name} is stalkerware: an app sold to watch a person covertly (Echap, stalkerware-indicators)";

/// First matching row wins: a vendor website stays a website even for a
/// watchware vendor.
pub const ROLES: &[Role] = &[
    Role {
        about: About::Indicator,
        says: "Vendor website",
        rule: Some(&rules::STALKERWARE_VENDOR_WEBSITE),
        note: "this is {name}'s public website: the device visited the vendor's public site, which is not an infection (Echap, stalkerware-indicators)",
    },
    Role {
        about: About::Malware,
        says: "Watchware application",
        rule: Some(&rules::STALKERWARE_WATCHWARE),
        note: "{name} is watchware, monitoring software sold for consensual use (parental control, family locator): legitimate, unlike covert stalkerware, but it can be abused to follow a person (Echap, stalkerware-indicators)",
    },
    Role {
        about: About::Malware,
        says: "Stalkerware application",
        rule: None,
        note: STALKERWARE_NOTE,
    },
    // Echap's own generated bundle words it in the plural.
    Role {
        about: About::Malware,
        says: "Stalkerware applications",
        rule: None,
        note: STALKERWARE_NOTE,
    },
];

/// The role of an indicator the bundle describes, if any row fits.
pub fn role(d: &Described) -> Option<&'static Role> {
    ROLES.iter().find(|r| {
        let text = match r.about {
            About::Indicator => d.indicator.as_deref(),
            About::Malware => d.malware.as_deref(),
        };
        text.is_some_and(|t| t.trim().eq_ignore_ascii_case(r.says))
    })
}

impl Role {
    /// The note for application `name`.
    pub fn note_for(&self, name: &str) -> String {
        self.note.replace("{name}", name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    fn d(indicator: Option<&str>, malware: Option<&str>) -> Described {
        Described {
            indicator: indicator.map(|s| s.to_string().into()),
            malware: malware.map(|s| s.to_string().into()),
        }
    }

    #[test]
    fn roles_follow_the_descriptions() {
        let level = |x: &Described| role(x).map(|r| r.rule.map(|r| r.level));
        let site = d(Some("Vendor website"), Some("Stalkerware application"));
        assert_eq!(level(&site), Some(Some(Level::Warning)));
        assert_eq!(
            role(&site).and_then(|r| r.rule).map(|r| r.id),
            Some("stalkerware.vendor_website")
        );
        let watch_site = d(Some("vendor website"), Some("Watchware application"));
        assert_eq!(
            role(&watch_site).and_then(|r| r.rule).map(|r| r.id),
            Some("stalkerware.vendor_website")
        );
        let watch_c2 = d(
            Some("Command-and-control domain"),
            Some("Watchware application"),
        );
        assert_eq!(
            role(&watch_c2).and_then(|r| r.rule).map(|r| r.id),
            Some("stalkerware.watchware")
        );
        let c2 = d(
            Some("Command-and-control domain"),
            Some("Stalkerware application"),
        );
        assert_eq!(level(&c2), Some(None));
        let dist = d(Some("Distribution site"), Some("Stalkerware applications"));
        assert_eq!(level(&dist), Some(None));
        assert!(role(&d(None, Some("Pegasus is a spyware suite"))).is_none());
        assert!(role(&d(Some("Vendor websites of x"), None)).is_none());
        assert!(
            role(&c2)
                .unwrap()
                .note_for("mSpy")
                .starts_with("mSpy is stalkerware")
        );
    }

    #[test]
    fn role_rules_are_warnings() {
        for r in ROLES {
            if let Some(rule) = r.rule {
                assert_eq!(rule.level, Level::Warning, "{}", rule.id);
            }
            assert!(r.note.contains("{name}"));
        }
    }
}
