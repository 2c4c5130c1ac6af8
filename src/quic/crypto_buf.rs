//! Reassembly of one direction's CRYPTO stream from frames at arbitrary offsets.
//!
//! Frames may arrive in any order, repeat, and overlap; the first bytes received for an
//! offset are kept (later copies are only compared, and a difference is counted). Only
//! offsets below the byte cap are kept, so everything held — the contiguous prefix plus
//! the out-of-order pieces — never exceeds the cap, and memory grows only with bytes that
//! actually arrived. Adjacent pieces are merged, so the piece cap counts holes, not frames.

/// Reassembly state of one CRYPTO stream.
#[derive(Debug, Clone, Default)]
pub struct CryptoBuf {
    /// The contiguous bytes from offset 0.
    data: Vec<u8>,
    /// Out-of-order pieces beyond `data`: (offset, bytes), sorted, disjoint, none adjacent
    /// to another or to the end of `data`.
    pieces: Vec<(u64, Vec<u8>)>,
    /// Bytes dropped by the caps.
    dropped: u64,
    /// Frames whose bytes differed from bytes already held for the same offsets.
    conflicts: u64,
}

impl CryptoBuf {
    /// The contiguous bytes from offset 0.
    pub fn contiguous(&self) -> &[u8] {
        &self.data
    }

    /// Bytes dropped by the caps so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Frames that disagreed with bytes already held.
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Out-of-order pieces held.
    pub fn pieces(&self) -> usize {
        self.pieces.len()
    }

    /// Bytes held in total (prefix and pieces).
    pub fn buffered(&self) -> usize {
        self.data.len() + self.pieces.iter().map(|(_, p)| p.len()).sum::<usize>()
    }

    /// Adds the bytes of one CRYPTO frame at `offset`. Keeps offsets below `max_bytes` and
    /// at most `max_pieces` out-of-order pieces; the rest is dropped and counted.
    pub fn insert(&mut self, offset: u64, bytes: &[u8], max_bytes: usize, max_pieces: usize) {
        let Some(end) = offset.checked_add(bytes.len() as u64) else {
            self.dropped += bytes.len() as u64;
            return;
        };
        let cap = max_bytes as u64;
        let keep_end = end.min(cap);
        if end > keep_end {
            self.dropped += end - offset.max(cap);
        }
        let mut conflict = false;
        // Overlap with the contiguous prefix: compare only.
        let have = self.data.len() as u64;
        if offset < have {
            let o_end = keep_end.min(have);
            if o_end > offset
                && self.data[offset as usize..o_end as usize] != bytes[..(o_end - offset) as usize]
            {
                conflict = true;
            }
        }
        let mut cur = offset.max(have);
        if cur >= keep_end {
            self.conflicts += u64::from(conflict);
            return;
        }
        // The sub-ranges of [cur, keep_end) that no piece covers.
        let mut gaps: Vec<(u64, u64)> = Vec::new();
        for (p_off, p) in &self.pieces {
            let p_end = p_off + p.len() as u64;
            if p_end <= cur {
                continue;
            }
            if *p_off >= keep_end {
                break;
            }
            if *p_off > cur {
                gaps.push((cur, *p_off));
            }
            let (o_start, o_end) = (cur.max(*p_off), keep_end.min(p_end));
            let held = &p[(o_start - p_off) as usize..(o_end - p_off) as usize];
            if held != &bytes[(o_start - offset) as usize..(o_end - offset) as usize] {
                conflict = true;
            }
            cur = p_end;
            if cur >= keep_end {
                break;
            }
        }
        if cur < keep_end {
            gaps.push((cur, keep_end));
        }
        self.conflicts += u64::from(conflict);
        for (g_start, g_end) in gaps {
            let chunk = &bytes[(g_start - offset) as usize..(g_end - offset) as usize];
            self.place(g_start, chunk, max_pieces);
        }
        // Pieces that now continue the prefix.
        while let Some((p_off, _)) = self.pieces.first() {
            if *p_off != self.data.len() as u64 {
                break;
            }
            let (_, p) = self.pieces.remove(0);
            self.data.extend_from_slice(&p);
        }
    }

