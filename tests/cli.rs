//! The `hellotap` binary end to end: exit codes, error lines naming file and offset,
//! events kept before damage, stdin, directories, `--output`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hellotap"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hellotap-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

const CAP: &str = "pcaps/openssl-tls12-ecdhe-rsa-gcm-chain.pcap";

#[test]
fn replay_one_file_exit_0_and_summary() {
    let o = bin().args(["replay", CAP]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let ev = lines(&o);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["event_type"], "tls");
    assert_eq!(ev[0]["tls"]["version"], "TLS 1.2");
    assert_eq!(ev[0]["tls"]["cipher_suite"], "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    assert!(ev[0]["tls"].get("ja4s").is_none(), "JA4S is off without --ja4plus");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 handshakes") && err.contains("packets"), "summary line: {err}");
}

#[test]
fn ja4plus_turns_on_ja4s() {
    let o = bin().args(["replay", "-q", "--ja4plus", CAP]).output().unwrap();
    let ev = lines(&o);
    assert!(ev[0]["tls"]["ja4s"].as_str().unwrap().starts_with("t12"));
    assert!(o.stderr.is_empty(), "--quiet prints nothing: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn truncated_file_keeps_earlier_events_names_offset_and_goes_on() {
    let d = tmpdir("trunc");
    // Two connections; cut the file inside the last record of the second.
    let src = std::fs::read("pcaps/python-ssl.pcap").unwrap();
    let whole = bin().args(["replay", "-q", "pcaps/python-ssl.pcap"]).output().unwrap();
    assert_eq!(lines(&whole).len(), 2);
    let cut = d.join("cut.pcap");
    std::fs::write(&cut, &src[..src.len() - 10]).unwrap();
    let not_cap = d.join("notes.pcap");
    std::fs::write(&not_cap, b"this is not a capture\n").unwrap();
    let o = bin()
        .args(["replay", "-q"])
        .arg(&not_cap)
        .arg(&cut)
        .arg(CAP)
        .arg(d.join("missing.pcap"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("notes.pcap: not a pcap or pcapng file"), "{err}");
    assert!(err.contains("cut.pcap: truncated") && err.contains("offset"), "{err}");
    assert!(err.contains("missing.pcap: no such file"), "{err}");
    let ev = lines(&o);
    // Both handshakes of the cut file (their hellos come before the damage) and the
    // following file's.
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert!(ev.iter().any(|e| e["pcap_filename"].as_str().unwrap().ends_with(CAP)));
}

#[test]
fn directory_walk_skips_non_captures_and_stdin_works() {
    let d = tmpdir("dir");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::copy(CAP, d.join("sub/a.pcap")).unwrap();
    std::fs::copy("pcaps/curl-tls13.pcapng", d.join("b.pcapng")).unwrap();
    std::fs::write(d.join("README.md"), "not a capture").unwrap();
    let o = bin().args(["replay", "-q"]).arg(&d).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        lines(&o).len(),
        1 + lines(&bin().args(["replay", "-q", "pcaps/curl-tls13.pcapng"]).output().unwrap()).len()
    );

    let mut child =
        bin().args(["replay", "-q", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(CAP).unwrap()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let ev = lines(&o);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["pcap_filename"], "-");
}

#[test]
fn output_file_and_bad_usage() {
    let d = tmpdir("out");
    let out = d.join("events.jsonl");
    let o = bin().args(["replay", "-q", "-o"]).arg(&out).arg(CAP).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 1);
    let o = bin().args(["replay"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "missing PATH is bad usage");
    let o = bin().args(["frobnicate"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn closed_pipe_is_a_quiet_exit() {
    // `hellotap replay pcaps/ | head -1`: the reader goes away after one line.
    let mut child =
        bin().args(["replay", "-q", "pcaps/"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.code().is_some(), "killed by a signal: {:?}", o.status);
    assert!(o.status.code().unwrap() == 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    assert!(Path::new("pcaps").is_dir());
}

#[test]
fn more_workers_than_cpus_gets_a_note_and_the_same_events() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let more = (cpus + 1).to_string();
    let o = bin().args(["replay", "--workers", &more, "pcaps/python-ssl.pcap"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("note: --workers {more} on {cpus} CPUs")), "oversubscription note: {err}");
    let one = bin().args(["replay", "-q", "--workers", "1", "pcaps/python-ssl.pcap"]).output().unwrap();
    assert_eq!(lines(&o), lines(&one), "same events whatever the worker count");
    let q = bin().args(["replay", "-q", "--workers", &more, "pcaps/python-ssl.pcap"]).output().unwrap();
    assert!(q.stderr.is_empty(), "--quiet prints nothing: {}", String::from_utf8_lossy(&q.stderr));
}
