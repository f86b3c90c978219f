//! The indicator types: what kind of value an observable or an indicator
//! is, and one published indicator as the matcher holds it. A file of its
//! own, with no `crate::` path in it, because build.rs compiles it too (it
//! runs the indicator parser over the bundled sets; see
//! `indicators::precompiled`).

use serde::{Deserialize, Serialize};

/// What kind of value an observable or an indicator is. The serialised names
/// are part of the report contract (`TYPE` in REPORT.md); `text` is only ever
/// an observable: free text swept by the automaton.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservableType {
    Domain,
    Url,
    Ipv4,
    Ipv6,
    Email,
    Process,
    FilePath,
    FileName,
    AppId,
    CertHash,
    Sha256,
    Sha1,
    Md5,
    ProfileId,
    AndroidProperty,
    /// Free text (a message body, a log line, a path mentioning a domain):
    /// every indicator string is searched for inside it.
    Text,
}

impl ObservableType {
    pub const ALL: [ObservableType; 16] = [
        Self::Domain,
        Self::Url,
        Self::Ipv4,
        Self::Ipv6,
        Self::Email,
        Self::Process,
        Self::FilePath,
        Self::FileName,
        Self::AppId,
        Self::CertHash,
        Self::Sha256,
        Self::Sha1,
        Self::Md5,
        Self::ProfileId,
        Self::AndroidProperty,
        Self::Text,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Url => "url",
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Email => "email",
            Self::Process => "process",
            Self::FilePath => "file_path",
            Self::FileName => "file_name",
            Self::AppId => "app_id",
            Self::CertHash => "cert_hash",
            Self::Sha256 => "sha256",
            Self::Sha1 => "sha1",
            Self::Md5 => "md5",
            Self::ProfileId => "profile_id",
            Self::AndroidProperty => "android_property",
            Self::Text => "text",
        }
    }
}

impl std::fmt::Display for ObservableType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One published indicator, normalised for matching; also what a finding
/// names (REPORT.md `indicator`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Indicator {
    #[serde(rename = "type")]
    pub kind: ObservableType,
    /// Normalised value (lower-cased where matching ignores case).
    pub value: String,
    pub pattern: String,
    pub id: String,
    pub malware: Option<String>,
    pub source: String,
}
