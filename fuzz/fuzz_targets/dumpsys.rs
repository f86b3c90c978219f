//! dumpstate / dumpsys text: the section splitter, the SYSTEM PROPERTIES
//! block and log blocks, then every section parser on its section.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::artifacts::android::{
    dumpsys, dumpsys_accessibility, dumpsys_activities, dumpsys_adb, dumpsys_appops,
    dumpsys_battery_daily, dumpsys_battery_history, dumpsys_dbinfo, dumpsys_packages,
    dumpsys_platform_compat, dumpsys_receivers, getprop,
};

type Parser = fn(&str, &str) -> Vec<spydar::model::Record>;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let table: [(&str, Parser); 9] = [
        ("accessibility", dumpsys_accessibility::parse),
        ("package", dumpsys_activities::parse),
        ("appops", dumpsys_appops::parse),
        ("batterystats", dumpsys_battery_daily::parse),
        ("batterystats", dumpsys_battery_history::parse),
        ("dbinfo", dumpsys_dbinfo::parse),
        ("package", dumpsys_packages::parse),
        ("platform_compat", dumpsys_platform_compat::parse),
        ("package", dumpsys_receivers::parse),
    ];
    for (service, parser) in table {
        if let Some(section) = dumpsys::section(text, service) {
            let _ = parser(section, "dumpsys.txt");
        }
    }
    if let Some(section) = dumpsys::section(text, "adb") {
        let _ = dumpsys_adb::parse(section, "dumpsys.txt", Some("QUFBQQ== host@x"));
        let _ = dumpsys_adb::parse(section, "dumpsys.txt", None);
    }
    if let Some(block) = dumpsys::system_properties(text) {
        let _ = getprop::parse(
            block,
            getprop::BUGREPORT.name,
            "dumpstate.txt",
            jiff::Timestamp::UNIX_EPOCH,
        );
    }
    let _ = dumpsys::log_blocks(text);
    for line in text.lines().take(64) {
        let _ = dumpsys::indent(line);
        let _ = dumpsys::parse_local(line);
    }
});
