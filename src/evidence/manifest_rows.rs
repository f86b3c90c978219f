//! Rows of a backup's `Manifest.db` that several iOS modules need, handed
//! over from the one pass the `manifest` module makes over `Files`.
//!
//! `Manifest.db` can be a gigabyte, and the rows `sms_attachments` and
//! `triangulation_timeline` want (SMS attachments, a few preference files)
//! are spread over nearly every page of the table: reading them with queries
//! of their own read the table twice more. Instead the scan [`Handoff::plan`]s
//! the hand-over when it runs the `manifest` module with them; `manifest`
//! collects the rows during its pass and [`Handoff::give`]s them (or
//! nothing, when its pass did not read the table: the modules then query
//! as before); each reader takes its part once, waiting for it if need be.

use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex};

/// What the `manifest` pass collects for the other modules, compactly:
/// the strings of all rows in one buffer (a large backup lists tens of
/// thousands of attachments).
#[derive(Default, Debug)]
pub struct ManifestRows {
    text: String,
    attachments: Vec<Attachment>,
    /// Path and times, `i64::MIN` for a time the `MBFile` lacks.
    times: Vec<(Range<u32>, [i64; 3])>,
}

/// A time `MBFile` lacks, in [`ManifestRows::times`]'s packed form.
const NO_TIME: i64 = i64::MIN;

/// An attachment row: its domain (an index into the list the collector
/// was given), relative path and fileID.
#[derive(Clone, Debug)]
struct Attachment {
    domain: u8,
    /// The path was stored as a blob (SQLite sorts blobs after text).
    blob: bool,
    path: Range<u32>,
    file_id: Range<u32>,
}

impl ManifestRows {
    /// Keeps `s` in the buffer (`None` beyond 4 GiB of text).
    fn keep(&mut self, s: &str) -> Option<Range<u32>> {
        let start = u32::try_from(self.text.len()).ok()?;
        let end = u32::try_from(self.text.len() + s.len()).ok()?;
        self.text.push_str(s);
        Some(start..end)
    }

    fn get(&self, r: &Range<u32>) -> &str {
        self.text
            .get(r.start as usize..r.end as usize)
            .unwrap_or("")
    }

    /// Adds an attachment row for `sms_attachments`; `domain` indexes
    /// the domains `entries` is given. `false` when the buffer is full.
    pub fn push_attachment(&mut self, domain: u8, blob: bool, path: &str, file_id: &str) -> bool {
        let (Some(path), Some(file_id)) = (self.keep(path), self.keep(file_id)) else {
            return false;
        };
        self.attachments.push(Attachment {
            domain,
            blob,
            path,
            file_id,
        });
        true
    }

    /// Adds a row of `triangle-check`'s query: relative path and `MBFile`
    /// times (modified, status changed, birth). A path equal to the last
    /// attachment's is not kept twice. `false` when the buffer is full.
    pub fn push_times(&mut self, path: &str, times: [Option<i64>; 3]) -> bool {
        let last = self.attachments.last().map(|a| a.path.clone());
        let path = match last.filter(|r| self.get(r) == path) {
            Some(r) => r,
            None => match self.keep(path) {
                Some(r) => r,
                None => return false,
            },
        };
        self.times.push((path, times.map(|t| t.unwrap_or(NO_TIME))));
        true
    }

    /// Orders the attachments as their query does (`ORDER BY domain,
    /// relativePath`, one domain after the other), stable.
    pub fn sort_attachments(&mut self) {
        let mut a = std::mem::take(&mut self.attachments);
        a.sort_by(|x, y| {
            (x.domain, x.blob, self.get(&x.path)).cmp(&(y.domain, y.blob, self.get(&y.path)))
        });
        self.attachments = a;
    }

    /// The attachment rows: domain index, relative path and fileID (the
    /// rows are files, `flags` 1).
    pub fn attachments(&self) -> impl Iterator<Item = (u8, &str, &str)> {
        self.attachments
            .iter()
            .map(|a| (a.domain, self.get(&a.path), self.get(&a.file_id)))
    }

    /// The timeline rows in `rowid` order: relative path and times.
    pub fn times(&self) -> impl Iterator<Item = (&str, [Option<i64>; 3])> {
        self.times
            .iter()
            .map(|(p, t)| (self.get(p), t.map(|t| (t != NO_TIME).then_some(t))))
    }

