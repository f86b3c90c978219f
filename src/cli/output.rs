//! Where reports and plain copies may be written: never into, onto or next
//! to the evidence; and spydar removes only what it wrote.
//!
//! Paths are compared after resolving them two ways, because `a/none/../b`
//! reaches `a/b` once `create_dir_all` has made `a/none`, while
//! `a/link/../b` reaches the link target's sibling: [`resolve`] follows the
//! kernel (links resolved, `..` applied to the real parent, components that
//! do not exist yet appended as `create_dir_all` will make them), and
//! [`lexical`] drops `..` by text first. An output refused by either is
//! refused.

use std::path::{Component, Path, PathBuf};

use crate::error::Error;
use crate::evidence::private_tmp::PrivateTempDir;
use crate::report;

/// Prefix of the folders a scan stages each device's records in, inside
/// OUTDIR, before its name is known. Removed on every path (also Ctrl-C).
pub const STAGING_PREFIX: &str = ".spydar-partial-";

/// `path` as the kernel will reach it once its missing folders are made.
pub fn resolve(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut cur = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => cur.push(c.as_os_str()),
            Component::CurDir => {}
            // `cur` is canonical wherever it exists, so its text parent is
            // its real parent; where it does not exist yet, `create_dir_all`
            // will make it a plain folder, whose `..` is its text parent too.
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(name) => {
                cur.push(name);
                if let Ok(real) = cur.canonicalize() {
                    cur = real;
                }
            }
        }
    }
    cur
}

