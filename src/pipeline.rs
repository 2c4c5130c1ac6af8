//! The one place that wires capture → workers → consumers.
//!
//! The thread that reads frames (the caller of [`Pipeline::frame`] or
//! [`Pipeline::frame_in`]) decodes each frame far enough to find its flow, hashes it
//! symmetrically (both directions go to the same worker) and appends the frame to that
//! worker's pending batch: as a range of
//! a shared file block when it came in one (replay of classic pcap), else as a copy, with
//! the decoded packet (so no frame is decoded twice). With
//! [`PipelineConfig::inline_first`] (replay) the reading thread is itself worker 0 and works
//! its shard's frames as they come (no thread at all with one worker). Every
//! [`PipelineConfig::batch_frames`] frames, and whenever packet time crosses a second, the
//! pending batches are sent to all workers at once over bounded crossbeam channels (a
//! worker with nothing to do gets an empty batch that only carries the position), with a
//! time tick when one is due. Each worker owns its flow table and returns the records
//! it completed, tagged with the position of the frame (or tick) that completed them.
//!
//! **Order.** Frame n has position 2n+1; a tick or control sent before frame n has position
//! 2n. Records are released in the order of (position, record time, flow id) once every
//! worker has reported past their position, so the output is the same, line for line, for
//! any number of workers and any flow hash seed. Ticks reach every worker at the same
//! position, so timeouts do not depend on the sharding either. A released record goes
//! back to the worker that made it, with its next batch, to be freed there (a local free
//! for the allocator instead of a cross-thread one).
//!
//! **Back-pressure.** In replay the reader waits for a full worker queue (nothing may be
//! lost), and a thread waiting for the other side polls its queue for a while before it
//! sleeps ([`PipelineConfig::poll_before_sleep`]). In live capture ([`Overflow::Drop`]) a
//! full queue drops the batch and counts it; the reader never blocks on a worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvError, Sender, TryRecvError, TrySendError, bounded};

use crate::capture::Frame;
use crate::capture::blocks::{Block, InBlock};
use crate::decode::{self, DecodeError, Detached};
use crate::flow::{FlowHasher, FlowKey};
use crate::metrics::Metrics;
use crate::record::Handshake;
use crate::time::Timestamp;
use crate::worker::{Worker, WorkerConfig, WorkerStats};

/// What to do when a worker's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room (offline replay: lossless).
    Block,
    /// Drop the batch and count it (live capture: never stall the reader).
    Drop,
}

/// Turns a finished record into its output lines on the worker that finished it (so the
/// reading thread only writes them). Pure: a function of the record and shared read-only
/// state.
pub type Render = Arc<dyn Fn(&Handshake) -> Vec<String> + Send + Sync>;

/// Pipeline settings.
#[derive(Clone)]
pub struct PipelineConfig {
    /// Worker threads.
    pub workers: usize,
    /// Frames per dispatch cycle (over all workers).
    pub batch_frames: usize,
    /// Batches queued per worker.
    pub queue_batches: usize,
    /// Full-queue policy.
    pub overflow: Overflow,
    /// Settings of each worker.
    pub worker: WorkerConfig,
    /// Where workers publish their counters (after every batch), if anywhere.
    pub metrics: Option<Arc<Metrics>>,
    /// The `interface` label of the packet counters.
    pub interface: String,
    /// Render records on the workers (their `rendered` lines), if set.
    pub render: Option<Render>,
    /// A worker thread that is behind (batches already wait in its queue) leaves the
    /// rendering of the records it finishes to the consumer of the records, which renders
    /// what comes unrendered (`Enricher::lines`). Offline replay, where the consumer is the
    /// reading thread: when a worker falls behind, the reader works instead of waiting for
    /// room in that worker's queue, so the split of the work follows the speed of the cores
    /// (on a shared VM one core is often slower than the other for a while). Live capture
    /// keeps it off: its consumer must not take on flow work.
    pub offload_render: bool,
    /// The calling thread is itself the first of the `workers` (offline replay): with one
    /// worker no thread is started at all, with N, N - 1 are. Live capture keeps every
    /// worker on a thread of its own so the capture thread never does flow work.
    pub inline_first: bool,
    /// How long a thread that waits for the other side (a worker for its next batch, the
    /// reader for a worker's answer) polls the queue before it sleeps. Waking a sleeping
    /// thread costs tens of microseconds on each side, more in a VM; offline replay, where
    /// the next message is usually microseconds away, polls ([`REPLAY_POLL`]). Live capture
    /// sleeps at once, so a quiet link costs no CPU.
    pub poll_before_sleep: Duration,
}

