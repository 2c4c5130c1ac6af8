//! The hand-written rendering against the serde-based one it replaced ([`super::oracle`]):
//! every record of the project's captures (JA4+ on, the shipped and test rule packs loaded,
//! so that rules, labels and alerts appear) and random records full of hostile values.

use std::fs::File;
use std::io::BufReader;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::{alert_json, escape_bytes, oracle, to_json, to_json_enriched};
use crate::capture;
use crate::certcheck::CertChecks;
use crate::fingerprint::Transport;
use crate::fingerprint::ja3::Ja3;
use crate::fingerprint::ja4::{Ja4, Ja4s};
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::record::{Alert, Cert, Details, Fingerprints, Handshake, Outcome, Side};
use crate::rules::{Label, Match, RuleSet, Severity};
use crate::time::Timestamp;
use crate::tls::hello::{ClientHello, ServerHello, ext};
use crate::tls::names;
use crate::worker::WorkerConfig;
use crate::x509::CertInfo;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every record of a capture through the pipeline, JA4+ on, named as replay names it.
fn records(path: &Path) -> Vec<Handshake> {
    let mut out = Vec::new();
    let mut emit = |h: &mut Handshake| out.push(h.clone());
    let mut pipe = Pipeline::new(PipelineConfig {
        worker: WorkerConfig { ja4plus: true, ..WorkerConfig::default() },
        ..PipelineConfig::default()
    });
    let name = format!("pcaps/{}", path.file_name().unwrap().to_string_lossy());
    pipe.set_file(Some(Arc::from(name.as_str())), &mut emit);
    let f = BufReader::new(File::open(path).unwrap());
    capture::read_capture(
        f,
        |frame| {
            pipe.frame(frame, &mut emit);
            true
        },
        |_| {},
    )
    .unwrap();
    pipe.flush(&mut emit);
    pipe.finish(&mut emit);
    out
}

/// The rendering of one record with its rules and labels against the oracle's; returns
/// the number of lines compared.
fn same_as_oracle(h: &Handshake, matches: &[Match], labels: &[Label]) -> usize {
    let line = to_json_enriched(h, matches, labels);
    assert_eq!(line, oracle::to_json_enriched(h, matches, labels), "record {h:#?}");
    assert_eq!(to_json(h), oracle::to_json_enriched(h, &[], &[]));
    for m in matches {
        assert_eq!(alert_json(h, m), oracle::alert_json(h, m), "rule {m:?} on {h:#?}");
    }
    2 + matches.len()
}

