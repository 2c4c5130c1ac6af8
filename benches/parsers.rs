//! Criterion benchmarks of the hot paths, on bytes taken from the project's own captures:
//!
//! * `clienthello/parse/*`: `parse_client_hello` on a real ClientHello body (Chromium's,
//!   2 KB with GREASE, ECH GREASE and an ML-KEM key share; OpenSSL's s_client TLS 1.2),
//! * `fingerprint/ja3/*`, `fingerprint/ja4/*`: JA3 (string + MD5) and JA4 (all four forms)
//!   from a parsed ClientHello,
//! * `decode/ethernet_ipv4_tcp`: link/IP/TCP decode of the frame carrying the ClientHello,
//! * `dirparser/server_flight`: a fresh `DirParser` fed the server's side of a TLS 1.2
//!   connection segment by segment (ServerHello, 3-certificate chain, ServerKeyExchange,
//!   ServerHelloDone, ChangeCipherSpec, encrypted records),
//! * `worker/capture/*`: a fresh `Worker` fed every frame of a small capture (then flushed),
//!   i.e. flow table, reassembly, TLS, fingerprints, certificates and the event record.
//! * `output/to_json/*`: one event line from a finished record (OpenSSL's TLS 1.2 with a
//!   3-certificate chain; Chromium's TLS 1.3 with GREASE).
//!
//! The bytes are extracted once at start-up through the library itself
//! (`capture::read_capture`, `decode::decode`, `tls::stream::DirParser`), so the benches
//! follow the captures if `pcaps/make-pcaps.sh` regenerates them.
//!
//! Run: `cargo bench --bench parsers` (or `-- --quick` for a fast pass).
//!
//! The benches allocate through mimalloc, as the `hellotap` binary does.

use std::fs::File;
use std::hint::black_box;
use std::io::BufReader;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use hellotap::capture::{Frame, read_capture};
use hellotap::decode::{self, Transport as L4};
use hellotap::fingerprint::ja3::{ja3, ja3_with};
use hellotap::fingerprint::ja4::{ja4, ja4_with};
use hellotap::fingerprint::{Hashes, Transport, client_fingerprints};
use hellotap::output;
use hellotap::record::Handshake;
use hellotap::time::Timestamp;
use hellotap::tls::hello::parse_client_hello;
use hellotap::tls::stream::{DirLimits, DirParser, TlsItem};
use hellotap::worker::{Worker, WorkerConfig};

/// A frame copied out of the reader's buffer.
struct OwnedFrame {
    ts: Timestamp,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
}

impl OwnedFrame {
    fn frame(&self) -> Frame<'_> {
        Frame { ts: self.ts, linktype: self.linktype, data: &self.data, orig_len: self.orig_len }
    }
}

fn pcap_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps").join(name)
}

/// Every frame of a capture, in file order.
fn load_frames(name: &str) -> Vec<OwnedFrame> {
    let path = pcap_path(name);
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut frames = Vec::new();
    read_capture(
        BufReader::new(file),
        |f| {
            frames.push(OwnedFrame {
                ts: f.ts,
                linktype: f.linktype,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
            });
            true
        },
        |_| {},
    )
    .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    assert!(!frames.is_empty(), "{name}: no frames");
    frames
}

/// The records a fresh worker makes from every frame of a capture.
fn records(frames: &[OwnedFrame]) -> Vec<Handshake> {
    let mut worker = Worker::new(WorkerConfig::default());
    let mut out = Vec::new();
    for f in frames {
        worker.frame(&f.frame(), &mut |h| out.push(h));
    }
    worker.flush(&mut |h| out.push(h));
    out
}

/// One direction of the capture's first TCP connection.
struct Side {
    /// Index (in the capture) of each frame with payload in this direction.
    frames: Vec<usize>,
    /// The TCP payload of each of those frames.
    segments: Vec<Vec<u8>>,
}

/// The client's and the server's payload-carrying segments of the first connection (the
/// client is the sender of the first SYN). The captures have no loss or reordering.
fn first_connection(frames: &[OwnedFrame]) -> (Side, Side) {
    let mut client = None;
    let mut sides = (Side { frames: vec![], segments: vec![] }, Side { frames: vec![], segments: vec![] });
    for (i, f) in frames.iter().enumerate() {
        let Ok(p) = decode::decode(f.linktype, &f.data, 0) else { continue };
        let L4::Tcp(tcp) = p.transport else { continue };
        let (src, dst) = ((p.src, p.sport), (p.dst, p.dport));
        if client.is_none() && tcp.syn && !tcp.ack_flag {
            client = Some((src, dst));
        }
        let Some((c, s)) = client else { continue };
        if p.payload.is_empty() {
            continue;
        }
        let side = if (src, dst) == (c, s) {
            &mut sides.0
        } else if (src, dst) == (s, c) {
            &mut sides.1
        } else {
            continue;
        };
        side.frames.push(i);
        side.segments.push(p.payload.to_vec());
    }
    sides
}

