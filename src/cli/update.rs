//! `spydar indicators update`: fetch the published STIX2 bundles listed in
//! an index (mvt-indicators' `indicators.yaml` by default) into a local
//! folder, and load that folder next to the bundled sets.
//!
//! This is the only command that touches the network. Every bundle is
//! parsed by spydar's own loader before it is kept; files are written to a
//! temporary file in the folder and renamed, so a scan never reads half a
//! download. `sources.json` in the folder lists what was fetched, and only
//! the files it lists are loaded.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EXIT_CLEAN, EXIT_ERROR};
use crate::error::Error;
use crate::indicators::IndicatorSet;

pub const DEFAULT_INDEX_URL: &str =
    "https://raw.githubusercontent.com/mvt-project/mvt-indicators/main/indicators.yaml";
pub const DEFAULT_RAW_BASE: &str = "https://raw.githubusercontent.com";
/// The file in the update folder that lists the downloaded bundles.
pub const MANIFEST: &str = "sources.json";
/// Downloaded sources are named `downloaded/FILE` in lists and reports.
pub const DOWNLOADED_PREFIX: &str = "downloaded/";
/// Largest bundle accepted (the largest published one is a few MB).
pub const MAX_BUNDLE_BYTES: u64 = 64 << 20;
/// Largest index accepted (mvt-indicators' is about 8 KB).
pub const MAX_INDEX_BYTES: u64 = 4 << 20;
/// Most index entries considered.
pub const MAX_ENTRIES: usize = 1000;
/// Most indicator objects in one bundle (the largest published set,
/// stalkerware, has a few thousand).
pub const MAX_BUNDLE_INDICATORS: usize = 200_000;
/// Longest STIX pattern accepted, in bytes (published ones are under 1 KB).
pub const MAX_PATTERN_BYTES: usize = 16 << 10;
/// Most comparisons joined by OR/AND in one pattern (published ones have one).
pub const MAX_PATTERN_TERMS: usize = 100;
/// Most redirects followed for one download; each hop is checked like the
/// first URL.
pub const MAX_REDIRECTS: usize = 5;

#[derive(Args, Clone)]
pub struct UpdateArgs {
    /// The index listing the bundles (mvt-indicators' indicators.yaml format).
    #[arg(long, value_name = "URL", default_value = DEFAULT_INDEX_URL)]
    pub index_url: String,
    /// Base URL for the index's `type: github` entries (BASE/OWNER/REPO/BRANCH/PATH).
    #[arg(long, value_name = "URL", default_value = DEFAULT_RAW_BASE)]
    pub raw_base: String,
    /// Where to keep the bundles [default: $SPYDAR_INDICATORS_DIR, else $XDG_DATA_HOME/spydar/indicators,
    /// else ~/.local/share/spydar/indicators].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Give up on one download after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub timeout: u64,
}

/// The folder `update` writes to and scans read from, if one can be named.
pub fn default_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("SPYDAR_INDICATORS_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = var("XDG_DATA_HOME") {
        return Some(PathBuf::from(d).join("spydar").join("indicators"));
    }
    var("HOME").map(|h| {
        PathBuf::from(h)
            .join(".local")
            .join("share")
            .join("spydar")
            .join("indicators")
    })
}

/// `sources.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub index_url: String,
    /// When the last update ran (RFC 3339, UTC).
    pub updated: String,
    pub sources: Vec<ManifestEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The index entry's `name`, if it had one.
    #[serde(default)]
    pub name: String,
    pub url: String,
    /// File name inside the update folder.
    pub file: String,
    pub sha256: String,
    pub size: u64,
    /// When this bundle was last fetched and validated (RFC 3339, UTC).
    pub fetched: String,
    pub indicators: usize,
    /// The bundled source this is a newer copy of (same repository and
    /// path), which it replaces when loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// Reads `sources.json` from `dir`; `None` if absent or unreadable.