#[test]
fn every_capture_renders_as_serde_did() {
    let data = root().join("tests/data/rules");
    let set = RuleSet::load(&[root().join("rules"), data.join("e2e.toml"), data.join("imports.toml")])
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(root().join("pcaps"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 15, "{pcaps:?}");
    let (mut records_seen, mut lines, mut matched, mut labelled) = (0, 0, 0, 0);
    for p in &pcaps {
        for h in records(p) {
            let matches = set.matches(&h);
            let labels = set.labels(&h);
            records_seen += 1;
            matched += usize::from(!matches.is_empty());
            labelled += usize::from(!labels.is_empty());
            lines += same_as_oracle(&h, &matches, &labels);
            if labels.is_empty() {
                // No mapping entry matches these captures: labels of every shape instead.
                let some = |s: &str| Some(Arc::from(s));
                let synthetic = [
                    Label {
                        application: some("Chromium Browser"),
                        library: some("BoringSSL"),
                        device: some("Pixel \"7\""),
                        os: some("Android"),
                        notes: some("line\nbreak"),
                    },
                    Label { application: None, library: None, device: None, os: None, notes: some("x") },
                    Label { application: None, library: None, device: None, os: None, notes: None },
                ];
                lines += same_as_oracle(&h, &matches, &synthetic);
            }
        }
    }
    println!("{records_seen} records, {matched} with rules, {labelled} with labels, {lines} lines");
    assert!(records_seen >= 30 && matched >= 5, "{records_seen} records, {matched} matched");
}

/// The events' key order, once, by hand: the writer's and the oracle's agreeing is only
/// worth something if the oracle is the old output.
#[test]
fn event_shape_is_the_documented_one() {
    let h = hostile_free_record();
    let line = to_json(&h);
    assert!(
        line.starts_with(
            r#"{"timestamp":"2026-11-28T10:00:00.000000Z","flow_id":1,"event_type":"tls","src_ip":"10.1.2.3","src_port":51514,"dest_ip":"93.184.216.34","dest_port":443,"proto":"TCP","tls":{"sni":"www.example.com","version":"TLS 1.2","cipher_suite":"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256","client_alpns":["h2","http/1.1"],"server_alpn":"h2","client_versions":["TLS 1.3","TLS 1.2"],"client_groups":["x25519","secp256r1"],"extended_master_secret":false,"encrypt_then_mac":false,"secure_renegotiation":false,"hello_retry":false,"resumed":false,"ocsp":{"requested":false,"stapled":false},"sct_requested":false,"#
        ),
        "{line}"
    );
    assert!(line.ends_with(r#""outcome":"established"}}"#), "{line}");
}

fn hostile_free_record() -> Handshake {
    Handshake {
        flow_id: 1,
        timestamp: Timestamp::from_nanos(1_795_860_000_000_000_000),
        transport: Transport::Tcp,
        client: ("10.1.2.3".parse().unwrap(), 51514),
        server: ("93.184.216.34".parse().unwrap(), 443),
        vlans: vec![],
        pcap_filename: None,
        client_hello: Some(ClientHello {
            version: 0x0303,
            sni: Some(b"www.example.com".to_vec()),
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            supported_versions: vec![0x2a2a, 0x0304, 0x0303],
            groups: vec![0x001d, 0x0017],
            ..ClientHello::default()
        }),
        client_hello_count: 1,
        first_server_hello: None,
        server_hello: Some(ServerHello {
            version: 0x0303,
            cipher: 0xc02f,
            alpn: Some(b"h2".to_vec()),
            ..ServerHello::default()
        }),
        hello_retry: false,
        alerts: vec![],
        outcome: Outcome::Established,
        anomalies: vec![],
        fingerprints: Fingerprints::default(),
        details: Details::default(),
        certificates: vec![],
        client_certificates: vec![],
        cert_checks: None,
        rendered: Vec::new(),
    }
}

/// A small deterministic generator (SplitMix64), shared with the JSON writer's tests.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn maybe<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.coin() { Some(f(self)) } else { None }
    }

    fn some<T>(&mut self, max: u64, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.below(max + 1);
        (0..n).map(|_| f(self)).collect()
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    /// Text with control characters, quotes, backslashes, `\xNN` look-alikes, multibyte
    /// characters and long clean runs.
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "\0",
            "\u{1}",
            "\u{8}",
            "\t",
            "\n",
            "\u{b}",
            "\u{c}",
            "\r",
            "\u{1b}[0m",
            "\u{1f}",
            "\"",
            "\\",
            "\\x41",
            "/",
            "\u{7f}",
            "é",
            "漢字",
            "🦀",
            "\u{2028}",
            "\u{feff}",
            "\u{fffd}",
            "CN=www.example.com",
            "O=\"Quoted, Inc.\"",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            " ",
            "",
        ];
        let n = self.below(6);
        (0..n).map(|_| self.pick(PIECES)).collect()
    }

    /// Wire bytes: any text above, or raw bytes with invalid UTF-8.
    fn wire(&mut self) -> Vec<u8> {
        if self.coin() {
            return self.text().into_bytes();
        }
        const BYTES: &[u8] =
            &[0x00, 0x1f, b'"', b'\\', b'x', b'a', 0x7f, 0x80, 0xbf, 0xc3, 0xa9, 0xe6, 0xbc, 0xff];
        let n = self.below(12);
        (0..n).map(|_| self.pick(BYTES)).collect()
    }

    /// A code point list: named values, unknown ones and GREASE.
    fn codes(&mut self) -> Vec<u16> {
        const CODES: &[u16] = &[
            0x0a0a, 0xfafa, 0x0304, 0x0303, 0x0301, 0x7f1c, 0xfb1a, 0xfefd, 0x001d, 0x0017, 0x11ec, 0x0403,
            0x0804, 0x1301, 0xc02f, 0x0005, 0xeeee, 0x0a1a, 0xffff, 0x0000,
        ];
        self.some(5, |r| if r.coin() { r.pick(CODES) } else { r.next() as u16 })
    }

    fn ip(&mut self) -> IpAddr {
        match self.below(3) {
            0 => IpAddr::V4(Ipv4Addr::from(self.next() as u32)),
            1 => IpAddr::V6(Ipv6Addr::from(u128::from(self.next() as u16))),
            _ => IpAddr::V6(Ipv6Addr::from((u128::from(self.next()) << 64) | u128::from(self.next() >> 32))),
        }
    }

    fn client_hello(&mut self) -> ClientHello {
        const EXTS: &[u16] =
            &[ext::EARLY_DATA, ext::STATUS_REQUEST, ext::SCT, ext::EXTENDED_MASTER_SECRET, 0, 16, 43];
        let supported_versions = self.codes();
        ClientHello {
            version: self.pick(&[0x0303, 0x0301, 0x0002, 0x1234, 0xfefd]),
            sslv2: self.coin(),
            session_id_len: self.pick(&[0, 32]),
            compression: self.some(3, |r| r.next() as u8),
            extensions: self.some(4, |r| r.pick(EXTS)),
            sni: self.maybe(Self::wire),
            alpn: self.some(3, Self::wire),
            supported_versions,
            groups: self.codes(),
            sig_algs: self.maybe(Self::codes),
            key_share_groups: self.codes(),
            psk_identities: self.pick(&[0, 1]),
            psk_modes: self.some(3, |r| r.pick(&[0, 1, 2, 255])),
            ticket_offered: self.coin(),
            ..ClientHello::default()
        }
    }

    fn server_hello(&mut self) -> ServerHello {
        const EXTS: &[u16] =
            &[ext::EXTENDED_MASTER_SECRET, ext::ENCRYPT_THEN_MAC, ext::RENEGOTIATION_INFO, 43];
        ServerHello {
            version: self.pick(&[0x0303, 0x0304, 0x0300, 0x7f12]),
            hello_retry: self.below(4) == 0,
            cipher: self.pick(&[0x1301, 0xc02f, 0x0a0a, 0xfffe]),
            extensions: self.some(3, |r| r.pick(EXTS)),
            selected_version: self.maybe(|r| r.pick(&[0x0304, 0x7f17, 0xfb1a, 0x4444])),
            alpn: self.maybe(Self::wire),
            key_share_group: self.maybe(|r| r.pick(&[0x001d, 0x11ec, 0x2a2a, 0x7777])),
            ..ServerHello::default()
        }
    }

    fn cert(&mut self) -> Arc<Cert> {
        let info = if self.below(4) == 0 {
            Err(self.text())
        } else {
            Ok(CertInfo {
                subject: self.text(),
                issuer: self.text(),
                serial: self.text(),
                sha1_fingerprint: self.text(),
                sha256: self.text(),
                not_before: self.text(),
                not_after: self.text(),
                san: self.some(3, Self::text),
                key_type: self.text(),
                key_bits: self.maybe(|r| r.next() as u32),
                curve: self.maybe(Self::text),
                signature_algorithm: self.text(),
                is_ca: self.coin(),
                path_len: self.maybe(|r| r.below(5) as u32),
                key_usage: self.some(2, Self::text),
                ext_key_usage: self.some(2, Self::text),
                self_signed: self.coin(),
                has_sct: self.coin(),
                ..CertInfo::default()
            })
        };
        Arc::new(Cert { info, ja4x: self.maybe(|r| (r.text(), r.text())) })
    }

    fn record(&mut self) -> Handshake {
        Handshake {
            flow_id: self.next() >> self.below(64),
            timestamp: Timestamp::from_nanos(self.next() as i64),
            transport: self.pick(&[Transport::Tcp, Transport::Quic, Transport::Dtls]),
            client: (self.ip(), self.next() as u16),
            server: (self.ip(), self.next() as u16),
            vlans: self.some(2, |r| r.next() as u16 & 0xfff),
            pcap_filename: self.maybe(|r| Arc::from(r.text().as_str())),
            client_hello: self.maybe(Self::client_hello),
            client_hello_count: self.below(3) as u32,
            first_server_hello: self.maybe(Self::server_hello),
            server_hello: self.maybe(Self::server_hello),
            hello_retry: self.coin(),
            alerts: self.some(2, |r| Alert {
                from: r.pick(&[Side::Client, Side::Server]),
                level: r.below(4) as u8,
                description: r.next() as u8,
            }),
            outcome: self.pick(&Outcome::ALL),
            anomalies: self.some(2, Self::text),
            fingerprints: Fingerprints {
                ja3: self.maybe(|r| Ja3 { string: r.text(), hash: r.text() }.into()),
                ja3s: self.maybe(|r| Ja3 { string: r.text(), hash: r.text() }),
                ja4: self.maybe(|r| {
                    Ja4 { ja4: r.text(), ja4_r: r.text(), ja4_o: r.text(), ja4_ro: r.text() }.into()
                }),
                ja4s: self.maybe(|r| Ja4s { ja4s: r.text(), ja4s_r: r.text() }),
            },
            details: Details {
                resumed: self.coin(),
                ticket_issued: self.coin(),
                certificate_requested: self.coin(),
                ocsp_stapled: self.coin(),
                ske_group: self.maybe(|r| r.pick(&[0x0017, 0x5a5a, 0x0100])),
                dhe_bits: self.maybe(|r| r.next() as u32),
                server_sig_alg: self.maybe(|r| r.pick(&[0x0804, 0x0000, 0xabcd])),
                server_hello_us: self.maybe(|r| r.next() as i64 >> r.below(64)),
                finished_us: self.maybe(|r| r.next() as i64 >> r.below(64)),
                quic_version: self.maybe(|r| r.pick(&[1, 0x6b33_43cf, 0xff00_001d, 0, u32::MAX])),
                hello_verify: self.coin(),
            },
            certificates: self.some(3, Self::cert),
            client_certificates: self.some(1, Self::cert),
            cert_checks: self.maybe(|r| CertChecks {
                expired: r.coin(),
                not_yet_valid: r.coin(),
                self_signed: r.coin(),
                name_mismatch: r.coin(),
                chain_out_of_order: r.coin(),
                missing_intermediate: r.coin(),
                weak_key: r.coin(),
                weak_signature: r.coin(),
                reasons: r.some(2, Self::text),
            }),
            rendered: Vec::new(),
        }
    }

    fn arc_text(&mut self) -> Arc<str> {
        Arc::from(self.text().as_str())
    }

    fn matched(&mut self) -> Match {
        Match {
            id: self.arc_text(),
            sid: self.next() as u32,
            rev: self.next() as u32,
            msg: self.arc_text(),
            severity: self.pick(&[
                Severity::Info,
                Severity::Low,
                Severity::Medium,
                Severity::High,
                Severity::Critical,
            ]),
            category: if self.coin() { Arc::from("") } else { self.arc_text() },
            tags: self.some(2, Self::text).into(),
        }
    }

    fn label(&mut self) -> Label {
        Label {
            application: self.maybe(Self::arc_text),
            library: self.maybe(Self::arc_text),
            device: self.maybe(Self::arc_text),
            os: self.maybe(Self::arc_text),
            notes: self.maybe(Self::arc_text),
        }
    }
}

