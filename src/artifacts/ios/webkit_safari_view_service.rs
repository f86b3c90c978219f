//! `webkit_safari_view_service` (MVT's `WebkitSafariViewService`,
//! `mvt/ios/modules/fs/webkit_safariviewservice.py`): the origins WebKit
//! stored for the in-app browser (`SFSafariViewController`) of every app
//! container, `SystemData/com.apple.SafariViewService/…/WebsiteData/http*`,
//! as URLs (see [`super::webkit_base`]).

use super::webkit_base::{self, Storage};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::model::Record;

pub const MODULE: Module = Module {
    name: "webkit_safari_view_service",
    artifact: "AppDomain-*/SystemData/com.apple.SafariViewService/Library/WebKit/WebsiteData/http*",
    run,
};

const STORAGE: Storage = Storage {
    module: "webkit_safari_view_service",
    event: "webkit_safari_view_service",
    folder: "SystemData/com.apple.SafariViewService/Library/WebKit/WebsiteData",
    nested: &[],
};

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    webkit_base::run(ctx, &STORAGE)
}
