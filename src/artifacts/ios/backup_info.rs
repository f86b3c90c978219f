//! `backup_info`: the device facts of `Info.plist` as one record.

use super::util::plist_json;
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "backup_info",
    artifact: "Info.plist",
    run,
};

const KEYS: [&str; 18] = [
    "Build Version",
    "Device Name",
    "Display Name",
    "GUID",
    "ICCID",
    "IMEI",
    "MEID",
    "Installed Applications",
    "Last Backup Date",
    "Phone Number",
    "Product Name",
    "Product Type",
    "Product Version",
    "Serial Number",
    "Target Identifier",
    "Target Type",
    "Unique Identifier",
    "iTunes Version",
];

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let info = ctx.backup.info_plist().ok_or(ModuleError::Missing)?;
    let date = info
        .get("Last Backup Date")
        .and_then(super::util::plist_time);
    let mut r = Record::new("backup_info", "Info.plist").at(date).event(
        "backup",
        format!(
            "Backup of {} ({} iOS {} {})",
            info.get("Device Name")
                .and_then(|v| v.as_string())
                .unwrap_or("?"),
            info.get("Product Type")
                .and_then(|v| v.as_string())
                .unwrap_or("?"),
            info.get("Product Version")
                .and_then(|v| v.as_string())
                .unwrap_or("?"),
            info.get("Build Version")
                .and_then(|v| v.as_string())
                .unwrap_or("?"),
        ),
    );
    for k in KEYS {
        r = r.field(
            k,
            info.get(k)
                .map(plist_json)
                .unwrap_or(serde_json::Value::Null),
        );
    }
    Ok(vec![r])
}
