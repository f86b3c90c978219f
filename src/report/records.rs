//! `records/<module>.jsonl.zst`: one JSON record per line, in the order the
//! module made them, compressed as one zstd stream (`zstd -dc` reads it).
//! The one writer (a scan's sink streams batches into it while modules run;
//! a device folder's held records go through it too) and the reader
//! `recheck` uses, which also reads the plain `records/<module>.jsonl` of
//! folders written before records were compressed.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::{BufRead as _, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod json;

use super::{is_module_name, real_dir, refuse_non_file, saved::open_regular};
use crate::error::{Error, Result};
use crate::model::{ModuleOutput, Record};

/// Longest line of a records file read back.
pub const MAX_RECORD_LINE: u64 = 256 << 20;

/// The name ending of a records file a scan writes.
pub const RECORDS_EXT: &str = "jsonl.zst";

/// The name ending of the plain records files of older scans (still read).
pub const PLAIN_EXT: &str = "jsonl";

/// zstd level of the records files: level 1 is the fastest and on records
/// (JSON with repeated keys, paths and hosts) within a few per cent of 3.
/// The "fast" negative levels are slower on them, and larger (`zstd -b1
/// --fast=N` on 40 MB of the scale-400 backup's records: level 1 1,347
/// MB/s x21; --fast=1 905 MB/s x16; --fast=3 809 MB/s x12).
const ZSTD_LEVEL: i32 = 1;

/// A compressed records file is refused when it would decompress to more
/// than this many times its size (and more than [`BOMB_FLOOR`]): records
/// compress 5-50×, a decompression bomb thousands of times.
pub const MAX_RATIO: u64 = 500;
/// Decompressed bytes always allowed, whatever the ratio.
pub const BOMB_FLOOR: u64 = 256 << 20;

/// `dir/<module>.jsonl.zst`, the file a scan writes.
pub fn records_path(dir: &Path, module: &str) -> PathBuf {
    dir.join(format!("{module}.{RECORDS_EXT}"))
}

/// The records file of `module` in a saved `dir`: the compressed one, or
/// the plain one of an older scan; `None` when neither is there.
pub fn find_records(dir: &Path, module: &str) -> Option<PathBuf> {
    [RECORDS_EXT, PLAIN_EXT]
        .iter()
        .map(|ext| dir.join(format!("{module}.{ext}")))
        .find(|p| std::fs::symlink_metadata(p).is_ok())
}

/// The records file format: each record as one line of JSON (what
/// `serde_json` writes for it; see [`json`]).
pub fn write_jsonl(w: &mut impl Write, records: &[Record]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut order = crate::model::FieldOrder::default();
    for r in records {
        buf.clear();
        json::write_record(&mut buf, r, &mut order);
        buf.push(b'\n');
        w.write_all(&buf)?;
    }
    Ok(())
}

type Compressed = zstd::stream::write::Encoder<'static, BufWriter<std::fs::File>>;

/// One module's records file: zstd frames fed from a reused encoding
/// buffer (serde writes JSON in many small pieces; the compressor gets
/// them in large ones). A frame is ended when the module is done
/// ([`ModuleFile::end_frame`]), so a compression context (about 1 MB) is
/// held only by modules still running; a later write starts a new frame,
/// and `zstd -dc` reads concatenated frames as one stream.
pub struct ModuleFile {
    path: PathBuf,
    file: Option<BufWriter<std::fs::File>>,
    enc: Option<Compressed>,
    buf: Vec<u8>,
}

/// Encoded bytes gathered before they go to the compressor.
const ENCODE_BUF: usize = 128 << 10;

impl ModuleFile {
    fn open(dir: &Path, module: &str) -> Result<Self> {
        let file = BufWriter::with_capacity(64 << 10, create(dir, module)?);
        Ok(ModuleFile {
            path: records_path(dir, module),
            file: Some(file),
            enc: None,
            buf: Vec::new(),
        })
    }

    /// Appends records, one JSON line each.
    pub fn append(&mut self, records: &[Record]) -> Result<()> {
        let mut order = crate::model::FieldOrder::default();
        for r in records {
            json::write_record(&mut self.buf, r, &mut order);
            self.buf.push(b'\n');
            if self.buf.len() >= ENCODE_BUF {
                self.spill()?;
            }
        }
        self.spill()
    }

    /// Appends lines already encoded by [`write_jsonl`].
    pub fn append_encoded(&mut self, lines: &[u8]) -> Result<()> {
        self.spill()?;
        self.compressor()?
            .write_all(lines)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Appends whole zstd frames made by [`encode_frame`], after ending
    /// the open frame (if any).
    pub fn append_frames(&mut self, frames: &[u8]) -> Result<()> {
        self.end_frame()?;
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::input(&self.path, "records file already failed"))?;
        file.write_all(frames).map_err(|e| Error::io(&self.path, e))
    }

