//! `spydar indicators update` against a tiny HTTP server on 127.0.0.1 that
//! this test starts: no test touches the network or the real home folder.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use sha2::{Digest, Sha256};

#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    /// Accepts the request and answers nothing for this long.
    Hang(Duration),
}

fn answer(mut stream: TcpStream, routes: &HashMap<String, Reply>, seen: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().push(path.clone());
    let (status, body) = match routes.get(&path) {
        Some(Reply::Ok(b)) => ("200 OK", b.clone()),
        Some(Reply::Hang(d)) => {
            std::thread::sleep(*d);
            return;
        }
        None => ("404 Not Found", b"404: Not Found".to_vec()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

fn bundle(malware: &str, patterns: &[&str]) -> Vec<u8> {
    let mut objects = vec![serde_json::json!({
        "type": "malware", "id": format!("malware--{malware}"), "name": malware, "is_family": true
    })];
    for (i, p) in patterns.iter().enumerate() {
        let id = format!("indicator--{malware}-{i}");
        objects.push(serde_json::json!({
            "type": "indicator", "id": id, "pattern": p, "pattern_type": "stix"
        }));
        objects.push(serde_json::json!({
            "type": "relationship", "id": format!("relationship--{malware}-{i}"),
            "relationship_type": "indicates", "source_ref": id, "target_ref": format!("malware--{malware}")
        }));
    }
    serde_json::to_vec_pretty(&serde_json::json!({
        "type": "bundle", "id": format!("bundle--{malware}"), "objects": objects
    }))
    .unwrap()
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The bundled RCS Lab set, served again as if fetched from mvt-indicators.
fn bundled_rcs() -> Vec<u8> {
    std::fs::read("indicators/mvt-indicators/2022-06-23_rcs_lab/rcs.stix2").unwrap()
}

/// A `spydar` child that cannot see the real home, XDG folders or proxies.
fn spydar(home: &Path) -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("spydar");
    cmd.env("HOME", home);
    for k in [
        "XDG_DATA_HOME",
        "SPYDAR_INDICATORS_DIR",
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        cmd.env_remove(k);
    }
    cmd
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: assert_cmd::Command, args: &[&str]) -> Out {
    let out = cmd.args(args).output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `total: N indicators in M sources` from `spydar indicators stats`.
fn totals(stdout: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("total: "))
        .expect("a total line");
    let w: Vec<&str> = line.split_whitespace().collect();
    (w[1].parse().unwrap(), w[4].parse().unwrap())
}

const INDEX: &str = r#"indicators:
  -
    type: github
    name: Alpha Spyware
    sources:
      - Test Lab
    references:
      - https://example.org/alpha
    github:
      owner: lab
      repo: iocs
      branch: main
      path: 2026/alpha.stix2

  -
    type: download
    name: Beta Spyware
    download_url: BASE/dl/beta.json

  -
    type: github
    name: Broken
    github:
      owner: lab
      repo: iocs
      branch: main
      path: broken.stix2

  -
    type: github
    name: Gone
    github:
      owner: lab
      repo: iocs
      branch: main
      path: missing.stix2

  -
    type: github
    name: RCS Lab (same bytes as the bundled copy)
    github:
      owner: mvt-project
      repo: mvt-indicators
      branch: main
      path: 2022-06-23_rcs_lab/rcs.stix2

  -
    type: github
    name: Cellebrite (newer than the bundled copy)
    github:
      owner: mvt-project
      repo: mvt-indicators
      branch: main
      path: cellebrite/cellebrite.stix2
"#;

struct Fixture {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    dir: PathBuf,
    base: String,
    alpha: Vec<u8>,
    beta: Vec<u8>,
    cellebrite: Vec<u8>,
    log: Arc<Mutex<Vec<String>>>,
}

fn fixture() -> Fixture {
    let alpha = bundle(
        "AlphaSpy",
        &[
            "[domain-name:value = 'alpha-spy.example']",
            "[process:name = 'alphad']",
        ],
    );
    let beta = bundle(
        "BetaSpy",
        &[
            "[domain-name:value = 'beta-c2.example']",
            "[url:value = 'https://beta-drop.example/p/1']",
            "[email-addr:value = 'beta@beta-c2.example']",
        ],
    );
    // The bundled copy lists app id com.client.appA; this "newer" one
    // retracts it and adds two.
    let cellebrite = bundle(
        "Cellebrite",
        &[
            "[app:id = 'com.client.appB']",
            "[domain-name:value = 'cb-new.example']",
        ],
    );
    let mut routes: HashMap<String, Reply> = HashMap::new();
    routes.insert(
        "/mvt-project/mvt-indicators/main/cellebrite/cellebrite.stix2".into(),
        Reply::Ok(cellebrite.clone()),
    );
    routes.insert(
        "/lab/iocs/main/2026/alpha.stix2".into(),
        Reply::Ok(alpha.clone()),
    );
    routes.insert("/dl/beta.json".into(), Reply::Ok(beta.clone()));
    routes.insert(
        "/lab/iocs/main/broken.stix2".into(),
        Reply::Ok(b"<html>this is not JSON</html>".to_vec()),
    );
    routes.insert(
        "/mvt-project/mvt-indicators/main/2022-06-23_rcs_lab/rcs.stix2".into(),
        Reply::Ok(bundled_rcs()),
    );
    let (base, log) = serve_with_index(routes, 64);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let dir = tmp.path().join("data").join("indicators");
    Fixture {
        _tmp: tmp,
        home,
        dir,
        base,
        alpha,
        beta,
        cellebrite,
        log,
    }
}

/// Binds 127.0.0.1 on a free port and serves `routes` plus the indexes,
/// which name the server's own address: `/indicators.yaml` (INDEX),
/// `/only-bad.yaml` (its broken and missing entries), `/beta-only.yaml`,
/// and `/slow.yaml` (beta and a bundle that never answers).
fn serve_with_index(
    mut routes: HashMap<String, Reply>,
    max: usize,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    routes.insert(
        "/indicators.yaml".into(),
        Reply::Ok(INDEX.replace("BASE", &base).into_bytes()),
    );
    let only_bad: String = INDEX
        .split("\n\n")
        .filter(|e| e.contains("Broken") || e.contains("Gone"))
        .collect::<Vec<_>>()
        .join("\n\n");
    routes.insert(
        "/only-bad.yaml".into(),
        Reply::Ok(format!("indicators:\n{only_bad}\n").into_bytes()),
    );
    let beta_only: String = INDEX
        .replace("BASE", &base)
        .split("\n\n")
        .filter(|e| e.contains("Beta"))
        .collect::<Vec<_>>()
        .join("\n\n");
    routes.insert(
        "/beta-only.yaml".into(),
        Reply::Ok(format!("indicators:\n{beta_only}\n").into_bytes()),
    );
    routes.insert(
        "/slow.yaml".into(),
        Reply::Ok(
            format!(
                "indicators:\n  - type: download\n    download_url: {base}/dl/beta.json\n  - type: download\n    download_url: {base}/slow.stix2\n"
            )
            .into_bytes(),
        ),
    );
    routes.insert("/slow.stix2".into(), Reply::Hang(Duration::from_secs(6)));
    serve_on(listener, base, routes, max)
}

/// Serves on `listener` (404 for unknown paths) for at most `max_requests`
/// requests or 90 s, then stops by itself; logs the requested paths.
fn serve_on(
    listener: TcpListener,
    base: String,
    routes: HashMap<String, Reply>,
    max_requests: usize,
) -> (String, Arc<Mutex<Vec<String>>>) {
    listener.set_nonblocking(true).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut served = 0;
        while served < max_requests && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    served += 1;
                    let routes = routes.clone();
                    let seen = seen.clone();
                    std::thread::spawn(move || answer(stream, &routes, &seen));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => break,
            }
        }
    });
    (base, log)
}

