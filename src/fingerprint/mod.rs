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

use std::sync::Arc;

use crate::ascii::HEX;
use crate::cache::{ByteCache, CacheStats};
use crate::tls::hello::ClientHello;
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
///
/// It also keeps whole ClientHellos' JA3 and JA4 ([`client_fingerprints`]), by everything
/// the two read from a hello: a client that sends the same lists again costs one lookup
/// instead of building six strings.
#[derive(Debug)]
pub struct Hashes {
    sha256_12: ByteCache<[u8; 12]>,
    md5: ByteCache<[u8; 32]>,
    hellos: ByteCache<(Arc<ja3::Ja3>, Arc<ja4::Ja4>)>,
    /// Hashes of hello keys seen once (direct-mapped, a slot per `hash % len`): a hello is
    /// kept in `hellos` only when seen again. A client that never repeats its hello
    /// (Chromium shuffles its extensions) would otherwise pay for an entry, an eviction and
    /// six string copies on every connection: `cargo bench` `client_shuffled` took 3.91 µs
    /// against 2.47 µs through the hash caches alone without this filter, 2.95 against
    /// 2.88 µs with it (both include copying and shuffling the hello).
    seen: Vec<u64>,
    seen_hasher: ahash::RandomState,
    /// Scratch for a hello's key (reused: no allocation per hello).
    key: Vec<u8>,
}

impl Hashes {
    /// Caches of at most `budget` bytes each: of input strings per hash function, and of
    /// hello keys with their fingerprints; 0 turns them off.
    pub fn new(budget: usize) -> Self {
        Hashes {
            sha256_12: ByteCache::new(budget),
            md5: ByteCache::new(budget),
            hellos: ByteCache::new(budget),
            // One 8-byte slot per 256 bytes of budget (4096 slots, 32 KiB, for 1 MiB).
            seen: if budget == 0 { Vec::new() } else { vec![0; (budget / 256).clamp(16, 1 << 16)] },
            seen_hasher: ahash::RandomState::new(),
            key: Vec::new(),
        }
    }

    /// No caching: every hash is computed.
    pub fn off() -> Self {
        Hashes::new(0)
    }

