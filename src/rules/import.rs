//! Importers for lists people already have, read unchanged:
//!
//! * `plain`: one value per line; blank lines and `#` comments skipped.
//! * `sslbl-ja3`: abuse.ch SSLBL's JA3 fingerprint CSV (`# ja3_md5,Firstseen,Lastseen,
//!   Listingreason` header, comment banner, one MD5 per row).
//! * `zeek-intel`: Zeek intelligence framework files (`#fields\tindicator\tindicator_type\t
//!   meta.source...`, tab-separated), keeping the rows whose `indicator_type` is asked for
//!   (by default `Intel::JA3` and `Intel::JA4`).
//! * `ja4plus-mapping`: FoxIO's `ja4plus-mapping.csv`
//!   (`Application,Library,Device,OS,ja4,ja4s,ja4h,ja4x,ja4t,ja4tscan,Notes`), as labels.
//! * Suricata rules are in [`super::suricata`].
//!
//! Every importer is bounded: at most [`MAX_LIST_ENTRIES`] values and [`MAX_LINE`] bytes
//! per line; errors name the line (1-based).

/// Cap on values imported from one file.
pub const MAX_LIST_ENTRIES: usize = 5_000_000;

/// Cap on one line's length.
pub const MAX_LINE: usize = 64 * 1024;

/// An import problem: line (1-based; 0 for the whole file) and message.
pub type ImportError = (usize, String);

/// What an importer read.
#[derive(Debug, Default)]
pub struct Imported {
    /// The values, in file order.
    pub values: Vec<String>,
    /// Rows skipped on purpose (other indicator types), for the summary.
    pub skipped: usize,
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

fn push(out: &mut Imported, errs: &mut Vec<ImportError>, n: usize, v: String) {
    if out.values.len() >= MAX_LIST_ENTRIES {
        if out.values.len() == MAX_LIST_ENTRIES {
            errs.push((n, format!("more than {MAX_LIST_ENTRIES} entries")));
            out.values.push(String::new());
        }
        return;
    }
    out.values.push(v);
}

fn too_long(n: usize, l: &str, errs: &mut Vec<ImportError>) -> bool {
    if l.len() > MAX_LINE {
        errs.push((n, format!("line longer than {MAX_LINE} bytes")));
        return true;
    }
    false
}

fn finish(mut out: Imported, errs: Vec<ImportError>) -> Result<Imported, Vec<ImportError>> {
    if errs.is_empty() {
        out.values.truncate(MAX_LIST_ENTRIES);
        Ok(out)
    } else {
        Err(errs)
    }
}

/// A plain list: one value per line, trimmed; blank lines and lines starting with `#`
/// are skipped.
pub fn plain(text: &str) -> Result<Imported, Vec<ImportError>> {
    let mut out = Imported::default();
    let mut errs = Vec::new();
    for (n, l) in lines(text) {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') || too_long(n, l, &mut errs) {
            continue;
        }
        push(&mut out, &mut errs, n, t.to_string());
    }
    finish(out, errs)
}

/// True for a lowercase or uppercase 32-digit hex string (an MD5 such as JA3).
pub fn is_md5(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// abuse.ch SSLBL JA3 CSV: comment lines start with `#`; each row is
/// `ja3_md5,Firstseen,Lastseen,Listingreason`. The MD5 is checked.
pub fn sslbl_ja3(text: &str) -> Result<Imported, Vec<ImportError>> {
    let mut out = Imported::default();
    let mut errs = Vec::new();
    for (n, l) in lines(text) {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') || too_long(n, l, &mut errs) {
            continue;
        }
        let md5 = t.split(',').next().unwrap_or("").trim().trim_matches('"');
        if !is_md5(md5) {
            errs.push((n, format!("{md5:?} is not a JA3 MD5 (32 hex digits)")));
            continue;
        }
        push(&mut out, &mut errs, n, md5.to_ascii_lowercase());
    }
    finish(out, errs)
}

