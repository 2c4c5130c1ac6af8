//! "New fingerprint on this network": learn the fingerprints seen during a warm-up period,
//! then alert once on each one not seen before.
//!
//! Time is packet time only: the warm-up starts at the timestamp of the first record
//! observed and ends `warmup` seconds of packet time later, so a replay gives the same
//! alerts every time. The state (start time and the fingerprints with their first-seen
//! times) is a small text file, written atomically (a temporary file in the same folder,
//! then a rename), so it survives restarts:
//!
//! ```text
//! # hellotap new-fingerprint state v1
//! field ja4
//! started 1795860000
//! t13d1516h2_8daaf6152771_e5627efa2ab1 1795860012
//! ```
//!
//! The set is bounded (`max_entries`); once full, an unseen fingerprint still alerts but
//! is not remembered, and `overflow` counts it.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ahash::RandomState;

use super::Match;
use super::cond::{Cond, StrField, View};
use crate::record::Handshake;

/// Default cap on remembered fingerprints.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// The compiled `[learn]` table.
#[derive(Debug)]
pub struct LearnConfig {
    /// Off unless `enabled = true`.
    pub enabled: bool,
    /// What an alert says.
    pub meta: Match,
    pub(crate) field: StrField,
    /// The field's name as written (`ja4`, `ja3`, `ja4s`, `ja3s`).
    pub field_name: String,
    /// Warm-up length in seconds of packet time.
    pub warmup_secs: u64,
    /// Where the state lives (relative paths resolved against the rule file's folder).
    pub state: Option<PathBuf>,
    /// Cap on remembered fingerprints.
    pub max_entries: usize,
    pub(crate) when: Option<Cond>,
}

impl LearnConfig {
    pub(crate) fn field_by_name(name: &str) -> Option<StrField> {
        Some(match name {
            "ja4" => StrField::Ja4,
            "ja3" => StrField::Ja3,
            "ja4s" => StrField::Ja4s,
            "ja3s" => StrField::Ja3s,
            "ja4_ac" => StrField::Ja4Ac,
            _ => return None,
        })
    }
}

/// The learner's state. Not shared: keep one where records are serialised (or behind a
/// mutex); `observe` is a hash lookup.
#[derive(Debug)]
pub struct Learner {
    cfg: Arc<LearnConfig>,
    started: Option<i64>,
    seen: HashMap<Box<str>, i64, RandomState>,
    /// Unseen fingerprints that were not remembered because the set was full.
    pub overflow: u64,
}

fn bad(line: usize, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("line {line}: {what}"))
}

impl Learner {
    /// A fresh learner (warm-up starts at the first record observed).
    pub fn new(cfg: Arc<LearnConfig>) -> Learner {
        Learner { cfg, started: None, seen: HashMap::default(), overflow: 0 }
    }

    /// The configuration.
    pub fn config(&self) -> &LearnConfig {
        &self.cfg
    }

    /// Fingerprints remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Nothing remembered yet.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Packet time (Unix seconds) at which the warm-up started, once it has.
    pub fn started(&self) -> Option<i64> {
        self.started
    }

    /// Swaps in a new configuration (a rule reload). The state is kept when the field is
    /// the same, dropped otherwise.
    pub fn reconfigure(&mut self, cfg: Arc<LearnConfig>) {
        if cfg.field != self.cfg.field {
            self.seen.clear();
            self.started = None;
        }
        self.cfg = cfg;
    }

    /// Learns from one record; returns an alert when the warm-up is over and the record's
    /// fingerprint was never seen. Does nothing when disabled.
    pub fn observe(&mut self, h: &Handshake) -> Option<Match> {
        if !self.cfg.enabled {
            return None;
        }
        let view = View::new(h);
        let fp = view.single(self.cfg.field)?;
        if let Some(w) = &self.cfg.when {
            if !w.eval(&view) {
                return None;
            }
        }
        let now = h.timestamp.as_secs();
        let started = *self.started.get_or_insert(now);
        if self.seen.contains_key(fp) {
            return None;
        }
        let warm = now < started.saturating_add(i64::try_from(self.cfg.warmup_secs).unwrap_or(i64::MAX));
        if self.seen.len() < self.cfg.max_entries {
            self.seen.insert(fp.into(), now);
        } else if !warm {
            self.overflow += 1;
        }
        (!warm).then(|| self.cfg.meta.clone())
    }

    /// Writes the state to `path` atomically.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut entries: Vec<(&str, i64)> = self.seen.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
        entries.sort_unstable();
        let mut text = String::with_capacity(64 + entries.len() * 48);
        text.push_str("# hellotap new-fingerprint state v1\n");
        text.push_str(&format!("field {}\n", self.cfg.field_name));
        if let Some(s) = self.started {
            text.push_str(&format!("started {s}\n"));
        }
        for (k, v) in entries {
            text.push_str(&format!("{k} {v}\n"));
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name =
            path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    }

    /// Reads state written by [`Learner::save`]. A missing file is a fresh start; a file
    /// for another field is an error (its fingerprints would be meaningless).
    pub fn load(cfg: Arc<LearnConfig>, path: &Path) -> io::Result<Learner> {
        let mut l = Learner::new(cfg);
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(l),
            Err(e) => return Err(e),
        };
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (k, v) = t.split_once(' ').ok_or_else(|| bad(n, "expected two fields"))?;
            match k {
                "field" if v != l.cfg.field_name => {
                    return Err(bad(
                        n,
                        format!("state is for {v}, the learner watches {}", l.cfg.field_name),
                    ));
                }
                "field" => {}
                "started" => l.started = Some(v.trim().parse().map_err(|_| bad(n, "bad start time"))?),
                _ => {
                    let ts: i64 = v.trim().parse().map_err(|_| bad(n, "bad first-seen time"))?;
                    if l.seen.len() < l.cfg.max_entries {
                        l.seen.insert(k.into(), ts);
                    }
                }
            }
        }
        Ok(l)
    }
}