/// A string member by a JSON pointer.
fn at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

#[test]
fn hostile_records_render_as_serde_did_and_parse_back() {
    let mut rng = Rng(0x0b5e_55ed);
    for _ in 0..4_000 {
        let h = rng.record();
        let matches = rng.some(2, Rng::matched);
        let labels = rng.some(2, Rng::label);
        same_as_oracle(&h, &matches, &labels);

        // The line parses, and the strings come back as they went in.
        let line = to_json_enriched(&h, &matches, &labels);
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let ch = h.client_hello.as_ref();
        let sh = h.server_hello.as_ref().filter(|s| !s.hello_retry);
        assert_eq!(at(&v, "/tls/sni"), ch.and_then(|c| c.sni.as_deref()).map(escape_bytes).as_deref());
        let alpns: Vec<String> = ch.map_or(Vec::new(), |c| c.alpn.iter().map(|a| escape_bytes(a)).collect());
        let got: Vec<&str> = v
            .pointer("/tls/client_alpns")
            .and_then(Value::as_array)
            .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).collect());
        assert_eq!(got, alpns);
        assert_eq!(
            at(&v, "/tls/server_alpn"),
            sh.and_then(|s| s.alpn.as_deref()).map(escape_bytes).as_deref()
        );
        assert_eq!(at(&v, "/pcap_filename"), h.pcap_filename.as_deref());
        assert_eq!(v["flow_id"].as_u64(), Some(h.flow_id));
        assert_eq!(at(&v, "/timestamp"), Some(h.timestamp.to_string().as_str()));
        assert_eq!(at(&v, "/src_ip"), Some(h.client.0.to_string().as_str()));
        for (i, c) in h.certificates.iter().enumerate() {
            match &c.info {
                Ok(info) => {
                    assert_eq!(
                        at(&v, &format!("/tls/certificates/{i}/subject")),
                        Some(info.subject.as_str())
                    );
                    assert_eq!(at(&v, &format!("/tls/certificates/{i}/issuer")), Some(info.issuer.as_str()));
                    for (j, san) in info.san.iter().enumerate() {
                        assert_eq!(at(&v, &format!("/tls/certificates/{i}/san/{j}")), Some(san.as_str()));
                    }
                }
                Err(e) => assert_eq!(at(&v, &format!("/tls/certificates/{i}/error")), Some(e.as_str())),
            }
        }
        for (i, a) in h.anomalies.iter().enumerate() {
            assert_eq!(at(&v, &format!("/tls/anomalies/{i}")), Some(a.as_str()));
        }
        for (i, m) in matches.iter().enumerate() {
            assert_eq!(at(&v, &format!("/rules/{i}/msg")), Some(&*m.msg));
            assert_eq!(at(&v, &format!("/rules/{i}/id")), Some(&*m.id));
            let a: Value = serde_json::from_str(&alert_json(&h, m)).unwrap();
            assert_eq!(at(&a, "/alert/signature"), Some(&*m.msg));
            assert_eq!(at(&a, "/alert/category"), Some(&*m.category));
        }
        for (i, l) in labels.iter().enumerate() {
            assert_eq!(at(&v, &format!("/tls/labels/{i}/notes")), l.notes.as_deref());
        }
        if let Some(j) = &h.fingerprints.ja4 {
            assert_eq!(at(&v, "/tls/ja4_ro"), Some(j.ja4_ro.as_str()));
        }
    }
}

