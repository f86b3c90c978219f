//! A `RecordSink` that matches records as modules hand them over, writes
//! them to `records/<module>.jsonl` (when given a folder), keeps their
//! timeline rows, and drops them: memory stays bounded by a batch, not by
//! the device.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::findings::{Aggregator, aggregate, record_findings};
use crate::error::Error;
use crate::indicators::Matcher;
use crate::model::{Finding, Record, TimelineRow};
use crate::report::records::{RecordsWriter, write_jsonl};

/// Hands out one shared copy of each module and event name.
#[derive(Default)]
struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = s.into();
        self.0.insert(s.to_string(), a.clone());
        a
    }
}

/// See the module documentation.
pub struct StreamingSink {
    matcher: Arc<Matcher>,
    /// Whether records are written (`StreamState::files` is then `Some`).
    writes: bool,
    state: Mutex<StreamState>,
}

#[derive(Default)]
struct StreamState {
    files: Option<RecordsWriter>,
    counts: BTreeMap<String, usize>,
    /// Aggregated as batches arrive: memory follows distinct findings.
    findings: Aggregator,
    timeline: Vec<TimelineRow>,
    names: Interner,
    error: Option<Error>,
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
            writes: records_dir.is_some(),
            state: Mutex::new(StreamState {
                files: records_dir.map(RecordsWriter::new),
                ..Default::default()
            }),
        }
    }

    /// The findings and timeline rows of everything taken, and the first
    /// error writing records. Flushes the record files.
    pub fn into_parts(self) -> Streamed {
        let mut st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(Err(e)) = st.files.take().map(RecordsWriter::finish) {
            st.error.get_or_insert(e);
        }
        Streamed {
            findings: st.findings.into_sorted(),
            timeline: st.timeline,
            error: st.error,
        }
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
        let mut lines = Vec::new();
        let encoded = if self.writes {
            write_jsonl(&mut lines, &records)
        } else {
            Ok(())
        };
        let n = records.len();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for f in found {
            st.findings.add(f);
        }
        for r in &records {
            if let Some(time) = r.timestamp {
                let row = TimelineRow {
                    time,
                    module: st.names.get(&r.module),
                    event: st.names.get(&r.event),
                    description: r.description.as_str().into(),
                };
                st.timeline.push(row);
            }
        }
        drop(records);
        *st.counts.entry(module.to_string()).or_default() += n;
        if st.error.is_some() {
            return;
        }
        let written = match (encoded, st.files.as_mut()) {
            (Err(e), Some(w)) => Err(Error::io(w.dir().join(format!("{module}.jsonl")), e)),
            (Ok(()), Some(w)) => w.append_encoded(module, &lines),
            (_, None) => Ok(()),
        };
        if let Err(e) = written {
            st.error = Some(e);
        }
    }

    fn taken(&self, module: &str) -> usize {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.counts.get(module).copied().unwrap_or(0)
    }
}
