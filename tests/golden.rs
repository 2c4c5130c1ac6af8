//! The project's own captures (`pcaps/`, real clients against real servers) against the
//! golden events beside them (`pcaps/NAME.expected.jsonl`), and against what tshark saw in
//! the same captures (`pcaps/tshark_observed.jsonl`, written by `pcaps/make-pcaps.sh`).
//!
//! After a deliberate change of the output, regenerate the golden files with
//! `HELLOTAP_BLESS=1 cargo test --test golden` and review the diff.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{field, read_jsonl, replay_file, replay_files_with, replay_lines, replay_lines_with};
use hellotap::worker::WorkerConfig;
use serde_json::Value;

fn captures() -> Vec<PathBuf> {
    let dir = Path::new("pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("pcaps/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")))
        .collect();
    v.sort();
    v
}

fn golden_path(capture: &Path) -> PathBuf {
    let name = capture.file_name().unwrap().to_str().unwrap();
    capture.with_file_name(format!("{name}.expected.jsonl"))
}

#[test]
fn own_captures_match_their_golden_events() {
    // Paths relative to the package root, so `pcap_filename` is the same on every machine.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let bless = std::env::var_os("HELLOTAP_BLESS").is_some();
    let caps = captures();
    assert!(caps.len() >= 10, "expected the project's captures in pcaps/, found {}", caps.len());
    let mut failures = Vec::new();
    let mut events_total = 0;
    for cap in &caps {
        let got = replay_lines(cap, true);
        assert!(!got.is_empty(), "{}: no handshake found", cap.display());
        events_total += got.lines().count();
        let golden = golden_path(cap);
        if bless {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == got => {}
            Ok(want) => {
                let diff: Vec<String> = want
                    .lines()
                    .zip(got.lines())
                    .filter(|(a, b)| a != b)
                    .take(2)
                    .map(|(a, b)| format!("  want {a}\n  got  {b}"))
                    .collect();
                failures.push(format!(
                    "{}: {} golden lines, {} now\n{}",
                    cap.display(),
                    want.lines().count(),
                    got.lines().count(),
                    diff.join("\n")
                ));
            }
            Err(e) => failures.push(format!("{}: {e} (run with HELLOTAP_BLESS=1)", golden.display())),
        }
    }
    println!("{} captures, {events_total} events", caps.len());
    assert!(failures.is_empty(), "golden mismatches:\n{}", failures.join("\n"));
}

/// tshark's JA3/JA3S on the same captures: an independent implementation.
#[test]
fn own_captures_agree_with_tshark_ja3() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let rows = read_jsonl(Path::new("pcaps/tshark_observed.jsonl"));
    let mut by_pcap: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let (mut agree, mut total) = (0, 0);
    let mut misses = Vec::new();
    for r in &rows {
        let pcap = r["pcap"].as_str().unwrap().to_string();
        let events =
            by_pcap.entry(pcap.clone()).or_insert_with(|| replay_file(&Path::new("pcaps").join(&pcap), true));
        let (key, path) = match r["msg"].as_str() {
            Some("client_hello") => ("ja3", "tls.ja3.hash"),
            _ => ("ja3s", "tls.ja3s.hash"),
        };
        let Some(want) = r[key].as_str() else { continue };
        total += 1;
        // Hellos after the first on a connection (the second ClientHello after a
        // HelloRetryRequest) are facts, not fingerprints: match any event's value, which
        // for those rows is expected to be absent; they are listed separately below.
        if events.iter().any(|e| field(e, path) == Some(want)) {
            agree += 1;
        } else {
            misses.push(format!("{pcap} {} frame {}: {key} {want}", r["msg"], r["frame"]));
        }
    }
    println!("pcaps/ tshark JA3/JA3S: {agree}/{total} agree");
    // The only allowed misses: second ClientHellos after a HelloRetryRequest (tshark prints
    // a JA3 for every ClientHello; the first one defines the connection's JA3).
    let unexplained: Vec<_> = misses.iter().filter(|m| !m.contains("hello-retry-request")).collect();
    for m in &misses {
        println!("  second hello (by design not the connection's JA3): {m}");
    }
    assert!(unexplained.is_empty(), "unexplained: {unexplained:#?}");
    assert!(total >= 40, "tshark saw {total} hellos");
}

