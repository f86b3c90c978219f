//! The index of an iOS filesystem dump: every path of the dump that lies in
//! a backup domain, served to the backup modules as the `Manifest.db`
//! `Files` table (`fileID, domain, relativePath, flags, file`) through a
//! read-only SQLite virtual table over the dump's listing.
//!
//! Nothing is copied per row: a row is 12 bytes (the listing entry, its
//! domain, where its relative path starts), and a row's `fileID` (SHA-1)
//! and `MBFile` blob are made only when a query reads that column. Every
//! connection ([`DumpIndex::connect`]) shares the one index, so modules
//! that stream the whole table (`manifest`, triangulation's manifest
//! events) see exactly the rows a `Manifest.db` built from the walk held,
//! in the same rowid order (domain by domain, each in the component-wise
//! order of a sorted walk), without a million-row database being built,
//! serialised and copied per module. Lookups by rowid, by domain, by
//! `domain` + `relativePath` and by a `relativePath` GLOB are narrowed
//! here; SQLite checks every constraint again on the rows given, so the
//! narrowing only has to keep every row that may match.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::ffi::{CStr, c_int};
use std::ops::Range;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::vtab::{
    Context, CreateVTab, Filters, IndexConstraintOp, IndexInfo, Module, VTab, VTabConnection,
    VTabCursor, VTabKind,
};
use rusqlite::{Connection, ffi};

use super::ios_domain::file_id;
use super::ios_fs::{DumpEntry, DumpListing, EntryKind};
use super::nskeyed::{MbFile, encode_mbfile};

/// One row: the listing entry, its domain, and the byte offset of its
/// relative path in the entry's path.
#[derive(Clone, Copy, Debug)]
struct Row {
    entry: u32,
    domain: u32,
    rel: u32,
}

struct Inner {
    listing: Arc<DumpListing>,
    domains: Vec<String>,
    by_name: HashMap<String, u32>,
    /// In rowid order: rowid = position + 1.
    rows: Vec<Row>,
    /// Each domain's rows.
    by_domain: Vec<Range<u32>>,
    /// Which paths mention an indicator, found once for the modules that
    /// sweep the whole dump (see [`DumpIndex::flags`]).
    flags: std::sync::OnceLock<Arc<DumpFlags>>,
    /// Each listing entry's row position (`u32::MAX`: none), made on first
    /// use.
    row_of: std::sync::OnceLock<Vec<u32>>,
}

/// The paths of a dump that one indicator sweep flagged, for each module
/// that sweeps every path: `filesystem` (listing positions) and `manifest`
/// (index row positions, rowid - 1), both ascending.
#[derive(Debug, Default)]
pub struct DumpFlags {
    pub filesystem: Vec<u32>,
    pub manifest: Vec<u32>,
}

impl Inner {
    fn entry(&self, row: Row) -> &DumpEntry {
        &self.listing.entries[row.entry as usize]
    }

    fn rel(&self, row: Row) -> &str {
        self.entry(row).path.get(row.rel as usize..).unwrap_or("")
    }
}

/// The index of a dump; cheap to clone (shared).
#[derive(Clone)]
pub struct DumpIndex {
    inner: Arc<Inner>,
}

/// `/` before every other byte: the component-wise order of paths (as a
/// walk sorted by file name visits them), without splitting.
pub(crate) fn path_order(a: &str, b: &str) -> Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { c };
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // The common start, eight bytes at a time, then the first difference.
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n && a[i..i + 8] == b[i..i + 8] {
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    match (a.get(i), b.get(i)) {
        (Some(&x), Some(&y)) => key(x).cmp(&key(y)),
        _ => a.len().cmp(&b.len()),
    }
}

