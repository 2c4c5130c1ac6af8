use super::*;
use crate::fingerprint::ja3::ja3;
use crate::tls::hello::{parse_client_hello, parse_server_hello};

/// A handshake fragment: 12-byte header and `body[off..off + len]`.
fn frag(t: u8, seq: u16, body: &[u8], off: usize, len: usize) -> Vec<u8> {
    let mut v = vec![t];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&(off as u32).to_be_bytes()[1..]);
    v.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    v.extend_from_slice(&body[off..off + len]);
    v
}

/// A whole message as one fragment.
fn msg(t: u8, seq: u16, body: &[u8]) -> Vec<u8> {
    frag(t, seq, body, 0, body.len())
}

/// A DTLSPlaintext/DTLSCiphertext record.
fn record(ct: u8, version: u16, epoch: u16, rseq: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![ct];
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&epoch.to_be_bytes());
    v.extend_from_slice(&rseq.to_be_bytes()[2..]);
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn hs_record(rseq: u64, payload: &[u8]) -> Vec<u8> {
    record(22, DTLS_1_2, 0, rseq, payload)
}

/// A DTLS 1.2 ClientHello body with the given random byte and cookie.
fn client_hello(random: u8, cookie: &[u8]) -> Vec<u8> {
    let mut b = vec![0xfe, 0xfd];
    b.extend_from_slice(&[random; 32]);
    b.push(0); // session id
    b.push(cookie.len() as u8);
    b.extend_from_slice(cookie);
    let ciphers: [u16; 4] = [0x0a0a, 0xc02b, 0xc02f, 0x009c];
    b.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
    for c in ciphers {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]); // compression: null
    let mut exts = Vec::new();
    // supported_groups: x25519, secp256r1
    exts.extend_from_slice(&[0, 10, 0, 6, 0, 4, 0, 29, 0, 23]);
    // ec_point_formats: uncompressed
    exts.extend_from_slice(&[0, 11, 0, 2, 1, 0]);
    // signature_algorithms: ecdsa_secp256r1_sha256
    exts.extend_from_slice(&[0, 13, 0, 4, 0, 2, 4, 3]);
    // extended_master_secret, then padding to make the body long enough to fragment
    exts.extend_from_slice(&[0, 23, 0, 0, 0, 21, 0, 40]);
    exts.extend_from_slice(&[0; 40]);
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend_from_slice(&exts);
    b
}

fn server_hello(random: u8) -> Vec<u8> {
    let mut b = vec![0xfe, 0xfd];
    b.extend_from_slice(&[random; 32]);
    b.push(0);
    b.extend_from_slice(&[0xc0, 0x2f, 0]);
    b.extend_from_slice(&[0, 4, 0xff, 0x01, 0, 0]);
    b
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Hs(u8, Vec<u8>),
    Ccs,
    Alert(u8, u8),
    EncHs,
    EncAlert,
    AppData,
    Other(String),
}

fn owned(i: TlsItem<'_>) -> Owned {
    match i {
        TlsItem::Handshake { msg_type, body } => Owned::Hs(msg_type, body.to_vec()),
        TlsItem::ChangeCipherSpec => Owned::Ccs,
        TlsItem::Alert { level, description } => Owned::Alert(level, description),
        TlsItem::EncryptedHandshake => Owned::EncHs,
        TlsItem::EncryptedAlert => Owned::EncAlert,
        TlsItem::ApplicationData => Owned::AppData,
        other => Owned::Other(format!("{other:?}")),
    }
}

fn feed(d: &mut DtlsDir, datagrams: &[&[u8]]) -> Vec<Owned> {
    let mut got = Vec::new();
    for dg in datagrams {
        d.datagram(dg, &mut |i| got.push(owned(i)));
    }
    got
}

fn run(datagrams: &[&[u8]]) -> (Vec<Owned>, DtlsStats) {
    let mut d = DtlsDir::new(DtlsLimits::default());
    let got = feed(&mut d, datagrams);
    (got, d.stats())
}

/// Every permutation of `0..n` (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, a, out);
            if k % 2 == 0 { a.swap(i, k - 1) } else { a.swap(0, k - 1) }
        }
    }
    let mut out = Vec::new();
    heap(n, &mut (0..n).collect(), &mut out);
    out
}

