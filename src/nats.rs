//! An event sink for NATS JetStream: events are published to a stream with acknowledgements,
//! so they reach a distributed, persistent streaming engine.
//!
//! # Why a hand-written client
//!
//! The daemon has no async runtime on purpose: capture, workers and sinks are threads joined
//! by bounded crossbeam queues. `async-nats`, the maintained Rust client, would bring tokio
//! (and rustls) into it for one sink; the synchronous `nats` crate is deprecated and no
//! longer maintained. NATS' client protocol is small, documented and text-based (a control
//! line, then a payload of announced length), and JetStream is plain request/reply over it
//! (`$JS.API.*` subjects, JSON bodies, a JSON acknowledgement per published message). So
//! this module speaks it directly on a `TcpStream`: [`proto`] (parser and encoders) and
//! [`client`] (handshake, request/reply, a JetStream reader), about a thousand lines with
//! their tests, no new dependency. Not supported: TLS, NKEY/JWT credentials (user/password
//! and token are), cluster server lists.
//!
//! # What the sink does
//!
//! * Each event goes to a subject made from a template (`hellotap.{sensor}.{event_type}` by
//!   default; `event_type` is read from the line: `tls`, `quic`, `dtls`) as `HPUB` with two
//!   headers: `Nats-Msg-Id` and `Hellotap-Sensor`. The sensor's name is also put into the
//!   event itself, as a first field: `{"sensor":"NAME",...}` (the rest of the line is
//!   unchanged, byte for byte).
//! * `Nats-Msg-Id` is `<sensor>-<flow_id>-<first 64 bits of SHA-256 of the line, hex>`: the
//!   same event sent twice (a re-send after a reconnect, or the same capture replayed again)
//!   is stored once by JetStream's de-duplication within the stream's `duplicate_window`
//!   (2 minutes by default here); the acknowledgement then says `"duplicate":true` (counted).
//! * The stream (`HELLOTAP` by default) is created if missing on every connect with
//!   `$JS.API.STREAM.CREATE.<name>`, for the subjects of the template (placeholders become
//!   wildcards: `hellotap.>`); a stream of that name that already exists is used as it is.
//! * Publishing is pipelined: up to `max_inflight` messages wait for their acknowledgement
//!   (`{"stream":..,"seq":..}` on a private inbox, matched by the reply subject) at a time.
//! * Events are held in a bounded buffer (`buffer` events and `buffer_bytes` bytes) until
//!   acknowledged: while the server is unreachable they wait there, and after a reconnect
//!   every unacknowledged one is sent again, in order, with its same message id. When the
//!   buffer is full the **newest** event is refused: `write_line` fails, and the runner in
//!   [`crate::sink`] counts it as dropped (`hellotap_events_dropped_total{sink="nats"}`).
//!   Keeping the oldest makes what reaches the stream a gap-free prefix in the original
//!   order (so per-flow order holds across an outage), and matches the sink queue in front
//!   of it, which also drops the newest.
//! * Reconnects back off exponentially (100 ms doubling to 5 s, ±20% jitter). A lost
//!   connection is noticed by EOF, a write error or timeout, an acknowledgement missing for
//!   `ack_timeout`, or two unanswered `PING`s; server `PING`s are answered.
//! * A publish refused by JetStream (an `error` acknowledgement, or "no responders" when no
//!   stream takes the subject) drops the connection and re-sends after the backoff (the
//!   stream is created again on connect); a message refused three times, or larger than the
//!   server's `max_payload`, is dropped and counted (`rejected`).
//! * Nothing blocks packet processing: the sink runs on its own thread behind the runner's
//!   bounded queue. On its own thread it blocks on I/O only with timeouts (`connect_timeout`
//!   for connect and writes; a full buffer waits at most `full_wait` for acknowledgements).
//! * On close (drop, or [`NatsSink::close`]) it tries for `close_timeout` to get everything
//!   acknowledged; what is left is counted as dropped (`abandoned`).
//!
//! Order: one connection, messages sent in order, JetStream stores them in the order
//! received; re-sends after a reconnect start from the oldest unacknowledged message, and
//! the ones that had been stored already are dropped as duplicates, so the stream keeps the
//! original order. (The exception: a message that JetStream refused while later ones in
//! the same window were stored is stored after them when it is re-sent.)

pub mod client;
pub mod proto;

use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, bounded};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use client::{Connection, JetStream, NatsUrl, StoredMsg, StreamSpec, StreamState};

use crate::config::OutputConfig;
use crate::metrics::Metrics;
use crate::sink::Sink;
use proto::{Msg, Parser, ServerOp};

