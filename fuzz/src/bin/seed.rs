//! Writes seed corpora for every fuzz target into `corpus/<target>/`, from the project's
//! own captures (`../pcaps`), test certificates (`../tests/data/certs`), rule files
//! (`../rules`, `../tests/data/rules`), the sample configuration (`../deploy`) and the
//! fingerprints in the captures' expected output. Run from anywhere:
//!
//!     cargo run --release --bin seed            (in fuzz/)
//!
//! Seeds are named by a hash of their content, so re-running adds nothing twice.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hellotap::capture::read_capture;
use hellotap::decode::{self, Transport as L4};
use hellotap::dtls::{DtlsDir, DtlsLimits};
use hellotap::quic::{QuicConn, QuicLimits};
use hellotap::reassembly::{StreamLimits, TcpStream};
use hellotap::tls::stream::{DirLimits, DirParser, TlsItem};
use hellotap_fuzz::{linktype_index, push_datagram};

struct Out {
    root: PathBuf,
    counts: HashMap<&'static str, usize>,
}

impl Out {
    fn put(&mut self, target: &'static str, bytes: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        let path = dir.join(format!("{:016x}", h.finish()));
        if !path.exists() {
            std::fs::write(path, bytes).unwrap();
            *self.counts.entry(target).or_default() += 1;
        }
    }

    fn with_prefix(&mut self, target: &'static str, prefix: &[u8], bytes: &[u8]) {
        let mut v = prefix.to_vec();
        v.extend_from_slice(bytes);
        self.put(target, &v);
    }
}

/// Handshake messages of a record stream (or of bare messages, for QUIC CRYPTO data).
fn messages(stream: &[u8], bare: bool, dtls: Option<&[Vec<u8>]>) -> Vec<(u8, Vec<u8>)> {
    let mut v = Vec::new();
    let mut push = |item: TlsItem<'_>| match item {
        TlsItem::Handshake { msg_type, body } => v.push((msg_type, body.to_vec())),
        TlsItem::Sslv2ClientHello(m) => v.push((0x80, m.to_vec())),
        _ => {}
    };
    if let Some(datagrams) = dtls {
        let mut d = DtlsDir::new(DtlsLimits::default());
        for dg in datagrams {
            d.datagram(dg, &mut push);
        }
    } else {
        let mut p = DirParser::new(DirLimits::default());
        if bare { p.feed_messages(stream, &mut push) } else { p.feed(stream, &mut push) }
    }
    v
}

