//! One connection's TLS handshake, built from the in-order bytes of each direction.
//!
//! TLS is found by content, on any port: a direction is TLS when its stream starts with a
//! TLS record (or an SSLv2-compatible hello), or when a ClientHello/ServerHello record
//! shows up within the first [`SessionLimits::max_preamble`] bytes (after an HTTP CONNECT
//! or SOCKS exchange, or when the flow was picked up midstream). The client is the side
//! that sends the ClientHello.
//!
//! The facts are final when the client answers the server's first flight (ServerHelloDone,
//! ChangeCipherSpec or encrypted records after the ServerHello that is not a
//! HelloRetryRequest) with its own ChangeCipherSpec or encrypted records, or when a fatal
//! alert is seen; otherwise when the flow ends.

use crate::dtls::{DtlsDir, DtlsLimits};
use crate::fingerprint::Transport;
use crate::flow::Dir;
use crate::quic::{QuicConn, QuicLimits};
use crate::record::{Alert, Outcome, Side};
use crate::time::Timestamp;
use crate::tls::handshake;
use crate::tls::hello::{self, ClientHello, ServerHello};
use crate::tls::stream::{DirError, DirLimits, DirParser, TlsItem, find_hello_record, looks_like_tls_start};

/// Caps for one session.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Bytes of non-TLS preamble searched for a hello, per direction.
    pub max_preamble: usize,
    /// Bytes of each direction read at most (the handshake is in the first few KB).
    pub max_stream: u64,
    /// Record-layer caps.
    pub dir: DirLimits,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits { max_preamble: 4096, max_stream: 1024 * 1024, dir: DirLimits::default() }
    }
}

#[derive(Debug)]
enum DirState {
    /// Looking for TLS; holds bytes that did not start with TLS (bounded).
    Detect(Vec<u8>),
    /// Parsing records.
    Tls(DirParser),
    /// Not TLS, or past what we need.
    Off,
}

/// What the session learned so far.
#[derive(Debug, Default)]
pub struct Facts {
    /// Direction that sent the ClientHello (or the reverse of the ServerHello's).
    pub client_dir: Option<Dir>,
    /// Time of the first hello.
    pub first_hello_ts: Option<Timestamp>,
    /// The first ClientHello. The hellos are boxed: a session waits for them with all three
    /// empty (a SYN, or a ClientHello still in pieces, as in a half-open flood), and inline
    /// they made a session 936 bytes instead of 416.
    pub client_hello: Option<Box<ClientHello>>,
    /// ClientHellos seen.
    pub client_hello_count: u32,
    /// The first ServerHello.
    pub first_server_hello: Option<Box<ServerHello>>,
    /// The last ServerHello.
    pub server_hello: Option<Box<ServerHello>>,
    /// A HelloRetryRequest was seen.
    pub hello_retry: bool,
    /// Alerts in order.
    pub alerts: Vec<Alert>,
    /// Parse problems.
    pub anomalies: Vec<String>,
    /// The server's first flight after its (final) ServerHello is complete.
    pub server_flight_done: bool,
    /// The server sent Certificate, ServerKeyExchange, CertificateRequest or
    /// ServerHelloDone (a full handshake).
    pub server_full_flight: bool,
    /// TLS ≤ 1.2 abbreviated handshake (session resumed).
    pub abbreviated: bool,
    /// Time of the final ServerHello.
    pub server_hello_ts: Option<Timestamp>,
    /// Time the client went on past the server's first flight (its Finished or data).
    pub client_finished_ts: Option<Timestamp>,
    /// The server's first Certificate message body (plaintext: TLS ≤ 1.2).
    pub server_certificates: Option<Vec<u8>>,
    /// The client's Certificate message body, if it sent one in plaintext.
    pub client_certificates: Option<Vec<u8>>,
    /// The server asked for a client certificate.
    pub certificate_requested: bool,
    /// The server stapled an OCSP response (CertificateStatus).
    pub ocsp_stapled: bool,
    /// The server issued a session ticket in plaintext (TLS ≤ 1.2 NewSessionTicket).
    pub ticket_issued: bool,
    /// The group from a TLS ≤ 1.2 ECDHE ServerKeyExchange.
    pub ske_group: Option<u16>,
    /// The size of the prime of a DHE ServerKeyExchange, in bits.
    pub dhe_bits: Option<u32>,
    /// The signature scheme of a TLS 1.2 ServerKeyExchange.
    pub server_sig_alg: Option<u16>,
    /// How it ended, once final.
    pub outcome: Option<Outcome>,
    /// The handshake rides in QUIC: the rest after the ServerHello is encrypted, so the
    /// facts are final at the (non-HRR) ServerHello.
    pub quic: bool,
    /// The handshake rides in DTLS (ClientHellos carry a cookie field).
    pub dtls: bool,
    /// A DTLS HelloVerifyRequest (cookie exchange) was seen.
    pub hello_verify: bool,
}

