//! The NATS client protocol, as far as hellotap needs it: an incremental parser for what
//! the server sends (`INFO`, `MSG`, `HMSG`, `PING`, `PONG`, `+OK`, `-ERR`), the encoders
//! for what the client sends (`PUB`, `HPUB`), NATS headers (`NATS/1.0` blocks) and subject
//! checks.
//!
//! Wire format (docs.nats.io, "Client protocol"): a control line ends with CRLF, fields are
//! separated by spaces or tabs, operation names are case-insensitive. A message's payload
//! follows its control line and is itself followed by CRLF:
//!
//! ```text
//! MSG  <subject> <sid> [reply-to] <#bytes>␍␊<payload>␍␊
//! HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>␍␊<headers><payload>␍␊
//! HPUB <subject> [reply-to] <#header bytes> <#total bytes>␍␊<headers><payload>␍␊
//! ```
//!
//! where `<headers>` is `NATS/1.0[ status[ description]]␍␊(Name: value␍␊)*␍␊` and both counts
//! include it. Everything is bounded: a control line is at most [`MAX_CONTROL_LINE`] bytes and
//! a payload at most the parser's `max_payload`; anything longer, a count that is not a plain
//! decimal, a header count above the total or a payload not followed by CRLF is a protocol
//! error (the connection is then dropped and opened again).

use std::fmt;

/// Longest control line accepted from the server (an `INFO` with cluster URLs included).
pub const MAX_CONTROL_LINE: usize = 64 * 1024;

/// The largest payload the parser accepts when not told otherwise (a `STREAM.MSG.GET`
/// answer carries a whole stored message in base64, so this is above the server's default
/// `max_payload` of 1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 8 * 1024 * 1024;

/// A protocol error: the server sent something this client cannot follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError(pub String);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NATS protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtoError {}

impl From<ProtoError> for std::io::Error {
    fn from(e: ProtoError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

fn perr<T>(why: impl Into<String>) -> Result<T, ProtoError> {
    Err(ProtoError(why.into()))
}

/// NATS headers: the status line (`NATS/1.0 503`) and the fields, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    /// The status code after `NATS/1.0`, if any (503: no responders).
    pub status: Option<u16>,
    /// Text after the status code.
    pub description: String,
    /// `(name, value)` pairs as sent (names are case-sensitive; a name may repeat).
    pub fields: Vec<(String, String)>,
}

impl Headers {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Parses a header block (`NATS/1.0...␍␊...␍␊␍␊`).
    pub fn parse(block: &[u8]) -> Result<Headers, ProtoError> {
        let text = std::str::from_utf8(block).or_else(|_| perr("headers are not UTF-8"))?;
        let Some(body) = text.strip_suffix("\r\n\r\n").or_else(|| text.strip_suffix("\r\n")) else {
            return perr("header block does not end with CRLF CRLF");
        };
        let mut lines = body.split("\r\n");
        let first = lines.next().unwrap_or("");
        let Some(rest) = first.strip_prefix("NATS/1.0") else {
            return perr("header block does not start with NATS/1.0");
        };
        let mut h = Headers::default();
        let rest = rest.trim();
        if !rest.is_empty() {
            let (code, desc) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return perr(format!("bad header status {code:?}"));
            }
            h.status = code.parse().ok();
            h.description = desc.trim().to_string();
        }
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return perr(format!("header line without a colon: {line:?}"));
            };
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b)) {
                return perr(format!("bad header name {name:?}"));
            }
            h.fields.push((name.to_string(), value.trim().to_string()));
        }
        Ok(h)
    }
}

/// Encodes a header block; names and values must not contain CR, LF or (names) a colon.
pub fn encode_headers(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + fields.iter().map(|(n, v)| n.len() + v.len() + 4).sum::<usize>());
    b.extend_from_slice(b"NATS/1.0\r\n");
    for (n, v) in fields {
        debug_assert!(valid_header_name(n) && valid_header_value(v));
        b.extend_from_slice(n.as_bytes());
        b.extend_from_slice(b": ");
        b.extend_from_slice(v.as_bytes());
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"\r\n");
    b
}