impl DumpIndex {
    /// `rows` are `(domain, listing entry, byte offset of the relative
    /// path)`, in listing order (the listing in component-wise order, see
    /// [`path_order`]); `domains` names each domain, in rowid order.
    pub(crate) fn new(
        listing: Arc<DumpListing>,
        domains: Vec<String>,
        rows: Vec<(u32, u32, u32)>,
    ) -> rusqlite::Result<Self> {
        if u32::try_from(listing.entries.len()).is_err() {
            return Err(rusqlite::Error::ModuleError(format!(
                "a dump of {} paths is more than the index holds",
                listing.entries.len()
            )));
        }
        // Same size: the rows' memory is reused.
        let mut out: Vec<Row> = rows
            .into_iter()
            .map(|(domain, entry, rel)| Row { entry, domain, rel })
            .collect();
        let mut inner = Inner {
            by_name: domains
                .iter()
                .enumerate()
                .map(|(i, d)| (d.clone(), i as u32))
                .collect(),
            listing,
            domains,
            rows: Vec::new(),
            by_domain: Vec::new(),
            flags: std::sync::OnceLock::new(),
            row_of: std::sync::OnceLock::new(),
        };
        // The listing is in component-wise order, and a domain's paths share
        // its folder: in listing order, each domain's rows are in the order
        // of their relative paths already. A stable sort by domain keeps it.
        out.sort_by_key(|r| r.domain);
        debug_assert!(
            out.windows(2).all(|w| w[0].domain != w[1].domain
                || path_order(inner.rel(w[0]), inner.rel(w[1])).is_lt())
        );
        let mut by_domain = vec![0..0; inner.domains.len()];
        let mut start = 0usize;
        while start < out.len() {
            let d = out[start].domain;
            let end = start + out[start..].iter().take_while(|r| r.domain == d).count();
            by_domain[d as usize] = start as u32..end as u32;
            start = end;
        }
        inner.rows = out;
        inner.by_domain = by_domain;
        Ok(DumpIndex {
            inner: Arc::new(inner),
        })
    }

    /// How many rows the `Files` table has.
    pub fn rows(&self) -> usize {
        self.inner.rows.len()
    }

    /// The listing the index is over.
    pub fn listing(&self) -> &Arc<DumpListing> {
        &self.inner.listing
    }

    /// The row at position `pos` (rowid - 1): its domain, relative path and
    /// listing position.
    pub fn row(&self, pos: usize) -> Option<(&str, &str, usize)> {
        let ix = &self.inner;
        let row = *ix.rows.get(pos)?;
        Some((
            ix.domains[row.domain as usize].as_str(),
            ix.rel(row),
            row.entry as usize,
        ))
    }

    /// The row position of the listing entry at `entry`, or `None` for a
    /// path that is no row (in no domain, or a FIFO and the like).
    pub fn row_of_entry(&self, entry: usize) -> Option<u32> {
        let ix = &self.inner;
        let of = ix.row_of.get_or_init(|| {
            let mut out = vec![u32::MAX; ix.listing.entries.len()];
            for (pos, row) in ix.rows.iter().enumerate() {
                if let Some(slot) = out.get_mut(row.entry as usize) {
                    *slot = pos as u32;
                }
            }
            out
        });
        of.get(entry).copied().filter(|&r| r != u32::MAX)
    }

    /// The flags of the dump's one indicator sweep: made by `make` on the
    /// first call, shared with every later one (modules that run at the same
    /// time wait for the first).
    pub fn flags(&self, make: impl FnOnce() -> DumpFlags) -> Arc<DumpFlags> {
        self.inner.flags.get_or_init(|| Arc::new(make())).clone()
    }

    /// A new connection whose `Files` table is this index (an in-memory
    /// database holding only the table's declaration).
    pub fn connect(&self) -> rusqlite::Result<Connection> {
        const MODULE: Module<'_, FilesTab> = Module::read_only_module();
        let conn = Connection::open_in_memory()?;
        conn.create_module(c"spydar_dump_index", &MODULE, Some(self.inner.clone()))?;
        conn.execute_batch("CREATE VIRTUAL TABLE Files USING spydar_dump_index")?;
        Ok(conn)
    }
}