impl Fixture {
    fn update(&self, index: &str, extra: &[&str]) -> Out {
        let url = format!("{}/{index}", self.base);
        let mut args = vec![
            "indicators",
            "update",
            "--index-url",
            &url,
            "--raw-base",
            &self.base,
            "--dir",
            self.dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(spydar(&self.home), &args)
    }

    /// A spydar child reading downloaded sets from the fixture's folder.
    fn reader(&self) -> assert_cmd::Command {
        let mut cmd = spydar(&self.home);
        cmd.env("SPYDAR_INDICATORS_DIR", &self.dir);
        cmd
    }
}

const ALPHA: &str = "lab_iocs_2026_alpha.stix2";
const BETA: &str = "127.0.0.1_dl_beta.json";
const RCS: &str = "mvt-project_mvt-indicators_2022-06-23_rcs_lab_rcs.stix2";
const CB: &str = "mvt-project_mvt-indicators_cellebrite_cellebrite.stix2";

#[test]
fn update_keeps_good_bundles_names_bad_urls_and_scans_use_them() {
    let f = fixture();
    let out = f.update("indicators.yaml", &[]);
    assert_eq!(out.code, 0, "partial success exits 0\n{}", out.stderr);

    // The good bundles land in DIR under stable names; nothing else does.
    let mut files: Vec<String> = std::fs::read_dir(&f.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want = vec![BETA, ALPHA, RCS, CB, "sources.json"];
    want.sort();
    assert_eq!(files, want);
    assert_eq!(std::fs::read(f.dir.join(ALPHA)).unwrap(), f.alpha);
    assert_eq!(std::fs::read(f.dir.join(BETA)).unwrap(), f.beta);
    assert_eq!(std::fs::read(f.dir.join(CB)).unwrap(), f.cellebrite);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(f.dir.join(ALPHA))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    // One clear line per failure, naming the URL.
    let broken = format!("{}/lab/iocs/main/broken.stix2", f.base);
    let missing = format!("{}/lab/iocs/main/missing.stix2", f.base);
    let line = |url: &str| {
        out.stderr
            .lines()
            .find(|l| l.contains(url))
            .unwrap_or_else(|| panic!("no line for {url} in\n{}", out.stderr))
            .to_string()
    };
    assert_eq!(
        line(&broken),
        format!(
            "spydar: update: {broken}: not a STIX2 JSON bundle: expected value at line 1 column 1; not kept"
        )
    );
    assert_eq!(
        line(&missing),
        format!("spydar: update: {missing}: HTTP status 404")
    );
    let n_rcs = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{RCS}\t")))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("an RCS line");
    assert!(n_rcs > 30, "the bundled RCS set has 40 indicators: {n_rcs}");
    assert!(
        out.stderr.contains(&format!(
            "4 of 6 bundles current ({} indicators)",
            7 + n_rcs
        )) && out.stderr.contains("; 2 failed"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains(&format!("{ALPHA}\t2 indicators\tnew")));

    // sources.json says what was fetched.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.dir.join("sources.json")).unwrap()).unwrap();
    let sources = manifest["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 4);
    let alpha = sources.iter().find(|s| s["file"] == ALPHA).unwrap();
    assert_eq!(
        alpha["url"],
        format!("{}/lab/iocs/main/2026/alpha.stix2", f.base)
    );
    assert_eq!(alpha["sha256"], sha(&f.alpha));
    assert_eq!(alpha["size"], f.alpha.len());
    assert_eq!(alpha["indicators"], 2);
    assert_eq!(alpha["name"], "Alpha Spyware");
    assert!(alpha["fetched"].as_str().unwrap().ends_with('Z'));
    let beta = sources.iter().find(|s| s["file"] == BETA).unwrap();
    assert_eq!(beta["url"], format!("{}/dl/beta.json", f.base));
    assert_eq!(beta["indicators"], 3);
    assert_eq!(manifest["index_url"], format!("{}/indicators.yaml", f.base));

    // Scans and `stats` count the downloaded indicators; the bundle with
    // the same bytes as a bundled one is not counted twice.
    let with = run(f.reader(), &["indicators", "stats"]);
    assert_eq!(with.code, 0, "{}", with.stderr);
    let without = run(f.reader(), &["indicators", "stats", "--no-updated-iocs"]);
    assert_eq!(without.code, 0, "{}", without.stderr);
    let (n_with, s_with) = totals(&with.stdout);
    let (n_without, s_without) = totals(&without.stdout);
    assert_eq!(
        n_with,
        n_without + 5 + 2 - 1,
        "2 alpha + 3 beta, cellebrite 1 -> 2"
    );
    assert_eq!(s_with, s_without + 2, "alpha, beta; cellebrite replaced");
    assert!(
        with.stdout
            .contains(&format!("downloaded/{ALPHA}: 2 indicators (AlphaSpy)"))
    );
    assert!(!with.stdout.contains(RCS));
    let only = run(f.reader(), &["indicators", "stats", "--no-bundled-iocs"]);
    assert_eq!(totals(&only.stdout), (7 + n_rcs, 4), "{}", only.stdout);

    // A downloaded indicator matches; --no-updated-iocs drops it.
    let hit = run(f.reader(), &["indicators", "check", "beta-c2.example"]);
    assert_eq!(hit.code, 1, "{}", hit.stdout);
    assert!(hit.stdout.contains("BetaSpy") && hit.stdout.contains(&format!("downloaded/{BETA}")));
    let miss = run(
        f.reader(),
        &[
            "indicators",
            "check",
            "beta-c2.example",
            "--no-updated-iocs",
        ],
    );
    assert_eq!(miss.code, 0, "{}", miss.stdout);
    // The newer Cellebrite copy replaces the bundled one: its retracted
    // indicator no longer matches, its new ones do.
    let retracted = run(f.reader(), &["indicators", "check", "com.client.appA"]);
    assert_eq!(retracted.code, 0, "{}", retracted.stdout);
    let bundled = run(
        f.reader(),
        &[
            "indicators",
            "check",
            "com.client.appA",
            "--no-updated-iocs",
        ],
    );
    assert_eq!(bundled.code, 1, "{}", bundled.stdout);
    assert_eq!(
        run(f.reader(), &["indicators", "check", "cb-new.example"]).code,
        1
    );
    // Without the folder named, the (empty) temporary home is used.
    let home_only = run(spydar(&f.home), &["indicators", "check", "beta-c2.example"]);
    assert_eq!(home_only.code, 0);

    // `list` says where each source came from.
    let list = run(f.reader(), &["indicators", "list"]);
    let alpha_line = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("downloaded/{ALPHA}\t")))
        .unwrap();
    let fetched = alpha["fetched"].as_str().unwrap();
    assert!(
        alpha_line.ends_with(&format!("\tdownloaded {fetched}")),
        "{alpha_line}"
    );
    assert!(list.stdout.lines().any(|l| {
        l.starts_with("mvt-indicators/2022-06-23_rcs_lab/rcs.stix2\t") && l.ends_with("\tbundled")
    }));
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with(&format!("downloaded/{CB}\t"))
                && l.ends_with("(replaces bundled mvt-indicators/cellebrite/cellebrite.stix2)"))
    );
    assert!(!list.stdout.contains("\nmvt-indicators/cellebrite/"));

