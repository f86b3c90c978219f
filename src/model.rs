//! The records every artifact module produces, the device facts around them,
//! and (in `finding`) what a scan concludes: findings, timeline rows.
//!
//! Records are the boundary of the pipeline: artifact modules build them, the
//! matcher reads them, `records/<module>.jsonl` stores them so `spydar recheck`
//! can match them again without the device.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod finding;
mod indicator;
pub use finding::{Finding, FindingKind, IndicatorRef, Suppressed, TimelineRow};
pub use indicator::{Indicator, ObservableType};

/// A typed value taken from the device, as found there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Observable {
    #[serde(rename = "type")]
    pub kind: ObservableType,
    pub value: String,
}

/// Report levels (REPORT.md). Ordered from most to least serious.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Detected,
    Warning,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Detected => "detected",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// Severity orders findings for a person (REPORT.md). Most serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Info => "info",
        }
    }
}

/// A heuristic as the rule catalogue (`crate::rules`) defines it. A module
/// raises it on a record with [`Record::alert`] and its own message; the level
/// and severity come from here, never from the call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, as reports and `--allow rule:ID` name it.
    pub id: &'static str,
    /// `warning` or `info`; never `detected` (reserved for indicators).
    pub level: Level,
    pub severity: Severity,
    /// A few words for `spydar rules list` and README.
    pub title: &'static str,
    /// What it means, why it is not a detection, what to do.
    pub explanation: &'static str,
    /// Where the heuristic comes from (a publication, a tool), or
    /// "spydar heuristic".
    pub reference: &'static str,
}

/// A heuristic raised by an artifact module on one record: not a published
/// indicator, something an expert should look at (or context, at `info`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Alert {
    /// Stable rule id, e.g. `shutdown_log.sticky_process`.
    pub rule: String,
    /// `warning` or `info`; never `detected` (that is reserved for indicators).
    pub level: Level,
    pub severity: Severity,
    /// One sentence a person can read.
    pub message: String,
}

/// A name a record carries (module, artifact, event): the same few for
/// every record of a module, shared rather than copied into each (see
/// [`Name::new`]). Reads as a `str`; compares with one.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

