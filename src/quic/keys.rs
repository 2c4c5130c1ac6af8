//! Initial packet protection (RFC 9001 §5, RFC 9369 §3.3): keys from a connection ID,
//! header protection removal and AEAD opening, all with the RustCrypto crates.
//!
//! Only key material (16 + 12 + 16 bytes per side) is kept; the AES and AES-GCM key
//! schedules are rebuilt for each packet, which costs far less than the decryption itself
//! and keeps a connection's state small.

use aes::cipher::BlockCipherEncrypt;
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;

use super::Version;

/// AEAD tag length of AES-128-GCM.
pub const TAG_LEN: usize = 16;
/// Header protection sample length.
pub const SAMPLE_LEN: usize = 16;

/// Packet protection keys of one side for one connection ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirKeys {
    /// AES-128-GCM key.
    pub key: [u8; 16],
    /// AEAD IV; the nonce is this XOR the packet number.
    pub iv: [u8; 12],
    /// Header protection key (AES-128-ECB).
    pub hp: [u8; 16],
}

/// The Initial keys of both sides, derived from the client's Destination Connection ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialKeys {
    /// Protects packets sent by the client.
    pub client: DirKeys,
    /// Protects packets sent by the server.
    pub server: DirKeys,
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, into `out`.
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) {
    // HkdfLabel: u16 length, u8 label length, "tls13 " || label, u8 context length (0).
    let mut info = [0u8; 2 + 1 + 6 + 16 + 1];
    let len = 2 + 1 + 6 + label.len() + 1;
    // Labels are fixed constants here; all fit (the longest is "quicv2 key", 10 bytes).
    debug_assert!(len <= info.len() && out.len() <= 255 * 32);
    let info = &mut info[..len];
    info[..2].copy_from_slice(&(out.len() as u16).to_be_bytes());
    info[2] = (6 + label.len()) as u8;
    info[3..9].copy_from_slice(b"tls13 ");
    info[9..9 + label.len()].copy_from_slice(label);
    info[len - 1] = 0;
    // Cannot fail: the output lengths used (12, 16, 32) are far below 255 * HashLen.
    let _ = prk.expand(info, out);
}

fn dir_keys(secret: &[u8; 32], version: Version) -> DirKeys {
    // A 32-byte PRK is always a valid SHA-256 PRK; the fallback is never taken.
    let prk = Hkdf::<Sha256>::from_prk(secret).unwrap_or_else(|_| Hkdf::<Sha256>::new(None, secret));
    let (key_label, iv_label, hp_label) = version.labels();
    let mut k = DirKeys { key: [0; 16], iv: [0; 12], hp: [0; 16] };
    expand_label(&prk, key_label, &mut k.key);
    expand_label(&prk, iv_label, &mut k.iv);
    expand_label(&prk, hp_label, &mut k.hp);
    k
}

/// The client and server Initial secrets for `dcid` (RFC 9001 §5.2).
pub fn initial_secrets(version: Version, dcid: &[u8]) -> ([u8; 32], [u8; 32]) {
    let initial = Hkdf::<Sha256>::new(Some(version.salt()), dcid);
    let mut client = [0u8; 32];
    let mut server = [0u8; 32];
    expand_label(&initial, b"client in", &mut client);
    expand_label(&initial, b"server in", &mut server);
    (client, server)
}

impl InitialKeys {
    /// Derives both sides' Initial keys from the client's Destination Connection ID.
    pub fn derive(version: Version, dcid: &[u8]) -> Self {
        let (client, server) = initial_secrets(version, dcid);
        InitialKeys { client: dir_keys(&client, version), server: dir_keys(&server, version) }
    }

    /// The keys of one side.
    pub fn side(&self, client: bool) -> &DirKeys {
        if client { &self.client } else { &self.server }
    }
}

/// Why an Initial packet could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Too short for the header protection sample (or the tag).
    TooShort,
    /// The AEAD tag did not verify: wrong keys, or a corrupt packet.
    Auth,
}