/// The output does not depend on the number of workers (nor on the random flow-hash seed
/// each run picks): the project's captures, and the public corpora when present.
#[test]
fn output_is_identical_for_any_number_of_workers() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut files = captures();
    if let Some(shared) = common::shared_pcaps() {
        for sub in [
            "foxio/pcap/tls-handshake.pcapng",
            "foxio/pcap/tls3.pcapng",
            "suricata-verify/tls/tls-subjectaltname/input.pcap",
        ] {
            let p = shared.join(sub);
            if p.exists() {
                files.push(p);
            }
        }
    }
    for f in &files {
        let one = replay_lines_with(f, true, 1);
        for n in [2, 3] {
            assert_eq!(replay_lines_with(f, true, n), one, "{} with {n} workers", f.display());
        }
    }
}

/// Every capture in one run (the same chains and hellos come back across captures), JA4+
/// on, with a worker cache at its default budget, at `tiny` (evicting all the time) and
/// off: the same events, hits when on, evictions when tiny, and (`one_lookup_per_item`)
/// as many lookups as items computed when off.
fn cache_does_not_change_events(
    with_budget: impl Fn(usize) -> WorkerConfig,
    default: usize,
    tiny: usize,
    counts: impl Fn(&hellotap::worker::WorkerStats) -> hellotap::cache::CacheStats,
    min_hits: u64,
    one_lookup_per_item: bool,
) {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let files = captures();
    let run = |bytes: usize| replay_files_with(&files, with_budget(bytes), 1);
    let (off, off_sum) = run(0);
    assert_eq!(counts(&off_sum.stats).hits, 0);
    let (on, on_sum) = run(default);
    let c = counts(&on_sum.stats);
    assert!(c.hits >= min_hits && c.misses >= 3, "{c:?}");
    if one_lookup_per_item {
        assert_eq!(c.hits + c.misses, counts(&off_sum.stats).misses, "one lookup per item");
    }
    assert_eq!(on, off);
    let (small, small_sum) = run(tiny);
    assert!(counts(&small_sum.stats).evicted > 0, "{:?}", counts(&small_sum.stats));
    assert_eq!(small, off);
}

/// The workers' parsed-certificate cache gives exactly the events a fresh parse gives.
#[test]
fn certificate_cache_does_not_change_events() {
    cache_does_not_change_events(
        |bytes| WorkerConfig { ja4plus: true, cert_cache_bytes: bytes, ..WorkerConfig::default() },
        WorkerConfig::default().cert_cache_bytes,
        2000,
        |s| s.cert_cache,
        5,
        true,
    );
}

/// The workers' fingerprint caches (JA3 MD5, JA4 SHA-256 by input string, whole hellos'
/// JA3 and JA4 by their fields) give exactly the events computing every fingerprint gives
/// (JA4+ on, so JA4S too). A hello found whole skips its hashes' lookups, so the lookups
/// are not one per hash here.
#[test]
fn hash_cache_does_not_change_events() {
    cache_does_not_change_events(
        |bytes| WorkerConfig { ja4plus: true, hash_cache_bytes: bytes, ..WorkerConfig::default() },
        WorkerConfig::default().hash_cache_bytes,
        300,
        |s| s.hash_cache,
        20,
        false,
    );
}

/// The shipped rule packs plus the test rule set over the project's captures: the alert
/// events, byte for byte (`tests/data/rules/e2e-alerts.jsonl`; bless as above).
#[test]
fn shipped_rules_give_golden_alert_events() {
    use hellotap::output::JsonLines;
    use hellotap::replay::{self, Input, ReplayConfig};
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let cfg = ReplayConfig {
        rules: vec![PathBuf::from("rules"), PathBuf::from("tests/data/rules/e2e.toml")],
        ..ReplayConfig::default()
    };
    let inputs: Vec<Input> = captures().into_iter().map(Input::File).collect();
    let mut buf = Vec::new();
    let mut err = Vec::new();
    {
        let mut out = JsonLines::new(&mut buf);
        replay::run(&inputs, &cfg, &mut out, &mut err).unwrap();
    }
    let text = String::from_utf8(buf).unwrap();
    let mut alerts = String::new();
    let mut events_with_rules = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["event_type"] == "alert" {
            assert!(v["alert"]["signature_id"].as_u64().is_some() && v["tls"].is_object(), "{line}");
            alerts.push_str(line);
            alerts.push('\n');
        } else if v.get("rules").is_some() {
            events_with_rules += 1;
        }
    }
    assert!(events_with_rules > 10, "{events_with_rules} events carry rules[]");
    let golden = Path::new("tests/data/rules/e2e-alerts.jsonl");
    if std::env::var_os("HELLOTAP_BLESS").is_some() {
        std::fs::write(golden, &alerts).unwrap();
    }
    let want = std::fs::read_to_string(golden).expect("golden alerts (run with HELLOTAP_BLESS=1)");
    assert_eq!(alerts, want, "alert events changed; review and bless");
}
