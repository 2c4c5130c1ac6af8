//! Offline replay: capture files and directories through the pipeline, events out.
//!
//! Each input file is an independent capture: its flows are ended (and their pending
//! handshakes emitted) when the file ends, so a file's events never depend on which
//! files were replayed with it. A damaged file is reported with its offset, the events
//! it yielded before the damage are kept, and the other inputs are still processed.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::capture::{self, CaptureError};
use crate::enrich::Enricher;
use crate::metrics::Metrics;
use crate::nats::NatsSink;
use crate::output::JsonLines;
use crate::pipeline::{Overflow, Pipeline, PipelineConfig};
use crate::record::Handshake;
use crate::sink::Sink;
use crate::worker::{WorkerConfig, WorkerStats};

/// One input to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    fn display(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// Problems met while expanding and reading inputs.
#[derive(Debug)]
pub struct InputError {
    /// The path concerned.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// Expands paths into inputs: `-` is stdin, a directory is walked recursively (sorted,
/// keeping only files that start with a pcap/pcapng magic number, so golden files and
/// READMEs beside captures are skipped), a file is taken as given.
pub fn expand(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Vec<Input> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if p.is_dir() {
            walk(p, &mut out, errors, 0);
        } else if p.exists() {
            out.push(Input::File(p.clone()));
        } else {
            errors.push(InputError {
                path: p.display().to_string(),
                message: "no such file or directory".into(),
            });
        }
    }
    out
}

const MAX_DIR_DEPTH: usize = 32;

fn walk(dir: &Path, out: &mut Vec<Input>, errors: &mut Vec<InputError>, depth: usize) {
    if depth > MAX_DIR_DEPTH {
        errors.push(InputError {
            path: dir.display().to_string(),
            message: "directory nesting too deep".into(),
        });
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            errors.push(InputError { path: dir.display().to_string(), message: e.to_string() });
            return;
        }
    };
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out, errors, depth + 1);
        } else if is_capture_file(&p) {
            out.push(Input::File(p));
        }
    }
}

fn is_capture_file(p: &Path) -> bool {
    let mut head = [0u8; 4];
    File::open(p).and_then(|mut f| f.read_exact(&mut head)).is_ok() && capture::has_capture_magic(&head)
}

/// Replay settings.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Worker settings.
    pub worker: WorkerConfig,
    /// Workers, the calling (reading) thread being the first (the output is the same for any
    /// number).
    pub workers: usize,
    /// Show a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Metrics to update, if any.
    pub metrics: Option<Arc<Metrics>>,
    /// Rule files or directories (empty: no rules).
    pub rules: Vec<PathBuf>,
    /// Also publish every line to NATS JetStream (replay waits for room: lossless while
    /// the server is up; what could not be delivered is counted in the summary).
    pub nats: Option<crate::nats::NatsConfig>,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            worker: WorkerConfig::default(),
            workers: 1,
            progress: false,
            metrics: None,
            rules: Vec::new(),
            nats: None,
        }
    }
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    /// Inputs read.
    pub inputs: usize,
    /// Inputs that were missing, unreadable, not captures, or damaged.
    pub bad_inputs: usize,
    /// Events written.
    pub events: u64,
    /// Worker counters.
    pub stats: WorkerStats,
    /// Seconds taken.
    pub seconds: f64,
    /// The output stopped accepting events (closed pipe).
    pub output_closed: bool,
    /// Batches dropped by a full worker queue (never in replay, which waits).
    pub batches_dropped: u64,
    /// What the NATS sink delivered and lost, when one was used.
    pub nats: Option<crate::nats::NatsCounters>,
}

