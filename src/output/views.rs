//! Serialisable views over a record's fields that allocate nothing: each one writes the
//! same JSON as the owned value (`String`, `Vec<String>`, …) it replaces would have. Used
//! only by the tests' serde-based oracle ([`super::oracle`]) since events are written by
//! [`super::json`].
//!
//! * [`Name`]: a code point's IANA name or its `0xNNNN` / decimal fallback.
//! * [`Names`]: the names of a list of code points, GREASE left out.
//! * [`Escaped`]: wire bytes as [`super::escape_bytes`] spells them.
//! * [`Each`]: a slice serialised as a sequence of per-item views.
//! * [`Resumption`]: the `resumption_offered` list.
//! * [`Shown`]: any `Display` value, formatted on the stack.

use std::fmt::{self, Write as _};

use serde::ser::{Error as _, Serialize, SerializeSeq, Serializer};

use crate::ascii::HEX;
use crate::fingerprint::no_grease;

/// A code point's display name: a known `&'static str`, or the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Name {
    /// A registered (or otherwise fixed) name.
    Known(&'static str),
    /// An unnamed 16-bit code point, written `0x%04x`.
    Hex16(u16),
    /// An unnamed 32-bit value, written `0x%08x`.
    Hex32(u32),
    /// An unnamed 8-bit code point, written in decimal.
    Dec(u8),
}

impl Name {
    /// The name `f` gives `v`, else `0x%04x`.
    pub(super) fn of(v: u16, f: fn(u16) -> Option<&'static str>) -> Name {
        f(v).map_or(Name::Hex16(v), Name::Known)
    }

    /// The name `f` gives `v`, else `v` in decimal.
    pub(super) fn of_u8(v: u8, f: fn(u8) -> Option<&'static str>) -> Name {
        f(v).map_or(Name::Dec(v), Name::Known)
    }

    /// Writes the name into `buf` (big enough for every fallback) and returns the text.
    fn text<'b>(&self, buf: &'b mut [u8; 10]) -> Result<&'b str, std::str::Utf8Error> {
        let n = match *self {
            Name::Known(s) => return Ok(s),
            Name::Hex16(v) => hex_into(buf, u32::from(v), 4),
            Name::Hex32(v) => hex_into(buf, v, 8),
            Name::Dec(v) => {
                let mut n = 0;
                if v >= 100 {
                    buf[n] = b'0' + v / 100;
                    n += 1;
                }
                if v >= 10 {
                    buf[n] = b'0' + v / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + v % 10;
                n + 1
            }
        };
        std::str::from_utf8(&buf[..n])
    }
}

/// Writes `0x` and the low `digits` hex digits of `v`; returns the length.
fn hex_into(buf: &mut [u8; 10], v: u32, digits: usize) -> usize {
    buf[0] = b'0';
    buf[1] = b'x';
    for i in 0..digits {
        let shift = 4 * (digits - 1 - i);
        buf[2 + i] = HEX[((v >> shift) & 15) as usize];
    }
    2 + digits
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0; 10];
        s.serialize_str(self.text(&mut buf).map_err(S::Error::custom)?)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0; 10];
        f.write_str(self.text(&mut buf).map_err(|_| fmt::Error)?)
    }
}

/// The names of a list of code points, GREASE values left out, as a JSON array.
#[derive(Clone, Copy)]
pub(super) struct Names<'a> {
    codes: &'a [u16],
    name: fn(u16) -> Option<&'static str>,
}

impl<'a> Names<'a> {
    /// The names `name` gives the non-GREASE values of `codes`.
    pub(super) fn new(codes: &'a [u16], name: fn(u16) -> Option<&'static str>) -> Self {
        Names { codes, name }
    }

    /// No value is left once GREASE is skipped.
    pub(super) fn is_empty(&self) -> bool {
        no_grease(self.codes).next().is_none()
    }
}

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = self.name;
        s.collect_seq(no_grease(self.codes).map(|v| Name::of(v, name)))
    }
}

/// Wire bytes as text, exactly as [`super::escape_bytes`] makes them: valid UTF-8 as is,
/// each invalid byte as the four characters `\xNN`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Escaped<'a>(pub(super) &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            for &x in chunk.invalid() {
                let b = [b'\\', b'x', HEX[usize::from(x >> 4)], HEX[usize::from(x & 15)]];
                f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)?;
            }
        }
        Ok(())
    }
}

impl Serialize for Escaped<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            // JSON escaping works character by character, so escaping the pieces one by
            // one (what `collect_str` does) equals escaping their concatenation.
            Err(_) => s.collect_str(self),
        }
    }
}

/// A slice serialised as a JSON array of one view per item.
pub(super) struct Each<'a, T, V> {
    items: &'a [T],
    view: fn(&'a T) -> V,
}

impl<'a, T, V> Each<'a, T, V> {
    /// `view` of every item of `items`.
    pub(super) fn new(items: &'a [T], view: fn(&'a T) -> V) -> Self {
        Each { items, view }
    }

    /// No item.
    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<'a, T, V: Serialize> Serialize for Each<'a, T, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.items.len()))?;
        for item in self.items {
            seq.serialize_element(&(self.view)(item))?;
        }
        seq.end()
    }
}

/// What a ClientHello offered to resume with, as the `resumption_offered` array (in this
/// order: `session_id`, `ticket`, `psk`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Resumption {
    /// A legacy session id meant as a resumption attempt.
    pub(super) session_id: bool,
    /// A session ticket.
    pub(super) ticket: bool,
    /// A TLS 1.3 PSK identity.
    pub(super) psk: bool,
}

impl Resumption {
    fn names(self) -> impl Iterator<Item = &'static str> {
        [(self.session_id, "session_id"), (self.ticket, "ticket"), (self.psk, "psk")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
    }

    /// Nothing was offered.
    pub(super) fn is_empty(&self) -> bool {
        !(self.session_id || self.ticket || self.psk)
    }
}

impl Serialize for Resumption {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

/// A `Display` value as a JSON string, the same as `value.to_string()` would serialise.
/// Formatted into a stack buffer when it fits (one escape pass over the whole text), else
/// streamed through `collect_str`.
pub(super) struct Shown<T>(pub(super) T);

/// A `fmt::Write` into a fixed buffer that fails once the buffer is full.
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = StackText { buf: [0; 64], len: 0 };
        if write!(text, "{}", self.0).is_ok() {
            // Whole `&str` pieces were copied in, so the bytes are valid UTF-8.
            if let Ok(t) = std::str::from_utf8(&text.buf[..text.len]) {
                return s.serialize_str(t);
            }
        }
        s.collect_str(&self.0)
    }
}