impl Facts {
    /// True when a ClientHello or ServerHello was seen (the session is worth an event).
    pub fn has_hello(&self) -> bool {
        self.client_hello.is_some() || self.first_server_hello.is_some()
    }

    fn side_of(&self, dir: Dir) -> Side {
        match self.client_dir {
            Some(c) if c == dir => Side::Client,
            Some(_) => Side::Server,
            None => Side::Client,
        }
    }

    fn is_server(&self, dir: Dir) -> bool {
        self.client_dir.is_some_and(|c| c != dir)
    }

    fn item(&mut self, dir: Dir, ts: Timestamp, item: TlsItem<'_>) {
        if self.outcome.is_some() {
            return;
        }
        match item {
            TlsItem::Handshake { msg_type: handshake::CLIENT_HELLO, body } => {
                let dtls = self.dtls;
                self.client_hello_in(dir, ts, hello::parse_client_hello(body, dtls))
            }
            TlsItem::Handshake { msg_type: crate::dtls::HELLO_VERIFY_REQUEST, .. } if self.dtls => {
                // A cookie exchange: the ClientHello that follows is a second one (a fact);
                // the first defines JA3/JA4.
                if self.client_dir.is_none() {
                    self.client_dir = Some(dir.flip());
                }
                self.hello_verify = true;
            }
            TlsItem::Sslv2ClientHello(m) => self.client_hello_in(dir, ts, hello::parse_sslv2_client_hello(m)),
            TlsItem::Handshake { msg_type: handshake::SERVER_HELLO, body } => {
                match hello::parse_server_hello(body) {
                    Ok(sh) => {
                        if self.client_dir.is_none() {
                            self.client_dir = Some(dir.flip());
                        }
                        self.first_hello_ts.get_or_insert(ts);
                        for (e, what) in &sh.anomalies {
                            self.anomalies.push(format!("server_hello extension {e}: {what}"));
                        }
                        if sh.hello_retry {
                            self.hello_retry = true;
                        }
                        if self.first_server_hello.is_none() {
                            self.first_server_hello = Some(Box::new(sh.clone()));
                        }
                        if !sh.hello_retry {
                            self.server_hello_ts = Some(ts);
                            if self.quic {
                                self.outcome = Some(Outcome::Established);
                            }
                        }
                        self.server_hello = Some(Box::new(sh));
                    }
                    Err(e) => self.anomalies.push(format!("server_hello: {e}")),
                }
            }
            TlsItem::Handshake { msg_type: handshake::SERVER_HELLO_DONE, .. } => {
                self.full_flight(dir);
                self.progressed(dir, ts)
            }
            TlsItem::Handshake { msg_type: handshake::CERTIFICATE, body } => {
                self.full_flight(dir);
                let slot = if self.is_server(dir) {
                    &mut self.server_certificates
                } else {
                    &mut self.client_certificates
                };
                if slot.is_none() {
                    *slot = Some(body.to_vec());
                }
            }
            TlsItem::Handshake { msg_type: handshake::SERVER_KEY_EXCHANGE, body } => {
                self.full_flight(dir);
                self.server_key_exchange(body);
            }
            TlsItem::Handshake { msg_type: handshake::CERTIFICATE_REQUEST, .. } => {
                self.full_flight(dir);
                self.certificate_requested = true;
            }
            TlsItem::Handshake { msg_type: handshake::CERTIFICATE_STATUS, .. } => {
                if self.is_server(dir) {
                    self.ocsp_stapled = true;
                }
            }
            TlsItem::Handshake { msg_type: handshake::NEW_SESSION_TICKET, .. } => {
                if self.is_server(dir) {
                    self.ticket_issued = true;
                }
            }
            TlsItem::Handshake { .. } => {}
            TlsItem::ChangeCipherSpec => {
                // TLS ≤ 1.2: a server that answers its hello with ChangeCipherSpec, without
                // a certificate or key exchange, is resuming a session (abbreviated
                // handshake, RFC 5246 §7.3).
                if self.is_server(dir)
                    && !self.server_full_flight
                    && self
                        .server_hello
                        .as_ref()
                        .is_some_and(|sh| !sh.hello_retry && sh.negotiated_version() <= 0x0303)
                {
                    self.abbreviated = true;
                }
                self.progressed(dir, ts)
            }
            TlsItem::ApplicationData | TlsItem::EncryptedHandshake => self.progressed(dir, ts),
            TlsItem::Alert { level, description } => {
                self.alerts.push(Alert { from: self.side_of(dir), level, description });
                if level == 2 {
                    self.outcome = Some(Outcome::Alert);
                }
            }
            TlsItem::EncryptedAlert => {}
            TlsItem::Oversized { msg_type, len } => self
                .anomalies
                .push(format!("handshake message type {msg_type} of {len} bytes exceeds the cap: skipped")),
        }
    }