    // A second update with the same content leaves the files as they were.
    let before: Vec<(Vec<u8>, std::time::SystemTime)> = [ALPHA, BETA, RCS, CB]
        .iter()
        .map(|n| {
            let p = f.dir.join(n);
            (
                std::fs::read(&p).unwrap(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    let again = f.update("indicators.yaml", &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains(&format!("{ALPHA}\t2 indicators\tunchanged"))
    );
    for (n, (bytes, mtime)) in [ALPHA, BETA, RCS, CB].iter().zip(before) {
        let p = f.dir.join(n);
        assert_eq!(std::fs::read(&p).unwrap(), bytes, "{n}");
        assert_eq!(
            std::fs::metadata(&p).unwrap().modified().unwrap(),
            mtime,
            "{n}"
        );
    }
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&f.dir).unwrap().count(), 5);

    // An index that lists only failures updates nothing: exit 2, and the
    // earlier downloads stay as they were.
    let bad = f.update("only-bad.yaml", &[]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains(&format!("{missing}: HTTP status 404")));
    assert!(
        bad.stderr
            .contains("none of the 2 bundles could be fetched")
    );
    assert!(f.dir.join(ALPHA).exists());
    assert_eq!(std::fs::read(f.dir.join(BETA)).unwrap(), f.beta);

    // An index that no longer lists a bundle retires it.
    let beta_only = f.update("beta-only.yaml", &[]);
    assert_eq!(beta_only.code, 0, "{}", beta_only.stderr);
    assert!(!f.dir.join(ALPHA).exists());
    assert!(f.dir.join(BETA).exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.dir.join("sources.json")).unwrap()).unwrap();
    assert_eq!(manifest["sources"].as_array().unwrap().len(), 1);
    let only = run(f.reader(), &["indicators", "stats", "--no-bundled-iocs"]);
    assert_eq!(totals(&only.stdout), (3, 1));

    // An index that cannot be fetched: exit 2, one line naming it.
    let gone = f.update("nope.yaml", &[]);
    assert_eq!(gone.code, 2);
    assert_eq!(
        gone.stderr.trim_end(),
        format!(
            "spydar: indicators: update: {}/nope.yaml: HTTP status 404",
            f.base
        )
    );

    // Every request went to the test server, and only there.
    let log = f.log.lock().unwrap();
    assert!(log.iter().all(|p| p.starts_with('/')));
    assert!(log.len() <= 64);
}

#[test]
fn altered_or_unparsable_downloads_are_skipped_not_fatal() {
    let f = fixture();
    assert_eq!(f.update("indicators.yaml", &[]).code, 0);
    // Tamper with one file after the download.
    std::fs::write(
        f.dir.join(ALPHA),
        bundle("Tampered", &["[domain-name:value = 'x.example']"]),
    )
    .unwrap();
    let out = run(f.reader(), &["indicators", "stats", "--no-bundled-iocs"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("downloaded/{BETA}: 3 indicators"))
    );
    assert!(!out.stdout.contains(ALPHA));
    assert!(
        out.stderr.contains(&format!(
            "{ALPHA}: changed since it was downloaded; skipped"
        )),
        "{}",
        out.stderr
    );
    // A broken sources.json: the downloaded sets are ignored, scans go on.
    std::fs::write(f.dir.join("sources.json"), b"{not json").unwrap();
    let out = run(f.reader(), &["indicators", "stats"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("sources.json: unreadable"),
        "{}",
        out.stderr
    );
}

#[test]
fn default_folder_follows_xdg_and_home() {
    let f = fixture();
    let url = format!("{}/beta-only.yaml", f.base);
    let xdg = f.home.join("xdg");
    let mut cmd = spydar(&f.home);
    cmd.env("XDG_DATA_HOME", &xdg);
    let out = run(cmd, &["indicators", "update", "--index-url", &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(xdg.join("spydar/indicators").join(BETA).exists());
    let mut cmd = spydar(&f.home);
    cmd.env("XDG_DATA_HOME", &xdg);
    assert_eq!(
        run(cmd, &["indicators", "check", "beta-c2.example"]).code,
        1
    );

    let out = run(
        spydar(&f.home),
        &["indicators", "update", "--index-url", &url],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let home_dir = f.home.join(".local/share/spydar/indicators");
    assert!(home_dir.join("sources.json").exists());
    assert_eq!(
        run(spydar(&f.home), &["indicators", "check", "beta-c2.example"]).code,
        1
    );
}

#[test]
fn a_timeout_names_the_url_and_the_rest_still_updates() {
    let f = fixture();
    let started = Instant::now();
    let out = f.update("slow.yaml", &["--timeout", "2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(
        out.stderr.contains(&format!(
            "spydar: update: {}/slow.stix2: timed out after 2 s",
            f.base
        )),
        "{}",
        out.stderr
    );
    assert!(f.dir.join(BETA).exists());
}

#[test]
fn plain_http_elsewhere_is_refused_without_connecting() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        spydar(tmp.path()),
        &[
            "indicators",
            "update",
            "--index-url",
            "http://example.invalid/indicators.yaml",
            "--dir",
            tmp.path().join("d").to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("plain http is only accepted for 127.0.0.1/localhost"),
        "{}",
        out.stderr
    );
    assert!(!tmp.path().join("d").exists());
}

/// `(owner, repo, branch, path)` of every `type: github` entry of an
/// indicators.yaml in mvt-indicators' layout (one key per line).
fn github_entries(yaml: &str) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for entry in yaml.split("\n  -\n").skip(1) {
        let key = |k: &str| {
            entry
                .lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{k}: ")))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        out.push((key("owner"), key("repo"), key("branch"), key("path")));
    }
    out
}

/// The bundled copy of an index entry's file, if spydar bundles it.
fn bundled_copy(owner: &str, repo: &str, path: &str) -> Option<Vec<u8>> {
    let local = match (owner, repo) {
        ("mvt-project", "mvt-indicators") => format!("indicators/mvt-indicators/{path}"),
        ("AmnestyTech", "investigations") => format!("indicators/amnesty-investigations/{path}"),
        ("AssoEchap", "stalkerware-indicators") => {
            "indicators/stalkerware/stalkerware.stix2".into()
        }
        _ => return None,
    };
    std::fs::read(local).ok()
}

/// Entries added to the index in July 2026, in its own format (with a key
/// spydar does not know, which it must ignore).
const JULY_2026: &str = r#"
  -
    type: github
    name: Gamma Spyware Indicators of Compromise
    sources:
      - Test Lab
    references:
      - https://example.org/gamma
    platforms:
      - android
    github:
      owner: mvt-project
      repo: mvt-indicators
      branch: main
      path: 2026-07-14_gamma/gamma.stix2

  -
    type: github
    name: Delta Spyware Indicators of Compromise
    sources:
      - Amnesty International
    references:
      - https://example.org/delta
    github:
      owner: AmnestyTech
      repo: investigations
      branch: master
      path: 2026-07-28_delta/delta.stix2
"#;

/// The real index (the bundled copy of mvt-indicators' indicators.yaml),
/// served by a host whose repositories all moved to `main`: entries that
/// still say `master` (Amnesty's, Echap's) are fetched from `main` with a
/// note; then the index grows by its July 2026 additions, which are
/// fetched next to the rest.
#[test]
fn the_real_index_with_renamed_branches_and_its_july_2026_additions() {
    let index = std::fs::read_to_string("indicators/mvt-indicators/indicators.yaml").unwrap();
    let entries = github_entries(&index);
    assert_eq!(entries.len(), 15);
    let on_master = entries.iter().filter(|e| e.2 == "master").count();
    assert!(on_master >= 5, "Amnesty's and Echap's entries say master");
    let mut routes: HashMap<String, Reply> = HashMap::new();
    for (owner, repo, _, path) in &entries {
        let bytes = bundled_copy(owner, repo, path)
            .unwrap_or_else(|| panic!("{owner}/{repo}/{path} is bundled"));
        // Only `main` exists now; `master` answers 404.
        routes.insert(format!("/{owner}/{repo}/main/{path}"), Reply::Ok(bytes));
    }
    let gamma = bundle("Gamma", &["[domain-name:value='gamma-c2.example']"]);
    let delta = bundle("Delta", &["[app:id='com.delta.sync']"]);
    routes.insert(
        "/mvt-project/mvt-indicators/main/2026-07-14_gamma/gamma.stix2".into(),
        Reply::Ok(gamma),
    );
    routes.insert(
        "/AmnestyTech/investigations/main/2026-07-28_delta/delta.stix2".into(),
        Reply::Ok(delta),
    );
    routes.insert(
        "/indicators.yaml".into(),
        Reply::Ok(index.clone().into_bytes()),
    );
    let grown = format!("{}\n{}", index.trim_end(), JULY_2026);
    routes.insert(
        "/indicators-2026-07.yaml".into(),
        Reply::Ok(grown.into_bytes()),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (base, log) = serve_on(listener, base, routes, 200);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let dir = tmp.path().join("indicators");
    let update = |index: &str| {
        run(
            spydar(&home),
            &[
                "indicators",
                "update",
                "--index-url",
                &format!("{base}/{index}"),
                "--raw-base",
                &base,
                "--dir",
                dir.to_str().unwrap(),
            ],
        )
    };

    let all_current = |out: &Out, n: usize| {
        assert_eq!(out.code, 0, "{}", out.stderr);
        let line = format!("{n} of {n} bundles current");
        assert!(out.stderr.contains(&line), "{}", out.stderr);
    };
    let reader = || {
        let mut cmd = spydar(&home);
        cmd.env("SPYDAR_INDICATORS_DIR", &dir);
        cmd
    };

    let out = update("indicators.yaml");
    all_current(&out, 15);
    let notes: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("renamed its default branch"))
        .collect();
    assert_eq!(notes.len(), on_master, "{}", out.stderr);
    let amnesty = format!("{base}/AmnestyTech/investigations/master/2021-07-18_nso/pegasus.stix2");
    assert!(
        out.stderr.contains(&format!(
            "spydar: update: {amnesty}: HTTP status 404; fetched {base}/AmnestyTech/investigations/main/2021-07-18_nso/pegasus.stix2 instead"
        )),
        "{}",
        out.stderr
    );
    // sources.json keeps the URL that answered.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sources.json")).unwrap()).unwrap();
    let sources = manifest["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 15);
    assert!(
        sources
            .iter()
            .all(|s| s["url"].as_str().unwrap().contains("/main/")),
        "{sources:#?}"
    );
    // The same bytes as the bundled sets: nothing is counted twice.
    let with = run(reader(), &["indicators", "stats"]);
    let without = run(spydar(&home), &["indicators", "stats"]);
    assert_eq!(
        totals(&with.stdout),
        totals(&without.stdout),
        "{}",
        with.stdout
    );

    // The index grows: its additions are fetched, the rest is unchanged.
    let out = update("indicators-2026-07.yaml");
    all_current(&out, 17);
    assert!(
        out.stdout
            .contains("mvt-project_mvt-indicators_2026-07-14_gamma_gamma.stix2\t1 indicators\tnew")
    );
    assert!(
        out.stdout
            .contains("AmnestyTech_investigations_2026-07-28_delta_delta.stix2\t1 indicators\tnew")
    );
    assert!(out.stdout.contains(
        "AmnestyTech_investigations_2021-07-18_nso_pegasus.stix2\t1549 indicators\tunchanged"
    ));
    for (value, malware) in [("gamma-c2.example", "Gamma"), ("com.delta.sync", "Delta")] {
        let hit = run(reader(), &["indicators", "check", value]);
        assert_eq!(hit.code, 1, "{}", hit.stdout);
        assert!(hit.stdout.contains(malware), "{}", hit.stdout);
    }
    // `list` dates each set: the bundled ones by their newest STIX time.
    let list = run(reader(), &["indicators", "list"]);
    let stalker = list
        .stdout
        .lines()
        .find(|l| l.starts_with("stalkerware/stalkerware.stix2\t"))
        .expect("the bundled stalkerware set is listed");
    let cells: Vec<&str> = stalker.split('\t').collect();
    assert_eq!(&cells[1..3], ["5598", "2026-06-21"]);
    assert!(list.stdout.lines().all(|l| {
        let date = l.split('\t').nth(2).unwrap_or("");
        date.len() == 10 && date.as_bytes()[4] == b'-' || date == "-"
    }));
    assert!(list.stderr.contains("Echap, stalkerware-indicators"));

    let log = log.lock().unwrap();
    assert!(log.iter().any(|p| p.contains("/master/")));
    assert!(log.len() <= 200);
}