/// [`PipelineConfig::poll_before_sleep`] of offline replay. Replaying the benchmark capture
/// with 2 workers, a sleeping worker was woken some 230 times; polling for up to 2 ms cut
/// that to about 13 and the median wall time by 5-7% (101 interleaved runs, three times),
/// for more CPU time (the polls). 0.5 ms polls gained too little to measure. The polls
/// yield the CPU after a short spin: with pure spinning, `--workers 4` on 2 cores took 10x
/// as long (a polling worker held the core the reader needed); yielding, it is as before.
pub const REPLAY_POLL: Duration = Duration::from_millis(2);

impl std::fmt::Debug for PipelineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineConfig")
            .field("workers", &self.workers)
            .field("batch_frames", &self.batch_frames)
            .field("queue_batches", &self.queue_batches)
            .field("overflow", &self.overflow)
            .field("worker", &self.worker)
            .field("interface", &self.interface)
            .field("render", &self.render.is_some())
            .field("offload_render", &self.offload_render)
            .field("inline_first", &self.inline_first)
            .field("poll_before_sleep", &self.poll_before_sleep)
            .finish_non_exhaustive()
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 1,
            batch_frames: 256,
            queue_batches: 4,
            overflow: Overflow::Block,
            worker: WorkerConfig::default(),
            metrics: None,
            interface: "file".to_string(),
            render: None,
            offload_render: false,
            inline_first: false,
            poll_before_sleep: Duration::ZERO,
        }
    }
}

/// A frame in a batch: a range of one of the batch's shared blocks, or of its own copies.
#[derive(Clone)]
struct FrameRef {
    pos: u64,
    ts: Timestamp,
    linktype: u32,
    orig_len: u32,
    /// Index in `Batch::blocks`, or [`COPIED`] for `Batch::data`.
    block: u32,
    start: u32,
    len: u32,
    /// The reading thread's decode of the frame, when it made one (to pick the worker).
    decoded: Option<Result<Detached, DecodeError>>,
    /// The flow hash it picked the worker by (the worker's table shares the hasher).
    hash: Option<u64>,
}

/// Shares of the flows each worker thread takes for the calling thread's one, when the
/// calling thread is a worker too ([`PipelineConfig::inline_first`]).
const SHARE: u64 = 10;

/// Batches waiting in a worker thread's queue from which it counts as behind and, with
/// [`PipelineConfig::offload_render`], leaves the rendering of its records to the consumer.
/// One waiting batch is the normal state of a busy pipeline: with 1 the reading thread of a
/// 2-worker replay rendered records the worker would have had time for. Paired medians of
/// 2 against 1: 0.968 and 0.971 (121 and 181 interleaved rounds; 0.936 and 0.957 by mean
/// time), 3 workers 0.969, 4 within noise; 3 and 4 batches were in between.
const OFFLOAD_BEHIND: usize = 2;

/// [`FrameRef::block`] of a frame copied into the batch.
const COPIED: u32 = u32::MAX;

/// Shared blocks one batch may reference (see [`Pipeline::frame_in`]): replay's dispatch
/// cycle of 1024 frames spans 1 or 2 file blocks of the benchmark captures (about 9 with
/// 9000-byte frames), live capture's 256 frames about 4 capture blocks.
const MAX_BLOCKS_PER_BATCH: usize = 16;

enum Control {
    /// Attribute later records to this input file.
    SetFile(Option<Arc<str>>),
    /// End of an input: end every flow.
    Flush,
    /// The sensor stops: end every flow, unfinished handshakes as `shutdown`.
    Shutdown,
}

#[derive(Default)]
struct Batch {
    /// Frames that came without a shared block (live capture, pcapng), copied.
    data: Vec<u8>,
    /// The file blocks the batch's frames sit in (kept alive until the worker is done).
    blocks: Vec<Arc<Block>>,
    frames: Vec<FrameRef>,
    /// Position just after the last frame dispatched in this cycle (over all workers).
    upto: u64,
    tick: Option<Timestamp>,
    control: Option<Control>,
    /// Records of this worker already released, for it to free (see `Pipeline::garbage`).
    /// Kept in their boxes: unboxing would free each box here, on the wrong thread.
    #[allow(clippy::vec_box)]
    garbage: Vec<Box<Handshake>>,
}

impl Batch {
    /// An empty batch with room for a whole cycle's frames (up to 4096; a larger
    /// configured cycle grows past that): one grown by pushes doubled nine times on its way
    /// to 1024 frames, copying its frames each time into fresh memory (1M of a 2-worker
    /// replay's 47M instructions on the reading thread).
    fn sized(frames: usize) -> Self {
        Batch { frames: Vec::with_capacity(frames.min(4096)), ..Batch::default() }
    }
}

/// A returned batch buffer larger than this is freed instead of reused.
const SPARE_BYTES_MAX: usize = 16 << 20;

