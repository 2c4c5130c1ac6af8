//! Conditions: compiled from [`RawCond`] once, evaluated per record over a [`View`].

use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use toml::Spanned;

use super::RuleError;
use super::matchers::{
    CodeSet, IpSet, List, PortSet, StrMatcher, StrSet, is_public, parse_port_range, regex_set,
};
use super::raw::{PortItem, Ports, RawCond, StrSpec, Strings};
use crate::fingerprint::Transport;
use crate::output::escape_bytes;
use crate::record::{Handshake, Outcome};
use crate::tls::hello::ServerHello;
use crate::tls::names;

/// A string-valued field of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StrField {
    Ja3,
    Ja3s,
    Ja4,
    Ja4A,
    Ja4B,
    Ja4C,
    Ja4Ab,
    Ja4Ac,
    Ja4Bc,
    Ja4R,
    Ja4s,
    Ja4x,
    Sni,
    Alpn,
    ClientAlpn,
    CertIssuer,
    CertSubject,
    CertSan,
    CertSha1,
    CertSha256,
}

/// How a field's values (on both sides) are normalized before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Norm {
    /// Fingerprints and hashes: trimmed, lowercase (hex digests also lose `:`).
    Fingerprint,
    /// DNS names: trimmed, lowercase, without a trailing dot.
    Name,
    /// As written (DNs, ALPN values).
    Exact,
}

impl StrField {
    fn norm(self) -> Norm {
        match self {
            StrField::Sni | StrField::CertSan => Norm::Name,
            StrField::Alpn | StrField::ClientAlpn | StrField::CertIssuer | StrField::CertSubject => {
                Norm::Exact
            }
            _ => Norm::Fingerprint,
        }
    }

    /// The fields whose exact values index rules (single-valued, cheap to read).
    pub(crate) const INDEXED: [StrField; 12] = [
        StrField::Ja3,
        StrField::Ja3s,
        StrField::Ja4,
        StrField::Ja4A,
        StrField::Ja4B,
        StrField::Ja4C,
        StrField::Ja4Ab,
        StrField::Ja4Ac,
        StrField::Ja4Bc,
        StrField::Ja4R,
        StrField::Ja4s,
        StrField::Sni,
    ];
}

fn normalize(n: Norm, s: &str) -> String {
    match n {
        Norm::Fingerprint => {
            let t = s.trim().to_ascii_lowercase();
            // Hex digests written with colons (Suricata's `tls.fingerprint`) lose them.
            if t.contains(':') && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                t.replace(':', "")
            } else {
                t
            }
        }
        Norm::Name => s.trim().trim_end_matches('.').to_lowercase(),
        Norm::Exact => s.to_string(),
    }
}

/// A boolean fact of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoolField {
    SniPresent,
    ServerIpPublic,
    Resumed,
    HelloRetry,
    CertSeen,
    CertExpired,
    CertNotYetValid,
    CertSelfSigned,
    CertNameMismatch,
    CertWeakKey,
    CertWeakSignature,
    CertMissingIntermediate,
}

/// A code point field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeField {
    Version,
    OfferedVersion,
    Cipher,
    OfferedCipher,
    Group,
    OfferedGroup,
    Alert,
}

/// A compiled condition.
#[derive(Debug)]
pub(crate) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Str(StrField, StrMatcher),
    Ip { server: bool, set: IpSet },
    Port { server: bool, set: PortSet },
    Transport(Vec<Transport>),
    Code(CodeField, CodeSet),
    Bool(BoolField, bool),
    KeyType(Vec<String>),
    KeyBitsBelow(u32),
    Outcome(Vec<Outcome>),
}

/// A record with lazily computed derived values, shared by every rule evaluated on it.
pub(crate) struct View<'a> {
    pub h: &'a Handshake,
    ja4: Option<(&'a str, usize, usize)>,
    sni: OnceCell<Option<String>>,
    ja4_ac: OnceCell<Option<String>>,
    sha1s: OnceCell<Vec<String>>,
}

