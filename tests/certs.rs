//! Certificate facts against the public corpora in `../shared/pcaps/` (skipped when absent).
//!
//! The server (and client) Certificate messages are taken from the captures with the
//! crate's own pipeline pieces (capture → decode → flow key → TCP reassembly → TLS record
//! layer) and read with `hellotap::x509`; the facts are compared with what suricata-verify,
//! Zeek and FoxIO state. Each field prints its agreement as N/M and asserts that every
//! disagreement is one of the explained cases listed beside it (and that each listed case
//! still happens, so the list cannot go stale).
//!
//! Zeek writes DNs the way OpenSSL's RFC 2253 printer does: most specific RDN first,
//! `,` between RDNs with no space, `\`-escaped specials and OpenSSL's attribute names
//! (`emailAddress`, `street`, `UID`). [`zeek_dn_as_eve`] turns such a string into our
//! (Suricata's) form — RDNs back in certificate order, `", "` between them, x509-parser's
//! names — so the comparison is of the same attributes and values in the same order (the
//! baselines also carry Zeek's log escaping, `\\` for a backslash, which is undone first).
//! Zeek's serial is the integer's magnitude without colons, so a leading `00` sign byte is
//! dropped from ours before comparing.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::{Tally, read_jsonl};
use hellotap::capture::read_capture;
use hellotap::decode::{self, Transport};
use hellotap::flow::{Dir, Endpoint, FlowKey};
use hellotap::reassembly::{StreamLimits, TcpStream};
use hellotap::tls::handshake;
use hellotap::tls::hello::parse_server_hello;
use hellotap::tls::stream::{DirLimits, DirParser, TlsItem, find_hello_record, looks_like_tls_start};
use hellotap::x509::{CertInfo, certificate_list, ja4x, parse_certificate};

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/pcaps"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("note: {} is absent; certificate conformance skipped", p.display());
        None
    }
}

/// Bytes of non-TLS preamble searched for a hello (STARTTLS, CONNECT, SOCKS).
const MAX_PREAMBLE: usize = 8192;

enum DirState {
    Detect(Vec<u8>),
    Tls(DirParser),
    Off,
}

/// What one direction of a connection sent.
#[derive(Default)]
struct Sent {
    client_hello: bool,
    server_hello: bool,
    tls13: bool,
    /// Bodies of the Certificate messages, in order.
    cert_messages: Vec<Vec<u8>>,
}

struct Conn {
    key: FlowKey,
    streams: [TcpStream; 2],
    states: [DirState; 2],
    sent: [Sent; 2],
    syn_seq: Option<u32>,
    closed: bool,
    fin: [bool; 2],
}

/// A finished connection: who spoke first, and the certificate chains each side sent.
struct Chains {
    client: Endpoint,
    server: Endpoint,
    /// DER certificates of the server's first Certificate message.
    server_chain: Vec<Vec<u8>>,
    /// DER certificates of the client's first Certificate message.
    client_chain: Vec<Vec<u8>>,
    /// Every certificate seen in either direction.
    all: Vec<Vec<u8>>,
}

fn on_item(sent: &mut Sent, item: TlsItem<'_>) {
    match item {
        TlsItem::Handshake { msg_type: handshake::CLIENT_HELLO, .. } | TlsItem::Sslv2ClientHello(_) => {
            sent.client_hello = true
        }
        TlsItem::Handshake { msg_type: handshake::SERVER_HELLO, body } => {
            sent.server_hello = true;
            if let Ok(sh) = parse_server_hello(body) {
                let v = sh.negotiated_version();
                sent.tls13 = v == 0x0304 || v >> 8 == 0x7f;
            }
        }
        TlsItem::Handshake { msg_type: handshake::CERTIFICATE, body } => {
            sent.cert_messages.push(body.to_vec())
        }
        _ => {}
    }
}