#[test]
fn whole_client_hello_in_one_record() {
    let body = client_hello(0x11, &[]);
    let dg = hs_record(0, &msg(1, 0, &body));
    assert!(looks_like_client_hello(&dg));
    let (got, st) = run(&[&dg]);
    assert_eq!(got, vec![Owned::Hs(1, body.clone())]);
    assert_eq!((st.messages, st.records, st.buffered_bytes), (1, 1, 0));
    let ch = parse_client_hello(&body, true).unwrap();
    assert_eq!(ch.version, DTLS_1_2);
    assert_eq!(ja3(&ch).string, "65277,49195-49199-156,10-11-13-23-21,29-23,0");
}

/// The ClientHello cut in four fragments of unequal size.
fn four_fragments(body: &[u8]) -> Vec<Vec<u8>> {
    let cuts = [0, 30, 31, 90, body.len()];
    (0..4).map(|i| hs_record(i as u64, &frag(1, 0, body, cuts[i], cuts[i + 1] - cuts[i]))).collect()
}

#[test]
fn fragments_in_every_order_give_one_message() {
    let body = client_hello(0x22, &[]);
    let dgs = four_fragments(&body);
    assert!(looks_like_client_hello(&dgs[0]));
    for perm in permutations(4) {
        let order: Vec<&[u8]> = perm.iter().map(|&i| dgs[i].as_slice()).collect();
        let (got, st) = run(&order);
        assert_eq!(got, vec![Owned::Hs(1, body.clone())], "order {perm:?}");
        assert_eq!(st.buffered_bytes, 0);
        // With every fragment repeated (a retransmitted flight after each), and the whole
        // message again at the end: still one message.
        let mut twice: Vec<&[u8]> = order.iter().flat_map(|d| [*d, *d]).collect();
        let whole = hs_record(9, &msg(1, 0, &body));
        twice.push(&whole);
        twice.extend(order.iter().copied());
        let (got, st) = run(&twice);
        assert_eq!(got, vec![Owned::Hs(1, body.clone())], "order {perm:?} with duplicates");
        assert!(st.duplicate_fragments >= 8, "{st:?}");
    }
}

#[test]
fn overlapping_fragments_first_data_wins() {
    let body = client_hello(0x33, &[]);
    let mut other = body.clone();
    for b in &mut other[40..80] {
        *b ^= 0xff;
    }
    // [0, 60) of the real body, then [40, 100) of a conflicting copy, then the rest.
    let a = hs_record(0, &frag(1, 0, &body, 0, 60));
    let b = hs_record(1, &frag(1, 0, &other, 40, 60));
    let c = hs_record(2, &frag(1, 0, &body, 100, body.len() - 100));
    let (got, _) = run(&[&a, &b, &c]);
    let mut want = body.clone();
    want[60..100].copy_from_slice(&other[60..100]);
    assert_eq!(got, vec![Owned::Hs(1, want)]);
    // Several fragments in one record and one datagram.
    let mut rec = frag(1, 0, &body, 50, body.len() - 50);
    rec.extend(frag(1, 0, &body, 0, 50));
    let (got, _) = run(&[&hs_record(0, &rec)]);
    assert_eq!(got, vec![Owned::Hs(1, body)]);
}