impl<'a> View<'a> {
    pub fn new(h: &'a Handshake) -> View<'a> {
        // JA4 is `a_b_c`: keep the two separator offsets.
        let ja4 = h.fingerprints.ja4.as_ref().and_then(|j| {
            let s = j.ja4.as_str();
            let i = s.find('_')?;
            let k = i + 1 + s[i + 1..].find('_')?;
            (!s[k + 1..].contains('_')).then_some((s, i, k))
        });
        View { h, ja4, sni: OnceCell::new(), ja4_ac: OnceCell::new(), sha1s: OnceCell::new() }
    }

    fn final_sh(&self) -> Option<&'a ServerHello> {
        self.h.server_hello.as_ref().filter(|s| !s.hello_retry)
    }

    pub fn sni(&self) -> Option<&str> {
        self.sni
            .get_or_init(|| {
                let ch = self.h.client_hello.as_ref()?;
                ch.sni.as_deref().map(|b| normalize(Norm::Name, &escape_bytes(b)))
            })
            .as_deref()
    }

    /// The single value of an indexed field, if the record has it.
    pub fn single(&self, f: StrField) -> Option<&str> {
        let fp = &self.h.fingerprints;
        match f {
            StrField::Ja3 => fp.ja3.as_ref().map(|j| j.hash.as_str()),
            StrField::Ja3s => fp.ja3s.as_ref().map(|j| j.hash.as_str()),
            StrField::Ja4 => self.ja4.map(|(s, _, _)| s),
            StrField::Ja4A => self.ja4.map(|(s, i, _)| &s[..i]),
            StrField::Ja4B => self.ja4.map(|(s, i, k)| &s[i + 1..k]),
            StrField::Ja4C => self.ja4.map(|(s, _, k)| &s[k + 1..]),
            StrField::Ja4Ab => self.ja4.map(|(s, _, k)| &s[..k]),
            StrField::Ja4Bc => self.ja4.map(|(s, i, _)| &s[i + 1..]),
            StrField::Ja4Ac => self
                .ja4_ac
                .get_or_init(|| self.ja4.map(|(s, i, k)| format!("{}_{}", &s[..i], &s[k + 1..])))
                .as_deref(),
            StrField::Ja4R => fp.ja4.as_ref().map(|j| j.ja4_r.as_str()),
            StrField::Ja4s => fp.ja4s.as_ref().map(|j| j.ja4s.as_str()),
            StrField::Sni => self.sni(),
            _ => None,
        }
    }

    /// True when any value of `f` satisfies `pred`.
    fn any_str(&self, f: StrField, mut pred: impl FnMut(&str) -> bool) -> bool {
        let leaf = || self.h.certificates.first().and_then(|c| c.info.as_ref().ok());
        match f {
            StrField::Ja4x => {
                self.h.certificates.iter().filter_map(|c| c.ja4x.as_ref()).any(|(a, _)| pred(a))
            }
            StrField::Alpn => {
                self.final_sh().and_then(|s| s.alpn.as_deref()).is_some_and(|a| pred(&escape_bytes(a)))
            }
            StrField::ClientAlpn => {
                self.h.client_hello.as_ref().is_some_and(|c| c.alpn.iter().any(|a| pred(&escape_bytes(a))))
            }
            StrField::CertIssuer => leaf().is_some_and(|l| pred(&l.issuer)),
            StrField::CertSubject => leaf().is_some_and(|l| pred(&l.subject)),
            StrField::CertSan => {
                leaf().is_some_and(|l| l.san.iter().any(|s| pred(&normalize(Norm::Name, s))))
            }
            StrField::CertSha1 => self
                .sha1s
                .get_or_init(|| {
                    self.h
                        .certificates
                        .iter()
                        .filter_map(|c| c.info.as_ref().ok())
                        .map(|i| i.sha1_fingerprint.replace(':', "").to_ascii_lowercase())
                        .collect()
                })
                .iter()
                .any(|s| pred(s)),
            StrField::CertSha256 => {
                self.h.certificates.iter().filter_map(|c| c.info.as_ref().ok()).any(|i| pred(&i.sha256))
            }
            _ => self.single(f).is_some_and(pred),
        }
    }

