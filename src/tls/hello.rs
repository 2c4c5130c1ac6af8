//! ClientHello and ServerHello bodies: bytes in, facts out.
//!
//! Values are kept as raw numbers in wire order, GREASE included: fingerprints depend on
//! exactly what was sent, and names are only a display lookup (`tls::names`). Parsing is
//! strict about the fixed fields (version, random, session id, cipher list) and lax inside
//! individual extensions: an extension whose inner structure is malformed still counts in
//! the extension list (it was on the wire) and is noted in `anomalies`.

use super::reader::{ParseError, Reader};

/// Extension type code points used here.
pub mod ext {
    /// server_name (RFC 6066).
    pub const SERVER_NAME: u16 = 0;
    /// status_request (OCSP stapling, RFC 6066).
    pub const STATUS_REQUEST: u16 = 5;
    /// supported_groups (RFC 8422 / 8446).
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// ec_point_formats (RFC 8422).
    pub const EC_POINT_FORMATS: u16 = 11;
    /// signature_algorithms (RFC 8446).
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: u16 = 16;
    /// signed_certificate_timestamp (RFC 6962).
    pub const SCT: u16 = 18;
    /// encrypt_then_mac (RFC 7366).
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    /// extended_master_secret (RFC 7627).
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    /// session_ticket (RFC 5077).
    pub const SESSION_TICKET: u16 = 35;
    /// pre_shared_key (RFC 8446).
    pub const PRE_SHARED_KEY: u16 = 41;
    /// early_data (RFC 8446).
    pub const EARLY_DATA: u16 = 42;
    /// supported_versions (RFC 8446).
    pub const SUPPORTED_VERSIONS: u16 = 43;
    /// psk_key_exchange_modes (RFC 8446).
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
    /// key_share (RFC 8446).
    pub const KEY_SHARE: u16 = 51;
    /// renegotiation_info (RFC 5746).
    pub const RENEGOTIATION_INFO: u16 = 0xff01;
}

/// The ServerHello.random value that marks a HelloRetryRequest (RFC 8446 §4.1.3):
/// SHA-256 of "HelloRetryRequest".
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2,
    0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Cap on values kept from any one list (ciphers, extensions, groups, ...). A message
/// can hold at most ~32k two-byte values anyway; this keeps a hostile one from costing more.
pub const MAX_LIST_VALUES: usize = 4096;

/// What a ClientHello offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// legacy_version (the JA3 version field).
    pub version: u16,
    /// True when this came in an SSLv2-compatible record (RFC 5246 appendix E.2).
    pub sslv2: bool,
    /// Length of the legacy session id (non-zero: resumption attempted or TLS 1.3 compat).
    pub session_id_len: u8,
    /// The legacy session id (at most 32 bytes in valid TLS; kept up to 255).
    pub session_id: Vec<u8>,
    /// Cipher suites in wire order (GREASE included).
    pub ciphers: Vec<u16>,
    /// Compression methods in wire order.
    pub compression: Vec<u8>,
    /// Extension types in wire order (GREASE included).
    pub extensions: Vec<u16>,
    /// First host_name in server_name, raw bytes.
    pub sni: Option<Vec<u8>>,
    /// ALPN protocol names in wire order, raw bytes.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions in wire order.
    pub supported_versions: Vec<u16>,
    /// supported_groups in wire order.
    pub groups: Vec<u16>,
    /// ec_point_formats in wire order.
    pub point_formats: Vec<u8>,
    /// signature_algorithms in wire order; `None` when the extension is absent.
    pub sig_algs: Option<Vec<u16>>,
    /// Groups of the key shares sent, in wire order.
    pub key_share_groups: Vec<u16>,
    /// Offered PSK identities (pre_shared_key): how many.
    pub psk_identities: u16,
    /// psk_key_exchange_modes values.
    pub psk_modes: Vec<u8>,
    /// A non-empty session_ticket extension (a ticket offered for resumption).
    pub ticket_offered: bool,
    /// Problems inside individual extensions, as (extension type, what).
    pub anomalies: Vec<(u16, &'static str)>,
}

impl ClientHello {
    /// True when `ext` was offered.
    pub fn has_extension(&self, ext: u16) -> bool {
        self.extensions.contains(&ext)
    }
}

