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

// -------------------------------------------------------------- appops.xml

/// The system's own `appops.xml` (`/data/system/appops.xml`; ABX binary XML
/// since Android 12, text XML before) when an acquisition holds it.
pub const APPOPS_XML: super::AqfModule = super::AqfModule {
    name: "aqf_appops_xml",
    artifact: "appops.xml",
    read: super::AqfRead::Member(|data, member, _| parse_appops_xml(data, member)),
};

/// `AppOpsManager` op codes by number (the ones MVT's and spydar's
/// heuristics or a reader care about; others show as `OP_<n>`).
const OPS: &[(i64, &str)] = &[
    (0, "COARSE_LOCATION"),
    (1, "FINE_LOCATION"),
    (4, "READ_CONTACTS"),
    (6, "READ_CALL_LOG"),
    (14, "READ_SMS"),
    (16, "RECEIVE_SMS"),
    (20, "SEND_SMS"),
    (24, "SYSTEM_ALERT_WINDOW"),
    (26, "CAMERA"),
    (27, "RECORD_AUDIO"),
    (43, "GET_USAGE_STATS"),
    (51, "READ_PHONE_STATE"),
    (63, "RUN_IN_BACKGROUND"),
    (66, "REQUEST_INSTALL_PACKAGES"),
];

/// `AppOpsManager.MODE_*` by number.
const MODES: &[&str] = &["allow", "ignore", "deny", "default", "foreground"];

fn op_name(e: &crate::evidence::abx::Element) -> String {
    let n = e.attr_text("n");
    match n.trim().parse::<i64>() {
        Ok(code) => OPS
            .iter()
            .find(|(c, _)| *c == code)
            .map_or_else(|| format!("OP_{code}"), |(_, name)| name.to_string()),
        Err(_) => n,
    }
}

/// `appops.xml`: `<pkg n=…><uid n=…><op n=CODE m=MODE><st t=… r=…/>`. One
/// record per package; a risky op (REQUEST_INSTALL_PACKAGES, or any op of
/// `com.android.shell`, as MVT's `dumpsys_appops`) set to `allow`, or used
/// while not set to `ignore`/`deny`, is a warning. (MVT warns on every
/// entry of the dumpsys form, whatever its mode; the file says the mode, so
/// an op the user turned off stays silent.)
pub fn parse_appops_xml(data: &[u8], artifact: &str) -> Result<Vec<Record>, String> {
    use crate::evidence::abx::Value;
    let doc = crate::evidence::abx::read(data).map_err(|e| format!("{artifact}: {e}"))?;
    if doc.named("app-ops").next().is_none() {
        return Err(format!("{artifact}: not an appops.xml (no <app-ops>)"));
    }
    let mut out = Vec::new();
    for (p, pkg) in doc.named("pkg") {
        let name = pkg.attr_text("n");
        let mut rec = Record::new(APPOPS_XML.name, artifact)
            .event("appops_package", format!("App ops of {name}"))
            .field("package_name", name.as_str())
            .observe(ObservableType::AppId, name.as_str());
        let risky_pkg = RISKY_PACKAGES.contains(&name.as_str());
        let mut perms = Vec::new();
        let mut uid = String::new();
        for (u, uel) in doc.children(p, "uid") {
            uid = uel.attr_text("n");
            for (o, op) in doc.children(u, "op") {
                let perm = op_name(op);
                let mode = op.attr("m").and_then(Value::int).unwrap_or(3);
                let mode_name = usize::try_from(mode)
                    .ok()
                    .and_then(|m| MODES.get(m))
                    .map_or_else(|| mode.to_string(), |m| m.to_string());
                let last_access = doc
                    .children(o, "st")
                    .filter_map(|(_, st)| st.attr("t").and_then(Value::int))
                    .max()
                    .and_then(crate::time::from_unix_ms);
                perms.push(json!({"name": perm, "access": mode_name,
                    "last_access": last_access.map(|t| t.to_string())}));
                let risky = risky_pkg || RISKY_PERMISSIONS.contains(&perm.as_str());
                if risky && (mode == 0 || (last_access.is_some() && !matches!(mode, 1 | 2))) {
                    let when = last_access.map(|t| t.to_string()).unwrap_or_default();
                    rec = rec.alert(
                        &crate::rules::ANDROID_RISKY_PERMISSION,
                        risky_message(&name, &perm, &mode_name, &when, risky_pkg),
                    );
                }
            }
        }
        out.push(rec.field("uid", uid).field("permissions", perms));
    }
    Ok(out)
}
