//! Configuration and rule files: `Config::parse`, `RuleSet::load` (rule TOML, lists,
//! label mappings, Suricata rule import), the in-memory list importers, and
//! `explain::explain`. Rule sets that load are evaluated against a few real handshakes
//! (decoded once per process from ../pcaps) and their alerts rendered as JSON.
//!
//! Input: `[mode, text...]` (text is read as UTF-8, lossily). Mode % 4:
//! 0: the text as hellotap.toml, as a rule file, and as a fingerprint to explain;
//! 1: the text as a rule file only (then matched against the handshakes);
//! 2: the text as a Suricata rule file and as a list file in every format, loaded through
//!    a fixed rule file that imports it;
//! 3: the text through `explain` and each in-memory importer.
//! Files are written to a per-process temporary directory, removed at exit by nobody: it
//! is a few KB under $TMPDIR/hellotap-fuzz-<pid>.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use hellotap::capture::read_capture;
use hellotap::record::Handshake;
use hellotap::rules::{RuleSet, import};
use hellotap::worker::{Worker, WorkerConfig};
use libfuzzer_sys::fuzz_target;

const PCAPS: [&[u8]; 3] = [
    include_bytes!("../../pcaps/openssl-tls12-ecdhe-rsa-gcm-chain.pcap"),
    include_bytes!("../../pcaps/chromium-quic.pcap"),
    include_bytes!("../../pcaps/openssl-dtls12.pcap"),
];

const IMPORTER: &str = r#"
[[list]]
name = "plain"
format = "plain"
path = "input.txt"

[[list]]
name = "sslbl"
format = "sslbl-ja3"
path = "input.txt"

[[list]]
name = "zeek"
format = "zeek-intel"
path = "input.txt"

[[labels]]
path = "input.txt"
format = "ja4plus-mapping"

[[suricata]]
path = "input.rules"
severity = "medium"

[[rule]]
id = "uses.lists"
msg = "lists"
when = { any = [{ ja3 = { list = "sslbl" } }, { ja4 = { list = "plain" } }, { ja3 = { list = "zeek" } }] }
"#;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hellotap-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("importer.toml"), IMPORTER).unwrap();
        d
    })
}

fn handshakes() -> &'static [Handshake] {
    static HS: OnceLock<Vec<Handshake>> = OnceLock::new();
    HS.get_or_init(|| {
        let mut out = Vec::new();
        for pcap in PCAPS {
            let mut w = Worker::new(WorkerConfig { ja4plus: true, ..Default::default() });
            let _ = read_capture(pcap, |f| {
                w.frame(f, &mut |h| out.push(h));
                true
            }, |_| {});
            w.flush(&mut |h| out.push(h));
        }
        assert!(!out.is_empty());
        out
    })
}

fn load_and_match(path: PathBuf) {
    if let Ok(rs) = RuleSet::load(&[path]) {
        let _ = (rs.summary().to_string(), rs.len(), rs.rule_ids().count(), rs.learn_config());
        for h in handshakes() {
            let matches = rs.matches(h);
            let labels = rs.labels(h);
            let _ = hellotap::output::to_json_enriched(h, &matches, &labels);
            for m in &matches {
                let _ = hellotap::output::alert_json(h, m);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let text = String::from_utf8_lossy(rest);
    let d = dir();
    match mode % 4 {
        0 => {
            if let Ok(cfg) = hellotap::config::Config::parse(&text) {
                let _ = (cfg.worker(), cfg.workers(), cfg.pipeline());
            }
            std::fs::write(d.join("rules.toml"), text.as_bytes()).unwrap();
            load_and_match(d.join("rules.toml"));
            let _ = hellotap::explain::explain(&text);
        }
        1 => {
            std::fs::write(d.join("rules.toml"), text.as_bytes()).unwrap();
            load_and_match(d.join("rules.toml"));
        }
        2 => {
            std::fs::write(d.join("input.txt"), text.as_bytes()).unwrap();
            std::fs::write(d.join("input.rules"), text.as_bytes()).unwrap();
            load_and_match(d.join("importer.toml"));
        }
        _ => {
            let _ = hellotap::explain::explain(&text);
            let _ = import::plain(&text);
            let _ = import::sslbl_ja3(&text);
            let _ = import::zeek_intel(&text, &["Intel::JA3".to_string(), "Intel::JA4".to_string()]);
            let _ = import::ja4plus_mapping(&text);
            let _ = import::base64_decode(text.trim());
            for line in text.lines().take(16) {
                let _ = import::csv_fields(line);
                let _ = import::is_md5(line);
            }
        }
    }
});
