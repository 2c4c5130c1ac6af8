//! The owned `Handshake` record every consumer (rules, metrics, output) receives: one per
//! TLS session, emitted once, when its facts are final.

use std::sync::Arc;

use crate::certcheck::CertChecks;
use crate::fingerprint::Transport;
use crate::fingerprint::ja3::Ja3;
use crate::fingerprint::ja4::{Ja4, Ja4s};
use crate::flow::Endpoint;
use crate::time::Timestamp;
use crate::tls::hello::{ClientHello, ServerHello};
use crate::x509::CertInfo;

/// Which side sent something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The side that sent the ClientHello.
    Client,
    /// The side that sent the ServerHello.
    Server,
}

impl Side {
    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// A plaintext alert seen during the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// Who sent it.
    pub from: Side,
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// AlertDescription code.
    pub description: u8,
}

/// How the handshake ended, as far as the sensor saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server's first flight was complete and the client went on with its
    /// ChangeCipherSpec or encrypted records.
    Established,
    /// A fatal alert ended it.
    Alert,
    /// The connection was reset before the handshake completed.
    Reset,
    /// The flow went idle before the handshake completed.
    Timeout,
    /// A ClientHello got no ServerHello before the connection closed or the capture ended.
    NoServerResponse,
    /// The server answered but the capture or connection ended before the client went on
    /// past the server's first flight.
    Incomplete,
    /// The sensor was stopped (SIGTERM) before the handshake's facts were final.
    Shutdown,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Established,
        Outcome::Alert,
        Outcome::Reset,
        Outcome::Timeout,
        Outcome::NoServerResponse,
        Outcome::Incomplete,
        Outcome::Shutdown,
    ];

    /// The event's `outcome` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Established => "established",
            Outcome::Alert => "alert",
            Outcome::Reset => "reset",
            Outcome::Timeout => "timeout",
            Outcome::NoServerResponse => "no_server_response",
            Outcome::Incomplete => "incomplete",
            Outcome::Shutdown => "shutdown",
        }
    }
}

/// Fingerprints computed for a record (absent when the hello was not seen, or the
/// fingerprint is switched off). A client's JA3 and JA4 are shared (`Arc`) with the
/// worker's cache of whole hellos, so a repeated hello costs no string copies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprints {
    /// JA3 of the first ClientHello.
    pub ja3: Option<Arc<Ja3>>,
    /// JA3S of the first ServerHello.
    pub ja3s: Option<Ja3>,
    /// JA4 of the first ClientHello.
    pub ja4: Option<Arc<Ja4>>,
    /// JA4S of the first ServerHello (JA4+ only).
    pub ja4s: Option<Ja4s>,
}

/// Everything the sensor learned about one TLS handshake.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Stable flow id (same across runs on the same capture).
    pub flow_id: u64,
    /// Time of the first ClientHello (or of the ServerHello when no ClientHello was seen).
    pub timestamp: Timestamp,
    /// TCP, QUIC or DTLS.
    pub transport: Transport,
    /// The client's endpoint.
    pub client: Endpoint,
    /// The server's endpoint.
    pub server: Endpoint,
    /// VLAN ids, outermost first.
    pub vlans: Vec<u16>,
    /// The input file (replay only).
    pub pcap_filename: Option<Arc<str>>,
    /// The first ClientHello: it defines JA3/JA4.
    pub client_hello: Option<ClientHello>,
    /// How many ClientHellos were seen (2 after a HelloRetryRequest).
    pub client_hello_count: u32,
    /// The first ServerHello (a HelloRetryRequest when there was one): defines JA3S/JA4S.
    pub first_server_hello: Option<ServerHello>,
    /// The last ServerHello: the negotiated version, cipher and group.
    pub server_hello: Option<ServerHello>,
    /// A HelloRetryRequest was seen.
    pub hello_retry: bool,
    /// Plaintext alerts, in order.
    pub alerts: Vec<Alert>,
    /// How it ended.
    pub outcome: Outcome,
    /// Parse problems, as `what: detail` strings.
    pub anomalies: Vec<String>,
    /// Fingerprints.
    pub fingerprints: Fingerprints,
    /// What else the handshake showed.
    pub details: Details,
    /// The server's certificate chain as sent (leaf first); TLS ≤ 1.2 only.
    /// Shared with the worker's certificate cache ([`crate::cache`]).
    pub certificates: Vec<Arc<Cert>>,
    /// The client's certificate chain, if it sent one in plaintext.
    pub client_certificates: Vec<Arc<Cert>>,
    /// Checks over the server's chain (absent when no certificate was seen).
    pub cert_checks: Option<CertChecks>,
    /// The output lines, when a worker already rendered them (see `pipeline::Render`).
    pub rendered: Vec<String>,
}

/// One certificate of a chain: its facts, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    /// The parsed facts.
    pub info: Result<CertInfo, String>,
    /// JA4X and JA4X_r (JA4+ only).
    pub ja4x: Option<(String, String)>,
}

/// Negotiation, resumption, stapling and timing facts beyond the hellos.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// The session was resumed: TLS 1.3 pre_shared_key accepted, or a TLS ≤ 1.2
    /// abbreviated handshake (ServerHello then ChangeCipherSpec, no certificate).
    pub resumed: bool,
    /// The server issued a session ticket in plaintext (TLS ≤ 1.2).
    pub ticket_issued: bool,
    /// The server asked for a client certificate (TLS ≤ 1.2, plaintext).
    pub certificate_requested: bool,
    /// The server stapled an OCSP response.
    pub ocsp_stapled: bool,
    /// The group of a TLS ≤ 1.2 ECDHE ServerKeyExchange.
    pub ske_group: Option<u16>,
    /// The prime size of a DHE ServerKeyExchange, in bits.
    pub dhe_bits: Option<u32>,
    /// The signature scheme the server signed its key exchange with (TLS 1.2).
    pub server_sig_alg: Option<u16>,
    /// Microseconds from the first ClientHello to the final ServerHello.
    pub server_hello_us: Option<i64>,
    /// Microseconds from the first ClientHello to the client going on past the server's
    /// first flight (its Finished, or first encrypted record in TLS 1.3).
    pub finished_us: Option<i64>,
    /// The QUIC version of the client's Initials (QUIC only).
    pub quic_version: Option<u32>,
    /// A DTLS HelloVerifyRequest (cookie exchange) was seen.
    pub hello_verify: bool,
}
