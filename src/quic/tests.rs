//! Connection-level tests: the published sample packets of RFC 9001 and RFC 9369
//! Appendix A, and packets built here with the same crates (seal + header protection).

use super::keys::test_seal::seal;
use super::keys::{DirKeys, InitialKeys};
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    assert!(s.len() % 2 == 0);
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

const DCID: &str = "8394c8f03e515708";

/// RFC 9001 A.2 / RFC 9369 A.2: the CRYPTO frame of the client Initial (same in both).
const CLIENT_CRYPTO_FRAME: &str = "
    060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
    04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
    616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
    04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
    baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
    0d0010000e0403050306030203080408 050806002d00020101001c0002400100
    3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
    75300901100f088394c8f03e51570806 048000ffff";

/// RFC 9001 A.3 / RFC 9369 A.3: the server Initial payload (ACK, CRYPTO).
const SERVER_PAYLOAD: &str = "
    02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739
    88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94
    0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00
    020304";

/// RFC 9001 A.2: the protected client Initial.
const V1_CLIENT_INITIAL: &str = "
    c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
    d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
    1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
    8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
    30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
    457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
    4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
    4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
    485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
    059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
    7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
    9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
    be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
    68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
    c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
    f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
    291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
    25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
    14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
    ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
    e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
    c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
    203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
    cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
    fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
    a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
    90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
    162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
    40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
    6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
    8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
    be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
    54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
    760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
    f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
    056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
    7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
    e221af44860018ab0856972e194cd934";

/// RFC 9001 A.3: the protected server Initial.
const V1_SERVER_INITIAL: &str = "
    cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a
    5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3
    dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84
    022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4
    2158407dd074ee";

/// RFC 9001 A.4: a Retry.
const V1_RETRY: &str = "ff000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f 0f2496ba";

