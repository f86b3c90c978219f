//! The timeline rows of a scan's streamed records, in bounded memory.
//!
//! A device has one row per timestamped record (the largest real backups
//! list 873k files, each a row). Rows are held compactly (time, two name
//! ids, a range in a shared text buffer: 32 bytes plus the description)
//! up to [`MEMORY_BUDGET`] bytes; beyond it the held rows are sorted and
//! written as a run, on a thread of their own, to a private temporary folder
//! ([`crate::evidence::private_tmp`], 0700, removed on exit), and the
//! buffers are reused. `timeline.csv` is the merge of the runs and of the
//! rows still held, in the same order a sort of every row gives, so the
//! file is byte for byte what an in-memory sort writes.
//!
//! Memory: at most [`MEMORY_BUDGET`] for the held rows and as much for the
//! run being written, plus one row and a
//! 64 KiB read buffer a run while merging (runs are merged into one when
//! there are [`MAX_RUNS`]).

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use crate::evidence::private_tmp::PrivateTempDir;
use crate::model::TimelineRow;

/// Bytes of rows (32 each) and descriptions held before a sorted run is
/// written to disk.
pub const MEMORY_BUDGET: usize = 6 << 20;

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
    /// The run being sorted and written, with its buffers.
    spilling: Option<Spilling>,
}

