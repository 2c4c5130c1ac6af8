//! The serde-based rendering the hand-written writer replaced, kept for the tests as the
//! oracle: for any record, [`super::to_json_enriched`] and [`super::alert_json`] must give
//! exactly the line these give.

use std::net::IpAddr;

use serde::Serialize;

use super::views::{Each, Escaped, Name, Names, Resumption, Shown};
use crate::fingerprint::Transport;
use crate::fingerprint::ja3::Ja3;
use crate::fingerprint::no_grease;
use crate::record::{Alert, Cert, Handshake};
use crate::rules::{Label, Match};
use crate::time::Timestamp;
use crate::tls::names;

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

fn cert_out(c: &std::sync::Arc<Cert>) -> CertOut<'_> {
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
    description: Name,
}

fn alert_out(a: &Alert) -> AlertOut {
    AlertOut {
        from: a.from.as_str(),
        level: match a.level {
            1 => "warning",
            2 => "fatal",
            _ => "unknown",
        },
        description: Name::of_u8(a.description, names::alert_description),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
struct TlsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sni: Option<Escaped<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher_suite: Option<Name>,
    #[serde(skip_serializing_if = "Each::is_empty")]
    client_alpns: Each<'a, Vec<u8>, Escaped<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_alpn: Option<Escaped<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Name>,
    #[serde(skip_serializing_if = "Names::is_empty")]
    client_versions: Names<'a>,
    #[serde(skip_serializing_if = "Names::is_empty")]
    client_groups: Names<'a>,
    #[serde(skip_serializing_if = "Names::is_empty")]
    client_key_shares: Names<'a>,
    #[serde(skip_serializing_if = "Names::is_empty")]
    client_sig_algs: Names<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_sig_alg: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dhe_bits: Option<u32>,
    #[serde(skip_serializing_if = "<[u8]>::is_empty")]
    compression_methods: &'a [u8],
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_master_secret: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypt_then_mac: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_renegotiation: Option<bool>,
    hello_retry: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    quic_version: Option<Name>,
    #[serde(skip_serializing_if = "is_false")]
    hello_verify_request: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hello_retry_group: Option<Name>,
    #[serde(skip_serializing_if = "is_false")]
    early_data: bool,
    #[serde(skip_serializing_if = "Resumption::is_empty")]
    resumption_offered: Resumption,
    #[serde(skip_serializing_if = "Each::is_empty")]
    psk_modes: Each<'a, u8, Name>,
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
    #[serde(skip_serializing_if = "Each::is_empty")]
    certificates: Each<'a, std::sync::Arc<Cert>, CertOut<'a>>,
    #[serde(skip_serializing_if = "Each::is_empty")]
    client_certificates: Each<'a, std::sync::Arc<Cert>, CertOut<'a>>,
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
    #[serde(skip_serializing_if = "Each::is_empty")]
    alerts: Each<'a, Alert, AlertOut>,
    outcome: &'static str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    anomalies: &'a [String],
    #[serde(skip_serializing_if = "Each::is_empty")]
    labels: Each<'a, Label, LabelOut<'a>>,
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
    timestamp: Shown<Timestamp>,
    flow_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pcap_filename: Option<&'a str>,
    event_type: &'static str,
    #[serde(skip_serializing_if = "<[u16]>::is_empty")]
    vlan: &'a [u16],
    // serde writes an address as its `Display` text (from a stack buffer).
    src_ip: &'a IpAddr,
    src_port: u16,
    dest_ip: &'a IpAddr,
    dest_port: u16,
    proto: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<RuleAlertOut<'a>>,
    tls: TlsOut<'a>,
    #[serde(skip_serializing_if = "Each::is_empty")]
    rules: Each<'a, Match, RuleOut<'a>>,
}

fn tls_out(h: &Handshake) -> TlsOut<'_> {
    let ch = h.client_hello.as_ref();
    let sh = h.server_hello.as_ref().filter(|sh| !sh.hello_retry);
    let version = match (sh, ch) {
        // Suricata's spelling for the earliest drafts, which put 0x0304 itself in
        // server_version (a final TLS 1.3 ServerHello always says 0x0303 there).
        (Some(sh), _) if sh.version == 0x0304 && sh.selected_version.is_none() => {
            Some(Name::Known("TLS 1.3 draft-<16"))
        }
        (Some(sh), _) => Some(Name::of(sh.negotiated_version(), names::version)),
        (None, Some(ch)) => Some(Name::of(ch.version, names::version)),
        (None, None) => None,
    };
    let d = &h.details;
    // The group: the final ServerHello's key_share (TLS 1.3), else the ECDHE
    // ServerKeyExchange's named curve (TLS ≤ 1.2).
    let group = sh.and_then(|s| s.key_share_group).or(d.ske_group).map(|g| Name::of(g, names::group));
    let fp = &h.fingerprints;
    let sh_ext = |e: u16| sh.map(|s| s.extensions.contains(&e));
    let offers_13 =
        ch.is_some_and(|c| no_grease(&c.supported_versions).any(|v| (0x0304..0x0400).contains(&v)));
    let resumption_offered = ch.map_or_else(Resumption::default, |c| Resumption {
        // In TLS 1.3 a legacy session id is a random middlebox-compatibility value, not a
        // resumption attempt.
        session_id: c.session_id_len > 0 && !offers_13,
        ticket: c.ticket_offered,
        psk: c.psk_identities > 0,
    });
    let first_sh = h.first_server_hello.as_ref();
    // The leaf in Suricata EVE's own top-level fields and formats.
    let leaf = h.certificates.first().and_then(|c| c.info.as_ref().ok());
    TlsOut {
        sni: ch.and_then(|c| c.sni.as_deref()).map(Escaped),
        version,
        cipher_suite: sh.map(|s| Name::of(s.cipher, names::cipher_suite)),
        client_alpns: Each::new(ch.map_or(&[], |c| &c.alpn), |a| Escaped(a)),
        server_alpn: sh.and_then(|s| s.alpn.as_deref()).map(Escaped),
        group,
        client_versions: Names::new(ch.map_or(&[], |c| &c.supported_versions), names::version),
        client_groups: Names::new(ch.map_or(&[], |c| &c.groups), names::group),
        client_key_shares: Names::new(ch.map_or(&[], |c| &c.key_share_groups), names::group),
        client_sig_algs: Names::new(
            ch.and_then(|c| c.sig_algs.as_deref()).unwrap_or_default(),
            names::signature_scheme,
        ),
        server_sig_alg: d.server_sig_alg.map(|v| Name::of(v, names::signature_scheme)),
        dhe_bits: d.dhe_bits,
        compression_methods: ch.map_or(&[], |c| &c.compression),
        extended_master_secret: sh_ext(crate::tls::hello::ext::EXTENDED_MASTER_SECRET),
        encrypt_then_mac: sh_ext(crate::tls::hello::ext::ENCRYPT_THEN_MAC),
        secure_renegotiation: sh_ext(crate::tls::hello::ext::RENEGOTIATION_INFO),
        hello_retry: h.hello_retry,
        hello_verify_request: d.hello_verify,
        quic_version: d.quic_version.map(|v| match v {
            0x0000_0001 => Name::Known("1"),
            0x6b33_43cf => Name::Known("2"),
            v => Name::Hex32(v),
        }),
        hello_retry_group: first_sh
            .filter(|s| s.hello_retry)
            .and_then(|s| s.key_share_group)
            .map(|g| Name::of(g, names::group)),
        early_data: ch.is_some_and(|c| c.has_extension(crate::tls::hello::ext::EARLY_DATA)),
        resumption_offered,
        psk_modes: Each::new(ch.map_or(&[], |c| &c.psk_modes), |&m| {
            Name::of_u8(m, names::psk_key_exchange_mode)
        }),
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
        certificates: Each::new(&h.certificates, cert_out),
        client_certificates: Each::new(&h.client_certificates, cert_out),
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
        ja3: fp.ja3.as_deref().map(Ja3Out::from),
        ja3s: fp.ja3s.as_ref().map(Ja3Out::from),
        ja4: fp.ja4.as_ref().map(|j| j.ja4.as_str()),
        ja4_r: fp.ja4.as_ref().map(|j| j.ja4_r.as_str()),
        ja4_o: fp.ja4.as_ref().map(|j| j.ja4_o.as_str()),
        ja4_ro: fp.ja4.as_ref().map(|j| j.ja4_ro.as_str()),
        ja4s: fp.ja4s.as_ref().map(|j| j.ja4s.as_str()),
        ja4s_r: fp.ja4s.as_ref().map(|j| j.ja4s_r.as_str()),
        alerts: Each::new(&h.alerts, alert_out),
        outcome: h.outcome.as_str(),
        anomalies: &h.anomalies,
        labels: Each::new(&[], label_out),
    }
}