#[test]
fn every_truncation_is_harmless() {
    let body = client_hello(0x44, &[0xcc; 20]);
    let whole = {
        let mut d = hs_record(0, &msg(1, 0, &body));
        d.extend(record(21, DTLS_1_2, 0, 1, &[1, 0]));
        d
    };
    let want = vec![Owned::Hs(1, body.clone()), Owned::Alert(1, 0)];
    for cut in 0..=whole.len() {
        let (got, st) = run(&[&whole[..cut]]);
        if cut < whole.len() - 15 {
            assert!(got.is_empty(), "cut {cut}: {got:?}");
        } else if cut < whole.len() {
            assert_eq!(got, want[..1], "cut {cut}");
        } else {
            assert_eq!(got, want);
        }
        assert_eq!(st.buffered_bytes, 0);
        // The truncated datagram leaves nothing behind that spoils the real one.
        let mut d = DtlsDir::new(DtlsLimits::default());
        feed(&mut d, &[&whole[..cut]]);
        let got = feed(&mut d, &[&whole]);
        // (Alerts are not retransmitted in DTLS and are not deduplicated.)
        let expect: &[Owned] = if cut < whole.len() - 15 { &want } else { &want[1..] };
        assert_eq!(got, expect, "cut {cut} then whole");
    }
    // Truncations of every fragment datagram, each followed by all the whole ones.
    let dgs = four_fragments(&body);
    for (k, dg) in dgs.iter().enumerate() {
        for cut in 0..dg.len() {
            let mut d = DtlsDir::new(DtlsLimits::default());
            let mut got = feed(&mut d, &[&dg[..cut]]);
            assert!(got.is_empty());
            got.extend(feed(&mut d, &dgs.iter().map(Vec::as_slice).collect::<Vec<_>>()));
            assert_eq!(got, vec![Owned::Hs(1, body.clone())], "fragment {k} cut {cut}");
        }
    }
}

#[test]
fn a_fragment_that_lies_about_its_length_is_dropped() {
    let body = client_hello(0x45, &[]);
    // fragment_length says 50, the record holds 49 bytes of it.
    let mut f = frag(1, 0, &body, 0, 50);
    f.pop();
    let (got, st) = run(&[&hs_record(0, &f)]);
    assert!(got.is_empty());
    assert_eq!(st.malformed_fragments, 1);
    // A fragment reaching past the declared message length.
    let mut f = frag(1, 0, &body, 0, 50);
    f[1..4].copy_from_slice(&[0, 0, 40]);
    let (got, st) = run(&[&hs_record(0, &f)]);
    assert!(got.is_empty());
    assert_eq!(st.malformed_fragments, 1);
    // Same message_seq, other length: inconsistent, not mixed in.
    let a = hs_record(0, &frag(1, 0, &body, 0, 50));
    let mut b = frag(1, 0, &body, 50, body.len() - 50);
    b[3] += 1;
    let (got, st) = run(&[&a, &hs_record(1, &b)]);
    assert!(got.is_empty());
    assert_eq!(st.inconsistent_fragments, 1);
}

#[test]
fn hello_verify_request_exchange() {
    let ch1 = client_hello(0x55, &[]);
    let ch2 = client_hello(0x55, &[0xc0; 20]);
    let hvr = {
        let mut b = vec![0xfe, 0xff, 20];
        b.extend_from_slice(&[0xc0; 20]);
        b
    };
    let sh = server_hello(0x66);
    let cert = vec![0, 0, 0];
    // Client: ClientHello seq 0, a retransmission of it, then seq 1 with the cookie
    // (fragmented in two datagrams), then a retransmission of that.
    let c0 = hs_record(0, &msg(1, 0, &ch1));
    let c1a = hs_record(2, &frag(1, 1, &ch2, 0, 70));
    let c1b = hs_record(3, &frag(1, 1, &ch2, 70, ch2.len() - 70));
    let c1 = hs_record(4, &msg(1, 1, &ch2));
    let (got, _) = run(&[&c0, &c0, &c1a, &c1b, &c1, &c0]);
    assert_eq!(got, vec![Owned::Hs(1, ch1.clone()), Owned::Hs(1, ch2.clone())]);
    let (a, b) = (parse_client_hello(&ch1, true).unwrap(), parse_client_hello(&ch2, true).unwrap());
    assert_eq!(ja3(&a), ja3(&b), "the cookie is not part of JA3");
    // Server: HelloVerifyRequest seq 0 in a DTLS 1.0 record, then the flight from seq 1.
    let s0 = record(22, DTLS_1_0, 0, 0, &msg(HELLO_VERIFY_REQUEST, 0, &hvr));
    let mut flight = hs_record(1, &msg(2, 1, &sh));
    flight.extend(hs_record(2, &msg(11, 2, &cert)));
    flight.extend(hs_record(3, &msg(14, 3, &[])));
    let (got, st) = run(&[&s0, &flight, &s0, &flight]);
    assert_eq!(
        got,
        vec![Owned::Hs(3, hvr), Owned::Hs(2, sh.clone()), Owned::Hs(11, cert), Owned::Hs(14, vec![])]
    );
    assert_eq!(st.messages, 4);
    assert_eq!(st.duplicate_fragments, 4);
    assert_eq!(st.restarts, 0);
    assert_eq!(parse_server_hello(&sh).unwrap().cipher, 0xc02f);
}

