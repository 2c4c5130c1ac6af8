//! DTLS on real captures from `../shared/pcaps/` (skipped when absent).
//!
//! Every UDP datagram is decoded; a flow becomes DTLS at the first datagram (in either
//! direction) that `dtls::looks_like_client_hello` accepts, and from then on each
//! direction's payloads go to its own `DtlsDir`. The hellos it emits are parsed
//! (`parse_client_hello(body, true)`, `parse_server_hello`) and fingerprinted, and compared
//! with:
//! * the JA3/JA3S tshark 4.0 computed on the same captures (`*/tshark_observed.jsonl`,
//!   rows with `"transport": "dtls"`), hello by hello, by frame;
//! * FoxIO's JA4 for `dtls-udp.notest.cap` (foxio/MANIFEST.md, the `issue-thread` row);
//! * the negotiated version, cipher and the raw ClientHello/ServerHello lists that Zeek's
//!   baselines give for its DTLS traces (zeek/expected.jsonl).
//!
//! Each comparison prints agreement N/M and asserts that every disagreement is one of the
//! explained cases listed beside it (and that each listed case still happens).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

use common::{Tally, read_jsonl, shared_pcaps};
use hellotap::capture;
use hellotap::decode::{self, Transport as L4};
use hellotap::dtls::{self, DtlsDir, DtlsLimits, DtlsStats, HELLO_VERIFY_REQUEST};
use hellotap::fingerprint::Transport;
use hellotap::fingerprint::ja3::{ja3, ja3s};
use hellotap::fingerprint::ja4::ja4;
use hellotap::tls::hello::{ClientHello, ServerHello, parse_client_hello, parse_server_hello};
use hellotap::tls::names;
use hellotap::tls::stream::TlsItem;
use serde_json::Value;

fn skip(what: &str) {
    println!("note: skipping {what}: ../shared/pcaps is absent");
}

/// Every DTLS capture in the shared corpora, relative to `../shared/pcaps`.
const CAPTURES: &[&str] = &[
    "illustrated/dtls/capture.pcap",
    "foxio/pcap/dtls-udp.notest.cap",
    "zeek/Traces/tls/dtls-sequence-number-jumps.pcap",
    "zeek/Traces/tls/dtls13-cid.pcap",
    "zeek/Traces/tls/dtls13-wolfssl.pcap",
    "zeek/Traces/tls/dtls1_0.pcap",
    "zeek/Traces/tls/dtls1_2.pcap",
    "zeek/Traces/tls/webrtc-stun.pcap",
];

type Endpoint = (IpAddr, u16);

/// A hello one direction emitted.
#[derive(Debug)]
enum Hello {
    Client(Box<ClientHello>),
    Server(Box<ServerHello>),
    VerifyRequest,
}

/// A hello, where and when it completed.
#[derive(Debug)]
struct Seen {
    /// 1-based frame number of the datagram that completed it.
    frame: u64,
    src: Endpoint,
    dst: Endpoint,
    hello: Hello,
}

/// What one capture gave.
#[derive(Debug, Default)]
struct Capture {
    hellos: Vec<Seen>,
    /// Stats per direction, for the printout.
    stats: BTreeMap<(Endpoint, Endpoint), DtlsStats>,
    /// Flows and the 1-based index, within the flow, of the datagram that made it DTLS.
    detected_at: BTreeMap<(Endpoint, Endpoint), u64>,
    /// Hellos that did not parse.
    parse_errors: Vec<String>,
}

