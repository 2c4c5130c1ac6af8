//! Rules: TOML rule files, importers for the lists people already have, and compiled
//! matchers that every handshake record goes through before output.
//!
//! Rule files are read into a raw form (`raw`, serde with `deny_unknown_fields`), then
//! built once into a [`RuleSet`]; errors name the file, the line and the rule id
//! (`rules/policy.toml:12: rule policy.rc4: unknown name "TLS_RC5"`).
//!
//! # Format
//!
//! ```toml
//! # A named list, imported from a file as it is (path relative to this file).
//! [[list]]
//! name = "sslbl"
//! format = "sslbl-ja3"        # plain | sslbl-ja3 | zeek-intel
//! path = "lists/ja3_fingerprints.csv"
//! # indicator_types = ["Intel::JA3"]   # zeek-intel only (default Intel::JA3, Intel::JA4)
//!
//! [[rule]]
//! id = "intel.sslbl-ja3"      # [A-Za-z0-9._:-], at most 128 characters, unique
//! msg = "JA3 listed by abuse.ch SSLBL"
//! severity = "high"           # info | low | medium (default) | high | critical
//! category = "threat-intel"   # EVE alert.category (default: empty)
//! tags = ["malware"]
//! sid = 1000001               # EVE alert.signature_id (default: derived from the id)
//! rev = 1                     # (default 1)
//! enabled = true              # (default true; a disabled rule is still checked)
//! when = { ja3 = { list = "sslbl" } }
//!
//! [[rule]]
//! id = "policy.no-sni-public"
//! msg = "No SNI to a public address"
//! [rule.when]                 # several keys: all must hold
//! sni_present = false
//! server_ip_public = true
//! not = { transport = "quic" }
//! ```
//!
//! A condition table holds any of these keys; several keys must all hold, and
//! `all = [..]`, `any = [..]`, `not = {..}` nest. A record without the field (no
//! ServerHello, no certificate, JA4S off) does not match it, so `not` of it holds.
//!
//! * String fields take a string, an array (exact values), or a table
//!   `{ equals = [..], suffix = [..], contains = [..], regex = [..], list = [..] }` (any
//!   entry matching is enough):
//!   `ja3`, `ja3s`, `ja4`, `ja4_a`, `ja4_b`, `ja4_c`, `ja4_ab`, `ja4_ac`, `ja4_bc`, `ja4_r`,
//!   `ja4s`, `ja4x` (any certificate), `sni`, `alpn` (negotiated), `client_alpn` (any
//!   offered), `cert_issuer`, `cert_subject`, `cert_san` (any SAN of the leaf),
//!   `cert_sha1`, `cert_sha256` (any certificate of the chain). Fingerprints and digests
//!   compare lowercase (digests without `:`); names (`sni`, `cert_san`) compare lowercase
//!   without a trailing dot (regexes see that lowercase form), and `suffix = "example.com"`
//!   matches `example.com` and its subdomains at label boundaries (not `badexample.com`);
//!   DNs and ALPN compare as written. Bytes that are not UTF-8 are escaped as in events.
//! * `client_ip`, `server_ip`: addresses and CIDR blocks (or `{ list = "name" }` of them).
//! * `client_port`, `server_port`: `443`, `"8000-8100"`, `"1024:"`, or an array.
//! * `transport`: `tcp`, `quic`, `dtls`.
//! * `version` (negotiated) and `offered_version` (any the client offered): `SSLv3`,
//!   `TLS 1.0` (or `TLSv1`), `TLS 1.1`, `TLS 1.2`, `TLS 1.3`, `DTLS 1.2`, `0xNNNN`.
//! * `cipher`, `group` (negotiated), `offered_cipher`, `offered_group`: IANA names or
//!   `0xNNNN`, or `{ regex = ".." }` over the IANA names (compiled to a set of code points).
//! * `alert`: alert descriptions (any alert seen): `handshake_failure` or `40`.
//! * `outcome`: `established`, `alert`, `reset`, `timeout`, `no_server_response`,
//!   `incomplete`.
//! * Booleans: `sni_present`, `server_ip_public`, `resumed`, `hello_retry`, `cert_seen`,
//!   `cert_expired`, `cert_not_yet_valid`, `cert_self_signed`, `cert_name_mismatch`,
//!   `cert_weak_key`, `cert_weak_signature`, `cert_missing_intermediate` (the checks of
//!   `certcheck`, at packet time); `cert_key_type` (leaf: `RSA`, `EC`, ...) and
//!   `cert_key_bits_below = 2048` (leaf).
//!
//! Other tables:
//!
//! * `[[labels]] path = "ja4plus-mapping.csv"`: FoxIO's mapping, for [`RuleSet::labels`].
//! * `[[suricata]] path = "ja3.rules"` (optional `severity`, `id_prefix` (default
//!   `suricata:`), `tags`, `vars = { HOME_NET = ["10.0.0.0/8"] }`): Suricata rules over
//!   `ja3.hash`, `ja3s.hash`, `ja4.hash`; see [`suricata`].
//! * `[learn]`: the new-fingerprint learner; see [`learn`].
//!
//! # Cost
//!
//! Matching does not grow with the number of list entries or of exact-fingerprint rules:
//! a rule whose condition is (or is an `all` holding) an exact-value test on a
//! fingerprint or the SNI is indexed by those values, so a record looks up its dozen
//! values and evaluates only the rules they name, plus the rules that cannot be indexed.
//! Each matcher is a hash lookup, a label walk, one `RegexSet` pass or a binary search
//! (see [`matchers`]).

