//! `dumpsys package`, "Receiver Resolver Table": broadcast receivers per
//! intent, MIME type or scheme (every resolver category, as MVT 2026).
//! Receivers of SMS and call intents get an info note.

use super::dumpsys_activities::{entry_record, resolver_entries};
use super::{DumpRead, DumpstateModule, Part};
use crate::model::Record;

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_receivers",
    in_androidqf: Some("aqf_dumpsys_receivers"),
    part: Part::Service("package"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

const SENSITIVE: &[(&str, &str)] = &[
    (
        "android.provider.Telephony.NEW_OUTGOING_SMS",
        "intercepts outgoing SMS",
    ),
    (
        "android.provider.Telephony.SMS_RECEIVED",
        "intercepts incoming SMS",
    ),
    (
        "android.intent.action.DATA_SMS_RECEIVED",
        "intercepts data SMS",
    ),
    (
        "android.intent.action.PHONE_STATE",
        "monitors the phone state",
    ),
    (
        "android.intent.action.NEW_OUTGOING_CALL",
        "monitors outgoing calls",
    ),
];

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    resolver_entries(section, "Receiver")
        .iter()
        .map(|e| {
            let mut r = entry_record(MODULE.name, artifact, e)
                .event(
                    "receiver",
                    format!("{} receives {} {}", e.component, e.resolver_type, e.key),
                )
                .field("receiver", e.component.as_str());
            if let Some(intent) = e.intent()
                && let Some((_, what)) = SENSITIVE.iter().find(|(i, _)| *i == intent)
            {
                r = r.alert(
                    &crate::rules::ANDROID_SENSITIVE_RECEIVER,
                    format!("Package \"{}\" {what} ({intent})", e.package_name),
                );
            }
            r
        })
        .collect()
}
