//! QUIC Initial packets: the UDP payloads of one flow in, the CRYPTO stream bytes of the
//! client's and the server's Initial packet number space out (RFC 9000, RFC 9001, and
//! RFC 9369 for version 2).
//!
//! Knows nothing about UDP or flows: [`QuicConn`] is fed the payloads of one UDP flow,
//! each tagged with the side the caller believes sent it (or not tagged), and decrypts the
//! Initial packets in them. Initial keys are public: they are derived from the
//! Destination Connection ID of the client's first Initial (or, after a Retry, of the
//! first Initial that follows it) and a per-version salt.
//!
//! Which connection ID the keys come from is not tracked by following the protocol's
//! state machine, which a capture may show only in part (packets lost, reordered, or
//! before its start). Instead a client Initial is tried with the keys that opened the last
//! client Initial, then with keys from its own Destination Connection ID (the first packet,
//! or the first after a Retry); a server Initial with the keys of the connection IDs that
//! opened client Initials, most recent first. The AEAD tag decides, so a packet is also
//! attributed to the right side when the caller's belief is wrong or absent. A server
//! Initial seen before any client Initial cannot be opened; it is counted and skipped.
//!
//! Decrypted payloads are parsed for the frames an Initial may carry (PADDING, PING, ACK,
//! CRYPTO, CONNECTION_CLOSE); CRYPTO data is reassembled per side by offset
//! ([`crypto_buf`]). The caller parses the contiguous prefix as TLS handshake messages.
//!
//! Everything is bounded: connection IDs are at most 20 bytes, every length is checked
//! against the bytes present, at most [`MAX_PACKETS_PER_DATAGRAM`] packets are walked per
//! datagram, at most [`MAX_KEY_SETS`] key sets are cached, and CRYPTO buffering is capped
//! by [`QuicLimits`].

pub mod crypto_buf;
pub mod keys;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::tls::reader::{ParseError, Reader};
use crypto_buf::CryptoBuf;
use keys::{InitialKeys, OpenError};

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// Longest connection ID in QUIC versions 1 and 2.
pub const MAX_CID_LEN: usize = 20;
/// Long-header packets walked in one datagram at most (real ones coalesce two or three).
pub const MAX_PACKETS_PER_DATAGRAM: usize = 16;
/// Initial key sets (one per version and connection ID) cached per connection.
pub const MAX_KEY_SETS: usize = 4;
/// Largest value of a QUIC variable-length integer.
pub const MAX_VARINT: u64 = (1 << 62) - 1;

/// The QUIC versions whose Initial packets can be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Version 1, 0x00000001 (RFC 9000).
    V1,
    /// Version 2, 0x6b3343cf (RFC 9369).
    V2,
}

/// Long-header packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// Initial.
    Initial,
    /// 0-RTT.
    ZeroRtt,
    /// Handshake.
    Handshake,
    /// Retry.
    Retry,
}

impl Version {
    /// The version for a wire value, if it is one of these.
    pub fn from_wire(v: u32) -> Option<Self> {
        match v {
            VERSION_1 => Some(Version::V1),
            VERSION_2 => Some(Version::V2),
            _ => None,
        }
    }

    /// The wire value.
    pub fn wire(self) -> u32 {
        match self {
            Version::V1 => VERSION_1,
            Version::V2 => VERSION_2,
        }
    }

