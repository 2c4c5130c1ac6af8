//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use hellotap::output::JsonLines;
use hellotap::replay::{self, Input, ReplayConfig};
use hellotap::worker::WorkerConfig;
use serde_json::Value;

/// `../shared/pcaps` beside the repository, if present.
pub fn shared_pcaps() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps");
    p.is_dir().then_some(p)
}

/// Replays one file through the library and returns the events, parsed.
pub fn replay_file(path: &Path, ja4plus: bool) -> Vec<Value> {
    replay_lines(path, ja4plus)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// Replays one file through the library and returns the output text as written.
pub fn replay_lines(path: &Path, ja4plus: bool) -> String {
    replay_lines_with(path, ja4plus, 1)
}

/// Like [`replay_lines`] with a number of worker threads.
pub fn replay_lines_with(path: &Path, ja4plus: bool, workers: usize) -> String {
    let worker = WorkerConfig { ja4plus, ..WorkerConfig::default() };
    replay_files_with(&[path.to_path_buf()], worker, workers).0
}

/// Replays several files in one run (one pipeline, as `hellotap replay DIR` does) with the
/// given worker settings, and returns the output text and the workers' counters.
pub fn replay_files_with(
    paths: &[PathBuf],
    worker: WorkerConfig,
    workers: usize,
) -> (String, replay::ReplaySummary) {
    let cfg = ReplayConfig { worker, workers, progress: false, metrics: None, rules: Vec::new(), nats: None };
    let inputs: Vec<Input> = paths.iter().map(|p| Input::File(p.clone())).collect();
    let mut buf = Vec::new();
    let mut err = Vec::new();
    let sum = {
        let mut out = JsonLines::new(&mut buf);
        replay::run(&inputs, &cfg, &mut out, &mut err).expect("replay")
    };
    (String::from_utf8(buf).expect("utf-8 output"), sum)
}

/// Every capture file below `dir` (recognised by its magic number, not its name), sorted,
/// appended to `out`.
pub fn capture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            capture_files(&p, out);
        } else {
            let mut head = [0u8; 4];
            let ok = File::open(&p).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok();
            if ok && hellotap::capture::has_capture_magic(&head) {
                out.push(p);
            }
        }
    }
}

/// Reads a JSON Lines file.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A string field of a JSON value by a dotted path (`tls.ja3.hash`).
pub fn field<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    cur.as_str()
}

/// Agreement with one corpus field: counts and the disagreements, by key.
pub struct Tally {
    /// What is compared.
    pub name: &'static str,
    /// Comparisons that agreed.
    pub agree: usize,
    /// Comparisons made.
    pub total: usize,
    /// Disagreements, as `key: want …, got …`.
    pub misses: BTreeSet<String>,
}

impl Tally {
    /// An empty tally.
    pub fn new(name: &'static str) -> Self {
        Tally { name, agree: 0, total: 0, misses: BTreeSet::new() }
    }

    /// Counts one comparison.
    pub fn check(&mut self, key: String, want: &str, got: Option<&str>) {
        self.total += 1;
        if got == Some(want) {
            self.agree += 1;
        } else {
            self.misses.insert(format!("{key}: want {want}, got {}", got.unwrap_or("nothing")));
        }
    }

    /// Prints N/M and asserts that the misses are exactly the known ones (matched by prefix).
    pub fn finish(self, known: &[(&str, &str)]) {
        println!("{}: {}/{} agree", self.name, self.agree, self.total);
        let mut unexplained = Vec::new();
        let mut used = BTreeSet::new();
        for m in &self.misses {
            match known.iter().find(|(prefix, _)| m.starts_with(prefix)) {
                Some((prefix, why)) => {
                    used.insert(*prefix);
                    println!("  known: {m}\n         because {why}");
                }
                None => unexplained.push(m.clone()),
            }
        }
        let stale: Vec<_> = known.iter().filter(|(p, _)| !used.contains(p)).map(|(p, _)| *p).collect();
        assert!(
            unexplained.is_empty(),
            "{}: unexplained disagreements:\n{}",
            self.name,
            unexplained.join("\n")
        );
        assert!(stale.is_empty(), "{}: known cases that no longer occur: {stale:?}", self.name);
    }
}

/// Events per capture under a root folder, each capture replayed once.
pub struct Events {
    /// Where relative capture paths start.
    pub root: PathBuf,
    /// Compute JA4+ (JA4S, JA4X).
    pub ja4plus: bool,
    cache: BTreeMap<PathBuf, Vec<Value>>,
}

impl Events {
    /// Events of captures below `root`.
    pub fn new(root: PathBuf, ja4plus: bool) -> Self {
        Events { root, ja4plus, cache: BTreeMap::new() }
    }

    /// The events of the capture at `rel`, or `None` when it does not exist.
    pub fn get(&mut self, rel: &str) -> Option<&Vec<Value>> {
        let p = self.root.join(rel);
        if !p.exists() {
            return None;
        }
        let ja4plus = self.ja4plus;
        Some(self.cache.entry(p.clone()).or_insert_with(|| replay_file(&p, ja4plus)))
    }
}

/// The first `max` bytes of each direction of the first TCP flow in a capture, as
/// reassembled by the project's own stream reassembler: (client bytes, server bytes).
pub fn first_flow_streams(path: &Path, max: usize) -> (Vec<u8>, Vec<u8>) {
    use hellotap::decode::{self, Transport};
    use hellotap::reassembly::TcpStream;
    let mut client = None;
    let mut bufs = [Vec::new(), Vec::new()];
    let mut st = [TcpStream::default(), TcpStream::default()];
    hellotap::capture::read_capture(
        File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        |f| {
            let Ok(p) = decode::decode(f.linktype, f.data, 0) else { return true };
            let Transport::Tcp(t) = p.transport else { return true };
            let me = (p.src, p.sport);
            let c = *client.get_or_insert(me);
            if (p.dst, p.dport) != c && me != c {
                return true; // another flow
            }
            let i = usize::from(me != c);
            let buf = &mut bufs[i];
            st[i].segment(t.seq, t.syn, p.payload, false, &mut |b| {
                let room = max.saturating_sub(buf.len());
                buf.extend_from_slice(&b[..b.len().min(room)]);
            });
            true
        },
        |_| {},
    )
    .unwrap();
    let [c, s] = bufs;
    (c, s)
}
