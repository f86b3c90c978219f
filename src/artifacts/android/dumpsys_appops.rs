//! `dumpsys appops`: per-package permission modes and their last
//! accesses/rejections. REQUEST_INSTALL_PACKAGES and anything granted to
//! `com.android.shell` are warnings.

use serde_json::json;

use crate::model::{ObservableType, Record};

use super::dumpsys::parse_local;
use super::{DumpRead, DumpstateModule, Part};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_appops",
    in_androidqf: Some("aqf_dumpsys_appops"),
    part: Part::Service("appops"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

const RISKY_PERMISSIONS: &[&str] = &["REQUEST_INSTALL_PACKAGES"];
const RISKY_PACKAGES: &[&str] = &["com.android.shell"];

#[derive(Default, Debug)]
struct Perm {
    name: String,
    access: Option<String>,
    entries: Vec<(String, String, String)>, // access, type, timestamp text
}

#[derive(Default, Debug)]
struct Package {
    name: String,
    uid: String,
    perms: Vec<Perm>,
}

fn parse_packages(section: &str) -> Vec<Package> {
    let mut out: Vec<Package> = Vec::new();
    let mut uid = String::new();
    let mut started = false;
    let mut current: Option<Package> = None;
    for line in section.lines() {
        if line.starts_with("  Uid 0:") {
            started = true;
        }
        if !started {
            continue;
        }
        if let Some(rest) = line.strip_prefix("  Uid ") {
            uid = rest.trim_end().trim_end_matches(':').to_string();
            out.extend(current.take());
            continue;
        }
        if let Some(rest) = line.strip_prefix("    Package ") {
            out.extend(current.take());
            current = Some(Package {
                name: rest.trim_end().trim_end_matches(':').to_string(),
                uid: uid.clone(),
                perms: Vec::new(),
            });
            continue;
        }
        if let Some(pkg) = current.as_mut() {
            if line.starts_with("      ") && !line[6..].starts_with(' ') {
                let mut tokens = line.split_whitespace();
                let name = tokens
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(':')
                    .to_string();
                let access = tokens.next().map(|a| {
                    a.trim_start_matches('(')
                        .trim_end_matches(':')
                        .trim_end_matches(')')
                        .to_string()
                });
                pkg.perms.push(Perm {
                    name,
                    access,
                    entries: Vec::new(),
                });
                continue;
            }
            if line.starts_with("          ") {
                let t = line.trim();
                let kind = t.split(':').next().unwrap_or("");
                if (kind == "Access" || kind == "Reject")
                    && let Some(perm) = pkg.perms.last_mut()
                {
                    let ty = match (t.find('['), t.find(']')) {
                        (Some(a), Some(b)) if b > a => t[a + 1..b].to_string(),
                        _ => String::new(),
                    };
                    let ts = match (t.find(']'), t.find('(')) {
                        (Some(a), Some(b)) if b > a => t[a + 1..b].trim().to_string(),
                        _ => String::new(),
                    };
                    perm.entries.push((kind.to_string(), ty, ts));
                }
                continue;
            }
        }
        if line.trim().is_empty() {
            break;
        }
    }
    out.extend(current);
    out
}

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for pkg in parse_packages(section) {
        let perms: Vec<_> = pkg
            .perms
            .iter()
            .map(|p| {
                json!({"name": p.name, "access": p.access,
                       "entries": p.entries.iter().map(|(a, t, ts)| json!({"access": a, "type": t, "timestamp": ts})).collect::<Vec<_>>()})
            })
            .collect();
        let mut rec = Record::new(MODULE.name, artifact)
            .event("appops_package", format!("App ops of {}", pkg.name))
            .field("package_name", pkg.name.as_str())
            .field("uid", pkg.uid.as_str())
            .field("permissions", perms)
            .observe(ObservableType::AppId, pkg.name.as_str());
        let risky_pkg = RISKY_PACKAGES.contains(&pkg.name.as_str());
        for perm in &pkg.perms {
            let risky = risky_pkg || RISKY_PERMISSIONS.contains(&perm.name.as_str());
            if risky && perm.entries.is_empty() {
                rec = rec.alert(
                    &crate::rules::ANDROID_RISKY_PERMISSION,
                    risky_message(&pkg.name, &perm.name, "Unknown", "", risky_pkg),
                );
            }
            for (access, ty, ts) in &perm.entries {
                let when = parse_local(ts);
                let mut e = Record::new(MODULE.name, artifact)
                    .at(when)
                    .event(
                        access,
                        format!("{} access to {}: {access}", pkg.name, perm.name),
                    )
                    .field("package_name", pkg.name.as_str())
                    .field("uid", pkg.uid.as_str())
                    .field("permission", perm.name.as_str())
                    .field("access", access.as_str())
                    .field("type", ty.as_str());
                if risky {
                    e = e.alert(
                        &crate::rules::ANDROID_RISKY_PERMISSION,
                        risky_message(&pkg.name, &perm.name, access, ts, risky_pkg),
                    );
                }
                out.push(e);
            }
        }
        out.push(rec);
    }
    out
}

fn risky_message(pkg: &str, perm: &str, access: &str, ts: &str, risky_pkg: bool) -> String {
    if risky_pkg {
        format!("Risky package '{pkg}' had '{perm}' permission set to '{access}' at {ts}")
    } else {
        format!("Package '{pkg}' had risky permission '{perm}' set to '{access}' at {ts}")
    }
}
