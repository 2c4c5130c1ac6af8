//! Events as JSON Lines, with Suricata EVE's field names where EVE has the field.
//!
//! One object per handshake:
//!
//! ```text
//! {"timestamp":"2026-11-27T10:00:00.123456Z","flow_id":123,"pcap_filename":"x.pcap",
//!  "event_type":"tls","vlan":[100],"src_ip":"10.0.0.5","src_port":51514,
//!  "dest_ip":"93.184.216.34","dest_port":443,"proto":"TCP",
//!  "tls":{"sni":"example.com","version":"TLS 1.3","cipher_suite":"TLS_AES_128_GCM_SHA256",
//!         "client_alpns":["h2","http/1.1"],"server_alpn":"h2","group":"X25519MLKEM768",
//!         "client_versions":["TLS 1.3","TLS 1.2"],"hello_retry":false,
//!         "ja3":{"hash":"…","string":"…"},"ja3s":{"hash":"…","string":"…"},
//!         "ja4":"…","ja4_r":"…","ja4_o":"…","ja4_ro":"…","ja4s":"…","ja4s_r":"…",
//!         "alerts":[{"from":"server","level":"fatal","description":"handshake_failure"}],
//!         "outcome":"established"}}
//! ```
//!
//! * `src_*` is the client (the side that sent the ClientHello), `dest_*` the server.
//! * `timestamp` is the time of the first ClientHello.
//! * `tls.version` is the negotiated version (Suricata's spelling: `TLSv1`, `TLS 1.2`,
//!   `TLS 1.3`); with no ServerHello, the ClientHello's legacy version.
//! * A field whose value was not seen is absent, never null.
//! * Byte strings from the wire (SNI, ALPN) that are not valid UTF-8 keep their valid parts
//!   and have each invalid byte written as `\xNN`, so nothing is dropped and the line is
//!   always valid JSON.
//! * Code points with no IANA name are written as `0xNNNN`.

mod json;
#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod views;

use std::cell::RefCell;
use std::hash::BuildHasher as _;
use std::io::{self, Write};
use std::sync::Arc;

use crate::fingerprint::Transport;
use crate::fingerprint::ja3::Ja3;
use crate::fingerprint::no_grease;
use crate::record::{Alert, Cert, Handshake};
use crate::rules::{Label, Match};
use crate::tls::hello::ext;
use crate::tls::names;
use json::{Json, key};

/// Bytes as text: valid UTF-8 unchanged, each invalid byte as `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        s.push_str(chunk.valid());
        for &x in chunk.invalid() {
            s.push_str(&format!("\\x{x:02x}"));
        }
    }
    s
}

/// Suricata's version string, or `0xNNNN` for an unknown value.
pub fn version_name(v: u16) -> String {
    named(v, names::version)
}

fn named(v: u16, f: fn(u16) -> Option<&'static str>) -> String {
    f(v).map(str::to_string).unwrap_or_else(|| format!("0x{v:04x}"))
}

/// The name `f` gives the 16-bit code point `v`, else `0x%04x`.
#[inline]
fn name16(w: &mut Json<'_>, v: u16, f: fn(u16) -> Option<&'static str>) {
    match f(v) {
        Some(n) => w.clean(n),
        None => w.hex(u32::from(v), 4),
    }
}

/// The name `f` gives the 8-bit code point `v`, else `v` in decimal.
#[inline]
fn name8(w: &mut Json<'_>, v: u8, f: fn(u8) -> Option<&'static str>) {
    match f(v) {
        Some(n) => w.clean(n),
        None => w.dec_str(u64::from(v)),
    }
}

/// The member `k`: the names of the non-GREASE values of `codes`; absent when none is left.
fn names16(w: &mut Json<'_>, k: &'static str, codes: &[u16], f: fn(u16) -> Option<&'static str>) {
    if no_grease(codes).next().is_none() {
        return;
    }
    w.key(k);
    w.open_array();
    for v in no_grease(codes) {
        w.next();
        name16(w, v, f);
    }
    w.close_array();
}