    fn client_hello_in(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        ch: Result<ClientHello, crate::tls::reader::ParseError>,
    ) {
        self.client_hello_count += 1;
        match ch {
            Ok(ch) => {
                if self.client_hello.is_none() {
                    self.client_dir = Some(dir);
                    self.first_hello_ts = Some(ts);
                    for (e, what) in &ch.anomalies {
                        self.anomalies.push(format!("client_hello extension {e}: {what}"));
                    }
                    self.client_hello = Some(Box::new(ch));
                }
            }
            Err(e) => self.anomalies.push(format!("client_hello: {e}")),
        }
    }

    /// A direction went past its hello (ServerHelloDone, ChangeCipherSpec, encrypted
    /// records). The server's first flight is done once it does so after a ServerHello that
    /// is not a HelloRetryRequest (after an HRR a middlebox-compatibility CCS may follow);
    /// the handshake is established when the client then answers with its own
    /// ChangeCipherSpec or encrypted records instead of an alert (a client rejecting the
    /// certificate sends a plaintext alert at exactly this point in TLS 1.2).
    fn progressed(&mut self, dir: Dir, ts: Timestamp) {
        if self.is_server(dir) {
            if self.server_hello.as_ref().is_some_and(|sh| !sh.hello_retry) {
                self.server_flight_done = true;
            }
        } else if self.server_flight_done {
            self.client_finished_ts = Some(ts);
            self.outcome = Some(Outcome::Established);
        }
    }

    fn full_flight(&mut self, dir: Dir) {
        if self.is_server(dir) {
            self.server_full_flight = true;
        }
    }

    /// The group and signature scheme of an ECDHE/DHE ServerKeyExchange (TLS ≤ 1.2). The
    /// layout depends on the key exchange, known only from the negotiated cipher suite's
    /// name; other key exchanges (RSA, PSK, SRP) are left alone.
    fn server_key_exchange(&mut self, body: &[u8]) {
        let Some(sh) = self.server_hello.as_ref() else { return };
        let name = crate::tls::names::cipher_suite(sh.cipher).unwrap_or("");
        let tls12 = sh.negotiated_version() >= 0x0303;
        let mut r = crate::tls::reader::Reader::new(body);
        let parsed: Result<(), crate::tls::reader::ParseError> = (|| {
            if name.contains("_ECDHE_") && !name.contains("_PSK_") {
                if r.u8("curve_type")? != 3 {
                    return Ok(()); // explicit curves: no named group
                }
                self.ske_group = Some(r.u16("named_curve")?);
                r.vec8("ecdh public")?;
            } else if name.contains("_DHE_") && !name.contains("_PSK_") {
                let p = r.vec16("dh_p")?;
                self.dhe_bits = Some((p.remaining() * 8) as u32);
                r.vec16("dh_g")?;
                r.vec16("dh_Ys")?;
            } else {
                return Ok(());
            }
            if tls12 {
                self.server_sig_alg = Some(r.u16("signature algorithm")?);
            }
            Ok(())
        })();
        if let Err(e) = parsed {
            self.anomalies.push(format!("server_key_exchange: {e}"));
        }
    }
}

