//! A worker: its own flow table, reassembly and TLS sessions. Frames in, handshake
//! records out.
//!
//! The flow table is a `hashbrown` map hashed with secret random seeds
//! ([`crate::flow::FlowHasher`]), so an attacker who picks 5-tuples cannot aim for one
//! bucket. It is capped at [`WorkerConfig::max_flows`]; when full, idle flows are swept
//! first, and if none can go the new flow is not tracked (counted). Time comes from the
//! packets only: a flow idle past its timeout ends when its next packet arrives or at the
//! next [`Worker::tick`] (the pipeline ticks every worker once per second of packet
//! time), whichever is first; either way it ends the same, so results never depend on how
//! flows were sharded.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::cache::{CacheStats, CertCache};
use crate::capture::Frame;
use crate::certcheck;
use crate::decode::{self, DecodeError, Packet, Transport as L4};
use crate::dtls::{self, DtlsLimits};
use crate::fingerprint::{self, Hashes, Transport, ja3, ja4};
use crate::flow::{Dir, FlowEnd, FlowHasher, FlowKey, FlowTable};
use crate::metrics::Metrics;
use crate::quic::{self, QuicLimits};
use crate::reassembly::{Reasm, StreamLimits, StreamState};
use crate::record::{Cert, Details, Fingerprints, Handshake, Outcome};
use crate::session::{SessionLimits, TlsSession};
use crate::time::Timestamp;
use crate::x509::{self, CertInfo};

/// Flows a worker's table has room for before it first grows (bounded by `max_flows`).
const INITIAL_FLOWS: usize = 8192;

/// A worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Most flows tracked at once.
    pub max_flows: usize,
    /// Seconds without packets after which a flow is ended.
    pub idle_timeout_secs: u64,
    /// Seconds a flow is kept after FIN or RST (so late retransmissions find it).
    pub closed_timeout_secs: u64,
    /// Seconds a ClientHello waits for the server's answer before it is reported (bounded
    /// latency for handshakes that get no answer).
    pub pending_timeout_secs: u64,
    /// Compute JA4S (FoxIO License 1.1).
    pub ja4plus: bool,
    /// Reassembly caps per direction.
    pub stream: StreamLimits,
    /// TLS caps per session.
    pub session: SessionLimits,
    /// QUIC caps per connection.
    pub quic: QuicLimits,
    /// DTLS caps per direction.
    pub dtls: DtlsLimits,
    /// Bytes of DER whose parsed certificate facts are kept for reuse (0: off).
    pub cert_cache_bytes: usize,
    /// Bytes of fingerprint strings whose hashes are kept for reuse, per hash function,
    /// and of whole hellos' JA3 and JA4 by their fields (0: off).
    pub hash_cache_bytes: usize,
}

impl WorkerConfig {
    /// Seconds a flow may stay idle: short once closed or final, long while pending.
    fn timeout_of(&self, flow: &Flow) -> u64 {
        match &flow.session {
            _ if flow.closed || flow.done => self.closed_timeout_secs.min(self.idle_timeout_secs),
            // A connection that has carried no byte yet (a SYN): as a pending hello.
            None => self.pending_timeout_secs.min(self.idle_timeout_secs),
            Some(s) if s.facts.client_hello.is_some() && s.facts.server_hello.is_none() => {
                self.pending_timeout_secs.min(self.idle_timeout_secs)
            }
            Some(_) => self.idle_timeout_secs,
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            max_flows: 1 << 20,
            idle_timeout_secs: 120,
            closed_timeout_secs: 10,
            pending_timeout_secs: 30,
            ja4plus: false,
            stream: StreamLimits::default(),
            session: SessionLimits::default(),
            quic: QuicLimits::default(),
            dtls: DtlsLimits::default(),
            cert_cache_bytes: 4 << 20,
            hash_cache_bytes: 1 << 20,
        }
    }
}

