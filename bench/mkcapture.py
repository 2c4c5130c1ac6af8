#!/usr/bin/env python3
"""Build large benchmark captures out of the project's own real captures (pcaps/).

Every TCP connection found in pcaps/*.pcap and pcaps/*.pcapng (Ethernet, 802.1Q VLAN,
Linux cooked SLL v1 and SLL2; IPv4 and IPv6) is a real client talking to a real server.
This script clones those connections many times with fresh addresses, client ports and
initial sequence numbers, interleaves the clones in time so that many flows are active at
once, and writes one classic pcap (microsecond timestamps, link type Ethernet; SLL/SLL2
frames get a synthetic Ethernet header, VLAN tags are kept). Timestamps never go back.

What is rewritten in each cloned frame:
  * IPv4 / IPv6 source and destination addresses (clients come from 10.0.0.0/8 and
    fd00:c::/64, one fresh address per clone; servers from a pool in 172.16.0.0/12 and
    fd00:5::/64),
  * the client's TCP port (the server port, 443 or 8443, is kept so that tshark's port
    based TLS dissection sees the same thing it sees on the originals),
  * TCP sequence and acknowledgement numbers (a random ISN per direction and clone),
  * the IPv4 header checksum and the TCP checksum are both recomputed, so the output is
    valid even where the originals were not (the loopback captures carry partial,
    offloaded TCP checksums). hellotap does not verify TCP checksums and tshark does not
    by default; the recomputation is only there so that no tool has a reason to
    complain. Frames cut by the snaplen keep their checksum as captured.
Payload bytes (TLS records) are never changed.

Modes:
  handshakes  clones of whole short real TLS connections (~19 packets each on average),
              until --packets is reached: the worst case for a fingerprinter, every flow
              is new and carries one handshake.
  bulk        --flows connections of --flow-packets packets each: a real connection in
              which, before its first FIN/RST, the server sends many full-size (1448 B)
              TLS application_data segments, ACKed by the client every second segment.
  synflood    --count distinct SYNs (a real client SYN, fresh source address and port,
              one victim server), --interval-us apart.
  halfopen    --count connections that do SYN, SYN-ACK, ACK and then send the first
              segment (1448 bytes) of Chromium's ClientHello, which is split over two
              segments, and never the rest.

The output is deterministic for a given --seed and set of input captures.

Examples:
  bench/mkcapture.py --mode handshakes --packets 300000 -o /tmp/hs.pcap
  bench/mkcapture.py --mode bulk --flows 10000 --flow-packets 100 -o /tmp/bulk.pcap
  bench/mkcapture.py --mode synflood --count 1000000 -o /tmp/syn.pcap
  bench/mkcapture.py --mode halfopen --count 1000000 -o /tmp/half.pcap
"""

import argparse
import glob
import heapq
import json
import ipaddress
import os
import random
import struct
import sys

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = (0x8100, 0x88A8, 0x9100)

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# ---------------------------------------------------------------------------------------
# Reading captures


def read_pcap(data):
    """Classic pcap: yields (linktype, ts_ns, frame, orig_len)."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    hdr = struct.Struct(end + "IIII")
    while off + 16 <= len(data):
        sec, frac, incl, orig = hdr.unpack_from(data, off)
        off += 16
        frame = data[off:off + incl]
        off += incl
        yield linktype, sec * 1_000_000_000 + (frac if nano else frac * 1000), frame, orig


def read_pcapng(data):
    """pcapng (SHB, IDB, EPB, SPB): yields (linktype, ts_ns, frame, orig_len)."""
    off = 0
    end = "<"
    ifaces = []  # (linktype, ns per tick)
    while off + 12 <= len(data):
        btype = struct.unpack_from(end + "I", data, off)[0]
        if btype == 0x0A0D0D0A:  # section header: byte order, new interface list
            bom = data[off + 8:off + 12]
            end = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(end + "II", data, off)
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            linktype = struct.unpack_from(end + "H", body, 0)[0]
            per_sec = 1_000_000  # ticks per second; default resolution: microseconds
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack_from(end + "HH", body, o)
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    v = body[o + 4]
                    per_sec = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((linktype, per_sec))
        elif btype == 6:  # enhanced packet
            ifid, hi, lo, incl, orig = struct.unpack_from(end + "IIIII", body, 0)
            linktype, per_sec = ifaces[ifid]
            ts_ns = ((hi << 32) | lo) * 1_000_000_000 // per_sec
            yield linktype, ts_ns, body[20:20 + incl], orig
        elif btype == 3:  # simple packet
            linktype, _ = ifaces[0]
            orig = struct.unpack_from(end + "I", body, 0)[0]
            yield linktype, 0, body[4:4 + orig], orig
        off += blen


def read_capture(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return list(read_pcapng(data))
    return list(read_pcap(data))


def to_ethernet(linktype, frame):
    """Returns (ethernet_frame, l3_offset, ethertype) or None."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        off = 12
        etype = struct.unpack_from(">H", frame, off)[0]
        while etype in ETH_VLAN and len(frame) >= off + 6:
            off += 4
            etype = struct.unpack_from(">H", frame, off)[0]
        return bytes(frame), off + 2, etype
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        halen = struct.unpack_from(">H", frame, 4)[0]
        src = bytes(frame[6:6 + min(halen, 6)]).ljust(6, b"\0")
        etype = struct.unpack_from(">H", frame, 14)[0]
        payload = frame[16:]
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        etype = struct.unpack_from(">H", frame, 0)[0]
        halen = frame[11]
        src = bytes(frame[12:12 + min(halen, 6)]).ljust(6, b"\0")
        payload = frame[20:]
    else:
        return None
    eth = b"\x02\0\0\0\0\x01" + src + struct.pack(">H", etype)
    return eth + bytes(payload), 14, etype


