//! DTLS record and handshake layers of one direction of a UDP flow: whole UDP payloads in,
//! the same items as the TLS record parser ([`TlsItem`]) out, so the caller's handshake
//! logic is shared between TLS and DTLS.
//!
//! Knows nothing about UDP or flows: [`DtlsDir`] is fed the payloads one side of a flow
//! sent, in capture order. Covered:
//!
//! * DTLS 1.0 and 1.2 (RFC 6347): 13-byte record headers (type, version, epoch,
//!   sequence number, length), several records per datagram. Records of epoch 0 are
//!   plaintext; records of a later epoch are encrypted and reported as
//!   [`TlsItem::EncryptedHandshake`], [`TlsItem::EncryptedAlert`] or
//!   [`TlsItem::ApplicationData`] without looking inside.
//! * DTLS 1.3 (RFC 9147): the ClientHello and ServerHello (and HelloRetryRequest) still
//!   travel in plaintext records as above (record version 0xfefd; the real version is in
//!   supported_versions); encrypted records use the unified header (first byte
//!   `0b001CSLEE`) and are reported as [`TlsItem::ApplicationData`], as TLS 1.3 reports its
//!   encrypted handshake. A unified header with a connection ID (whose length was
//!   negotiated and is unknown here) or without a length field ends the datagram.
//! * DTLS 1.2 connection-ID records (RFC 9146, content type 25) are encrypted and their
//!   header length depends on the negotiated CID length: reported as application data, and
//!   they end the datagram.
//!
//! Handshake messages carry a 12-byte header (type, length, message_seq, fragment_offset,
//! fragment_length) and may be fragmented across records and datagrams, retransmitted, and
//! reordered. Fragments are reassembled per message_seq in any order, the first data to
//! cover a byte wins, and each whole message is emitted once, in message_seq order, as
//! [`TlsItem::Handshake`] with the body only (the 12-byte header removed). A retransmitted
//! flight emits nothing.
//!
//! Where the message_seq numbering starts is not assumed to be 0: the capture may begin
//! late or have lost packets. The first hello-type fragment (ClientHello, ServerHello or
//! HelloVerifyRequest) sets the next expected message_seq. Two more rules keep a lossy or
//! long capture going:
//! * when a direction starts encrypting (ChangeCipherSpec, or any record of a later epoch),
//!   the whole messages still waiting behind a missing one are emitted in order, skipping
//!   the gap (counted in [`DtlsStats::gaps_skipped`]);
//! * a ClientHello or ServerHello whose message_seq was already passed but whose random
//!   matches no hello emitted so far is a new handshake on the same flow: the direction
//!   restarts from it ([`DtlsStats::restarts`]). A retransmission, or the ClientHello that
//!   answers a HelloVerifyRequest or HelloRetryRequest (which keeps its random), does not.
//!
//! Everything is bounded ([`DtlsLimits`]): the declared length of a message, the number
//! of messages being reassembled, and the bytes held for them. What a cap drops is counted
//! in [`DtlsStats`]. Nothing here panics on any input.

use crate::tls::stream::{MAX_RECORD_FRAGMENT, TlsItem, content};

/// DTLS 1.0 (record and hello version).
pub const DTLS_1_0: u16 = 0xfeff;
/// DTLS 1.2.
pub const DTLS_1_2: u16 = 0xfefd;
/// DTLS 1.3 (in supported_versions; its plaintext records say 0xfefd).
pub const DTLS_1_3: u16 = 0xfefc;

/// Length of a DTLSPlaintext / DTLSCiphertext record header (RFC 6347 §4.1).
pub const RECORD_HEADER_LEN: usize = 13;
/// Length of a DTLS handshake message header (RFC 6347 §4.2.2).
pub const HANDSHAKE_HEADER_LEN: usize = 12;

/// Content type of a DTLS 1.2 record with a connection ID (RFC 9146).
pub const CONTENT_TLS12_CID: u8 = 25;
/// Content type of a DTLS 1.3 ACK record (RFC 9147 §7).
pub const CONTENT_ACK: u8 = 26;

/// Handshake type of a HelloVerifyRequest (RFC 6347 §4.2.1).
pub const HELLO_VERIFY_REQUEST: u8 = 3;

/// Hello randoms remembered per direction to tell a retransmission from a new handshake.
const KEPT_RANDOMS: usize = 8;