    /// Frees the room the buffers grew beyond their contents.
    pub fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.attachments.shrink_to_fit();
        self.times.shrink_to_fit();
    }
}

/// Which module takes the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    SmsAttachments,
    Triangulation,
}

/// See the module documentation. One per opened backup.
#[derive(Default)]
pub struct Handoff {
    state: Mutex<State>,
    given: Condvar,
}

#[derive(Default)]
enum State {
    /// Nobody will give rows: readers query themselves.
    #[default]
    Unplanned,
    /// The `manifest` module will give rows (or nothing).
    Planned,
    /// Given (or not); each reader takes them once, and the last one
    /// frees them.
    Given {
        rows: Option<Arc<ManifestRows>>,
        taken: Vec<Reader>,
    },
}

impl Handoff {
    /// The scan runs the `manifest` module: readers wait for its rows.
    pub fn plan(&self) {
        let mut st = self.lock();
        if matches!(*st, State::Unplanned) {
            *st = State::Planned;
        }
    }

    /// Whether [`Self::plan`] was called and nothing given yet.
    pub fn is_planned(&self) -> bool {
        matches!(*self.lock(), State::Planned)
    }

    /// Hands over the collected rows, or `None` (the readers then query
    /// themselves). Only the first call counts.
    pub fn give(&self, rows: Option<ManifestRows>) {
        let mut st = self.lock();
        if matches!(*st, State::Planned) {
            *st = State::Given {
                rows: rows.map(Arc::new),
                taken: Vec::new(),
            };
        }
        drop(st);
        self.given.notify_all();
    }

    /// The rows, once per reader; `None` when not planned or not given.
    /// On a rayon worker, other pending jobs (the scan's other modules)
    /// run while the rows are not given yet, rather than the worker idling.
    pub fn take(&self, reader: Reader) -> Option<Arc<ManifestRows>> {
        loop {
            {
                let mut st = self.lock();
                match &mut *st {
                    State::Unplanned => return None,
                    State::Given { rows, taken } => {
                        if taken.contains(&reader) {
                            return None;
                        }
                        taken.push(reader);
                        // The second reader holds the last reference.
                        return if taken.len() == 2 {
                            rows.take()
                        } else {
                            rows.clone()
                        };
                    }
                    State::Planned => {}
                }
            }
            if let Some(rayon::Yield::Executed) = rayon::yield_now() {
                continue;
            }
            let st = self.lock();
            if matches!(*st, State::Planned) {
                let _ = self
                    .given
                    .wait_timeout(st, std::time::Duration::from_millis(2));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unplanned_gives_nothing_and_each_reader_takes_once() {
        let h = Handoff::default();
        assert!(h.take(Reader::Triangulation).is_none());
        h.give(Some(ManifestRows::default()));
        assert!(
            h.take(Reader::SmsAttachments).is_none(),
            "not planned: nothing kept"
        );

        let h = Handoff::default();
        h.plan();
        assert!(h.is_planned());
        let mut rows = ManifestRows::default();
        assert!(rows.push_attachment(0, false, "Library/SMS/Attachments/b.gif", "ab"));
        assert!(rows.push_times("Library/SMS/Attachments/b.gif", [Some(1), None, None]));
        assert!(rows.push_attachment(1, false, "Library/SMS/Attachments/a.gif", "cd"));
        rows.sort_attachments();
        assert_eq!(rows.text.len(), 2 * 29 + 4, "a path shared, not kept twice");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| h.take(Reader::Triangulation));
            h.give(Some(rows));
            let rows = waiter.join().unwrap().unwrap();
            let times: Vec<_> = rows.times().collect();
            assert_eq!(
                times,
                [("Library/SMS/Attachments/b.gif", [Some(1), None, None])]
            );
        });
        assert!(h.take(Reader::Triangulation).is_none());
        let rows = h.take(Reader::SmsAttachments).unwrap();
        let listed: Vec<_> = rows.attachments().collect();
        assert_eq!(
            listed,
            [
                (0, "Library/SMS/Attachments/b.gif", "ab"),
                (1, "Library/SMS/Attachments/a.gif", "cd")
            ]
        );
        h.plan();
        assert!(!h.is_planned(), "given once: stays given");
    }
}
