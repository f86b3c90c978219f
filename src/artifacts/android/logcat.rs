//! Whole-text sweeps: `logcat.txt`, `logcat_old.txt` and the like are not
//! parsed line by line; the indicator sweep picks the lines that mention an
//! indicator and each becomes one record with its text.

use crate::artifacts::TextSweep;
use crate::model::{ObservableType, Record};

pub const MODULE: &str = "logcat";

pub fn sweep(text: &[u8], sweep: &dyn TextSweep, module: &str, artifact: &str) -> Vec<Record> {
    sweep
        .flagged_lines(text)
        .into_iter()
        .map(|l| {
            let line = String::from_utf8_lossy(&text[l.range.clone()]).into_owned();
            Record::new(module, artifact)
                .event("log_line", line.clone())
                .field("line_no", l.line_no)
                .observe(ObservableType::Text, line)
        })
        .collect()
}
