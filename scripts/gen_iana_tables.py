#!/usr/bin/env python3
"""Generate src/tls/names_gen.rs from IANA TLS registry CSV files.

Usage:
    python3 scripts/gen_iana_tables.py [IANA_DIR] [--check] [--compare DIR]

IANA_DIR defaults to ../shared/iana relative to the repository root (the
directory above this script's directory). The CSV files are read, never
copied into the repository; only the generated Rust file is committed.

Options:
    --check        Do not write; exit 1 if src/tls/names_gen.rs is stale.
    --compare DIR  Also parse older CSV copies in DIR (files named
                   "<registry-id>.<anything>.csv", e.g. IANA_DIR/verification)
                   with the same rules and print, per table, code points that
                   were added, removed or renamed relative to them.

Python 3.11, standard library only. The output depends only on the CSV
contents, so running the script twice gives byte-identical files.

Rules applied to every registry row:

* Values: cipher suites are written "0xHH,0xHH" (two bytes, big-endian into
  a u16); signature schemes "0xHHHH"; every other registry is decimal.
* Rows whose value is a range ("0x00,0x1C-1D", "0x01-09,*", "42-255",
  "0x0907-0x0910") are skipped. They are always Unassigned/Reserved; a named
  range would be an error and stops the script.
* Rows whose description starts with "Unassigned" or "Reserved" are skipped
  ("Reserved", "Reserved for Private Use", "Reserved for backward
  compatibility", "Reserved to avoid conflicts ..."). That includes every
  GREASE row (RFC 8701, description "Reserved"). Names that merely end in
  "_RESERVED" (alert "decryption_failed_RESERVED") are real IANA names and
  are kept as written: RFC 5246 and RFC 8446 use those spellings too.
* Whitespace inside a description (IANA wraps some across lines) is
  collapsed to single spaces.
* A trailing parenthesised annotation is removed, because it is a note about
  the name, not part of it. In the registries as of 2026-08 these are:
    - "supported_groups (renamed from "elliptic_curves")"  -> supported_groups
    - "session_ticket (renamed from "SessionTicket TLS")"  -> session_ticket
    - "X25519Kyber768Draft00 (OBSOLETE)"                   -> X25519Kyber768Draft00
    - "SecP256r1Kyber768Draft00 (OBSOLETE)"                -> SecP256r1Kyber768Draft00
  Exception: if removing the annotation would give the same name as another
  code point of the same table, the annotated name is kept verbatim so that a
  name still identifies exactly one code point. Today that applies only to
  extension 53 "connection_id (deprecated)" (54 is "connection_id"); the
  spelling also matches Wireshark's.
* The generator fails if a table ends up with a duplicate code point, a
  duplicate name, an empty name, or a GREASE value (0x?a?a, both bytes equal).
  Names that are not plain identifiers are reported on stderr but kept.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT_REL = "scripts/gen_iana_tables.py"
OUTPUT_REL = Path("src") / "tls" / "names_gen.rs"


@dataclass(frozen=True)
class Table:
    """One generated Rust table."""

    rust_name: str  # name of the static in the generated file
    registry_id: str  # IANA registry id, also the CSV file stem
    csv_path: str  # path relative to IANA_DIR
    title: str  # IANA registry title
    value_format: str  # "cipher" | "hex16" | "dec"
    int_type: str  # "u8" | "u16"


TABLES = [
    Table("CIPHER_SUITES", "tls-parameters-4", "tls-parameters-4.csv",
          "TLS Cipher Suites", "cipher", "u16"),
    Table("SUPPORTED_GROUPS", "tls-parameters-8", "tls-parameters-8.csv",
          "TLS Supported Groups", "dec", "u16"),
    Table("SIGNATURE_SCHEMES", "tls-signaturescheme", "tls-signaturescheme.csv",
          "TLS SignatureScheme", "hex16", "u16"),
    Table("EXTENSION_TYPES", "tls-extensiontype-values-1",
          "tls-extensiontype-values-1.csv", "TLS ExtensionType Values", "dec", "u16"),
    Table("ALERT_DESCRIPTIONS", "tls-parameters-6", "tls-parameters-6.csv",
          "TLS Alerts", "dec", "u8"),
    Table("CERT_COMPRESSION_ALGORITHMS", "tls-certificate-compression-algorithm-ids",
          "extra/tls-certificate-compression-algorithm-ids.csv",
          "TLS Certificate Compression Algorithm IDs", "dec", "u16"),
    Table("PSK_KEY_EXCHANGE_MODES", "tls-pskkeyexchangemode",
          "extra/tls-pskkeyexchangemode.csv", "TLS PskKeyExchangeMode", "dec", "u8"),
]

# First two columns of each registry, as IANA's stylesheet names them. Checked
# so that a renamed or swapped file is caught instead of silently misread.
EXPECTED_HEADER = {
    "tls-parameters-4": ("Value", "Description"),
    "tls-parameters-8": ("Value", "Description"),
    "tls-signaturescheme": ("Value", "Description"),
    "tls-extensiontype-values-1": ("Value", "Extension Name"),
    "tls-parameters-6": ("Value", "Description"),
    "tls-certificate-compression-algorithm-ids": ("Algorithm Number", "Description"),
    "tls-pskkeyexchangemode": ("Value", "Description"),
}

RE_CIPHER = re.compile(r"0x([0-9A-Fa-f]{2}),0x([0-9A-Fa-f]{2})")
RE_CIPHER_RANGE = re.compile(
    r"0x[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2})?,(\*|0x[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2})?)")
RE_HEX16 = re.compile(r"0x([0-9A-Fa-f]{4})")
RE_HEX16_RANGE = re.compile(r"0x[0-9A-Fa-f]{4}-0x[0-9A-Fa-f]{4}")
RE_DEC = re.compile(r"[0-9]+")
RE_DEC_RANGE = re.compile(r"[0-9]+-[0-9]+")
RE_SKIP_NAME = re.compile(r"(Unassigned|Reserved)\b", re.IGNORECASE)
RE_ANNOTATION = re.compile(r"^(.*?)\s*\([^()]*\)$")
RE_IDENT = re.compile(r"[A-Za-z0-9_]+")


class GenError(Exception):
    """A registry file is not in the expected shape."""


def parse_value(fmt: str, raw: str) -> int | None:
    """Return the code point, or None for a range row. Raise on anything else."""
    raw = raw.strip()
    if fmt == "cipher":
        if m := RE_CIPHER.fullmatch(raw):
            return int(m.group(1), 16) << 8 | int(m.group(2), 16)
        if RE_CIPHER_RANGE.fullmatch(raw):
            return None
    elif fmt == "hex16":
        if m := RE_HEX16.fullmatch(raw):
            return int(m.group(1), 16)
        if RE_HEX16_RANGE.fullmatch(raw):
            return None
    elif fmt == "dec":
        if RE_DEC.fullmatch(raw):
            return int(raw)
        if RE_DEC_RANGE.fullmatch(raw):
            return None
    raise GenError(f"unrecognised value {raw!r} for format {fmt}")


def is_grease(v: int) -> bool:
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def load_table(table: Table, path: Path) -> list[tuple[int, str]]:
    """Parse one registry CSV into sorted (code point, display name) pairs."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise GenError(f"{path}: empty file")
    want = EXPECTED_HEADER[table.registry_id]
    if tuple(rows[0][:2]) != want:
        raise GenError(f"{path}: header {rows[0][:2]} is not {list(want)}; wrong file?")
    limit = 0xFF if table.int_type == "u8" else 0xFFFF

    raw_entries: list[tuple[int, str, str]] = []  # (value, full name, stripped name)
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise GenError(f"{path}: record {lineno} has {len(row)} field(s)")
        name = " ".join(row[1].split())
        value = parse_value(table.value_format, row[0])
        if value is None:
            if not RE_SKIP_NAME.match(name):
                raise GenError(f"{path}: record {lineno}: named range {row[0]!r} {name!r}")
            continue
        if RE_SKIP_NAME.match(name):
            continue
        if value > limit:
            raise GenError(f"{path}: record {lineno}: {value} does not fit {table.int_type}")
        m = RE_ANNOTATION.match(name)
        stripped = m.group(1) if m else name
        raw_entries.append((value, name, stripped))

    # Keep the annotated spelling where stripping would make a name ambiguous.
    stripped_count: dict[str, int] = {}
    for _, _, stripped in raw_entries:
        stripped_count[stripped] = stripped_count.get(stripped, 0) + 1
    entries: list[tuple[int, str]] = []
    for value, full, stripped in raw_entries:
        name = stripped if stripped_count[stripped] == 1 or full == stripped else full
        entries.append((value, name))

    entries.sort()
    seen_names: set[str] = set()
    for i, (value, name) in enumerate(entries):
        if i and entries[i - 1][0] == value:
            raise GenError(f"{path}: code point {value:#06x} listed twice")
        if not name:
            raise GenError(f"{path}: code point {value:#06x} has an empty name")
        if name in seen_names:
            raise GenError(f"{path}: name {name!r} used for more than one code point")
        seen_names.add(name)
        if table.int_type == "u16" and is_grease(value):
            raise GenError(f"{path}: GREASE value {value:#06x} is named {name!r}")
        if not RE_IDENT.fullmatch(name):
            print(f"note: {table.csv_path}: {value:#06x} keeps non-identifier name {name!r}",
                  file=sys.stderr)
    return entries