/// Orders records: position, then record time and flow id.
type Key = (u64, Timestamp, u64);

struct Done {
    worker: usize,
    upto: u64,
    /// Boxed: records are large and move through a vector and an ordered map.
    records: Vec<(Key, Box<Handshake>)>,
    /// The batch's buffers, emptied, for the reader to fill again (no allocation and no
    /// fresh page faults per batch).
    spent: Option<Batch>,
    /// Worker counters, sent with the final message only.
    stats: Option<WorkerStats>,
}

/// Counters of the reading side.
#[derive(Debug, Default, Clone)]
pub struct PipelineStats {
    /// Batches dropped because a worker's queue was full ([`Overflow::Drop`]).
    pub batches_dropped: u64,
    /// Frames in those batches.
    pub frames_dropped: u64,
}

/// The running pipeline.
pub struct Pipeline {
    cfg: PipelineConfig,
    /// Per shard; `None` for the shard worked on the calling thread.
    senders: Vec<Option<Sender<Batch>>>,
    /// The worker of shard 0 when it runs on the calling thread ([`PipelineConfig::inline_first`]).
    inline: Option<Inline>,
    results: Receiver<Done>,
    handles: Vec<JoinHandle<()>>,
    pending: Vec<Batch>,
    pending_frames: usize,
    /// Number of the next frame.
    pos: u64,
    /// Packet time as far as the reader has seen, and the last tick sent.
    now: Timestamp,
    last_tick: Option<Timestamp>,
    /// Shards flows over workers; every worker's table hashes with it too, so the hash
    /// made here to pick the worker is the one the worker looks the flow up by
    /// ([`FlowHasher::shard`] keeps the two uses apart).
    hasher: FlowHasher,
    /// Released-record bookkeeping.
    watermark: Vec<u64>,
    /// Records waiting for release, with the shard of the worker that made them.
    waiting: BTreeMap<Key, (usize, Box<Handshake>)>,
    /// Released records of each worker thread, sent back with its next batch to be freed
    /// there: a record is some 40 allocations, and freeing them on the thread that made
    /// them is a local free for the allocator, where the reading thread's frees were
    /// cross-thread frees the worker then had to collect (`_mi_page_free_collect`; the
    /// CPU of a 2-worker replay fell 5%).
    #[allow(clippy::vec_box)]
    garbage: Vec<Vec<Box<Handshake>>>,
    /// Emptied batches returned by the workers, reused for the next dispatches.
    spare: Vec<Batch>,
    stats: PipelineStats,
    worker_stats: Vec<Option<WorkerStats>>,
}

impl Pipeline {
    /// Starts the worker threads.
    pub fn new(cfg: PipelineConfig) -> Self {
        let n = cfg.workers.max(1);
        let batch_frames = cfg.batch_frames;
        let hasher = FlowHasher::default();
        let (done_tx, results) = bounded::<Done>(n * (cfg.queue_batches + 2));
        let mut senders = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        // Shares of the flows: with the calling thread as worker 0, it takes one and each
        // worker thread SHARE (see `frame_in`); else one each.
        let (own, thread_share, total) = match cfg.inline_first {
            true => (1, SHARE as usize, SHARE as usize * (n - 1) + 1),
            false => (1, 1, n),
        };
        let inline = cfg.inline_first.then(|| Inline {
            worker: Worker::with_share(cfg.worker.clone(), hasher.clone(), (own, total)),
            batches: 0,
            records: Vec::new(),
        });
        // Worker threads start on other CPUs than this one (see `placement`).
        let parent_cpu = crate::placement::current_cpu();
        for w in 0..n {
            if w == 0 && inline.is_some() {
                senders.push(None);
                continue;
            }
            let (tx, rx) = bounded::<Batch>(cfg.queue_batches.max(1));
            let done_tx = done_tx.clone();
            let wcfg = cfg.worker.clone();
            let pubm = cfg.metrics.clone().map(|m| (m, cfg.interface.clone()));
            let render = cfg.render.clone();
            let offload = cfg.offload_render;
            let poll = cfg.poll_before_sleep;
            let worker = Worker::with_share(wcfg, hasher.clone(), (thread_share, total));
            let nth = handles.len();
            let h = std::thread::Builder::new()
                .name(format!("hellotap-worker-{w}"))
                .spawn(move || {
                    crate::placement::spread(parent_cpu, nth);
                    run_worker(w, worker, rx, done_tx, pubm, (render, offload), poll)
                })
                .expect("spawn worker thread");
            senders.push(Some(tx));
            handles.push(h);
        }
        Pipeline {
            cfg,
            senders,
            inline,
            results,
            handles,
            pending: (0..n).map(|_| Batch::sized(batch_frames)).collect(),
            pending_frames: 0,
            pos: 0,
            now: Timestamp::default(),
            last_tick: None,
            hasher,
            watermark: vec![0; n],
            waiting: BTreeMap::new(),
            garbage: (0..n).map(|_| Vec::new()).collect(),
            spare: Vec::new(),
            stats: PipelineStats::default(),
            worker_stats: vec![None; n],
        }
    }

