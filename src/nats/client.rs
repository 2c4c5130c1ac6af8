//! A synchronous NATS connection (connect handshake, request/reply) and a small JetStream
//! client for reading a stream back: stream info and messages by sequence
//! (`$JS.API.STREAM.INFO.<stream>`, `$JS.API.STREAM.MSG.GET.<stream>`), and stream creation
//! (`$JS.API.STREAM.CREATE.<stream>`).
//!
//! The handshake: the server speaks first with `INFO {json}`; the client answers
//! `CONNECT {json}` with `"verbose":false` (no `+OK` after every operation),
//! `"headers":true` (to send `HPUB` and receive `HMSG`) and `"no_responders":true` (a
//! request nobody listens to is answered at once with an `HMSG` whose header status is
//! 503, instead of timing out), then `PING`; the `PONG` proves the server accepted the
//! connection (an authorization failure arrives as `-ERR` instead). The client then
//! subscribes to a private inbox (`_INBOX.<random>.*`): replies to its requests and
//! JetStream's publish acknowledgements arrive there. A server `PING` is answered with
//! `PONG` wherever operations are read.

use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::proto::{self, Headers, Msg, Parser, ServerOp};

/// A parsed server address: `nats://[user:password@ | token@]host[:port]` (port 4222 by
/// default; the scheme may be left out). `tls://` is refused: this client speaks plain TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name, with `pass`.
    pub user: Option<String>,
    /// Password.
    pub pass: Option<String>,
    /// Authentication token (`nats://token@host`).
    pub token: Option<String>,
}

impl NatsUrl {
    /// Parses a server URL.
    pub fn parse(s: &str) -> Result<NatsUrl, String> {
        let rest = match s.split_once("://") {
            Some(("nats", r)) => r,
            Some((scheme, _)) => {
                return Err(format!("unsupported scheme {scheme:?} (only nats:// without TLS)"));
            }
            None => s,
        };
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            // [v6]:port
            let (h, p) = h.split_once(']').ok_or("unterminated [address]")?;
            (h, p.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(format!("bad host in {s:?}"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| format!("bad port in {s:?}"))?,
            None => 4222,
        };
        let (mut user, mut pass, mut token) = (None, None, None);
        match auth.map(|a| a.split_once(':')) {
            None => {}
            Some(Some((u, p))) => (user, pass) = (Some(u.to_string()), Some(p.to_string())),
            Some(None) => token = auth.map(str::to_string),
        }
        Ok(NatsUrl { host: host.to_string(), port, user, pass, token })
    }

    /// `host:port`, without credentials (for messages).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What the server's `INFO` says that matters here.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ServerInfo {
    /// The server's id.
    pub server_id: String,
    /// The server's version.
    pub version: String,
    /// Largest payload (headers included) the server accepts.
    pub max_payload: usize,
    /// The server understands headers (`HPUB`/`HMSG`).
    pub headers: bool,
    /// JetStream is enabled.
    pub jetstream: bool,
    /// The server requires TLS (not supported here).
    pub tls_required: bool,
    /// The server requires authentication.
    pub auth_required: bool,
}

/// A unique token for inbox subjects: SHA-256 of the time, the process id and a counter.
pub fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.finalize().iter().take(11).map(|b| format!("{b:02x}")).collect()
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what}: timed out"))
}

/// One connection to a NATS server, used synchronously: write operations, read operations
/// until a deadline. The sink hands its parts to a reader thread once connected
/// ([`Connection::into_parts`]).
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    writer: BufWriter<TcpStream>,
    parser: Parser,
    /// The server's `INFO`.
    pub info: ServerInfo,
    /// This connection's inbox prefix (`_INBOX.<token>`); `<inbox>.*` is subscribed as sid 1.
    pub inbox: String,
    next_request: u64,
}

/// The pieces of a connection for a reader thread: the socket to read, the parser with
/// whatever it has buffered already, and a writer over the same socket.
pub struct Parts {
    /// The socket (the reader's handle).
    pub stream: TcpStream,
    /// Bytes received and not yet parsed stay here.
    pub parser: Parser,
    /// A buffered writer over a clone of the socket.
    pub writer: BufWriter<TcpStream>,
    /// The server's `INFO`.
    pub info: ServerInfo,
    /// The inbox prefix.
    pub inbox: String,
}

