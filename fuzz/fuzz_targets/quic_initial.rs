//! QUIC Initial packets that decrypt: fuzzed frame bytes are sealed (AEAD + header
//! protection, RFC 9001 §5) with the Initial keys of a fixed connection ID, so the fuzzer
//! works on the frame parser, the CRYPTO reassembly, and the hellos inside, not on the
//! AEAD.
//!
//! Input: `[flags, packets...]` with packets in `hellotap_fuzz::datagrams` format. `flags
//! & 1` picks QUIC v2 instead of v1. Direction bits: 1 a client Initial, 2 a server
//! Initial, 3 a client Initial coalesced with a following client Handshake-type packet
//! (not decryptable, only walked), 0 the bytes as a raw datagram (Retry, Version
//! Negotiation, garbage). In a sealed packet the first byte is the packet number (pn
//! length 1 when it is below 0x80, else 2) and the rest are the frames.
#![no_main]

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit};
use hellotap::quic::keys::{self, DirKeys, InitialKeys};
use hellotap::quic::{QuicConn, QuicLimits, Version};
use libfuzzer_sys::fuzz_target;

const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

fn varint(v: u64, out: &mut Vec<u8>) {
    match v {
        0..=0x3f => out.push(v as u8),
        0x40..=0x3fff => out.extend((0x4000 | v as u16).to_be_bytes()),
        0x4000..=0x3fff_ffff => out.extend((0x8000_0000 | v as u32).to_be_bytes()),
        _ => out.extend((0xc000_0000_0000_0000 | v).to_be_bytes()),
    }
}

/// The same sealing as hellotap's test-only `keys::test_seal::seal`.
fn seal(k: &DirKeys, header: &[u8], pn_len: usize, pn: u64, payload: &[u8]) -> Vec<u8> {
    let pn_offset = header.len() - pn_len;
    let mut packet = header.to_vec();
    let mut body = payload.to_vec();
    let aead = Aes128Gcm::new(&k.key.into());
    let tag =
        aead.encrypt_inout_detached(&keys::nonce(&k.iv, pn).into(), header, (&mut body[..]).into()).unwrap();
    packet.extend_from_slice(&body);
    packet.extend_from_slice(&tag);
    let sample: [u8; 16] = packet[pn_offset + 4..pn_offset + 20].try_into().unwrap();
    let mask = keys::hp_mask(&k.hp, &sample);
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        packet[pn_offset + i] ^= mask[1 + i];
    }
    packet
}

/// A long-header packet of type bits `ty` (already mapped for the version).
fn long_packet(version: Version, ty: u8, dcid: &[u8], scid: &[u8], k: &DirKeys, chunk: &[u8]) -> Vec<u8> {
    let (pn, pn_len, frames) = match chunk.split_first() {
        Some((&b, rest)) if b < 0x80 => (u64::from(b), 1, rest),
        Some((&b, rest)) => (u64::from(b) << 1, 2, rest),
        None => (0, 1, chunk),
    };
    let mut payload = frames.to_vec();
    // PADDING so that the header protection sample exists.
    payload.resize(payload.len().max(4), 0);
    let mut h = vec![0xc0 | (ty << 4) | (pn_len as u8 - 1)];
    h.extend_from_slice(&version.wire().to_be_bytes());
    h.push(dcid.len() as u8);
    h.extend_from_slice(dcid);
    h.push(scid.len() as u8);
    h.extend_from_slice(scid);
    let initial_bits = if version == Version::V1 { 0 } else { 1 };
    if ty == initial_bits {
        h.push(0); // empty token
    }
    varint((pn_len + payload.len() + 16) as u64, &mut h);
    h.extend_from_slice(&pn.to_be_bytes()[8 - pn_len..]);
    seal(k, &h, pn_len, pn, &payload)
}

fuzz_target!(|data: &[u8]| {
    let [flags, rest @ ..] = data else { return };
    let version = if flags & 1 == 0 { Version::V1 } else { Version::V2 };
    let (initial, handshake) = if version == Version::V1 { (0, 2) } else { (1, 3) };
    let keys = InitialKeys::derive(version, &DCID);
    let limits = QuicLimits::default();
    let mut conn = QuicConn::new(limits);
    for d in hellotap_fuzz::datagrams(rest, 32) {
        let (hint, dgram) = match d.dir {
            0 => (None, d.data.to_vec()),
            1 => (Some(true), long_packet(version, initial, &DCID, b"cli", &keys.client, d.data)),
            2 => (Some(false), long_packet(version, initial, b"cli", b"server-cid", &keys.server, d.data)),
            _ => {
                let mut p = long_packet(version, initial, &DCID, b"cli", &keys.client, d.data);
                p.extend(long_packet(version, handshake, &DCID, b"cli", &keys.server, d.data));
                (Some(true), p)
            }
        };
        let r = conn.datagram(hint, &dgram);
        assert!(r.decrypted + r.failed <= r.packets);
    }
    hellotap_fuzz::finish_quic(&conn, &limits);
});