# ---------------------------------------------------------------------------------------
# Packets and connections


class Pkt:
    """One TCP frame of a connection, as a template to clone."""

    __slots__ = ("ts", "frame", "l3", "v6", "tcp", "seg_end", "dir", "flags", "plen",
                 "seq", "ack", "full")

    def __init__(self, ts, frame, l3, v6, tcp, seg_end, flags, plen, seq, ack, full):
        self.ts = ts
        self.frame = frame
        self.l3 = l3
        self.v6 = v6
        self.tcp = tcp
        self.seg_end = seg_end
        self.flags = flags
        self.plen = plen
        self.seq = seq
        self.ack = ack
        self.full = full
        self.dir = 0


def parse_tcp(ts, eth, l3, etype, orig_len):
    """A Pkt for an Ethernet frame holding IPv4/IPv6 + TCP, else None."""
    if etype == ETH_IPV4:
        if len(eth) < l3 + 20 or eth[l3] >> 4 != 4:
            return None
        ihl = (eth[l3] & 15) * 4
        total = struct.unpack_from(">H", eth, l3 + 2)[0]
        frag = struct.unpack_from(">H", eth, l3 + 6)[0]
        if eth[l3 + 9] != 6 or frag & 0x3FFF:
            return None
        tcp = l3 + ihl
        ip_end = l3 + total
        src, dst = eth[l3 + 12:l3 + 16], eth[l3 + 16:l3 + 20]
        v6 = False
    elif etype == ETH_IPV6:
        if len(eth) < l3 + 40 or eth[l3] >> 4 != 6 or eth[l3 + 6] != 6:
            return None  # extension headers are not followed (the captures have none)
        tcp = l3 + 40
        ip_end = tcp + struct.unpack_from(">H", eth, l3 + 4)[0]
        src, dst = eth[l3 + 8:l3 + 24], eth[l3 + 24:l3 + 40]
        v6 = True
    else:
        return None
    if len(eth) < tcp + 20:
        return None
    sport, dport, seq, ack, doff, flags = struct.unpack_from(">HHIIBB", eth, tcp)
    hlen = (doff >> 4) * 4
    # The TCP checksum can be recomputed only when the whole IP packet was captured.
    full = len(eth) >= ip_end
    plen = ip_end - tcp - hlen
    p = Pkt(ts, eth, l3, v6, tcp, ip_end, flags, plen, seq, ack, full)
    return p, (bytes(src), sport), (bytes(dst), dport)


class Conn:
    def __init__(self, name, client, server):
        self.name = name
        self.client = client
        self.server = server
        self.pkts = []
        self.closed = False


