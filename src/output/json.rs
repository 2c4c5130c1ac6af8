//! A small JSON writer for the event lines: it appends to a `String` and writes exactly
//! what `serde_json`'s compact serialiser wrote for the same values.
//!
//! The caller writes objects and arrays in a fixed order; the writer only decides the
//! commas: a member or an element is preceded by `,` unless it is the first in its object
//! or array (the output then ends with `{` or `[`; no complete value ends with either).
//! Keys are static ASCII literals written raw with their quotes and colon in one copy
//! ([`key!`]). Strings are escaped as `serde_json` escapes them (`"` `\` and the
//! control characters; nothing else), clean runs copied whole; integers are formatted
//! without `core::fmt`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ascii::{HEX, digits_u64};
use crate::time::{Timestamp, civil_from_days};

/// `"name":`, an object member's key as [`Json::key`] writes it (after a comma unless it is
/// the first member).
macro_rules! key {
    ($name:literal) => {
        concat!("\"", $name, "\":")
    };
}
pub(super) use key;

/// What a byte becomes in a JSON string: 0 for itself, `u` for `\u00XX`, else the letter
/// after the backslash (serde_json's `ESCAPE` table).
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` (loaded little-endian) that needs escaping, and
/// possibly of some bytes above such a byte (borrows only carry upwards): zero exactly
/// when no byte needs escaping, and the lowest bit set always marks a byte that does.
#[inline]
fn needs_escape(x: u64) -> u64 {
    // Bytes below 0x20 (the classic `hasless(x, 0x20)`), then bytes equal to `"` and `\`
    // (`haszero` of the XOR).
    let control = x.wrapping_sub(ONES * 0x20) & !x;
    let q = x ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = x ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGHS
}

#[inline]
fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_le_bytes(w)
}

/// Whether no byte of a 32-byte chunk needs escaping. Written as a plain loop over a fixed
/// length so that the compiler turns it into vector compares (two SSE2 registers per
/// chunk on baseline x86-64), where [`needs_escape`] covers 8 bytes per word.
#[inline]
fn clean32(chunk: &[u8]) -> bool {
    let mut bad = false;
    for &x in chunk {
        bad |= (x < 0x20) | (x == b'"') | (x == b'\\');
    }
    !bad
}

