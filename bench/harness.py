#!/usr/bin/env python3
"""Helpers of bench/run.sh: timing, coverage, memory, and the final summary.

Every subcommand reads and updates one results file (JSON), so that run.sh stays a plain
list of steps and the summary is printed from what was measured in this run only.

  timing    time several shell commands on one capture (hyperfine when available,
            otherwise interleaved rounds: A B C A B C ...), store medians
  coverage  hellotap events vs. the ClientHellos tshark saw, JA3 agreement
  memory    run one command under /usr/bin/time -v with a time limit, sample its RSS
            and how far it read into its input, store the peak RSS
  summary   print the tables
"""

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def load(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def save(path, res):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def pairs(rest):
    if len(rest) % 2:
        raise SystemExit("harness: commands come as LABEL COMMAND pairs")
    return [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]


# ---------------------------------------------------------------------------------------
# timing


def time_hyperfine(cmds, runs, warmup):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
        out = tf.name
    argv = ["hyperfine", "--style", "basic", "--runs", str(runs), "--warmup", str(warmup),
            "--export-json", out]
    for label, cmd in cmds:
        argv += ["--command-name", label, cmd]
    subprocess.run(argv, check=True, stdout=sys.stderr)
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    times = {r["command"]: r["times"] for r in data["results"]}
    cpu = {r["command"]: r["user"] + r["system"] for r in data["results"]}  # means
    return times, cpu, "hyperfine"


def time_loop(cmds, runs, warmup):
    times = {label: [] for label, _ in cmds}
    cpus = {label: [] for label, _ in cmds}
    for r in range(warmup + runs):
        for label, cmd in cmds:
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            p = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL)
            dt = time.perf_counter() - t0
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime
            if p.returncode != 0:
                raise SystemExit(f"harness: `{cmd}` exited with {p.returncode}")
            if r >= warmup:
                times[label].append(dt)
                cpus[label].append(cpu)
        done = r + 1 - warmup
        if done > 0:
            line = ", ".join(f"{k} {statistics.median(v):.3f}s" for k, v in times.items())
            print(f"  round {done}/{runs}: median so far {line}", file=sys.stderr)
    return times, {k: statistics.mean(v) for k, v in cpus.items()}, "interleaved loop"


