//! spydar: scan phone backups and archives for published traces of
//! mercenary spyware.
//!
//! The pipeline (see ARCHITECTURE in the design notes):
//! `evidence` (where the bytes are) → `artifacts` (what a file means, as
//! `model::Record`s) → `indicators` (STIX2 in, compiled `Matcher` out) →
//! `scan` (findings per device) → `report` (JSON, HTML, CSV, JSONL).

pub mod allow;
pub mod artifacts;
pub mod cli;
pub mod error;
pub mod evidence;
pub mod fixtures;
pub mod indicators;
pub mod model;
pub mod options;
pub mod progress;
pub mod report;
pub mod rules;
pub mod scan;
pub mod textpos;
pub mod time;