    /// Hits, misses and evictions of the three caches.
    pub fn stats(&self) -> CacheStats {
        let mut s = self.sha256_12.stats;
        s.add(&self.md5.stats);
        s.add(&self.hellos.stats);
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

/// JA3 and JA4 of a ClientHello seen over `transport`, through a worker's [`Hashes`]:
/// kept by the exact values of every field the two read (`hello_key`), so a hit is what
/// [`ja3::ja3_with`] and [`ja4::ja4_with`] would return. Most clients send the same lists
/// on every connection; Chromium shuffles its extensions, so its hellos miss here (and
/// still find their sorted JA4 hashes in the hash caches).
pub fn client_fingerprints(
    ch: &ClientHello,
    transport: Transport,
    hashes: &mut Hashes,
) -> (Arc<ja3::Ja3>, Arc<ja4::Ja4>) {
    if hashes.hellos.budget() == 0 {
        return (Arc::new(ja3::ja3_with(ch, hashes)), Arc::new(ja4::ja4_with(ch, transport, hashes)));
    }
    let mut key = std::mem::take(&mut hashes.key);
    key.clear();
    hello_key(&mut key, ch, transport);
    let prints = match hashes.hellos.lookup(&key) {
        Some(p) => p,
        None => {
            let (j3, j4) =
                (Arc::new(ja3::ja3_with(ch, hashes)), Arc::new(ja4::ja4_with(ch, transport, hashes)));
            let h = hashes.seen_hasher.hash_one(&key[..]);
            let slot = (h % hashes.seen.len() as u64) as usize;
            if hashes.seen[slot] != h {
                // First sighting: remembered, not kept.
                hashes.seen[slot] = h;
                hashes.key = key;
                return (j3, j4);
            }
            // What the value holds, charged to the budget with the key: the strings'
            // allocations and the two `Arc` allocations (each struct and its two counts).
            let extra = [&j3.string, &j3.hash, &j4.ja4, &j4.ja4_r, &j4.ja4_o, &j4.ja4_ro]
                .iter()
                .map(|s| s.capacity())
                .sum::<usize>()
                + std::mem::size_of::<(ja3::Ja3, ja4::Ja4)>()
                + 4 * std::mem::size_of::<usize>();
            hashes.hellos.keep(&key, (j3.clone(), j4.clone()), extra);
            (j3, j4)
        }
    };
    hashes.key = key;
    prints
}

/// The key of a hello in [`Hashes`]: the transport and every field JA3 and JA4 read
/// (legacy version, ciphers, extensions, groups, point formats, supported_versions,
/// signature algorithms and the first ALPN value), each list with its length in front so
/// that no two different hellos share a key. A field added to either fingerprint must be
/// added here; `client_fingerprints_are_the_computed_ones` changes each field in turn to
/// catch one that is missing.
fn hello_key(key: &mut Vec<u8>, ch: &ClientHello, transport: Transport) {
    fn len(key: &mut Vec<u8>, n: usize) {
        key.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    }
    fn list(key: &mut Vec<u8>, v: &[u16]) {
        len(key, v.len());
        // Grown once, then filled (no capacity check per value).
        let at = key.len();
        key.resize(at + 2 * v.len(), 0);
        for (d, x) in key[at..].chunks_exact_mut(2).zip(v) {
            d.copy_from_slice(&x.to_le_bytes());
        }
    }
    fn bytes(key: &mut Vec<u8>, v: &[u8]) {
        len(key, v.len());
        key.extend_from_slice(v);
    }
    key.push(transport.ja4_char() as u8);
    key.extend_from_slice(&ch.version.to_le_bytes());
    list(key, &ch.ciphers);
    list(key, &ch.extensions);
    list(key, &ch.groups);
    bytes(key, &ch.point_formats);
    list(key, &ch.supported_versions);
    match &ch.sig_algs {
        None => key.push(0),
        Some(s) => {
            key.push(1);
            list(key, s);
        }
    }
    match ch.alpn.first() {
        None => key.push(0),
        Some(a) => {
            key.push(1);
            bytes(key, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use md5::Digest as _;

    use super::*;

    /// Every field JA3 or JA4 reads, changed one at a time: once the unchanged hello is
    /// kept, each variant must still get its own fingerprints (a field missing from
    /// `hello_key` would hand it the kept ones), whether computed or found the second time.
    #[test]
    fn client_fingerprints_are_the_computed_ones() {
        use crate::tls::hello::{ext, parse_client_hello, tests::sample_client_hello_body};
        let base = parse_client_hello(&sample_client_hello_body(), false).unwrap();
        let mut variants = vec![(base.clone(), Transport::Tcp)];
        let mut change = |f: &dyn Fn(&mut ClientHello)| {
            let mut ch = base.clone();
            f(&mut ch);
            variants.push((ch, Transport::Tcp));
        };
        change(&|ch| ch.version = 0x0301);
        change(&|ch| ch.ciphers.push(0x00ff));
        change(&|ch| ch.ciphers.reverse());
        change(&|ch| ch.extensions.push(ext::SERVER_NAME));
        change(&|ch| ch.extensions.reverse());
        change(&|ch| ch.groups.push(0x001e));
        change(&|ch| ch.point_formats.push(2));
        change(&|ch| ch.supported_versions = vec![0x0302]);
        change(&|ch| ch.sig_algs = None);
        change(&|ch| ch.sig_algs = Some(vec![0x0807]));
        change(&|ch| ch.alpn = vec![b"h3".to_vec()]);
        change(&|ch| ch.alpn.clear());
        change(&|ch| ch.alpn = vec![b"http/1.1".to_vec(), b"h2".to_vec()]);
        variants.push((base.clone(), Transport::Quic));
        variants.push((base.clone(), Transport::Dtls));
        let computed: Vec<_> = variants.iter().map(|(ch, t)| (ja3::ja3(ch), ja4::ja4(ch, *t))).collect();
        for (i, c) in computed.iter().enumerate().skip(1) {
            assert_ne!(c, &computed[0], "variant {i} must fingerprint differently from the base hello");
        }
        let n = variants.len() as u64;
        for budget in [1 << 20, 1500, 0] {
            let mut hashes = Hashes::new(budget);
            for round in 0..3 {
                for ((ch, t), want) in variants.iter().zip(&computed) {
                    let (j3, j4) = client_fingerprints(ch, *t, &mut hashes);
                    assert_eq!(
                        &(j3.as_ref().clone(), j4.as_ref().clone()),
                        want,
                        "budget {budget} round {round}"
                    );
                }
            }
            let s = hashes.hellos.stats;
            match budget {
                0 => assert_eq!(s, CacheStats::default(), "off: not looked up"),
                // Room for one or two entries (and 16 slots of `seen`, so which variants
                // are kept depends on the seed): whatever is kept stays within the budget.
                1500 => assert!(s.hits + s.misses == 3 * n && hashes.hellos.bytes() <= 1500, "{s:?}"),
                // Seen once, kept the second time, found the third (a variant whose key
                // shares a slot of `seen` with another's may be kept later or not at all).
                _ => assert!(s.hits + s.misses == 3 * n && s.hits > n / 2 && s.evicted == 0, "{s:?}"),
            }
        }
    }

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
