//! Checks a monitoring team acts on, over the certificate chain a server showed: expiry at
//! the time of the packet (never the wall clock), self-signed leaf, server name not
//! covered by the certificate (RFC 6125), chain order and missing intermediates, weak keys
//! and weak signatures. Certificates are visible in TLS ≤ 1.2 only (TLS 1.3 and QUIC
//! encrypt them), so there are no checks for those handshakes.

use crate::x509::CertInfo;

/// The outcome of the checks, as booleans and human-readable reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertChecks {
    /// The leaf's notAfter is before the packet time.
    pub expired: bool,
    /// The leaf's notBefore is after the packet time.
    pub not_yet_valid: bool,
    /// The leaf is issued by itself (subject = issuer).
    pub self_signed: bool,
    /// An SNI was sent and no SAN DNS name (or, without any, the CN) matches it.
    pub name_mismatch: bool,
    /// The certificates are not in issuing order (an issuer appears, but not next).
    pub chain_out_of_order: bool,
    /// The chain ends at a certificate that is neither a CA nor self-signed: its issuer
    /// (an intermediate) was not sent.
    pub missing_intermediate: bool,
    /// A certificate in the chain has an RSA/DSA key under 2048 bits or an EC key under 256.
    pub weak_key: bool,
    /// A certificate other than a self-signed root is signed with SHA-1 or MD5.
    pub weak_signature: bool,
    /// One line per failed check.
    pub reasons: Vec<String>,
}

