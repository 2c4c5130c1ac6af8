//! Events as JSON Lines, with Suricata EVE's field names where EVE has the field.
//!
//! One object per handshake:
//!
//! ```text
//! {"timestamp":"2026-11-27T10:00:00.123456Z","flow_id":123,"pcap_filename":"x.pcap",
//!  "event_type":"tls","vlan":[100],"src_ip":"10.0.0.5","src_port":51514,
//!  "dest_ip":"93.184.216.34","dest_port":443,"proto":"TCP",
//!  "tls":{"sni":"example.com","version":"TLS 1.3","cipher_suite":"TLS_AES_128_GCM_SHA256",
//!         "client_alpns":["h2","http/1.1"],"server_alpn":"h2","group":"X25519MLKEM768",
//!         "client_versions":["TLS 1.3","TLS 1.2"],"hello_retry":false,
//!         "ja3":{"hash":"…","string":"…"},"ja3s":{"hash":"…","string":"…"},
//!         "ja4":"…","ja4_r":"…","ja4_o":"…","ja4_ro":"…","ja4s":"…","ja4s_r":"…",
//!         "alerts":[{"from":"server","level":"fatal","description":"handshake_failure"}],
//!         "outcome":"established"}}
//! ```
//!
//! * `src_*` is the client (the side that sent the ClientHello), `dest_*` the server.
//! * `timestamp` is the time of the first ClientHello.
//! * `tls.version` is the negotiated version (Suricata's spelling: `TLSv1`, `TLS 1.2`,
//!   `TLS 1.3`); with no ServerHello, the ClientHello's legacy version.
//! * A field whose value was not seen is absent, never null.
//! * Byte strings from the wire (SNI, ALPN) that are not valid UTF-8 keep their valid parts
//!   and have each invalid byte written as `\xNN`, so nothing is dropped and the line is
//!   always valid JSON.
//! * Code points with no IANA name are written as `0xNNNN`.

use std::io::{self, Write};

use serde::Serialize;

use crate::fingerprint::Transport;
use crate::fingerprint::ja3::Ja3;
use crate::fingerprint::no_grease;
use crate::record::{Cert, Handshake};
use crate::rules::{Label, Match};
use crate::tls::names;

/// Bytes as text: valid UTF-8 unchanged, each invalid byte as `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        s.push_str(chunk.valid());
        for &x in chunk.invalid() {
            s.push_str(&format!("\\x{x:02x}"));
        }
    }
    s
}

/// Suricata's version string, or `0xNNNN` for an unknown value.
pub fn version_name(v: u16) -> String {
    named(v, names::version)
}

fn named(v: u16, f: fn(u16) -> Option<&'static str>) -> String {
    f(v).map(str::to_string).unwrap_or_else(|| format!("0x{v:04x}"))
}

#[derive(Serialize)]
struct Ja3Out<'a> {
    hash: &'a str,
    string: &'a str,
}

impl<'a> From<&'a Ja3> for Ja3Out<'a> {
    fn from(j: &'a Ja3) -> Self {
        Ja3Out { hash: &j.hash, string: &j.string }
    }
}

#[derive(Serialize)]
struct CertOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serial: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_after: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    san: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    key_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_bits: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    curve: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_algorithm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_ca: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_len: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    key_usage: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    ext_key_usage: &'a [String],
    #[serde(skip_serializing_if = "is_false")]
    self_signed: bool,
    #[serde(skip_serializing_if = "is_false")]
    sct: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha1: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4x: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4x_r: Option<&'a str>,
}

fn cert_out(c: &Cert) -> CertOut<'_> {
    let i = c.info.as_ref().ok();
    CertOut {
        error: c.info.as_ref().err().map(String::as_str),
        subject: i.map(|i| i.subject.as_str()),
        issuer: i.map(|i| i.issuer.as_str()),
        serial: i.map(|i| i.serial.as_str()),
        not_before: i.map(|i| i.not_before.as_str()),
        not_after: i.map(|i| i.not_after.as_str()),
        san: i.map_or(&[], |i| &i.san),
        key_type: i.map(|i| i.key_type.as_str()),
        key_bits: i.and_then(|i| i.key_bits),
        curve: i.and_then(|i| i.curve.as_deref()),
        signature_algorithm: i.map(|i| i.signature_algorithm.as_str()),
        is_ca: i.map(|i| i.is_ca),
        path_len: i.and_then(|i| i.path_len),
        key_usage: i.map_or(&[], |i| &i.key_usage),
        ext_key_usage: i.map_or(&[], |i| &i.ext_key_usage),
        self_signed: i.is_some_and(|i| i.self_signed),
        sct: i.is_some_and(|i| i.has_sct),
        sha1: i.map(|i| i.sha1_fingerprint.as_str()),
        sha256: i.map(|i| i.sha256.as_str()),
        ja4x: c.ja4x.as_ref().map(|(a, _)| a.as_str()),
        ja4x_r: c.ja4x.as_ref().map(|(_, b)| b.as_str()),
    }
}

