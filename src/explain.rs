//! `hellotap explain FINGERPRINT`: a JA3/JA3S string or a JA4/JA4_r/JA4_ro/JA4S(_r)
//! decoded into named cipher suites, extensions, groups and signature algorithms, so an
//! analyst can read a fingerprint. Names come from the generated IANA tables.

use std::fmt::Write;

use crate::tls::names;

fn hex_name(v: u16, f: fn(u16) -> Option<&'static str>) -> String {
    match f(v) {
        Some(n) => format!("0x{v:04x} {n}"),
        None if names::is_grease(v) => format!("0x{v:04x} GREASE"),
        None => format!("0x{v:04x} (unassigned or private)"),
    }
}

fn version_text(code: &str) -> &'static str {
    match code {
        "13" => "TLS 1.3",
        "12" => "TLS 1.2",
        "11" => "TLS 1.1",
        "10" => "TLS 1.0",
        "s3" => "SSL 3.0",
        "s2" => "SSL 2.0",
        "d1" => "DTLS 1.0",
        "d2" => "DTLS 1.2",
        "d3" => "DTLS 1.3",
        _ => "unknown",
    }
}

fn transport_text(c: char) -> &'static str {
    match c {
        't' => "TLS over TCP",
        'q' => "QUIC",
        'd' => "DTLS",
        _ => "unknown transport",
    }
}

fn hex_list(s: &str) -> Result<Vec<u16>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|x| u16::from_str_radix(x, 16).map_err(|_| format!("`{x}` is not a 4-digit hex value")))
        .collect()
}

fn dec_list(s: &str) -> Result<Vec<u32>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split('-').map(|x| x.parse::<u32>().map_err(|_| format!("`{x}` is not a decimal value"))).collect()
}

fn list(out: &mut String, title: &str, values: &[u16], f: fn(u16) -> Option<&'static str>) {
    let _ = writeln!(out, "{title} ({}):", values.len());
    for &v in values {
        let _ = writeln!(out, "  {}", hex_name(v, f));
    }
}

fn ja4_a(out: &mut String, a: &str, server: bool) -> Result<(), String> {
    let b = a.as_bytes();
    let need = if server { 7 } else { 10 };
    if b.len() != need || !a.is_ascii() {
        return Err(format!("the first part `{a}` should be {need} characters"));
    }
    let _ = writeln!(out, "transport: {} ({})", transport_text(b[0] as char), b[0] as char);
    let _ = writeln!(out, "version: {} ({})", version_text(&a[1..3]), &a[1..3]);
    let rest = if server {
        let _ = writeln!(out, "extensions: {}", &a[3..5]);
        &a[5..7]
    } else {
        let sni = if b[3] == b'd' { "SNI present (d)" } else { "no SNI (i)" };
        let _ = writeln!(out, "{sni}");
        let _ = writeln!(out, "cipher suites: {}", &a[4..6]);
        let _ = writeln!(out, "extensions: {}", &a[6..8]);
        &a[8..10]
    };
    let alpn = if rest == "00" { "none".to_string() } else { format!("first/last characters `{rest}`") };
    let _ = writeln!(out, "ALPN: {alpn}");
    Ok(())
}