mod cond;
pub mod import;
pub mod learn;
pub mod matchers;
mod raw;
pub mod suricata;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ahash::RandomState;
use toml::Spanned;

use self::cond::{Cond, Ctx, StrField, View};
use self::learn::{DEFAULT_MAX_ENTRIES, LearnConfig, Learner};
use self::matchers::{List, StrSet};
use self::raw::{RawFile, RawLearn, RawList, RawRule, RawSuricata};
use crate::record::Handshake;

/// Cap on rule files read from one directory.
pub const MAX_FILES: usize = 10_000;

/// Cap on the size of one rule or list file.
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// Cap on a rule id's length (it becomes a metric label).
pub const MAX_ID_LEN: usize = 128;

/// How bad a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Low.
    Low,
    /// Medium (the default).
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// `info`, `low`, `medium`, `high`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Suricata's numeric `alert.severity` (its priority: 1 is the most severe):
    /// critical and high 1, medium 2, low 3, info 4.
    pub fn eve(self) -> u8 {
        match self {
            Severity::Critical | Severity::High => 1,
            Severity::Medium => 2,
            Severity::Low => 3,
            Severity::Info => 4,
        }
    }

    /// Parses the name.
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// From a Suricata `priority`.
    pub fn from_priority(p: u32) -> Severity {
        match p {
            0 | 1 => Severity::High,
            2 => Severity::Medium,
            3 => Severity::Low,
            _ => Severity::Info,
        }
    }
}

/// A rule that matched a record: what the `rules[]` entry and the alert event say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The rule id (a bounded metric label).
    pub id: Arc<str>,
    /// EVE `alert.signature_id`.
    pub sid: u32,
    /// EVE `alert.rev`.
    pub rev: u32,
    /// EVE `alert.signature`.
    pub msg: Arc<str>,
    /// Severity.
    pub severity: Severity,
    /// EVE `alert.category` (may be empty).
    pub category: Arc<str>,
    /// Tags.
    pub tags: Arc<[String]>,
}

/// What FoxIO's mapping says about a client or server: the event's `tls.labels[]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// Application (`Chromium Browser`, `Sliver Agent`).
    pub application: Option<Arc<str>>,
    /// Library (`GoLang`).
    pub library: Option<Arc<str>>,
    /// Device.
    pub device: Option<Arc<str>>,
    /// Operating system.
    pub os: Option<Arc<str>>,
    /// Notes.
    pub notes: Option<Arc<str>>,
}

