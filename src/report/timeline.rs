//! The timeline rows of a scan's streamed records, in bounded memory.
//!
//! A device has one row per timestamped record (the largest real backups
//! list 873k files, each a row). Rows are held compactly (time, two name
//! ids, a range in a shared text buffer: 32 bytes plus the description)
//! up to [`MEMORY_BUDGET`] bytes; beyond it the held rows are sorted and
//! written as a run to a private temporary folder
//! ([`crate::evidence::private_tmp`], 0700, removed on exit), and the
//! buffers are reused. `timeline.csv` is the merge of the runs and of the
//! rows still held, in the same order a sort of every row gives, so the
//! file is byte for byte what an in-memory sort writes.
//!
//! Memory: at most [`MEMORY_BUDGET`] for the held rows, plus one row and a
//! 64 KiB read buffer a run while merging (runs are merged into one when
//! there are [`MAX_RUNS`]).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use crate::evidence::private_tmp::PrivateTempDir;
use crate::model::TimelineRow;

/// Bytes of rows (32 each) and descriptions held before a sorted run is
/// written to disk.
pub const MEMORY_BUDGET: usize = 8 << 20;

/// Runs on disk before they are merged into one.
pub const MAX_RUNS: usize = 64;

/// Prefix of the private folder the runs are written in.
const TMP_PREFIX: &str = "spydar-timeline-";

/// See the module documentation.
pub struct Timeline {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
    rows: Vec<Row>,
    text: String,
    /// Earliest and latest time of each name used as a module.
    spans: Vec<Option<(Timestamp, Timestamp)>>,
    budget: usize,
    dir: Option<PrivateTempDir>,
    runs: Vec<PathBuf>,
    /// Run files made so far (names them).
    made: usize,
    len: usize,
    /// The first error writing a run; later rows are dropped.
    error: Option<std::io::Error>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::with_budget(MEMORY_BUDGET)
    }
}

#[derive(Clone, Copy)]
struct Row {
    time: Timestamp,
    module: u32,
    event: u32,
    start: u32,
    end: u32,
}

impl Timeline {
    /// A timeline that spills beyond `budget` bytes (tests use small ones).
    pub fn with_budget(budget: usize) -> Self {
        Timeline {
            names: Vec::new(),
            ids: HashMap::new(),
            rows: Vec::new(),
            text: String::new(),
            spans: Vec::new(),
            budget,
            dir: None,
            runs: Vec::new(),
            made: 0,
            len: 0,
            error: None,
        }
    }