/// The ClientHello's lists by name: `client_versions`, `client_groups`,
/// `client_key_shares` and `client_sig_algs` (in that order, each absent when empty).
fn client_lists(w: &mut Json<'_>, [versions, groups, key_shares, sig_algs]: [&[u16]; 4]) {
    names16(w, key!("client_versions"), versions, names::version);
    names16(w, key!("client_groups"), groups, names::group);
    names16(w, key!("client_key_shares"), key_shares, names::group);
    names16(w, key!("client_sig_algs"), sig_algs, names::signature_scheme);
}

thread_local! {
    static LIST_MEMO: RefCell<ListMemo> = RefCell::new(ListMemo::default());
}

/// Slots in a rendering thread's [`ListMemo`].
const MEMO_SLOTS: usize = 128;
/// Most codes (over the four lists) a hello may have for its lists' text to be kept.
const MEMO_MAX_CODES: usize = 128;

/// A [`ListMemo`] slot: the lists (each after its length) and their text.
type Kept = (Box<[u16]>, Box<str>);

/// The text [`client_lists`] wrote for recent ClientHellos' lists, by the lists' values:
/// clients send the same lists again and again, and naming 30-odd code points one by one
/// was a third of the cost of writing an event. Direct-mapped: a hello's lists go to one
/// slot by their hash and replace what was there, so the memory is bounded by the slot
/// count and the per-hello code cap (about 5 KB of text and 260 bytes of key at most per
/// slot, so under 700 KB per rendering thread). Hellos with longer lists are written
/// directly. The text depends on nothing but the lists, and a hit compares them exactly.
#[derive(Default)]
struct ListMemo {
    slots: Vec<Option<Kept>>,
    key: Vec<u16>,
    hasher: foldhash::fast::FixedState,
}

impl ListMemo {
    /// Writes the lists' members, from the memo when they were written before.
    fn write(&mut self, w: &mut Json<'_>, lists: [&[u16]; 4]) {
        let codes: usize = lists.iter().map(|l| l.len()).sum();
        if codes > MEMO_MAX_CODES {
            return client_lists(w, lists);
        }
        self.key.clear();
        for l in lists {
            // Each list's length first: the same codes split differently are other lists.
            self.key.push(l.len() as u16);
            self.key.extend_from_slice(l);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(MEMO_SLOTS, || None);
        }
        let slot = (self.hasher.hash_one(&self.key[..]) % MEMO_SLOTS as u64) as usize;
        match &self.slots[slot] {
            Some((k, text)) if **k == self.key[..] => w.members(text),
            _ => {
                // Written on their own (each member after a comma), then kept.
                let mut text = String::new();
                client_lists(&mut Json::new(&mut text), lists);
                w.members(&text);
                self.slots[slot] = Some((self.key.as_slice().into(), text.into_boxed_str()));
            }
        }
    }
}

/// The member `k`: an array of strings; absent when empty.
fn strings(w: &mut Json<'_>, k: &'static str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    w.key(k);
    w.open_array();
    for s in items {
        w.next();
        w.str(s);
    }
    w.close_array();
}

/// The member `k` when `v` is set.
#[inline]
fn opt_str(w: &mut Json<'_>, k: &'static str, v: Option<&str>) {
    if let Some(v) = v {
        w.key(k);
        w.str(v);
    }
}

/// The member `k` when `v` is set.
#[inline]
fn opt_bool(w: &mut Json<'_>, k: &'static str, v: Option<bool>) {
    if let Some(v) = v {
        w.key(k);
        w.bool(v);
    }
}

/// The member `k`, `true`, when `v` is; absent otherwise.
#[inline]
fn if_true(w: &mut Json<'_>, k: &'static str, v: bool) {
    if v {
        w.key(k);
        w.bool(true);
    }
}

/// The member `k` when `v` is set.
#[inline]
fn opt_u64(w: &mut Json<'_>, k: &'static str, v: Option<u64>) {
    if let Some(v) = v {
        w.key(k);
        w.u64(v);
    }
}

fn ja3(w: &mut Json<'_>, k: &'static str, j: Option<&Ja3>) {
    if let Some(j) = j {
        w.key(k);
        w.open();
        w.key(key!("hash"));
        w.str(&j.hash);
        w.key(key!("string"));
        w.str(&j.string);
        w.close();
    }
}