/// A problem in a rule file or an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The rule's id, when the problem is inside a rule.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    /// `FILE:LINE: rule ID: message` (the line and the rule when known).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        f.write_str(": ")?;
        if let Some(r) = &self.rule {
            write!(f, "rule {r}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

/// 1-based line of a byte offset (a scan: for one-off errors).
pub(crate) fn line_of(src: &str, offset: usize) -> Option<usize> {
    let end = offset.min(src.len());
    Some(src.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1)
}

/// Offsets of a text's line starts, for many line look-ups (a binary search each).
pub(crate) struct Lines(Vec<usize>);

impl Lines {
    pub(crate) fn new(text: &str) -> Lines {
        Lines(std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect())
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> Option<usize> {
        Some(self.0.partition_point(|&s| s <= offset).max(1))
    }
}

/// What a loaded rule set holds (what `hellotap rules check` prints).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rule files read.
    pub files: usize,
    /// Rules (TOML and imported Suricata), enabled or not.
    pub rules: usize,
    /// Enabled rules.
    pub enabled: usize,
    /// Enabled rules reached through the value index.
    pub indexed: usize,
    /// Rules imported from Suricata files.
    pub suricata_rules: usize,
    /// Named lists and their entry counts.
    pub lists: Vec<(String, usize)>,
    /// FoxIO mapping rows loaded for labels.
    pub label_rows: usize,
    /// Rows skipped on purpose by importers (other Zeek indicator types, mapping rows
    /// without TLS fingerprints).
    pub skipped_rows: usize,
    /// A `[learn]` table is present, and whether it is enabled.
    pub learner: Option<bool>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: usize = self.lists.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "{} files, {} rules ({} enabled, {} indexed, {} from Suricata), {} lists ({} entries), {} label rows",
            self.files,
            self.rules,
            self.enabled,
            self.indexed,
            self.suricata_rules,
            self.lists.len(),
            entries,
            self.label_rows
        )?;
        match self.learner {
            Some(true) => f.write_str(", new-fingerprint learner on"),
            Some(false) => f.write_str(", new-fingerprint learner off"),
            None => Ok(()),
        }
    }
}

/// Exact value → rule (or label row) numbers.
type ValueIndex = HashMap<Box<str>, Vec<u32>, RandomState>;

struct Rule {
    meta: Match,
    cond: Cond,
}

struct LabelRow {
    label: Label,
    ja4: Option<Box<str>>,
    ja4s: Option<Box<str>>,
    ja4x: Option<Box<str>>,
}

/// A compiled, immutable rule set: share it behind an `Arc` and swap the `Arc` on reload.
#[derive(Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Exact values of indexed fields → rules that require one of them.
    index: Vec<(StrField, ValueIndex)>,
    /// Enabled rules that are evaluated on every record.
    always: Vec<u32>,
    label_rows: Vec<LabelRow>,
    by_ja4: ValueIndex,
    by_ja4s: ValueIndex,
    by_ja4x: ValueIndex,
    learn: Option<Arc<LearnConfig>>,
    summary: Summary,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RuleSet({})", self.summary)
    }
}

/// Checks rule files and directories, as `hellotap rules check PATH...` does.
pub fn check(paths: &[PathBuf]) -> Result<Summary, Vec<RuleError>> {
    RuleSet::load(paths).map(|s| s.summary)
}

/// The `*.toml` files a path names: itself, or a directory's, sorted.
fn expand(paths: &[PathBuf], errors: &mut Vec<RuleError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let err = |m: String| RuleError { file: p.clone(), line: None, rule: None, message: m };
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut files: Vec<PathBuf> = rd
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|f| f.extension().is_some_and(|x| x == "toml") && f.is_file())
                        .take(MAX_FILES)
                        .collect();
                    files.sort();
                    if files.is_empty() {
                        errors.push(err("no *.toml rule files in this directory".into()));
                    }
                    out.extend(files);
                }
                Err(e) => errors.push(err(e.to_string())),
            }
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn read_capped(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        // A device or FIFO (`/dev/zero`, `/dev/stdin`) would never end or block the reload.
        return Err("not a regular file".into());
    }
    // The size can change under us: read at most one byte past the cap, then check.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(text)
}