/// What a worker counted.
#[derive(Debug, Default, Clone)]
pub struct WorkerStats {
    /// Frames processed.
    pub packets: u64,
    /// Frame bytes processed (captured length).
    pub bytes: u64,
    /// Frames that did not decode to TCP/UDP, by kind.
    pub decode_errors: Vec<(&'static str, u64)>,
    /// UDP packets (not yet followed).
    pub udp_packets: u64,
    /// Flows created.
    pub flows_created: u64,
    /// Flows not tracked because the table was full.
    pub flows_rejected: u64,
    /// Flows ended, indexed by [`FlowEnd`] as usize.
    pub flows_ended: [u64; 6],
    /// Handshake records emitted.
    pub handshakes: u64,
    /// Packets for flows whose handshake was already final (one lookup each).
    pub packets_after_final: u64,
    /// Segments seen again (retransmissions).
    pub tcp_retransmitted: u64,
    /// Segments that arrived ahead of a hole.
    pub tcp_out_of_order: u64,
    /// Out-of-order segments dropped by the caps.
    pub tcp_ooo_dropped: u64,
    /// Segments cut by the snaplen, treated as gaps.
    pub tcp_truncated: u64,
    /// Segments that overlapped delivered data.
    pub tcp_overlaps: u64,
    /// Overlapping segments whose bytes differed from buffered ones (first data kept).
    pub tcp_overlap_conflicts: u64,
    /// The certificate cache's counters.
    pub cert_cache: CacheStats,
    /// The fingerprint hash caches' counters.
    pub hash_cache: CacheStats,
}

impl WorkerStats {
    /// Adds another worker's counters to these.
    pub fn add(&mut self, o: &WorkerStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        for (k, n) in &o.decode_errors {
            match self.decode_errors.iter_mut().find(|(m, _)| m == k) {
                Some((_, c)) => *c += n,
                None => self.decode_errors.push((k, *n)),
            }
        }
        self.udp_packets += o.udp_packets;
        self.flows_created += o.flows_created;
        self.flows_rejected += o.flows_rejected;
        for (a, b) in self.flows_ended.iter_mut().zip(o.flows_ended) {
            *a += b;
        }
        self.handshakes += o.handshakes;
        self.packets_after_final += o.packets_after_final;
        self.tcp_retransmitted += o.tcp_retransmitted;
        self.tcp_out_of_order += o.tcp_out_of_order;
        self.tcp_ooo_dropped += o.tcp_ooo_dropped;
        self.tcp_truncated += o.tcp_truncated;
        self.tcp_overlaps += o.tcp_overlaps;
        self.tcp_overlap_conflicts += o.tcp_overlap_conflicts;
        self.cert_cache.add(&o.cert_cache);
        self.hash_cache.add(&o.hash_cache);
    }

    fn decode_error(&mut self, e: DecodeError) {
        let k = e.kind();
        match self.decode_errors.iter_mut().find(|(n, _)| *n == k) {
            Some((_, c)) => *c += 1,
            None => self.decode_errors.push((k, 1)),
        }
    }

    /// Total frames that failed to decode.
    pub fn decode_error_total(&self) -> u64 {
        self.decode_errors.iter().map(|(_, c)| c).sum()
    }
}

struct Flow {
    first_seen: Timestamp,
    last_seen: Timestamp,
    streams: [StreamState; 2],
    /// The TLS view, created with the first payload byte; taken when the facts are final.
    session: Option<Box<TlsSession>>,
    /// The handshake's facts are final (a tombstone: later packets cost one lookup).
    done: bool,
    fin: [bool; 2],
    closed: bool,
    /// ISN of the client's SYN, to tell a retransmitted SYN from port reuse.
    syn_seq: Option<u32>,
    /// Why the connection closed (FIN or RST), once it did.
    end_reason: Option<FlowEnd>,
}

/// One worker.
pub struct Worker {
    cfg: WorkerConfig,
    flows: FlowTable<Flow>,
    now: Timestamp,
    /// Flows in the order they were created (lazily pruned), for oldest-first eviction.
    order: VecDeque<(FlowKey, Timestamp)>,
    last_pressure_sweep: Option<Timestamp>,
    /// Reassembly caps and counters, shared by every stream of the table.
    reasm: Reasm,
    /// Makes the records of finished handshakes.
    rec: Recorder,
    /// Counters.
    pub stats: WorkerStats,
    /// What [`Worker::publish`] last added to the metrics.
    published: WorkerStats,
    published_active: i64,
    published_buffered: i64,
}

impl Worker {
    /// A worker with an empty flow table.
    pub fn new(cfg: WorkerConfig) -> Self {
        Self::with_hasher(cfg, FlowHasher::default())
    }