/// Caps for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtlsLimits {
    /// Largest handshake message reassembled (declared length). Fragments of a longer
    /// message are dropped and counted.
    pub max_handshake_message: usize,
    /// Bytes held at most for messages being reassembled (declared lengths plus a one-bit
    /// per byte coverage map).
    pub max_buffered_bytes: usize,
    /// Messages being reassembled (or waiting for an earlier one) at most.
    pub max_pending_messages: usize,
}

impl Default for DtlsLimits {
    fn default() -> Self {
        DtlsLimits {
            max_handshake_message: 64 * 1024,
            max_buffered_bytes: 256 * 1024,
            max_pending_messages: 16,
        }
    }
}

/// Counts of what one direction saw and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DtlsStats {
    /// Datagrams fed.
    pub datagrams: u64,
    /// Records found (plaintext and encrypted, unified headers included).
    pub records: u64,
    /// Of those, encrypted records (epoch > 0, unified header, RFC 9146 CID records).
    pub encrypted_records: u64,
    /// Datagrams that did not start with a DTLS record (STUN or RTP on a WebRTC flow,
    /// anything else).
    pub not_dtls: u64,
    /// Bytes after the last record of a datagram that are no DTLS record header (counted
    /// once per datagram).
    pub trailing_garbage: u64,
    /// Records whose length runs past the end of the datagram (snaplen, or garbage).
    pub truncated_records: u64,
    /// Handshake records whose fragments did not fit (fragment header cut, fragment past
    /// the record, fragment past the message); the rest of the record is skipped.
    pub malformed_fragments: u64,
    /// Whole handshake messages emitted.
    pub messages: u64,
    /// Fragments of messages already emitted (retransmissions), or adding no new byte.
    pub duplicate_fragments: u64,
    /// Fragments whose type or length disagree with earlier fragments of the same message.
    pub inconsistent_fragments: u64,
    /// Fragments dropped because their message declared a length beyond the cap.
    pub too_large: u64,
    /// Fragments dropped because the pending-message or buffered-byte cap was reached.
    pub capped_fragments: u64,
    /// Partly reassembled messages thrown away to make room for an earlier message, at a
    /// restart, or because a gap was skipped past them.
    pub dropped_messages: u64,
    /// message_seq values skipped when encryption started with messages missing.
    pub gaps_skipped: u64,
    /// New handshakes seen on the same flow (a hello with an already passed message_seq
    /// and an unseen random).
    pub restarts: u64,
    /// Bytes held now for messages being reassembled.
    pub buffered_bytes: usize,
}

/// A message being reassembled.
#[derive(Debug)]
struct Pending {
    seq: u32,
    msg_type: u8,
    body: Vec<u8>,
    /// One bit per body byte: received.
    have: Vec<u8>,
    covered: usize,
}

impl Pending {
    fn cost(len: usize) -> usize {
        len + len.div_ceil(8)
    }

    fn complete(&self) -> bool {
        self.covered == self.body.len()
    }

    /// Copies the bytes of `data` at `offset` that no earlier fragment supplied; returns how
    /// many were new. The caller checked that the fragment lies inside the message.
    fn add(&mut self, offset: usize, data: &[u8]) -> usize {
        let mut new = 0;
        for (pos, &b) in (offset..).zip(data) {
            let (byte, bit) = (pos / 8, 1u8 << (pos % 8));
            if let (Some(h), Some(dst)) = (self.have.get_mut(byte), self.body.get_mut(pos)) {
                if *h & bit == 0 {
                    *h |= bit;
                    *dst = b;
                    new += 1;
                }
            }
        }
        self.covered += new;
        new
    }
}

/// One handshake fragment's header.
#[derive(Debug, Clone, Copy)]
struct FragHeader {
    msg_type: u8,
    length: usize,
    seq: u32,
    offset: usize,
}