fn run(path: &Path) -> Capture {
    struct Flow {
        datagrams: u64,
        dtls: bool,
        dirs: BTreeMap<Endpoint, DtlsDir>,
    }
    let mut flows: BTreeMap<(Endpoint, Endpoint), Flow> = BTreeMap::new();
    let mut cap = Capture::default();
    let mut frame = 0u64;
    capture::read_capture(
        File::open(path).unwrap(),
        |f| {
            frame += 1;
            let Ok(p) = decode::decode(f.linktype, f.data, 0) else { return true };
            if p.transport != L4::Udp || p.payload.is_empty() {
                return true;
            }
            let (src, dst) = ((p.src, p.sport), (p.dst, p.dport));
            let key = if src < dst { (src, dst) } else { (dst, src) };
            let flow =
                flows.entry(key).or_insert_with(|| Flow { datagrams: 0, dtls: false, dirs: BTreeMap::new() });
            flow.datagrams += 1;
            if !flow.dtls && dtls::looks_like_client_hello(p.payload) {
                flow.dtls = true;
                cap.detected_at.insert(key, flow.datagrams);
            }
            if !flow.dtls {
                return true;
            }
            let dir = flow.dirs.entry(src).or_insert_with(|| DtlsDir::new(DtlsLimits::default()));
            dir.datagram(p.payload, &mut |item| {
                let TlsItem::Handshake { msg_type, body } = item else { return };
                let hello = match msg_type {
                    1 => match parse_client_hello(body, true) {
                        Ok(ch) => Hello::Client(Box::new(ch)),
                        Err(e) => return cap.parse_errors.push(format!("frame {frame} ClientHello: {e}")),
                    },
                    2 => match parse_server_hello(body) {
                        Ok(sh) => Hello::Server(Box::new(sh)),
                        Err(e) => return cap.parse_errors.push(format!("frame {frame} ServerHello: {e}")),
                    },
                    HELLO_VERIFY_REQUEST => Hello::VerifyRequest,
                    _ => return,
                };
                cap.hellos.push(Seen { frame, src, dst, hello });
            });
            true
        },
        |_| {},
    )
    .unwrap();
    for (_, flow) in flows {
        for (src, dir) in flow.dirs {
            let dst = cap.hellos.iter().find(|h| h.src == src).map(|h| h.dst);
            if let Some(dst) = dst {
                cap.stats.insert((src, dst), dir.stats());
            }
        }
    }
    cap
}

/// Every capture, run once.
fn captures(root: &Path) -> BTreeMap<&'static str, Capture> {
    let mut out = BTreeMap::new();
    for rel in CAPTURES {
        let p = root.join(rel);
        if !p.exists() {
            println!("note: {} absent, skipped", p.display());
            continue;
        }
        out.insert(*rel, run(&p));
    }
    out
}

fn endpoint(r: &Value, ip: &str, port: &str) -> Endpoint {
    (r[ip].as_str().unwrap().parse().unwrap(), r[port].as_u64().unwrap() as u16)
}

/// Zeek's name for a DTLS version.
fn zeek_version(v: u16) -> String {
    match v {
        0xfeff => "DTLSv10".into(),
        0xfefd => "DTLSv12".into(),
        0xfefc => "DTLSv13".into(),
        _ => format!("unknown-{v}"),
    }
}

#[test]
fn every_capture_gives_whole_parseable_hellos() {
    let Some(root) = shared_pcaps() else { return skip("DTLS captures") };
    for (rel, cap) in captures(&root) {
        let (mut ch, mut sh, mut hvr) = (0, 0, 0);
        for h in &cap.hellos {
            match &h.hello {
                Hello::Client(c) => {
                    ch += 1;
                    println!(
                        "{rel} frame {}: ClientHello JA3 {} JA4 {}",
                        h.frame,
                        ja3(c).string,
                        ja4(c, Transport::Dtls).ja4
                    );
                }
                Hello::Server(s) => {
                    sh += 1;
                    println!("{rel} frame {}: ServerHello JA3S {}", h.frame, ja3s(s).string);
                }
                Hello::VerifyRequest => hvr += 1,
            }
        }
        println!("{rel}: {ch} ClientHello, {sh} ServerHello, {hvr} HelloVerifyRequest");
        for (dir, st) in &cap.stats {
            println!("  {dir:?}: {st:?}");
            assert_eq!(st.buffered_bytes, 0, "{rel}: a direction ends with a partial message");
            assert_eq!(st.capped_fragments + st.too_large + st.malformed_fragments, 0, "{rel}: {st:?}");
        }
        assert!(cap.parse_errors.is_empty(), "{rel}: {:?}", cap.parse_errors);
        assert!(ch >= 1, "{rel}: no ClientHello");
        // Only WebRTC's flow starts with something else (STUN).
        for (flow, at) in &cap.detected_at {
            if !rel.contains("webrtc") {
                assert_eq!(*at, 1, "{rel} {flow:?}: DTLS detected only at datagram {at}");
            }
        }
    }
}

