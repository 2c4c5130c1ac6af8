//! Handshake facts in events against the public corpora (skipped when `../shared/pcaps`
//! is absent): suricata-verify's certificate fields in EVE format and resumption, and
//! Zeek's ssl.log (version, cipher, curve, SNI, resumed, certificate chain SHA-256s).
//! Agreement is printed as N/M per field; every disagreement must be a listed, explained
//! case (and every listed case must still occur).

mod common;

use common::{Events, Tally, field, read_jsonl, shared_pcaps};
use serde_json::Value;

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn suricata_verify_certificate_fields_and_resumption() {
    let Some(root) = shared_pcaps() else {
        eprintln!("skipping: ../shared/pcaps is absent");
        return;
    };
    let rows = read_jsonl(&root.join("suricata-verify/expected.jsonl"));
    let mut ev = Events::new(root.clone(), false);
    let fields = [
        ("cert_subject", "tls.subject"),
        ("cert_issuer", "tls.issuerdn"),
        ("cert_serial", "tls.serial"),
        ("cert_fingerprint_sha1", "tls.fingerprint"),
        ("cert_not_before", "tls.notbefore"),
        ("cert_not_after", "tls.notafter"),
        ("cert_subject_contains", "tls.subject"),
        ("cert_issuer_contains", "tls.issuerdn"),
    ];
    let mut tallies: Vec<Tally> =
        fields.iter().map(|(k, _)| Tally::new(leak(format!("suricata-verify {k}")))).collect();
    let mut resumed = Tally::new("suricata-verify session_resumed");
    for r in rows.iter().filter(|r| r["event_type"] == "tls") {
        let pcap = r["pcap"].as_str().unwrap();
        let Some(events) = ev.get(pcap) else { continue };
        for ((key, path), t) in fields.iter().zip(tallies.iter_mut()) {
            let Some(want) = r[*key].as_str() else { continue };
            let contains = key.ends_with("_contains");
            let hit = events
                .iter()
                .filter_map(|e| field(e, path))
                .any(|g| if contains { g.contains(want) } else { g == want });
            let any = events.iter().find_map(|e| field(e, path));
            t.check(format!("{pcap} {key}"), want, if hit { Some(want) } else { any });
        }
        if let Some(want) = r["session_resumed"].as_bool() {
            // A row holds for `count` events; check that enough events carry the value.
            let n = r["count"].as_u64().unwrap_or(1) as usize;
            let have = events.iter().filter(|e| e["tls"]["resumed"].as_bool() == Some(want)).count();
            let want_s = format!("{n} events with resumed={want}");
            let got = format!("{have} events with resumed={want}");
            resumed.check(
                format!("{pcap} session_resumed"),
                &want_s,
                Some(if have >= n { &want_s } else { &got }),
            );
        }
    }
    for t in tallies {
        t.finish(&[]);
    }
    resumed.finish(&[]);
}

/// Zeek's version spelling to Suricata's, which the events use.
fn zeek_version(v: &str) -> Option<&'static str> {
    Some(match v {
        "SSLv3" => "SSLv3",
        "TLSv10" => "TLSv1",
        "TLSv11" => "TLS 1.1",
        "TLSv12" => "TLS 1.2",
        "TLSv13" => "TLS 1.3",
        _ => return None,
    })
}

#[test]
fn zeek_ssl_log_facts() {
    let Some(root) = shared_pcaps() else {
        eprintln!("skipping: ../shared/pcaps is absent");
        return;
    };
    let rows = read_jsonl(&root.join("zeek/expected.jsonl"));
    let mut ev = Events::new(root.clone(), false);
    let mut version = Tally::new("zeek ssl.log version");
    let mut cipher = Tally::new("zeek ssl.log cipher");
    let mut curve = Tally::new("zeek ssl.log curve");
    let mut sni = Tally::new("zeek ssl.log server_name");
    let mut resumed = Tally::new("zeek ssl.log resumed");
    let mut chain = Tally::new("zeek ssl.log cert_chain_fps");
    let mut found = Tally::new("zeek ssl.log connection found");
    for r in rows.iter().filter(|r| r["record_type"] == "zeek_ssl") {
        let (Some(sip), Some(dip)) = (r["src_ip"].as_str(), r["dst_ip"].as_str()) else { continue };
        let (sp, dp) = (r["src_port"].as_u64().unwrap_or(0), r["dst_port"].as_u64().unwrap_or(0));
        let Some(zv) = r["version"].as_str().and_then(zeek_version) else { continue };
        let pcap = r["pcap"].as_str().unwrap();
        let Some(events) = ev.get(pcap) else { continue };
        let key = format!("{pcap} {sip}:{sp}->{dip}:{dp}");
        let e = events.iter().find(|e| {
            field(e, "src_ip") == Some(sip)
                && e["src_port"].as_u64() == Some(sp)
                && field(e, "dest_ip") == Some(dip)
                && e["dest_port"].as_u64() == Some(dp)
        });
        found.check(key.clone(), "event", e.map(|_| "event"));
        let Some(e) = e else { continue };
        version.check(key.clone(), zv, field(e, "tls.version"));
        if let Some(c) = r["cipher"].as_str() {
            cipher.check(key.clone(), c, field(e, "tls.cipher_suite"));
        }
        if let Some(c) = r["curve"].as_str() {
            curve.check(key.clone(), c, field(e, "tls.group"));
        }
        if let Some(s) = r["sni"].as_str() {
            sni.check(key.clone(), s, field(e, "tls.sni"));
        }
        if let Some(res) = r["resumed"].as_str() {
            let want = if res == "T" { "true" } else { "false" };
            let got = e["tls"]["resumed"].as_bool().map(|b| if b { "true" } else { "false" });
            resumed.check(key.clone(), want, got);
        }
        if let Some(fps) = r["cert_chain_fps"].as_array() {
            if !fps.is_empty() {
                let want: Vec<&str> = fps.iter().filter_map(Value::as_str).collect();
                let got: Vec<&str> = e["tls"]["certificates"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| c["sha256"].as_str()).collect())
                    .unwrap_or_default();
                let (w, g) = (want.join(","), got.join(","));
                chain.check(key.clone(), &w, Some(&g));
            }
        }
    }
    found.finish(&[(
        "zeek/Traces/globus-url-copy.pcap 192.168.57.103:60108->192.168.57.101:2811",
        "GridFTP's control channel carries its TLS records base64-encoded inside FTP ADAT \
         commands (RFC 2228); Zeek's FTP analyzer decodes them, but there is no TLS record on \
         the wire to find",
    )]);
    let mut failed = Vec::new();
    for (t, known) in [
        (version, &[][..]),
        (cipher, &[][..]),
        (curve, &[][..]),
        (sni, &[][..]),
        (resumed, &[][..]),
        (
            chain,
            &[(
                "zeek/Traces/tls/tls-fragmented-handshake.pcap",
                "its Certificate message is 340 KB; hellotap reassembles handshake messages up to \
                 64 KiB (the cap bounds memory per flow) and skips longer ones, reading the \
                 messages after them (the curve, from the ServerKeyExchange, is still found)",
            )][..],
        ),
    ] {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.finish(known))) {
            failed.push(e);
        }
    }
    assert!(failed.is_empty(), "{} tallies failed", failed.len());
}