/// The `MBFile` a backup would carry for a listed path.
fn mbfile(e: &DumpEntry) -> MbFile {
    let none = super::ios_fs::EntryMeta::new(0);
    let m = e.meta.as_deref().unwrap_or(&none);
    MbFile {
        size: Some(m.size()),
        mode: m.mode(),
        user_id: m.uid().map(i64::from),
        group_id: m.gid().map(i64::from),
        inode: m.inode_number(),
        last_modified: m.mtime(),
        last_status_change: m.ctime(),
        birth: m.birth(),
        target: e.link.as_deref().map(str::to_string),
        ..Default::default()
    }
}

fn flags(kind: EntryKind) -> i64 {
    match kind {
        EntryKind::File => 1,
        EntryKind::Dir => 2,
        EntryKind::Link => 4,
    }
}

#[repr(C)]
struct FilesTab {
    /// SQLite's part; must be first.
    base: ffi::sqlite3_vtab,
    index: Arc<Inner>,
}

const COL_DOMAIN: c_int = 1;
const COL_REL: c_int = 2;
const COL_ROWID: c_int = -1;

/// Constraints the cursor narrows by, in the order of their arguments.
const BY_ROWID: c_int = 1;
const BY_DOMAIN: c_int = 2;
const BY_REL: c_int = 4;
const BY_REL_GLOB: c_int = 8;
const BY_DOMAIN_GLOB: c_int = 16;
const PLANS: [(c_int, c_int, IndexConstraintOp); 5] = [
    (
        BY_ROWID,
        COL_ROWID,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ,
    ),
    (
        BY_DOMAIN,
        COL_DOMAIN,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ,
    ),
    (
        BY_REL,
        COL_REL,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ,
    ),
    (
        BY_REL_GLOB,
        COL_REL,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GLOB,
    ),
    (
        BY_DOMAIN_GLOB,
        COL_DOMAIN,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GLOB,
    ),
];

unsafe impl<'vtab> VTab<'vtab> for FilesTab {
    type Aux = Arc<Inner>;
    type Cursor = FilesCursor;