pub fn read_manifest(dir: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(dir.join(MANIFEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Adds the bundles listed in `dir/sources.json` to `set`, skipping any
/// whose content is already loaded (a bundled set fetched again); a newer
/// copy of a bundled file replaces the bundled one, so indicators retracted
/// upstream go too. A file that is missing, altered since download, or no
/// longer parses is skipped with a one-line warning: it never stops a scan.
pub fn add_downloaded(set: &mut IndicatorSet, dir: &Path) {
    let Some(manifest) = read_manifest(dir) else {
        if dir.join(MANIFEST).exists() {
            eprintln!(
                "spydar: {}: unreadable; downloaded indicators not used (run `spydar indicators update`)",
                dir.join(MANIFEST).display()
            );
        }
        return;
    };
    for entry in &manifest.sources {
        if !is_plain_file_name(&entry.file) {
            continue;
        }
        let path = dir.join(&entry.file);
        let bytes = match read_capped_file(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("spydar: {}: {e}; skipped", path.display());
                continue;
            }
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha != entry.sha256 {
            eprintln!(
                "spydar: {}: changed since it was downloaded; skipped (run `spydar indicators update`)",
                path.display()
            );
            continue;
        }
        if set.sources.iter().any(|s| s.sha256 == sha) {
            continue;
        }
        if let Err(e) = set.add_bytes(&format!("{DOWNLOADED_PREFIX}{}", entry.file), &bytes) {
            eprintln!("spydar: {e}; skipped");
            continue;
        }
        if let Some(old) = &entry.replaces {
            set.sources.retain(|s| &s.name != old);
            set.indicators.retain(|i| &i.source != old);
        }
    }
}

fn read_capped_file(path: &Path) -> Result<Vec<u8>, String> {
    super::read_user_file(path, MAX_BUNDLE_BYTES).map_err(|e| {
        e.to_string()
            .trim_start_matches(&format!("{}: ", path.display()))
            .to_string()
    })
}

#[derive(Deserialize)]
struct LimitBundle {
    #[serde(default)]
    objects: Vec<LimitObject>,
}

#[derive(Deserialize)]
struct LimitObject {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    pattern: Option<serde_json::Value>,
}

/// The documented limits a downloaded bundle must keep before the loader
/// sees it: indicator count, pattern length, comparisons per pattern.
pub fn check_bundle_limits(bytes: &[u8]) -> Result<(), String> {
    // Only the pattern strings are kept; anything else in the bundle is skipped.
    let Ok(bundle) = serde_json::from_slice::<LimitBundle>(bytes) else {
        return Ok(()); // not a bundle: the loader says why
    };
    let indicators: Vec<&LimitObject> = bundle
        .objects
        .iter()
        .filter(|o| o.kind == "indicator")
        .collect();
    if indicators.len() > MAX_BUNDLE_INDICATORS {
        return Err(format!(
            "{} indicators, more than the {MAX_BUNDLE_INDICATORS} spydar accepts in one bundle",
            indicators.len()
        ));
    }
    for o in indicators {
        let Some(serde_json::Value::String(p)) = &o.pattern else {
            continue;
        };
        if p.len() > MAX_PATTERN_BYTES {
            return Err(format!(
                "a pattern of {} bytes, longer than the {MAX_PATTERN_BYTES} spydar accepts",
                p.len()
            ));
        }
        let terms = 1 + p.matches(" OR ").count() + p.matches(" AND ").count();
        if terms > MAX_PATTERN_TERMS {
            return Err(format!(
                "a pattern of {terms} comparisons, more than the {MAX_PATTERN_TERMS} spydar accepts"
            ));
        }
    }
    Ok(())
}

/// One entry of mvt-indicators' `indicators.yaml`.
#[derive(Debug, Default, Deserialize)]
struct IndexEntry {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    github: Option<GithubRef>,
    #[serde(default)]
    download_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct GithubRef {
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Index {
    #[serde(default)]
    indicators: Vec<IndexEntry>,
}

/// What to fetch for one index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub url: String,
    pub file: String,
    /// Name of the bundled source this entry is the upstream of.
    pub replaces: Option<String>,
    /// For a GitHub entry on `master` or `main`: the same file on the other
    /// branch, tried when the first answers 404 (AmnestyTech's
    /// investigations moved from master to main in March 2026 while the
    /// index still said master).
    pub other_branch: Option<String>,
}

/// Turns the index text into download plans; entries that cannot be used
/// come back as one-line reasons.
pub fn plan(index_yaml: &[u8], raw_base: &str) -> Result<(Vec<Planned>, Vec<String>), String> {
    let index: Index = serde_saphyr::from_slice(index_yaml).map_err(|e| {
        let msg = e.to_string();
        format!(
            "not an indicators.yaml index: {}",
            msg.lines().next().unwrap_or("").trim()
        )
    })?;
    let base = raw_base.trim_end_matches('/');
    let mut planned = Vec::new();
    let mut problems = Vec::new();
    let mut files = BTreeSet::new();
    for (i, e) in index.indicators.into_iter().take(MAX_ENTRIES).enumerate() {
        let label = match &e.name {
            Some(n) => format!("index entry {} ({n})", i + 1),
            None => format!("index entry {}", i + 1),
        };
        let item = match e.kind.as_deref() {
            Some("github") => github_plan(e.github.as_ref(), base),
            Some("download") => match e.download_url.as_deref().map(str::trim) {
                Some(u) if !u.is_empty() => download_plan(u).map(|(u, f)| (u, f, None, None)),
                _ => Err("type download without download_url".into()),
            },
            Some(other) => Err(format!("type {other:?} is not supported")),
            None => Err("no type".into()),
        };
        match item {
            Ok((url, file, replaces, other_branch)) => {
                // Two entries naming one file: the first wins.
                if files.insert(file.clone()) {
                    planned.push(Planned {
                        name: e.name.unwrap_or_default(),
                        url,
                        file,
                        replaces,
                        other_branch,
                    });
                }
            }
            Err(reason) => problems.push(format!("{label}: {reason}; skipped")),
        }
    }
    Ok((planned, problems))
}

/// The repositories whose files are bundled, and their folder under `indicators/`.
const BUNDLED_REPOS: &[(&str, &str, &str)] = &[
    ("mvt-project", "mvt-indicators", "mvt-indicators"),
    ("AmnestyTech", "investigations", "amnesty-investigations"),
];

type Plan = (String, String, Option<String>, Option<String>);

/// `master` ↔ `main`: the default-branch rename GitHub repositories made.
fn renamed_branch(branch: &str) -> Option<&'static str> {
    match branch {
        "master" => Some("main"),
        "main" => Some("master"),
        _ => None,
    }
}

fn github_plan(g: Option<&GithubRef>, base: &str) -> Result<Plan, String> {
    let g = g.ok_or("type github without a github: section")?;
    let field = |v: &Option<String>, what: &str| -> Result<String, String> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(format!("github.{what} is missing")),
        }
    };
    let owner = field(&g.owner, "owner")?;
    let repo = field(&g.repo, "repo")?;
    let branch = g
        .branch
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or("main")
        .to_string();
    let path = field(&g.path, "path")?;
    let path = path.trim_start_matches('/');
    for (what, v) in [("owner", &owner), ("repo", &repo), ("branch", &branch)] {
        if v.contains(['/', '?', '#', '\\']) || v == ".." || v == "." {
            return Err(format!("github.{what} {v:?} is not a plain name"));
        }
    }
    if path.contains(['?', '#', '\\'])
        || path
            .split('/')
            .any(|s| s == ".." || s == "." || s.is_empty())
    {
        return Err(format!("github.path {path:?} is not a plain path"));
    }
    let url = format!("{base}/{owner}/{repo}/{branch}/{path}");
    check_url(&url)?;
    let replaces = BUNDLED_REPOS
        .iter()
        .find(|(o, r, _)| o.eq_ignore_ascii_case(&owner) && r.eq_ignore_ascii_case(&repo))
        .map(|(_, _, folder)| format!("{folder}/{path}"));
    let other = renamed_branch(&branch).map(|b| format!("{base}/{owner}/{repo}/{b}/{path}"));
    Ok((
        url,
        file_name(&format!("{owner}_{repo}_{path}")),
        replaces,
        other,
    ))
}

fn download_plan(u: &str) -> Result<(String, String), String> {
    let parsed = check_url(u)?;
    let host = parsed.host_str().unwrap_or("");
    let file = file_name(&format!("{host}{}", parsed.path()));
    Ok((u.to_string(), file))
}

/// Accepts https, and plain http only to this machine (for tests and
/// local mirrors): a bundle fetched in clear over the internet could be
/// altered on the way.
fn check_url(u: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(u).map_err(|e| format!("{u}: not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" => match parsed.host() {
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(parsed),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(parsed),
            Some(url::Host::Domain("localhost")) => Ok(parsed),
            _ => Err(format!(
                "{u}: plain http is only accepted for 127.0.0.1/localhost; use https"
            )),
        },
        other => Err(format!("{u}: scheme {other:?} is not supported; use https")),
    }
}

/// `OWNER_REPO_PATH` with `/` and anything outside `[A-Za-z0-9._-]` turned
/// into `_`, no leading dot, ending in `.stix2` or `.json`.
pub fn file_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.starts_with('.') {
        s.remove(0);
    }
    if s.len() > 200 {
        // Keep the end, which carries the extension (cut on a character
        // boundary, though the mapping above leaves only ASCII).
        let mut start = s.len() - 200;
        while !s.is_char_boundary(start) {
            start += 1;
        }
        s = s.split_off(start);
    }
    if s.is_empty() {
        s.push_str("bundle");
    }
    if s == MANIFEST || !(s.ends_with(".stix2") || s.ends_with(".json")) {
        s.push_str(".stix2");
    }
    s
}

fn is_plain_file_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s != MANIFEST
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn agent(timeout: u64) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(timeout.max(1))))
        .timeout_connect(Some(Duration::from_secs(timeout.clamp(1, 20))))
        .user_agent(concat!("spydar/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// GETs `url` into memory, at most `cap` bytes. Redirects are followed by
/// hand, at most [`MAX_REDIRECTS`], each new URL checked as the first was
/// (plain http only to this machine), and never from https down to http.
/// Errors are one line.
fn fetch(agent: &ureq::Agent, url: &str, cap: u64, timeout: u64) -> Result<Vec<u8>, String> {
    let mut current = check_url(url)?;
    let https = current.scheme() == "https";
    let one_line = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let describe = |e: ureq::Error| match e {
        ureq::Error::StatusCode(code) => format!("HTTP status {code}"),
        ureq::Error::Timeout(_) => format!("timed out after {timeout} s"),
        ureq::Error::BodyExceedsLimit(_) => format!("larger than {} MB; refused", cap >> 20),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::RequireHttpsOnly(_) => "redirected to plain http; refused".to_string(),
        other => one_line(other.to_string()),
    };
    for _ in 0..=MAX_REDIRECTS {
        let mut resp = agent
            .get(current.as_str())
            .config()
            .https_only(https)
            .max_redirects(0)
            .build()
            .call()
            .map_err(describe)?;
        if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    format!("HTTP status {} without a Location", resp.status().as_u16())
                })?;
            let next = current
                .join(location)
                .map_err(|e| format!("redirected to {location:?}, not a URL ({e}); refused"))?;
            let next = check_url(next.as_str()).map_err(|e| format!("redirected: {e}; refused"))?;
            if https && next.scheme() != "https" {
                return Err(format!("redirected from https to {next}; refused"));
            }
            current = next;
            continue;
        }
        return resp
            .body_mut()
            .with_config()
            .limit(cap)
            .read_to_vec()
            .map_err(describe);
    }
    Err(format!("more than {MAX_REDIRECTS} redirects; refused"))
}