#[derive(Serialize)]
struct ChecksOut<'a> {
    expired: bool,
    not_yet_valid: bool,
    self_signed: bool,
    name_mismatch: bool,
    chain_out_of_order: bool,
    missing_intermediate: bool,
    weak_key: bool,
    weak_signature: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    reasons: &'a [String],
}

#[derive(Serialize)]
struct Ocsp {
    requested: bool,
    stapled: bool,
}

#[derive(Serialize)]
struct Timing {
    #[serde(skip_serializing_if = "Option::is_none")]
    server_hello_us: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_us: Option<i64>,
}

#[derive(Serialize)]
struct AlertOut {
    from: &'static str,
    level: &'static str,
    description: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
struct TlsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher_suite: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    client_alpns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_alpn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    client_versions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    client_groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    client_key_shares: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    client_sig_algs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_sig_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dhe_bits: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    compression_methods: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_master_secret: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypt_then_mac: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_renegotiation: Option<bool>,
    hello_retry: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    quic_version: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    hello_verify_request: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hello_retry_group: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    early_data: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resumption_offered: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    psk_modes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resumed: Option<bool>,
    #[serde(skip_serializing_if = "is_false")]
    ticket_issued: bool,
    #[serde(skip_serializing_if = "is_false")]
    client_cert_requested: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ocsp: Option<Ocsp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sct_requested: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timing: Option<Timing>,
    #[serde(skip_serializing_if = "is_false")]
    sslv2_client_hello: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_hellos: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja3: Option<Ja3Out<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja3s: Option<Ja3Out<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuerdn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serial: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notbefore: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notafter: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    certificates: Vec<CertOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    client_certificates: Vec<CertOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_checks: Option<ChecksOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4_r: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4_o: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4_ro: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4s: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4s_r: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alerts: Vec<AlertOut>,
    outcome: &'static str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    anomalies: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labels: Vec<LabelOut<'a>>,
}

#[derive(Serialize)]
struct RuleOut<'a> {
    id: &'a str,
    sid: u32,
    severity: &'static str,
    msg: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    category: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
}

#[derive(Serialize)]
struct LabelOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    application: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    library: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
}

#[derive(Serialize)]
struct RuleAlertOut<'a> {
    action: &'static str,
    gid: u32,
    signature_id: u32,
    rev: u32,
    signature: &'a str,
    category: &'a str,
    severity: u8,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
}

#[derive(Serialize)]
struct EventOut<'a> {
    timestamp: String,
    flow_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pcap_filename: Option<&'a str>,
    event_type: &'static str,
    #[serde(skip_serializing_if = "<[u16]>::is_empty")]
    vlan: &'a [u16],
    src_ip: String,
    src_port: u16,
    dest_ip: String,
    dest_port: u16,
    proto: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<RuleAlertOut<'a>>,
    tls: TlsOut<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rules: Vec<RuleOut<'a>>,
}