/// Replays `inputs`, writing events to `out` and one line per bad input to `err`.
pub fn run<W: Write, E: Write>(
    inputs: &[Input],
    cfg: &ReplayConfig,
    out: &mut JsonLines<W>,
    err: &mut E,
) -> io::Result<ReplaySummary> {
    let started = Instant::now();
    let mut summary = ReplaySummary::default();
    let mut enricher = if cfg.rules.is_empty() {
        Enricher::plain(cfg.metrics.clone())
    } else {
        Enricher::load(&cfg.rules, cfg.metrics.clone()).map_err(|errors| {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            io::Error::new(io::ErrorKind::InvalidData, text.join("\n"))
        })?
    };
    let mut pipe = Pipeline::new(PipelineConfig {
        workers: cfg.workers.max(1),
        overflow: Overflow::Block,
        worker: cfg.worker.clone(),
        metrics: cfg.metrics.clone(),
        render: Some(enricher.renderer()),
        // The reading thread writes the events: a worker that falls behind leaves it the
        // rendering (the reader would otherwise wait for room in that worker's queue).
        offload_render: true,
        // Offline, the reading thread is one of the workers (as in Suricata's workers
        // mode): `--workers N` is N threads in all, and on N cores no thread waits for one.
        inline_first: true,
        poll_before_sleep: crate::pipeline::REPLAY_POLL,
        // Cycles of 1024 frames: with 2 workers the median wall time was 5-6% under that
        // of 256-frame cycles (61 and 41 interleaved runs of the benchmark capture), 2048
        // gained nothing more; 1 worker and long flows are the same either way.
        batch_frames: 1024,
        ..PipelineConfig::default()
    });
    let metrics = cfg.metrics.as_deref();
    let mut nats = match &cfg.nats {
        Some(c) => {
            let sink = NatsSink::new(c.clone()).map_err(io::Error::other)?;
            Some(match &cfg.metrics {
                Some(m) => sink.with_metrics(m.clone()),
                None => sink,
            })
        }
        None => None,
    };
    let show_progress = cfg.progress && io::stderr().is_terminal();
    // The record sink is shared by the reading loop and the pipeline's callbacks.
    let write_err: RefCell<Option<io::Error>> = RefCell::new(None);
    let closed = Cell::new(false);
    let out = RefCell::new(out);
    let mut emit = |h: &mut Handshake| {
        // The event, then an alert per matching rule; metrics counted by the enricher.
        for line in enricher.lines(h) {
            if let Some(n) = nats.as_mut() {
                // Refused only when the server stays away past the buffer: counted below.
                let _ = n.write_line(line);
            }
            if closed.get() {
                if let Some(m) = metrics {
                    m.events_dropped.with_label_values(&["output"]).inc();
                }
                continue;
            }
            match out.borrow_mut().write_line(line) {
                Ok(()) => {
                    if let Some(m) = metrics {
                        m.events.with_label_values(&["output"]).inc();
                    }
                }
                Err(e) => {
                    closed.set(true);
                    *write_err.borrow_mut() = Some(e);
                }
            }
        }
    };
    for input in inputs {
        summary.inputs += 1;
        let name = input.display();
        pipe.set_file(Some(Arc::from(name.as_str())), &mut emit);
        let (reader, total): (Box<dyn Read + Send>, Option<u64>) = match input {
            Input::Stdin => (Box::new(io::stdin()), None),
            Input::File(p) => match File::open(p) {
                Ok(f) => {
                    let len = f.metadata().ok().map(|m| m.len());
                    // Read in large blocks by the capture reader itself: no buffer between.
                    (Box::new(f), len)
                }
                Err(e) => {
                    summary.bad_inputs += 1;
                    writeln!(err, "hellotap: {name}: {e}")?;
                    continue;
                }
            },
        };
        let mut progress = |done| {
            if show_progress {
                progress_line(&name, done, total);
            }
        };
        let result = if matches!(input, Input::Stdin) {
            // A pipe (`tcpdump -U -w - | hellotap replay -`): frames go on as each read
            // returns, where the block reader would wait for a full block.
            capture::read_capture(
                reader,
                |frame| {
                    pipe.frame(frame, &mut emit);
                    !closed.get()
                },
                &mut progress,
            )
        } else {
            capture::blocks::read_capture_blocks(
                reader,
                |frame, shared| {
                    pipe.frame_in(frame, shared, &mut emit);
                    !closed.get()
                },
                &mut progress,
            )
        };
        pipe.flush(&mut emit);
        if show_progress {
            eprint!("\r\x1b[K");
        }
        if let Err(e) = result {
            summary.bad_inputs += 1;
            report(err, &name, &e)?;
        }
        if closed.get() {
            break;
        }
    }
    let (pstats, wstats) = pipe.finish(&mut emit);
    if let Err(e) = enricher.save_state() {
        writeln!(err, "hellotap: cannot save the learner's state: {e}")?;
    }
    if let Some(n) = nats {
        summary.nats = Some(n.close());
    }
    let out = out.into_inner();
    if let Some(e) = write_err.into_inner() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e);
        }
        summary.output_closed = true;
    }
    if !summary.output_closed {
        if let Err(e) = out.flush() {
            if e.kind() != io::ErrorKind::BrokenPipe {
                return Err(e);
            }
            summary.output_closed = true;
        }
    }
    summary.events = out.written;
    summary.stats = wstats;
    summary.batches_dropped = pstats.batches_dropped;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn report<E: Write>(err: &mut E, name: &str, e: &CaptureError) -> io::Result<()> {
    writeln!(err, "hellotap: {name}: {e}")
}

fn progress_line(name: &str, done: u64, total: Option<u64>) {
    match total {
        Some(t) if t > 0 => {
            let pct = (done as f64 / t as f64 * 100.0).min(100.0);
            let filled = (pct / 5.0) as usize;
            eprint!(
                "\r\x1b[K{name} [{}{}] {pct:5.1}% {:.1}/{:.1} MB",
                "#".repeat(filled),
                ".".repeat(20 - filled.min(20)),
                done as f64 / 1e6,
                t as f64 / 1e6
            );
        }
        _ => eprint!("\r\x1b[K{name} {:.1} MB", done as f64 / 1e6),
    }
}

impl ReplaySummary {
    /// The one-line summary printed at the end.
    pub fn line(&self) -> String {
        format!(
            "hellotap: {} packets, {} flows, {} handshakes, {} events, {} decode errors, {} bad inputs in {:.2}s",
            self.stats.packets,
            self.stats.flows_created,
            self.stats.handshakes,
            self.events,
            self.stats.decode_error_total(),
            self.bad_inputs,
            self.seconds
        )
    }
}