/// The member `k`: a certificate chain; absent when empty.
fn certificates(w: &mut Json<'_>, k: &'static str, chain: &[Arc<Cert>]) {
    if chain.is_empty() {
        return;
    }
    w.key(k);
    w.open_array();
    for c in chain {
        w.next();
        cert(w, c);
    }
    w.close_array();
}

fn cert(w: &mut Json<'_>, c: &Cert) {
    w.open();
    match &c.info {
        Err(e) => {
            w.key(key!("error"));
            w.str(e);
        }
        Ok(i) => {
            w.key(key!("subject"));
            w.str(&i.subject);
            w.key(key!("issuer"));
            w.str(&i.issuer);
            w.key(key!("serial"));
            w.str(&i.serial);
            w.key(key!("not_before"));
            w.str(&i.not_before);
            w.key(key!("not_after"));
            w.str(&i.not_after);
            strings(w, key!("san"), &i.san);
            w.key(key!("key_type"));
            w.str(&i.key_type);
            opt_u64(w, key!("key_bits"), i.key_bits.map(u64::from));
            opt_str(w, key!("curve"), i.curve.as_deref());
            w.key(key!("signature_algorithm"));
            w.str(&i.signature_algorithm);
            w.key(key!("is_ca"));
            w.bool(i.is_ca);
            opt_u64(w, key!("path_len"), i.path_len.map(u64::from));
            strings(w, key!("key_usage"), &i.key_usage);
            strings(w, key!("ext_key_usage"), &i.ext_key_usage);
            if_true(w, key!("self_signed"), i.self_signed);
            if_true(w, key!("sct"), i.has_sct);
            w.key(key!("sha1"));
            w.str(&i.sha1_fingerprint);
            w.key(key!("sha256"));
            w.str(&i.sha256);
        }
    }
    if let Some((a, b)) = &c.ja4x {
        w.key(key!("ja4x"));
        w.str(a);
        w.key(key!("ja4x_r"));
        w.str(b);
    }
    w.close();
}

fn alert(w: &mut Json<'_>, a: &Alert) {
    w.open();
    w.key(key!("from"));
    w.clean(a.from.as_str());
    w.key(key!("level"));
    w.clean(match a.level {
        1 => "warning",
        2 => "fatal",
        _ => "unknown",
    });
    w.key(key!("description"));
    name8(w, a.description, names::alert_description);
    w.close();
}

fn label(w: &mut Json<'_>, l: &Label) {
    w.open();
    opt_str(w, key!("application"), l.application.as_deref());
    opt_str(w, key!("library"), l.library.as_deref());
    opt_str(w, key!("device"), l.device.as_deref());
    opt_str(w, key!("os"), l.os.as_deref());
    opt_str(w, key!("notes"), l.notes.as_deref());
    w.close();
}

fn rule(w: &mut Json<'_>, m: &Match) {
    w.open();
    w.key(key!("id"));
    w.str(&m.id);
    w.key(key!("sid"));
    w.u64(u64::from(m.sid));
    w.key(key!("severity"));
    w.clean(m.severity.as_str());
    w.key(key!("msg"));
    w.str(&m.msg);
    if !m.category.is_empty() {
        w.key(key!("category"));
        w.str(&m.category);
    }
    strings(w, key!("tags"), &m.tags);
    w.close();
}

/// Suricata EVE's `alert` object for a matched rule.
fn rule_alert(w: &mut Json<'_>, m: &Match) {
    w.open();
    w.key(key!("action"));
    w.clean("allowed");
    w.key(key!("gid"));
    w.u64(1);
    w.key(key!("signature_id"));
    w.u64(u64::from(m.sid));
    w.key(key!("rev"));
    w.u64(u64::from(m.rev));
    w.key(key!("signature"));
    w.str(&m.msg);
    w.key(key!("category"));
    w.str(&m.category);
    w.key(key!("severity"));
    w.u64(u64::from(m.severity.eve()));
    strings(w, key!("tags"), &m.tags);
    w.close();
}

