const WORDS: &[&str] = &[
    "kernel",
    "com.apple.xpc.launchd",
    "debug",
    "info",
    "default",
    "error",
    "mDNSResponder",
    "wifid",
    "CommCenter",
    "locationd",
    "symptomsd",
    "apsd",
    "nsurlsessiond",
    "https://www.apple.com/",
    "0x1f2e3d",
    "configd",
    "SpringBoard",
    "assertion",
    "timer",
    "fired",
    "state",
    "changed",
    "interface",
    "en0",
    "to",
    "from",
    "request",
    "response",
    "200",
    "cache",
    "miss",
    "/private/var/mobile/Library/Caches/",
    "ok",
    "itunes.apple.com",
    "gs.apple.com",
    "pid",
    "=",
    "tid",
    "uuid",
    "4F0E3A2B-1C7D-4E5F-9A8B-7C6D5E4F3A2B",
];
/// Log-like text: timestamps, process names, paths, hosts; no indicator.
pub fn log_text(bytes: usize) -> Vec<u8> {
    let mut rng = Rng::new(11);
    let mut out = Vec::with_capacity(bytes + 256);
    let mut line = 0u64;
    while out.len() < bytes {
        line += 1;
        out.extend_from_slice(
            format!(
                "2024-05-01 10:{:02}:{:02}.{:06} +0000 ",
                line % 60,
                line % 59,
                line % 999_983
            )
            .as_bytes(),
        );
        for _ in 0..(8 + rng.below(10)) {
            out.extend_from_slice(rng.pick(WORDS).as_bytes());
            out.push(b' ');
        }
        out.push(b'\n');
    }
    out
}
