//! The TLS record layer of one direction (`DirParser`), fed in pieces.
//!
//! Input: `[flags, s1, s2, s3, stream...]`. The stream is fed in up to four pieces cut
//! at `s_i * len / 256`; `flags & 3` picks the handshake-message cap, `flags & 4` feeds
//! bare handshake messages (`feed_messages`, as QUIC CRYPTO data) instead of records.
//! Every handshake item goes through the hello/fingerprint/certificate parsers.
#![no_main]

use hellotap::fingerprint::Transport;
use hellotap::tls::stream::{DirLimits, DirParser, MAX_RECORD_FRAGMENT, TlsItem};
use libfuzzer_sys::fuzz_target;

const CAPS: [usize; 4] = [64 * 1024, 16 * 1024, 300, 0];

fuzz_target!(|data: &[u8]| {
    let [flags, s1, s2, s3, stream @ ..] = data else { return };
    let max = CAPS[usize::from(flags & 3)];
    let messages = flags & 4 != 0;
    let mut cuts: Vec<usize> =
        [*s1, *s2, *s3].iter().map(|&s| usize::from(s) * stream.len() / 256).collect();
    cuts.sort_unstable();
    let mut p = DirParser::new(DirLimits { max_handshake_message: max });
    let transport = if messages { Transport::Quic } else { Transport::Tcp };
    // A pending record (≤ 5 + MAX_RECORD_FRAGMENT, or a ≤ 32 KB SSLv2 hello) plus an
    // incomplete handshake message (< 4 + max).
    let bound = (5 + MAX_RECORD_FRAGMENT).max(2 + 0x7fff) + 4 + max;
    let mut prev = 0;
    for end in cuts.into_iter().chain([stream.len()]) {
        let piece = &stream[prev..end];
        prev = end;
        let mut out = |item: TlsItem<'_>| hellotap_fuzz::consume_item(item, transport);
        if messages {
            p.feed_messages(piece, &mut out);
        } else {
            p.feed(piece, &mut out);
        }
        assert!(p.buffered() <= bound, "buffered {} > {bound}", p.buffered());
        let _ = (p.error(), p.is_encrypted());
    }
});