    /// A worker whose flow table hashes with `hasher`: a caller that shares it can hand
    /// over each packet's hash ([`Worker::decoded`]) instead of the worker computing it again.
    pub fn with_hasher(cfg: WorkerConfig, hasher: FlowHasher) -> Self {
        Self::with_share(cfg, hasher, (1, 1))
    }

    /// [`Worker::with_hasher`] for a worker that gets `share.0` in `share.1` of the flows
    /// (one shard of a pool): its table starts with that part of the room for a busy
    /// link's flows. Fresh memory is dear here (first touch of a page costs ~2 µs in this
    /// VM, more than writing it), and the table's slots are touched at random, so a table
    /// sized for every flow but holding a tenth of them still costs all its pages.
    pub fn with_share(cfg: WorkerConfig, hasher: FlowHasher, share: (usize, usize)) -> Self {
        let rec = Recorder {
            ja4plus: cfg.ja4plus,
            pcap_filename: None,
            certs: CertCache::new(cfg.cert_cache_bytes),
            hashes: Hashes::new(cfg.hash_cache_bytes),
        };
        let reasm = Reasm { limits: cfg.stream, stats: Default::default() };
        let initial = cfg.max_flows.min((INITIAL_FLOWS * share.0).div_ceil(share.1.max(1)));
        Worker {
            reasm,
            cfg,
            // Room for a busy link's flows up front: the early doublings of a growing table
            // each move every entry to freshly faulted memory.
            flows: FlowTable::with_hasher(initial, hasher),
            now: Timestamp::default(),
            order: VecDeque::with_capacity(initial),
            last_pressure_sweep: None,
            rec,
            stats: WorkerStats::default(),
            published: WorkerStats::default(),
            published_active: 0,
            published_buffered: 0,
        }
    }

    /// Names the input file that events are attributed to (replay).
    pub fn set_pcap_filename(&mut self, name: Option<Arc<str>>) {
        self.rec.pcap_filename = name;
    }

    /// Flows currently tracked.
    pub fn active_flows(&self) -> usize {
        self.flows.len()
    }

    /// Bytes held by this worker's reassembly and TLS buffers (walks the table).
    pub fn buffered_bytes(&self) -> usize {
        self.flows
            .iter()
            .map(|(_, f)| {
                f.streams[0].buffered()
                    + f.streams[1].buffered()
                    + f.session.as_ref().map_or(0, |s| s.buffered())
            })
            .sum()
    }