def load_connections(paths):
    """All TCP connections that start with a SYN in the given captures, in file order."""
    conns = []
    for path in paths:
        name = os.path.basename(path)
        live = {}
        for linktype, ts, frame, orig in read_capture(path):
            e = to_ethernet(linktype, frame)
            if e is None:
                continue
            eth, l3, etype = e
            r = parse_tcp(ts, eth, l3, etype, orig)
            if r is None:
                continue
            p, a, b = r
            key = (a, b) if a < b else (b, a)
            c = live.get(key)
            syn_only = p.flags & (TCP_SYN | TCP_ACK) == TCP_SYN
            if c is None or (syn_only and c.closed and a == c.client):
                if not syn_only:
                    continue  # only connections seen from their SYN
                c = Conn(name, a, b)
                live[key] = c
                conns.append(c)
            p.dir = 0 if a == c.client else 1
            if p.flags & (TCP_FIN | TCP_RST):
                c.closed = True
            c.pkts.append(p)
    return conns


# ---------------------------------------------------------------------------------------
# Checksums and cloning


def ones_sum(b):
    """One's-complement sum of 16-bit big-endian words (odd length padded), in 0..0xfffe."""
    if len(b) & 1:
        b = bytes(b) + b"\0"
    return int.from_bytes(b, "big") % 0xFFFF


def fold_checksum(s):
    return (0xFFFF - s) if s else 0


def fix_checksums(b, p, src, dst):
    """Recomputes the IPv4 header checksum and the TCP checksum in frame `b` in place."""
    l3, tcp = p.l3, p.tcp
    if not p.v6:
        ihl = (b[l3] & 15) * 4
        b[l3 + 10:l3 + 12] = b"\0\0"
        b[l3 + 10:l3 + 12] = struct.pack(">H", fold_checksum(ones_sum(b[l3:l3 + ihl])))
    if not p.full:
        return
    seg_len = p.seg_end - tcp
    b[tcp + 16:tcp + 18] = b"\0\0"
    if p.v6:
        pseudo = src + dst + struct.pack(">IxxxB", seg_len, 6)
    else:
        pseudo = src + dst + struct.pack(">xBH", 6, seg_len)
    s = (ones_sum(pseudo) + ones_sum(b[tcp:p.seg_end])) % 0xFFFF
    b[tcp + 16:tcp + 18] = struct.pack(">H", fold_checksum(s))


def rewrite(p, c_addr, s_addr, c_port, isn, extra=(0, 0)):
    """A copy of template packet p with new addresses, client port and sequence numbers.

    isn = (client offset, server offset) added to seq/ack; extra = bytes inserted earlier
    in the stream by the bulk mode, per direction, added on top."""
    b = bytearray(p.frame)
    l3, tcp = p.l3, p.tcp
    src, dst = (c_addr, s_addr) if p.dir == 0 else (s_addr, c_addr)
    if p.v6:
        b[l3 + 8:l3 + 24] = src
        b[l3 + 24:l3 + 40] = dst
    else:
        b[l3 + 12:l3 + 16] = src
        b[l3 + 16:l3 + 20] = dst
    mine, other = p.dir, 1 - p.dir
    seq = (p.seq + isn[mine] + extra[mine]) & 0xFFFFFFFF
    ack = p.ack
    if p.flags & TCP_ACK:
        ack = (ack + isn[other] + extra[other]) & 0xFFFFFFFF
    if p.dir == 0:
        struct.pack_into(">H", b, tcp, c_port)
    else:
        struct.pack_into(">H", b, tcp + 2, c_port)
    struct.pack_into(">II", b, tcp + 4, seq, ack)
    fix_checksums(b, p, src, dst)
    return b


class AddressPlan:
    """Fresh, distinct client addresses per clone; servers from a fixed pool."""

    def __init__(self, rng, servers):
        self.rng = rng
        self.n = 0
        self.v4_servers = [
            (ipaddress.IPv4Address("172.16.0.0") + 1 + i).packed for i in range(servers)]
        self.v6_servers = [
            (ipaddress.IPv6Address("fd00:5::") + 1 + i).packed for i in range(servers)]

    def next(self, v6):
        """(client address, server address, client port) for the next clone."""
        self.n += 1
        i = self.n
        if v6:
            client = (ipaddress.IPv6Address("fd00:c::") + i).packed
            server = self.rng.choice(self.v6_servers)
        else:
            hi, lo = divmod(i - 1, 254)  # 10.x.y.1 .. 10.x.y.254
            if hi >= 1 << 16:
                raise SystemExit("mkcapture: more than 16.6M IPv4 clones")
            client = bytes((10, hi >> 8, hi & 255, lo + 1))
            server = self.rng.choice(self.v4_servers)
        # Linux ephemeral ports (ip_local_port_range): a random port below 32768 could hit a
        # port that tshark hands to another dissector first (X11 on 6000-6063, ...).
        return client, server, self.rng.randint(32768, 60999)


