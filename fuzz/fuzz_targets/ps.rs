//! Process listings: sysdiagnose ps / taskinfo / spindump / jetsam /
//! logdata statistics / uuid map, and androidqf ps.txt and processes.json.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::android::aqf_processes;
use spydar::artifacts::sysdiagnose::processes;

fuzz_target!(|data: &[u8]| {
    let m = "sysdiagnose_processes";
    let _ = processes::ps(m, "ps.txt", data);
    let _ = processes::taskinfo(m, "taskinfo.txt", data);
    let _ = processes::spindump(m, "spindump-nosymbols.txt", data);
    let _ = processes::jetsam(m, "logs/JetsamEvent.ips", data);
    let _ = processes::logdata_statistics(m, "logdata.statistics.1.jsonl", data);
    let _ = processes::uuid_to_binary(m, "uuid2path.plist", data);
    let _ = aqf_processes::parse_text(&String::from_utf8_lossy(data), "ps.txt");
    let _ = aqf_processes::parse_json(data, "processes.json");
});
