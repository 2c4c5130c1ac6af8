//! The sensor daemon (`hellotap live`, `hellotap run`): capture threads, the worker pool,
//! sinks, metrics, signals and privileges, wired together.
//!
//! Threads: one capture thread per interface reads frames and hands them in small batches
//! over a bounded channel (a full channel drops the batch and counts it as a `queue`
//! drop: the kernel ring is never left unread for long). A frame is copied once, out of
//! libpcap's buffer into a pooled block shared by the batch; from there it reaches its
//! worker by reference, and the block's buffer returns to the capture thread's pool when
//! the last worker is done with it (no allocation per frame). The dispatcher thread (the
//! caller's) shards them to the workers through the [`Pipeline`] with [`Overflow::Drop`],
//! serialises finished records and hands each line to the sinks, which never block it.
//! When no frame comes for 100 ms the dispatcher sends what is pending and, once a
//! second, a time tick, so a handshake that gets no answer is reported after
//! `flows.pending_timeout` even on a quiet link.
//!
//! Signals: SIGHUP reopens the output files (logrotate); SIGTERM and SIGINT stop the
//! capture, drain the queues, report every open handshake (outcome `shutdown`) and exit 0.
//!
//! Privileges: the captures are opened first (root or CAP_NET_RAW), then, when
//! `privileges.user` is set, the process switches to that user and its group.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{RecvTimeoutError, TrySendError, bounded};

use crate::capture::Frame;
use crate::capture::blocks::{Block, BlockPool, InBlock};
use crate::capture::live::{LiveCapture, Next};
use crate::config::Config;
use crate::enrich::Enricher;
use crate::metrics::{self, Metrics};
use crate::pipeline::Pipeline;
use crate::record::Handshake;
use crate::sink::{FileSink, Sink, Sinks, StdoutSink, UnixSink};
use crate::time::Timestamp;

/// A frame of a capture batch: where it sits in the batch's block.
struct LiveFrame {
    ts: Timestamp,
    orig_len: u32,
    start: u32,
    len: u32,
}

/// Frames a capture thread read, copied once out of libpcap's buffer into a shared block:
/// the dispatcher hands them to the workers by reference to the block (as replay does with
/// file blocks), and the block's buffer returns to the capture thread's pool when the last
/// worker is done with it.
struct CaptureBatch {
    linktype: u32,
    block: Arc<Block>,
    frames: Vec<LiveFrame>,
}

/// Frames per hand-over from a capture thread (at most).
const CAPTURE_BATCH: usize = 64;
/// Hand-overs queued between the capture threads and the dispatcher.
const CAPTURE_QUEUE: usize = 1024;
/// Bytes of a capture block (raised to the snaplen, up to 1 MiB; a larger frame gets a
/// block of its own).
const CAPTURE_BLOCK_BYTES: usize = 64 << 10;
/// Packet time a batch may span before it is handed over (a slow link's frames are not
/// held back until 64 have come).
const CAPTURE_BATCH_NANOS: i64 = 100_000_000;

/// Fills blocks with frames and cuts them into [`CaptureBatch`]es.
struct Batcher {
    linktype: u32,
    pool: BlockPool,
    block_bytes: usize,
    buf: Vec<u8>,
    used: usize,
    frames: Vec<LiveFrame>,
}

impl Batcher {
    fn new(linktype: u32, snaplen: u32) -> Self {
        let pool = BlockPool::default();
        // A frame larger than a block gets a buffer of its own (libpcap caps the snaplen at
        // 256 KiB; the config does not).
        let block_bytes = CAPTURE_BLOCK_BYTES.max((snaplen as usize).min(1 << 20));
        let buf = pool.take(block_bytes);
        Batcher { linktype, pool, block_bytes, buf, used: 0, frames: Vec::with_capacity(CAPTURE_BATCH) }
    }