/// Explains a fingerprint, or says why it cannot.
pub fn explain(fp: &str) -> Result<String, String> {
    let fp = fp.trim();
    let mut out = String::new();
    if fp.contains(',') && !fp.contains('_') {
        // JA3 (5 fields) or JA3S (3 fields), decimal.
        let f: Vec<&str> = fp.split(',').collect();
        match f.len() {
            5 => {
                let _ = writeln!(out, "JA3 string");
                let v: u16 = f[0].parse().map_err(|_| format!("version `{}` is not a number", f[0]))?;
                let _ =
                    writeln!(out, "version (ClientHello legacy_version): {}", crate::output::version_name(v));
                let c: Vec<u16> = dec_list(f[1])?.into_iter().map(|x| x as u16).collect();
                list(&mut out, "cipher suites", &c, names::cipher_suite);
                let e: Vec<u16> = dec_list(f[2])?.into_iter().map(|x| x as u16).collect();
                list(&mut out, "extensions", &e, names::extension);
                let g: Vec<u16> = dec_list(f[3])?.into_iter().map(|x| x as u16).collect();
                list(&mut out, "supported groups", &g, names::group);
                let _ = writeln!(out, "EC point formats: {}", if f[4].is_empty() { "none" } else { f[4] });
            }
            3 => {
                let _ = writeln!(out, "JA3S string");
                let v: u16 = f[0].parse().map_err(|_| format!("version `{}` is not a number", f[0]))?;
                let _ =
                    writeln!(out, "version (ServerHello legacy_version): {}", crate::output::version_name(v));
                let c: u16 = f[1].parse().map_err(|_| format!("cipher `{}` is not a number", f[1]))?;
                let _ = writeln!(out, "cipher suite: {}", hex_name(c, names::cipher_suite));
                let e: Vec<u16> = dec_list(f[2])?.into_iter().map(|x| x as u16).collect();
                list(&mut out, "extensions", &e, names::extension);
            }
            n => return Err(format!("a JA3 string has 5 fields and a JA3S string 3; this has {n}")),
        }
        return Ok(out);
    }
    if fp.len() == 32 && fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("this is a JA3/JA3S MD5 hash: a hash cannot be decoded; give the JA3 string".into());
    }
    let parts: Vec<&str> = fp.split('_').collect();
    if parts.is_empty() || parts[0].len() < 7 {
        return Err("not a JA3/JA3S string or a JA4/JA4S fingerprint".into());
    }
    let server = parts[0].len() == 7;
    let hashed = |p: &str| p.len() == 12 && p.bytes().all(|b| b.is_ascii_hexdigit());
    if server {
        // JA4S: a_cipher_exthash or a_cipher_extlist.
        if parts.len() != 3 {
            return Err(format!("a JA4S has 3 parts separated by `_`; this has {}", parts.len()));
        }
        let _ = writeln!(out, "JA4S{}", if hashed(parts[2]) { "" } else { "_r" });
        ja4_a(&mut out, parts[0], true)?;
        let c = hex_list(parts[1])?;
        let _ = writeln!(
            out,
            "cipher suite: {}",
            c.first().map_or("none".into(), |&c| hex_name(c, names::cipher_suite))
        );
        if hashed(parts[2]) {
            let _ = writeln!(out, "extensions hash: {} (a hash; JA4S_r shows the list)", parts[2]);
        } else {
            list(&mut out, "extensions, in ServerHello order", &hex_list(parts[2])?, names::extension);
        }
        return Ok(out);
    }
    if !(3..=4).contains(&parts.len()) {
        return Err(format!(
            "a JA4 has 3 parts (4 in JA4_r with signature algorithms); this has {}",
            parts.len()
        ));
    }
    let raw = !hashed(parts[1]) || (parts.len() == 4);
    let _ = writeln!(out, "JA4{}", if raw { "_r (or _ro)" } else { "" });
    ja4_a(&mut out, parts[0], false)?;
    if raw {
        list(&mut out, "cipher suites", &hex_list(parts[1])?, names::cipher_suite);
        list(
            &mut out,
            "extensions (without SNI and ALPN when sorted)",
            &hex_list(parts[2])?,
            names::extension,
        );
        if let Some(s) = parts.get(3) {
            list(
                &mut out,
                "signature algorithms, in ClientHello order",
                &hex_list(s)?,
                names::signature_scheme,
            );
        } else {
            let _ = writeln!(out, "signature algorithms: none (no signature_algorithms extension)");
        }
    } else {
        let _ = writeln!(out, "cipher hash: {} (a hash; JA4_r shows the list)", parts[1]);
        let _ = writeln!(out, "extension hash: {} (a hash; JA4_r shows the list)", parts[2]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_ja4_r() {
        let t = explain("t13d1516h2_002f,1301_0005,000a_0403,0804").unwrap();
        assert!(t.contains("TLS over TCP"), "{t}");
        assert!(t.contains("TLS 1.3"));
        assert!(t.contains("0x1301 TLS_AES_128_GCM_SHA256"));
        assert!(t.contains("0x0005 status_request"));
        assert!(t.contains("0x0403 ecdsa_secp256r1_sha256"));
    }

    #[test]
    fn explains_ja3_and_ja3s_and_hashed_ja4() {
        let t = explain("771,4865-2570,0-10,29-23,0").unwrap();
        assert!(t.contains("TLS 1.2") && t.contains("0x001d x25519") && t.contains("0x0a0a GREASE"), "{t}");
        let t = explain("771,4866,43-51").unwrap();
        assert!(t.contains("TLS_AES_256_GCM_SHA384") && t.contains("key_share"), "{t}");
        let t = explain("t13d1516h2_8daaf6152771_e5627efa2ab1").unwrap();
        assert!(t.contains("cipher hash: 8daaf6152771"), "{t}");
        let t = explain("t130200_1301_002b,0033").unwrap();
        assert!(t.contains("supported_versions"), "{t}");
    }

    #[test]
    fn refuses_nonsense_clearly() {
        assert!(explain("de350869b8c85de67a350c8d186f11e6").unwrap_err().contains("hash"));
        assert!(explain("hello").is_err());
        assert!(explain("771,xx,,,").unwrap_err().contains("xx"));
        assert!(explain("t13d1516h2_zzzz_0000").is_err());
        assert!(explain("1,2").is_err());
    }
}
