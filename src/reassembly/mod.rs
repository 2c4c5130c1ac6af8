//! TCP stream reassembly for one direction, only as far as a handshake needs.
//!
//! Policy (the one most IDS use, documented so results can be explained):
//! * **First data wins.** Bytes already delivered are never replaced; a retransmission or
//!   an overlapping segment only contributes the bytes beyond what was delivered. Between
//!   buffered out-of-order segments that overlap, and between them and a segment that
//!   fills the hole before them, the bytes that arrived first win. Overlaps whose bytes
//!   differ from buffered ones are counted (`overlap_conflicts`); overlaps with bytes
//!   already delivered are counted as overlaps but cannot be compared (delivered bytes are
//!   not kept).
//! * **Start of stream.** With a SYN seen, data starts at ISN+1 (so TCP Fast Open data on
//!   the SYN is delivered first). Without one (a flow picked up midstream) the first
//!   segment seen starts the stream; bytes before it are ignored.
//! * **Snaplen-truncated segments** are treated as not received (a gap that a
//!   retransmission may fill), never delivered as partial data.
//! * **Caps.** At most [`StreamLimits::max_ooo_segments`] segments and
//!   [`StreamLimits::max_ooo_bytes`] bytes wait out of order; data further ahead than
//!   [`StreamLimits::max_ahead`] is dropped. Every drop is counted in [`StreamStats`].
//!
//! In-order segments are delivered straight from the frame (zero-copy); only out-of-order
//! segments are copied, and only until the hole before them is filled.

/// Caps for one direction's reassembly.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Most segments buffered out of order.
    pub max_ooo_segments: usize,
    /// Most bytes buffered out of order.
    pub max_ooo_bytes: usize,
    /// Furthest a buffered segment may start beyond the next expected byte.
    pub max_ahead: u32,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits { max_ooo_segments: 64, max_ooo_bytes: 128 * 1024, max_ahead: 1 << 20 }
    }
}

/// What reassembly of one direction counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// Segments whose bytes had all been delivered already (retransmissions).
    pub retransmitted: u64,
    /// Segments that overlapped delivered data in part (the new part was used).
    pub overlaps: u64,
    /// Overlapping segments whose bytes differ from buffered data where they overlap (an
    /// evasion attempt or a broken stack): the first data is kept.
    pub overlap_conflicts: u64,
    /// Segments buffered because they arrived ahead of a hole.
    pub out_of_order: u64,
    /// Out-of-order segments dropped by the caps.
    pub ooo_dropped: u64,
    /// Segments ignored because the snaplen cut them.
    pub truncated: u64,
}

/// Reassembly state of one direction, as kept in a flow table: 24 bytes, with the caps
/// and counters held once by the caller ([`Reasm`]) and the out-of-order buffer allocated
/// only when a segment arrives out of order. (A table entry's size is what a SYN flood
/// multiplies, and what the table moves when it grows.)
#[derive(Debug, Default)]
pub struct StreamState {
    /// Bytes delivered so far.
    delivered: u64,
    /// Segments waiting for a hole to fill.
    ooo: Option<Box<Ooo>>,
    /// Sequence number of the next byte to deliver.
    next_seq: u32,
    started: bool,
}

/// Segments waiting for a hole to fill: (seq, bytes), in arrival order.
#[derive(Debug, Default)]
struct Ooo {
    segs: Vec<(u32, Vec<u8>)>,
    bytes: usize,
}

/// What every stream of a table shares: the caps, and the counters they add to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reasm {
    /// Caps of each direction.
    pub limits: StreamLimits,
    /// Counters, over every stream driven through this.
    pub stats: StreamStats,
}

/// `a - b` in sequence space, as a signed distance.
fn seq_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

impl StreamState {
    /// Bytes delivered in order so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Bytes held out of order.
    pub fn buffered(&self) -> usize {
        self.ooo.as_ref().map_or(0, |o| o.bytes)
    }

