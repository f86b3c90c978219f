//! Every text member no module parses (and the free-text logs some modules
//! parse) goes through `ScanOptions::text_sweep`: one record per flagged
//! line, naming the member and the line number. When the sweep asks for it,
//! the other lines' observables are kept too, one record per distinct value
//! per member (`artifacts::observe`), so `recheck` finds indicators
//! published after the scan.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::artifacts::TextSweep;
use crate::artifacts::observe::{MAX_SWEPT_LINE, Observed};
use crate::model::{ModuleOutput, ObservableType, Record};

pub const MODULE: &str = "text_sweep";
pub const ARTIFACT: &str = "every other text member";

/// Sweeps `data` (which starts at line `first_line` of `member`).
pub fn sweep(
    sweeper: &dyn TextSweep,
    member: &str,
    first_line: usize,
    data: &[u8],
    observed: &Observations,
) -> Vec<Record> {
    let flagged = sweeper.flagged_lines(data);
    if sweeper.keeps_observables() {
        observed.add(member, Observed::of_swept(data, &flagged));
    }
    flagged
        .into_iter()
        .filter_map(|hit| {
            let bytes = data.get(hit.range.clone())?;
            let text = String::from_utf8_lossy(bytes);
            let mut line = text.trim().to_string();
            if line.len() > MAX_SWEPT_LINE {
                let mut cut = MAX_SWEPT_LINE;
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

/// The observables of every swept member, merged as its pieces are read
/// (in any order: the merge does not depend on it).
#[derive(Default)]
pub struct Observations(Mutex<BTreeMap<String, Observed>>);

impl Observations {
    fn add(&self, member: &str, o: Observed) {
        if o.is_empty() {
            return;
        }
        let Ok(mut all) = self.0.lock() else {
            return;
        };
        match all.get_mut(member) {
            Some(m) => m.merge(o),
            None => {
                all.insert(member.to_string(), o);
            }
        }
    }

    /// Appends each member's records, in member order, after the swept
    /// lines of the `text_sweep` module.
    pub fn append_to(self, modules: &mut [ModuleOutput]) {
        let all = self.0.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = modules.iter_mut().find(|m| m.name == MODULE) {
            for (member, o) in all {
                m.records.extend(o.into_records(MODULE, &member));
            }
        }
    }
}
