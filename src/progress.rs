//! Progress on stderr: shown only when stderr is a terminal and the user did
//! not ask for quiet or JSON; otherwise every call is a no-op.
//!
//! The bars are drawn by `indicatif`, which only the `cli` feature brings
//! in. Without it the API is the same and every call is a no-op: a library
//! caller draws its own progress, if any.

use std::io::IsTerminal;

#[cfg(feature = "cli")]
pub use indicatif::MultiProgress;
#[cfg(feature = "cli")]
use indicatif::ProgressBar;
#[cfg(not(feature = "cli"))]
pub use noop::MultiProgress;
#[cfg(not(feature = "cli"))]
use noop::ProgressBar;

#[derive(Clone, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn hidden() -> Self {
        Progress { bar: None }
    }

    /// A spinner for one device, if stderr is a terminal and `enabled`;
    /// devices scanned at once share `multi` so their lines do not fight.
    pub fn for_device(label: &str, enabled: bool, multi: &MultiProgress) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        Progress {
            bar: spinner(label, multi),
        }
    }

    pub fn message(&self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_string());
        }
    }

    pub fn module_done(&self, name: &str) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{} modules done (last: {name})", bar.position()));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(feature = "cli")]
fn spinner(label: &str, multi: &MultiProgress) -> Option<ProgressBar> {
    use indicatif::ProgressStyle;
    let bar = multi.add(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(label.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

#[cfg(not(feature = "cli"))]
fn spinner(_label: &str, _multi: &MultiProgress) -> Option<ProgressBar> {
    None
}

/// Stand-ins for indicatif's types without the `cli` feature.
#[cfg(not(feature = "cli"))]
mod noop {
    /// Shared by the devices of one run; draws nothing.
    #[derive(Clone, Debug, Default)]
    pub struct MultiProgress;

    impl MultiProgress {
        pub fn new() -> Self {
            MultiProgress
        }
    }

    /// Never made: `Progress` holds `None` without a terminal to draw on.
    #[derive(Clone)]
    pub enum ProgressBar {}

    impl ProgressBar {
        pub fn set_message(&self, _msg: String) {
            match *self {}
        }
        pub fn inc(&self, _delta: u64) {
            match *self {}
        }
        pub fn position(&self) -> u64 {
            match *self {}
        }
        pub fn finish_and_clear(&self) {
            match *self {}
        }
    }
}