/// `path` made absolute with `.` and `..` dropped by text, links not read.
pub fn lexical(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Both resolutions of `path` (see the module documentation).
fn forms(path: &Path) -> Vec<PathBuf> {
    let mut v = vec![resolve(path), resolve(&lexical(path))];
    v.dedup();
    v
}

/// File systems that ignore case by default (APFS, NTFS) make `B` and `b`
/// one folder; compare as they do.
fn fold(p: &Path) -> String {
    let s = p.to_string_lossy();
    if cfg!(any(target_os = "macos", target_os = "ios", windows)) {
        s.to_lowercase()
    } else {
        s.into_owned()
    }
}

fn same(a: &Path, b: &Path) -> bool {
    fold(a) == fold(b)
}

/// Whether `child` is `parent` or below it (component-wise).
fn within(child: &Path, parent: &Path) -> bool {
    PathBuf::from(fold(child)).starts_with(fold(parent))
}

/// An output folder checked against the inputs.
pub struct OutDir {
    /// As given on the command line.
    pub path: PathBuf,
    overwrite: bool,
    /// Each input as given, with its resolved forms.
    inputs: Vec<(PathBuf, Vec<PathBuf>)>,
}

impl OutDir {
    /// Refuses an output folder that is an input, is inside one, directly
    /// holds one, or would hold one under a name spydar writes; and, without
    /// `overwrite`, one that already holds files.
    pub fn check(out: &Path, inputs: &[PathBuf], overwrite: bool) -> Result<Self, Error> {
        let outs = forms(out);
        let mut resolved = Vec::new();
        for input in inputs {
            let ins = forms(input);
            for o in &outs {
                for i in &ins {
                    refuse_against(out, o, input, i)?;
                }
            }
            resolved.push((input.clone(), ins));
        }
        match std::fs::metadata(out) {
            Ok(m) if !m.is_dir() => {
                return Err(Error::input(out, "exists and is not a folder"));
            }
            Ok(_) if !overwrite && std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) => {
                return Err(Error::input(
                    out,
                    "already holds files; choose an empty folder or pass --overwrite",
                ));
            }
            _ => {}
        }
        Ok(OutDir {
            path: out.to_path_buf(),
            overwrite,
            inputs: resolved,
        })
    }

    /// Makes the folder (and its parents).
    pub fn create(&self) -> Result<(), Error> {
        std::fs::create_dir_all(&self.path).map_err(|e| Error::io(&self.path, e))
    }

    /// A fresh, private staging folder in OUTDIR (removed when dropped).
    pub fn stage(&self) -> Result<PrivateTempDir, Error> {
        PrivateTempDir::new_named_in(&self.path, STAGING_PREFIX)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// The input that `dir` is, or holds, if any.
    fn guarded_input(&self, dir: &Path) -> Option<&Path> {
        let dirs = forms(dir);
        self.inputs
            .iter()
            .find(|(_, ins)| ins.iter().any(|i| dirs.iter().any(|d| within(i, d))))
            .map(|(p, _)| p.as_path())
    }

    /// Moves a fully written `stage` to `OUTDIR/name`. An existing folder
    /// there is replaced only with `--overwrite`, only if it carries
    /// spydar's marker, and never if it is (or holds) an input.
    pub fn place(&self, stage: PrivateTempDir, name: &str) -> Result<PathBuf, Error> {
        let dir = self.path.join(name);
        if let Some(input) = self.guarded_input(&dir) {
            return Err(Error::input(
                &dir,
                format!(
                    "is the input {} or holds it; spydar does not replace it (write reports elsewhere)",
                    input.display()
                ),
            ));
        }
        let existing = match std::fs::symlink_metadata(&dir) {
            Ok(m) => m,
            Err(_) => {
                std::fs::rename(stage.path(), &dir).map_err(|e| Error::io(&dir, e))?;
                return Ok(dir);
            }
        };
        if existing.file_type().is_symlink() || !report::is_spydar_folder(&dir) {
            return Err(Error::input(
                &dir,
                format!(
                    "exists and was not written by spydar (no {} marker); refusing to replace it",
                    report::MARKER
                ),
            ));
        }
        if !self.overwrite {
            return Err(Error::input(
                &dir,
                "holds an earlier report; pass --overwrite to replace it",
            ));
        }
        // Swap: the old report aside, the new one in, then the old one away.
        let aside = (0..1000)
            .map(|n| {
                self.path
                    .join(format!(".spydar-old-{}-{n}", std::process::id()))
            })
            .find(|p| std::fs::symlink_metadata(p).is_err())
            .ok_or_else(|| Error::input(&self.path, "no free name to set the old report aside"))?;
        std::fs::rename(&dir, &aside).map_err(|e| Error::io(&dir, e))?;
        if let Err(e) = std::fs::rename(stage.path(), &dir) {
            let _ = std::fs::rename(&aside, &dir);
            return Err(Error::io(&dir, e));
        }
        std::fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
        Ok(dir)
    }
}

/// One output form against one input form.
fn refuse_against(out: &Path, o: &Path, input: &Path, i: &Path) -> Result<(), Error> {
    let why = if same(o, i) {
        format!("is the input {}; write reports elsewhere", input.display())
    } else if within(o, i) {
        format!(
            "is inside the input {}; write reports elsewhere",
            input.display()
        )
    } else if i.parent().is_some_and(|p| same(p, o)) {
        format!(
            "holds the input {}; spydar does not write next to evidence (its report folder \
             could take the input's name): choose another folder",
            input.display()
        )
    } else if within(i, o) {
        let top = i
            .strip_prefix(o)
            .ok()
            .and_then(|rest| rest.components().next())
            .map(|c| c.as_os_str().to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if report::RUN_FILES.contains(&top.as_str()) || top.starts_with(".spydar-") {
            format!(
                "holds the input {} under a name spydar writes ({top}); choose another folder",
                input.display()
            )
        } else {
            return Ok(());
        }
    } else {
        return Ok(());
    };
    Err(Error::input(out, why))
}

/// Refuses `out` (a plain copy from `decrypt -o`, a key file from
/// `--save-key`) that is `input`, inside it, or holds it.
pub fn check_not_inside(out: &Path, input: &Path, what: &str) -> Result<(), Error> {
    for o in forms(out) {
        for i in forms(input) {
            let why = if same(&o, &i) {
                "is"
            } else if within(&o, &i) {
                "is inside"
            } else if within(&i, &o) {
                "holds"
            } else {
                continue;
            };
            return Err(Error::input(
                out,
                format!("{why} the {what} {}; write it elsewhere", input.display()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_through_a_missing_folder_lands_where_create_dir_all_puts_it() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("B")).unwrap();
        let tricky = root.join("none").join("..").join("B").join("reports");
        assert_eq!(resolve(&tricky), root.join("B").join("reports"));
        assert_eq!(lexical(&tricky), root.join("B").join("reports"));
    }

    #[cfg(unix)]
    #[test]
    fn dot_dot_after_a_link_follows_the_link_like_the_kernel() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("far/inner")).unwrap();
        std::fs::create_dir(root.join("B")).unwrap();
        std::os::unix::fs::symlink(root.join("far/inner"), root.join("link")).unwrap();
        let p = root.join("link/../x");
        assert_eq!(resolve(&p), root.join("far/x"));
        assert_eq!(lexical(&p), root.join("x"));
        // Either form inside an input refuses it.
        std::os::unix::fs::symlink(root.join("B"), root.join("toB")).unwrap();
        let into = root.join("toB/sub/../r");
        let err = OutDir::check(&into, &[root.join("B")], false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("inside the input"), "{err}");
    }

    #[test]
    fn an_output_holding_an_input_directly_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("UDID");
        std::fs::create_dir(&input).unwrap();
        let err = OutDir::check(d.path(), std::slice::from_ref(&input), true)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("holds the input"), "{err}");
        // Deeper is allowed, unless the top name is one spydar writes.
        let deep = d.path().join("summary.json").join("x");
        std::fs::create_dir_all(&deep).unwrap();
        let err = OutDir::check(d.path(), std::slice::from_ref(&deep), true)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("under a name spydar writes"), "{err}");
        let fine = d.path().join("cases").join("p1");
        std::fs::create_dir_all(&fine).unwrap();
        assert!(OutDir::check(&d.path().join("out"), &[fine], false).is_ok());
    }
}
