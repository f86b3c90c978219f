//! Matcher throughput (issue #2): (a) 1 million observed domains against the
//! bundled set, (b) 100 MB of log-like text through the free-text automaton,
//! (c) the same text with 1 million synthetic indicators added, plus loading
//! and compiling the bundled sets.
//!
//! `cargo bench --bench matcher`; set SPYDAR_BENCH_TEXT_MB to change (b)/(c).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spydar::artifacts::TextSweep;
use spydar::fixtures::Rng;
use spydar::indicators::{IndicatorSet, Matcher};
use spydar::model::{Observable, ObservableType};

fn domains(n: usize) -> Vec<String> {
    let mut rng = Rng::new(7);
    let tlds = ["com", "net", "org", "io", "co.uk", "info"];
    (0..n)
        .map(|i| {
            let sub = if i % 3 == 0 { "www." } else { "" };
            format!(
                "{sub}host{}-{}.{}",
                rng.below(100_000),
                rng.hex(2),
                rng.pick(&tlds)
            )
        })
        .collect()
}

// WORDS and log_text, shared with examples/matcher_variants.rs.
include!("common/log_text.rs");

fn synthetic_indicators(n: usize) -> IndicatorSet {
    let mut json = String::from("{\"type\":\"bundle\",\"objects\":[");
    let mut rng = Rng::new(3);
    for i in 0..n {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            "{{\"type\":\"indicator\",\"id\":\"indicator--{i}\",\"pattern\":\"[domain-name:value='{}{}.example-{}.net']\"}}",
            rng.hex(4),
            i,
            rng.below(1000)
        ));
    }
    json.push_str("]}");
    let mut set = IndicatorSet::bundled();
    set.add_bytes("synthetic.stix2", json.as_bytes())
        .expect("synthetic bundle parses");
    set
}

fn bench(c: &mut Criterion) {
    let text_mb: usize = std::env::var("SPYDAR_BENCH_TEXT_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut g = c.benchmark_group("indicators");
    g.sample_size(10);
    g.bench_function("load_and_compile_bundled", |b| {
        b.iter(|| black_box(Matcher::new(IndicatorSet::bundled())))
    });
    g.finish();

    let matcher = Matcher::new(IndicatorSet::bundled());
    let obs: Vec<Observable> = domains(1_000_000)
        .into_iter()
        .map(|value| Observable {
            kind: ObservableType::Domain,
            value,
        })
        .collect();
    let mut g = c.benchmark_group("domains");
    g.sample_size(10);
    g.throughput(Throughput::Elements(obs.len() as u64));
    g.bench_function("1M_domains_bundled", |b| {
        b.iter(|| {
            obs.iter()
                .map(|o| matcher.match_observable(o).len())
                .sum::<usize>()
        })
    });
    g.finish();

    let text = log_text(text_mb * 1024 * 1024);
    let mut g = c.benchmark_group("free_text");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function(format!("{text_mb}MB_bundled"), |b| {
        b.iter(|| matcher.flagged_lines(black_box(&text)).len())
    });
    let big = Matcher::new(synthetic_indicators(1_000_000));
    g.bench_function(format!("{text_mb}MB_1M_indicators"), |b| {
        b.iter(|| big.flagged_lines(black_box(&text)).len())
    });
    g.finish();
}

/// Typed observables shaped like the scale-400 iOS backup's records
/// (`benches/ios_backup_scale.rs`): Safari and SMS URLs, Manifest paths,
/// DataUsage process names, a few domains, and the SMS texts.
fn backup_observables() -> Vec<(&'static str, Vec<Observable>)> {
    use ObservableType as T;
    let obs = |kind, values: Vec<String>| -> Vec<Observable> {
        values
            .into_iter()
            .map(|value| Observable { kind, value })
            .collect()
    };
    let urls: Vec<String> = (0..100_000)
        .map(|i| match i % 5 {
            0 => format!("https://www.example.com/page/{i}"),
            1 => format!("https://news.example.net/page/{i}"),
            2 => "https://www.example.com/news/today".to_string(),
            3 => "https://en.wikipedia.org/wiki/Press_freedom".to_string(),
            _ => format!("https://m.Example.org:8443/a/{i}?q=1#top"),
        })
        .collect();
    let paths: Vec<String> = (0..100_000)
        .map(|i| match i % 10 {
            0 => format!("/private/var/mobile/Media/DCIM/{}APPLE", 100 + i / 10),
            1..=4 => format!("/private/var/mobile/Media/DCIM/100APPLE/IMG_{i:06}.HEIC"),
            5 => format!("/Library/Caches/c{i}"),
            6 => format!("/Library/Caches/c{i}/f{}.db", i + 1),
            7 => format!("/private/var/mobile/Library/Caches/com.apple.x/{i:08x}"),
            8 => format!(
                "/private/var/mobile/Library/SMS/Attachments/{:02x}/{i}/IMG_{i}.jpg",
                i % 256
            ),
            _ => {
                "/private/var/mobile/Library/Preferences/com.apple.photolibraryd.plist".to_string()
            }
        })
        .collect();
    let processes: Vec<String> = (0..30_000)
        .map(|i| match i % 3 {
            0 => format!("nsurlsessiond/com.apple.mobile.softwareupdate{i}"),
            1 => "IMRemoteURLConne".to_string(),
            _ => format!("com.apple.datausage.messages{i}"),
        })
        .collect();
    let domains: Vec<String> = (0..30_000)
        .map(|i| match i % 3 {
            0 => format!("www.site{i}.example.com"),
            1 => "notaccountcanceled.com".to_string(),
            _ => format!("10.0.{}.{}", i % 250, i % 200),
        })
        .collect();
    let texts: Vec<String> = (0..30_000)
        .map(|i| {
            [
                "ok",
                "Running late, sorry",
                "Call me when you can",
                "Here is the article https://www.example.com/news/today",
                "Did you read https://en.wikipedia.org/wiki/Press_freedom ?",
            ][i % 5]
                .to_string()
        })
        .collect();
    vec![
        ("url", obs(T::Url, urls)),
        ("file_path", obs(T::FilePath, paths)),
        ("process", obs(T::Process, processes)),
        ("domain", obs(T::Domain, domains)),
        ("text", obs(T::Text, texts)),
    ]
}

/// `match_observable` per observable type on backup-like values (#15).
fn bench_observables(c: &mut Criterion) {
    let matcher = Matcher::new(IndicatorSet::bundled());
    let mut g = c.benchmark_group("observables");
    g.sample_size(20);
    for (name, obs) in backup_observables() {
        g.throughput(Throughput::Elements(obs.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                obs.iter()
                    .map(|o| matcher.match_observable(black_box(o)).len())
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_observables, bench);
criterion_main!(benches);
