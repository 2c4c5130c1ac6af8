//! Classic pcap read in shared blocks (`capture::blocks`, replay's reader) against
//! `pcap-parser` (`capture::read_capture`): the same frames, the same error and offset,
//! for any block size; each frame's shared range holds the frame's bytes.
//!
//! Input: `[block size selector, capture file...]`.
#![no_main]

use hellotap::capture::blocks::read_blocks_sized;
use hellotap::capture::read_capture;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, file @ ..] = data else { return };
    let block = 1 + usize::from(*sel) * 8;
    let mut want = Vec::new();
    let r1 = read_capture(
        file,
        |f| {
            want.push((f.ts, f.linktype, f.data.to_vec(), f.orig_len));
            true
        },
        |_| {},
    );
    let mut got = Vec::new();
    let r2 = read_blocks_sized(
        file,
        block,
        |f, shared| {
            if let Some(s) = shared {
                let at = s.start as usize;
                assert_eq!(&s.block.bytes()[at..at + f.data.len()], f.data);
            }
            got.push((f.ts, f.linktype, f.data.to_vec(), f.orig_len));
            true
        },
        |_| {},
    );
    assert_eq!(got, want);
    assert_eq!(r1.map(|s| (s.frames, s.bytes)), r2.map(|s| (s.frames, s.bytes)));
});
