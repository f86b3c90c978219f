//! `locationd_clients`: apps and daemons that used location services
//! (`clients.plist`). Process names, bundle ids and executables are matched.

use super::util::{jts, plist_time};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};
use crate::strings::base_name;

pub const MODULE: Module = Module {
    name: "locationd_clients",
    artifact: "{RootDomain,HomeDomain}/Library/Caches/locationd/clients.plist",
    run,
};
const TIME_KEYS: [&str; 9] = [
    "ConsumptionPeriodBegin",
    "ReceivingLocationInformationTimeStopped",
    "VisitTimeStopped",
    "LocationTimeStopped",
    "BackgroundLocationTimeStopped",
    "SignificantTimeStopped",
    "NonPersistentSignificantTimeStopped",
    "FenceTimeStopped",
    "BeaconRegionTimeStopped",
];

pub(crate) const DOMAIN: &str = "RootDomain";
pub(crate) const PATH: &str = "Library/Caches/locationd/clients.plist";

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    // MVT's check-fs reads `/private/var/mobile/...` too (HomeDomain).
    let (entry, value) = match ctx.backup.read_plist_at(DOMAIN, PATH) {
        Err(ModuleError::Missing) => ctx.backup.read_plist_at("HomeDomain", PATH)?,
        other => other?,
    };
    let artifact = entry.logical_path();
    let Some(top) = value.as_dictionary() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (key, v) in top.iter() {
        let Some(d) = v.as_dictionary() else { continue };
        let package = key.strip_suffix(':').unwrap_or(key).to_string();
        let mut r = Record::new("locationd_clients", &artifact)
            .event("location_client", format!("Location client {package}"));
        let mut first: Option<jiff::Timestamp> = None;
        for k in TIME_KEYS {
            let t = d.get(k).and_then(plist_time);
            if let Some(t) = t {
                first = Some(first.map_or(t, |f: jiff::Timestamp| f.min(t)));
            }
            r = r.field(k, jts(t));
        }
        r = r.at(first).field("package", package.clone());
        r.push_observable(ObservableType::Process, base_name(&package).to_string());
        for k in ["BundleId", "BundlePath", "Executable", "Registered"] {
            let Some(s) = d.get(k).and_then(|v| v.as_string()) else {
                continue;
            };
            r = r.field(k, s.to_string());
            match k {
                "BundleId" => {
                    r.push_observable(ObservableType::Process, s.to_string());
                    r.push_observable(ObservableType::AppId, s.to_string());
                }
                _ => {
                    r.push_observable(ObservableType::FilePath, s.to_string());
                    r.push_observable(ObservableType::Process, base_name(s).to_string());
                }
            }
        }
        out.push(r);
    }
    Ok(out)
}