    fn bool(&self, f: BoolField) -> Option<bool> {
        let checks = self.h.cert_checks.as_ref();
        Some(match f {
            BoolField::SniPresent => self.h.client_hello.as_ref()?.sni.is_some(),
            BoolField::ServerIpPublic => is_public(self.h.server.0),
            BoolField::Resumed => self.h.details.resumed,
            BoolField::HelloRetry => self.h.hello_retry,
            BoolField::CertSeen => !self.h.certificates.is_empty(),
            BoolField::CertExpired => checks?.expired,
            BoolField::CertNotYetValid => checks?.not_yet_valid,
            BoolField::CertSelfSigned => checks?.self_signed,
            BoolField::CertNameMismatch => checks?.name_mismatch,
            BoolField::CertWeakKey => checks?.weak_key,
            BoolField::CertWeakSignature => checks?.weak_signature,
            BoolField::CertMissingIntermediate => checks?.missing_intermediate,
        })
    }

    fn any_code(&self, f: CodeField, set: &CodeSet) -> bool {
        let ch = self.h.client_hello.as_ref();
        let no_grease =
            |v: &[u16]| v.iter().copied().filter(|&x| !names::is_grease(x)).any(|x| set.contains(x));
        match f {
            CodeField::Version => self.final_sh().is_some_and(|s| set.contains(s.negotiated_version())),
            CodeField::OfferedVersion => ch.is_some_and(|c| {
                if c.supported_versions.iter().any(|&v| !names::is_grease(v)) {
                    no_grease(&c.supported_versions)
                } else {
                    set.contains(c.version)
                }
            }),
            CodeField::Cipher => self.final_sh().is_some_and(|s| set.contains(s.cipher)),
            CodeField::OfferedCipher => ch.is_some_and(|c| no_grease(&c.ciphers)),
            CodeField::Group => self
                .final_sh()
                .and_then(|s| s.key_share_group)
                .or(self.h.details.ske_group)
                .is_some_and(|g| set.contains(g)),
            CodeField::OfferedGroup => ch.is_some_and(|c| no_grease(&c.groups)),
            CodeField::Alert => self.h.alerts.iter().any(|a| set.contains(u16::from(a.description))),
        }
    }
}

impl Cond {
    /// Evaluates the condition. A field the record lacks matches nothing (so `not` of it
    /// holds).
    pub fn eval(&self, v: &View<'_>) -> bool {
        match self {
            Cond::All(c) => c.iter().all(|c| c.eval(v)),
            Cond::Any(c) => c.iter().any(|c| c.eval(v)),
            Cond::Not(c) => !c.eval(v),
            Cond::Str(f, m) => v.any_str(*f, |s| m.is_match(s)),
            Cond::Ip { server, set } => set.contains(if *server { v.h.server.0 } else { v.h.client.0 }),
            Cond::Port { server, set } => set.contains(if *server { v.h.server.1 } else { v.h.client.1 }),
            Cond::Transport(t) => t.contains(&v.h.transport),
            Cond::Code(f, set) => v.any_code(*f, set),
            Cond::Bool(f, want) => v.bool(*f) == Some(*want),
            Cond::KeyType(t) => {
                v.h.certificates
                    .first()
                    .and_then(|c| c.info.as_ref().ok())
                    .is_some_and(|l| t.iter().any(|k| k.eq_ignore_ascii_case(&l.key_type)))
            }
            Cond::KeyBitsBelow(n) => {
                v.h.certificates
                    .first()
                    .and_then(|c| c.info.as_ref().ok())
                    .and_then(|l| l.key_bits)
                    .is_some_and(|b| b < *n)
            }
            Cond::Outcome(o) => o.contains(&v.h.outcome),
        }
    }

