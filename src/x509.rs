//! Certificate facts: the DER certificates of a TLS Certificate message, and what events
//! report about each one.
//!
//! Certificates are parsed with `x509-parser` (the crate Suricata uses), so names are
//! written exactly as Suricata's EVE `tls.subject` / `tls.issuerdn` write them whenever
//! Suricata can write them at all; where Suricata gives up on a whole name (a value that
//! is not valid text), this module still writes every value (see [`CertInfo::subject`]).
//! Everything in [`CertInfo`] is owned, so the message buffer can be dropped.
//!
//! JA4X (FoxIO License 1.1) is a separate function, [`ja4x`], computed only when the
//! caller asks for it (when the operator turned JA4+ on).

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::{Any, Oid, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::objects::{oid_registry, oid2abbrev};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::fingerprint::{hex, sha256_12};
use crate::time::civil_from_days;
use crate::tls::reader::{ParseError, Reader};

/// Most certificates returned from one Certificate message. Real chains have 2 to 5; the
/// rest of a longer list is counted in [`CertificateList::dropped`], not returned.
pub const MAX_CERTIFICATES: usize = 32;

/// The certificates of one Certificate handshake message, read laxly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateList<'a> {
    /// DER certificates in message order (the sender's own certificate first), at most
    /// [`MAX_CERTIFICATES`]. An entry is returned as sent, even if it is empty.
    pub certs: Vec<&'a [u8]>,
    /// Whole entries present beyond [`MAX_CERTIFICATES`].
    pub dropped: usize,
    /// Where reading stopped early: a list length beyond the message, or an entry (or, in
    /// TLS 1.3, its extension block) running past the list. The entries before it are in
    /// `certs`.
    pub error: Option<ParseError>,
}

/// Reads the certificate list of a Certificate message body (after the 4-byte handshake
/// header).
///
/// TLS ≤ 1.2: a u24 list length, then u24-prefixed certificates. TLS 1.3 (`tls13`): a u8-
/// prefixed request context first, and a u16-prefixed extension block after each
/// certificate. Only a body too short for the context or the list length is an `Err`;
/// a malformed entry ends the list and is noted in [`CertificateList::error`].
pub fn certificate_list(body: &[u8], tls13: bool) -> Result<CertificateList<'_>, ParseError> {
    let mut r = Reader::new(body);
    if tls13 {
        r.vec8("certificate_request_context")?;
    }
    let declared = r.u24("certificate_list length")? as usize;
    let mut out = CertificateList::default();
    let n = if declared > r.remaining() {
        out.error = Some(ParseError { what: "certificate_list", offset: r.offset() });
        r.remaining()
    } else {
        declared
    };
    let mut list = r.sub(n, "certificate_list")?;
    while !list.is_empty() {
        let entry = list.u24("certificate length").and_then(|len| list.bytes(len as usize, "certificate"));
        let cert = match entry {
            Ok(c) => c,
            Err(e) => {
                out.error.get_or_insert(e);
                break;
            }
        };
        if out.certs.len() < MAX_CERTIFICATES {
            out.certs.push(cert);
        } else {
            out.dropped += 1;
        }
        if tls13 {
            if let Err(e) = list.vec16("certificate extensions") {
                out.error.get_or_insert(e);
                break;
            }
        }
    }
    Ok(out)
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertError {
    /// The bytes end inside the certificate.
    Truncated,
    /// The named part of the certificate is malformed.
    Malformed(&'static str),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Truncated => f.write_str("certificate truncated"),
            CertError::Malformed(what) => write!(f, "malformed certificate: {what}"),
        }
    }
}

impl std::error::Error for CertError {}

impl CertError {
    /// Classifies a parse failure of `der`. x509-parser reports a cut certificate as a
    /// generic end-of-input error, so truncation is decided from the outer length here;
    /// with the outer TLV whole, running out of input means an inner length overran it.
    fn of(e: x509_parser::nom::Err<X509Error>, der: &[u8]) -> CertError {
        use x509_parser::nom::Err;
        if outer_runs_past(der) {
            return CertError::Truncated;
        }
        let e = match e {
            Err::Incomplete(_) => return CertError::Malformed("inner length"),
            Err::Error(e) | Err::Failure(e) => e,
        };
        CertError::Malformed(match e {
            X509Error::Der(x509_parser::asn1_rs::Error::Incomplete(_)) => "inner length",
            X509Error::Der(_) | X509Error::NomError(_) => "DER structure",
            X509Error::InvalidVersion => "version",
            X509Error::InvalidSerial => "serial number",
            X509Error::InvalidAlgorithmIdentifier => "algorithm identifier",
            X509Error::InvalidX509Name => "name",
            X509Error::InvalidDate => "validity",
            X509Error::InvalidSPKI => "subject public key info",
            X509Error::InvalidSubjectUID | X509Error::InvalidIssuerUID => "unique identifier",
            X509Error::InvalidExtensions | X509Error::DuplicateExtensions => "extensions",
            X509Error::InvalidSignatureValue => "signature value",
            X509Error::InvalidTbsCertificate => "tbsCertificate",
            _ => "certificate",
        })
    }
}

