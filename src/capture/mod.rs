//! Frame sources: classic pcap (µs and ns) and pcapng files, read as a stream.
//!
//! Offline reading uses `pcap-parser` (streaming, zero-copy over its read buffer), so the
//! default build needs no libpcap. Each frame is handed to a callback together with its link
//! type and its timestamp; pcapng files may mix interfaces with different link types and
//! timestamp resolutions, and each packet is interpreted with its own interface's values.
//!
//! Errors carry the byte offset in the input where the damage starts. Frames before the
//! damage have already been handed to the callback when the error is returned, so nothing
//! already read is lost.

use std::fmt;
use std::io::Read;

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};

use crate::time::Timestamp;

pub mod blocks;
#[cfg(feature = "live")]
pub mod live;

/// Size of the read buffer. A single record larger than this is reported as corrupt: no
/// link type we decode has frames anywhere near this size (Linux loopback MTU is 64 KiB).
pub const READ_BUFFER_BYTES: usize = 1 << 20;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Packet time, from the capture file.
    pub ts: Timestamp,
    /// Link-layer header type (LINKTYPE_* value from tcpdump.org).
    pub linktype: u32,
    /// Captured bytes (may be shorter than `orig_len` when the snaplen cut the frame).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
}

/// What went wrong while reading a capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureErrorKind {
    /// The file starts with neither a pcap nor a pcapng magic number.
    NotACapture,
    /// The file ends in the middle of a record.
    Truncated,
    /// A record's length field is impossible (larger than the read buffer, or malformed).
    Corrupt(String),
    /// A pcapng packet names an interface that has no Interface Description Block.
    UnknownInterface(u32),
    /// The operating system failed to read the file.
    Io(String),
}

/// A capture reading error with the offset (bytes from the start of the input) it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    /// Byte offset in the input where the problem was found.
    pub offset: u64,
    /// What the problem is.
    pub kind: CaptureErrorKind,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CaptureErrorKind::NotACapture => {
                write!(f, "not a pcap or pcapng file (bad magic at offset {})", self.offset)
            }
            CaptureErrorKind::Truncated => {
                write!(f, "truncated: the file ends inside the record at offset {}", self.offset)
            }
            CaptureErrorKind::Corrupt(why) => {
                write!(f, "corrupt record at offset {}: {why}", self.offset)
            }
            CaptureErrorKind::UnknownInterface(id) => {
                write!(f, "packet at offset {} names interface {id}, which was never described", self.offset)
            }
            CaptureErrorKind::Io(e) => write!(f, "read error at offset {}: {e}", self.offset),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Counts of what a reader saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadStats {
    /// Frames handed to the callback.
    pub frames: u64,
    /// Bytes of the input consumed.
    pub bytes: u64,
    /// Frames whose captured length is shorter than their wire length (snaplen).
    pub truncated_frames: u64,
}

#[derive(Clone, Copy)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
}