#[test]
fn capture_starting_after_the_first_hello() {
    // The first ClientHello was not captured: numbering starts at the one with the cookie.
    let ch2 = client_hello(0x57, &[1; 8]);
    let (got, _) = run(&[&hs_record(2, &msg(1, 1, &ch2))]);
    assert_eq!(got, vec![Owned::Hs(1, ch2)]);
    // A later message reordered before the hello is kept and emitted after it.
    let sh = server_hello(0x58);
    let cert = vec![0, 0, 3, 0, 0, 0];
    let (got, _) = run(&[&hs_record(2, &msg(11, 2, &cert)), &hs_record(1, &msg(2, 1, &sh))]);
    assert_eq!(got, vec![Owned::Hs(2, sh), Owned::Hs(11, cert)]);
}

#[test]
fn encrypted_records_are_reported_not_parsed() {
    let cke = vec![0x20; 33];
    let mut dg = hs_record(4, &msg(16, 2, &cke));
    dg.extend(record(20, DTLS_1_2, 0, 5, &[1]));
    dg.extend(record(22, DTLS_1_2, 1, 0, &[0xee; 40]));
    let app = record(23, DTLS_1_2, 1, 1, &[0xee; 30]);
    let alert = record(21, DTLS_1_2, 1, 2, &[0xee; 26]);
    let mut d = DtlsDir::new(DtlsLimits::default());
    // ClientHello seq 0 and, after a HelloVerifyRequest, seq 1: the ClientKeyExchange
    // is seq 2.
    let ch = client_hello(0x77, &[]);
    feed(&mut d, &[&hs_record(0, &msg(1, 0, &ch)), &hs_record(1, &msg(1, 1, &ch))]);
    let got = feed(&mut d, &[&dg, &app, &alert]);
    assert_eq!(got, vec![Owned::Hs(16, cke), Owned::Ccs, Owned::EncHs, Owned::AppData, Owned::EncAlert]);
    let st = d.stats();
    assert_eq!(st.encrypted_records, 3);
    // An epoch-1 record that looks like a ClientHello inside is still encrypted.
    let fake = record(22, DTLS_1_2, 1, 3, &msg(1, 0, &client_hello(0x78, &[])));
    assert!(!looks_like_client_hello(&fake));
    assert_eq!(feed(&mut d, &[&fake]), vec![Owned::EncHs]);
}

#[test]
fn dtls13_unified_headers() {
    let ch = client_hello(0x79, &[]);
    let mut d = DtlsDir::new(DtlsLimits::default());
    assert_eq!(feed(&mut d, &[&hs_record(0, &msg(1, 0, &ch))]), vec![Owned::Hs(1, ch)]);
    // 0b00101110: no CID, 16-bit sequence number, length present, epoch 2; two records.
    let mut two = vec![0x2e, 0, 1, 0, 3, 0xaa, 0xbb, 0xcc];
    two.extend_from_slice(&[0x2e, 0, 2, 0, 2, 0xaa, 0xbb]);
    assert_eq!(feed(&mut d, &[&two]), vec![Owned::AppData, Owned::AppData]);
    // 8-bit sequence number, no length: the record runs to the end of the datagram.
    assert_eq!(feed(&mut d, &[&[0x23, 7, 1, 2, 3, 4]]), vec![Owned::AppData]);
    // A connection ID of unknown length: one record, the rest of the datagram skipped.
    assert_eq!(feed(&mut d, &[&[0x3e, 1, 2, 3, 4, 0, 5, 0, 1, 9]]), vec![Owned::AppData]);
    // A unified header followed by a plaintext record.
    // 0b00100100: 8-bit sequence number, length present.
    let mut mixed = vec![0x24, 9, 0, 1, 0xaa];
    mixed.extend(record(21, DTLS_1_2, 0, 9, &[2, 10]));
    assert_eq!(feed(&mut d, &[&mixed]), vec![Owned::AppData, Owned::Alert(2, 10)]);
    // RFC 9146 connection-ID record.
    let mut cid = record(CONTENT_TLS12_CID, DTLS_1_2, 1, 0, &[0; 20]);
    cid.extend(record(21, DTLS_1_2, 0, 9, &[2, 10]));
    assert_eq!(feed(&mut d, &[&cid]), vec![Owned::AppData]);
    assert_eq!(d.stats().encrypted_records, 6);
}