/// FNV-1a, for signature ids derived from rule ids.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// The signature id of a rule without `sid`: 1,000,000,000 + FNV-1a(id) mod 10^9.
pub fn derived_sid(id: &str) -> u32 {
    1_000_000_000 + fnv1a(id) % 1_000_000_000
}

fn valid_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(format!("a rule id is 1 to {MAX_ID_LEN} characters"));
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || "._:-".contains(*c))) {
        return Err(format!("{c:?} in a rule id (use letters, digits, . _ : -)"));
    }
    Ok(())
}

/// One parsed rule file.
struct Source {
    path: PathBuf,
    lines: Lines,
    raw: RawFile,
}

/// Collects rules during a load.
struct Builder {
    errors: Vec<RuleError>,
    lists: HashMap<String, Arc<List>>,
    rules: Vec<Rule>,
    /// Rule id → (index in `files`, line) of its first definition.
    ids: HashMap<Arc<str>, (usize, usize)>,
    files: Vec<PathBuf>,
    sids: HashMap<u32, Arc<str>>,
    set: RuleSet,
}

impl Builder {
    fn err(&mut self, src: &Source, span: std::ops::Range<usize>, rule: Option<&str>, m: impl Into<String>) {
        self.errors.push(RuleError {
            file: src.path.clone(),
            line: src.lines.line(span.start),
            rule: rule.map(str::to_string),
            message: m.into(),
        });
    }

    fn import_err(&mut self, file: &Path, e: (usize, String)) {
        self.errors.push(RuleError {
            file: file.to_path_buf(),
            line: (e.0 > 0).then_some(e.0),
            rule: None,
            message: e.1,
        });
    }

    fn severity(&mut self, src: &Source, s: &Option<Spanned<String>>, id: &str) -> Severity {
        match s {
            None => Severity::Medium,
            Some(s) => Severity::parse(s.get_ref()).unwrap_or_else(|| {
                self.err(
                    src,
                    s.span(),
                    Some(id),
                    format!("unknown severity {:?} (info, low, medium, high, critical)", s.get_ref()),
                );
                Severity::Medium
            }),
        }
    }

    /// Registers an id and sid; false (and an error) on a duplicate.
    fn claim(&mut self, file: &Path, line: usize, id: &Arc<str>, sid: u32) -> bool {
        if let Some(&(f, l)) = self.ids.get(id) {
            let m = format!("duplicate rule id (first at {}:{l})", self.files[f].display());
            self.errors.push(RuleError {
                file: file.into(),
                line: Some(line),
                rule: Some(id.to_string()),
                message: m,
            });
            return false;
        }
        if let Some(other) = self.sids.get(&sid) {
            let m = format!("sid {sid} is also rule {other}'s (set a distinct sid)");
            self.errors.push(RuleError {
                file: file.into(),
                line: Some(line),
                rule: Some(id.to_string()),
                message: m,
            });
            return false;
        }
        if self.files.last().is_none_or(|f| f != file) {
            self.files.push(file.to_path_buf());
        }
        self.ids.insert(id.clone(), (self.files.len() - 1, line));
        self.sids.insert(sid, id.clone());
        true
    }

    fn list(&mut self, src: &Source, l: &Spanned<RawList>) {
        let r = l.get_ref();
        let name = r.name.get_ref().clone();
        if self.lists.contains_key(&name) {
            self.err(src, r.name.span(), None, format!("list {name:?} is declared twice"));
            return;
        }
        let path = resolve(&src.path, r.path.get_ref());
        let text = match read_capped(&path) {
            Ok(t) => t,
            Err(e) => {
                return self.err(src, r.path.span(), None, format!("list {name:?}: {}: {e}", path.display()));
            }
        };
        let imported = match r.format.get_ref().as_str() {
            "plain" => import::plain(&text),
            "sslbl-ja3" => import::sslbl_ja3(&text),
            "zeek-intel" => {
                let types: Vec<String> = r
                    .indicator_types
                    .clone()
                    .unwrap_or_else(|| import::ZEEK_DEFAULT_TYPES.iter().map(|s| s.to_string()).collect());
                import::zeek_intel(&text, &types)
            }
            f => {
                return self.err(
                    src,
                    r.format.span(),
                    None,
                    format!("unknown list format {f:?} (plain, sslbl-ja3, zeek-intel; ja4plus-mapping goes in [[labels]], Suricata rules in [[suricata]])"),
                );
            }
        };
        match imported {
            Ok(i) => {
                self.set.summary.skipped_rows += i.skipped;
                let entries: StrSet = i.values.into_iter().map(String::into_boxed_str).collect();
                self.set.summary.lists.push((name.clone(), entries.len()));
                self.lists.insert(name.clone(), Arc::new(List { name, source: path, entries }));
            }
            Err(errs) => {
                for e in errs {
                    self.import_err(&path, e);
                }
            }
        }
    }

