//! Helpers shared by the fuzz targets and the seed generator: the input formats that
//! carry several datagrams or segments in one fuzz input, and a consumer that pushes
//! whatever a record layer emits through the hello, fingerprint and certificate parsers.

use hellotap::fingerprint::{Transport, ja3, ja4};
use hellotap::tls::hello;
use hellotap::tls::stream::TlsItem;

/// The link types `decode` knows, picked by the first byte of a `decode` input.
pub const LINKTYPES: [u32; 12] = [1, 0, 9, 12, 14, 50, 101, 108, 113, 228, 229, 276];

/// Index into [`LINKTYPES`] of a link type (for seeds).
pub fn linktype_index(lt: u32) -> Option<u8> {
    LINKTYPES.iter().position(|&l| l == lt).map(|i| i as u8)
}

/// One datagram of a multi-datagram input: a 2-byte big-endian header whose top two bits
/// are `dir` (0 none, 1 client, 2 server, 3 server) and whose low 14 bits are the length,
/// then the bytes. A length past the end takes what is left.
pub struct Datagram<'a> {
    /// Direction bits (0..=3).
    pub dir: u8,
    /// The payload.
    pub data: &'a [u8],
}

/// Splits an input into [`Datagram`]s (at most `max` of them).
pub fn datagrams(mut data: &[u8], max: usize) -> Vec<Datagram<'_>> {
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < max {
        let h = u16::from_be_bytes([data[0], data[1]]);
        let len = usize::from(h & 0x3fff).min(data.len() - 2);
        out.push(Datagram { dir: (h >> 14) as u8, data: &data[2..2 + len] });
        data = &data[2 + len..];
    }
    out
}

/// Encodes one datagram in the format [`datagrams`] reads (for seeds). Payloads over
/// 16383 bytes are cut.
pub fn push_datagram(out: &mut Vec<u8>, dir: u8, payload: &[u8]) {
    let payload = &payload[..payload.len().min(0x3fff)];
    let h = (u16::from(dir & 3) << 14) | payload.len() as u16;
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Parses a handshake message the way the sensor would and fingerprints what parses.
/// Panics only where hellotap panics.
pub fn consume_handshake(msg_type: u8, body: &[u8], transport: Transport) {
    let dtls = transport == Transport::Dtls;
    match msg_type {
        1 => {
            if let Ok(ch) = hello::parse_client_hello(body, dtls) {
                let j = ja3::ja3(&ch);
                assert_eq!(j.hash.len(), 32);
                let _ = ja4::ja4(&ch, transport);
            }
        }
        2 => {
            if let Ok(sh) = hello::parse_server_hello(body) {
                let _ = sh.negotiated_version();
                let _ = ja3::ja3s(&sh);
                let _ = ja4::ja4s(&sh, transport);
            }
        }
        11 => {
            // TLS 1.2 and 1.3 bodies differ (a request context first in 1.3): try both.
            for tls13 in [false, true] {
                if let Ok(list) = hellotap::x509::certificate_list(body, tls13) {
                    for der in list.certs.iter().take(4) {
                        let _ = hellotap::x509::parse_certificate(der);
                        let _ = hellotap::x509::ja4x(der);
                    }
                }
            }
        }
        _ => {}
    }
}

/// [`consume_handshake`] for a record-layer item.
pub fn consume_item(item: TlsItem<'_>, transport: Transport) {
    match item {
        TlsItem::Handshake { msg_type, body } => consume_handshake(msg_type, body, transport),
        TlsItem::Sslv2ClientHello(msg) => {
            if let Ok(ch) = hello::parse_sslv2_client_hello(msg) {
                let _ = ja3::ja3(&ch);
                let _ = ja4::ja4(&ch, transport);
            }
        }
        _ => {}
    }
}

/// After a QUIC target's datagrams: the connection's accessors, the CRYPTO caps, and both
/// CRYPTO streams through the handshake-message layer and the hello parsers.
pub fn finish_quic(conn: &hellotap::quic::QuicConn, limits: &hellotap::quic::QuicLimits) {
    use hellotap::tls::stream::{DirLimits, DirParser};
    let _ = (conn.version(), conn.client_dcid(), conn.stats());
    for client in [true, false] {
        let crypto = conn.crypto(client);
        assert!(crypto.len() <= limits.max_crypto_bytes);
        let mut p = DirParser::new(DirLimits::default());
        p.feed_messages(crypto, &mut |item| consume_item(item, Transport::Quic));
    }
}