/// The default subject template.
pub const DEFAULT_SUBJECT: &str = "hellotap.{sensor}.{event_type}";
/// The default stream name.
pub const DEFAULT_STREAM: &str = "HELLOTAP";
/// The default buffer, in events.
pub const DEFAULT_BUFFER: usize = 10_000;
/// Publish errors after which a message is dropped.
const MAX_PUBLISH_ERRORS: u8 = 3;

/// Settings of a [`NatsSink`].
#[derive(Debug, Clone, PartialEq)]
pub struct NatsConfig {
    /// The server (`nats://[user:password@]host[:port]`).
    pub url: String,
    /// Subject template with `{sensor}` and `{event_type}`.
    pub subject: String,
    /// The JetStream stream, created if missing.
    pub stream: String,
    /// The sensor's name: in the subject, the event, a header and the message id.
    pub sensor: String,
    /// Events held until acknowledged (while the server is unreachable, too).
    pub buffer: usize,
    /// Bytes held at most by that buffer.
    pub buffer_bytes: usize,
    /// Messages sent and not yet acknowledged, at most.
    pub max_inflight: usize,
    /// JetStream's de-duplication window for a stream this sink creates.
    pub duplicate_window: Duration,
    /// TCP connect, handshake, writes and API requests.
    pub connect_timeout: Duration,
    /// A message unacknowledged this long means the connection is dead.
    pub ack_timeout: Duration,
    /// How long a write waits for acknowledgements when the buffer is full.
    pub full_wait: Duration,
    /// How long a flush waits for outstanding acknowledgements.
    pub settle_wait: Duration,
    /// First reconnect delay.
    pub backoff_initial: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// How long closing waits for the buffer to be acknowledged.
    pub close_timeout: Duration,
    /// Idle time after which the sink sends `PING`.
    pub ping_interval: Duration,
}

impl NatsConfig {
    /// Defaults for a server and a sensor name.
    pub fn new(url: &str, sensor: &str) -> Self {
        NatsConfig {
            url: url.to_string(),
            subject: DEFAULT_SUBJECT.to_string(),
            stream: DEFAULT_STREAM.to_string(),
            sensor: sensor.to_string(),
            buffer: DEFAULT_BUFFER,
            buffer_bytes: 64 * 1024 * 1024,
            max_inflight: 256,
            duplicate_window: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(2),
            ack_timeout: Duration::from_secs(5),
            full_wait: Duration::from_millis(200),
            settle_wait: Duration::from_millis(50),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            close_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(20),
        }
    }

    /// The settings of an `[output]` section, or `None` when `nats_url` is empty. An empty
    /// `sensor_name` means the host name.
    pub fn from_output(o: &OutputConfig) -> Option<NatsConfig> {
        if o.nats_url.is_empty() {
            return None;
        }
        let sensor = if o.sensor_name.is_empty() { default_sensor_name() } else { o.sensor_name.clone() };
        let mut c = NatsConfig::new(&o.nats_url, &sensor);
        c.subject = o.nats_subject.clone();
        c.stream = o.nats_stream.clone();
        c.buffer = o.nats_buffer;
        Some(c)
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), String> {
        NatsUrl::parse(&self.url)?;
        check_subject_template(&self.subject)?;
        check_stream_name(&self.stream)?;
        check_sensor_name(&self.sensor)?;
        if self.buffer == 0 || self.max_inflight == 0 || self.buffer_bytes == 0 {
            return Err("buffer, buffer_bytes and max_inflight must be at least 1".into());
        }
        Ok(())
    }

    /// The stream's subjects for the template: tokens with a placeholder become `*`, and a
    /// run of them at the end, after a literal token, becomes `>`
    /// (`hellotap.{sensor}.{event_type}` → `hellotap.>`, `{sensor}.{event_type}` → `*.*`).
    pub fn stream_subjects(&self) -> Vec<String> {
        let mut tokens: Vec<&str> =
            self.subject.split('.').map(|t| if t.contains('{') { "*" } else { t }).collect();
        let stars = tokens.iter().rev().take_while(|t| **t == "*").count();
        if stars > 0 && stars < tokens.len() {
            tokens.truncate(tokens.len() - stars);
            tokens.push(">");
        }
        vec![tokens.join(".")]
    }

    /// The subject of an event of this type.
    pub fn subject_for(&self, event_type: &str) -> String {
        self.subject.replace("{sensor}", &self.sensor).replace("{event_type}", event_type)
    }
}

fn valid_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A sensor name: letters, digits, `_` and `-` (it is a subject token and a header value).
pub fn check_sensor_name(s: &str) -> Result<(), String> {
    if valid_token(s) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a sensor name (letters, digits, _ and -, at most 128)"))
    }
}