/// RFC 9369 A.2: the protected client Initial.
const V2_CLIENT_INITIAL: &str = "
    d76b3343cf088394c8f03e5157080000 449ea0c95e82ffe67b6abcdb4298b485
    dd04de806071bf03dceebfa162e75d6c 96058bdbfb127cdfcbf903388e99ad04
    9f9a3dd4425ae4d0992cfff18ecf0fdb 5a842d09747052f17ac2053d21f57c5d
    250f2c4f0e0202b70785b7946e992e58 a59ac52dea6774d4f03b55545243cf1a
    12834e3f249a78d395e0d18f4d766004 f1a2674802a747eaa901c3f10cda5500
    cb9122faa9f1df66c392079a1b40f0de 1c6054196a11cbea40afb6ef5253cd68
    18f6625efce3b6def6ba7e4b37a40f77 32e093daa7d52190935b8da58976ff33
    12ae50b187c1433c0f028edcc4c2838b 6a9bfc226ca4b4530e7a4ccee1bfa2a3
    d396ae5a3fb512384b2fdd851f784a65 e03f2c4fbe11a53c7777c023462239dd
    6f7521a3f6c7d5dd3ec9b3f233773d4b 46d23cc375eb198c63301c21801f6520
    bcfb7966fc49b393f0061d974a2706df 8c4a9449f11d7f3d2dcbb90c6b877045
    636e7c0c0fe4eb0f697545460c806910 d2c355f1d253bc9d2452aaa549e27a1f
    ac7cf4ed77f322e8fa894b6a83810a34 b361901751a6f5eb65a0326e07de7c12
    16ccce2d0193f958bb3850a833f7ae43 2b65bc5a53975c155aa4bcb4f7b2c4e5
    4df16efaf6ddea94e2c50b4cd1dfe060 17e0e9d02900cffe1935e0491d77ffb4
    fdf85290fdd893d577b1131a610ef6a5 c32b2ee0293617a37cbb08b847741c3b
    8017c25ca9052ca1079d8b78aebd4787 6d330a30f6a8c6d61dd1ab5589329de7
    14d19d61370f8149748c72f132f0fc99 f34d766c6938597040d8f9e2bb522ff9
    9c63a344d6a2ae8aa8e51b7b90a4a806 105fcbca31506c446151adfeceb51b91
    abfe43960977c87471cf9ad4074d30e1 0d6a7f03c63bd5d4317f68ff325ba3bd
    80bf4dc8b52a0ba031758022eb025cdd 770b44d6d6cf0670f4e990b22347a7db
    848265e3e5eb72dfe8299ad7481a4083 22cac55786e52f633b2fb6b614eaed18
    d703dd84045a274ae8bfa73379661388 d6991fe39b0d93debb41700b41f90a15
    c4d526250235ddcd6776fc77bc97e7a4 17ebcb31600d01e57f32162a8560cacc
    7e27a096d37a1a86952ec71bd89a3e9a 30a2a26162984d7740f81193e8238e61
    f6b5b984d4d3dfa033c1bb7e4f0037fe bf406d91c0dccf32acf423cfa1e70710
    10d3f270121b493ce85054ef58bada42 310138fe081adb04e2bd901f2f13458b
    3d6758158197107c14ebb193230cd115 7380aa79cae1374a7c1e5bbcb80ee23e
    06ebfde206bfb0fcbc0edc4ebec30966 1bdd908d532eb0c6adc38b7ca7331dce
    8dfce39ab71e7c32d318d136b6100671 a1ae6a6600e3899f31f0eed19e3417d1
    34b90c9058f8632c798d4490da498730 7cba922d61c39805d072b589bd52fdf1
    e86215c2d54e6670e07383a27bbffb5a ddf47d66aa85a0c6f9f32e59d85a44dd
    5d3b22dc2be80919b490437ae4f36a0a e55edf1d0b5cb4e9a3ecabee93dfc6e3
    8d209d0fa6536d27a5d6fbb17641cde2 7525d61093f1b28072d111b2b4ae5f89
    d5974ee12e5cf7d5da4d6a31123041f3 3e61407e76cffcdcfd7e19ba58cf4b53
    6f4c4938ae79324dc402894b44faf8af bab35282ab659d13c93f70412e85cb19
    9a37ddec600545473cfb5a05e08d0b20 9973b2172b4d21fb69745a262ccde96b
    a18b2faa745b6fe189cf772a9f84cbfc";

/// RFC 9369 A.3: the protected server Initial.
const V2_SERVER_INITIAL: &str = "
    dc6b3343cf0008f067a5502a4262b500 4075d92faaf16f05d8a4398c47089698
    baeea26b91eb761d9b89237bbf872630 17915358230035f7fd3945d88965cf17
    f9af6e16886c61bfc703106fbaf3cb4c fa52382dd16a393e42757507698075b2
    c984c707f0a0812d8cd5a6881eaf21ce da98f4bd23f6fe1a3e2c43edd9ce7ca8
    4bed8521e2e140";

/// RFC 9369 A.4: a Retry.
const V2_RETRY: &str = "cf6b3343cf0008f067a5502a4262b574 6f6b656ec8646ce8bfe33952d9555436 65dcc7b6";

/// The ClientHello the RFC's client CRYPTO frame carries (frame header stripped).
fn client_hello() -> Vec<u8> {
    hex(CLIENT_CRYPTO_FRAME)[4..].to_vec()
}

/// The ServerHello of the RFC's server payload (ACK and CRYPTO frame headers stripped).
fn server_hello() -> Vec<u8> {
    hex(SERVER_PAYLOAD)[9..].to_vec()
}

#[test]
fn rfc_plaintexts_are_what_they_claim() {
    let ch = client_hello();
    assert_eq!(ch.len(), 0xf1);
    assert_eq!(&ch[..4], &[0x01, 0x00, 0x00, 0xed]);
    let sh = server_hello();
    assert_eq!(sh.len(), 0x5a);
    assert_eq!(&sh[..4], &[0x02, 0x00, 0x00, 0x56]);
}