/// The DTLS record and handshake layers of one direction of a flow.
#[derive(Debug, Default)]
pub struct DtlsDir {
    limits: DtlsLimits,
    /// The next message_seq to emit; `None` until the first hello-type fragment.
    next_seq: Option<u32>,
    pending: Vec<Pending>,
    /// Randoms of the ClientHellos/ServerHellos emitted (most recent last).
    randoms: Vec<[u8; 32]>,
    stats: DtlsStats,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be24(b: &[u8], at: usize) -> usize {
    (usize::from(b[at]) << 16) | (usize::from(b[at + 1]) << 8) | usize::from(b[at + 2])
}

fn is_dtls_version(v: u16) -> bool {
    matches!(v, DTLS_1_0 | DTLS_1_2 | DTLS_1_3)
}

/// True when `h` (at least 13 bytes) is a plausible DTLSPlaintext/DTLSCiphertext header.
fn plausible_header(h: &[u8]) -> bool {
    (content::CHANGE_CIPHER_SPEC..=CONTENT_ACK).contains(&h[0])
        && is_dtls_version(be16(h, 1))
        && usize::from(be16(h, 11)) <= MAX_RECORD_FRAGMENT
}

/// True when `b` is a DTLS 1.3 unified-header byte (`0b001xxxxx`).
fn is_unified_header(b: u8) -> bool {
    b & 0xe0 == 0x20
}

/// The length of the unified-header record at the start of `b`, when it can be known: it
/// has a length field, no connection ID (whose length is negotiated) and fits in `b`.
fn unified_record_len(b: &[u8]) -> Option<usize> {
    let flags = *b.first()?;
    if flags & 0x10 != 0 || flags & 0x04 == 0 {
        return None;
    }
    let seq_len = if flags & 0x08 != 0 { 2 } else { 1 };
    let hdr = 1 + seq_len + 2;
    if b.len() < hdr {
        return None;
    }
    let total = hdr + usize::from(be16(b, 1 + seq_len));
    (total <= b.len()).then_some(total)
}

/// True when `payload` starts with a plaintext DTLS handshake record (version 0xfeff,
/// 0xfefd or 0xfefc, epoch 0) whose first fragment belongs to a ClientHello, so that a
/// caller can decide a UDP flow is DTLS from its first datagram. The record may be cut
/// short by the snaplen; the fragment header must be whole. When the fragment starts the
/// message, the hello's own version byte must be 0xfe too.
pub fn looks_like_client_hello(payload: &[u8]) -> bool {
    let p = payload;
    if p.len() < RECORD_HEADER_LEN + HANDSHAKE_HEADER_LEN
        || p[0] != content::HANDSHAKE
        || !plausible_header(p)
        || be16(p, 3) != 0
    {
        return false;
    }
    let rec_len = usize::from(be16(p, 11));
    let h = &p[RECORD_HEADER_LEN..];
    let (length, offset, frag_len) = (be24(h, 1), be24(h, 6), be24(h, 9));
    // version(2) random(32) session_id(1) cookie(1) cipher_suites(2) compression(1).
    const MIN_BODY: usize = 39;
    h[0] == crate::tls::handshake::CLIENT_HELLO
        && rec_len >= HANDSHAKE_HEADER_LEN
        && frag_len <= rec_len - HANDSHAKE_HEADER_LEN
        && length >= MIN_BODY
        && offset + frag_len <= length
        && (offset != 0 || frag_len == 0 || h.get(HANDSHAKE_HEADER_LEN).is_none_or(|&b| b == 0xfe))
}

impl DtlsDir {
    /// A direction with the given caps.
    pub fn new(limits: DtlsLimits) -> Self {
        DtlsDir { limits, ..Default::default() }
    }

    /// What this direction saw and dropped so far.
    pub fn stats(&self) -> DtlsStats {
        let mut s = self.stats;
        s.buffered_bytes = self.buffered();
        s
    }

    /// Bytes held for messages being reassembled.
    pub fn buffered(&self) -> usize {
        self.pending.iter().map(|p| Pending::cost(p.body.len())).sum()
    }

    /// The next message_seq this direction will emit, once known.
    pub fn next_message_seq(&self) -> Option<u32> {
        self.next_seq
    }

