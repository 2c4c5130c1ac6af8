//! A QUIC connection (`QuicConn`) fed raw UDP payloads: long-header parsing, Initial key
//! derivation and trial decryption, CRYPTO reassembly; then the CRYPTO streams go through
//! the handshake-message layer and the hello parsers. Random bytes rarely decrypt: see
//! `quic_initial` for the variant that seals fuzzed frames into valid packets.
//!
//! Input: datagrams in `hellotap_fuzz::datagrams` format; the direction bits give the
//! hint (0 none, 1 client, 2 server, 3 alternate client/server by index).
#![no_main]

use hellotap::quic::{self, QuicConn, QuicLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = QuicLimits::default();
    let mut conn = QuicConn::new(limits);
    for (i, d) in hellotap_fuzz::datagrams(data, 64).into_iter().enumerate() {
        let hint = match d.dir {
            0 => None,
            1 => Some(true),
            2 => Some(false),
            _ => Some(i % 2 == 0),
        };
        let _ = quic::looks_like_client_initial(d.data);
        let r = conn.datagram(hint, d.data);
        assert!(r.decrypted + r.failed <= r.packets);
    }
    hellotap_fuzz::finish_quic(&conn, &limits);
});