#[test]
fn rfc9001_client_and_server_initial() {
    let c = hex(V1_CLIENT_INITIAL);
    assert_eq!(c.len(), 1200);
    assert!(looks_like_client_initial(&c));
    let mut q = QuicConn::default();
    let r = q.datagram(None, &c);
    assert_eq!(
        r,
        DatagramResult {
            quic: true,
            packets: 1,
            initials: 1,
            decrypted: 1,
            failed: 0,
            from_client: Some(true),
            client_crypto_grew: true,
            server_crypto_grew: false,
        }
    );
    assert_eq!(q.crypto(true), &client_hello()[..]);
    assert_eq!(q.version(), Some(VERSION_1));
    assert_eq!(q.client_dcid(), Some(&hex(DCID)[..]));
    assert_eq!(q.largest_pn, [None, Some(2)]);

    let s = hex(V1_SERVER_INITIAL);
    let r = q.datagram(None, &s);
    assert_eq!((r.decrypted, r.from_client, r.server_crypto_grew), (1, Some(false), true));
    assert_eq!(q.crypto(false), &server_hello()[..]);
    assert_eq!(q.largest_pn, [Some(1), Some(2)]);
    let st = q.stats();
    assert_eq!((st.client_initials, st.server_initials, st.decrypt_failures), (1, 1, 0));
    assert_eq!((st.payload_anomalies, st.malformed, st.crypto_dropped), (0, 0, 0));
    assert_eq!(st.server_version, Some(VERSION_1));
}

#[test]
fn rfc9369_client_and_server_initial() {
    let c = hex(V2_CLIENT_INITIAL);
    assert_eq!(c.len(), 1200);
    assert!(looks_like_client_initial(&c));
    let mut q = QuicConn::default();
    let r = q.datagram(Some(true), &c);
    assert_eq!((r.decrypted, r.from_client), (1, Some(true)));
    assert_eq!(q.crypto(true), &client_hello()[..]);
    assert_eq!(q.version(), Some(VERSION_2));
    let r = q.datagram(Some(false), &hex(V2_SERVER_INITIAL));
    assert_eq!((r.decrypted, r.from_client), (1, Some(false)));
    assert_eq!(q.crypto(false), &server_hello()[..]);
    assert_eq!(q.stats().server_version, Some(VERSION_2));
}

#[test]
fn v1_keys_do_not_open_v2_packets() {
    // The v2 packet relabelled as v1 (type bits 01 are 0-RTT in v1): skipped, not opened.
    let mut c = hex(V2_CLIENT_INITIAL);
    c[1..5].copy_from_slice(&VERSION_1.to_be_bytes());
    assert!(!looks_like_client_initial(&c));
    let mut q = QuicConn::default();
    let r = q.datagram(None, &c);
    assert_eq!((r.quic, r.initials), (true, 0));
    assert_eq!(q.stats().other_packets, 1);
    // With v1 Initial type bits it is an Initial, but v1 keys do not open it.
    c[0] &= !0x30;
    let r = q.datagram(None, &c);
    assert_eq!((r.initials, r.decrypted, r.failed), (1, 0, 1));
    assert!(q.crypto(true).is_empty());
}

#[test]
fn retry_type_bits_per_version() {
    for (hexs, version) in [(V1_RETRY, Version::V1), (V2_RETRY, Version::V2)] {
        let p = hex(hexs);
        assert_eq!(version.packet_type(p[0]), PacketType::Retry);
        assert!(
            matches!(parse_long_header(&p), Ok(LongPacket::Retry { version: v, scid }) if v == version && scid == hex("f067a5502a4262b5"))
        );
        assert!(!looks_like_client_initial(&p));
        let mut q = QuicConn::default();
        let r = q.datagram(None, &p);
        assert_eq!((r.quic, r.packets, r.initials), (true, 1, 0));
        assert_eq!(q.stats().retries, 1);
    }
    assert_eq!(Version::V1.packet_type(0xc0), PacketType::Initial);
    assert_eq!(Version::V1.packet_type(0xd0), PacketType::ZeroRtt);
    assert_eq!(Version::V1.packet_type(0xe0), PacketType::Handshake);
    assert_eq!(Version::V2.packet_type(0xc0), PacketType::Retry);
    assert_eq!(Version::V2.packet_type(0xd0), PacketType::Initial);
    assert_eq!(Version::V2.packet_type(0xe0), PacketType::ZeroRtt);
    assert_eq!(Version::V2.packet_type(0xf0), PacketType::Handshake);
}

