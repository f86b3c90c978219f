//! Modification times of the files a bugreport (`FS/...`) or an androidqf
//! acquisition (`logs/...`) carries: timeline only.

use super::{Acquired, AqfModule, AqfRead, BugreportModule};
use crate::artifacts::ModuleError;
use crate::evidence::zip_source::{Member, Source, zip_times};
use crate::model::{ObservableType, Record};
use crate::time::DeviceZone;

pub const BUGREPORT: BugreportModule = BugreportModule {
    name: "bugreport_timestamps",
    nested_name: None,
    artifact: "FS/",
    run: run_bugreport,
};
pub const ANDROIDQF: AqfModule = AqfModule {
    name: "aqf_log_timestamps",
    artifact: "logs/",
    read: AqfRead::Files(run_androidqf),
};

fn run_bugreport(src: &Source, zone: &DeviceZone) -> Result<Vec<Record>, ModuleError> {
    let mut s = src.clone();
    zip_times(&mut s);
    let mut r = parse(s.members.iter(), "FS/", BUGREPORT.name, &s.label);
    if r.is_empty() {
        return Err(ModuleError::Missing);
    }
    // Zip entry times are the device's wall clock; a folder's are the
    // extraction's, real instants.
    if s.members.first().is_some_and(|m| s.disk_path(m).is_none()) {
        super::localise(&mut r, zone);
    }
    Ok(r)
}

fn run_androidqf(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let mut s = q.src.clone();
    zip_times(&mut s);
    let r = parse(s.members.iter(), "logs/", ANDROIDQF.name, "logs/");
    if r.is_empty() {
        Err(ModuleError::Missing)
    } else {
        Ok(r)
    }
}

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
