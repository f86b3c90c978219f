//! `testdata/android/` holds small committed samples made by the generator
//! (`spydar-fixtures`). This test regenerates them and checks they are
//! byte-identical, so the samples never drift from the generator.
//! To refresh: delete the folder's entries and rerun the commands in
//! testdata/android/README.md.

use std::path::Path;

use spydar::fixtures::GenOptions;
use spydar::fixtures::android::{generate_androidqf, generate_backup, generate_bugreport};

fn same_tree(a: &Path, b: &Path) {
    let list = |p: &Path| {
        let mut v: Vec<_> = walkdir::WalkDir::new(p)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().strip_prefix(p).unwrap().to_path_buf())
            .collect();
        v.sort();
        v
    };
    let (la, lb) = (list(a), list(b));
    assert_eq!(la, lb, "{} vs {}", a.display(), b.display());
    for f in la {
        assert!(
            std::fs::read(a.join(&f)).unwrap() == std::fs::read(b.join(&f)).unwrap(),
            "{} differs from the generator's output",
            a.join(&f).display()
        );
    }
}

#[test]
fn committed_samples_match_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let t = Path::new("testdata/android");
    let plain = GenOptions::default();
    let enc = GenOptions {
        password: Some("123456".into()),
        ..GenOptions::default()
    };
    let clean = GenOptions {
        plant: false,
        ..GenOptions::default()
    };
    generate_backup(&dir.path().join("backup.ab"), &plain).unwrap();
    generate_backup(&dir.path().join("backup-encrypted.ab"), &enc).unwrap();
    generate_bugreport(&dir.path().join("bugreport.zip"), &plain).unwrap();
    generate_androidqf(&dir.path().join("androidqf"), &plain).unwrap();
    generate_androidqf(&dir.path().join("androidqf-clean"), &clean).unwrap();
    std::fs::copy(t.join("README.md"), dir.path().join("README.md")).unwrap();
    same_tree(t, dir.path());
}
