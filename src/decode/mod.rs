//! Frame decoding: link layer, VLAN tags, tunnels, IP, TCP and UDP, down to the innermost
//! transport header.
//!
//! The decoder is lax in the way a monitor must be: it never panics, and when it cannot
//! go on it says at which layer and why ([`DecodeError`]). The link layer and the tunnel
//! headers are read here by hand (they are a few fixed fields each, and no crate decodes
//! ERSPAN, GENEVE, GTP-U and SLL2 together); IPv4, IPv6 with its extension headers, TCP
//! and UDP are read with `etherparse`'s lax slices, except for the common cases, IPv4 and
//! IPv6 (no extension header) carrying a whole TCP header, which are read by hand and
//! tested and fuzzed against `etherparse` ([`decode_reference`]).
//!
//! Every nesting is bounded: at most [`MAX_VLAN_TAGS`] VLAN tags and at most
//! [`MAX_ENCAPSULATIONS`] tunnel layers; deeper frames are reported, not followed.

use std::net::IpAddr;

use etherparse::{LaxIpSlice, TcpSlice, UdpSlice};

/// Most VLAN tags followed in one frame (802.1Q, 802.1ad, QinQ stacks).
pub const MAX_VLAN_TAGS: usize = 8;
/// Most tunnel layers (GRE, ERSPAN, VXLAN, GENEVE, GTP-U, IP-in-IP) followed in one frame.
pub const MAX_ENCAPSULATIONS: usize = 8;
/// VLAN ids kept for the flow key and the event (outermost first).
pub const VLAN_IDS_KEPT: usize = 3;

/// Link-layer header types (LINKTYPE_* values, tcpdump.org) that the decoder knows.
pub mod linktype {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II.
    pub const ETHERNET: u32 = 1;
    /// PPP (RFC 1661), protocol field possibly preceded by address/control.
    pub const PPP: u32 = 9;
    /// Raw IP as some BSDs number DLT_RAW.
    pub const RAW_12: u32 = 12;
    /// Raw IP as OpenBSD numbers DLT_RAW.
    pub const RAW_14: u32 = 14;
    /// PPP in HDLC-like framing (RFC 1662).
    pub const PPP_HDLC: u32 = 50;
    /// Raw IPv4 or IPv6.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: address family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: u32 = 276;
}

/// Where decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// The capture's link type is not one we decode.
    UnsupportedLinktype(u32),
    /// A header was cut short (snaplen or a malformed length).
    Truncated(Layer),
    /// An EtherType, PPP protocol or address family that carries no IP.
    NotIp,
    /// An IP payload we do not follow (ICMP, ESP, SCTP, ...).
    UnsupportedIpProto(u8),
    /// A non-first IP fragment, or a first fragment: not reassembled.
    IpFragment,
    /// A header field is invalid (IP version, header length, ...).
    Malformed(Layer),
    /// More VLAN tags or tunnel layers than the caps allow.
    TooDeep,
}

/// Protocol layer names for errors and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Link layer (Ethernet, SLL, loopback, PPP).
    Link,
    /// VLAN tag.
    Vlan,
    /// Tunnel header (GRE, ERSPAN, VXLAN, GENEVE, GTP-U, MPLS, PPPoE).
    Tunnel,
    /// IPv4 or IPv6 header.
    Ip,
    /// TCP header.
    Tcp,
    /// UDP header.
    Udp,
}

impl DecodeError {
    /// Every value [`DecodeError::kind`] can return.
    pub const KINDS: [&'static str; 7] = [
        "unsupported_linktype",
        "truncated",
        "not_ip",
        "unsupported_ip_proto",
        "ip_fragment",
        "malformed",
        "too_deep",
    ];

    /// A short stable name for metrics labels and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::UnsupportedLinktype(_) => "unsupported_linktype",
            DecodeError::Truncated(_) => "truncated",
            DecodeError::NotIp => "not_ip",
            DecodeError::UnsupportedIpProto(_) => "unsupported_ip_proto",
            DecodeError::IpFragment => "ip_fragment",
            DecodeError::Malformed(_) => "malformed",
            DecodeError::TooDeep => "too_deep",
        }
    }
}