/// A subject template: a valid subject once `{sensor}` and `{event_type}` are filled in,
/// and no other placeholder.
pub fn check_subject_template(t: &str) -> Result<(), String> {
    let filled = t.replace("{sensor}", "s").replace("{event_type}", "e");
    if filled.contains(['{', '}']) {
        return Err(format!("{t:?}: the only placeholders are {{sensor}} and {{event_type}}"));
    }
    if !proto::valid_subject(&filled, false) {
        return Err(format!("{t:?} is not a NATS subject (dot-separated tokens, no spaces or wildcards)"));
    }
    Ok(())
}

/// A stream name: no spaces, dots, wildcards or path separators.
pub fn check_stream_name(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.len() <= 255
        && s.bytes().all(|b| (33..=126).contains(&b) && !b".*>/\\".contains(&b))
    {
        Ok(())
    } else {
        Err(format!("{s:?} is not a stream name (no spaces, dots, wildcards or slashes)"))
    }
}

/// The host name, made a valid sensor name (other characters, dots included, become `_`).
pub fn default_sensor_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .take(128)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    if name.is_empty() { "hellotap".to_string() } else { name }
}

/// The event with `"sensor":"NAME"` as its first field (a line that is not a JSON object is
/// returned unchanged).
pub fn inject_sensor(line: &str, sensor: &str) -> String {
    let field = format!("\"sensor\":{}", serde_json::to_string(sensor).unwrap_or_else(|_| "\"\"".into()));
    match line.strip_prefix('{') {
        Some(rest) if rest.trim_start().starts_with('}') => format!("{{{field}{rest}"),
        Some(rest) => format!("{{{field},{rest}"),
        None => line.to_string(),
    }
}

/// The string value of a top-level field, read without parsing the line (`"key":"value"`,
/// the value without escapes). hellotap writes `event_type` among the first fields.
fn str_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let i = line.find(&pat)? + pat.len();
    let end = line[i..].find('"')?;
    Some(&line[i..i + end])
}

fn u64_field(line: &str, key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":");
    let i = line.find(&pat)? + pat.len();
    let digits: &str = &line[i..][..line[i..].bytes().take_while(u8::is_ascii_digit).count()];
    digits.parse().ok()
}

/// The message id of an event: `<sensor>-<flow_id>-<16 hex digits of SHA-256(line)>`.
pub fn message_id(sensor: &str, line: &str) -> String {
    let flow = u64_field(line, "flow_id").unwrap_or(0);
    let d = Sha256::digest(line.as_bytes());
    let h: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{sensor}-{flow}-{h}")
}

/// Counters of a [`NatsSink`], shared with whoever holds [`NatsSink::stats`].
#[derive(Debug, Default)]
pub struct NatsStats {
    accepted: AtomicU64,
    acked: AtomicU64,
    duplicates: AtomicU64,
    refused: AtomicU64,
    rejected: AtomicU64,
    abandoned: AtomicU64,
    resent: AtomicU64,
    connects: AtomicU64,
    connect_failures: AtomicU64,
    disconnects: AtomicU64,
    buffered: AtomicU64,
    connected: AtomicBool,
    last_error: Mutex<String>,
}

/// A snapshot of [`NatsStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatsCounters {
    /// Events taken into the buffer.
    pub accepted: u64,
    /// Acknowledged as stored.
    pub acked: u64,
    /// Acknowledged as duplicates (stored before: a re-send after a lost acknowledgement, or
    /// the same event twice).
    pub duplicates: u64,
    /// Refused because the buffer was full (the runner counts them as dropped too).
    pub refused: u64,
    /// Dropped after repeated publish errors, or larger than the server accepts.
    pub rejected: u64,
    /// Still unacknowledged when the sink closed.
    pub abandoned: u64,
    /// Messages sent again after a reconnect.
    pub resent: u64,
    /// Successful connects.
    pub connects: u64,
    /// Failed connect attempts.
    pub connect_failures: u64,
    /// Connections lost.
    pub disconnects: u64,
    /// Events in the buffer now.
    pub buffered: u64,
    /// Connected now.
    pub connected: bool,
}

impl NatsCounters {
    /// Events accepted and then lost: rejected or abandoned.
    pub fn lost(&self) -> u64 {
        self.rejected + self.abandoned
    }
}

impl NatsStats {
    /// The counters now.
    pub fn snapshot(&self) -> NatsCounters {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NatsCounters {
            accepted: g(&self.accepted),
            acked: g(&self.acked),
            duplicates: g(&self.duplicates),
            refused: g(&self.refused),
            rejected: g(&self.rejected),
            abandoned: g(&self.abandoned),
            resent: g(&self.resent),
            connects: g(&self.connects),
            connect_failures: g(&self.connect_failures),
            disconnects: g(&self.disconnects),
            buffered: g(&self.buffered),
            connected: self.connected.load(Ordering::Relaxed),
        }
    }

