//! `os_analytics_ad_daily`: daily per-process network baseline
//! (`com.apple.osanalytics.addaily.plist` `netUsageBaseline`).

use super::util::{jts, plist_time};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "os_analytics_ad_daily",
    artifact: "HomeDomain/Library/Preferences/com.apple.osanalytics.addaily.plist",
    run,
};

pub(crate) const DOMAIN: &str = "HomeDomain";
pub(crate) const PATH: &str = "Library/Preferences/com.apple.osanalytics.addaily.plist";

/// The `netUsageBaseline` dictionary: process name → `[date, wifi in, wifi
/// out, wwan in, wwan out]`.
pub(crate) fn baseline(value: &plist::Value) -> Option<&plist::Dictionary> {
    value
        .as_dictionary()
        .and_then(|d| d.get("netUsageBaseline"))
        .and_then(|v| v.as_dictionary())
}

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let (entry, value) = ctx.backup.read_plist_at(DOMAIN, PATH)?;
    let artifact = entry.logical_path();
    let Some(base) = baseline(&value) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (process, v) in base.iter() {
        let list = v.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let ts = list.first().and_then(plist_time);
        let num = |i: usize| -> f64 {
            list.get(i)
                .and_then(|v| {
                    v.as_real()
                        .or_else(|| v.as_signed_integer().map(|n| n as f64))
                })
                .unwrap_or(0.0)
        };
        out.push(
            Record::new("os_analytics_ad_daily", &artifact)
                .at(ts)
                .event(
                    "network_usage",
                    format!(
                        "{process} WIFI IN: {}, WIFI OUT: {} - WWAN IN: {}, WWAN OUT: {}",
                        num(1),
                        num(2),
                        num(3),
                        num(4)
                    ),
                )
                .field("package", process.clone())
                .field("ts", jts(ts))
                .field("wifi_in", num(1))
                .field("wifi_out", num(2))
                .field("wwan_in", num(3))
                .field("wwan_out", num(4))
                .observe(ObservableType::Process, process.clone()),
        );
    }
    Ok(out)
}