    /// Adds what the counters gained since the last call to the shared metrics; with
    /// `walk`, also recounts the bytes buffered (a walk over the whole table).
    pub fn publish(&mut self, m: &Metrics, interface: &str, walk: bool) {
        let (s, p) = (&self.stats, &self.published);
        // Live capture counts packets per interface where they are read; "" skips them here.
        if !interface.is_empty() {
            m.packets.with_label_values(&[interface]).inc_by(s.packets - p.packets);
            m.bytes.with_label_values(&[interface]).inc_by(s.bytes - p.bytes);
        }
        for (k, n) in &s.decode_errors {
            let before = p.decode_errors.iter().find(|(q, _)| q == k).map_or(0, |(_, c)| *c);
            if *n > before {
                m.decode_errors.with_label_values(&[k]).inc_by(n - before);
            }
        }
        m.flows_created.inc_by(s.flows_created - p.flows_created);
        m.flow_table_full.inc_by(s.flows_rejected - p.flows_rejected);
        for r in FlowEnd::ALL {
            let i = r as usize;
            m.flows_ended.with_label_values(&[r.as_str()]).inc_by(s.flows_ended[i] - p.flows_ended[i]);
        }
        for (event, now, before) in [
            ("retransmitted", s.tcp_retransmitted, p.tcp_retransmitted),
            ("overlap", s.tcp_overlaps, p.tcp_overlaps),
            ("overlap_conflict", s.tcp_overlap_conflicts, p.tcp_overlap_conflicts),
            ("out_of_order", s.tcp_out_of_order, p.tcp_out_of_order),
            ("ooo_dropped", s.tcp_ooo_dropped, p.tcp_ooo_dropped),
            ("truncated", s.tcp_truncated, p.tcp_truncated),
        ] {
            m.reassembly.with_label_values(&[event]).inc_by(now - before);
        }
        for (counter, now, before) in
            [(&m.cert_cache, s.cert_cache, p.cert_cache), (&m.hash_cache, s.hash_cache, p.hash_cache)]
        {
            for (result, now, before) in [
                ("hit", now.hits, before.hits),
                ("miss", now.misses, before.misses),
                ("evicted", now.evicted, before.evicted),
            ] {
                counter.with_label_values(&[result]).inc_by(now - before);
            }
        }
        let active = self.flows.len() as i64;
        m.flows_active.add(active - self.published_active);
        self.published_active = active;
        if walk {
            let buffered = self.buffered_bytes() as i64;
            m.reassembly_buffered.add(buffered - self.published_buffered);
            self.published_buffered = buffered;
        }
        self.published = self.stats.clone();
    }

    /// Processes one frame; completed handshakes go to `out`.
    pub fn frame(&mut self, frame: &Frame<'_>, out: &mut dyn FnMut(Handshake)) {
        self.decoded(frame, decode::decode_frame(frame), None, out);
    }

    /// [`Worker::frame`] for a frame the caller has already decoded (`decoded` is
    /// `decode::decode_frame(frame)`), and maybe hashed: `hash`, when given, is the hash of
    /// the packet's [`FlowKey`] by this worker's hasher ([`Worker::with_hasher`]).
    pub fn decoded(
        &mut self,
        frame: &Frame<'_>,
        decoded: Result<Packet<'_>, DecodeError>,
        hash: Option<u64>,
        out: &mut dyn FnMut(Handshake),
    ) {
        self.stats.packets += 1;
        self.stats.bytes += frame.data.len() as u64;
        match decoded {
            Ok(p) => self.packet(frame.ts, &p, hash, out),
            Err(e) => self.stats.decode_error(e),
        }
    }

    /// The table hash of `key`: `given` when the caller computed it.
    fn hash_of(&self, key: &FlowKey, given: Option<u64>) -> u64 {
        debug_assert!(given.is_none_or(|h| h == self.flows.hash(key)), "a hash from another hasher");
        given.unwrap_or_else(|| self.flows.hash(key))
    }