    /// The id of a module or event name.
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let a: Arc<str> = name.into();
        let id = self.names.len() as u32;
        self.names.push(a.clone());
        self.ids.insert(a, id);
        id
    }

    /// Number of rows taken.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a row; `module` and `event` are ids from [`Timeline::id`].
    pub fn push(&mut self, time: Timestamp, module: u32, event: u32, description: &str) {
        if self.error.is_some() {
            return;
        }
        let m = module as usize;
        if self.spans.len() <= m {
            self.spans.resize(m + 1, None);
        }
        let span = self.spans[m].get_or_insert((time, time));
        span.0 = span.0.min(time);
        span.1 = span.1.max(time);
        // Offsets are u32: a run's text stays under 4 GiB.
        if self.text.len() + description.len() > u32::MAX as usize {
            self.spill();
        }
        let start = self.text.len() as u32;
        self.text.push_str(description);
        self.rows.push(Row {
            time,
            module,
            event,
            start,
            end: self.text.len() as u32,
        });
        self.len += 1;
        if self.rows.len() * std::mem::size_of::<Row>() + self.text.len() >= self.budget {
            self.spill();
        }
    }

    /// Earliest and latest time of each module's rows.
    pub fn spans(&self) -> impl Iterator<Item = (&str, Timestamp)> {
        self.spans
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (&*self.names[i], s)))
            .flat_map(|(name, (a, b))| [(name, a), (name, b)])
    }

    /// The first error writing a run to disk.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.error.take()
    }

    /// Sorts the held rows in the order of [`TimelineRow`]'s `Ord`.
    fn sort_held(&mut self) {
        // Names ranked by content, so rows compare ids, not strings.
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, id) in order.into_iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let text = self.text.as_bytes();
        self.rows.sort_unstable_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then(rank[a.module as usize].cmp(&rank[b.module as usize]))
                .then(rank[a.event as usize].cmp(&rank[b.event as usize]))
                .then_with(|| {
                    text[a.start as usize..a.end as usize]
                        .cmp(&text[b.start as usize..b.end as usize])
                })
        });
    }

    /// Writes the held rows as a sorted run and empties the buffers
    /// (keeping their capacity).
    fn spill(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        self.sort_held();
        let written = self.write_run();
        self.rows.clear();
        self.text.clear();
        if let Err(e) = written.and_then(|()| self.merge_runs_if_many()) {
            self.error.get_or_insert(e);
        }
    }

    fn new_run(&mut self) -> std::io::Result<(PathBuf, BufWriter<std::fs::File>)> {
        if self.dir.is_none() {
            self.dir = Some(PrivateTempDir::new_named_in(
                &std::env::temp_dir(),
                TMP_PREFIX,
            )?);
        }
        let dir = self.dir.as_ref().expect("a folder").path();
        let path = dir.join(format!("run-{}", self.made));
        self.made += 1;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((path, BufWriter::with_capacity(256 << 10, file)))
    }

    fn write_run(&mut self) -> std::io::Result<()> {
        let (path, mut w) = self.new_run()?;
        for r in &self.rows {
            let d = &self.text.as_bytes()[r.start as usize..r.end as usize];
            write_row(&mut w, r.time, r.module, r.event, d)?;
        }
        w.flush()?;
        self.runs.push(path);
        Ok(())
    }

    /// Merges every run into one when there are [`MAX_RUNS`] of them, so
    /// the final merge never opens more.
    fn merge_runs_if_many(&mut self) -> std::io::Result<()> {
        if self.runs.len() < MAX_RUNS {
            return Ok(());
        }
        let old = std::mem::take(&mut self.runs);
        let mut merge = Merge::new(&old, Vec::new(), &self.names)?;
        let (path, mut w) = self.new_run()?;
        while let Some((time, module, event, d)) = merge.next_raw()? {
            write_row(&mut w, time, module, event, d.as_bytes())?;
        }
        w.flush()?;
        drop(merge);
        for p in old {
            let _ = std::fs::remove_file(p);
        }
        self.runs.push(path);
        Ok(())
    }

    /// Every row in sorted order (runs and held rows merged); an error
    /// reading a run back ends the iteration with it.
    pub fn into_sorted(mut self) -> std::io::Result<Sorted> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.sort_held();
        let held: Vec<(Timestamp, u32, u32, Box<str>)> = self
            .rows
            .iter()
            .map(|r| {
                let d = &self.text[r.start as usize..r.end as usize];
                (r.time, r.module, r.event, d.into())
            })
            .collect();
        self.rows = Vec::new();
        self.text = String::new();
        let merge = Merge::new(&self.runs, held, &self.names)?;
        Ok(Sorted {
            merge,
            names: self.names,
            _dir: self.dir,
        })
    }

    /// Every row, sorted, in memory (for tests and small timelines).
    pub fn into_rows(self) -> std::io::Result<Vec<TimelineRow>> {
        self.into_sorted()?.collect()
    }
}

impl From<Vec<TimelineRow>> for Timeline {
    fn from(rows: Vec<TimelineRow>) -> Self {
        let mut tl = Timeline::default();
        for r in rows {
            let (m, e) = (tl.id(&r.module), tl.id(&r.event));
            tl.push(r.time, m, e, &r.description);
        }
        tl
    }
}

fn write_row(
    w: &mut impl Write,
    time: Timestamp,
    module: u32,
    event: u32,
    description: &[u8],
) -> std::io::Result<()> {
    w.write_all(&time.as_second().to_le_bytes())?;
    w.write_all(&time.subsec_nanosecond().to_le_bytes())?;
    w.write_all(&module.to_le_bytes())?;
    w.write_all(&event.to_le_bytes())?;
    w.write_all(&(description.len() as u32).to_le_bytes())?;
    w.write_all(description)
}

type Raw = (Timestamp, u32, u32, Box<str>);

/// Reads one row of a run; `None` at its end.
fn read_row(r: &mut impl Read) -> std::io::Result<Option<Raw>> {
    let mut head = [0u8; 24];
    match r.read_exact(&mut head[..1]) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    r.read_exact(&mut head[1..])?;
    let le4 = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    let secs = i64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let nanos = le4(8) as i32;
    let time = Timestamp::new(secs, nanos).map_err(std::io::Error::other)?;
    let mut d = vec![0u8; le4(20) as usize];
    r.read_exact(&mut d)?;
    let d = String::from_utf8(d).map_err(std::io::Error::other)?;
    Ok(Some((time, le4(12), le4(16), d.into_boxed_str())))
}

/// A k-way merge of sorted runs and the held rows.
struct Merge {
    readers: Vec<BufReader<std::fs::File>>,
    held: std::vec::IntoIter<Raw>,
    /// Next row of each source (the held rows are source `readers.len()`).
    heap: BinaryHeap<Reverse<Head>>,
    rank: Arc<[u32]>,
}

struct Head {
    raw: Raw,
    source: usize,
    rank: Arc<[u32]>,
}

