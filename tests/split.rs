//! "Every split gives the same answer": a real captured handshake (Chromium's ~1.8 KB
//! ClientHello with an X25519MLKEM768 key share, from `pcaps/`) is cut at every byte
//! boundary, its segments reordered, duplicated and overlapped, and every variant must
//! give the same fingerprints and facts as the unsplit stream.

mod common;

use std::path::Path;

use common::first_flow_streams;
use etherparse::PacketBuilder;
use hellotap::capture::Frame;
use hellotap::record::Handshake;
use hellotap::time::Timestamp;
use hellotap::worker::{Worker, WorkerConfig};

const CLIENT: [u8; 4] = [198, 18, 0, 1];
const SERVER: [u8; 4] = [198, 18, 0, 2];
const CISN: u32 = 0xffff_ff00; // close to wrapping, on purpose
const SISN: u32 = 1000;

fn frame(ts: i64, from_client: bool, seq: u32, syn: bool, ack: bool, payload: &[u8]) -> (Timestamp, Vec<u8>) {
    let (src, dst, sp, dp) =
        if from_client { (CLIENT, SERVER, 40000, 443) } else { (SERVER, CLIENT, 443, 40000) };
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, seq, 65535);
    if syn {
        b = b.syn();
    }
    if ack {
        b = b.ack(1);
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    (Timestamp::from_nanos(ts * 1_000_000), v)
}

/// Runs one connection: handshake packets, then `segs` as (from_client, offset, bytes).
fn run(segs: &[(bool, usize, &[u8])]) -> Vec<Handshake> {
    let mut frames = vec![
        frame(0, true, CISN, true, false, &[]),
        frame(1, false, SISN, true, true, &[]),
        frame(2, true, CISN.wrapping_add(1), false, true, &[]),
    ];
    for (i, &(c, off, b)) in segs.iter().enumerate() {
        let isn = if c { CISN } else { SISN };
        frames.push(frame(3 + i as i64, c, isn.wrapping_add(1).wrapping_add(off as u32), false, true, b));
    }
    let mut w = Worker::new(WorkerConfig { ja4plus: true, ..WorkerConfig::default() });
    let mut out = Vec::new();
    for (ts, data) in &frames {
        w.frame(&Frame { ts: *ts, linktype: 101, data, orig_len: data.len() as u32 }, &mut |h| out.push(h));
    }
    w.flush(&mut |h| out.push(h));
    out
}

/// What must not change with the segmentation.
fn facts(hs: &[Handshake]) -> String {
    assert_eq!(hs.len(), 1, "exactly one handshake expected");
    let h = &hs[0];
    let fp = &h.fingerprints;
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
        fp.ja3,
        fp.ja3s,
        fp.ja4,
        fp.ja4s,
        h.client_hello.as_ref().map(|c| &c.sni),
        h.server_hello.as_ref().map(|s| s.cipher),
        h.alerts,
        h.outcome.as_str()
    )
}

fn chromium() -> Option<(Vec<u8>, Vec<u8>)> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/chromium-veth-split-clienthello.pcap");
    assert!(p.exists(), "the project's own capture {} is missing", p.display());
    Some(first_flow_streams(&p, 6000))
}

#[test]
fn every_split_point_reordering_and_duplication_gives_the_same_answer() {
    let (c, s) = chromium().unwrap();
    assert!(c.len() > 1700, "Chromium's ClientHello should be ~1.8 KB, got {}", c.len());
    let whole = facts(&run(&[(true, 0, &c), (false, 0, &s)]));
    assert!(whole.contains("t13d"), "baseline has a JA4: {whole}");
    // Chromium puts GREASE inside signature_algorithms (0x0a0a etc. are removed): this is the
    // JA4 FoxIO's newer golden files give for Chromium 152's sigalg-grease capture.
    assert!(whole.contains("t13d1517h2_8daaf6152771_cb7bf5808d99"), "{whole}");

    let mut variants = 0;
    for i in 1..c.len() {
        let (a, b) = c.split_at(i);
        let cases: [Vec<(bool, usize, &[u8])>; 4] = [
            // in order
            vec![(true, 0, a), (true, i, b), (false, 0, &s)],
            // reordered
            vec![(true, i, b), (true, 0, a), (false, 0, &s)],
            // first segment retransmitted after the second
            vec![(true, 0, a), (true, i, b), (true, 0, a), (false, 0, &s)],
            // overlapping retransmission that covers the cut, sent before the tail
            vec![
                (true, 0, a),
                (true, i.saturating_sub(3), &c[i.saturating_sub(3)..(i + 3).min(c.len())]),
                (true, i, b),
                (false, 0, &s),
            ],
        ];
        for case in &cases {
            assert_eq!(facts(&run(case)), whole, "client split at {i}");
            variants += 1;
        }
    }
    // The server's first flight, cut at every point in its first 600 bytes.
    for i in 1..s.len().min(600) {
        let (a, b) = s.split_at(i);
        assert_eq!(facts(&run(&[(true, 0, &c), (false, i, b), (false, 0, a)])), whole, "server split at {i}");
        variants += 1;
    }
    println!("{variants} segmentations, all identical to the unsplit stream");
}

#[test]
fn random_segmentations_shuffles_and_duplicates_give_the_same_answer() {
    let (c, s) = chromium().unwrap();
    let whole = facts(&run(&[(true, 0, &c), (false, 0, &s)]));
    // A small seeded LCG: reproducible without a dependency.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n.max(1)
    };
    for round in 0..300 {
        let mut segs: Vec<(bool, usize, &[u8])> = Vec::new();
        for (is_client, bytes) in [(true, &c), (false, &s)] {
            let mut off = 0;
            while off < bytes.len() {
                let len = 1 + rnd(400);
                let end = (off + len).min(bytes.len());
                segs.push((is_client, off, &bytes[off..end]));
                off = end;
            }
        }
        // Shuffle within each direction's first 8 segments' neighbourhood and duplicate some.
        for i in (1..segs.len()).rev() {
            let j = rnd(i + 1);
            if segs[i].0 == segs[j].0 && i.abs_diff(j) < 8 {
                segs.swap(i, j);
            }
        }
        for _ in 0..rnd(5) {
            let k = rnd(segs.len());
            segs.push(segs[k]);
        }
        assert_eq!(facts(&run(&segs)), whole, "round {round}");
    }
}