#[test]
fn server_initial_before_client_initial_is_counted() {
    let mut q = QuicConn::default();
    let r = q.datagram(Some(false), &hex(V1_SERVER_INITIAL));
    assert_eq!((r.quic, r.initials, r.decrypted, r.failed, r.from_client), (true, 1, 0, 1, None));
    assert_eq!(q.stats().before_client_initial, 1);
    q.datagram(None, &hex(V1_CLIENT_INITIAL));
    let r = q.datagram(None, &hex(V1_SERVER_INITIAL));
    assert_eq!(r.from_client, Some(false));
    assert_eq!(q.crypto(false), &server_hello()[..]);
    assert_eq!(q.stats().before_client_initial, 1);
}

#[test]
fn wrong_belief_is_corrected() {
    let mut q = QuicConn::default();
    let r = q.datagram(Some(false), &hex(V1_CLIENT_INITIAL));
    assert_eq!(r.from_client, Some(true));
    let r = q.datagram(Some(true), &hex(V1_SERVER_INITIAL));
    assert_eq!(r.from_client, Some(false));
    assert_eq!(q.stats().side_corrections, 2);
    assert_eq!(q.crypto(true), &client_hello()[..]);
    assert_eq!(q.crypto(false), &server_hello()[..]);
}

#[test]
fn every_prefix_and_bit_flip_of_a_protected_initial_is_harmless() {
    for src in [V1_CLIENT_INITIAL, V2_CLIENT_INITIAL, V1_SERVER_INITIAL] {
        let p = hex(src);
        for n in 0..p.len() {
            let mut q = QuicConn::default();
            let r = q.datagram(None, &p[..n]);
            assert_eq!(r.decrypted, 0, "prefix {n}");
            assert!(q.crypto(true).is_empty() && q.crypto(false).is_empty());
            let _ = looks_like_client_initial(&p[..n]);
        }
    }
    // One flipped bit anywhere: never opened (the tag covers header and payload), except
    // in the bits header protection masks away, which are then unmasked differently.
    let p = hex(V1_CLIENT_INITIAL);
    for i in 0..p.len() {
        for bit in [0x01, 0x80] {
            let mut m = p.clone();
            m[i] ^= bit;
            let mut q = QuicConn::default();
            let r = q.datagram(None, &m);
            assert_eq!(r.decrypted, 0, "byte {i} bit {bit:#x}");
            assert!(q.crypto(true).is_empty());
        }
    }
}

#[test]
fn random_input_never_panics() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let c = hex(V1_CLIENT_INITIAL);
    let mut q = QuicConn::default();
    q.datagram(None, &c);
    for round in 0..3000 {
        let len = (next() % 1400) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && len >= 6 {
            // Plausible long header start of v1 or v2, random after.
            d[0] = 0xc0 | (next() as u8 & 0x3f);
            let v = if round % 4 == 0 { VERSION_1 } else { VERSION_2 };
            d[1..5].copy_from_slice(&v.to_be_bytes());
            d[5] = (next() % 24) as u8;
        }
        if round % 5 == 0 {
            // A valid packet followed by junk.
            d = [c.clone(), d].concat();
        }
        let _ = looks_like_client_initial(&d);
        let hint = [None, Some(true), Some(false)][round % 3];
        q.datagram(hint, &d);
    }
    assert_eq!(q.crypto(true), &client_hello()[..]);
    assert!(q.crypto(false).is_empty());
}

// ---- Packets built here ----