fn tls_out(h: &Handshake) -> TlsOut<'_> {
    let ch = h.client_hello.as_ref();
    let sh = h.server_hello.as_ref().filter(|sh| !sh.hello_retry);
    let version = match (sh, ch) {
        // Suricata's spelling for the earliest drafts, which put 0x0304 itself in
        // server_version (a final TLS 1.3 ServerHello always says 0x0303 there).
        (Some(sh), _) if sh.version == 0x0304 && sh.selected_version.is_none() => {
            Some("TLS 1.3 draft-<16".to_string())
        }
        (Some(sh), _) => Some(version_name(sh.negotiated_version())),
        (None, Some(ch)) => Some(version_name(ch.version)),
        (None, None) => None,
    };
    let d = &h.details;
    // The group: the final ServerHello's key_share (TLS 1.3), else the ECDHE
    // ServerKeyExchange's named curve (TLS ≤ 1.2).
    let group = sh.and_then(|s| s.key_share_group).or(d.ske_group).map(|g| named(g, names::group));
    let fp = &h.fingerprints;
    let names_of = |v: &[u16], f: fn(u16) -> Option<&'static str>| -> Vec<String> {
        no_grease(v).map(|x| named(x, f)).collect()
    };
    let sh_ext = |e: u16| sh.map(|s| s.extensions.contains(&e));
    let offers_13 =
        ch.is_some_and(|c| no_grease(&c.supported_versions).any(|v| (0x0304..0x0400).contains(&v)));
    let mut resumption_offered = Vec::new();
    if let Some(c) = ch {
        // In TLS 1.3 a legacy session id is a random middlebox-compatibility value, not a
        // resumption attempt.
        if c.session_id_len > 0 && !offers_13 {
            resumption_offered.push("session_id");
        }
        if c.ticket_offered {
            resumption_offered.push("ticket");
        }
        if c.psk_identities > 0 {
            resumption_offered.push("psk");
        }
    }
    let first_sh = h.first_server_hello.as_ref();
    // The leaf in Suricata EVE's own top-level fields and formats.
    let leaf = h.certificates.first().and_then(|c| c.info.as_ref().ok());
    TlsOut {
        sni: ch.and_then(|c| c.sni.as_deref()).map(escape_bytes),
        version,
        cipher_suite: sh.map(|s| named(s.cipher, names::cipher_suite)),
        client_alpns: ch.map(|c| c.alpn.iter().map(|a| escape_bytes(a)).collect()).unwrap_or_default(),
        server_alpn: sh.and_then(|s| s.alpn.as_deref()).map(escape_bytes),
        group,
        client_versions: ch
            .map(|c| no_grease(&c.supported_versions).map(version_name).collect())
            .unwrap_or_default(),
        client_groups: ch.map(|c| names_of(&c.groups, names::group)).unwrap_or_default(),
        client_key_shares: ch.map(|c| names_of(&c.key_share_groups, names::group)).unwrap_or_default(),
        client_sig_algs: ch
            .and_then(|c| c.sig_algs.as_deref())
            .map(|v| names_of(v, names::signature_scheme))
            .unwrap_or_default(),
        server_sig_alg: d.server_sig_alg.map(|v| named(v, names::signature_scheme)),
        dhe_bits: d.dhe_bits,
        compression_methods: ch.map(|c| c.compression.clone()).unwrap_or_default(),
        extended_master_secret: sh_ext(crate::tls::hello::ext::EXTENDED_MASTER_SECRET),
        encrypt_then_mac: sh_ext(crate::tls::hello::ext::ENCRYPT_THEN_MAC),
        secure_renegotiation: sh_ext(crate::tls::hello::ext::RENEGOTIATION_INFO),
        hello_retry: h.hello_retry,
        hello_verify_request: d.hello_verify,
        quic_version: d.quic_version.map(|v| match v {
            0x0000_0001 => "1".to_string(),
            0x6b33_43cf => "2".to_string(),
            v => format!("0x{v:08x}"),
        }),
        hello_retry_group: first_sh
            .filter(|s| s.hello_retry)
            .and_then(|s| s.key_share_group)
            .map(|g| named(g, names::group)),
        early_data: ch.is_some_and(|c| c.has_extension(crate::tls::hello::ext::EARLY_DATA)),
        resumption_offered,
        psk_modes: ch
            .map(|c| {
                c.psk_modes
                    .iter()
                    .map(|&m| names::psk_key_exchange_mode(m).map_or_else(|| m.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        resumed: sh.map(|_| d.resumed),
        ticket_issued: d.ticket_issued,
        client_cert_requested: d.certificate_requested,
        ocsp: ch.map(|c| Ocsp {
            requested: c.has_extension(crate::tls::hello::ext::STATUS_REQUEST),
            stapled: d.ocsp_stapled,
        }),
        sct_requested: ch.map(|c| c.has_extension(crate::tls::hello::ext::SCT)),
        timing: (d.server_hello_us.is_some() || d.finished_us.is_some())
            .then_some(Timing { server_hello_us: d.server_hello_us, finished_us: d.finished_us }),
        sslv2_client_hello: ch.is_some_and(|c| c.sslv2),
        client_hellos: (h.client_hello_count > 1).then_some(h.client_hello_count),
        subject: leaf.map(|l| l.subject.as_str()),
        issuerdn: leaf.map(|l| l.issuer.as_str()),
        serial: leaf.map(|l| l.serial.as_str()),
        fingerprint: leaf.map(|l| l.sha1_fingerprint.as_str()),
        notbefore: leaf.map(|l| l.not_before.as_str()),
        notafter: leaf.map(|l| l.not_after.as_str()),
        certificates: h.certificates.iter().map(|c| cert_out(c)).collect(),
        client_certificates: h.client_certificates.iter().map(|c| cert_out(c)).collect(),
        cert_checks: h.cert_checks.as_ref().map(|c| ChecksOut {
            expired: c.expired,
            not_yet_valid: c.not_yet_valid,
            self_signed: c.self_signed,
            name_mismatch: c.name_mismatch,
            chain_out_of_order: c.chain_out_of_order,
            missing_intermediate: c.missing_intermediate,
            weak_key: c.weak_key,
            weak_signature: c.weak_signature,
            reasons: &c.reasons,
        }),
        ja3: fp.ja3.as_ref().map(Ja3Out::from),
        ja3s: fp.ja3s.as_ref().map(Ja3Out::from),
        ja4: fp.ja4.as_ref().map(|j| j.ja4.as_str()),
        ja4_r: fp.ja4.as_ref().map(|j| j.ja4_r.as_str()),
        ja4_o: fp.ja4.as_ref().map(|j| j.ja4_o.as_str()),
        ja4_ro: fp.ja4.as_ref().map(|j| j.ja4_ro.as_str()),
        ja4s: fp.ja4s.as_ref().map(|j| j.ja4s.as_str()),
        ja4s_r: fp.ja4s.as_ref().map(|j| j.ja4s_r.as_str()),
        alerts: h
            .alerts
            .iter()
            .map(|a| AlertOut {
                from: a.from.as_str(),
                level: match a.level {
                    1 => "warning",
                    2 => "fatal",
                    _ => "unknown",
                },
                description: names::alert_description(a.description)
                    .map(str::to_string)
                    .unwrap_or_else(|| a.description.to_string()),
            })
            .collect(),
        outcome: h.outcome.as_str(),
        anomalies: &h.anomalies,
        labels: Vec::new(),
    }
}

/// Serialises a record as one JSON line (without the newline).
pub fn to_json(h: &Handshake) -> String {
    to_json_enriched(h, &[], &[])
}

/// Serialises a record with the rules that matched it (`rules[]`) and its labels
/// (`tls.labels[]`).
pub fn to_json_enriched(h: &Handshake, matches: &[Match], labels: &[Label]) -> String {
    let mut ev = event(h, None);
    ev.rules = matches
        .iter()
        .map(|m| RuleOut {
            id: &m.id,
            sid: m.sid,
            severity: m.severity.as_str(),
            msg: &m.msg,
            category: &m.category,
            tags: &m.tags,
        })
        .collect();
    ev.tls.labels = labels
        .iter()
        .map(|l| LabelOut {
            application: l.application.as_deref(),
            library: l.library.as_deref(),
            device: l.device.as_deref(),
            os: l.os.as_deref(),
            notes: l.notes.as_deref(),
        })
        .collect();
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_string(&ev).unwrap_or_default()
}

/// An `event_type: "alert"` record for a rule that matched, in Suricata EVE's alert shape,
/// with the flow and the `tls` object of the handshake.
pub fn alert_json(h: &Handshake, m: &Match) -> String {
    let ev = event(
        h,
        Some(RuleAlertOut {
            action: "allowed",
            gid: 1,
            signature_id: m.sid,
            rev: m.rev,
            signature: &m.msg,
            category: &m.category,
            severity: m.severity.eve(),
            tags: &m.tags,
        }),
    );
    serde_json::to_string(&ev).unwrap_or_default()
}

fn event<'a>(h: &'a Handshake, alert: Option<RuleAlertOut<'a>>) -> EventOut<'a> {
    EventOut {
        timestamp: h.timestamp.to_string(),
        flow_id: h.flow_id,
        pcap_filename: h.pcap_filename.as_deref(),
        event_type: match (alert.is_some(), h.transport) {
            (true, _) => "alert",
            (false, Transport::Tcp) => "tls",
            (false, Transport::Quic) => "quic",
            (false, Transport::Dtls) => "dtls",
        },
        vlan: &h.vlans,
        src_ip: h.client.0.to_string(),
        src_port: h.client.1,
        dest_ip: h.server.0.to_string(),
        dest_port: h.server.1,
        proto: match h.transport {
            Transport::Tcp => "TCP",
            _ => "UDP",
        },
        alert,
        tls: tls_out(h),
        rules: Vec::new(),
    }
}

/// Writes events as JSON Lines to any writer.
pub struct JsonLines<W: Write> {
    out: W,
    /// Events written.
    pub written: u64,
}

impl<W: Write> JsonLines<W> {
    /// Wraps a writer (buffer it: each event is one small write).
    pub fn new(out: W) -> Self {
        JsonLines { out, written: 0 }
    }

    /// Writes one event line.
    pub fn write(&mut self, h: &Handshake) -> io::Result<()> {
        self.write_line(&to_json(h))
    }

    /// Writes one prepared line (an event or an alert).
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Flushes the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_invalid_utf8_without_dropping() {
        assert_eq!(escape_bytes(b"example.com"), "example.com");
        assert_eq!(escape_bytes(b"a\xffb\xc3"), "a\\xffb\\xc3");
        assert_eq!(escape_bytes("é".as_bytes()), "é");
        let j = serde_json::to_string(&escape_bytes(b"\x00\xba\xad")).unwrap();
        assert_eq!(j, "\"\\u0000\\\\xba\\\\xad\"");
    }

    #[test]
    fn names_and_fallbacks() {
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x0301), "TLSv1");
        assert_eq!(version_name(0x1234), "0x1234");
        assert_eq!(named(0x1301, names::cipher_suite), "TLS_AES_128_GCM_SHA256");
        assert_eq!(named(0xffee, names::cipher_suite), "0xffee");
    }
}