def rel_times(pkts, max_gap_ns):
    """Packet times relative to the first, each gap capped at max_gap_ns."""
    max_gap_ns = int(max_gap_ns)
    out, t, prev = [], 0, pkts[0].ts
    for p in pkts:
        t += max(0, min(p.ts - prev, max_gap_ns))
        prev = p.ts
        out.append(t)
    return out


# ---------------------------------------------------------------------------------------
# Writing


class PcapWriter:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        self.buf = []
        self.size = 0
        self.packets = 0
        self.bytes = 0
        self.last_ts = 0

    def write(self, ts_ns, frame):
        assert ts_ns >= self.last_ts, "timestamps must not go back"
        self.last_ts = ts_ns
        us = ts_ns // 1000
        self.buf.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
        self.buf.append(frame)
        self.size += len(frame) + 16
        self.packets += 1
        self.bytes += len(frame)
        if self.size >= 1 << 22:
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.buf))
        self.buf = []
        self.size = 0

    def close(self):
        self.flush()
        self.f.close()


def merge_write(writer, clones):
    """Writes the packets of all clones in time order.

    `clones` yields (start_ns, [(rel_ns, frame), ...]) in non-decreasing start order; only
    the clones active at the current time are held in memory."""
    heap = []
    seq = 0
    it = iter(clones)
    pending = next(it, None)
    while heap or pending is not None:
        while pending is not None and (not heap or pending[0] <= heap[0][0]):
            start, pkts = pending
            heapq.heappush(heap, (start + pkts[0][0], seq, start, pkts, 0))
            seq += 1
            pending = next(it, None)
        ts, s, start, pkts, i = heapq.heappop(heap)
        writer.write(ts, pkts[i][1])
        if i + 1 < len(pkts):
            heapq.heappush(heap, (start + pkts[i + 1][0], s, start, pkts, i + 1))


# ---------------------------------------------------------------------------------------
# Modes

T0 = 1_700_000_000 * 1_000_000_000  # 2023-11-14, an arbitrary fixed start


def isn_pair(rng):
    return rng.getrandbits(32), rng.getrandbits(32)


def clone_conn(conn, rel, plan, rng):
    v6 = conn.pkts[0].v6
    c_addr, s_addr, c_port = plan.next(v6)
    isn = isn_pair(rng)
    return [(t, rewrite(p, c_addr, s_addr, c_port, isn)) for t, p in zip(rel, conn.pkts)]


def mode_handshakes(args, conns, rng, writer):
    plan = AddressPlan(rng, args.servers)
    base = [(c, rel_times(c.pkts, args.max_gap_ms * 1_000_000)) for c in conns]
    mean_dur = sum(r[-1] for _, r in base) / len(base)
    mean_pkts = sum(len(c.pkts) for c in conns) / len(conns)
    interval = max(1000, mean_dur / args.concurrency)  # mean ns between clone starts
    if not args.quiet:
        print(f"mkcapture: {len(conns)} real connections, {mean_pkts:.1f} packets and "
              f"{mean_dur / 1e6:.1f} ms each on average; a clone starts every "
              f"{interval / 1e3:.1f} us on average (~{args.concurrency} active)", file=sys.stderr)

    def clones():
        t = T0
        emitted = 0
        order = []
        while emitted < args.packets:
            if not order:
                order = list(range(len(base)))
                rng.shuffle(order)
            conn, rel = base[order.pop()]
            yield t, clone_conn(conn, rel, plan, rng)
            emitted += len(conn.pkts)
            t += int(rng.expovariate(1.0 / interval))

    merge_write(writer, clones())
    return plan.n