/// QUIC state: the Initial decryptor and the handshake-message parsers of its two
/// CRYPTO streams (index 0 the client's, 1 the server's).
#[derive(Debug)]
struct QuicState {
    conn: QuicConn,
    fed: [usize; 2],
    parsers: [DirParser; 2],
}

/// The TLS view of one connection: TLS over TCP, or the TLS handshake inside QUIC.
#[derive(Debug)]
pub struct TlsSession {
    limits: SessionLimits,
    dirs: [DirState; 2],
    fed: [u64; 2],
    quic: Option<Box<QuicState>>,
    /// DTLS record layers, one per direction (indexed by `Dir::index`).
    dtls: Option<Box<[DtlsDir; 2]>>,
    /// What was learned.
    pub facts: Facts,
}

impl TlsSession {
    /// A new session over TCP.
    pub fn new(limits: SessionLimits) -> Self {
        TlsSession {
            limits,
            dirs: [DirState::Detect(Vec::new()), DirState::Detect(Vec::new())],
            fed: [0; 2],
            quic: None,
            dtls: None,
            facts: Facts::default(),
        }
    }

    /// A new session over DTLS (the flow's first datagram held a DTLS ClientHello).
    pub fn new_dtls(limits: SessionLimits, dtls: DtlsLimits) -> Self {
        let mut s = TlsSession::new(limits);
        s.dirs = [DirState::Off, DirState::Off];
        s.facts.dtls = true;
        s.dtls = Some(Box::new([DtlsDir::new(dtls), DtlsDir::new(dtls)]));
        s
    }

    /// Feeds one UDP datagram of a DTLS session, sent in direction `dir` at `ts`.
    pub fn dtls_datagram(&mut self, dir: Dir, ts: Timestamp, payload: &[u8]) {
        if self.facts.outcome.is_some() {
            return;
        }
        let Some(d) = self.dtls.as_mut() else { return };
        let facts = &mut self.facts;
        d[dir.index()].datagram(payload, &mut |item| facts.item(dir, ts, item));
    }

    /// A new session over QUIC (the flow's first datagram looked like a client Initial).
    pub fn new_quic(limits: SessionLimits, quic: QuicLimits) -> Self {
        let mut s = TlsSession::new(limits);
        s.dirs = [DirState::Off, DirState::Off];
        s.facts.quic = true;
        s.quic = Some(Box::new(QuicState {
            conn: QuicConn::new(quic),
            fed: [0; 2],
            parsers: [DirParser::new(limits.dir), DirParser::new(limits.dir)],
        }));
        s
    }

    /// The transport the handshake rides on.
    pub fn transport(&self) -> Transport {
        if self.quic.is_some() {
            Transport::Quic
        } else if self.dtls.is_some() {
            Transport::Dtls
        } else {
            Transport::Tcp
        }
    }

    /// The QUIC version of the client's Initials, for a QUIC session.
    pub fn quic_version(&self) -> Option<u32> {
        self.quic.as_ref().and_then(|q| q.conn.version())
    }

    /// Feeds one UDP datagram of a QUIC session, sent in direction `dir` at `ts`.
    pub fn quic_datagram(&mut self, dir: Dir, ts: Timestamp, payload: &[u8]) {
        let Some(q) = self.quic.as_mut() else { return };
        if self.facts.outcome.is_some() {
            return;
        }
        let hint = self.facts.client_dir.map(|c| c == dir);
        let res = q.conn.datagram(hint, payload);
        let Some(from_client) = res.from_client else { return };
        // The side is decided by which keys opened the packet.
        let client_dir = if from_client { dir } else { dir.flip() };
        self.facts.client_dir.get_or_insert(client_dir);
        for (i, client) in [(0, true), (1, false)] {
            let crypto = q.conn.crypto(client);
            if crypto.len() > q.fed[i] {
                let new = &crypto[q.fed[i]..];
                q.fed[i] = crypto.len();
                let d = if client { client_dir } else { client_dir.flip() };
                let facts = &mut self.facts;
                q.parsers[i].feed_messages(new, &mut |item| facts.item(d, ts, item));
            }
        }
    }