/// A header name: printable ASCII but the colon.
pub fn valid_header_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// A header value: no CR or LF.
pub fn valid_header_value(v: &str) -> bool {
    !v.bytes().any(|b| b == b'\r' || b == b'\n')
}

/// A message from the server (`MSG` or `HMSG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The subject it was published to.
    pub subject: String,
    /// The subscription it matched.
    pub sid: String,
    /// The reply subject, if the publisher gave one.
    pub reply: Option<String>,
    /// Headers (`HMSG` only).
    pub headers: Option<Headers>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Msg {
    /// The header status code (503 for "no responders"), if any.
    pub fn status(&self) -> Option<u16> {
        self.headers.as_ref().and_then(|h| h.status)
    }
}

/// One operation sent by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp {
    /// `INFO {json}`: the JSON text.
    Info(String),
    /// `MSG` or `HMSG`.
    Msg(Msg),
    /// `PING`: must be answered with `PONG`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK` (verbose mode only; hellotap connects with `verbose: false`).
    Ok,
    /// `-ERR 'text'`: the text without the quotes.
    Err(String),
}

/// An incremental parser of server operations: feed it bytes as they arrive, take
/// operations out until it needs more.
#[derive(Debug)]
pub struct Parser {
    buf: Vec<u8>,
    start: usize,
    max_payload: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(DEFAULT_MAX_PAYLOAD)
    }
}

impl Parser {
    /// A parser that refuses payloads (headers included) above `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        Parser { buf: Vec::new(), start: 0, max_payload }
    }

    /// Appends bytes read from the connection.
    pub fn feed(&mut self, data: &[u8]) {
        if self.start > 0 && (self.start == self.buf.len() || self.start >= 64 * 1024) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes received and not yet taken out as operations.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete operation, `None` if more bytes are needed, or an error if what
    /// was received cannot be a valid operation.
    pub fn next_op(&mut self) -> Result<Option<ServerOp>, ProtoError> {
        let data = &self.buf[self.start..];
        let Some(nl) = data.iter().position(|&b| b == b'\n') else {
            if data.len() > MAX_CONTROL_LINE {
                return perr("control line too long");
            }
            return Ok(None);
        };
        if nl > MAX_CONTROL_LINE {
            return perr("control line too long");
        }
        let Some(line) = data[..nl].strip_suffix(b"\r") else {
            return perr("control line not ended by CRLF");
        };
        let line = std::str::from_utf8(line).or_else(|_| perr("control line is not UTF-8"))?;
        let (op, rest) = match line.find([' ', '\t']) {
            Some(i) => (&line[..i], line[i..].trim_matches([' ', '\t'])),
            None => (line, ""),
        };
        let after_line = nl + 1;
        let simple = |this: &mut Parser, op: ServerOp| {
            this.start += after_line;
            Ok(Some(op))
        };
        if op.eq_ignore_ascii_case("PING") && rest.is_empty() {
            return simple(self, ServerOp::Ping);
        }
        if op.eq_ignore_ascii_case("PONG") && rest.is_empty() {
            return simple(self, ServerOp::Pong);
        }
        if op.eq_ignore_ascii_case("+OK") && rest.is_empty() {
            return simple(self, ServerOp::Ok);
        }
        if op.eq_ignore_ascii_case("-ERR") {
            let text = rest.trim_matches('\'').to_string();
            return simple(self, ServerOp::Err(text));
        }
        if op.eq_ignore_ascii_case("INFO") {
            if !rest.starts_with('{') {
                return perr("INFO without a JSON object");
            }
            let json = rest.to_string();
            return simple(self, ServerOp::Info(json));
        }
        let is_msg = op.eq_ignore_ascii_case("MSG");
        let is_hmsg = op.eq_ignore_ascii_case("HMSG");
        if !is_msg && !is_hmsg {
            let shown: String = line.chars().take(40).collect();
            return perr(format!("unknown operation {shown:?}"));
        }
        let args: Vec<&str> = rest.split([' ', '\t']).filter(|a| !a.is_empty()).collect();
        let (subject, sid, reply, hdr_len, total) = match (is_hmsg, args.as_slice()) {
            (false, [s, sid, n]) => (*s, *sid, None, 0, self.count(n)?),
            (false, [s, sid, r, n]) => (*s, *sid, Some(*r), 0, self.count(n)?),
            (true, [s, sid, h, n]) => (*s, *sid, None, self.count(h)?, self.count(n)?),
            (true, [s, sid, r, h, n]) => (*s, *sid, Some(*r), self.count(h)?, self.count(n)?),
            _ => return perr(format!("{op} with {} arguments", args.len())),
        };
        if hdr_len > total {
            return perr(format!("HMSG header bytes {hdr_len} above total bytes {total}"));
        }
        if is_hmsg && hdr_len == 0 {
            return perr("HMSG with no header bytes");
        }
        let need = after_line + total + 2;
        if data.len() < need {
            return Ok(None);
        }
        if &data[after_line + total..need] != b"\r\n" {
            return perr(format!("{op} payload of {total} bytes not followed by CRLF"));
        }
        let body = &data[after_line..after_line + total];
        let headers = if is_hmsg { Some(Headers::parse(&body[..hdr_len])?) } else { None };
        let msg = Msg {
            subject: subject.to_string(),
            sid: sid.to_string(),
            reply: reply.map(str::to_string),
            headers,
            payload: body[hdr_len..].to_vec(),
        };
        self.start += need;
        Ok(Some(ServerOp::Msg(msg)))
    }

    fn count(&self, s: &str) -> Result<usize, ProtoError> {
        if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return perr(format!("bad byte count {s:?}"));
        }
        let n: usize = s.parse().or_else(|_| perr(format!("bad byte count {s:?}")))?;
        if n > self.max_payload {
            return perr(format!("payload of {n} bytes above the limit of {}", self.max_payload));
        }
        Ok(n)
    }
}

