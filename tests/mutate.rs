//! Seeded mutations of the project's captures (bit flips, byte overwrites, truncations,
//! splices of two files, duplicated and dropped ranges) through the reader, decoder,
//! reassembly, TLS/QUIC/DTLS parsers and the JSON writer: thousands of cases, no panic, no
//! case slower than a bound, buffered bytes within the caps.

use std::path::Path;
use std::time::{Duration, Instant};

use hellotap::capture;
use hellotap::output;
use hellotap::worker::{Worker, WorkerConfig};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: reproducible without a dependency.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn captures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")))
        .collect();
    v.sort();
    v.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Byte ranges of packet data in a classic little-endian pcap (record headers left out).
fn packet_ranges(b: &[u8]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    if b.len() < 24 || b[..4] != [0xd4, 0xc3, 0xb2, 0xa1] {
        return v;
    }
    let mut off = 24;
    while off + 16 <= b.len() {
        let cap = u32::from_le_bytes([b[off + 8], b[off + 9], b[off + 10], b[off + 11]]) as usize;
        let start = off + 16;
        if start + cap > b.len() {
            break;
        }
        v.push((start, cap));
        off = start + cap;
    }
    v
}

fn mutate(rng: &mut Rng, caps: &[Vec<u8>]) -> Vec<u8> {
    let mut b = caps[rng.below(caps.len())].clone();
    // Half the cases damage only packet bytes, keeping the file's structure, so the
    // decoders and parsers (not only the file reader) see the damage.
    let ranges = packet_ranges(&b);
    if !ranges.is_empty() && rng.below(2) == 0 {
        for _ in 0..1 + rng.below(32) {
            let (start, len) = ranges[rng.below(ranges.len())];
            if len > 0 {
                let i = start + rng.below(len);
                b[i] = if rng.below(2) == 0 { b[i] ^ (1 << rng.below(8)) } else { rng.next() as u8 };
            }
        }
        return b;
    }
    for _ in 0..1 + rng.below(8) {
        let len = b.len().max(1);
        // Mostly damage inside packets (flips, overwrites); sometimes the file structure.
        match [0, 0, 0, 1, 1, 1, 4, 5, 2, 3][rng.below(10)] {
            0 => {
                let i = rng.below(len);
                if i < b.len() {
                    b[i] ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(len);
                for j in i..(i + 1 + rng.below(16)).min(b.len()) {
                    b[j] = rng.next() as u8;
                }
            }
            2 => b.truncate(rng.below(len)),
            3 => {
                // Splice: the head of this file, the tail of another (past its header).
                let other = &caps[rng.below(caps.len())];
                let cut = rng.below(len);
                let from = 24 + rng.below(other.len().saturating_sub(24));
                b.truncate(cut);
                b.extend_from_slice(&other[from.min(other.len())..]);
            }
            4 => {
                let i = rng.below(len);
                let n = rng.below(200);
                let chunk: Vec<u8> = b[i.min(b.len())..(i + n).min(b.len())].to_vec();
                b.splice(i.min(b.len())..i.min(b.len()), chunk);
            }
            _ => {
                let i = rng.below(len);
                let n = rng.below(200);
                b.drain(i.min(b.len())..(i + n).min(b.len()));
            }
        }
    }
    b
}

#[test]
fn thousands_of_mutated_captures_never_panic_hang_or_overgrow() {
    let caps = captures();
    let mut rng = Rng(0x5eed_2026_1127);
    let cases = 1500;
    let cfg = WorkerConfig { max_flows: 256, ja4plus: true, ..WorkerConfig::default() };
    let mut slowest = Duration::ZERO;
    let (mut frames, mut events, mut errors) = (0u64, 0u64, 0u64);
    for case in 0..cases {
        let input = mutate(&mut rng, &caps);
        let t0 = Instant::now();
        let mut w = Worker::new(cfg.clone());
        let mut peak = 0usize;
        let r = capture::read_capture(
            &input[..],
            |f| {
                frames += 1;
                w.frame(f, &mut |h| {
                    events += 1;
                    // Every record serialises to one valid JSON line.
                    let line = output::to_json(&h);
                    assert!(serde_json::from_str::<serde_json::Value>(&line).is_ok(), "case {case}: {line}");
                });
                peak = peak.max(w.active_flows());
                true
            },
            |_| {},
        );
        if r.is_err() {
            errors += 1;
        }
        let buffered = w.buffered_bytes();
        // Per flow at most: out-of-order cap (128 KiB) ×2, one record and one message cap.
        assert!(buffered <= 256 * (2 * 128 * 1024 + 2 * (18 * 1024 + 64 * 1024)), "case {case}: {buffered}");
        assert!(peak <= 256, "case {case}: {peak} flows");
        w.flush(&mut |h| {
            events += 1;
            let _ = output::to_json(&h);
        });
        let dt = t0.elapsed();
        slowest = slowest.max(dt);
        assert!(dt < Duration::from_secs(5), "case {case} took {dt:?}");
    }
    println!(
        "{cases} mutated captures: {frames} frames, {events} events, {errors} reader errors, slowest case {slowest:?}"
    );
}