    fn labels(&mut self, src: &Source, l: &Spanned<raw::RawLabels>) {
        let r = l.get_ref();
        if let Some(f) = &r.format {
            if f.get_ref() != "ja4plus-mapping" {
                return self.err(
                    src,
                    f.span(),
                    None,
                    format!("unknown labels format {:?} (ja4plus-mapping)", f.get_ref()),
                );
            }
        }
        let path = resolve(&src.path, r.path.get_ref());
        let text = match read_capped(&path) {
            Ok(t) => t,
            Err(e) => return self.err(src, r.path.span(), None, format!("{}: {e}", path.display())),
        };
        match import::ja4plus_mapping(&text) {
            Ok((rows, skipped)) => {
                self.set.summary.skipped_rows += skipped;
                let a = |s: Option<String>| s.map(Arc::<str>::from);
                for row in rows {
                    let i = u32::try_from(self.set.label_rows.len()).unwrap_or(u32::MAX);
                    // Index each row under its first fingerprint; the others are checked.
                    if let Some(k) = &row.ja4 {
                        self.set.by_ja4.entry(k.as_str().into()).or_default().push(i);
                    } else if let Some(k) = &row.ja4s {
                        self.set.by_ja4s.entry(k.as_str().into()).or_default().push(i);
                    } else if let Some(k) = &row.ja4x {
                        self.set.by_ja4x.entry(k.as_str().into()).or_default().push(i);
                    }
                    self.set.label_rows.push(LabelRow {
                        label: Label {
                            application: a(row.application),
                            library: a(row.library),
                            device: a(row.device),
                            os: a(row.os),
                            notes: a(row.notes),
                        },
                        ja4: row.ja4.map(String::into_boxed_str),
                        ja4s: row.ja4s.map(String::into_boxed_str),
                        ja4x: row.ja4x.map(String::into_boxed_str),
                    });
                }
                self.set.summary.label_rows = self.set.label_rows.len();
            }
            Err(errs) => {
                for e in errs {
                    self.import_err(&path, e);
                }
            }
        }
    }

    fn rule(&mut self, src: &Source, r: &Spanned<RawRule>) {
        let raw = r.get_ref();
        let id = raw.id.get_ref().as_str();
        let line = src.lines.line(raw.id.span().start).unwrap_or(0);
        if let Err(e) = valid_id(id) {
            return self.err(src, raw.id.span(), Some(id), e);
        }
        let severity = self.severity(src, &raw.severity, id);
        let mut errors = std::mem::take(&mut self.errors);
        let cond = {
            let mut ctx = Ctx {
                file: &src.path,
                lines: &src.lines,
                rule: Some(id.to_string()),
                lists: &self.lists,
                errors: &mut errors,
            };
            cond::compile_at(&mut ctx, raw.when.span(), raw.when.get_ref())
        };
        self.errors = errors;
        if raw.msg.trim().is_empty() {
            self.err(src, raw.id.span(), Some(id), "msg is empty");
        }
        let id: Arc<str> = Arc::from(id);
        let sid = raw.sid.unwrap_or_else(|| derived_sid(&id));
        if !self.claim(&src.path, line, &id, sid) {
            return;
        }
        let Some(cond) = cond else { return };
        let meta = Match {
            id,
            sid,
            rev: raw.rev.unwrap_or(1),
            msg: Arc::from(raw.msg.as_str()),
            severity,
            category: Arc::from(raw.category.as_deref().unwrap_or("")),
            tags: Arc::from(raw.tags.clone()),
        };
        self.set.summary.rules += 1;
        if raw.enabled {
            self.rules.push(Rule { meta, cond });
        }
    }