ALPN_CSV = "alpn-protocol-ids.csv"
RE_ALPN_BYTES = re.compile(r"^((?:0x[0-9A-Fa-f]{2}\s*)+)")


def load_alpn(path: Path) -> list[str]:
    """ALPN protocol IDs (TLS Application-Layer Protocol Negotiation (ALPN) Protocol IDs),
    decoded from the registry's byte sequences, sorted and de-duplicated. Reserved
    (GREASE) rows are skipped; IDs that are not printable ASCII are skipped too (they are
    never metric labels)."""
    ids = set()
    with path.open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        header = next(rows)
        if tuple(header[:2]) != ("Protocol", "Identification Sequence"):
            raise GenError(f"{path}: unexpected header {header[:2]}")
        for row in rows:
            if len(row) < 2 or RE_SKIP_NAME.match(row[0].strip()):
                continue
            m = RE_ALPN_BYTES.match(row[1].strip())
            if not m:
                raise GenError(f"{path}: cannot read identification sequence {row[1]!r}")
            raw = bytes(int(b, 16) for b in m.group(1).split())
            text = raw.decode("ascii", errors="replace")
            if all(" " <= c <= "~" for c in text):
                ids.add(text)
    return sorted(ids)


def rust_str(s: str) -> str:
    """Rust string literal for s (ASCII printable kept, everything else escaped)."""
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    out.append('"')
    return "".join(out)


