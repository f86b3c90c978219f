//! What a scan passes to the input readers and artifact modules, and what
//! they hand back besides records. It sits below `evidence`, `artifacts`
//! and `indicators` so that none of them imports a part above it.

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::model::{ModuleOutput, Record};

/// Options an input reader may need. No indicator in here, on purpose.
#[derive(Default)]
pub struct ScanOptions {
    /// Backup password (encrypted iOS backups, encrypted `.ab`).
    pub password: Option<Zeroizing<String>>,
    /// A saved derived key for an encrypted iOS backup (`--key-file`).
    pub key_file: Option<PathBuf>,
    /// age identity file for `.zip.age` androidqf acquisitions.
    pub age_identity: Option<PathBuf>,
    /// Progress reporting; silent by default.
    pub progress: crate::progress::Progress,
    /// Finds the lines of a large text that mention any indicator, so that a
    /// module sweeping whole log files emits records only for those lines
    /// (a record per line of a 1 GB archive would drown the report). It is
    /// opaque on purpose: modules still never see an indicator. `None`
    /// means no sweep (modules then emit no sweep records).
    pub text_sweep: Option<std::sync::Arc<dyn TextSweep>>,
    /// Takes records off the modules as they are made, so that a device's
    /// records need not all be in memory at once. `None`: records stay in
    /// each `ModuleOutput`.
    pub sink: Option<std::sync::Arc<dyn RecordSink>>,
}

/// Records in batches of this many are handed to the sink while a module runs.
/// 512 rather than 8,192: several modules' batches are in flight at once,
/// and a smaller batch takes memory off the peak (8,192 -> 2,048: 93 -> 85
/// MB on the scale-400 backup); a batch of 512 records is still in the
/// cache when the sink matches, encodes and frees it (2,048 -> 512: CPU
/// -3 to -8 % on that backup, records 3 % larger as each batch is a zstd
/// frame); the records read back identical.
pub const SINK_BATCH: usize = 512;

/// Receives records as modules make them (see `ScanOptions::sink`).
pub trait RecordSink: Send + Sync {
    /// Takes a batch of `module`'s records. Batches of one module arrive in
    /// the module's order, from one thread at a time.
    fn take(&self, module: &str, records: Vec<Record>);
    /// How many records of `module` were taken so far.
    fn taken(&self, module: &str) -> usize;
    /// Takes a batch of part `part` of `module`'s records, when a module
    /// reads parts of one table on several threads: batches of one part
    /// arrive in order, parts may interleave, and the sink keeps the
    /// records of part `n` after every record of the parts before it.
    fn take_part(&self, module: &str, _part: usize, records: Vec<Record>) {
        self.take(module, records)
    }
    /// Part `part` of `module` has handed over its last batch.
    fn part_done(&self, _module: &str, _part: usize) {}
}

impl ScanOptions {
    /// Hands a finished module's records to the sink, if there is one; the
    /// output then keeps only their count.
    pub fn finish(&self, mut out: ModuleOutput) -> ModuleOutput {
        if let Some(sink) = &self.sink {
            let records = std::mem::take(&mut out.records);
            if !records.is_empty() {
                sink.take(&out.name, records);
            }
            out.streamed = sink.taken(&out.name);
        }
        out
    }

    /// A record collector for one module that hands full batches to the
    /// sink as it goes.
    pub fn batches(&self, module: &'static str) -> Batches<'_> {
        Batches {
            sink: self.sink.as_deref(),
            module,
            buf: Vec::new(),
            part: None,
        }
    }

    /// A record collector for part `part` of a module read in parts (see
    /// `RecordSink::take_part`); end it with `Batches::finish_part`.
    pub fn part_batches(&self, module: &'static str, part: usize) -> Batches<'_> {
        Batches {
            part: Some(part),
            ..self.batches(module)
        }
    }
}

/// See `ScanOptions::batches`. `finish` returns what was not handed over.
pub struct Batches<'a> {
    sink: Option<&'a dyn RecordSink>,
    module: &'static str,
    buf: Vec<Record>,
    /// Set for a part of a module read in parts.
    part: Option<usize>,
}

impl Batches<'_> {
    pub fn push(&mut self, record: Record) {
        self.buf.push(record);
        if let Some(sink) = self.sink
            && self.buf.len() >= SINK_BATCH
        {
            // A full-sized buffer for the next batch: growing it again by
            // doubling costs a chain of reallocations per batch.
            let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(SINK_BATCH));
            match self.part {
                Some(part) => sink.take_part(self.module, part, batch),
                None => sink.take(self.module, batch),
            }
        }
    }

    pub fn finish(self) -> Vec<Record> {
        self.buf
    }

    /// Ends a part: with a sink, its last records go to the sink (and
    /// nothing is returned); without one, every record of the part.
    pub fn finish_part(self) -> Vec<Record> {
        match (self.sink, self.part) {
            (Some(sink), Some(part)) => {
                if !self.buf.is_empty() {
                    sink.take_part(self.module, part, self.buf);
                }
                sink.part_done(self.module, part);
                Vec::new()
            }
            _ => self.buf,
        }
    }
}

/// A line of a text that the sweep flagged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweptLine {
    /// 1-based line number.
    pub line_no: usize,
    /// Byte range of the line (without its newline) in the text given.
    pub range: std::ops::Range<usize>,
}

/// Implemented by the compiled indicator set; see `ScanOptions::text_sweep`.
pub trait TextSweep: Send + Sync {
    /// Every line of `text` that mentions an indicator at token boundaries,
    /// in order. One pass over the bytes.
    fn flagged_lines(&self, text: &[u8]) -> Vec<SweptLine>;

    /// Whether a sweeping module should also keep the distinct observables
    /// of the lines not flagged (`artifacts::observe`), so that `recheck`
    /// can match indicators published after the scan. The indicator set
    /// says yes; a stand-in that only picks lines may leave it off.
    fn keeps_observables(&self) -> bool {
        false
    }
}

/// Why a module produced nothing. Its text is what the report's module
/// error says: one line naming the file and the cause.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The artifact is not in this input.
    #[error("not in this input")]
    Missing,
    /// The artifact is there but unreadable; the reason names file and cause.
    #[error("{0}")]
    Failed(String),
    /// A database of the input cannot be opened or queried; `what` names
    /// the file (see [`ModuleError::sqlite`]).
    #[error("{what}: {source}")]
    Sqlite {
        what: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A member of an archive or folder cannot be read; the readers put
    /// its name in the error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ModuleError {
    /// The error for a failed SQLite call on a database that `what` names
    /// ("FILE: cause", the cause kept as the source); for
    /// `.map_err(err)` wherever a module queries that database. `what` runs
    /// only when there is an error.
    pub fn sqlite<W: std::fmt::Display>(
        what: impl Fn() -> W + Copy,
    ) -> impl Fn(rusqlite::Error) -> ModuleError + Copy {
        move |source| ModuleError::Sqlite {
            what: what().to_string(),
            source,
        }
    }
}

impl From<String> for ModuleError {
    fn from(reason: String) -> Self {
        ModuleError::Failed(reason)
    }
}

impl From<&str> for ModuleError {
    fn from(reason: &str) -> Self {
        ModuleError::Failed(reason.to_string())
    }
}