/// The `tls` object.
fn tls(w: &mut Json<'_>, h: &Handshake, labels: &[Label]) {
    let ch = h.client_hello.as_ref();
    let sh = h.server_hello.as_ref().filter(|sh| !sh.hello_retry);
    let d = &h.details;
    let fp = &h.fingerprints;
    w.open();
    if let Some(sni) = ch.and_then(|c| c.sni.as_deref()) {
        w.key(key!("sni"));
        w.bytes(sni);
    }
    match (sh, ch) {
        // Suricata's spelling for the earliest drafts, which put 0x0304 itself in
        // server_version (a final TLS 1.3 ServerHello always says 0x0303 there).
        (Some(sh), _) if sh.version == 0x0304 && sh.selected_version.is_none() => {
            w.key(key!("version"));
            w.clean("TLS 1.3 draft-<16");
        }
        (Some(sh), _) => {
            w.key(key!("version"));
            name16(w, sh.negotiated_version(), names::version);
        }
        (None, Some(ch)) => {
            w.key(key!("version"));
            name16(w, ch.version, names::version);
        }
        (None, None) => {}
    }
    if let Some(sh) = sh {
        w.key(key!("cipher_suite"));
        name16(w, sh.cipher, names::cipher_suite);
    }
    if let Some(c) = ch.filter(|c| !c.alpn.is_empty()) {
        w.key(key!("client_alpns"));
        w.open_array();
        for a in &c.alpn {
            w.next();
            w.bytes(a);
        }
        w.close_array();
    }
    if let Some(a) = sh.and_then(|s| s.alpn.as_deref()) {
        w.key(key!("server_alpn"));
        w.bytes(a);
    }
    // The group: the final ServerHello's key_share (TLS 1.3), else the ECDHE
    // ServerKeyExchange's named curve (TLS ≤ 1.2).
    if let Some(g) = sh.and_then(|s| s.key_share_group).or(d.ske_group) {
        w.key(key!("group"));
        name16(w, g, names::group);
    }
    if let Some(c) = ch {
        let lists = [
            &c.supported_versions[..],
            &c.groups,
            &c.key_share_groups,
            c.sig_algs.as_deref().unwrap_or_default(),
        ];
        // Through the thread's memo; directly when it is not there (a thread shutting
        // down) or in use.
        let memo = LIST_MEMO.try_with(|m| m.try_borrow_mut().map(|mut m| m.write(w, lists)).is_ok());
        if memo != Ok(true) {
            client_lists(w, lists);
        }
    }
    if let Some(v) = d.server_sig_alg {
        w.key(key!("server_sig_alg"));
        name16(w, v, names::signature_scheme);
    }
    opt_u64(w, key!("dhe_bits"), d.dhe_bits.map(u64::from));
    if let Some(c) = ch.filter(|c| !c.compression.is_empty()) {
        w.key(key!("compression_methods"));
        w.open_array();
        for &m in &c.compression {
            w.next();
            w.u64(u64::from(m));
        }
        w.close_array();
    }
    if let Some(s) = sh {
        w.key(key!("extended_master_secret"));
        w.bool(s.extensions.contains(&ext::EXTENDED_MASTER_SECRET));
        w.key(key!("encrypt_then_mac"));
        w.bool(s.extensions.contains(&ext::ENCRYPT_THEN_MAC));
        w.key(key!("secure_renegotiation"));
        w.bool(s.extensions.contains(&ext::RENEGOTIATION_INFO));
    }
    w.key(key!("hello_retry"));
    w.bool(h.hello_retry);
    if let Some(v) = d.quic_version {
        w.key(key!("quic_version"));
        match v {
            0x0000_0001 => w.clean("1"),
            0x6b33_43cf => w.clean("2"),
            v => w.hex(v, 8),
        }
    }
    if_true(w, key!("hello_verify_request"), d.hello_verify);
    let first_sh = h.first_server_hello.as_ref();
    if let Some(g) = first_sh.filter(|s| s.hello_retry).and_then(|s| s.key_share_group) {
        w.key(key!("hello_retry_group"));
        name16(w, g, names::group);
    }
    if_true(w, key!("early_data"), ch.is_some_and(|c| c.has_extension(ext::EARLY_DATA)));
    if let Some(c) = ch {
        let offers_13 = no_grease(&c.supported_versions).any(|v| (0x0304..0x0400).contains(&v));
        // In TLS 1.3 a legacy session id is a random middlebox-compatibility value, not a
        // resumption attempt.
        let offered = [
            (c.session_id_len > 0 && !offers_13, "session_id"),
            (c.ticket_offered, "ticket"),
            (c.psk_identities > 0, "psk"),
        ];
        if offered.iter().any(|&(on, _)| on) {
            w.key(key!("resumption_offered"));
            w.open_array();
            for (on, name) in offered {
                if on {
                    w.next();
                    w.clean(name);
                }
            }
            w.close_array();
        }
        if !c.psk_modes.is_empty() {
            w.key(key!("psk_modes"));
            w.open_array();
            for &m in &c.psk_modes {
                w.next();
                name8(w, m, names::psk_key_exchange_mode);
            }
            w.close_array();
        }
    }
    opt_bool(w, key!("resumed"), sh.map(|_| d.resumed));
    if_true(w, key!("ticket_issued"), d.ticket_issued);
    if_true(w, key!("client_cert_requested"), d.certificate_requested);
    if let Some(c) = ch {
        w.key(key!("ocsp"));
        w.open();
        w.key(key!("requested"));
        w.bool(c.has_extension(ext::STATUS_REQUEST));
        w.key(key!("stapled"));
        w.bool(d.ocsp_stapled);
        w.close();
        w.key(key!("sct_requested"));
        w.bool(c.has_extension(ext::SCT));
    }
    if d.server_hello_us.is_some() || d.finished_us.is_some() {
        w.key(key!("timing"));
        w.open();
        if let Some(us) = d.server_hello_us {
            w.key(key!("server_hello_us"));
            w.i64(us);
        }
        if let Some(us) = d.finished_us {
            w.key(key!("finished_us"));
            w.i64(us);
        }
        w.close();
    }
    if_true(w, key!("sslv2_client_hello"), ch.is_some_and(|c| c.sslv2));
    if h.client_hello_count > 1 {
        w.key(key!("client_hellos"));
        w.u64(u64::from(h.client_hello_count));
    }
    ja3(w, key!("ja3"), fp.ja3.as_deref());
    ja3(w, key!("ja3s"), fp.ja3s.as_ref());
    // The leaf in Suricata EVE's own top-level fields and formats.
    if let Some(leaf) = h.certificates.first().and_then(|c| c.info.as_ref().ok()) {
        w.key(key!("subject"));
        w.str(&leaf.subject);
        w.key(key!("issuerdn"));
        w.str(&leaf.issuer);
        w.key(key!("serial"));
        w.str(&leaf.serial);
        w.key(key!("fingerprint"));
        w.str(&leaf.sha1_fingerprint);
        w.key(key!("notbefore"));
        w.str(&leaf.not_before);
        w.key(key!("notafter"));
        w.str(&leaf.not_after);
    }
    certificates(w, key!("certificates"), &h.certificates);
    certificates(w, key!("client_certificates"), &h.client_certificates);
    if let Some(c) = &h.cert_checks {
        w.key(key!("cert_checks"));
        w.open();
        for (k, v) in [
            (key!("expired"), c.expired),
            (key!("not_yet_valid"), c.not_yet_valid),
            (key!("self_signed"), c.self_signed),
            (key!("name_mismatch"), c.name_mismatch),
            (key!("chain_out_of_order"), c.chain_out_of_order),
            (key!("missing_intermediate"), c.missing_intermediate),
            (key!("weak_key"), c.weak_key),
            (key!("weak_signature"), c.weak_signature),
        ] {
            w.key(k);
            w.bool(v);
        }
        strings(w, key!("reasons"), &c.reasons);
        w.close();
    }
    if let Some(j) = &fp.ja4 {
        w.key(key!("ja4"));
        w.str(&j.ja4);
        w.key(key!("ja4_r"));
        w.str(&j.ja4_r);
        w.key(key!("ja4_o"));
        w.str(&j.ja4_o);
        w.key(key!("ja4_ro"));
        w.str(&j.ja4_ro);
    }
    if let Some(j) = &fp.ja4s {
        w.key(key!("ja4s"));
        w.str(&j.ja4s);
        w.key(key!("ja4s_r"));
        w.str(&j.ja4s_r);
    }
    if !h.alerts.is_empty() {
        w.key(key!("alerts"));
        w.open_array();
        for a in &h.alerts {
            w.next();
            alert(w, a);
        }
        w.close_array();
    }
    w.key(key!("outcome"));
    w.clean(h.outcome.as_str());
    strings(w, key!("anomalies"), &h.anomalies);
    if !labels.is_empty() {
        w.key(key!("labels"));
        w.open_array();
        for l in labels {
            w.next();
            label(w, l);
        }
        w.close_array();
    }
    w.close();
}