    /// The initial salt (RFC 9001 §5.2, RFC 9369 §3.3.1).
    pub fn salt(self) -> &'static [u8; 20] {
        match self {
            Version::V1 => &[
                0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c,
                0xad, 0xcc, 0xbb, 0x7f, 0x0a,
            ],
            Version::V2 => &[
                0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d,
                0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
            ],
        }
    }

    /// The HKDF labels of the packet key, IV and header protection key.
    pub fn labels(self) -> (&'static [u8], &'static [u8], &'static [u8]) {
        match self {
            Version::V1 => (b"quic key", b"quic iv", b"quic hp"),
            Version::V2 => (b"quicv2 key", b"quicv2 iv", b"quicv2 hp"),
        }
    }

    /// The type of a long-header packet from its first byte. Version 2 rotates the type
    /// codes (RFC 9369 §3.2): Initial is 0b01 and Retry 0b00, where version 1 has 0b00
    /// and 0b11.
    pub fn packet_type(self, first: u8) -> PacketType {
        let bits = (first >> 4) & 0x03;
        match (self, bits) {
            (Version::V1, 0) | (Version::V2, 1) => PacketType::Initial,
            (Version::V1, 1) | (Version::V2, 2) => PacketType::ZeroRtt,
            (Version::V1, 2) | (Version::V2, 3) => PacketType::Handshake,
            _ => PacketType::Retry,
        }
    }
}

/// A connection ID (0 to 20 bytes), stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Cid {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl Cid {
    /// A connection ID from its bytes; `None` when longer than 20 bytes.
    pub fn new(b: &[u8]) -> Option<Self> {
        if b.len() > MAX_CID_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_CID_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Some(Cid { len: b.len() as u8, bytes })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_slice() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Reads a QUIC variable-length integer (RFC 9000 §16).
pub fn read_varint(r: &mut Reader<'_>, what: &'static str) -> Result<u64, ParseError> {
    let first = r.u8(what)?;
    let extra = (1usize << (first >> 6)) - 1;
    let mut v = u64::from(first & 0x3f);
    for &b in r.bytes(extra, what)? {
        v = (v << 8) | u64::from(b);
    }
    Ok(v)
}

/// Reads a varint length and then that many bytes.
fn read_varint_bytes<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], ParseError> {
    let n = read_varint(r, what)?;
    r.bytes(usize::try_from(n).unwrap_or(usize::MAX), what)
}

/// An Initial, 0-RTT or Handshake packet's header fields before the packet number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// First byte, still header-protected.
    pub first: u8,
    /// Version (v1 or v2).
    pub version: Version,
    /// Packet type.
    pub kind: PacketType,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// Token (Initial packets only; empty otherwise).
    pub token: &'a [u8],
    /// Offset of the packet number from the start of the packet.
    pub pn_offset: usize,
    /// The Length field: bytes of packet number and payload.
    pub length: u64,
}

impl LongHeader<'_> {
    /// Whole packet length, if the Length field fits in `usize`.
    pub fn packet_len(&self) -> Option<usize> {
        usize::try_from(self.length).ok()?.checked_add(self.pn_offset)
    }
}

/// What a long-header packet at the start of a buffer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongPacket<'a> {
    /// An Initial, 0-RTT or Handshake packet of version 1 or 2.
    Protected(LongHeader<'a>),
    /// A Retry packet of version 1 or 2 (it runs to the end of the datagram).
    Retry {
        /// Version.
        version: Version,
        /// The server's new connection ID, which the client's next Initials use as DCID.
        scid: &'a [u8],
    },
    /// A Version Negotiation packet (version 0).
    VersionNegotiation,
    /// Another version.
    UnknownVersion(u32),
}