    /// Drops buffered data (the handshake is final; nothing more will be read).
    pub fn release(&mut self) {
        self.ooo = None;
    }

    fn segs(&self) -> &[(u32, Vec<u8>)] {
        self.ooo.as_ref().map_or(&[], |o| &o.segs)
    }

    /// Handles one segment of this direction. `truncated` marks a segment the snaplen cut.
    /// Calls `deliver` with each run of new in-order bytes.
    pub fn segment(
        &mut self,
        r: &mut Reasm,
        seq: u32,
        syn: bool,
        payload: &[u8],
        truncated: bool,
        deliver: &mut dyn FnMut(&[u8]),
    ) {
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if syn && self.delivered == 0 {
            // A SYN (or a SYN-ACK with a new ISN, as when a server restarts a TCP Fast
            // Open handshake) sets the start while nothing has been delivered yet.
            if !self.started || self.next_seq != data_seq {
                self.ooo = None;
            }
            self.started = true;
            self.next_seq = data_seq;
        } else if !self.started && !payload.is_empty() && !truncated {
            // Midstream pickup: this segment starts the stream.
            self.started = true;
            self.next_seq = data_seq;
        }
        if payload.is_empty() || !self.started {
            return;
        }
        if truncated {
            r.stats.truncated += 1;
            return;
        }
        let mut rel = seq_diff(data_seq, self.next_seq);
        if self.delivered == 0 && (rel < 0 || rel as u32 > r.limits.max_ahead) {
            // Nothing delivered yet and the data is nowhere near the expected start (the
            // SYN we anchored on belonged to an abandoned attempt): start from this segment.
            self.ooo = None;
            self.next_seq = data_seq;
            rel = 0;
        }
        if rel > 0 {
            self.buffer(r, data_seq, rel as u32, payload);
            return;
        }
        let skip = rel.unsigned_abs() as usize;
        if skip >= payload.len() {
            r.stats.retransmitted += 1;
            return;
        }
        if skip > 0 {
            r.stats.overlaps += 1;
        }
        if self.conflicts(self.next_seq, &payload[skip..]) {
            // Rare (evasion or a broken stack): bytes buffered earlier win over this
            // segment's, so build the merged copy; the common path stays zero-copy.
            r.stats.overlap_conflicts += 1;
            let merged = self.overlay(self.next_seq, &payload[skip..]);
            self.push(&merged, deliver);
        } else {
            self.push(&payload[skip..], deliver);
        }
        self.drain(r, deliver);
    }

    fn push(&mut self, bytes: &[u8], deliver: &mut dyn FnMut(&[u8])) {
        self.next_seq = self.next_seq.wrapping_add(bytes.len() as u32);
        self.delivered += bytes.len() as u64;
        deliver(bytes);
    }

    fn buffer(&mut self, r: &mut Reasm, seq: u32, ahead: u32, payload: &[u8]) {
        let (held, held_bytes) = self.ooo.as_ref().map_or((0, 0), |o| (o.segs.len(), o.bytes));
        if ahead > r.limits.max_ahead
            || held >= r.limits.max_ooo_segments
            || held_bytes + payload.len() > r.limits.max_ooo_bytes
        {
            r.stats.ooo_dropped += 1;
            return;
        }
        if self.conflicts(seq, payload) {
            r.stats.overlap_conflicts += 1;
        }
        r.stats.out_of_order += 1;
        let o = self.ooo.get_or_insert_with(Box::default);
        o.bytes += payload.len();
        o.segs.push((seq, payload.to_vec()));
    }

    /// `data` at `seq` with the bytes of overlapping buffered segments laid over it, the
    /// earliest arrival last so that it wins.
    fn overlay(&self, seq: u32, data: &[u8]) -> Vec<u8> {
        let mut v = data.to_vec();
        for (s, d) in self.segs().iter().rev() {
            let off = seq_diff(*s, seq) as i64; // where `d` starts inside `v`
            let (dst, src) = if off >= 0 { (off as usize, 0) } else { (0, (-off) as usize) };
            if dst >= v.len() || src >= d.len() {
                continue;
            }
            let n = (v.len() - dst).min(d.len() - src);
            v[dst..dst + n].copy_from_slice(&d[src..src + n]);
        }
        v
    }