#[test]
fn gaps_are_skipped_when_encryption_starts() {
    let sh = server_hello(0x81);
    let cert = vec![0, 0, 0];
    // ServerHello seq 0 seen, Certificate seq 1 lost, ServerHelloDone seq 2 waits.
    let mut d = DtlsDir::new(DtlsLimits::default());
    let got = feed(&mut d, &[&hs_record(0, &msg(2, 0, &sh)), &hs_record(2, &msg(14, 2, &[]))]);
    assert_eq!(got, vec![Owned::Hs(2, sh)]);
    let got = feed(&mut d, &[&record(20, DTLS_1_2, 0, 3, &[1])]);
    assert_eq!(got, vec![Owned::Hs(14, vec![]), Owned::Ccs]);
    let st = d.stats();
    assert_eq!((st.gaps_skipped, st.buffered_bytes), (1, 0));
    // The lost message arriving late is behind: dropped.
    assert!(feed(&mut d, &[&hs_record(1, &msg(11, 1, &cert))]).is_empty());
}

#[test]
fn a_new_handshake_on_the_same_flow_restarts() {
    let a = client_hello(0x91, &[]);
    let b = client_hello(0x92, &[]);
    let (got, st) = run(&[
        &hs_record(0, &msg(1, 0, &a)),
        &hs_record(1, &msg(16, 1, &[1, 2, 3])),
        &hs_record(2, &msg(1, 0, &a)),
        &hs_record(0, &msg(1, 0, &b)),
        &hs_record(1, &msg(1, 0, &b)),
    ]);
    assert_eq!(got, vec![Owned::Hs(1, a), Owned::Hs(16, vec![1, 2, 3]), Owned::Hs(1, b)]);
    assert_eq!(st.restarts, 1);
}

#[test]
fn caps_bound_memory_and_are_counted() {
    let limits =
        DtlsLimits { max_handshake_message: 1000, max_buffered_bytes: 3000, max_pending_messages: 3 };
    // A message declaring 16 MB: dropped, nothing buffered.
    let mut d = DtlsDir::new(limits);
    let mut huge = vec![1, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 4];
    huge.extend_from_slice(&[0xfe, 0xfd, 0, 0]);
    assert!(feed(&mut d, &[&hs_record(0, &huge)]).is_empty());
    let st = d.stats();
    assert_eq!((st.too_large, st.buffered_bytes), (1, 0));
    // First fragments of many messages after the hello: only three are held.
    let mut d = DtlsDir::new(limits);
    let ch = client_hello(0xa1, &[]);
    feed(&mut d, &[&hs_record(0, &frag(1, 0, &ch, 0, 10))]);
    let big = vec![7u8; 900];
    for seq in 1..10u16 {
        feed(&mut d, &[&hs_record(u64::from(seq), &frag(11, seq, &big, 0, 10))]);
    }
    let st = d.stats();
    assert!(st.buffered_bytes <= limits.max_buffered_bytes, "{st:?}");
    assert!(st.capped_fragments >= 6, "{st:?}");
    // The hello's own missing bytes still get in (later messages make room).
    let got = feed(&mut d, &[&hs_record(20, &frag(1, 0, &ch, 10, ch.len() - 10))]);
    assert_eq!(got, vec![Owned::Hs(1, ch)]);
    // Bytes cap: two 900-byte messages (1013 bytes each with the map) fit, the third
    // does not unless it comes earlier in message_seq order and evicts a later one.
    let mut d = DtlsDir::new(DtlsLimits { max_pending_messages: 16, ..limits });
    feed(&mut d, &[&hs_record(0, &frag(2, 0, &server_hello(1), 0, 5))]);
    for seq in [3u16, 2, 1] {
        feed(&mut d, &[&hs_record(9, &frag(11, seq, &big, 0, 1))]);
    }
    let st = d.stats();
    assert!(st.buffered_bytes <= 3000, "{st:?}");
    assert_eq!(st.dropped_messages, 1, "{st:?}");
}