    /// The last connection or publish error ("" if none yet).
    pub fn last_error(&self) -> String {
        self.last_error.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn set_error(&self, e: String) {
        if let Ok(mut s) = self.last_error.lock() {
            *s = e;
        }
    }

    fn inc(a: &AtomicU64, n: u64) {
        a.fetch_add(n, Ordering::Relaxed);
    }
}

/// A message waiting for its acknowledgement.
struct Pending {
    id: u64,
    subject: String,
    /// Header block followed by the payload.
    block: Vec<u8>,
    hdr_len: usize,
    errors: u8,
    sends: u32,
    sent_at: Instant,
    done: bool,
}

impl Pending {
    fn size(&self) -> usize {
        self.block.len() + self.subject.len()
    }
}

/// What the reader thread hands to the sink.
enum Incoming {
    Ack(u64, Ack),
    Ping,
    Pong,
    ServerError(String),
    Closed(String),
}

/// A publish acknowledgement.
#[derive(Debug, Clone, PartialEq)]
enum Ack {
    Stored { duplicate: bool },
    Failed(String),
}

fn parse_ack(m: &Msg) -> Ack {
    if m.status() == Some(503) {
        return Ack::Failed("no responders (no stream takes this subject, or JetStream is down)".into());
    }
    let v: Value = match serde_json::from_slice(&m.payload) {
        Ok(v) => v,
        Err(_) => return Ack::Failed("acknowledgement is not JSON".into()),
    };
    if let Some(e) = v.get("error") {
        return Ack::Failed(client::ApiError::from_json(e).to_string());
    }
    if v.get("seq").and_then(Value::as_u64).is_none() {
        return Ack::Failed("acknowledgement without seq".into());
    }
    Ack::Stored { duplicate: v.get("duplicate").and_then(Value::as_bool).unwrap_or(false) }
}

fn reader_loop(
    mut stream: TcpStream,
    mut parser: Parser,
    inbox: String,
    tx: Sender<Incoming>,
    stop: Arc<AtomicBool>,
) {
    use std::io::Read;
    let prefix = format!("{inbox}.");
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        loop {
            let ev = match parser.next_op() {
                Ok(Some(ServerOp::Msg(m))) => {
                    match m.subject.strip_prefix(&prefix).and_then(|t| t.parse::<u64>().ok()) {
                        Some(id) => Incoming::Ack(id, parse_ack(&m)),
                        None => continue,
                    }
                }
                Ok(Some(ServerOp::Ping)) => Incoming::Ping,
                Ok(Some(ServerOp::Pong)) => Incoming::Pong,
                Ok(Some(ServerOp::Err(e))) => Incoming::ServerError(e),
                Ok(Some(ServerOp::Ok | ServerOp::Info(_))) => continue,
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Incoming::Closed(e.to_string()));
                    return;
                }
            };
            if tx.send(ev).is_err() {
                return;
            }
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                let _ = tx.send(Incoming::Closed("server closed the connection".into()));
                return;
            }
            Ok(n) => parser.feed(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                let _ = tx.send(Incoming::Closed(e.to_string()));
                return;
            }
        }
    }
}

/// A live connection: a writer here, a reader thread there.
struct Live {
    writer: BufWriter<TcpStream>,
    sock: TcpStream,
    rx: Receiver<Incoming>,
    reader: JoinHandle<()>,
    stop: Arc<AtomicBool>,
    inbox: String,
    max_payload: usize,
    last_io: Instant,
    pings_out: u32,
}

impl Live {
    fn close(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.sock.shutdown(Shutdown::Both);
        // Dropping the receiver unblocks a reader waiting on a full channel.
        drop(self.rx);
        let _ = self.reader.join();
    }
}

/// The NATS JetStream sink (see the module documentation).
pub struct NatsSink {
    cfg: NatsConfig,
    url: NatsUrl,
    spec: StreamSpec,
    stats: Arc<NatsStats>,
    metrics: Option<Arc<Metrics>>,
    buf: VecDeque<Pending>,
    buf_bytes: usize,
    next_id: u64,
    /// Index in `buf` of the next message to send on this connection.
    next_send: usize,
    inflight: usize,
    live: Option<Live>,
    failures: u32,
    next_attempt: Instant,
    closed: bool,
}

