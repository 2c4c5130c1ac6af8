//! QUIC Initial decryption on real captures from `../shared/pcaps/` (skipped when absent).
//!
//! Every UDP datagram of a capture is fed to one `QuicConn` per flow, without telling it
//! the sides. For every QUIC connection the client's CRYPTO prefix must begin with a whole
//! ClientHello (and parse, with the expected SNI where the corpus names one), and the
//! server's, when the capture holds it, with a whole ServerHello. Feeding the same flows
//! with side hints must give the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hellotap::capture;
use hellotap::decode::{self, Transport};
use hellotap::quic::{self, QuicConn, QuicLimits, VERSION_1, VERSION_2};
use hellotap::tls::hello::{parse_client_hello, parse_server_hello};

fn shared_pcaps() -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/pcaps"));
    p.is_dir().then(|| p.to_path_buf())
}

type Endpoint = (IpAddr, u16);

/// One UDP flow.
struct Flow {
    /// The endpoint that sent the flow's first datagram.
    first_sender: Endpoint,
    quic: QuicConn,
    /// Endpoints that sent datagrams attributed to the client and to the server.
    clients: BTreeSet<Endpoint>,
    servers: BTreeSet<Endpoint>,
    /// The flow's first datagram passed `looks_like_client_initial`.
    first_looked_like_initial: bool,
}

/// Feeds every UDP datagram of a capture to a `QuicConn` per flow. `first_is_client`
/// is what the caller tells it about the sender of the flow's first datagram (nothing,
/// the client, or — wrongly here — the server).
fn run(path: &Path, first_is_client: Option<bool>) -> Vec<Flow> {
    let mut flows: BTreeMap<(Endpoint, Endpoint), Flow> = BTreeMap::new();
    let mut order = Vec::new();
    capture::read_capture(
        File::open(path).unwrap(),
        |f| {
            let Ok(p) = decode::decode(f.linktype, f.data, 0) else { return true };
            if p.transport != Transport::Udp || p.payload.is_empty() {
                return true;
            }
            let (src, dst) = ((p.src, p.sport), (p.dst, p.dport));
            let key = if src < dst { (src, dst) } else { (dst, src) };
            let flow = flows.entry(key).or_insert_with(|| {
                order.push(key);
                Flow {
                    first_sender: src,
                    quic: QuicConn::new(QuicLimits::default()),
                    clients: BTreeSet::new(),
                    servers: BTreeSet::new(),
                    first_looked_like_initial: quic::looks_like_client_initial(p.payload),
                }
            });
            let belief = first_is_client.map(|c| c == (src == flow.first_sender));
            match flow.quic.datagram(belief, p.payload).from_client {
                Some(true) => flow.clients.insert(src),
                Some(false) => flow.servers.insert(src),
                None => false,
            };
            true
        },
        |_| {},
    )
    .unwrap();
    order.into_iter().filter_map(|k| flows.remove(&k)).collect()
}

/// The body of a whole handshake message of type `ty` at the start of `b`.
fn whole_message(b: &[u8], ty: u8) -> Option<&[u8]> {
    if b.len() < 4 || b[0] != ty {
        return None;
    }
    let len = 4 + (usize::from(b[1]) << 16 | usize::from(b[2]) << 8 | usize::from(b[3]));
    b.get(4..len)
}

/// What one capture gave.
#[derive(Debug, Default)]
struct Outcome {
    /// Flows with QUIC v1/v2 packets.
    conns: usize,
    /// Of those, flows whose client CRYPTO prefix holds a whole, parseable ClientHello.
    client_hellos: usize,
    /// Flows whose server CRYPTO prefix holds a whole, parseable ServerHello.
    server_hellos: usize,
    /// Flows with long headers of other versions only (gQUIC, drafts).
    other_version_flows: usize,
    /// SNIs of the ClientHellos, in flow order.
    snis: Vec<String>,
    /// QUIC versions of the connections.
    versions: BTreeSet<u32>,
    /// Retry packets in all flows.
    retries: u64,
    /// Initial packets that could not be decrypted, in all flows.
    decrypt_failures: u64,
}