/// What events report about one certificate. All strings are owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// X.509 version as a number: 1, 2 or 3.
    pub version: u32,
    /// Subject DN in Suricata's EVE form: `C=US, ST=California, O=GitHub, Inc., CN=…`.
    ///
    /// RDNs in certificate order joined by `", "`, the attributes of a multi-valued RDN
    /// joined by `" + "`. Attribute names are x509-parser's, as Suricata prints them: `C`,
    /// `ST`, `L`, `O`, `OU`, `CN`, `DC` and `Email` (emailAddress), the OID registry's short
    /// name for other known types (`serialNumber`, `uid`, `streetAddress`, `postalCode`,
    /// `businessCategory`, `msJurisdictionCountry`, …) and `OID(2.5.4.97)` (the OID's
    /// debug form) for unknown ones. Values are written as they are, with no escaping: a
    /// NUL byte stays a `'\0'`. BMPStrings are decoded from UTF-16; value types that are
    /// not strings (UniversalString included) are written as uppercase hex of their
    /// content. Where Suricata would replace the whole name with `<X509Error: Invalid X.509
    /// name>` (bytes that are not valid UTF-8 / UTF-16), each value is still written: a
    /// T61String as Latin-1, anything else with U+FFFD for the bad bytes (and an anomaly is
    /// noted). An empty name is an empty string.
    pub subject: String,
    /// Issuer DN, written as `subject` is.
    pub issuer: String,
    /// Serial number: the DER integer's content bytes, uppercase hex joined by `:`, as
    /// Suricata writes it (a leading `00` sign byte is kept: `00:8A:07:…`).
    pub serial: String,
    /// SHA-1 of the certificate bytes as given: lowercase hex joined by `:` (Suricata's
    /// `tls.fingerprint`).
    pub sha1_fingerprint: String,
    /// SHA-256 of the certificate bytes as given: lowercase hex, no separators (Zeek's
    /// `cert_chain_fps`).
    pub sha256: String,
    /// notBefore as `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub not_before: String,
    /// notAfter as `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub not_after: String,
    /// notBefore in Unix seconds (negative before 1970).
    pub not_before_unix: i64,
    /// notAfter in Unix seconds.
    pub not_after_unix: i64,
    /// subjectAltName entries in certificate order: DNS names, email addresses (rfc822Name)
    /// and URIs as they are; IP addresses as text (`192.0.2.7`, `2001:db8::1`; another
    /// length as colon-joined hex); `DirName:<DN written as subject is>`,
    /// `RID:<dotted OID>`, `othername:<dotted OID>`, `X400Name` and `EdiPartyName`. A
    /// string entry that is not valid UTF-8 is written with U+FFFD for the bad bytes.
    pub san: Vec<String>,
    /// Public key type: `RSA`, `RSA-PSS`, `EC`, `DSA`, `DH`, `Ed25519`, `Ed448`, `X25519`,
    /// `X448`, `ML-DSA-44`/`-65`/`-87`, `SM2`, or the dotted algorithm OID.
    pub key_type: String,
    /// Key size in bits: the RSA modulus, the EC curve (from the point when the curve is
    /// unknown), DSA's p; for other types the public key bit string (Ed25519 256, Ed448
    /// 456, ML-DSA-44 10496, as OpenSSL and Zeek count them). `None` when unreadable.
    pub key_bits: Option<u32>,
    /// EC curve by OpenSSL's name (`prime256v1`, `secp384r1`, `secp521r1`,
    /// `brainpoolP256r1`, …) or dotted OID; `None` for other key types and for explicit
    /// curve parameters (noted as an anomaly).
    pub curve: Option<String>,
    /// Signature algorithm by OpenSSL's long name (`sha256WithRSAEncryption`,
    /// `ecdsa-with-SHA256`, `rsassaPss`, `ED25519`, …) or dotted OID.
    pub signature_algorithm: String,
    /// basicConstraints cA (false when the extension is absent).
    pub is_ca: bool,
    /// basicConstraints pathLenConstraint.
    pub path_len: Option<u32>,
    /// keyUsage bits set, by RFC 5280 name (`digitalSignature`, `nonRepudiation`,
    /// `keyEncipherment`, `dataEncipherment`, `keyAgreement`, `keyCertSign`, `cRLSign`,
    /// `encipherOnly`, `decipherOnly`), in bit order.
    pub key_usage: Vec<String>,
    /// extendedKeyUsage purposes in certificate order, by OpenSSL short name
    /// (`serverAuth`, `clientAuth`, `codeSigning`, `emailProtection`, `timeStamping`,
    /// `OCSPSigning`, `anyExtendedKeyUsage`, `msSGC`, `nsSGC`, …) or dotted OID.
    pub ext_key_usage: Vec<String>,
    /// Subject and issuer DNs are the same bytes (the signature is not checked).
    pub self_signed: bool,
    /// The SCT list extension (1.3.6.1.4.1.11129.2.4.2) is present.
    pub has_sct: bool,
    /// Oddities that did not stop parsing.
    pub anomalies: Vec<&'static str>,
}