impl NatsSink {
    /// A sink for these settings (checked here). It connects on first use and again after
    /// every failure; an unreachable server is not an error, events wait in the buffer.
    pub fn new(cfg: NatsConfig) -> Result<NatsSink, String> {
        cfg.validate()?;
        let url = NatsUrl::parse(&cfg.url)?;
        let spec = StreamSpec {
            name: cfg.stream.clone(),
            subjects: cfg.stream_subjects(),
            duplicate_window: cfg.duplicate_window,
        };
        Ok(NatsSink {
            cfg,
            url,
            spec,
            stats: Arc::new(NatsStats::default()),
            metrics: None,
            buf: VecDeque::new(),
            buf_bytes: 0,
            next_id: 1,
            next_send: 0,
            inflight: 0,
            live: None,
            failures: 0,
            next_attempt: Instant::now(),
            closed: false,
        })
    }

    /// Also counts events lost after they were accepted (rejected, abandoned at close) in
    /// `hellotap_events_dropped_total{sink="nats"}` and `hellotap_capture_drops_total{kind="sink"}`.
    pub fn with_metrics(mut self, m: Arc<Metrics>) -> Self {
        self.metrics = Some(m);
        self
    }

    /// The counters, shared (they stay readable after the sink moved to its thread).
    pub fn stats(&self) -> Arc<NatsStats> {
        self.stats.clone()
    }

    /// The settings.
    pub fn config(&self) -> &NatsConfig {
        &self.cfg
    }

    /// Publishes one event line (the [`Sink`] interface, callable directly).
    pub fn publish(&mut self, line: &str) -> io::Result<()> {
        self.write_line(line)
    }

    /// Waits up to `close_timeout` for every buffered event to be acknowledged, counts the
    /// rest as abandoned, closes the connection, and returns the final counters.
    pub fn close(mut self) -> NatsCounters {
        self.shutdown();
        self.stats.snapshot()
    }

    fn prepare(&self, line: &str) -> Pending {
        let sensor = &self.cfg.sensor;
        let event_type = str_field(line, "event_type").filter(|t| valid_token(t)).unwrap_or("event");
        let id = message_id(sensor, line);
        let mut block = proto::encode_headers(&[("Nats-Msg-Id", &id), ("Hellotap-Sensor", sensor)]);
        let hdr_len = block.len();
        block.extend_from_slice(inject_sensor(line, sensor).as_bytes());
        Pending {
            id: 0,
            subject: self.cfg.subject_for(event_type),
            block,
            hdr_len,
            errors: 0,
            sends: 0,
            sent_at: Instant::now(),
            done: false,
        }
    }

    fn has_room(&self, size: usize) -> bool {
        self.buf.is_empty()
            || (self.buf.len() < self.cfg.buffer && self.buf_bytes + size <= self.cfg.buffer_bytes)
    }

    fn count_lost(&self, n: u64) {
        if let Some(m) = &self.metrics {
            m.events_dropped.with_label_values(&["nats"]).inc_by(n);
            m.capture_drops.with_label_values(&["sink"]).inc_by(n);
        }
    }

    fn backoff(&self) -> Duration {
        let exp = self.failures.saturating_sub(1).min(20);
        let base = self.cfg.backoff_initial.saturating_mul(1u32 << exp).min(self.cfg.backoff_max);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        base.mul_f64(0.8 + f64::from(nanos % 1000) / 2500.0)
    }