/// What a ServerHello (or HelloRetryRequest) chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// legacy_version (the JA3S version field).
    pub version: u16,
    /// True when the random marks a HelloRetryRequest.
    pub hello_retry: bool,
    /// Length of the echoed session id.
    pub session_id_len: u8,
    /// The session id itself (for TLS 1.2 resumption by session-id echo).
    pub session_id: Vec<u8>,
    /// Selected cipher suite.
    pub cipher: u16,
    /// Selected compression method.
    pub compression: u8,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// supported_versions' selected version, if the extension was sent.
    pub selected_version: Option<u16>,
    /// Selected ALPN protocol, raw bytes.
    pub alpn: Option<Vec<u8>>,
    /// The key_share group (selected, or requested in a HelloRetryRequest).
    pub key_share_group: Option<u16>,
    /// pre_shared_key accepted (TLS 1.3 resumption).
    pub psk_selected: bool,
    /// Problems inside individual extensions, as (extension type, what).
    pub anomalies: Vec<(u16, &'static str)>,
}

impl ServerHello {
    /// The negotiated protocol version: supported_versions if present, else legacy_version.
    pub fn negotiated_version(&self) -> u16 {
        self.selected_version.unwrap_or(self.version)
    }
}

/// Values `v` may still take under [`MAX_LIST_VALUES`].
fn room<T>(v: &[T]) -> usize {
    MAX_LIST_VALUES.saturating_sub(v.len())
}

fn push_capped<T>(v: &mut Vec<T>, x: T) {
    if room(v) > 0 {
        v.push(x);
    }
}

/// Room for `n` more values in `v`, within the cap: one allocation for a list whose size
/// the wire gives, instead of growing by doubling (four reallocations for a browser's
/// 16-suite list).
fn reserve_capped<T>(v: &mut Vec<T>, n: usize) {
    v.reserve(n.min(room(v)));
}

/// Extensions a block of `bytes` can hold that are worth allocating for at once: each
/// takes at least 4 bytes; past 64 the list grows as usual (a padded hello's block is
/// mostly one big extension).
fn extension_room(bytes: usize) -> usize {
    (bytes / 4).min(64)
}

/// The big-endian u16 values filling `r`, appended to `out` (within the cap) in one
/// pass; an odd trailing byte is an error at its offset (after the values before it).
fn u16s(mut r: Reader<'_>, out: &mut Vec<u16>, what: &'static str) -> Result<(), ParseError> {
    let b = r.rest();
    let room = room(out);
    out.extend(b.chunks_exact(2).take(room).map(|p| u16::from_be_bytes([p[0], p[1]])));
    if b.len() % 2 == 0 { Ok(()) } else { Err(ParseError { what, offset: r.offset() - 1 }) }
}

/// Parses a ClientHello body (after the 4-byte handshake header). `dtls` adds the cookie.
pub fn parse_client_hello(body: &[u8], dtls: bool) -> Result<ClientHello, ParseError> {
    let mut r = Reader::new(body);
    let mut ch = ClientHello { version: r.u16("client_version")?, ..Default::default() };
    r.bytes(32, "random")?;
    let mut sid = r.vec8("session_id")?;
    ch.session_id_len = sid.remaining() as u8;
    ch.session_id = sid.rest().to_vec();
    if dtls {
        r.vec8("cookie")?;
    }
    let ciphers = r.vec16("cipher_suites")?;
    u16s(ciphers, &mut ch.ciphers, "cipher_suites")?;
    let mut comp = r.vec8("compression_methods")?;
    ch.compression = comp.rest().to_vec();
    if r.is_empty() {
        return Ok(ch);
    }
    let exts = r.vec16("extensions")?;
    reserve_capped(&mut ch.extensions, extension_room(exts.remaining()));
    parse_extensions(exts, |typ, data| {
        push_capped(&mut ch.extensions, typ);
        if let Err(e) = client_extension(&mut ch, typ, data) {
            ch.anomalies.push((typ, e.what));
        }
    })?;
    Ok(ch)
}

/// Walks an extension block, calling `f(type, data)` for each whole extension. An
/// extension header or body that runs past the block is an error (what was walked so far
/// has already been given to `f`).
fn parse_extensions<'a>(mut r: Reader<'a>, mut f: impl FnMut(u16, Reader<'a>)) -> Result<(), ParseError> {
    while !r.is_empty() {
        let typ = r.u16("extension type")?;
        let data = r.vec16("extension data")?;
        f(typ, data);
    }
    Ok(())
}

