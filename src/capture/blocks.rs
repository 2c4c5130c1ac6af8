//! Classic pcap read in large shared blocks, so frames reach the workers without a copy.
//!
//! Replay's reading thread is on the critical path: everything it does per frame limits
//! how fast the workers can be fed. Through `pcap-parser` each frame sits in the parser's
//! reusable buffer and has to be copied into a worker's batch. Here the file is read in
//! blocks of [`BLOCK_BYTES`] into buffers that are reference counted ([`Block`]); a frame
//! is handed on as the block plus its range, and a batch keeps the block alive until the
//! worker is done with it. When the last reference goes, the buffer returns to the
//! reader's pool, so steady-state reading allocates nothing and touches no new memory.
//! A record that straddles two blocks is moved to the start of the next block (at most
//! one record's bytes are copied per block).
//!
//! `pcap-parser` stays the reader for pcapng and the modified-pcap variants
//! ([`super::read_capture`]); this is written by hand because the classic format is
//! fixed (a 24-byte file header, then 16-byte record headers, RFC draft
//! draft-ietf-opsawg-pcap) and a crate reader cannot hand out owned shared buffers. Errors
//! are exactly [`super::read_capture`]'s (kind and offset), which a test pins by cutting
//! and corrupting files at every byte.

use std::io::{Cursor, Read};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::{CaptureError, CaptureErrorKind, Frame, READ_BUFFER_BYTES, ReadStats, emit, read_capture};
use crate::time::Timestamp;

/// Bytes read per block.
pub const BLOCK_BYTES: usize = 1 << 20;

/// Spare buffers kept for reuse.
const POOL: usize = 16;

/// A buffer of file bytes, shared by the frames in it. Goes back to its reader's pool when
/// the last reference is dropped.
#[derive(Debug)]
pub struct Block {
    /// The buffer; only `..len` holds file bytes (the rest is stale, kept initialised so a
    /// reused buffer is not zeroed again).
    data: Vec<u8>,
    len: usize,
    home: Option<Sender<Vec<u8>>>,
}

impl Block {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(home) = &self.home {
            // A full pool (or a reader that is gone) just lets the buffer be freed.
            let _ = home.try_send(std::mem::take(&mut self.data));
        }
    }
}

/// Buffers for [`Block`]s, reused: a block's buffer comes back here when its last
/// reference is dropped (on whichever thread that is), so a steady stream of blocks
/// allocates nothing and touches no fresh memory. Used by the file reader and by the live
/// capture threads.
#[derive(Debug)]
pub struct BlockPool {
    home: Sender<Vec<u8>>,
    spare: Receiver<Vec<u8>>,
}

impl Default for BlockPool {
    fn default() -> Self {
        let (home, spare) = bounded(POOL);
        BlockPool { home, spare }
    }
}

impl BlockPool {
    /// A buffer of at least `len` bytes (a returned one when there is one).
    pub fn take(&self, len: usize) -> Vec<u8> {
        match self.spare.try_recv() {
            Ok(mut v) => {
                if v.len() < len {
                    v.resize(len, 0);
                }
                v
            }
            // Zeroed by the allocator: memory fresh from the OS is known to be zero, so a
            // new buffer is not cleared a second time (`resize` would write every byte).
            Err(_) => vec![0; len],
        }
    }

    /// The first `len` bytes of `data` as a shared block whose buffer returns to this pool.
    pub fn seal(&self, data: Vec<u8>, len: usize) -> Arc<Block> {
        let len = len.min(data.len());
        Arc::new(Block { data, len, home: Some(self.home.clone()) })
    }
}

/// Where a frame's bytes sit in a shared block (`start` is the offset in the block).
#[derive(Debug, Clone, Copy)]
pub struct InBlock<'a> {
    /// The block.
    pub block: &'a Arc<Block>,
    /// Offset of the frame's first byte in the block.
    pub start: u32,
}

/// Classic pcap: (big endian, nanosecond timestamps) by magic.
fn classic_magic(head: &[u8]) -> Option<(bool, bool)> {
    match head.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((true, false)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((false, true)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true)),
        _ => None,
    }
}

/// Reads into `buf` until it is full or the input ends; returns the bytes read.
fn fill<R: Read>(input: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The bytes already read, then the rest of the input; a read fills as much of the
/// caller's buffer as both give (`pcap-parser` wants its whole first block in one read).
struct Prefixed<R> {
    head: Cursor<Vec<u8>>,
    rest: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.head.read(buf)?;
        if n == buf.len() {
            return Ok(n);
        }
        Ok(n + fill(&mut self.rest, &mut buf[n..])?)
    }
}

/// Like [`read_capture`], handing each frame also as a range of a shared block when the
/// input is classic pcap (`None` for pcapng and the rest, whose frames are borrowed from
/// the parser's buffer and must be copied to be kept).
pub fn read_capture_blocks<R, F, P>(input: R, on_frame: F, on_progress: P) -> Result<ReadStats, CaptureError>
where
    R: Read + Send,
    F: FnMut(&Frame<'_>, Option<InBlock<'_>>) -> bool,
    P: FnMut(u64),
{
    read_blocks_sized(input, BLOCK_BYTES, on_frame, on_progress)
}