    /// An exact-value field this condition requires, for indexing: the condition itself,
    /// or a direct child of a top-level `all`.
    pub fn anchor(&self) -> Option<(StrField, &StrMatcher)> {
        match self {
            Cond::Str(f, m) if StrField::INDEXED.contains(f) && m.exact_only() => Some((*f, m)),
            Cond::All(c) => c.iter().find_map(|c| match c {
                Cond::Str(..) => c.anchor(),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// Compile context: where errors go and what lists exist.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    pub lines: &'a super::Lines,
    pub rule: Option<String>,
    pub lists: &'a HashMap<String, Arc<List>>,
    pub errors: &'a mut Vec<RuleError>,
}

impl Ctx<'_> {
    pub fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(RuleError {
            file: self.file.to_path_buf(),
            line: self.lines.line(span.start),
            rule: self.rule.clone(),
            message: message.into(),
        });
    }
}

/// Looks up a version by name: Suricata's spellings (`SSLv3`, `TLSv1`, `TLS 1.2`), the
/// common `TLS 1.0`/`TLSv1.2` forms, JA4's codes are not accepted (ambiguous), or
/// `0xNNNN`.
pub(crate) fn parse_version(s: &str) -> Option<u16> {
    let t: String = s.trim().to_ascii_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(h) = t.strip_prefix("0x") {
        return u16::from_str_radix(h, 16).ok();
    }
    Some(match t.as_str() {
        "sslv2" | "ssl2" | "ssl2.0" | "sslv2.0" => 0x0002,
        "sslv3" | "ssl3" | "ssl3.0" | "sslv3.0" => 0x0300,
        "tlsv1" | "tls1" | "tls1.0" | "tlsv1.0" => 0x0301,
        "tls1.1" | "tlsv1.1" => 0x0302,
        "tls1.2" | "tlsv1.2" => 0x0303,
        "tls1.3" | "tlsv1.3" => 0x0304,
        "dtls1.0" | "dtlsv1.0" => 0xfeff,
        "dtls1.2" | "dtlsv1.2" => 0xfefd,
        "dtls1.3" | "dtlsv1.3" => 0xfefc,
        _ => return None,
    })
}

type NameMap = HashMap<String, u16>;

fn name_map(f: fn(u16) -> Option<&'static str>, cell: &'static OnceLock<NameMap>) -> &'static NameMap {
    cell.get_or_init(|| (0..=u16::MAX).filter_map(|v| f(v).map(|n| (n.to_ascii_lowercase(), v))).collect())
}

fn alert_name(v: u16) -> Option<&'static str> {
    u8::try_from(v).ok().and_then(names::alert_description)
}

/// The namer and name map of a code field.
fn namer(f: CodeField) -> (fn(u16) -> Option<&'static str>, &'static NameMap) {
    static CIPHERS: OnceLock<NameMap> = OnceLock::new();
    static GROUPS: OnceLock<NameMap> = OnceLock::new();
    static ALERTS: OnceLock<NameMap> = OnceLock::new();
    match f {
        CodeField::Cipher | CodeField::OfferedCipher => {
            (names::cipher_suite, name_map(names::cipher_suite, &CIPHERS))
        }
        CodeField::Group | CodeField::OfferedGroup => (names::group, name_map(names::group, &GROUPS)),
        _ => (alert_name, name_map(alert_name, &ALERTS)),
    }
}

fn parse_code(f: CodeField, s: &str) -> Option<u16> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u16::from_str_radix(h, 16).ok();
    }
    if let Ok(n) = t.parse::<u16>() {
        if f == CodeField::Alert {
            return (n <= 255).then_some(n);
        }
        return Some(n);
    }
    namer(f).1.get(&t.to_ascii_lowercase()).copied()
}

