//! A `RecordSink` that matches records as modules hand them over, writes
//! them to `records/<module>.jsonl.zst` (when given a folder), keeps their
//! timeline rows, and drops them: memory stays bounded by a batch, not by
//! the device.
//!
//! Work per batch runs outside the sink's lock: matching (in parallel),
//! encoding and compressing (into the module's own file, which only that
//! module's thread writes), and freeing the records. The lock is held only
//! to fold findings and to append timeline rows, which are kept compact
//! (see [`Timeline`]) because a device has one per timestamped record.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use super::findings::{Aggregator, aggregate, record_findings};
use crate::error::Error;
use crate::indicators::Matcher;
use crate::model::{Finding, Record, TimelineRow};
use crate::report::records::{ModuleFile, RecordsWriter};

/// See the module documentation.
pub struct StreamingSink {
    matcher: Arc<Matcher>,
    /// The records files, when records are written.
    files: Option<Mutex<RecordsWriter>>,
    state: Mutex<StreamState>,
}

#[derive(Default)]
struct StreamState {
    counts: BTreeMap<String, usize>,
    /// Aggregated as batches arrive: memory follows distinct findings.
    findings: Aggregator,
    timeline: Timeline,
    error: Option<Error>,
}

/// Timeline rows as the sink holds them until the report is written: a
/// small fixed-size row (time, name ids, where its description is) in
/// chunks that never move, and descriptions packed in large text chunks.
/// About 40 bytes a row instead of ~150 for a [`TimelineRow`] with its own
/// allocation, and no doubling vector copy.
#[derive(Default)]
struct Timeline {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
    rows: Vec<Vec<Row>>,
    text: Vec<String>,
    len: usize,
}

struct Row {
    time: Timestamp,
    module: u32,
    event: u32,
    /// Index of the text chunk, byte range in it.
    chunk: u32,
    start: u32,
    end: u32,
}

const ROW_CHUNK: usize = 1 << 14;
const TEXT_CHUNK: usize = 1 << 20;

impl Timeline {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let a: Arc<str> = name.into();
        let id = self.names.len() as u32;
        self.names.push(a.clone());
        self.ids.insert(a, id);
        id
    }

    fn push(&mut self, time: Timestamp, module: u32, event: u32, description: &str) {
        let need = description.len();
        let full = self
            .text
            .last()
            .is_none_or(|t| t.len() + need > t.capacity());
        if full {
            self.text.push(String::with_capacity(TEXT_CHUNK.max(need)));
        }
        let chunk = self.text.len() - 1;
        let text = &mut self.text[chunk];
        let start = text.len();
        text.push_str(description);
        if self.rows.last().is_none_or(|r| r.len() == ROW_CHUNK) {
            self.rows.push(Vec::with_capacity(ROW_CHUNK));
        }
        self.rows.last_mut().expect("a row chunk").push(Row {
            time,
            module,
            event,
            chunk: chunk as u32,
            start: start as u32,
            end: text.len() as u32,
        });
        self.len += 1;
    }

    /// The rows, in the order taken; text chunks are freed as they are
    /// read, so the compact and the full form are not both held whole.
    fn into_rows(self) -> Vec<TimelineRow> {
        let mut out = Vec::with_capacity(self.len);
        let mut text = self.text;
        let mut freed = 0;
        for chunk in self.rows {
            for r in chunk {
                let c = r.chunk as usize;
                while freed < c {
                    text[freed] = String::new();
                    freed += 1;
                }
                out.push(TimelineRow {
                    time: r.time,
                    module: self.names[r.module as usize].clone(),
                    event: self.names[r.event as usize].clone(),
                    description: text[c][r.start as usize..r.end as usize].into(),
                });
            }
        }
        out
    }
}

/// What a `StreamingSink` kept of everything it took.
pub struct Streamed {
    /// Distinct findings, sorted.
    pub findings: Vec<Finding>,
    pub timeline: Vec<TimelineRow>,
    /// The first error writing records, if any.
    pub error: Option<Error>,
}