    fn suricata(&mut self, src: &Source, s: &Spanned<RawSuricata>) {
        let r = s.get_ref();
        let path = resolve(&src.path, r.path.get_ref());
        let text = match read_capped(&path) {
            Ok(t) => t,
            Err(e) => return self.err(src, r.path.span(), None, format!("{}: {e}", path.display())),
        };
        let severity = match &r.severity {
            Some(sv) => Severity::parse(sv.get_ref()).unwrap_or_else(|| {
                self.err(src, sv.span(), None, format!("unknown severity {:?}", sv.get_ref()));
                Severity::Medium
            }),
            None => Severity::Medium,
        };
        let vars: BTreeMap<String, Vec<String>> =
            r.vars.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
        let parsed = match suricata::parse(&text, &vars) {
            Ok(p) => p,
            Err(errs) => {
                for e in errs {
                    self.import_err(&path, e);
                }
                return;
            }
        };
        let prefix = r.id_prefix.as_deref().unwrap_or("suricata:");
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut datasets: HashMap<(PathBuf, String), Arc<List>> = HashMap::new();
        for sr in parsed {
            let lists = &self.lists;
            let mut resolve_ds = |t: &suricata::Test| -> Result<Arc<List>, String> {
                let suricata::Test::Dataset { name, kind, load, .. } = t else {
                    return Err("not a dataset".into());
                };
                let Some(load) = load else {
                    return lists.get(name).cloned().ok_or_else(|| {
                        format!("dataset {name:?} has no `load` and no [[list]] of that name is declared")
                    });
                };
                let kind =
                    kind.clone().ok_or("a dataset with `load` needs a `type` (string, md5, sha256)")?;
                let p = dir.join(load);
                if let Some(l) = datasets.get(&(p.clone(), kind.clone())) {
                    return Ok(l.clone());
                }
                let text = read_capped(&p).map_err(|e| format!("dataset {name:?}: {}: {e}", p.display()))?;
                let values = suricata::load_dataset(&text, &kind).map_err(|errs| {
                    let (n, m) = &errs[0];
                    format!("dataset {}:{n}: {m}", p.display())
                })?;
                let entries: StrSet = values.into_iter().map(String::into_boxed_str).collect();
                let l = Arc::new(List { name: name.clone(), source: p.clone(), entries });
                datasets.insert((p, kind), l.clone());
                Ok(l)
            };
            let id: Arc<str> = Arc::from(format!("{prefix}{}", sr.sid));
            let cond = match suricata::compile_rule(&sr, &mut resolve_ds) {
                Ok(c) => c,
                Err(m) => {
                    self.errors.push(RuleError {
                        file: path.clone(),
                        line: Some(sr.line),
                        rule: Some(id.to_string()),
                        message: m,
                    });
                    continue;
                }
            };
            if !self.claim(&path, sr.line, &id, sr.sid) {
                continue;
            }
            let meta = Match {
                id,
                sid: sr.sid,
                rev: sr.rev,
                msg: Arc::from(sr.msg.as_str()),
                severity: sr.priority.map(Severity::from_priority).unwrap_or(severity),
                category: Arc::from(sr.classtype.as_deref().unwrap_or("")),
                tags: Arc::from(r.tags.clone()),
            };
            self.set.summary.rules += 1;
            self.set.summary.suricata_rules += 1;
            self.rules.push(Rule { meta, cond });
        }
        for (_, l) in datasets {
            self.set.summary.lists.push((format!("suricata dataset {}", l.name), l.entries.len()));
        }
    }

