//! Shared by `webkit_indexeddb`, `webkit_local_storage` and
//! `webkit_safari_view_service` (MVT's `WebkitBase`,
//! `mvt/ios/modules/fs/webkit_base.py`): WebKit names per-origin storage
//! after the origin (`https_www.example.com_0`, `http_evil.net_8080`). Each
//! entry of a storage folder whose name starts with `http` becomes a record
//! with the origin URL (`https://www.example.com`) as its observable; the
//! time is the folder's modification time, as MVT has it.

use super::Ctx;
use super::util::jts;
use crate::artifacts::ModuleError;
use crate::evidence::ios_backup::FileEntry;
use crate::model::{ObservableType, Record};

/// What a WebKit storage module reads: app-container domains
/// (`AppDomain-*`, where `Containers/Data/Application/*` is indexed) and the
/// storage folder inside each.
pub struct Storage {
    pub module: &'static str,
    /// Event name of the records (MVT's `serialize` event).
    pub event: &'static str,
    /// The storage folder, relative to the container.
    pub folder: &'static str,
    /// Subfolders WebKit nests origins in (`IndexedDB/v1/<origin>`);
    /// their children are read too.
    pub nested: &'static [&'static str],
}

type ModuleResult = Result<Vec<Record>, ModuleError>;

/// The origin URL WebKit encoded in a storage entry's name, as MVT reads it
/// (`https_` → `https://`, cut at the next `_`); `None` when the name does
/// not start with `http` (MVT's filter).
pub fn origin_url(name: &str) -> Option<String> {
    if !name.starts_with("http") {
        return None;
    }
    let url = name
        .replacen("https_", "https://", 1)
        .replacen("http_", "http://", 1);
    Some(url.split('_').next().unwrap_or("").to_string())
}

/// Whether an origin is a URL with a host (only then is it an observable:
/// a name such as `httpcache` is recorded, as MVT does, but is no URL).
fn is_origin(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(scheme, host)| matches!(scheme, "http" | "https") && !host.is_empty())
}

fn is_container(domain: &str) -> bool {
    domain.starts_with("AppDomain-")
}

/// The direct children of `folder` in one domain: `(entry, name)`.
fn children<'a>(rows: &'a [FileEntry], folder: &str) -> Vec<(&'a FileEntry, &'a str)> {
    rows.iter()
        .filter_map(|e| {
            let rest = e.relative_path.strip_prefix(folder)?.strip_prefix('/')?;
            (!rest.is_empty() && !rest.contains('/')).then_some((e, rest))
        })
        .collect()
}

/// Runs one storage module: `Missing` when no container has the folder.
pub fn run(ctx: &Ctx<'_>, s: &Storage) -> ModuleResult {
    let b = ctx.backup;
    let folders: Vec<FileEntry> = b
        .find(None, s.folder)?
        .into_iter()
        .filter(|e| is_container(&e.domain) && e.flags != 4)
        .collect();
    if folders.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut out = Vec::new();
    for folder in &folders {
        let rows = b.find_paths(&folder.domain, &format!("{}/*", s.folder))?;
        let mut reads = vec![(folder, s.folder.to_string())];
        let nested: Vec<FileEntry> = s
            .nested
            .iter()
            .filter_map(|n| {
                let rel = format!("{}/{n}", s.folder);
                rows.iter().find(|e| e.relative_path == rel).cloned()
            })
            .collect();
        for n in &nested {
            reads.push((n, n.relative_path.clone()));
        }
        for (dir, rel) in reads {
            // MVT: the storage folder's mtime, for every origin in it.
            let mtime = dir
                .mbfile
                .as_ref()
                .and_then(|m| m.last_modified)
                .and_then(crate::time::from_unix);
            let dir_path = format!("{}/{rel}", folder.domain);
            for (e, name) in children(&rows, &rel) {
                let Some(url) = origin_url(name) else {
                    continue;
                };
                let mut r = Record::new(s.module, &e.logical_path())
                    .at(mtime)
                    .event(
                        s.event,
                        format!("WebKit storage folder {dir_path} containing file for URL {url}"),
                    )
                    .field("folder", dir_path.clone())
                    .field("name", name.to_string())
                    .field("url", url.clone())
                    .field("app_domain", folder.domain.clone())
                    .field("isodate", jts(mtime));
                if is_origin(&url) {
                    r.push_observable(ObservableType::Url, url);
                }
                out.push(r);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_as_mvt_reads_them() {
        assert_eq!(
            origin_url("https_www.example.com_0.localstorage").as_deref(),
            Some("https://www.example.com")
        );
        assert_eq!(
            origin_url("http_evil.net_8080").as_deref(),
            Some("http://evil.net")
        );
        assert_eq!(origin_url("v1"), None);
        assert_eq!(origin_url("Databases.db"), None);
        // Recorded (MVT's count) but no URL observable.
        for odd in ["https_", "httpcache"] {
            assert!(!is_origin(&origin_url(odd).unwrap()), "{odd}");
        }
        assert!(is_origin("https://a.example"));
    }
}