fn feed(state: &mut DirState, sent: &mut Sent, data: &[u8]) {
    let mut emit = |item: TlsItem<'_>| on_item(sent, item);
    match state {
        DirState::Off => {}
        DirState::Tls(p) => p.feed(data, &mut emit),
        DirState::Detect(buf) => {
            buf.extend_from_slice(data);
            let start = if looks_like_tls_start(buf) { Some(0) } else { find_hello_record(buf) };
            if let Some(at) = start {
                let mut p = DirParser::new(DirLimits::default());
                p.feed(&buf[at..], &mut emit);
                *state = DirState::Tls(p);
            } else if buf.len() > MAX_PREAMBLE {
                *state = DirState::Off;
            }
        }
    }
    if matches!(state, DirState::Tls(p) if p.error().is_some()) {
        *state = DirState::Off;
    }
}

impl Conn {
    fn new(key: FlowKey) -> Self {
        Conn {
            key,
            streams: [TcpStream::new(StreamLimits::default()), TcpStream::new(StreamLimits::default())],
            states: [DirState::Detect(Vec::new()), DirState::Detect(Vec::new())],
            sent: [Sent::default(), Sent::default()],
            syn_seq: None,
            closed: false,
            fin: [false; 2],
        }
    }

    fn finish(self) -> Option<Chains> {
        let [a, b] = &self.sent;
        // The client sent the ClientHello, or did not send the ServerHello.
        let client_dir = if a.client_hello || b.server_hello {
            Dir::LoToHi
        } else if b.client_hello || a.server_hello {
            Dir::HiToLo
        } else {
            return None;
        };
        // A TLS 1.3 Certificate has the 1.3 layout in both directions.
        let tls13 = self.sent.iter().any(|s| s.tls13);
        let chain = |s: &Sent| -> Vec<Vec<u8>> {
            s.cert_messages
                .first()
                .and_then(|m| certificate_list(m, tls13).ok())
                .map(|l| l.certs.iter().map(|c| c.to_vec()).collect())
                .unwrap_or_default()
        };
        let all = self
            .sent
            .iter()
            .flat_map(|s| s.cert_messages.iter())
            .filter_map(|m| certificate_list(m, tls13).ok())
            .flat_map(|l| l.certs.into_iter().map(|c| c.to_vec()).collect::<Vec<_>>())
            .collect();
        Some(Chains {
            client: self.key.src(client_dir),
            server: self.key.src(client_dir.flip()),
            server_chain: chain(&self.sent[client_dir.flip().index()]),
            client_chain: chain(&self.sent[client_dir.index()]),
            all,
        })
    }
}

/// The TLS-over-TCP connections of a capture that carried a hello, with their certificates.
fn connections(path: &Path) -> Vec<Chains> {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut live: HashMap<FlowKey, Conn> = HashMap::new();
    let mut done: Vec<Conn> = Vec::new();
    let on_frame = |f: &hellotap::capture::Frame<'_>| {
        let missing = f.orig_len.saturating_sub(f.data.len() as u32);
        let Ok(p) = decode::decode(f.linktype, f.data, missing) else { return true };
        let Transport::Tcp(tcp) = p.transport else { return true };
        let (key, dir) = FlowKey::of(&p);
        if tcp.syn && !tcp.ack_flag {
            // Port reuse: a new SYN after the connection closed, or with a new ISN.
            if live.get(&key).is_some_and(|c| c.closed || c.syn_seq.is_some_and(|s| s != tcp.seq)) {
                done.extend(live.remove(&key));
            }
        }
        let conn = live.entry(key).or_insert_with(|| Conn::new(key));
        if tcp.syn && !tcp.ack_flag {
            conn.syn_seq = Some(tcp.seq);
        }
        let i = dir.index();
        let (state, sent) = (&mut conn.states[i], &mut conn.sent[i]);
        conn.streams[i].segment(tcp.seq, tcp.syn, p.payload, p.payload_missing > 0, &mut |bytes| {
            feed(state, sent, bytes)
        });
        conn.fin[i] |= tcp.fin;
        conn.closed |= tcp.rst || (conn.fin[0] && conn.fin[1]);
        true
    };
    // A capture with trailing damage still yields the frames before it.
    let _ = read_capture(BufReader::new(file), on_frame, |_| {});
    done.extend(live.into_values());
    done.into_iter().filter_map(Conn::finish).collect()
}