    fn learn(&mut self, src: &Source, l: &Spanned<RawLearn>) {
        let r = l.get_ref();
        let id = r.id.get_ref().as_str();
        if self.set.learn.is_some() {
            return self.err(
                src,
                l.span(),
                Some(id),
                "a second [learn] table (only one learner per rule set)",
            );
        }
        if let Err(e) = valid_id(id) {
            return self.err(src, r.id.span(), Some(id), e);
        }
        let severity = self.severity(src, &r.severity, id);
        let Some(field) = LearnConfig::field_by_name(r.field.get_ref()) else {
            return self.err(
                src,
                r.field.span(),
                Some(id),
                format!("the learner watches ja4, ja3, ja4s, ja3s or ja4_ac, not {:?}", r.field.get_ref()),
            );
        };
        let mut errors = std::mem::take(&mut self.errors);
        let when = r.when.as_ref().and_then(|w| {
            let mut ctx = Ctx {
                file: &src.path,
                lines: &src.lines,
                rule: Some(id.to_string()),
                lists: &self.lists,
                errors: &mut errors,
            };
            cond::compile(&mut ctx, w)
        });
        self.errors = errors;
        let idr: Arc<str> = Arc::from(id);
        let sid = r.sid.unwrap_or_else(|| derived_sid(id));
        let line = src.lines.line(r.id.span().start).unwrap_or(0);
        if !self.claim(&src.path, line, &idr, sid) {
            return;
        }
        let max_entries = r.max_entries.unwrap_or(DEFAULT_MAX_ENTRIES);
        if max_entries == 0 {
            self.err(src, l.span(), Some(id), "max_entries must be at least 1");
        }
        self.set.summary.learner = Some(r.enabled);
        self.set.learn = Some(Arc::new(LearnConfig {
            enabled: r.enabled,
            meta: Match {
                id: idr,
                sid,
                rev: 1,
                msg: Arc::from(r.msg.as_str()),
                severity,
                category: Arc::from(r.category.as_deref().unwrap_or("")),
                tags: Arc::from(r.tags.clone()),
            },
            field,
            field_name: r.field.get_ref().clone(),
            warmup_secs: r.warmup.get_ref().0,
            state: r.state.as_ref().map(|s| resolve(&src.path, s.get_ref())),
            max_entries,
            when,
        }));
    }
}

/// A path from a rule file, relative to that file's folder.
fn resolve(rule_file: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() { p.to_path_buf() } else { rule_file.parent().unwrap_or(Path::new(".")).join(p) }
}

impl RuleSet {
    /// An empty rule set (no rules, no labels, no learner).
    pub fn empty() -> RuleSet {
        RuleSet::default()
    }