/// Zeek's `\xNN` escapes in header values (`#separator \x09`).
fn unescape_zeek(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        match rest.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[i + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The default indicator types kept from Zeek intel files.
pub const ZEEK_DEFAULT_TYPES: [&str; 2] = ["Intel::JA3", "Intel::JA4"];

/// A Zeek intel file: `#fields` names the columns (tab-separated unless `#separator`
/// says otherwise); rows whose `indicator_type` is in `types` give their `indicator`
/// (fingerprints lowercased); others are counted in `skipped`.
pub fn zeek_intel(text: &str, types: &[String]) -> Result<Imported, Vec<ImportError>> {
    let mut out = Imported::default();
    let mut errs = Vec::new();
    let mut sep = "\t".to_string();
    let mut cols: Option<(usize, usize)> = None;
    for (n, l) in lines(text) {
        if too_long(n, l, &mut errs) {
            continue;
        }
        if let Some(h) = l.strip_prefix('#') {
            if let Some(v) = h.strip_prefix("separator ") {
                sep = unescape_zeek(v.trim());
                if sep.is_empty() {
                    errs.push((n, "empty #separator".into()));
                    sep = "\t".into();
                }
            } else if let Some(v) = h.strip_prefix("fields") {
                let names: Vec<&str> =
                    v.split(sep.as_str()).map(str::trim).filter(|s| !s.is_empty()).collect();
                let ind = names.iter().position(|c| *c == "indicator");
                let typ = names.iter().position(|c| *c == "indicator_type");
                match (ind, typ) {
                    (Some(i), Some(t)) => cols = Some((i, t)),
                    _ => errs.push((n, "#fields has no indicator and indicator_type columns".into())),
                }
            }
            continue;
        }
        if l.trim().is_empty() {
            continue;
        }
        let Some((ci, ct)) = cols else {
            errs.push((n, "data before the #fields header".into()));
            return Err(errs);
        };
        let f: Vec<&str> = l.split(sep.as_str()).collect();
        let (Some(ind), Some(typ)) = (f.get(ci), f.get(ct)) else {
            errs.push((n, format!("{} columns, the header names more", f.len())));
            continue;
        };
        if !types.iter().any(|t| t == typ.trim()) {
            out.skipped += 1;
            continue;
        }
        let v = ind.trim();
        let v =
            if typ.contains("JA3") || typ.contains("JA4") { v.to_ascii_lowercase() } else { v.to_string() };
        if typ.trim() == "Intel::JA3" && !is_md5(&v) {
            errs.push((n, format!("{v:?} is not a JA3 MD5")));
            continue;
        }
        push(&mut out, &mut errs, n, v);
    }
    if cols.is_none() && errs.is_empty() {
        errs.push((0, "no #fields header (is this a Zeek intel file?)".into()));
    }
    finish(out, errs)
}

/// Splits one CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote).
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// One row of FoxIO's mapping: who it labels and which fingerprints select it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingRow {
    /// Application (`Chromium Browser`, `Sliver Agent`, ...).
    pub application: Option<String>,
    /// Library (`GoLang`, `Python`, ...).
    pub library: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// JA4 the row requires, if any.
    pub ja4: Option<String>,
    /// JA4S the row requires, if any.
    pub ja4s: Option<String>,
    /// JA4X the row requires (any certificate), if any.
    pub ja4x: Option<String>,
}

/// FoxIO `ja4plus-mapping.csv`. Columns are found by their header names. Rows with none
/// of `ja4`, `ja4s`, `ja4x` (HTTP, TCP-only fingerprints, which a TLS sensor cannot
/// see) are counted in the second value and left out.
pub fn ja4plus_mapping(text: &str) -> Result<(Vec<MappingRow>, usize), Vec<ImportError>> {
    let mut errs = Vec::new();
    let mut rows = Vec::new();
    let mut skipped = 0;
    let mut it = lines(text).filter(|(_, l)| !l.trim().is_empty());
    let Some((hn, header)) = it.next() else {
        return Err(vec![(0, "empty file".into())]);
    };
    let names: Vec<String> = csv_fields(header).iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let col = |n: &str| names.iter().position(|h| h == n);
    let (app, lib, dev, os, notes) =
        (col("application"), col("library"), col("device"), col("os"), col("notes"));
    let (ja4, ja4s, ja4x) = (col("ja4"), col("ja4s"), col("ja4x"));
    if ja4.is_none() && ja4s.is_none() && ja4x.is_none() {
        return Err(vec![(hn, "the header has no ja4, ja4s or ja4x column".into())]);
    }
    for (n, l) in it {
        if too_long(n, l, &mut errs) {
            continue;
        }
        if rows.len() >= MAX_LIST_ENTRIES {
            errs.push((n, format!("more than {MAX_LIST_ENTRIES} rows")));
            break;
        }
        let f = csv_fields(l);
        let get = |c: Option<usize>| {
            c.and_then(|i| f.get(i)).map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_string)
        };
        let fp = |c: Option<usize>| get(c).map(|s| s.to_ascii_lowercase());
        let row = MappingRow {
            application: get(app),
            library: get(lib),
            device: get(dev),
            os: get(os),
            notes: get(notes),
            ja4: fp(ja4),
            ja4s: fp(ja4s),
            ja4x: fp(ja4x),
        };
        if row.ja4.is_none() && row.ja4s.is_none() && row.ja4x.is_none() {
            skipped += 1;
            continue;
        }
        rows.push(row);
    }
    if errs.is_empty() { Ok((rows, skipped)) } else { Err(errs) }
}