fn varint(v: u64) -> Vec<u8> {
    match v {
        0..=0x3f => vec![v as u8],
        0x40..=0x3fff => (0x4000 | v as u16).to_be_bytes().to_vec(),
        0x4000..=0x3fff_ffff => (0x8000_0000 | v as u32).to_be_bytes().to_vec(),
        _ => (0xc000_0000_0000_0000 | v).to_be_bytes().to_vec(),
    }
}

fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    [vec![0x06], varint(offset), varint(data.len() as u64), data.to_vec()].concat()
}

/// A protected long-header packet of type `kind` with the given fields.
struct Build<'a> {
    version: Version,
    kind: PacketType,
    dcid: &'a [u8],
    scid: &'a [u8],
    token: &'a [u8],
    pn: u64,
    pn_len: usize,
}

impl Build<'_> {
    fn type_bits(&self) -> u8 {
        match (self.version, self.kind) {
            (Version::V1, PacketType::Initial) | (Version::V2, PacketType::Retry) => 0,
            (Version::V1, PacketType::ZeroRtt) | (Version::V2, PacketType::Initial) => 1,
            (Version::V1, PacketType::Handshake) | (Version::V2, PacketType::ZeroRtt) => 2,
            _ => 3,
        }
    }

    fn packet(&self, keys: &DirKeys, payload: &[u8]) -> Vec<u8> {
        // Pad so that the header protection sample exists.
        let mut payload = payload.to_vec();
        payload.resize(payload.len().max(4), 0);
        let mut h = vec![0xc0 | (self.type_bits() << 4) | (self.pn_len as u8 - 1)];
        h.extend_from_slice(&self.version.wire().to_be_bytes());
        h.push(self.dcid.len() as u8);
        h.extend_from_slice(self.dcid);
        h.push(self.scid.len() as u8);
        h.extend_from_slice(self.scid);
        if self.kind == PacketType::Initial {
            h.extend(varint(self.token.len() as u64));
            h.extend_from_slice(self.token);
        }
        let length = (self.pn_len + payload.len() + 16) as u64;
        h.extend((0x4000 | length as u16).to_be_bytes());
        h.extend_from_slice(&self.pn.to_be_bytes()[8 - self.pn_len..]);
        seal(keys, &h, self.pn_len, self.pn, &payload)
    }
}

fn client_initial(version: Version, key_dcid: &[u8], dcid: &[u8], pn: u64, payload: &[u8]) -> Vec<u8> {
    let keys = InitialKeys::derive(version, key_dcid);
    Build { version, kind: PacketType::Initial, dcid, scid: b"cli", token: &[], pn, pn_len: 2 }
        .packet(&keys.client, payload)
}

fn server_initial(version: Version, key_dcid: &[u8], pn: u64, payload: &[u8]) -> Vec<u8> {
    let keys = InitialKeys::derive(version, key_dcid);
    Build { version, kind: PacketType::Initial, dcid: b"cli", scid: b"server-cid", token: &[], pn, pn_len: 1 }
        .packet(&keys.server, payload)
}

fn a_stream(n: usize) -> Vec<u8> {
    let mut s: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
    s[0] = 1;
    s
}