/// TCP header fields the reassembler needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack_flag: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
}

/// The transport layer of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP with its header fields.
    Tcp(TcpInfo),
    /// UDP.
    Udp,
}

/// A decoded packet: the innermost IP/transport view of a frame, borrowing the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// VLAN ids, outermost first (up to [`VLAN_IDS_KEPT`]).
    pub vlans: [u16; VLAN_IDS_KEPT],
    /// Number of valid entries in `vlans`.
    pub vlan_count: u8,
    /// Source address of the innermost IP header.
    pub src: IpAddr,
    /// Destination address of the innermost IP header.
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// TCP or UDP.
    pub transport: Transport,
    /// Transport payload as captured.
    pub payload: &'a [u8],
    /// Payload bytes the snaplen cut off the end of `payload` (0 for a whole frame).
    pub payload_missing: u32,
}

impl Packet<'_> {
    /// The VLAN ids of this packet, outermost first.
    pub fn vlan_ids(&self) -> &[u16] {
        &self.vlans[..usize::from(self.vlan_count)]
    }

    /// This packet without the borrow of its frame (`frame` must be the bytes it was
    /// decoded from; `None` when its payload is not inside them).
    pub fn detach(&self, frame: &[u8]) -> Option<Detached> {
        // Address arithmetic on the two slices, no dereference: the payload is a
        // sub-slice of the frame for every decoder in this module (an empty one may point
        // anywhere, and any empty range will do).
        let start = if self.payload.is_empty() {
            0
        } else {
            (self.payload.as_ptr() as usize).checked_sub(frame.as_ptr() as usize)?
        };
        let end = start.checked_add(self.payload.len())?;
        if end > frame.len() {
            return None;
        }
        Some(Detached {
            packet: Packet { payload: &[], ..self.clone() },
            start: u32::try_from(start).ok()?,
            len: u32::try_from(self.payload.len()).ok()?,
        })
    }
}

/// A [`Packet`] whose payload is kept as a range of its frame instead of a borrow. The
/// reading thread decodes every frame to find its worker; the decoded packet travels with
/// the frame so the worker does not decode it a second time.
#[derive(Debug, Clone)]
pub struct Detached {
    /// The packet, with an empty payload.
    packet: Packet<'static>,
    start: u32,
    len: u32,
}

impl Detached {
    /// The packet again, its payload in `frame` (the frame it was decoded from); `None`
    /// when `frame` is too short for the range.
    pub fn attach<'a>(&self, frame: &'a [u8]) -> Option<Packet<'a>> {
        let (start, len) = (self.start as usize, self.len as usize);
        let payload = frame.get(start..start.checked_add(len)?)?;
        Some(Packet { payload, ..self.packet.clone() })
    }
}

struct Ctx {
    vlans: [u16; VLAN_IDS_KEPT],
    vlan_count: u8,
    vlan_depth: usize,
    encaps: usize,
    missing: u32,
    /// Take the hand-written IPv4/TCP and IPv6/TCP paths ([`ipv4_tcp`], [`ipv6_tcp`]) when
    /// they apply.
    fast: bool,
}

impl Ctx {
    /// The state at the start of a frame: no VLAN tag or tunnel seen yet.
    #[inline(always)]
    fn new(missing: u32, fast: bool) -> Self {
        Ctx { vlans: [0; VLAN_IDS_KEPT], vlan_count: 0, vlan_depth: 0, encaps: 0, missing, fast }
    }

    fn push_vlan(&mut self, id: u16) -> Result<(), DecodeError> {
        self.vlan_depth += 1;
        if self.vlan_depth > MAX_VLAN_TAGS {
            return Err(DecodeError::TooDeep);
        }
        if usize::from(self.vlan_count) < VLAN_IDS_KEPT {
            self.vlans[usize::from(self.vlan_count)] = id;
            self.vlan_count += 1;
        }
        Ok(())
    }