/// Standard base64 (RFC 4648, padding optional), for Suricata `type string` datasets.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover character (6 bits) cannot end valid base64.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rules").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn plain_list_file() {
        let l = plain(&data("plain-ja4.txt")).unwrap();
        assert_eq!(
            l.values,
            ["t13d1516h2_8daaf6152771_e5627efa2ab1", "t12d190800_d83cc789557e_7af1ed941c26"]
        );
        let l = plain("  a \r\n\n# c\nb").unwrap();
        assert_eq!(l.values, ["a", "b"]);
        assert!(plain(&"x".repeat(MAX_LINE + 1)).is_err());
    }

    #[test]
    fn sslbl_csv_with_its_banner() {
        let l = sslbl_ja3(&data("sslbl-ja3.csv")).unwrap();
        assert_eq!(l.values.len(), 3);
        assert_eq!(l.values[0], "6734f37431670b3ab4292b8f60f29984");
        assert!(l.values.iter().all(|v| is_md5(v) && v.bytes().all(|b| !b.is_ascii_uppercase())));
        let e = sslbl_ja3("# ja3_md5,Firstseen,Lastseen,Listingreason\nnot-a-hash,2020-01-01 00:00:00,x,y\n")
            .unwrap_err();
        assert_eq!(e[0].0, 2);
        assert!(e[0].1.contains("not-a-hash"));
    }

    #[test]
    fn zeek_intel_file() {
        let l = zeek_intel(&data("zeek-intel.dat"), &ZEEK_DEFAULT_TYPES.map(String::from)).unwrap();
        assert_eq!(l.values, ["4d7a28d6f2263ed61de88ca66eb011e3", "t13d190900_9dc949149365_97f8aa674fd9"]);
        assert_eq!(l.skipped, 1, "the Intel::DOMAIN row");
        let l = zeek_intel(&data("zeek-intel.dat"), &["Intel::DOMAIN".to_string()]).unwrap();
        assert_eq!(l.values, ["c2.example.net"]);
        assert!(zeek_intel("a\tb\n", &[]).is_err(), "no header");
        let e = zeek_intel("#fields\tindicator\tindicator_type\nxyz\tIntel::JA3\n", &["Intel::JA3".into()])
            .unwrap_err();
        assert_eq!(e[0].0, 2);
        // A custom separator.
        let l = zeek_intel(
            "#separator \\x2c\n#fields,indicator,indicator_type\nabc,Intel::JA4\n",
            &["Intel::JA4".into()],
        )
        .unwrap();
        assert_eq!(l.values, ["abc"]);
    }

    #[test]
    fn ja4plus_mapping_sample() {
        let (rows, skipped) = ja4plus_mapping(&data("ja4plus-mapping.csv")).unwrap();
        assert_eq!(skipped, 1, "the JA4T-only row");
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].application.as_deref(), Some("Chromium Browser"));
        assert_eq!(rows[0].ja4.as_deref(), Some("t13d1516h2_8daaf6152771_02713d6af862"));
        let sliver = rows.iter().find(|r| r.application.as_deref() == Some("Sliver Agent")).unwrap();
        assert_eq!(sliver.library.as_deref(), Some("GoLang"));
        assert!(sliver.ja4.is_some() && sliver.ja4s.is_some());
        assert_eq!(rows[3].notes.as_deref(), Some("quoted, with a comma"));
        assert!(ja4plus_mapping("a,b\n1,2\n").is_err());
    }

    #[test]
    fn the_real_foxio_mapping_reads() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/pcaps/foxio/ja4plus-mapping.csv");
        let Ok(text) = std::fs::read_to_string(&p) else {
            eprintln!("skipping: {} not present", p.display());
            return;
        };
        let (rows, skipped) = ja4plus_mapping(&text).unwrap();
        assert!(rows.len() > 30 && skipped > 10, "{} rows, {skipped} skipped", rows.len());
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_fields("a,\"b,c\",\"d\"\"e\","), ["a", "b,c", "d\"e", ""]);
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("Z29vZ2xlLmNvbQ==").unwrap(), b"google.com");
        assert_eq!(base64_decode("Z29vZ2xlLmNvbQ").unwrap(), b"google.com");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("Z$").is_none());
        assert!(base64_decode("Z").is_none());
    }
}