/// The index of the first byte of `b` at or after `from` that needs escaping.
#[inline]
fn find_escape(b: &[u8], from: usize) -> Option<usize> {
    let mut rest = b.get(from..)?;
    let mut at = from;
    // Clean 32-byte runs (most of every string) skipped whole; the chunk with the
    // byte, and the tail, searched word by word.
    while rest.len() >= 32 && clean32(&rest[..32]) {
        rest = &rest[32..];
        at += 32;
    }
    let mut pairs = rest.chunks_exact(16);
    for pair in &mut pairs {
        let (lo, hi) = pair.split_at(8);
        let (lo, hi) = (needs_escape(word(lo)), needs_escape(word(hi)));
        if lo | hi != 0 {
            let bit = if lo != 0 { lo.trailing_zeros() } else { 64 + hi.trailing_zeros() };
            return Some(at + bit as usize / 8);
        }
        at += 16;
    }
    let tail = pairs.remainder();
    let mut words = tail.chunks_exact(8);
    for w in &mut words {
        let m = needs_escape(word(w));
        if m != 0 {
            return Some(at + m.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    words.remainder().iter().position(|&c| ESCAPE[usize::from(c)] != 0).map(|i| at + i)
}

/// Appends `s` JSON-escaped (without quotes) exactly as `serde_json` escapes it.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    let b = s.as_bytes();
    let mut start = 0;
    let mut from = 0;
    while let Some(i) = find_escape(b, from) {
        let Some(&c) = b.get(i) else { break };
        from = i + 1;
        let esc = ESCAPE[usize::from(c)];
        if esc == 0 {
            continue;
        }
        // `i` is the index of an ASCII byte and `start` 0 or just past one: both are
        // character boundaries of `s`, so the slice always exists.
        out.push_str(s.get(start..i).unwrap_or_default());
        start = from;
        if esc == b'u' {
            let hex = [b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]];
            push_ascii(out, &hex);
        } else {
            out.push('\\');
            out.push(char::from(esc));
        }
    }
    out.push_str(s.get(start..).unwrap_or_default());
}

/// Appends ASCII bytes built on the stack (always valid UTF-8).
#[inline]
fn push_ascii(out: &mut String, b: &[u8]) {
    if let Ok(s) = std::str::from_utf8(b) {
        out.push_str(s);
    }
}

/// Appends `v` in decimal.
#[inline]
pub(crate) fn push_u64(out: &mut String, v: u64) {
    let mut buf = [0u8; 20];
    let i = digits_u64(&mut buf, v);
    push_ascii(out, &buf[i..]);
}

/// Appends `v` in decimal.
#[inline]
pub(crate) fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends an IPv4 address as its `Display` text.
fn push_ipv4(out: &mut String, ip: Ipv4Addr) {
    let mut buf = [0u8; 15];
    let mut n = 0;
    for (k, octet) in ip.octets().into_iter().enumerate() {
        if k > 0 {
            buf[n] = b'.';
            n += 1;
        }
        let o = usize::from(octet);
        if o >= 100 {
            buf[n] = b'0' + (o / 100) as u8;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + (o / 10 % 10) as u8;
            n += 1;
        }
        buf[n] = b'0' + (o % 10) as u8;
        n += 1;
    }
    push_ascii(out, &buf[..n]);
}

/// Appends an IPv6 address as its `Display` text: the IPv4-mapped form `::ffff:a.b.c.d`,
/// else lowercase hex groups with the longest run (the first of equals) of two or more zero
/// groups written `::`.
fn push_ipv6(out: &mut String, ip: Ipv6Addr) {
    if let Some(v4) = ip.to_ipv4_mapped() {
        out.push_str("::ffff:");
        push_ipv4(out, v4);
        return;
    }
    let seg = ip.segments();
    let (mut best, mut best_len, mut cur, mut cur_len) = (0, 0, 0, 0);
    for (i, &s) in seg.iter().enumerate() {
        if s == 0 {
            if cur_len == 0 {
                cur = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                (best, best_len) = (cur, cur_len);
            }
        } else {
            cur_len = 0;
        }
    }
    /// The groups of `part` in hex, joined by `:`.
    fn groups(buf: &mut [u8; 39], n: &mut usize, part: &[u16]) {
        for (k, &s) in part.iter().enumerate() {
            if k > 0 {
                buf[*n] = b':';
                *n += 1;
            }
            let mut started = false;
            for shift in [12, 8, 4, 0] {
                let d = (s >> shift) & 15;
                if d != 0 || started || shift == 0 {
                    started = true;
                    buf[*n] = HEX[usize::from(d)];
                    *n += 1;
                }
            }
        }
    }
    let mut buf = [0u8; 39];
    let mut n = 0;
    if best_len > 1 {
        groups(&mut buf, &mut n, seg.get(..best).unwrap_or_default());
        buf[n] = b':';
        buf[n + 1] = b':';
        n += 2;
        groups(&mut buf, &mut n, seg.get(best + best_len..).unwrap_or_default());
    } else {
        groups(&mut buf, &mut n, &seg);
    }
    push_ascii(out, &buf[..n]);
}

/// Appends a timestamp as its `Display` text (`2026-11-27T10:00:00.123456Z`).
fn push_timestamp(out: &mut String, t: Timestamp) {
    const NANOS: i64 = 1_000_000_000;
    let n = t.as_nanos();
    let secs = n.div_euclid(NANOS);
    let micros = n.rem_euclid(NANOS) / 1000;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    // Every i64 of nanoseconds falls in 1677..=2262; the general case is still covered.
    let Ok(year @ 0..=9999) = u64::try_from(y) else {
        let _ = write!(out, "{t}");
        return;
    };
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, v: u64, width: usize| {
        let mut x = v;
        for k in (at..at + width).rev() {
            b[k] = b'0' + (x % 10) as u8;
            x /= 10;
        }
    };
    put(0, year, 4);
    put(5, u64::from(mo), 2);
    put(8, u64::from(d), 2);
    put(11, (sod / 3600) as u64, 2);
    put(14, (sod / 60 % 60) as u64, 2);
    put(17, (sod % 60) as u64, 2);
    put(20, micros as u64, 6);
    push_ascii(out, &b);
}

/// Appends `0x` and the low `digits` (at most 8) lowercase hex digits of `v`, one char
/// at a time (ASCII pushes: no UTF-8 check and no call to memcpy for a few bytes).
fn push_hex(out: &mut String, v: u32, digits: u32) {
    let digits = digits.min(8);
    out.reserve(2 + digits as usize);
    out.push('0');
    out.push('x');
    for i in (0..digits).rev() {
        out.push(char::from(HEX[((v >> (4 * i)) & 15) as usize]));
    }
}

/// Appends one JSON line's text to a `String`.
pub(super) struct Json<'a> {
    out: &'a mut String,
}

