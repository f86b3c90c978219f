//! Published process and file names that are also stock names on a clean
//! phone (`indicators-meta/stock-names.tsv`, reviewed by hand, with sources).
//! A typed match of such a name is a warning unless the record shows the
//! name outside its stock paths.

/// The reviewed list, embedded at build time.
pub const BUNDLED_TSV: &str = include_str!("../../indicators-meta/stock-names.tsv");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockKind {
    /// A stock executable.
    Process,
    /// A stock file.
    File,
    /// Not a stock binary, an ordinary word in stock logs: never downgrades.
    Word,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockName {
    pub name: String,
    pub kind: StockKind,
    /// `android`, `ios` or `any`.
    pub platform: String,
    pub paths: Vec<String>,
    pub source: String,
    pub why: String,
}

impl StockName {
    /// Whether `path` is one of the stock paths (`/var` and `/private/var`
    /// are the same folder on iOS).
    pub fn is_stock_path(&self, path: &str) -> bool {
        let canon = |p: &str| -> String {
            let p = p.trim().trim_end_matches('/');
            match p.strip_prefix("/private/var/") {
                Some(rest) => format!("/var/{rest}"),
                None => p.to_string(),
            }
        };
        let p = canon(path);
        self.paths.iter().any(|s| canon(s) == p)
    }

    /// Whether the list says a typed match of this name may be the stock one.
    pub fn downgrades(&self) -> bool {
        self.kind != StockKind::Word
    }

    fn platform_words(&self) -> &'static str {
        match self.platform.as_str() {
            "android" => "Android",
            "ios" => "iOS",
            _ => "phone",
        }
    }

    /// "gatekeeperd is also a stock Android daemon (/system/bin/gatekeeperd)".
    pub fn describe(&self) -> String {
        let what = match self.kind {
            StockKind::Process => "daemon",
            StockKind::File => "file name",
            StockKind::Word => "word in stock logs",
        };
        let paths = if self.paths.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.paths.join(", "))
        };
        format!(
            "{} is also a stock {} {what}{paths}",
            self.name,
            self.platform_words()
        )
    }
}

/// The stock-name list, by name.
#[derive(Clone, Debug, Default)]
pub struct StockNames {
    names: std::collections::HashMap<String, StockName>,
}

impl StockNames {
    pub fn bundled() -> Self {
        // The bundled list is checked by a unit test; a bad row is skipped.
        Self::parse(BUNDLED_TSV).unwrap_or_default()
    }

    /// Parses the TSV format described at the top of the bundled file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut names = std::collections::HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') || line.starts_with("name\t") {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() != 6 {
                return Err(format!(
                    "stock names line {}: expected 6 tab-separated columns, found {}",
                    n + 1,
                    cols.len()
                ));
            }
            let kind = match cols[1] {
                "process" => StockKind::Process,
                "file" => StockKind::File,
                "word" => StockKind::Word,
                other => {
                    return Err(format!(
                        "stock names line {}: unknown kind {other:?}",
                        n + 1
                    ));
                }
            };
            if !matches!(cols[2], "android" | "ios" | "any") {
                return Err(format!(
                    "stock names line {}: unknown platform {:?}",
                    n + 1,
                    cols[2]
                ));
            }
            let paths = cols[3]
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && *p != "-")
                .map(str::to_string)
                .collect();
            if cols[4].trim().is_empty() {
                return Err(format!("stock names line {}: no source", n + 1));
            }
            names.insert(
                cols[0].to_string(),
                StockName {
                    name: cols[0].to_string(),
                    kind,
                    platform: cols[2].to_string(),
                    paths,
                    source: cols[4].to_string(),
                    why: cols[5].to_string(),
                },
            );
        }
        Ok(StockNames { names })
    }

    pub fn get(&self, name: &str) -> Option<&StockName> {
        self.names.get(name)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_parses_and_names_the_issue_rows() {
        let s = StockNames::parse(BUNDLED_TSV).expect("bundled stock list parses");
        let g = s.get("gatekeeperd").expect("gatekeeperd listed");
        assert_eq!(g.kind, StockKind::Process);
        assert!(g.is_stock_path("/system/bin/gatekeeperd"));
        assert!(!g.is_stock_path("/data/local/tmp/gatekeeperd"));
        assert!(
            g.describe()
                .contains("stock Android daemon (/system/bin/gatekeeperd)")
        );
        assert!(!s.get("payload").expect("payload listed").downgrades());
        let p = s
            .get("com.apple.photolibraryd.plist")
            .expect("plist listed");
        assert!(p.is_stock_path("/var/mobile/Library/Preferences/com.apple.photolibraryd.plist"));
        assert!(s.get("Gatekeeperd").is_none(), "names are case-sensitive");
        let b = s.get("BackupAgent").expect("BackupAgent listed");
        assert!(b.is_stock_path("/usr/libexec/BackupAgent"));
        assert!(!b.is_stock_path("/usr/libexec/BackupAgent2"));
    }

    #[test]
    fn bad_rows_are_refused() {
        assert!(StockNames::parse("x\tprocess\tandroid\t-\tsrc").is_err());
        assert!(StockNames::parse("x\tbinary\tandroid\t-\tsrc\twhy").is_err());
        assert!(StockNames::parse("x\tprocess\twindows\t-\tsrc\twhy").is_err());
        assert!(StockNames::parse("x\tprocess\tandroid\t-\t\twhy").is_err());
    }
}