    fn packet(&mut self, ts: Timestamp, p: &Packet<'_>, hash: Option<u64>, out: &mut dyn FnMut(Handshake)) {
        // Packet time only moves forward for the table (a capture's timestamps may step back).
        if ts > self.now {
            self.now = ts;
        }
        let tcp = match p.transport {
            L4::Tcp(t) => t,
            L4::Udp => {
                self.stats.udp_packets += 1;
                self.udp(ts, p, hash, out);
                return;
            }
        };
        let (key, dir) = FlowKey::of(p);
        let h = self.hash_of(&key, hash);
        // One probe of the table for a packet of a known flow: its index is kept until the
        // flow is changed (the table does not change in between).
        let mut at = self.flows.index_of(h, &key);
        if let Some(old) = at.and_then(|i| self.flows.at(i)) {
            // A flow idle past its timeout ends here, whether or not a sweep has run yet,
            // so what a packet means never depends on when sweeps happen.
            let idle = old.last_seen.plus_secs(self.cfg.timeout_of(old)) <= ts;
            // Port reuse: a SYN after the connection closed (FIN/RST), or a SYN with a new
            // ISN once its handshake is final, starts a new flow.
            let reused =
                tcp.syn && !tcp.ack_flag && (old.closed || (old.done && old.syn_seq != Some(tcp.seq)));
            if idle || reused {
                let reason = if idle { FlowEnd::Timeout } else { FlowEnd::Reused };
                at = None;
                if let Some(old) = self.flows.remove(h, &key) {
                    self.end_flow(key, old, reason, out);
                }
            }
        }
        if at.is_none() {
            // A bare ACK or RST of an unknown flow carries nothing to fingerprint.
            if p.payload.is_empty() && !tcp.syn {
                return;
            }
            if !self.make_room(out) {
                return;
            }
            // The TLS session is created with the first byte of payload: a SYN flood costs
            // a flow entry each, not a session.
            at = Some(self.insert_flow(key, h, ts, None));
        }
        let Some(flow) = at.and_then(|i| self.flows.at_mut(i)) else { return };
        flow.last_seen = ts;
        if tcp.syn && !tcp.ack_flag {
            flow.syn_seq = Some(tcp.seq);
        }
        let i = dir.index();
        if tcp.fin {
            flow.fin[i] = true;
        }
        let ended = tcp.rst || (flow.fin[0] && flow.fin[1]);
        if ended && !flow.closed {
            flow.closed = true;
            flow.end_reason = Some(if tcp.rst { FlowEnd::Rst } else { FlowEnd::Fin });
        }
        if flow.done {
            self.stats.packets_after_final += 1;
            return;
        }
        let limits = self.cfg.session;
        let slot = &mut flow.session;
        let stream = &mut flow.streams[i];
        let before = self.reasm.stats;
        stream.segment(&mut self.reasm, tcp.seq, tcp.syn, p.payload, p.payload_missing > 0, &mut |bytes| {
            slot.get_or_insert_with(|| Box::new(TlsSession::new(limits))).data(dir, ts, bytes)
        });
        let after = self.reasm.stats;
        self.stats.tcp_retransmitted += after.retransmitted - before.retransmitted;
        self.stats.tcp_out_of_order += after.out_of_order - before.out_of_order;
        self.stats.tcp_ooo_dropped += after.ooo_dropped - before.ooo_dropped;
        self.stats.tcp_truncated += after.truncated - before.truncated;
        self.stats.tcp_overlaps += after.overlaps - before.overlaps;
        self.stats.tcp_overlap_conflicts += after.overlap_conflicts - before.overlap_conflicts;

        let final_now = flow.session.as_ref().is_some_and(|s| s.is_final() || s.is_hopeless());
        if final_now || ended {
            let outcome =
                flow.session.as_ref().map_or(Outcome::Incomplete, |s| s.end_outcome(tcp.rst, false));
            self.rec.finish(&mut self.stats, key, flow, outcome, out);
        }
    }

    /// A UDP datagram: QUIC or DTLS. A UDP flow is tracked only from a datagram that looks
    /// like a client's first handshake packet (a QUIC Initial, a DTLS ClientHello), so a
    /// WebRTC flow that starts with STUN is picked up at its ClientHello; anything else
    /// costs one lookup.
    fn udp(&mut self, ts: Timestamp, p: &Packet<'_>, hash: Option<u64>, out: &mut dyn FnMut(Handshake)) {
        let (key, dir) = FlowKey::of(p);
        let h = self.hash_of(&key, hash);
        // One probe for a datagram of a known flow, as for TCP (see `packet`).
        let mut at = self.flows.index_of(h, &key);
        if let Some(old) = at.and_then(|i| self.flows.at(i)) {
            if old.last_seen.plus_secs(self.cfg.timeout_of(old)) <= ts {
                at = None;
                if let Some(old) = self.flows.remove(h, &key) {
                    self.end_flow(key, old, FlowEnd::Timeout, out);
                }
            }
        }
        if at.is_none() {
            if p.payload_missing > 0 {
                return;
            }
            let session = if quic::looks_like_client_initial(p.payload) {
                TlsSession::new_quic(self.cfg.session, self.cfg.quic)
            } else if dtls::looks_like_client_hello(p.payload) {
                TlsSession::new_dtls(self.cfg.session, self.cfg.dtls)
            } else {
                return;
            };
            if !self.make_room(out) {
                return;
            }
            at = Some(self.insert_flow(key, h, ts, Some(session)));
        }
        let Some(flow) = at.and_then(|i| self.flows.at_mut(i)) else { return };
        flow.last_seen = ts;
        let Some(session) = flow.session.as_mut().filter(|_| !flow.done) else {
            self.stats.packets_after_final += 1;
            return;
        };
        if p.payload_missing > 0 {
            self.stats.tcp_truncated += 1;
            return;
        }
        match session.transport() {
            Transport::Quic => session.quic_datagram(dir, ts, p.payload),
            _ => session.dtls_datagram(dir, ts, p.payload),
        }
        if session.is_final() {
            let outcome = session.end_outcome(false, false);
            self.rec.finish(&mut self.stats, key, flow, outcome, out);
        }
    }