    fn enter_tunnel(&mut self) -> Result<(), DecodeError> {
        self.encaps += 1;
        if self.encaps > MAX_ENCAPSULATIONS { Err(DecodeError::TooDeep) } else { Ok(()) }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Decodes one frame of link type `linktype`. `missing` is how many bytes the snaplen cut
/// off the end of the frame (wire length minus captured length).
#[inline(always)]
pub fn decode(linktype: u32, frame: &[u8], missing: u32) -> Result<Packet<'_>, DecodeError> {
    // Ethernet, untagged or with one 802.1Q tag, carrying IPv4 or IPv6 with TCP, inlined
    // into the caller: the packet is built where it is used. Returned from `decode_with`,
    // it was written field by field and copied on in wider loads, which stalled on store
    // forwarding (in perf annotate, 18% of the reading thread's `frame_in` sat on one such
    // load, and a tenth again once only IPv6 and tagged frames came that way). Exactly
    // what `decode_with` gives such a frame: `ethernet`, `ethertype` (the tag pushed as
    // `push_vlan` does), then `ip`'s fast paths; the tests that hold those to
    // `etherparse` go through here.
    if linktype == linktype::ETHERNET && frame.len() >= 14 {
        let mut ctx = Ctx::new(missing, true);
        let (mut et, mut rest) = (u16::from_be_bytes([frame[12], frame[13]]), &frame[14..]);
        // One 802.1Q tag, as `ethertype` reads it. (Written out, not through `push_vlan`
        // and a shared version dispatch with `ip`: that version made the packet's later
        // copy stall on store forwarding, 38% of `frame_in`'s samples against 11%.)
        if et == 0x8100 && rest.len() >= 4 {
            let tci = u16::from_be_bytes([rest[0], rest[1]]);
            et = u16::from_be_bytes([rest[2], rest[3]]);
            rest = &rest[4..];
            ctx.vlans[0] = tci & 0x0fff;
            ctx.vlan_count = 1;
        }
        let fast = match et {
            0x0800 => ipv4_tcp(&ctx, rest),
            0x86dd => ipv6_tcp(&ctx, rest),
            _ => None,
        };
        if let Some(p) = fast {
            return Ok(p);
        }
    }
    decode_with(linktype, frame, missing, true)
}

/// [`decode`] of a captured frame (its wire length gives `missing`).
#[inline(always)]
pub fn decode_frame<'a>(frame: &crate::capture::Frame<'a>) -> Result<Packet<'a>, DecodeError> {
    let missing = frame.orig_len.saturating_sub(frame.data.len() as u32);
    decode(frame.linktype, frame.data, missing)
}

/// [`decode`] without the hand-written IP/TCP paths: every IP header through `etherparse`
/// (the reference the fast path is tested and fuzzed against).
pub fn decode_reference(linktype: u32, frame: &[u8], missing: u32) -> Result<Packet<'_>, DecodeError> {
    decode_with(linktype, frame, missing, false)
}

fn decode_with(linktype: u32, frame: &[u8], missing: u32, fast: bool) -> Result<Packet<'_>, DecodeError> {
    let mut ctx = Ctx::new(missing, fast);
    let trunc = DecodeError::Truncated(Layer::Link);
    match linktype {
        linktype::ETHERNET => ethernet(&mut ctx, frame),
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 | linktype::IPV6 => {
            ip(&mut ctx, frame)
        }
        linktype::NULL | linktype::LOOP => {
            let fam = frame.get(..4).ok_or(trunc)?;
            let fam = if linktype == linktype::LOOP {
                u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]])
            } else {
                // Host byte order of the machine that captured: take whichever reading is small.
                let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
                if le < 0x100 { le } else { u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]) }
            };
            match fam {
                // AF_INET everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD),
                // 30 (macOS).
                2 | 10 | 24 | 28 | 30 => ip(&mut ctx, &frame[4..]),
                _ => Err(DecodeError::NotIp),
            }
        }
        linktype::LINUX_SLL => {
            let proto = be16(frame, 14).ok_or(trunc)?;
            ethertype(&mut ctx, proto, &frame[16..])
        }
        linktype::LINUX_SLL2 => {
            let proto = be16(frame, 0).ok_or(trunc)?;
            if frame.len() < 20 {
                return Err(trunc);
            }
            ethertype(&mut ctx, proto, &frame[20..])
        }
        linktype::PPP | linktype::PPP_HDLC => ppp(&mut ctx, frame),
        other => Err(DecodeError::UnsupportedLinktype(other)),
    }
}

