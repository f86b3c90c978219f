//! A large filesystem dump (above the 100,000 paths from which `filesystem`
//! and `manifest` sweep paths rather than record each one) is swept once:
//! one line a path serves both modules, each module still keeps exactly the
//! paths its own sweep would flag, the findings are the planted ones, and
//! every path stays re-checkable against indicators published later.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use spydar::artifacts::ios::filesystem::dump_flags;
use spydar::artifacts::ios::manifest::embedded_domains;
use spydar::artifacts::{ScanOptions, SweptLine, TextSweep};
use spydar::evidence::ios_backup::device_path;
use spydar::indicators::{IndicatorSet, Matcher};
use spydar::model::{Finding, Level};

/// Filler paths: with the generated backup's, more than 100,000 index rows.
const FILLER: usize = 115_000;

/// The real matcher, counting the lines it is given.
struct Counting {
    inner: Matcher,
    lines: AtomicUsize,
}

impl Counting {
    fn lines(&self) -> usize {
        self.lines.load(Ordering::SeqCst)
    }
}

impl TextSweep for Counting {
    fn flagged_lines(&self, text: &[u8]) -> Vec<SweptLine> {
        let n = memchr_count(text) + usize::from(!text.is_empty() && !text.ends_with(b"\n"));
        self.lines.fetch_add(n, Ordering::SeqCst);
        self.inner.flagged_lines(text)
    }

    fn keeps_observables(&self) -> bool {
        true
    }
}

fn memchr_count(text: &[u8]) -> usize {
    text.iter().filter(|&&b| b == b'\n').count()
}

/// Positions (0-based) of the flagged lines of `lines` swept alone.
fn alone(sweep: &Matcher, lines: &[String]) -> Vec<u32> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    sweep
        .flagged_lines(text.as_bytes())
        .iter()
        .map(|l| l.line_no as u32 - 1)
        .collect()
}

fn detected(found: &[Finding], module: &str) -> BTreeSet<String> {
    found
        .iter()
        .filter(|f| f.level == Level::Detected && f.module == module)
        .filter_map(|f| f.observable.as_ref().map(|o| o.value.clone()))
        .collect()
}

fn generate(out: &Path) {
    spydar::fixtures::ios_fs::generate(out, &spydar::fixtures::GenOptions::default()).unwrap();
    spydar::fixtures::ios_fs::add_paths(out, FILLER).unwrap();
}