impl StreamingSink {
    pub fn new(matcher: Arc<Matcher>, records_dir: Option<PathBuf>) -> Self {
        StreamingSink {
            matcher,
            files: records_dir.map(|d| Mutex::new(RecordsWriter::new(d))),
            state: Mutex::new(StreamState::default()),
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
        Streamed {
            findings: st.findings.into_sorted(),
            timeline: st.timeline.into_rows(),
            error: st.error,
        }
    }

    /// `module`'s records file (opened on first use), or the error opening it.
    fn file(&self, module: &str) -> Option<Result<Arc<Mutex<ModuleFile>>, Error>> {
        let files = self.files.as_ref()?;
        let mut w = files.lock().unwrap_or_else(|p| p.into_inner());
        Some(w.handle(module))
    }

    /// Encodes and compresses `records` into `module`'s file.
    fn write(&self, module: &str, records: &[Record]) -> Result<(), Error> {
        let Some(file) = self.file(module) else {
            return Ok(());
        };
        let file = file?;
        let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
        f.append(records)
    }
}

impl crate::artifacts::RecordSink for StreamingSink {
    fn take(&self, module: &str, records: Vec<Record>) {
        use rayon::prelude::*;
        // Matching and encoding run outside the lock.
        let found: Vec<Finding> = aggregate(
            records
                .par_iter()
                .flat_map_iter(|r| record_findings(r, &self.matcher))
                .collect::<Vec<_>>(),
        );
        let failed = self.state.lock().map_or(true, |s| s.error.is_some());
        let written = if failed {
            Ok(())
        } else {
            self.write(module, &records)
        };
        let n = records.len();
        {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            for f in found {
                st.findings.add(f);
            }
            let tl = &mut st.timeline;
            let module_id = tl.id(module);
            let mut last_event: Option<(&str, u32)> = None;
            for r in &records {
                let Some(time) = r.timestamp else { continue };
                // Records of one batch are one module's: its name and, in
                // runs, its event repeat.
                let m = if r.module == module {
                    module_id
                } else {
                    tl.id(&r.module)
                };
                let e = match last_event {
                    Some((name, id)) if name == r.event => id,
                    _ => {
                        let id = tl.id(&r.event);
                        last_event = Some((&r.event, id));
                        id
                    }
                };
                tl.push(time, m, e, &r.description);
            }
            *st.counts.entry(module.to_string()).or_default() += n;
            if let Err(e) = written {
                st.error.get_or_insert(e);
            }
        }
        // Freed outside the lock.
        drop(records);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_timeline_gives_back_what_it_took() {
        let mut tl = Timeline::default();
        let mut want = Vec::new();
        for i in 0..(ROW_CHUNK + 10) as i64 {
            let time = Timestamp::from_second(1_600_000_000 + i).unwrap();
            let desc = "x".repeat((i % 700) as usize) + &i.to_string();
            let (m, e) = (tl.id("m"), tl.id(if i % 3 == 0 { "a" } else { "b" }));
            tl.push(time, m, e, &desc);
            want.push((time, desc));
        }
        // A description longer than a text chunk gets a chunk of its own.
        let long = "y".repeat(TEXT_CHUNK + 5);
        let t = Timestamp::from_second(1).unwrap();
        let (m, e) = (tl.id("m"), tl.id("z"));
        tl.push(t, m, e, &long);
        want.push((t, long));
        let rows = tl.into_rows();
        assert_eq!(rows.len(), want.len());
        for (r, (time, desc)) in rows.iter().zip(&want) {
            assert_eq!(
                (r.time, &*r.description, &*r.module),
                (*time, desc.as_str(), "m")
            );
        }
        assert_eq!(&*rows[3].event, "a");
        assert_eq!(&*rows.last().unwrap().event, "z");
    }
}