    /// Loads and compiles rule files and directories (their `*.toml` files, sorted).
    /// Lists may be used by rules in any of the files. Every problem found is returned,
    /// not only the first.
    pub fn load(paths: &[PathBuf]) -> Result<RuleSet, Vec<RuleError>> {
        let mut errors = Vec::new();
        let files = expand(paths, &mut errors);
        let mut sources = Vec::new();
        for path in files {
            let text = match read_capped(&path) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(RuleError { file: path, line: None, rule: None, message: e });
                    continue;
                }
            };
            match toml::from_str::<RawFile>(&text) {
                Ok(raw) => sources.push(Source { path, lines: Lines::new(&text), raw }),
                Err(e) => errors.push(RuleError {
                    line: e.span().and_then(|s| line_of(&text, s.start)),
                    file: path,
                    rule: None,
                    message: e.message().to_string(),
                }),
            }
        }
        let mut b = Builder {
            errors,
            lists: HashMap::new(),
            rules: Vec::new(),
            ids: HashMap::new(),
            files: Vec::new(),
            sids: HashMap::new(),
            set: RuleSet::default(),
        };
        b.set.summary.files = sources.len();
        for s in &sources {
            for l in &s.raw.list {
                b.list(s, l);
            }
            for l in &s.raw.labels {
                b.labels(s, l);
            }
        }
        for s in &sources {
            for r in &s.raw.rule {
                b.rule(s, r);
            }
            for r in &s.raw.suricata {
                b.suricata(s, r);
            }
            if let Some(l) = &s.raw.learn {
                b.learn(s, l);
            }
        }
        if !b.errors.is_empty() {
            return Err(b.errors);
        }
        let mut set = b.set;
        set.rules = b.rules;
        set.build_index();
        set.summary.lists.sort();
        Ok(set)
    }

    fn build_index(&mut self) {
        let mut index: HashMap<StrField, ValueIndex> = HashMap::new();
        for (i, r) in self.rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match r.cond.anchor() {
                Some((f, m)) => {
                    let map = index.entry(f).or_default();
                    for v in &m.exact {
                        map.entry(v.clone()).or_default().push(i);
                    }
                }
                None => self.always.push(i),
            }
        }
        self.summary.enabled = self.rules.len();
        self.summary.indexed = self.rules.len() - self.always.len();
        self.index = index.into_iter().collect();
        self.index.sort_by_key(|(f, _)| StrField::INDEXED.iter().position(|x| x == f));
    }

    /// The rules `h` matches, in rule order (files in path order, rules in file order).
    pub fn matches(&self, h: &Handshake) -> Vec<Match> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let view = View::new(h);
        let mut cand: Vec<u32> = self.always.clone();
        for (f, map) in &self.index {
            if let Some(ids) = view.single(*f).and_then(|v| map.get(v)) {
                cand.extend_from_slice(ids);
            }
        }
        cand.sort_unstable();
        cand.dedup();
        cand.into_iter()
            .map(|i| &self.rules[i as usize])
            .filter(|r| r.cond.eval(&view))
            .map(|r| r.meta.clone())
            .collect()
    }

    /// FoxIO mapping labels for `h`: rows whose every TLS fingerprint (JA4, JA4S, JA4X of
    /// any certificate) equals the record's. A row that names a JA4S matches only when
    /// JA4+ is on. Duplicates are removed.
    pub fn labels(&self, h: &Handshake) -> Vec<Label> {
        if self.label_rows.is_empty() {
            return Vec::new();
        }
        let fp = &h.fingerprints;
        let ja4 = fp.ja4.as_ref().map(|j| j.ja4.as_str());
        let ja4s = fp.ja4s.as_ref().map(|j| j.ja4s.as_str());
        let mut cand: Vec<u32> = Vec::new();
        if let Some(v) = ja4.and_then(|k| self.by_ja4.get(k)) {
            cand.extend_from_slice(v);
        }
        if let Some(v) = ja4s.and_then(|k| self.by_ja4s.get(k)) {
            cand.extend_from_slice(v);
        }
        for c in &h.certificates {
            if let Some(v) = c.ja4x.as_ref().and_then(|(k, _)| self.by_ja4x.get(k.as_str())) {
                cand.extend_from_slice(v);
            }
        }
        cand.sort_unstable();
        cand.dedup();
        let mut out: Vec<Label> = Vec::new();
        for i in cand {
            let row = &self.label_rows[i as usize];
            let ok = row.ja4.as_deref().is_none_or(|x| ja4 == Some(x))
                && row.ja4s.as_deref().is_none_or(|x| ja4s == Some(x))
                && row.ja4x.as_deref().is_none_or(|x| {
                    h.certificates.iter().any(|c| c.ja4x.as_ref().is_some_and(|(a, _)| a == x))
                });
            if ok && !out.contains(&row.label) {
                out.push(row.label.clone());
            }
        }
        out
    }

    /// The learner's configuration, when a `[learn]` table is present (enabled or not).
    pub fn learn_config(&self) -> Option<&Arc<LearnConfig>> {
        self.learn.as_ref()
    }

    /// A learner for this rule set when `[learn]` is enabled, with its saved state loaded
    /// from `state` when that file exists.
    pub fn learner(&self) -> Option<std::io::Result<Learner>> {
        let cfg = self.learn.as_ref().filter(|c| c.enabled)?.clone();
        Some(match cfg.state.clone() {
            Some(p) => Learner::load(cfg, &p),
            None => Ok(Learner::new(cfg)),
        })
    }

    /// What was loaded.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Number of enabled rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// No enabled rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Ids of the enabled rules, in order (to pre-register metric label values).
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.meta.id.as_ref())
    }
}

#[cfg(test)]
mod tests;