#[test]
fn a_large_dump_is_swept_once_with_each_module_s_own_findings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dump");
    generate(&out);
    let before = crate::common::tree(&out);

    // One sweep, asked for twice.
    let fs = spydar::evidence::ios_fs::open(&out).unwrap();
    let index = fs.dump_index().unwrap();
    let listing = fs.dump_listing().unwrap();
    let paths = listing.entries.len();
    assert!(index.rows() > 100_000 && paths > index.rows(), "{paths}");
    let counting = Counting {
        inner: Matcher::new(IndicatorSet::bundled()),
        lines: AtomicUsize::new(0),
    };
    let flags = dump_flags(index, &counting);
    let swept = counting.lines();
    assert!(
        swept <= paths + 2 * (flags.filesystem.len() + flags.manifest.len()),
        "{swept} lines swept for {paths} paths"
    );
    let again = dump_flags(index, &counting);
    assert!(Arc::ptr_eq(&flags, &again));
    assert_eq!(counting.lines(), swept, "the second module sweeps nothing");

    // Each module's flags are those of its own lines swept alone.
    let fs_lines: Vec<String> = listing
        .entries
        .iter()
        .map(|e| match e.path.strip_prefix("private/var/") {
            Some(rest) => format!("/{} /var/{rest}", e.path),
            None => format!("/{}", e.path),
        })
        .collect();
    assert_eq!(flags.filesystem, alone(&counting.inner, &fs_lines));
    let man_lines: Vec<String> = (0..index.rows())
        .map(|pos| {
            let (domain, rel, _) = index.row(pos).unwrap();
            let path = device_path(domain, rel).unwrap_or_else(|| format!("/{rel}"));
            let mut line = format!("{path} {}", rel.rsplit('/').next().unwrap_or(""));
            for h in embedded_domains(rel) {
                line.push(' ');
                line.push_str(&h);
            }
            line
        })
        .collect();
    assert_eq!(flags.manifest, alone(&counting.inner, &man_lines));
    drop(fs);

    // A whole scan sweeps each path once (the other modules' texts are
    // small), and finds the planted paths in each module.
    let counting = Arc::new(Counting {
        inner: Matcher::new(IndicatorSet::bundled()),
        lines: AtomicUsize::new(0),
    });
    let opts = ScanOptions {
        text_sweep: Some(counting.clone() as Arc<dyn TextSweep>),
        ..ScanOptions::default()
    };
    let scan = spydar::scan::read_input(&out, None, &opts).unwrap();
    assert!(
        counting.lines() < paths + paths / 10,
        "{} lines swept for {paths} paths: is the dump swept twice again?",
        counting.lines()
    );
    let found = spydar::scan::findings(&scan, &counting.inner);
    assert_eq!(
        detected(&found, "filesystem"),
        [
            "/private/var/mobile/Library/Preferences/com.apple.photolibraryd.plist",
            "/private/var/mobile/Library/Preferences/roleaccountd.plist",
            "/private/var/tmp/icloud_dump",
            "/private/var/tmp/icloud_dump/contacts.vcf",
            "/private/var/tmp/keychain_dump.txt",
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(
        detected(&found, "manifest"),
        [
            "/private/var/mobile/Library/Preferences/com.apple.photolibraryd.plist",
            "/private/var/mobile/Library/Preferences/roleaccountd.plist",
            "accountcanceled.com",
        ]
        .map(String::from)
        .into()
    );

    // Indicators published after the scan find unflagged paths in the
    // records: one in an app container (listed by `manifest`), one outside
    // every backup domain (listed by `filesystem`).
    let listing = spydar::evidence::ios_fs::list_folder(&out);
    let pick = |part: &str| {
        listing
            .entries
            .iter()
            .rev()
            .find(|e| e.path.contains(part))
            .map(|e| e.path.to_string())
            .unwrap()
    };
    let cache = pick("/Library/Caches/com.filler.cache/");
    let folders = pick("private/var/folders/");
    let rel = cache.split_once("/Library/").unwrap().1;
    let patterns = [
        format!("[file:path = '/Library/{rel}']"),
        format!("[file:path = '/{folders}']"),
        format!("[file:path = '/{folders}.near']"),
    ];
    let bundle = crate::common::stix_bundle(&dir.path().join("new.stix2"), "FreshSpy", &patterns);
    let mut set = IndicatorSet::default();
    set.add_path(&bundle).unwrap();
    let fresh = spydar::scan::findings(&scan, &Matcher::new(set));
    assert_eq!(
        detected(&fresh, "manifest"),
        [format!("/Library/{rel}")].into()
    );
    assert_eq!(
        detected(&fresh, "filesystem"),
        [format!("/{folders}")].into()
    );

    // The one sweep of a fresh open flags them as well: the container row
    // only through the `/`-rooted relative path its `manifest` line adds.
    let fs = spydar::evidence::ios_fs::open(&out).unwrap();
    let index = fs.dump_index().unwrap();
    let mut set = IndicatorSet::default();
    set.add_path(&bundle).unwrap();
    let flags = dump_flags(index, &Matcher::new(set));
    let rels: BTreeSet<String> = flags
        .manifest
        .iter()
        .map(|&pos| index.row(pos as usize).unwrap().1.to_string())
        .collect();
    assert_eq!(rels, [format!("Library/{rel}")].into());
    let paths: BTreeSet<String> = flags
        .filesystem
        .iter()
        .map(|&at| index.listing().entries[at as usize].path.to_string())
        .collect();
    assert_eq!(paths, [folders.clone()].into());
    drop(fs);
    assert_eq!(before, crate::common::tree(&out), "the dump is untouched");
}