impl Name {
    /// `name`, sharing the allocation made before on this thread when it
    /// is one of the last few names made there.
    pub fn new(name: &str) -> Self {
        Name(shared_name(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name::new(&s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0.to_string()
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

/// A field key: almost always a constant (borrowed, no allocation).
pub type Key = Cow<'static, str>;

/// What [`Record::field`] takes as a key: a constant name (kept borrowed)
/// or a `String` made at run time.
pub trait IntoKey {
    fn into_key(self) -> Key;
}

impl IntoKey for &'static str {
    fn into_key(self) -> Key {
        Key::Borrowed(self)
    }
}

impl IntoKey for &&'static str {
    fn into_key(self) -> Key {
        Key::Borrowed(*self)
    }
}

impl IntoKey for String {
    fn into_key(self) -> Key {
        Key::Owned(self)
    }
}

impl IntoKey for &String {
    fn into_key(self) -> Key {
        Key::Owned(self.clone())
    }
}

impl IntoKey for Key {
    fn into_key(self) -> Key {
        self
    }
}

/// One thing an artifact module extracted: a visit, a message, a process, a
/// package. `fields` holds the module's own columns; `observables` the typed
/// values the matcher checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub module: Name,
    /// Logical path of the source, e.g. `HomeDomain/Library/SMS/sms.db`.
    pub artifact: Name,
    pub timestamp: Option<Timestamp>,
    /// Short event name for the timeline (`visit`, `message`, `reboot`, ...).
    pub event: Name,
    /// One line for the timeline.
    pub description: String,
    pub fields: Fields,
    pub observables: Vec<Observable>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<Alert>,
}

/// Names remembered a thread (module, artifact and event names of the
/// records made last).
const NAMES_KEPT: usize = 16;

thread_local! {
    /// Recent names made on this thread, the next one to replace first.
    static NAMES: std::cell::RefCell<(Vec<Arc<str>>, usize)> =
        const { std::cell::RefCell::new((Vec::new(), 0)) };
}

/// `name` as an `Arc`: the one made before on this thread when it is one
/// of the last few, so that a module's records share one allocation of
/// their module, artifact and event names.
fn shared_name(name: &str) -> Arc<str> {
    NAMES.with(|cell| {
        let mut cell = cell.borrow_mut();
        let (kept, next) = &mut *cell;
        if let Some(n) = kept.iter().find(|n| n.len() == name.len() && ***n == *name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        if kept.len() < NAMES_KEPT {
            kept.push(n.clone());
        } else {
            kept[*next] = n.clone();
            *next = (*next + 1) % NAMES_KEPT;
        }
        n
    })
}

impl Record {
    pub fn new(module: &str, artifact: &str) -> Self {
        Record {
            module: Name::new(module),
            artifact: Name::new(artifact),
            timestamp: None,
            event: Name::new(""),
            description: String::new(),
            fields: Fields::default(),
            observables: Vec::new(),
            alerts: Vec::new(),
        }
    }

    pub fn at(mut self, ts: Option<Timestamp>) -> Self {
        self.timestamp = ts;
        self
    }

    pub fn event(mut self, event: &str, description: impl Into<String>) -> Self {
        self.event = Name::new(event);
        self.description = description.into();
        self
    }

    /// Sets field `key` (a constant name, or an owned `String`).
    pub fn field(mut self, key: impl IntoKey, value: impl Into<Value>) -> Self {
        self.fields.insert(key.into_key(), value.into());
        self
    }

    /// Sets field `key`, which this record does not have yet (each of a
    /// module's constant keys set once): in place, with no search for an
    /// earlier value. For modules that make a record per row of a large table.
    pub fn push_field(&mut self, key: impl IntoKey, value: impl Into<Value>) {
        self.fields.push_new(key.into_key(), value.into());
    }

    /// Adds an observable; empty values are dropped so modules need not check.
    pub fn observe(mut self, kind: ObservableType, value: impl Into<String>) -> Self {
        self.push_observable(kind, value);
        self
    }

    pub fn push_observable(&mut self, kind: ObservableType, value: impl Into<String>) {
        let value = value.into();
        // (What `trim().is_empty()` says, stopping at the first character.)
        if value.chars().all(char::is_whitespace) {
            return;
        }
        let obs = Observable { kind, value };
        if !self.observables.contains(&obs) {
            self.observables.push(obs);
        }
    }

    /// Raises the catalogue heuristic `rule` on this record; `message` says
    /// what this record shows.
    pub fn alert(mut self, rule: &Rule, message: impl Into<String>) -> Self {
        self.push_alert(rule, message);
        self
    }

    pub fn push_alert(&mut self, rule: &Rule, message: impl Into<String>) {
        self.alerts.push(Alert {
            rule: rule.id.to_string(),
            level: rule.level,
            severity: rule.severity,
            message: message.into(),
        });
    }
}

/// A record's own columns, in the order the module set them. A small vector
/// rather than a map: a backup yields hundreds of thousands of records with
/// a handful of fields each, and a B-tree node per record costs ~650 bytes.
/// Keys are mostly constants (borrowed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields(Vec<(Key, Value)>);

/// Scratch space for [`Fields::sorted`], reused record after record.
#[derive(Debug, Default)]
pub struct FieldOrder {
    /// Address and length of the constant keys the order was made for
    /// (empty when not all were constant).
    keys: Vec<(usize, usize)>,
    order: Vec<usize>,
}

/// Fields a record is given room for at its first: most have fewer, and
/// growing the vector field by field costs a reallocation each doubling.
const FIELDS_ROOM: usize = 8;

impl Fields {
    /// Sets `key`, replacing an earlier value; returns the old one.
    pub fn insert(&mut self, key: Key, value: Value) -> Option<Value> {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.push_unchecked(key, value);
                None
            }
        }
    }

    /// Adds `key`, which must not be set yet (see [`Record::push_field`]).
    fn push_new(&mut self, key: Key, value: Value) {
        debug_assert!(!self.contains_key(&key), "field {key} set twice");
        self.push_unchecked(key, value);
    }

    fn push_unchecked(&mut self, key: Key, value: Value) {
        if self.0.capacity() == 0 {
            self.0.reserve_exact(FIELDS_ROOM);
        }
        self.0.push((key, value));
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// In the order the module set them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Sorted by key, as the records files show them. `cache` keeps the
    /// order worked out for the last record, reused while records come with
    /// the same constant keys in the same order (most modules set them so).
    pub fn sorted<'a>(
        &'a self,
        cache: &'a mut FieldOrder,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> {
        // A constant key's address names its text for good; an owned
        // key's may be reused by another text, so those are never cached.
        let constant = |k: &Key| match k {
            Cow::Borrowed(s) => Some((s.as_ptr() as usize, s.len())),
            Cow::Owned(_) => None,
        };
        let same = cache.keys.len() == self.0.len()
            && self
                .0
                .iter()
                .zip(&cache.keys)
                .all(|((k, _), c)| constant(k) == Some(*c));
        if !same {
            cache.order.clear();
            cache.order.extend(0..self.0.len());
            cache
                .order
                .sort_unstable_by(|&a, &b| self.0[a].0.cmp(&self.0[b].0));
            cache.keys.clear();
            if let Some(keys) = self
                .0
                .iter()
                .map(|(k, _)| constant(k))
                .collect::<Option<Vec<_>>>()
            {
                cache.keys = keys;
            }
        }
        let order: &'a [usize] = &cache.order;
        order.iter().map(|&i| (self.0[i].0.as_ref(), &self.0[i].1))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields sorted by key, as findings and reports show them.
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.0
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = Value;

    /// `Value::Null` for a missing key, as `serde_json::Value` indexing does.
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // Sorted by key, so the JSON is the same whatever order a module used.
        let mut sorted: Vec<&(Key, Value)> = self.0.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut map = serializer.serialize_map(Some(sorted.len()))?;
        for (k, v) in sorted {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, Value>::deserialize(deserializer)?;
        Ok(Fields(
            map.into_iter().map(|(k, v)| (Key::Owned(k), v)).collect(),
        ))
    }
}

/// How a module ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleStatus {
    Ok,
    /// The artifact is not in this input (common and not an error).
    Missing,
    /// The artifact is there but could not be read; `error` says why.
    Error,
}

/// The outcome of one artifact module on one device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModuleOutput {
    pub name: String,
    pub artifact: String,
    pub status: ModuleStatus,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// Records still held here (those not handed to a `RecordSink`).
    #[serde(skip)]
    pub records: Vec<Record>,
    /// Records already handed to a `RecordSink`.
    #[serde(skip)]
    pub streamed: usize,
}

impl ModuleOutput {
    /// Every record the module made, held here or streamed.
    pub fn record_count(&self) -> usize {
        self.records.len() + self.streamed
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Ios,
    Android,
}

/// Device facts for the report header.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub platform: Option<Platform>,
    pub input_kind: String,
    pub input_path: String,
    pub identifier: Option<String>,
    pub name: Option<String>,
    pub model: Option<String>,
    pub os_version: Option<String>,
    pub build: Option<String>,
    /// Anything else worth showing (backup date, encryption flag, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// Everything one input produced before matching.
#[derive(Clone, Debug, Default)]
pub struct DeviceScan {
    pub device: DeviceInfo,
    pub modules: Vec<ModuleOutput>,
    /// Input-level problems that are not a module's (a truncated archive, a
    /// refused member name). They go to stderr and into the report.
    pub notes: Vec<String>,
}