    /// True when `data` at `seq` differs from a buffered segment where the two overlap
    /// (at most `max_ooo_segments` comparisons; delivered bytes are not kept, so overlaps
    /// with them cannot be compared).
    fn conflicts(&self, seq: u32, data: &[u8]) -> bool {
        self.segs().iter().any(|(s, d)| {
            let off = seq_diff(seq, *s) as i64; // where `data` starts inside `d`
            let (a, b) = if off >= 0 {
                let o = off as usize;
                if o >= d.len() {
                    return false;
                }
                (&d[o..], data)
            } else {
                let o = (-off) as usize;
                if o >= data.len() {
                    return false;
                }
                (&d[..], &data[o..])
            };
            let n = a.len().min(b.len());
            a[..n] != b[..n]
        })
    }

    /// Delivers buffered segments that the stream has reached, lowest start first (the
    /// earliest arrival among equal starts), until a hole remains.
    fn drain(&mut self, r: &mut Reasm, deliver: &mut dyn FnMut(&[u8])) {
        loop {
            let Some(o) = self.ooo.as_mut() else { return };
            let mut best: Option<usize> = None;
            for (i, (s, _)) in o.segs.iter().enumerate() {
                if seq_diff(*s, self.next_seq) <= 0 {
                    match best {
                        Some(b) if seq_diff(*s, o.segs[b].0) >= 0 => {}
                        _ => best = Some(i),
                    }
                }
            }
            let Some(i) = best else { return };
            let (s, data) = o.segs.remove(i);
            o.bytes -= data.len();
            if o.segs.is_empty() {
                self.ooo = None;
            }
            let skip = seq_diff(self.next_seq, s) as usize;
            if skip < data.len() {
                if skip > 0 {
                    r.stats.overlaps += 1;
                }
                self.push(&data[skip..], deliver);
            } else {
                r.stats.retransmitted += 1;
            }
        }
    }
}

/// One direction on its own, with its caps and counters: [`StreamState`] and a [`Reasm`]
/// of its own (for tests, fuzzing and single-stream use).
#[derive(Debug, Default)]
pub struct TcpStream {
    reasm: Reasm,
    state: StreamState,
    /// Counters.
    pub stats: StreamStats,
}

impl TcpStream {
    /// A stream with the given caps.
    pub fn new(limits: StreamLimits) -> Self {
        TcpStream { reasm: Reasm { limits, stats: StreamStats::default() }, ..Default::default() }
    }

    /// Bytes delivered in order so far.
    pub fn delivered(&self) -> u64 {
        self.state.delivered()
    }

    /// Bytes held out of order.
    pub fn buffered(&self) -> usize {
        self.state.buffered()
    }

    /// Drops buffered data (the handshake is final; nothing more will be read).
    pub fn release(&mut self) {
        self.state.release();
    }