    /// The open frame's compressor, starting a frame if none is open.
    fn compressor(&mut self) -> Result<&mut Compressed> {
        if self.enc.is_none() {
            let file = self
                .file
                .take()
                .ok_or_else(|| Error::input(&self.path, "records file already failed"))?;
            let enc = zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)
                .map_err(|e| Error::io(&self.path, e))?;
            self.enc = Some(enc);
        }
        Ok(self.enc.as_mut().expect("a compressor"))
    }

    fn spill(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.buf);
        let written = self.compressor()?.write_all(&buf);
        buf.clear();
        // The buffer is kept while a frame is open, freed with it.
        self.buf = buf;
        written.map_err(|e| Error::io(&self.path, e))
    }

    /// Ends the open frame (if any) and frees its compression context and
    /// buffer; the file stays open for a later frame.
    pub fn end_frame(&mut self) -> Result<()> {
        self.spill()?;
        self.buf = Vec::new();
        if let Some(enc) = self.enc.take() {
            let file = enc.finish().map_err(|e| Error::io(&self.path, e))?;
            self.file = Some(file);
        }
        Ok(())
    }

    /// Ends the last frame and flushes the file.
    fn finish(&mut self) -> Result<()> {
        self.end_frame()?;
        match self.file.as_mut() {
            Some(f) => f.flush().map_err(|e| Error::io(&self.path, e)),
            None => Ok(()),
        }
    }
}

thread_local! {
    /// A worker's JSON buffer and zstd context, reused batch after batch.
    static FRAME: std::cell::RefCell<Option<(Vec<u8>, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// `records` as JSON lines ([`write_jsonl`]) compressed into one zstd
/// frame, for [`ModuleFile::append_frames`]: pieces of a batch are encoded
/// and compressed in parallel (a frame each), and `zstd -dc` reads the
/// frames one after another as one stream.
pub fn encode_frame(records: &[Record]) -> std::io::Result<Vec<u8>> {
    FRAME.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Some((Vec::new(), zstd::bulk::Compressor::new(ZSTD_LEVEL)?));
        }
        let (buf, zstd) = cell.as_mut().expect("a frame context");
        buf.clear();
        let mut order = crate::model::FieldOrder::default();
        for r in records {
            json::write_record(buf, r, &mut order);
            buf.push(b'\n');
        }
        let out = zstd.compress(buf);
        // A batch's text is not kept between batches beyond 4 MiB.
        if buf.capacity() > 4 << 20 {
            *buf = Vec::new();
        }
        out
    })
}

/// Writes the records files of one folder. A module's file is created (or
/// emptied) the first time the module is written, with the folder; later
/// writes append, so batches land in the order they are given.
pub struct RecordsWriter {
    dir: PathBuf,
    files: BTreeMap<String, Arc<Mutex<ModuleFile>>>,
}

impl RecordsWriter {
    /// A writer into `dir` (made when the first file is).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RecordsWriter {
            dir: dir.into(),
            files: BTreeMap::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `module`'s file, opened on first use. It can be written without
    /// holding the writer (one module's batches come one at a time).
    pub fn handle(&mut self, module: &str) -> Result<Arc<Mutex<ModuleFile>>> {
        match self.files.entry(module.to_string()) {
            Entry::Occupied(e) => Ok(e.get().clone()),
            Entry::Vacant(v) => {
                let f = Arc::new(Mutex::new(ModuleFile::open(&self.dir, module)?));
                Ok(v.insert(f).clone())
            }
        }
    }

    /// Ends `module`'s open frame, if it has a file (see [`ModuleFile`]).
    pub fn end_frame(&mut self, module: &str) -> Result<()> {
        match self.files.get(module) {
            Some(f) => f.lock().unwrap_or_else(|p| p.into_inner()).end_frame(),
            None => Ok(()),
        }
    }

    /// The path of `module`'s file.
    pub fn path(&self, module: &str) -> PathBuf {
        records_path(&self.dir, module)
    }

    /// Appends `module`'s records.
    pub fn append(&mut self, module: &str, records: &[Record]) -> Result<()> {
        let f = self.handle(module)?;
        let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
        f.append(records)
    }

    /// Appends lines already encoded by [`write_jsonl`].
    pub fn append_encoded(&mut self, module: &str, lines: &[u8]) -> Result<()> {
        let f = self.handle(module)?;
        let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
        f.append_encoded(lines)
    }