#[test]
fn not_dtls_is_skipped_without_harm() {
    // A STUN binding request, an RTP packet, TLS, and an empty datagram.
    let stun = [0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    let rtp = [0x80, 0x60, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 0xaa, 0xbb];
    let tls = [22, 3, 1, 0, 5, 1, 0, 0, 1, 0];
    let ch = client_hello(0xb1, &[]);
    let good = hs_record(0, &msg(1, 0, &ch));
    let mut tail = good.clone();
    tail.extend_from_slice(&stun);
    let (got, st) = run(&[&stun, &rtp, &tls, &[], &tail]);
    assert_eq!(got, vec![Owned::Hs(1, ch)]);
    assert_eq!((st.not_dtls, st.trailing_garbage), (3, 1));
    for p in [&stun[..], &rtp, &tls, &[]] {
        assert!(!looks_like_client_hello(p));
    }
}

#[test]
fn detector() {
    let ch = client_hello(0xc1, &[]);
    let dg = hs_record(0, &msg(1, 0, &ch));
    assert!(looks_like_client_hello(&dg));
    assert!(looks_like_client_hello(&dg[..40]), "cut by a snaplen");
    assert!(looks_like_client_hello(&record(22, DTLS_1_0, 0, 0, &msg(1, 0, &ch))));
    assert!(looks_like_client_hello(&record(22, DTLS_1_3, 0, 0, &msg(1, 0, &ch))));
    // A later fragment first (reordered).
    assert!(looks_like_client_hello(&hs_record(1, &frag(1, 0, &ch, 50, 40))));
    assert!(!looks_like_client_hello(&record(22, 0x0303, 0, 0, &msg(1, 0, &ch))));
    assert!(!looks_like_client_hello(&record(22, DTLS_1_2, 1, 0, &msg(1, 0, &ch))));
    assert!(!looks_like_client_hello(&hs_record(0, &msg(2, 0, &server_hello(1)))));
    assert!(!looks_like_client_hello(&record(23, DTLS_1_2, 0, 0, &msg(1, 0, &ch))));
    let mut tls_inside = ch.clone();
    tls_inside[0] = 3;
    assert!(!looks_like_client_hello(&hs_record(0, &msg(1, 0, &tls_inside))));
    assert!(!looks_like_client_hello(&dg[..24]));
}

#[test]
fn random_mutations_never_panic_and_stay_bounded() {
    let limits =
        DtlsLimits { max_handshake_message: 4096, max_buffered_bytes: 8192, max_pending_messages: 4 };
    let ch = client_hello(0xd1, &[9; 16]);
    let mut base: Vec<Vec<u8>> = four_fragments(&ch);
    base.push(hs_record(5, &msg(2, 0, &server_hello(3))));
    let mut mixed = record(20, DTLS_1_2, 0, 6, &[1]);
    mixed.extend(record(22, DTLS_1_2, 1, 0, &[0; 24]));
    mixed.extend_from_slice(&[0x2e, 0, 1, 0, 2, 1, 2]);
    base.push(mixed);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut d = DtlsDir::new(limits);
    let mut messages = 0;
    for _ in 0..20_000 {
        let mut dg = base[(rnd() % base.len() as u64) as usize].clone();
        for _ in 0..(rnd() % 4) {
            let i = (rnd() % dg.len() as u64) as usize;
            dg[i] = rnd() as u8;
        }
        let cut = if rnd() % 4 == 0 { (rnd() % (dg.len() as u64 + 1)) as usize } else { dg.len() };
        d.datagram(&dg[..cut], &mut |i| messages += usize::from(matches!(i, TlsItem::Handshake { .. })));
        if rnd() % 100 == 0 {
            d = DtlsDir::new(limits);
        }
        assert!(d.buffered() <= limits.max_buffered_bytes);
        assert!(d.pending.len() <= limits.max_pending_messages);
        let _ = looks_like_client_hello(&dg[..cut]);
    }
    // Some mutated inputs still reassemble (the mutations hit other bytes).
    assert!(messages > 50, "{messages}");
}
