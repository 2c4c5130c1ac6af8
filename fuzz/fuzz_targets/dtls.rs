//! The DTLS record and handshake-fragment layers (`DtlsDir`) of both directions, fed UDP
//! payloads; every handshake message goes through the hello/certificate parsers and the
//! fingerprints with the DTLS transport.
//!
//! Input: `[limits, datagrams...]` in `hellotap_fuzz::datagrams` format; direction bits
//! 0/1 feed the client direction, 2/3 the server's. `limits & 1` uses small caps (a 600
//! byte message, 2 KB buffered, 3 pending messages) so the cap paths are reached.
#![no_main]

use hellotap::dtls::{self, DtlsDir, DtlsLimits};
use hellotap::fingerprint::Transport;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let limits = if mode & 1 == 0 {
        DtlsLimits::default()
    } else {
        DtlsLimits { max_handshake_message: 600, max_buffered_bytes: 2048, max_pending_messages: 3 }
    };
    let mut dirs = [DtlsDir::new(limits), DtlsDir::new(limits)];
    for d in hellotap_fuzz::datagrams(rest, 128) {
        let _ = dtls::looks_like_client_hello(d.data);
        let dir = &mut dirs[usize::from(d.dir >> 1)];
        dir.datagram(d.data, &mut |item| hellotap_fuzz::consume_item(item, Transport::Dtls));
        assert!(dir.buffered() <= limits.max_buffered_bytes, "buffered {}", dir.buffered());
        let _ = (dir.stats(), dir.next_message_seq());
    }
});