/// The JA3/JA3S tshark 4.0 printed for each DTLS hello it saw. tshark prints a value in
/// the frame that completes a message, and again for every retransmission; a frame where
/// tshark saw a hello fragment but printed no JA3 must not complete a hello here either.
#[test]
fn tshark_observed_dtls_ja3_ja3s() {
    let Some(root) = shared_pcaps() else { return skip("tshark_observed") };
    let caps = captures(&root);
    let mut t_ja3 = Tally::new("tshark JA3 (dtls)");
    let mut t_ja3s = Tally::new("tshark JA3S (dtls)");
    let mut t_frag = Tally::new("tshark fragment-only frames complete no hello here");
    let mut t_ours = Tally::new("our hellos that tshark reports in the same frame");
    let mut per_capture: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    let mut rows = Vec::new();
    for corpus in ["illustrated", "zeek", "foxio", "suricata-verify", "retina", "rusticata-tls-parser"] {
        let p = root.join(corpus).join("tshark_observed.jsonl");
        if p.exists() {
            rows.extend(read_jsonl(&p).into_iter().filter(|r| r["transport"] == "dtls"));
        }
    }
    let mut tshark_frames = BTreeSet::new();
    for r in &rows {
        let pcap = r["pcap"].as_str().unwrap();
        let Some(cap) = caps.get(pcap) else {
            // Absent from this checkout (noted above), or a capture this list forgot.
            assert!(CAPTURES.contains(&pcap), "{pcap} has DTLS rows but is not in CAPTURES");
            continue;
        };
        let frame = r["frame"].as_u64().unwrap();
        let (src, dst) = (endpoint(r, "src_ip", "src_port"), endpoint(r, "dst_ip", "dst_port"));
        let client = r["msg"] == "client_hello";
        tshark_frames.insert((pcap.to_string(), frame, client));
        // Ours: the hello of that kind completed in this frame, or (a retransmission) the
        // latest one completed before it, in the same direction.
        let ours = cap
            .hellos
            .iter()
            .filter(|h| h.src == src && h.dst == dst && h.frame <= frame)
            .filter(|h| matches!((&h.hello, client), (Hello::Client(_), true) | (Hello::Server(_), false)))
            .max_by_key(|h| h.frame);
        let key = format!("{pcap} frame {frame} {}", r["msg"].as_str().unwrap());
        let counts = per_capture.entry(pcap.to_string()).or_default();
        let want_key = if client { "ja3" } else { "ja3s" };
        let Some(want) = r[want_key].as_str() else {
            // tshark printed no fingerprint: a fragment of a hello that is not whole yet.
            t_frag.check(
                key,
                "nothing",
                Some(if ours.is_some_and(|h| h.frame == frame) { "a hello" } else { "nothing" }),
            );
            continue;
        };
        let got = ours.map(|h| match &h.hello {
            Hello::Client(c) => (ja3(c).hash, ja3(c).string),
            Hello::Server(s) => (ja3s(s).hash, ja3s(s).string),
            Hello::VerifyRequest => unreachable!(),
        });
        let tally = if client { &mut t_ja3 } else { &mut t_ja3s };
        let before = tally.agree;
        let want_string = r[format!("{want_key}_string")].as_str().unwrap_or("");
        tally.check(format!("{key} ({want_string})"), want, got.as_ref().map(|(h, _)| h.as_str()));
        if let Some((_, s)) = &got {
            assert!(tally.agree > before || s != want_string, "hash differs but the string agrees");
        }
        counts[if client { 0 } else { 2 }] += tally.agree - before;
        counts[if client { 1 } else { 3 }] += 1;
    }
    for (pcap, cap) in &caps {
        for h in &cap.hellos {
            let client = match h.hello {
                Hello::Client(_) => true,
                Hello::Server(_) => false,
                Hello::VerifyRequest => continue,
            };
            let seen = tshark_frames.contains(&(pcap.to_string(), h.frame, client));
            t_ours.check(
                format!("{pcap} frame {}", h.frame),
                "reported",
                Some(if seen { "reported" } else { "not reported" }),
            );
        }
    }
    for (pcap, [a, n, sa, sn]) in &per_capture {
        println!("{pcap}: JA3 {a}/{n}  JA3S {sa}/{sn}");
    }
    t_ja3.finish(&[]);
    t_ja3s.finish(&[]);
    t_frag.finish(&[]);
    t_ours.finish(&[(
        "foxio/pcap/dtls-udp.notest.cap",
        "foxio's corpus has no tshark_observed.jsonl: tshark was not run on it",
    )]);
}

/// FoxIO's JA4 for its one DTLS capture (foxio/expected.jsonl, `issue-thread` row).
#[test]
fn foxio_dtls_ja4() {
    let Some(root) = shared_pcaps() else { return skip("foxio") };
    let rows = read_jsonl(&root.join("foxio/expected.jsonl"));
    let caps = captures(&root);
    let mut t = Tally::new("foxio JA4 (dtls)");
    let mut seen = BTreeSet::new();
    for r in rows.iter().filter(|r| r["source"] == "issue-thread" && r["pcap"] == "dtls-udp.notest.cap") {
        let frame = r["frame"].as_u64().unwrap();
        let want = r["ja4"].as_str().unwrap();
        // The row is listed twice in expected.jsonl; compare it once.
        if !seen.insert((frame, want.to_string())) {
            continue;
        }
        let Some(cap) = caps.get("foxio/pcap/dtls-udp.notest.cap") else { continue };
        let got = cap.hellos.iter().find_map(|h| match &h.hello {
            Hello::Client(c) if h.frame == frame => Some(ja4(c, Transport::Dtls).ja4),
            _ => None,
        });
        t.check(format!("dtls-udp.notest.cap frame {frame}"), want, got.as_deref());
    }
    assert!(t.total > 0 || caps.is_empty(), "no FoxIO DTLS row found");
    t.finish(&[]);
}

