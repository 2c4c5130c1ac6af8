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

use crate::cache::{ByteCache, CacheStats};
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
    Hashes::off().push_sha256_12(&mut out, s);
    out
}

/// Lowercase hex of `bytes` into `N` ASCII bytes (`N` = 2 × bytes).
fn hex_into<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, &b) in bytes.iter().take(N / 2).enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

/// Appends ASCII hex made by [`hex_into`] (always valid UTF-8).
fn push_hex_ascii(out: &mut String, hex: &[u8]) {
    out.push_str(std::str::from_utf8(hex).unwrap_or_default());
}

/// The hashes inside the fingerprints (MD5 of a JA3 string, SHA-256 of a JA4 list),
/// remembered by their input strings: the same clients send the same lists over and over,
/// and finding a string costs a fraction of hashing it (a JA4 is four SHA-256, about 40%
/// of its cost in `cargo bench`, a JA3's MD5 about 55%). One per worker; the key is the
/// exact input (see [`crate::cache`]), so a hit is the hash itself.
#[derive(Debug)]
pub struct Hashes {
    sha256_12: ByteCache<[u8; 12]>,
    md5: ByteCache<[u8; 32]>,
}

impl Hashes {
    /// Caches of at most `budget` bytes of input strings per hash function; 0 turns them
    /// off.
    pub fn new(budget: usize) -> Self {
        Hashes { sha256_12: ByteCache::new(budget), md5: ByteCache::new(budget) }
    }

    /// No caching: every hash is computed.
    pub fn off() -> Self {
        Hashes::new(0)
    }

    /// Hits, misses and evictions of both caches.
    pub fn stats(&self) -> CacheStats {
        let mut s = self.sha256_12.stats;
        s.add(&self.md5.stats);
        s
    }

    /// Appends the first 12 hex characters of the SHA-256 of `s`; `000000000000` for an
    /// empty input, as the JA4 spec says for an empty list.
    pub(crate) fn push_sha256_12(&mut self, out: &mut String, s: &str) {
        use sha2::{Digest, Sha256};
        if s.is_empty() {
            out.push_str("000000000000");
            return;
        }
        let hex = self.sha256_12.get_or_make(s.as_bytes(), |b| hex_into(&Sha256::digest(b)));
        push_hex_ascii(out, &hex);
    }

    /// MD5 of `s`, lowercase hex.
    pub(crate) fn md5_hex(&mut self, s: &str) -> String {
        use md5::{Digest, Md5};
        let hex = self.md5.get_or_make(s.as_bytes(), |b| hex_into(&Md5::digest(b)));
        let mut out = String::with_capacity(32);
        push_hex_ascii(&mut out, &hex);
        out
    }
}

#[cfg(test)]
mod tests {
    use md5::Digest as _;

    use super::*;

    #[test]
    fn cached_hashes_are_the_hashes() {
        let mut on = Hashes::new(1 << 10);
        let mut tiny = Hashes::new(40);
        let inputs: Vec<String> = (0..200u32).map(|i| format!("{},{}-{}", i % 37, i * 7919, i % 5)).collect();
        for s in inputs.iter().chain(inputs.iter().rev()) {
            let want_md5 = hex(&md5::Md5::digest(s.as_bytes()));
            let want_sha = sha2::Sha256::digest(s.as_bytes());
            let want_sha = &hex(&want_sha)[..12];
            for h in [&mut on, &mut tiny] {
                assert_eq!(h.md5_hex(s), want_md5);
                let mut out = String::from("x_");
                h.push_sha256_12(&mut out, s);
                assert_eq!(out, format!("x_{want_sha}"));
            }
        }
        // The empty list is twelve zeros, not a hash (JA4 spec), and is not looked up.
        let mut out = String::new();
        on.push_sha256_12(&mut out, "");
        assert_eq!(out, "000000000000");
        let s = on.stats();
        assert_eq!(s.hits + s.misses, 800);
        assert!(s.hits > 0 && s.evicted > 0, "{s:?}");
        assert!(tiny.stats().evicted > tiny.stats().hits, "{:?}", tiny.stats());
        let off = {
            let mut h = Hashes::off();
            h.md5_hex("a");
            h.md5_hex("a");
            h.stats()
        };
        assert_eq!(off, CacheStats { hits: 0, misses: 2, evicted: 0 });
    }
}
