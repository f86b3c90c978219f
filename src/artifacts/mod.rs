//! Artifact modules: one file per artifact, each turning the bytes of one
//! source into `Record`s. An artifact never sees an indicator.
//!
//! Each platform folder has one entry point per input kind, with the same
//! shape: `fn scan(path, &ScanOptions) -> Result<DeviceScan>`. `crate::scan`
//! picks the entry point from the detected kind.
//!
//! Registering a module: its file declares it once, as a `const` of its
//! platform's descriptor type (name, what it reads, run function), and one
//! line in its input kind's registry lists it: `ios::BACKUP`,
//! `ios::FILESYSTEM`, `sysdiagnose::MODULES`, `android::{BACKUP, DUMPSTATE,
//! BUGREPORT, ANDROIDQF}`. [`run_module`] stamps each record with the
//! module's name; [`modules`] lists every registry (`spydar modules list`).

pub mod android;
pub mod ios;
pub mod mvt_parity;
pub mod observe;
pub mod sysdiagnose;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use crate::evidence::InputKind;
use crate::model::{ModuleOutput, ModuleStatus, Record};
pub use crate::options::{
    Batches, ModuleError, RecordSink, SINK_BATCH, ScanOptions, SweptLine, TextSweep,
};

/// What a module's run returns: its records, or why it has none.
pub type ModuleResult = Result<Vec<Record>, ModuleError>;

/// Every input kind, in the order the module list shows them.
pub const INPUT_KINDS: [InputKind; 7] = [
    InputKind::IosBackup,
    InputKind::IosFilesystem,
    InputKind::Sysdiagnose,
    InputKind::AndroidBackup,
    InputKind::AndroidBugreport,
    InputKind::Androidqf,
    InputKind::AndroidIntrusionLogs,
];

/// One module an input kind can report, as `spydar modules list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ModuleEntry {
    pub input_kind: InputKind,
    pub module: &'static str,
    /// What it reads. Android artifacts are relative to the file read:
    /// `<dumpstate>`, `<bugreport>` and `<backup>` stand for its name.
    pub artifact: String,
}

/// The modules of one input kind, in registry order, from the registries
/// themselves (nothing else lists them).
pub fn modules(kind: InputKind) -> Vec<ModuleEntry> {
    let rows = match kind {
        InputKind::IosBackup | InputKind::IosFilesystem => ios::listed(kind),
        InputKind::Sysdiagnose => sysdiagnose::listed(),
        InputKind::AndroidBackup | InputKind::AndroidBugreport | InputKind::Androidqf => {
            android::listed(kind)
        }
        InputKind::AndroidIntrusionLogs => android::listed(kind),
    };
    rows.into_iter()
        .map(|(module, artifact)| ModuleEntry {
            input_kind: kind,
            module,
            artifact,
        })
        .collect()
}

/// Runs one module, timing it and turning its error (or, as a last line of
/// defence, its panic) into a status so the other modules carry on. Every
/// record it returns carries `name` as its module, whatever the module's
/// code wrote there: this is the one place a record's module is set.
pub fn run_module<F>(
    name: &str,
    artifact: &str,
    progress: &crate::progress::Progress,
    f: F,
) -> ModuleOutput
where
    F: FnOnce() -> ModuleResult,
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
        Ok(mut records) => {
            for r in records.iter_mut().filter(|r| r.module != name) {
                r.module = name.into();
            }
            (ModuleStatus::Ok, None, records)
        }
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

    #[test]
    fn run_module_stamps_its_name_on_every_record() {
        let p = crate::progress::Progress::hidden();
        let out = run_module("right", "x", &p, || {
            Ok(vec![Record::new("", "x"), Record::new("wrong", "x")])
        });
        assert!(out.records.iter().all(|r| r.module == "right"));
    }

    #[test]
    fn module_names_are_unique_per_input_kind() {
        for kind in INPUT_KINDS {
            let list = modules(kind);
            assert!(!list.is_empty(), "{kind}");
            let mut names: Vec<_> = list.iter().map(|m| m.module).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "{kind}: a module name twice");
        }
    }
}
