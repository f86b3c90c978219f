//! Protobuf tombstones (`tombstone_NN.pb`, Android 12+) through prost into
//! the same records as text tombstones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::android::tombstones::{parse, parse_protobuf, to_record};
use spydar::time::DeviceZone;

fuzz_target!(|data: &[u8]| {
    let zone = DeviceZone::Unknown;
    if let Some(t) = parse_protobuf(data) {
        let _ = to_record(&t, "tombstone_00.pb", &zone);
    }
    let _ = parse("tombstone_00.pb", data, &zone);
});