    fn open(&self) -> io::Result<Live> {
        let name = format!("hellotap-{}", self.cfg.sensor);
        let mut c = Connection::connect(&self.url, &name, self.cfg.connect_timeout)?;
        if !c.info.headers {
            return Err(io::Error::other("the server does not support headers (NATS 2.2 or later needed)"));
        }
        match client::create_stream(&mut c, &self.spec, self.cfg.connect_timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                return Err(io::Error::other("JetStream is not enabled on the server (no responders)"));
            }
            Err(e) if e.kind() == io::ErrorKind::Other => {
                // An API refusal (subjects overlapping another stream...): publishing tells
                // whether some stream takes the subjects.
                self.stats.set_error(e.to_string());
            }
            Err(e) => return Err(e),
        }
        let parts = c.into_parts();
        let sock = parts.stream.try_clone()?;
        let (tx, rx) = bounded(self.cfg.max_inflight + 64);
        let stop = Arc::new(AtomicBool::new(false));
        let (stream, parser, inbox, s) = (parts.stream, parts.parser, parts.inbox.clone(), stop.clone());
        let reader = std::thread::Builder::new()
            .name("hellotap-nats-rx".into())
            .spawn(move || reader_loop(stream, parser, inbox, tx, s))?;
        Ok(Live {
            writer: parts.writer,
            sock,
            rx,
            reader,
            stop,
            inbox: parts.inbox,
            max_payload: parts.info.max_payload,
            last_io: Instant::now(),
            pings_out: 0,
        })
    }

    fn connect(&mut self) {
        self.next_send = 0;
        self.inflight = 0;
        match self.open() {
            Ok(live) => {
                self.live = Some(live);
                self.failures = 0;
                NatsStats::inc(&self.stats.connects, 1);
                self.stats.connected.store(true, Ordering::Relaxed);
            }
            Err(e) => {
                self.failures += 1;
                self.next_attempt = Instant::now() + self.backoff();
                NatsStats::inc(&self.stats.connect_failures, 1);
                self.stats.set_error(format!("connect to {}: {e}", self.url.address()));
            }
        }
    }

    fn disconnect(&mut self, why: String) {
        if let Some(live) = self.live.take() {
            live.close();
            NatsStats::inc(&self.stats.disconnects, 1);
        }
        self.stats.connected.store(false, Ordering::Relaxed);
        self.next_send = 0;
        self.inflight = 0;
        self.failures += 1;
        self.next_attempt = Instant::now() + self.backoff();
        self.stats.set_error(why);
    }

    /// Removes acknowledged (or dropped) messages from the front.
    fn pop_done(&mut self) {
        while self.buf.front().is_some_and(|p| p.done) {
            if let Some(p) = self.buf.pop_front() {
                self.buf_bytes -= p.size();
            }
            self.next_send = self.next_send.saturating_sub(1);
        }
        self.stats.buffered.store(self.buf.len() as u64, Ordering::Relaxed);
    }

    fn on_ack(&mut self, id: u64, ack: Ack) {
        let Some(first) = self.buf.front().map(|p| p.id) else { return };
        let Some(idx) = id.checked_sub(first).map(|i| i as usize) else { return };
        if idx >= self.next_send {
            return;
        }
        let p = &mut self.buf[idx];
        if p.done {
            return;
        }
        self.inflight = self.inflight.saturating_sub(1);
        match ack {
            Ack::Stored { duplicate } => {
                p.done = true;
                NatsStats::inc(if duplicate { &self.stats.duplicates } else { &self.stats.acked }, 1);
                self.pop_done();
            }
            Ack::Failed(why) => {
                p.errors += 1;
                let give_up = p.errors >= MAX_PUBLISH_ERRORS;
                p.done = give_up;
                let subject = p.subject.clone();
                if give_up {
                    NatsStats::inc(&self.stats.rejected, 1);
                    self.count_lost(1);
                }
                self.pop_done();
                self.disconnect(format!("publish to {subject} refused: {why}"));
            }
        }
    }

    fn handle(&mut self, ev: Incoming) {
        if let Some(l) = self.live.as_mut() {
            l.last_io = Instant::now();
        }
        match ev {
            Incoming::Ack(id, ack) => self.on_ack(id, ack),
            Incoming::Ping => {
                let r = match self.live.as_mut() {
                    Some(l) => l.writer.write_all(b"PONG\r\n"),
                    None => Ok(()),
                };
                if let Err(e) = r {
                    self.disconnect(format!("writing PONG: {e}"));
                }
            }
            Incoming::Pong => {
                if let Some(l) = self.live.as_mut() {
                    l.pings_out = 0;
                }
            }
            Incoming::ServerError(e) => self.stats.set_error(format!("server: {e}")),
            Incoming::Closed(why) => self.disconnect(why),
        }
    }

    fn process_incoming(&mut self) {
        loop {
            let ev = match self.live.as_ref().map(|l| l.rx.try_recv()) {
                None | Some(Err(TryRecvError::Empty)) => return,
                Some(Err(TryRecvError::Disconnected)) => {
                    self.disconnect("reader stopped".into());
                    return;
                }
                Some(Ok(ev)) => ev,
            };
            self.handle(ev);
        }
    }

    fn send_more(&mut self) {
        let Some(live) = self.live.as_mut() else { return };
        let now = Instant::now();
        let mut err = None;
        let mut rejected = 0;
        while self.inflight < self.cfg.max_inflight && self.next_send < self.buf.len() {
            let p = &mut self.buf[self.next_send];
            self.next_send += 1;
            if p.done {
                continue;
            }
            if p.block.len() > live.max_payload {
                p.done = true;
                rejected += 1;
                continue;
            }
            let reply = format!("{}.{}", live.inbox, p.id);
            let line = proto::hpub_line(&p.subject, Some(&reply), p.hdr_len, p.block.len());
            let r = live
                .writer
                .write_all(line.as_bytes())
                .and_then(|_| live.writer.write_all(&p.block))
                .and_then(|_| live.writer.write_all(b"\r\n"));
            if let Err(e) = r {
                err = Some(e);
                break;
            }
            if p.sends > 0 {
                NatsStats::inc(&self.stats.resent, 1);
            }
            p.sends += 1;
            p.sent_at = now;
            self.inflight += 1;
        }
        if err.is_none() && !live.writer.buffer().is_empty() {
            err = live.writer.flush().err();
        }
        if rejected > 0 {
            NatsStats::inc(&self.stats.rejected, rejected);
            self.count_lost(rejected);
            self.stats.set_error(format!("{rejected} event(s) larger than the server's max_payload dropped"));
            self.pop_done();
        }
        if let Some(e) = err {
            self.disconnect(format!("writing to the server: {e}"));
        }
    }

    fn check_timers(&mut self) {
        let Some(live) = self.live.as_mut() else { return };
        let overdue = self.next_send > 0
            && self.buf.front().is_some_and(|p| !p.done && p.sent_at.elapsed() > self.cfg.ack_timeout);
        if overdue {
            self.disconnect(format!("no acknowledgement within {:?}", self.cfg.ack_timeout));
            return;
        }
        if live.last_io.elapsed() > self.cfg.ping_interval {
            if live.pings_out >= 2 {
                self.disconnect("the server stopped answering PING".into());
                return;
            }
            live.pings_out += 1;
            live.last_io = Instant::now();
            let r = live.writer.write_all(b"PING\r\n").and_then(|_| live.writer.flush());
            if let Err(e) = r {
                self.disconnect(format!("writing PING: {e}"));
            }
        }
    }

    /// Connects when due, takes in acknowledgements, sends what the window allows.
    fn pump(&mut self) {
        if self.live.is_none() && Instant::now() >= self.next_attempt {
            self.connect();
        }
        self.process_incoming();
        self.send_more();
        self.check_timers();
    }

    /// Waits for one event from the reader for at most `wait`, then pumps.
    fn wait_and_pump(&mut self, wait: Duration) {
        let r = match self.live.as_ref() {
            Some(l) => l.rx.recv_timeout(wait),
            None => {
                let until_retry = self.next_attempt.saturating_duration_since(Instant::now());
                std::thread::sleep(wait.min(until_retry));
                Err(RecvTimeoutError::Timeout)
            }
        };
        match r {
            Ok(ev) => self.handle(ev),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.disconnect("reader stopped".into()),
        }
        self.pump();
    }

    fn shutdown(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let deadline = Instant::now() + self.cfg.close_timeout;
        loop {
            self.pump();
            let left = deadline.saturating_duration_since(Instant::now());
            if self.buf.is_empty() || left.is_zero() {
                break;
            }
            self.wait_and_pump(left.min(Duration::from_millis(50)));
        }
        let left = self.buf.iter().filter(|p| !p.done).count() as u64;
        if left > 0 {
            NatsStats::inc(&self.stats.abandoned, left);
            self.count_lost(left);
        }
        self.buf.clear();
        self.buf_bytes = 0;
        self.stats.buffered.store(0, Ordering::Relaxed);
        if let Some(mut live) = self.live.take() {
            let _ = live.writer.flush();
            live.close();
        }
        self.stats.connected.store(false, Ordering::Relaxed);
    }
}

