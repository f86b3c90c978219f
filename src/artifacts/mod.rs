//! Artifact modules: one file per artifact, each turning the bytes of one
//! source into `Record`s. An artifact never sees an indicator.
//!
//! Each platform folder has one entry point per input kind, with the same
//! shape: `fn scan(path, &ScanOptions) -> Result<DeviceScan>`. `crate::scan`
//! picks the entry point from the detected kind.

pub mod android;
pub mod ios;
pub mod observe;
pub mod sysdiagnose;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use crate::model::{ModuleOutput, ModuleStatus, Record};
pub use crate::options::{
    Batches, ModuleError, RecordSink, SINK_BATCH, ScanOptions, SweptLine, TextSweep,
};

/// Runs one module, timing it and turning its error (or, as a last line of
/// defence, its panic) into a status so the other modules carry on.
pub fn run_module<F>(
    name: &str,
    artifact: &str,
    progress: &crate::progress::Progress,
    f: F,
) -> ModuleOutput
where
    F: FnOnce() -> Result<Vec<Record>, ModuleError>,
{
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Err(ModuleError::Failed(format!(
            "internal error while reading: {what}"
        )))
    });
    let duration_ms = started.elapsed().as_millis() as u64;
    progress.module_done(name);
    let (status, error, records) = match outcome {
        Ok(records) => (ModuleStatus::Ok, None, records),
        Err(ModuleError::Missing) => (ModuleStatus::Missing, None, Vec::new()),
        Err(e) => (ModuleStatus::Error, Some(e.to_string()), Vec::new()),
    };
    ModuleOutput {
        name: name.to_string(),
        artifact: artifact.to_string(),
        status,
        error,
        duration_ms,
        records,
        streamed: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_errors_become_status() {
        let p = crate::progress::Progress::hidden();
        let ok = run_module("a", "x", &p, || Ok(vec![Record::new("a", "x")]));
        assert_eq!(ok.status, ModuleStatus::Ok);
        assert_eq!(ok.records.len(), 1);
        let missing = run_module("b", "x", &p, || Err(ModuleError::Missing));
        assert_eq!(missing.status, ModuleStatus::Missing);
        let failed = run_module("c", "x", &p, || Err("x.db: file is not a database".into()));
        assert_eq!(failed.status, ModuleStatus::Error);
        assert_eq!(
            failed.error.as_deref(),
            Some("x.db: file is not a database")
        );
        let panicked = run_module("d", "x", &p, || -> Result<Vec<Record>, ModuleError> {
            panic!("boom")
        });
        assert_eq!(panicked.status, ModuleStatus::Error);
        assert!(panicked.error.unwrap().contains("boom"));
    }
}
