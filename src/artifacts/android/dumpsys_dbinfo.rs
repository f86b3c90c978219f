//! `dumpsys dbinfo`: recent SQLite operations per database; the app ids in
//! the database paths are matched.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::{ObservableType, Record};

use super::dumpsys::indent;
use super::{DumpRead, DumpstateModule, Part};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dbinfo",
    in_androidqf: Some("aqf_dbinfo"),
    part: Part::Service("dbinfo"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

static OP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#".*\[((?:[0-9]{4}-)?[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3})\]\s*(?:\[Pid:\((\d+)\)\])?([\w-]+).*?sql="(.+?)""#)
        .expect("static regex")
});

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut pool = String::new();
    let mut in_ops = false;
    for line in section.lines() {
        if let Some(rest) = line.strip_prefix("Connection pool for ") {
            pool = rest.trim_end().trim_end_matches(':').to_string();
            in_ops = false;
            continue;
        }
        if line.trim() == "Most recently executed operations:" {
            in_ops = true;
            continue;
        }
        if !in_ops {
            continue;
        }
        if indent(line) < 8 {
            in_ops = false;
            continue;
        }
        let Some(c) = OP.captures(line) else { continue };
        let isodate = c.get(1).map(|m| m.as_str()).unwrap_or("");
        let ts = if isodate.len() > 19 {
            super::dumpsys::parse_local(isodate)
        } else {
            None
        };
        let mut rec = Record::new(MODULE.name, artifact)
            .at(ts)
            .event(
                "db_operation",
                format!("{} on {pool}", c.get(3).map(|m| m.as_str()).unwrap_or("")),
            )
            .field("isodate", isodate)
            .field("action", c.get(3).map(|m| m.as_str()).unwrap_or(""))
            .field("sql", c.get(4).map(|m| m.as_str()).unwrap_or(""))
            .field("path", pool.as_str())
            .observe(ObservableType::FilePath, pool.as_str());
        if let Some(pid) = c.get(2) {
            rec = rec.field("pid", pid.as_str());
        }
        for part in pool
            .split('/')
            .filter(|p| p.contains('.') && !p.ends_with(".db"))
        {
            rec.push_observable(ObservableType::AppId, part);
        }
        out.push(rec);
    }
    out
}