/// One whole event: the flow, the EVE `alert` object for `alert_for` (an
/// `event_type: "alert"` record), the `tls` object (with `labels`), and `rules`.
fn event(w: &mut Json<'_>, h: &Handshake, alert_for: Option<&Match>, matches: &[Match], labels: &[Label]) {
    w.open();
    w.key(key!("timestamp"));
    w.timestamp(h.timestamp);
    w.key(key!("flow_id"));
    w.u64(h.flow_id);
    opt_str(w, key!("pcap_filename"), h.pcap_filename.as_deref());
    w.key(key!("event_type"));
    w.clean(match (alert_for.is_some(), h.transport) {
        (true, _) => "alert",
        (false, Transport::Tcp) => "tls",
        (false, Transport::Quic) => "quic",
        (false, Transport::Dtls) => "dtls",
    });
    if !h.vlans.is_empty() {
        w.key(key!("vlan"));
        w.open_array();
        for &v in &h.vlans {
            w.next();
            w.u64(u64::from(v));
        }
        w.close_array();
    }
    w.key(key!("src_ip"));
    w.ip(&h.client.0);
    w.key(key!("src_port"));
    w.u64(u64::from(h.client.1));
    w.key(key!("dest_ip"));
    w.ip(&h.server.0);
    w.key(key!("dest_port"));
    w.u64(u64::from(h.server.1));
    w.key(key!("proto"));
    w.clean(match h.transport {
        Transport::Tcp => "TCP",
        _ => "UDP",
    });
    if let Some(m) = alert_for {
        w.key(key!("alert"));
        rule_alert(w, m);
    }
    w.key(key!("tls"));
    tls(w, h, labels);
    if !matches.is_empty() {
        w.key(key!("rules"));
        w.open_array();
        for m in matches {
            w.next();
            rule(w, m);
        }
        w.close_array();
    }
    w.close();
}

