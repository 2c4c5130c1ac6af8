//! Suricata rules over the JA3/JA3S/JA4 sticky buffers, read unchanged and turned into
//! hellotap rules.
//!
//! Understood: actions `alert` (also `drop`/`reject`, which a passive sensor can only
//! report); protocols `tls`, `quic`; addresses `any`, IPs, CIDRs, `[lists]`, `!`
//! negation and `$VARS` (from the import's `vars`; `$HOME_NET` and `$EXTERNAL_NET`
//! default to `any`); ports likewise (`443`, `1024:`, `[80,443]`); `->` and `<>`.
//! Keywords: `msg`, `sid`, `rev`, `gid`, `classtype` (the category), `priority` (the
//! severity: 1 high, 2 medium, 3 low, 4 info), `metadata`, `reference`, `target`,
//! `requires`, `flow` (`established`, `to_server`, `to_client`, `from_server`,
//! `from_client`: a handshake record satisfies them), the buffers `ja3.hash` (`ja3_hash`),
//! `ja3s.hash` (`ja3s_hash`), `ja4.hash`, then `content` (with `!`, `nocase`,
//! `startswith`, `endswith`, `fast_pattern`) and `dataset:isset|isnotset,NAME[, type
//! string|md5|sha256, load FILE]` (FILE relative to the rule file, as Suricata does;
//! `type string` lines are base64, `md5`/`sha256` hex; without `load`, NAME must be a
//! hellotap `[[list]]`).
//!
//! Anything else (payload keywords, `pcre`, `bsize`, `ja3.string`, thresholds...) is an
//! error naming the keyword and line: a rule that silently matched more or less than it
//! says would be worse than none.
//!
//! Direction: the JA3 and JA4 buffers are inspected on the client's packets, JA3S on the
//! server's, so in `src -> dst` the source is the client for `ja3.hash`/`ja4.hash` rules
//! and the server for `ja3s.hash`-only rules.

use std::collections::BTreeMap;

use std::sync::Arc;

use super::cond::{Cond, StrField};
use super::import::ImportError;
use super::matchers::{IpSet, List, PortSet, StrMatcher, parse_port_range, regex_set};
use crate::fingerprint::Transport;

/// Cap on rules read from one file.
pub const MAX_RULES: usize = 1_000_000;

/// Cap on the nesting of address and port lists.
const MAX_DEPTH: usize = 8;

/// What one content or dataset keyword asks of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    /// `content:"..."`.
    Content { value: String, negated: bool, nocase: bool, startswith: bool, endswith: bool },
    /// `dataset:isset|isnotset`.
    Dataset { name: String, negated: bool, kind: Option<String>, load: Option<String> },
}

/// An address or port expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    /// `any`.
    Any,
    /// One address/CIDR or one port/range, as written.
    Item(String),
    /// `!x`.
    Not(Box<Expr>),
    /// `[a, b, !c]`: any of the positive items and none of the negated ones.
    List(Vec<Expr>),
}

/// A parsed Suricata rule.
#[derive(Debug, Clone)]
pub(crate) struct SuriRule {
    pub line: usize,
    pub msg: String,
    pub sid: u32,
    pub rev: u32,
    pub classtype: Option<String>,
    pub priority: Option<u32>,
    pub proto: String,
    pub src: Expr,
    pub sport: Expr,
    pub both_ways: bool,
    pub dst: Expr,
    pub dport: Expr,
    pub tests: Vec<(StrField, Test)>,
}

