//! Scale check on a large generated backup (run by hand, release build):
//!
//! ```text
//! cargo run --release --features fixtures --bin spydar-fixtures -- ios-backup /tmp/big --scale 2000
//! SPYDAR_BIG_BACKUP=/tmp/big cargo bench --bench ios_backup_scale
//! ```
//! With the indicator sweep in place (here a stand-in over the planted
//! values), a million Manifest rows are streamed, not all kept as records.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use spydar::artifacts::{ScanOptions, SweptLine, TextSweep};
use spydar::fixtures::ios_backup::PLANTS;

/// Flags lines containing any planted value (a stand-in for the matcher's sweep).
struct PlantSweep(AhoCorasick);

impl TextSweep for PlantSweep {
    fn flagged_lines(&self, text: &[u8]) -> Vec<SweptLine> {
        let mut out = Vec::new();
        let mut start = 0;
        for (n, line) in text.split(|b| *b == b'\n').enumerate() {
            if self.0.is_match(line) {
                out.push(SweptLine {
                    line_no: n + 1,
                    range: start..start + line.len(),
                });
            }
            start += line.len() + 1;
        }
        out
    }
}

fn main() {
    let Ok(path) = std::env::var("SPYDAR_BIG_BACKUP") else {
        eprintln!("set SPYDAR_BIG_BACKUP to a generated backup (see the top of this file)");
        return;
    };
    let sweep = PlantSweep(AhoCorasick::new(PLANTS.iter().map(|(_, v)| *v)).unwrap());
    let opts = ScanOptions {
        text_sweep: Some(Arc::new(sweep)),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let scan = spydar::artifacts::ios::scan_backup(std::path::Path::new(&path), &opts).unwrap();
    let secs = started.elapsed().as_secs_f64();
    for m in &scan.modules {
        eprintln!(
            "{:34} {:>8} records {:>6} ms {:?}",
            m.name,
            m.records.len(),
            m.duration_ms,
            m.status
        );
    }
    eprintln!("total {secs:.2} s");
    let manifest = scan.modules.iter().find(|m| m.name == "manifest").unwrap();
    let summary = manifest
        .records
        .iter()
        .find(|r| r.event == "manifest_summary")
        .unwrap();
    eprintln!("{}", summary.description);
}