/// Reads a whole capture stream, calling `on_frame` for each packet and `on_progress` with
/// the number of input bytes consumed so far (every few hundred KB). `on_frame` returns
/// `false` to stop reading early (the output went away).
pub fn read_capture<R, F, P>(input: R, mut on_frame: F, mut on_progress: P) -> Result<ReadStats, CaptureError>
where
    R: Read + Send,
    F: FnMut(&Frame<'_>) -> bool,
    P: FnMut(u64),
{
    let mut stats = ReadStats::default();
    let mut reader = match pcap_parser::create_reader(READ_BUFFER_BYTES, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => {
            return Err(CaptureError { offset: 0, kind: CaptureErrorKind::NotACapture });
        }
        Err(PcapError::ReadError) => {
            return Err(CaptureError { offset: 0, kind: CaptureErrorKind::Io("cannot read input".into()) });
        }
        Err(_) => return Err(CaptureError { offset: 0, kind: CaptureErrorKind::NotACapture }),
    };
    // Classic pcap: one link type and one resolution for the whole file.
    let mut legacy = Interface { linktype: 1, resolution: 1_000_000, offset_secs: 0 };
    // pcapng: interfaces are numbered per section, in order of their IDBs.
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut offset: u64 = 0;
    let mut last_progress: u64 = 0;
    let mut go_on = true;
    // pcapng: the byte order of the current section, once its header block was read.
    let mut ng_big: Option<bool> = None;
    while go_on {
        if let Some(e) = ng_block_length_error(reader.data(), ng_big) {
            return Err(CaptureError { offset, kind: CaptureErrorKind::Corrupt(e) });
        }
        match reader.next() {
            Ok((consumed, block)) => {
                let mut bad_if = None;
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy.linktype = h.network.0 as u32;
                        legacy.resolution =
                            if h.is_nanosecond_precision() { 1_000_000_000 } else { 1_000_000 };
                        legacy.offset_secs = i64::from(h.thiszone);
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let sub = u64::from(b.ts_usec);
                        let ts = Timestamp::from_parts(
                            i64::from(b.ts_sec) + legacy.offset_secs,
                            sub,
                            legacy.resolution,
                        );
                        let data = clip(b.data, b.caplen);
                        go_on = emit(&mut stats, &mut on_frame, ts, legacy.linktype, data, b.origlen);
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                        ng_big = Some(shb.big_endian());
                        interfaces.clear();
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(Interface {
                            linktype: idb.linktype.0 as u32,
                            // An invalid resolution (beyond 2^64 units/s) falls back to µs.
                            resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                            offset_secs: idb.ts_offset(),
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        match interfaces.get(epb.if_id as usize) {
                            Some(iface) => {
                                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                let ts = Timestamp::from_units(units, iface.resolution, iface.offset_secs);
                                let data = clip(epb.data, epb.caplen);
                                go_on =
                                    emit(&mut stats, &mut on_frame, ts, iface.linktype, data, epb.origlen);
                            }
                            None => bad_if = Some(epb.if_id),
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        // SPBs carry no timestamp and belong to the first interface.
                        match interfaces.first() {
                            Some(iface) => {
                                go_on = emit(
                                    &mut stats,
                                    &mut on_frame,
                                    Timestamp::default(),
                                    iface.linktype,
                                    spb.data,
                                    spb.origlen,
                                );
                            }
                            None => bad_if = Some(0),
                        }
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                if let Some(id) = bad_if {
                    return Err(CaptureError { offset, kind: CaptureErrorKind::UnknownInterface(id) });
                }
                offset += consumed as u64;
                stats.bytes = offset;
                reader.consume(consumed);
                if offset - last_progress >= 256 * 1024 {
                    last_progress = offset;
                    on_progress(offset);
                }
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() {
                    // Trailing bytes that do not make a whole record.
                    if reader.data().is_empty() {
                        break;
                    }
                    return Err(CaptureError { offset, kind: CaptureErrorKind::Truncated });
                }
                if let Err(e) = reader.refill() {
                    return Err(CaptureError { offset, kind: CaptureErrorKind::Io(format!("{e:?}")) });
                }
            }
            Err(PcapError::UnexpectedEof) => {
                return Err(CaptureError { offset, kind: CaptureErrorKind::Truncated });
            }
            Err(PcapError::BufferTooSmall) => {
                return Err(CaptureError {
                    offset,
                    kind: CaptureErrorKind::Corrupt(format!(
                        "record length exceeds {READ_BUFFER_BYTES} bytes"
                    )),
                });
            }
            Err(PcapError::ReadError) => {
                return Err(CaptureError { offset, kind: CaptureErrorKind::Io("read failed".into()) });
            }
            Err(PcapError::HeaderNotRecognized) => {
                return Err(CaptureError { offset, kind: CaptureErrorKind::NotACapture });
            }
            Err(e) => {
                let why = match e {
                    PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => {
                        format!("malformed block ({})", k.description())
                    }
                    other => format!("{other:?}"),
                };
                return Err(CaptureError { offset, kind: CaptureErrorKind::Corrupt(why) });
            }
        }
    }
    on_progress(offset);
    Ok(stats)
}

/// A pcapng block whose total length is below the 12 bytes of its own framing. Checked
/// here, before `pcap-parser` sees it: pcap-parser 0.17 subtracts 12 from that length
/// unchecked for some block types (an arithmetic overflow: a panic in builds with overflow
/// checks, a 4 GiB read request otherwise). Found by the `capture_blocks` fuzz target.
fn ng_block_length_error(data: &[u8], section_big: Option<bool>) -> Option<String> {
    // Only inside a pcapng file (a section header was read): classic pcap records may
    // start with any bytes.
    let section_big = section_big?;
    let head = data.get(..8)?;
    let big = if head[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        // A section header: its own byte-order magic says how to read its length.
        data.get(8..12)? == [0x1a, 0x2b, 0x3c, 0x4d]
    } else {
        section_big
    };
    let w = [head[4], head[5], head[6], head[7]];
    let len = if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) };
    (len < 12).then(|| format!("block length {len} is less than the 12 bytes of its framing"))
}

/// The captured bytes, never more than `caplen` (pcap-parser pads pcapng data to 32 bits).
fn clip(data: &[u8], caplen: u32) -> &[u8] {
    &data[..data.len().min(caplen as usize)]
}

fn emit<F: FnMut(&Frame<'_>) -> bool>(
    stats: &mut ReadStats,
    on_frame: &mut F,
    ts: Timestamp,
    linktype: u32,
    data: &[u8],
    orig_len: u32,
) -> bool {
    stats.frames += 1;
    if (data.len() as u64) < u64::from(orig_len) {
        stats.truncated_frames += 1;
    }
    on_frame(&Frame { ts, linktype, data, orig_len })
}

/// True when the first bytes look like a pcap or pcapng file (used to pick captures out
/// of a directory that also holds other files).
pub fn has_capture_magic(head: &[u8]) -> bool {
    const MAGICS: [[u8; 4]; 7] = [
        [0xd4, 0xc3, 0xb2, 0xa1], // pcap µs, little endian
        [0xa1, 0xb2, 0xc3, 0xd4], // pcap µs, big endian
        [0x4d, 0x3c, 0xb2, 0xa1], // pcap ns, little endian
        [0xa1, 0xb2, 0x3c, 0x4d], // pcap ns, big endian
        [0x0a, 0x0d, 0x0d, 0x0a], // pcapng section header
        [0x34, 0xcd, 0xb2, 0xa1], // Kuznetzov's modified pcap, little endian
        [0xa1, 0xb2, 0xcd, 0x34], // Kuznetzov's modified pcap, big endian
    ];
    head.len() >= 4 && MAGICS.iter().any(|m| head[..4] == *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header(nanos: bool, linktype: u32) -> Vec<u8> {
        let mut v = Vec::new();
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&linktype.to_le_bytes());
        v
    }

    fn pcap_record(sec: u32, sub: u32, data: &[u8], orig: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&sub.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&orig.to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    type Frames = Vec<(Timestamp, u32, Vec<u8>)>;

    fn read_all(bytes: &[u8]) -> (Frames, Result<ReadStats, CaptureError>) {
        let mut frames = Vec::new();
        let r = read_capture(
            bytes,
            |f| {
                frames.push((f.ts, f.linktype, f.data.to_vec()));
                true
            },
            |_| {},
        );
        (frames, r)
    }

    #[test]
    fn reads_micro_and_nano_pcap() {
        for nanos in [false, true] {
            let mut file = pcap_header(nanos, 101);
            file.extend(pcap_record(10, 5, b"abcd", 4));
            file.extend(pcap_record(11, 7, b"ef", 60));
            let (frames, r) = read_all(&file);
            let stats = r.unwrap();
            assert_eq!(stats.frames, 2);
            assert_eq!(stats.truncated_frames, 1);
            assert_eq!(frames[0].1, 101);
            assert_eq!(frames[0].2, b"abcd");
            let want = if nanos { 10_000_000_005 } else { 10_000_005_000 };
            assert_eq!(frames[0].0.as_nanos(), want);
        }
    }

    #[test]
    fn not_a_capture() {
        let (_, r) = read_all(b"hello, this is text and not a capture file at all");
        assert_eq!(r.unwrap_err().kind, CaptureErrorKind::NotACapture);
        let (_, r) = read_all(b"");
        assert_eq!(r.unwrap_err().kind, CaptureErrorKind::NotACapture);
    }

    #[test]
    fn truncation_keeps_earlier_frames_and_names_offset() {
        let mut file = pcap_header(false, 1);
        file.extend(pcap_record(1, 0, &[0u8; 60], 60));
        let good_len = file.len();
        file.extend(pcap_record(2, 0, &[0u8; 60], 60));
        // Every cut inside the second record keeps the first frame and reports its offset.
        for cut in good_len + 1..file.len() {
            let (frames, r) = read_all(&file[..cut]);
            assert_eq!(frames.len(), 1, "cut at {cut}");
            let e = r.unwrap_err();
            assert_eq!(e.kind, CaptureErrorKind::Truncated, "cut at {cut}");
            assert_eq!(e.offset, good_len as u64, "cut at {cut}");
        }
        // Cuts inside the file header are never a panic.
        for cut in 0..24 {
            let (frames, r) = read_all(&file[..cut]);
            assert!(frames.is_empty());
            assert!(r.is_err());
        }
    }

    #[test]
    fn absurd_record_length_is_corrupt_not_a_hang() {
        let mut file = pcap_header(false, 1);
        file.extend(pcap_record(1, 0, &[0u8; 60], 60));
        let good_len = file.len() as u64;
        let mut bad = pcap_record(2, 0, &[], 60);
        bad[8..12].copy_from_slice(&4_325_376u32.to_le_bytes());
        file.extend(bad);
        file.extend_from_slice(&[0u8; 100]);
        let (frames, r) = read_all(&file);
        assert_eq!(frames.len(), 1);
        let e = r.unwrap_err();
        assert_eq!(e.offset, good_len);
    }

    #[test]
    fn pcapng_block_shorter_than_its_framing_is_corrupt_not_a_panic() {
        // Minimised from a fuzzer find: a section header, then a big-endian block claiming
        // a length of 5 (pcap-parser would compute 5 - 12).
        let mut f = vec![0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0];
        f.extend_from_slice(&[0xff; 8]);
        f.extend_from_slice(&[0, 0, 0, 28]);
        f.extend_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
        let (frames, r) = read_all(&f);
        assert!(frames.is_empty());
        let e = r.unwrap_err();
        assert_eq!(e.offset, 28);
        assert!(matches!(e.kind, CaptureErrorKind::Corrupt(_)), "{e}");
        // The fuzzer's own input.
        let fuzzed = [
            0x0a, 0x0d, 0x0d, 0x0a, 0x00, 0x00, 0x00, 0x24, 0x1a, 0x2b, 0x3c, 0x4d, 0x31, 0x58, 0x01, 0x00,
            0xc5, 0xc5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00,
            0x00, 0xf7, 0x2d, 0x00, 0x64, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x0a, 0x0d, 0x01,
        ];
        let (_, r) = read_all(&fuzzed);
        assert!(r.is_err());
        // The fuzzer's inputs as committed (their first byte picks the block size of the
        // fuzz target, the file follows): one ends 10 bytes into the bad block.
        for input in [
            &include_bytes!("../../fuzz/regressions/capture_blocks/pcapng-block-length-below-12.pcapng")[..],
            &include_bytes!("../../fuzz/regressions/capture_blocks/pcapng-short-block-at-end.pcapng")[..],
        ] {
            let (_, r) = read_all(&input[1..]);
            assert!(matches!(r.unwrap_err().kind, CaptureErrorKind::Corrupt(_)));
        }
        // Classic pcap is not pcapng: a record whose time reads like a section header is
        // just a record (the fuzzer's next find, against an earlier version of the check).
        let mut f = pcap_header(false, 1);
        f.extend(pcap_record(0x0a0d_0d0a, 0, b"", 0));
        f.extend(pcap_record(1, 0, b"x", 1));
        let (frames, r) = read_all(&f);
        assert_eq!(frames.len(), 2);
        assert!(r.is_ok());
    }

    #[test]
    fn magic_detection() {
        assert!(has_capture_magic(&pcap_header(false, 1)));
        assert!(has_capture_magic(&pcap_header(true, 1)));
        assert!(has_capture_magic(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0]));
        assert!(!has_capture_magic(b"{\"json\": 1}"));
        assert!(!has_capture_magic(b"ab"));
    }
}