impl Connection {
    /// Connects, reads `INFO`, sends `CONNECT` and `PING`, waits for `PONG`, subscribes to
    /// the inbox. `timeout` bounds the TCP connect and every read and write.
    pub fn connect(url: &NatsUrl, name: &str, timeout: Duration) -> io::Result<Connection> {
        let deadline = Instant::now() + timeout;
        let addrs: Vec<_> = (url.host.as_str(), url.port).to_socket_addrs()?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{}: no address", url.address()));
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or(last)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = BufWriter::with_capacity(64 * 1024, stream.try_clone()?);
        let mut c = Connection {
            stream,
            writer,
            parser: Parser::default(),
            info: ServerInfo::default(),
            inbox: format!("_INBOX.{}", unique_token()),
            next_request: 0,
        };
        let info = match c.read_op(deadline)? {
            Some(ServerOp::Info(json)) => json,
            Some(other) => return Err(io::Error::other(format!("expected INFO, got {other:?}"))),
            None => return Err(timed_out("waiting for INFO")),
        };
        c.info = serde_json::from_str(&info)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad INFO: {e}")))?;
        if c.info.max_payload == 0 {
            c.info.max_payload = 1024 * 1024;
        }
        if c.info.tls_required {
            return Err(io::Error::other("the server requires TLS, which this client does not speak"));
        }
        let mut connect = json!({
            "verbose": false,
            "pedantic": false,
            "tls_required": false,
            "name": name,
            "lang": "rust",
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": 1,
            "echo": false,
            "headers": true,
            "no_responders": true,
        });
        if let (Some(u), Some(p)) = (&url.user, &url.pass) {
            connect["user"] = Value::from(u.as_str());
            connect["pass"] = Value::from(p.as_str());
        }
        if let Some(t) = &url.token {
            connect["auth_token"] = Value::from(t.as_str());
        }
        c.write(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())?;
        c.flush()?;
        loop {
            match c.read_op(deadline)? {
                Some(ServerOp::Pong) => break,
                Some(ServerOp::Err(e)) => {
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("server: {e}")));
                }
                Some(_) => continue,
                None => return Err(timed_out("waiting for PONG after CONNECT")),
            }
        }
        let sub = format!("SUB {}.* 1\r\n", c.inbox);
        c.write(sub.as_bytes())?;
        c.flush()?;
        Ok(c)
    }

    /// Queues bytes for the server.
    pub fn write(&mut self, b: &[u8]) -> io::Result<()> {
        self.writer.write_all(b)
    }

    /// Sends what is queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// The next operation, answering `PING`s on the way; `None` once `deadline` passes.
    /// A closed connection is an error.
    pub fn read_op(&mut self, deadline: Instant) -> io::Result<Option<ServerOp>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.parser.next_op()? {
                Some(ServerOp::Ping) => {
                    self.write(b"PONG\r\n")?;
                    self.flush()?;
                    continue;
                }
                Some(op) => return Ok(Some(op)),
                None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
                }
                Ok(n) => self.parser.feed(&chunk[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Publishes `payload` to `subject` with a reply subject in the inbox and waits for the
    /// reply. A 503 status ("no responders") is an error of kind `NotConnected`; a server
    /// `-ERR` is an error too.
    pub fn request(&mut self, subject: &str, payload: &[u8], timeout: Duration) -> io::Result<Msg> {
        self.next_request += 1;
        let reply = format!("{}.r{}", self.inbox, self.next_request);
        let mut out = Vec::with_capacity(payload.len() + 128);
        proto::encode_pub(&mut out, subject, Some(&reply), payload);
        self.write(&out)?;
        self.flush()?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_op(deadline)? {
                Some(ServerOp::Msg(m)) if m.subject == reply => {
                    if m.status() == Some(503) {
                        return Err(io::Error::new(
                            io::ErrorKind::NotConnected,
                            format!("no responders on {subject}"),
                        ));
                    }
                    return Ok(m);
                }
                Some(ServerOp::Err(e)) => return Err(io::Error::other(format!("server: {e}"))),
                Some(_) => continue,
                None => return Err(timed_out(&format!("request to {subject}"))),
            }
        }
    }

    /// A JetStream API request: the JSON answer, or its `error` object as an [`ApiError`].
    pub fn api(
        &mut self,
        subject: &str,
        body: &Value,
        timeout: Duration,
    ) -> io::Result<Result<Value, ApiError>> {
        let m = self.request(subject, body.to_string().as_bytes(), timeout)?;
        let v: Value = serde_json::from_slice(&m.payload).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{subject}: bad JSON answer: {e}"))
        })?;
        Ok(match v.get("error") {
            Some(e) => Err(ApiError::from_json(e)),
            None => Ok(v),
        })
    }

    /// Splits the connection for a reader thread and a writer.
    pub fn into_parts(self) -> Parts {
        Parts {
            stream: self.stream,
            parser: self.parser,
            writer: self.writer,
            info: self.info,
            inbox: self.inbox,
        }
    }
}

