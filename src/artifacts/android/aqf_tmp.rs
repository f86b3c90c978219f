//! androidqf `tmp/`: the files it pulled from `/data/local/tmp/`, where
//! ADB tools, exploits and spyware stage (androidqf's own `collector` is
//! left out). Each file's device path and the SHA-256, SHA-1 and MD5 of its
//! content are observables, so a staged payload whose hash or path is an
//! indicator is found even when `files.json` does not list it (`aqf_files`
//! raises the `/data/local/tmp/` warning from that listing). MVT does not
//! read this folder.

use md5::Md5;
use rayon::prelude::*;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{Acquired, AqfModule, AqfRead};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_tmp",
    artifact: "tmp/",
    read: AqfRead::Files(run),
};

/// Files larger than this are listed by path only.
const HASH_LIMIT: u64 = 512 * 1024 * 1024;

fn run(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let src = q.src;
    let members: Vec<_> = src
        .under("tmp/")
        .filter(|(_, rel)| *rel != "collector")
        .collect();
    if members.is_empty() {
        return Err(ModuleError::Missing);
    }
    members
        .into_par_iter()
        .map(|(m, rel)| {
            let device_path = format!("/data/local/tmp/{rel}");
            let mut r = Record::new(MODULE.name, &m.name)
                .at(m.modified)
                .event("tmp_file", device_path.clone())
                .field("path", device_path.as_str())
                .field("size", m.size)
                .observe(ObservableType::FilePath, device_path.as_str());
            if m.size <= HASH_LIMIT {
                let data = src.read(m)?;
                let sha256 = hex::encode(Sha256::digest(&data));
                let sha1 = hex::encode(Sha1::digest(&data));
                let md5 = hex::encode(Md5::digest(&data));
                r = r
                    .field("sha256", sha256.as_str())
                    .field("sha1", sha1.as_str())
                    .field("md5", md5.as_str())
                    .observe(ObservableType::Sha256, sha256)
                    .observe(ObservableType::Sha1, sha1)
                    .observe(ObservableType::Md5, md5);
            }
            Ok(r)
        })
        .collect()
}