    /// Makes room for a new flow when the table is at its cap. Under pressure it first
    /// ends idle flows (a full sweep, at most once per second of packet time, so a flood
    /// cannot make every packet walk the table), then evicts the oldest flows (first seen
    /// first), reporting what they had (outcome per their state) and counting them.
    fn make_room(&mut self, out: &mut dyn FnMut(Handshake)) -> bool {
        if self.flows.len() < self.cfg.max_flows {
            return true;
        }
        if self.last_pressure_sweep.is_none_or(|t| self.now.as_secs() > t.as_secs()) {
            self.last_pressure_sweep = Some(self.now);
            self.sweep(out);
        }
        while self.flows.len() >= self.cfg.max_flows {
            let Some((key, first_seen)) = self.order.pop_front() else {
                self.stats.flows_rejected += 1;
                return false;
            };
            // Entries of flows already gone (or replaced by a newer flow on the same key)
            // are skipped: the queue is pruned lazily.
            let h = self.flows.hash(&key);
            if self.flows.get(h, &key).is_some_and(|f| f.first_seen == first_seen) {
                if let Some(flow) = self.flows.remove(h, &key) {
                    self.end_flow(key, flow, FlowEnd::Evicted, out);
                }
            }
        }
        true
    }

    /// Adds a flow (`h`: the table hash of `key`); returns its index in the table (see
    /// [`FlowTable::index_of`]).
    fn insert_flow(&mut self, key: FlowKey, h: u64, ts: Timestamp, session: Option<TlsSession>) -> usize {
        self.stats.flows_created += 1;
        self.order.push_back((key, ts));
        // The queue holds stale entries of flows that ended; rebuild it from the table
        // when they outnumber the live ones (amortised O(1) per flow).
        if self.order.len() > 2 * self.flows.len().max(1024) {
            let mut live: Vec<(FlowKey, Timestamp)> =
                self.flows.iter().map(|(k, f)| (*k, f.first_seen)).collect();
            live.push((key, ts));
            live.sort_by_cached_key(|(k, t)| (*t, k.flow_id(*t)));
            self.order = live.into();
        }
        self.flows.insert_new(
            h,
            key,
            Flow {
                first_seen: ts,
                last_seen: ts,
                streams: Default::default(),
                session: session.map(Box::new),
                done: false,
                fin: [false; 2],
                closed: false,
                syn_seq: None,
                end_reason: None,
            },
        )
    }

    /// Takes a flow out of the table for good, emitting what it had. A flow that was
    /// closed by FIN or RST counts under that reason, whatever removed it later.
    fn end_flow(&mut self, key: FlowKey, mut flow: Flow, reason: FlowEnd, out: &mut dyn FnMut(Handshake)) {
        let reason = flow.end_reason.unwrap_or(reason);
        self.stats.flows_ended[reason as usize] += 1;
        if let Some(s) = flow.session.as_ref() {
            let outcome = s.end_outcome(reason == FlowEnd::Rst, reason == FlowEnd::Timeout);
            self.rec.finish(&mut self.stats, key, &mut flow, outcome, out);
        }
    }

    /// Packet time has reached `now` (a tick from the pipeline, the same for every worker):
    /// ends flows idle past their timeout, in (first seen, flow id) order.
    pub fn tick(&mut self, now: Timestamp, out: &mut dyn FnMut(Handshake)) {
        if now > self.now {
            self.now = now;
        }
        self.sweep(out);
    }