    /// Attributes the records of the frames that follow to `name` (replay's `pcap_filename`).
    pub fn set_file(&mut self, name: Option<Arc<str>>, out: &mut dyn FnMut(&mut Handshake)) {
        self.dispatch(None, Some(|| Control::SetFile(name.clone())), out);
    }

    /// Ends every flow (end of one input file), releasing their records.
    pub fn flush(&mut self, out: &mut dyn FnMut(&mut Handshake)) {
        self.dispatch(None, Some(|| Control::Flush), out);
        self.last_tick = None;
        self.now = Timestamp::default();
    }

    /// Live capture with no frames for a while: sends what is pending and, when wall-clock
    /// time (which is packet time for live capture) has crossed a second, a tick, so
    /// handshakes waiting for an answer are reported within a bounded delay.
    pub fn idle(&mut self, now: Timestamp, out: &mut dyn FnMut(&mut Handshake)) {
        let due = self.last_tick.is_none_or(|t| now.as_secs() > t.as_secs());
        if due {
            let tick = Timestamp::from_nanos(now.as_secs() * 1_000_000_000);
            self.last_tick = Some(tick);
            self.dispatch(Some(tick), None::<fn() -> Control>, out);
        } else if self.pending_frames > 0 {
            self.dispatch(None, None::<fn() -> Control>, out);
        }
        self.release(false, out);
    }

    /// Stops: every open handshake is reported (outcome `shutdown` when not final), the
    /// workers end, every record is released. Returns the counters, as [`Pipeline::finish`].
    pub fn shutdown(mut self, out: &mut dyn FnMut(&mut Handshake)) -> (PipelineStats, WorkerStats) {
        self.dispatch(None, Some(|| Control::Shutdown), out);
        self.finish(out)
    }

    /// Hands one frame to its worker (copied into the worker's batch).
    pub fn frame(&mut self, f: &Frame<'_>, out: &mut dyn FnMut(&mut Handshake)) {
        self.frame_in(f, None, out);
    }