/// Splits the option block on `;` outside quotes, honouring `\` escapes.
fn split_options(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut esc) = (false, false);
    for c in s.chars() {
        if esc {
            cur.push(c);
            esc = false;
            continue;
        }
        match c {
            '\\' => {
                esc = true;
                cur.push(c);
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => {
                let t = cur.trim();
                if !t.is_empty() {
                    out.push(t.to_string());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote in the options".into());
    }
    if !cur.trim().is_empty() {
        return Err(format!("option {:?} is not ended by `;`", cur.trim()));
    }
    Ok(out)
}

/// Removes the quotes and `\` escapes of a quoted option value.
fn unquote(v: &str) -> Result<String, String> {
    let v = v.trim();
    let inner = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .ok_or_else(|| format!("{v:?} should be in double quotes"))?;
    let mut out = String::new();
    let mut esc = false;
    for c in inner.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Decodes `|hex|` runs in a content string.
fn content_bytes(s: &str) -> Result<String, String> {
    let mut out: Vec<u8> = Vec::new();
    let mut parts = s.split('|');
    let mut in_hex = false;
    for (i, p) in parts.by_ref().enumerate() {
        if i > 0 {
            in_hex = !in_hex;
        }
        if in_hex {
            for h in p.split_whitespace() {
                if h.len() % 2 != 0 {
                    return Err(format!("bad hex {h:?} in content"));
                }
                for k in (0..h.len()).step_by(2) {
                    out.push(
                        u8::from_str_radix(&h[k..k + 2], 16)
                            .map_err(|_| format!("bad hex {h:?} in content"))?,
                    );
                }
            }
        } else {
            out.extend_from_slice(p.as_bytes());
        }
    }
    if in_hex {
        return Err("unterminated |hex| in content".into());
    }
    String::from_utf8(out).map_err(|_| "content is not UTF-8 text (fingerprints are)".into())
}

/// Splits `a, b, [c, d]` at top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

fn parse_expr(
    s: &str,
    vars: &BTreeMap<String, Vec<String>>,
    addr: bool,
    depth: usize,
) -> Result<Expr, String> {
    let s = s.trim();
    if depth > MAX_DEPTH {
        return Err("address or port lists nested too deep".into());
    }
    if s.is_empty() {
        return Err("empty address or port".into());
    }
    if s.eq_ignore_ascii_case("any") {
        return Ok(Expr::Any);
    }
    if let Some(r) = s.strip_prefix('!') {
        return Ok(Expr::Not(Box::new(parse_expr(r, vars, addr, depth + 1)?)));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let items = split_top(inner)
            .into_iter()
            .map(|i| parse_expr(i, vars, addr, depth + 1))
            .collect::<Result<_, _>>()?;
        return Ok(Expr::List(items));
    }
    if let Some(name) = s.strip_prefix('$') {
        return match vars.get(name) {
            Some(v) => parse_expr(&format!("[{}]", v.join(",")), vars, addr, depth + 1),
            None if addr && (name == "HOME_NET" || name == "EXTERNAL_NET") => Ok(Expr::Any),
            None => Err(format!("variable ${name} is not defined (set it in the import's vars)")),
        };
    }
    Ok(Expr::Item(s.to_string()))
}

/// Splits the header at whitespace outside `[...]`.
fn header_fields(h: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, None);
    for (i, c) in h.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if let Some(s) = start.take() {
                out.push(&h[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(&h[s..]);
    }
    out
}

fn buffer(kw: &str) -> Option<StrField> {
    match kw {
        "ja3.hash" | "ja3_hash" => Some(StrField::Ja3),
        "ja3s.hash" | "ja3s_hash" => Some(StrField::Ja3s),
        "ja4.hash" => Some(StrField::Ja4),
        _ => None,
    }
}

/// Keywords accepted and not needed for matching a handshake record.
const IGNORED: [&str; 5] = ["metadata", "reference", "target", "requires", "gid"];

/// Parses one rule (continuation lines already joined).
fn parse_rule(line: usize, text: &str, vars: &BTreeMap<String, Vec<String>>) -> Result<SuriRule, String> {
    let open = text.find('(').ok_or("no option block `(...)`")?;
    let close = text.rfind(')').filter(|&c| c > open).ok_or("option block `(...)` is not closed")?;
    if !text[close + 1..].trim().is_empty() {
        return Err("text after the option block".into());
    }
    let head = header_fields(&text[..open]);
    let [action, proto, src, sport, dir, dst, dport] = head.as_slice() else {
        return Err(format!(
            "header has {} fields; expected `action proto src sport -> dst dport`",
            head.len()
        ));
    };
    match *action {
        "alert" | "drop" | "reject" => {}
        a => return Err(format!("unsupported action `{a}` (alert, drop, reject)")),
    }
    let proto = proto.to_ascii_lowercase();
    if proto != "tls" && proto != "quic" {
        return Err(format!("unsupported protocol `{proto}`: JA3/JA4 rules are `tls` or `quic`"));
    }
    let both_ways = match *dir {
        "->" => false,
        "<>" => true,
        d => return Err(format!("unsupported direction `{d}`")),
    };
    let mut r = SuriRule {
        line,
        msg: String::new(),
        sid: 0,
        rev: 1,
        classtype: None,
        priority: None,
        proto,
        src: parse_expr(src, vars, true, 0)?,
        sport: parse_expr(sport, vars, false, 0)?,
        both_ways,
        dst: parse_expr(dst, vars, true, 0)?,
        dport: parse_expr(dport, vars, false, 0)?,
        tests: Vec::new(),
    };
    let mut sid = None;
    let mut buf: Option<StrField> = None;
    for opt in split_options(&text[open + 1..close])? {
        let (kw, val) = match opt.split_once(':') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (opt.trim(), None),
        };
        let need = |what: &str| val.ok_or_else(|| format!("`{kw}` needs a value ({what})"));
        match kw {
            "msg" => r.msg = unquote(need("a quoted message")?)?,
            "sid" => sid = Some(need("a number")?.parse::<u32>().map_err(|_| "sid is not a number")?),
            "rev" => r.rev = need("a number")?.parse().map_err(|_| "rev is not a number")?,
            "classtype" => r.classtype = Some(need("a class")?.to_string()),
            "priority" => {
                r.priority = Some(need("a number")?.parse().map_err(|_| "priority is not a number")?)
            }
            "flow" => {
                for f in need("flow options")?.split(',') {
                    match f.trim() {
                        "established" | "to_server" | "to_client" | "from_server" | "from_client" => {}
                        o => return Err(format!("unsupported flow option `{o}`")),
                    }
                }
            }
            k if IGNORED.contains(&k) => {}
            k if buffer(k).is_some() => {
                if val.is_some() {
                    return Err(format!(
                        "`{k}` is a sticky buffer and takes no value (write `{k}; content:...`)"
                    ));
                }
                buf = buffer(k);
            }
            "content" => {
                let f = buf.ok_or("`content` before any ja3.hash/ja3s.hash/ja4.hash buffer (payload matching is not supported)")?;
                let v = need("a quoted string")?;
                let (negated, v) = match v.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, v),
                };
                let value = content_bytes(&unquote(v)?)?;
                if value.is_empty() {
                    return Err("empty content".into());
                }
                r.tests.push((
                    f,
                    Test::Content { value, negated, nocase: false, startswith: false, endswith: false },
                ));
            }
            "nocase" | "startswith" | "endswith" | "fast_pattern" => {
                let Some((_, Test::Content { nocase, startswith, endswith, .. })) = r.tests.last_mut() else {
                    return Err(format!("`{kw}` without a preceding content"));
                };
                match kw {
                    "nocase" => *nocase = true,
                    "startswith" => *startswith = true,
                    "endswith" => *endswith = true,
                    _ => {}
                }
            }
            "dataset" => {
                let f = buf.ok_or("`dataset` before any ja3.hash/ja3s.hash/ja4.hash buffer")?;
                let parts: Vec<&str> = need("isset,NAME,...")?.split(',').map(str::trim).collect();
                let negated = match parts.first().copied() {
                    Some("isset") => false,
                    Some("isnotset") => true,
                    Some(op) => {
                        return Err(format!("unsupported dataset operation `{op}` (isset, isnotset)"));
                    }
                    None => return Err("dataset needs an operation".into()),
                };
                let name = parts.get(1).filter(|n| !n.is_empty()).ok_or("dataset needs a name")?.to_string();
                let (mut kind, mut load) = (None, None);
                for p in &parts[2..] {
                    let (k, v) =
                        p.split_once(char::is_whitespace).map(|(k, v)| (k, v.trim())).unwrap_or((p, ""));
                    match k {
                        "type" => kind = Some(v.to_string()),
                        "load" => load = Some(v.to_string()),
                        "memcap" | "hashsize" => {}
                        o => return Err(format!("unsupported dataset option `{o}`")),
                    }
                }
                r.tests.push((f, Test::Dataset { name, negated, kind, load }));
            }
            k => return Err(format!("unsupported keyword `{k}`")),
        }
    }
    r.sid = sid.ok_or("no sid")?;
    if r.tests.is_empty() {
        return Err(
            "no ja3.hash/ja3s.hash/ja4.hash content or dataset: nothing a handshake record can match".into(),
        );
    }
    Ok(r)
}

/// Parses a Suricata rules file: one rule per line (a trailing `\` continues it), blank
/// lines and `#` comments (including commented-out rules) skipped. Errors name the rule's
/// first line.
pub(crate) fn parse(
    text: &str,
    vars: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<SuriRule>, Vec<ImportError>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        let l = l.strip_suffix('\r').unwrap_or(l);
        if l.len() > super::import::MAX_LINE {
            errs.push((n, "line too long".into()));
            continue;
        }
        let (start, mut acc) = match pending.take() {
            Some(p) => p,
            None => {
                let t = l.trim();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                (n, String::new())
            }
        };
        if let Some(body) = l.trim_end().strip_suffix('\\') {
            acc.push_str(body);
            acc.push(' ');
            if acc.len() > super::import::MAX_LINE {
                errs.push((start, "rule too long".into()));
                continue;
            }
            pending = Some((start, acc));
            continue;
        }
        acc.push_str(l);
        if out.len() >= MAX_RULES {
            errs.push((start, format!("more than {MAX_RULES} rules")));
            break;
        }
        match parse_rule(start, acc.trim(), vars) {
            Ok(r) => out.push(r),
            Err(e) => errs.push((start, e)),
        }
    }
    if let Some((start, _)) = pending {
        errs.push((start, "the file ends inside a continued rule".into()));
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// Address or port expression to a condition; `None` means "always".
fn expr_cond(e: &Expr, server: bool, addr: bool) -> Result<Option<Cond>, String> {
    Ok(match e {
        Expr::Any => None,
        Expr::Item(s) => Some(if addr {
            Cond::Ip { server, set: IpSet::build([s.as_str()])? }
        } else {
            let r = parse_port_range(s).ok_or_else(|| format!("bad port {s:?}"))?;
            Cond::Port { server, set: PortSet::build(vec![r]) }
        }),
        Expr::Not(x) => match expr_cond(x, server, addr)? {
            Some(c) => Some(Cond::Not(Box::new(c))),
            None => return Err("`!any` matches nothing".into()),
        },
        Expr::List(items) => {
            let mut pos: Vec<Cond> = Vec::new();
            let mut pos_any = false;
            let mut all: Vec<Cond> = Vec::new();
            for it in items {
                match (it, expr_cond(it, server, addr)?) {
                    (Expr::Not(_), Some(c)) => all.push(c),
                    (_, Some(c)) => pos.push(c),
                    (_, None) => pos_any = true,
                }
            }
            if !pos_any && !pos.is_empty() {
                all.insert(0, Cond::Any(pos));
            }
            match all.len() {
                0 => None,
                1 => all.pop(),
                _ => Some(Cond::All(all)),
            }
        }
    })
}

/// Full length of a buffer's value: a content this long can only match all of it.
fn full_len(f: StrField) -> usize {
    match f {
        StrField::Ja4 => 36,
        _ => 32,
    }
}

/// Loads a dataset file: `string` lines are base64, `md5`/`sha256` lines hex.
pub(crate) fn load_dataset(text: &str, kind: &str) -> Result<Vec<String>, Vec<ImportError>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        // A datarep-style `value,reputation` line keeps its value.
        let t = l.trim().split(',').next().unwrap_or("").trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if out.len() >= super::import::MAX_LIST_ENTRIES {
            errs.push((n, "too many entries".to_string()));
            break;
        }
        match kind {
            "string" => match super::import::base64_decode(t).and_then(|b| String::from_utf8(b).ok()) {
                Some(v) => out.push(v),
                None => {
                    errs.push((n, format!("{t:?} is not base64 of UTF-8 text (type string sets are base64)")))
                }
            },
            "md5" | "sha256" => {
                let want = if kind == "md5" { 32 } else { 64 };
                if t.len() == want && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    out.push(t.to_ascii_lowercase());
                } else {
                    errs.push((n, format!("{t:?} is not a {kind} in hex")));
                }
            }
            k => {
                errs.push((
                    0,
                    format!("dataset type `{k}` does not fit a fingerprint buffer (string, md5, sha256)"),
                ));
                break;
            }
        }
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// Builds the condition of a parsed rule. `dataset` resolves a dataset test to a list.
pub(crate) fn compile_rule(
    r: &SuriRule,
    dataset: &mut dyn FnMut(&Test) -> Result<Arc<List>, String>,
) -> Result<Cond, String> {
    let mut parts = Vec::new();
    let server_src = r.tests.iter().all(|(f, _)| *f == StrField::Ja3s);
    let side = |src: bool| if server_src { src } else { !src };
    let ends = |a: &Expr, ap: &Expr, b: &Expr, bp: &Expr| -> Result<Vec<Cond>, String> {
        let mut v = Vec::new();
        for c in [
            expr_cond(a, side(true), true)?,
            expr_cond(ap, side(true), false)?,
            expr_cond(b, side(false), true)?,
            expr_cond(bp, side(false), false)?,
        ]
        .into_iter()
        .flatten()
        {
            v.push(c);
        }
        Ok(v)
    };
    let fwd = ends(&r.src, &r.sport, &r.dst, &r.dport)?;
    if r.both_ways {
        let back = ends(&r.dst, &r.dport, &r.src, &r.sport)?;
        if !fwd.is_empty() && !back.is_empty() {
            parts.push(Cond::Any(vec![Cond::All(fwd), Cond::All(back)]));
        }
    } else {
        parts.extend(fwd);
    }
    if r.proto == "quic" {
        parts.push(Cond::Transport(vec![Transport::Quic]));
    }
    for (f, t) in &r.tests {
        let (c, negated) = match t {
            Test::Content { value, negated, nocase, startswith, endswith } => {
                let v = if *nocase { value.to_ascii_lowercase() } else { value.clone() };
                let mut m = StrMatcher::default();
                if (*startswith && *endswith) || v.len() >= full_len(*f) {
                    m.exact.insert(v.into_boxed_str());
                } else {
                    let e = regex::escape(&v);
                    let pat = match (startswith, endswith) {
                        (true, _) => format!("^{e}"),
                        (_, true) => format!("{e}$"),
                        _ => e,
                    };
                    m.regex = regex_set(&[pat])?;
                }
                (Cond::Str(*f, m), *negated)
            }
            Test::Dataset { negated, .. } => {
                let list = dataset(t)?;
                let m = StrMatcher { lists: vec![list], ..StrMatcher::default() };
                (Cond::Str(*f, m), *negated)
            }
        };
        parts.push(if negated { Cond::Not(Box::new(c)) } else { c });
    }
    Ok(if parts.len() == 1 { parts.remove(0) } else { Cond::All(parts) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Result<SuriRule, String> {
        parse_rule(1, s, &BTreeMap::new())
    }

    #[test]
    fn ja3_content_rule() {
        let r = one(r#"alert tls any any -> any any (msg:"Tor client"; ja3.hash; content:"e7d705a3286e19ea42f587b344ee6865"; sid:1; rev:2;)"#).unwrap();
        assert_eq!((r.sid, r.rev, r.msg.as_str()), (1, 2, "Tor client"));
        assert_eq!(r.tests.len(), 1);
        assert!(
            matches!(&r.tests[0], (StrField::Ja3, Test::Content { value, negated: false, .. }) if value == "e7d705a3286e19ea42f587b344ee6865")
        );
    }

    #[test]
    fn legacy_names_vars_flow_and_modifiers() {
        let r = one(r#"alert tls $HOME_NET any -> $EXTERNAL_NET [443,8443] (msg:"x\; y"; flow:established,to_server; ja3_hash; content:!"abc"; nocase; ja4.hash; content:"t13d"; startswith; reference:url,example.com/a; classtype:trojan-activity; priority:1; metadata:created_at 2026_01_01; sid:9;)"#).unwrap();
        assert_eq!(r.msg, "x; y");
        assert_eq!(r.src, Expr::Any);
        assert_eq!(r.dport, Expr::List(vec![Expr::Item("443".into()), Expr::Item("8443".into())]));
        assert_eq!(r.classtype.as_deref(), Some("trojan-activity"));
        assert_eq!(r.priority, Some(1));
        assert!(matches!(&r.tests[0], (StrField::Ja3, Test::Content { negated: true, nocase: true, .. })));
        assert!(matches!(&r.tests[1], (StrField::Ja4, Test::Content { startswith: true, .. })));
    }

    #[test]
    fn dataset_keyword() {
        let r = one("alert tls any any -> any any (msg:\"ds\"; ja3.hash; dataset:isset,ja3-fingerprints,type string,load ja3.lst; sid:3;)").unwrap();
        assert_eq!(
            r.tests[0].1,
            Test::Dataset {
                name: "ja3-fingerprints".into(),
                negated: false,
                kind: Some("string".into()),
                load: Some("ja3.lst".into())
            }
        );
        assert!(
            one("alert tls any any -> any any (ja3.hash; dataset:set,x; sid:3;)")
                .unwrap_err()
                .contains("`set`")
        );
    }

    #[test]
    fn unsupported_things_are_named() {
        let e = one(r#"alert tls any any -> any any (msg:"m"; ja3.hash; content:"a"; pcre:"/x/"; sid:1;)"#)
            .unwrap_err();
        assert!(e.contains("`pcre`"), "{e}");
        let e =
            one(r#"alert tls any any -> any any (msg:"m"; ja3.string; content:"771,"; sid:1;)"#).unwrap_err();
        assert!(e.contains("`ja3.string`"), "{e}");
        let e = one(r#"alert http any any -> any any (msg:"m"; ja3.hash; content:"a"; sid:1;)"#).unwrap_err();
        assert!(e.contains("`http`"), "{e}");
        let e = one(r#"alert tls any any -> any any (msg:"m"; content:"a"; sid:1;)"#).unwrap_err();
        assert!(e.contains("payload"), "{e}");
        let e = one(r#"alert tls any any -> any any (msg:"m"; ja3.hash; content:"a"; depth:4; sid:1;)"#)
            .unwrap_err();
        assert!(e.contains("`depth`"), "{e}");
        assert!(
            one(r#"alert tls any any -> any any (msg:"m"; ja3.hash; content:"a";)"#)
                .unwrap_err()
                .contains("sid")
        );
        assert!(
            one(r#"alert tls $HOMENET any -> any any (msg:"m"; ja3.hash; content:"a"; sid:1;)"#)
                .unwrap_err()
                .contains("$HOMENET")
        );
    }

    #[test]
    fn file_with_comments_and_continuations() {
        let text = "# comment\n\n#alert tls any any -> any any (disabled; sid:1;)\nalert tls any any -> any any (msg:\"a\"; \\\n  ja3.hash; content:\"|41 42|c\"; sid:2;)\nalert tls any any -> any any (msg:\"b\"; ja3.hash; bsize:32; sid:3;)\n";
        let e = parse(text, &BTreeMap::new()).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, 6);
        assert!(e[0].1.contains("`bsize`"));
        let ok = parse(&text.replace("bsize:32; ", "content:\"x\"; "), &BTreeMap::new()).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].line, 4);
        assert!(matches!(&ok[0].tests[0].1, Test::Content { value, .. } if value == "ABc"));
    }

    #[test]
    fn address_expressions() {
        let mut vars = BTreeMap::new();
        vars.insert("HOME_NET".to_string(), vec!["10.0.0.0/8".to_string(), "192.168.0.0/16".to_string()]);
        let e = parse_expr("![$HOME_NET, 1.2.3.4]", &vars, true, 0).unwrap();
        let Expr::Not(inner) = e else { panic!() };
        let Expr::List(items) = *inner else { panic!() };
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[0], Expr::List(v) if v.len() == 2));
        assert!(parse_expr(&("[".repeat(20) + &"]".repeat(20)), &vars, true, 0).is_err());
    }
}
