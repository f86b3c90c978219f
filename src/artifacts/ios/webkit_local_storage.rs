//! `webkit_local_storage` (MVT's `WebkitLocalStorage`,
//! `mvt/ios/modules/fs/webkit_localstorage.py`): the origins of the
//! LocalStorage files of every app container
//! (`https_www.example.com_0.localstorage`), as URLs (see
//! [`super::webkit_base`]).

use super::webkit_base::{self, Storage};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "webkit_local_storage",
    artifact: "AppDomain-*/Library/WebKit/WebsiteData/LocalStorage/http*",
    run,
};

const STORAGE: Storage = Storage {
    module: "webkit_local_storage",
    event: "webkit_local_storage",
    folder: "Library/WebKit/WebsiteData/LocalStorage",
    nested: &[],
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    webkit_base::run(ctx, &STORAGE)
}
