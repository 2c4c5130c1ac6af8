//! Event sinks for the sensor daemon: standard output, a file (append; reopened on SIGHUP
//! for logrotate, or rotated by size), a Unix stream socket (reconnects when it goes away).
//!
//! Every sink runs on its own thread behind a bounded queue: the pipeline hands it a line
//! with `try_send`, so a slow or broken sink drops events (counted in
//! `hellotap_events_dropped_total{sink}` and `hellotap_capture_drops_total{kind="sink"}`) and
//! never stalls packet processing. A sink that fails (disk full, socket closed) keeps
//! taking events from its queue, counting the ones it cannot write, and retries, so it
//! recovers by itself when the disk has room again or the socket comes back.
//!
//! The [`Sink`] trait is what a new destination (a message bus) implements.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};

use crate::metrics::Metrics;

/// A destination for event lines.
pub trait Sink: Send {
    /// A short name for metrics labels (`stdout`, `file`, `unix`).
    fn name(&self) -> &'static str;
    /// Writes one event line (without the newline).
    fn write_line(&mut self, line: &str) -> io::Result<()>;
    /// Pushes buffered lines out.
    fn flush(&mut self) -> io::Result<()>;
    /// Reopens the destination (SIGHUP, or after an error).
    fn reopen(&mut self) -> io::Result<()>;
}

/// Standard output.
pub struct StdoutSink {
    out: BufWriter<io::Stdout>,
}

impl StdoutSink {
    /// A buffered standard output.
    pub fn new() -> Self {
        StdoutSink { out: BufWriter::with_capacity(1 << 16, io::stdout()) }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A file opened for appending; rotated to `PATH.1` at `rotate_bytes` (0: never).
pub struct FileSink {
    path: PathBuf,
    rotate_bytes: u64,
    written: u64,
    out: Option<BufWriter<File>>,
}

impl FileSink {
    /// Opens (creates) the file for appending. An error here is reported at start.
    pub fn open(path: PathBuf, rotate_bytes: u64) -> io::Result<Self> {
        let mut s = FileSink { path, rotate_bytes, written: 0, out: None };
        s.reopen()?;
        Ok(s)
    }
}

impl Sink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        if self.rotate_bytes > 0
            && self.written + line.len() as u64 + 1 > self.rotate_bytes
            && self.written > 0
        {
            self.flush()?;
            self.out = None;
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            std::fs::rename(&self.path, &old)?;
            self.reopen()?;
        }
        if self.out.is_none() {
            self.reopen()?;
        }
        let out = self.out.as_mut().ok_or_else(|| io::Error::other("file not open"))?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        self.written += line.len() as u64 + 1;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(o) => o.flush(),
            None => Ok(()),
        }
    }
    fn reopen(&mut self) -> io::Result<()> {
        if let Some(mut o) = self.out.take() {
            let _ = o.flush();
        }
        let f = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.written = f.metadata().map(|m| m.len()).unwrap_or(0);
        self.out = Some(BufWriter::with_capacity(1 << 16, f));
        Ok(())
    }
}

/// A Unix stream socket (a local collector such as Vector's socket source).
pub struct UnixSink {
    path: PathBuf,
    out: Option<BufWriter<UnixStream>>,
}

impl UnixSink {
    /// A sink that connects on first use (and again after every failure).
    pub fn new(path: PathBuf) -> Self {
        UnixSink { path, out: None }
    }
}

impl Sink for UnixSink {
    fn name(&self) -> &'static str {
        "unix"
    }
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        if self.out.is_none() {
            self.reopen()?;
        }
        let out = self.out.as_mut().ok_or_else(|| io::Error::other("not connected"))?;
        let r = out.write_all(line.as_bytes()).and_then(|_| out.write_all(b"\n"));
        if r.is_err() {
            self.out = None;
        }
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        let r = match self.out.as_mut() {
            Some(o) => o.flush(),
            None => Ok(()),
        };
        if r.is_err() {
            self.out = None;
        }
        r
    }
    fn reopen(&mut self) -> io::Result<()> {
        self.out = None;
        let s = UnixStream::connect(&self.path)?;
        s.set_write_timeout(Some(Duration::from_secs(2)))?;
        self.out = Some(BufWriter::with_capacity(1 << 16, s));
        Ok(())
    }
}

enum Msg {
    Line(Arc<str>),
    Reopen,
}

struct Running {
    name: &'static str,
    tx: Sender<Msg>,
    handle: JoinHandle<()>,
    dropped: Arc<AtomicU64>,
}

/// All configured sinks, each on its own thread behind a bounded queue.
pub struct Sinks {
    running: Vec<Running>,
    metrics: Option<Arc<Metrics>>,
}

impl Sinks {
    /// Starts one thread per sink, each with a queue of `queue` events.
    pub fn start(sinks: Vec<Box<dyn Sink>>, queue: usize, metrics: Option<Arc<Metrics>>) -> Self {
        let running = sinks
            .into_iter()
            .map(|sink| {
                let name = sink.name();
                let (tx, rx) = bounded::<Msg>(queue.max(1));
                let dropped = Arc::new(AtomicU64::new(0));
                let (m, d) = (metrics.clone(), dropped.clone());
                let handle = std::thread::Builder::new()
                    .name(format!("hellotap-sink-{name}"))
                    .spawn(move || run_sink(sink, rx, m, d))
                    .expect("spawn sink thread");
                Running { name, tx, handle, dropped }
            })
            .collect();
        Sinks { running, metrics }
    }