/// Parses one DER certificate. Bytes after the certificate are ignored (and noted); the
/// fingerprints cover `der` as given, as Suricata and Zeek hash the certificate entry.
// Not inlined (called once per certificate not in the cache): a frame of its own in
// profiles under LTO.
#[inline(never)]
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, CertError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| CertError::of(e, der))?;
    let mut info = CertInfo::default();
    if !rest.is_empty() {
        info.anomalies.push("bytes after the certificate");
    }
    let tbs = &cert.tbs_certificate;
    info.version = tbs.version.0.saturating_add(1);
    info.subject = dn_string(&tbs.subject, &mut info.anomalies);
    info.issuer = dn_string(&tbs.issuer, &mut info.anomalies);
    info.self_signed = tbs.subject.as_raw() == tbs.issuer.as_raw();
    info.serial = colon_hex(tbs.raw_serial(), true);
    info.sha1_fingerprint = colon_hex(&Sha1::digest(der), false);
    info.sha256 = hex(&Sha256::digest(der));
    info.not_before_unix = tbs.validity.not_before.timestamp();
    info.not_after_unix = tbs.validity.not_after.timestamp();
    info.not_before = iso_time(info.not_before_unix);
    info.not_after = iso_time(info.not_after_unix);
    info.signature_algorithm = signature_name(&cert.signature_algorithm.algorithm);
    public_key(&cert, &mut info);
    let mut seen: Vec<&Oid<'_>> = Vec::new();
    for ext in tbs.extensions() {
        if seen.contains(&&ext.oid) {
            // The first occurrence counts, as in most verifiers that accept duplicates.
            info.anomalies.push("duplicate extension");
            continue;
        }
        seen.push(&ext.oid);
        extension(ext, &mut info);
    }
    Ok(info)
}

/// JA4X (FoxIO License 1.1) of one DER certificate, as `(ja4x, ja4x_r)`; `None` when the
/// certificate cannot be parsed.
///
/// Three lists, each the attribute-type or extension OIDs in certificate order, written as
/// lowercase hex of the OID's DER content bytes and joined by `,`: the issuer's RDN
/// attributes, the subject's, and the extensions. `ja4x_r` is the three lists joined by
/// `_`; `ja4x` is the first 12 hex characters of the SHA-256 of each list joined by `_`
/// (`000000000000` for an empty list).
pub fn ja4x(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let attr_oids = |n: &X509Name<'_>| {
        n.iter_attributes().map(|a| hex(a.attr_type().as_bytes())).collect::<Vec<_>>().join(",")
    };
    let parts = [
        attr_oids(&tbs.issuer),
        attr_oids(&tbs.subject),
        tbs.extensions().iter().map(|e| hex(e.oid.as_bytes())).collect::<Vec<_>>().join(","),
    ];
    let hashed = parts.iter().map(|p| sha256_12(p)).collect::<Vec<_>>().join("_");
    Some((hashed, parts.join("_")))
}

/// Hex of `b`, two digits per byte joined by `:`.
fn colon_hex(b: &[u8], upper: bool) -> String {
    let h = if upper { hex(b).to_ascii_uppercase() } else { hex(b) };
    let mut s = String::with_capacity(b.len() * 3);
    for (i, pair) in h.as_bytes().chunks(2).enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.extend(pair.iter().map(|&c| c as char));
    }
    s
}

/// Unix seconds to `YYYY-MM-DDTHH:MM:SS`.
fn iso_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

/// A DN as Suricata writes it (x509-parser's `X509Name` Display), with per-value fallbacks
/// where that Display fails for the whole name.
fn dn_string(name: &X509Name<'_>, anomalies: &mut Vec<&'static str>) -> String {
    let mut s = String::new();
    for (i, rdn) in name.iter_rdn().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                s.push_str(" + ");
            }
            match oid2abbrev(attr.attr_type(), oid_registry()) {
                Ok(abbrev) => s.push_str(abbrev),
                Err(_) => s.push_str(&format!("{:?}", attr.attr_type())),
            }
            s.push('=');
            s.push_str(&value_string(attr.attr_value(), anomalies));
        }
    }
    s
}

/// One attribute value, as x509-parser writes it when it can.
fn value_string<'a>(v: &Any<'a>, anomalies: &mut Vec<&'static str>) -> Cow<'a, str> {
    match v.tag() {
        Tag::NumericString
        | Tag::VisibleString
        | Tag::PrintableString
        | Tag::GeneralString
        | Tag::ObjectDescriptor
        | Tag::GraphicString
        | Tag::T61String
        | Tag::VideotexString
        | Tag::Utf8String
        | Tag::Ia5String => match std::str::from_utf8(v.data) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                anomalies.push("name value is not valid UTF-8");
                if v.tag() == Tag::T61String {
                    // Teletex strings in the wild are Latin-1, as OpenSSL reads them.
                    Cow::Owned(v.data.iter().map(|&b| char::from(b)).collect())
                } else {
                    String::from_utf8_lossy(v.data)
                }
            }
        },
        Tag::BmpString => {
            // UTF-16BE; an odd last byte counts as one code unit, as x509-parser reads it.
            let units: Vec<u16> = v
                .data
                .chunks(2)
                .map(|c| match c {
                    [a, b] => u16::from_be_bytes([*a, *b]),
                    [a] => u16::from(*a),
                    _ => 0,
                })
                .collect();
            match String::from_utf16(&units) {
                Ok(s) => Cow::Owned(s),
                Err(_) => {
                    anomalies.push("name value is not valid UTF-16");
                    Cow::Owned(String::from_utf16_lossy(&units))
                }
            }
        }
        _ => Cow::Owned(hex(v.data).to_ascii_uppercase()),
    }
}