/// A JetStream API error (`{"error":{"code":..,"err_code":..,"description":..}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP-like code (400, 404, 503...).
    pub code: u16,
    /// JetStream's own error code (10058: stream name already in use, 10037: no message
    /// found...).
    pub err_code: u32,
    /// The server's text.
    pub description: String,
}

impl ApiError {
    /// From the `error` object of an API answer or a publish acknowledgement.
    pub fn from_json(e: &Value) -> ApiError {
        ApiError {
            code: e.get("code").and_then(Value::as_u64).unwrap_or(0) as u16,
            err_code: e.get("err_code").and_then(Value::as_u64).unwrap_or(0) as u32,
            description: e.get("description").and_then(Value::as_str).unwrap_or("").to_string(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {}, err_code {})", self.description, self.code, self.err_code)
    }
}

/// JetStream's code for "stream name already in use" (with another configuration).
pub const ERR_STREAM_NAME_IN_USE: u32 = 10058;
/// JetStream's code for "no message found".
pub const ERR_NO_MESSAGE_FOUND: u32 = 10037;

/// A stream to create when missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// The stream's name.
    pub name: String,
    /// Subjects it stores.
    pub subjects: Vec<String>,
    /// How long JetStream remembers message ids to drop duplicates.
    pub duplicate_window: Duration,
}

impl StreamSpec {
    /// The `$JS.API.STREAM.CREATE` request body: file storage, limits retention, one
    /// replica, no limits on count, size or age (the operator sets retention on the
    /// server), the duplicate window in nanoseconds.
    pub fn request(&self) -> Value {
        json!({
            "name": self.name,
            "subjects": self.subjects,
            "retention": "limits",
            "max_consumers": -1,
            "max_msgs": -1,
            "max_bytes": -1,
            "max_age": 0,
            "max_msg_size": -1,
            "storage": "file",
            "discard": "old",
            "num_replicas": 1,
            "duplicate_window": self.duplicate_window.as_nanos() as u64,
        })
    }
}

/// What creating a stream did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Created now (or it existed with exactly this configuration).
    Created,
    /// A stream of that name exists with another configuration; it is used as it is.
    AlreadyInUse,
}

/// Creates a stream if missing; an existing one is left as it is.
pub fn create_stream(c: &mut Connection, spec: &StreamSpec, timeout: Duration) -> io::Result<Created> {
    let subject = format!("$JS.API.STREAM.CREATE.{}", spec.name);
    match c.api(&subject, &spec.request(), timeout)? {
        Ok(_) => Ok(Created::Created),
        Err(e) if e.err_code == ERR_STREAM_NAME_IN_USE || e.description.contains("already in use") => {
            Ok(Created::AlreadyInUse)
        }
        Err(e) => Err(io::Error::other(format!("creating stream {}: {e}", spec.name))),
    }
}

/// A stream's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Sequence of the first stored message.
    pub first_seq: u64,
    /// Sequence of the last stored message.
    pub last_seq: u64,
}