/// The first handshake message of `msg_type` in a direction, and the index of the frame
/// that completed it.
fn handshake_message(side: &Side, msg_type: u8) -> (Vec<u8>, usize) {
    let mut parser = DirParser::new(DirLimits::default());
    for (seg, &frame) in side.segments.iter().zip(&side.frames) {
        let mut found = None;
        parser.feed(seg, &mut |item| {
            if let TlsItem::Handshake { msg_type: t, body } = item {
                if t == msg_type && found.is_none() {
                    found = Some(body.to_vec());
                }
            }
        });
        if let Some(body) = found {
            return (body, frame);
        }
    }
    panic!("no handshake message of type {msg_type}");
}

struct Inputs {
    chromium_hello: Vec<u8>,
    openssl_hello: Vec<u8>,
    /// The Ethernet/IPv4/TCP frame carrying OpenSSL's ClientHello.
    hello_frame: (u32, Vec<u8>),
    /// The server's segments of the OpenSSL TLS 1.2 connection.
    server_flight: Vec<Vec<u8>>,
    /// All frames of the OpenSSL TLS 1.2 capture.
    capture: Vec<OwnedFrame>,
    /// The records of the OpenSSL TLS 1.2 and the Chromium captures.
    openssl_record: Handshake,
    chromium_record: Handshake,
}

fn inputs() -> Inputs {
    let chromium = load_frames("chromium-veth-split-clienthello.pcap");
    let (client, _) = first_connection(&chromium);
    let (chromium_hello, _) = handshake_message(&client, 1);
    let chromium_record = records(&chromium).into_iter().next().expect("a Chromium record");

    let capture = load_frames("openssl-tls12-ecdhe-rsa-gcm-chain.pcap");
    let (client, server) = first_connection(&capture);
    let (openssl_hello, frame) = handshake_message(&client, 1);
    let f = &capture[frame];
    assert_eq!(f.linktype, decode::linktype::ETHERNET);
    let openssl_record = records(&capture).into_iter().next().expect("an OpenSSL record");
    assert_eq!(openssl_record.certificates.len(), 3);
    Inputs {
        chromium_hello,
        openssl_hello,
        hello_frame: (f.linktype, f.data.clone()),
        server_flight: server.segments,
        capture,
        openssl_record,
        chromium_record,
    }
}