def bulk_clone(conn, rel, plan, rng, n_insert, gap_ns, seg_payload):
    """The connection with n_insert packets of server data (and client ACKs) before its
    first FIN/RST."""
    pkts = conn.pkts
    cut = next((i for i, p in enumerate(pkts) if p.flags & (TCP_FIN | TCP_RST)), len(pkts))
    # Next sequence number of each direction at the cut (original numbering).
    nxt = [None, None]
    for p in pkts[:cut]:
        end = (p.seq + p.plen + (1 if p.flags & (TCP_SYN | TCP_FIN) else 0)) & 0xFFFFFFFF
        nxt[p.dir] = end
    v6 = pkts[0].v6
    c_addr, s_addr, c_port = plan.next(v6)
    isn = isn_pair(rng)
    out = [(t, rewrite(p, c_addr, s_addr, c_port, isn)) for t, p in zip(rel[:cut], pkts[:cut])]
    # Templates: the last server packet and the last client packet before the cut.
    srv_t = next(p for p in reversed(pkts[:cut]) if p.dir == 1)
    cli_t = next(p for p in reversed(pkts[:cut]) if p.dir == 0)
    t = rel[cut - 1]
    added = 0
    n_data = 0
    made = 0
    while made < n_insert:
        t += gap_ns
        # A server data segment: headers of the template, the payload replaced.
        seg = Pkt(0, make_data_frame(srv_t, seg_payload), srv_t.l3, srv_t.v6, srv_t.tcp, 0,
                  TCP_ACK | TCP_PSH, len(seg_payload), (nxt[1] + added) & 0xFFFFFFFF,
                  nxt[0], True)
        seg.seg_end = len(seg.frame)
        seg.dir = 1
        out.append((t, rewrite(seg, c_addr, s_addr, c_port, isn)))
        added += len(seg_payload)
        n_data += 1
        made += 1
        if n_data % 2 == 0 and made < n_insert:
            t += gap_ns // 4
            ack = Pkt(0, make_data_frame(cli_t, b""), cli_t.l3, cli_t.v6, cli_t.tcp, 0,
                      TCP_ACK, 0, nxt[0], (nxt[1] + added) & 0xFFFFFFFF, True)
            ack.seg_end = len(ack.frame)
            ack.dir = 0
            out.append((t, rewrite(ack, c_addr, s_addr, c_port, isn)))
            made += 1
    base_t = t - rel[cut - 1] + gap_ns
    for tr, p in zip(rel[cut:], pkts[cut:]):
        out.append((tr + base_t, rewrite(p, c_addr, s_addr, c_port, isn, (0, added))))
    return out


def make_data_frame(tpl, payload):
    """Frame with tpl's L2/IP/TCP headers (flags set to ACK|PSH or ACK) and this payload."""
    hlen = (tpl.frame[tpl.tcp + 12] >> 4) * 4
    b = bytearray(tpl.frame[:tpl.tcp + hlen]) + payload
    l3 = tpl.l3
    if tpl.v6:
        struct.pack_into(">H", b, l3 + 4, len(b) - l3 - 40)
    else:
        struct.pack_into(">H", b, l3 + 2, len(b) - l3)
    b[tpl.tcp + 13] = TCP_ACK | (TCP_PSH if payload else 0)
    return bytes(b)


def mode_bulk(args, conns, rng, writer):
    plan = AddressPlan(rng, args.servers)
    gap = int(args.bulk_gap_us * 1000)
    # TLS application_data record filling one 1448-byte segment (MSS 1460 - 12 of options).
    body = bytes(rng.getrandbits(8) for _ in range(1448 - 5))
    seg_payload = b"\x17\x03\x03" + struct.pack(">H", len(body)) + body
    base = []
    for c in conns:
        if any(p.dir == 1 for p in c.pkts) and len(c.pkts) < args.flow_packets:
            base.append((c, rel_times(c.pkts, args.max_gap_ms * 1_000_000)))
    dur = sum(r[-1] for _, r in base) / len(base) + args.flow_packets * gap
    interval = max(1000, dur / args.concurrency)
    if not args.quiet:
        print(f"mkcapture: {len(base)} real connections as bases, {args.flow_packets} packets "
              f"per flow, a clone starts every {interval / 1e3:.1f} us on average "
              f"(~{args.concurrency} active)", file=sys.stderr)

    def clones():
        t = T0
        order = []
        for _ in range(args.flows):
            if not order:
                order = list(range(len(base)))
                rng.shuffle(order)
            conn, rel = base[order.pop()]
            n_insert = args.flow_packets - len(conn.pkts)
            yield t, bulk_clone(conn, rel, plan, rng, n_insert, gap, seg_payload)
            t += int(rng.expovariate(1.0 / interval))

    merge_write(writer, clones())
    return plan.n


def chromium_conn(conns):
    """Connection 0 of the Chromium capture: its ClientHello is split over 2 segments."""
    for c in conns:
        if c.name.startswith("chromium-veth-split-clienthello") and not c.pkts[0].v6:
            return c
    raise SystemExit("mkcapture: chromium-veth-split-clienthello.pcap not found in --pcaps")


