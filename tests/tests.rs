//! The integration tests, as one binary (one link instead of thirty; the
//! shape ripgrep uses): each file of `tests/` is a module here. Run one
//! file's tests with `cargo test --test integration FILE::`, e.g.
//! `cargo test --test integration sample_golden::`.

mod common;

mod android_abx;
mod android_cli;
mod android_coverage;
mod android_generated;
mod android_mvt;
mod android_real;
mod android_rest;
mod android_testdata;
mod architecture;
mod batch;
mod batch_stream;
mod cli;
mod deploy;
mod determinism;
mod disguised_attachments;
mod exports;
mod fuzz_regressions;
mod hostile;
mod html_report;
mod indicators;
mod indicators_update;
mod ios_backup_e2e;
mod ios_backup_generated;
mod ios_backup_mvt;
mod ios_encrypted;
mod ios_encrypted_cli;
mod ios_encrypted_scan;
mod ios_filesystem;
mod ios_fs_archive;
mod ios_fs_modules;
mod ios_fs_once;
mod ios_real;
mod module_table;
mod mvt_indicators;
mod output_safety;
mod precision;
mod real_golden;
mod recheck_sweep;
mod recheck_untrusted;
mod rules;
mod sample_golden;
mod stalkerware;
mod sysdiagnose;
mod sysdiagnose_cli;
mod sysdiagnose_real;
mod triangulation;
mod unified_log;
