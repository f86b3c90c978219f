//! A `RecordSink` that matches records as modules hand them over, writes
//! them to `records/<module>.jsonl.zst` (when given a folder), keeps their
//! timeline rows, and drops them: memory stays bounded by a batch, not by
//! the device.
//!
//! Work per batch runs outside the sink's lock: matching (in parallel),
//! encoding and compressing (into the module's own file, which only that
//! module's thread writes), and freeing the records. The lock is held only
//! to fold findings and to append timeline rows, which are kept compact
//! and within a memory budget, spilled to disk beyond it (see
//! [`Timeline`]) because a device has one per timestamped record.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::findings::{Aggregator, aggregate, record_findings};
use crate::error::Error;
use crate::indicators::{LateMatcher, Matcher};
use crate::model::{Finding, Record};
use crate::report::records::{ModuleFile, RecordsWriter};
use crate::report::timeline::Timeline;

/// See the module documentation.
pub struct StreamingSink {
    matcher: Arc<LateMatcher>,
    /// The records files, when records are written.
    files: Option<Mutex<RecordsWriter>>,
    state: Mutex<StreamState>,
    /// Modules read in parts: the order their batches are written in.
    parts: Mutex<HashMap<String, PartOrder>>,
}

#[derive(Default)]
struct StreamState {
    counts: BTreeMap<String, usize>,
    /// Aggregated as batches arrive: memory follows distinct findings.
    findings: Aggregator,
    timeline: Timeline,
    error: Option<Error>,
}

/// What a `StreamingSink` kept of everything it took.
pub struct Streamed {
    /// Distinct findings, sorted.
    pub findings: Vec<Finding>,
    /// Bounded in memory: beyond its budget, sorted runs go to disk.
    pub timeline: Timeline,
    /// The first error writing records, if any.
    pub error: Option<Error>,
}

impl StreamingSink {
    pub fn new(matcher: Arc<LateMatcher>, records_dir: Option<PathBuf>) -> Self {
        StreamingSink {
            matcher,
            files: records_dir.map(|d| Mutex::new(RecordsWriter::new(d))),
            state: Mutex::new(StreamState::default()),
            parts: Mutex::new(HashMap::new()),
        }
    }

    /// The findings and timeline rows of everything taken, and the first
    /// error writing records. Flushes the record files.
    pub fn into_parts(self) -> Streamed {
        let mut st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(files) = self.files {
            let w = files.into_inner().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = w.finish() {
                st.error.get_or_insert(e);
            }
        }
        if let Some(e) = st.timeline.take_error() {
            st.error
                .get_or_insert_with(|| Error::io(std::env::temp_dir(), e));
        }
        Streamed {
            findings: st.findings.into_sorted(),
            timeline: st.timeline,
            error: st.error,
        }
    }

    /// `module`'s records file (opened on first use), or the error opening it.
    fn file(&self, module: &str) -> Option<Result<Arc<Mutex<ModuleFile>>, Error>> {
        let files = self.files.as_ref()?;
        let mut w = files.lock().unwrap_or_else(|p| p.into_inner());
        Some(w.handle(module))
    }

    /// Keeps the first error.
    fn fail(&self, e: Error) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.error.get_or_insert(e);
    }
}

impl StreamingSink {
    /// Matches, encodes and compresses one batch (in parallel pieces, each
    /// owning its records, freed there) and adds its timeline rows; what
    /// is written and kept is left to [`Self::emit`].
    fn process(&self, module: &str, records: Vec<Record>) -> Done {
        use rayon::prelude::*;
        let n = records.len();
        let failed = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            timeline_rows(&mut st.timeline, module, &records);
            *st.counts.entry(module.to_string()).or_default() += n;
            st.error.is_some()
        };
        let file = if failed { None } else { self.file(module) };
        let file = match file.transpose() {
            Ok(f) => f,
            Err(e) => {
                self.fail(e);
                None
            }
        };
        let encode = file.is_some();
        let pieces = rayon::current_num_threads().max(1);
        let per = n.div_ceil(pieces).max(MIN_PIECE);
        let done: Vec<Piece> = records
            .into_par_iter()
            .chunks(per)
            .map(|chunk| piece(&chunk, &self.matcher, encode, module))
            .collect();
        let mut found = Vec::new();
        let mut frames = Vec::with_capacity(done.len());
        for (f, frame) in done {
            found.extend(f);
            frames.push(frame);
        }
        Done {
            found: aggregate(found),
            frames,
            file,
        }
    }

    /// Appends a processed batch's frames to its module's file and folds
    /// its findings: batches of one module are emitted in their order.
    fn emit(&self, done: Done) {
        let mut frames_ok = Ok(());
        for frame in done.frames {
            match (frame, &done.file) {
                (Ok(bytes), Some(file)) if frames_ok.is_ok() && !bytes.is_empty() => {
                    let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                    frames_ok = file.append_frames(&bytes);
                }
                (Err(e), _) if frames_ok.is_ok() => frames_ok = Err(e),
                _ => {}
            }
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for f in done.found {
            st.findings.add(f);
        }
        if let Err(e) = frames_ok {
            st.error.get_or_insert(e);
        }
    }
}