/// Parses the long header at the start of `b` (whose first byte has the high bit set)
/// through the Length field. The packet itself may extend past `b`; callers check.
///
/// The fixed bit (0x40) is not required: an endpoint may clear it once its peer allowed
/// that (RFC 9287), and version 1 and 2 are identified by the version field.
pub fn parse_long_header(b: &[u8]) -> Result<LongPacket<'_>, ParseError> {
    let mut r = Reader::new(b);
    let first = r.u8("first byte")?;
    let v = r.bytes(4, "version")?;
    let wire = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    if wire == 0 {
        return Ok(LongPacket::VersionNegotiation);
    }
    let Some(version) = Version::from_wire(wire) else {
        return Ok(LongPacket::UnknownVersion(wire));
    };
    let dcid = r.vec8("destination connection id")?.rest();
    if dcid.len() > MAX_CID_LEN {
        return Err(ParseError { what: "destination connection id length", offset: 5 });
    }
    let scid_at = r.offset();
    let scid = r.vec8("source connection id")?.rest();
    if scid.len() > MAX_CID_LEN {
        return Err(ParseError { what: "source connection id length", offset: scid_at });
    }
    let kind = version.packet_type(first);
    if kind == PacketType::Retry {
        return Ok(LongPacket::Retry { version, scid });
    }
    let token = if kind == PacketType::Initial { read_varint_bytes(&mut r, "token")? } else { &[] };
    let length = read_varint(&mut r, "length")?;
    Ok(LongPacket::Protected(LongHeader {
        first,
        version,
        kind,
        dcid,
        scid,
        token,
        pn_offset: r.offset(),
        length,
    }))
}

/// Cheap check, header only: does this UDP payload start with a QUIC v1 or v2 long-header
/// Initial packet? Used to decide whether a UDP flow is QUIC at all.
///
/// The fixed bit must be set, the connection IDs at most 20 bytes, and the token and
/// Length fields well-formed, with room for the header protection sample; the packet
/// itself may be cut short (snaplen). A server's Initial has the same format and passes
/// too; [`QuicConn`] tells the sides apart by decrypting.
pub fn looks_like_client_initial(payload: &[u8]) -> bool {
    match payload.first() {
        Some(&first) if first & 0xc0 == 0xc0 => {}
        _ => return false,
    }
    matches!(parse_long_header(payload),
        Ok(LongPacket::Protected(h)) if h.kind == PacketType::Initial && h.length >= 20)
}

/// Caps for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuicLimits {
    /// CRYPTO bytes kept per side: only stream offsets below this are buffered.
    pub max_crypto_bytes: usize,
    /// Out-of-order CRYPTO pieces (holes, as adjacent pieces merge) held per side.
    pub max_pieces: usize,
}

impl Default for QuicLimits {
    fn default() -> Self {
        QuicLimits { max_crypto_bytes: 64 * 1024, max_pieces: 64 }
    }
}

/// What one datagram held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatagramResult {
    /// At least one QUIC v1/v2 long-header packet was found.
    pub quic: bool,
    /// Long-header packets of v1/v2 found (Initial, 0-RTT, Handshake, Retry).
    pub packets: u32,
    /// Initial packets found.
    pub initials: u32,
    /// Initial packets decrypted.
    pub decrypted: u32,
    /// Initial packets that could not be decrypted.
    pub failed: u32,
    /// The side the decrypted Initials came from (`Some(true)`: the client), decided by
    /// which keys opened them; `None` when none was decrypted.
    pub from_client: Option<bool>,
    /// The contiguous CRYPTO prefix of the client grew.
    pub client_crypto_grew: bool,
    /// The contiguous CRYPTO prefix of the server grew.
    pub server_crypto_grew: bool,
}

