//! The compiled matchers. Each one costs the same however many values it holds:
//!
//! * exact values and named lists: a hash set lookup;
//! * name suffixes: one hash lookup per label of the name (a reversed-label walk over a
//!   hash set of suffixes), capped at [`MAX_LABELS`];
//! * regexes and `contains` substrings: one [`RegexSet`] per matcher, one pass;
//! * addresses: merged sorted ranges per family, a binary search;
//! * ports and code points (cipher, group, version, alert): sorted arrays, binary search.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use ahash::RandomState;
use ipnet::IpNet;
use regex::RegexSet;

/// A set of strings with a keyed fast hash.
pub(crate) type StrSet = HashSet<Box<str>, RandomState>;

/// Labels walked when matching a suffix; a name with more labels is matched on its last
/// `MAX_LABELS` labels only (a DNS name has at most 127).
pub const MAX_LABELS: usize = 128;

/// Cap on the size of one compiled regex set (bytes of compiled program), so a hostile
/// or careless rule file cannot make the sensor build a huge automaton.
pub const REGEX_SIZE_LIMIT: usize = 16 << 20;

/// A named list of values, imported from a file.
#[derive(Debug)]
pub struct List {
    /// The list's name.
    pub name: String,
    /// Where it came from.
    pub source: std::path::PathBuf,
    /// The values, normalized as the importer says (fingerprints lowercase).
    pub entries: StrSet,
}

/// Matches one string value.
#[derive(Debug, Default)]
pub(crate) struct StrMatcher {
    pub exact: StrSet,
    pub suffixes: StrSet,
    pub regex: Option<RegexSet>,
    pub lists: Vec<Arc<List>>,
}

impl StrMatcher {
    /// True when `v` (already normalized for its field) matches.
    pub fn is_match(&self, v: &str) -> bool {
        if self.exact.contains(v) || self.lists.iter().any(|l| l.entries.contains(v)) {
            return true;
        }
        if !self.suffixes.is_empty() && suffix_match(&self.suffixes, v) {
            return true;
        }
        self.regex.as_ref().is_some_and(|r| r.is_match(v))
    }

    /// Only exact values: such a matcher can be indexed by value.
    pub fn exact_only(&self) -> bool {
        self.suffixes.is_empty() && self.regex.is_none() && self.lists.is_empty()
    }
}

/// True when `name` or one of its parent domains (at a label boundary) is in `set`:
/// `a.b.example.com` looks up `a.b.example.com`, `b.example.com`, `example.com`, `com`.
pub(crate) fn suffix_match(set: &StrSet, name: &str) -> bool {
    let mut s = name;
    for _ in 0..MAX_LABELS {
        if set.contains(s) {
            return true;
        }
        match s.find('.') {
            Some(i) => s = &s[i + 1..],
            None => return false,
        }
    }
    false
}

/// Builds a regex set with the size cap.
pub(crate) fn regex_set(patterns: &[String]) -> Result<Option<RegexSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    regex::RegexSetBuilder::new(patterns)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Some)
        .map_err(|e| e.to_string())
}

/// A set of addresses: CIDR blocks merged into sorted, disjoint ranges per family.
#[derive(Debug, Default, Clone)]
pub(crate) struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn merge<T: Ord + Copy>(v: &mut Vec<(T, T)>, succ: impl Fn(T) -> Option<T>) {
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for &(lo, hi) in v.iter() {
        if let Some(last) = out.last_mut() {
            // Overlapping or adjacent.
            if lo <= last.1 || succ(last.1) == Some(lo) {
                if hi > last.1 {
                    last.1 = hi;
                }
                continue;
            }
        }
        out.push((lo, hi));
    }
    *v = out;
}

fn contains<T: Ord + Copy>(v: &[(T, T)], x: T) -> bool {
    let i = v.partition_point(|r| r.0 <= x);
    i > 0 && v[i - 1].1 >= x
}

impl IpSet {
    /// Builds from CIDR blocks and bare addresses (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`).
    pub fn build<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<IpSet, String> {
        let mut s = IpSet::default();
        for it in items {
            let t = it.trim();
            let net: IpNet = match t.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => match t.parse::<IpAddr>() {
                    Ok(a) => IpNet::from(a),
                    Err(_) => return Err(format!("{t:?} is not an IP address or CIDR block")),
                },
            };
            match net {
                IpNet::V4(n) => s.v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => s.v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        merge(&mut s.v4, |x: u32| x.checked_add(1));
        merge(&mut s.v6, |x: u128| x.checked_add(1));
        Ok(s)
    }

    /// True when `ip` is in the set (an IPv4-mapped IPv6 address is looked up as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => contains(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(m) => contains(&self.v4, u32::from(m)),
                None => contains(&self.v6, u128::from(a)),
            },
        }
    }

    /// Number of merged ranges.
    #[cfg(test)]
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// Address blocks that are not globally routable: private, shared, loopback,
/// link-local, documentation, benchmarking, multicast and reserved (RFC 6890 and friends).
const NON_PUBLIC: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// True for a globally routable address. IPv6 outside 2000::/3 is not public.
pub fn is_public(ip: IpAddr) -> bool {
    static SET: std::sync::OnceLock<IpSet> = std::sync::OnceLock::new();
    let set = SET.get_or_init(|| IpSet::build(NON_PUBLIC.iter().copied()).unwrap_or_default());
    if let IpAddr::V6(a) = ip {
        if a.to_ipv4_mapped().is_none() && (a.segments()[0] & 0xe000) != 0x2000 {
            return false;
        }
    }
    !set.contains(ip)
}