def render(loaded: list[tuple[Table, list[tuple[int, str]], str]],
           alpn: tuple[list[str], str]) -> str:
    lines = [
        "// @generated by scripts/gen_iana_tables.py. DO NOT EDIT.",
        "//",
        "// Regenerate with: python3 scripts/gen_iana_tables.py [IANA_DIR]",
        "// (IANA_DIR defaults to ../shared/iana beside the repository).",
        "//",
        "// Source registry files (IANA CSV, relative to IANA_DIR), sha256:",
    ]
    for table, _, digest in loaded:
        lines.append(f"//   {table.csv_path}")
        lines.append(f"//     {digest}")
    lines += [
        "//",
        "// Each table is sorted by code point, strictly ascending, for binary search.",
        "// Unassigned, Reserved (including GREASE) and range rows are left out, and",
        "// trailing annotations such as \"(renamed from ...)\" or \"(OBSOLETE)\" are",
        "// removed from names; see the script's docstring for the exact rules.",
    ]
    for table, entries, _ in loaded:
        width = 2 if table.int_type == "u8" else 4
        # The comment line inside the array also keeps rustfmt from joining a
        # short table onto one line, so the output is rustfmt-clean as written.
        lines += [
            "",
            f"/// IANA {table.title}: {len(entries)} entries.",
            f"pub(crate) static {table.rust_name}: &[({table.int_type}, &str)] = &[",
            f"    // From {table.csv_path}.",
        ]
        for value, name in entries:
            lines.append(f"    (0x{value:0{width}X}, {rust_str(name)}),")
        lines.append("];")
    ids, digest = alpn
    lines += [
        "",
        f"/// IANA ALPN Protocol IDs ({ALPN_CSV}, sha256 {digest[:16]}…): {len(ids)} IDs, sorted.",
        "pub(crate) static ALPN_IDS: &[&str] = &[",
        f"    // From {ALPN_CSV}.",
    ]
    for i in ids:
        lines.append(f"    {rust_str(i)},")
    lines.append("];")
    return "\n".join(lines) + "\n"


