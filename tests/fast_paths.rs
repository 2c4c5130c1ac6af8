//! The decoder's hand-written IPv4/TCP path (`decode::decode`) against the `etherparse`
//! path it shortcuts (`decode::decode_reference`): the same packet or the same error, for
//! every frame of the project's captures and of the public corpora when present, and for
//! every cut and many byte changes of sample frames.

mod common;

use std::path::Path;

use hellotap::capture::read_capture;
use hellotap::decode::{self, Transport};

#[test]
fn fast_paths_agree_on_every_captured_frame() {
    let mut files = Vec::new();
    common::capture_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps"), &mut files);
    if let Some(shared) = common::shared_pcaps() {
        common::capture_files(&shared, &mut files);
    }
    let (mut fast, mut total) = (0u64, 0u64);
    for f in &files {
        let Ok(file) = std::fs::File::open(f) else { continue };
        let _ = read_capture(
            std::io::BufReader::new(file),
            |fr| {
                total += 1;
                let missing = fr.orig_len.saturating_sub(fr.data.len() as u32);
                let got = decode::decode(fr.linktype, fr.data, missing);
                assert_eq!(
                    got,
                    decode::decode_reference(fr.linktype, fr.data, missing),
                    "{} frame {total}",
                    f.display()
                );
                // The decode the reading thread hands to a worker with the frame.
                if let Ok(p) = &got {
                    let d = p.detach(fr.data).expect("payload inside the frame");
                    assert_eq!(d.attach(fr.data).as_ref(), Some(p), "{} frame {total}", f.display());
                    // The same range on a copy of the frame (frames copied into a batch).
                    let copy = fr.data.to_vec();
                    assert_eq!(d.attach(&copy).map(|q| q.payload), Some(p.payload));
                    // A frame too short for the range gives nothing, never a panic.
                    let end = p.payload.as_ptr() as usize - fr.data.as_ptr() as usize + p.payload.len();
                    if !p.payload.is_empty() {
                        assert_eq!(d.attach(&fr.data[..end - 1]), None);
                    }
                    // A slice that is not the packet's frame.
                    assert!(p.payload.is_empty() || p.detach(&copy[..0]).is_none());
                }
                // Ethernet, IPv4, TCP: the frames the fast path reads.
                if fr.linktype == 1
                    && got.as_ref().is_ok_and(|p| p.src.is_ipv4() && matches!(p.transport, Transport::Tcp(_)))
                {
                    fast += 1;
                }
                true
            },
            |_| {},
        );
    }
    println!("{fast} of {total} frames are Ethernet/IPv4/TCP");
    // pcaps/ alone (a clean checkout without ../shared) has 698 frames, 358 of them.
    assert!(fast > 300, "{fast} of {total}");
}

/// Every cut, and every single-byte change, of IPv4, IPv6 and VLAN-tagged IPv6 TCP frames:
/// the fast paths and the reference give the same packet or the same error.
#[test]
fn fast_paths_agree_on_cut_and_mangled_frames() {
    let mut v4 = vec![0u8; 14 + 24 + 20 + 4];
    v4[12..14].copy_from_slice(&[0x08, 0x00]);
    v4[14] = 0x46; // IPv4 with 4 bytes of options
    v4[16..18].copy_from_slice(&((24 + 20 + 4) as u16).to_be_bytes());
    v4[22] = 64;
    v4[23] = 6;
    v4[26..30].copy_from_slice(&[198, 18, 0, 1]);
    v4[30..34].copy_from_slice(&[198, 18, 0, 2]);
    let t = 14 + 24;
    v4[t..t + 2].copy_from_slice(&5000u16.to_be_bytes());
    v4[t + 2..t + 4].copy_from_slice(&443u16.to_be_bytes());
    v4[t + 12] = 0x50;
    let mut v6 = vec![0u8; 14 + 40 + 20 + 4];
    v6[12..14].copy_from_slice(&[0x86, 0xdd]);
    v6[14] = 0x60;
    v6[18..20].copy_from_slice(&24u16.to_be_bytes());
    v6[20] = 6;
    v6[21] = 64;
    v6[22 + 15] = 1;
    v6[38 + 15] = 2;
    let t = 14 + 40;
    v6[t..t + 2].copy_from_slice(&443u16.to_be_bytes());
    v6[t + 2..t + 4].copy_from_slice(&5000u16.to_be_bytes());
    v6[t + 12] = 0x50;
    // The IPv6 frame with one 802.1Q tag (VLAN 100).
    let mut tagged = v6[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x20, 0x64]);
    tagged.extend_from_slice(&v6[12..]);
    let check = |f: &[u8]| {
        for missing in [0, 7] {
            assert_eq!(decode::decode(1, f, missing), decode::decode_reference(1, f, missing), "{f:02x?}");
        }
    };
    for frame in [&v4, &v6, &tagged] {
        assert!(decode::decode(1, frame, 0).is_ok());
        for cut in 0..=frame.len() {
            check(&frame[..cut]);
        }
        for i in 0..frame.len() {
            for x in [0x00, 0x01, 0x06, 0x11, 0x2c, 0x3f, 0x45, 0x4f, 0x60, 0x80, 0xff] {
                let mut m = frame.clone();
                m[i] = x;
                check(&m);
            }
        }
    }
}
