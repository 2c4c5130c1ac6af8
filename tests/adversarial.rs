//! Hostile traffic, as generated captures: each case asserts the behaviour and the counter
//! that records it. Nothing may panic, memory stays within the caps, and what can still be
//! fingerprinted is.

mod common;

use std::path::{Path, PathBuf};

use common::first_flow_streams;
use etherparse::PacketBuilder;
use hellotap::replay::ReplaySummary;
use hellotap::worker::WorkerConfig;
use serde_json::Value;

/// The first client and server bytes of the Chromium connection in `pcaps/`.
fn chromium_streams() -> (Vec<u8>, Vec<u8>) {
    first_flow_streams(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/chromium-veth-split-clienthello.pcap"),
        8000,
    )
}

/// Writes a classic pcap (link type raw IP) of the given (µs timestamp, packet) frames.
struct Pcap {
    bytes: Vec<u8>,
}

impl Pcap {
    fn new(linktype: u32) -> Pcap {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&linktype.to_le_bytes());
        Pcap { bytes: b }
    }

    fn frame(&mut self, usec: u64, data: &[u8], orig: usize) {
        self.bytes.extend_from_slice(&((usec / 1_000_000) as u32).to_le_bytes());
        self.bytes.extend_from_slice(&((usec % 1_000_000) as u32).to_le_bytes());
        self.bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(&(orig as u32).to_le_bytes());
        self.bytes.extend_from_slice(data);
    }

    fn write(&self, name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hellotap-adv-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(&p, &self.bytes).unwrap();
        p
    }
}

