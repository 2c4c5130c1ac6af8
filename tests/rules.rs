//! The shipped rule packs and the rule engine end to end: loading `rules/`, the policy pack
//! over records built here, a replay of the project's captures with the shipped packs and
//! a test rule set against golden alerts, a 100k-fingerprint load, and (ignored) a
//! micro-benchmark of matching cost.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use hellotap::capture;
use hellotap::certcheck::CertChecks;
use hellotap::fingerprint::Transport;
use hellotap::fingerprint::ja3::Ja3;
use hellotap::fingerprint::ja4::Ja4;
use hellotap::pipeline::{Pipeline, PipelineConfig};
use hellotap::record::{Cert, Details, Fingerprints, Handshake, Outcome};
use hellotap::rules::{RuleSet, Severity};
use hellotap::time::Timestamp;
use hellotap::tls::hello::{ClientHello, ServerHello};
use hellotap::x509::CertInfo;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> RuleSet {
    RuleSet::load(&[root().join("rules")])
        .unwrap_or_else(|e| panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))
}

/// A TLS 1.2 handshake to a public address with a 2048-bit RSA leaf that passes every check.
fn record(cipher: u16) -> Handshake {
    let ch =
        ClientHello { version: 0x0303, sni: Some(b"www.example.com".to_vec()), ..ClientHello::default() };
    let sh = ServerHello { version: 0x0303, cipher, ..ServerHello::default() };
    let leaf = CertInfo { key_type: "RSA".into(), key_bits: Some(2048), ..CertInfo::default() };
    Handshake {
        flow_id: 7,
        timestamp: Timestamp::from_nanos(1_795_860_000_000_000_000),
        transport: Transport::Tcp,
        client: ("10.0.0.5".parse().unwrap(), 50000),
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
            ja3: Some(Ja3 { string: String::new(), hash: "0".repeat(32) }.into()),
            ja3s: None,
            ja4: Some(
                Ja4 {
                    ja4: "t12d190800_d83cc789557e_7af1ed941c26".into(),
                    ja4_r: String::new(),
                    ja4_o: String::new(),
                    ja4_ro: String::new(),
                }
                .into(),
            ),
            ja4s: None,
        },
        details: Details::default(),
        certificates: vec![std::sync::Arc::new(Cert { info: Ok(leaf), ja4x: None })],
        client_certificates: vec![],
        cert_checks: Some(CertChecks::default()),
        rendered: Vec::new(),
    }
}

fn ids(s: &RuleSet, h: &Handshake) -> Vec<String> {
    s.matches(h).iter().map(|m| m.id.to_string()).collect()
}

#[test]
fn shipped_packs_load() {
    let s = shipped();
    let sum = s.summary();
    println!("rules/: {sum}");
    assert_eq!(sum.files, 3);
    assert_eq!(sum.enabled, 16);
    assert_eq!(sum.learner, Some(false), "the learner ships off");
    assert!(s.learner().is_none());
    assert_eq!(hellotap::rules::check(&[root().join("rules")]).unwrap(), *sum);
}

