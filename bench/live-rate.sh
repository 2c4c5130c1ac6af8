#!/usr/bin/env bash
# The highest rate at which tcpreplay into a veth loses nothing, for 1 and 2 workers, and
# the CPU hellotap spends on it.
# Two network namespaces of our own joined by a veth pair (MTU 65535, offloads off);
# `hellotap live` in one, tcpreplay at fixed packet rates in the other; a rate "loses
# nothing" when hellotap's packets_total equals what tcpreplay sent (drops: kernel,
# interface and queue counters). Needs root, a `--features live` build, tcpreplay, curl.
#   [BIN=path/to/hellotap] bench/live-rate.sh [CAPTURE] [RATES...]
set -euo pipefail
cd "$(dirname "$0")/.."
cap=${1:-/tmp/hellotap-bench/handshakes-300000.pcap}
shift || true
rates=${*:-"25000 50000 100000 200000 400000"}
# BIN: another build to measure (e.g. an older commit's); by default this tree's, always
# rebuilt (a plain `cargo build --release`, as bench/run.sh does, leaves one without `live`).
bin=${BIN:-target/release/hellotap}
[ -n "${BIN:-}" ] || cargo build --release --features live --quiet
# A 50k-packet slice keeps each step short.
slice=$(mktemp --suffix=.pcap)
conf=$(mktemp --suffix=.toml)
printf '[capture]\nstats_interval = 1\n' > "$conf"
editcap -r "$cap" "$slice" 1-50000 >/dev/null
tx=hlr-tx$$ rx=hlr-rx$$
cleanup() { ip netns del $tx 2>/dev/null || true; ip netns del $rx 2>/dev/null || true; rm -f "$slice" "$conf"; }
trap cleanup EXIT
ip netns add $tx; ip netns add $rx
ip link add vt$$ netns $tx type veth peer name vr$$ netns $rx
for ns_dev in "$tx vt$$" "$rx vr$$"; do
  set -- $ns_dev
  ip -n "$1" link set "$2" mtu 65535 up
  ip -n "$1" link set lo up
  ip netns exec "$1" ethtool -K "$2" gro off gso off tso off >/dev/null 2>&1 || true
done
tck=$(getconf CLK_TCK)
# cpu_s: CPU seconds (user + system) hellotap spent from the first packet sent to 2 s after the last.
printf '%-8s %-10s %-10s %-10s %-10s %-8s %-10s %-7s %s\n' workers rate_pps reached sent received dropped veth_rx_drop cpu_s drops_by_kind
for workers in 1 2; do
  for rate in $rates; do
    ip netns exec $rx timeout 120 $bin live --config "$conf" -i vr$$ --bpf 'tcp or udp' --workers $workers \
      --metrics-addr 127.0.0.1:19300 -o /dev/null 2>/dev/null &
    pid=$!
    for _ in $(seq 50); do ip netns exec $rx curl -sf -o /dev/null http://127.0.0.1:19300/healthz && break; sleep 0.1; done
    hpid=$(pgrep -P $pid | head -1) # `timeout`'s child: hellotap itself
    cpu() { awk '{print $14 + $15}' /proc/$hpid/stat 2>/dev/null || echo 0; }
    cpu0=$(cpu)
    out=$(ip netns exec $tx tcpreplay -q --pps=$rate -i vt$$ "$slice" 2>&1)
    sent=$(echo "$out" | sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p')
    # The rate tcpreplay reached (it shares the cores with hellotap).
    got=$(echo "$out" | sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' | cut -d. -f1)
    sleep 2
    cpu_s=$(awk -v a="$cpu0" -v b="$(cpu)" -v t="$tck" 'BEGIN {printf "%.2f", (b - a) / t}')
    m=$(ip netns exec $rx curl -s http://127.0.0.1:19300/metrics || true)
    recv=$(echo "$m" | awk '/^hellotap_packets_total\{/ {s+=$2} END {print s+0}')
    drop=$(echo "$m" | awk '/^hellotap_capture_drops_total\{kind="(kernel|interface|queue)"\}/ {s+=$2} END {print s+0}')
    kinds=$(echo "$m" | awk -F'[="}]' '/^hellotap_capture_drops_total\{kind="(kernel|interface|queue)"\}/ && $NF+0 > 0 {printf "%s=%d ", $3, $NF}')
    vdrop=$(ip -n $rx -s link show vr$$ | awk '/RX:/ {getline; print $4}')
    kill -TERM $pid; wait $pid 2>/dev/null || true
    printf '%-8s %-10s %-10s %-10s %-10s %-8s %-10s %-7s %s\n' $workers $rate "${got:-?}" "$sent" "$recv" "$drop" "$vdrop" "$cpu_s" "$kinds"
  done
done