impl Head {
    fn key(&self) -> (Timestamp, u32, u32, &str) {
        let (t, m, e, d) = &self.raw;
        (*t, self.rank[*m as usize], self.rank[*e as usize], d)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then(self.source.cmp(&other.source))
    }
}

impl Merge {
    fn new(runs: &[PathBuf], held: Vec<Raw>, names: &[Arc<str>]) -> std::io::Result<Self> {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|a, b| names[*a].cmp(&names[*b]));
        let mut rank = vec![0u32; names.len()];
        for (r, id) in order.into_iter().enumerate() {
            rank[id] = r as u32;
        }
        let mut m = Merge {
            readers: Vec::with_capacity(runs.len()),
            held: held.into_iter(),
            heap: BinaryHeap::new(),
            rank: rank.into(),
        };
        for p in runs {
            m.readers
                .push(BufReader::with_capacity(64 << 10, std::fs::File::open(p)?));
        }
        for source in 0..=m.readers.len() {
            m.refill(source)?;
        }
        Ok(m)
    }

    fn refill(&mut self, source: usize) -> std::io::Result<()> {
        let next = match self.readers.get_mut(source) {
            Some(r) => read_row(r)?,
            None => self.held.next(),
        };
        if let Some(raw) = next {
            self.heap.push(Reverse(Head {
                raw,
                source,
                rank: self.rank.clone(),
            }));
        }
        Ok(())
    }

    fn next_raw(&mut self) -> std::io::Result<Option<Raw>> {
        let Some(Reverse(head)) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(head.source)?;
        Ok(Some(head.raw))
    }
}

/// The rows of a [`Timeline`], sorted; see [`Timeline::into_sorted`].
pub struct Sorted {
    merge: Merge,
    names: Vec<Arc<str>>,
    /// Removed (with the runs) when the iteration is dropped.
    _dir: Option<PrivateTempDir>,
}

impl Iterator for Sorted {
    type Item = std::io::Result<TimelineRow>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.merge.next_raw() {
            Ok(Some((time, m, e, description))) => Some(Ok(TimelineRow {
                time,
                module: self.names[m as usize].clone(),
                event: self.names[e as usize].clone(),
                description,
            })),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: i64) -> Vec<(Timestamp, &'static str, &'static str, String)> {
        (0..n)
            .map(|i| {
                // Many equal times, names and descriptions, out of order.
                let t = Timestamp::new(1_600_000_000 + (i * 7919) % 97, (i % 3) as i32).unwrap();
                let m = ["sms", "manifest", "a"][(i % 3) as usize];
                let e = ["x", "sent", "received", "b"][(i % 4) as usize];
                let d = "d".repeat((i % 50) as usize) + &((i * 31) % 13).to_string();
                (t, m, e, d)
            })
            .collect()
    }

    fn filled(budget: usize, rows: &[(Timestamp, &str, &str, String)]) -> Timeline {
        let mut tl = Timeline::with_budget(budget);
        for (t, m, e, d) in rows {
            let (m, e) = (tl.id(m), tl.id(e));
            tl.push(*t, m, e, d);
        }
        tl
    }

    #[test]
    fn spilled_runs_merge_to_what_a_sort_gives() {
        let rows = sample(20_000);
        let mut want: Vec<TimelineRow> = rows
            .iter()
            .map(|(t, m, e, d)| TimelineRow {
                time: *t,
                module: (*m).into(),
                event: (*e).into(),
                description: d.as_str().into(),
            })
            .collect();
        want.sort();
        // Held only; a few runs; more than MAX_RUNS runs (merged on the way).
        for budget in [usize::MAX, 200_000, 4_000] {
            let tl = filled(budget, &rows);
            let spilled = tl.runs.len();
            let dir = tl.dir.as_ref().map(|d| d.path().to_path_buf());
            assert_eq!(tl.len(), rows.len());
            let got = tl.into_rows().unwrap();
            assert_eq!(got, want, "budget {budget}");
            if budget == 4_000 {
                assert!(spilled < MAX_RUNS && spilled > 0, "{spilled}");
            }
            // The runs' folder is gone with the timeline.
            assert!(dir.is_none_or(|d| !d.exists()));
        }
    }

    #[test]
    fn spans_are_each_modules_first_and_last_time() {
        let rows = sample(1000);
        let tl = filled(10_000, &rows);
        let spans: Vec<_> = tl.spans().collect();
        for m in ["sms", "manifest", "a"] {
            let times: Vec<Timestamp> = rows.iter().filter(|r| r.1 == m).map(|r| r.0).collect();
            assert!(spans.contains(&(m, *times.iter().min().unwrap())));
            assert!(spans.contains(&(m, *times.iter().max().unwrap())));
        }
        assert_eq!(spans.len(), 6);
    }
}