/// Connections per capture, read once.
struct Captures {
    root: PathBuf,
    cache: BTreeMap<PathBuf, Vec<Chains>>,
}

impl Captures {
    fn new(root: PathBuf) -> Self {
        Captures { root, cache: BTreeMap::new() }
    }

    fn get(&mut self, rel: &str) -> &[Chains] {
        let p = self.root.join(rel);
        if !p.exists() {
            return &[];
        }
        self.cache.entry(p.clone()).or_insert_with(|| connections(&p))
    }
}

fn endpoint_is(e: &Endpoint, ip: Option<&str>, port: Option<u64>) -> bool {
    ip.is_none_or(|ip| ip.parse::<IpAddr>().is_ok_and(|a| a == e.0))
        && port.is_none_or(|p| p == u64::from(e.1))
}

fn leaf(chain: &[Vec<u8>]) -> Option<CertInfo> {
    parse_certificate(chain.first()?).ok()
}

/// A check that any of several candidates has the wanted value; reports the first
/// candidate's value otherwise.
fn check_any(t: &mut Tally, key: String, want: &str, got: impl IntoIterator<Item = String>) {
    let got: Vec<String> = got.into_iter().collect();
    let hit = got.iter().find(|g| *g == want).or(got.first());
    t.check(key, want, hit.map(String::as_str));
}

