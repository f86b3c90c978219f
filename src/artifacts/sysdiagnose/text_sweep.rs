//! Every text member no module parses (and the free-text logs some modules
//! parse) goes through `ScanOptions::text_sweep`: one record per flagged
//! line, naming the member and the line number.

use crate::artifacts::TextSweep;
use crate::model::{ObservableType, Record};

pub const MODULE: &str = "text_sweep";

/// Longest line kept in a record (a flagged line can be a minified blob).
const MAX_LINE: usize = 4096;

/// Sweeps `data` (which starts at line `first_line` of `member`).
pub fn sweep(sweeper: &dyn TextSweep, member: &str, first_line: usize, data: &[u8]) -> Vec<Record> {
    sweeper
        .flagged_lines(data)
        .into_iter()
        .filter_map(|hit| {
            let bytes = data.get(hit.range.clone())?;
            let text = String::from_utf8_lossy(bytes);
            let mut line = text.trim().to_string();
            if line.len() > MAX_LINE {
                let mut cut = MAX_LINE;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
            }
            let line_no = first_line + hit.line_no - 1;
            Some(
                Record::new(MODULE, member)
                    .event("text_line", format!("{member}:{line_no}"))
                    .field("member", member)
                    .field("line", line_no)
                    .observe(ObservableType::Text, line),
            )
        })
        .collect()
}