fn public_key(cert: &X509Certificate<'_>, info: &mut CertInfo) {
    let spki = &cert.tbs_certificate.subject_pki;
    let alg = spki.algorithm.algorithm.to_id_string();
    let key_bits_string = || {
        let bits = spki.subject_public_key.data.len() * 8;
        u32::try_from(bits.saturating_sub(usize::from(spki.subject_public_key.unused_bits))).ok()
    };
    let name = match alg.as_str() {
        "1.2.840.113549.1.1.1" => Some("RSA"),
        "1.2.840.113549.1.1.10" => Some("RSA-PSS"),
        "1.2.840.10045.2.1" => Some("EC"),
        "1.2.840.10040.4.1" => Some("DSA"),
        "1.2.840.10046.2.1" | "1.2.840.113549.1.3.1" => Some("DH"),
        "1.3.101.110" => Some("X25519"),
        "1.3.101.111" => Some("X448"),
        "1.3.101.112" => Some("Ed25519"),
        "1.3.101.113" => Some("Ed448"),
        "2.16.840.1.101.3.4.3.17" => Some("ML-DSA-44"),
        "2.16.840.1.101.3.4.3.18" => Some("ML-DSA-65"),
        "2.16.840.1.101.3.4.3.19" => Some("ML-DSA-87"),
        "1.2.156.10197.1.301" => Some("SM2"),
        _ => None,
    };
    info.key_type = name.map_or(alg, str::to_string);
    info.key_bits = match info.key_type.as_str() {
        "RSA" | "RSA-PSS" => {
            // An RSA-PSS key is an RSAPublicKey too; x509-parser only reads it for rsaEncryption.
            der_tlv(&spki.subject_public_key.data)
                .filter(|(tag, _, _)| *tag == 0x30)
                .and_then(|(_, seq, _)| der_tlv(seq))
                .filter(|(tag, _, _)| *tag == 0x02)
                .and_then(|(_, modulus, _)| integer_bits(modulus))
        }
        "EC" => {
            let params = spki.algorithm.parameters.as_ref();
            match params.filter(|p| p.tag() == Tag::Oid) {
                Some(p) => {
                    let oid = Oid::new(Cow::Borrowed(p.data)).to_id_string();
                    let (name, bits) = curve(&oid);
                    info.curve = Some(name.map_or(oid, str::to_string));
                    bits
                }
                None => {
                    info.anomalies.push("EC key without a named curve");
                    None
                }
            }
            .or_else(|| match &*spki.subject_public_key.data {
                // Uncompressed point 04 || X || Y, or compressed 02/03 || X.
                [4, xy @ ..] if !xy.is_empty() => u32::try_from(xy.len() / 2 * 8).ok(),
                [2 | 3, x @ ..] if !x.is_empty() => u32::try_from(x.len() * 8).ok(),
                _ => None,
            })
        }
        "DSA" => spki
            .algorithm
            .parameters
            .as_ref()
            .filter(|p| p.tag() == Tag::Sequence)
            .and_then(|p| der_tlv(p.data))
            .filter(|(tag, _, _)| *tag == 0x02)
            .and_then(|(_, prime, _)| integer_bits(prime)),
        _ => key_bits_string(),
    };
}

/// True when `der` is too short for its outer TLV header or for the length it declares.
fn outer_runs_past(der: &[u8]) -> bool {
    match der {
        [] | [_] => true,
        [_, first, rest @ ..] if *first < 0x80 => rest.len() < usize::from(*first),
        [_, first, rest @ ..] => {
            let n = usize::from(first & 0x7f);
            if n > 4 {
                return false;
            }
            let Some(len_bytes) = rest.get(..n) else { return true };
            let len = len_bytes.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
            rest.len() - n < len
        }
    }
}

/// Bit length of a DER INTEGER's content (leading zero bytes ignored).
fn integer_bits(b: &[u8]) -> Option<u32> {
    let first = b.iter().position(|&x| x != 0)?;
    let n = b.len() - first;
    u32::try_from(n * 8 - b[first].leading_zeros() as usize).ok()
}

/// One DER TLV with a single-byte tag: (tag, content, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        b = &b[n..];
        len
    };
    if b.len() < len {
        return None;
    }
    Some((tag, &b[..len], &b[len..]))
}