/// Zeek's ssl.log for its DTLS traces: version, cipher, and (ssl-log-ext) the raw lists.
#[test]
fn zeek_dtls_versions_and_raw_lists() {
    let Some(root) = shared_pcaps() else { return skip("zeek") };
    let rows = read_jsonl(&root.join("zeek/expected.jsonl"));
    let caps = captures(&root);
    let mut t_version = Tally::new("zeek version (dtls)");
    let mut t_cipher = Tally::new("zeek cipher (dtls)");
    let mut t_raw = Tally::new("zeek ssl-log-ext raw lists (dtls)");
    let dtls_rows = rows.iter().filter(|r| {
        r["record_type"] == "zeek_ssl" && r["version"].as_str().is_some_and(|v| v.starts_with("DTLS"))
    });
    for r in dtls_rows {
        let pcap = r["pcap"].as_str().unwrap();
        let Some(cap) = caps.get(pcap) else {
            assert!(CAPTURES.contains(&pcap), "{pcap} has Zeek DTLS rows but is not in CAPTURES");
            continue;
        };
        let (a, b) = (endpoint(r, "src_ip", "src_port"), endpoint(r, "dst_ip", "dst_port"));
        let in_flow = |h: &&Seen| (h.src == a && h.dst == b) || (h.src == b && h.dst == a);
        let key = format!("{pcap} {}:{}<->{}:{}", a.0, a.1, b.0, b.1);
        let clients: Vec<&ClientHello> = cap
            .hellos
            .iter()
            .filter(in_flow)
            .filter_map(|h| if let Hello::Client(c) = &h.hello { Some(&**c) } else { None })
            .collect();
        // The ServerHello that concluded the handshake (not a HelloRetryRequest).
        let sh = cap
            .hellos
            .iter()
            .filter(in_flow)
            .filter_map(|h| if let Hello::Server(s) = &h.hello { Some(&**s) } else { None })
            .rfind(|s| !s.hello_retry);
        let want = r["version"].as_str().unwrap();
        t_version.check(key.clone(), want, sh.map(|s| zeek_version(s.negotiated_version())).as_deref());
        if let Some(want) = r["cipher"].as_str() {
            t_cipher.check(key.clone(), want, sh.and_then(|s| names::cipher_suite(s.cipher)));
        }
        let nums = |k: &str| -> Option<String> {
            r[k].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap()).collect::<Vec<_>>().join(","))
        };
        let join =
            |it: &mut dyn Iterator<Item = u32>| it.map(|v| v.to_string()).collect::<Vec<_>>().join(",");
        let first = clients.first();
        let mut raw = |field: &str, got: Option<String>| {
            if let Some(want) = nums(field).or_else(|| r[field].as_str().map(str::to_string)) {
                t_raw.check(format!("{key} {field}"), &want, got.as_deref());
            }
        };
        raw("client_version_num", first.map(|c| c.version.to_string()));
        raw("client_ciphers", first.map(|c| join(&mut c.ciphers.iter().map(|&v| u32::from(v)))));
        raw("client_curves", first.map(|c| join(&mut c.groups.iter().map(|&v| u32::from(v)))));
        raw("point_formats", first.map(|c| join(&mut c.point_formats.iter().map(|&v| u32::from(v)))));
        raw("client_comp_methods", first.map(|c| join(&mut c.compression.iter().map(|&v| u32::from(v)))));
        // Zeek appends the extensions of every ClientHello of the connection (before and
        // after the HelloVerifyRequest), zeek/MANIFEST.md says; so do we here.
        raw(
            "client_exts",
            Some(join(&mut clients.iter().flat_map(|c| c.extensions.iter().map(|&v| u32::from(v))))),
        );
        let sig = first.and_then(|c| c.sig_algs.as_ref());
        raw("hashalgs", sig.map(|s| join(&mut s.iter().map(|&v| u32::from(v >> 8)))));
        raw("sigalgs", sig.map(|s| join(&mut s.iter().map(|&v| u32::from(v & 0xff)))));
        raw("server_version_num", sh.map(|s| s.version.to_string()));
        raw("server_exts", sh.map(|s| join(&mut s.extensions.iter().map(|&v| u32::from(v)))));
    }
    t_version.finish(&[]);
    t_cipher.finish(&[]);
    t_raw.finish(&[]);
}