fn check(rel: &str) -> Option<Outcome> {
    let path = shared_pcaps()?.join(rel);
    if !path.exists() {
        println!("note: {} absent, skipped", path.display());
        return None;
    }
    let flows = run(&path, None);
    let hinted = run(&path, Some(true));
    let misled = run(&path, Some(false));
    assert_eq!((flows.len(), hinted.len()), (misled.len(), misled.len()));
    let mut out = Outcome::default();
    for ((f, h), m) in flows.iter().zip(&hinted).zip(&misled) {
        let st = f.quic.stats();
        if st.quic_datagrams == 0 {
            out.other_version_flows += usize::from(st.unknown_version > 0);
            continue;
        }
        out.conns += 1;
        out.retries += st.retries;
        out.decrypt_failures += st.decrypt_failures;
        out.versions.extend(f.quic.version());
        // Nothing was dropped or malformed in real traffic.
        assert_eq!(
            (st.crypto_dropped, st.crypto_conflicts, st.payload_anomalies, st.malformed),
            (0, 0, 0, 0),
            "{rel}: {st:?}"
        );
        // Decryption puts each endpoint on one side, and never both on the same side.
        assert!(f.clients.len() <= 1 && f.servers.len() <= 1 && f.clients.is_disjoint(&f.servers), "{rel}");
        // Hints, right or wrong, only change the order keys are tried in.
        for other in [h, m] {
            assert_eq!(f.quic.crypto(true), other.quic.crypto(true), "{rel}");
            assert_eq!(f.quic.crypto(false), other.quic.crypto(false), "{rel}");
            assert_eq!((&f.clients, &f.servers), (&other.clients, &other.servers), "{rel}");
        }
        // Each of these captures starts its QUIC flows with the client's Initial.
        assert!(f.first_looked_like_initial && f.clients.contains(&f.first_sender), "{rel}");
        assert_eq!(m.quic.stats().side_corrections, st.client_initials + st.server_initials, "{rel}");
        if let Some(body) = whole_message(f.quic.crypto(true), 1) {
            let ch = parse_client_hello(body, false).unwrap_or_else(|e| panic!("{rel}: ClientHello: {e}"));
            out.client_hellos += 1;
            out.snis.push(String::from_utf8_lossy(ch.sni.as_deref().unwrap_or_default()).into_owned());
        }
        if let Some(body) = whole_message(f.quic.crypto(false), 2) {
            parse_server_hello(body).unwrap_or_else(|e| panic!("{rel}: ServerHello: {e}"));
            out.server_hellos += 1;
        }
        println!(
            "{rel}: client {:?} v{:#x} CH {}B SH {}B: client/server Initials {}/{}, failed {}, retries {}",
            f.clients.first(),
            f.quic.version().unwrap_or_default(),
            f.quic.crypto(true).len(),
            f.quic.crypto(false).len(),
            st.client_initials,
            st.server_initials,
            st.decrypt_failures,
            st.retries,
        );
    }
    println!(
        "{rel}: {} QUIC connections, {} whole ClientHellos, {} whole ServerHellos",
        out.conns, out.client_hellos, out.server_hellos
    );
    Some(out)
}