/// Appends `PUB <subject> [reply] <n>␍␊<payload>␍␊`.
pub fn encode_pub(out: &mut Vec<u8>, subject: &str, reply: Option<&str>, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject.as_bytes());
    if let Some(r) = reply {
        out.push(b' ');
        out.extend_from_slice(r.as_bytes());
    }
    out.extend_from_slice(format!(" {}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// The control line of `HPUB` for a header block of `hdr_len` bytes and a body (headers and
/// payload) of `total` bytes.
pub fn hpub_line(subject: &str, reply: Option<&str>, hdr_len: usize, total: usize) -> String {
    match reply {
        Some(r) => format!("HPUB {subject} {r} {hdr_len} {total}\r\n"),
        None => format!("HPUB {subject} {hdr_len} {total}\r\n"),
    }
}

/// Appends `HPUB <subject> [reply] <hdr> <total>␍␊<headers><payload>␍␊`.
pub fn encode_hpub(out: &mut Vec<u8>, subject: &str, reply: Option<&str>, headers: &[u8], payload: &[u8]) {
    out.extend_from_slice(hpub_line(subject, reply, headers.len(), headers.len() + payload.len()).as_bytes());
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// A subject a message may be published to: dot-separated non-empty tokens of printable
/// ASCII without spaces; `*` and `>` (the wildcards) only when `wildcards` is true, as
/// whole tokens, `>` last.
pub fn valid_subject(s: &str, wildcards: bool) -> bool {
    if s.is_empty() || s.len() > 4096 {
        return false;
    }
    let tokens: Vec<&str> = s.split('.').collect();
    let last = tokens.len() - 1;
    tokens.iter().enumerate().all(|(i, t)| {
        if t.is_empty() || !t.bytes().all(|b| (33..=126).contains(&b)) {
            return false;
        }
        match *t {
            "*" => wildcards,
            ">" => wildcards && i == last,
            _ => !t.contains(['*', '>']),
        }
    })
}

/// Decodes standard base64 (with or without padding), as JetStream sends stored messages.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server stream with every kind of operation, lower and upper case, tabs, headers
    /// with a status, an empty payload, a payload holding CRLF.
    const STREAM: &[u8] = b"INFO {\"server_id\":\"x\",\"headers\":true,\"max_payload\":1048576}\r\n\
+OK\r\n\
PING\r\n\
pong\r\n\
MSG a.b 1 5\r\nhello\r\n\
MSG a.b\t1\t_INBOX.x.1 4\r\n\r\n\r\n\r\n\
msg a.b 1 0\r\n\r\n\
HMSG _INBOX.x.2 1 29 32\r\nNATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n{\"}\r\n\
HMSG _INBOX.x.3 1 _INBOX.y 16 16\r\nNATS/1.0 503\r\n\r\n\r\n\
-ERR 'Unknown Protocol Operation'\r\n\
PING\r\n";

    fn all(p: &mut Parser) -> Vec<ServerOp> {
        let mut v = Vec::new();
        while let Some(op) = p.next_op().unwrap() {
            v.push(op);
        }
        v
    }

    fn expected() -> Vec<ServerOp> {
        let msg = |subject: &str, reply: Option<&str>, headers: Option<Headers>, payload: &[u8]| {
            ServerOp::Msg(Msg {
                subject: subject.into(),
                sid: "1".into(),
                reply: reply.map(Into::into),
                headers,
                payload: payload.to_vec(),
            })
        };
        vec![
            ServerOp::Info("{\"server_id\":\"x\",\"headers\":true,\"max_payload\":1048576}".into()),
            ServerOp::Ok,
            ServerOp::Ping,
            ServerOp::Pong,
            msg("a.b", None, None, b"hello"),
            msg("a.b", Some("_INBOX.x.1"), None, b"\r\n\r\n"),
            msg("a.b", None, None, b""),
            msg(
                "_INBOX.x.2",
                None,
                Some(Headers {
                    status: None,
                    description: String::new(),
                    fields: vec![("Nats-Msg-Id".into(), "m1".into())],
                }),
                b"{\"}",
            ),
            msg(
                "_INBOX.x.3",
                Some("_INBOX.y"),
                Some(Headers { status: Some(503), description: String::new(), fields: vec![] }),
                b"",
            ),
            ServerOp::Err("Unknown Protocol Operation".into()),
            ServerOp::Ping,
        ]
    }

    #[test]
    fn whole_stream() {
        let mut p = Parser::default();
        p.feed(STREAM);
        assert_eq!(all(&mut p), expected());
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn split_at_every_byte_boundary() {
        for cut in 0..=STREAM.len() {
            let mut p = Parser::default();
            p.feed(&STREAM[..cut]);
            let mut got = all(&mut p);
            p.feed(&STREAM[cut..]);
            got.extend(all(&mut p));
            assert_eq!(got, expected(), "split at {cut}");
            assert_eq!(p.buffered(), 0);
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut p = Parser::default();
        let mut got = Vec::new();
        for b in STREAM {
            p.feed(std::slice::from_ref(b));
            got.extend(all(&mut p));
        }
        assert_eq!(got, expected());
    }

    fn first_error(bytes: &[u8]) -> String {
        let mut p = Parser::new(1024);
        p.feed(bytes);
        loop {
            match p.next_op() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error for {:?}", String::from_utf8_lossy(bytes)),
                Err(e) => return e.0,
            }
        }
    }

    #[test]
    fn malformed_lengths_and_operations() {
        let cases: &[(&[u8], &str)] = &[
            (b"MSG a 1 -3\r\n", "bad byte count"),
            (b"MSG a 1 +3\r\nabc\r\n", "bad byte count"),
            (b"MSG a 1 x\r\n", "bad byte count"),
            (b"MSG a 1 99999999999999999999\r\n", "bad byte count"),
            (b"MSG a 1 2000\r\n", "above the limit"),
            (b"MSG a 1 3\r\nabcd\r\n", "not followed by CRLF"),
            (b"MSG a 1 5\r\nabc\r\nX\r\n", "not followed by CRLF"),
            (b"MSG a 1\r\n", "2 arguments"),
            (b"MSG a 1 r s 3\r\n", "5 arguments"),
            (b"HMSG a 1 20 10\r\n", "above total"),
            (b"HMSG a 1 0 3\r\nabc\r\n", "no header bytes"),
            (b"HMSG a 1 6 6\r\nHTTP\r\n\r\n", "NATS/1.0"),
            (b"HMSG a 1 12 12\r\nNATS/1.0\r\nXY\r\n", "CRLF CRLF"),
            (b"HMSG a 1 17 17\r\nNATS/1.0\r\nX-Y\r\n\r\n\r\n", "without a colon"),
            (b"HMSG a 1 16 16\r\nNATS/1.0 5x3\r\n\r\n\r\n", "status"),
            (b"PING\n", "CRLF"),
            (b"PING extra\r\n", "unknown operation"),
            (b"BOGUS\r\n", "unknown operation"),
            (b"INFO nope\r\n", "JSON"),
            (b"+OK\r\nMSG a 1 3\r\nab\xff\r\n\xff\r\n", "not UTF-8"),
        ];
        for (bytes, want) in cases {
            let e = first_error(bytes);
            assert!(e.contains(want), "{:?}: {e}", String::from_utf8_lossy(bytes));
        }
        // A control line that never ends is refused once it passes the cap.
        let mut p = Parser::default();
        p.feed(b"INFO {");
        p.feed(&vec![b'x'; MAX_CONTROL_LINE]);
        assert!(p.next_op().unwrap_err().0.contains("too long"));
        // A count announced beyond what has arrived waits for more, without error.
        let mut p = Parser::default();
        p.feed(b"MSG a 1 10\r\nabc");
        assert_eq!(p.next_op().unwrap(), None);
    }

    #[test]
    fn encoders_match_the_documented_examples() {
        // docs.nats.io: HPUB FOO 22 33␍␊NATS/1.0␍␊Bar: Baz␍␊␍␊Hello NATS!␍␊
        let h = encode_headers(&[("Bar", "Baz")]);
        let mut out = Vec::new();
        encode_hpub(&mut out, "FOO", None, &h, b"Hello NATS!");
        assert_eq!(out, b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n");
        let mut out = Vec::new();
        encode_pub(&mut out, "FRONT.DOOR", Some("JOKE.22"), b"Knock Knock");
        assert_eq!(out, b"PUB FRONT.DOOR JOKE.22 11\r\nKnock Knock\r\n");
        // What we encode, a server-side HMSG of it parses back.
        let mut p = Parser::default();
        p.feed(b"HMSG FOO 9 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n");
        let Some(ServerOp::Msg(m)) = p.next_op().unwrap() else { panic!() };
        assert_eq!(m.headers.unwrap().get("Bar"), Some("Baz"));
        assert_eq!(m.payload, b"Hello NATS!");
    }

    #[test]
    fn subjects() {
        assert!(valid_subject("hellotap.s1.tls", false));
        assert!(valid_subject("hellotap.>", true));
        assert!(valid_subject("hellotap.*.tls", true));
        for bad in ["", "a..b", ".a", "a.", "a b", "a.>", "a.*", "a.b*"] {
            assert!(!valid_subject(bad, false), "{bad}");
        }
        assert!(!valid_subject("a.>.b", true));
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("eyJhIjoxfQ").unwrap(), b"{\"a\":1}");
        assert!(base64_decode("Z").is_none());
        assert!(base64_decode("Zm9v!").is_none());
    }
}