fn client_extension(ch: &mut ClientHello, typ: u16, mut d: Reader<'_>) -> Result<(), ParseError> {
    match typ {
        ext::SERVER_NAME => {
            // An empty server_name extension is legal in a ServerHello only, but clients
            // send odd things; only a host_name entry sets the SNI.
            if d.is_empty() {
                return Ok(());
            }
            let mut list = d.vec16("server_name list")?;
            while !list.is_empty() {
                let kind = list.u8("server_name type")?;
                let mut name = list.vec16("server_name")?;
                if kind == 0 && ch.sni.is_none() {
                    ch.sni = Some(name.rest().to_vec());
                }
            }
        }
        ext::ALPN => {
            let mut list = d.vec16("alpn list")?;
            while !list.is_empty() {
                let mut p = list.vec8("alpn protocol")?;
                push_capped(&mut ch.alpn, p.rest().to_vec());
            }
        }
        ext::SUPPORTED_VERSIONS => {
            u16s(d.vec8("supported_versions")?, &mut ch.supported_versions, "supported_versions")?
        }
        ext::SUPPORTED_GROUPS => u16s(d.vec16("supported_groups")?, &mut ch.groups, "supported_groups")?,
        ext::EC_POINT_FORMATS => {
            let mut l = d.vec8("ec_point_formats")?;
            ch.point_formats = l.rest().to_vec();
        }
        ext::SIGNATURE_ALGORITHMS => {
            let mut v = Vec::new();
            let res = u16s(d.vec16("signature_algorithms")?, &mut v, "signature_algorithms");
            ch.sig_algs = Some(v);
            res?;
        }
        ext::KEY_SHARE => {
            let mut l = d.vec16("key_share list")?;
            while !l.is_empty() {
                push_capped(&mut ch.key_share_groups, l.u16("key_share group")?);
                l.vec16("key_exchange")?;
            }
        }
        ext::PSK_KEY_EXCHANGE_MODES => {
            let mut l = d.vec8("psk_key_exchange_modes")?;
            ch.psk_modes = l.rest().to_vec();
        }
        ext::SESSION_TICKET => ch.ticket_offered = !d.is_empty(),
        ext::PRE_SHARED_KEY => {
            let mut ids = d.vec16("psk identities")?;
            while !ids.is_empty() {
                ids.vec16("psk identity")?;
                ids.bytes(4, "obfuscated_ticket_age")?;
                ch.psk_identities = ch.psk_identities.saturating_add(1);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Parses an SSLv2-compatible ClientHello (the record header already removed: message type
/// byte first). Cipher specs are three bytes; those whose first byte is zero are TLS cipher
/// suites and are kept as such, the SSLv2-only ones (first byte non-zero) are kept as their
/// low 16 bits only when they fit no TLS suite, which never happens for real clients, so
/// they are dropped (documented: no TLS fingerprint can express them).
pub fn parse_sslv2_client_hello(msg: &[u8]) -> Result<ClientHello, ParseError> {
    let mut r = Reader::new(msg);
    let typ = r.u8("msg_type")?;
    if typ != 1 {
        return Err(ParseError { what: "SSLv2 msg_type", offset: 0 });
    }
    let version = r.u16("version")?;
    let cs_len = usize::from(r.u16("cipher_specs length")?);
    let sid_len = usize::from(r.u16("session_id length")?);
    let ch_len = usize::from(r.u16("challenge length")?);
    let mut specs = r.sub(cs_len, "cipher_specs")?;
    r.bytes(sid_len, "session_id")?;
    r.bytes(ch_len, "challenge")?;
    let mut ch =
        ClientHello { version, sslv2: true, session_id_len: sid_len.min(255) as u8, ..Default::default() };
    while specs.remaining() >= 3 {
        let b = specs.bytes(3, "cipher_spec")?;
        if b[0] == 0 {
            push_capped(&mut ch.ciphers, u16::from_be_bytes([b[1], b[2]]));
        }
    }
    ch.compression = vec![0];
    Ok(ch)
}

/// Parses a ServerHello body (after the 4-byte handshake header). `dtls` has no
/// different layout here; the parameter is kept for symmetry with the ClientHello.
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, ParseError> {
    let mut r = Reader::new(body);
    let mut sh = ServerHello { version: r.u16("server_version")?, ..Default::default() };
    let random = r.bytes(32, "random")?;
    sh.hello_retry = random == HRR_RANDOM;
    // TLS 1.3 drafts before draft-22 (0x7f00..=0x7f15) had no legacy_session_id_echo and
    // no compression method in the ServerHello (draft-22 restored them for middleboxes).
    // The earliest drafts put 0x0304 itself in server_version; a final TLS 1.3 ServerHello
    // always says 0x0303 there, so 0x0304 also means the draft layout.
    let early_draft = (0x7f00..=0x7f15).contains(&sh.version) || sh.version == 0x0304;
    if !early_draft {
        let mut sid = r.vec8("session_id")?;
        sh.session_id_len = sid.remaining() as u8;
        sh.session_id = sid.rest().to_vec();
    }
    sh.cipher = r.u16("cipher_suite")?;
    if !early_draft {
        sh.compression = r.u8("compression_method")?;
    }
    if r.is_empty() {
        return Ok(sh);
    }
    let exts = r.vec16("extensions")?;
    reserve_capped(&mut sh.extensions, extension_room(exts.remaining()));
    parse_extensions(exts, |typ, data| {
        push_capped(&mut sh.extensions, typ);
        if let Err(e) = server_extension(&mut sh, typ, data) {
            sh.anomalies.push((typ, e.what));
        }
    })?;
    Ok(sh)
}

fn server_extension(sh: &mut ServerHello, typ: u16, mut d: Reader<'_>) -> Result<(), ParseError> {
    match typ {
        ext::SUPPORTED_VERSIONS => sh.selected_version = Some(d.u16("selected_version")?),
        ext::ALPN => {
            let mut list = d.vec16("alpn list")?;
            if !list.is_empty() {
                let mut p = list.vec8("alpn protocol")?;
                sh.alpn = Some(p.rest().to_vec());
            }
        }
        ext::KEY_SHARE => sh.key_share_group = Some(d.u16("key_share group")?),
        ext::PRE_SHARED_KEY => {
            d.u16("selected_identity")?;
            sh.psk_selected = true;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello body with GREASE, SNI, ALPN, versions, groups, point formats and
    /// signature algorithms, built field by field.
    pub(crate) fn sample_client_hello_body() -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&[7u8; 32]);
        b.push(32);
        b.extend_from_slice(&[9u8; 32]);
        let ciphers: [u16; 4] = [0x0a0a, 0x1301, 0x1302, 0xc02f];
        b.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
        for c in ciphers {
            b.extend_from_slice(&c.to_be_bytes());
        }
        b.extend_from_slice(&[1, 0]);
        let mut exts = Vec::new();
        let mut add = |t: u16, d: &[u8]| {
            exts.extend_from_slice(&t.to_be_bytes());
            exts.extend_from_slice(&(d.len() as u16).to_be_bytes());
            exts.extend_from_slice(d);
        };
        add(0x1a1a, &[]);
        let host = b"example.com";
        let mut sni = ((host.len() + 3) as u16).to_be_bytes().to_vec();
        sni.push(0);
        sni.extend_from_slice(&(host.len() as u16).to_be_bytes());
        sni.extend_from_slice(host);
        add(0, &sni);
        add(16, &[0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1']);
        add(43, &[6, 0x2a, 0x2a, 0x03, 0x04, 0x03, 0x03]);
        add(10, &[0, 6, 0x3a, 0x3a, 0x00, 0x1d, 0x00, 0x17]);
        add(11, &[1, 0]);
        add(13, &[0, 4, 0x04, 0x03, 0x08, 0x04]);
        add(51, &[0, 9, 0x00, 0x1d, 0x00, 0x05, 1, 2, 3, 4, 5]);
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(&exts);
        b
    }

    #[test]
    fn parses_client_hello_fields_in_wire_order() {
        let ch = parse_client_hello(&sample_client_hello_body(), false).unwrap();
        assert_eq!(ch.version, 0x0303);
        assert_eq!(ch.session_id_len, 32);
        assert_eq!(ch.ciphers, vec![0x0a0a, 0x1301, 0x1302, 0xc02f]);
        assert_eq!(ch.extensions, vec![0x1a1a, 0, 16, 43, 10, 11, 13, 51]);
        assert_eq!(ch.sni.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(ch.supported_versions, vec![0x2a2a, 0x0304, 0x0303]);
        assert_eq!(ch.groups, vec![0x3a3a, 0x1d, 0x17]);
        assert_eq!(ch.point_formats, vec![0]);
        assert_eq!(ch.sig_algs, Some(vec![0x0403, 0x0804]));
        assert_eq!(ch.key_share_groups, vec![0x1d]);
        assert!(ch.anomalies.is_empty());
    }

    #[test]
    fn every_truncation_of_client_hello_is_an_error_not_a_panic() {
        let body = sample_client_hello_body();
        for cut in 0..body.len() {
            // A cut exactly after the compression methods is a valid extension-less hello.
            match parse_client_hello(&body[..cut], false) {
                Ok(ch) => assert!(ch.extensions.is_empty(), "cut {cut}"),
                Err(e) => assert!(e.offset <= cut, "cut {cut}: {e}"),
            }
        }
    }

    #[test]
    fn malformed_inner_extension_is_kept_and_noted() {
        let mut body = sample_client_hello_body();
        // Corrupt the ALPN list length (the extension stays in the list).
        let pos = body.windows(6).position(|w| w == [0, 16, 0, 14, 0, 12]).unwrap();
        body[pos + 5] = 200;
        let ch = parse_client_hello(&body, false).unwrap();
        assert!(ch.extensions.contains(&16));
        assert_eq!(ch.anomalies, vec![(16, "alpn list")]);
        assert!(ch.alpn.is_empty());
    }

    #[test]
    fn extension_length_past_block_is_an_error() {
        let mut body = sample_client_hello_body();
        let n = body.len();
        // Last extension (key_share) claims more bytes than there are.
        body[n - 13] = 0x40;
        assert!(parse_client_hello(&body, false).is_err());
    }

    /// A u16 list with an odd trailing byte is an error at that byte; a list past
    /// [`MAX_LIST_VALUES`] keeps the first that many values, in order.
    #[test]
    fn u16_lists_odd_byte_and_cap() {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0u8; 32]);
        body.push(0);
        body.extend_from_slice(&5u16.to_be_bytes());
        let at = body.len();
        body.extend_from_slice(&[0x13, 0x01, 0x13, 0x02, 0x13]);
        body.extend_from_slice(&[1, 0]);
        let e = parse_client_hello(&body, false).unwrap_err();
        assert_eq!((e.what, e.offset), ("cipher_suites", at + 4));

        let n = MAX_LIST_VALUES + 10;
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0u8; 32]);
        body.push(0);
        body.extend_from_slice(&((2 * n) as u16).to_be_bytes());
        for i in 0..n as u16 {
            body.extend_from_slice(&i.to_be_bytes());
        }
        body.extend_from_slice(&[1, 0]);
        let ch = parse_client_hello(&body, false).unwrap();
        assert_eq!(ch.ciphers, (0..MAX_LIST_VALUES as u16).collect::<Vec<_>>());
        assert_eq!(ch.compression, vec![0]);
    }

    fn sample_server_hello_body(hrr: bool) -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(if hrr { &HRR_RANDOM } else { &[5u8; 32] });
        b.push(0);
        b.extend_from_slice(&[0x13, 0x01, 0]);
        let exts = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x02, 0x00, 0x17];
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(&exts);
        b
    }

    #[test]
    fn parses_server_hello_and_hrr() {
        let sh = parse_server_hello(&sample_server_hello_body(false)).unwrap();
        assert_eq!(sh.cipher, 0x1301);
        assert_eq!(sh.extensions, vec![43, 51]);
        assert_eq!(sh.negotiated_version(), 0x0304);
        assert_eq!(sh.key_share_group, Some(0x17));
        assert!(!sh.hello_retry);
        assert!(parse_server_hello(&sample_server_hello_body(true)).unwrap().hello_retry);
        let body = sample_server_hello_body(false);
        for cut in 0..body.len() {
            match parse_server_hello(&body[..cut]) {
                Ok(sh) => assert!(sh.extensions.is_empty(), "cut {cut}"),
                Err(e) => assert!(e.offset <= cut),
            }
        }
    }

    #[test]
    fn early_draft_server_hello_has_no_session_id_or_compression() {
        // draft-16 layout: version, random, cipher, extensions.
        let mut b = vec![0x7f, 0x10];
        b.extend_from_slice(&[1u8; 32]);
        b.extend_from_slice(&[0x13, 0x01, 0x00, 0x04, 0x00, 0x33, 0x00, 0x00]);
        let sh = parse_server_hello(&b).unwrap();
        assert_eq!((sh.cipher, sh.extensions.clone()), (0x1301, vec![0x33]));
        assert_eq!(sh.negotiated_version(), 0x7f10);
    }

    #[test]
    fn sslv2_hello() {
        // msg_type 1, version 3.1, 6 bytes of specs, no session id, 16 bytes challenge.
        let mut m = vec![1, 3, 1, 0, 6, 0, 0, 0, 16];
        m.extend_from_slice(&[0x00, 0x00, 0x2f, 0x07, 0x00, 0xc0]);
        m.extend_from_slice(&[0xaa; 16]);
        let ch = parse_sslv2_client_hello(&m).unwrap();
        assert!(ch.sslv2);
        assert_eq!(ch.version, 0x0301);
        assert_eq!(ch.ciphers, vec![0x002f]);
        for cut in 0..m.len() {
            assert!(parse_sslv2_client_hello(&m[..cut]).is_err());
        }
    }
}