    /// Hands a line to every sink without waiting; a full queue drops it (counted).
    pub fn send(&self, line: &str) {
        let line: Arc<str> = Arc::from(line);
        for r in &self.running {
            match r.tx.try_send(Msg::Line(line.clone())) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    r.dropped.fetch_add(1, Ordering::Relaxed);
                    if let Some(m) = &self.metrics {
                        m.events_dropped.with_label_values(&[r.name]).inc();
                        m.capture_drops.with_label_values(&["sink"]).inc();
                    }
                }
            }
        }
    }

    /// Asks every sink to reopen its destination (SIGHUP).
    pub fn reopen(&self) {
        for r in &self.running {
            let _ = r.tx.try_send(Msg::Reopen);
        }
    }

    /// Events each sink had to drop so far.
    pub fn dropped(&self) -> Vec<(&'static str, u64)> {
        self.running.iter().map(|r| (r.name, r.dropped.load(Ordering::Relaxed))).collect()
    }

    /// Closes the queues and waits until every sink has written what it holds.
    pub fn close(self) {
        for r in self.running {
            drop(r.tx);
            let _ = r.handle.join();
        }
    }
}

fn run_sink(mut sink: Box<dyn Sink>, rx: Receiver<Msg>, m: Option<Arc<Metrics>>, dropped: Arc<AtomicU64>) {
    let name = sink.name();
    let mut failing_since: Option<Instant> = None;
    let mut last_retry = Instant::now();
    loop {
        let msg = match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                let _ = sink.flush();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Msg::Reopen => {
                let _ = sink.flush();
                if sink.reopen().is_ok() {
                    failing_since = None;
                }
            }
            Msg::Line(line) => {
                // While failing, retry the destination at most once a second.
                if failing_since.is_some() && last_retry.elapsed() >= Duration::from_secs(1) {
                    last_retry = Instant::now();
                    if sink.reopen().is_ok() {
                        failing_since = None;
                    }
                }
                let ok = failing_since.is_none() && sink.write_line(&line).is_ok();
                if ok {
                    if let Some(m) = &m {
                        m.events.with_label_values(&[name]).inc();
                    }
                } else {
                    failing_since.get_or_insert_with(Instant::now);
                    dropped.fetch_add(1, Ordering::Relaxed);
                    if let Some(m) = &m {
                        m.events_dropped.with_label_values(&[name]).inc();
                        m.capture_drops.with_label_values(&["sink"]).inc();
                    }
                }
            }
        }
        if rx.is_empty() {
            let _ = sink.flush();
        }
    }
    let _ = sink.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hellotap-sink-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn file_sink_appends_rotates_and_reopens() {
        let d = tmp("file");
        let p = d.join("events.jsonl");
        let mut s = FileSink::open(p.clone(), 30).unwrap();
        for i in 0..5 {
            s.write_line(&format!("{{\"n\":{i}}}")).unwrap();
        }
        s.flush().unwrap();
        let cur = std::fs::read_to_string(&p).unwrap();
        let old = std::fs::read_to_string(d.join("events.jsonl.1")).unwrap();
        assert!(cur.len() <= 30 && old.len() <= 30, "{cur:?} {old:?}");
        assert!(cur.ends_with("{\"n\":4}\n"));
        // logrotate moves the file away; SIGHUP reopens a fresh one at the same path.
        std::fs::rename(&p, d.join("moved")).unwrap();
        s.reopen().unwrap();
        s.write_line("after").unwrap();
        s.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "after\n");
    }

    /// A sink that blocks until told, to prove a slow sink never blocks the sender.
    struct Slow(Arc<std::sync::Mutex<()>>);
    impl Sink for Slow {
        fn name(&self) -> &'static str {
            "slow"
        }
        fn write_line(&mut self, _: &str) -> io::Result<()> {
            drop(self.0.lock().unwrap());
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn reopen(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_slow_sink_drops_and_counts_instead_of_blocking() {
        let gate = Arc::new(std::sync::Mutex::new(()));
        let held = gate.lock().unwrap();
        let m = Arc::new(Metrics::new(10));
        let sinks = Sinks::start(vec![Box::new(Slow(gate.clone()))], 4, Some(m.clone()));
        for i in 0..100 {
            sinks.send(&format!("{i}"));
        }
        // At most the queue (4) plus the one in hand were taken; the rest dropped at once.
        let dropped = sinks.dropped()[0].1;
        assert!(dropped >= 95, "{dropped}");
        drop(held);
        sinks.close();
        assert!(m.render().contains("hellotap_events_dropped_total{sink=\"slow\"}"));
    }

    #[test]
    fn unix_sink_reconnects_when_the_reader_comes_back() {
        use std::io::{BufRead, BufReader};
        use std::os::unix::net::UnixListener;
        let d = tmp("unix");
        let p = d.join("s.sock");
        let mut s = UnixSink::new(p.clone());
        assert!(s.write_line("nobody listening").is_err());
        let l = UnixListener::bind(&p).unwrap();
        s.write_line("hello").unwrap();
        s.flush().unwrap();
        let (c, _) = l.accept().unwrap();
        let mut line = String::new();
        BufReader::new(c).read_line(&mut line).unwrap();
        assert_eq!(line, "hello\n");
    }
}