/// (capture, QUIC connections, whole ClientHellos, whole ServerHellos)
const CAPTURES: &[(&str, usize, usize, usize)] = &[
    ("suricata-verify/ja4-quic/input.pcap", 11, 11, 0),
    ("suricata-verify/quic-v2/input.pcap", 1, 1, 1),
    ("suricata-verify/quic-retry/input.pcap", 1, 1, 1),
    ("suricata-verify/quic-retry-multiple/input.pcap", 1, 1, 1),
    ("suricata-verify/quic-frag/input.pcap", 1, 1, 1),
    ("suricata-verify/quic-frag-unordered/input.pcap", 1, 1, 1),
    ("suricata-verify/quic-frag-middle-gap/input.pcap", 1, 1, 1),
    ("suricata-verify/quic-initial-not-first/input.pcap", 1, 1, 1),
    ("suricata-verify/quic-ietf/input.pcap", 1, 1, 1),
    ("suricata-verify/quic-ack3/input.pcap", 1, 1, 1),
    ("suricata-verify/ja4-tls-quic/input.pcap", 1, 1, 1),
    ("foxio/pcap/quic-tls-handshake.pcapng", 1, 1, 0),
    ("foxio/pcap/quic-with-several-tls-frames.pcapng", 1, 1, 0),
    ("foxio/pcap/chrome-cloudflare-quic-with-secrets.pcapng", 1, 1, 1),
    ("foxio/pcap/tls-handshake.pcapng", 20, 20, 20),
    ("foxio/pcap/tls3.pcapng", 6, 6, 6),
    ("foxio/pcap/ssh2.pcapng", 2, 2, 2),
];

#[test]
fn hellos_decrypt_from_real_captures() {
    if shared_pcaps().is_none() {
        println!("note: ../shared/pcaps absent, QUIC capture tests skipped");
        return;
    }
    let (mut conns, mut whole) = (0, 0);
    for &(rel, n, ch, sh) in CAPTURES {
        let Some(o) = check(rel) else { continue };
        assert_eq!((o.conns, o.client_hellos, o.server_hellos), (n, ch, sh), "{rel}");
        assert_eq!(o.decrypt_failures, 0, "{rel}");
        conns += o.conns;
        whole += o.client_hellos;
    }
    println!("QUIC connections with a whole ClientHello: {whole}/{conns}");
}

#[test]
fn capture_specifics() {
    if shared_pcaps().is_none() {
        println!("note: ../shared/pcaps absent, QUIC capture tests skipped");
        return;
    }
    if let Some(o) = check("suricata-verify/ja4-quic/input.pcap") {
        // The README's reference output, in stream order.
        let want = [
            "www.blogger.com",
            "socpuppet.blogspot.com",
            "apis.google.com",
            "www.blogger.com",
            "apis.google.com",
            "www.google.com",
            "www.gstatic.com",
            "fonts.gstatic.com",
            "4.bp.blogspot.com",
            "1.bp.blogspot.com",
            "2.bp.blogspot.com",
        ];
        assert_eq!(o.snis, want);
        assert_eq!(o.versions, BTreeSet::from([VERSION_1]));
    }
    if let Some(o) = check("suricata-verify/quic-v2/input.pcap") {
        assert_eq!(o.versions, BTreeSet::from([VERSION_2]));
    }
    if let Some(o) = check("suricata-verify/quic-retry/input.pcap") {
        assert!(o.retries >= 1);
    }
    if let Some(o) = check("suricata-verify/quic-retry-multiple/input.pcap") {
        assert!(o.retries >= 2);
    }
    if let Some(o) = check("suricata-verify/quic-frag-unordered/input.pcap") {
        assert_eq!(o.snis, ["mastodon.social"]);
    }
    if let Some(o) = check("suricata-verify/quic-frag-middle-gap/input.pcap") {
        assert_eq!(o.snis, ["optimizationguide-pa.googleapis.com"]);
    }
    if let Some(o) = check("suricata-verify/quic-ietf/input.pcap") {
        assert_eq!(o.snis, ["msquic.net"]);
    }
    // Google QUIC (Q046) is not QUIC v1/v2: ignored, not decrypted.
    for rel in ["suricata-verify/quic-cyu/input.pcap", "suricata-verify/quic-alerts/input.pcap"] {
        if let Some(o) = check(rel) {
            assert_eq!(o.conns, 0, "{rel}");
            assert!(o.other_version_flows >= 1, "{rel}");
        }
    }
}