fn hello_and_cert_seeds(out: &mut Out, msgs: &[(u8, Vec<u8>)], mode: u8, tls13: bool) {
    for (t, body) in msgs {
        match t {
            1 | 2 | 0x80 => out.with_prefix("hello", &[mode], body),
            11 => {
                out.with_prefix("x509", &[u8::from(tls13)], body);
                if let Ok(list) = hellotap::x509::certificate_list(body, tls13) {
                    for der in list.certs {
                        out.with_prefix("x509", &[2 | 4], der);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `[seq, flags, len, bytes]` segments (payloads over 255 bytes are cut in pieces).
fn reassembly_seed(segs: &[(u32, bool, Vec<u8>)]) -> Vec<u8> {
    let mut v = vec![0u8];
    for (seq, syn, payload) in segs.iter().take(40) {
        let mut seq = *seq;
        let mut first = true;
        let chunks: Vec<&[u8]> = if payload.is_empty() { vec![&[][..]] } else { payload.chunks(255).take(8).collect() };
        for c in chunks {
            v.extend_from_slice(&seq.to_be_bytes());
            v.push(u8::from(*syn && first));
            v.push(c.len() as u8);
            v.extend_from_slice(c);
            seq = seq.wrapping_add(c.len() as u32 + u32::from(*syn && first));
            first = false;
        }
    }
    v
}

type Key = (IpAddr, u16, IpAddr, u16);

fn pcap_seeds(out: &mut Out, path: &Path) {
    let data = std::fs::read(path).unwrap();
    out.put("capture", &data);
    // Per TCP direction: segments in capture order. Per UDP flow (first sender = client):
    // datagrams with their side.
    let mut tcp: Vec<(Key, Vec<(u32, bool, Vec<u8>)>)> = Vec::new();
    let mut udp: Vec<(Key, Vec<(bool, Vec<u8>)>)> = Vec::new();
    let mut frames = 0;
    let _ = read_capture(
        &data[..],
        |f| {
            let missing = f.orig_len.saturating_sub(f.data.len() as u32);
            let Ok(p) = decode::decode(f.linktype, f.data, missing) else { return true };
            if frames < 40 && !p.payload.is_empty() {
                if let Some(i) = linktype_index(f.linktype) {
                    out.with_prefix("decode", &[i, missing.min(255) as u8], f.data);
                    frames += 1;
                }
            }
            let key = (p.src, p.sport, p.dst, p.dport);
            match p.transport {
                L4::Tcp(t) => match tcp.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push((t.seq, t.syn, p.payload.to_vec())),
                    None => tcp.push((key, vec![(t.seq, t.syn, p.payload.to_vec())])),
                },
                L4::Udp => {
                    let rev = (p.dst, p.dport, p.src, p.sport);
                    if let Some((_, v)) = udp.iter_mut().find(|(k, _)| *k == key) {
                        v.push((true, p.payload.to_vec()));
                    } else if let Some((_, v)) = udp.iter_mut().find(|(k, _)| *k == rev) {
                        v.push((false, p.payload.to_vec()));
                    } else {
                        udp.push((key, vec![(true, p.payload.to_vec())]));
                    }
                }
            }
            true
        },
        |_| {},
    );
    for (_, segs) in &tcp {
        out.put("reassembly", &reassembly_seed(segs));
        let mut stream = Vec::new();
        let mut s = TcpStream::new(StreamLimits::default());
        for (seq, syn, payload) in segs {
            s.segment(*seq, *syn, payload, false, &mut |b| stream.extend_from_slice(b));
        }
        if stream.is_empty() {
            continue;
        }
        stream.truncate(24 * 1024);
        out.with_prefix("tls_records", &[0, 0, 0, 0], &stream);
        out.with_prefix("tls_records", &[2, 3, 100, 200], &stream);
        let msgs = messages(&stream, false, None);
        // TLS 1.3 hides its Certificate; a visible one is TLS <= 1.2.
        hello_and_cert_seeds(out, &msgs, 0, false);
    }
    for (_, dgrams) in &udp {
        let Some((_, first)) = dgrams.first() else { continue };
        if hellotap::quic::looks_like_client_initial(first) {
            let mut q = Vec::new();
            let mut conn = QuicConn::new(QuicLimits::default());
            for (client, d) in dgrams.iter().take(24) {
                push_datagram(&mut q, if *client { 1 } else { 2 }, d);
                conn.datagram(Some(*client), d);
            }
            out.put("quic", &q);
            let v2 = conn.version() == Some(hellotap::quic::VERSION_2);
            let (c, s) = (conn.crypto(true).to_vec(), conn.crypto(false).to_vec());
            for (side, crypto) in [(true, &c), (false, &s)] {
                if !crypto.is_empty() {
                    out.with_prefix("tls_records", &[4, 0, 0, 0], crypto);
                    out.with_prefix("tls_records", &[4, 10, 100, 250], crypto);
                    hello_and_cert_seeds(out, &messages(crypto, true, None), 1, true);
                    let _ = side;
                }
            }
            if !c.is_empty() {
                // Sealed Initials: the client's CRYPTO in one packet, then in two pieces out
                // of order, then the server's (after an ACK frame).
                let mut qi = vec![u8::from(v2)];
                let mut pkt = vec![0u8];
                pkt.extend(crypto_frame(0, &c));
                push_datagram(&mut qi, 1, &pkt);
                let mut spkt = vec![0u8, 0x02, 0x00, 0x00, 0x00, 0x00];
                spkt.extend(crypto_frame(0, &s));
                push_datagram(&mut qi, 2, &spkt);
                out.put("quic_initial", &qi);
                let mut qi = vec![u8::from(v2)];
                let half = c.len() / 2;
                let mut p1 = vec![1u8];
                p1.extend(crypto_frame(half as u64, &c[half..]));
                push_datagram(&mut qi, 1, &p1);
                let mut p0 = vec![0u8];
                p0.extend(crypto_frame(0, &c[..half]));
                push_datagram(&mut qi, 3, &p0);
                out.put("quic_initial", &qi);
            }
        } else if hellotap::dtls::looks_like_client_hello(first) {
            let mut d = vec![0u8];
            for (client, dg) in dgrams.iter().take(24) {
                push_datagram(&mut d, if *client { 0 } else { 2 }, dg);
            }
            out.put("dtls", &d);
            d[0] = 1;
            out.put("dtls", &d);
            for client in [true, false] {
                let side: Vec<Vec<u8>> =
                    dgrams.iter().filter(|(c, _)| *c == client).map(|(_, d)| d.clone()).collect();
                hello_and_cert_seeds(out, &messages(&[], false, Some(&side)), 2, false);
            }
        }
    }
}

fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x06];
    for x in [offset, data.len() as u64] {
        match x {
            0..=0x3f => v.push(x as u8),
            0x40..=0x3fff => v.extend((0x4000 | x as u16).to_be_bytes()),
            _ => v.extend((0x8000_0000 | x as u32).to_be_bytes()),
        }
    }
    v.extend_from_slice(data);
    v
}

/// Values of `"key":"..."` in a JSON line (no escapes in fingerprints).
fn json_strings<'a>(line: &'a str, key: &str) -> Vec<&'a str> {
    let pat = format!("\"{key}\":\"");
    line.match_indices(&pat)
        .filter_map(|(i, _)| {
            let rest = &line[i + pat.len()..];
            rest.find('"').map(|e| &rest[..e])
        })
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn main() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let repo = fuzz.parent().unwrap().to_path_buf();
    let mut out = Out { root: fuzz.join("corpus"), counts: HashMap::new() };
    for p in files(&repo.join("pcaps")) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".pcap") || name.ends_with(".pcapng") {
            pcap_seeds(&mut out, &p);
        } else if name.ends_with(".expected.jsonl") {
            let text = std::fs::read_to_string(&p).unwrap();
            for line in text.lines() {
                for key in ["string", "ja4", "ja4_r", "ja4s", "ja4s_r", "ja4x", "ja4x_r"] {
                    for v in json_strings(line, key) {
                        out.with_prefix("rules_config", &[3], v.as_bytes());
                    }
                }
            }
        }
    }
    for p in files(&repo.join("tests/data/certs")) {
        if p.extension().is_some_and(|e| e == "der") {
            out.with_prefix("x509", &[2 | 4], &std::fs::read(&p).unwrap());
        }
    }
    for dir in ["rules", "tests/data/rules", "deploy"] {
        for p in files(&repo.join(dir)) {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.len() > 64 * 1024 {
                continue;
            }
            let ext = p.extension().map(|e| e.to_string_lossy().to_string()).unwrap_or_default();
            match ext.as_str() {
                "toml" if p.file_name().is_some_and(|n| n == "hellotap.toml") => {
                    out.with_prefix("rules_config", &[0], &bytes)
                }
                "toml" => out.with_prefix("rules_config", &[1], &bytes),
                "rules" | "csv" | "txt" | "dat" | "lst" => {
                    out.with_prefix("rules_config", &[2], &bytes);
                    out.with_prefix("rules_config", &[3], &bytes);
                }
                _ => {}
            }
        }
    }
    let mut counts: Vec<_> = out.counts.into_iter().collect();
    counts.sort();
    for (t, n) in counts {
        println!("{t}: {n} new seeds");
    }
}
