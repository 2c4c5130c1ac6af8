//! The TLS record layer of one direction of a connection, fed in-order stream bytes.
//!
//! Records may be cut anywhere by TCP; handshake messages may span records, and a record
//! may hold several messages. The parser works in place when a record (and a message
//! inside it) sits wholly in the bytes it is given, and copies only the pieces that span
//! feeds (a partial record, a partial message). Both copies are capped
//! ([`DirLimits`]); a message larger than its cap stops the direction and is reported.
//!
//! Once a direction has sent ChangeCipherSpec, its later handshake records are encrypted
//! and are no longer parsed (TLS ≤ 1.2); in TLS 1.3 the encrypted messages ride in
//! application_data records, which are reported as such.

use super::reader::Reader;

/// TLS record content types.
pub mod content {
    /// change_cipher_spec.
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert.
    pub const ALERT: u8 = 21;
    /// handshake.
    pub const HANDSHAKE: u8 = 22;
    /// application_data.
    pub const APPLICATION_DATA: u8 = 23;
    /// heartbeat.
    pub const HEARTBEAT: u8 = 24;
}

/// Largest record fragment TLS allows (2^14 plus the 2048 bytes of expansion TLS 1.2
/// permits for ciphertext). A longer length field means the bytes are not TLS.
pub const MAX_RECORD_FRAGMENT: usize = 16_384 + 2_048;

/// Caps for one direction.
#[derive(Debug, Clone, Copy)]
pub struct DirLimits {
    /// Largest handshake message reassembled (declared length). Certificate chains are the
    /// big ones; 64 KiB covers real chains with room to spare.
    pub max_handshake_message: usize,
}

impl Default for DirLimits {
    fn default() -> Self {
        DirLimits { max_handshake_message: 64 * 1024 }
    }
}

/// Something the record layer found, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum TlsItem<'a> {
    /// A whole plaintext handshake message: type and body (without its 4-byte header).
    Handshake {
        /// HandshakeType.
        msg_type: u8,
        /// The message body.
        body: &'a [u8],
    },
    /// An SSLv2-format ClientHello message (type byte first).
    Sslv2ClientHello(&'a [u8]),
    /// A ChangeCipherSpec record.
    ChangeCipherSpec,
    /// A plaintext alert.
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// AlertDescription.
        description: u8,
    },
    /// An alert record after ChangeCipherSpec (contents encrypted).
    EncryptedAlert,
    /// An application_data record (in TLS 1.3 this includes the encrypted handshake).
    ApplicationData,
    /// A handshake record after ChangeCipherSpec (encrypted Finished and later).
    EncryptedHandshake,
    /// A handshake message longer than [`DirLimits::max_handshake_message`]: skipped.
    Oversized {
        /// HandshakeType.
        msg_type: u8,
        /// Its declared length.
        len: u32,
    },
}

/// Why a direction stopped being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirError {
    /// A record header that is not TLS (bad content type, version or length).
    NotTls,
}

/// Record-layer state of one direction.
#[derive(Debug, Default)]
pub struct DirParser {
    limits: DirLimits,
    /// Bytes of a record that started in an earlier feed.
    rec_pending: Vec<u8>,
    /// Bytes of a handshake message that started in an earlier record.
    hs_pending: Vec<u8>,
    /// Bytes still to drop of a handshake message larger than the cap.
    hs_skip: usize,
    /// ChangeCipherSpec seen: later handshake and alert records are encrypted.
    encrypted: bool,
    /// Records parsed so far.
    records: u64,
    failed: Option<DirError>,
}

