//! Modification times of the files a bugreport (`FS/...`) or an androidqf
//! acquisition (`logs/...`) carries: timeline only.

use crate::evidence::zip_source::Member;
use crate::model::{ObservableType, Record};

pub const MODULE_BUGREPORT: &str = "bugreport_timestamps";
pub const MODULE_ANDROIDQF: &str = "aqf_log_timestamps";

pub fn parse<'a>(
    members: impl Iterator<Item = &'a Member>,
    prefix: &str,
    module: &str,
    artifact: &str,
) -> Vec<Record> {
    members
        .filter_map(|m| {
            let device_path = m.name.strip_prefix(prefix)?;
            let device_path = format!("/{device_path}");
            Some(
                Record::new(module, artifact)
                    .at(m.modified)
                    .event("M---", device_path.clone())
                    .field("path", device_path.as_str())
                    .field("size", m.size)
                    .observe(ObservableType::FilePath, device_path),
            )
        })
        .collect()
}
