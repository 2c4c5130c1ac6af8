//! Rule set tests: each matcher over records built here, the error format, the importers
//! through rule files, labels and the learner.

use std::net::IpAddr;

use super::*;
use crate::certcheck::CertChecks;
use crate::fingerprint::Transport;
use crate::fingerprint::ja3::Ja3;
use crate::fingerprint::ja4::{Ja4, Ja4s};
use crate::record::{Alert, Cert, Details, Fingerprints, Outcome, Side};
use crate::time::Timestamp;
use crate::tls::hello::{ClientHello, ServerHello};
use crate::x509::CertInfo;

pub(crate) const JA4: &str = "t13d1516h2_8daaf6152771_e5627efa2ab1";

/// A TLS 1.2 handshake to a public server, with a leaf certificate.
pub(crate) fn record() -> Handshake {
    let ch = ClientHello {
        version: 0x0303,
        ciphers: vec![0x0a0a, 0xc02f, 0x0005],
        extensions: vec![0, 10, 16, 43],
        sni: Some(b"www.Example.com.".to_vec()),
        alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        supported_versions: vec![0x2a2a, 0x0304, 0x0303],
        groups: vec![0x001d, 0x0017],
        ..ClientHello::default()
    };
    let sh = ServerHello {
        version: 0x0303,
        cipher: 0xc02f,
        alpn: Some(b"h2".to_vec()),
        extensions: vec![16],
        ..ServerHello::default()
    };
    let leaf = CertInfo {
        subject: "C=US, O=Example, CN=www.example.com".into(),
        issuer: "C=US, O=Test CA, CN=Test Issuing CA".into(),
        san: vec!["www.example.com".into(), "*.Example.org".into()],
        key_type: "RSA".into(),
        key_bits: Some(1024),
        sha1_fingerprint: "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD".to_ascii_lowercase(),
        sha256: "ab".repeat(32),
        ..CertInfo::default()
    };
    Handshake {
        flow_id: 1,
        timestamp: Timestamp::from_nanos(1_795_860_000_000_000_000),
        transport: Transport::Tcp,
        client: ("10.1.2.3".parse().unwrap(), 51514),
        server: ("93.184.216.34".parse().unwrap(), 443),
        vlans: vec![],
        pcap_filename: None,
        client_hello: Some(ch),
        client_hello_count: 1,
        first_server_hello: Some(sh.clone()),
        server_hello: Some(sh),
        hello_retry: false,
        alerts: vec![],
        outcome: Outcome::Established,
        anomalies: vec![],
        fingerprints: Fingerprints {
            ja3: Some(
                Ja3 {
                    string: "771,49199-5,0-10-16-43,29-23,".into(),
                    hash: "6734f37431670b3ab4292b8f60f29984".into(),
                }
                .into(),
            ),
            ja3s: Some(Ja3 {
                string: "771,49199,16".into(),
                hash: "623de93db17d313345d7ea481e7443cf".into(),
            }),
            ja4: Some(
                Ja4 { ja4: JA4.into(), ja4_r: "raw".into(), ja4_o: "o".into(), ja4_ro: "ro".into() }.into(),
            ),
            ja4s: None,
        },
        details: Details::default(),
        certificates: vec![Arc::new(Cert {
            info: Ok(leaf),
            ja4x: Some(("ja4xvalue".into(), "ja4xraw".into())),
        })],
        client_certificates: vec![],
        cert_checks: Some(CertChecks { weak_key: true, ..CertChecks::default() }),
        rendered: Vec::new(),
    }
}

