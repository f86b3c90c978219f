//! SMS and MMS of the telephony provider's backup
//! (`apps/com.android.providers.telephony/d_f/NNNNNN_{sms,mms}_backup`):
//! each file is a zlib stream of a JSON array. Links in bodies become URL
//! and domain observables; the body itself is swept as text.

use serde_json::Value;

use super::BackupModule;
use crate::artifacts::ModuleError;
use crate::evidence::android_backup::AbMember;
use crate::model::{ObservableType, Record};
use crate::strings::LINK;

pub const MODULE: BackupModule = BackupModule {
    name: "sms",
    artifact: "apps/com.android.providers.telephony",
    wants: is_sms_member,
    run,
};

/// SMS chunks first, then MMS; a chunk that fails is an error only when
/// no chunk could be read.
fn run(mut members: Vec<&AbMember>) -> Result<Vec<Record>, ModuleError> {
    members.sort_by_key(|m| (m.name.ends_with("_mms_backup"), m.name.clone()));
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for m in &members {
        match parse(&m.name, &m.data) {
            Ok(r) => out.extend(r),
            Err(e) => errors.push(e),
        }
    }
    if out.is_empty() && !errors.is_empty() {
        return Err(ModuleError::Failed(errors.join("; ")));
    }
    Ok(out)
}

pub fn is_sms_member(name: &str) -> bool {
    name.starts_with("apps/com.android.providers.telephony/d_f/")
        && (name.ends_with("_sms_backup") || name.ends_with("_mms_backup"))
}

/// Host of a URL, lower-cased, without port or credentials.
pub fn url_host(link: &str) -> Option<String> {
    let rest = link.split_once("://").map(|(_, r)| r).unwrap_or(link);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host.split(']').next()?.trim_start_matches('[')
    } else {
        host.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_lowercase();
    if host.is_empty() { None } else { Some(host) }
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Parses one backup member. SMS go before MMS in MVT's order; the caller
/// sorts members accordingly.
pub fn parse(name: &str, data: &[u8]) -> Result<Vec<Record>, String> {
    let json = crate::evidence::inflate_zlib_capped(data).map_err(|e| format!("{name}: {e}"))?;
    let items: Vec<Value> =
        serde_json::from_slice(&json).map_err(|e| format!("{name}: not a JSON array: {e}"))?;
    let is_mms = name.ends_with("_mms_backup");
    let mut out = Vec::new();
    for item in items {
        let body = if is_mms {
            s(&item, "mms_body")
        } else {
            s(&item, "body")
        };
        let date: i64 = s(&item, "date").trim().parse().unwrap_or(0);
        // MMS dates are seconds, SMS dates milliseconds (MVT treats both as ms).
        let ts = if is_mms {
            crate::time::from_unix(date)
        } else {
            crate::time::from_unix_ms(date)
        };
        let sent = s(&item, "date_sent").trim().parse::<i64>().unwrap_or(0) != 0;
        let direction = if sent { "sent" } else { "received" };
        let address = if is_mms {
            item.get("mms_addresses")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .map(|x| s(x, "address"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        } else {
            s(&item, "address")
        };
        let links: Vec<String> = LINK
            .find_iter(&body)
            .map(|m| m.as_str().to_string())
            .collect();
        let kind = if is_mms { "mms" } else { "sms" };
        let mut r = Record::new(MODULE.name, name)
            .at(ts)
            .event(
                kind,
                format!("{} {direction} {address}: {body}", kind.to_uppercase()),
            )
            .field("address", address.as_str())
            .field("body", body.as_str())
            .field("direction", direction)
            .field("links", links.clone())
            .observe(ObservableType::Text, body.as_str());
        for link in &links {
            r.push_observable(ObservableType::Url, link.as_str());
            if let Some(h) = url_host(link) {
                r.push_observable(ObservableType::Domain, h);
            }
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            url_host("https://User@Evil.COM:8443/x?y").as_deref(),
            Some("evil.com")
        );
        assert_eq!(url_host("http://google.com").as_deref(), Some("google.com"));
        assert_eq!(url_host("http://[::1]:80/").as_deref(), Some("::1"));
    }
}