def mode_synflood(args, conns, rng, writer):
    plan = AddressPlan(rng, 1)
    syn = chromium_conn(conns).pkts[0]
    assert syn.flags & (TCP_SYN | TCP_ACK) == TCP_SYN
    victim = plan.v4_servers[0]
    t = T0
    step = int(args.interval_us * 1000)
    for _ in range(args.count):
        c_addr, _, c_port = plan.next(False)
        writer.write(t, rewrite(syn, c_addr, victim, c_port, isn_pair(rng)))
        t += step
    return plan.n


def mode_halfopen(args, conns, rng, writer):
    plan = AddressPlan(rng, args.servers)
    conn = chromium_conn(conns)
    first = conn.pkts[:4]
    flags = [p.flags for p in first]
    assert flags[0] & (TCP_SYN | TCP_ACK) == TCP_SYN and flags[1] & TCP_SYN and first[3].plen > 0
    rel = rel_times(first, args.max_gap_ms * 1_000_000)
    step = int(args.interval_us * 1000)

    def clones():
        t = T0
        for _ in range(args.count):
            c_addr, s_addr, c_port = plan.next(False)
            isn = isn_pair(rng)
            yield t, [(r, rewrite(p, c_addr, s_addr, c_port, isn)) for r, p in zip(rel, first)]
            t += step

    merge_write(writer, clones())
    return plan.n


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__[__doc__.index("Modes:"):])
    ap.add_argument("--mode", required=True, choices=["handshakes", "bulk", "synflood", "halfopen"])
    ap.add_argument("-o", "--output", required=True, help="pcap file to write")
    ap.add_argument("--pcaps", default=os.path.join(here, "..", "pcaps"),
                    help="directory of source captures (default: the repo's pcaps/)")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--packets", type=int, default=300_000,
                    help="handshakes: stop after the clone that reaches this many packets")
    ap.add_argument("--flows", type=int, default=10_000, help="bulk: connections")
    ap.add_argument("--flow-packets", type=int, default=100, help="bulk: packets per connection")
    ap.add_argument("--bulk-gap-us", type=float, default=10.0,
                    help="bulk: microseconds between inserted data segments of one flow")
    ap.add_argument("--count", type=int, default=1_000_000, help="synflood/halfopen: flows")
    ap.add_argument("--interval-us", type=float, default=None,
                    help="synflood/halfopen: microseconds between flow starts "
                         "(default 1 for synflood, 5 for halfopen)")
    ap.add_argument("--concurrency", type=float, default=200,
                    help="handshakes/bulk: mean number of connections active at once")
    ap.add_argument("--servers", type=int, default=1000, help="size of the server address pool")
    ap.add_argument("--max-gap-ms", type=float, default=100.0,
                    help="cap on the time between two packets of a cloned connection")
    ap.add_argument("--meta", help="also write what was built (packets, flows, ...) as JSON here")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    if args.interval_us is None:
        args.interval_us = 1.0 if args.mode == "synflood" else 5.0

    paths = sorted(glob.glob(os.path.join(args.pcaps, "*.pcap")) +
                   glob.glob(os.path.join(args.pcaps, "*.pcapng")))
    if not paths:
        raise SystemExit(f"mkcapture: no captures in {args.pcaps}")
    conns = load_connections(paths)
    if not conns:
        raise SystemExit("mkcapture: no TCP connections found")
    rng = random.Random(args.seed)
    tmp = args.output + ".part"
    writer = PcapWriter(tmp)
    modes = {"handshakes": mode_handshakes, "bulk": mode_bulk,
             "synflood": mode_synflood, "halfopen": mode_halfopen}
    flows = modes[args.mode](args, conns, rng, writer)
    writer.close()
    os.replace(tmp, args.output)
    meta = {"mode": args.mode, "packets": writer.packets, "flows": flows,
            "frame_bytes": writer.bytes, "file_bytes": os.path.getsize(args.output),
            "seconds_of_packet_time": (writer.last_ts - T0) / 1e9, "seed": args.seed,
            "source_captures": len(paths), "source_connections": len(conns),
            "argv": sys.argv[1:]}
    if args.meta:
        with open(args.meta, "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
    if not args.quiet:
        span = (writer.last_ts - T0) / 1e9
        print(f"mkcapture: wrote {args.output}: {writer.packets} packets, {flows} flows, "
              f"{writer.bytes / 1e6:.1f} MB of frames, {span:.2f} s of packet time "
              f"({len(paths)} source captures, {len(conns)} source connections)", file=sys.stderr)


if __name__ == "__main__":
    main()