def compare(loaded: list[tuple[Table, list[tuple[int, str]], str]], cmp_dir: Path) -> None:
    """Print differences between the generated tables and older CSV copies."""
    by_id = {t.registry_id: (t, dict(e)) for t, e, _ in loaded}
    files = sorted(cmp_dir.glob("*.csv"))
    if not files:
        print(f"compare: no CSV files in {cmp_dir}")
    for path in files:
        registry_id = path.name.split(".", 1)[0]
        if registry_id not in by_id:
            print(f"compare: {path.name}: registry {registry_id} is not generated, skipped")
            continue
        table, current = by_id[registry_id]
        old = dict(load_table(table, path))
        width = 2 if table.int_type == "u8" else 4
        added = sorted(set(current) - set(old))
        removed = sorted(set(old) - set(current))
        renamed = sorted(v for v in set(old) & set(current) if old[v] != current[v])
        print(f"compare: {path.name}: {len(old)} named there, {len(current)} now; "
              f"{len(added)} added, {len(removed)} removed, {len(renamed)} renamed")
        for v in added:
            print(f"    + 0x{v:0{width}X} {current[v]}")
        for v in removed:
            print(f"    - 0x{v:0{width}X} {old[v]}")
        for v in renamed:
            print(f"    ~ 0x{v:0{width}X} {old[v]} -> {current[v]}")


def main(argv: list[str]) -> int:
    repo_root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("iana_dir", nargs="?", type=Path,
                    default=repo_root.parent / "shared" / "iana",
                    help="directory holding the IANA CSV files (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if the committed file differs from what would be generated")
    ap.add_argument("--compare", type=Path, metavar="DIR",
                    help="report differences against older CSV copies in DIR")
    args = ap.parse_args(argv)

    loaded = []
    try:
        for table in TABLES:
            path = args.iana_dir / table.csv_path
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            loaded.append((table, load_table(table, path), digest))
        alpn_path = args.iana_dir / ALPN_CSV
        alpn = (load_alpn(alpn_path), hashlib.sha256(alpn_path.read_bytes()).hexdigest())
    except (OSError, GenError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    text = render(loaded, alpn)
    out = repo_root / OUTPUT_REL
    for table, entries, _ in loaded:
        print(f"{table.rust_name}: {len(entries)} entries from {table.csv_path}", file=sys.stderr)

    if args.compare:
        try:
            compare(loaded, args.compare)
        except (OSError, GenError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    if args.check:
        current = out.read_text(encoding="utf-8") if out.exists() else None
        if current != text:
            print(f"{OUTPUT_REL} is out of date; run {SCRIPT_REL}", file=sys.stderr)
            return 1
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {OUTPUT_REL}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