/// Every order of `0..n` (also used by the CRYPTO buffer's own tests).
pub(super) fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn crypto_split_over_packets_in_every_order() {
    let dcid = b"\x11\x22\x33\x44\x55\x66\x77\x88";
    let s = a_stream(1500);
    // Four packets; the second repeats part of the first, the third holds two frames out of
    // order, the fourth overlaps the third and carries a PING and an ACK too.
    let payloads: Vec<Vec<u8>> = vec![
        crypto_frame(0, &s[..400]),
        [crypto_frame(300, &s[300..700]), vec![0; 30]].concat(),
        [crypto_frame(1000, &s[1000..1200]), vec![0x01], crypto_frame(700, &s[700..1000])].concat(),
        [vec![0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00], crypto_frame(1100, &s[1100..1500]), vec![0x01]]
            .concat(),
    ];
    for version in [Version::V1, Version::V2] {
        let packets: Vec<Vec<u8>> = payloads
            .iter()
            .enumerate()
            .map(|(pn, p)| client_initial(version, dcid, dcid, pn as u64, p))
            .collect();
        for perm in permutations(packets.len()) {
            let mut q = QuicConn::default();
            for &i in &perm {
                q.datagram(Some(true), &packets[i]);
            }
            // Duplicates change nothing.
            q.datagram(Some(true), &packets[perm[0]]);
            assert_eq!(q.crypto(true), &s[..], "{version:?} order {perm:?}");
            let st = q.stats();
            assert_eq!((st.client_initials, st.decrypt_failures, st.payload_anomalies), (5, 0, 0));
            assert_eq!(st.crypto_conflicts, 0);
        }
        // A prefix is exposed as soon as it is contiguous, and only then.
        let mut q = QuicConn::default();
        q.datagram(None, &packets[2]);
        assert!(q.crypto(true).is_empty());
        q.datagram(None, &packets[0]);
        assert_eq!(q.crypto(true), &s[..400]);
        let r = q.datagram(None, &packets[1]);
        assert!(r.client_crypto_grew);
        assert_eq!(q.crypto(true), &s[..1200]);
    }
}

#[test]
fn coalesced_initial_handshake_and_short_header() {
    let dcid = b"\x01\x02\x03\x04\x05\x06\x07\x08";
    let s = a_stream(300);
    for version in [Version::V1, Version::V2] {
        let keys = InitialKeys::derive(version, dcid);
        let init1 = client_initial(version, dcid, dcid, 0, &crypto_frame(0, &s[..100]));
        // A Handshake packet (not decryptable with Initial keys, skipped by its Length).
        let hs =
            Build { version, kind: PacketType::Handshake, dcid, scid: b"cli", token: &[], pn: 0, pn_len: 1 }
                .packet(&keys.client, &[0x06, 0x00, 0x05, 1, 2, 3, 4, 5]);
        let zero_rtt =
            Build { version, kind: PacketType::ZeroRtt, dcid, scid: b"cli", token: &[], pn: 0, pn_len: 1 }
                .packet(&keys.client, &[0x01; 30]);
        let init2 = client_initial(version, dcid, dcid, 1, &crypto_frame(100, &s[100..300]));
        // A short-header packet ends the walk.
        let short = [vec![0x40], vec![0xaa; 40]].concat();
        let d = [init1, hs, zero_rtt, init2, short].concat();
        let mut q = QuicConn::default();
        let r = q.datagram(None, &d);
        assert_eq!((r.packets, r.initials, r.decrypted), (4, 2, 2), "{version:?}");
        assert_eq!(q.crypto(true), &s[..]);
        assert_eq!(q.stats().other_packets, 2);
        assert_eq!(q.stats().malformed, 0);
    }
}

#[test]
fn length_beyond_the_datagram_stops_the_walk() {
    let dcid = b"abcdefgh";
    let s = a_stream(50);
    let p = client_initial(Version::V1, dcid, dcid, 0, &crypto_frame(0, &s));
    let mut d = p.clone();
    d.truncate(p.len() - 1);
    let mut q = QuicConn::default();
    let r = q.datagram(None, &d);
    assert_eq!((r.quic, r.initials), (true, 0));
    assert_eq!(q.stats().malformed, 1);
    assert!(q.crypto(true).is_empty());
}

