//! Whole-text sweeps: `logcat.txt`, `logcat_old.txt` and the like are not
//! parsed line by line; the indicator sweep picks the lines that mention an
//! indicator and each becomes one record with its text.

use crate::artifacts::TextSweep;
use crate::model::{ObservableType, Record};

pub const MODULE: &str = "logcat";

pub fn sweep(text: &[u8], sweep: &dyn TextSweep, module: &str, artifact: &str) -> Vec<Record> {
    // Large texts are swept in line-aligned chunks in parallel.
    const CHUNK: usize = 8 << 20;
    let mut bounds = vec![0usize];
    while let Some(&last) = bounds.last() {
        if text.len() - last <= CHUNK {
            break;
        }
        let cut = memchr::memchr(b'\n', &text[last + CHUNK..])
            .map_or(text.len(), |i| last + CHUNK + i + 1);
        bounds.push(cut);
    }
    bounds.push(text.len());
    bounds.dedup();
    let chunks: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let lines_before: Vec<usize> = chunks
        .iter()
        .scan(0usize, |acc, &(a, b)| {
            let before = *acc;
            *acc += memchr::memchr_iter(b'\n', &text[a..b]).count();
            Some(before)
        })
        .collect();
    use rayon::prelude::*;
    let observed = crate::artifacts::observe::Shared::for_sweep(sweep);
    let mut out: Vec<Record> = chunks
        .par_iter()
        .zip(lines_before.par_iter())
        .flat_map_iter(|(&(a, b), &before)| {
            let flagged = sweep.flagged_lines(&text[a..b]);
            if let Some(o) = &observed {
                o.swept(&text[a..b], &flagged);
            }
            flagged.into_iter().map(move |l| {
                let line =
                    String::from_utf8_lossy(&text[a + l.range.start..a + l.range.end]).into_owned();
                Record::new(module, artifact)
                    .event("log_line", line.clone())
                    .field("line_no", before + l.line_no)
                    .observe(ObservableType::Text, line)
            })
        })
        .collect();
    if let Some(o) = observed {
        out.extend(o.into_records(module, artifact));
    }
    out
}
