//! JA4 (BSD-3-Clause) and JA4S (FoxIO License 1.1), following FoxIO's published
//! technical details (`technical_details/JA4.md`, `JA4S.md` in FoxIO-LLC/ja4).
//!
//! JA4 = `a_b_c`:
//! * `a`: transport (`t`/`q`/`d`), version (highest non-GREASE supported_versions entry,
//!   else the legacy version), `d`/`i` for SNI present or not, two-digit counts of ciphers
//!   and extensions (GREASE removed, capped at 99, SNI and ALPN counted), and two ALPN
//!   characters.
//! * `b`: SHA-256 (first 12 hex) of the sorted 4-hex cipher list.
//! * `c`: SHA-256 (first 12 hex) of the sorted extension list without SNI and ALPN, then
//!   `_` and the signature algorithms in wire order, only when that extension is present.
//!
//! `_r` prints the lists instead of hashes; `_o` keeps wire order (and SNI/ALPN in `c`);
//! `_ro` does both. Where FoxIO's own tools differ from the spec, the spec wins:
//! * a first ALPN value whose first or last byte is not ASCII alphanumeric gives the first
//!   and last hex digits of the value (FoxIO's captures' goldens print `99`; see the test
//!   `non_alphanumeric_alpn_uses_hex`);
//! * GREASE values inside signature_algorithms are removed (FoxIO fixed this in 2026).

use std::ops::Range;

use super::{HEX, Hashes, Transport, no_grease};
use crate::tls::hello::{ClientHello, ServerHello, ext};

/// JA4 and its raw and original-order variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4 {
    /// `a_b_c` with hashes, sorted lists.
    pub ja4: String,
    /// Raw lists, sorted.
    pub ja4_r: String,
    /// Hashes of the lists in wire order.
    pub ja4_o: String,
    /// Raw lists in wire order.
    pub ja4_ro: String,
}

/// JA4S and its raw variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4s {
    /// `a_b_c` with the extension hash.
    pub ja4s: String,
    /// `a_b_c` with the raw extension list.
    pub ja4s_r: String,
}

/// The two-character JA4 version code of a protocol version number.
pub fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// DTLS version numbers count down (0xfefc, DTLS 1.3, is below 0xfefd, DTLS 1.2), so
/// "highest" means newest, not numerically largest.
fn dtls_rank(v: u16) -> u8 {
    match v {
        0xfefc => 3,
        0xfefd => 2,
        0xfeff => 1,
        _ => 0,
    }
}

fn highest_version(ch: &ClientHello, transport: Transport) -> u16 {
    let offered = no_grease(&ch.supported_versions);
    let best = match transport {
        Transport::Dtls => offered.max_by_key(|&v| (dtls_rank(v), v)),
        _ => offered.max(),
    };
    best.unwrap_or(ch.version)
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// The two ALPN characters: first and last character of the value; `00` when there is
/// none or it is empty; the first and last hex digit of the value when its first or last
/// byte is not ASCII alphanumeric.
pub fn alpn_chars(value: Option<&[u8]>) -> String {
    match value {
        None | Some([]) => "00".into(),
        Some(v) => {
            let (first, last) = (v[0], v[v.len() - 1]);
            if is_alnum(first) && is_alnum(last) {
                format!("{}{}", first as char, last as char)
            } else {
                format!("{}{}", HEX[usize::from(first >> 4)] as char, HEX[usize::from(last & 15)] as char)
            }
        }
    }
}

fn push_count2(s: &mut String, n: usize) {
    let n = n.min(99) as u8;
    s.push((b'0' + n / 10) as char);
    s.push((b'0' + n % 10) as char);
}

/// The two lowercase hex digits of every byte.
const HEX2: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = [HEX[b >> 4], HEX[b & 15]];
        b += 1;
    }
    t
};

/// `v` as four lowercase hex digits (the hot path of every JA4 list: no `format!`).
fn hex4(v: u16) -> [u8; 4] {
    let [hi, lo] = v.to_be_bytes();
    let (h, l) = (HEX2[usize::from(hi)], HEX2[usize::from(lo)]);
    [h[0], h[1], l[0], l[1]]
}

/// Appends the comma-separated 4-hex list of `it` (ASCII bytes): fixed-size appends of
/// 4 or 5 bytes, which compile to plain stores.
fn push_hex4_list(out: &mut Vec<u8>, mut it: impl Iterator<Item = u16>) {
    let Some(first) = it.next() else { return };
    out.extend_from_slice(&hex4(first));
    for v in it {
        let [a, b, c, d] = hex4(v);
        out.extend_from_slice(&[b',', a, b, c, d]);
    }
}