/// An opened packet: its plaintext is `packet[header_len..header_len + payload_len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// Full (reconstructed) packet number.
    pub pn: u64,
    /// Header length including the packet number.
    pub header_len: usize,
    /// Plaintext length.
    pub payload_len: usize,
    /// The two reserved bits of the unprotected first byte (must be 0).
    pub reserved_bits: u8,
}

/// Reconstructs a full packet number from its truncated encoding (RFC 9000 Appendix A.3).
/// `largest` is the largest packet number successfully processed in this space so far.
pub fn decode_pn(largest: Option<u64>, truncated: u64, pn_nbits: u32) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << pn_nbits;
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    // candidate <= expected - hwin, written without underflow.
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        return candidate + win;
    }
    if candidate > expected.saturating_add(hwin) && candidate >= win {
        return candidate - win;
    }
    candidate
}

/// The header protection mask for `sample`.
pub fn hp_mask(hp: &[u8; 16], sample: &[u8; SAMPLE_LEN]) -> [u8; 16] {
    let cipher = aes::Aes128::new(&(*hp).into());
    let mut block = aes::Block::from(*sample);
    cipher.encrypt_block(&mut block);
    block.into()
}

/// The AEAD nonce for packet number `pn`.
pub fn nonce(iv: &[u8; 12], pn: u64) -> [u8; 12] {
    let mut n = *iv;
    for (b, p) in n[4..].iter_mut().zip(pn.to_be_bytes()) {
        *b ^= p;
    }
    n
}

impl DirKeys {
    /// Removes header protection from a long-header packet and decrypts its payload in
    /// place. `packet` spans the packet exactly (header through the end its Length field
    /// gives); `pn_offset` is the offset of the packet number field. On failure the bytes
    /// of `packet` are left partly unmasked and must be restored before another try.
    pub fn open(
        &self,
        packet: &mut [u8],
        pn_offset: usize,
        largest: Option<u64>,
    ) -> Result<Opened, OpenError> {
        let sample_at = pn_offset.checked_add(4).ok_or(OpenError::TooShort)?;
        let sample: [u8; SAMPLE_LEN] = packet
            .get(sample_at..sample_at + SAMPLE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(OpenError::TooShort)?;
        let mask = hp_mask(&self.hp, &sample);
        // Long header: the low four bits of the first byte are protected.
        packet[0] ^= mask[0] & 0x0f;
        let pn_len = usize::from(packet[0] & 0x03) + 1;
        let header_len = pn_offset + pn_len;
        // The sample ends at pn_offset + 20 ≥ header_len + 16, so the tag fits.
        let mut truncated = 0u64;
        for (i, b) in packet[pn_offset..header_len].iter_mut().enumerate() {
            *b ^= mask[1 + i];
            truncated = (truncated << 8) | u64::from(*b);
        }
        let pn = decode_pn(largest, truncated, 8 * pn_len as u32);
        let (head, body) = packet.split_at_mut(header_len);
        let (ct, tag) = body.split_at_mut(body.len() - TAG_LEN);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| OpenError::TooShort)?;
        let aead = Aes128Gcm::new(&self.key.into());
        aead.decrypt_inout_detached(&nonce(&self.iv, pn).into(), head, ct.into(), &tag.into())
            .map_err(|_| OpenError::Auth)?;
        Ok(Opened { pn, header_len, payload_len: ct.len(), reserved_bits: head[0] & 0x0c })
    }
}

#[cfg(test)]
pub(crate) mod test_seal {
    //! Packet protection in the sending direction, for building test packets.

    use super::*;

