//! A [`Matcher`] built on its own thread while a scan starts: modules read
//! their first rows while the matcher's tables are built, and whatever
//! needs the matcher (the record sink's first batch, a text sweep) waits
//! for it there. Building it is serial work, so on a 2-core machine the
//! other core reads evidence meanwhile instead of idling.

use std::sync::{Arc, OnceLock};

use super::{IndicatorSet, Matcher};
use crate::options::{SweptLine, TextSweep};

/// See the module documentation. Derefs to the [`Matcher`], waiting for it.
pub struct LateMatcher {
    cell: OnceLock<Result<Arc<Matcher>, String>>,
}

impl LateMatcher {
    /// A matcher already built.
    pub fn ready(matcher: Arc<Matcher>) -> Self {
        LateMatcher {
            cell: OnceLock::from(Ok(matcher)),
        }
    }

    /// Builds the matcher of `set` on a new thread (not a rayon worker:
    /// the workers may be waiting for it), then runs `after` there.
    pub fn building(set: IndicatorSet, after: impl FnOnce() + Send + 'static) -> Arc<Self> {
        let late = Arc::new(LateMatcher {
            cell: OnceLock::new(),
        });
        let filled = late.clone();
        let build = move || {
            let built = std::panic::catch_unwind(|| Matcher::new(set)).map_err(|p| {
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            });
            let _ = filled.cell.set(built.map(Arc::new));
            after();
        };
        if let Err(e) = std::thread::Builder::new()
            .name("spydar-matcher".into())
            .spawn(build)
        {
            let _ = late
                .cell
                .set(Err(format!("cannot start the matcher's thread: {e}")));
        }
        late
    }

    /// The matcher, once built (waits for it).
    pub fn get(&self) -> &Arc<Matcher> {
        match self.cell.wait() {
            Ok(m) => m,
            Err(why) => panic!("building the indicator matcher failed: {why}"),
        }
    }
}

impl std::ops::Deref for LateMatcher {
    type Target = Matcher;

    fn deref(&self) -> &Matcher {
        self.get()
    }
}

impl TextSweep for LateMatcher {
    fn flagged_lines(&self, text: &[u8]) -> Vec<SweptLine> {
        self.get().flagged_lines(text)
    }

    fn keeps_observables(&self) -> bool {
        self.get().keeps_observables()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_matcher_is_the_matcher_of_its_set() {
        let set = IndicatorSet::default();
        let late = LateMatcher::building(set, || ());
        assert_eq!(late.set().total(), 0);
        assert!(late.keeps_observables());
        let ready = LateMatcher::ready(late.get().clone());
        assert!(Arc::ptr_eq(ready.get(), late.get()));
    }
}