    /// Adds a frame; returns a batch to hand over when one is complete (the frames before
    /// this one when it does not fit in the block; or with this one when it is the
    /// batch's 64th or comes 100 ms of packet time after its first).
    fn push(&mut self, ts: Timestamp, data: &[u8], orig_len: u32) -> Option<CaptureBatch> {
        let mut done = None;
        if self.used + data.len() > self.buf.len() {
            done = self.take();
        }
        if data.len() > self.buf.len() {
            // Longer than the snaplen said: a block of its own size.
            self.buf = self.pool.take(data.len());
        }
        let start = self.used;
        self.buf[start..start + data.len()].copy_from_slice(data);
        self.used += data.len();
        self.frames.push(LiveFrame { ts, orig_len, start: start as u32, len: data.len() as u32 });
        let spanned = self.frames.first().map_or(0, |f| ts.as_nanos().saturating_sub(f.ts.as_nanos()));
        if done.is_none() && (self.frames.len() >= CAPTURE_BATCH || spanned >= CAPTURE_BATCH_NANOS) {
            done = self.take();
        }
        done
    }

    /// The frames so far as a batch (none when there are none).
    fn take(&mut self) -> Option<CaptureBatch> {
        if self.frames.is_empty() {
            return None;
        }
        let data = std::mem::replace(&mut self.buf, self.pool.take(self.block_bytes));
        let block = self.pool.seal(data, std::mem::take(&mut self.used));
        let frames = std::mem::replace(&mut self.frames, Vec::with_capacity(CAPTURE_BATCH));
        Some(CaptureBatch { linktype: self.linktype, block, frames })
    }
}

impl CaptureBatch {
    /// Hands every frame to the pipeline, by reference to the block.
    fn feed(&self, pipe: &mut Pipeline, emit: &mut dyn FnMut(&mut Handshake)) {
        let bytes = self.block.bytes();
        for f in &self.frames {
            let Some(data) = bytes.get(f.start as usize..(f.start as usize + f.len as usize)) else {
                continue;
            };
            let frame = Frame { ts: f.ts, linktype: self.linktype, data, orig_len: f.orig_len };
            pipe.frame_in(&frame, Some(InBlock { block: &self.block, start: f.start }), emit);
        }
    }
}

fn wall_clock() -> Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_nanos(d.as_nanos().min(i64::MAX as u128) as i64)
}

/// What `run` counted, printed at the end.
#[derive(Debug, Default)]
pub struct DaemonSummary {
    /// Events handed to the sinks.
    pub events: u64,
    /// Frames dropped between capture and dispatcher.
    pub capture_queue_drops: u64,
}

fn drop_privileges(user: &str) -> Result<(), String> {
    use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};
    let u = User::from_name(user)
        .map_err(|e| format!("user {user}: {e}"))?
        .ok_or_else(|| format!("user {user} does not exist"))?;
    setgroups(&[Gid::from_raw(u.gid.as_raw())]).map_err(|e| format!("setgroups for {user}: {e}"))?;
    setgid(u.gid).map_err(|e| format!("setgid to {user}: {e}"))?;
    setuid(u.uid).map_err(|e| format!("setuid to {user}: {e}"))?;
    if Uid::effective().is_root() && !u.uid.is_root() {
        return Err(format!("still root after switching to {user}"));
    }
    Ok(())
}