    /// True when the facts are final (no more bytes are needed).
    pub fn is_final(&self) -> bool {
        self.facts.outcome.is_some()
    }

    /// True when neither direction can still yield a hello (both gave up on TLS).
    pub fn is_hopeless(&self) -> bool {
        !self.facts.has_hello() && self.dirs.iter().all(|d| matches!(d, DirState::Off))
    }

    /// Bytes held in this session's buffers.
    pub fn buffered(&self) -> usize {
        let dtls = self.dtls.as_ref().map_or(0, |d| d[0].buffered() + d[1].buffered());
        let quic = dtls
            + self.quic.as_ref().map_or(0, |q| {
                q.conn.crypto(true).len()
                    + q.conn.crypto(false).len()
                    + q.parsers[0].buffered()
                    + q.parsers[1].buffered()
            });
        quic + self
            .dirs
            .iter()
            .map(|d| match d {
                DirState::Detect(v) => v.len(),
                DirState::Tls(p) => p.buffered(),
                DirState::Off => 0,
            })
            .sum::<usize>()
    }

    /// Feeds in-order bytes of direction `dir`, seen at `ts`.
    pub fn data(&mut self, dir: Dir, ts: Timestamp, data: &[u8]) {
        if self.is_final() {
            return;
        }
        let i = dir.index();
        let room = self.limits.max_stream.saturating_sub(self.fed[i]);
        if room == 0 {
            self.dirs[i] = DirState::Off;
            return;
        }
        let data = &data[..data.len().min(room as usize)];
        self.fed[i] += data.len() as u64;
        let facts = &mut self.facts;
        let state = &mut self.dirs[i];
        let mut emit = |item: TlsItem<'_>| facts.item(dir, ts, item);
        match state {
            DirState::Off => {}
            DirState::Tls(p) => p.feed(data, &mut emit),
            DirState::Detect(buf) => {
                // Fast path: the stream starts with TLS in this segment; parse in place.
                if buf.is_empty() && looks_like_tls_start(data) {
                    let mut p = DirParser::new(self.limits.dir);
                    p.feed(data, &mut emit);
                    *state = DirState::Tls(p);
                } else {
                    let room = self.limits.max_preamble.saturating_sub(buf.len());
                    buf.extend_from_slice(&data[..data.len().min(room)]);
                    let start = if looks_like_tls_start(buf) { Some(0) } else { find_hello_record(buf) };
                    if let Some(at) = start {
                        let mut p = DirParser::new(self.limits.dir);
                        p.feed(&buf[at..], &mut emit);
                        // Bytes past the preamble cap in this same segment.
                        if data.len() > room {
                            p.feed(&data[room..], &mut emit);
                        }
                        *state = DirState::Tls(p);
                    } else if buf.len() >= self.limits.max_preamble {
                        *state = DirState::Off;
                    }
                }
            }
        }
        if let DirState::Tls(p) = state {
            match p.error() {
                Some(DirError::NotTls) => *state = DirState::Off,
                None => {}
            }
        }
    }

    /// The outcome to report when the flow ends without the facts being final.
    pub fn end_outcome(&self, reset: bool, timeout: bool) -> Outcome {
        if let Some(o) = self.facts.outcome {
            return o;
        }
        if reset {
            Outcome::Reset
        } else if self.facts.server_hello.is_none() && self.facts.client_hello.is_some() {
            Outcome::NoServerResponse
        } else if timeout {
            Outcome::Timeout
        } else if self.facts.server_hello.is_none() {
            Outcome::NoServerResponse
        } else {
            Outcome::Incomplete
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session is allocated per flow with a first payload byte, long before its hellos
    /// are whole (a half-open flood holds a million of them): the hellos stay out of line.
    /// With them inline it was 936 bytes, and a half-open flow cost 3.2 KB of RSS instead
    /// of 2.5 KB (`bench/run.sh`, 1M flows).
    #[test]
    fn a_session_waiting_for_its_hellos_stays_small() {
        assert!(std::mem::size_of::<TlsSession>() <= 512, "{} bytes", std::mem::size_of::<TlsSession>());
        assert!(std::mem::size_of::<Facts>() <= 256, "{} bytes", std::mem::size_of::<Facts>());
    }
}
