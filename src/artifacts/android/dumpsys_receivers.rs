//! `dumpsys package`, "Receiver Resolver Table": broadcast receivers per
//! intent. Receivers of SMS and call intents get an info note.

use crate::model::{ObservableType, Record};

use super::dumpsys_activities::resolver_entries;

pub const MODULE: &str = "dumpsys_receivers";

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
    resolver_entries(section, "Receiver Resolver Table:")
        .into_iter()
        .map(|(intent, receiver)| {
            let package = receiver.split('/').next().unwrap_or(&receiver).to_string();
            let mut r = Record::new(MODULE, artifact)
                .event("receiver", format!("{receiver} receives {intent}"))
                .field("intent", intent.as_str())
                .field("package_name", package.as_str())
                .field("receiver", receiver.as_str())
                .observe(ObservableType::AppId, package.as_str());
            if let Some((_, what)) = SENSITIVE.iter().find(|(i, _)| *i == intent) {
                r = r.info(
                    "android.sensitive_receiver",
                    format!("Package \"{package}\" {what} ({intent})"),
                );
            }
            r
        })
        .collect()
}