impl Sink for NatsSink {
    fn name(&self) -> &'static str {
        "nats"
    }

    /// Takes the event into the buffer (and sends it if the window allows); fails only when
    /// the buffer is full, after waiting up to `full_wait` for acknowledgements.
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.pump();
        let mut p = self.prepare(line);
        let size = p.size();
        let deadline = Instant::now() + self.cfg.full_wait;
        while !self.has_room(size) && self.live.is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.wait_and_pump(left.min(Duration::from_millis(20)));
        }
        if !self.has_room(size) {
            NatsStats::inc(&self.stats.refused, 1);
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "NATS buffer full"));
        }
        p.id = self.next_id;
        self.next_id += 1;
        self.buf_bytes += size;
        self.buf.push_back(p);
        NatsStats::inc(&self.stats.accepted, 1);
        self.stats.buffered.store(self.buf.len() as u64, Ordering::Relaxed);
        self.send_more();
        Ok(())
    }

    /// Connects if due, takes in acknowledgements, sends; waits at most `settle_wait` for
    /// outstanding acknowledgements (the runner flushes when its queue is empty, so the wait
    /// costs nothing, and the window keeps moving while no new event comes).
    fn flush(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.cfg.settle_wait;
        loop {
            self.pump();
            let left = deadline.saturating_duration_since(Instant::now());
            if self.live.is_none() || self.inflight == 0 || left.is_zero() {
                return Ok(());
            }
            self.wait_and_pump(left.min(Duration::from_millis(20)));
        }
    }

    /// Connects now if disconnected; succeeds when the buffer has room again.
    fn reopen(&mut self) -> io::Result<()> {
        if self.live.is_none() {
            self.next_attempt = Instant::now();
        }
        self.pump();
        if self.has_room(0) {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::WouldBlock, "NATS buffer full"))
        }
    }
}