/// Runs the sensor until SIGTERM/SIGINT. Errors at start (an interface that cannot be
/// opened, a busy metrics port, an unwritable output file, a bad user) are returned
/// before anything runs.
pub fn run(cfg: Config) -> Result<DaemonSummary, String> {
    if cfg.capture.interfaces.is_empty() {
        return Err("no interface to capture on (capture.interfaces or -i IFACE)".into());
    }
    let metrics = Arc::new(Metrics::new(cfg.metrics.top_fingerprints));
    // Everything that needs privileges or can fail is opened first.
    let mut captures = Vec::new();
    for iface in &cfg.capture.interfaces {
        captures.push(LiveCapture::open(iface, &cfg.capture)?);
    }
    let server = if cfg.metrics.addr.is_empty() {
        None
    } else {
        Some(metrics::serve(&cfg.metrics.addr, metrics.clone())?)
    };
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if cfg.output.stdout {
        sinks.push(Box::new(StdoutSink::new()));
    }
    if !cfg.output.file.is_empty() {
        let f = FileSink::open(PathBuf::from(&cfg.output.file), cfg.output.rotate_bytes)
            .map_err(|e| format!("output file {}: {e}", cfg.output.file))?;
        sinks.push(Box::new(f));
    }
    if !cfg.output.unix_socket.is_empty() {
        sinks.push(Box::new(UnixSink::new(PathBuf::from(&cfg.output.unix_socket))));
    }
    if let Some(c) = crate::nats::NatsConfig::from_output(&cfg.output) {
        c.validate().map_err(|e| format!("output.nats_url: {e}"))?;
        let url = c.url.clone();
        let sink = crate::nats::NatsSink::new(c).map_err(|e| format!("NATS {url}: {e}"))?;
        sinks.push(Box::new(sink.with_metrics(metrics.clone())));
    }
    if !cfg.privileges.user.is_empty() {
        drop_privileges(&cfg.privileges.user)?;
    }

    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, term.clone()).map_err(|e| format!("signal handler: {e}"))?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .map_err(|e| format!("signal handler: {e}"))?;

    let rule_paths: Vec<PathBuf> = cfg.rules.paths.iter().map(PathBuf::from).collect();
    let enricher = if rule_paths.is_empty() {
        Enricher::plain(Some(metrics.clone()))
    } else {
        Enricher::load(&rule_paths, Some(metrics.clone())).map_err(|errors| {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            format!("rules:\n{}", text.join("\n"))
        })?
    };
    let sinks = Sinks::start(sinks, cfg.output.queue, Some(metrics.clone()));
    let mut pcfg = cfg.pipeline();
    pcfg.metrics = Some(metrics.clone());
    pcfg.render = Some(enricher.renderer());
    pcfg.interface = String::new(); // packets are counted per interface by the capture threads
    let mut pipe = Pipeline::new(pcfg);

    let (tx, rx) = bounded::<CaptureBatch>(CAPTURE_QUEUE);
    let snaplen = cfg.capture.snaplen;
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for mut cap in captures {
        let (tx, stop, m, stats_every) = (
            tx.clone(),
            stop.clone(),
            metrics.clone(),
            Duration::from_secs(cfg.capture.stats_interval.max(1)),
        );
        let h = std::thread::Builder::new()
            .name(format!("hellotap-capture-{}", cap.interface))
            .spawn(move || {
                let iface = cap.interface.clone();
                let (packets, bytes) =
                    (m.packets.with_label_values(&[&iface]), m.bytes.with_label_values(&[&iface]));
                let (kernel, interface, queue) = (
                    m.capture_drops.with_label_values(&["kernel"]),
                    m.capture_drops.with_label_values(&["interface"]),
                    m.capture_drops.with_label_values(&["queue"]),
                );
                let mut last = crate::capture::live::Drops::default();
                let mut last_stats = std::time::Instant::now();
                let mut batcher = Batcher::new(cap.linktype, snaplen);
                let mut read_stats = |cap: &mut LiveCapture| {
                    if let Ok(d) = cap.drops() {
                        kernel.inc_by(d.kernel.saturating_sub(last.kernel));
                        interface.inc_by(d.interface.saturating_sub(last.interface));
                        last = d;
                    }
                };
                // Counted per batch handed over (or dropped), not per packet. Never waits:
                // a full queue drops the batch (counted), also while stopping, when the
                // dispatcher is waiting for this thread to end.
                let hand_over = |b: CaptureBatch| -> bool {
                    let n = b.frames.len() as u64;
                    packets.inc_by(n);
                    bytes.inc_by(b.frames.iter().map(|f| u64::from(f.len)).sum());
                    match tx.try_send(b) {
                        Ok(()) => true,
                        Err(TrySendError::Full(_)) => {
                            queue.inc_by(n);
                            true
                        }
                        Err(TrySendError::Disconnected(_)) => false,
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let mut full = None;
                    let done = match cap.read(|ts, data, len| full = batcher.push(ts, data, len)) {
                        Ok(Next::Frame) => full,
                        Ok(Next::Timeout) => batcher.take(),
                        Err(e) => {
                            eprintln!("hellotap: {e}");
                            break;
                        }
                    };
                    if let Some(b) = done {
                        if !hand_over(b) {
                            break;
                        }
                    }
                    if last_stats.elapsed() >= stats_every {
                        last_stats = std::time::Instant::now();
                        read_stats(&mut cap);
                    }
                }
                // The kernel hands over its current block when it fills or its timeout
                // passes: read on for that long so the last packets are not left in it.
                let until = std::time::Instant::now()
                    + Duration::from_millis(2 * crate::capture::live::BLOCK_TIMEOUT_MS as u64);
                while std::time::Instant::now() < until {
                    let mut full = None;
                    match cap.read(|ts, data, len| full = batcher.push(ts, data, len)) {
                        Ok(Next::Frame) => {}
                        Ok(Next::Timeout) | Err(_) => break,
                    }
                    if let Some(b) = full {
                        hand_over(b);
                    }
                }
                if let Some(b) = batcher.take() {
                    hand_over(b);
                }
                read_stats(&mut cap);
            })
            .map_err(|e| format!("capture thread: {e}"))?;
        threads.push(h);
    }
    drop(tx);

    let mut summary = DaemonSummary::default();
    let events = std::cell::Cell::new(0u64);
    let enricher = std::cell::RefCell::new(enricher);
    let mut emit = |h: &mut Handshake| {
        for line in enricher.borrow_mut().lines(h) {
            sinks.send(line);
            events.set(events.get() + 1);
        }
    };
    loop {
        if term.load(Ordering::Relaxed) {
            break;
        }
        if hup.swap(false, Ordering::Relaxed) {
            sinks.reopen();
            // Validate, then swap: a rule set that fails to load keeps the old one.
            if !rule_paths.is_empty() {
                match enricher.borrow_mut().reload() {
                    Ok(s) => eprintln!("hellotap: rules reloaded: {s}"),
                    Err(errors) => {
                        eprintln!("hellotap: rules not reloaded; the previous set stays in force:");
                        for e in &errors {
                            eprintln!("hellotap:   {e}");
                        }
                    }
                }
            }
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(batch) => batch.feed(&mut pipe, &mut emit),
            Err(RecvTimeoutError::Timeout) => pipe.idle(wall_clock(), &mut emit),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // Stop capturing, drain what the capture threads already read, report the rest.
    stop.store(true, Ordering::Relaxed);
    for h in threads {
        let _ = h.join();
    }
    while let Ok(batch) = rx.try_recv() {
        batch.feed(&mut pipe, &mut emit);
    }
    let (pstats, _) = pipe.shutdown(&mut emit);
    summary.capture_queue_drops = pstats.frames_dropped;
    summary.events = events.get();
    if let Err(e) = enricher.borrow().save_state() {
        eprintln!("hellotap: cannot save the learner's state: {e}");
    }
    sinks.close();
    if let Some(s) = server {
        s.stop();
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(b: &CaptureBatch) -> Vec<(i64, Vec<u8>, u32)> {
        b.frames
            .iter()
            .map(|f| {
                let at = f.start as usize;
                (f.ts.as_nanos(), b.block.bytes()[at..at + f.len as usize].to_vec(), f.orig_len)
            })
            .collect()
    }

    /// Every frame comes out once, in order, with its bytes, whatever its size: batches
    /// end at `CAPTURE_BATCH` frames, when the block is full, and on `take`.
    #[test]
    fn batcher_hands_over_every_frame_in_order() {
        let mut b = Batcher::new(1, 128);
        let mut sent = Vec::new();
        let mut got = Vec::new();
        let mut sizes: Vec<usize> = (0..300).map(|i| (i * 7919) % 3000).collect();
        // Larger than a block, and exactly a block.
        sizes.extend([CAPTURE_BLOCK_BYTES + 5, 10, CAPTURE_BLOCK_BYTES, 1]);
        for (i, &n) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..n).map(|k| (k + i) as u8).collect();
            let ts = Timestamp::from_nanos(i as i64);
            sent.push((ts.as_nanos(), data.clone(), n as u32 + 4));
            if let Some(batch) = b.push(ts, &data, n as u32 + 4) {
                assert!(!batch.frames.is_empty() && batch.frames.len() <= CAPTURE_BATCH);
                got.extend(frames_of(&batch));
            }
        }
        got.extend(frames_of(&b.take().expect("the last frames")));
        assert!(b.take().is_none());
        assert_eq!(got, sent);
    }

    /// On a slow link a batch goes once it spans 100 ms of packet time, not only after 64
    /// frames.
    #[test]
    fn batcher_hands_over_a_slow_links_frames_within_100_ms() {
        let mut b = Batcher::new(1, 65535);
        let at = |ms: i64| Timestamp::from_nanos(1_700_000_000_000_000_000 + ms * 1_000_000);
        assert!(b.push(at(0), b"a", 1).is_none());
        assert!(b.push(at(60), b"b", 1).is_none());
        let batch = b.push(at(100), b"c", 1).expect("100 ms after the first frame");
        assert_eq!(frames_of(&batch).len(), 3);
        assert!(b.take().is_none());
    }
}