    /// Feeds one UDP payload sent by this side; calls `out` for each item found.
    pub fn datagram(&mut self, payload: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        self.stats.datagrams += 1;
        let mut rest = payload;
        let mut first = true;
        while let Some(&b0) = rest.first() {
            if is_unified_header(b0) {
                self.encrypted_record(out);
                out(TlsItem::ApplicationData);
                match unified_record_len(rest) {
                    Some(n) => rest = &rest[n..],
                    None => break,
                }
            } else if rest.len() >= RECORD_HEADER_LEN
                && b0 == CONTENT_TLS12_CID
                && is_dtls_version(be16(rest, 1))
            {
                // The CID sits before the length field, and its length was negotiated.
                self.encrypted_record(out);
                out(TlsItem::ApplicationData);
                break;
            } else if rest.len() >= RECORD_HEADER_LEN && plausible_header(rest) {
                let total = RECORD_HEADER_LEN + usize::from(be16(rest, 11));
                if rest.len() < total {
                    self.stats.truncated_records += 1;
                    break;
                }
                let (rec, tail) = rest.split_at(total);
                self.record(rec, out);
                rest = tail;
            } else {
                if first {
                    self.stats.not_dtls += 1;
                } else {
                    self.stats.trailing_garbage += 1;
                }
                break;
            }
            first = false;
        }
    }

