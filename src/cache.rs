//! Results of expensive pure functions kept by their input bytes, one cache per worker (no
//! locks): parsed certificates, and the hashes of the fingerprints.
//!
//! A sensor sees the same few server certificates over and over (every connection to a
//! site shows its chain again), and reading one (X.509 parse, SHA-1, SHA-256, JA4X) costs
//! far more than comparing its bytes. Zeek keeps a cache of parsed certificates for the
//! same reason. The facts of a certificate depend on its bytes only (checks that depend on
//! packet time or SNI are made per handshake, in [`crate::certcheck`]), so a hit gives
//! exactly the record a parse would. Likewise the MD5 of a JA3 string and the SHA-256 of a
//! JA4 list depend on that string only, and the same clients send the same lists again
//! ([`crate::fingerprint::Hashes`]).
//!
//! The key is the whole input, compared byte for byte: an input crafted to collide with
//! another's hash cannot take its place. The map is keyed with a random seed. A cache
//! holds at most [`ByteCache::new`]'s byte budget of keys (plus the values); when a new
//! key does not fit, the oldest ones go first (counted).

use std::collections::VecDeque;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::record::Cert;

/// What a cache counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Inputs found in the cache.
    pub hits: u64,
    /// Inputs computed (not in the cache, or the cache is off).
    pub misses: u64,
    /// Inputs dropped from the cache to make room.
    pub evicted: u64,
}

impl CacheStats {
    /// Adds another cache's counts.
    pub fn add(&mut self, o: &CacheStats) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.evicted += o.evicted;
    }
}

/// A cache of `V` by input bytes.
#[derive(Debug)]
pub struct ByteCache<V> {
    map: HashMap<Arc<[u8]>, V, ahash::RandomState>,
    /// Keys in insertion order with the bytes each was charged, for oldest-first eviction.
    order: VecDeque<(Arc<[u8]>, usize)>,
    /// Bytes held: keys, plus what [`ByteCache::keep`] was told the values hold.
    bytes: usize,
    budget: usize,
    /// Counters.
    pub stats: CacheStats,
}

/// Parsed certificates by their DER bytes.
pub type CertCache = ByteCache<Arc<Cert>>;

impl<V: Clone> ByteCache<V> {
    /// A cache holding at most `budget` bytes of keys; 0 turns it off (every input is
    /// computed, nothing is allocated).
    pub fn new(budget: usize) -> Self {
        ByteCache {
            map: HashMap::with_hasher(ahash::RandomState::new()),
            order: VecDeque::new(),
            bytes: 0,
            budget,
            stats: CacheStats::default(),
        }
    }

    /// The byte budget (0: off).
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Inputs held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes held (keys, plus what [`ByteCache::keep`] was told the values hold).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The value of `key`: from the cache, or made by `make` (and kept when it fits).
    pub fn get_or_make(&mut self, key: &[u8], make: impl FnOnce(&[u8]) -> V) -> V {
        if let Some(v) = self.lookup(key) {
            return v;
        }
        let v = make(key);
        self.keep(key, v.clone(), 0);
        v
    }

    /// The value of `key` when it is held (a hit); `None` counts a miss. For callers that
    /// need their own borrows to make the value, then [`ByteCache::keep`] it.
    pub fn lookup(&mut self, key: &[u8]) -> Option<V> {
        let v = if self.budget == 0 { None } else { self.map.get(key).cloned() };
        match v {
            Some(_) => self.stats.hits += 1,
            None => self.stats.misses += 1,
        }
        v
    }

    /// Keeps `value` for `key`, charging the budget the key's bytes plus `extra` (what the
    /// value holds besides, when that is not small), after evicting the oldest entries
    /// until it fits; an entry larger than the whole budget is not kept.
    pub fn keep(&mut self, key: &[u8], value: V, extra: usize) {
        let size = key.len().saturating_add(extra);
        if self.budget == 0 || size > self.budget {
            return;
        }
        while self.bytes + size > self.budget {
            let Some((old, old_size)) = self.order.pop_front() else { break };
            self.bytes -= old_size;
            self.map.remove(&old);
            self.stats.evicted += 1;
        }
        let key: Arc<[u8]> = Arc::from(key);
        if self.map.insert(key.clone(), value).is_none() {
            self.bytes += size;
            self.order.push_back((key, size));
        }
    }
}

impl CertCache {
    /// The facts of `der`: from the cache, or made by `parse` (and kept when they fit).
    pub fn get_or_parse(&mut self, der: &[u8], parse: impl FnOnce(&[u8]) -> Cert) -> Arc<Cert> {
        self.get_or_make(der, |der| Arc::new(parse(der)))
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
        assert_eq!(c.stats, CacheStats { hits: 1, misses: 1, evicted: 0 });
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

    /// `keep` charges a value's own bytes with its key's: entries go oldest first when
    /// key and value together do not fit, and an entry larger than the budget is not kept.
    #[test]
    fn kept_values_are_charged_with_their_keys() {
        let mut c: ByteCache<u32> = ByteCache::new(100);
        assert_eq!(c.lookup(b"a"), None);
        c.keep(b"a", 1, 40);
        c.keep(b"b", 2, 40);
        assert_eq!(c.bytes(), 82);
        assert_eq!((c.lookup(b"a"), c.lookup(b"b")), (Some(1), Some(2)));
        // 82 + 41 > 100: "a" goes.
        c.keep(b"c", 3, 40);
        assert_eq!((c.stats.evicted, c.bytes()), (1, 82));
        assert_eq!((c.lookup(b"a"), c.lookup(b"c")), (None, Some(3)));
        c.keep(b"d", 4, 100);
        assert_eq!((c.lookup(b"d"), c.stats.evicted, c.bytes()), (None, 1, 82));
        assert_eq!(c.stats, CacheStats { hits: 3, misses: 3, evicted: 1 });
    }

    #[test]
    fn off_parses_every_time() {
        let mut c = CertCache::new(0);
        c.get_or_parse(b"a", parsed("1"));
        let b = c.get_or_parse(b"a", parsed("2"));
        assert_eq!(b.info, Err("2:1".to_string()));
        assert_eq!(c.stats, CacheStats { hits: 0, misses: 2, evicted: 0 });
        assert!(c.is_empty());
    }
}