impl<'a> Json<'a> {
    /// Writes after what `out` already holds.
    pub(super) fn new(out: &'a mut String) -> Self {
        Json { out }
    }

    /// `{`.
    #[inline]
    pub(super) fn open(&mut self) {
        self.out.push('{');
    }

    /// `}`.
    #[inline]
    pub(super) fn close(&mut self) {
        self.out.push('}');
    }

    /// `[`.
    #[inline]
    pub(super) fn open_array(&mut self) {
        self.out.push('[');
    }

    /// `]`.
    #[inline]
    pub(super) fn close_array(&mut self) {
        self.out.push(']');
    }

    /// An object member's key: `k` is `"name":` as [`key!`] makes it, after a comma unless
    /// it follows the `{`. (One copy of a length known at compile time where the key is a
    /// literal.)
    #[inline]
    pub(super) fn key(&mut self, k: &'static str) {
        if self.out.as_bytes().last() != Some(&b'{') {
            self.out.push(',');
        }
        self.out.push_str(k);
    }

    /// Object members written beforehand by a writer of their own that started on an
    /// empty buffer, so each member has its comma; the first comma is dropped when they
    /// open the object.
    #[inline]
    pub(super) fn members(&mut self, m: &str) {
        let m = if self.out.as_bytes().last() == Some(&b'{') { m.strip_prefix(',').unwrap_or(m) } else { m };
        self.out.push_str(m);
    }

    /// Before an array element: `,` unless it is the first.
    #[inline]
    pub(super) fn next(&mut self) {
        if self.out.as_bytes().last() != Some(&b'[') {
            self.out.push(',');
        }
    }

    /// A string, escaped.
    #[inline]
    pub(super) fn str(&mut self, s: &str) {
        self.out.push('"');
        escape_into(self.out, s);
        self.out.push('"');
    }

    /// A string that needs no escaping: a static name from a fixed table (the tests check
    /// every entry of the tables it is used with).
    #[inline]
    pub(super) fn clean(&mut self, s: &'static str) {
        self.out.push('"');
        self.out.push_str(s);
        self.out.push('"');
    }

    /// Wire bytes as a string, as [`super::escape_bytes`] spells them (valid UTF-8 as is,
    /// each invalid byte as `\xNN`), escaped.
    pub(super) fn bytes(&mut self, b: &[u8]) {
        self.out.push('"');
        match std::str::from_utf8(b) {
            Ok(s) => escape_into(self.out, s),
            Err(_) => {
                for chunk in b.utf8_chunks() {
                    escape_into(self.out, chunk.valid());
                    for &x in chunk.invalid() {
                        // `\xNN` with its backslash escaped.
                        let e = [b'\\', b'\\', b'x', HEX[usize::from(x >> 4)], HEX[usize::from(x & 15)]];
                        push_ascii(self.out, &e);
                    }
                }
            }
        }
        self.out.push('"');
    }

    /// An unsigned integer.
    #[inline]
    pub(super) fn u64(&mut self, v: u64) {
        push_u64(self.out, v);
    }

    /// A signed integer.
    #[inline]
    pub(super) fn i64(&mut self, v: i64) {
        push_i64(self.out, v);
    }