fn ethernet<'a>(ctx: &mut Ctx, frame: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    let et = be16(frame, 12).ok_or(DecodeError::Truncated(Layer::Link))?;
    ethertype(ctx, et, &frame[14..])
}

fn ethertype<'a>(ctx: &mut Ctx, mut et: u16, mut rest: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    loop {
        match et {
            0x0800 | 0x86dd => return ip(ctx, rest),
            // 802.1Q, 802.1ad, and the pre-standard QinQ types.
            0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
                let tci = be16(rest, 0).ok_or(DecodeError::Truncated(Layer::Vlan))?;
                et = be16(rest, 2).ok_or(DecodeError::Truncated(Layer::Vlan))?;
                ctx.push_vlan(tci & 0x0fff)?;
                rest = &rest[4..];
            }
            // MPLS unicast/multicast: skip the label stack, then guess IPv4/IPv6 by version.
            0x8847 | 0x8848 => {
                ctx.enter_tunnel()?;
                let mut off = 0;
                loop {
                    let entry = rest.get(off..off + 4).ok_or(DecodeError::Truncated(Layer::Tunnel))?;
                    off += 4;
                    if entry[2] & 1 == 1 {
                        break;
                    }
                    if off > 4 * 16 {
                        return Err(DecodeError::TooDeep);
                    }
                }
                return ip(ctx, &rest[off..]);
            }
            // PPPoE session: 6-byte header, then a PPP protocol field.
            0x8864 => {
                ctx.enter_tunnel()?;
                if rest.len() < 6 {
                    return Err(DecodeError::Truncated(Layer::Tunnel));
                }
                return ppp(ctx, &rest[6..]);
            }
            _ => return Err(DecodeError::NotIp),
        }
    }
}

fn ppp<'a>(ctx: &mut Ctx, mut b: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    if b.len() >= 2 && b[0] == 0xff && b[1] == 0x03 {
        b = &b[2..];
    }
    // The protocol field is one byte when its low bit is set (protocol field compression).
    let first = *b.first().ok_or(DecodeError::Truncated(Layer::Link))?;
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), &b[1..])
    } else {
        (be16(b, 0).ok_or(DecodeError::Truncated(Layer::Link))?, &b[2..])
    };
    match proto {
        0x0021 | 0x0057 => ip(ctx, rest),
        _ => Err(DecodeError::NotIp),
    }
}

/// The common case read by hand: IPv4 without fragmentation carrying TCP, whose headers are
/// all there. `None` for anything else, which then goes through [`ip`] (`etherparse`).
/// Gives exactly what [`ip`] gives for such a packet (same lax `total_len` rules: a length
/// below the header or beyond the frame falls back to the frame's end, the latter marking
/// the payload incomplete); a test compares the two over every frame of the captures and
/// their cuts and byte changes, and the `decode` fuzz target over arbitrary frames.
#[inline(always)]
fn ipv4_tcp<'a>(ctx: &Ctx, b: &'a [u8]) -> Option<Packet<'a>> {
    let h = b.get(..20)?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let fragmented = u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0;
    if h[0] >> 4 != 4 || ihl < 20 || b.len() < ihl || fragmented || h[9] != 6 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let (body, incomplete) = if total < ihl {
        (&b[ihl..], false)
    } else if total > b.len() {
        (&b[ihl..], true)
    } else {
        (&b[ihl..total], false)
    };
    let src = IpAddr::from([h[12], h[13], h[14], h[15]]);
    let dst = IpAddr::from([h[16], h[17], h[18], h[19]]);
    tcp_in(ctx, src, dst, body, incomplete)
}

