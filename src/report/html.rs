//! One self-contained HTML page per device: no external assets, works
//! offline, every string escaped (device data and indicator names are
//! attacker-controlled).

use std::fmt::Write as _;

use super::{DeviceSummary, Report, Verdict};
use crate::model::{Level, ModuleStatus};

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.verdict{padding:1rem 1.2rem;border-radius:.5rem;margin:1rem 0;font-size:1.05rem}
.detected{background:#fde8e8;border:2px solid #c81e1e}.warnings{background:#fdf6e3;border:2px solid #c27803}.no-findings{background:#eef6ee;border:2px solid #3f7f3f}.nothing-read{background:#f3f4f6;border:2px solid #b45309}
table{border-collapse:collapse;width:100%;font-size:.9rem;table-layout:fixed}th,td{border-bottom:1px solid #e5e5e5;text-align:left;padding:.35rem .5rem;vertical-align:top;overflow-wrap:anywhere}
table.kv th{width:12rem}col.lvl{width:8rem}col.time{width:11rem}col.ind{width:30%}
th{background:#f6f6f6}td.v,.mono{font-family:ui-monospace,Menlo,monospace}
.lvl-detected{color:#c81e1e;font-weight:bold}.lvl-warning{color:#b45309;font-weight:bold}.lvl-info{color:#555}
.err{color:#c81e1e}.muted{color:#666;font-size:.85rem}details{margin:.3rem 0}";

fn verdict_text(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Detected => ("detected", "Traces of known spyware were found"),
        Verdict::Warnings => (
            "warnings",
            "No known spyware indicator matched, but some things need an expert's look",
        ),
        Verdict::NoFindings => ("no-findings", "No known spyware indicator was found"),
        Verdict::NothingRead => (
            "nothing-read",
            "Nothing could be read from this input; this is not a clean result",
        ),
    }
}

pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let d = &r.device;
    let title = d
        .name
        .clone()
        .or(d.identifier.clone())
        .unwrap_or_else(|| d.input_path.clone());
    let (class, headline) = verdict_text(r.summary.verdict);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>spydar report: {}</title><style>{STYLE}</style></head><body>",
        escape(&title)
    );
    let _ = write!(h, "<h1>spydar report: {}</h1>", escape(&title));
    let _ = write!(
        h,
        "<div class=\"verdict {class}\"><strong>{headline}.</strong> {} detected, {} warnings, {} notes.<p>{}</p></div>",
        r.summary.detected,
        r.summary.warning,
        r.summary.info,
        escape(&r.summary.note)
    );
    h.push_str("<h2>Device</h2><table class=\"kv\">");
    let rows = [
        (
            "Platform",
            d.platform.map(|p| match p {
                crate::model::Platform::Ios => "iOS".to_string(),
                crate::model::Platform::Android => "Android".to_string(),
            }),
        ),
        (
            "Input",
            Some(format!("{} ({})", d.input_path, d.input_kind)),
        ),
        ("Name", d.name.clone()),
        ("Identifier", d.identifier.clone()),
        ("Model", d.model.clone()),
        ("OS version", d.os_version.clone()),
        ("Build", d.build.clone()),
    ];
    for (k, v) in rows.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
        let _ = write!(h, "<tr><th>{k}</th><td>{}</td></tr>", escape(v));
    }
    for (k, v) in &d.extra {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    let _ = write!(
        h,
        "<tr><th>Scanned</th><td>{} ({} ms) with spydar {}; {} indicators from {} sources</td></tr></table>",
        r.scan.started,
        r.scan.duration_ms,
        escape(&r.tool.version),
        r.indicators.total,
        r.indicators.sources.len()
    );

    h.push_str("<h2>Findings</h2>");
    if r.findings.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str(
            "<table><colgroup><col class=\"lvl\"><col class=\"time\"><col><col class=\"ind\"></colgroup>\
             <tr><th>Level</th><th>Time (UTC)</th><th>What was found</th><th>Indicator</th></tr>",
        );
        for f in &r.findings {
            let lvl = f.level.as_str();
            let time = f.timestamp.map(|t| t.to_string()).unwrap_or_default();
            let ind = match &f.indicator {
                Some(i) => format!(
                    "<strong>{}</strong><br><span class=\"muted mono\">{}</span><br><span class=\"muted\">{}</span>",
                    escape(i.malware.as_deref().unwrap_or("-")),
                    escape(&i.pattern),
                    escape(&i.source)
                ),
                None => format!(
                    "<span class=\"muted\">heuristic {}</span>",
                    escape(f.rule.as_deref().unwrap_or(""))
                ),
            };
            let _ = write!(
                h,
                "<tr><td class=\"lvl-{lvl}\">{lvl}<br><span class=\"muted\">{}</span></td><td>{}</td>\
                 <td>{}<br><span class=\"muted\">{} · <span class=\"mono\">{}</span></span></td><td>{ind}</td></tr>",
                f.severity.as_str(),
                escape(&time),
                escape(&f.message),
                escape(&f.module),
                escape(&f.artifact)
            );
        }
        h.push_str("</table>");
    }
    if !r.suppressed.is_empty() {
        let _ = write!(
            h,
            "<h2>Suppressed by the allow list ({})</h2><ul>",
            r.suppressed.len()
        );
        for s in &r.suppressed {
            let _ = write!(
                h,
                "<li>{} <span class=\"muted\">({})</span></li>",
                escape(&s.finding.message),
                escape(&s.reason)
            );
        }
        h.push_str("</ul>");
    }
    if !r.notes.is_empty() {
        h.push_str("<h2>Problems reading the input</h2><ul>");
        for n in &r.notes {
            let _ = write!(h, "<li class=\"err\">{}</li>", escape(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("<h2>Modules</h2><table><tr><th>Module</th><th>Artifact</th><th>Status</th><th>Records</th><th>Time</th></tr>");
    for m in &r.modules {
        let status = match m.status {
            ModuleStatus::Ok => "ok".to_string(),
            ModuleStatus::Missing => "not in this input".to_string(),
            ModuleStatus::Error => format!(
                "<span class=\"err\">error: {}</span>",
                escape(m.error.as_deref().unwrap_or(""))
            ),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"v\">{}</td><td>{status}</td><td>{}</td><td>{} ms</td></tr>",
            escape(&m.name),
            escape(&m.artifact),
            m.records,
            m.duration_ms
        );
    }
    h.push_str("</table><h2>Indicator sources</h2><table><tr><th>Source</th><th>Indicators</th><th>Malware</th></tr>");
    for s in &r.indicators.sources {
        let _ = write!(
            h,
            "<tr><td class=\"v\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.name),
            s.indicators,
            escape(&s.malware.join(", "))
        );
    }
    h.push_str("</table><p class=\"muted\">Indicators: Amnesty International Security Lab (CC BY 2.0) and mvt-indicators (MIT), and any given with --iocs. \
        Levels: <b>detected</b> = a published indicator matched; <b>warning</b> = a heuristic that needs an expert's look; <b>info</b> = context.</p></body></html>\n");
    h
}

pub fn render_index(devices: &[DeviceSummary]) -> String {
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>spydar: {} devices</title><style>{STYLE}</style></head><body><h1>spydar: {} devices</h1>\
         <table><tr><th>Device</th><th>Input</th><th>Verdict</th><th>Detected</th><th>Warnings</th><th>Modules failed</th></tr>",
        devices.len(),
        devices.len()
    );
    for d in devices {
        let verdict = match (&d.error, d.verdict) {
            (Some(e), _) => format!("<span class=\"err\">not scanned: {}</span>", escape(e)),
            (None, Some(v)) => {
                let (class, text) = verdict_text(v);
                format!(
                    "<span class=\"lvl-{}\">{text}</span>",
                    if class == "detected" {
                        Level::Detected.as_str()
                    } else if class == "warnings" || class == "nothing-read" {
                        "warning"
                    } else {
                        "info"
                    }
                )
            }
            (None, None) => String::new(),
        };
        let link = d
            .report
            .as_ref()
            .map(|_| {
                format!(
                    "<a href=\"{}/report.html\">{}</a>",
                    escape(&d.id),
                    escape(&d.id)
                )
            })
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{link}</td><td class=\"v\">{}</td><td>{verdict}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.input_path),
            d.detected,
            d.warning,
            d.modules_failed
        );
    }
    h.push_str("</table></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<script>\"'&"),
            "&lt;script&gt;&quot;&#39;&amp;"
        );
    }
}
