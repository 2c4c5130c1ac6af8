//! hellotap: a passive TLS handshake sensor.
//!
//! Frames from a capture are decoded to TCP, reassembled per direction only as far as the
//! handshake needs, and parsed into ClientHello/ServerHello facts; fingerprints (JA3,
//! JA3S, JA4, and JA4S when JA4+ is on) are computed from them, and one record per
//! handshake is written as a JSON line in Suricata EVE's vocabulary.
//!
//! The modules follow the data: each uses only the ones before it.
//! `time` → `capture` → `decode` → `flow` → `reassembly` → `tls` → `fingerprint` →
//! `x509` → `record` → `rules` → `session` → `worker` → `pipeline` → `output` → `replay`.

#![deny(missing_docs)]

mod ascii;
pub mod cache;
pub mod capture;
pub mod certcheck;
pub mod config;
#[cfg(feature = "live")]
pub mod daemon;
pub mod decode;
pub mod dtls;
pub mod enrich;
pub mod explain;
pub mod fingerprint;
pub mod flow;
pub mod metrics;
pub mod nats;
pub mod output;
pub mod pipeline;
pub mod placement;
pub mod quic;
pub mod reassembly;
pub mod record;
pub mod replay;
pub mod rules;
pub mod session;
pub mod sink;
pub mod time;
pub mod tls;
pub mod worker;
pub mod x509;