/// Serialises a record as one JSON line (without the newline).
pub fn to_json(h: &Handshake) -> String {
    to_json_enriched(h, &[], &[])
}

/// Serialises a record with the rules that matched it (`rules[]`) and its labels
/// (`tls.labels[]`).
pub fn to_json_enriched(h: &Handshake, matches: &[Match], labels: &[Label]) -> String {
    render(|w| event(w, h, None, matches, labels))
}

/// An `event_type: "alert"` record for a rule that matched, in Suricata EVE's alert shape,
/// with the flow and the `tls` object of the handshake.
pub fn alert_json(h: &Handshake, m: &Match) -> String {
    render(|w| event(w, h, Some(m), &[], &[]))
}

/// The scratch buffer's usual size: an event with a certificate chain is a few KB.
const SCRATCH_SIZE: usize = 16 * 1024;

/// Writes into a per-thread scratch buffer (no growing by reallocation once it has
/// reached the events' size) and returns an exactly sized copy.
fn render(write: impl Fn(&mut Json<'_>)) -> String {
    thread_local! {
        static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
    }
    let into = |buf: &mut String| {
        buf.clear();
        write(&mut Json::new(buf));
        buf.as_str().to_owned()
    };
    let fresh = || into(&mut String::with_capacity(SCRATCH_SIZE));
    SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                let line = into(&mut buf);
                // Keep no oversized buffer after a giant event.
                buf.shrink_to(SCRATCH_SIZE);
                line
            }
            Err(_) => fresh(),
        })
        .unwrap_or_else(|_| fresh())
}

/// Writes events as JSON Lines to any writer.
pub struct JsonLines<W: Write> {
    out: W,
    /// Events written.
    pub written: u64,
}

impl<W: Write> JsonLines<W> {
    /// Wraps a writer (buffer it: each event is one small write).
    pub fn new(out: W) -> Self {
        JsonLines { out, written: 0 }
    }

    /// Writes one event line.
    pub fn write(&mut self, h: &Handshake) -> io::Result<()> {
        self.write_line(&to_json(h))
    }

    /// Writes one prepared line (an event or an alert).
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Flushes the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