/// [`ipv4_tcp`] for IPv6 whose first next header is TCP (no extension header), with
/// `etherparse`'s lax `payload_length` rules: 0 (a jumbogram, or a length never filled
/// in) and a length beyond the frame both fall back to the frame's end, only the latter
/// marking the payload incomplete. A quarter of the benchmark capture's frames are IPv6;
/// through `etherparse` each cost about three times an IPv4 one on the reading thread.
#[inline(always)]
fn ipv6_tcp<'a>(ctx: &Ctx, b: &'a [u8]) -> Option<Packet<'a>> {
    let h = b.get(..40)?;
    if h[0] >> 4 != 6 || h[6] != 6 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let rest = &b[40..];
    let (body, incomplete) = if len == 0 && !rest.is_empty() {
        (rest, false)
    } else if len > rest.len() {
        (rest, true)
    } else {
        (&rest[..len], false)
    };
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&h[at..at + 16]);
        IpAddr::from(a)
    };
    tcp_in(ctx, addr(8), addr(24), body, incomplete)
}

/// The TCP segment `body` of an IP packet from `src` to `dst`, when its header is all
/// there (`TcpSlice`'s checks); `None` otherwise (the caller's fallback then reports it).
#[inline(always)]
fn tcp_in<'a>(ctx: &Ctx, src: IpAddr, dst: IpAddr, body: &'a [u8], incomplete: bool) -> Option<Packet<'a>> {
    let t = body.get(..20)?;
    let doff = usize::from(t[12] >> 4) * 4;
    if doff < 20 || body.len() < doff {
        return None;
    }
    let flags = t[13];
    Some(Packet {
        vlans: ctx.vlans,
        vlan_count: ctx.vlan_count,
        src,
        dst,
        sport: u16::from_be_bytes([t[0], t[1]]),
        dport: u16::from_be_bytes([t[2], t[3]]),
        transport: Transport::Tcp(TcpInfo {
            seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
            ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
            syn: flags & 0x02 != 0,
            ack_flag: flags & 0x10 != 0,
            fin: flags & 0x01 != 0,
            rst: flags & 0x04 != 0,
        }),
        payload: &body[doff..],
        payload_missing: if incomplete { ctx.missing.max(1) } else { 0 },
    })
}

fn ip<'a>(ctx: &mut Ctx, b: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    if ctx.fast {
        let fast = match b.first().map(|v| v >> 4) {
            Some(4) => ipv4_tcp(ctx, b),
            Some(6) => ipv6_tcp(ctx, b),
            _ => None,
        };
        if let Some(p) = fast {
            return Ok(p);
        }
    }
    let (slice, _ext_err) = LaxIpSlice::from_slice(b).map_err(|e| match e {
        etherparse::err::ip::LaxHeaderSliceError::Len(_) => DecodeError::Truncated(Layer::Ip),
        etherparse::err::ip::LaxHeaderSliceError::Content(_) => DecodeError::Malformed(Layer::Ip),
    })?;
    let payload = slice.payload();
    if payload.fragmented {
        return Err(DecodeError::IpFragment);
    }
    let src = slice.source_addr();
    let dst = slice.destination_addr();
    let body = payload.payload;
    let incomplete = payload.incomplete;
    match payload.ip_number.0 {
        6 => {
            let tcp = TcpSlice::from_slice(body).map_err(|_| DecodeError::Truncated(Layer::Tcp))?;
            let p = tcp.payload();
            Ok(Packet {
                vlans: ctx.vlans,
                vlan_count: ctx.vlan_count,
                src,
                dst,
                sport: tcp.source_port(),
                dport: tcp.destination_port(),
                transport: Transport::Tcp(TcpInfo {
                    seq: tcp.sequence_number(),
                    ack: tcp.acknowledgment_number(),
                    syn: tcp.syn(),
                    ack_flag: tcp.ack(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                }),
                payload: p,
                payload_missing: if incomplete { ctx.missing.max(1) } else { 0 },
            })
        }
        17 => {
            let udp = UdpSlice::from_slice_lax(body).map_err(|_| DecodeError::Truncated(Layer::Udp))?;
            let (sport, dport) = (udp.source_port(), udp.destination_port());
            if let Some(inner) = udp_tunnel(ctx, sport, dport, udp.payload()) {
                return inner;
            }
            Ok(Packet {
                vlans: ctx.vlans,
                vlan_count: ctx.vlan_count,
                src,
                dst,
                sport,
                dport,
                transport: Transport::Udp,
                payload: udp.payload(),
                payload_missing: if incomplete { ctx.missing.max(1) } else { 0 },
            })
        }
        // IPv4-in-IP and IPv6-in-IP.
        4 | 41 => {
            ctx.enter_tunnel()?;
            ip(ctx, body)
        }
        47 => gre(ctx, body),
        other => Err(DecodeError::UnsupportedIpProto(other)),
    }
}

