//! The `--allow` file: findings a team has reviewed and accepts, moved from
//! `findings` to `suppressed` with the reason the file gives.

use crate::model::ObservableType;
use crate::model::{Finding, Suppressed};

#[derive(Clone, Debug, PartialEq, Eq)]
enum AllowRule {
    /// `indicator--...`: one indicator.
    IndicatorId(String),
    /// `rule:ID`: one heuristic.
    Heuristic(String),
    /// `TYPE:VALUE`: an indicator or an observed value of that type.
    Value(ObservableType, String),
}

/// Known-benign findings a team has reviewed (`--allow FILE`): one rule per
/// line, `#` starts a comment that becomes the reason.
///
/// ```text
/// indicator--6587a15f-85ce-4c37-9188-e887c75a8c69   # reviewed 2026-11, lab device
/// rule:shutdown_log.sticky_process
/// file_name:com.apple.photolibraryd.plist           # present on every iPhone
/// ```
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    rules: Vec<(AllowRule, String)>,
}

impl AllowList {
    pub fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let (body, comment) = raw.split_once('#').unwrap_or((raw, ""));
            let body = body.trim();
            if body.is_empty() {
                continue;
            }
            let reason = if comment.trim().is_empty() {
                format!("allowed by {origin}:{}", n + 1)
            } else {
                format!("allowed by {origin}:{}: {}", n + 1, comment.trim())
            };
            let rule = if body.starts_with("indicator--") {
                AllowRule::IndicatorId(body.to_string())
            } else if let Some(id) = body.strip_prefix("rule:") {
                let id = id.trim();
                if crate::rules::find(id).is_none() {
                    return Err(format!(
                        "{origin}:{}: unknown rule {id:?} (spydar rules list shows them)",
                        n + 1
                    ));
                }
                AllowRule::Heuristic(id.to_string())
            } else {
                let (kind, value) = body.split_once(':').ok_or_else(|| {
                    format!(
                        "{origin}:{}: expected indicator--ID, rule:ID or TYPE:VALUE",
                        n + 1
                    )
                })?;
                let kind: ObservableType = serde_json::from_value(serde_json::Value::String(
                    kind.trim().into(),
                ))
                .map_err(|_| format!("{origin}:{}: unknown type {:?}", n + 1, kind.trim()))?;
                let value = crate::indicators::normalize::value_of(kind, value.trim())
                    .ok_or_else(|| format!("{origin}:{}: not a valid {kind} value", n + 1))?;
                AllowRule::Value(kind, value)
            };
            rules.push((rule, reason));
        }
        Ok(AllowList { rules })
    }

    fn reason(&self, f: &Finding) -> Option<&str> {
        self.rules.iter().find_map(|(rule, reason)| {
            let hit = match rule {
                AllowRule::IndicatorId(id) => f.indicator.as_ref().is_some_and(|i| &i.id == id),
                AllowRule::Heuristic(id) => f.rule.as_deref() == Some(id.as_str()),
                AllowRule::Value(kind, value) => {
                    let same = |k: ObservableType, v: &str| {
                        k == *kind
                            && crate::indicators::normalize::value_of(k, v).as_deref()
                                == Some(value.as_str())
                    };
                    f.indicator.as_ref().is_some_and(|i| same(i.kind, &i.value))
                        || f.observable
                            .as_ref()
                            .is_some_and(|o| same(o.kind, &o.value))
                }
            };
            hit.then_some(reason.as_str())
        })
    }

    /// Splits findings into those kept and those the list suppresses.
    pub fn split(&self, findings: Vec<Finding>) -> (Vec<Finding>, Vec<Suppressed>) {
        if self.rules.is_empty() {
            return (findings, Vec::new());
        }
        let mut kept = Vec::new();
        let mut suppressed = Vec::new();
        for f in findings {
            match self.reason(&f) {
                Some(reason) => suppressed.push(Suppressed {
                    reason: reason.to_string(),
                    finding: f,
                }),
                None => kept.push(f),
            }
        }
        (kept, suppressed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{FindingKind, IndicatorRef};
    use crate::model::{Level, Observable, Severity};

    fn finding(kind: ObservableType, value: &str, id: &str, rule: Option<&str>) -> Finding {
        Finding {
            level: if rule.is_some() {
                Level::Warning
            } else {
                Level::Detected
            },
            severity: Severity::Critical,
            kind: if rule.is_some() {
                FindingKind::Heuristic
            } else {
                FindingKind::Indicator
            },
            module: "m".into(),
            artifact: "a".into(),
            timestamp: None,
            observable: Some(Observable {
                kind,
                value: value.into(),
            }),
            indicator: rule.is_none().then(|| IndicatorRef {
                kind,
                value: value.to_lowercase(),
                pattern: String::new(),
                id: id.into(),
                malware: None,
                source: String::new(),
            }),
            rule: rule.map(str::to_string),
            message: String::new(),
            record: BTreeMap::new(),
            count: 1,
            first_seen: None,
            last_seen: None,
        }
    }

    #[test]
    fn rules_by_id_value_and_heuristic() {
        let allow = AllowList::parse(
            "# team list\nindicator--1 # lab phone\nfile_name:com.apple.photolibraryd.plist\nrule:shutdown_log.sticky_process\n",
            "allow.txt",
        )
        .unwrap();
        let (kept, gone) = allow.split(vec![
            finding(ObservableType::Domain, "evil.com", "indicator--1", None),
            finding(
                ObservableType::FileName,
                "com.apple.photolibraryd.plist",
                "indicator--2",
                None,
            ),
            finding(ObservableType::Domain, "other.com", "indicator--3", None),
            finding(
                ObservableType::Process,
                "p",
                "",
                Some("shutdown_log.sticky_process"),
            ),
            finding(
                ObservableType::Process,
                "p",
                "",
                Some("shutdown_log.unusual_path"),
            ),
        ]);
        assert_eq!(kept.len(), 2);
        assert_eq!(gone.len(), 3);
        assert_eq!(gone[0].reason, "allowed by allow.txt:2: lab phone");
        assert_eq!(gone[1].reason, "allowed by allow.txt:3");
        assert!(AllowList::parse("nonsense", "f").is_err());
        assert!(
            AllowList::parse("colour:blue", "f")
                .unwrap_err()
                .contains("unknown type")
        );
    }

    #[test]
    fn rule_ids_are_checked_against_the_catalogue() {
        let err = AllowList::parse(
            "# reviewed\nrule:shutdown_log.sticky_process\nrule:shutdown_log.stiky_process # typo\n",
            "allow.txt",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "allow.txt:3: unknown rule \"shutdown_log.stiky_process\" (spydar rules list shows them)"
        );
        assert!(!err.contains('\n'));
        for rule in crate::rules::ALL {
            AllowList::parse(&format!("rule:{}", rule.id), "f").unwrap();
        }
    }
}