    /// Ends flows idle past their timeout at the worker's current packet time.
    fn sweep(&mut self, out: &mut dyn FnMut(Handshake)) {
        let now = self.now;
        let cfg = &self.cfg;
        let mut expired =
            self.flows.extract_if(|_, flow| flow.last_seen.plus_secs(cfg.timeout_of(flow)) <= now);
        expired.sort_by_cached_key(|(k, f)| (f.first_seen, k.flow_id(f.first_seen)));
        for (key, flow) in expired {
            self.end_flow(key, flow, FlowEnd::Timeout, out);
        }
    }

    /// Ends every flow because the sensor stops: handshakes whose facts are not final are
    /// reported with outcome `shutdown`.
    pub fn shutdown(&mut self, out: &mut dyn FnMut(Handshake)) {
        self.stats.flows_ended[FlowEnd::EndOfInput as usize] += self.flows.len() as u64;
        let open = self.empty_table(|f| f.session.as_ref().is_some_and(|s| !s.is_final()), |_, _| {});
        for (key, mut flow) in open {
            self.rec.finish(&mut self.stats, key, &mut flow, Outcome::Shutdown, out);
        }
    }

    /// Ends every flow (end of input), emitting what each had.
    pub fn flush(&mut self, out: &mut dyn FnMut(Handshake)) {
        let open = self.empty_table(
            |f| f.session.is_some(),
            |stats, f| stats.flows_ended[f.end_reason.unwrap_or(FlowEnd::EndOfInput) as usize] += 1,
        );
        for (key, flow) in open {
            self.end_flow(key, flow, FlowEnd::EndOfInput, out);
        }
        self.now = Timestamp::default();
    }

    /// Empties the table: returns the flows `keep` selects in first-seen order (so output
    /// does not depend on the table's random seed) and hands every other one to `gone`.
    /// Most of a busy table is tombstones of finished handshakes with nothing to emit;
    /// they are dropped where they lie rather than moved into a table-sized vector first
    /// (megabytes of fresh memory for every worker at the end of each input).
    fn empty_table(
        &mut self,
        keep: impl Fn(&Flow) -> bool,
        mut gone: impl FnMut(&mut WorkerStats, &Flow),
    ) -> Vec<(FlowKey, Flow)> {
        self.order.clear();
        let mut kept = Vec::new();
        for (key, flow) in self.flows.drain() {
            if keep(&flow) {
                kept.push((key, flow));
            } else {
                gone(&mut self.stats, &flow);
            }
        }
        kept.sort_by_cached_key(|(k, f)| (f.first_seen, k.flow_id(f.first_seen)));
        kept
    }
}

/// What turns finished sessions into records: the settings and state that records need
/// (the input file's name, the certificate cache).
struct Recorder {
    ja4plus: bool,
    pcap_filename: Option<Arc<str>>,
    certs: CertCache,
    /// The fingerprints' MD5 and SHA-256 by input string.
    hashes: Hashes,
}

impl Recorder {
    /// Emits the flow's record (if it saw a hello) and keeps only a tombstone.
    fn finish(
        &mut self,
        stats: &mut WorkerStats,
        key: FlowKey,
        flow: &mut Flow,
        outcome: Outcome,
        out: &mut dyn FnMut(Handshake),
    ) {
        flow.done = true;
        let Some(session) = flow.session.take() else { return };
        flow.streams[0].release();
        flow.streams[1].release();
        let record = self.build_record(key, flow.first_seen, *session, outcome);
        stats.cert_cache = self.certs.stats;
        stats.hash_cache = self.hashes.stats();
        if let Some(h) = record {
            stats.handshakes += 1;
            out(h);
        }
    }

