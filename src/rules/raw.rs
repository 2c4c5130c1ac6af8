//! The rule file as written: serde structs with `deny_unknown_fields`, before any
//! checking beyond TOML types. [`super::compile`] builds the runtime form from these.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// One rule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    /// `[[rule]]` tables.
    #[serde(default)]
    pub rule: Vec<Spanned<RawRule>>,
    /// `[[list]]` tables: named lists imported from files.
    #[serde(default)]
    pub list: Vec<Spanned<RawList>>,
    /// `[[labels]]` tables: FoxIO ja4plus-mapping files for enrichment.
    #[serde(default)]
    pub labels: Vec<Spanned<RawLabels>>,
    /// `[[suricata]]` tables: Suricata rule files imported as rules.
    #[serde(default)]
    pub suricata: Vec<Spanned<RawSuricata>>,
    /// `[learn]`: the new-fingerprint learner.
    pub learn: Option<Spanned<RawLearn>>,
}

/// `[[rule]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub id: Spanned<String>,
    pub msg: String,
    #[serde(default)]
    pub severity: Option<Spanned<String>>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub sid: Option<u32>,
    #[serde(default)]
    pub rev: Option<u32>,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub when: Spanned<Box<RawCond>>,
}

fn yes() -> bool {
    true
}

/// `[[list]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawList {
    pub name: Spanned<String>,
    pub path: Spanned<String>,
    pub format: Spanned<String>,
    /// Zeek intel only: the indicator types kept (default `Intel::JA3`, `Intel::JA4`).
    #[serde(default)]
    pub indicator_types: Option<Vec<String>>,
}

/// `[[labels]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLabels {
    pub path: Spanned<String>,
    #[serde(default)]
    pub format: Option<Spanned<String>>,
}