/// The bytes built by [`push_hex4_list`] and ASCII prefixes (always valid UTF-8).
fn ascii(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_default()
}

fn hex4_list(it: impl Iterator<Item = u16>) -> String {
    let mut v = Vec::with_capacity(128);
    push_hex4_list(&mut v, it);
    ascii(v)
}

/// A raw JA4 (`a_b_c`: the cipher list, then the extension list and, when the extension
/// was sent, `_` and the signature algorithms), and where `b` and `c` are in it: the
/// inputs of the hashed form's two hashes. Written once, to its exact size.
fn raw_ja4(
    a: &str,
    ciphers: &[u16],
    exts: &[u16],
    sigs: Option<&[u16]>,
) -> (String, Range<usize>, Range<usize>) {
    let items = ciphers.len() + exts.len() + sigs.map_or(0, <[u16]>::len);
    let mut v = Vec::with_capacity(a.len() + 5 * items + 3);
    v.extend_from_slice(a.as_bytes());
    v.push(b'_');
    let b0 = v.len();
    push_hex4_list(&mut v, ciphers.iter().copied());
    let b = b0..v.len();
    v.push(b'_');
    let c0 = v.len();
    push_hex4_list(&mut v, exts.iter().copied());
    if let Some(sigs) = sigs {
        v.push(b'_');
        push_hex4_list(&mut v, no_grease(sigs));
    }
    let c = c0..v.len();
    (ascii(v), b, c)
}

/// JA4 of a ClientHello seen over `transport`.
pub fn ja4(ch: &ClientHello, transport: Transport) -> Ja4 {
    ja4_with(ch, transport, &mut Hashes::off())
}

/// [`ja4`], its SHA-256 through a worker's [`Hashes`].
// Not inlined (called once per new hello): a frame of its own in profiles under LTO.
#[inline(never)]
pub fn ja4_with(ch: &ClientHello, transport: Transport, hashes: &mut Hashes) -> Ja4 {
    // Sized up front: a filtered iterator's `collect` grows its vector by doubling.
    let mut ciphers = Vec::with_capacity(ch.ciphers.len());
    ciphers.extend(no_grease(&ch.ciphers));
    let mut exts = Vec::with_capacity(ch.extensions.len());
    exts.extend(no_grease(&ch.extensions));
    let mut a = String::with_capacity(10);
    a.push(transport.ja4_char());
    a.push_str(version_code(highest_version(ch, transport)));
    a.push(if exts.contains(&ext::SERVER_NAME) { 'd' } else { 'i' });
    push_count2(&mut a, ciphers.len());
    push_count2(&mut a, exts.len());
    a.push_str(&alpn_chars(ch.alpn.first().map(Vec::as_slice)));

    let sigs = ch.sig_algs.as_deref();
    let (ja4_ro, b_orig, c_orig) = raw_ja4(&a, &ciphers, &exts, sigs);
    ciphers.sort_unstable();
    let mut sorted_exts = Vec::with_capacity(exts.len());
    sorted_exts.extend(exts.iter().copied().filter(|&e| e != ext::SERVER_NAME && e != ext::ALPN));
    sorted_exts.sort_unstable();
    let (ja4_r, b_sorted, c_sorted) = raw_ja4(&a, &ciphers, &sorted_exts, sigs);

    // JA4.md: "If there are no extensions in the sorted extensions list, then the value of
    // JA4_c is set to 000000000000". The sorted list is the one without SNI and ALPN, and
    // the rule applies to JA4_o too (FoxIO's ja4.py, the reference for JA4_o, gives zeros
    // for a hello whose only extension is SNI although its original-order list is `0000`;
    // pinned by `only_sni_gives_zero_c_in_every_variant`).
    let no_c_sorted = sorted_exts.is_empty();
    // `a_hash(b)_hash(c)` from a raw form (no `format!`: this runs for every hello).
    let mut hashed = |raw: &str, b: Range<usize>, c: Range<usize>| {
        let mut s = String::with_capacity(a.len() + 26);
        s.push_str(&a);
        s.push('_');
        hashes.push_sha256_12(&mut s, raw.get(b).unwrap_or_default());
        s.push('_');
        hashes.push_sha256_12(&mut s, if no_c_sorted { "" } else { raw.get(c).unwrap_or_default() });
        s
    };
    Ja4 { ja4: hashed(&ja4_r, b_sorted, c_sorted), ja4_o: hashed(&ja4_ro, b_orig, c_orig), ja4_r, ja4_ro }
}

