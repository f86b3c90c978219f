//! Android tombstones: protobuf (`.pb`) and text. The first byte picks the
//! form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::android::tombstones::{parse, parse_protobuf, parse_text, to_record};
use spydar::time::DeviceZone;

fuzz_target!(|data: &[u8]| {
    let zone = DeviceZone::Unknown;
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if first & 1 == 0 {
        if let Some(t) = parse_protobuf(rest) {
            let _ = to_record(&t, "tombstone_00.pb", &zone);
        }
        let _ = parse("tombstone_00.pb", rest, &zone);
    } else {
        let t = parse_text(&String::from_utf8_lossy(rest));
        let _ = to_record(&t, "tombstone_00", &zone);
        let _ = parse("tombstone_00", rest, &zone);
    }
});
