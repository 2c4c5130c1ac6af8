//! Link-layer-to-transport decoding of one frame.
//!
//! Input: `[linktype selector, missing, frame...]`; the selector picks one of the known
//! link types (`hellotap_fuzz::LINKTYPES`), `missing` is the snaplen cut (0..=255 bytes).
//! Also checks the decoder's IPv4/TCP fast path against its etherparse path
//! (`decode_reference`), and that a decoded packet detached from its frame and attached
//! again is the same packet.
#![no_main]

use hellotap_fuzz::LINKTYPES;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, missing, frame @ ..] = data else { return };
    let linktype = LINKTYPES[usize::from(*sel) % LINKTYPES.len()];
    let decoded = hellotap::decode::decode(linktype, frame, u32::from(*missing));
    // The hand-written IPv4/TCP path gives what the etherparse path gives.
    assert_eq!(decoded, hellotap::decode::decode_reference(linktype, frame, u32::from(*missing)));
    match decoded {
        Ok(p) => {
            // The payload is a slice of the frame.
            let fr = frame.as_ptr_range();
            let pr = p.payload.as_ptr_range();
            assert!(p.payload.is_empty() || (fr.start <= pr.start && pr.end <= fr.end));
            assert!(p.vlan_ids().len() <= hellotap::decode::VLAN_IDS_KEPT);
            // Detached (to travel to a worker with the frame) and attached again: the same.
            let d = p.detach(frame).expect("payload inside the frame");
            assert_eq!(d.attach(frame).as_ref(), Some(&p));
        }
        Err(e) => {
            let _ = e.kind();
        }
    }
});
