//! Flow keys: the canonical 5-tuple (+ VLAN ids), direction, and a stable flow id.

use std::hash::{BuildHasher as _, Hash, Hasher};
use std::net::IpAddr;

use crate::decode::{Packet, Transport, VLAN_IDS_KEPT};
use crate::time::Timestamp;

/// An endpoint: address and port.
pub type Endpoint = (IpAddr, u16);

/// The canonical key of a flow: endpoints ordered so both directions map to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The lower endpoint.
    pub lo: Endpoint,
    /// The higher endpoint.
    pub hi: Endpoint,
    /// IP protocol number (6 TCP, 17 UDP).
    pub proto: u8,
    /// VLAN ids, outermost first, zero-padded.
    pub vlans: [u16; VLAN_IDS_KEPT],
    /// Number of valid entries in `vlans`.
    pub vlan_count: u8,
}

/// Which way a packet goes relative to its flow key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From `lo` to `hi`.
    LoToHi = 0,
    /// From `hi` to `lo`.
    HiToLo = 1,
}

impl Dir {
    /// The other direction.
    pub fn flip(self) -> Dir {
        match self {
            Dir::LoToHi => Dir::HiToLo,
            Dir::HiToLo => Dir::LoToHi,
        }
    }

    /// 0 or 1, for indexing per-direction arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl FlowKey {
    /// The key of a decoded packet and the packet's direction.
    pub fn of(p: &Packet<'_>) -> (FlowKey, Dir) {
        let proto = match p.transport {
            Transport::Tcp(_) => 6,
            Transport::Udp => 17,
        };
        let a = (p.src, p.sport);
        let b = (p.dst, p.dport);
        let (lo, hi, dir) = if rank(&a) <= rank(&b) { (a, b, Dir::LoToHi) } else { (b, a, Dir::HiToLo) };
        (FlowKey { lo, hi, proto, vlans: p.vlans, vlan_count: p.vlan_count }, dir)
    }

    /// The VLAN ids, outermost first.
    pub fn vlan_ids(&self) -> &[u16] {
        &self.vlans[..usize::from(self.vlan_count)]
    }

    /// The source endpoint of a packet going `dir`.
    pub fn src(&self, dir: Dir) -> Endpoint {
        match dir {
            Dir::LoToHi => self.lo,
            Dir::HiToLo => self.hi,
        }
    }

    /// A flow id that is the same for every run over the same capture (unlike the flow
    /// table's hash, which is keyed with a random seed): FNV-1a over the key and the time of
    /// the flow's first packet, folded to 51 bits so it is exact in a JSON number.
    pub fn flow_id(&self, first_seen: Timestamp) -> u64 {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        self.hash(&mut h);
        first_seen.as_nanos().hash(&mut h);
        h.finish() & ((1 << 51) - 1)
    }
}

impl FlowKey {
    /// The key packed into three 128-bit words, for [`FlowTable`]'s keyed hash: three
    /// word writes instead of the field-by-field writes of the derived `Hash` (which
    /// [`FlowKey::flow_id`] keeps using, so flow ids stay as they were).
    fn words(&self) -> [u128; 3] {
        fn bits(ip: IpAddr) -> u128 {
            match ip {
                IpAddr::V4(a) => u128::from(a.to_bits()),
                IpAddr::V6(a) => a.to_bits(),
            }
        }
        let (lo, hi) = (bits(self.lo.0), bits(self.hi.0));
        let [v0, v1, v2] = self.vlans;
        let rest = u128::from(self.lo.1) << 112
            | u128::from(self.hi.1) << 96
            | u128::from(self.proto) << 88
            | u128::from(self.vlan_count) << 80
            | u128::from(v0) << 32
            | u128::from(v1) << 16
            | u128::from(v2);
        [lo, hi, rest]
    }
}

/// An endpoint as integers ordered exactly as `(IpAddr, u16)` is (IPv4 before IPv6, then
/// the address's bits, then the port): the same `lo`/`hi` (and so the same flow ids) as a
/// tuple comparison, without comparing the address enums byte by byte on every packet.
fn rank(e: &Endpoint) -> (bool, u128, u16) {
    match e.0 {
        IpAddr::V4(a) => (false, u128::from(a.to_bits()), e.1),
        IpAddr::V6(a) => (true, a.to_bits(), e.1),
    }
}