/// Counters for one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuicStats {
    /// Datagrams fed.
    pub datagrams: u64,
    /// Datagrams with at least one v1/v2 long-header packet.
    pub quic_datagrams: u64,
    /// Initial packets found.
    pub initial_packets: u64,
    /// Client Initial packets decrypted.
    pub client_initials: u64,
    /// Server Initial packets decrypted.
    pub server_initials: u64,
    /// Initial packets no key opened.
    pub decrypt_failures: u64,
    /// Of those, the ones seen before any client Initial was decrypted (the capture
    /// started late or lost the client's first datagram): nothing to derive keys from.
    pub before_client_initial: u64,
    /// Initials attributed to the other side than the caller said.
    pub side_corrections: u64,
    /// 0-RTT and Handshake packets skipped.
    pub other_packets: u64,
    /// Retry packets.
    pub retries: u64,
    /// Version Negotiation packets.
    pub version_negotiation: u64,
    /// Long headers of other versions.
    pub unknown_version: u64,
    /// Malformed long headers (bad lengths, truncated packets): the rest of that datagram
    /// was skipped.
    pub malformed: u64,
    /// Problems inside decrypted payloads (a frame type not allowed in Initial packets, a
    /// truncated frame, an empty payload, reserved header bits set): the rest of that
    /// packet was skipped.
    pub payload_anomalies: u64,
    /// The first such problem.
    pub first_payload_anomaly: Option<ParseError>,
    /// CRYPTO bytes dropped by the caps.
    pub crypto_dropped: u64,
    /// CRYPTO frames whose bytes differed from bytes already held for their offsets.
    pub crypto_conflicts: u64,
    /// Error code of the client's CONNECTION_CLOSE in an Initial, if any (the last one).
    pub client_close: Option<u64>,
    /// Error code of the server's CONNECTION_CLOSE in an Initial, if any (0x100 + a TLS
    /// alert for handshake failures).
    pub server_close: Option<u64>,
    /// Version of the first decrypted server Initial (differs from the client's after
    /// compatible version negotiation).
    pub server_version: Option<u32>,
}

/// Initial-space state of one QUIC connection (one UDP flow).
#[derive(Debug)]
pub struct QuicConn {
    limits: QuicLimits,
    /// Version of the first decrypted client Initial.
    version: Option<u32>,
    /// Connection IDs whose keys opened client Initials, most recent first.
    client_dcids: Vec<Cid>,
    /// Source Connection ID of the last decrypted client Initial.
    client_scid: Option<Cid>,
    /// Derived keys, most recently used first.
    keys: Vec<(Version, Cid, InitialKeys)>,
    /// Largest packet number opened per side: [server, client].
    largest_pn: [Option<u64>; 2],
    /// CRYPTO streams: [server, client].
    crypto: [CryptoBuf; 2],
    stats: QuicStats,
    /// A copy of the packet being opened.
    scratch: Vec<u8>,
}

fn side_index(client: bool) -> usize {
    usize::from(client)
}

impl Default for QuicConn {
    fn default() -> Self {
        QuicConn::new(QuicLimits::default())
    }
}

impl QuicConn {
    /// An empty connection with the given caps.
    pub fn new(limits: QuicLimits) -> Self {
        QuicConn {
            limits,
            version: None,
            client_dcids: Vec::new(),
            client_scid: None,
            keys: Vec::new(),
            largest_pn: [None; 2],
            crypto: [CryptoBuf::default(), CryptoBuf::default()],
            stats: QuicStats::default(),
            scratch: Vec::new(),
        }
    }

    /// Feeds one UDP payload. `from_client` is the caller's belief about the sender, if it
    /// has one; it only decides which keys are tried first. Each Initial is attributed to
    /// the side whose keys open it, reported in [`DatagramResult::from_client`].
    pub fn datagram(&mut self, from_client: Option<bool>, payload: &[u8]) -> DatagramResult {
        let mut res = DatagramResult::default();
        self.stats.datagrams += 1;
        let before = [self.crypto[0].contiguous().len(), self.crypto[1].contiguous().len()];
        let mut rest = payload;
        let mut walked = 0;
        // A short-header packet (high bit clear) runs to the end of the datagram.
        while rest.first().is_some_and(|&b| b & 0x80 != 0) {
            if walked == MAX_PACKETS_PER_DATAGRAM {
                self.stats.malformed += 1;
                break;
            }
            walked += 1;
            let packet = match parse_long_header(rest) {
                Ok(p) => p,
                Err(_) => {
                    self.stats.malformed += 1;
                    break;
                }
            };
            match packet {
                LongPacket::VersionNegotiation => {
                    self.stats.version_negotiation += 1;
                    break;
                }
                LongPacket::UnknownVersion(_) => {
                    self.stats.unknown_version += 1;
                    break;
                }
                LongPacket::Retry { .. } => {
                    res.quic = true;
                    res.packets += 1;
                    self.stats.retries += 1;
                    break;
                }
                LongPacket::Protected(h) => {
                    res.quic = true;
                    res.packets += 1;
                    let Some(len) = h.packet_len().filter(|&n| n <= rest.len()) else {
                        self.stats.malformed += 1;
                        break;
                    };
                    if h.kind == PacketType::Initial {
                        self.initial(&h, &rest[..len], from_client, &mut res);
                    } else {
                        self.stats.other_packets += 1;
                    }
                    rest = &rest[len..];
                }
            }
        }
        self.stats.quic_datagrams += u64::from(res.quic);
        res.server_crypto_grew = self.crypto[0].contiguous().len() > before[0];
        res.client_crypto_grew = self.crypto[1].contiguous().len() > before[1];
        self.stats.crypto_dropped = self.crypto[0].dropped() + self.crypto[1].dropped();
        self.stats.crypto_conflicts = self.crypto[0].conflicts() + self.crypto[1].conflicts();
        res
    }