fn compile_str(ctx: &mut Ctx<'_>, f: StrField, spec: &Spanned<StrSpec>) -> Option<Cond> {
    let span = spec.span();
    let n = f.norm();
    let mut m = StrMatcher::default();
    let table = match spec.get_ref() {
        StrSpec::Values(v) => {
            m.exact = v.iter().map(|s| normalize(n, s).into_boxed_str()).collect::<StrSet>();
            if m.exact.is_empty() {
                ctx.err(span, "an empty list matches nothing");
                return None;
            }
            return Some(Cond::Str(f, m));
        }
        StrSpec::Table(t) => t,
    };
    m.exact = table.equals.0.iter().map(|s| normalize(n, s).into_boxed_str()).collect();
    if !table.suffix.0.is_empty() {
        if n != Norm::Name {
            ctx.err(span.clone(), "suffix matching applies to DNS names (sni, cert_san) only");
        }
        m.suffixes = table
            .suffix
            .0
            .iter()
            .map(|s| {
                let s = normalize(Norm::Name, s);
                let s = s.strip_prefix("*.").or_else(|| s.strip_prefix('.')).unwrap_or(&s).to_string();
                s.into_boxed_str()
            })
            .collect();
    }
    let mut pats: Vec<String> = table.regex.0.clone();
    pats.extend(table.contains.0.iter().map(|c| regex::escape(&normalize(n, c))));
    match regex_set(&pats) {
        Ok(r) => m.regex = r,
        Err(e) => ctx.err(span.clone(), format!("bad regex: {e}")),
    }
    for name in &table.list.0 {
        match ctx.lists.get(name) {
            Some(l) => m.lists.push(l.clone()),
            None => {
                let mut known: Vec<&str> = ctx.lists.keys().map(String::as_str).collect();
                known.sort_unstable();
                ctx.err(span.clone(), format!("no list named {name:?} (lists: {})", known.join(", ")));
            }
        }
    }
    if m.exact.is_empty() && m.suffixes.is_empty() && pats.is_empty() && table.list.0.is_empty() {
        ctx.err(span, "matches nothing: give equals, suffix, contains, regex or list");
        return None;
    }
    Some(Cond::Str(f, m))
}

fn compile_ip(ctx: &mut Ctx<'_>, server: bool, spec: &Spanned<StrSpec>) -> Option<Cond> {
    let span = spec.span();
    let mut items: Vec<String> = Vec::new();
    match spec.get_ref() {
        StrSpec::Values(v) => items.extend(v.iter().cloned()),
        StrSpec::Table(t) => {
            if !t.suffix.0.is_empty() || !t.regex.0.is_empty() || !t.contains.0.is_empty() {
                ctx.err(span.clone(), "addresses take CIDR blocks (plain or `equals`) and `list` only");
            }
            items.extend(t.equals.0.iter().cloned());
            for name in &t.list.0 {
                match ctx.lists.get(name) {
                    Some(l) => items.extend(l.entries.iter().map(|e| e.to_string())),
                    None => ctx.err(span.clone(), format!("no list named {name:?}")),
                }
            }
        }
    }
    if items.is_empty() {
        ctx.err(span, "an empty address list matches nothing");
        return None;
    }
    match IpSet::build(items.iter().map(String::as_str)) {
        Ok(set) => Some(Cond::Ip { server, set }),
        Err(e) => {
            ctx.err(span, e);
            None
        }
    }
}

fn compile_ports(ctx: &mut Ctx<'_>, server: bool, p: &Spanned<Ports>) -> Option<Cond> {
    let mut v = Vec::new();
    for item in &p.get_ref().0 {
        let r = match item {
            PortItem::Num(n) => u16::try_from(*n).ok().map(|p| (p, p)),
            PortItem::Range(s) => parse_port_range(s),
        };
        match r {
            Some(r) => v.push(r),
            None => ctx.err(p.span(), format!("bad port {item:?}")),
        }
    }
    if v.is_empty() {
        ctx.err(p.span(), "an empty port list matches nothing");
        return None;
    }
    Some(Cond::Port { server, set: PortSet::build(v) })
}