/// Fetches a planned bundle; a GitHub file missing (404) on `master` or
/// `main` is looked for on the other (a renamed default branch), with a
/// note. Returns the URL the answer is about and the bytes or the reason.
fn fetch_either(
    agent: &ureq::Agent,
    p: &Planned,
    timeout: u64,
) -> (String, Result<Vec<u8>, String>) {
    let first = fetch(agent, &p.url, MAX_BUNDLE_BYTES, timeout);
    let Some(other) = p.other_branch.as_deref() else {
        return (p.url.clone(), first);
    };
    match first {
        Err(e) if e == "HTTP status 404" => match fetch(agent, other, MAX_BUNDLE_BYTES, timeout) {
            Ok(bytes) => {
                eprintln!(
                    "spydar: update: {}: HTTP status 404; fetched {other} instead (the repository renamed its default branch)",
                    p.url
                );
                (other.to_string(), Ok(bytes))
            }
            // Neither branch has it: the index's own URL is the one to name.
            Err(_) => (p.url.clone(), Err(e)),
        },
        first => (p.url.clone(), first),
    }
}

/// Writes `bytes` to `dir/name` through a temporary file in `dir`.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let target = dir.join(name);
    let mut tmp = tempfile::Builder::new()
        .prefix(".spydar-update-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    // Published data: readable like any file the user writes (the
    // temporary file starts private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(&target)
        .map_err(|e| Error::io(&target, e.error))?;
    Ok(())
}