/// A fresh folder for one test's files.
pub(crate) fn tmpdir(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("hellotap-rules-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn set_from(name: &str, toml: &str) -> Result<RuleSet, Vec<RuleError>> {
    let d = tmpdir(name);
    let f = d.join("r.toml");
    std::fs::write(&f, toml).unwrap();
    RuleSet::load(&[f])
}

/// Whether a one-rule set with condition `when` (inline TOML) matches `h`.
fn hit(when: &str, h: &Handshake) -> bool {
    let s =
        set_from("hit", &format!("[[rule]]\nid = \"t\"\nmsg = \"m\"\nwhen = {when}\n")).unwrap_or_else(|e| {
            panic!("{when}: {}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
        });
    let m = s.matches(h);
    assert!(m.len() <= 1);
    !m.is_empty()
}

fn errs(toml: &str) -> Vec<String> {
    match set_from("errs", toml) {
        Ok(_) => panic!("expected errors for {toml}"),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn fingerprints_whole_and_ja4_parts() {
    let h = record();
    assert!(hit(r#"{ ja3 = "6734F37431670B3AB4292B8F60F29984" }"#, &h), "case-insensitive");
    assert!(!hit(r#"{ ja3 = "00000000000000000000000000000000" }"#, &h));
    assert!(hit(r#"{ ja3s = ["x", "623de93db17d313345d7ea481e7443cf"] }"#, &h));
    assert!(hit(&format!("{{ ja4 = \"{JA4}\" }}"), &h));
    assert!(hit(r#"{ ja4_a = "t13d1516h2" }"#, &h));
    assert!(hit(r#"{ ja4_b = "8daaf6152771" }"#, &h));
    assert!(hit(r#"{ ja4_c = "e5627efa2ab1" }"#, &h));
    assert!(hit(r#"{ ja4_ab = "t13d1516h2_8daaf6152771" }"#, &h));
    assert!(hit(r#"{ ja4_ac = "t13d1516h2_e5627efa2ab1" }"#, &h));
    assert!(hit(r#"{ ja4_bc = "8daaf6152771_e5627efa2ab1" }"#, &h));
    assert!(!hit(r#"{ ja4_ac = "t13d1516h2_8daaf6152771" }"#, &h));
    assert!(hit(r#"{ ja4_r = "raw" }"#, &h));
    assert!(hit(r#"{ ja4_a = { regex = "^t1[23]d" } }"#, &h));
    assert!(hit(r#"{ ja4x = "ja4xvalue" }"#, &h));
    assert!(!hit(r#"{ ja4s = { regex = "." } }"#, &h), "JA4S off: no value, no match");
    assert!(hit(r#"{ not = { ja4s = { regex = "." } } }"#, &h), "so `not` of it holds");
    let mut h2 = h.clone();
    h2.fingerprints.ja4s = Some(Ja4s { ja4s: "t130200_1301_a56c5b993250".into(), ja4s_r: "r".into() });
    assert!(hit(r#"{ ja4s = "t130200_1301_a56c5b993250" }"#, &h2));
}

#[test]
fn sni_exact_suffix_regex_and_presence() {
    let h = record();
    assert!(hit(r#"{ sni = "WWW.EXAMPLE.COM" }"#, &h), "lowercase, trailing dot dropped");
    assert!(hit(r#"{ sni = { suffix = "example.com" } }"#, &h));
    assert!(hit(r#"{ sni = { suffix = "*.example.com" } }"#, &h));
    assert!(!hit(r#"{ sni = { suffix = "ample.com" } }"#, &h), "label boundary");
    assert!(hit(r#"{ sni = { regex = "^www\\." } }"#, &h));
    assert!(hit(r#"{ sni = { contains = "EXAMPLE" } }"#, &h));
    assert!(hit("{ sni_present = true }", &h));
    let mut no_sni = h.clone();
    no_sni.client_hello.as_mut().unwrap().sni = None;
    assert!(hit("{ sni_present = false, server_ip_public = true }", &no_sni));
    assert!(!hit(r#"{ sni = { regex = "." } }"#, &no_sni));
    let mut odd = h.clone();
    odd.client_hello.as_mut().unwrap().sni = Some(b"a\xffb.example.com".to_vec());
    assert!(hit(r#"{ sni = "a\\xffb.example.com" }"#, &odd), "invalid UTF-8 escaped as in events");
}

#[test]
fn addresses_ports_transport() {
    let h = record();
    assert!(hit(r#"{ client_ip = "10.0.0.0/8" }"#, &h));
    assert!(hit(r#"{ server_ip = ["192.0.2.0/24", "93.184.216.34"] }"#, &h));
    assert!(!hit(r#"{ server_ip = "10.0.0.0/8" }"#, &h));
    assert!(hit(r#"{ server_port = 443 }"#, &h));
    assert!(hit(r#"{ client_port = "50000-60000" }"#, &h));
    assert!(!hit(r#"{ server_port = [80, "8000-8100"] }"#, &h));
    assert!(hit(r#"{ transport = "tcp" }"#, &h));
    assert!(!hit(r#"{ transport = ["quic", "dtls"] }"#, &h));
    let mut v6 = h.clone();
    v6.server = ("2001:db8::1".parse::<IpAddr>().unwrap(), 443);
    assert!(hit(r#"{ server_ip = "2001:db8::/32", server_ip_public = false }"#, &v6));
}

#[test]
fn versions_ciphers_groups_alpn() {
    let mut h = record();
    assert!(hit(r#"{ version = "TLS 1.2" }"#, &h));
    assert!(!hit(r#"{ version = ["TLSv1", "TLS 1.1", "SSLv3"] }"#, &h));
    assert!(hit(r#"{ offered_version = "TLS 1.3" }"#, &h));
    assert!(hit(r#"{ cipher = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" }"#, &h));
    assert!(hit(r#"{ cipher = "0xc02f" }"#, &h));
    assert!(!hit(r#"{ cipher = { regex = "_RC4_|_NULL_|EXPORT|3DES" } }"#, &h));
    assert!(hit(r#"{ offered_cipher = { regex = "_RC4_" } }"#, &h), "0x0005 offered");
    assert!(hit(r#"{ offered_group = "x25519" }"#, &h));
    assert!(hit(r#"{ alpn = "h2", client_alpn = "http/1.1" }"#, &h));
    h.details.ske_group = Some(0x0017);
    assert!(hit(r#"{ group = "secp256r1" }"#, &h));
    h.server_hello.as_mut().unwrap().cipher = 0x000a;
    h.server_hello.as_mut().unwrap().version = 0x0301;
    assert!(hit(r#"{ cipher = { regex = "3DES" }, version = "TLS 1.0" }"#, &h));
    h.server_hello = None;
    assert!(
        !hit(r#"{ version = { } }"#.replace("{ }", "\"TLS 1.2\"").as_str(), &h),
        "no ServerHello: no version"
    );
}

#[test]
fn certificate_facts() {
    let mut h = record();
    assert!(hit(r#"{ cert_issuer = { contains = "Test CA" } }"#, &h));
    assert!(hit(r#"{ cert_subject = "C=US, O=Example, CN=www.example.com" }"#, &h));
    assert!(hit(r#"{ cert_san = { suffix = "example.org" } }"#, &h), "SANs lowercased; *. kept in the value");
    assert!(hit(r#"{ cert_san = "www.example.com" }"#, &h));
    assert!(hit(r#"{ cert_sha1 = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD" }"#, &h));
    assert!(hit(r#"{ cert_sha1 = "aabbccddeeff00112233445566778899aabbccdd" }"#, &h));
    assert!(hit(&format!("{{ cert_sha256 = \"{}\" }}", "AB".repeat(32)), &h));
    assert!(hit(r#"{ cert_key_type = "rsa", cert_key_bits_below = 2048 }"#, &h));
    assert!(!hit(r#"{ cert_key_bits_below = 1024 }"#, &h));
    assert!(hit("{ cert_weak_key = true, cert_expired = false, cert_seen = true }", &h));
    h.cert_checks.as_mut().unwrap().expired = true;
    h.cert_checks.as_mut().unwrap().self_signed = true;
    h.cert_checks.as_mut().unwrap().name_mismatch = true;
    assert!(hit(
        "{ all = [{ cert_expired = true }, { cert_self_signed = true }, { cert_name_mismatch = true }] }",
        &h
    ));
    h.cert_checks = None;
    h.certificates.clear();
    assert!(!hit("{ cert_expired = false }", &h), "no certificate: no check value");
    assert!(hit("{ cert_seen = false }", &h));
}

#[test]
fn outcome_alerts_and_combinators() {
    let mut h = record();
    h.outcome = Outcome::Alert;
    h.alerts.push(Alert { from: Side::Server, level: 2, description: 40 });
    assert!(hit(r#"{ outcome = "alert", alert = "handshake_failure" }"#, &h));
    assert!(hit(r#"{ alert = ["42", "40"] }"#, &h));
    assert!(!hit(r#"{ outcome = ["established", "reset"] }"#, &h));
    assert!(hit(r#"{ any = [{ ja3 = "nope" }, { alert = "handshake_failure" }] }"#, &h));
    assert!(!hit(r#"{ all = [{ ja3 = "nope" }, { alert = "handshake_failure" }] }"#, &h));
    assert!(hit(r#"{ not = { any = [{ ja3 = "nope" }, { sni = "nope" }] } }"#, &h));
    assert!(hit("{ resumed = false, hello_retry = false }", &h));
}

#[test]
fn error_messages_name_file_line_and_rule() {
    let e = errs("[[rule]]\nid = \"a\"\nmsg = \"m\"\nwhen = { sni = { regex = \"(\" } }\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].ends_with(
            "r.toml:4: rule a: bad regex: regex parse error:\n    (\n    ^\nerror: unclosed group"
        ),
        "{}",
        e[0]
    );
    let e = errs("[[rule]]\nid = \"a\"\nmsg = \"m\"\n\nwhen = { bogus = 1 }\n");
    assert!(e[0].contains("r.toml:5: unknown field `bogus`"), "{}", e[0]);
    let e = errs("[[rule]]\nid = \"a\"\nmsg = \"m\"\nwhen = { ja3 = { list = \"nope\" } }\n");
    assert!(e[0].contains(":4: rule a: no list named \"nope\""), "{}", e[0]);
    let e = errs(
        "[[rule]]\nid = \"a\"\nmsg = \"m\"\nwhen = { ja3 = \"x\" }\n[[rule]]\nid = \"a\"\nmsg = \"m\"\nwhen = { ja3 = \"y\" }\n",
    );
    assert!(e[0].contains(":6: rule a: duplicate rule id (first at"), "{}", e[0]);
    let e = errs("[[rule]]\nid = \"a b\"\nmsg = \"m\"\nwhen = { ja3 = \"x\" }\n");
    assert!(e[0].contains("rule a b: ' ' in a rule id"), "{}", e[0]);
    let e = errs(
        "[[rule]]\nid = \"a\"\nmsg = \"m\"\nseverity = \"urgent\"\nwhen = { cipher = \"TLS_NOPE\", version = \"TLS 9\" }\n",
    );
    assert_eq!(e.len(), 3, "{e:?}");
    let e = errs("[[rule]]\nid = \"a\"\nmsg = \"m\"\nwhen = { }\n");
    assert!(e[0].contains("empty condition"), "{}", e[0]);
    let e = errs(
        "[[rule]]\nid = \"a\"\nmsg = \"m\"\nsid = 5\nwhen = { ja3 = \"x\" }\n[[rule]]\nid = \"b\"\nmsg = \"m\"\nsid = 5\nwhen = { ja3 = \"y\" }\n",
    );
    assert!(e[0].contains("sid 5 is also rule a's"), "{}", e[0]);
    let e = errs("[[rule]]\nid = \"a\"\nmsg = \"m\"\nwhen = { sni = [] }\n");
    assert!(e[0].contains("matches nothing"), "{}", e[0]);
    let e = errs("[[rule]]\nid = \"a\"\nmsg = \"m\"\nwhen = { ja3 = { suffix = \"x\" } }\n");
    assert!(e[0].contains("DNS names"), "{}", e[0]);
    // The Display format without a line or rule.
    let plain = RuleError { file: "f.toml".into(), line: None, rule: None, message: "m".into() };
    assert_eq!(plain.to_string(), "f.toml: m");
}

#[test]
fn match_carries_metadata_and_index_covers_rules() {
    let s = set_from(
        "meta",
        r#"
[[rule]]
id = "x.one"
msg = "one"
severity = "high"
category = "threat-intel"
tags = ["a", "b"]
sid = 42
rev = 3
when = { ja3 = "6734f37431670b3ab4292b8f60f29984", server_port = 443 }

[[rule]]
id = "x.two"
msg = "two"
when = { sni = { suffix = "example.com" } }

[[rule]]
id = "x.off"
msg = "disabled"
enabled = false
when = { ja3 = "6734f37431670b3ab4292b8f60f29984" }
"#,
    )
    .unwrap();
    assert_eq!(s.summary().rules, 3);
    assert_eq!(s.summary().enabled, 2);
    assert_eq!(s.summary().indexed, 1);
    let m = s.matches(&record());
    assert_eq!(m.len(), 2);
    assert_eq!(&*m[0].id, "x.one");
    assert_eq!((m[0].sid, m[0].rev, m[0].severity, &*m[0].category), (42, 3, Severity::High, "threat-intel"));
    assert_eq!(&*m[0].tags, ["a", "b"]);
    assert_eq!(m[1].sid, derived_sid("x.two"));
    assert_eq!(m[1].severity, Severity::Medium);
    assert_eq!(s.rule_ids().collect::<Vec<_>>(), ["x.one", "x.two"]);
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rules")
}

#[test]
fn imported_lists_labels_and_suricata_through_a_rule_file() {
    let s = RuleSet::load(&[data_dir().join("imports.toml")]).unwrap_or_else(|e| panic!("{e:?}"));
    let sum = s.summary();
    assert_eq!(sum.label_rows, 4);
    assert!(sum.lists.iter().any(|(n, c)| n == "sslbl" && *c == 3), "{:?}", sum.lists);
    assert!(sum.suricata_rules >= 4, "{sum}");
    let h = record();
    let ids: Vec<String> = s.matches(&h).iter().map(|m| m.id.to_string()).collect();
    // Trickbot's JA3 is in the SSLBL sample, the plain list holds the record's JA4, the
    // Suricata file has a content rule and a dataset rule for that JA3.
    assert!(ids.contains(&"intel.sslbl".to_string()), "{ids:?}");
    assert!(ids.contains(&"intel.plain-ja4".to_string()), "{ids:?}");
    assert!(ids.contains(&"suricata:9000001".to_string()), "{ids:?}");
    assert!(ids.contains(&"suricata:9000003".to_string()), "{ids:?}");
    assert!(!ids.contains(&"suricata:9000002".to_string()), "JA3S rule for Emotet: {ids:?}");
    assert!(!ids.contains(&"intel.zeek".to_string()), "{ids:?}");
    let alert = s.matches(&h).into_iter().find(|m| &*m.id == "suricata:9000001").unwrap();
    assert_eq!(&*alert.msg, "HELLOTAP TEST Trickbot JA3");
    assert_eq!(&*alert.category, "trojan-activity");
    assert_eq!(alert.severity, Severity::High);

    let mut emotet = h.clone();
    emotet.fingerprints.ja3 =
        Some(Ja3 { string: String::new(), hash: "4d7a28d6f2263ed61de88ca66eb011e3".into() }.into());
    emotet.fingerprints.ja3s =
        Some(Ja3 { string: String::new(), hash: "80b3a14bccc8598a1f3bbe83e71f735f".into() });
    let ids: Vec<String> = s.matches(&emotet).iter().map(|m| m.id.to_string()).collect();
    assert!(ids.contains(&"intel.zeek".to_string()), "{ids:?}");
    assert!(ids.contains(&"suricata:9000002".to_string()), "{ids:?}");
    assert!(!ids.contains(&"suricata:9000004".to_string()), "negated content: {ids:?}");

    // Labels: the GoLang row alone; with JA4S on and Sliver's JA4S, Sliver too.
    let mut go = h.clone();
    go.fingerprints.ja4 = Some(
        Ja4 {
            ja4: "t13d190900_9dc949149365_97f8aa674fd9".into(),
            ja4_r: String::new(),
            ja4_o: String::new(),
            ja4_ro: String::new(),
        }
        .into(),
    );
    let l = s.labels(&go);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].library.as_deref(), Some("GoLang"));
    go.fingerprints.ja4s = Some(Ja4s { ja4s: "t130200_1301_a56c5b993250".into(), ja4s_r: String::new() });
    let l = s.labels(&go);
    assert_eq!(l.len(), 2);
    assert_eq!(l[1].application.as_deref(), Some("Sliver Agent"));
    assert!(s.labels(&h).is_empty());
    let mut x = h.clone();
    Arc::make_mut(&mut x.certificates[0]).ja4x =
        Some(("000000000000_4f24da86fad6_bf0f0589fc03".into(), String::new()));
    assert_eq!(s.labels(&x)[0].notes.as_deref(), Some("quoted, with a comma"));
}

#[test]
fn suricata_errors_name_keyword_file_and_line() {
    let d = tmpdir("suri-err");
    std::fs::write(d.join("bad.rules"), "# header\nalert tls any any -> any any (msg:\"x\"; ja3.hash; content:\"abc\"; sid:1;)\nalert tls any any -> any any (msg:\"y\"; ja3.hash; isdataat:1; sid:2;)\n").unwrap();
    std::fs::write(d.join("r.toml"), "[[suricata]]\npath = \"bad.rules\"\n").unwrap();
    let e = RuleSet::load(std::slice::from_ref(&d)).unwrap_err();
    assert_eq!(e.len(), 1);
    let s = e[0].to_string();
    assert!(s.ends_with("bad.rules:3: unsupported keyword `isdataat`"), "{s}");
    // A dataset whose file is missing names the rule.
    std::fs::write(d.join("bad.rules"), "alert tls any any -> any any (msg:\"x\"; ja3.hash; dataset:isset,s,type md5,load nope.lst; sid:7;)\n").unwrap();
    let e = RuleSet::load(&[d]).unwrap_err();
    assert!(e[0].to_string().contains("bad.rules:1: rule suricata:7: dataset \"s\""), "{}", e[0]);
}

#[test]
fn directories_and_missing_paths() {
    let d = tmpdir("dirs");
    assert!(RuleSet::load(std::slice::from_ref(&d)).unwrap_err()[0].message.contains("no *.toml"));
    std::fs::write(
        d.join("b.toml"),
        "[[rule]]\nid = \"b\"\nmsg = \"m\"\nwhen = { ja3 = { list = \"l\" } }\n",
    )
    .unwrap();
    std::fs::write(d.join("a.toml"), "[[list]]\nname = \"l\"\nformat = \"plain\"\npath = \"l.txt\"\n")
        .unwrap();
    std::fs::write(d.join("l.txt"), "6734f37431670b3ab4292b8f60f29984\n").unwrap();
    std::fs::write(d.join("notes.txt"), "not a rule file").unwrap();
    let s = RuleSet::load(std::slice::from_ref(&d)).unwrap();
    assert_eq!(s.summary().files, 2, "only *.toml");
    assert_eq!(s.matches(&record()).len(), 1, "a list declared in another file");
    let c = check(std::slice::from_ref(&d)).unwrap();
    assert_eq!(
        c.to_string(),
        "2 files, 1 rules (1 enabled, 0 indexed, 0 from Suricata), 1 lists (1 entries), 0 label rows"
    );
    let e = check(&[d.join("missing.toml")]).unwrap_err();
    assert!(e[0].to_string().starts_with(&d.join("missing.toml").display().to_string()));
    let e = RuleSet::load(&[d.join("l.txt")]).unwrap_err();
    assert!(!e.is_empty(), "a non-TOML file named directly is an error");
}

fn learn_cfg(toml_extra: &str) -> RuleSet {
    set_from(
        "learn",
        &format!(
            "[learn]\nenabled = true\nid = \"new.ja4\"\nmsg = \"new JA4\"\nwarmup = \"1h\"\n{toml_extra}"
        ),
    )
    .unwrap()
}

fn at(h: &Handshake, secs: i64, ja4: &str) -> Handshake {
    let mut h = h.clone();
    h.timestamp = Timestamp::from_nanos(secs * 1_000_000_000);
    std::sync::Arc::make_mut(h.fingerprints.ja4.as_mut().unwrap()).ja4 =
        format!("t13d1516h2_{ja4:0>12}_e5627efa2ab1");
    h
}

#[test]
fn learner_warms_up_on_packet_time_then_alerts_once() {
    let s = learn_cfg("");
    let mut l = s.learner().unwrap().unwrap();
    let h = record();
    assert_eq!(l.observe(&at(&h, 1000, "a")), None, "warm-up starts");
    assert_eq!(l.observe(&at(&h, 4599, "b")), None, "still warming up");
    assert_eq!(l.observe(&at(&h, 4600, "a")), None, "seen");
    let m = l.observe(&at(&h, 4600, "c")).expect("new after warm-up");
    assert_eq!(&*m.id, "new.ja4");
    assert_eq!(l.observe(&at(&h, 4700, "c")), None, "alerts once");
    assert_eq!(l.len(), 3);
    assert_eq!(l.started(), Some(1000));

    let d = tmpdir("learn-state");
    let p = d.join("seen.txt");
    l.save(&p).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(
        text.starts_with("# hellotap new-fingerprint state v1\nfield ja4\nstarted 1000\nt13d1516h2_00000000000a_e5627efa2ab1 1000\n"),
        "{text}"
    );
    let cfg = s.learn_config().unwrap().clone();
    let mut back = Learner::load(cfg.clone(), &p).unwrap();
    assert_eq!(back.len(), 3);
    assert_eq!(back.observe(&at(&h, 5000, "b")), None, "state survived");
    assert!(back.observe(&at(&h, 5000, "d")).is_some());
    assert_eq!(Learner::load(cfg.clone(), &d.join("none")).unwrap().len(), 0, "missing file: fresh");
    std::fs::write(&p, "field ja3\n").unwrap();
    assert!(Learner::load(cfg.clone(), &p).is_err(), "state for another field");
    std::fs::write(&p, "started x\n").unwrap();
    assert!(Learner::load(cfg, &p).unwrap_err().to_string().contains("line 1"));
}

#[test]
fn learner_bounds_filter_and_off_by_default() {
    let s = learn_cfg("max_entries = 2\nwhen = { transport = \"tcp\" }\n");
    let mut l = s.learner().unwrap().unwrap();
    let h = record();
    l.observe(&at(&h, 0, "a"));
    l.observe(&at(&h, 1, "b"));
    l.observe(&at(&h, 2, "c"));
    assert_eq!(l.len(), 2, "capped");
    assert!(l.observe(&at(&h, 10_000, "d")).is_some());
    assert!(l.observe(&at(&h, 10_001, "d")).is_some(), "not remembered when full");
    assert_eq!(l.overflow, 2);
    let mut q = at(&h, 10_002, "e");
    q.transport = Transport::Quic;
    assert_eq!(l.observe(&q), None, "outside `when`");
    let off = set_from("learn-off", "[learn]\nid = \"n\"\nmsg = \"m\"\nwarmup = 60\n").unwrap();
    assert!(off.learner().is_none());
    assert_eq!(off.summary().learner, Some(false));
}

#[test]
fn line_index_agrees_with_a_scan() {
    let text = "a\nbb\n\nccc\n";
    let lines = Lines::new(text);
    for off in 0..=text.len() + 3 {
        assert_eq!(lines.line(off), line_of(text, off), "offset {off}");
    }
}

#[test]
fn suricata_addresses_follow_the_buffer_direction() {
    let d = tmpdir("suri-dir");
    std::fs::write(
        d.join("dir.rules"),
        concat!(
            "alert tls 93.184.216.0/24 443 -> $HOME_NET any (msg:\"server side\"; ja3s.hash; content:\"623de93db17d313345d7ea481e7443cf\"; sid:1;)\n",
            "alert tls $HOME_NET any -> ![93.184.216.34, 192.0.2.1] any (msg:\"not those servers\"; ja3.hash; content:\"6734f37431670b3ab4292b8f60f29984\"; sid:2;)\n",
            "alert tls $HOME_NET [1024:, !51514] -> any 443 (msg:\"port list\"; ja3.hash; content:\"6734f374\"; startswith; sid:3;)\n",
            "alert quic any any <> any any (msg:\"quic only\"; ja4.hash; content:\"_8daaf6152771_\"; sid:4;)\n",
            "alert tls any any -> any any (msg:\"md5 set\"; ja3.hash; dataset:isnotset,md5s,type md5,load md5.lst; sid:5;)\n",
        ),
    )
    .unwrap();
    std::fs::write(d.join("md5.lst"), "00000000000000000000000000000000\n").unwrap();
    std::fs::write(
        d.join("r.toml"),
        "[[suricata]]\npath = \"dir.rules\"\nid_prefix = \"s-\"\nvars = { HOME_NET = \"10.0.0.0/8\" }\n",
    )
    .unwrap();
    let s = RuleSet::load(&[d]).unwrap_or_else(|e| panic!("{e:?}"));
    let h = record();
    let ids: Vec<String> = s.matches(&h).iter().map(|m| m.id.to_string()).collect();
    assert_eq!(ids, ["s-1", "s-5"], "JA3S rules read src as the server; ! and port lists exclude");
    let mut other = h.clone();
    other.server = ("198.51.100.9".parse().unwrap(), 443);
    other.client.1 = 40000;
    let ids: Vec<String> = s.matches(&other).iter().map(|m| m.id.to_string()).collect();
    assert_eq!(ids, ["s-2", "s-3", "s-5"]);
    let mut q = h.clone();
    q.transport = Transport::Quic;
    assert!(s.matches(&q).iter().any(|m| &*m.id == "s-4"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let n = 5000;
    let text = format!(
        "[[rule]]\nid = \"d\"\nmsg = \"m\"\nwhen = {}{{ ja3 = \"x\" }}{}\n",
        "{ not = ".repeat(n),
        " }".repeat(n)
    );
    let e = set_from("deep", &text).unwrap_err();
    assert!(!e.is_empty());
    // Deep `any` arrays too.
    let text = format!(
        "[[rule]]\nid = \"d\"\nmsg = \"m\"\nwhen = {}{{ ja3 = \"x\" }}{}\n",
        "{ any = [".repeat(100),
        "] }".repeat(100)
    );
    let e = set_from("deep2", &text).unwrap_err();
    assert!(!e.is_empty(), "{}", e[0]);
}

#[test]
fn moderate_nesting_compiles() {
    let n = raw::MAX_DEPTH;
    let text = format!(
        "[[rule]]\nid = \"d\"\nmsg = \"m\"\nwhen = {}{{ ja3 = \"x\" }}{}\n",
        "{ not = ".repeat(n),
        " }".repeat(n)
    );
    let s = set_from("nest", &text).unwrap_or_else(|e| panic!("{}", e[0]));
    assert_eq!(
        s.matches(&record()).len(),
        usize::from(n % 2 == 1),
        "ja3 = \"x\" is false; an odd number of nots makes it true"
    );
    let deeper = format!(
        "[[rule]]\nid = \"d\"\nmsg = \"m\"\nwhen = {}{{ ja3 = \"x\" }}{}\n",
        "{ not = ".repeat(n + 1),
        " }".repeat(n + 1)
    );
    let e = set_from("nest2", &deeper).unwrap_err();
    assert!(e[0].message.contains("nested deeper than 16"), "{}", e[0]);
    assert_eq!(e[0].line, Some(4));
}

#[test]
fn a_list_path_to_a_device_is_refused_not_read_forever() {
    let dir = std::env::temp_dir().join(format!("hellotap-rules-dev-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("r.toml");
    std::fs::write(
        &f,
        "[[list]]\nname = \"z\"\nformat = \"plain\"\npath = \"/dev/zero\"\n\n[[rule]]\nid = \"x\"\nmsg = \"x\"\nwhen = { ja3 = { list = \"z\" } }\n",
    )
    .unwrap();
    let errors = RuleSet::load(&[f]).expect_err("refused");
    assert!(errors.iter().any(|e| e.message.contains("not a regular file")), "{errors:?}");
}