    /// The contiguous CRYPTO bytes of one side's Initial space, from offset 0.
    pub fn crypto(&self, client: bool) -> &[u8] {
        self.crypto[side_index(client)].contiguous()
    }

    /// Version of the first decrypted client Initial.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The connection ID the client's Initial keys currently derive from: the original
    /// Destination Connection ID, or the one a Retry gave.
    pub fn client_dcid(&self) -> Option<&[u8]> {
        self.client_dcids.first().map(Cid::as_slice)
    }

    /// Counters so far.
    pub fn stats(&self) -> QuicStats {
        self.stats
    }

    /// Keys for `cid`, derived on first use; the cache keeps the most recently used sets.
    fn keys_for(&mut self, version: Version, cid: Cid) -> InitialKeys {
        if let Some(i) = self.keys.iter().position(|(v, c, _)| *v == version && *c == cid) {
            let entry = self.keys.remove(i);
            self.keys.insert(0, entry);
        } else {
            self.keys.truncate(MAX_KEY_SETS - 1);
            self.keys.insert(0, (version, cid, InitialKeys::derive(version, cid.as_slice())));
        }
        self.keys[0].2
    }

    fn initial(&mut self, h: &LongHeader<'_>, raw: &[u8], hint: Option<bool>, res: &mut DatagramResult) {
        res.initials += 1;
        self.stats.initial_packets += 1;
        // parse_long_header bounds connection IDs to 20 bytes.
        let own = Cid::new(h.dcid).unwrap_or_default();
        // A packet addressed to the client's own connection ID comes from the server.
        let believed_client = hint.unwrap_or(self.client_scid != Some(own));
        let mut attempts: Vec<(bool, Cid)> = Vec::with_capacity(2 * MAX_KEY_SETS + 1);
        for client in [believed_client, !believed_client] {
            attempts.extend(self.client_dcids.iter().map(|&c| (client, c)));
            if client && !self.client_dcids.contains(&own) {
                attempts.push((true, own));
            }
        }
        for (client, cid) in attempts {
            let keys = self.keys_for(h.version, cid);
            self.scratch.clear();
            self.scratch.extend_from_slice(raw);
            let side = side_index(client);
            match keys.side(client).open(&mut self.scratch, h.pn_offset, self.largest_pn[side]) {
                Ok(opened) => {
                    res.decrypted += 1;
                    if res.from_client.is_none() {
                        res.from_client = Some(client);
                    }
                    if hint == Some(!client) {
                        self.stats.side_corrections += 1;
                    }
                    if client {
                        self.stats.client_initials += 1;
                        self.client_dcids.retain(|c| *c != cid);
                        self.client_dcids.insert(0, cid);
                        self.client_dcids.truncate(MAX_KEY_SETS);
                        self.client_scid = Cid::new(h.scid);
                        self.version.get_or_insert(h.version.wire());
                    } else {
                        self.stats.server_initials += 1;
                        self.stats.server_version.get_or_insert(h.version.wire());
                    }
                    self.largest_pn[side] =
                        Some(self.largest_pn[side].map_or(opened.pn, |l| l.max(opened.pn)));
                    let plain = &self.scratch[opened.header_len..opened.header_len + opened.payload_len];
                    let close =
                        if client { &mut self.stats.client_close } else { &mut self.stats.server_close };
                    let mut outcome = parse_frames(plain, &mut self.crypto[side], &self.limits, close);
                    if outcome.is_ok() && opened.reserved_bits != 0 {
                        outcome = Err(ParseError { what: "reserved header bits", offset: 0 });
                    }
                    if let Err(e) = outcome {
                        self.stats.payload_anomalies += 1;
                        self.stats.first_payload_anomaly.get_or_insert(e);
                    }
                    return;
                }
                Err(OpenError::TooShort) => {
                    // Not key-dependent: no other keys can help.
                    self.stats.malformed += 1;
                    break;
                }
                Err(OpenError::Auth) => {}
            }
        }
        res.failed += 1;
        self.stats.decrypt_failures += 1;
        if self.client_dcids.is_empty() {
            self.stats.before_client_initial += 1;
        }
    }
}

