//! Whole-text sweeps: `logcat.txt`, `logcat_old.txt` and the like are not
//! parsed line by line; the indicator sweep picks the lines that mention an
//! indicator and each becomes one record with its text.

use super::{AqfModule, AqfRead, DumpRead, Dumped, DumpstateModule, Part, dumpsys};
use crate::artifacts::{ModuleError, TextSweep};
use crate::evidence::zip_source::{Member, Source};
use crate::model::{ObservableType, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "logcat",
    artifact: "logcat*.txt",
    read: AqfRead::Sweep(run),
};
/// androidqf `logs/`: the device's log files (`/data/anr/`, `/data/log/`,
/// `/proc/kmsg`, ...) swept like `logcat.txt` (MVT only times them, in
/// `aqf_log_timestamps`).
pub const AQF_LOGS: AqfModule = AqfModule {
    name: "aqf_logs",
    artifact: "logs/",
    read: AqfRead::Sweep(run_logs),
};
pub const BUGREPORT_LOGS: DumpstateModule = DumpstateModule {
    name: "bugreport_logs",
    in_androidqf: None,
    part: Part::Logs,
    read: DumpRead::Sweep(sweep_log_blocks),
};

/// Every `logcat*.txt` of an acquisition.
fn run(src: &Source, sweeper: &dyn TextSweep) -> Result<Vec<Record>, ModuleError> {
    let members = src.find_all(|b| b.starts_with("logcat") && b.ends_with(".txt"));
    sweep_members(src, members, sweeper, MODULE.name)
}

/// Every file under `logs/`.
fn run_logs(src: &Source, sweeper: &dyn TextSweep) -> Result<Vec<Record>, ModuleError> {
    let members = src.members.iter().filter(|m| m.name.starts_with("logs/"));
    sweep_members(src, members, sweeper, AQF_LOGS.name)
}

/// Sweeps each member; `missing` when there is none.
fn sweep_members<'a>(
    src: &Source,
    members: impl Iterator<Item = &'a Member>,
    sweeper: &dyn TextSweep,
    module: &str,
) -> Result<Vec<Record>, ModuleError> {
    let mut out = Vec::new();
    let mut any = false;
    for m in members {
        any = true;
        let data = src.read(m)?;
        out.extend(sweep(&data, sweeper, module, &m.name));
    }
    if any {
        Ok(out)
    } else {
        Err(ModuleError::Missing)
    }
}

/// The dumpstate's log blocks. When the acquisition has its own
/// `logcat.txt` (the same ring buffers, dumped moments apart), the logcat
/// blocks are not swept twice.
fn sweep_log_blocks(
    text: &str,
    d: &Dumped<'_>,
    sweeper: &dyn TextSweep,
) -> Result<Vec<Record>, ModuleError> {
    let blocks: Vec<_> = dumpsys::log_blocks(text)
        .into_iter()
        .filter(|(title, _)| {
            !(d.has_logcat && ["SYSTEM LOG", "EVENT LOG", "RADIO LOG"].contains(title))
        })
        .collect();
    if blocks.is_empty() {
        return Err(ModuleError::Missing);
    }
    Ok(blocks
        .into_iter()
        .flat_map(|(title, body)| {
            let artifact = format!("{}#{title}", d.dumpstate);
            sweep(body.as_bytes(), sweeper, BUGREPORT_LOGS.name, &artifact)
        })
        .collect())
}

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