fn now() -> String {
    let t = jiff::Timestamp::now();
    jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// Runs `spydar indicators update`. Exit 0 when at least one bundle is
/// current (failures are reported on stderr), 2 when the index cannot be
/// read, the folder cannot be written, or no bundle could be fetched.
pub fn run(args: UpdateArgs) -> Result<u8, Error> {
    let dir = match args.dir.clone().or_else(default_dir) {
        Some(d) => d,
        None => {
            return Err(Error::Indicators(
                "no folder for downloaded indicators: give --dir, or set SPYDAR_INDICATORS_DIR or HOME".into(),
            ));
        }
    };
    let agent = agent(args.timeout);
    let index = fetch(&agent, &args.index_url, MAX_INDEX_BYTES, args.timeout)
        .map_err(|e| Error::Indicators(format!("update: {}: {e}", args.index_url)))?;
    let (planned, problems) = plan(&index, &args.raw_base)
        .map_err(|e| Error::Indicators(format!("update: {}: {e}", args.index_url)))?;
    for p in &problems {
        eprintln!("spydar: update: {}: {p}", args.index_url);
    }
    if planned.is_empty() {
        return Err(Error::Indicators(format!(
            "update: {}: lists no bundle spydar can fetch",
            args.index_url
        )));
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let old = read_manifest(&dir).unwrap_or_default();
    let old_by_file: BTreeMap<&str, &ManifestEntry> =
        old.sources.iter().map(|e| (e.file.as_str(), e)).collect();

    let mut kept: Vec<ManifestEntry> = Vec::new();
    let (mut ok, mut failed, mut indicators) = (0usize, 0usize, 0usize);
    for p in &planned {
        let (url, fetched) = fetch_either(&agent, p, args.timeout);
        let result = fetched.and_then(|bytes| {
            check_bundle_limits(&bytes).map_err(|e| format!("{e}; not kept"))?;
            let mut check = IndicatorSet::default();
            match check.add_bytes(&url, &bytes) {
                Ok(0) => Err("no indicator spydar can use; not kept".to_string()),
                Ok(n) => Ok((bytes, n)),
                Err(e) => Err(format!(
                    "{}; not kept",
                    e.to_string()
                        .trim_start_matches("indicators: ")
                        .trim_start_matches(&format!("{url}: "))
                )),
            }
        });
        match result {
            Ok((bytes, n)) => {
                let sha = hex::encode(Sha256::digest(&bytes));
                let target = dir.join(&p.file);
                let previous = old_by_file.get(p.file.as_str());
                let unchanged = previous.is_some_and(|e| e.sha256 == sha)
                    && std::fs::read(&target).is_ok_and(|b| hex::encode(Sha256::digest(&b)) == sha);
                if !unchanged {
                    write_atomic(&dir, &p.file, &bytes)?;
                }
                println!(
                    "{}\t{n} indicators\t{}",
                    p.file,
                    if unchanged {
                        "unchanged"
                    } else if previous.is_some() {
                        "changed"
                    } else {
                        "new"
                    }
                );
                kept.push(ManifestEntry {
                    name: p.name.clone(),
                    url: url.clone(),
                    file: p.file.clone(),
                    sha256: sha,
                    size: bytes.len() as u64,
                    fetched: now(),
                    indicators: n,
                    replaces: p.replaces.clone(),
                });
                ok += 1;
                indicators += n;
            }
            Err(reason) => {
                eprintln!("spydar: update: {url}: {reason}");
                failed += 1;
                // The copy fetched last time, if any, stays in use.
                if let Some(prev) = old_by_file.get(p.file.as_str()) {
                    kept.push((*prev).clone());
                }
            }
        }
    }
    if ok == 0 {
        // Nothing fetched: leave the folder and sources.json as they were.
        eprintln!(
            "spydar: update: none of the {} bundles could be fetched; {} unchanged",
            planned.len(),
            dir.display()
        );
        return Ok(EXIT_ERROR);
    }
    // Bundles the index no longer lists are retired with it.
    let listed: BTreeSet<&str> = planned.iter().map(|p| p.file.as_str()).collect();
    for e in &old.sources {
        if !listed.contains(e.file.as_str()) && is_plain_file_name(&e.file) {
            let _ = std::fs::remove_file(dir.join(&e.file));
            println!("{}\tremoved (no longer in the index)", e.file);
        }
    }
    let manifest = Manifest {
        index_url: args.index_url.clone(),
        updated: now(),
        sources: kept,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::Indicators(format!("update: sources.json: {e}")))?;
    write_atomic(&dir, MANIFEST, &json)?;
    eprintln!(
        "spydar: update: {ok} of {} bundles current ({indicators} indicators) in {}{}",
        planned.len(),
        dir.display(),
        if failed > 0 {
            format!("; {failed} failed")
        } else {
            String::new()
        }
    );
    Ok(EXIT_CLEAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_the_bundled_mvt_index() {
        let yaml = std::fs::read("indicators/mvt-indicators/indicators.yaml").unwrap();
        let (planned, problems) = plan(&yaml, DEFAULT_RAW_BASE).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(planned.len(), 15);
        assert_eq!(
            planned[0].url,
            "https://raw.githubusercontent.com/AmnestyTech/investigations/master/2021-07-18_nso/pegasus.stix2"
        );
        assert_eq!(
            planned[0].file,
            "AmnestyTech_investigations_2021-07-18_nso_pegasus.stix2"
        );
        assert_eq!(
            planned[0].name,
            "NSO Group Pegasus Indicators of Compromise"
        );
        assert!(planned.iter().all(|p| p.file.ends_with(".stix2")));
        assert_eq!(
            planned[0].replaces.as_deref(),
            Some("amnesty-investigations/2021-07-18_nso/pegasus.stix2")
        );
        assert_eq!(
            planned[1].replaces.as_deref(),
            Some("mvt-indicators/intellexa_predator/predator.stix2")
        );
        // Echap's generated bundle lacks the descriptions of the bundled
        // rebuild (vendor websites, watchware): an extra source, not a
        // replacement.
        assert_eq!(planned[3].replaces, None);
        assert!(
            planned[3]
                .url
                .ends_with("/AssoEchap/stalkerware-indicators/master/generated/stalkerware.stix2")
        );
        assert_eq!(
            planned[3].other_branch.as_deref(),
            Some(
                "https://raw.githubusercontent.com/AssoEchap/stalkerware-indicators/main/generated/stalkerware.stix2"
            )
        );
    }

    #[test]
    fn odd_entries_are_reasons_not_failures() {
        let yaml = br#"
indicators:
  - type: github
    name: ok
    github: {owner: o, repo: r, path: a/b.stix2}
  - type: github
    name: no owner
    github: {repo: r, path: x.stix2}
  - type: github
    github: {owner: o, repo: r, path: ../../etc/passwd}
  - type: download
    download_url: http://example.org/x.stix2
  - type: download
    download_url: https://example.org/iocs/y.json?raw=1
  - type: ftp
  - type: download
    download_url: http://127.0.0.1:8080/z
"#;
        let (planned, problems) = plan(yaml, "http://127.0.0.1:9/").unwrap();
        let files: Vec<_> = planned.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "o_r_a_b.stix2",
                "example.org_iocs_y.json",
                "127.0.0.1_z.stix2"
            ]
        );
        assert_eq!(planned[0].url, "http://127.0.0.1:9/o/r/main/a/b.stix2");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("(no owner): github.owner is missing"));
        assert!(problems[1].contains("not a plain path"));
        assert!(problems[2].contains("plain http is only accepted"));
        assert!(problems[3].contains("\"ftp\" is not supported"));
    }

    #[test]
    fn garbage_index_is_one_line() {
        let e = plan(b"{{{{ not yaml", DEFAULT_RAW_BASE).unwrap_err();
        assert!(e.starts_with("not an indicators.yaml index"), "{e}");
        assert!(!e.contains('\n'));
        let e = plan(b"\x00\xff\xfe", DEFAULT_RAW_BASE);
        assert!(e.is_err() || e.unwrap().0.is_empty());
    }

    #[test]
    fn file_names_are_plain() {
        assert_eq!(file_name("../x/.y"), "_x_.y.stix2");
        assert_eq!(file_name("...sources.json"), "sources.json.stix2");
        assert_eq!(file_name(""), "bundle.stix2");
        assert!(is_plain_file_name(&file_name("a/ü/../b.stix2")));
        assert!(!is_plain_file_name("../b.stix2"));
        assert!(!is_plain_file_name("a/b.stix2"));
        let long = file_name(&format!("{}/b.stix2", "é€".repeat(150)));
        assert!(long.len() <= 206 && long.ends_with("_b.stix2"), "{long}");
        assert!(is_plain_file_name(&long));
    }
}