    /// Counts an encrypted record and lets the messages waiting behind a gap go.
    fn encrypted_record(&mut self, out: &mut dyn FnMut(TlsItem<'_>)) {
        self.stats.records += 1;
        self.stats.encrypted_records += 1;
        self.flush(out);
    }

    fn record(&mut self, rec: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        let epoch = be16(rec, 3);
        let frag = &rec[RECORD_HEADER_LEN..];
        if epoch > 0 {
            self.encrypted_record(out);
            match rec[0] {
                content::HANDSHAKE => out(TlsItem::EncryptedHandshake),
                content::ALERT => out(TlsItem::EncryptedAlert),
                content::APPLICATION_DATA => out(TlsItem::ApplicationData),
                content::CHANGE_CIPHER_SPEC => out(TlsItem::ChangeCipherSpec),
                _ => {}
            }
            return;
        }
        self.stats.records += 1;
        match rec[0] {
            content::HANDSHAKE => self.handshake_record(frag, out),
            content::CHANGE_CIPHER_SPEC => {
                self.flush(out);
                out(TlsItem::ChangeCipherSpec);
            }
            content::ALERT => {
                for pair in frag.chunks_exact(2) {
                    out(TlsItem::Alert { level: pair[0], description: pair[1] });
                }
            }
            content::APPLICATION_DATA => out(TlsItem::ApplicationData),
            // Heartbeat and ACK records carry nothing the handshake needs.
            _ => {}
        }
    }

    fn handshake_record(&mut self, mut frag: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        while !frag.is_empty() {
            if frag.len() < HANDSHAKE_HEADER_LEN {
                self.stats.malformed_fragments += 1;
                return;
            }
            let h = FragHeader {
                msg_type: frag[0],
                length: be24(frag, 1),
                seq: u32::from(be16(frag, 4)),
                offset: be24(frag, 6),
            };
            let frag_len = be24(frag, 9);
            if frag_len > frag.len() - HANDSHAKE_HEADER_LEN || h.offset + frag_len > h.length {
                self.stats.malformed_fragments += 1;
                return;
            }
            let end = HANDSHAKE_HEADER_LEN + frag_len;
            self.fragment(h, &frag[HANDSHAKE_HEADER_LEN..end], out);
            frag = &frag[end..];
        }
    }

    /// A ClientHello/ServerHello fragment that starts the message, for a message_seq
    /// already passed, whose random no emitted hello had: a new handshake.
    fn is_new_hello(&self, h: &FragHeader, data: &[u8]) -> bool {
        matches!(h.msg_type, 1 | 2)
            && h.offset == 0
            && !self.randoms.is_empty()
            && data.get(2..34).is_some_and(|r| !self.randoms.iter().any(|k| k[..] == *r))
    }

    fn fragment(&mut self, h: FragHeader, data: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        if h.length > self.limits.max_handshake_message {
            self.stats.too_large += 1;
            return;
        }
        match self.next_seq {
            Some(next) if h.seq < next => {
                if !self.is_new_hello(&h, data) {
                    self.stats.duplicate_fragments += 1;
                    return;
                }
                self.stats.restarts += 1;
                self.stats.dropped_messages += self.pending.len() as u64;
                self.pending.clear();
                self.randoms.clear();
                self.next_seq = Some(h.seq);
            }
            Some(_) => {}
            None if matches!(h.msg_type, 1..=HELLO_VERIFY_REQUEST) => {
                let before = self.pending.len();
                self.pending.retain(|p| p.seq >= h.seq);
                self.stats.dropped_messages += (before - self.pending.len()) as u64;
                self.next_seq = Some(h.seq);
            }
            None => {}
        }
        let existing = self.pending.iter().position(|p| p.seq == h.seq);
        if existing.is_none() && self.next_seq == Some(h.seq) && h.offset == 0 && data.len() == h.length {
            // A whole message, the next one due: no copy.
            self.emit(h.seq, h.msg_type, data, out);
            self.drain(out);
            return;
        }
        let i = match existing {
            Some(i) => {
                let p = &self.pending[i];
                if p.msg_type != h.msg_type || p.body.len() != h.length {
                    self.stats.inconsistent_fragments += 1;
                    return;
                }
                i
            }
            None => {
                if data.is_empty() && h.length > 0 {
                    self.stats.duplicate_fragments += 1;
                    return;
                }
                if !self.make_room(h.seq, Pending::cost(h.length)) {
                    self.stats.capped_fragments += 1;
                    return;
                }
                self.pending.push(Pending {
                    seq: h.seq,
                    msg_type: h.msg_type,
                    body: vec![0; h.length],
                    have: vec![0; h.length.div_ceil(8)],
                    covered: 0,
                });
                self.pending.len() - 1
            }
        };
        if self.pending[i].add(h.offset, data) == 0 && existing.is_some() {
            self.stats.duplicate_fragments += 1;
        }
        self.drain(out);
    }

    /// Makes room for a new message `seq` costing `cost` bytes, evicting messages with a
    /// higher message_seq (the ones needed last) if the caps require it.
    fn make_room(&mut self, seq: u32, cost: usize) -> bool {
        loop {
            if self.pending.len() < self.limits.max_pending_messages
                && self.buffered() + cost <= self.limits.max_buffered_bytes
            {
                return true;
            }
            let victim =
                self.pending.iter().enumerate().filter(|(_, p)| p.seq > seq).max_by_key(|(_, p)| p.seq);
            let Some((i, _)) = victim else { return false };
            self.pending.swap_remove(i);
            self.stats.dropped_messages += 1;
        }
    }

    /// Emits whole messages while the next one due is complete.
    fn drain(&mut self, out: &mut dyn FnMut(TlsItem<'_>)) {
        while let Some(next) = self.next_seq {
            let Some(i) = self.pending.iter().position(|p| p.seq == next && p.complete()) else { break };
            let p = self.pending.swap_remove(i);
            self.emit(p.seq, p.msg_type, &p.body, out);
        }
    }

    /// Encryption started: whole messages waiting behind a missing one are emitted in
    /// message_seq order, skipping the gaps; incomplete ones left behind are dropped.
    fn flush(&mut self, out: &mut dyn FnMut(TlsItem<'_>)) {
        self.drain(out);
        if !self.pending.iter().any(Pending::complete) {
            return;
        }
        loop {
            let next = self.next_seq;
            let lowest = self
                .pending
                .iter()
                .enumerate()
                .filter(|(_, p)| p.complete() && next.is_none_or(|n| p.seq >= n))
                .min_by_key(|(_, p)| p.seq)
                .map(|(i, _)| i);
            let Some(i) = lowest else { break };
            let p = self.pending.swap_remove(i);
            if let Some(n) = next {
                self.stats.gaps_skipped += u64::from(p.seq - n);
            }
            self.emit(p.seq, p.msg_type, &p.body, out);
        }
        if let Some(n) = self.next_seq {
            let before = self.pending.len();
            self.pending.retain(|p| p.seq >= n);
            self.stats.dropped_messages += (before - self.pending.len()) as u64;
        }
    }

    fn emit(&mut self, seq: u32, msg_type: u8, body: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        self.next_seq = Some(seq + 1);
        self.stats.messages += 1;
        if matches!(msg_type, 1 | 2) {
            if let Some(r) = body.get(2..34) {
                let mut k = [0u8; 32];
                k.copy_from_slice(r);
                if !self.randoms.contains(&k) {
                    if self.randoms.len() == KEPT_RANDOMS {
                        self.randoms.remove(0);
                    }
                    self.randoms.push(k);
                }
            }
        }
        out(TlsItem::Handshake { msg_type, body });
    }
}

#[cfg(test)]
mod tests;
