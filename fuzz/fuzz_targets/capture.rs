//! The whole pipeline from capture-file bytes to JSON: pcap/pcapng reading, frame
//! decoding, flow tracking, reassembly, TLS/QUIC/DTLS sessions, fingerprints,
//! certificates, and the EVE JSON of every record.
//!
//! Input: a pcap or pcapng file.
#![no_main]

use hellotap::capture::read_capture;
use hellotap::output::to_json;
use hellotap::worker::{Worker, WorkerConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut worker = Worker::new(WorkerConfig { max_flows: 64, ja4plus: true, ..Default::default() });
    let mut emit = |h| {
        let line = to_json(&h);
        assert!(!line.contains('\n'), "a JSON line with a newline: {line}");
    };
    let _ = read_capture(
        data,
        |f| {
            worker.frame(f, &mut emit);
            true
        },
        |_| {},
    );
    assert!(worker.active_flows() <= 64);
    let _ = worker.buffered_bytes();
    worker.flush(&mut emit);
    assert_eq!(worker.active_flows(), 0);
});
