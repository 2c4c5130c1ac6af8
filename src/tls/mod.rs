//! TLS bytes in, handshake facts out. Knows nothing of TCP: it is fed in-order stream
//! bytes per direction, so it can be tested and fuzzed on bytes alone.
//!
//! Hand-written rather than built on `tls-parser`: fingerprints depend on raw wire order,
//! GREASE values and odd lengths surviving untouched, and a sensor must keep going (and
//! say where) on malformed input, with every buffer capped. The parser is small, bounded
//! and fuzzed.

pub mod hello;
pub mod names;
pub mod reader;
pub mod stream;

/// Handshake message types used here.
pub mod handshake {
    /// client_hello.
    pub const CLIENT_HELLO: u8 = 1;
    /// server_hello (also HelloRetryRequest in TLS 1.3).
    pub const SERVER_HELLO: u8 = 2;
    /// new_session_ticket.
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// certificate.
    pub const CERTIFICATE: u8 = 11;
    /// server_key_exchange.
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    /// certificate_request.
    pub const CERTIFICATE_REQUEST: u8 = 13;
    /// server_hello_done.
    pub const SERVER_HELLO_DONE: u8 = 14;
    /// client_key_exchange.
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    /// certificate_status (OCSP stapling).
    pub const CERTIFICATE_STATUS: u8 = 22;
}
