//! Parsed certificates kept by their DER bytes, one cache per worker (no locks).
//!
//! A sensor sees the same few server certificates over and over (every connection to a
//! site shows its chain again), and reading one (X.509 parse, SHA-1, SHA-256, JA4X) costs
//! far more than comparing its bytes. Zeek keeps a cache of parsed certificates for the
//! same reason. The facts of a certificate depend on its bytes only (checks that depend on
//! packet time or SNI are made per handshake, in [`crate::certcheck`]), so a hit gives
//! exactly the record a parse would.
//!
//! The key is the whole DER encoding, compared byte for byte: a certificate crafted to
//! collide with another's hash cannot take its place. The map is keyed with a random seed.
//! The cache holds at most [`CertCache::new`]'s byte budget of DER (plus the parsed
//! facts); when a new certificate does not fit, the oldest ones go first (counted).

use std::collections::VecDeque;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::record::Cert;

/// What the cache counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CertCacheStats {
    /// Certificates found in the cache.
    pub hits: u64,
    /// Certificates parsed (not in the cache, or the cache is off).
    pub misses: u64,
    /// Certificates dropped from the cache to make room.
    pub evicted: u64,
}

/// The cache.
#[derive(Debug)]
pub struct CertCache {
    map: HashMap<Arc<[u8]>, Arc<Cert>, ahash::RandomState>,
    /// Keys in insertion order, for oldest-first eviction.
    order: VecDeque<Arc<[u8]>>,
    /// DER bytes held.
    bytes: usize,
    budget: usize,
    /// Counters.
    pub stats: CertCacheStats,
}

impl CertCache {
    /// A cache holding at most `budget` bytes of DER; 0 turns it off (every certificate is
    /// parsed).
    pub fn new(budget: usize) -> Self {
        CertCache {
            map: HashMap::with_hasher(ahash::RandomState::new()),
            order: VecDeque::new(),
            bytes: 0,
            budget,
            stats: CertCacheStats::default(),
        }
    }

    /// Certificates held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no certificate is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// DER bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The facts of `der`: from the cache, or made by `parse` (and kept when they fit).
    pub fn get_or_parse(&mut self, der: &[u8], parse: impl FnOnce(&[u8]) -> Cert) -> Arc<Cert> {
        if let Some(c) = self.map.get(der) {
            self.stats.hits += 1;
            return c.clone();
        }
        self.stats.misses += 1;
        let cert = Arc::new(parse(der));
        if der.len() > self.budget {
            return cert;
        }
        while self.bytes + der.len() > self.budget {
            let Some(old) = self.order.pop_front() else { break };
            self.bytes -= old.len();
            self.map.remove(&old);
            self.stats.evicted += 1;
        }
        let key: Arc<[u8]> = Arc::from(der);
        self.bytes += key.len();
        self.order.push_back(key.clone());
        self.map.insert(key, cert.clone());
        cert
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(tag: &str) -> impl FnOnce(&[u8]) -> Cert + '_ {
        move |der| Cert { info: Err(format!("{tag}:{}", der.len())), ja4x: None }
    }

    #[test]
    fn hit_returns_what_the_parse_made() {
        let mut c = CertCache::new(100);
        let a = c.get_or_parse(b"aaaa", parsed("first"));
        let b = c.get_or_parse(b"aaaa", parsed("second"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(b.info, Err("first:4".to_string()));
        assert_eq!(c.stats, CertCacheStats { hits: 1, misses: 1, evicted: 0 });
        // Same length, other bytes: a different certificate.
        let d = c.get_or_parse(b"aaab", parsed("third"));
        assert_eq!(d.info, Err("third:4".to_string()));
        assert_eq!((c.len(), c.bytes()), (2, 8));
    }

    #[test]
    fn evicts_oldest_first_within_the_budget() {
        let mut c = CertCache::new(10);
        c.get_or_parse(b"1111", parsed("a"));
        c.get_or_parse(b"2222", parsed("b"));
        c.get_or_parse(b"3333", parsed("c"));
        assert_eq!(c.stats.evicted, 1);
        assert!(c.bytes() <= 10);
        // "1111" went, "2222" stayed.
        c.get_or_parse(b"2222", parsed("x"));
        assert_eq!(c.stats.hits, 1);
        let again = c.get_or_parse(b"1111", parsed("again"));
        assert_eq!(again.info, Err("again:4".to_string()));
        // Larger than the whole budget: parsed, not kept, nothing evicted for it.
        let before = c.stats.evicted;
        c.get_or_parse(&[7u8; 11], parsed("big"));
        assert_eq!(c.stats.evicted, before);
        assert!(c.bytes() <= 10);
    }

    #[test]
    fn off_parses_every_time() {
        let mut c = CertCache::new(0);
        c.get_or_parse(b"a", parsed("1"));
        let b = c.get_or_parse(b"a", parsed("2"));
        assert_eq!(b.info, Err("2:1".to_string()));
        assert_eq!(c.stats, CertCacheStats { hits: 0, misses: 2, evicted: 0 });
        assert!(c.is_empty());
    }
}
