//! Fingerprints: pure functions from parsed hellos to strings.
//!
//! * JA3 / JA3S (Salesforce, BSD-3-Clause): on by default.
//! * JA4 (FoxIO, BSD-3-Clause): on by default.
//! * JA4S (FoxIO License 1.1): computed only when the operator turns JA4+ on.
//!
//! GREASE values (RFC 8701: exactly the 16 values `0x?a?a` whose two bytes are equal) are
//! removed from every list before anything is counted, hashed or printed.

pub mod ja3;
pub mod ja4;

use crate::tls::names::is_grease;

/// Which transport a hello rode on: the first character of JA4/JA4S.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP (`t`).
    Tcp,
    /// QUIC (`q`).
    Quic,
    /// DTLS (`d`).
    Dtls,
}

impl Transport {
    /// The JA4 prefix character.
    pub fn ja4_char(self) -> char {
        match self {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
            Transport::Dtls => 'd',
        }
    }
}

/// The values of `v` that are not GREASE, in order.
pub(crate) fn no_grease(v: &[u16]) -> impl Iterator<Item = u16> + '_ {
    v.iter().copied().filter(|&x| !is_grease(x))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// First 12 hex characters of the SHA-256 of `s`; `000000000000` for an empty input, as
/// the JA4 spec says for an empty list.
pub(crate) fn sha256_12(s: &str) -> String {
    let mut out = String::with_capacity(12);
    push_sha256_12(&mut out, s);
    out
}

/// Appends [`sha256_12`] of `s` to `out` (no allocation).
pub(crate) fn push_sha256_12(out: &mut String, s: &str) {
    use sha2::{Digest, Sha256};
    if s.is_empty() {
        out.push_str("000000000000");
        return;
    }
    for &b in &Sha256::digest(s.as_bytes())[..6] {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}
