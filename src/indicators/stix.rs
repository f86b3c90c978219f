//! The STIX 2.1 bundle envelope: indicators, malware, relationships and
//! reports. Unknown object types are skipped, never fatal.

use std::collections::HashMap;

use serde::Deserialize;

/// The fast path: every object a JSON object (as in every published feed).
#[derive(Deserialize)]
struct TypedBundle {
    #[serde(default)]
    objects: Vec<Object>,
}

/// The slow path: objects of any JSON shape, the odd ones skipped.
#[derive(Deserialize)]
struct Bundle {
    #[serde(default)]
    objects: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Object {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    pattern_type: Option<String>,
    #[serde(default)]
    relationship_type: Option<String>,
    #[serde(default)]
    source_ref: Option<String>,
    #[serde(default)]
    target_ref: Option<String>,
    #[serde(default)]
    object_refs: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    modified: Option<String>,
}

pub struct RawIndicator {
    pub id: String,
    pub pattern: String,
    pub malware: Option<String>,
    /// What the indicator is, in the bundle's own words (Echap's
    /// stalkerware set: "Vendor website", "Command-and-control domain").
    pub description: Option<String>,
    /// The description of the malware it indicates ("Watchware application").
    pub malware_description: Option<String>,
}

pub struct ParsedBundle {
    pub indicators: Vec<RawIndicator>,
    pub malware_names: Vec<String>,
    /// The newest `modified` (else `created`) time of any object: the
    /// date the set was last changed, as far as the bundle says.
    pub date: Option<jiff::Timestamp>,
}

/// One line of text, or nothing.
fn one_line(s: Option<String>) -> Option<String> {
    s.map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|d| !d.is_empty())
}

/// Parses a bundle. Indicators link to malware through `indicates`
/// relationships (as MVT does) or a `report`'s `object_refs`; dangling links
/// are ignored; an unlinked indicator has no malware name.
pub fn parse_bundle(bytes: &[u8]) -> Result<ParsedBundle, String> {
    let objects: Vec<Object> = match serde_json::from_slice::<TypedBundle>(bytes) {
        Ok(b) => b.objects,
        Err(_) => {
            let bundle: Bundle = serde_json::from_slice(bytes)
                .map_err(|e| format!("not a STIX2 JSON bundle: {e}"))?;
            bundle
                .objects
                .into_iter()
                .filter_map(|v| serde_json::from_value::<Object>(v).ok())
                .collect()
        }
    };
    let mut names: HashMap<String, String> = HashMap::new();
    let mut described: HashMap<String, String> = HashMap::new();
    let mut date: Option<jiff::Timestamp> = None;
    let mut links: HashMap<String, String> = HashMap::new();
    let mut indicators = Vec::new();
    let mut malware_names = Vec::new();
    let mut reports = Vec::new();
    for obj in objects {
        let when = obj
            .modified
            .as_deref()
            .or(obj.created.as_deref())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        if when > date {
            date = when;
        }
        match obj.kind.as_str() {
            "indicator" => {
                if let Some(pattern) = obj.pattern
                    && obj.pattern_type.as_deref().is_none_or(|t| t == "stix")
                {
                    // A hostile pattern refuses the whole bundle, so that
                    // `indicators update` never keeps it.
                    super::pattern::check_limits(&pattern)
                        .map_err(|e| format!("indicator {}: {e}", obj.id))?;
                    indicators.push((obj.id, pattern, one_line(obj.description)));
                }
            }
            "malware" | "threat-actor" | "intrusion-set" | "tool" | "campaign" => {
                if let Some(name) = obj.name {
                    if obj.kind == "malware" && !malware_names.contains(&name) {
                        malware_names.push(name.clone());
                    }
                    if let Some(d) = one_line(obj.description) {
                        described.insert(obj.id.clone(), d);
                    }
                    names.insert(obj.id, name);
                }
            }
            "relationship" if obj.relationship_type.as_deref() == Some("indicates") => {
                if let (Some(s), Some(t)) = (obj.source_ref, obj.target_ref) {
                    links.entry(s).or_insert(t);
                }
            }
            "report" => reports.push((obj.name, obj.object_refs)),
            _ => {}
        }
    }
    for (name, refs) in reports {
        if let Some(name) = name {
            for r in refs {
                links
                    .entry(r.clone())
                    .or_insert_with(|| format!("report:{name}"));
            }
        }
    }
    let indicators = indicators
        .into_iter()
        .map(|(id, pattern, description)| {
            let target = links.get(&id);
            let malware = target.and_then(|target| {
                names
                    .get(target)
                    .cloned()
                    .or_else(|| target.strip_prefix("report:").map(str::to_string))
            });
            RawIndicator {
                malware_description: target.and_then(|t| described.get(t).cloned()),
                id,
                pattern,
                malware,
                description,
            }
        })
        .collect();
    Ok(ParsedBundle {
        indicators,
        malware_names,
        date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_through_relationships_and_skips_the_rest() {
        let json = br#"{"type":"bundle","id":"bundle--1","objects":[
            {"type":"indicator","id":"indicator--a","pattern":"[domain-name:value='a.com']","pattern_type":"stix"},
            {"type":"malware","id":"malware--m","name":"Pegasus"},
            {"type":"relationship","id":"r1","relationship_type":"indicates","source_ref":"indicator--a","target_ref":"malware--m"},
            {"type":"relationship","id":"r2","relationship_type":"indicates","source_ref":"indicator--gone","target_ref":"malware--m"},
            {"type":"indicator","id":"indicator--b","pattern":"[domain-name:value='b.com']"},
            {"type":"indicator","id":"indicator--c","pattern":"rule x {}","pattern_type":"yara"},
            {"type":"x-custom","id":"x--1","whatever":[1,2,3]},
            42
        ]}"#;
        let b = parse_bundle(json).unwrap();
        assert_eq!(b.indicators.len(), 2);
        assert_eq!(b.indicators[0].malware.as_deref(), Some("Pegasus"));
        assert_eq!(b.indicators[1].malware, None);
        assert_eq!(b.malware_names, vec!["Pegasus"]);
    }

    #[test]
    fn report_object_refs_name_the_collection() {
        let json = br#"{"type":"bundle","objects":[
            {"type":"report","id":"report--1","name":"OTX pulse","object_refs":["indicator--a"]},
            {"type":"indicator","id":"indicator--a","pattern":"[url:value = 'http://x.org/a']"}]}"#;
        let b = parse_bundle(json).unwrap();
        assert_eq!(b.indicators[0].malware.as_deref(), Some("OTX pulse"));
    }

    #[test]
    fn not_json_is_an_error() {
        let err = parse_bundle(b"not json").err().unwrap_or_default();
        assert!(err.contains("not a STIX2 JSON bundle"), "{err}");
    }
}