#[test]
fn retry_then_new_dcid() {
    let orig = b"original";
    let new = b"retry-scid-123";
    let s = a_stream(600);
    let sh = a_stream(90);
    for version in [Version::V1, Version::V2] {
        let mut q = QuicConn::default();
        // First Initial, keyed by the original DCID; only part of the hello arrives.
        q.datagram(None, &client_initial(version, orig, orig, 0, &crypto_frame(0, &s[..200])));
        assert_eq!(q.client_dcid(), Some(&orig[..]));
        // Retry (integrity tag not checked here).
        let retry_bits: u8 = if version == Version::V1 { 0x30 } else { 0x00 };
        let mut retry = vec![0xc0 | retry_bits];
        retry.extend_from_slice(&version.wire().to_be_bytes());
        retry.push(3);
        retry.extend_from_slice(b"cli");
        retry.push(new.len() as u8);
        retry.extend_from_slice(new);
        retry.extend_from_slice(b"token");
        retry.extend_from_slice(&[0x55; 16]);
        let r = q.datagram(None, &retry);
        assert_eq!((r.packets, r.initials), (1, 0));
        // The client starts over with keys from the new DCID, the same hello from offset 0.
        let r = q.datagram(None, &client_initial(version, new, new, 1, &crypto_frame(0, &s)));
        assert_eq!((r.decrypted, r.from_client), (1, Some(true)));
        assert_eq!(q.client_dcid(), Some(&new[..]));
        assert_eq!(q.crypto(true), &s[..]);
        // The server protects with keys from the new DCID.
        let r = q.datagram(None, &server_initial(version, new, 0, &crypto_frame(0, &sh)));
        assert_eq!(r.from_client, Some(false));
        assert_eq!(q.crypto(false), &sh[..]);
        // Later client Initials carry the server's connection ID but keep the keys.
        let ack = [0x02, 0x00, 0x00, 0x00, 0x00];
        let r = q.datagram(None, &client_initial(version, new, b"server-cid", 2, &ack));
        assert_eq!((r.decrypted, r.from_client), (1, Some(true)));
        let st = q.stats();
        assert_eq!((st.retries, st.client_initials, st.server_initials, st.decrypt_failures), (1, 3, 1, 0));
    }
}

#[test]
fn compatible_version_negotiation_server_answers_in_v2() {
    let dcid = b"vn-dcid!";
    let s = a_stream(100);
    let mut q = QuicConn::default();
    q.datagram(None, &client_initial(Version::V1, dcid, dcid, 0, &crypto_frame(0, &s)));
    let r = q.datagram(None, &server_initial(Version::V2, dcid, 0, &crypto_frame(0, &s[..50])));
    assert_eq!(r.from_client, Some(false));
    assert_eq!(q.version(), Some(VERSION_1));
    assert_eq!(q.stats().server_version, Some(VERSION_2));
}

#[test]
fn packet_numbers_expand_past_one_byte() {
    let dcid = b"pn-tests";
    let keys = InitialKeys::derive(Version::V1, dcid);
    let s = a_stream(700);
    let mut q = QuicConn::default();
    for (i, pn) in [0u64, 100, 200, 250, 300, 380, 500, 620].into_iter().enumerate() {
        let b = Build {
            version: Version::V1,
            kind: PacketType::Initial,
            dcid,
            scid: b"",
            token: b"tok",
            pn,
            pn_len: 1,
        };
        let p = b.packet(&keys.client, &crypto_frame(i as u64 * 50, &s[i * 50..i * 50 + 50]));
        let r = q.datagram(None, &p);
        assert_eq!(r.decrypted, 1, "pn {pn}");
    }
    assert_eq!(q.largest_pn[1], Some(620));
    assert_eq!(q.crypto(true), &s[..400]);
}

