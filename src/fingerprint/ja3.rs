//! JA3 and JA3S (<https://github.com/salesforce/ja3>).
//!
//! JA3 = `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`: decimal
//! values in wire order joined by `-`, GREASE removed, empty fields left empty
//! (`769,47-53,,,`); the hash is the MD5 of that string. The version is the ClientHello's
//! legacy_version field, not supported_versions. JA3S = `SSLVersion,Cipher,Extensions` of
//! the ServerHello.

use super::{Hashes, no_grease};
use crate::tls::hello::{ClientHello, ServerHello};

/// A JA3 or JA3S fingerprint: the string and its MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja3 {
    /// The comma-separated string.
    pub string: String,
    /// MD5 of `string`, lowercase hex.
    pub hash: String,
}

impl Ja3 {
    fn from_string(string: String, hashes: &mut Hashes) -> Self {
        let hash = hashes.md5_hex(&string);
        Ja3 { string, hash }
    }
}

/// Appends `v` in decimal (the hot path of every JA3 string: no `core::fmt`), with the
/// digit writer the event writer uses too ([`crate::ascii::digits_u64`]).
fn push_dec(out: &mut Vec<u8>, v: u16) {
    let mut buf = [0u8; 20];
    let i = crate::ascii::digits_u64(&mut buf, u64::from(v));
    // Byte by byte: a call to memcpy for 1 to 5 bytes costs more than the pushes (and
    // one fixed 8-byte append cut back to length measured no better).
    for &d in &buf[i..] {
        out.push(d);
    }
}

fn join<I: Iterator<Item = u16>>(out: &mut Vec<u8>, it: I) {
    for (i, v) in it.enumerate() {
        if i > 0 {
            out.push(b'-');
        }
        push_dec(out, v);
    }
}

/// The string of bytes built by [`push_dec`] and [`join`] (ASCII digits and punctuation).
fn ascii(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_default()
}

/// JA3 of a ClientHello.
pub fn ja3(ch: &ClientHello) -> Ja3 {
    ja3_with(ch, &mut Hashes::off())
}

/// [`ja3`], its MD5 through a worker's [`Hashes`].
// Not inlined (called once per new hello): a frame of its own in profiles under LTO.
#[inline(never)]
pub fn ja3_with(ch: &ClientHello, hashes: &mut Hashes) -> Ja3 {
    // At most 6 bytes a value (5 digits and a separator): one allocation.
    let values = ch.ciphers.len() + ch.extensions.len() + ch.groups.len() + ch.point_formats.len();
    let mut s = Vec::with_capacity(6 * values + 10);
    push_dec(&mut s, ch.version);
    s.push(b',');
    join(&mut s, no_grease(&ch.ciphers));
    s.push(b',');
    join(&mut s, no_grease(&ch.extensions));
    s.push(b',');
    join(&mut s, no_grease(&ch.groups));
    s.push(b',');
    join(&mut s, ch.point_formats.iter().map(|&p| u16::from(p)));
    Ja3::from_string(ascii(s), hashes)
}

/// JA3S of a ServerHello.
pub fn ja3s(sh: &ServerHello) -> Ja3 {
    ja3s_with(sh, &mut Hashes::off())
}

/// [`ja3s`], its MD5 through a worker's [`Hashes`].
pub fn ja3s_with(sh: &ServerHello, hashes: &mut Hashes) -> Ja3 {
    let mut s = Vec::with_capacity(64);
    push_dec(&mut s, sh.version);
    s.push(b',');
    push_dec(&mut s, sh.cipher);
    s.push(b',');
    join(&mut s, no_grease(&sh.extensions));
    Ja3::from_string(ascii(s), hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::hello::{parse_client_hello, tests::sample_client_hello_body};

    #[test]
    fn readme_vectors() {
        // Salesforce README: a ClientHello without extensions keeps empty fields.
        let ch = ClientHello {
            version: 769,
            ciphers: vec![4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99],
            ..Default::default()
        };
        let j = ja3(&ch);
        assert_eq!(j.string, "769,4-5-10-9-100-98-3-6-19-18-99,,,");
        assert_eq!(j.hash, "de350869b8c85de67a350c8d186f11e6");
    }

    #[test]
    fn grease_removed_everywhere_wire_order_kept() {
        let ch = parse_client_hello(&sample_client_hello_body(), false).unwrap();
        assert_eq!(ja3(&ch).string, "771,4865-4866-49199,0-16-43-10-11-13-51,29-23,0");
    }

    #[test]
    fn decimal_writer_matches_display() {
        let mut s = Vec::new();
        for v in 0..=u16::MAX {
            s.clear();
            push_dec(&mut s, v);
            assert_eq!(std::str::from_utf8(&s), Ok(v.to_string().as_str()));
        }
    }

    #[test]
    fn ja3s_string() {
        let sh =
            ServerHello { version: 771, cipher: 4866, extensions: vec![43, 51, 41], ..Default::default() };
        assert_eq!(ja3s(&sh).string, "771,4866,43-51-41");
    }
}
