//! `shutdown_log` in an iOS filesystem dump:
//! `/private/var/db/diagnostics/shutdown.log` and, from iOS 26, its
//! rotations `shutdown.0.log`, `shutdown.1.log`, … (MVT issue #830). Each
//! file is parsed as in a sysdiagnose
//! ([`crate::artifacts::sysdiagnose::shutdown_log`]): client paths keep
//! their raw value, the `/<UUID>` iOS 26 appends is split off before the
//! path and its components become observables. Backups do not hold it.

use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::artifacts::sysdiagnose::shutdown_log;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "shutdown_log",
    artifact: "DatabaseDomain/diagnostics/shutdown*.log",
    run,
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let b = ctx.backup;
    let entries: Vec<_> = b
        .find(Some("DatabaseDomain"), "diagnostics/shutdown*.log")?
        .into_iter()
        .filter(|e| is_shutdown_log(&e.relative_path))
        .collect();
    if entries.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut out = Vec::new();
    for e in &entries {
        let data = b.read(e)?;
        out.extend(shutdown_log::records(&e.logical_path(), &data)?);
    }
    Ok(out)
}

/// `diagnostics/shutdown.log` or `diagnostics/shutdown.<n>.log`.
fn is_shutdown_log(rel: &str) -> bool {
    let Some(name) = rel.strip_prefix("diagnostics/") else {
        return false;
    };
    match name
        .strip_prefix("shutdown")
        .and_then(|r| r.strip_suffix(".log"))
    {
        Some("") => true,
        Some(n) => n
            .strip_prefix('.')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names() {
        for ok in [
            "diagnostics/shutdown.log",
            "diagnostics/shutdown.0.log",
            "diagnostics/shutdown.12.log",
        ] {
            assert!(is_shutdown_log(ok), "{ok}");
        }
        for no in [
            "diagnostics/shutdown.log.bak",
            "diagnostics/shutdownX.log",
            "diagnostics/shutdown..log",
            "diagnostics/sub/shutdown.log",
            "other/shutdown.log",
        ] {
            assert!(!is_shutdown_log(no), "{no}");
        }
    }
}
