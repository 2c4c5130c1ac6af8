//! TCP reassembly of one direction (`TcpStream`) driven by arbitrary segments.
//!
//! Input: `[limits, segments...]`; each segment is `seq: u32 BE, flags, len: u8,
//! bytes[len]` (fewer at the end). Flags: bit 0 SYN, bit 1 cut by the snaplen, bit 2 the
//! sequence number is relative (added to the previous segment's end). `limits & 1` uses
//! small caps (4 segments, 600 bytes, 3000 ahead).
//!
//! Checked: delivered bytes never exceed the payload bytes given; `delivered()` equals
//! what was handed out; `buffered()` never exceeds the byte cap; each delivery is
//! non-empty.
#![no_main]

use hellotap::reassembly::{StreamLimits, TcpStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let mut rest: &[u8] = rest;
    let limits = if mode & 1 == 0 {
        StreamLimits::default()
    } else {
        StreamLimits { max_ooo_segments: 4, max_ooo_bytes: 600, max_ahead: 3000 }
    };
    let mut s = TcpStream::new(limits);
    let mut given: u64 = 0;
    let mut handed: u64 = 0;
    let mut prev_end: u32 = 0;
    while rest.len() >= 6 {
        let raw_seq = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let flags = rest[4];
        let len = usize::from(rest[5]).min(rest.len() - 6);
        let payload = &rest[6..6 + len];
        rest = &rest[6 + len..];
        let seq = if flags & 4 != 0 { prev_end.wrapping_add(raw_seq) } else { raw_seq };
        let syn = flags & 1 != 0;
        let truncated = flags & 2 != 0;
        prev_end = seq.wrapping_add(len as u32).wrapping_add(u32::from(syn));
        if !truncated {
            given += len as u64;
        }
        s.segment(seq, syn, payload, truncated, &mut |b: &[u8]| {
            assert!(!b.is_empty(), "empty delivery");
            handed += b.len() as u64;
        });
        assert_eq!(s.delivered(), handed);
        assert!(handed <= given, "delivered {handed} > given {given}");
        assert!(s.buffered() <= limits.max_ooo_bytes, "buffered {}", s.buffered());
        if flags & 0x80 != 0 {
            s.release();
            assert_eq!(s.buffered(), 0);
        }
    }
});
