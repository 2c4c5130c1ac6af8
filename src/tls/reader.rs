//! A bounds-checked cursor over untrusted bytes.
//!
//! Every read either returns the value or a [`ParseError`] naming what was being read and
//! at which offset; nothing indexes past the end. A length prefix yields a sub-cursor, and
//! parsing of that field continues only inside it (as quiche's `octets` does).

use std::fmt;

/// Why a TLS structure could not be read, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// The field being read.
    pub what: &'static str,
    /// Offset of that field from the start of the message body.
    pub offset: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} runs past the end at offset {}", self.what, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Cursor over a byte slice; `base` is the offset of `buf[0]` in the enclosing message.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0, base: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Offset of the next byte from the start of the message.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn err(&self, what: &'static str) -> ParseError {
        ParseError { what, offset: self.offset() }
    }

    /// Reads `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ParseError> {
        if self.remaining() < n {
            return Err(self.err(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, ParseError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, ParseError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian u24.
    pub fn u24(&mut self, what: &'static str) -> Result<u32, ParseError> {
        let b = self.bytes(3, what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    /// Reads `n` bytes as a sub-cursor whose offsets continue this one's.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, ParseError> {
        let base = self.offset();
        let buf = self.bytes(n, what)?;
        Ok(Reader { buf, pos: 0, base })
    }

    /// A sub-cursor over a field with a one-byte length prefix.
    pub fn vec8(&mut self, what: &'static str) -> Result<Reader<'a>, ParseError> {
        let n = self.u8(what)?;
        self.sub(usize::from(n), what)
    }

    /// A sub-cursor over a field with a two-byte length prefix.
    pub fn vec16(&mut self, what: &'static str) -> Result<Reader<'a>, ParseError> {
        let n = self.u16(what)?;
        self.sub(usize::from(n), what)
    }

    /// The rest of the buffer.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Reads a list of big-endian u16 values filling the whole cursor; an odd trailing byte
    /// is an error.
    pub fn u16_list(mut self, what: &'static str) -> Result<Vec<u16>, ParseError> {
        if self.remaining() % 2 != 0 {
            return Err(self.err(what));
        }
        let mut v = Vec::with_capacity(self.remaining() / 2);
        while !self.is_empty() {
            v.push(self.u16(what)?);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut r = Reader::new(&[0, 2, 0xab, 0xcd, 7]);
        let mut v = r.vec16("list").unwrap();
        assert_eq!(v.offset(), 2);
        assert_eq!(v.u16("x").unwrap(), 0xabcd);
        assert!(v.u8("x").is_err());
        assert_eq!(r.u8("y").unwrap(), 7);
        let e = r.u8("z").unwrap_err();
        assert_eq!(e, ParseError { what: "z", offset: 5 });
    }

    #[test]
    fn length_prefix_beyond_end() {
        let mut r = Reader::new(&[0, 9, 1, 2]);
        assert_eq!(r.vec16("exts").unwrap_err().offset, 2);
        assert!(Reader::new(&[1, 2, 3]).u16_list("odd").is_err());
        assert_eq!(Reader::new(&[1, 2, 3, 4]).u16_list("l").unwrap(), vec![0x0102, 0x0304]);
    }
}
