//! `records/<module>.jsonl`: one JSON record per line, in the order the
//! module made them. The one writer (a scan's sink streams batches into it
//! while modules run; a device folder's held records go through it too) and
//! the reader `recheck` uses.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::{BufRead as _, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};

use super::{is_module_name, real_dir, refuse_non_file, saved::open_regular};
use crate::error::{Error, Result};
use crate::model::{ModuleOutput, Record};

/// Longest line of a records file read back.
pub const MAX_RECORD_LINE: u64 = 256 << 20;

/// The records file format: each record as one line of JSON.
pub fn write_jsonl(w: &mut impl Write, records: &[Record]) -> std::io::Result<()> {
    for r in records {
        serde_json::to_writer(&mut *w, r)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes the records files of one folder. A module's file is created (or
/// emptied) the first time the module is written, with the folder; later
/// writes append, so batches land in the order they are given.
pub struct RecordsWriter {
    dir: PathBuf,
    files: BTreeMap<String, BufWriter<std::fs::File>>,
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

    /// `module`'s file, opened on first use.
    fn file(&mut self, module: &str) -> Result<&mut BufWriter<std::fs::File>> {
        match self.files.entry(module.to_string()) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => Ok(v.insert(BufWriter::new(create(&self.dir, module)?))),
        }
    }

    fn path(&self, module: &str) -> PathBuf {
        self.dir.join(format!("{module}.jsonl"))
    }

    /// Appends `module`'s records.
    pub fn append(&mut self, module: &str, records: &[Record]) -> Result<()> {
        let path = self.path(module);
        write_jsonl(self.file(module)?, records).map_err(|e| Error::io(path, e))
    }

    /// Appends lines already encoded by [`write_jsonl`] (so that encoding
    /// can run outside a lock).
    pub fn append_encoded(&mut self, module: &str, lines: &[u8]) -> Result<()> {
        let path = self.path(module);
        self.file(module)?
            .write_all(lines)
            .map_err(|e| Error::io(path, e))
    }

    /// Flushes every file; the first error, if any.
    pub fn finish(self) -> Result<()> {
        let mut first = None;
        for (module, mut f) in self.files {
            if let Err(e) = f.flush() {
                first.get_or_insert(Error::io(self.dir.join(format!("{module}.jsonl")), e));
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Creates (or empties) `dir/<module>.jsonl`, and `dir`. A name that is
/// not a plain file name, and a link or non-file where the file goes, are
/// refused.
fn create(dir: &Path, module: &str) -> Result<std::fs::File> {
    if !is_module_name(module) {
        return Err(Error::input(
            dir,
            format!("module name {module:?} is not a plain file name"),
        ));
    }
    real_dir(dir)?;
    let path = dir.join(format!("{module}.jsonl"));
    refuse_non_file(&path)?;
    std::fs::File::create(&path).map_err(|e| Error::io(&path, e))
}

/// Writes `records/<module>.jsonl` for every module holding records (the
/// folder `dir` is made even when none does).
pub fn write_records(dir: &Path, modules: &[ModuleOutput]) -> Result<()> {
    real_dir(dir)?;
    let mut w = RecordsWriter::new(dir);
    for m in modules.iter().filter(|m| !m.records.is_empty()) {
        w.append(&m.name, &m.records)?;
    }
    w.finish()
}

/// Reads a records file back (a regular file, not a link: a saved output
/// folder is untrusted input, like the evidence).
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    let mut reader = std::io::BufReader::new(open_regular(path)?);
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
        let streamed = std::fs::read(d.path().join("streamed/m.jsonl")).unwrap();
        assert_eq!(
            streamed,
            std::fs::read(d.path().join("whole/m.jsonl")).unwrap()
        );
        assert_eq!(streamed.iter().filter(|b| **b == b'\n').count(), 5);
        assert_eq!(read_records(&d.path().join("whole/m.jsonl")).unwrap(), all);
    }

    #[test]
    fn odd_module_names_and_links_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut w = RecordsWriter::new(d.path());
        assert!(w.append("../x", &records("x", 1)).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.path().join("elsewhere"), d.path().join("l.jsonl"))
                .unwrap();
            let err = w.append("l", &records("l", 1)).err().unwrap().to_string();
            assert!(err.contains("is a link"), "{err}");
            assert!(!d.path().join("elsewhere").exists());
        }
    }
}