/// A spill's thread: it gives back the buffers and whether the run was written.
type Spilling = std::thread::JoinHandle<(Vec<Row>, String, std::io::Result<()>)>;

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
            spilling: None,
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

    /// Sorts the held rows (on the current rayon pool: after the modules,
    /// when nothing holds the sink's lock).
    fn sort_held(&mut self) {
        sort_rows(&mut self.rows, &self.text, &self.names, true);
    }

    /// Hands the held rows to a thread of their own, which sorts them and
    /// writes them as a run, and goes on with empty buffers (the previous
    /// spill's, once it is written): rows are pushed under the sink's lock,
    /// which a spill on this thread would hold for milliseconds. At most one
    /// spill is in flight, so at most twice [`MEMORY_BUDGET`] is held.
    fn spill(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        let (mut rows, mut text) = self.finish_spill().unwrap_or_default();
        rows.clear();
        text.clear();
        std::mem::swap(&mut rows, &mut self.rows);
        std::mem::swap(&mut text, &mut self.text);
        let (path, w) = match self.new_run() {
            Ok(run) => run,
            Err(e) => {
                self.error.get_or_insert(e);
                return;
            }
        };
        self.runs.push(path);
        let job = SpillJob {
            rows,
            text,
            names: self.names.clone(),
            w,
        };
        // Not on the rayon pool: its workers may be waiting for the sink's
        // lock. The job goes over a channel, so that it is still here to be
        // done on this thread if no thread can be started.
        let (tx, rx) = std::sync::mpsc::channel::<SpillJob>();
        let started = std::thread::Builder::new()
            .name("spydar-timeline".into())
            .spawn(move || match rx.recv() {
                Ok(job) => job.run(),
                Err(_) => (Vec::new(), String::new(), Ok(())),
            });
        match started {
            Ok(handle) => {
                // The thread holds the receiver until it has the job.
                let _ = tx.send(job);
                self.spilling = Some(handle);
            }
            Err(_) => {
                let (_, _, written) = job.run();
                if let Err(e) = written.and_then(|()| self.merge_runs_if_many()) {
                    self.error.get_or_insert(e);
                }
            }
        }
    }

    /// Waits for the spill in flight, if any; gives back its buffers.
    fn finish_spill(&mut self) -> Option<(Vec<Row>, String)> {
        let (rows, text, written) = self
            .spilling
            .take()?
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        if let Err(e) = written.and_then(|()| self.merge_runs_if_many()) {
            self.error.get_or_insert(e);
        }
        Some((rows, text))
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

    /// Merges every run into one when there are [`MAX_RUNS`] of them, so
    /// the final merge never opens more.
    fn merge_runs_if_many(&mut self) -> std::io::Result<()> {
        if self.runs.len() < MAX_RUNS {
            return Ok(());
        }
        let old = std::mem::take(&mut self.runs);
        let mut merge = Merge::new(&old, Vec::new(), String::new(), &self.names)?;
        let (path, mut w) = self.new_run()?;
        while let Some(s) = merge.least() {
            let c = merge.sources[s].cur.as_ref().expect("a current row");
            write_row(
                &mut w,
                c.time,
                c.module_id,
                c.event_id,
                merge.desc(s).as_bytes(),
            )?;
            merge.advance(s)?;
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
        self.finish_spill();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        // After the modules (no lock held): on the scan's pool.
        self.sort_held();
        let (rows, text) = (
            std::mem::take(&mut self.rows),
            std::mem::take(&mut self.text),
        );
        let merge = Merge::new(&self.runs, rows, text, &self.names)?;
        Ok(Sorted {
            merge,
            names: self.names,
            pending: None,
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

/// Sorts `rows` in the order of [`TimelineRow`]'s `Ord`; on the current
/// rayon pool when `parallel`.
fn sort_rows(rows: &mut [Row], text: &str, names: &[Arc<str>], parallel: bool) {
    // Names ranked by content, so rows compare ids, not strings.
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.sort_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));
    let mut rank = vec![0u32; order.len()];
    for (r, id) in order.into_iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    let text = text.as_bytes();
    let order = |a: &Row, b: &Row| {
        a.time
            .cmp(&b.time)
            .then(rank[a.module as usize].cmp(&rank[b.module as usize]))
            .then(rank[a.event as usize].cmp(&rank[b.event as usize]))
            .then_with(|| {
                text[a.start as usize..a.end as usize].cmp(&text[b.start as usize..b.end as usize])
            })
    };
    if parallel {
        use rayon::slice::ParallelSliceMut;
        rows.par_sort_unstable_by(order);
    } else {
        rows.sort_unstable_by(order);
    }
}

/// Held rows handed over to be sorted and written as a run.
struct SpillJob {
    rows: Vec<Row>,
    text: String,
    names: Vec<Arc<str>>,
    w: BufWriter<std::fs::File>,
}

impl SpillJob {
    /// Sorts and writes; gives back the buffers and whether the run was written.
    fn run(mut self) -> (Vec<Row>, String, std::io::Result<()>) {
        sort_rows(&mut self.rows, &self.text, &self.names, false);
        let written = write_run(self.w, &self.rows, &self.text);
        (self.rows, self.text, written)
    }
}

/// Writes sorted rows as a run.
fn write_run(mut w: BufWriter<std::fs::File>, rows: &[Row], text: &str) -> std::io::Result<()> {
    for r in rows {
        let d = &text.as_bytes()[r.start as usize..r.end as usize];
        write_row(&mut w, r.time, r.module, r.event, d)?;
    }
    w.flush()
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

/// One row of a source of a [`Merge`]: its key and description.
struct Cur {
    time: Timestamp,
    /// Ranks of the module and event names (see [`Merge::new`]).
    module: u32,
    event: u32,
    /// Ids of the module and event names.
    module_id: u32,
    event_id: u32,
}

/// Reads one row of a run into `cur` and `desc` (its buffer reused);
/// `false` at its end. The text is checked to be UTF-8 here, once.
fn read_row(r: &mut impl Read, cur: &mut Cur, desc: &mut String) -> std::io::Result<bool> {
    let mut head = [0u8; 24];
    match r.read_exact(&mut head[..1]) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
        other => other?,
    }
    r.read_exact(&mut head[1..])?;
    let le4 = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    let secs = i64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let nanos = le4(8) as i32;
    cur.time = Timestamp::new(secs, nanos).map_err(std::io::Error::other)?;
    cur.module_id = le4(12);
    cur.event_id = le4(16);
    let mut bytes = std::mem::take(desc).into_bytes();
    bytes.clear();
    bytes.resize(le4(20) as usize, 0);
    r.read_exact(&mut bytes)?;
    *desc = String::from_utf8(bytes)
        .map_err(|_| std::io::Error::other("a timeline run holds text that is not UTF-8"))?;
    Ok(true)
}

/// Where a source's rows come from.
enum Feed {
    Run(BufReader<std::fs::File>),
    /// The held rows (sorted), at the index of the next.
    Held(usize),
}

struct Source {
    from: Feed,
    /// The current row, `None` once the source is spent.
    cur: Option<Cur>,
    /// The current row's description (a run's), reused.
    desc: String,
}

/// A k-way merge of sorted runs and the held rows, without a copy of a
/// held row's text nor an allocation per row: the sources are few (at most
/// [`MAX_RUNS`] and the held rows), so the next row is the least of the
/// sources' current rows, found by a scan of them.
struct Merge {
    sources: Vec<Source>,
    rows: Vec<Row>,
    text: String,
    rank: Vec<u32>,
}

impl Merge {
    fn new(
        runs: &[PathBuf],
        rows: Vec<Row>,
        text: String,
        names: &[Arc<str>],
    ) -> std::io::Result<Self> {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|a, b| names[*a].cmp(&names[*b]));
        let mut rank = vec![0u32; names.len()];
        for (r, id) in order.into_iter().enumerate() {
            rank[id] = r as u32;
        }
        let mut m = Merge {
            sources: Vec::with_capacity(runs.len() + 1),
            rows,
            text,
            rank,
        };
        for p in runs {
            let r = BufReader::with_capacity(64 << 10, std::fs::File::open(p)?);
            m.sources.push(Source {
                from: Feed::Run(r),
                cur: None,
                desc: String::new(),
            });
        }
        m.sources.push(Source {
            from: Feed::Held(0),
            cur: None,
            desc: String::new(),
        });
        for source in 0..m.sources.len() {
            m.advance(source)?;
        }
        Ok(m)
    }

    /// Moves `source` to its next row.
    fn advance(&mut self, source: usize) -> std::io::Result<()> {
        let s = &mut self.sources[source];
        let next = match &mut s.from {
            Feed::Run(r) => {
                let mut cur = Cur {
                    time: Timestamp::UNIX_EPOCH,
                    module: 0,
                    event: 0,
                    module_id: 0,
                    event_id: 0,
                };
                read_row(r, &mut cur, &mut s.desc)?.then_some(cur)
            }
            Feed::Held(i) => {
                let next = self.rows.get(*i).map(|r| Cur {
                    time: r.time,
                    module: 0,
                    event: 0,
                    module_id: r.module,
                    event_id: r.event,
                });
                *i += 1;
                next
            }
        };
        s.cur = next.map(|mut c| {
            c.module = self
                .rank
                .get(c.module_id as usize)
                .copied()
                .unwrap_or(u32::MAX);
            c.event = self
                .rank
                .get(c.event_id as usize)
                .copied()
                .unwrap_or(u32::MAX);
            c
        });
        Ok(())
    }

    /// The description of `source`'s current row.
    fn desc(&self, source: usize) -> &str {
        let s = &self.sources[source];
        match s.from {
            Feed::Run(_) => &s.desc,
            // Held rows are whole `str`s pushed one after another, so their
            // ends are char boundaries.
            Feed::Held(i) => {
                let r = &self.rows[i - 1];
                self.text
                    .get(r.start as usize..r.end as usize)
                    .unwrap_or_default()
            }
        }
    }

    /// The source whose current row comes first, if any is left.
    fn least(&self) -> Option<usize> {
        let mut best: Option<(usize, &Cur)> = None;
        for (i, s) in self.sources.iter().enumerate() {
            let Some(c) = &s.cur else { continue };
            let better = match best {
                None => true,
                Some((b, bc)) => (c.time, c.module, c.event)
                    .cmp(&(bc.time, bc.module, bc.event))
                    .then_with(|| self.desc(i).cmp(self.desc(b)))
                    .is_lt(),
            };
            if better {
                best = Some((i, c));
            }
        }
        best.map(|(i, _)| i)
    }
}

/// A row of [`Sorted`], borrowed.
pub struct RowRef<'a> {
    pub time: Timestamp,
    pub module: &'a str,
    pub event: &'a str,
    pub description: &'a str,
}

/// The rows of a [`Timeline`], sorted; see [`Timeline::into_sorted`].
pub struct Sorted {
    merge: Merge,
    names: Vec<Arc<str>>,
    /// The source of the row last returned: advanced before the next.
    pending: Option<usize>,
    /// Removed (with the runs) when the iteration is dropped.
    _dir: Option<PrivateTempDir>,
}

impl Sorted {
    /// The next row, borrowed until the next call.
    pub fn next_ref(&mut self) -> std::io::Result<Option<RowRef<'_>>> {
        if let Some(s) = self.pending.take() {
            self.merge.advance(s)?;
        }
        let Some(s) = self.merge.least() else {
            return Ok(None);
        };
        self.pending = Some(s);
        let c = self.merge.sources[s].cur.as_ref().expect("a current row");
        let name = |id: u32| self.names.get(id as usize).map_or("", |n| &**n);
        Ok(Some(RowRef {
            time: c.time,
            module: name(c.module_id),
            event: name(c.event_id),
            description: self.merge.desc(s),
        }))
    }
}

impl Iterator for Sorted {
    type Item = std::io::Result<TimelineRow>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_ref() {
            Ok(Some(r)) => Some(Ok(TimelineRow {
                time: r.time,
                module: r.module.into(),
                event: r.event.into(),
                description: r.description.into(),
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