#[test]
fn frames_close_and_anomalies() {
    let dcid = b"frames!!";
    let s = a_stream(40);
    let mut q = QuicConn::default();
    // CRYPTO, then CONNECTION_CLOSE (0x1c: code 0x128, frame type 6, reason "bad").
    let close = [vec![0x1c], varint(0x128), vec![0x06, 0x03], b"bad".to_vec()].concat();
    q.datagram(
        None,
        &client_initial(Version::V1, dcid, dcid, 0, &[crypto_frame(0, &s[..10]), close].concat()),
    );
    assert_eq!(q.stats().client_close, Some(0x128));
    // A STREAM frame (0x08) is not allowed: what came before it counts, the rest not.
    let bad =
        [crypto_frame(10, &s[10..20]), vec![0x08, 0x00, 0x01, 0xff], crypto_frame(20, &s[20..40])].concat();
    q.datagram(None, &client_initial(Version::V1, dcid, dcid, 1, &bad));
    assert_eq!(q.crypto(true), &s[..20]);
    let st = q.stats();
    assert_eq!(st.payload_anomalies, 1);
    assert_eq!(st.first_payload_anomaly.map(|e| e.what), Some("frame type not allowed in Initial"));
    // A truncated ACK and a CRYPTO frame longer than the payload.
    q.datagram(
        None,
        &client_initial(Version::V1, dcid, dcid, 2, &[0x03, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00]),
    );
    q.datagram(None, &client_initial(Version::V1, dcid, dcid, 3, &[0x06, 0x00, 0x7f, 0xff, 1, 2]));
    assert_eq!(q.stats().payload_anomalies, 3);
    // CRYPTO at the varint limit is rejected without overflow.
    let huge = [vec![0x06], varint(MAX_VARINT), vec![0x01, 0xaa]].concat();
    q.datagram(None, &client_initial(Version::V1, dcid, dcid, 4, &huge));
    assert_eq!(q.stats().payload_anomalies, 4);
    assert_eq!(q.crypto(true), &s[..20]);
}

#[test]
fn crypto_cap_is_enforced() {
    let dcid = b"capcapca";
    let s = a_stream(900);
    let mut q = QuicConn::new(QuicLimits { max_crypto_bytes: 500, max_pieces: 4 });
    q.datagram(None, &client_initial(Version::V1, dcid, dcid, 0, &crypto_frame(0, &s[..600])));
    q.datagram(None, &client_initial(Version::V1, dcid, dcid, 1, &crypto_frame(600, &s[600..900])));
    assert_eq!(q.crypto(true), &s[..500]);
    assert_eq!(q.stats().crypto_dropped, 400);
}

#[test]
fn looks_like_client_initial_cases() {
    assert!(looks_like_client_initial(&hex(V1_CLIENT_INITIAL)));
    assert!(looks_like_client_initial(&hex(V2_CLIENT_INITIAL)));
    // Header only: the packet may be cut short by the snaplen.
    assert!(looks_like_client_initial(&hex(V1_CLIENT_INITIAL)[..64]));
    // A server Initial has the same format.
    assert!(looks_like_client_initial(&hex(V1_SERVER_INITIAL)));
    assert!(!looks_like_client_initial(&[]));
    assert!(!looks_like_client_initial(&[0x40, 1, 2, 3, 4, 5, 6, 7]));
    // Version negotiation, unknown version, no fixed bit, Handshake, 21-byte CID.
    let mut p = hex(V1_CLIENT_INITIAL);
    p[1..5].copy_from_slice(&[0, 0, 0, 0]);
    assert!(!looks_like_client_initial(&p));
    p[1..5].copy_from_slice(&[0xff, 0, 0, 0x1d]);
    assert!(!looks_like_client_initial(&p));
    let mut p = hex(V1_CLIENT_INITIAL);
    p[0] &= !0x40;
    assert!(!looks_like_client_initial(&p));
    p[0] |= 0x60;
    assert!(!looks_like_client_initial(&p));
    let mut p = hex(V1_CLIENT_INITIAL);
    p[5] = 21;
    assert!(!looks_like_client_initial(&p));
}

#[test]
fn version_negotiation_and_unknown_versions_are_ignored() {
    let mut q = QuicConn::default();
    let vn = [vec![0x80, 0, 0, 0, 0, 0, 0], VERSION_1.to_be_bytes().to_vec()].concat();
    let r = q.datagram(None, &vn);
    assert!(!r.quic);
    let mut draft = hex(V1_CLIENT_INITIAL);
    draft[1..5].copy_from_slice(&[0xff, 0, 0, 0x1d]);
    let r = q.datagram(None, &draft);
    assert!(!r.quic);
    let st = q.stats();
    assert_eq!((st.version_negotiation, st.unknown_version, st.initial_packets), (1, 1, 0));
}