    /// Hands one frame to its worker; a frame that sits in a shared block (`shared`) is
    /// passed by reference to the block, without a copy.
    pub fn frame_in(
        &mut self,
        f: &Frame<'_>,
        shared: Option<InBlock<'_>>,
        out: &mut dyn FnMut(&mut Handshake),
    ) {
        let workers = self.pending.len();
        // The frame is decoded here when that picks its worker, or when this thread works
        // it; the decode then travels with it (a worker thread does not decode it again).
        // (An `if`, not `bool::then` with a closure: the closure was not inlined, and its
        // packet, returned through memory and read back in wider loads, stalled on store
        // forwarding: a tenth of this function's samples in perf annotate.)
        let decoded = if workers > 1 || self.inline.is_some() { Some(decode::decode_frame(f)) } else { None };
        let hash = (workers > 1)
            .then(|| {
                decoded.as_ref().and_then(|d| d.as_ref().ok()).map(|p| self.hasher.hash(&FlowKey::of(p).0))
            })
            .flatten();
        // A frame that does not decode goes to the first worker, which counts it.
        let shard = hash.map_or(0, |h| {
            if self.inline.is_some() {
                // The calling thread also reads the file and writes the events: its
                // shard takes one share where each worker thread takes ten, and a worker
                // that falls behind hands it the rendering of its records besides
                // (`offload_render`). Measured on 2 cores, 2 workers: 1:3 was the best
                // split without the handing over (of 1:1 to 1:10); with it, 1:4 to 1:8 were
                // 2-10% faster than 1:3 without (interleaved rounds on a loaded VM, 2% in
                // 61 quiet ones). Once the JA3/JA4 and hello parsing got cheaper (the
                // workers' part), 1:6 beat 1:4 by 2-3% in three sets of paired rounds (25,
                // 41, 61) and by 6% on long flows; 1:8 and 1:12 were in between; 3 and 4
                // workers the same. Once whole hellos' fingerprints were cached (the workers'
                // part 16% cheaper again), the worker thread sat polling for batches: 1:10
                // beat 1:6 by 2.6% (paired medians, 61 rounds; 1:14 and 1:20 by 2.0% and
                // 1.4%, 1:9 by 1.7% in 41), with 3 and 4 workers within noise.
                let u = FlowHasher::shard(h, SHARE * (workers as u64 - 1) + 1) as usize;
                u.div_ceil(SHARE as usize)
            } else {
                FlowHasher::shard(h, workers as u64) as usize
            }
        });
        // A tick is due when packet time crosses a whole second: it goes at this position,
        // before this frame, to every worker.
        let sec = f.ts.as_secs();
        if f.ts > self.now {
            self.now = f.ts;
        }
        let due = match self.last_tick {
            Some(t) => sec > t.as_secs(),
            None => {
                self.last_tick = Some(f.ts);
                false
            }
        };
        if due {
            let tick = Timestamp::from_nanos(sec * 1_000_000_000);
            self.last_tick = Some(tick);
            self.dispatch(Some(tick), None::<fn() -> Control>, out);
        }
        let pos = 2 * self.pos + 1;
        match self.inline.as_mut().filter(|_| shard == 0) {
            // The calling thread's own shard: worked now, its records filed at once.
            Some(inl) => {
                let render = self.cfg.render.as_ref();
                let d = decoded.unwrap_or_else(|| decode::decode_frame(f));
                inl.worker.decoded(f, d, hash, &mut |h| inl.records.push(keyed(pos, h, render)));
                self.waiting.extend(inl.records.drain(..).map(|(k, h)| (k, (0, h))));
                self.watermark[0] = pos + 1;
            }
            None => {
                let b = &mut self.pending[shard];
                // A batch keeps at most MAX_BLOCKS_PER_BATCH blocks alive; past that its
                // frames are copied, so the memory a queued batch holds stays bounded even
                // when each block carries few of its frames (a quiet live link).
                let shared = shared.filter(|s| {
                    b.blocks.len() < MAX_BLOCKS_PER_BATCH
                        || b.blocks.last().is_some_and(|last| Arc::ptr_eq(last, s.block))
                });
                let (block, start) = match shared {
                    Some(s) => {
                        if b.blocks.last().is_none_or(|last| !Arc::ptr_eq(last, s.block)) {
                            b.blocks.push(s.block.clone());
                        }
                        (b.blocks.len() as u32 - 1, s.start)
                    }
                    None => {
                        let start = b.data.len() as u32;
                        b.data.extend_from_slice(f.data);
                        (COPIED, start)
                    }
                };
                b.frames.push(FrameRef {
                    pos,
                    ts: f.ts,
                    linktype: f.linktype,
                    orig_len: f.orig_len,
                    block,
                    start,
                    len: f.data.len() as u32,
                    decoded: decoded.and_then(|d| d.map(|p| p.detach(f.data)).transpose()),
                    hash,
                });
            }
        }
        self.pos += 1;
        self.pending_frames += 1;
        if self.pending_frames >= self.cfg.batch_frames {
            self.dispatch(None, None::<fn() -> Control>, out);
            // Workers answer batches, so records can only be waiting after a dispatch.
            self.release(false, out);
        }
    }

    /// Sends every worker its pending batch (possibly empty), with a tick and/or a control.
    fn dispatch<C: Fn() -> Control>(
        &mut self,
        tick: Option<Timestamp>,
        control: Option<C>,
        out: &mut dyn FnMut(&mut Handshake),
    ) {
        let upto = 2 * self.pos;
        if let Some(m) = &self.cfg.metrics {
            for (w, tx) in self.senders.iter().enumerate() {
                if let Some(tx) = tx {
                    m.queue_depth.with_label_values(&[&w.to_string()]).set(tx.len() as i64);
                }
            }
        }
        if let Some(inl) = self.inline.as_mut() {
            // The calling thread's shard: its frames were worked on as they came; now the
            // tick and the control, at the same position as every other worker's.
            let render = self.cfg.render.as_ref();
            let metrics = self.cfg.metrics.as_deref().map(|m| (m, self.cfg.interface.as_str()));
            end_batch(
                &mut inl.worker,
                &mut inl.batches,
                tick,
                control.as_ref().map(|c| c()),
                metrics,
                &mut |h| inl.records.push(keyed(upto, h, render)),
            );
            self.waiting.extend(inl.records.drain(..).map(|(k, h)| (k, (0, h))));
            self.watermark[0] = self.watermark[0].max(upto);
        }
        for w in 0..self.pending.len() {
            let Some(tx) = self.senders[w].clone() else { continue };
            let fresh = self.spare.pop().unwrap_or_else(|| Batch::sized(self.cfg.batch_frames));
            let mut b = std::mem::replace(&mut self.pending[w], fresh);
            b.upto = upto;
            std::mem::swap(&mut b.garbage, &mut self.garbage[w]);
            b.tick = tick;
            b.control = control.as_ref().map(|c| c());
            match self.cfg.overflow {
                Overflow::Block => {
                    // While a queue is full, keep releasing records so workers never wait on us.
                    let mut b = b;
                    loop {
                        match tx.try_send(b) {
                            Ok(()) => break,
                            Err(TrySendError::Full(back)) => {
                                b = back;
                                self.receive_one(out);
                            }
                            Err(TrySendError::Disconnected(_)) => break,
                        }
                    }
                }
                Overflow::Drop => match tx.try_send(b) {
                    Ok(()) => {}
                    Err(TrySendError::Full(b)) | Err(TrySendError::Disconnected(b)) => {
                        self.stats.batches_dropped += 1;
                        self.stats.frames_dropped += b.frames.len() as u64;
                        if let Some(m) = &self.cfg.metrics {
                            m.capture_drops.with_label_values(&["queue"]).inc_by(b.frames.len() as u64);
                        }
                        // Records of this worker up to here can no longer be waited for.
                        self.watermark[w] = self.watermark[w].max(upto);
                    }
                },
            }
        }
        self.pending_frames = 0;
    }

