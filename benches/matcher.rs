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

criterion_group!(benches, bench);
criterion_main!(benches);