    /// Stores an uncovered range: appends to the prefix or a neighbouring piece, or makes
    /// a new piece if the cap allows.
    fn place(&mut self, start: u64, chunk: &[u8], max_pieces: usize) {
        if start == self.data.len() as u64 {
            self.data.extend_from_slice(chunk);
            return;
        }
        let end = start + chunk.len() as u64;
        // Index of the first piece after `start`.
        let idx = self.pieces.partition_point(|(o, _)| *o < start);
        let joins_prev = idx > 0 && {
            let (o, p) = &self.pieces[idx - 1];
            o + p.len() as u64 == start
        };
        let joins_next = idx < self.pieces.len() && self.pieces[idx].0 == end;
        match (joins_prev, joins_next) {
            (true, true) => {
                let (_, next) = self.pieces.remove(idx);
                let prev = &mut self.pieces[idx - 1].1;
                prev.extend_from_slice(chunk);
                prev.extend_from_slice(&next);
            }
            (true, false) => self.pieces[idx - 1].1.extend_from_slice(chunk),
            (false, true) => {
                let next = &mut self.pieces[idx];
                let mut v = Vec::with_capacity(chunk.len() + next.1.len());
                v.extend_from_slice(chunk);
                v.extend_from_slice(&next.1);
                *next = (start, v);
            }
            (false, false) if self.pieces.len() < max_pieces => {
                self.pieces.insert(idx, (start, chunk.to_vec()))
            }
            (false, false) => self.dropped += chunk.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::tests::permutations;

    const CAP: usize = 1 << 16;

    fn stream(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 256) as u8).collect()
    }

    #[test]
    fn every_order_of_overlapping_pieces() {
        let s = stream(300);
        // Overlapping, duplicated and adjacent pieces covering 0..300.
        let pieces: &[(usize, usize)] = &[(0, 90), (60, 150), (150, 151), (140, 300)];
        for perm in permutations(pieces.len()) {
            let mut b = CryptoBuf::default();
            for &i in &perm {
                let (a, z) = pieces[i];
                b.insert(a as u64, &s[a..z], CAP, 8);
                b.insert(a as u64, &s[a..z], CAP, 8);
            }
            assert_eq!(b.contiguous(), &s[..], "order {perm:?}");
            assert_eq!(b.pieces(), 0);
            assert_eq!((b.dropped(), b.conflicts()), (0, 0));
        }
    }

    #[test]
    fn holes_keep_the_prefix_short() {
        let s = stream(100);
        let mut b = CryptoBuf::default();
        b.insert(50, &s[50..60], CAP, 8);
        b.insert(70, &s[70..80], CAP, 8);
        b.insert(60, &s[60..70], CAP, 8); // joins both neighbours
        assert_eq!(b.pieces(), 1);
        assert!(b.contiguous().is_empty());
        b.insert(10, &s[10..20], CAP, 8);
        b.insert(0, &s[0..10], CAP, 8);
        assert_eq!(b.contiguous(), &s[..20]);
        b.insert(15, &s[15..55], CAP, 8);
        assert_eq!(b.contiguous(), &s[..80]);
        assert_eq!(b.buffered(), 80);
    }

    #[test]
    fn first_data_wins_and_differences_are_counted() {
        let mut b = CryptoBuf::default();
        b.insert(0, b"hello", CAP, 8);
        b.insert(3, b"XXworld", CAP, 8);
        assert_eq!(b.contiguous(), b"helloworld");
        assert_eq!(b.conflicts(), 1);
        b.insert(20, b"abc", CAP, 8);
        b.insert(19, b"-Zbc-", CAP, 8);
        assert_eq!(b.conflicts(), 2);
        b.insert(10, b"123456789", CAP, 8);
        assert_eq!(b.contiguous(), b"helloworld123456789-abc-");
    }

    #[test]
    fn caps_drop_and_count() {
        let s = stream(100);
        let mut b = CryptoBuf::default();
        // Only offsets below 64 are kept.
        b.insert(40, &s[40..100], 64, 8);
        assert_eq!(b.dropped(), 36);
        b.insert(80, &s[80..90], 64, 8);
        assert_eq!(b.dropped(), 46);
        b.insert(0, &s[0..40], 64, 8);
        assert_eq!(b.contiguous(), &s[..64]);
        assert!(b.buffered() <= 64);
        // Piece cap: the third separate piece is dropped.
        let mut b = CryptoBuf::default();
        b.insert(10, &s[10..12], CAP, 2);
        b.insert(20, &s[20..22], CAP, 2);
        b.insert(30, &s[30..32], CAP, 2);
        assert_eq!((b.pieces(), b.dropped()), (2, 2));
        // Extending an existing piece is still allowed.
        b.insert(12, &s[12..15], CAP, 2);
        assert_eq!((b.pieces(), b.dropped()), (2, 2));
        // Offsets near the top of the range do not overflow.
        b.insert(u64::MAX - 1, &s[..5], CAP, 2);
        assert_eq!(b.dropped(), 7);
    }
}