    /// Waits for one worker message and files its records.
    fn receive_one(&mut self, out: &mut dyn FnMut(&mut Handshake)) {
        if let Ok(d) = recv_polling(&self.results, self.cfg.poll_before_sleep) {
            self.file(d);
            self.release(false, out);
        }
    }

    fn file(&mut self, d: Done) {
        self.watermark[d.worker] = self.watermark[d.worker].max(d.upto);
        let w = d.worker;
        self.waiting.extend(d.records.into_iter().map(|(k, h)| (k, (w, h))));
        if let Some(s) = d.stats {
            self.worker_stats[d.worker] = Some(s);
        }
        // Keep as many spare batches as can be in flight; a batch that grew unusually
        // large (one huge frame) is let go rather than kept.
        if let Some(b) = d.spent {
            if self.spare.len() < self.pending.len() * (self.cfg.queue_batches + 2)
                && b.data.capacity() <= SPARE_BYTES_MAX
            {
                self.spare.push(b);
            }
        }
    }

    /// Files whatever workers have sent, then releases records every worker is past.
    fn release(&mut self, all: bool, out: &mut dyn FnMut(&mut Handshake)) {
        while let Ok(d) = self.results.try_recv() {
            self.file(d);
        }
        let ready = self.watermark.iter().copied().min().unwrap_or(0);
        while let Some(entry) = self.waiting.first_entry() {
            if !all && entry.key().0 > ready {
                break;
            }
            let (w, mut h) = entry.remove();
            out(&mut h);
            // (After `finish` has closed the queues, records are freed here.)
            if matches!(self.senders.get(w), Some(Some(_))) {
                self.garbage[w].push(h);
            }
        }
    }

    /// Ends the input: flushes every flow, stops the workers, releases every record, and
    /// returns the counters of the reading side and of all workers added up.
    pub fn finish(mut self, out: &mut dyn FnMut(&mut Handshake)) -> (PipelineStats, WorkerStats) {
        self.flush(out);
        let senders = std::mem::take(&mut self.senders);
        drop(senders);
        if let Some(mut inl) = self.inline.take() {
            if let Some(m) = &self.cfg.metrics {
                inl.worker.publish(m, &self.cfg.interface, true);
            }
            self.worker_stats[0] = Some(inl.worker.stats.clone());
            self.watermark[0] = u64::MAX;
        }
        // Every worker sends a last message with its counters when its queue closes.
        while self.worker_stats.iter().any(Option::is_none) {
            match self.results.recv() {
                Ok(d) => self.file(d),
                Err(_) => break,
            }
        }
        for h in std::mem::take(&mut self.handles) {
            let _ = h.join();
        }
        if let Some(m) = &self.cfg.metrics {
            for w in 0..self.pending.len() {
                m.queue_depth.with_label_values(&[&w.to_string()]).set(0);
            }
        }
        self.release(true, out);
        let mut total = WorkerStats::default();
        for s in self.worker_stats.iter().flatten() {
            total.add(s);
        }
        (self.stats.clone(), total)
    }
}

/// The worker of the shard that runs on the calling thread.
struct Inline {
    worker: Worker,
    batches: u64,
    /// Records made by the current frame or dispatch (reused).
    records: Vec<(Key, Box<Handshake>)>,
}

/// A finished record, rendered (when rendering is on) and keyed for the ordered release.
fn keyed(pos: u64, h: Handshake, render: Option<&Render>) -> (Key, Box<Handshake>) {
    let mut h = Box::new(h);
    if let Some(r) = render {
        h.rendered = r(&h);
    }
    ((pos, h.timestamp, h.flow_id), h)
}