fn benches(c: &mut Criterion) {
    let inp = inputs();

    let mut g = c.benchmark_group("clienthello/parse");
    for (name, body) in [("chromium", &inp.chromium_hello), ("openssl_tls12", &inp.openssl_hello)] {
        parse_client_hello(body, false).expect("the ClientHello parses");
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| b.iter(|| parse_client_hello(black_box(body), false)));
    }
    g.finish();

    let mut g = c.benchmark_group("fingerprint");
    for (name, body) in [("chromium", &inp.chromium_hello), ("openssl_tls12", &inp.openssl_hello)] {
        let ch = parse_client_hello(body, false).expect("the ClientHello parses");
        g.bench_function(format!("ja3/{name}"), |b| b.iter(|| ja3(black_box(&ch))));
        g.bench_function(format!("ja4/{name}"), |b| b.iter(|| ja4(black_box(&ch), Transport::Tcp)));
        // The same hello again through a worker's hash cache (every hash a hit).
        let mut hashes = Hashes::new(1 << 20);
        g.bench_function(format!("ja3_cached/{name}"), |b| b.iter(|| ja3_with(black_box(&ch), &mut hashes)));
        g.bench_function(format!("ja4_cached/{name}"), |b| {
            b.iter(|| ja4_with(black_box(&ch), Transport::Tcp, &mut hashes))
        });
        // Both through the worker's cache of whole hellos (a repeated client: one lookup).
        g.bench_function(format!("client_cached/{name}"), |b| {
            b.iter(|| client_fingerprints(black_box(&ch), Transport::Tcp, &mut hashes))
        });
    }
    // What the whole-hello cache costs a client that never repeats its hello (Chromium
    // shuffles its extensions on every connection): each iteration a new order of
    // Chromium's extensions (a shuffle seeded by the iteration count, made on a copy of the
    // hello in both benches), against the same through the hash caches alone
    // (`_hashes_only`). The difference of the two is the cost of the misses.
    let chromium = parse_client_hello(&inp.chromium_hello, false).expect("the ClientHello parses");
    let shuffle = |i: u64| {
        let mut ch = chromium.clone();
        let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for k in (1..ch.extensions.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ch.extensions.swap(k, (x % (k as u64 + 1)) as usize);
        }
        ch
    };
    let mut hashes = Hashes::new(1 << 20);
    let mut i = 0u64;
    g.bench_function("client_shuffled/chromium", |b| {
        b.iter(|| {
            i += 1;
            client_fingerprints(&shuffle(i), Transport::Tcp, &mut hashes)
        })
    });
    let mut hashes = Hashes::new(1 << 20);
    let mut i = 0u64;
    g.bench_function("client_shuffled_hashes_only/chromium", |b| {
        b.iter(|| {
            i += 1;
            let ch = shuffle(i);
            (ja3_with(&ch, &mut hashes), ja4_with(&ch, Transport::Tcp, &mut hashes))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("decode");
    let (linktype, frame) = &inp.hello_frame;
    decode::decode(*linktype, frame, 0).expect("the frame decodes");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ethernet_ipv4_tcp", |b| {
        b.iter(|| decode::decode(black_box(*linktype), black_box(frame), 0))
    });
    // The same TCP segment in IPv6 behind one 802.1Q tag (the hand-written path too).
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 15) * 4;
    let tcp = &ip[ihl..usize::from(u16::from_be_bytes([ip[2], ip[3]]))];
    let mut v6 = frame[..12].to_vec();
    v6.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x86, 0xdd, 0x60, 0, 0, 0]);
    v6.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    v6.extend_from_slice(&[6, 64]);
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v6.extend_from_slice(tcp);
    let p = decode::decode(*linktype, &v6, 0).expect("the IPv6 frame decodes");
    assert_eq!(p.payload, decode::decode(*linktype, frame, 0).unwrap().payload);
    assert_eq!(p.vlan_ids(), &[100]);
    g.bench_function("ethernet_vlan_ipv6_tcp", |b| {
        b.iter(|| decode::decode(black_box(*linktype), black_box(&v6), 0))
    });
    g.finish();

    let mut g = c.benchmark_group("dirparser");
    let flight_bytes: usize = inp.server_flight.iter().map(Vec::len).sum();
    let mut kinds = Vec::new();
    let mut parser = DirParser::new(DirLimits::default());
    for seg in &inp.server_flight {
        parser.feed(seg, &mut |item| {
            kinds.push(match item {
                TlsItem::Handshake { msg_type, .. } => msg_type,
                _ => 0,
            })
        });
    }
    // ServerHello, Certificate, ServerKeyExchange, ServerHelloDone, then CCS and the rest.
    assert!(kinds.starts_with(&[2, 11, 12, 14]), "unexpected server flight {kinds:?}");
    g.throughput(Throughput::Bytes(flight_bytes as u64));
    g.bench_function("server_flight", |b| {
        b.iter(|| {
            let mut parser = DirParser::new(DirLimits::default());
            let mut items = 0usize;
            for seg in &inp.server_flight {
                parser.feed(black_box(seg), &mut |item| {
                    black_box(&item);
                    items += 1;
                });
            }
            items
        })
    });
    g.finish();

    let mut g = c.benchmark_group("worker/capture");
    g.throughput(Throughput::Elements(inp.capture.len() as u64));
    g.bench_function("openssl-tls12-ecdhe-rsa-gcm-chain", |b| {
        b.iter_batched(
            || Worker::new(WorkerConfig::default()),
            |mut worker| {
                let mut events = 0usize;
                let mut out = |h| {
                    black_box(h);
                    events += 1;
                };
                for f in &inp.capture {
                    worker.frame(&f.frame(), &mut out);
                }
                worker.flush(&mut out);
                assert_eq!(events, 1);
                events
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("output/to_json");
    for (name, h) in [("openssl_tls12_chain", &inp.openssl_record), ("chromium", &inp.chromium_record)] {
        g.throughput(Throughput::Bytes(output::to_json(h).len() as u64));
        g.bench_function(name, |b| b.iter(|| output::to_json(black_box(h))));
    }
    g.finish();
}

criterion_group!(parsers, benches);
criterion_main!(parsers);