    /// Encrypts `payload` after `header` (which ends with the unprotected packet number of
    /// `pn_len` bytes encoding `pn`) and applies header protection; returns the packet.
    pub fn seal(keys: &DirKeys, header: &[u8], pn_len: usize, pn: u64, payload: &[u8]) -> Vec<u8> {
        let pn_offset = header.len() - pn_len;
        let mut packet = header.to_vec();
        let mut body = payload.to_vec();
        let aead = Aes128Gcm::new(&keys.key.into());
        let tag =
            aead.encrypt_inout_detached(&nonce(&keys.iv, pn).into(), header, (&mut body[..]).into()).unwrap();
        packet.extend_from_slice(&body);
        packet.extend_from_slice(&tag);
        let sample: [u8; 16] = packet[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mask = hp_mask(&keys.hp, &sample);
        packet[0] ^= mask[0] & 0x0f;
        for i in 0..pn_len {
            packet[pn_offset + i] ^= mask[1 + i];
        }
        packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    const DCID: &str = "8394c8f03e515708";

    #[test]
    fn rfc9001_a1_keys() {
        let dcid = hex(DCID);
        let (prk, _) = Hkdf::<Sha256>::extract(Some(Version::V1.salt()), &dcid);
        assert_eq!(prk.as_slice(), hex("7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44"));
        let (c, s) = initial_secrets(Version::V1, &dcid);
        assert_eq!(c.to_vec(), hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"));
        assert_eq!(s.to_vec(), hex("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b"));
        let k = InitialKeys::derive(Version::V1, &dcid);
        assert_eq!(k.client.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.client.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.client.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        assert_eq!(k.server.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(k.server.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
        assert_eq!(k.server.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    #[test]
    fn rfc9369_a1_keys() {
        let dcid = hex(DCID);
        let (prk, _) = Hkdf::<Sha256>::extract(Some(Version::V2.salt()), &dcid);
        assert_eq!(prk.as_slice(), hex("2062e8b3cd8d52092614b8071d0aa1fb7c2e3ac193f78b280e72d8f5751f6aba"));
        let (c, s) = initial_secrets(Version::V2, &dcid);
        assert_eq!(c.to_vec(), hex("14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b"));
        assert_eq!(s.to_vec(), hex("0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1"));
        let k = InitialKeys::derive(Version::V2, &dcid);
        assert_eq!(k.client.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(k.client.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(k.client.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
        assert_eq!(k.server.key.to_vec(), hex("82db637861d55e1d011f19ea71d5d2a7"));
        assert_eq!(k.server.iv.to_vec(), hex("dd13c276499c0249d3310652"));
        assert_eq!(k.server.hp.to_vec(), hex("edf6d05c83121201b436e16877593c3a"));
    }

    #[test]
    fn header_protection_masks() {
        let k1 = InitialKeys::derive(Version::V1, &hex(DCID));
        let s: [u8; 16] = hex("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        assert_eq!(hp_mask(&k1.client.hp, &s)[..5], hex("437b9aec36")[..]);
        let s: [u8; 16] = hex("2cd0991cd25b0aac406a5816b6394100").try_into().unwrap();
        assert_eq!(hp_mask(&k1.server.hp, &s)[..5], hex("2ec0d8356a")[..]);
        let k2 = InitialKeys::derive(Version::V2, &hex(DCID));
        let s: [u8; 16] = hex("ffe67b6abcdb4298b485dd04de806071").try_into().unwrap();
        assert_eq!(hp_mask(&k2.client.hp, &s)[..5], hex("94a0c95e80")[..]);
        let s: [u8; 16] = hex("6f05d8a4398c47089698baeea26b91eb").try_into().unwrap();
        assert_eq!(hp_mask(&k2.server.hp, &s)[..5], hex("4dd92e91ea")[..]);
    }

    #[test]
    fn packet_number_decoding() {
        // RFC 9000 Appendix A.3's example.
        assert_eq!(decode_pn(Some(0xa82f30ea), 0x9b32, 16), 0xa82f9b32);
        assert_eq!(decode_pn(None, 0, 8), 0);
        assert_eq!(decode_pn(None, 2, 32), 2);
        assert_eq!(decode_pn(Some(1), 2, 16), 2);
        // Wraps forward and backward around the window.
        assert_eq!(decode_pn(Some(0xfe), 0x01, 8), 0x101);
        assert_eq!(decode_pn(Some(0x101), 0xff, 8), 0xff);
        // Extremes do not overflow.
        assert_eq!(decode_pn(Some(u64::MAX), 0xff, 8), u64::MAX);
        assert_eq!(decode_pn(Some(u64::MAX), 0x00, 8), u64::MAX - 0xff);
        assert_eq!(decode_pn(Some((1 << 62) - 1), 0, 8), 1 << 62);
    }
}