fn plausible_header(h: &[u8]) -> bool {
    (content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && usize::from(u16::from_be_bytes([h[3], h[4]])) <= MAX_RECORD_FRAGMENT
}

/// True when a handshake record's fragment holds a whole plaintext ClientHello or
/// ServerHello (a hello split over several records after a compatibility CCS is not
/// recognised; no implementation is known to send one).
fn plaintext_hello(frag: &[u8]) -> bool {
    frag.len() >= 6
        && (frag[0] == 1 || frag[0] == 2)
        && (38..=frag.len() as u32 - 4).contains(&u32::from_be_bytes([0, frag[1], frag[2], frag[3]]))
        && frag[4] == 3
        && frag[5] <= 4
}

/// True when `b` starts like a TLS record (at least a 5-byte plausible header) or an
/// SSLv2-compatible ClientHello.
pub fn looks_like_tls_start(b: &[u8]) -> bool {
    (b.len() >= 5 && plausible_header(&b[..5])) || sslv2_hello_len(b).is_some()
}

/// The record length of an SSLv2-format ClientHello at the start of `b`, if it is one
/// (2-byte header with the high bit set, msg_type 1, a version of 2.0 to 3.4).
fn sslv2_hello_len(b: &[u8]) -> Option<usize> {
    if b.len() < 5 || b[0] & 0x80 == 0 || b[2] != 1 {
        return None;
    }
    let ok_version = (b[3] == 0 && b[4] == 2) || (b[3] == 3 && b[4] <= 4);
    if !ok_version {
        return None;
    }
    let len = (usize::from(b[0] & 0x7f) << 8) | usize::from(b[1]);
    (len >= 9).then_some(len)
}

/// Searches the first bytes of a stream that did not start with TLS (an HTTP CONNECT or
/// SOCKS exchange before it) for the start of a ClientHello or ServerHello record: a
/// handshake record header whose fragment begins with message type 1 or 2 and a TLS
/// version. Returns the offset of the record header.
pub fn find_hello_record(b: &[u8]) -> Option<usize> {
    if b.len() < 11 {
        return None;
    }
    (0..=b.len() - 11).find(|&i| {
        let w = &b[i..i + 11];
        w[0] == content::HANDSHAKE
            && w[1] == 3
            && w[2] <= 4
            && (w[5] == 1 || w[5] == 2)
            && w[9] == 3
            && w[10] <= 4
            && plausible_header(&w[..5])
    })
}

impl DirParser {
    /// A parser with the given caps.
    pub fn new(limits: DirLimits) -> Self {
        DirParser { limits, ..Default::default() }
    }

    /// Why parsing stopped, if it did.
    pub fn error(&self) -> Option<DirError> {
        self.failed
    }

    /// True once ChangeCipherSpec has been seen in this direction.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// Bytes held in buffers for spanning records and messages.
    pub fn buffered(&self) -> usize {
        self.rec_pending.len() + self.hs_pending.len()
    }

    /// Feeds the next in-order bytes of a stream of bare handshake messages, with no
    /// record layer around them (QUIC CRYPTO frames, RFC 9001 §4); calls `out` for each
    /// whole message.
    pub fn feed_messages(&mut self, data: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        if self.failed.is_none() {
            self.handshake_fragment(data, out);
        }
    }

    /// Feeds the next in-order bytes of the stream; calls `out` for each item found.
    pub fn feed(&mut self, mut data: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        if self.failed.is_some() {
            return;
        }
        if !self.rec_pending.is_empty() {
            // Complete the pending record first: its header tells how much more it needs.
            if self.rec_pending.len() < 5 {
                let need = 5 - self.rec_pending.len();
                let take = need.min(data.len());
                self.rec_pending.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.rec_pending.len() < 5 {
                    return;
                }
                if !self.header_ok() {
                    return;
                }
            }
            let total = self.pending_total();
            let need = total - self.rec_pending.len();
            let take = need.min(data.len());
            self.rec_pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.rec_pending.len() < total {
                return;
            }
            let rec = std::mem::take(&mut self.rec_pending);
            self.record(&rec, out);
            self.rec_pending = rec;
            self.rec_pending.clear();
            if self.failed.is_some() {
                return;
            }
        }
        while !data.is_empty() && self.failed.is_none() {
            if self.records == 0 {
                if let Some(len) = sslv2_hello_len(data) {
                    if data.len() < 2 + len {
                        break;
                    }
                    self.records += 1;
                    out(TlsItem::Sslv2ClientHello(&data[2..2 + len]));
                    data = &data[2 + len..];
                    continue;
                }
            }
            if data.len() < 5 {
                break;
            }
            if !plausible_header(&data[..5]) {
                self.failed = Some(DirError::NotTls);
                return;
            }
            let total = self.record_len(&data[..5]);
            if data.len() < total {
                break;
            }
            self.record(&data[..total], out);
            data = &data[total..];
        }
        if self.failed.is_none() && !data.is_empty() {
            // At most one partial record (≤ 18 KB) is ever held here.
            self.rec_pending.extend_from_slice(data);
            if self.rec_pending.len() >= 5 {
                self.header_ok();
            }
        }
    }

    fn header_ok(&mut self) -> bool {
        let ok = plausible_header(&self.rec_pending[..5])
            || (self.records == 0 && sslv2_hello_len(&self.rec_pending).is_some());
        if !ok {
            self.failed = Some(DirError::NotTls);
            self.rec_pending.clear();
        }
        ok
    }

    /// Whole length of the record held in `rec_pending` (its header is complete).
    fn pending_total(&self) -> usize {
        let h = &self.rec_pending;
        match sslv2_hello_len(h) {
            Some(len) if self.records == 0 => 2 + len,
            _ => self.record_len(&h[..5]),
        }
    }

    fn record_len(&self, h: &[u8]) -> usize {
        5 + usize::from(u16::from_be_bytes([h[3], h[4]]))
    }

    fn record(&mut self, rec: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        self.records += 1;
        if self.records == 1 && rec[0] & 0x80 != 0 {
            // A spanning SSLv2 hello (the only record that can start with the high bit).
            if let Some(len) = sslv2_hello_len(rec) {
                out(TlsItem::Sslv2ClientHello(&rec[2..(2 + len).min(rec.len())]));
            }
            return;
        }
        let frag = &rec[5..];
        match rec[0] {
            // TLS 1.3 middlebox-compatibility mode sends a dummy ChangeCipherSpec before the
            // second ClientHello and after a HelloRetryRequest; the hellos that follow it are
            // still plaintext. An encrypted TLS 1.2 Finished passes this test with odds of
            // about 1e-12 (type byte, a length that fits, and a 0x03xx version).
            content::HANDSHAKE if self.encrypted && !plaintext_hello(frag) => {
                out(TlsItem::EncryptedHandshake)
            }
            content::HANDSHAKE => self.handshake_fragment(frag, out),
            content::CHANGE_CIPHER_SPEC => {
                self.encrypted = true;
                out(TlsItem::ChangeCipherSpec);
            }
            content::ALERT if self.encrypted => out(TlsItem::EncryptedAlert),
            content::ALERT => {
                let mut r = Reader::new(frag);
                while let (Ok(level), Ok(description)) = (r.u8("level"), r.u8("description")) {
                    out(TlsItem::Alert { level, description });
                }
            }
            content::APPLICATION_DATA => out(TlsItem::ApplicationData),
            _ => {}
        }
    }

    fn handshake_fragment(&mut self, mut frag: &[u8], out: &mut dyn FnMut(TlsItem<'_>)) {
        if self.hs_skip > 0 {
            // The rest of an oversized message: dropped, not buffered.
            let n = self.hs_skip.min(frag.len());
            self.hs_skip -= n;
            frag = &frag[n..];
        }
        if self.hs_pending.is_empty() {
            let rest = self.messages(frag, out);
            if self.failed.is_none() {
                self.hs_pending.extend_from_slice(rest);
            }
        } else {
            self.hs_pending.extend_from_slice(frag);
            let buf = std::mem::take(&mut self.hs_pending);
            let rest = self.messages(&buf, out);
            let keep = rest.len();
            let mut buf = buf;
            if self.failed.is_none() {
                let start = buf.len() - keep;
                buf.drain(..start);
                self.hs_pending = buf;
            }
        }
    }

    /// Emits every whole message at the start of `b`; returns the incomplete tail.
    fn messages<'b>(&mut self, mut b: &'b [u8], out: &mut dyn FnMut(TlsItem<'_>)) -> &'b [u8] {
        while b.len() >= 4 {
            let len = u32::from_be_bytes([0, b[1], b[2], b[3]]);
            let total = 4 + len as usize;
            if len as usize > self.limits.max_handshake_message {
                // Too large to reassemble: reported and skipped without buffering, so the
                // messages after it (a ServerKeyExchange after a huge Certificate) are
                // still read.
                out(TlsItem::Oversized { msg_type: b[0], len });
                if b.len() >= total {
                    b = &b[total..];
                    continue;
                }
                self.hs_skip = total - b.len();
                return &[];
            }
            if b.len() < total {
                break;
            }
            out(TlsItem::Handshake { msg_type: b[0], body: &b[4..total] });
            b = &b[total..];
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ct: u8, frag: &[u8]) -> Vec<u8> {
        let mut v = vec![ct, 3, 1];
        v.extend_from_slice(&(frag.len() as u16).to_be_bytes());
        v.extend_from_slice(frag);
        v
    }

    fn hs(t: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![t];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(body);
        v
    }

    #[derive(Debug, PartialEq)]
    enum Owned {
        Hs(u8, Vec<u8>),
        Ccs,
        Alert(u8, u8),
        Other(String),
    }

    fn run(p: &mut DirParser, chunks: &[&[u8]]) -> Vec<Owned> {
        let mut got = Vec::new();
        for c in chunks {
            p.feed(c, &mut |i| {
                got.push(match i {
                    TlsItem::Handshake { msg_type, body } => Owned::Hs(msg_type, body.to_vec()),
                    TlsItem::ChangeCipherSpec => Owned::Ccs,
                    TlsItem::Alert { level, description } => Owned::Alert(level, description),
                    other => Owned::Other(format!("{other:?}")),
                })
            });
        }
        got
    }

    fn stream() -> (Vec<u8>, Vec<Owned>) {
        // Message 1 spans two records; record 2 also carries all of message 2 and the
        // start of message 3, which ends in record 3; then CCS, an encrypted handshake
        // record, and an alert that is encrypted too.
        let m1 = hs(1, &[0x11; 30]);
        let m2 = hs(2, &[0x22; 5]);
        let m3 = hs(11, &[0x33; 40]);
        let mut hsbytes = m1.clone();
        hsbytes.extend(&m2);
        hsbytes.extend(&m3);
        let mut s = record(22, &hsbytes[..20]);
        s.extend(record(22, &hsbytes[20..60]));
        s.extend(record(22, &hsbytes[60..]));
        s.extend(record(20, &[1]));
        s.extend(record(22, &[0xee; 16]));
        s.extend(record(21, &[0xee; 8]));
        let want = vec![
            Owned::Hs(1, vec![0x11; 30]),
            Owned::Hs(2, vec![0x22; 5]),
            Owned::Hs(11, vec![0x33; 40]),
            Owned::Ccs,
            Owned::Other("EncryptedHandshake".into()),
            Owned::Other("EncryptedAlert".into()),
        ];
        (s, want)
    }

    #[test]
    fn whole_stream_in_one_feed() {
        let (s, want) = stream();
        assert_eq!(run(&mut DirParser::default(), &[&s]), want);
    }

    #[test]
    fn every_split_point_gives_the_same_items() {
        let (s, want) = stream();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                let mut p = DirParser::default();
                let got = run(&mut p, &[&s[..i], &s[i..j], &s[j..]]);
                assert_eq!(got, want, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let (s, want) = stream();
        let chunks: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(run(&mut DirParser::default(), &chunks), want);
    }

    #[test]
    fn hello_after_compat_ccs_is_plaintext() {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0u8; 40]);
        let mut s = record(20, &[1]);
        s.extend(record(22, &hs(1, &body)));
        s.extend(record(22, &[0x14, 0, 0, 12, 0xee, 0xee, 0xee, 0xee]));
        let got = run(&mut DirParser::default(), &[&s]);
        assert_eq!(got, vec![Owned::Ccs, Owned::Hs(1, body), Owned::Other("EncryptedHandshake".into())]);
    }

    #[test]
    fn plaintext_alert_and_garbage() {
        let s = record(21, &[2, 40]);
        assert_eq!(run(&mut DirParser::default(), &[&s]), vec![Owned::Alert(2, 40)]);
        let mut p = DirParser::default();
        assert!(run(&mut p, &[b"GET / HTTP/1.1\r\n"]).is_empty());
        assert_eq!(p.error(), Some(DirError::NotTls));
    }

    #[test]
    fn oversized_message_is_skipped_unbuffered_and_the_next_one_read() {
        // A 3000-byte Certificate over two records, then a ServerHelloDone, cap 1024.
        let big = hs(11, &[0x55; 3000]);
        let mut s = record(22, &big[..2000]);
        let mut rest = big[2000..].to_vec();
        rest.extend(hs(14, &[]));
        s.extend(record(22, &rest));
        for cut in [0, 1, 7, 1500, 2004, s.len() - 3] {
            let mut p = DirParser::new(DirLimits { max_handshake_message: 1024 });
            let got = run(&mut p, &[&s[..cut], &s[cut..]]);
            assert_eq!(
                got,
                vec![Owned::Other("Oversized { msg_type: 11, len: 3000 }".into()), Owned::Hs(14, vec![])],
                "cut {cut}"
            );
            assert!(p.buffered() < 1100, "never buffers the oversized message");
        }
        // A ClientHello declaring 16 MB: skipped, nothing buffered.
        let s = record(22, &[1, 0xff, 0xff, 0xff, 0, 0]);
        let mut p = DirParser::new(DirLimits { max_handshake_message: 1024 });
        assert_eq!(run(&mut p, &[&s]).len(), 1);
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn sslv2_hello_whole_and_split() {
        let mut m = vec![1, 3, 1, 0, 3, 0, 0, 0, 16, 0, 0, 0x2f];
        m.extend_from_slice(&[0xaa; 16]);
        let mut s = vec![0x80 | (m.len() >> 8) as u8, m.len() as u8];
        s.extend_from_slice(&m);
        for cut in 0..=s.len() {
            let mut got = Vec::new();
            let mut p = DirParser::default();
            for c in [&s[..cut], &s[cut..]] {
                p.feed(c, &mut |i| {
                    if let TlsItem::Sslv2ClientHello(b) = i {
                        got.push(b.to_vec());
                    }
                });
            }
            assert_eq!(got, vec![m.clone()], "cut {cut}");
        }
    }

    #[test]
    fn finds_hello_after_preamble() {
        let mut s = b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec();
        let at = s.len();
        s.extend(record(22, &hs(1, &[3, 3, 0, 0])));
        assert_eq!(find_hello_record(&s), Some(at));
        assert_eq!(find_hello_record(b"no tls here at all, just text"), None);
    }
}
