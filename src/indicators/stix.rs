//! The STIX 2.1 bundle envelope: indicators, malware, relationships and
//! reports. Unknown object types are skipped, never fatal.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;

/// The fast path: every object a JSON object (as in every published feed).
/// Strings borrow from the bundle's bytes where JSON has no escape in
/// them: most fields are only compared or looked up, never kept.
#[derive(Deserialize)]
struct TypedBundle<'a> {
    #[serde(default, borrow)]
    objects: Vec<Object<'a>>,
}

/// The slow path: objects of any JSON shape, the odd ones skipped.
#[derive(Deserialize)]
struct Bundle {
    #[serde(default)]
    objects: Vec<serde_json::Value>,
}

/// A string of the bundle, borrowed where JSON has no escape in it. A
/// newtype because serde borrows only a field typed `Cow<'a, str>` itself
/// (not an alias, an `Option` or a `Vec` of it): those always allocate.
#[derive(Deserialize, Default)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

#[derive(Deserialize)]
struct Object<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Text<'a>,
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pattern: Option<Text<'a>>,
    #[serde(default, borrow)]
    pattern_type: Option<Text<'a>>,
    #[serde(default, borrow)]
    relationship_type: Option<Text<'a>>,
    #[serde(default, borrow)]
    source_ref: Option<Text<'a>>,
    #[serde(default, borrow)]
    target_ref: Option<Text<'a>>,
    #[serde(default, borrow)]
    object_refs: Vec<Text<'a>>,
    #[serde(default, borrow)]
    description: Option<Text<'a>>,
    #[serde(default, borrow)]
    created: Option<Text<'a>>,
    #[serde(default, borrow)]
    modified: Option<Text<'a>>,
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
fn one_line(s: Option<&str>) -> Option<String> {
    s.map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|d| !d.is_empty())
}

/// Parses a bundle. Indicators link to malware through `indicates`
/// relationships (as MVT does) or a `report`'s `object_refs`; dangling links
/// are ignored; an unlinked indicator has no malware name.
pub fn parse_bundle(bytes: &[u8]) -> Result<ParsedBundle, String> {
    match serde_json::from_slice::<TypedBundle>(bytes) {
        Ok(b) => link(b.objects),
        Err(_) => {
            let bundle: Bundle = serde_json::from_slice(bytes)
                .map_err(|e| format!("not a STIX2 JSON bundle: {e}"))?;
            link(
                bundle
                    .objects
                    .iter()
                    .filter_map(|v| Object::deserialize(v).ok())
                    .collect(),
            )
        }
    }
}

/// The newest `modified` (else `created`) time of `obj`, if it has one.
fn when(obj: &Object) -> Option<jiff::Timestamp> {
    obj.modified
        .as_deref()
        .or(obj.created.as_deref())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
}

/// What `parse_bundle` reads of the objects, in their order.
fn link(objects: Vec<Object<'_>>) -> Result<ParsedBundle, String> {
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut described: HashMap<&str, String> = HashMap::new();
    let mut date: Option<jiff::Timestamp> = None;
    let mut links: HashMap<&str, Cow<str>> = HashMap::new();
    let mut indicators = Vec::new();
    let mut malware_names: Vec<String> = Vec::new();
    let mut reports = Vec::new();
    for obj in &objects {
        let when = when(obj);
        if when > date {
            date = when;
        }
        match &*obj.kind {
            "indicator" => {
                if let Some(pattern) = obj.pattern.as_deref()
                    && obj.pattern_type.as_deref().is_none_or(|t| t == "stix")
                {
                    // A hostile pattern refuses the whole bundle, so that
                    // `indicators update` never keeps it.
                    super::pattern::check_limits(pattern)
                        .map_err(|e| format!("indicator {}: {e}", &*obj.id))?;
                    indicators.push((&*obj.id, pattern, obj.description.as_deref()));
                }
            }
            "malware" | "threat-actor" | "intrusion-set" | "tool" | "campaign" => {
                if let Some(name) = obj.name.as_deref() {
                    if &*obj.kind == "malware" && !malware_names.iter().any(|n| n == name) {
                        malware_names.push(name.to_string());
                    }
                    if let Some(d) = one_line(obj.description.as_deref()) {
                        described.insert(&obj.id, d);
                    }
                    names.insert(&obj.id, name);
                }
            }
            "relationship" if obj.relationship_type.as_deref() == Some("indicates") => {
                if let (Some(s), Some(t)) = (obj.source_ref.as_deref(), obj.target_ref.as_deref()) {
                    links.entry(s).or_insert(Cow::Borrowed(t));
                }
            }
            "report" => reports.push((obj.name.as_deref(), &obj.object_refs)),
            _ => {}
        }
    }
    for (name, refs) in reports {
        if let Some(name) = name {
            for r in refs {
                links
                    .entry(&**r)
                    .or_insert_with(|| Cow::Owned(format!("report:{name}")));
            }
        }
    }
    let indicators = indicators
        .into_iter()
        .map(|(id, pattern, description)| {
            let target = links.get(id).map(|t| &**t);
            let malware = target.and_then(|target| {
                names
                    .get(target)
                    .copied()
                    .or_else(|| target.strip_prefix("report:"))
                    .map(str::to_string)
            });
            RawIndicator {
                malware_description: target.and_then(|t| described.get(t).cloned()),
                id: id.to_string(),
                pattern: pattern.to_string(),
                malware,
                description: one_line(description),
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

    /// Unescaped strings borrow from the bytes (every field, in an `Option`
    /// or a `Vec` too); escaped ones are decoded, and every field the
    /// indicator keeps comes through either way.
    #[test]
    fn strings_borrow_unless_escaped() {
        let json = br#"{"objects":[
            {"type":"indicator","id":"indicator--a","pattern":"[domain-name:value = 'a.com']",
             "description":"C2\n  domain","modified":"2024-03-04T05:06:07Z"},
            {"type":"malware","id":"malware--m","name":"Peg\u0061sus","description":"Spy  ware"},
            {"type":"relationship","relationship_type":"indicates","source_ref":"indicator--a","target_ref":"malware--m"},
            {"type":"report","name":"r","object_refs":["indicator--a"]}]}"#;
        let b: TypedBundle = serde_json::from_slice(json).unwrap();
        let borrowed = |t: &Text| matches!(t.0, Cow::Borrowed(_));
        let [ind, mal, _, report] = &b.objects[..] else {
            panic!("four objects");
        };
        assert!(borrowed(&ind.kind) && borrowed(&ind.id));
        assert!(ind.pattern.as_ref().is_some_and(borrowed));
        assert!(report.object_refs.iter().all(borrowed));
        assert!(!ind.description.as_ref().is_some_and(borrowed));
        assert!(!mal.name.as_ref().is_some_and(borrowed));

        let p = parse_bundle(json).unwrap();
        let i = &p.indicators[0];
        assert_eq!(i.id, "indicator--a");
        assert_eq!(i.pattern, "[domain-name:value = 'a.com']");
        assert_eq!(i.malware.as_deref(), Some("Pegasus"));
        assert_eq!(i.description.as_deref(), Some("C2 domain"));
        assert_eq!(i.malware_description.as_deref(), Some("Spy ware"));
        assert_eq!(p.malware_names, ["Pegasus"]);
        assert_eq!(
            p.date.map(|d| d.to_string()).as_deref(),
            Some("2024-03-04T05:06:07Z")
        );
    }

    #[test]
    fn not_json_is_an_error() {
        let err = parse_bundle(b"not json").err().unwrap_or_default();
        assert!(err.contains("not a STIX2 JSON bundle"), "{err}");
    }
}