    /// `true` or `false`.
    #[inline]
    pub(super) fn bool(&mut self, v: bool) {
        if v {
            self.out.push_str("true");
        } else {
            self.out.push_str("false");
        }
    }

    /// A string `0x` and `digits` (at most 8) lowercase hex digits of `v`.
    pub(super) fn hex(&mut self, v: u32, digits: u32) {
        self.out.push('"');
        push_hex(self.out, v, digits);
        self.out.push('"');
    }

    /// A string of `v` in decimal.
    pub(super) fn dec_str(&mut self, v: u64) {
        self.out.push('"');
        push_u64(self.out, v);
        self.out.push('"');
    }

    /// A timestamp as a string, in its `Display` form.
    pub(super) fn timestamp(&mut self, t: Timestamp) {
        self.out.push('"');
        push_timestamp(self.out, t);
        self.out.push('"');
    }

    /// An address as a string, in its `Display` form.
    pub(super) fn ip(&mut self, ip: &IpAddr) {
        self.out.push('"');
        match *ip {
            IpAddr::V4(a) => push_ipv4(self.out, a),
            IpAddr::V6(a) => push_ipv6(self.out, a),
        }
        self.out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::tests::Rng;

    fn ours(s: &str) -> String {
        let mut out = String::new();
        Json::new(&mut out).str(s);
        out
    }

    fn check(s: &str) {
        assert_eq!(ours(s), serde_json::to_string(s).unwrap(), "{s:?}");
    }

    #[test]
    fn every_char_class_escapes_as_serde_json() {
        for c in
            (0..=0x7f_u32).chain([0x80, 0xa0, 0xe9, 0x7ff, 0x800, 0x2028, 0xfffd, 0xffff, 0x1f980, 0x10ffff])
        {
            let c = char::from_u32(c).unwrap();
            check(&c.to_string());
            // At every offset of a run long enough to cross two 16-byte blocks.
            for n in 0..40 {
                let mut s = "a".repeat(n);
                s.push(c);
                s.push_str(&"b".repeat(40 - n));
                check(&s);
            }
        }
        check("");
        check("plain ascii, long enough to take the sixteen-byte path more than once");
        check("/ and \u{7f} and \u{1b}[0m and </script>");
    }

    #[test]
    fn random_strings_escape_as_serde_json() {
        let mut rng = Rng(0x1e11_07a9);
        let pool: Vec<char> = (0..0x20u32)
            .chain([0x22, 0x5c, 0x2f, 0x7f, 0x20, 0x41, 0x7a])
            .chain([0xe9, 0x3b1, 0x2028, 0x6f22, 0xfeff, 0x1f980])
            .filter_map(char::from_u32)
            .collect();
        for _ in 0..20_000 {
            let len = rng.below(80) as usize;
            let clean_bias = rng.below(4);
            let s: String = (0..len)
                .map(|_| {
                    if rng.below(4) < clean_bias {
                        char::from(b'a' + rng.below(26) as u8)
                    } else {
                        pool[rng.below(pool.len() as u64) as usize]
                    }
                })
                .collect();
            check(&s);
        }
        // Long clean runs around one escape, at every position.
        for len in [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100] {
            for at in 0..len {
                for e in ['"', '\\', '\n', '\0', '\u{1f}'] {
                    let mut s: String = "x".repeat(len);
                    s.replace_range(at..=at, &e.to_string());
                    check(&s);
                }
            }
        }
        // Non-ASCII bytes next to escapes: no borrow of the SWAR test hides or fakes one.
        for a in ['\u{80}', 'ÿ', '\u{7ff}', '€', '🦀'] {
            for e in ['\0', '\u{1f}', '"', '\\', ' ', '!', '#', '[', ']'] {
                check(&format!("{a}{e}{a}{e}{a}{a}{a}{a}{e}"));
                check(&format!("{e}{a}{e}{a}xxxxxxxxxxxx{a}{e}"));
            }
        }
    }

    #[test]
    fn integers_format_as_to_string() {
        let mut vals: Vec<u64> = vec![0, 1, 9, 10, 99, 100, 999, 1000, u64::MAX, u64::MAX - 1];
        for p in 0..20 {
            let t = 10u64.pow(p);
            vals.extend([t - 1, t, t + 1]);
        }
        vals.extend([u64::from(u8::MAX), u64::from(u16::MAX), u64::from(u32::MAX), 1 << 63]);
        let mut rng = Rng(7);
        vals.extend((0..10_000).map(|_| rng.next() >> rng.below(64)));
        for v in vals {
            let mut s = String::new();
            push_u64(&mut s, v);
            assert_eq!(s, v.to_string());
            let i = v as i64;
            let mut s = String::new();
            push_i64(&mut s, i);
            assert_eq!(s, i.to_string());
            assert_eq!(s, serde_json::to_string(&i).unwrap());
        }
        for v in [i64::MIN, i64::MIN + 1, -1, -10, -99, -100, i64::MAX] {
            let mut s = String::new();
            push_i64(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }

    #[test]
    fn addresses_and_timestamps_format_as_display() {
        let mut ips: Vec<IpAddr> = [
            "0.0.0.0",
            "10.0.0.5",
            "255.255.255.255",
            "1.22.103.9",
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::ffff:0.0.0.0",
            "::10.0.0.1",
            "::ffff:0:1",
            "64:ff9b::1.2.3.4",
            "fe80::1:2:3:4",
            "1:0:1:0:1:0:1:0",
            "1:0:0:1:0:0:1:1",
            "1:0:0:1:0:0:0:1",
            "0:0:1:0:0:1:0:0",
            "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut rng = Rng(42);
        for _ in 0..20_000 {
            // Mostly zero groups, so that every arrangement of zero runs comes up.
            let mut seg = [0u16; 8];
            for s in &mut seg {
                *s = match rng.below(4) {
                    0 | 1 => 0,
                    2 => rng.below(16) as u16,
                    _ => rng.next() as u16,
                };
            }
            if rng.below(8) == 0 {
                seg[..5].fill(0);
                seg[5] = 0xffff;
            }
            ips.push(IpAddr::V6(Ipv6Addr::from(seg)));
            ips.push(IpAddr::V4(Ipv4Addr::from(rng.next() as u32 >> rng.below(32))));
        }
        for ip in ips {
            let mut s = String::new();
            Json::new(&mut s).ip(&ip);
            assert_eq!(s, serde_json::to_string(&ip).unwrap(), "{ip}");
        }
        let mut stamps = vec![0, 1, 999, 1_000, -1, -1_000, 1_795_860_000_123_456_789, i64::MAX, i64::MIN];
        stamps.extend([-86_400_000_000_000, 951_782_400_000_000_000, 253_402_300_799_999_999]);
        let mut rng = Rng(3);
        stamps.extend((0..10_000).map(|_| rng.next() as i64));
        for n in stamps {
            let t = Timestamp::from_nanos(n);
            let mut s = String::new();
            Json::new(&mut s).timestamp(t);
            assert_eq!(s, serde_json::to_string(&t.to_string()).unwrap(), "{n}");
        }
    }

    #[test]
    fn wire_bytes_and_punctuation() {
        let mut s = String::new();
        let mut w = Json::new(&mut s);
        w.open();
        w.key(key!("a"));
        w.bytes(b"x\xff\"\x00\xc3");
        w.key(key!("b"));
        w.open_array();
        for v in [1, 2] {
            w.next();
            w.u64(v);
        }
        w.next();
        w.open();
        w.close();
        w.next();
        w.open_array();
        w.close_array();
        w.close_array();
        w.key(key!("c"));
        w.hex(0x1d, 4);
        w.key(key!("d"));
        w.hex(0xfaceb002, 8);
        w.key(key!("e"));
        w.dec_str(255);
        w.key(key!("f"));
        w.bool(false);
        w.key(key!("g"));
        w.i64(-5);
        w.close();
        assert_eq!(
            s,
            r#"{"a":"x\\xff\"\u0000\\xc3","b":[1,2,{},[]],"c":"0x001d","d":"0xfaceb002","e":"255","f":false,"g":-5}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "x\\xff\"\u{0}\\xc3");
    }
}