fn rule_out(m: &Match) -> RuleOut<'_> {
    RuleOut {
        id: &m.id,
        sid: m.sid,
        severity: m.severity.as_str(),
        msg: &m.msg,
        category: &m.category,
        tags: &m.tags,
    }
}

fn label_out(l: &Label) -> LabelOut<'_> {
    LabelOut {
        application: l.application.as_deref(),
        library: l.library.as_deref(),
        device: l.device.as_deref(),
        os: l.os.as_deref(),
        notes: l.notes.as_deref(),
    }
}

/// Serialises a record with the rules that matched it (`rules[]`) and its labels
/// (`tls.labels[]`).
pub(super) fn to_json_enriched(h: &Handshake, matches: &[Match], labels: &[Label]) -> String {
    let mut ev = event(h, None);
    ev.rules = Each::new(matches, rule_out);
    ev.tls.labels = Each::new(labels, label_out);
    render(&ev)
}

/// An `event_type: "alert"` record for a rule that matched, in Suricata EVE's alert shape,
/// with the flow and the `tls` object of the handshake.
pub(super) fn alert_json(h: &Handshake, m: &Match) -> String {
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
    render(&ev)
}

fn render(ev: &EventOut<'_>) -> String {
    serde_json::to_string(ev).unwrap()
}