/// The names written without escaping ([`super::json::Json::clean`]): every entry of every
/// table it is used with needs none.
#[test]
fn table_names_need_no_escaping() {
    let clean = |s: &str| !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
    let tables: [fn(u16) -> Option<&'static str>; 4] =
        [names::version, names::cipher_suite, names::group, names::signature_scheme];
    for f in tables {
        for v in 0..=u16::MAX {
            assert!(f(v).is_none_or(clean), "{v:#06x}");
        }
    }
    let tables8: [fn(u8) -> Option<&'static str>; 2] =
        [names::alert_description, names::psk_key_exchange_mode];
    for f in tables8 {
        for v in 0..=u8::MAX {
            assert!(f(v).is_none_or(clean), "{v}");
        }
    }
    for o in Outcome::ALL {
        assert!(clean(o.as_str()));
    }
    for s in [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical] {
        assert!(clean(s.as_str()));
    }
}

/// The ClientHello lists written through a rendering thread's memo are exactly what
/// writing them directly gives: for hits and misses, for more hellos than the memo has
/// slots (so slots are replaced), for the same codes split differently between the lists,
/// for lists too long to be kept, and at the start of an object.
#[test]
fn list_memo_writes_what_direct_writing_does() {
    use super::json::Json;
    use super::{ListMemo, MEMO_MAX_CODES, MEMO_SLOTS, client_lists};
    let mut rng = Rng(0x11_57);
    let mut hellos: Vec<[Vec<u16>; 4]> =
        (0..3 * MEMO_SLOTS).map(|_| [rng.codes(), rng.codes(), rng.codes(), rng.codes()]).collect();
    // The same codes, one moved to the next list; and lists past the cap.
    hellos.push([vec![0x0304, 0x0303], vec![], vec![0x001d], vec![0x0403]]);
    hellos.push([vec![0x0304], vec![0x0303], vec![0x001d], vec![0x0403]]);
    hellos.push([vec![0x0304], vec![], vec![0x0303, 0x001d], vec![0x0403]]);
    hellos.push([vec![], vec![], vec![], vec![]]);
    hellos.push([vec![0x0a0a], vec![0x1a1a], vec![], vec![]]);
    hellos.push([vec![0x0403; MEMO_MAX_CODES], vec![0x001d], vec![], vec![]]);
    hellos.push([vec![], vec![], vec![], vec![0x0804; MEMO_MAX_CODES + 1]]);
    let mut memo = ListMemo::default();
    let mut written = 0;
    for round in 0..3 {
        for h in &hellos {
            let lists = [&h[0][..], &h[1][..], &h[2][..], &h[3][..]];
            for start in ["{\"version\":\"TLS 1.2\"", "{"] {
                let (mut via_memo, mut direct) = (start.to_string(), start.to_string());
                memo.write(&mut Json::new(&mut via_memo), lists);
                client_lists(&mut Json::new(&mut direct), lists);
                assert_eq!(via_memo, direct, "round {round}: {h:?}");
                via_memo.push('}');
                serde_json::from_str::<Value>(&via_memo).unwrap_or_else(|e| panic!("{e}: {via_memo}"));
                written += usize::from(via_memo.len() > start.len() + 1);
            }
        }
    }
    assert!(written > hellos.len(), "{written}");
    // Over-cap hellos were written, never kept (the memo's memory bound).
    assert_eq!(memo.slots.len(), MEMO_SLOTS);
    for (key, _) in memo.slots.iter().flatten() {
        assert!(key.len() <= MEMO_MAX_CODES + 4, "{}", key.len());
    }
}