/// A keyed hash of flow keys (random seed per instance: attackers choose 5-tuples).
///
/// `foldhash`'s quality hasher (the hash `hashbrown` itself defaults to, plus a final
/// multiply for avalanche): three folded multiplies of the key's 128-bit words into the
/// seeded accumulator and one more to finish, about a third of `ahash`'s portable
/// fallback over the same 48 bytes. The reading thread hashes every packet, so this is on
/// replay's serial path. Both of foldhash's seeds are secret and random per instance
/// (its own defaults mix in address-space layout and time only): with a known shared
/// seed, an IPv6 address whose high half equals it would zero the multiply and with it
/// the per-instance seed.
#[derive(Clone)]
pub struct FlowHasher {
    seed: u64,
    shared: foldhash::SharedSeed,
}

impl Default for FlowHasher {
    fn default() -> Self {
        // SipHash under std's random keys (from the OS) of two constants: two secret
        // random words without another dependency.
        let keys = std::hash::RandomState::new();
        FlowHasher { seed: keys.hash_one(1u8), shared: foldhash::SharedSeed::from_u64(keys.hash_one(2u8)) }
    }
}

impl FlowHasher {
    /// The hash of `key`.
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        let mut h = foldhash::quality::FoldHasher::with_seed(self.seed, &self.shared);
        for w in key.words() {
            h.write_u128(w);
        }
        h.finish()
    }

    /// Which of `n` shards the flow of `hash` goes to: taken from bits 24..56 alone, by a
    /// multiply-shift (no division). A flow table hashing with the same hasher uses the
    /// low bits for the bucket and the top 7 as the tag, so every shard's flows still
    /// spread over a whole table even though the shard reuses the table's hash (which the
    /// reading thread computes once, for both). Tables of up to 2^24 buckets (8M flows per
    /// worker) use no shard bit at all; past that a table still works, its flows just
    /// spread a little less evenly. `n` must be at least 1.
    pub fn shard(hash: u64, n: u64) -> u64 {
        ((hash >> 24) & 0xffff_ffff).wrapping_mul(n) >> 32
    }
}

/// A flow table: flows by key, with the hash computed once per packet by the caller
/// ([`FlowTable::hash`]) and reused for every lookup, removal and insertion that packet
/// makes.
pub struct FlowTable<V> {
    table: hashbrown::HashTable<(FlowKey, V)>,
    hasher: FlowHasher,
}

impl<V> Default for FlowTable<V> {
    fn default() -> Self {
        FlowTable { table: hashbrown::HashTable::new(), hasher: FlowHasher::default() }
    }
}

impl<V> FlowTable<V> {
    /// A table with room for `n` flows before it first grows.
    pub fn with_capacity(n: usize) -> Self {
        Self::with_hasher(n, FlowHasher::default())
    }

    /// [`FlowTable::with_capacity`] hashing with `hasher` (shared with whoever computes
    /// the hashes for it, see [`FlowHasher::shard`]).
    pub fn with_hasher(n: usize, hasher: FlowHasher) -> Self {
        FlowTable { table: hashbrown::HashTable::with_capacity(n), hasher }
    }

    /// The hash of `key` in this table.
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash(key)
    }

    /// Flows held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no flow is held.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The flow of `key` (`hash` from [`FlowTable::hash`]).
    pub fn get(&self, hash: u64, key: &FlowKey) -> Option<&V> {
        self.table.find(hash, |(k, _)| k == key).map(|(_, v)| v)
    }

    /// The flow of `key`, to change.
    pub fn get_mut(&mut self, hash: u64, key: &FlowKey) -> Option<&mut V> {
        self.table.find_mut(hash, |(k, _)| k == key).map(|(_, v)| v)
    }

    /// Where the flow of `key` sits (for [`FlowTable::at`] and [`FlowTable::at_mut`]): one
    /// probe of the table where a look, then a change, would make two. The index is good
    /// until the table next changes (an insertion may move every flow).
    pub fn index_of(&self, hash: u64, key: &FlowKey) -> Option<usize> {
        self.table.find_bucket_index(hash, |(k, _)| k == key)
    }

    /// The flow at `index` (from [`FlowTable::index_of`] or [`FlowTable::insert_new`]).
    pub fn at(&self, index: usize) -> Option<&V> {
        self.table.get_bucket(index).map(|(_, v)| v)
    }

    /// The flow at `index`, to change.
    pub fn at_mut(&mut self, index: usize) -> Option<&mut V> {
        self.table.get_bucket_mut(index).map(|(_, v)| v)
    }

    /// Takes the flow of `key` out.
    pub fn remove(&mut self, hash: u64, key: &FlowKey) -> Option<V> {
        match self.table.find_entry(hash, |(k, _)| k == key) {
            Ok(e) => Some(e.remove().0.1),
            Err(_) => None,
        }
    }

    /// Adds a flow for `key`, which must not be in the table yet; returns where it sits
    /// (see [`FlowTable::index_of`]).
    pub fn insert_new(&mut self, hash: u64, key: FlowKey, value: V) -> usize {
        let hasher = &self.hasher;
        self.table.insert_unique(hash, (key, value), |(k, _)| hasher.hash(k)).bucket_index()
    }

    /// Every flow.
    pub fn iter(&self) -> impl Iterator<Item = (&FlowKey, &V)> {
        self.table.iter().map(|(k, v)| (k, v))
    }

    /// Takes out the flows `pred` selects.
    pub fn extract_if<F: FnMut(&FlowKey, &mut V) -> bool>(&mut self, mut pred: F) -> Vec<(FlowKey, V)> {
        self.table.extract_if(|(k, v)| pred(k, v)).collect()
    }

    /// Takes out every flow (the table is empty once the iterator is dropped).
    pub fn drain(&mut self) -> impl Iterator<Item = (FlowKey, V)> + '_ {
        self.table.drain()
    }
}