    /// Ends every file's zstd stream and flushes it; the first error, if any.
    pub fn finish(self) -> Result<()> {
        let mut first = None;
        for f in self.files.into_values() {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = f.finish() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Creates (or empties) `dir/<module>.jsonl.zst`, and `dir`. A name that
/// is not a plain file name, and a link or non-file where the file goes,
/// are refused.
fn create(dir: &Path, module: &str) -> Result<std::fs::File> {
    if !is_module_name(module) {
        return Err(Error::input(
            dir,
            format!("module name {module:?} is not a plain file name"),
        ));
    }
    real_dir(dir)?;
    let path = records_path(dir, module);
    refuse_non_file(&path)?;
    std::fs::File::create(&path).map_err(|e| Error::io(&path, e))
}

/// Writes `records/<module>.jsonl.zst` for every module holding records
/// (the folder `dir` is made even when none does).
pub fn write_records(dir: &Path, modules: &[ModuleOutput]) -> Result<()> {
    real_dir(dir)?;
    let mut w = RecordsWriter::new(dir);
    for m in modules.iter().filter(|m| !m.records.is_empty()) {
        w.append(&m.name, &m.records)?;
    }
    w.finish()
}

/// Reads a records file back (a regular file, not a link: a saved output
/// folder is untrusted input, like the evidence): zstd-compressed when its
/// name ends in `.zst`, plain JSON lines otherwise.
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    let file = open_regular(path)?;
    if path.extension().is_some_and(|e| e == "zst") {
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        read_zst(path, file, size.saturating_mul(MAX_RATIO).max(BOMB_FLOOR))
    } else {
        read_lines(path, std::io::BufReader::new(file))
    }
}

/// The records of a zstd-compressed file, refused past `cap` bytes
/// decompressed.
fn read_zst(path: &Path, file: std::fs::File, cap: u64) -> Result<Vec<Record>> {
    let dec = zstd::stream::read::Decoder::new(file).map_err(|e| Error::io(path, e))?;
    let mut limited = dec.take(cap);
    let records = read_lines(path, std::io::BufReader::new(&mut limited));
    if limited.limit() == 0 && limited.into_inner().read(&mut [0u8; 1]).unwrap_or(0) > 0 {
        return Err(Error::input(
            path,
            format!(
                "decompresses to more than {MAX_RATIO} times its size; refusing it (not a records file spydar wrote)"
            ),
        ));
    }
    records
}

/// The records of JSON lines read from `reader`.
fn read_lines(path: &Path, mut reader: impl std::io::BufRead) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        let got = (&mut reader)
            .take(MAX_RECORD_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(path, e))?;
        if got == 0 {
            break;
        }
        if line.len() as u64 > MAX_RECORD_LINE {
            return Err(Error::input(
                path,
                format!("line {n}: longer than {} MiB", MAX_RECORD_LINE >> 20),
            ));
        }
        let record: Record = serde_json::from_slice(&line)
            .map_err(|e| Error::input(path, format!("line {n}: {e}")))?;
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(module: &str, n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| Record::new(module, "a").field("i", i as u64))
            .collect()
    }

    #[test]
    fn batches_append_to_what_one_write_gives_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        let all = records("m", 5);
        let mut w = RecordsWriter::new(d.path().join("streamed"));
        w.append("m", &all[..2]).unwrap();
        // A module's frame ends when it is done; a later batch starts another.
        w.end_frame("m").unwrap();
        let mut rest = Vec::new();
        write_jsonl(&mut rest, &all[2..]).unwrap();
        w.append_encoded("m", &rest).unwrap();
        w.finish().unwrap();
        let module = ModuleOutput {
            name: "m".into(),
            artifact: "a".into(),
            status: crate::model::ModuleStatus::Ok,
            error: None,
            duration_ms: 0,
            records: all.clone(),
            streamed: 0,
        };
        write_records(&d.path().join("whole"), &[module]).unwrap();
        let unzst =
            |p: &str| zstd::decode_all(&std::fs::read(d.path().join(p)).unwrap()[..]).unwrap();
        let streamed = unzst("streamed/m.jsonl.zst");
        assert_eq!(streamed, unzst("whole/m.jsonl.zst"));
        assert_eq!(streamed.iter().filter(|b| **b == b'\n').count(), 5);
        assert_eq!(
            read_records(&d.path().join("whole/m.jsonl.zst")).unwrap(),
            all
        );
        // A plain file of an older scan reads the same.
        std::fs::write(d.path().join("old.jsonl"), &streamed).unwrap();
        assert_eq!(read_records(&d.path().join("old.jsonl")).unwrap(), all);
        assert_eq!(
            find_records(&d.path().join("whole"), "m"),
            Some(d.path().join("whole/m.jsonl.zst"))
        );
        assert_eq!(
            find_records(d.path(), "old"),
            Some(d.path().join("old.jsonl"))
        );
        assert_eq!(find_records(d.path(), "none"), None);
    }

    #[test]
    fn odd_module_names_and_links_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut w = RecordsWriter::new(d.path());
        assert!(w.append("../x", &records("x", 1)).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.path().join("elsewhere"), d.path().join("l.jsonl.zst"))
                .unwrap();
            let err = w.append("l", &records("l", 1)).err().unwrap().to_string();
            assert!(err.contains("is a link"), "{err}");
            assert!(!d.path().join("elsewhere").exists());
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut plain = Vec::new();
        write_jsonl(&mut plain, &records("m", 10_000)).unwrap();
        let path = d.path().join("m.jsonl.zst");
        std::fs::write(&path, zstd::encode_all(&plain[..], 19).unwrap()).unwrap();
        let file = open_regular(&path).unwrap();
        let err = read_zst(&path, file, 4096).err().unwrap().to_string();
        assert!(err.contains("decompresses to more than"), "{err}");
        let file = open_regular(&path).unwrap();
        assert_eq!(
            read_zst(&path, file, plain.len() as u64).unwrap().len(),
            10_000
        );
    }
}
