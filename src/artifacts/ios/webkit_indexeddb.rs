//! `webkit_indexeddb` (MVT's `WebkitIndexedDB`,
//! `mvt/ios/modules/fs/webkit_indexeddb.py`): the origins of the IndexedDB
//! folders of every app container, as URLs. MVT reads the folder's direct
//! children; current WebKit nests origins in `IndexedDB/v0` and
//! `IndexedDB/v1`, read too (see [`super::webkit_base`]).

use super::webkit_base::{self, Storage};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "webkit_indexeddb",
    artifact: "AppDomain-*/Library/WebKit/WebsiteData/IndexedDB/{,v0/,v1/}http*",
    run,
};

const STORAGE: Storage = Storage {
    module: "webkit_indexeddb",
    event: "webkit_indexeddb",
    folder: "Library/WebKit/WebsiteData/IndexedDB",
    nested: &["v0", "v1"],
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    webkit_base::run(ctx, &STORAGE)
}