fn tcp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, seq: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, seq, 65535);
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('A') {
        b = b.ack(1);
    }
    if flags.contains('F') {
        b = b.fin();
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

const C: [u8; 4] = [198, 18, 0, 1];
const S: [u8; 4] = [198, 18, 0, 2];

fn run(path: &Path, cfg: WorkerConfig) -> (Vec<Value>, ReplaySummary) {
    let (text, summary) = common::replay_files_with(&[path.to_path_buf()], cfg, 1);
    let events = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (events, summary)
}

/// A whole connection: handshake packets, then the client stream in `segs` (offset, len)
/// pieces in the given order, then the server's first flight.
fn connection(
    p: &mut Pcap,
    t0: u64,
    sport: u16,
    client: &[u8],
    segs: &[(usize, usize)],
    server: &[u8],
) -> u64 {
    let (cisn, sisn) = (1000u32, 5000u32);
    let mut t = t0;
    let mut f = |p: &mut Pcap, d: Vec<u8>| {
        t += 10;
        p.frame(t, &d, d.len());
    };
    f(p, tcp(C, S, sport, 443, cisn, "S", &[]));
    f(p, tcp(S, C, 443, sport, sisn, "SA", &[]));
    f(p, tcp(C, S, sport, 443, cisn + 1, "A", &[]));
    for &(off, len) in segs {
        f(p, tcp(C, S, sport, 443, cisn + 1 + off as u32, "A", &client[off..off + len]));
    }
    f(p, tcp(S, C, 443, sport, sisn + 1, "A", server));
    t
}

fn ja4_of(events: &[Value]) -> Vec<String> {
    events.iter().filter_map(|e| e["tls"]["ja4"].as_str().map(str::to_string)).collect()
}

#[test]
fn dribbled_one_byte_per_segment_gives_the_same_fingerprint() {
    let (c, s) = chromium_streams();
    let mut whole = Pcap::new(101);
    connection(&mut whole, 0, 40000, &c, &[(0, c.len())], &s);
    let (ev, _) = run(&whole.write("whole.pcap"), WorkerConfig::default());
    let want = ja4_of(&ev);
    assert_eq!(want.len(), 1);

    let mut drib = Pcap::new(101);
    let one: Vec<(usize, usize)> = (0..c.len()).map(|i| (i, 1)).collect();
    connection(&mut drib, 0, 40001, &c, &one, &s);
    let (ev, sum) = run(&drib.write("dribble.pcap"), WorkerConfig::default());
    assert_eq!(ja4_of(&ev), want, "one byte per segment");
    assert!(sum.stats.packets as usize > c.len());
}

#[test]
fn conflicting_overlap_first_data_wins_and_is_counted() {
    let (c, s) = chromium_streams();
    // The second segment arrives first; then a forged copy of it with different bytes
    // (would change the extension list); then the first segment.
    let mut forged = c.clone();
    for b in &mut forged[600..700] {
        *b ^= 0xff;
    }
    let mut p = Pcap::new(101);
    let (cisn, sisn, sport) = (1000u32, 5000u32, 40002u16);
    let mut t = 0;
    let mut f = |p: &mut Pcap, d: Vec<u8>| {
        t += 10;
        p.frame(t, &d, d.len());
    };
    f(&mut p, tcp(C, S, sport, 443, cisn, "S", &[]));
    f(&mut p, tcp(S, C, 443, sport, sisn, "SA", &[]));
    f(&mut p, tcp(C, S, sport, 443, cisn + 501, "A", &c[500..]));
    f(&mut p, tcp(C, S, sport, 443, cisn + 501, "A", &forged[500..]));
    f(&mut p, tcp(C, S, sport, 443, cisn + 1, "A", &c[..500]));
    f(&mut p, tcp(S, C, 443, sport, sisn + 1, "A", &s));
    let (ev, sum) = run(&p.write("overlap.pcap"), WorkerConfig::default());
    let mut whole = Pcap::new(101);
    connection(&mut whole, 0, 40002, &c, &[(0, c.len())], &s);
    let (want, _) = run(&whole.write("whole2.pcap"), WorkerConfig::default());
    assert_eq!(ja4_of(&ev), ja4_of(&want), "the first copy of the bytes wins");
    assert_eq!(sum.stats.tcp_overlap_conflicts, 1);
}

#[test]
fn hostile_lengths_are_bounded_and_reported() {
    let (_, s) = chromium_streams();
    let mut p = Pcap::new(101);
    // A ClientHello record declaring a 16 MB message.
    let mut huge = vec![22, 3, 1, 0, 8, 1, 0xff, 0xff, 0xff];
    huge.extend_from_slice(&[3, 3, 0, 0]);
    connection(&mut p, 0, 41000, &huge, &[(0, huge.len())], &s);
    // Zero-length handshake records, then a real (tiny) ClientHello with 16,000 extensions
    // spread over four records.
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    let exts: Vec<u8> =
        (0..16_000u32).flat_map(|i| [((i % 60000) >> 8) as u8 | 0x80, i as u8, 0, 0]).collect();
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut msg = vec![1];
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    let mut stream = vec![22, 3, 1, 0, 0, 22, 3, 1, 0, 0];
    for chunk in msg.chunks(16_000) {
        stream.extend_from_slice(&[22, 3, 1]);
        stream.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        stream.extend_from_slice(chunk);
    }
    let segs: Vec<(usize, usize)> =
        (0..stream.len()).step_by(1400).map(|o| (o, 1400.min(stream.len() - o))).collect();
    connection(&mut p, 1_000_000, 41001, &stream, &segs, &s);
    let (ev, _) = run(&p.write("lengths.pcap"), WorkerConfig::default());
    // The 16 MB hello: no fingerprint, an anomaly would need a hello; the flow yields no event
    // or an event without JA4 — never a panic, never a 16 MB buffer.
    let big = ev.iter().find(|e| e["src_port"] == 41001).expect("the 16,000-extension hello");
    let ja4 = big["tls"]["ja4"].as_str().unwrap();
    assert!(ja4.starts_with("t12i0199"), "extension count capped at 99: {ja4}");
    assert!(ev.iter().all(|e| e["src_port"] != 41000 || e["tls"].get("ja4").is_none()));
}

#[test]
fn deep_nesting_floods_and_broken_frames_are_counted_not_followed() {
    let mut p = Pcap::new(1);
    let ip = tcp(C, S, 1, 443, 1, "S", &[]);
    // 100 stacked VLAN tags.
    let mut f = vec![0u8; 12];
    for _ in 0..100 {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    }
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    p.frame(1, &f, f.len());
    // Zero-length frame and a frame of 5 bytes.
    p.frame(2, &[], 60);
    p.frame(3, &[1, 2, 3, 4, 5], 60);
    // A SYN flood of 20,000 distinct 5-tuples against a 1,000-flow table.
    for i in 0..20_000u32 {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let mut e = vec![0u8; 12];
        e.extend_from_slice(&[0x08, 0x00]);
        e.extend_from_slice(&tcp(src, S, 1000 + (i % 50000) as u16, 443, i, "S", &[]));
        // Timestamps go backwards every other packet.
        let t = 10 + u64::from(i) * 10 - u64::from(i % 2) * 15;
        p.frame(t, &e, e.len());
    }
    let cfg = WorkerConfig { max_flows: 1000, ..WorkerConfig::default() };
    let (ev, sum) = run(&p.write("flood.pcap"), cfg);
    assert!(ev.is_empty());
    let de: std::collections::HashMap<_, _> = sum.stats.decode_errors.iter().cloned().collect();
    assert_eq!(de.get("too_deep"), Some(&1), "{de:?}");
    assert_eq!(de.get("truncated"), Some(&2), "{de:?}");
    // The table never exceeds its cap: the oldest flows are evicted to make room.
    assert_eq!(sum.stats.flows_created, 20_000);
    assert_eq!(sum.stats.flows_ended[hellotap::flow::FlowEnd::Evicted as usize], 19_000);
    assert_eq!(sum.stats.flows_rejected, 0);
}

#[test]
fn snaplen_truncated_hello_is_a_gap_not_garbage() {
    let (c, s) = chromium_streams();
    let mut p = Pcap::new(101);
    let (cisn, sport) = (1000u32, 42000u16);
    let syn = tcp(C, S, sport, 443, cisn, "S", &[]);
    p.frame(1, &syn, syn.len());
    // The ClientHello segment cut to 200 captured bytes (snaplen), then the server's answer.
    let seg = tcp(C, S, sport, 443, cisn + 1, "A", &c[..1400]);
    p.frame(2, &seg[..200], seg.len());
    let sh = tcp(S, C, 443, sport, 5001, "A", &s);
    p.frame(3, &sh, sh.len());
    let (ev, sum) = run(&p.write("snaplen.pcap"), WorkerConfig::default());
    assert_eq!(sum.stats.tcp_truncated, 1);
    // The server side is still read; no ClientHello fingerprint was made from partial bytes.
    assert!(ev.iter().all(|e| e["tls"].get("ja4").is_none()), "{ev:?}");
}