    fn connect(
        _: &mut VTabConnection,
        aux: Option<&Arc<Inner>>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let index = aux
            .cloned()
            .ok_or_else(|| rusqlite::Error::ModuleError("the dump index is missing".into()))?;
        Ok((
            Cow::Borrowed(
                c"CREATE TABLE x(fileID TEXT, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB)",
            ),
            FilesTab {
                base: ffi::sqlite3_vtab::default(),
                index,
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        // The first usable constraint of each kind (binary collation: a
        // `COLLATE NOCASE` comparison is left to SQLite).
        let mut chosen: [Option<usize>; 5] = [None; 5];
        for (i, c) in info.constraints().enumerate() {
            if !c.is_usable()
                || !info
                    .collation(i)
                    .is_ok_and(|n| n.eq_ignore_ascii_case("BINARY"))
            {
                continue;
            }
            if let Some(slot) = PLANS
                .iter()
                .position(|(_, col, op)| *col == c.column() && *op == c.operator())
            {
                chosen[slot].get_or_insert(i);
            }
        }
        let mut idx_num = 0;
        let mut argv = 0;
        for (slot, (bit, _, _)) in PLANS.iter().enumerate() {
            if let Some(i) = chosen[slot] {
                argv += 1;
                idx_num |= bit;
                info.constraint_usage(i).set_argv_index(argv);
            }
        }
        let n = self.index.rows.len().max(1) as f64;
        let domains = self.index.domains.len().max(1) as f64;
        let rows = if idx_num & BY_ROWID != 0 {
            1.0
        } else if idx_num & BY_REL != 0 {
            if idx_num & BY_DOMAIN != 0 {
                1.0
            } else {
                domains
            }
        } else if idx_num & BY_DOMAIN != 0 {
            n / domains
        } else {
            n
        };
        let cost = if idx_num & (BY_ROWID | BY_REL) != 0 {
            rows * n.log2().max(1.0)
        } else if idx_num & (BY_REL_GLOB | BY_DOMAIN_GLOB) != 0 {
            rows / 4.0
        } else {
            rows
        };
        info.set_idx_num(idx_num);
        info.set_estimated_cost(cost);
        info.set_estimated_rows(rows as i64);
        // Rows always come in rowid order.
        if info.num_of_order_by() == 1
            && let Some(o) = info.order_bys().next()
            && o.column() == COL_ROWID
            && !o.is_order_by_desc()
        {
            info.set_order_by_consumed(true);
        }
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<FilesCursor> {
        Ok(FilesCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            index: self.index.clone(),
            ranges: Vec::new(),
            at: 0,
            pos: 0,
            rel: None,
        })
    }
}

impl CreateVTab<'_> for FilesTab {
    const KIND: VTabKind = VTabKind::Default;
}

/// The literal text a GLOB match must start and end with (`*`, `?` and
/// `[…]` are its wildcards).
fn glob_ends(glob: &str) -> (String, String) {
    let special = |c: char| matches!(c, '*' | '?' | '[');
    let Some(first) = glob.find(special) else {
        return (glob.to_string(), glob.to_string());
    };
    let last = glob.rfind(['*', '?', '[', ']']).unwrap_or(first);
    let tail = glob.get(last + 1..).unwrap_or("");
    (glob[..first].to_string(), tail.to_string())
}

#[repr(C)]
struct FilesCursor {
    /// SQLite's part; must be first.
    base: ffi::sqlite3_vtab_cursor,
    index: Arc<Inner>,
    /// Row positions to visit, ascending.
    ranges: Vec<Range<u32>>,
    at: usize,
    pos: u32,
    /// A `relativePath` GLOB's literal start and end.
    rel: Option<(String, String)>,
}

impl FilesCursor {
    fn text(args: &Filters<'_>, i: usize) -> Option<String> {
        match args.get::<Value>(i) {
            Ok(Value::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// The ranges of rows the constraints leave.
    fn plan(
        &self,
        idx_num: c_int,
        args: &Filters<'_>,
    ) -> (Vec<Range<u32>>, Option<(String, String)>) {
        let ix = &self.index;
        let all = 0..ix.rows.len() as u32;
        let mut argi = 0usize;
        let mut next = |bit: c_int| {
            (idx_num & bit != 0).then(|| {
                argi += 1;
                argi - 1
            })
        };
        let (rowid, domain, rel, rel_glob, domain_glob) = (
            next(BY_ROWID),
            next(BY_DOMAIN),
            next(BY_REL),
            next(BY_REL_GLOB),
            next(BY_DOMAIN_GLOB),
        );
        let rel_glob = rel_glob
            .and_then(|i| Self::text(args, i))
            .map(|g| glob_ends(&g));
        if let Some(i) = rowid {
            return match args.get::<Value>(i) {
                Ok(Value::Integer(r)) if r >= 1 && r <= all.end as i64 => {
                    let one = r as u32 - 1..r as u32;
                    (vec![one], None)
                }
                Ok(Value::Integer(_)) | Ok(Value::Null) => (Vec::new(), None),
                _ => (vec![all], None),
            };
        }
        let domain_glob = domain_glob
            .and_then(|i| Self::text(args, i))
            .map(|g| glob_ends(&g));
        let domains: Vec<u32> = match domain.map(|i| Self::text(args, i)) {
            Some(Some(d)) => ix.by_name.get(&d).copied().into_iter().collect(),
            Some(None) => (0..ix.domains.len() as u32).collect(),
            None => (0..ix.domains.len() as u32)
                .filter(|&d| {
                    let name = &ix.domains[d as usize];
                    domain_glob.as_ref().is_none_or(|(a, z)| {
                        name.starts_with(a.as_str()) && name.ends_with(z.as_str())
                    })
                })
                .collect(),
        };
        // (A NUL would sort with `/`; no path holds one.)
        let prefix = rel_glob
            .as_ref()
            .map_or("", |(a, _)| a.as_str())
            .split('\0')
            .next()
            .unwrap_or("");
        if domain.is_none() && domain_glob.is_none() && rel.is_none() && prefix.is_empty() {
            return (vec![all], rel_glob);
        }
        let rel = rel.and_then(|i| Self::text(args, i));
        let mut ranges = Vec::new();
        for d in domains {
            let r = ix.by_domain[d as usize].clone();
            let rows = &ix.rows[r.start as usize..r.end as usize];
            match &rel {
                Some(target) => {
                    if let Ok(k) = rows.binary_search_by(|row| path_order(ix.rel(*row), target)) {
                        let at = r.start + k as u32;
                        ranges.push(at..at + 1);
                    }
                }
                // Paths starting with the GLOB's literal start are one run
                // in the component-wise order.
                None if !prefix.is_empty() => {
                    let lo = rows.partition_point(|row| path_order(ix.rel(*row), prefix).is_lt());
                    let n = rows[lo..]
                        .iter()
                        .take_while(|row| ix.rel(**row).starts_with(prefix))
                        .count();
                    if n > 0 {
                        ranges.push(r.start + lo as u32..r.start + (lo + n) as u32);
                    }
                }
                None => ranges.push(r),
            }
        }
        ranges.sort_by_key(|r| r.start);
        (ranges, rel_glob)
    }

    /// Whether the row at `pos` may match (the GLOB's literal ends).
    fn may_match(&self) -> bool {
        let Some((a, z)) = &self.rel else { return true };
        let rel = self.index.rel(self.index.rows[self.pos as usize]);
        rel.starts_with(a.as_str()) && rel.ends_with(z.as_str())
    }

    /// Moves to the first row at or after the current position that may
    /// match.
    fn settle(&mut self) {
        while let Some(r) = self.ranges.get(self.at) {
            if self.pos < r.start {
                self.pos = r.start;
            }
            if self.pos >= r.end {
                self.at += 1;
                continue;
            }
            if self.may_match() {
                return;
            }
            self.pos += 1;
        }
    }
}

unsafe impl VTabCursor for FilesCursor {
    fn filter(
        &mut self,
        idx_num: c_int,
        _idx_str: Option<&str>,
        args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        let (ranges, rel) = self.plan(idx_num, args);
        self.ranges = ranges;
        self.rel = rel;
        self.at = 0;
        self.pos = 0;
        self.settle();
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.pos += 1;
        self.settle();
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.ranges.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let ix = &self.index;
        let row = ix.rows[self.pos as usize];
        let e = ix.entry(row);
        let domain = ix.domains[row.domain as usize].as_str();
        match i {
            0 => ctx.set_result(file_id(domain, ix.rel(row))),
            1 => ctx.set_result(domain),
            2 => ctx.set_result(ix.rel(row)),
            3 => ctx.set_result(flags(e.kind)),
            _ => ctx.set_result(encode_mbfile(&mbfile(&ix.listing.full(e)))),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(i64::from(self.pos) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_order_is_the_byte_order_with_slash_first() {
        let key = |c: u8| if c == b'/' { 0 } else { c };
        let slow = |a: &str, b: &str| a.bytes().map(key).cmp(b.bytes().map(key));
        let paths = [
            "",
            "a",
            "a/",
            "a/b",
            "a b",
            "private/var/mobile",
            "private/var/mobile/x",
            "private/var/mobile x",
            "private/var/mobileX",
            "private/var/mobile/Library/a.db",
            "private/var/mobile/Library/a.db-wal",
            "private/var/mobile/Library-x/a",
            "private/var/mobile/Library/a/b/c/d/e",
            "private/var/mobile/Library",
        ];
        for a in paths {
            for b in paths {
                assert_eq!(path_order(a, b), slow(a, b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn component_order_and_glob_ends() {
        let mut v = vec!["a.b/c", "a/b", "a", "a b", "a/b/c", "a-"];
        v.sort_by(|a, b| path_order(a, b));
        assert_eq!(v, ["a", "a/b", "a/b/c", "a b", "a-", "a.b/c"]);
        assert_eq!(
            glob_ends("Library/*/History.db"),
            ("Library/".into(), "/History.db".into())
        );
        assert_eq!(glob_ends("*Cache.db"), ("".into(), "Cache.db".into()));
        assert_eq!(glob_ends("x[ab]y*"), ("x".into(), "".into()));
        assert_eq!(glob_ends("plain"), ("plain".into(), "plain".into()));
    }
}
