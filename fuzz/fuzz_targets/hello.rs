//! ClientHello / SSLv2 ClientHello / ServerHello parsing and the fingerprints of what
//! parses (JA3, JA3S, JA4, JA4S).
//!
//! Input: `[mode, body...]`; `mode & 3` picks the JA4 transport (TCP, QUIC, DTLS; the
//! DTLS one also parses the ClientHello as DTLS). All three parsers see every body.
#![no_main]

use hellotap::fingerprint::{Transport, ja3, ja4};
use hellotap::tls::hello;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, body @ ..] = data else { return };
    let transport = match mode & 3 {
        0 | 3 => Transport::Tcp,
        1 => Transport::Quic,
        _ => Transport::Dtls,
    };
    let dtls = transport == Transport::Dtls;
    if let Ok(ch) = hello::parse_client_hello(body, dtls) {
        let j = ja3::ja3(&ch);
        assert_eq!(j.hash.len(), 32);
        let _ = ja4::ja4(&ch, transport);
        let _ = ch.has_extension(0);
    }
    if let Ok(ch) = hello::parse_sslv2_client_hello(body) {
        let _ = ja3::ja3(&ch);
        let _ = ja4::ja4(&ch, transport);
    }
    if let Ok(sh) = hello::parse_server_hello(body) {
        let _ = sh.negotiated_version();
        let _ = ja3::ja3s(&sh);
        let _ = ja4::ja4s(&sh, transport);
    }
});