    /// Builds the owned record of a finished session, with its fingerprints.
    fn build_record(
        &mut self,
        key: FlowKey,
        first_seen: Timestamp,
        session: TlsSession,
        outcome: Outcome,
    ) -> Option<Handshake> {
        if !session.facts.has_hello() {
            return None;
        }
        let transport = session.transport();
        let quic_version = session.quic_version();
        let f = session.facts;
        let client_dir = f.client_dir.unwrap_or(Dir::LoToHi);
        let (ja3, ja4) = match f.client_hello.as_ref() {
            Some(ch) => {
                let (j3, j4) = fingerprint::client_fingerprints(ch, transport, &mut self.hashes);
                (Some(j3), Some(j4))
            }
            None => (None, None),
        };
        let fingerprints = Fingerprints {
            ja3,
            ja4,
            ja3s: f.first_server_hello.as_ref().map(|sh| ja3::ja3s_with(sh, &mut self.hashes)),
            ja4s: if self.ja4plus {
                f.first_server_hello.as_ref().map(|sh| ja4::ja4s_with(sh, transport, &mut self.hashes))
            } else {
                None
            },
        };
        let ch_ts = f.client_hello.as_ref().and(f.first_hello_ts);
        let since_ch = |t: Option<Timestamp>| Some(t?.micros_since(ch_ts?));
        let resumed_13 = f.server_hello.as_ref().is_some_and(|sh| !sh.hello_retry && sh.psk_selected);
        // Certificates: parsed here, on the worker, and only the facts are kept.
        let tls13 = f.server_hello.as_ref().is_some_and(|sh| sh.negotiated_version() == 0x0304);
        let mut anomalies = f.anomalies;
        let ja4plus = self.ja4plus;
        let certs = &mut self.certs;
        let mut chain = |body: &Option<Vec<u8>>, who: &str| -> Vec<Arc<Cert>> {
            let Some(body) = body else { return Vec::new() };
            match x509::certificate_list(body, tls13) {
                Ok(list) => {
                    if let Some(e) = list.error {
                        anomalies.push(format!("{who} certificate list: {e}"));
                    }
                    list.certs
                        .iter()
                        .map(|der| {
                            certs.get_or_parse(der, |der| Cert {
                                info: x509::parse_certificate(der).map_err(|e| e.to_string()),
                                ja4x: if ja4plus { x509::ja4x(der) } else { None },
                            })
                        })
                        .collect()
                }
                Err(e) => {
                    anomalies.push(format!("{who} certificate list: {e}"));
                    Vec::new()
                }
            }
        };
        let certificates = chain(&f.server_certificates, "server");
        let client_certificates = chain(&f.client_certificates, "client");
        let infos: Vec<&CertInfo> = certificates.iter().filter_map(|c| c.info.as_ref().ok()).collect();
        let when = f.first_hello_ts.unwrap_or(first_seen);
        let sni =
            f.client_hello.as_ref().and_then(|c| c.sni.as_deref()).and_then(|b| std::str::from_utf8(b).ok());
        let cert_checks = (!infos.is_empty()).then(|| certcheck::check(&infos, when.as_secs(), sni));
        let details = Details {
            resumed: resumed_13 || f.abbreviated,
            ticket_issued: f.ticket_issued,
            certificate_requested: f.certificate_requested,
            ocsp_stapled: f.ocsp_stapled,
            ske_group: f.ske_group,
            dhe_bits: f.dhe_bits,
            server_sig_alg: f.server_sig_alg,
            server_hello_us: since_ch(f.server_hello_ts),
            finished_us: since_ch(f.client_finished_ts),
            quic_version,
            hello_verify: f.hello_verify,
        };
        Some(Handshake {
            flow_id: key.flow_id(first_seen),
            timestamp: f.first_hello_ts.unwrap_or(first_seen),
            transport,
            client: key.src(client_dir),
            server: key.src(client_dir.flip()),
            vlans: key.vlan_ids().to_vec(),
            pcap_filename: self.pcap_filename.clone(),
            client_hello: f.client_hello.map(|b| *b),
            client_hello_count: f.client_hello_count,
            first_server_hello: f.first_server_hello.map(|b| *b),
            server_hello: f.server_hello.map(|b| *b),
            hello_retry: f.hello_retry,
            alerts: f.alerts,
            outcome,
            anomalies,
            fingerprints,
            details,
            certificates,
            client_certificates,
            cert_checks,
            rendered: Vec::new(),
        })
    }
}