/// A batch matched and encoded, not yet written.
struct Done {
    /// Its findings, aggregated.
    found: Vec<Finding>,
    /// One zstd frame a piece (empty when records are not written).
    frames: Vec<Result<Vec<u8>, Error>>,
    file: Option<Arc<Mutex<ModuleFile>>>,
}

/// The parts of one module read in parts (`RecordSink::take_part`): the
/// part being written, the parts that ended, and the batches of later
/// parts held (matched and compressed: a small fraction of the records)
/// until the parts before them end.
#[derive(Default)]
struct PartOrder {
    current: usize,
    ended: BTreeSet<usize>,
    held: BTreeMap<usize, Vec<Done>>,
}

impl crate::artifacts::RecordSink for StreamingSink {
    fn take(&self, module: &str, records: Vec<Record>) {
        let done = self.process(module, records);
        self.emit(done);
    }

    fn take_part(&self, module: &str, part: usize, records: Vec<Record>) {
        let done = self.process(module, records);
        // Held while emitting, so that a part's batches never pass the
        // batches of the part before it.
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        let order = parts.entry(module.to_string()).or_default();
        if part == order.current {
            self.emit(done);
        } else {
            order.held.entry(part).or_default().push(done);
        }
    }

    fn part_done(&self, module: &str, part: usize) {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        let order = parts.entry(module.to_string()).or_default();
        order.ended.insert(part);
        while order.ended.remove(&order.current) {
            order.current += 1;
            for done in order.held.remove(&order.current).unwrap_or_default() {
                self.emit(done);
            }
        }
    }

    /// Asked when `module` has finished: its records file's frame is ended
    /// then, freeing its compression context.
    fn taken(&self, module: &str) -> usize {
        if let Some(files) = &self.files {
            let ended = files
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .end_frame(module);
            if let Err(e) = ended {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.error.get_or_insert(e);
            }
        }
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.counts.get(module).copied().unwrap_or(0)
    }
}

/// Fewest records in a parallel piece of a batch (one zstd frame each): a
/// batch of `SINK_BATCH` records is one piece, matched, encoded and freed
/// on the thread that made it (its records still in that core's cache).
const MIN_PIECE: usize = crate::options::SINK_BATCH;

/// Adds the timeline rows of one batch of `module`'s records.
fn timeline_rows(tl: &mut Timeline, module: &str, records: &[Record]) {
    // A batch has a handful of distinct module and event names (sms
    // alternates sent and received): looked up once each, then found in
    // this short list without hashing.
    let mut known: Vec<(&str, u32)> = vec![(module, tl.id(module))];
    for r in records {
        let Some(time) = r.timestamp else { continue };
        let m = known_id(tl, &mut known, &r.module);
        let e = known_id(tl, &mut known, &r.event);
        tl.push(time, m, e, &r.description);
    }
}

/// `name`'s id, from `known` or else from the timeline (then remembered).
fn known_id<'a>(tl: &mut Timeline, known: &mut Vec<(&'a str, u32)>, name: &'a str) -> u32 {
    if let Some(&(_, id)) = known.iter().find(|(n, _)| *n == name) {
        return id;
    }
    let id = tl.id(name);
    if known.len() < 16 {
        known.push((name, id));
    }
    id
}

/// What [`piece`] gives back: findings, and the encoded frame.
type Piece = (Vec<Finding>, Result<Vec<u8>, Error>);

/// One parallel piece of a batch: its findings and, when `encode`, its
/// records as one zstd frame of JSON lines.
fn piece(records: &[Record], matcher: &Matcher, encode: bool, module: &str) -> Piece {
    let found = records
        .iter()
        .flat_map(|r| record_findings(r, matcher))
        .collect();
    let frame = if encode {
        crate::report::records::encode_frame(records)
            .map_err(|e| Error::io(format!("records/{module}.jsonl.zst"), e))
    } else {
        Ok(Vec::new())
    };
    (found, frame)
}
