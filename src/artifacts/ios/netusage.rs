//! `netusage`: per-process network usage from `netusage.sqlite`
//! (MVT's `Netusage`, `mvt/ios/modules/fs/net_netusage.py`), a file only
//! filesystem dumps hold. Same schema and reading as `DataUsage.sqlite`
//! ([`super::datausage::read`]): `ZPROCNAME` is a process name (the classic
//! Pegasus source: `bh`, `roleaccountd`, … showed up here first),
//! `ZBUNDLENAME` an app id; the manipulated/missing process heuristics run
//! as for `datausage`.

use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "netusage",
    artifact: "NetworkDomain/{,db/}netusage.sqlite",
    run,
};

/// `private/var/networkd/…` (NetworkDomain): the older and the current place.
const PATHS: [&str; 2] = ["netusage.sqlite", "db/netusage.sqlite"];

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let mut entries = Vec::new();
    for p in PATHS {
        entries.extend(b.entry("NetworkDomain", p)?);
    }
    let mut out = Vec::new();
    for (entry, conn) in b.open_sqlite_all(entries)? {
        let artifact = entry.logical_path();
        out.extend(
            super::datausage::read(&conn, MODULE.name, &artifact)
                .map_err(ModuleError::sqlite(|| b.describe(&entry)))?,
        );
    }
    Ok(out)
}