/// OpenSSL's name and the size in bits of a named curve.
fn curve(oid: &str) -> (Option<&'static str>, Option<u32>) {
    let (name, bits) = match oid {
        "1.2.840.10045.3.1.7" => ("prime256v1", 256),
        "1.3.132.0.34" => ("secp384r1", 384),
        "1.3.132.0.35" => ("secp521r1", 521),
        "1.3.132.0.10" => ("secp256k1", 256),
        "1.3.132.0.33" => ("secp224r1", 224),
        "1.2.840.10045.3.1.1" => ("prime192v1", 192),
        "1.3.36.3.3.2.8.1.1.7" => ("brainpoolP256r1", 256),
        "1.3.36.3.3.2.8.1.1.11" => ("brainpoolP384r1", 384),
        "1.3.36.3.3.2.8.1.1.13" => ("brainpoolP512r1", 512),
        "1.2.156.10197.1.301" => ("SM2", 256),
        _ => return (None, None),
    };
    (Some(name), Some(bits))
}

/// OpenSSL's long name of a signature algorithm, or the dotted OID.
fn signature_name(oid: &Oid<'_>) -> String {
    let dotted = oid.to_id_string();
    let name = match dotted.as_str() {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.3" => "md4WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.3.14.3.2.3" => "md5WithRSA",
        "1.3.14.3.2.29" => "sha1WithRSA",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsaWithSHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa_with_SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        "2.16.840.1.101.3.4.3.10" => "ecdsa_with_SHA3-256",
        "2.16.840.1.101.3.4.3.11" => "ecdsa_with_SHA3-384",
        "2.16.840.1.101.3.4.3.12" => "ecdsa_with_SHA3-512",
        "2.16.840.1.101.3.4.3.14" => "RSA-SHA3-256",
        "2.16.840.1.101.3.4.3.15" => "RSA-SHA3-384",
        "2.16.840.1.101.3.4.3.16" => "RSA-SHA3-512",
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44",
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65",
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        "1.2.156.10197.1.501" => "SM2-with-SM3",
        _ => return dotted,
    };
    name.to_string()
}

/// OpenSSL's short name of an extended key usage purpose, or the dotted OID.
fn eku_name(dotted: String) -> String {
    let name = match dotted.as_str() {
        "1.3.6.1.5.5.7.3.1" => "serverAuth",
        "1.3.6.1.5.5.7.3.2" => "clientAuth",
        "1.3.6.1.5.5.7.3.3" => "codeSigning",
        "1.3.6.1.5.5.7.3.4" => "emailProtection",
        "1.3.6.1.5.5.7.3.5" => "ipsecEndSystem",
        "1.3.6.1.5.5.7.3.6" => "ipsecTunnel",
        "1.3.6.1.5.5.7.3.7" => "ipsecUser",
        "1.3.6.1.5.5.7.3.8" => "timeStamping",
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning",
        "1.3.6.1.5.5.7.3.17" => "ipsecIKE",
        "2.5.29.37.0" => "anyExtendedKeyUsage",
        "1.3.6.1.4.1.311.10.3.3" => "msSGC",
        "1.3.6.1.4.1.311.10.3.4" => "msEFS",
        "1.3.6.1.4.1.311.20.2.2" => "msSmartcardLogin",
        "1.3.6.1.4.1.311.2.1.21" => "msCodeInd",
        "1.3.6.1.4.1.311.2.1.22" => "msCodeCom",
        "2.16.840.1.113730.4.1" => "nsSGC",
        _ => return dotted,
    };
    name.to_string()
}

const KEY_USAGE_BITS: [&str; 9] = [
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

fn extension(ext: &X509Extension<'_>, info: &mut CertInfo) {
    match ext.oid.to_id_string().as_str() {
        "2.5.29.19" => match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                info.is_ca = bc.ca;
                info.path_len = bc.path_len_constraint;
            }
            _ => info.anomalies.push("basicConstraints unreadable"),
        },
        "2.5.29.17" => match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                info.san = san.general_names.iter().map(|g| san_string(g, &mut info.anomalies)).collect();
            }
            _ => info.anomalies.push("subjectAltName unreadable"),
        },
        "2.5.29.15" => {
            // KeyUsage ::= BIT STRING; bit 0 is the most significant bit of the first byte.
            match der_tlv(ext.value) {
                Some((0x03, [_unused, bits @ ..], _)) => {
                    for (i, name) in KEY_USAGE_BITS.iter().enumerate() {
                        if bits.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0) {
                            info.key_usage.push(name.to_string());
                        }
                    }
                }
                _ => info.anomalies.push("keyUsage unreadable"),
            }
        }
        "2.5.29.37" => match der_tlv(ext.value) {
            Some((0x30, mut seq, _)) => {
                while let Some((tag, oid, rest)) = der_tlv(seq) {
                    if tag != 0x06 {
                        info.anomalies.push("extendedKeyUsage unreadable");
                        break;
                    }
                    info.ext_key_usage.push(eku_name(Oid::new(Cow::Borrowed(oid)).to_id_string()));
                    seq = rest;
                }
                if !seq.is_empty() && der_tlv(seq).is_none() {
                    info.anomalies.push("extendedKeyUsage unreadable");
                }
            }
            _ => info.anomalies.push("extendedKeyUsage unreadable"),
        },
        "1.3.6.1.4.1.11129.2.4.2" => info.has_sct = true,
        _ => {}
    }
}