/// `[[suricata]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSuricata {
    pub path: Spanned<String>,
    /// Severity for rules without `priority`.
    #[serde(default)]
    pub severity: Option<Spanned<String>>,
    /// Prefix of the rule ids made from sids (default `suricata:`).
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// Address variables (`HOME_NET = ["10.0.0.0/8"]`).
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, Strings>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `[learn]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLearn {
    #[serde(default)]
    pub enabled: bool,
    pub id: Spanned<String>,
    pub msg: String,
    #[serde(default)]
    pub severity: Option<Spanned<String>>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub sid: Option<u32>,
    #[serde(default = "default_learn_field")]
    pub field: Spanned<String>,
    pub warmup: Spanned<Duration>,
    #[serde(default)]
    pub state: Option<Spanned<String>>,
    #[serde(default)]
    pub max_entries: Option<usize>,
    /// Only handshakes matching this are learned and alerted on.
    #[serde(default)]
    pub when: Option<Spanned<RawCond>>,
}

fn default_learn_field() -> Spanned<String> {
    Spanned::new(0..0, "ja4".to_string())
}

/// A condition table: every key present must hold (`all` of them); `all`, `any` and
/// `not` nest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCond {
    pub all: Option<Vec<Nested>>,
    pub any: Option<Vec<Nested>>,
    pub not: Option<Box<Nested>>,

    pub ja3: Option<Spanned<StrSpec>>,
    pub ja3s: Option<Spanned<StrSpec>>,
    pub ja4: Option<Spanned<StrSpec>>,
    pub ja4_a: Option<Spanned<StrSpec>>,
    pub ja4_b: Option<Spanned<StrSpec>>,
    pub ja4_c: Option<Spanned<StrSpec>>,
    pub ja4_ab: Option<Spanned<StrSpec>>,
    pub ja4_ac: Option<Spanned<StrSpec>>,
    pub ja4_bc: Option<Spanned<StrSpec>>,
    pub ja4_r: Option<Spanned<StrSpec>>,
    pub ja4s: Option<Spanned<StrSpec>>,
    pub ja4x: Option<Spanned<StrSpec>>,

    pub sni: Option<Spanned<StrSpec>>,
    pub sni_present: Option<bool>,
    pub alpn: Option<Spanned<StrSpec>>,
    pub client_alpn: Option<Spanned<StrSpec>>,

    pub client_ip: Option<Spanned<StrSpec>>,
    pub server_ip: Option<Spanned<StrSpec>>,
    pub server_ip_public: Option<bool>,
    pub client_port: Option<Spanned<Ports>>,
    pub server_port: Option<Spanned<Ports>>,
    pub transport: Option<Spanned<Strings>>,

    pub version: Option<Spanned<Strings>>,
    pub offered_version: Option<Spanned<Strings>>,
    pub cipher: Option<Spanned<StrSpec>>,
    pub offered_cipher: Option<Spanned<StrSpec>>,
    pub group: Option<Spanned<StrSpec>>,
    pub offered_group: Option<Spanned<StrSpec>>,
    pub resumed: Option<bool>,
    pub hello_retry: Option<bool>,

    pub cert_issuer: Option<Spanned<StrSpec>>,
    pub cert_subject: Option<Spanned<StrSpec>>,
    pub cert_san: Option<Spanned<StrSpec>>,
    pub cert_sha1: Option<Spanned<StrSpec>>,
    pub cert_sha256: Option<Spanned<StrSpec>>,
    pub cert_key_type: Option<Spanned<Strings>>,
    pub cert_key_bits_below: Option<u32>,
    pub cert_seen: Option<bool>,
    pub cert_expired: Option<bool>,
    pub cert_not_yet_valid: Option<bool>,
    pub cert_self_signed: Option<bool>,
    pub cert_name_mismatch: Option<bool>,
    pub cert_weak_key: Option<bool>,
    pub cert_weak_signature: Option<bool>,
    pub cert_missing_intermediate: Option<bool>,

    pub outcome: Option<Spanned<Strings>>,
    pub alert: Option<Spanned<Strings>>,
}

/// How deep `all`/`any`/`not` may nest. Deserialization recurses once per level, so the
/// cap keeps a hostile file from exhausting the stack.
pub const MAX_DEPTH: usize = 16;

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A nested condition, deserialized with a depth check.
#[derive(Debug)]
pub(crate) struct Nested(pub Spanned<RawCond>);

impl<'de> Deserialize<'de> for Nested {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let depth = DEPTH.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        let r = if depth > MAX_DEPTH {
            Err(de::Error::custom(format!("conditions nested deeper than {MAX_DEPTH} levels")))
        } else {
            Spanned::<RawCond>::deserialize(d).map(Nested)
        };
        DEPTH.with(|c| c.set(c.get() - 1));
        r
    }
}

/// Values of a string field: a string, an array of strings, or a table naming how to
/// match.
#[derive(Debug)]
pub(crate) enum StrSpec {
    /// Plain values: exact matches.
    Values(Vec<String>),
    /// `{ equals = .., suffix = .., regex = .., contains = .., list = .. }`.
    Table(Box<StrTable>),
}

/// The table form of [`StrSpec`]: a value matches when any entry of any key matches.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StrTable {
    #[serde(default)]
    pub equals: Strings,
    #[serde(default)]
    pub suffix: Strings,
    #[serde(default)]
    pub contains: Strings,
    #[serde(default)]
    pub regex: Strings,
    #[serde(default)]
    pub list: Strings,
}

impl<'de> Deserialize<'de> for StrSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a string, an array of strings, or a table with equals/suffix/contains/regex/list",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StrSpec, E> {
                Ok(StrSpec::Values(vec![s.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<StrSpec, A::Error> {
                Ok(StrSpec::Values(strings_from_seq(seq)?))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StrSpec, A::Error> {
                StrTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| StrSpec::Table(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// One string or an array of strings.
#[derive(Debug, Default, Clone)]
pub(crate) struct Strings(pub Vec<String>);

fn strings_from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Vec<String>, A::Error> {
    let mut v = Vec::new();
    while let Some(s) = seq.next_element::<String>()? {
        v.push(s);
    }
    Ok(v)
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Strings, E> {
                Ok(Strings(vec![s.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Strings, A::Error> {
                Ok(Strings(strings_from_seq(seq)?))
            }
        }
        d.deserialize_any(V)
    }
}

/// Ports: a number, a `"low-high"` range string, or an array of those.
#[derive(Debug, Default)]
pub(crate) struct Ports(pub Vec<PortItem>);

/// One port entry as written.
#[derive(Debug)]
pub(crate) enum PortItem {
    /// A number (checked to fit 0..=65535 when compiled).
    Num(i64),
    /// A range string.
    Range(String),
}

impl<'de> Deserialize<'de> for PortItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number or a \"low-high\" range")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PortItem, E> {
                Ok(PortItem::Num(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PortItem, E> {
                Ok(PortItem::Num(i64::try_from(n).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PortItem, E> {
                Ok(PortItem::Range(s.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Ports {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ports;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port, a \"low-high\" range, or an array of those")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Ports, E> {
                Ok(Ports(vec![PortItem::Num(n)]))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Ports, E> {
                Ok(Ports(vec![PortItem::Num(i64::try_from(n).unwrap_or(i64::MAX))]))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Ports, E> {
                Ok(Ports(vec![PortItem::Range(s.to_string())]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ports, A::Error> {
                let mut v = Vec::new();
                while let Some(p) = seq.next_element::<PortItem>()? {
                    v.push(p);
                }
                Ok(Ports(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration: whole seconds, or a string with a unit (`"90s"`, `"30m"`, `"12h"`, `"7d"`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Duration(pub u64);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("seconds, or a string like \"90s\", \"30m\", \"12h\", \"7d\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
                u64::try_from(n).map(Duration).map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
                Ok(Duration(n))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                parse_duration(s).map(Duration).ok_or_else(|| E::custom(format!("bad duration {s:?}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// `"90s"`, `"30m"`, `"12h"`, `"7d"`, `"2w"` or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1),
        (i, 'm') => (&s[..i], 60),
        (i, 'h') => (&s[..i], 3600),
        (i, 'd') => (&s[..i], 86_400),
        (i, 'w') => (&s[..i], 7 * 86_400),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("15"), Some(15));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("99999999999999999999w"), None);
    }

    #[test]
    fn shapes_of_values() {
        let c: RawCond = toml::from_str(
            r#"
            ja3 = "abc"
            sni = ["a", "b"]
            cipher = { regex = "_RC4_" }
            server_port = [443, "8000-8100"]
            "#,
        )
        .unwrap();
        assert!(matches!(c.ja3.unwrap().into_inner(), StrSpec::Values(v) if v == ["abc"]));
        assert!(matches!(c.sni.unwrap().into_inner(), StrSpec::Values(v) if v.len() == 2));
        assert!(matches!(c.cipher.unwrap().into_inner(), StrSpec::Table(t) if t.regex.0 == ["_RC4_"]));
        assert_eq!(c.server_port.unwrap().into_inner().0.len(), 2);
        let e = toml::from_str::<RawCond>("sni = { sufix = \"x\" }").unwrap_err();
        assert!(e.message().contains("sufix"), "{e}");
        let e = toml::from_str::<RawCond>("bogus = 1").unwrap_err();
        assert!(e.message().contains("bogus"), "{e}");
    }
}