/// GRE (RFC 2784/2890), including ERSPAN types I, II and III carried in it.
fn gre<'a>(ctx: &mut Ctx, b: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    ctx.enter_tunnel()?;
    let trunc = DecodeError::Truncated(Layer::Tunnel);
    let flags = be16(b, 0).ok_or(trunc)?;
    let proto = be16(b, 2).ok_or(trunc)?;
    let version = flags & 0x7;
    if version != 0 {
        // Version 1 is PPTP's enhanced GRE: PPP inside, with its own header layout.
        if version == 1 && proto == 0x880b {
            let mut off = 8; // flags, proto, payload length, call id
            if flags & 0x1000 != 0 {
                off += 4; // sequence number
            }
            if flags & 0x0080 != 0 {
                off += 4; // acknowledgement number
            }
            return ppp(ctx, b.get(off..).ok_or(trunc)?);
        }
        return Err(DecodeError::Malformed(Layer::Tunnel));
    }
    let has_seq = flags & 0x1000 != 0;
    let mut off = 4;
    if flags & 0x8000 != 0 {
        off += 4; // checksum + reserved
    }
    if flags & 0x2000 != 0 {
        off += 4; // key
    }
    if has_seq {
        off += 4;
    }
    let rest = b.get(off..).ok_or(trunc)?;
    match proto {
        // Transparent Ethernet bridging.
        0x6558 => ethernet(ctx, rest),
        // ERSPAN type II has an 8-byte header (and GRE sequence numbers); type I has none.
        0x88be => {
            if has_seq {
                ethernet(ctx, rest.get(8..).ok_or(trunc)?)
            } else {
                ethernet(ctx, rest)
            }
        }
        // ERSPAN type III: 12-byte header, plus an 8-byte platform subheader when O is set.
        0x22eb => {
            let hdr = rest.get(..12).ok_or(trunc)?;
            let skip = if hdr[11] & 0x01 != 0 { 20 } else { 12 };
            ethernet(ctx, rest.get(skip..).ok_or(trunc)?)
        }
        et => ethertype(ctx, et, rest),
    }
}

/// VXLAN (4789, Linux's old 8472), GENEVE (6081) and GTP-U (2152) are recognised by their
/// well-known destination port and a valid header; anything else is plain UDP.
fn udp_tunnel<'a>(
    ctx: &mut Ctx,
    _sport: u16,
    dport: u16,
    b: &'a [u8],
) -> Option<Result<Packet<'a>, DecodeError>> {
    match dport {
        4789 | 8472 if b.len() >= 8 + 14 && b[0] & 0x08 != 0 => {
            Some(ctx.enter_tunnel().and_then(|_| ethernet(ctx, &b[8..])))
        }
        6081 if b.len() >= 8 && b[0] >> 6 == 0 => {
            let opt_len = usize::from(b[0] & 0x3f) * 4;
            let proto = u16::from_be_bytes([b[2], b[3]]);
            let rest = b.get(8 + opt_len..)?;
            Some(ctx.enter_tunnel().and_then(|_| match proto {
                0x6558 => ethernet(ctx, rest),
                et => ethertype(ctx, et, rest),
            }))
        }
        2152 if b.len() >= 8 && b[0] >> 5 == 1 && b[0] & 0x10 != 0 && b[1] == 0xff => {
            Some(ctx.enter_tunnel().and_then(|_| gtp_u(ctx, b)))
        }
        _ => None,
    }
}