impl Drop for NatsSink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_is_the_first_field_and_the_rest_is_unchanged() {
        let line = r#"{"timestamp":"t","flow_id":7,"event_type":"tls","tls":{"sni":"a\"b"}}"#;
        let out = inject_sensor(line, "s-1");
        assert_eq!(out, format!("{{\"sensor\":\"s-1\",{}", &line[1..]));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["sensor"], "s-1");
        assert_eq!(inject_sensor("{}", "x"), r#"{"sensor":"x"}"#);
        assert_eq!(inject_sensor("not json", "x"), "not json");
    }

    #[test]
    fn fields_ids_and_subjects() {
        let line =
            r#"{"timestamp":"t","flow_id":1234,"pcap_filename":"x\"event_type\":\"y","event_type":"quic"}"#;
        assert_eq!(str_field(line, "event_type"), Some("quic"));
        assert_eq!(u64_field(line, "flow_id"), Some(1234));
        let id = message_id("s1", line);
        assert!(id.starts_with("s1-1234-") && id.len() == "s1-1234-".len() + 16, "{id}");
        assert_eq!(id, message_id("s1", line));
        assert_ne!(id, message_id("s1", &line.replace("quic", "tls")));
        let c = NatsConfig::new("nats://127.0.0.1:4222", "s1");
        assert_eq!(c.subject_for("quic"), "hellotap.s1.quic");
        assert_eq!(c.stream_subjects(), vec!["hellotap.>"]);
        let mut c2 = c.clone();
        c2.subject = "ids.{sensor}.tls".into();
        assert_eq!(c2.stream_subjects(), vec!["ids.*.tls"]);
        c2.subject = "events".into();
        assert_eq!(c2.stream_subjects(), vec!["events"]);
        c2.subject = "{sensor}.{event_type}".into();
        assert_eq!(c2.stream_subjects(), vec!["*.*"]);
        assert!(c.validate().is_ok());
        assert!(check_subject_template("a.{sensor}.{x}").is_err());
        assert!(check_subject_template("a..{sensor}").is_err());
        assert!(check_subject_template("a.>").is_err());
        assert!(check_stream_name("A.B").is_err());
        assert!(check_sensor_name("web1.example").is_err());
        assert!(check_sensor_name("web1_example-2").is_ok());
        assert!(check_sensor_name(&default_sensor_name()).is_ok());
    }

    #[test]
    fn urls() {
        let u = NatsUrl::parse("nats://127.0.0.1:4222").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 4222));
        let u = NatsUrl::parse("nats://bob:s3cret@nats.example:4333").unwrap();
        assert_eq!((u.user.as_deref(), u.pass.as_deref(), u.port), (Some("bob"), Some("s3cret"), 4333));
        let u = NatsUrl::parse("tok@localhost").unwrap();
        assert_eq!((u.token.as_deref(), u.port), (Some("tok"), 4222));
        let u = NatsUrl::parse("nats://[::1]:4222").unwrap();
        assert_eq!((u.host.as_str(), u.address()), ("::1", "[::1]:4222".to_string()));
        assert!(NatsUrl::parse("tls://x:4222").is_err());
        assert!(NatsUrl::parse("nats://x:99999").is_err());
        assert!(NatsUrl::parse("nats://:4222").is_err());
    }

    #[test]
    fn acknowledgements() {
        let msg = |payload: &[u8], status: Option<u16>| Msg {
            subject: "_INBOX.x.1".into(),
            sid: "1".into(),
            reply: None,
            headers: status.map(|s| proto::Headers { status: Some(s), ..Default::default() }),
            payload: payload.to_vec(),
        };
        assert_eq!(
            parse_ack(&msg(br#"{"stream":"HELLOTAP","seq":5}"#, None)),
            Ack::Stored { duplicate: false }
        );
        assert_eq!(
            parse_ack(&msg(br#"{"stream":"HELLOTAP","seq":5,"duplicate":true}"#, None)),
            Ack::Stored { duplicate: true }
        );
        let Ack::Failed(e) = parse_ack(&msg(
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#,
            None,
        )) else {
            panic!()
        };
        assert!(e.contains("maximum messages exceeded") && e.contains("10077"), "{e}");
        assert!(matches!(parse_ack(&msg(b"", Some(503))), Ack::Failed(e) if e.contains("no responders")));
        assert!(matches!(parse_ack(&msg(b"garbage", None)), Ack::Failed(_)));
    }
}