/// Reasons a flow leaves the table (the discriminant indexes `WorkerStats::flows_ended`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEnd {
    /// Both sides sent FIN.
    Fin,
    /// A RST.
    Rst,
    /// Idle past its timeout.
    Timeout,
    /// The input ended.
    EndOfInput,
    /// A new connection reused its 5-tuple.
    Reused,
    /// The table was full: the oldest flow made room for a new one.
    Evicted,
}

impl FlowEnd {
    /// Every reason, in label order.
    pub const ALL: [FlowEnd; 6] = [
        FlowEnd::Fin,
        FlowEnd::Rst,
        FlowEnd::Timeout,
        FlowEnd::EndOfInput,
        FlowEnd::Reused,
        FlowEnd::Evicted,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowEnd::Fin => "fin",
            FlowEnd::Rst => "rst",
            FlowEnd::Timeout => "timeout",
            FlowEnd::EndOfInput => "end_of_input",
            FlowEnd::Reused => "reused",
            FlowEnd::Evicted => "evicted",
        }
    }
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpInfo;

    fn pkt(src: &str, sport: u16, dst: &str, dport: u16) -> Packet<'static> {
        Packet {
            vlans: [7, 0, 0],
            vlan_count: 1,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            transport: Transport::Tcp(TcpInfo {
                seq: 0,
                ack: 0,
                syn: false,
                ack_flag: false,
                fin: false,
                rst: false,
            }),
            payload: &[],
            payload_missing: 0,
        }
    }

    #[test]
    fn shards_are_even_and_leave_the_table_bits_alone() {
        let hasher = FlowHasher::default();
        for n in [2u64, 3, 4, 7] {
            let mut per_shard = vec![0u32; n as usize];
            // Per shard: how often each value of the low 8 bits (a 256-bucket table's
            // index) and of the top 7 bits (hashbrown's tag) comes up.
            let mut low = vec![[0u32; 256]; n as usize];
            let mut tag = vec![[0u32; 128]; n as usize];
            for i in 0..200_000u32 {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 | i >> 4);
                let h = hasher
                    .hash(&FlowKey::of(&pkt(&ip.to_string(), 32768 + (i as u16 & 15), "172.16.0.1", 443)).0);
                let s = FlowHasher::shard(h, n) as usize;
                assert!(s < n as usize);
                per_shard[s] += 1;
                low[s][(h & 0xff) as usize] += 1;
                tag[s][(h >> 57) as usize] += 1;
            }
            let even = 200_000 / n as u32;
            for (s, &c) in per_shard.iter().enumerate() {
                assert!(c.abs_diff(even) < even / 20, "n {n}: shard {s} got {c} of 200000");
                // Every shard still fills every bucket and every tag about evenly.
                for (what, counts) in [("bucket", &low[s][..]), ("tag", &tag[s][..])] {
                    let mean = c / counts.len() as u32;
                    let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
                    assert!(
                        *lo > mean / 2 && *hi < mean * 2,
                        "n {n} shard {s}: {what} counts {lo}..{hi}, mean {mean}"
                    );
                }
            }
        }
        assert_eq!(FlowHasher::shard(u64::MAX, 1), 0);
        assert_eq!(FlowHasher::shard(u64::MAX, 5), 4);
    }

    /// Two hashers disagree on the same key (each is seeded at random), and a change to any
    /// one field of a key, IPv4 or IPv6, changes its hash.
    #[test]
    fn flow_hash_is_seeded_and_covers_every_field() {
        let (a, b) = (FlowHasher::default(), FlowHasher::default());
        for (src, dst) in [("198.18.0.1", "198.18.0.2"), ("2001:db8::1", "2001:db8::2")] {
            let base = pkt(src, 5000, dst, 443);
            let key = FlowKey::of(&base).0;
            assert_ne!(a.hash(&key), b.hash(&key));
            let variants = [
                pkt(src, 5001, dst, 443),
                pkt(src, 5000, dst, 444),
                pkt(if src.contains(':') { "2001:db8::3" } else { "198.18.0.3" }, 5000, dst, 443),
                pkt(src, 5000, if dst.contains(':') { "2001:db9::2" } else { "198.19.0.2" }, 443),
                Packet { transport: Transport::Udp, ..base.clone() },
                Packet { vlans: [8, 0, 0], ..base.clone() },
                Packet { vlans: [7, 9, 0], vlan_count: 2, ..base.clone() },
                Packet { vlans: [7, 0, 0], vlan_count: 0, ..base.clone() },
                Packet { vlans: [7, 9, 1], vlan_count: 3, ..base.clone() },
            ];
            for v in &variants {
                let k = FlowKey::of(v).0;
                assert_ne!(k, key);
                assert_ne!(a.hash(&k), a.hash(&key), "{v:?}");
            }
        }
    }

    #[test]
    fn both_directions_share_a_key() {
        let (k1, d1) = FlowKey::of(&pkt("198.18.0.1", 5000, "198.18.0.2", 443));
        let (k2, d2) = FlowKey::of(&pkt("198.18.0.2", 443, "198.18.0.1", 5000));
        assert_eq!(k1, k2);
        assert_eq!(d1, d2.flip());
        assert_eq!(k1.src(d1).1, 5000);
        let t = Timestamp::from_nanos(5);
        assert_eq!(k1.flow_id(t), k2.flow_id(t));
        assert!(k1.flow_id(t) < 1 << 51);
        let (k3, _) = FlowKey::of(&pkt("198.18.0.1", 5001, "198.18.0.2", 443));
        assert_ne!(k1.flow_id(t), k3.flow_id(t));
    }

    #[test]
    fn flow_table_finds_what_it_holds_by_either_direction() {
        let mut t: FlowTable<u32> = FlowTable::default();
        let (k1, _) = FlowKey::of(&pkt("198.18.0.1", 5000, "198.18.0.2", 443));
        let (k2, _) = FlowKey::of(&pkt("198.18.0.2", 443, "198.18.0.1", 5000));
        let (k3, _) = FlowKey::of(&pkt("2001:db8::1", 5000, "2001:db8::2", 443));
        assert_eq!(t.hash(&k1), t.hash(&k2));
        let i = t.insert_new(t.hash(&k1), k1, 1);
        *t.at_mut(i).unwrap() += 1;
        t.insert_new(t.hash(&k3), k3, 7);
        // Many more keys, so the table grows and rehashes with its own hasher.
        for port in 1..2000u16 {
            let (k, _) = FlowKey::of(&pkt("198.18.1.1", port, "198.18.0.2", 443));
            t.insert_new(t.hash(&k), k, u32::from(port));
        }
        assert_eq!(t.get(t.hash(&k2), &k2), Some(&2));
        assert_eq!(t.get(t.hash(&k3), &k3), Some(&7));
        assert_eq!(t.len(), 2001);
        assert_eq!(t.remove(t.hash(&k1), &k1), Some(2));
        assert_eq!(t.get(t.hash(&k1), &k1), None);
        let small = t.extract_if(|_, v| *v < 10);
        assert_eq!(small.len(), 10, "7 and ports 1..=9");
        assert_eq!(t.drain().count(), 1990);
        assert!(t.is_empty());
    }

    #[test]
    fn endpoint_rank_orders_as_the_tuple_does() {
        let addrs: Vec<IpAddr> = [
            "0.0.0.0",
            "0.0.0.1",
            "10.0.0.1",
            "10.0.1.0",
            "198.18.0.2",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "fe80::1",
            "ffff::",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for &a in &addrs {
            for &b in &addrs {
                for (pa, pb) in [(0u16, 0u16), (1, 0), (0, 1), (443, 65535), (65535, 443)] {
                    let (x, y) = ((a, pa), (b, pb));
                    assert_eq!(rank(&x).cmp(&rank(&y)), x.cmp(&y), "{x:?} {y:?}");
                }
            }
        }
    }
}
