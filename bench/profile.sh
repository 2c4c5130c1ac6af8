#!/usr/bin/env bash
# Where hellotap's time goes on the handshakes capture (the worst case: every flow is new).
#
# Usage: bench/profile.sh [perf|callgrind] [PACKETS]
#   perf       (default when perf can sample) `perf record -e cpu-clock` with DWARF call
#              graphs: works without hardware counters (VMs), measures real CPU time.
#   callgrind  valgrind --tool=callgrind: exact instruction counts, inclusive per function.
#              Caveat: under valgrind the sha2 crate cannot use the SHA-NI instructions
#              and falls back to its software SHA-256, which then looks ~10x more
#              expensive than it is natively.
#   PACKETS    size of the handshakes capture (default 300000 for perf, 30000 for callgrind)
#
# Environment: WORKERS [1] (hellotap --workers), BENCH_DIR (capture cache, as run.sh).
# Prints the CPU split between threads, the top functions by self time, and the inclusive
# share of the main components. Nothing is written into the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
tool=${1:-}
if [[ -z $tool ]]; then
    if perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then tool=perf; else tool=callgrind; fi
fi
case $tool in
perf) packets=${2:-300000} ;;
callgrind) packets=${2:-30000} ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; $d'
    exit 2
    ;;
esac
workers=${WORKERS:-1}
cache=${BENCH_DIR:-${TMPDIR:-/tmp}/hellotap-bench}
mkdir -p "$cache"
out=$(mktemp -d "$cache/profile-XXXXXX")

(cd "$repo" && cargo build --release --quiet)
bin="${CARGO_TARGET_DIR:-$repo/target}/release/hellotap"
cap="$cache/handshakes-$packets.pcap"
[[ -f $cap ]] || python3 "$here/mkcapture.py" --mode handshakes --packets "$packets" -o "$cap" --meta "$cap.meta.json"
cat "$cap" >/dev/null

# The components whose inclusive share is reported (label|regex of the symbol). Inclusive
# shares from DWARF unwinding are approximate where functions are inlined; leaf-ish
# components (JA4, x509, JSON, ...) are reliable, the sum over a whole thread comes from
# the thread split above.
components='
worker threads (pipeline::run_worker)|hellotap::pipeline::run_worker$
  flow table (hash, find, insert)|^(hashbrown::raw::RawTable<T,A>::find|hashbrown::table::HashTable<T,A>::find.*|hellotap::flow::FlowHasher::hash|hellotap::flow::FlowTable<V>::.*)$
  new flows (Worker::insert_flow)|hellotap::worker::Worker::insert_flow$
  TCP reassembly (StreamState::segment)|hellotap::reassembly::StreamState::segment$
  TLS record layer (DirParser::feed)|hellotap::tls::stream::DirParser::feed$
  ClientHello parse|hellotap::tls::hello::parse_client_hello$
  record of a finished handshake (Recorder::finish)|hellotap::worker::Recorder::finish$
    JA4 (hashes cached by input string)|hellotap::fingerprint::ja4::ja4(_with)?$
    JA3 (hashes cached by input string)|hellotap::fingerprint::ja3::ja3(_with)?$
    x509 parse of the certificates (cache misses)|hellotap::x509::parse_certificate$
    event rendering (enrich::render, on the worker)|hellotap::enrich::render$
reading thread: Pipeline::frame_in (decode, shard, dispatch)|hellotap::pipeline::Pipeline::frame_in$
  reading the file (read syscalls)|^vfs_read$
  writing events (replay emit)|hellotap::replay::run::\{\{closure\}\}$
frame decode (workers)|hellotap::decode::decode_with$
allocator (mimalloc, self)|^(mi_.*|_mi_.*)$
kernel page clearing (first touch of memory)|^clear_page_erms$
core::fmt (self: format!, write!)|^(alloc::fmt::format::format_inner|core::fmt::write|<core::fmt::Formatter>::pad_integral)$'

if [[ $tool == perf ]]; then
    echo "perf record (cpu-clock, DWARF call graphs) of: hellotap replay -q --workers $workers $cap" >&2
    perf record -q -e cpu-clock -F 4999 --call-graph dwarf,16384 -o "$out/perf.data" -- \
        "$bin" replay -q --workers "$workers" "$cap" >/dev/null
    echo
    echo "CPU samples by thread:"
    perf report -i "$out/perf.data" --stdio --no-children --sort comm -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -5 || true
    echo
    echo "Top 20 functions by self time (% of all samples):"
    perf report -i "$out/perf.data" --stdio --no-children --sort symbol -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -20 | awk '{p=$1; $1=""; sub(/^ +\[[.k]\] /,""); sub(/ +- +- *$/,""); printf "  %7s  %s\n", p, substr($0,1,110)}' || true
    perf report -i "$out/perf.data" --stdio --children --sort symbol -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' |
        awk '{c=$1; s=$2; $1=$2=""; sub(/^ +\[[.k]\] /,""); sub(/ +- +- *$/,""); print c "\t" s "\t" $0}' >"$out/inclusive.tsv"
    # inclusive.tsv: children% self% symbol
else
    echo "callgrind of: hellotap replay -q --workers $workers $cap" >&2
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
        "$bin" replay -q --workers "$workers" "$cap" >/dev/null 2>"$out/valgrind.log"
    echo
    echo "Top 20 functions by self instructions (Ir):"
    callgrind_annotate "$out/callgrind.out" 2>/dev/null | sed -n '/^Ir/,$p' | grep -E '^ *[0-9,]+ \(' |
        grep -v 'PROGRAM TOTALS' | head -20 | sed -E 's/ \[[^]]*\]$//; s/^ *[0-9,]+ \( *([0-9.]+%)\) +[^:]*:/  \1  /' | cut -c1-120 || true
    callgrind_annotate --inclusive=yes "$out/callgrind.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' |
        grep -v 'PROGRAM TOTALS' | sed -E 's/ \[[^]]*\]$//; s/^ *[0-9,]+ \( *([0-9.]+)%\) +[^:]*:(.*)$/\1%\t-\t\2/' >"$out/inclusive.tsv"
fi

echo
echo "Inclusive share of the main components (% of all $tool samples/instructions, both threads):"
echo "$components" | while IFS='|' read -r label re; do
    [[ -n $label ]] || continue
    if [[ $label == allocator* || $label == core::fmt* ]]; then
        # Self time summed over the matching symbols.
        pct=$(awk -F'\t' -v re="$re" '$3 ~ re { gsub(/%/,"",$2); if ($2 == "-") $2 = 0; s += $2 } END { printf "%.1f%%", s }' "$out/inclusive.tsv")
        [[ $tool == callgrind ]] && pct=$(awk -F'\t' -v re="$re" '$3 ~ re { gsub(/%/,"",$1); if ($1 + 0 > m + 0) m = $1 + 0 } END { printf "%.1f%% (largest, inclusive)", m }' "$out/inclusive.tsv")
    else
        # Largest inclusive share among the matching symbols (inlined copies appear twice).
        pct=$(awk -F'\t' -v re="$re" '$3 ~ re { gsub(/%/,"",$1); if ($1 + 0 > m + 0) m = $1 + 0 } END { printf "%.1f%%", m }' "$out/inclusive.tsv")
    fi
    printf '  %-62s %s\n' "$label" "$pct"
done
echo
echo "raw data: $out"