/// Receives from `rx`, polling it for up to `poll` before sleeping in a blocking receive.
fn recv_polling<T>(rx: &Receiver<T>, poll: Duration) -> Result<T, RecvError> {
    if !poll.is_zero() {
        let deadline = Instant::now() + poll;
        let mut spins = 0u32;
        loop {
            match rx.try_recv() {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => {}
            }
            // A short spin first; then each poll yields the CPU, so a thread that shares
            // it (more threads than cores) is not kept waiting by this one.
            if spins < 64 {
                spins += 1;
                std::hint::spin_loop();
            } else if Instant::now() < deadline {
                std::thread::yield_now();
            } else {
                break;
            }
        }
    }
    rx.recv()
}

/// The end of a batch, for a worker on its own thread or on the caller's: the tick, then
/// the control, then the counters published (with the walk over the buffered bytes every
/// 256 batches and at every control).
fn end_batch(
    w: &mut Worker,
    batches: &mut u64,
    tick: Option<Timestamp>,
    control: Option<Control>,
    metrics: Option<(&Metrics, &str)>,
    keep: &mut dyn FnMut(Handshake),
) {
    let had_control = control.is_some();
    if let Some(t) = tick {
        w.tick(t, keep);
    }
    match control {
        Some(Control::SetFile(name)) => w.set_pcap_filename(name),
        Some(Control::Flush) => w.flush(keep),
        Some(Control::Shutdown) => w.shutdown(keep),
        None => {}
    }
    if let Some((m, iface)) = metrics {
        *batches += 1;
        w.publish(m, iface, *batches % 256 == 1 || had_control);
    }
}

