//! Writes a generated sysdiagnose with the real unified-log files of a
//! dtformats-style folder in its logarchive (folder and .tar.gz), and,
//! with a third argument N, that many more copies of the large tracev3 in
//! `Persist/` (a logarchive of about N × 0.7 MB for benchmarks).
//!
//!   cargo run --example ulog_fixture --features fixtures -- OUT_DIR ../shared/fixtures/real/dtformats-unified-log [N]
fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().expect("OUT_DIR"));
    let real = std::path::PathBuf::from(args.next().expect("REAL_DIR"));
    let copies: usize = args.next().map_or(0, |n| n.parse().expect("N"));
    let big = std::fs::read(real.join("0000000000000f85.tracev3"))?;
    let extra: Vec<(String, Vec<u8>)> = (0..copies)
        .map(|i| {
            (
                format!("system_logs.logarchive/Persist/{:016x}.tracev3", 0x1000 + i),
                big.clone(),
            )
        })
        .collect();
    std::fs::create_dir_all(&out)?;
    let (folder, archive) =
        spydar::fixtures::sysdiagnose::with_real_logarchive(&out, &real, &extra)?;
    println!("{}\n{}", folder.display(), archive.display());
    Ok(())
}
