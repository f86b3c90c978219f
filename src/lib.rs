//! spydar: scan phone backups and archives for published traces of
//! mercenary spyware.
//!
//! The pipeline (see ARCHITECTURE in the design notes):
//! `evidence` (where the bytes are) → `artifacts` (what a file means, as
//! `model::Record`s) → `indicators` (STIX2 in, compiled `Matcher` out) →
//! `scan` (findings per device) → `report` (JSON, HTML, CSV, JSONL).
//!
//! Features: `cli` (default) adds the command line (`spydar::cli`, the
//! terminal and network crates); `fixtures` adds the test-input generator
//! (`spydar::fixtures`, the `spydar-fixtures` binary). The library without
//! either (`default-features = false`) scans and reports.

#![warn(clippy::too_many_lines)]

pub mod allow;
pub mod artifacts;
#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
pub mod evidence;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod indicators;
pub mod model;
pub mod options;
pub mod progress;
pub mod report;
pub mod rules;
pub mod scan;
pub mod strings;
pub mod textpos;
pub mod time;
