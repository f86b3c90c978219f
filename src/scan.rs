//! The scan of one device, as a library: `scan_device` (read, match,
//! write records, report data) for `spydar scan`, `recheck_device` for
//! `spydar recheck`. The parts: `device` (reader choice and the per-device
//! run), `findings` (record → findings), `sink` (records matched and
//! written as modules make them).

pub mod device;
pub mod findings;
pub mod sink;

pub use crate::model::{Finding, FindingKind, IndicatorRef, Suppressed, TimelineRow};
pub use device::{DeviceReport, read_input, recheck_device, scan_device};
pub use findings::{Aggregator, aggregate, findings, record_findings, sort_findings};
pub use sink::StreamingSink;

pub use crate::allow::AllowList;