// Not inlined: the body of each worker thread, called once; kept as a frame of its own so
// profiles (`bench/profile.sh`) can tell the worker threads' time apart under LTO.
#[inline(never)]
fn run_worker(
    id: usize,
    mut w: Worker,
    rx: Receiver<Batch>,
    done: Sender<Done>,
    metrics: Option<(Arc<Metrics>, String)>,
    (render, offload): (Option<Render>, bool),
    poll: Duration,
) {
    let mut batches: u64 = 0;
    while let Ok(mut b) = recv_polling(&rx, poll) {
        b.garbage.clear();
        let mut records: Vec<(Key, Box<Handshake>)> = Vec::new();
        let queue = &rx;
        let mut keep = |pos: u64, h: Handshake| {
            // Behind (the next batches are already waiting): the consumer renders this one.
            let render = render.as_ref().filter(|_| !offload || queue.len() < OFFLOAD_BEHIND);
            records.push(keyed(pos, h, render))
        };
        for f in &b.frames {
            let src = match f.block {
                COPIED => &b.data[..],
                i => b.blocks[i as usize].bytes(),
            };
            let data = &src[f.start as usize..(f.start + f.len) as usize];
            let frame = Frame { ts: f.ts, linktype: f.linktype, data, orig_len: f.orig_len };
            let decoded = match &f.decoded {
                Some(Ok(d)) => d.attach(data).map(Ok),
                Some(Err(e)) => Some(Err(*e)),
                None => None,
            };
            match decoded {
                Some(d) => w.decoded(&frame, d, f.hash, &mut |h| keep(f.pos, h)),
                None => w.frame(&frame, &mut |h| keep(f.pos, h)),
            }
        }
        let end = b.upto;
        let m = metrics.as_ref().map(|(m, iface)| (&**m, iface.as_str()));
        end_batch(&mut w, &mut batches, b.tick, b.control.take(), m, &mut |h| keep(end, h));
        b.data.clear();
        b.frames.clear();
        // The last reference to a block returns its buffer to the reader's pool.
        b.blocks.clear();
        b.tick = None;
        let spent = Some(b);
        if done.send(Done { worker: id, upto: end, records, spent, stats: None }).is_err() {
            return;
        }
    }
    if let Some((m, iface)) = &metrics {
        w.publish(m, iface, true);
    }
    let _ = done.send(Done {
        worker: id,
        upto: u64::MAX,
        records: Vec::new(),
        spent: None,
        stats: Some(w.stats.clone()),
    });
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::BufReader;

    use super::*;
    use crate::capture::blocks::BlockPool;
    use crate::capture::read_capture;

    /// Every frame of a capture file, copied out: (time, link type, bytes, original length).
    fn owned_frames(path: impl AsRef<std::path::Path>) -> Vec<(Timestamp, u32, Vec<u8>, u32)> {
        let mut frames = Vec::new();
        read_capture(
            BufReader::new(File::open(path).unwrap()),
            |f| {
                frames.push((f.ts, f.linktype, f.data.to_vec(), f.orig_len));
                true
            },
            |_| {},
        )
        .unwrap();
        frames
    }

    /// A message that is there, one sent while the receiver polls, one sent after it has
    /// gone to sleep, and a queue closed while it polls: each is what `recv` would return.
    #[test]
    fn polling_receive_is_a_receive() {
        let poll = Duration::from_millis(20);
        let (tx, rx) = bounded::<u32>(4);
        tx.send(1).unwrap();
        assert_eq!(recv_polling(&rx, poll), Ok(1));
        for (delay, v) in [(Duration::from_millis(2), 2), (Duration::from_millis(100), 3)] {
            let tx = tx.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(delay);
                tx.send(v).unwrap();
            });
            assert_eq!(recv_polling(&rx, poll), Ok(v));
            t.join().unwrap();
        }
        for delay in [Duration::from_millis(2), Duration::from_millis(100)] {
            let (tx, rx) = bounded::<u32>(4);
            let t = std::thread::spawn(move || {
                std::thread::sleep(delay);
                drop(tx);
            });
            assert_eq!(recv_polling(&rx, poll), Err(RecvError));
            t.join().unwrap();
        }
        // No polling: a plain blocking receive.
        tx.send(4).unwrap();
        assert_eq!(recv_polling(&rx, Duration::ZERO), Ok(4));
    }

    /// A worker thread whose rendering is slow falls behind the reader: with
    /// `offload_render` it leaves some records unrendered for the consumer, which renders
    /// them; the lines are exactly those of a run where the workers render everything.
    #[test]
    fn a_worker_that_is_behind_leaves_the_rendering_to_the_consumer() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .collect();
        paths.sort();
        let frames: Vec<_> = paths.iter().flat_map(owned_frames).collect();
        let run = |offload: bool| {
            // Slow on purpose: the worker threads fall behind the reader.
            let render: Render = Arc::new(|h: &Handshake| {
                std::thread::sleep(Duration::from_millis(2));
                vec![crate::output::to_json(h)]
            });
            let cfg = PipelineConfig {
                workers: 2,
                batch_frames: 4,
                render: Some(render),
                offload_render: offload,
                ..PipelineConfig::default()
            };
            let mut pipe = Pipeline::new(cfg);
            let (mut lines, mut by_consumer) = (Vec::new(), 0);
            let mut emit = |h: &mut Handshake| {
                if h.rendered.is_empty() {
                    by_consumer += 1;
                    h.rendered = vec![crate::output::to_json(h)];
                }
                lines.extend(h.rendered.iter().cloned());
            };
            for (ts, linktype, data, orig_len) in &frames {
                pipe.frame(&Frame { ts: *ts, linktype: *linktype, data, orig_len: *orig_len }, &mut emit);
            }
            pipe.finish(&mut emit);
            (lines, by_consumer)
        };
        let (rendered, none) = run(false);
        let (offloaded, some) = run(true);
        assert!(rendered.len() > 20, "{} lines", rendered.len());
        assert_eq!(none, 0);
        assert!(some > 0, "no record was left to the consumer");
        assert_eq!(offloaded, rendered);
    }

    /// Every frame of a capture, each in a block of its own (a quiet live link: one frame
    /// per capture block), through 2 worker threads: no batch keeps more than
    /// `MAX_BLOCKS_PER_BATCH` blocks alive, and the records are those of plain copies.
    #[test]
    fn a_batch_keeps_a_bounded_number_of_blocks_alive() {
        let frames = owned_frames(concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/openssl-tls13-sni-alpn.pcap"));
        // The same frames many times over (one flow, so one worker gets them all).
        let frames: Vec<_> = frames.iter().cycle().take(40 * frames.len()).cloned().collect();
        let run = |shared: bool| {
            let cfg = PipelineConfig { workers: 2, batch_frames: 10_000, ..PipelineConfig::default() };
            let mut pipe = Pipeline::new(cfg);
            let pool = BlockPool::default();
            let mut out = Vec::new();
            let mut emit = |h: &mut Handshake| out.push(crate::output::to_json(h));
            for (ts, linktype, data, orig_len) in &frames {
                let block = pool.seal(data.clone(), data.len());
                let f = Frame { ts: *ts, linktype: *linktype, data: block.bytes(), orig_len: *orig_len };
                let at = shared.then_some(InBlock { block: &block, start: 0 });
                pipe.frame_in(&f, at, &mut emit);
                assert!(pipe.pending.iter().all(|b| b.blocks.len() <= MAX_BLOCKS_PER_BATCH));
            }
            assert!(pipe.pending.iter().any(|b| b.blocks.len() == MAX_BLOCKS_PER_BATCH) == shared);
            pipe.finish(&mut emit);
            out
        };
        let (shared, copied) = (run(true), run(false));
        assert!(!copied.is_empty());
        assert_eq!(shared, copied);
    }
}