fn compile_codes(ctx: &mut Ctx<'_>, f: CodeField, spec: &Spanned<StrSpec>) -> Option<Cond> {
    let span = spec.span();
    let before = ctx.errors.len();
    let (values, regexes): (&[String], &[String]) = match spec.get_ref() {
        StrSpec::Values(v) => (v, &[]),
        StrSpec::Table(t) => {
            if !t.suffix.0.is_empty() || !t.contains.0.is_empty() || !t.list.0.is_empty() {
                ctx.err(
                    span.clone(),
                    "code points take names or 0xNNNN values (plain or `equals`) and `regex`",
                );
            }
            (&t.equals.0, &t.regex.0)
        }
    };
    let mut codes = Vec::new();
    for s in values {
        match parse_code(f, s) {
            Some(c) => codes.push(c),
            None => ctx.err(span.clone(), format!("unknown name {s:?} (use the IANA name or 0xNNNN)")),
        }
    }
    match regex_set(regexes) {
        Ok(Some(set)) => {
            let (name_of, _) = namer(f);
            let before = codes.len();
            codes.extend((0..=u16::MAX).filter(|&c| name_of(c).is_some_and(|n| set.is_match(n))));
            if codes.len() == before {
                ctx.err(span.clone(), "the regex matches no known name");
            }
        }
        Ok(None) => {}
        Err(e) => ctx.err(span.clone(), format!("bad regex: {e}")),
    }
    if codes.is_empty() {
        if ctx.errors.len() == before {
            ctx.err(span, "matches nothing");
        }
        return None;
    }
    Some(Cond::Code(f, CodeSet::build(codes)))
}

fn compile_versions(ctx: &mut Ctx<'_>, f: CodeField, s: &Spanned<Strings>) -> Option<Cond> {
    let mut codes = Vec::new();
    for v in &s.get_ref().0 {
        match parse_version(v) {
            Some(c) => codes.push(c),
            None => ctx.err(
                s.span(),
                format!(
                    "unknown version {v:?} (SSLv3, TLS 1.0, TLS 1.1, TLS 1.2, TLS 1.3, DTLS 1.2, or 0xNNNN)"
                ),
            ),
        }
    }
    (!codes.is_empty()).then(|| Cond::Code(f, CodeSet::build(codes)))
}

fn compile_alerts(ctx: &mut Ctx<'_>, s: &Spanned<Strings>) -> Option<Cond> {
    let mut codes = Vec::new();
    for v in &s.get_ref().0 {
        match parse_code(CodeField::Alert, v) {
            Some(c) => codes.push(c),
            None => {
                ctx.err(s.span(), format!("unknown alert description {v:?} (e.g. handshake_failure, 40)"))
            }
        }
    }
    (!codes.is_empty()).then(|| Cond::Code(CodeField::Alert, CodeSet::build(codes)))
}

/// The outcomes a rule may name: every one but `shutdown` (as rules have always had it).
fn rule_outcomes() -> impl Iterator<Item = Outcome> {
    Outcome::ALL.into_iter().filter(|o| *o != Outcome::Shutdown)
}

fn compile_outcomes(ctx: &mut Ctx<'_>, s: &Spanned<Strings>) -> Option<Cond> {
    let mut v = Vec::new();
    for o in &s.get_ref().0 {
        match rule_outcomes().find(|x| x.as_str() == o.trim()) {
            Some(x) => v.push(x),
            None => {
                let all: Vec<&str> = rule_outcomes().map(Outcome::as_str).collect();
                ctx.err(s.span(), format!("unknown outcome {o:?} ({})", all.join(", ")))
            }
        }
    }
    (!v.is_empty()).then_some(Cond::Outcome(v))
}