/// Every certificate fact suricata-verify states (the server's leaf certificate of a
/// `tls` event, and the client's for `client_cert_*`).
#[test]
fn suricata_verify_certificates() {
    let Some(root) = shared() else { return };
    let rows = read_jsonl(&root.join("suricata-verify/expected.jsonl"));
    let mut caps = Captures::new(root);
    type Get = fn(&CertInfo) -> String;
    let fields: [(&str, &'static str, bool, Get); 9] = [
        ("cert_subject", "suricata-verify cert_subject", false, |c| c.subject.clone()),
        ("cert_issuer", "suricata-verify cert_issuer", false, |c| c.issuer.clone()),
        ("cert_serial", "suricata-verify cert_serial", false, |c| c.serial.clone()),
        ("cert_fingerprint_sha1", "suricata-verify cert_fingerprint_sha1", false, |c| {
            c.sha1_fingerprint.clone()
        }),
        ("cert_not_before", "suricata-verify cert_not_before", false, |c| c.not_before.clone()),
        ("cert_not_after", "suricata-verify cert_not_after", false, |c| c.not_after.clone()),
        ("client_cert_serial", "suricata-verify client_cert_serial", true, |c| c.serial.clone()),
        ("client_cert_not_before", "suricata-verify client_cert_not_before", true, |c| c.not_before.clone()),
        ("client_cert_not_after", "suricata-verify client_cert_not_after", true, |c| c.not_after.clone()),
    ];
    let mut tallies: Vec<Tally> = fields.iter().map(|f| Tally::new(f.1)).collect();
    let mut san = Tally::new("suricata-verify cert_san_indexed");
    let mut contains = Tally::new("suricata-verify cert_subject/issuer_contains");
    for r in rows.iter().filter(|r| r["event_type"] == "tls") {
        let pcap = r["pcap"].as_str().unwrap();
        let conns: Vec<&Chains> = caps
            .get(pcap)
            .iter()
            .filter(|c| endpoint_is(&c.client, r["src_ip"].as_str(), r["src_port"].as_u64()))
            .filter(|c| endpoint_is(&c.server, r["dst_ip"].as_str(), r["dst_port"].as_u64()))
            .collect();
        let servers: Vec<CertInfo> = conns.iter().filter_map(|c| leaf(&c.server_chain)).collect();
        let clients: Vec<CertInfo> = conns.iter().filter_map(|c| leaf(&c.client_chain)).collect();
        for ((key, _, client, get), t) in fields.iter().zip(tallies.iter_mut()) {
            let Some(want) = r[*key].as_str() else { continue };
            let certs = if *client { &clients } else { &servers };
            check_any(t, format!("{pcap} {key}"), want, certs.iter().map(get));
        }
        if let Some(map) = r["cert_san_indexed"].as_object() {
            for (i, want) in map {
                let i: usize = i.parse().unwrap();
                let want = want.as_str().unwrap();
                check_any(
                    &mut san,
                    format!("{pcap} san[{i}]"),
                    want,
                    servers.iter().filter_map(|c| c.san.get(i).cloned()),
                );
            }
        }
        let dns: [(&str, Get); 2] = [
            ("cert_subject_contains", |c| c.subject.clone()),
            ("cert_issuer_contains", |c| c.issuer.clone()),
        ];
        for (key, get) in dns {
            let Some(want) = r[key].as_str() else { continue };
            let got = servers.iter().map(get).find(|g| g.contains(want)).map(|_| want.to_string());
            let got = got.or_else(|| servers.first().map(get));
            contains.check(format!("{pcap} {key}"), want, got.as_deref());
        }
    }
    for t in tallies {
        t.finish(&[]);
    }
    san.finish(&[]);
    contains.finish(&[]);
}

/// Splits `s` on `sep` where it is not escaped by a backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut esc) = (0, false);
    for (i, c) in s.char_indices() {
        if esc {
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == sep {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// Removes RFC 2253 escapes: `\,` and the other specials, and `\XX` hex pairs (bytes).
fn rfc2253_unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(x) => {
                    out.push(x);
                    i += 3;
                }
                None => {
                    out.push(b[i + 1]);
                    i += 2;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Undoes Zeek's ASCII log escaping (`\\` for a backslash, `\xNN` for a byte), which the
/// baselines carry on top of OpenSSL's RFC 2253 escapes.
fn zeek_log_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                i += 2;
            }
            (b'\\', Some(b'x')) => {
                match b
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
                {
                    Some(x) => {
                        out.push(x);
                        i += 4;
                    }
                    None => {
                        out.push(b[i]);
                        i += 1;
                    }
                }
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A DN as Zeek (OpenSSL RFC 2253) writes it, rewritten in our form: RDNs in certificate
/// order, `", "` and `" + "` between RDNs and attributes, x509-parser's attribute names.
fn zeek_dn_as_eve(dn: &str) -> String {
    if dn.is_empty() {
        return String::new();
    }
    let dn = zeek_log_unescape(dn);
    let mut rdns: Vec<String> = split_unescaped(&dn, ',')
        .into_iter()
        .map(|rdn| {
            // OpenSSL reverses every entry, so a multi-valued RDN comes out reversed too.
            let mut attrs: Vec<String> = split_unescaped(rdn, '+')
                .into_iter()
                .map(|a| {
                    let (k, v) = a.split_once('=').unwrap_or((a, ""));
                    let k = match k {
                        "emailAddress" => "Email",
                        "street" => "streetAddress",
                        "UID" => "uid",
                        "jurisdictionC" => "msJurisdictionCountry",
                        "jurisdictionST" => "msJurisdictionStateOrProvince",
                        "jurisdictionL" => "msJurisdictionLocality",
                        other => other,
                    };
                    format!("{k}={}", rfc2253_unescape(v))
                })
                .collect();
            attrs.reverse();
            attrs.join(" + ")
        })
        .collect();
    rdns.reverse();
    rdns.join(", ")
}

/// Our serial as Zeek writes it: no colons, no leading `00` sign byte.
fn serial_as_zeek(serial: &str) -> String {
    let s = serial.replace(':', "");
    match s.strip_prefix("00") {
        Some(rest) if rest.len() >= 2 && u8::from_str_radix(&rest[..2], 16).is_ok_and(|b| b >= 0x80) => {
            rest.to_string()
        }
        _ => s,
    }
}

/// Zeek's san_dns: our SAN entries that are DNS names (not IP addresses, emails, URIs or
/// the other kinds we prefix).
fn dns_sans(c: &CertInfo) -> Vec<&str> {
    c.san
        .iter()
        .map(String::as_str)
        .filter(|s| s.parse::<IpAddr>().is_err() && !s.contains('@') && !s.contains("://"))
        .filter(|s| !["DirName:", "RID:", "othername:"].iter().any(|p| s.starts_with(p)))
        .collect()
}

/// Every x509.log certificate Zeek logged (found by its SHA-256 among all the certificates
/// of the capture), and every ssl.log certificate chain and leaf DN.
#[test]
fn zeek_certificates() {
    let Some(root) = shared() else { return };
    let rows = read_jsonl(&root.join("zeek/expected.jsonl"));
    let mut caps = Captures::new(root);
    let mut found = Tally::new("zeek x509 certificate found by SHA-256");
    let mut subject = Tally::new("zeek x509 subject");
    let mut issuer = Tally::new("zeek x509 issuer");
    let mut serial = Tally::new("zeek x509 serial");
    let mut validity = Tally::new("zeek x509 not_before/not_after (ISO and epoch)");
    let mut sans = Tally::new("zeek x509 san_dns");
    let mut key = Tally::new("zeek x509 key type and length, curve");
    let mut sig = Tally::new("zeek x509 signature algorithm");
    let mut ca = Tally::new("zeek x509 basic_constraints_ca, version");
    let mut chains = Tally::new("zeek ssl cert_chain_fps / client_cert_chain_fps");
    let mut ssl_dn = Tally::new("zeek ssl subject/issuer");
    for r in rows.iter().filter(|r| r["record_type"] == "x509") {
        let pcap = r["pcap"].as_str().unwrap();
        let fp = r["cert_fingerprint_sha256"].as_str().unwrap();
        let c = caps
            .get(pcap)
            .iter()
            .flat_map(|c| c.all.iter())
            .filter_map(|der| parse_certificate(der).ok())
            .find(|c| c.sha256 == fp);
        let k = format!("{pcap} {}", &fp[..16]);
        found.check(k.clone(), fp, c.as_ref().map(|c| c.sha256.as_str()));
        let Some(c) = c else { continue };
        let s = |f: &str| r[f].as_str().unwrap();
        subject.check(k.clone(), &zeek_dn_as_eve(s("cert_subject")), Some(&c.subject));
        issuer.check(k.clone(), &zeek_dn_as_eve(s("cert_issuer")), Some(&c.issuer));
        serial.check(k.clone(), s("cert_serial"), Some(&serial_as_zeek(&c.serial)));
        validity.check(k.clone(), s("cert_not_before"), Some(&format!("{}Z", c.not_before)));
        validity.check(k.clone(), s("cert_not_after"), Some(&format!("{}Z", c.not_after)));
        for (f, got) in
            [("cert_not_before_epoch", c.not_before_unix), ("cert_not_after_epoch", c.not_after_unix)]
        {
            let want = s(f).split('.').next().unwrap();
            validity.check(k.clone(), want, Some(&got.to_string()));
        }
        if let Some(want) = r["san_dns"].as_array() {
            let want: Vec<&str> = want.iter().map(|v| v.as_str().unwrap()).collect();
            sans.check(k.clone(), &want.join(" "), Some(&dns_sans(&c).join(" ")));
        }
        let key_type = match c.key_type.as_str() {
            "RSA" => "rsa",
            "EC" => "ecdsa",
            "DSA" => "dsa",
            other => other,
        };
        key.check(format!("{k} key type"), s("cert_key_type"), Some(key_type));
        let bits = c.key_bits.map(|b| b.to_string());
        key.check(format!("{k} key length"), s("cert_key_length"), bits.as_deref());
        if let Some(want) = r["cert_curve"].as_str() {
            key.check(format!("{k} curve"), want, c.curve.as_deref());
        }
        sig.check(k.clone(), s("cert_sig_alg"), Some(&c.signature_algorithm));
        if let Some(want) = r["basic_constraints_ca"].as_str() {
            ca.check(format!("{k} ca"), want, Some(if c.is_ca { "T" } else { "F" }));
        }
        ca.check(format!("{k} version"), s("cert_version"), Some(&c.version.to_string()));
    }
    for r in rows.iter().filter(|r| r["record_type"] == "zeek_ssl") {
        let pcap = r["pcap"].as_str().unwrap();
        let (Some(src), Some(dst)) = (r["src_ip"].as_str(), r["dst_ip"].as_str()) else { continue };
        let conn = caps.get(pcap).iter().find(|c| {
            endpoint_is(&c.client, Some(src), r["src_port"].as_u64())
                && endpoint_is(&c.server, Some(dst), r["dst_port"].as_u64())
        });
        let k = format!("{pcap} {src}:{}", r["src_port"]);
        let fps = |chain: &[Vec<u8>]| -> String {
            chain
                .iter()
                .filter_map(|d| parse_certificate(d).ok())
                .map(|c| c.sha256)
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (f, client) in [("cert_chain_fps", false), ("client_cert_chain_fps", true)] {
            let Some(want) = r[f].as_array() else { continue };
            let want: Vec<&str> = want.iter().map(|v| v.as_str().unwrap()).collect();
            let got = conn.map(|c| fps(if client { &c.client_chain } else { &c.server_chain }));
            chains.check(format!("{k} {f}"), &want.join(" "), got.as_deref());
        }
        for (f, client) in
            [("subject", false), ("issuer", false), ("client_subject", true), ("client_issuer", true)]
        {
            let Some(want) = r[f].as_str() else { continue };
            let c = conn.and_then(|c| leaf(if client { &c.client_chain } else { &c.server_chain }));
            let got = c.map(|c| if f.ends_with("subject") { c.subject } else { c.issuer });
            ssl_dn.check(format!("{k} {f}"), &zeek_dn_as_eve(want), got.as_deref());
        }
    }
    let dtls = "DTLS (UDP) is not read by the TCP pipeline this test uses";
    let rdp = "the certificate rides in RDP's own security exchange (MCS), not in TLS";
    let gsi = "GridFTP control channel: the TLS records travel base64-encoded inside FTP \
               `AUTH GSSAPI` / `ADAT` commands, which Zeek's FTP analyzer decodes; on the wire \
               there is no TLS record to read";
    found.finish(&[
        ("zeek/Traces/globus-url-copy.pcap 5d3015916579d36a", gsi),
        ("zeek/Traces/rdp/rdp-x509.pcap", rdp),
        ("zeek/Traces/tls/dtls1_0.pcap", dtls),
        ("zeek/Traces/tls/dtls1_2.pcap", dtls),
    ]);
    for t in [subject, issuer, serial, validity, sans, key, sig, ca] {
        t.finish(&[]);
    }
    let big = "the server's Certificate message is 340 KB (21 full records); the record layer \
               caps a reassembled handshake message at 64 KiB (DirLimits::max_handshake_message) \
               and stops reading that direction";
    chains.finish(&[
        ("zeek/Traces/globus-url-copy.pcap 192.168.57.103:60108", gsi),
        ("zeek/Traces/tls/tls-fragmented-handshake.pcap", big),
        ("zeek/Traces/tls/dtls", dtls),
        ("zeek/Traces/tls/webrtc-stun.pcap", dtls),
    ]);
    ssl_dn.finish(&[
        ("zeek/Traces/tls/tls-fragmented-handshake.pcap", big),
        ("zeek/Traces/tls/webrtc-stun.pcap", dtls),
    ]);
}

/// Every JA4X (and JA4X_r) in FoxIO's Rust, Python and Wireshark-plugin golden files: the
/// server's chain of the flow, certificate by certificate.
#[test]
fn foxio_ja4x() {
    let Some(root) = shared() else { return };
    let rows = read_jsonl(&root.join("foxio/expected.jsonl"));
    let mut caps = Captures::new(root.join("foxio/pcap"));
    let mut hashed = Tally::new("foxio JA4X (rust, python, wireshark-plugin)");
    let mut raw = Tally::new("foxio JA4X_r (wireshark-plugin)");
    for r in &rows {
        let (Some(h), source) = (r["ja4x"].as_array(), r["source"].as_str().unwrap()) else { continue };
        let pcap = r["pcap"].as_str().unwrap();
        let conn = caps.get(pcap).iter().find(|c| {
            endpoint_is(&c.client, r["src"].as_str(), r["src_port"].as_u64())
                && endpoint_is(&c.server, r["dst"].as_str(), r["dst_port"].as_u64())
        });
        let mine: Vec<(String, String)> =
            conn.map(|c| c.server_chain.iter().filter_map(|d| ja4x(d)).collect()).unwrap_or_default();
        let k = format!("{pcap} {source} {}:{}", r["src"].as_str().unwrap_or("?"), r["src_port"]);
        for (i, want) in h.iter().enumerate() {
            let got = mine.get(i).map(|m| m.0.as_str());
            hashed.check(format!("{k} #{i}"), want.as_str().unwrap(), got);
        }
        for (i, want) in r["ja4x_r"].as_array().into_iter().flatten().enumerate() {
            let got = mine.get(i).map(|m| m.1.as_str());
            raw.check(format!("{k} #{i}"), want.as_str().unwrap(), got);
        }
    }
    let tls13 = "TLS 1.3: the certificates are encrypted; FoxIO's tools decrypted them with the \
                 key log embedded in the capture, which a passive sensor does not have";
    hashed.finish(&[
        ("chrome-cloudflare-quic-with-secrets.pcapng", tls13),
        ("http2-with-cookies.pcapng", tls13),
    ]);
    raw.finish(&[("http2-with-cookies.pcapng", tls13)]);
}

/// Every certificate in every capture of every corpus: our DNs equal x509-parser's own
/// rendering (Suricata's code path) wherever that rendering succeeds, JA4X is computed
/// exactly for the certificates that parse, and the certificates that do not parse are
/// the explained ones.
#[test]
fn every_certificate_in_every_capture() {
    let Some(root) = shared() else { return };
    let mut files = Vec::new();
    common::capture_files(&root, &mut files);
    let mut seen = std::collections::BTreeSet::new();
    let mut names = Tally::new("all corpora: subject/issuer equal x509-parser's Display");
    let mut parsed = Tally::new("all corpora: certificates that parse");
    let (mut display_failed, mut anomalies) = (0, BTreeMap::<&str, usize>::new());
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        for der in connections(f).into_iter().flat_map(|c| c.all) {
            if !seen.insert(der.clone()) {
                continue;
            }
            let info = parse_certificate(&der);
            let fp = ja4x(&der);
            assert_eq!(info.is_ok(), fp.is_some(), "{rel}: parse and JA4X disagree");
            let got = info.as_ref().map(|_| "parses".to_string()).map_err(|e| e.to_string());
            parsed.check(rel.clone(), "parses", Some(got.as_deref().unwrap_or_else(|e| e)));
            let Ok(info) = info else { continue };
            for a in &info.anomalies {
                *anomalies.entry(a).or_default() += 1;
            }
            let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
            for (mine, theirs) in
                [(&info.subject, cert.subject().to_string()), (&info.issuer, cert.issuer().to_string())]
            {
                if theirs == "<X509Error: Invalid X.509 name>" {
                    display_failed += 1;
                } else {
                    names.check(rel.clone(), &theirs, Some(mine));
                }
            }
        }
    }
    println!("{} captures, {} distinct certificates", files.len(), seen.len());
    println!("names x509-parser could not write (Suricata logs an error string): {display_failed}");
    println!("anomalies: {anomalies:?}");
    names.finish(&[]);
    parsed.finish(&[(
        "suricata-verify/bug-1450-04/tls_DER-incomplete-header.pcap: want parses, got malformed certificate: inner length",
        "crafted (Suricata bug 1450): a DER header inside the certificate declares more bytes \
         than its enclosing structure holds; Suricata's expectation for it is a decode anomaly, \
         not certificate fields",
    )]);
}