fn event<'a>(h: &'a Handshake, alert: Option<RuleAlertOut<'a>>) -> EventOut<'a> {
    EventOut {
        timestamp: Shown(h.timestamp),
        flow_id: h.flow_id,
        pcap_filename: h.pcap_filename.as_deref(),
        event_type: match (alert.is_some(), h.transport) {
            (true, _) => "alert",
            (false, Transport::Tcp) => "tls",
            (false, Transport::Quic) => "quic",
            (false, Transport::Dtls) => "dtls",
        },
        vlan: &h.vlans,
        src_ip: &h.client.0,
        src_port: h.client.1,
        dest_ip: &h.server.0,
        dest_port: h.server.1,
        proto: match h.transport {
            Transport::Tcp => "TCP",
            _ => "UDP",
        },
        alert,
        tls: tls_out(h),
        rules: Each::new(&[], rule_out),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{escape_bytes, named, version_name};
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

    fn json<T: Serialize + ?Sized>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }

    /// The owned values the views replaced, serialised, against the views.
    #[test]
    fn escaped_matches_escape_bytes() {
        let inputs: &[&[u8]] = &[
            b"",
            b"example.com",
            b"h2",
            b"a\xffb\xc3",
            b"\xff",
            b"\xff\xfe\x80\x00",
            b"\x00\x01\x1f\x7f",
            b"quote\"back\\slash\\x41",
            b"tab\tnl\ncr\r\x08\x0c",
            "é ü 漢字 🦀".as_bytes(),
            // Truncated and overlong sequences, a lone surrogate, a continuation byte.
            b"\xe6\xbc",
            b"\xf0\x9f\xa6",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
            b"x\x80y\xbfz",
            b"\xc3\xa9\xc3",
            b"\"\xff\\\xfe\"",
            b"</script>\x1b[0m\xe2\x80\xa8\xe2\x80\xa9",
        ];
        for &b in inputs {
            assert_eq!(json(&Escaped(b)), json(&escape_bytes(b)), "{b:?}");
            assert_eq!(Escaped(b).to_string(), escape_bytes(b), "{b:?}");
        }
        // Every single byte and every pair of bytes.
        for x in 0..=255u8 {
            for y in 0..=255u8 {
                let b = [x, y];
                assert_eq!(json(&Escaped(&b)), json(&escape_bytes(&b)), "{b:?}");
            }
        }
    }

    #[test]
    fn names_match_owned_strings() {
        let tables: [fn(u16) -> Option<&'static str>; 4] =
            [names::version, names::cipher_suite, names::group, names::signature_scheme];
        for f in tables {
            for v in 0..=u16::MAX {
                assert_eq!(json(&Name::of(v, f)), json(&named(v, f)), "{v:#06x}");
            }
        }
        let tables8: [fn(u8) -> Option<&'static str>; 2] =
            [names::alert_description, names::psk_key_exchange_mode];
        for f in tables8 {
            for v in 0..=u8::MAX {
                let owned = f(v).map_or_else(|| v.to_string(), str::to_string);
                assert_eq!(json(&Name::of_u8(v, f)), json(&owned), "{v}");
                assert_eq!(Name::of_u8(v, f).to_string(), owned);
            }
        }
        for v in [0u32, 1, 0x6b33_43cf, 0xff00_001d, 0xfaceb002, u32::MAX] {
            assert_eq!(json(&Name::Hex32(v)), json(&format!("0x{v:08x}")));
        }
        assert_eq!(Name::of(0x0a0a, names::group).to_string(), "0x0a0a");
    }

    #[test]
    fn name_lists_skip_grease() {
        let owned = |v: &[u16], f: fn(u16) -> Option<&'static str>| -> Vec<String> {
            no_grease(v).map(|x| named(x, f)).collect()
        };
        let lists: &[&[u16]] = &[
            &[],
            &[0x0a0a],
            &[0x0a0a, 0xfafa],
            &[0x1a1a, 0x11ec, 0x001d, 0x0017, 0x2a2a],
            &[0x0403, 0x0804, 0x0303, 0x0301, 0xeeee, 0x0a1a, 0x4a4a, 0xffff],
            &[0x7a7a, 0x0304, 0x0303, 0x7f1c, 0xfb1a, 0xfefd, 0x1234],
        ];
        let tables: [fn(u16) -> Option<&'static str>; 3] =
            [names::version, names::group, names::signature_scheme];
        for &l in lists {
            for f in tables {
                let v = Names::new(l, f);
                assert_eq!(json(&v), json(&owned(l, f)), "{l:x?}");
                assert_eq!(v.is_empty(), owned(l, f).is_empty(), "{l:x?}");
            }
        }
    }

    #[test]
    fn other_views_match_owned_values() {
        // resumption_offered: every combination, in the old push order.
        for bits in 0..8u8 {
            let r = Resumption { session_id: bits & 1 != 0, ticket: bits & 2 != 0, psk: bits & 4 != 0 };
            let mut owned = Vec::new();
            for (on, name) in [(r.session_id, "session_id"), (r.ticket, "ticket"), (r.psk, "psk")] {
                if on {
                    owned.push(name);
                }
            }
            assert_eq!(json(&r), json(&owned));
            assert_eq!(r.is_empty(), owned.is_empty());
        }
        // Lists of per-item views.
        let alpns: Vec<Vec<u8>> = vec![b"h2".to_vec(), b"\xff\"x".to_vec(), Vec::new()];
        let owned: Vec<String> = alpns.iter().map(|a| escape_bytes(a)).collect();
        assert_eq!(json(&Each::new(&alpns, |a| Escaped(a))), json(&owned));
        let none: &[Vec<u8>] = &[];
        assert_eq!(json(&Each::new(none, |a| Escaped(a))), "[]");
        assert!(Each::new(none, |a| Escaped(a)).is_empty());
        // Timestamps, including before the epoch and the extremes.
        for n in [0, 1_000, -1_000, 1_795_860_000_123_456_789, i64::MAX, i64::MIN, -86_400_000_000_000] {
            let t = Timestamp::from_nanos(n);
            assert_eq!(json(&Shown(t)), json(&t.to_string()), "{n}");
        }
        // A text too long for the stack buffer, with characters to escape.
        let long = format!("{}\"\\\n{}", "x".repeat(70), "é".repeat(40));
        assert_eq!(json(&Shown(&long)), json(&long));
        // Addresses: serde writes their `Display` text.
        for ip in [
            "10.0.0.5",
            "255.255.255.255",
            "0.0.0.0",
            "::",
            "::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "fe80::1:2:3:4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(json(&ip), json(&ip.to_string()), "{ip}");
        }
    }
}
