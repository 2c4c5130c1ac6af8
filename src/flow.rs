//! Flow keys: the canonical 5-tuple (+ VLAN ids), direction, and a stable flow id.

use std::hash::{Hash, Hasher};
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
        let (lo, hi, dir) = if a <= b { (a, b, Dir::LoToHi) } else { (b, a, Dir::HiToLo) };
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
}