/// JA4S of a ServerHello seen over `transport` (FoxIO License 1.1: only computed when
/// JA4+ is turned on).
pub fn ja4s(sh: &ServerHello, transport: Transport) -> Ja4s {
    ja4s_with(sh, transport, &mut Hashes::off())
}

/// [`ja4s`], its SHA-256 through a worker's [`Hashes`].
pub fn ja4s_with(sh: &ServerHello, transport: Transport, hashes: &mut Hashes) -> Ja4s {
    let exts: Vec<u16> = no_grease(&sh.extensions).collect();
    let mut a = String::with_capacity(7);
    a.push(transport.ja4_char());
    a.push_str(version_code(sh.negotiated_version()));
    push_count2(&mut a, exts.len());
    a.push_str(&alpn_chars(sh.alpn.as_deref()));
    let list = hex4_list(exts.iter().copied());
    Ja4s {
        ja4s: {
            let mut s = format!("{a}_{:04x}_", sh.cipher);
            hashes.push_sha256_12(&mut s, &list);
            s
        },
        ja4s_r: format!("{a}_{:04x}_{list}", sh.cipher),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lists_are_four_lowercase_digits_comma_separated() {
        for v in 0..=u16::MAX {
            assert_eq!(hex4(v), format!("{v:04x}").as_bytes());
        }
        let mut out = Vec::new();
        push_hex4_list(&mut out, [].into_iter());
        assert!(out.is_empty());
        push_hex4_list(&mut out, [0x1301].into_iter());
        assert_eq!(out, b"1301");
        out.clear();
        push_hex4_list(&mut out, [0x0a0a, 0x00ff, 0xfe0d].into_iter());
        assert_eq!(out, b"0a0a,00ff,fe0d");
    }

    /// Chromium shuffles its extensions on every connection: through a worker's hash
    /// cache each shuffle gives the JA4 computed from scratch, and only the wire-order
    /// extension hash (`ja4_o`'s `c`) is new each time.
    #[test]
    fn cached_hashes_give_the_computed_ja4_for_shuffled_extensions() {
        let mut hashes = Hashes::new(1 << 20);
        let mut ch = chrome();
        let n = ch.extensions.len();
        for round in 0..20usize {
            // A different order each round (rotate, then swap a pair).
            ch.extensions.rotate_left(round % n);
            ch.extensions.swap(round % n, (round * 7 + 3) % n);
            assert_eq!(ja4_with(&ch, Transport::Tcp, &mut hashes), ja4(&ch, Transport::Tcp), "round {round}");
        }
        let s = hashes.stats();
        assert_eq!(s.hits + s.misses, 80, "four SHA-256 per JA4: {s:?}");
        assert_eq!(s.misses, 4 + 19, "the first JA4's four lists, then one new list per shuffle: {s:?}");
    }

    fn chrome() -> ClientHello {
        // A Chrome 14x ClientHello's lists, from its published JA4_ro (GREASE added back in
        // to check that it is removed).
        ClientHello {
            version: 0x0303,
            ciphers: vec![
                0x4a4a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x0a0a, 0x002d, 0x0033, 0x0010, 0xfe0d, 0x0017, 0x44cd, 0x0000, 0x000b, 0x000a, 0x002b,
                0xff01, 0x0023, 0x0012, 0x0005, 0x000d, 0x001b, 0x1a1a,
            ],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            supported_versions: vec![0x7a7a, 0x0304, 0x0303],
            sig_algs: Some(vec![0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]),
            ..Default::default()
        }
    }

    #[test]
    fn chrome_ja4_all_variants() {
        let j = ja4(&chrome(), Transport::Tcp);
        assert_eq!(j.ja4, "t13d1516h2_8daaf6152771_d8a2da3f94cd");
        assert_eq!(j.ja4_o, "t13d1516h2_acb858a92679_f96a17c57971");
        assert_eq!(
            j.ja4_r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(
            j.ja4_ro,
            "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_002d,0033,0010,fe0d,0017,44cd,0000,000b,000a,002b,ff01,0023,0012,0005,000d,001b_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert!(ja4(&chrome(), Transport::Quic).ja4.starts_with("q13d1516h2_"));
    }

    #[test]
    fn grease_in_signature_algorithms_is_removed() {
        let mut ch = chrome();
        ch.sig_algs.as_mut().unwrap().insert(0, 0x5a5a);
        assert_eq!(ja4(&ch, Transport::Tcp).ja4, "t13d1516h2_8daaf6152771_d8a2da3f94cd");
    }

    #[test]
    fn not_grease_values_are_kept() {
        // 0xeeee and 0xefef look like GREASE but are not (FoxIO issue #60).
        let mut ch = chrome();
        ch.sig_algs = Some(vec![0xeeee, 0xefef, 0x0403]);
        assert!(ja4(&ch, Transport::Tcp).ja4_r.ends_with("_eeee,efef,0403"));
    }

    #[test]
    fn no_sig_algs_no_trailing_underscore_and_empty_lists_are_zeros() {
        // TLS 1.0 hello whose only extension is SNI (FoxIO's https3-301-get.pcap).
        let ch = ClientHello {
            version: 0x0301,
            ciphers: vec![0x0035, 0x002f],
            extensions: vec![0x0000],
            sni: Some(b"x".to_vec()),
            ..Default::default()
        };
        let j = ja4(&ch, Transport::Tcp);
        assert!(j.ja4.starts_with("t10d020100_"), "{}", j.ja4);
        assert!(j.ja4.ends_with("_000000000000"));
        assert_eq!(j.ja4_r, "t10d020100_002f,0035_");
        let empty = ClientHello { version: 0x0303, ..Default::default() };
        assert_eq!(ja4(&empty, Transport::Tcp).ja4, "t12i000000_000000000000_000000000000");
        // Extensions present but no signature_algorithms: no underscore inside c.
        let ch = ClientHello { version: 0x0301, extensions: vec![0x000a, 0x000b], ..Default::default() };
        assert_eq!(ja4(&ch, Transport::Tcp).ja4_r, "t10i000200__000a,000b");
    }

    #[test]
    fn only_sni_gives_zero_c_in_every_variant() {
        // FoxIO's https3-301-get.pcap: TLS 1.0, 23 ciphers, SNI only.
        let ch = ClientHello {
            version: 0x0301,
            ciphers: vec![0x0035],
            extensions: vec![0x0000],
            sni: Some(b"x".to_vec()),
            ..Default::default()
        };
        let j = ja4(&ch, Transport::Tcp);
        assert!(j.ja4.ends_with("_000000000000"));
        assert!(j.ja4_o.ends_with("_000000000000"), "{}", j.ja4_o);
        assert_eq!(j.ja4_ro, "t10d010100_0035_0000");
    }

    #[test]
    fn non_alphanumeric_alpn_uses_hex() {
        // FoxIO's tls-non-ascii-alpn.pcapng: first ALPN is 0xBA 0xAD. Spec: `bd`; FoxIO's
        // golden files print `99` (an older rule). We follow the spec.
        assert_eq!(alpn_chars(Some(&[0xba, 0xad])), "bd");
        assert_eq!(alpn_chars(Some(b"h2")), "h2");
        assert_eq!(alpn_chars(Some(b"h")), "hh");
        assert_eq!(alpn_chars(Some(b"http/1.1")), "h1");
        assert_eq!(alpn_chars(Some(b"h2/")), "6f");
        assert_eq!(alpn_chars(Some(b"")), "00");
        assert_eq!(alpn_chars(None), "00");
    }

    #[test]
    fn counts_cap_at_99_and_dtls_versions_rank() {
        let ch = ClientHello { version: 0x0303, ciphers: (1..200).collect(), ..Default::default() };
        assert!(ja4(&ch, Transport::Tcp).ja4.starts_with("t12i9900"));
        let ch =
            ClientHello { version: 0xfefd, supported_versions: vec![0xfefc, 0xfefd], ..Default::default() };
        assert!(ja4(&ch, Transport::Dtls).ja4.starts_with("dd3i"));
        let ch = ClientHello { version: 0xfeff, ..Default::default() };
        assert!(ja4(&ch, Transport::Dtls).ja4.starts_with("dd1i"));
    }

    #[test]
    fn ja4s_tls12_and_13() {
        let sh = ServerHello {
            version: 0x0303,
            cipher: 0xc02b,
            extensions: vec![0xff01, 0x000b, 0x0017, 0x0010],
            alpn: Some(b"http/1.1".to_vec()),
            ..Default::default()
        };
        let j = ja4s(&sh, Transport::Tcp);
        assert_eq!(j.ja4s_r, "t1204h1_c02b_ff01,000b,0017,0010");
        let sh = ServerHello {
            version: 0x0303,
            cipher: 0x1301,
            extensions: vec![0x002b, 0x0033],
            selected_version: Some(0x0304),
            ..Default::default()
        };
        assert_eq!(ja4s(&sh, Transport::Tcp).ja4s_r, "t130200_1301_002b,0033");
        let none = ServerHello { version: 0x0301, cipher: 0x0035, ..Default::default() };
        assert_eq!(ja4s(&none, Transport::Tcp).ja4s, "t100000_0035_000000000000");
    }
}