/// A message read back from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    /// Its sequence in the stream.
    pub seq: u64,
    /// The subject it was published to.
    pub subject: String,
    /// Its headers (`Nats-Msg-Id`, `Hellotap-Sensor`...), empty if none.
    pub headers: Headers,
    /// The payload.
    pub payload: Vec<u8>,
    /// When the server stored it (RFC 3339).
    pub time: String,
}

/// A synchronous JetStream reader: stream info and messages by sequence, one request at a
/// time. For tests, and for a CLI that reads a stream back.
pub struct JetStream {
    conn: Connection,
    timeout: Duration,
}

impl JetStream {
    /// Connects to `url` (see [`NatsUrl`]); `timeout` bounds the connect and each request.
    pub fn connect(url: &str, timeout: Duration) -> io::Result<JetStream> {
        let url = NatsUrl::parse(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = Connection::connect(&url, "hellotap-reader", timeout)?;
        Ok(JetStream { conn, timeout })
    }

    /// The underlying connection (for other API requests).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Creates a stream if missing.
    pub fn create_stream(&mut self, spec: &StreamSpec) -> io::Result<Created> {
        create_stream(&mut self.conn, spec, self.timeout)
    }

    /// `$JS.API.STREAM.INFO.<stream>`: message count and sequence range.
    pub fn stream_state(&mut self, stream: &str) -> io::Result<StreamState> {
        let v = self
            .conn
            .api(&format!("$JS.API.STREAM.INFO.{stream}"), &json!({}), self.timeout)?
            .map_err(|e| io::Error::other(format!("stream info {stream}: {e}")))?;
        let st = &v["state"];
        let n = |k: &str| st.get(k).and_then(Value::as_u64).unwrap_or(0);
        Ok(StreamState { messages: n("messages"), first_seq: n("first_seq"), last_seq: n("last_seq") })
    }

    /// `$JS.API.STREAM.MSG.GET.<stream>` with `{"seq":N}`: the message, or `None` if there is
    /// none at that sequence (deleted, or beyond the end).
    pub fn get(&mut self, stream: &str, seq: u64) -> io::Result<Option<StoredMsg>> {
        let subject = format!("$JS.API.STREAM.MSG.GET.{stream}");
        let v = match self.conn.api(&subject, &json!({ "seq": seq }), self.timeout)? {
            Ok(v) => v,
            Err(e) if e.err_code == ERR_NO_MESSAGE_FOUND || e.code == 404 => return Ok(None),
            Err(e) => return Err(io::Error::other(format!("get {stream} #{seq}: {e}"))),
        };
        let m = &v["message"];
        let bad =
            |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("get {stream} #{seq}: {what}"));
        let b64 = |k: &str| -> io::Result<Vec<u8>> {
            match m.get(k).and_then(Value::as_str) {
                Some(s) => proto::base64_decode(s).ok_or_else(|| bad(&format!("bad base64 in {k}"))),
                None => Ok(Vec::new()),
            }
        };
        let hdrs = b64("hdrs")?;
        let headers = if hdrs.is_empty() { Headers::default() } else { Headers::parse(&hdrs)? };
        Ok(Some(StoredMsg {
            seq: m.get("seq").and_then(Value::as_u64).ok_or_else(|| bad("no seq"))?,
            subject: m.get("subject").and_then(Value::as_str).ok_or_else(|| bad("no subject"))?.to_string(),
            headers,
            payload: b64("data")?,
            time: m.get("time").and_then(Value::as_str).unwrap_or("").to_string(),
        }))
    }

    /// Every message from the first sequence to the last, at most `max` of them.
    pub fn read_all(&mut self, stream: &str, max: usize) -> io::Result<Vec<StoredMsg>> {
        let st = self.stream_state(stream)?;
        let mut out = Vec::new();
        if st.messages == 0 {
            return Ok(out);
        }
        for seq in st.first_seq..=st.last_seq {
            if out.len() >= max {
                break;
            }
            if let Some(m) = self.get(stream, seq)? {
                out.push(m);
            }
        }
        Ok(out)
    }
}