impl CertChecks {
    /// (check name, failed) for every check, for metrics.
    pub fn all(&self) -> [(&'static str, bool); 8] {
        [
            ("expired", self.expired),
            ("not_yet_valid", self.not_yet_valid),
            ("self_signed", self.self_signed),
            ("name_mismatch", self.name_mismatch),
            ("chain_out_of_order", self.chain_out_of_order),
            ("missing_intermediate", self.missing_intermediate),
            ("weak_key", self.weak_key),
            ("weak_signature", self.weak_signature),
        ]
    }
}

/// The CN value of a DN string in Suricata's format (`C=US, O=X, CN=host`): the last CN.
fn common_name(dn: &str) -> Option<&str> {
    dn.split(", ").filter_map(|rdn| rdn.strip_prefix("CN=")).last()
}

/// RFC 6125 §6.4: case-insensitive match of a reference identity (the SNI) against a
/// presented DNS name; a wildcard is allowed only as the whole leftmost label and matches
/// exactly one label (`*.example.com` matches `a.example.com`, not `a.b.example.com` nor
/// `example.com`); partial-label wildcards (`f*.example.com`) are not honoured, as
/// browsers do not; a trailing dot is ignored on both sides.
pub fn name_matches(presented: &str, reference: &str) -> bool {
    let p = presented.trim_end_matches('.').to_ascii_lowercase();
    let r = reference.trim_end_matches('.').to_ascii_lowercase();
    if p.is_empty() || r.is_empty() {
        return false;
    }
    match p.strip_prefix("*.") {
        Some(rest) => {
            // The wildcard must leave at least two labels (no `*.com`).
            if !rest.contains('.') || rest.contains('*') {
                return false;
            }
            match r.split_once('.') {
                Some((first, tail)) => !first.is_empty() && tail == rest,
                None => false,
            }
        }
        None => !p.contains('*') && p == r,
    }
}

fn is_ip_literal(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Runs the checks over a chain (leaf first), at packet time `now_secs` (Unix seconds), for
/// the server name `sni` the client asked for (if any).
pub fn check(chain: &[&CertInfo], now_secs: i64, sni: Option<&str>) -> CertChecks {
    let mut c = CertChecks::default();
    let Some(leaf) = chain.first() else { return c };
    // Validity is inclusive at both ends (RFC 5280 §4.1.2.5).
    if leaf.not_after_unix < now_secs {
        c.expired = true;
        c.reasons.push(format!("leaf expired at {} (before the packet)", leaf.not_after));
    }
    if leaf.not_before_unix > now_secs {
        c.not_yet_valid = true;
        c.reasons.push(format!("leaf not valid before {} (after the packet)", leaf.not_before));
    }
    if leaf.self_signed {
        c.self_signed = true;
        c.reasons.push("leaf is self-signed".to_string());
    }
    if let Some(name) = sni.filter(|n| !n.is_empty() && !is_ip_literal(n)) {
        let dns: Vec<&str> = leaf
            .san
            .iter()
            .map(String::as_str)
            .filter(|s| !s.contains('@') && !s.contains(':') && !is_ip_literal(s))
            .collect();
        // RFC 6125 §6.4.4: the CN is consulted only when there is no DNS-ID at all.
        let candidates: Vec<&str> =
            if dns.is_empty() { common_name(&leaf.subject).into_iter().collect() } else { dns };
        if !candidates.iter().any(|p| name_matches(p, name)) {
            c.name_mismatch = true;
            c.reasons.push(format!("no name in the certificate matches the SNI {name}"));
        }
    }
    for (i, cert) in chain.iter().enumerate().take(chain.len().saturating_sub(1)) {
        if cert.issuer != chain[i + 1].subject && !cert.self_signed {
            if chain.iter().any(|o| o.subject == cert.issuer) {
                c.chain_out_of_order = true;
                c.reasons.push(format!("certificate {i}'s issuer is in the chain but not next to it"));
            }
            break;
        }
    }
    let last = &chain[chain.len() - 1];
    if !last.self_signed && !last.is_ca {
        c.missing_intermediate = true;
        c.reasons.push(format!(
            "the chain ends at a non-CA certificate; its issuer ({}) was not sent",
            last.issuer
        ));
    }
    for (i, cert) in chain.iter().enumerate() {
        let bits = cert.key_bits.unwrap_or(u32::MAX);
        let weak = match cert.key_type.as_str() {
            "RSA" | "DSA" => bits < 2048,
            "EC" => bits < 256,
            _ => false,
        };
        if weak {
            c.weak_key = true;
            c.reasons.push(format!("certificate {i} has a {bits}-bit {} key", cert.key_type));
        }
        let alg = cert.signature_algorithm.to_ascii_lowercase();
        if !cert.self_signed && (alg.contains("sha1") || alg.contains("md5") || alg.contains("md2")) {
            c.weak_signature = true;
            c.reasons.push(format!("certificate {i} is signed with {}", cert.signature_algorithm));
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(subject: &str, issuer: &str) -> CertInfo {
        CertInfo {
            subject: subject.into(),
            issuer: issuer.into(),
            not_before_unix: 1_000,
            not_after_unix: 2_000,
            not_before: "nb".into(),
            not_after: "na".into(),
            key_type: "RSA".into(),
            key_bits: Some(2048),
            signature_algorithm: "sha256WithRSAEncryption".into(),
            self_signed: subject == issuer,
            ..CertInfo::default()
        }
    }

    #[test]
    fn expiry_edges_at_packet_time() {
        let leaf = cert("CN=a", "CN=ca");
        assert!(!check(&[&leaf], 1_999, None).expired, "one second before notAfter");
        assert!(!check(&[&leaf], 2_000, None).expired, "notAfter itself is valid");
        assert!(check(&[&leaf], 2_001, None).expired, "one second after");
        assert!(check(&[&leaf], 999, None).not_yet_valid);
        assert!(!check(&[&leaf], 1_000, None).not_yet_valid);
    }

    #[test]
    fn wildcards_by_rfc_6125() {
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(name_matches("*.Example.COM", "A.example.com."));
        assert!(!name_matches("*.example.com", "a.b.example.com"), "one label only");
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.com", "example.com"), "no wildcard over a public suffix-like single label");
        assert!(!name_matches("f*.example.com", "foo.example.com"), "partial wildcards not honoured");
        assert!(!name_matches("a.*.example.com", "a.b.example.com"));
        assert!(name_matches("www.example.com", "WWW.example.com"));
        assert!(!name_matches("", "x"));
    }

    #[test]
    fn name_mismatch_uses_san_then_cn() {
        let mut leaf = cert("C=US, CN=www.example.com", "CN=ca");
        assert!(!check(&[&leaf], 1_500, Some("www.example.com")).name_mismatch, "CN used");
        leaf.san = vec!["*.example.org".into()];
        let c = check(&[&leaf], 1_500, Some("www.example.com"));
        assert!(c.name_mismatch, "with a DNS SAN the CN is ignored");
        assert!(!check(&[&leaf], 1_500, Some("x.example.org")).name_mismatch);
        assert!(!check(&[&leaf], 1_500, None).name_mismatch, "no SNI, nothing to check");
    }

    #[test]
    fn chain_order_missing_intermediate_self_signed() {
        let leaf = cert("CN=leaf", "CN=int");
        let mut int = cert("CN=int", "CN=root");
        int.is_ca = true;
        let mut root = cert("CN=root", "CN=root");
        root.is_ca = true;
        let ok = check(&[&leaf, &int, &root], 1_500, None);
        assert!(!ok.chain_out_of_order && !ok.missing_intermediate && !ok.self_signed, "{ok:?}");
        assert!(check(&[&leaf, &root, &int], 1_500, None).chain_out_of_order);
        assert!(check(&[&leaf], 1_500, None).missing_intermediate);
        assert!(!check(&[&leaf, &int], 1_500, None).missing_intermediate, "root omitted is normal");
        let ss = check(&[&cert("CN=me", "CN=me")], 1_500, None);
        assert!(ss.self_signed && !ss.missing_intermediate);
    }

    #[test]
    fn weak_keys_and_signatures() {
        let mut leaf = cert("CN=a", "CN=ca");
        leaf.key_bits = Some(1024);
        leaf.signature_algorithm = "sha1WithRSAEncryption".into();
        let c = check(&[&leaf], 1_500, None);
        assert!(c.weak_key && c.weak_signature);
        let mut ec = cert("CN=a", "CN=ca");
        ec.key_type = "EC".into();
        ec.key_bits = Some(256);
        assert!(!check(&[&ec], 1_500, None).weak_key);
        ec.key_bits = Some(224);
        assert!(check(&[&ec], 1_500, None).weak_key);
        // A SHA-1 self-signed root is not a weak signature (its signature is not checked).
        let mut root = cert("CN=r", "CN=r");
        root.signature_algorithm = "sha1WithRSAEncryption".into();
        assert!(!check(&[&root], 1_500, None).weak_signature);
    }
}