fn san_string(g: &GeneralName<'_>, anomalies: &mut Vec<&'static str>) -> String {
    match g {
        GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => s.to_string(),
        GeneralName::IPAddress(b) => match b.len() {
            4 => Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Ipv6Addr::from(a).to_string()
            }
            _ => colon_hex(b, false),
        },
        GeneralName::DirectoryName(n) => format!("DirName:{}", dn_string(n, anomalies)),
        GeneralName::RegisteredID(oid) => format!("RID:{}", oid.to_id_string()),
        GeneralName::OtherName(oid, _) => format!("othername:{}", oid.to_id_string()),
        GeneralName::X400Address(_) => "X400Name".to_string(),
        GeneralName::EDIPartyName(_) => "EdiPartyName".to_string(),
        GeneralName::Invalid(_, b) => {
            // A string entry that is not valid UTF-8 (x509-parser only accepts UTF-8 text).
            anomalies.push("subjectAltName entry is not valid UTF-8");
            String::from_utf8_lossy(b).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &[u8] = include_bytes!("../tests/data/certs/ca-pathlen1.der");
    const LEAF: &[u8] = include_bytes!("../tests/data/certs/rsa-leaf-san.der");
    const EC: &[u8] = include_bytes!("../tests/data/certs/ec-p256-self-signed.der");
    const OLD: &[u8] = include_bytes!("../tests/data/certs/expired-pre1970.der");
    const ED: &[u8] = include_bytes!("../tests/data/certs/ed25519-bmp-multivalue.der");
    const ALL: [&[u8]; 5] = [CA, LEAF, EC, OLD, ED];

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rsa_leaf_with_sans() {
        let c = parse_certificate(LEAF).unwrap();
        assert_eq!(c.version, 3);
        assert_eq!(
            c.subject,
            "C=US, ST=California, L=San Francisco, O=Example, Inc., CN=www.example.test, \
             Email=admin@example.test"
        );
        assert_eq!(c.issuer, "C=US, O=Hellotap Test, OU=Test CA, CN=Hellotap Test Root");
        assert_eq!(c.serial, "10:01");
        assert_eq!(c.sha1_fingerprint, "6b:03:76:47:5e:ab:46:db:0b:12:51:a4:26:24:d2:81:4f:b5:9a:41");
        assert_eq!(c.sha256, "f68aad4387b8c13329e2f41c3fdd60cb22e7fb084b096732aeef39eb293b2f04");
        assert_eq!(
            (c.not_before.as_str(), c.not_after.as_str()),
            ("2024-06-01T12:00:00", "2035-06-01T12:00:00")
        );
        assert_eq!((c.not_before_unix, c.not_after_unix), (1_717_243_200, 2_064_312_000));
        assert_eq!(
            c.san,
            strings(&[
                "www.example.test",
                "example.test",
                "192.0.2.7",
                "2001:db8::1",
                "admin@example.test",
                "https://example.test/"
            ])
        );
        assert_eq!((c.key_type.as_str(), c.key_bits, c.curve.as_deref()), ("RSA", Some(2048), None));
        assert_eq!(c.signature_algorithm, "sha256WithRSAEncryption");
        assert_eq!((c.is_ca, c.path_len), (false, None));
        assert_eq!(c.key_usage, strings(&["digitalSignature", "keyEncipherment"]));
        assert_eq!(c.ext_key_usage, strings(&["serverAuth", "clientAuth"]));
        assert!(!c.self_signed && !c.has_sct && c.anomalies.is_empty());
    }

    #[test]
    fn ca_with_pathlen_and_generalized_time() {
        let c = parse_certificate(CA).unwrap();
        assert_eq!((c.is_ca, c.path_len), (true, Some(1)));
        assert_eq!(c.key_usage, strings(&["keyCertSign", "cRLSign"]));
        assert!(c.ext_key_usage.is_empty() && c.san.is_empty());
        assert!(c.self_signed);
        // notAfter 2051 is a GeneralizedTime.
        assert_eq!(
            (c.not_before.as_str(), c.not_after.as_str()),
            ("2024-01-01T00:00:00", "2051-01-01T00:00:00")
        );
        assert_eq!(c.not_after_unix, 2_556_144_000);
    }

    #[test]
    fn ec_self_signed() {
        let c = parse_certificate(EC).unwrap();
        assert_eq!(c.subject, "O=Hellotap, CN=ec.example.test");
        assert_eq!(c.subject, c.issuer);
        assert!(c.self_signed);
        assert_eq!(c.serial, "27:C6:EE:A3:E2:38:99:D7:AA:EC:73:2A:50:8C:80:9E:4A:C2:C9:88");
        assert_eq!(
            (c.key_type.as_str(), c.key_bits, c.curve.as_deref()),
            ("EC", Some(256), Some("prime256v1"))
        );
        assert_eq!(c.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(c.san, strings(&["ec.example.test"]));
        assert_eq!(c.ext_key_usage, strings(&["serverAuth"]));
        assert_eq!(c.key_usage, strings(&["digitalSignature"]));
    }

    #[test]
    fn expired_and_before_1970() {
        let c = parse_certificate(OLD).unwrap();
        assert_eq!(c.not_before, "1969-12-31T00:00:00");
        assert_eq!(c.not_before_unix, -86_400);
        assert_eq!(c.not_after, "2001-01-01T00:00:00");
        assert_eq!(c.not_after_unix, 978_307_200);
        assert_eq!(c.subject, "CN=old.example.test");
        assert_eq!((c.is_ca, c.path_len), (false, None));
    }

    #[test]
    fn ed25519_bmpstring_and_multivalued_rdn() {
        let c = parse_certificate(ED).unwrap();
        // DER sorts the SET: uid before CN.
        assert_eq!(c.subject, "O=Zürich Straße, uid=ed1 + CN=ed.example.test");
        assert_eq!((c.key_type.as_str(), c.key_bits), ("Ed25519", Some(256)));
        assert_eq!(c.signature_algorithm, "ED25519");
        assert!(c.anomalies.is_empty());
    }

    #[test]
    fn names_match_x509_parser_display() {
        // Where x509-parser can write a name, ours is the same string (Suricata's).
        for der in ALL {
            let (_, cert) = X509Certificate::from_der(der).unwrap();
            let c = parse_certificate(der).unwrap();
            assert_eq!(c.subject, cert.subject().to_string());
            assert_eq!(c.issuer, cert.issuer().to_string());
        }
    }

    /// `der` with the first occurrence of `from` replaced by `to` (same length).
    fn patched(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let at = der.windows(from.len()).position(|w| w == from).expect("pattern present");
        let mut v = der.to_vec();
        v[at..at + to.len()].copy_from_slice(to);
        v
    }

    #[test]
    fn odd_name_bytes_are_kept() {
        // A NUL inside a CN (UTF8String, tag 0x0c) stays a NUL, as in tls-subject-zero.
        let cn = b"\x0c\x10old.example";
        let nul = patched(OLD, cn, b"\x0c\x10old\x00example");
        let c = parse_certificate(&nul).unwrap();
        assert_eq!(c.subject, "CN=old\0example.test");
        assert!(c.anomalies.is_empty());
        // Latin-1 in a T61String (0x14), which x509-parser's Display cannot write at all.
        let t61 = patched(OLD, cn, b"\x14\x10old\xe9example");
        let c = parse_certificate(&t61).unwrap();
        assert_eq!(c.subject, "CN=oldéexample.test");
        assert_eq!(c.anomalies, vec!["name value is not valid UTF-8"]);
        let (_, cert) = X509Certificate::from_der(&t61).unwrap();
        assert_eq!(cert.subject().to_string(), "<X509Error: Invalid X.509 name>");
        // The same byte in a UTF8String (0x0c) becomes U+FFFD.
        let utf8 = patched(OLD, cn, b"\x0c\x10old\xe9example");
        assert_eq!(parse_certificate(&utf8).unwrap().subject, "CN=old\u{fffd}example.test");
        // A lone surrogate in a BMPString (the issuer comes first in the DER).
        let bmp = patched(ED, &[0x00, b'Z', 0x00, 0xfc], &[0x00, b'Z', 0xd8, 0x00]);
        let c = parse_certificate(&bmp).unwrap();
        assert!(c.issuer.starts_with("O=Z\u{fffd}rich Straße, "), "{}", c.issuer);
        assert_eq!(c.anomalies, vec!["name value is not valid UTF-16"]);
        assert!(!c.self_signed);
        // An attribute type missing from x509-parser's registry (2.5.4.97,
        // organizationIdentifier) is written in the OID's debug form, as Suricata does.
        let unknown = patched(OLD, b"\x55\x04\x03\x0c\x10old", b"\x55\x04\x61\x0c\x10old");
        let c = parse_certificate(&unknown).unwrap();
        assert_eq!(c.subject, "OID(2.5.4.97)=old.example.test");
        assert_eq!(c.subject, X509Certificate::from_der(&unknown).unwrap().1.subject().to_string());
        // A value that is not a string is written as hex (x509-parser's rule): INTEGER 0x02.
        let int = patched(OLD, cn, b"\x02\x10old.example");
        assert_eq!(parse_certificate(&int).unwrap().subject, "CN=6F6C642E6578616D706C652E74657374");
    }

    #[test]
    fn every_prefix_is_an_error() {
        for der in ALL {
            for n in 0..der.len() {
                assert!(parse_certificate(&der[..n]).is_err(), "prefix {n} parsed");
                assert!(ja4x(&der[..n]).is_none(), "prefix {n} fingerprinted");
            }
        }
        assert_eq!(parse_certificate(&LEAF[..100]), Err(CertError::Truncated));
    }

    #[test]
    fn malformed_lengths_do_not_panic() {
        for der in ALL {
            for i in 0..der.len().min(400) {
                for v in [0x00, 0x7f, 0x80, 0x81, 0x84, 0xff] {
                    let mut d = der.to_vec();
                    d[i] = v;
                    let _ = parse_certificate(&d);
                    let _ = ja4x(&d);
                }
            }
        }
        // Outer length claims more than there is; an indefinite length; garbage.
        assert!(parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30]).is_err());
        assert!(parse_certificate(&[0x30, 0x80, 0x00, 0x00]).is_err());
        assert!(parse_certificate(b"not a certificate").is_err());
        let mut trailing = EC.to_vec();
        trailing.extend_from_slice(&[0, 0]);
        let c = parse_certificate(&trailing).unwrap();
        assert_eq!(c.anomalies, vec!["bytes after the certificate"]);
    }

    #[test]
    fn ja4x_of_generated_certs() {
        // Values computed independently (Python hashlib) from the OIDs openssl asn1parse lists.
        assert_eq!(
            ja4x(EC).unwrap(),
            (
                "769119f9990f_769119f9990f_a83931954a2d".to_string(),
                "55040a,550403_55040a,550403_551d13,551d0f,551d25,551d11,551d0e".to_string()
            )
        );
        let (h, raw) = ja4x(LEAF).unwrap();
        assert_eq!(h, "7d5dbb3783b4_b7d0095b755e_04758834cd6a");
        assert_eq!(
            raw,
            "550406,55040a,55040b,550403_550406,550408,550407,55040a,550403,2a864886f70d010901_\
             551d13,551d0f,551d25,551d11,551d0e,551d23"
        );
    }

    fn tls12_message(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend(list);
        body
    }

    #[test]
    fn certificate_list_tls12() {
        let body = tls12_message(&[LEAF, CA]);
        let l = certificate_list(&body, false).unwrap();
        assert_eq!(l.certs, vec![LEAF, CA]);
        assert_eq!((l.dropped, l.error), (0, None));
        // Empty list (a client with no certificate).
        assert_eq!(certificate_list(&[0, 0, 0], false).unwrap(), CertificateList::default());
        // Too short for the list length.
        assert_eq!(
            certificate_list(&[0, 0], false).unwrap_err(),
            ParseError { what: "certificate_list length", offset: 0 }
        );
    }

    #[test]
    fn certificate_list_tls13() {
        let mut body = vec![2, 0xaa, 0xbb];
        let mut list = Vec::new();
        for (c, ext) in [(EC, &[0u8, 4, 0, 5, 0, 0][..]), (CA, &[0, 0][..])] {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
            list.extend_from_slice(ext);
        }
        body.extend_from_slice(&(list.len() as u32).to_be_bytes()[1..]);
        body.extend_from_slice(&list);
        let l = certificate_list(&body, true).unwrap();
        assert_eq!(l.certs, vec![EC, CA]);
        assert_eq!(l.error, None);
        // Read as TLS 1.2, the same bytes are nonsense but do not panic.
        let _ = certificate_list(&body, false);
        // Cut inside the last extension block: both certs, and the error.
        let cut = &body[..body.len() - 1];
        let l = certificate_list(cut, true).unwrap();
        assert_eq!(l.certs, vec![EC, CA]);
        assert_eq!(l.error.map(|e| e.what), Some("certificate_list"));
    }

    #[test]
    fn certificate_list_is_lax_and_capped() {
        // The second entry claims more bytes than the list holds: the first is kept.
        let mut body = tls12_message(&[EC, CA]);
        let second = 3 + 3 + EC.len();
        body[second] = 0xff;
        let l = certificate_list(&body, false).unwrap();
        assert_eq!(l.certs, vec![EC]);
        assert_eq!(l.error, Some(ParseError { what: "certificate", offset: second + 3 }));
        // Every prefix of a message: never a panic, and the certificates before the cut.
        let body = tls12_message(&[EC, CA]);
        for n in 0..body.len() {
            match certificate_list(&body[..n], false) {
                Ok(l) => {
                    assert!(l.error.is_some(), "prefix {n}");
                    assert_eq!(l.certs.len(), usize::from(n >= 3 + 3 + EC.len()));
                }
                Err(_) => assert!(n < 3),
            }
        }
        // More than the cap.
        let many: Vec<&[u8]> = (0..MAX_CERTIFICATES + 3).map(|_| ED).collect();
        let body = tls12_message(&many);
        let l = certificate_list(&body, false).unwrap();
        assert_eq!((l.certs.len(), l.dropped, l.error), (MAX_CERTIFICATES, 3, None));
    }

    #[test]
    fn helpers() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00");
        assert_eq!(iso_time(-1), "1969-12-31T23:59:59");
        assert_eq!(iso_time(253_402_300_799), "9999-12-31T23:59:59");
        assert_eq!(colon_hex(&[0x00, 0x8a, 0x07], true), "00:8A:07");
        assert_eq!(colon_hex(&[], true), "");
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), Some(16));
        assert_eq!(integer_bits(&[0x01, 0xff]), Some(9));
        assert_eq!(integer_bits(&[0, 0]), None);
        assert_eq!(der_tlv(&[0x04, 0x82, 0x00, 0x01, 0xaa, 0xbb]), Some((0x04, &[0xaa][..], &[0xbb][..])));
        assert_eq!(der_tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_tlv(&[0x04, 0x02, 0xaa]), None);
    }
}