fn compile_transport(ctx: &mut Ctx<'_>, s: &Spanned<Strings>) -> Option<Cond> {
    let mut v = Vec::new();
    for t in &s.get_ref().0 {
        match t.trim().to_ascii_lowercase().as_str() {
            "tcp" | "tls" => v.push(Transport::Tcp),
            "quic" | "udp" => v.push(Transport::Quic),
            "dtls" => v.push(Transport::Dtls),
            _ => ctx.err(s.span(), format!("unknown transport {t:?} (tcp, quic, dtls)")),
        }
    }
    (!v.is_empty()).then_some(Cond::Transport(v))
}

/// Compiles a condition table; `None` when it had errors (already reported).
pub(crate) fn compile(ctx: &mut Ctx<'_>, raw: &Spanned<RawCond>) -> Option<Cond> {
    compile_at(ctx, raw.span(), raw.get_ref())
}

/// [`compile`] for a condition at `span`.
pub(crate) fn compile_at(ctx: &mut Ctx<'_>, span: Range<usize>, r: &RawCond) -> Option<Cond> {
    let before = ctx.errors.len();
    let mut parts: Vec<Cond> = Vec::new();
    let mut push = |c: Option<Cond>| {
        if let Some(c) = c {
            parts.push(c);
        }
    };
    if let Some(v) = &r.all {
        let c: Vec<Cond> = v.iter().filter_map(|c| compile(ctx, &c.0)).collect();
        if v.is_empty() {
            ctx.err(span.clone(), "`all` needs at least one condition");
        }
        push(Some(Cond::All(c)));
    }
    if let Some(v) = &r.any {
        let c: Vec<Cond> = v.iter().filter_map(|c| compile(ctx, &c.0)).collect();
        if v.is_empty() {
            ctx.err(span.clone(), "`any` needs at least one condition");
        }
        push(Some(Cond::Any(c)));
    }
    if let Some(n) = &r.not {
        push(compile(ctx, &n.0).map(|c| Cond::Not(Box::new(c))));
    }
    let strs: [(&Option<Spanned<StrSpec>>, StrField); 20] = [
        (&r.ja3, StrField::Ja3),
        (&r.ja3s, StrField::Ja3s),
        (&r.ja4, StrField::Ja4),
        (&r.ja4_a, StrField::Ja4A),
        (&r.ja4_b, StrField::Ja4B),
        (&r.ja4_c, StrField::Ja4C),
        (&r.ja4_ab, StrField::Ja4Ab),
        (&r.ja4_ac, StrField::Ja4Ac),
        (&r.ja4_bc, StrField::Ja4Bc),
        (&r.ja4_r, StrField::Ja4R),
        (&r.ja4s, StrField::Ja4s),
        (&r.ja4x, StrField::Ja4x),
        (&r.sni, StrField::Sni),
        (&r.alpn, StrField::Alpn),
        (&r.client_alpn, StrField::ClientAlpn),
        (&r.cert_issuer, StrField::CertIssuer),
        (&r.cert_subject, StrField::CertSubject),
        (&r.cert_san, StrField::CertSan),
        (&r.cert_sha1, StrField::CertSha1),
        (&r.cert_sha256, StrField::CertSha256),
    ];
    for (spec, f) in strs {
        if let Some(s) = spec {
            push(compile_str(ctx, f, s));
        }
    }
    if let Some(s) = &r.client_ip {
        push(compile_ip(ctx, false, s));
    }
    if let Some(s) = &r.server_ip {
        push(compile_ip(ctx, true, s));
    }
    if let Some(p) = &r.client_port {
        push(compile_ports(ctx, false, p));
    }
    if let Some(p) = &r.server_port {
        push(compile_ports(ctx, true, p));
    }
    if let Some(t) = &r.transport {
        push(compile_transport(ctx, t));
    }
    if let Some(v) = &r.version {
        push(compile_versions(ctx, CodeField::Version, v));
    }
    if let Some(v) = &r.offered_version {
        push(compile_versions(ctx, CodeField::OfferedVersion, v));
    }
    let codes = [
        (&r.cipher, CodeField::Cipher),
        (&r.offered_cipher, CodeField::OfferedCipher),
        (&r.group, CodeField::Group),
        (&r.offered_group, CodeField::OfferedGroup),
    ];
    for (spec, f) in codes {
        if let Some(s) = spec {
            push(compile_codes(ctx, f, s));
        }
    }
    if let Some(a) = &r.alert {
        push(compile_alerts(ctx, a));
    }
    if let Some(o) = &r.outcome {
        push(compile_outcomes(ctx, o));
    }
    if let Some(k) = &r.cert_key_type {
        push(Some(Cond::KeyType(k.get_ref().0.clone())));
    }
    if let Some(n) = r.cert_key_bits_below {
        push(Some(Cond::KeyBitsBelow(n)));
    }
    let bools = [
        (r.sni_present, BoolField::SniPresent),
        (r.server_ip_public, BoolField::ServerIpPublic),
        (r.resumed, BoolField::Resumed),
        (r.hello_retry, BoolField::HelloRetry),
        (r.cert_seen, BoolField::CertSeen),
        (r.cert_expired, BoolField::CertExpired),
        (r.cert_not_yet_valid, BoolField::CertNotYetValid),
        (r.cert_self_signed, BoolField::CertSelfSigned),
        (r.cert_name_mismatch, BoolField::CertNameMismatch),
        (r.cert_weak_key, BoolField::CertWeakKey),
        (r.cert_weak_signature, BoolField::CertWeakSignature),
        (r.cert_missing_intermediate, BoolField::CertMissingIntermediate),
    ];
    for (b, f) in bools {
        if let Some(b) = b {
            push(Some(Cond::Bool(f, b)));
        }
    }
    if ctx.errors.len() > before {
        return None;
    }
    match parts.len() {
        0 => {
            ctx.err(span.clone(), "empty condition: name at least one field");
            None
        }
        1 => parts.pop(),
        _ => Some(Cond::All(parts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_by_name() {
        assert_eq!(parse_version("TLS 1.0"), Some(0x0301));
        assert_eq!(parse_version("TLSv1"), Some(0x0301));
        assert_eq!(parse_version("tlsv1.2"), Some(0x0303));
        assert_eq!(parse_version("SSLv3"), Some(0x0300));
        assert_eq!(parse_version("0x7f1c"), Some(0x7f1c));
        assert_eq!(parse_version("TLS 9"), None);
    }

    #[test]
    fn codes_by_name_or_number() {
        assert_eq!(parse_code(CodeField::Cipher, "TLS_RSA_WITH_RC4_128_SHA"), Some(0x0005));
        assert_eq!(parse_code(CodeField::Cipher, "tls_aes_128_gcm_sha256"), Some(0x1301));
        assert_eq!(parse_code(CodeField::Cipher, "0xc02f"), Some(0xc02f));
        assert_eq!(parse_code(CodeField::Group, "x25519"), Some(0x001d));
        assert_eq!(parse_code(CodeField::Alert, "handshake_failure"), Some(40));
        assert_eq!(parse_code(CodeField::Alert, "300"), None);
        assert_eq!(parse_code(CodeField::Cipher, "TLS_NOPE"), None);
    }

    #[test]
    fn normalization() {
        assert_eq!(
            normalize(Norm::Fingerprint, " E7D705A3286E19EA42F587B344EE6865 "),
            "e7d705a3286e19ea42f587b344ee6865"
        );
        assert_eq!(normalize(Norm::Name, "WWW.Example.COM."), "www.example.com");
        let sha1 = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD";
        assert_eq!(normalize(Norm::Fingerprint, sha1), "aabbccddeeff00112233445566778899aabbccdd");
    }
}