    /// Handles one segment, as [`StreamState::segment`].
    pub fn segment(
        &mut self,
        seq: u32,
        syn: bool,
        payload: &[u8],
        truncated: bool,
        deliver: &mut dyn FnMut(&[u8]),
    ) {
        self.state.segment(&mut self.reasm, seq, syn, payload, truncated, deliver);
        self.stats = self.reasm.stats;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &mut TcpStream, segs: &[(u32, bool, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(seq, syn, p) in segs {
            s.segment(seq, syn, p, false, &mut |b| out.extend_from_slice(b));
        }
        out
    }

    #[test]
    fn in_order_with_syn_and_tfo() {
        let mut s = TcpStream::default();
        let got = collect(&mut s, &[(100, true, b"tfo"), (104, false, b"abc"), (107, false, b"d")]);
        assert_eq!(got, b"tfoabcd");
    }

    #[test]
    fn out_of_order_retransmit_overlap_first_wins() {
        let mut s = TcpStream::default();
        let got = collect(
            &mut s,
            &[
                (0, true, b""),
                (4, false, b"efgh"),
                (6, false, b"XXij"), // overlaps the buffered segment: first arrival wins
                (1, false, b"abc"),
                (1, false, b"abc"),  // retransmission
                (2, false, b"YYdZ"), // wholly delivered already: ignored
            ],
        );
        // seq 1..3 "abc", 4..7 "efgh", then "ij" from the overlapping buffered segment.
        assert_eq!(got, b"abcefghij");
        assert_eq!(s.stats.overlaps, 1);
        assert_eq!(s.stats.retransmitted, 2);
    }

    #[test]
    fn conflicting_overlaps_are_counted_and_first_data_wins() {
        let mut s = TcpStream::default();
        let got = collect(
            &mut s,
            &[(0, true, b""), (5, false, b"EFGH"), (5, false, b"XYZW"), (1, false, b"abcdZZZZ")],
        );
        // Bytes 5..8 arrived first as "EFGH"; the later "XYZW" and the in-order "ZZZZ" for
        // the same bytes conflict with it and lose.
        assert_eq!(got, b"abcdEFGH");
        assert_eq!(s.stats.overlap_conflicts, 2, "{:?}", s.stats);
        let mut s = TcpStream::default();
        collect(&mut s, &[(0, true, b""), (5, false, b"EFGH"), (5, false, b"EFGH")]);
        assert_eq!(s.stats.overlap_conflicts, 0, "identical copies do not conflict");
    }

    #[test]
    fn sequence_wraparound() {
        let mut s = TcpStream::default();
        let isn = u32::MAX - 2;
        let got = collect(
            &mut s,
            &[(isn, true, b""), (0, false, b"cd"), (isn.wrapping_add(1), false, b"ab"), (2, false, b"ef")],
        );
        assert_eq!(got, b"abcdef");
    }

    #[test]
    fn new_isn_before_any_data_restarts_the_stream() {
        let mut s = TcpStream::default();
        let got = collect(&mut s, &[(1000, true, b""), (50, true, b""), (51, false, b"hello")]);
        assert_eq!(got, b"hello");
        // Once data was delivered, a SYN with another ISN changes nothing.
        let got = collect(&mut s, &[(7, true, b""), (56, false, b"!")]);
        assert_eq!(got, b"!");
    }

    #[test]
    fn far_data_before_anything_delivered_restarts() {
        let mut s = TcpStream::default();
        let got = collect(&mut s, &[(1000, true, b""), (5_000_000, false, b"real")]);
        assert_eq!(got, b"real");
    }

    #[test]
    fn midstream_and_truncated() {
        let mut s = TcpStream::default();
        let mut out = Vec::new();
        s.segment(500, false, b"trunc", true, &mut |b| out.extend_from_slice(b));
        s.segment(500, false, b"hello", false, &mut |b| out.extend_from_slice(b));
        s.segment(505, false, b"cut!!", true, &mut |b| out.extend_from_slice(b));
        s.segment(510, false, b"later", false, &mut |b| out.extend_from_slice(b));
        s.segment(505, false, b"whole", false, &mut |b| out.extend_from_slice(b));
        assert_eq!(out, b"hellowholelater");
        assert_eq!(s.stats.truncated, 1);
    }

    #[test]
    fn caps_bound_buffering() {
        let limits = StreamLimits { max_ooo_segments: 2, max_ooo_bytes: 10, max_ahead: 100 };
        let mut s = TcpStream::new(limits);
        let got = collect(
            &mut s,
            &[
                (0, true, b""),
                (1, false, b"x"),
                (11, false, b"a"),
                (21, false, b"b"),
                (31, false, b"c"),
                (500, false, b"far"),
            ],
        );
        assert_eq!(got, b"x");
        assert_eq!(s.stats.ooo_dropped, 2);
        assert!(s.buffered() <= 10);
    }
}