/// Sorted, disjoint inclusive port ranges.
#[derive(Debug, Default, Clone)]
pub(crate) struct PortSet(Vec<(u16, u16)>);

impl PortSet {
    pub fn build(mut v: Vec<(u16, u16)>) -> PortSet {
        merge(&mut v, |x: u16| x.checked_add(1));
        PortSet(v)
    }
    pub fn contains(&self, p: u16) -> bool {
        contains(&self.0, p)
    }
}

/// `"443"`, `"1000-2000"`, `"1024:"` (open-ended, Suricata style) or `":1023"`.
pub(crate) fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let s = s.trim();
    let sep = s.find(['-', ':']);
    match sep {
        None => s.parse().ok().map(|p| (p, p)),
        Some(i) => {
            let (a, b) = (s[..i].trim(), s[i + 1..].trim());
            let lo = if a.is_empty() { 0 } else { a.parse().ok()? };
            let hi = if b.is_empty() { u16::MAX } else { b.parse().ok()? };
            (lo <= hi).then_some((lo, hi))
        }
    }
}

/// A sorted set of 16-bit code points (ciphers, groups, versions, alert descriptions).
#[derive(Debug, Default, Clone)]
pub(crate) struct CodeSet(Vec<u16>);

impl CodeSet {
    pub fn build(mut v: Vec<u16>) -> CodeSet {
        v.sort_unstable();
        v.dedup();
        CodeSet(v)
    }
    pub fn contains(&self, x: u16) -> bool {
        self.0.binary_search(&x).is_ok()
    }
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> StrSet {
        v.iter().map(|s| Box::from(*s)).collect()
    }

    #[test]
    fn suffix_at_label_boundaries() {
        let s = set(&["example.com", "co.uk"]);
        assert!(suffix_match(&s, "example.com"));
        assert!(suffix_match(&s, "a.b.example.com"));
        assert!(!suffix_match(&s, "badexample.com"), "not at a label boundary");
        assert!(!suffix_match(&s, "example.com.evil.net"));
        assert!(suffix_match(&s, "bbc.co.uk"));
        assert!(!suffix_match(&s, ""));
        let long = "a.".repeat(500) + "example.com";
        assert!(!suffix_match(&s, &long), "more labels than the cap: not walked to the end");
    }

    #[test]
    fn str_matcher_kinds() {
        let m = StrMatcher {
            exact: set(&["x"]),
            suffixes: set(&["example.org"]),
            regex: regex_set(&["^evil[0-9]+\\.".to_string(), regex::escape("needle")]).unwrap(),
            lists: vec![Arc::new(List { name: "l".into(), source: "f".into(), entries: set(&["fromlist"]) })],
        };
        assert!(m.is_match("x"));
        assert!(m.is_match("www.example.org"));
        assert!(m.is_match("evil42.net"));
        assert!(m.is_match("haystack-needle-haystack"));
        assert!(m.is_match("fromlist"));
        assert!(!m.is_match("y"));
        assert!(!m.exact_only());
        assert!(regex_set(&["(".to_string()]).is_err());
    }

    #[test]
    fn cidr_ranges_merge_and_lookup() {
        let s =
            IpSet::build(["10.0.0.0/8", "10.1.0.0/16", "192.0.2.7", "192.0.2.8", "2001:db8::/32"]).unwrap();
        assert_eq!(s.ranges(), 3, "nested and adjacent blocks merge");
        assert!(s.contains("10.200.3.4".parse().unwrap()));
        assert!(s.contains("192.0.2.8".parse().unwrap()));
        assert!(!s.contains("192.0.2.9".parse().unwrap()));
        assert!(!s.contains("11.0.0.0".parse().unwrap()));
        assert!(s.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!s.contains("2001:db9::".parse().unwrap()));
        assert!(s.contains("::ffff:10.0.0.1".parse().unwrap()), "v4-mapped looked up as v4");
        assert!(IpSet::build(["10.0.0.0/33"]).is_err());
        assert!(IpSet::build(["example.com"]).is_err());
        let all = IpSet::build(["0.0.0.0/0"]).unwrap();
        assert!(all.contains("255.255.255.255".parse().unwrap()));
    }

    #[test]
    fn public_addresses() {
        for a in ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
        for a in [
            "10.1.2.3",
            "127.0.0.1",
            "192.168.1.1",
            "172.31.0.1",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "224.0.0.1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn ports_and_codes() {
        assert_eq!(parse_port_range("443"), Some((443, 443)));
        assert_eq!(parse_port_range("1000-2000"), Some((1000, 2000)));
        assert_eq!(parse_port_range("1024:"), Some((1024, 65535)));
        assert_eq!(parse_port_range(":1023"), Some((0, 1023)));
        assert_eq!(parse_port_range("2-1"), None);
        assert_eq!(parse_port_range("70000"), None);
        let p = PortSet::build(vec![(443, 443), (8000, 8100), (444, 444)]);
        assert!(p.contains(444) && p.contains(8050) && !p.contains(445));
        let c = CodeSet::build(vec![5, 1, 5, 3]);
        assert_eq!(c.len(), 3);
        assert!(c.contains(3) && !c.contains(2));
    }
}