/// Frame types allowed in Initial packets (RFC 9000 §12.4).
mod frame {
    pub const PADDING: u64 = 0x00;
    pub const PING: u64 = 0x01;
    pub const ACK: u64 = 0x02;
    pub const ACK_ECN: u64 = 0x03;
    pub const CRYPTO: u64 = 0x06;
    pub const CONNECTION_CLOSE: u64 = 0x1c;
}

/// Parses the frames of a decrypted Initial payload, feeding CRYPTO data to `crypto` and
/// recording a CONNECTION_CLOSE error code in `close`. Stops at the first problem.
fn parse_frames(
    plain: &[u8],
    crypto: &mut CryptoBuf,
    limits: &QuicLimits,
    close: &mut Option<u64>,
) -> Result<(), ParseError> {
    let mut r = Reader::new(plain);
    if r.is_empty() {
        return Err(ParseError { what: "empty payload", offset: 0 });
    }
    while !r.is_empty() {
        let at = r.offset();
        match read_varint(&mut r, "frame type")? {
            frame::PADDING | frame::PING => {}
            t @ (frame::ACK | frame::ACK_ECN) => {
                read_varint(&mut r, "ack largest")?;
                read_varint(&mut r, "ack delay")?;
                let ranges = read_varint(&mut r, "ack range count")?;
                read_varint(&mut r, "ack first range")?;
                // Each range takes at least two bytes, so this ends with the payload.
                for _ in 0..ranges {
                    read_varint(&mut r, "ack gap")?;
                    read_varint(&mut r, "ack range")?;
                }
                if t == frame::ACK_ECN {
                    for _ in 0..3 {
                        read_varint(&mut r, "ack ecn count")?;
                    }
                }
            }
            frame::CRYPTO => {
                let offset = read_varint(&mut r, "crypto offset")?;
                let data = read_varint_bytes(&mut r, "crypto data")?;
                if offset + data.len() as u64 > MAX_VARINT {
                    return Err(ParseError { what: "crypto offset", offset: at });
                }
                crypto.insert(offset, data, limits.max_crypto_bytes, limits.max_pieces);
            }
            frame::CONNECTION_CLOSE => {
                let code = read_varint(&mut r, "close error code")?;
                read_varint(&mut r, "close frame type")?;
                read_varint_bytes(&mut r, "close reason")?;
                *close = Some(code);
            }
            _ => return Err(ParseError { what: "frame type not allowed in Initial", offset: at }),
        }
    }
    Ok(())
}