#[test]
fn policy_pack_over_built_records() {
    let s = shipped();
    assert!(ids(&s, &record(0xc02f)).is_empty(), "a clean TLS 1.2 ECDHE-GCM handshake");
    let cases: [(u16, &str); 7] = [
        (0x0005, "policy.cipher-rc4"),      // TLS_RSA_WITH_RC4_128_SHA
        (0x0003, "policy.cipher-export"),   // TLS_RSA_EXPORT_WITH_RC4_40_MD5 (also RC4)
        (0x0002, "policy.cipher-null"),     // TLS_RSA_WITH_NULL_SHA
        (0xc0b4, "policy.cipher-null"),     // TLS_SHA256_SHA256
        (0x000a, "policy.cipher-3des"),     // TLS_RSA_WITH_3DES_EDE_CBC_SHA
        (0x002f, "policy.cipher-cbc-sha1"), // TLS_RSA_WITH_AES_128_CBC_SHA
        (0xc013, "policy.cipher-cbc-sha1"), // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    ];
    for (c, id) in cases {
        let got = ids(&s, &record(c));
        assert!(got.contains(&id.to_string()), "0x{c:04x}: {got:?}");
    }
    assert_eq!(ids(&s, &record(0x000a)), ["policy.cipher-3des"], "3DES is not also reported as CBC-SHA1");
    assert!(ids(&s, &record(0xc027)).is_empty(), "CBC with SHA-256 is not flagged");

    let mut h = record(0xc02f);
    h.server_hello.as_mut().unwrap().version = 0x0301;
    assert_eq!(ids(&s, &h), ["policy.legacy-version"]);
    h.server_hello.as_mut().unwrap().version = 0x0300;
    assert_eq!(ids(&s, &h), ["policy.legacy-version"]);

    let mut h = record(0xc02f);
    let c = h.cert_checks.as_mut().unwrap();
    c.expired = true;
    c.self_signed = true;
    c.name_mismatch = true;
    let got = ids(&s, &h);
    assert_eq!(got, ["policy.cert-expired", "policy.cert-self-signed", "policy.cert-name-mismatch"]);

    let mut h = record(0xc02f);
    if let Ok(i) = std::sync::Arc::make_mut(&mut h.certificates[0]).info.as_mut() {
        i.key_bits = Some(1024);
    }
    assert_eq!(ids(&s, &h), ["policy.cert-rsa-weak"]);

    let mut h = record(0xc02f);
    h.client_hello.as_mut().unwrap().sni = None;
    assert_eq!(ids(&s, &h), ["policy.no-sni-public"]);
    h.server.0 = "192.168.1.1".parse().unwrap();
    assert!(ids(&s, &h).is_empty(), "a private address");
}

#[test]
fn threat_intel_examples() {
    let s = shipped();
    let mut h = record(0xc02f);
    h.fingerprints.ja3 =
        Some(Ja3 { string: String::new(), hash: "6734f37431670b3ab4292b8f60f29984".into() }.into());
    assert!(ids(&s, &h).is_empty(), "Trickbot's JA3 alone is not enough");
    h.fingerprints.ja3s =
        Some(Ja3 { string: String::new(), hash: "623de93db17d313345d7ea481e7443cf".into() });
    let m = s.matches(&h);
    assert_eq!(m.len(), 1);
    assert_eq!(&*m[0].id, "intel.trickbot-ja3-ja3s");
    assert_eq!(m[0].severity, Severity::High);
    assert!(m[0].tags.iter().any(|t| t == "source:salesforce-ja3-readme"));
    Arc::make_mut(h.fingerprints.ja4.as_mut().unwrap()).ja4 = "t12d210800_76e208dd3e22_16bbda4055b2".into();
    assert_eq!(ids(&s, &h), ["intel.trickbot-ja3-ja3s", "intel.cobaltstrike-4.9.1-ja4"]);
}

/// Every record of a capture, through the library's pipeline.
fn records(path: &Path) -> Vec<Handshake> {
    let mut out = Vec::new();
    let mut emit = |h: &mut Handshake| out.push(h.clone());
    let mut pipe = Pipeline::new(PipelineConfig::default());
    let name = path.file_name().unwrap().to_string_lossy().to_string();
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
    out.sort_by_key(|h| (h.timestamp, h.flow_id));
    out
}

#[test]
fn replay_of_project_captures_gives_golden_alerts() {
    let set = RuleSet::load(&[root().join("rules"), root().join("tests/data/rules/e2e.toml")]).unwrap();
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(root().join("pcaps"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 15);
    let mut got = String::new();
    for p in &pcaps {
        for h in records(p) {
            let ids: Vec<String> = set.matches(&h).iter().map(|m| m.id.to_string()).collect();
            if !ids.is_empty() {
                got.push_str(&format!(
                    "{} {} {}\n",
                    p.file_name().unwrap().to_string_lossy(),
                    h.flow_id,
                    ids.join(",")
                ));
            }
        }
    }
    let golden = root().join("tests/data/rules/e2e.golden");
    if std::env::var_os("HELLOTAP_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(got, want, "alerts changed; review and rerun with HELLOTAP_BLESS=1");
}

fn write_big_inputs(dir: &Path, n: usize) {
    use std::fmt::Write;
    let mut csv = String::from("# ja3_md5,Firstseen,Lastseen,Listingreason\n");
    let mut rules = String::new();
    for i in 0..n {
        let h = format!("{:032x}", (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
        let _ = writeln!(csv, "{h},2020-01-01 00:00:00,2020-01-02 00:00:00,Test{i}");
        let _ = writeln!(rules, "[[rule]]\nid = \"big.{i}\"\nmsg = \"big {i}\"\nwhen = {{ ja3 = \"{h}\" }}");
    }
    std::fs::write(dir.join("big.csv"), csv).unwrap();
    std::fs::write(
        dir.join("list.toml"),
        "[[list]]\nname = \"big\"\nformat = \"sslbl-ja3\"\npath = \"big.csv\"\n\n[[rule]]\nid = \"big-list\"\nmsg = \"in the big list\"\nwhen = { ja3 = { list = \"big\" } }\n",
    )
    .unwrap();
    std::fs::write(dir.join("rules.toml.txt"), rules).unwrap();
}

fn big_hash(i: usize) -> String {
    format!("{:032x}", (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hellotap-rules-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_hundred_thousand_fingerprints_load() {
    let d = tmp("100k");
    write_big_inputs(&d, 100_000);
    let t = Instant::now();
    let list = RuleSet::load(&[d.join("list.toml")]).unwrap();
    println!("100k-entry SSLBL list + 1 rule: loaded in {:?}", t.elapsed());
    std::fs::rename(d.join("rules.toml.txt"), d.join("rules.toml")).unwrap();
    let t = Instant::now();
    let rules = RuleSet::load(&[d.join("rules.toml")]).unwrap();
    println!("100k one-fingerprint rules: loaded in {:?}", t.elapsed());
    assert_eq!(rules.len(), 100_000);
    assert_eq!(rules.summary().indexed, 100_000);
    let mut h = record(0xc02f);
    Arc::make_mut(h.fingerprints.ja3.as_mut().unwrap()).hash = big_hash(77_777);
    assert_eq!(ids(&list, &h), ["big-list"]);
    assert_eq!(ids(&rules, &h), ["big.77777"]);
}

fn ns_per_match(set: &RuleSet, h: &Handshake) -> f64 {
    let iters = 200_000u32;
    let mut hits = 0usize;
    let t = Instant::now();
    for _ in 0..iters {
        hits += std::hint::black_box(set.matches(std::hint::black_box(h))).len();
    }
    std::hint::black_box(hits);
    t.elapsed().as_nanos() as f64 / f64::from(iters)
}

/// Matching cost with 10 and 100k rules (run: `cargo test --release --test rules -- --ignored --nocapture`).
#[test]
#[ignore]
fn bench_matching_cost() {
    let d = tmp("bench");
    write_big_inputs(&d, 100_000);
    let small = tmp("bench-small");
    let mut ten = String::new();
    for i in 0..10 {
        ten.push_str(&format!(
            "[[rule]]\nid = \"t.{i}\"\nmsg = \"m\"\nwhen = {{ ja3 = \"{}\" }}\n",
            big_hash(i)
        ));
    }
    std::fs::write(small.join("ten.toml"), ten).unwrap();
    std::fs::rename(d.join("rules.toml.txt"), d.join("rules.toml")).unwrap();
    let sets = [
        ("10 ja3 rules", RuleSet::load(&[small.join("ten.toml")]).unwrap()),
        ("100k ja3 rules", RuleSet::load(&[d.join("rules.toml")]).unwrap()),
        ("1 rule over a 100k list", RuleSet::load(&[d.join("list.toml")]).unwrap()),
        ("shipped packs (16 rules)", shipped()),
        (
            "shipped packs + 100k ja3 rules",
            RuleSet::load(&[root().join("rules"), d.join("rules.toml")]).unwrap(),
        ),
    ];
    let miss = record(0xc02f);
    let mut hit = record(0xc02f);
    Arc::make_mut(hit.fingerprints.ja3.as_mut().unwrap()).hash = big_hash(7);
    for (name, set) in &sets {
        println!(
            "{name:34} miss {:7.1} ns/match   hit {:7.1} ns/match",
            ns_per_match(set, &miss),
            ns_per_match(set, &hit)
        );
    }
}