def cmd_timing(a, rest):
    cmds = pairs(rest)
    use_hf = a.tool == "hyperfine" or (a.tool == "auto" and shutil.which("hyperfine"))
    times, cpu, tool = (time_hyperfine if use_hf else time_loop)(cmds, a.runs, a.warmup)
    res = load(a.results)
    group = res.setdefault("timing", {}).setdefault(a.name, {})
    group.setdefault("capture", a.capture)
    group.setdefault("packets", a.packets)
    for label, cmd in cmds:
        ts = times[label]
        group[label] = {
            "command": cmd, "tool": tool, "runs": len(ts), "times": ts,
            "median": statistics.median(ts), "min": min(ts), "max": max(ts),
            "cpu_mean": cpu[label],  # user + system seconds, mean over the runs
        }
    save(a.results, res)
    for label, _ in cmds:
        g = group[label]
        print(f"  {label:<22} median {g['median']:8.3f} s  (min {g['min']:.3f}, max {g['max']:.3f}, "
              f"cpu {g['cpu_mean']:.3f} s, {g['runs']} runs, {tool})  {a.packets / g['median'] / 1e6:7.3f} Mpkt/s", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# coverage


def cmd_coverage(a, _rest):
    streams = {}  # tcp.stream -> (client addr, client port, ja3 of the first ClientHello)
    hellos = 0
    with open(a.tshark) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5 or not parts[0]:
                continue
            hellos += 1
            stream, ip4, ip6, port, ja3 = parts[:5]
            streams.setdefault(stream, ((ip4 or ip6).split(",")[0], port.split(",")[0], ja3.split(",")[0]))
    events = {}
    n_events = 0
    with open(a.events) as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            n_events += 1
            ja3 = (e.get("tls") or {}).get("ja3") or {}
            events[(e.get("src_ip"), str(e.get("src_port")))] = ja3.get("hash")
    matched = same_ja3 = 0
    for ip, port, ja3 in streams.values():
        key = (ip, port)
        if key in events:
            matched += 1
            if events[key] == ja3:
                same_ja3 += 1
    res = load(a.results)
    res["coverage"] = {
        "tshark_clienthellos": hellos, "tshark_handshake_streams": len(streams),
        "hellotap_events": n_events, "matched_streams": matched, "same_ja3": same_ja3,
    }
    save(a.results, res)
    c = res["coverage"]
    print(f"  tshark: {hellos} ClientHellos in {len(streams)} TCP streams; hellotap: {n_events} "
          f"events; {matched} streams matched by client address+port, {same_ja3} with the "
          f"same JA3", file=sys.stderr)
    return c


# ---------------------------------------------------------------------------------------
# memory


def child_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except OSError:
        return None


def proc_field(pid, name, key):
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def cmd_memory(a, rest):
    size = os.path.getsize(a.input)
    tf = tempfile.NamedTemporaryFile(suffix=".time", delete=False)
    tf.close()
    errf = tempfile.TemporaryFile(mode="w+")
    argv = ["/usr/bin/time", "-v", "-o", tf.name] + rest
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errf)
    target = None
    rss_samples = []  # (seconds, rss kB, fraction of input read)
    timed_out = False
    frac = 0.0
    while p.poll() is None:
        time.sleep(0.25)
        if target is None:
            target = child_of(p.pid)
            continue
        rss = proc_field(target, "status", "VmRSS:")
        rchar = proc_field(target, "io", "rchar:")
        if rchar is not None:
            frac = min(1.0, rchar / size)
        if rss is not None:
            rss_samples.append((round(time.monotonic() - t0, 2), rss, round(frac, 4)))
        if time.monotonic() - t0 > a.timeout:
            timed_out = True
            try:
                os.kill(target, signal.SIGTERM)  # the hellotap process started above
            except ProcessLookupError:
                pass
            p.wait()
            break
    p.wait()
    elapsed = time.monotonic() - t0
    maxrss = None
    with open(tf.name) as f:
        for line in f:
            if "Maximum resident set size" in line:
                maxrss = int(line.split(":")[1])
    os.unlink(tf.name)
    errf.seek(0)
    summary = [ln.strip() for ln in errf if ln.startswith("hellotap:")]
    res = load(a.results)
    entry = {
        "command": " ".join(rest), "input": a.input, "max_flows_per_worker": a.max_flows,
        "workers": a.workers, "flows_in_capture": a.flows, "timeout_s": a.timeout,
        "timed_out": timed_out, "elapsed_s": round(elapsed, 2), "peak_rss_kb": maxrss,
        "input_read_fraction": 1.0 if not timed_out else round(frac, 4),
        "summary": summary[-1] if summary else None,
        # A thinned RSS timeline: enough to see a plateau.
        "rss_timeline": rss_samples[:: max(1, len(rss_samples) // 12)],
    }
    res.setdefault("memory", {})[a.name] = entry
    save(a.results, res)
    state = (f"TIMED OUT after {a.timeout}s with {entry['input_read_fraction'] * 100:.1f}% of the input read"
             if timed_out else f"finished in {elapsed:.1f}s")
    print(f"  {a.name}: peak RSS {maxrss / 1024:.0f} MiB, {state}; {entry['summary']}", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# summary


def fmt_rate(pkts, secs):
    return f"{pkts / secs / 1e6:.3f}"


def paired_lines(w, group):
    """Per-round ratios of a group timed in interleaved rounds (runs of one round saw the
    same load): each hellotap run over tcpdump's, and 1 worker's over each, as the median
    with the quartiles, and how many rounds reached issue 8's 1.7x. False (nothing
    printed) when the group was not timed that way."""
    td, h1 = group.get("tcpdump"), group.get("hellotap-w1")
    runs = [r for r in group.values() if isinstance(r, dict)]
    if not td or not h1 or not all(r["tool"] == "interleaved loop" and r["runs"] == td["runs"] for r in runs):
        return False
    w("  paired per round (median of the per-round ratios; speed-up quartiles, rounds >= 1.7x):")
    for label, r in group.items():
        if isinstance(r, dict) and label.startswith("hellotap"):
            q = statistics.median(a / b for a, b in zip(r["times"], td["times"]))
            if r is h1:
                w(f"    {label:<14} / tcpdump = {q:6.2f}x")
                continue
            sp = [a / b for a, b in zip(h1["times"], r["times"])]
            q1, q2, q3 = statistics.quantiles(sp, n=4) if len(sp) > 1 else (sp[0],) * 3
            reach = sum(x >= 1.7 for x in sp)
            w(f"    {label:<14} / tcpdump = {q:6.2f}x; speed-up over 1 worker {q2:.2f}x "
              f"({q1:.2f}-{q3:.2f}, {reach}/{len(sp)})")
    return True


def cmd_summary(a, _rest):
    res = load(a.results)
    out = []
    w = out.append
    w("")
    w("=" * 78)
    w(f"hellotap benchmark summary   ({res.get('host', '')})")
    w("=" * 78)
    tim = res.get("timing", {})
    for name in ("handshakes", "tshark", "bulk"):
        g = tim.get(name)
        if not g:
            continue
        pk = g["packets"]
        w(f"\n[{name}] {g['capture']}  ({pk} packets)")
        w(f"  {'command':<24}{'median s':>10}{'min s':>9}{'max s':>9}{'cpu s':>8}{'runs':>6}{'Mpkt/s':>10}")
        for label, r in g.items():
            if not isinstance(r, dict):
                continue
            w(f"  {label:<24}{r['median']:>10.3f}{r['min']:>9.3f}{r['max']:>9.3f}{r['cpu_mean']:>8.3f}"
              f"{r['runs']:>6}{fmt_rate(pk, r['median']):>10}")
    hs = tim.get("handshakes", {})
    ts = tim.get("tshark", {})
    td = hs.get("tcpdump")
    h1 = hs.get("hellotap-w1")
    if td and h1:
        w("\nRatios (medians of the same run):")
        for label, r in hs.items():
            if isinstance(r, dict) and label.startswith("hellotap"):
                w(f"  {label:<14} / tcpdump   = {r['median'] / td['median']:6.2f}x wall   (target <= 2x); "
                  f"{r['cpu_mean'] / td['cpu_mean']:.2f}x CPU time")
        best = min((r for k, r in hs.items() if isinstance(r, dict) and k.startswith("hellotap")),
                   key=lambda r: r["median"])
        if ts.get("tshark"):
            t = ts["tshark"]["median"]
            # `hellotap replay` runs one worker per CPU unless told otherwise: the target is
            # its speed; 1 worker is the single-core figure.
            dflt = f"hellotap-w{len(os.sched_getaffinity(0))}"  # nproc, as run.sh
            if isinstance(hs.get(dflt), dict):
                w(f"  tshark / {dflt:<14} = {t / hs[dflt]['median']:6.1f}x wall   (target >= 100x; "
                  f"replay's default, a worker per CPU)")
            w(f"  tshark / hellotap-w1    = {t / h1['median']:6.1f}x wall   (one core); "
              f"{ts['tshark']['cpu_mean'] / h1['cpu_mean']:.1f}x CPU time")
            w(f"  tshark / best hellotap  = {t / best['median']:6.1f}x")
        if paired_lines(w, hs):
            pair = hs.get("two-w1-at-once")
            if pair:
                c = statistics.median(2 * a / b for a, b in zip(h1["times"], pair["times"]))
                w(f"    two 1-worker replays at once: {c:.2f}x the work of one in the same time")
        w("\nScaling (handshakes capture):")
        w(f"  {'workers':<10}{'median s':>10}{'Mpkt/s':>10}{'speed-up vs 1':>15}")
        for label, r in hs.items():
            if isinstance(r, dict) and label.startswith("hellotap-w"):
                w(f"  {label[10:]:<10}{r['median']:>10.3f}{fmt_rate(hs['packets'], r['median']):>10}"
                  f"{h1['median'] / r['median']:>14.2f}x")
        w("  (target: >= 1.7x with 2 workers on 2 cores)")
        pair = hs.get("two-w1-at-once")
        if pair:
            # Two independent replays of the whole file at once do twice the work: 2 x the
            # time of one alone over the time of the pair is the speed-up 2 cores give this
            # workload with nothing shared (2.0 on idle cores of their own).
            w(f"  ceiling: two independent 1-worker replays at once take {pair['median']:.3f} s, "
              f"{2 * h1['median'] / pair['median']:.2f}x the work of one in the same time")
    cov = res.get("coverage")
    if cov:
        n = cov["tshark_handshake_streams"]
        w("\nCoverage (handshakes capture):")
        w(f"  tshark ClientHellos {cov['tshark_clienthellos']} in {n} TCP streams; hellotap events "
          f"{cov['hellotap_events']} = {100 * cov['hellotap_events'] / max(1, n):.2f}% of the streams "
          f"(target >= 99%)")
        w(f"  streams matched by client address+port {cov['matched_streams']} "
          f"({100 * cov['matched_streams'] / max(1, n):.2f}%), same JA3 as tshark {cov['same_ja3']} "
          f"({100 * cov['same_ja3'] / max(1, n):.2f}%)")
    bulk = tim.get("bulk")
    if bulk and hs and bulk.get("tcpdump"):
        w("\nBulk (long flows):")
        for label, r in bulk.items():
            if isinstance(r, dict) and label.startswith("hellotap"):
                ns = r["median"] / bulk["packets"] * 1e9
                ns_td = bulk["tcpdump"]["median"] / bulk["packets"] * 1e9
                w(f"  {label:<14} {fmt_rate(bulk['packets'], r['median'])} Mpkt/s = {ns:.0f} ns/packet, "
                  f"{r['median'] / bulk['tcpdump']['median']:.2f}x tcpdump ({ns - ns_td:+.0f} ns/packet)")
        paired_lines(w, bulk)
        b1, meta = bulk.get("hellotap-w1"), res.get("captures", {})
        if b1 and h1 and "bulk" in meta and "handshakes" in meta:
            # Marginal cost of a packet after the handshake: the bulk run minus what its
            # flows would cost as plain handshake flows (per-flow cost from the handshakes run).
            per_flow = h1["median"] / meta["handshakes"]["flows"]
            base = per_flow * meta["bulk"]["flows"]
            extra = meta["bulk"]["packets"] - meta["handshakes"]["packets"] / meta["handshakes"]["flows"] * meta["bulk"]["flows"]
            if extra > 0:
                w(f"  marginal cost per post-handshake packet (1 worker): "
                  f"{(b1['median'] - base) / extra * 1e9:.0f} ns "
                  f"(handshake flows cost {per_flow * 1e6:.1f} us each)")
    mem = res.get("memory")
    if mem:
        w("\nMemory (peak RSS from /usr/bin/time -v):")
        w(f"  {'run':<22}{'flows':>9}{'cap/worker':>12}{'workers':>8}{'peak MiB':>10}{'B/capped flow':>15}  state")
        for name, m in mem.items():
            cap = m["max_flows_per_worker"] * m["workers"]
            held = min(cap, m["flows_in_capture"])
            state = (f"timeout {m['timeout_s']}s at {100 * m['input_read_fraction']:.0f}% read"
                     if m["timed_out"] else f"done {m['elapsed_s']:.1f}s")
            w(f"  {name:<22}{m['flows_in_capture']:>9}{m['max_flows_per_worker']:>12}{m['workers']:>8}"
              f"{m['peak_rss_kb'] / 1024:>10.0f}{m['peak_rss_kb'] * 1024 / held:>15.0f}  {state}")
    w("")
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("timing")
    t.add_argument("--name", required=True)
    t.add_argument("--capture", required=True)
    t.add_argument("--packets", type=int, required=True)
    t.add_argument("--runs", type=int, default=10)
    t.add_argument("--warmup", type=int, default=1)
    t.add_argument("--tool", choices=["auto", "hyperfine", "loop"], default="auto")
    c = sub.add_parser("coverage")
    c.add_argument("--events", required=True)
    c.add_argument("--tshark", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--name", required=True)
    m.add_argument("--input", required=True)
    m.add_argument("--timeout", type=float, default=180)
    m.add_argument("--max-flows", type=int, required=True)
    m.add_argument("--workers", type=int, required=True)
    m.add_argument("--flows", type=int, required=True, help="distinct flows in the capture")
    sub.add_parser("summary")
    s = sub.add_parser("set", help="store KEY=JSON (or KEY=@file.json) at the top level")
    s.add_argument("pairs", nargs="*")
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    a = ap.parse_args(argv)
    if a.cmd == "timing":
        cmd_timing(a, rest)
    elif a.cmd == "coverage":
        cmd_coverage(a, rest)
    elif a.cmd == "memory":
        cmd_memory(a, rest)
    elif a.cmd == "summary":
        cmd_summary(a, rest)
    elif a.cmd == "set":
        res = load(a.results)
        for kv in a.pairs:
            k, v = kv.split("=", 1)
            if v.startswith("@"):
                with open(v[1:]) as f:
                    v = f.read()
            try:
                res[k] = json.loads(v)
            except json.JSONDecodeError:
                res[k] = v
        save(a.results, res)


if __name__ == "__main__":
    main()
