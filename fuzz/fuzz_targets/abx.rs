//! Android system XML (ABX binary XML or text XML): the decoder and the
//! parsers of `packages.xml`, `settings_*.xml` and `appops.xml` over it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spydar::evidence::abx;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = abx::read(data) {
        for e in &doc.elements {
            for (_, v) in &e.attrs {
                let _ = (v.text(), v.bytes(), v.int());
            }
        }
        let _ = doc.children(0, "package").count();
    }
    let _ = spydar::artifacts::android::aqf_packages::parse_packages_xml(data, "packages.xml");
    let _ = spydar::artifacts::android::aqf_settings::parse_xml(data, "secure", "settings_secure.xml");
    let _ = spydar::artifacts::android::dumpsys_appops::parse_appops_xml(data, "appops.xml");
});