/// [`read_capture_blocks`] with a block size (tests and fuzzing use small ones, so that
/// records straddle blocks).
pub fn read_blocks_sized<R, F, P>(
    mut input: R,
    block_bytes: usize,
    mut on_frame: F,
    mut on_progress: P,
) -> Result<ReadStats, CaptureError>
where
    R: Read + Send,
    F: FnMut(&Frame<'_>, Option<InBlock<'_>>) -> bool,
    P: FnMut(u64),
{
    let io_err =
        |offset: u64, e: std::io::Error| CaptureError { offset, kind: CaptureErrorKind::Io(e.to_string()) };
    let mut head = [0u8; 24];
    let got = fill(&mut input, &mut head).map_err(|e| io_err(0, e))?;
    let Some((big, nanos)) = classic_magic(&head[..got]).filter(|_| got == head.len()) else {
        // Not classic pcap (or too short to be): the general reader, from the first byte.
        let rest = Prefixed { head: Cursor::new(head[..got].to_vec()), rest: input };
        return read_capture(rest, |f| on_frame(f, None), on_progress);
    };
    let u32_at = |b: &[u8], i: usize| {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) }
    };
    let offset_secs = i64::from(u32_at(&head, 8) as i32);
    let linktype = u32_at(&head, 20);
    let resolution = if nanos { 1_000_000_000 } else { 1_000_000 };

    let pool = BlockPool::default();
    let mut stats = ReadStats { bytes: 24, ..ReadStats::default() };
    // File offset of the current block's first byte.
    let mut block_at: u64 = 24;
    let mut data = pool.take(block_bytes);
    let mut len = fill(&mut input, &mut data[..block_bytes]).map_err(|e| io_err(block_at, e))?;
    let mut eof = len < block_bytes;
    let mut block = pool.seal(data, len);
    let mut pos = 0usize;
    let mut last_progress = 0u64;
    loop {
        let offset = block_at + pos as u64;
        let avail = len - pos;
        let need = if avail >= 16 {
            let caplen = u32_at(&block.data, pos + 8) as usize;
            // pcap-parser's limit: a record (header included) must be smaller than its
            // buffer.
            if 16 + caplen >= READ_BUFFER_BYTES {
                return Err(CaptureError {
                    offset,
                    kind: CaptureErrorKind::Corrupt(format!(
                        "record length exceeds {READ_BUFFER_BYTES} bytes"
                    )),
                });
            }
            16 + caplen
        } else {
            16
        };
        if avail < need {
            if eof {
                if avail == 0 {
                    break;
                }
                return Err(CaptureError { offset, kind: CaptureErrorKind::Truncated });
            }
            // The record straddles the block's end: start the next block with its bytes.
            let size = block_bytes.max(need);
            let mut next = pool.take(size);
            next[..avail].copy_from_slice(&block.data[pos..len]);
            let got = fill(&mut input, &mut next[avail..size]).map_err(|e| io_err(offset, e))?;
            eof = avail + got < size;
            len = avail + got;
            block_at = offset;
            pos = 0;
            block = pool.seal(next, len);
            continue;
        }
        let b = &block.data[pos..pos + need];
        let ts =
            Timestamp::from_parts(i64::from(u32_at(b, 0)) + offset_secs, u64::from(u32_at(b, 4)), resolution);
        let orig_len = u32_at(b, 12);
        let shared = InBlock { block: &block, start: (pos + 16) as u32 };
        let go_on = emit(&mut stats, &mut |f| on_frame(f, Some(shared)), ts, linktype, &b[16..], orig_len);
        pos += need;
        let done = block_at + pos as u64;
        stats.bytes = done;
        if done - last_progress >= 256 * 1024 {
            last_progress = done;
            on_progress(done);
        }
        if !go_on {
            break;
        }
    }
    on_progress(stats.bytes);
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(big: bool, nanos: bool, linktype: u32, zone: i32) -> Vec<u8> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        // Version 2.4 as two u16s, then the zone, sigfigs, snaplen and link type.
        let version: u32 = if big { 0x0002_0004 } else { 0x0004_0002 };
        let mut v = Vec::new();
        for x in [magic, version, zone as u32, 0, 65535, linktype] {
            v.extend_from_slice(&if big { x.to_be_bytes() } else { x.to_le_bytes() });
        }
        v
    }

    fn record(big: bool, sec: u32, sub: u32, data: &[u8], orig: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [sec, sub, data.len() as u32, orig] {
            v.extend_from_slice(&if big { x.to_be_bytes() } else { x.to_le_bytes() });
        }
        v.extend_from_slice(data);
        v
    }

    type Seen = (Vec<(i64, u32, Vec<u8>, u32, bool)>, Result<(u64, u64, u64), CaptureError>);

    fn via_blocks(bytes: &[u8], block: usize) -> Seen {
        let mut frames = Vec::new();
        let r = read_blocks_sized(
            bytes,
            block,
            |f, shared| {
                if let Some(s) = shared {
                    let at = s.start as usize;
                    assert_eq!(&s.block.bytes()[at..at + f.data.len()], f.data);
                }
                frames.push((f.ts.as_nanos(), f.linktype, f.data.to_vec(), f.orig_len, shared.is_some()));
                true
            },
            |_| {},
        );
        (frames, r.map(|s| (s.frames, s.truncated_frames, s.bytes)))
    }

    fn via_parser(bytes: &[u8]) -> Seen {
        let mut frames = Vec::new();
        let r = read_capture(
            bytes,
            |f| {
                frames.push((f.ts.as_nanos(), f.linktype, f.data.to_vec(), f.orig_len, true));
                true
            },
            |_| {},
        );
        (frames, r.map(|s| (s.frames, s.truncated_frames, s.bytes)))
    }

    fn sample(big: bool, nanos: bool) -> Vec<u8> {
        records(big, nanos, &[0, 1, 60, 17, 300, 5, 64, 1500, 2, 90])
    }

    fn records(big: bool, nanos: bool, lens: &[usize]) -> Vec<u8> {
        let mut f = header(big, nanos, 1, -3600);
        for (i, &len) in lens.iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
            let orig = if i == 4 { len as u32 + 100 } else { len as u32 };
            f.extend(record(big, 1_700_000_000 + i as u32, 999_000 + i as u32, &data, orig));
        }
        f
    }

    #[test]
    fn same_frames_as_the_parser_for_any_block_size() {
        for (big, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
            let f = sample(big, nanos);
            let want = via_parser(&f);
            assert_eq!(want.0.len(), 10);
            for block in [1, 7, 16, 17, 33, 64, 100, 1000, 4096, BLOCK_BYTES] {
                let got = via_blocks(&f, block);
                assert_eq!(got.1, want.1, "block {block}");
                let strip = |v: &[(i64, u32, Vec<u8>, u32, bool)]| {
                    v.iter().map(|(a, b, c, d, _)| (*a, *b, c.clone(), *d)).collect::<Vec<_>>()
                };
                assert_eq!(strip(&got.0), strip(&want.0), "block {block}");
                assert!(got.0.iter().all(|x| x.4), "every frame shared");
            }
        }
    }

    #[test]
    fn every_cut_gives_the_parsers_frames_and_error() {
        let f = records(false, false, &[0, 1, 60, 17, 5, 2, 40]);
        for cut in 0..f.len() {
            let want = via_parser(&f[..cut]);
            for block in [16, 50, 4096] {
                let got = via_blocks(&f[..cut], block);
                assert_eq!(got.1, want.1, "cut {cut} block {block}");
                assert_eq!(got.0.len(), want.0.len(), "cut {cut} block {block}");
            }
        }
    }

    #[test]
    fn absurd_length_is_corrupt_at_the_record() {
        // Impossible, exactly the parser's limit (found by fuzzing), just under it (then
        // the file is only short).
        for (caplen, corrupt) in [
            (0x7fff_ffffu32, true),
            (READ_BUFFER_BYTES as u32 - 16, true),
            (READ_BUFFER_BYTES as u32 - 17, false),
        ] {
            let mut f = sample(true, false);
            let good = f.len() as u64;
            f.extend(record(true, 1, 2, b"", 0));
            let n = f.len();
            f[n - 8..n - 4].copy_from_slice(&caplen.to_be_bytes());
            let want = via_parser(&f);
            let got = via_blocks(&f, 4096);
            assert_eq!(got.1, want.1);
            let e = got.1.unwrap_err();
            assert_eq!(e.offset, good);
            assert_eq!(matches!(e.kind, CaptureErrorKind::Corrupt(_)), corrupt, "{caplen}");
            assert_eq!(got.0.len(), 10);
        }
    }

    #[test]
    fn other_formats_go_to_the_parser_unshared() {
        // pcapng: a section header block only.
        let mut ng = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
        ng.extend_from_slice(&[0xff; 8]);
        ng.extend_from_slice(&[28, 0, 0, 0]);
        assert_eq!(via_blocks(&ng, 4096).1, via_parser(&ng).1);
        for junk in [&b""[..], b"ab", b"{\"json\": 1}", &sample(false, false)[..20]] {
            assert_eq!(via_blocks(junk, 4096).1, via_parser(junk).1, "{junk:?}");
        }
    }

    #[test]
    fn buffers_come_back_to_the_pool() {
        let f = sample(false, false);
        let mut kept: Vec<Arc<Block>> = Vec::new();
        let r = read_blocks_sized(
            &f[..],
            64,
            |_, s| {
                if let Some(s) = s {
                    if kept.last().is_none_or(|b| !Arc::ptr_eq(b, s.block)) {
                        kept.push(s.block.clone());
                    }
                }
                true
            },
            |_| {},
        );
        assert!(r.is_ok());
        assert!(kept.len() > 3, "records spread over blocks");
        // The reader is gone: dropping the blocks just frees them.
        drop(kept);
    }
}