/// GTP-U (3GPP TS 29.281) G-PDU: an 8-byte header, 4 more bytes when any of E/S/PN is set,
/// then a chain of extension headers (length in 4-byte units) when E is set.
fn gtp_u<'a>(ctx: &mut Ctx, b: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    let trunc = DecodeError::Truncated(Layer::Tunnel);
    let flags = b[0];
    let mut off = 8;
    if flags & 0x07 != 0 {
        let next_at = 11;
        off = 12;
        if flags & 0x04 != 0 {
            let mut next = *b.get(next_at).ok_or(trunc)?;
            let mut hops = 0;
            while next != 0 {
                hops += 1;
                if hops > 16 {
                    return Err(DecodeError::TooDeep);
                }
                let units = usize::from(*b.get(off).ok_or(trunc)?);
                if units == 0 {
                    return Err(DecodeError::Malformed(Layer::Tunnel));
                }
                off += units * 4;
                next = *b.get(off - 1).ok_or(trunc)?;
            }
        }
    }
    ip(ctx, b.get(off..).ok_or(trunc)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_ipv4(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .tcp(40000, 443, 1000, 65535)
            .ack(5)
            .psh();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn eth(et: u16, inner: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&et.to_be_bytes());
        v.extend_from_slice(inner);
        v
    }

    #[test]
    fn raw_and_ethernet_ipv4_tcp() {
        let ip = tcp_ipv4(b"hello");
        for (lt, frame) in [(linktype::RAW, ip.clone()), (linktype::ETHERNET, eth(0x0800, &ip))] {
            let p = decode(lt, &frame, 0).unwrap();
            assert_eq!(p.src.to_string(), "198.18.0.1");
            assert_eq!(p.dport, 443);
            assert_eq!(p.payload, b"hello");
            match p.transport {
                Transport::Tcp(t) => {
                    assert_eq!(t.seq, 1000);
                    assert!(t.ack_flag && !t.syn);
                }
                Transport::Udp => panic!("expected tcp"),
            }
        }
    }

    #[test]
    fn vlan_stack_is_bounded_and_recorded() {
        let ip = tcp_ipv4(b"x");
        let mut inner = Vec::new();
        for (i, _) in (0..3).enumerate() {
            inner.extend_from_slice(&(100 + i as u16).to_be_bytes());
            inner.extend_from_slice(&(if i < 2 { 0x8100u16 } else { 0x0800 }).to_be_bytes());
        }
        inner.extend_from_slice(&ip);
        let frame = eth(0x88a8, &inner);
        let p = decode(linktype::ETHERNET, &frame, 0).unwrap();
        assert_eq!(p.vlan_ids(), &[100, 101, 102]);

        let mut deep = Vec::new();
        for _ in 0..MAX_VLAN_TAGS + 1 {
            deep.extend_from_slice(&[0x00, 0x05, 0x81, 0x00]);
        }
        deep.extend_from_slice(&ip);
        assert_eq!(decode(linktype::ETHERNET, &eth(0x8100, &deep), 0), Err(DecodeError::TooDeep));
    }

    #[test]
    fn sll_sll2_null_loop_ppp() {
        let ip = tcp_ipv4(b"abc");
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(&ip);
        assert_eq!(decode(linktype::LINUX_SLL, &sll, 0).unwrap().payload, b"abc");

        let mut sll2 = 0x0800u16.to_be_bytes().to_vec();
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        assert_eq!(decode(linktype::LINUX_SLL2, &sll2, 0).unwrap().payload, b"abc");

        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert_eq!(decode(linktype::NULL, &null, 0).unwrap().payload, b"abc");
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend_from_slice(&ip);
        assert_eq!(decode(linktype::LOOP, &lo, 0).unwrap().payload, b"abc");
        assert_eq!(decode(linktype::NULL, &lo, 0).unwrap().payload, b"abc");

        let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
        ppp.extend_from_slice(&ip);
        assert_eq!(decode(linktype::PPP, &ppp, 0).unwrap().payload, b"abc");
    }

    #[test]
    fn tunnels_reach_innermost_tcp() {
        let ip = tcp_ipv4(b"inner");
        let inner_eth = eth(0x0800, &ip);
        // GRE transparent ethernet bridging inside IPv4.
        let mut gre = vec![0x00, 0x00, 0x65, 0x58];
        gre.extend_from_slice(&inner_eth);
        let mut outer = Vec::new();
        PacketBuilder::ipv4([198, 18, 1, 1], [198, 18, 1, 2], 64)
            .write(&mut outer, etherparse::IpNumber(47), &gre)
            .unwrap();
        let p = decode(linktype::RAW, &outer, 0).unwrap();
        assert_eq!(p.payload, b"inner");
        assert_eq!(p.src.to_string(), "198.18.0.1");

        // VXLAN over UDP.
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 0x01, 0];
        vx.extend_from_slice(&inner_eth);
        let mut outer = Vec::new();
        PacketBuilder::ipv4([198, 18, 1, 1], [198, 18, 1, 2], 64)
            .udp(5555, 4789)
            .write(&mut outer, &vx)
            .unwrap();
        assert_eq!(decode(linktype::RAW, &outer, 0).unwrap().payload, b"inner");

        // GENEVE with 4 bytes of options, carrying IPv4 directly.
        let mut gv = vec![0x01, 0x00, 0x08, 0x00, 0, 0, 1, 0, 1, 2, 3, 4];
        gv.extend_from_slice(&ip);
        let mut outer = Vec::new();
        PacketBuilder::ipv4([198, 18, 1, 1], [198, 18, 1, 2], 64)
            .udp(5555, 6081)
            .write(&mut outer, &gv)
            .unwrap();
        assert_eq!(decode(linktype::RAW, &outer, 0).unwrap().payload, b"inner");

        // GTP-U G-PDU with a sequence number (S flag) and no extension header.
        let mut gtp = vec![0x32, 0xff, 0, 0, 0, 0, 0, 1, 0, 7, 0, 0];
        gtp.extend_from_slice(&ip);
        let mut outer = Vec::new();
        PacketBuilder::ipv4([198, 18, 1, 1], [198, 18, 1, 2], 64)
            .udp(2152, 2152)
            .write(&mut outer, &gtp)
            .unwrap();
        assert_eq!(decode(linktype::RAW, &outer, 0).unwrap().payload, b"inner");
    }

    #[test]
    fn every_truncation_is_an_error_or_shorter_payload_never_a_panic() {
        let ip = tcp_ipv4(b"payload!");
        let frame = eth(0x0800, &ip);
        for cut in 0..frame.len() {
            let missing = (frame.len() - cut) as u32;
            match decode(linktype::ETHERNET, &frame[..cut], missing) {
                Ok(p) => {
                    assert!(p.payload.len() < 8);
                    assert!(p.payload_missing > 0, "cut {cut} must report missing bytes");
                }
                Err(e) => assert!(matches!(e, DecodeError::Truncated(_)), "cut {cut}: {e:?}"),
            }
        }
    }

    #[test]
    fn unknown_linktype_and_non_ip() {
        assert_eq!(decode(9999, &[0; 40], 0), Err(DecodeError::UnsupportedLinktype(9999)));
        assert_eq!(decode(linktype::ETHERNET, &eth(0x0806, &[0; 28]), 0), Err(DecodeError::NotIp));
    }
}
