//! Certificate handshake messages and X.509 certificates: `certificate_list`,
//! `parse_certificate`, `ja4x`, and the chain checks of `certcheck::check`.
//!
//! Input: `[mode, body...]`. `mode & 1`: the body is a TLS 1.3 Certificate message (with
//! a request context). `mode & 2`: the body is one bare DER certificate instead of a
//! Certificate message. The next bits pick the SNI and "now" given to the checks.
#![no_main]

use hellotap::x509::{self, CertInfo};
use libfuzzer_sys::fuzz_target;

const SNIS: [Option<&str>; 4] = [None, Some("example.com"), Some("a.b.example.org"), Some("*.")];

fuzz_target!(|data: &[u8]| {
    let [mode, body @ ..] = data else { return };
    let tls13 = mode & 1 != 0;
    let ders: Vec<&[u8]> = if mode & 2 != 0 {
        vec![body]
    } else {
        match x509::certificate_list(body, tls13) {
            Ok(list) => {
                assert!(list.certs.len() <= x509::MAX_CERTIFICATES);
                list.certs
            }
            Err(_) => return,
        }
    };
    let mut infos: Vec<CertInfo> = Vec::new();
    for der in ders {
        if let Ok(info) = x509::parse_certificate(der) {
            infos.push(info);
        }
        let _ = x509::ja4x(der);
    }
    let sni = SNIS[usize::from(mode >> 2) & 3];
    let now = match mode >> 4 & 3 {
        0 => 1_700_000_000,
        1 => 0,
        2 => i64::MAX,
        _ => i64::MIN,
    };
    let chain: Vec<&CertInfo> = infos.iter().collect();
    let checks = hellotap::certcheck::check(&chain, now, sni);
    let _ = checks.all();
    if let Some(s) = sni {
        for info in &infos {
            for name in &info.san {
                let _ = hellotap::certcheck::name_matches(name, s);
            }
        }
    }
});
