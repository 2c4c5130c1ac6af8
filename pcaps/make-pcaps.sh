#!/usr/bin/env bash
# make-pcaps.sh - regenerate hellotap's test captures.
#
# Every capture in this directory is a recording of REAL TLS/QUIC/DTLS clients
# talking to REAL servers on this machine (no hand-crafted packets):
#   TCP:  openssl s_client/s_server, curl, gnutls-cli, Python ssl, headless Chromium;
#   QUIC: Python aioquic (client and server, from PyPI, in a throw-away venv) and
#         headless Chromium against the aioquic server;
#   DTLS: openssl s_client/s_server (DTLS 1.2 and 1.0), gnutls-cli/gnutls-serv.
#
# Usage:   sudo pcaps/make-pcaps.sh [tcp] [quic] [dtls]
#   With no argument, all three groups are regenerated. With arguments, only
#   the captures of the named groups are rewritten, and in tshark_observed.jsonl
#   only their rows are replaced; the rows of the other captures stay byte for
#   byte as they are (e.g. `make-pcaps.sh quic dtls` leaves the TCP captures
#   and their rows alone).
#
# Network rules kept by this script:
#   * traffic only on the loopback interface (127.0.0.1 / ::1) or inside network
#     namespaces created here (joined by veth pairs, or with only their own
#     loopback), with addresses in 198.18.0.0/15 and fd00:198:18::/48 (ULA).
#     Those namespaces have no route anywhere else. They are deleted on exit.
#   * every client runs under `timeout`, every server has `-naccept`/a request
#     count or a lifetime plus a `timeout`, and everything started is killed by
#     the EXIT trap.
#   * the only other traffic is `pip install aioquic` from PyPI (quic group),
#     into a venv in the temporary directory.
#
# Certificates and keys are generated at run time into a temporary directory
# that is removed at exit; no private key is ever written to pcaps/.
#
# Outputs (in the directory of this script): the capture files, and
# tshark_observed.jsonl (one JSON object per ClientHello/ServerHello that
# tshark sees, with tshark's JA3/JA3S). README.md documents each capture.
set -euo pipefail

OUT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3
HOSTNAME_SNI=test.hellotap.example
NS_PREFIX=hellotap
WORK=""
BG_PIDS=()
VERIFY_FAILS=0
QUIC_PORT=4433
DTLS_PORT=4444
# aioquic release used for the QUIC captures (its JA3/JA3S depend on it)
AIOQUIC_VERSION=${AIOQUIC_VERSION:-1.7.2}
VENV=""
declare -A CAP_TRANSPORT=()  # capture name -> tcp | quic | dtls
WANT=()                      # capture groups to (re)generate: tcp quic dtls

log() { printf '[make-pcaps] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ ${EUID} -eq 0 ]] || die "must run as root (sudo $0)"

# --------------------------------------------------------------------------
# packages
# --------------------------------------------------------------------------
ensure_packages() {
    local -A want=(
        [tcpdump]=tcpdump [tshark]=tshark [capinfos]=wireshark-common
        [dumpcap]=wireshark-common [editcap]=wireshark-common
        [gnutls-cli]=gnutls-bin [gnutls-serv]=gnutls-bin [chromium]=chromium [ip]=iproute2 [ss]=iproute2
        [ethtool]=ethtool [openssl]=openssl [curl]=curl [timeout]=coreutils
    )
    local need=() cmd
    for cmd in "${!want[@]}"; do
        command -v "${cmd}" >/dev/null 2>&1 || need+=("${want[${cmd}]}")
    done
    [[ -x ${PY} ]] || need+=(python3)
    # `python3 -m venv` (for aioquic) needs ensurepip, which Debian ships separately
    if [[ -x ${PY} ]] && ! "${PY}" -c 'import ensurepip, venv' 2>/dev/null; then need+=(python3-venv); fi
    if ((${#need[@]})); then
        mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
        log "installing missing packages: ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y "${need[@]}"
    fi
}

# --------------------------------------------------------------------------
# cleanup: kill what we started, delete our namespaces, remove the temp dir
# --------------------------------------------------------------------------
del_our_netns() {
    local ns pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_PREFIX}-" || true); do
        # processes left inside a namespace that this script created
        for pid in $(ip netns pids "${ns}" 2>/dev/null || true); do
            kill "${pid}" 2>/dev/null || true
        done
        ip netns del "${ns}" 2>/dev/null || true
    done
}

cleanup() {
    local rc=$? pid
    set +e
    for pid in "${BG_PIDS[@]}"; do kill "${pid}" 2>/dev/null; done
    sleep 0.5
    for pid in "${BG_PIDS[@]}"; do kill -9 "${pid}" 2>/dev/null; done
    del_our_netns
    [[ -n ${WORK} && -d ${WORK} ]] && rm -rf "${WORK}"
    exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# spawn CMD... : run an EXTERNAL command in the background (never a shell
# function: $! must be the command's own pid so that signals reach it), and
# remember its pid (in LAST_PID) for the trap.
spawn() { "$@" & LAST_PID=$!; BG_PIDS+=("${LAST_PID}"); }

# spawn_stdin FILE CMD... : the same with stdin read from FILE (a background
# command's stdin is /dev/null unless it is redirected on the command itself)
spawn_stdin() { local in=$1; shift; "$@" <"${in}" & LAST_PID=$!; BG_PIDS+=("${LAST_PID}"); }

# forget PID : a background process has been reaped; drop it from the trap's list
forget() {
    local keep=() p
    for p in "${BG_PIDS[@]}"; do [[ ${p} == "$1" ]] || keep+=("${p}"); done
    BG_PIDS=("${keep[@]}")
}

# Stop a background process we started (SIGTERM; timeout(1) forwards it).
stop_bg() {
    local pid=$1
    kill "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
    forget "${pid}"
}

# nsc NS : set the array NSC to the prefix that runs a command in namespace NS
# ("-" = the root namespace, i.e. no prefix). `ip netns exec` execs the command,
# so the pid stays the same.
nsc() { if [[ $1 == - ]]; then NSC=(); else NSC=(ip netns exec "$1"); fi; }
in_ns() { local NSC; nsc "$1"; shift; "${NSC[@]}" "$@"; }

# wait_listen NS PORT : wait (bounded, ~10 s) until a TCP listener is up, without
# sending any packet.
wait_listen() {
    local ns=$1 port=$2 i
    for i in $(seq 1 100); do
        if [[ -n $(in_ns "${ns}" ss -Hltn "sport = :${port}") ]]; then return 0; fi
        sleep 0.1
    done
    die "nothing listening on port ${port} (ns ${ns})"
}

# wait_listen_udp NS PORT : the same for a bound UDP socket (QUIC, DTLS servers)
wait_listen_udp() {
    local ns=$1 port=$2 i
    for i in $(seq 1 100); do
        if [[ -n $(in_ns "${ns}" ss -Hlun "sport = :${port}") ]]; then return 0; fi
        sleep 0.1
    done
    die "nothing listening on UDP port ${port} (ns ${ns})"
}

# --------------------------------------------------------------------------
# capture helpers
# --------------------------------------------------------------------------
# cap_start NS IFACE FILE FILTER [extra tcpdump args...]
cap_start() {
    local ns=$1 iface=$2 file=$3 filter=$4; shift 4
    rm -f "${file}"
    nsc "${ns}"
    spawn "${NSC[@]}" timeout 120 tcpdump -i "${iface}" -s 0 -U -n "$@" -w "${file}" "${filter}" \
        2>>"${WORK}/tcpdump.log"
    CAP_PID=${LAST_PID}
    sleep 1
}

# cap_start_pcapng NS IFACE FILE FILTER : same with dumpcap writing pcapng
cap_start_pcapng() {
    local ns=$1 iface=$2 file=$3 filter=$4
    rm -f "${file}"
    nsc "${ns}"
    spawn "${NSC[@]}" timeout 120 dumpcap -q -i "${iface}" -f "${filter}" -a duration:100 -w "${file}" \
        2>>"${WORK}/tcpdump.log"
    CAP_PID=${LAST_PID}
    sleep 1.5
}

cap_stop() {
    sleep 1
    kill -INT "${CAP_PID}" 2>/dev/null || true
    wait "${CAP_PID}" 2>/dev/null || true
    forget "${CAP_PID}"
}

# finish NAME [TRANSPORT] : move a finished capture from WORK into OUT
# (TRANSPORT: tcp (default), quic or dtls; it selects the checks and tshark fields)
finish() {
    local name=$1
    CAP_TRANSPORT[${name}]=${2:-tcp}
    [[ -s ${WORK}/cap/${name} ]] || die "capture ${name} is empty"
    chmod 0644 "${WORK}/cap/${name}"
    chown "$(stat -c %u:%g "${OUT}")" "${WORK}/cap/${name}"
    mv -f "${WORK}/cap/${name}" "${OUT}/${name}"
    CAPTURES+=("${name}")
    log "wrote ${name} ($(stat -c %s "${OUT}/${name}") bytes)"
}

HTTP_GET=$'GET / HTTP/1.0\r\nHost: '"${HOSTNAME_SNI}"$'\r\n\r\n'

# s_client_get ARGS... : openssl s_client sending one HTTP/1.0 GET and reading
# until the server closes (s_server -www closes after its status page).
s_client_get() {
    printf '%s' "${HTTP_GET}" | timeout 15 openssl s_client -ign_eof "$@" >>"${WORK}/client.log" 2>&1
}

# --------------------------------------------------------------------------
# certificates (temp dir only)
# --------------------------------------------------------------------------
make_certs() {
    local d=${WORK}/pki
    mkdir -p "${d}/newcerts"
    : >"${d}/index.txt"
    echo 1000 >"${d}/serial"
    cat >"${d}/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir            = ${d}
database       = ${d}/index.txt
new_certs_dir  = ${d}/newcerts
serial         = ${d}/serial
default_md     = sha256
default_days   = 825
policy         = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName     = supplied
[ v3_int ]
basicConstraints       = critical,CA:TRUE,pathlen:0
keyUsage               = critical,keyCertSign,cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
[ v3_leaf ]
basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature,keyEncipherment
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
subjectAltName         = DNS:${HOSTNAME_SNI},DNS:localhost,IP:127.0.0.1,IP:::1
EOF
    local q=(-batch -notext -config "${d}/ca.cnf")
    # root CA (self-signed)
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -keyout "${d}/ca.key" -out "${d}/ca.pem" -subj "/O=hellotap test/CN=hellotap Test Root CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    # intermediate CA, signed by root
    openssl req -newkey rsa:2048 -nodes -keyout "${d}/int.key" -out "${d}/int.csr" \
        -subj "/O=hellotap test/CN=hellotap Test Intermediate CA" 2>/dev/null
    openssl ca "${q[@]}" -cert "${d}/ca.pem" -keyfile "${d}/ca.key" -extensions v3_int -days 3650 \
        -in "${d}/int.csr" -out "${d}/int.pem" 2>/dev/null
    # RSA leaf, signed by intermediate
    openssl req -newkey rsa:2048 -nodes -keyout "${d}/leaf.key" -out "${d}/leaf.csr" \
        -subj "/O=hellotap test/CN=${HOSTNAME_SNI}" 2>/dev/null
    openssl ca "${q[@]}" -cert "${d}/int.pem" -keyfile "${d}/int.key" -extensions v3_leaf \
        -in "${d}/leaf.csr" -out "${d}/leaf.pem" 2>/dev/null
    # expired RSA leaf (valid 2020-01-01 .. 2021-01-01), signed by intermediate
    openssl req -newkey rsa:2048 -nodes -keyout "${d}/expired.key" -out "${d}/expired.csr" \
        -subj "/O=hellotap test/CN=${HOSTNAME_SNI}" 2>/dev/null
    openssl ca "${q[@]}" -cert "${d}/int.pem" -keyfile "${d}/int.key" -extensions v3_leaf \
        -startdate 20200101000000Z -enddate 20210101000000Z \
        -in "${d}/expired.csr" -out "${d}/expired.pem" 2>/dev/null
    # self-signed ECDSA P-256 leaf
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 825 \
        -keyout "${d}/selfsigned.key" -out "${d}/selfsigned.pem" -subj "/O=hellotap test/CN=${HOSTNAME_SNI}" \
        -addext "subjectAltName=DNS:${HOSTNAME_SNI},DNS:localhost,IP:127.0.0.1,IP:::1" \
        -addext "basicConstraints=critical,CA:FALSE" 2>/dev/null
    # OCSP response ("good") for the leaf, signed by the intermediate
    openssl ocsp -issuer "${d}/int.pem" -cert "${d}/leaf.pem" -no_nonce -reqout "${d}/ocsp-req.der" 2>/dev/null
    openssl ocsp -index "${d}/index.txt" -rsigner "${d}/int.pem" -rkey "${d}/int.key" -CA "${d}/int.pem" \
        -reqin "${d}/ocsp-req.der" -respout "${d}/ocsp-resp.der" -ndays 30 >/dev/null 2>&1
    openssl ocsp -respin "${d}/ocsp-resp.der" -resp_text -noverify 2>/dev/null | grep -q 'Cert Status: good' \
        || die "OCSP response generation failed"
    cat "${d}/int.pem" "${d}/ca.pem" >"${d}/chain.pem"
    PKI=${d}
}

# --------------------------------------------------------------------------
# namespaces
# --------------------------------------------------------------------------
# veth_pair NS_A IF_A NS_B IF_B : two namespaces joined by a veth pair at MTU
# 1500 with all offloads off (so the kernel really segments at MSS 1460 and
# tcpdump sees what would be on a wire).
veth_pair() {
    local nsa=$1 ifa=$2 nsb=$3 ifb=$4 ns ifc pair
    ip netns add "${nsa}"
    ip netns add "${nsb}"
    ip link add "${ifa}" netns "${nsa}" type veth peer name "${ifb}" netns "${nsb}"
    for pair in "${nsa}:${ifa}" "${nsb}:${ifb}"; do
        ns=${pair%%:*}; ifc=${pair#*:}
        ip -n "${ns}" link set lo up
        ip -n "${ns}" link set "${ifc}" mtu 1500
        ip netns exec "${ns}" ethtool -K "${ifc}" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
        ip -n "${ns}" link set "${ifc}" up
    done
}

# --------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------
# s_server_bg NS NACCEPT ARGS... : openssl s_server -www (tiny status page)
s_server_bg() {
    local ns=$1 n=$2; shift 2
    nsc "${ns}"
    spawn "${NSC[@]}" timeout 90 openssl s_server -www -naccept "${n}" "$@" \
        >>"${WORK}/server.log" 2>&1 </dev/null
    SRV_PID=${LAST_PID}
}

write_helpers() {
    # Python ssl HTTPS server: answers N GET requests with a tiny body, then exits.
    cat >"${WORK}/pyserver.py" <<'EOF'
import http.server, socket, ssl, sys
host, port, cert, key, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        body = b"hello from the hellotap python ssl server\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.HTTPServer):
    address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
srv = Server((host, port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["http/1.1"])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.timeout = 30
for _ in range(count):
    srv.handle_request()
EOF
    # User-space 802.1Q "subinterface". This kernel has no 8021q module (and no
    # bridge VLAN filtering / act_vlan), so `ip link add ... type vlan` fails.
    # This shim plays the part of PARENT.VID: it owns a TAP device that carries
    # the IP addresses, inserts an 802.1Q tag (VID) in front of every frame the
    # kernel sends on the TAP and transmits it on the parent veth, and strips the
    # tag from frames received on the parent veth with that VID. The frames on
    # the veth (what tcpdump records) therefore really carry the 802.1Q header.
    cat >"${WORK}/vlanshim.py" <<'EOF'
import fcntl, os, select, socket, struct, sys, time
tap_name, parent, vid, lifetime = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID, PACKET_OUTGOING = 263, 8, 0x10, 4
tap = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", tap_name.encode(), IFF_TAP | IFF_NO_PI))
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
raw.bind((parent, 0))
raw.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
print("ready", flush=True)
end = time.monotonic() + lifetime
while time.monotonic() < end:
    r, _, _ = select.select([tap, raw], [], [], 0.5)
    if tap in r:
        frame = os.read(tap, 65536)
        raw.send(frame[:12] + struct.pack("!HH", 0x8100, vid & 0x0FFF) + frame[12:])
    if raw in r:
        data, anc, _, addr = raw.recvmsg(65536, socket.CMSG_SPACE(32))
        if addr[2] == PACKET_OUTGOING:
            continue
        tag = None
        for level, typ, cdata in anc:
            if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cdata) >= 20:
                status, _, _, _, _, tci, _ = struct.unpack("IIIHHHH", cdata[:20])
                if status & TP_STATUS_VLAN_VALID:
                    tag = tci & 0x0FFF
        if tag is None and data[12:14] == b"\x81\x00":
            tag = struct.unpack("!H", data[14:16])[0] & 0x0FFF
            data = data[:12] + data[16:]
        if tag == vid:
            os.write(tap, data)
EOF
    # Minimal HTTP/3 server on aioquic (aioquic's examples/http3_server.py is not
    # in the wheel): answers every request with a small HTML page. It runs for
    # LIFETIME seconds (the script stops it earlier) and logs the negotiated
    # QUIC version and ALPN of each connection.
    cat >"${WORK}/quicserver.py" <<'EOF'
import asyncio, sys
from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, ProtocolNegotiated
# argv: HOST PORT CERTCHAIN KEY VERSIONS(hex,comma-separated, preferred first) RETRY(0/1) LIFETIME
host, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
versions = [int(v, 16) for v in sys.argv[5].split(",")]
retry, lifetime = sys.argv[6] == "1", float(sys.argv[7])
BODY = b"<html><body><p>hello from the hellotap aioquic server</p></body></html>\n"

class H3Server(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._h3 = None
    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated):
            self._h3 = H3Connection(self._quic)
        elif isinstance(event, HandshakeCompleted):
            print(f"server: handshake done, QUIC version {getattr(self._quic, '_version', 0):#x},"
                  f" ALPN {event.alpn_protocol}", flush=True)
        elif isinstance(event, ConnectionTerminated):
            print(f"server: connection closed ({event.error_code:#x} {event.reason_phrase!r})", flush=True)
        if self._h3 is None:
            return
        for ev in self._h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                h = dict(ev.headers)
                print(f"server: {h.get(b':method', b'?').decode()} {h.get(b':path', b'?').decode()}", flush=True)
                self._h3.send_headers(ev.stream_id, [(b":status", b"200"), (b"content-type", b"text/html"),
                                                     (b"content-length", str(len(BODY)).encode())])
                self._h3.send_data(ev.stream_id, BODY, end_stream=True)
                self.transmit()

async def main():
    cfg = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN, supported_versions=versions)
    cfg.load_cert_chain(cert, key)
    server = await serve(host, port, configuration=cfg, create_protocol=H3Server, retry=retry)
    print(f"server: listening on {host}:{port}, versions {sys.argv[5]}, retry {retry}", flush=True)
    await asyncio.sleep(lifetime)
    server.close()

asyncio.run(main())
EOF
    # Minimal HTTP/3 client on aioquic: one GET /, then CONNECTION_CLOSE.
    cat >"${WORK}/quicclient.py" <<'EOF'
import asyncio, ssl, sys
from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import HandshakeCompleted
# argv: HOST PORT SNI(- = none) VERSIONS(hex,comma-separated, preferred first)
#       FIRST_VERSION(hex: version of the first Initial, - = the first of VERSIONS) BIG_HELLO(0/1)
host, port, sni = sys.argv[1], int(sys.argv[2]), sys.argv[3]
versions = [int(v, 16) for v in sys.argv[4].split(",")]
first = None if sys.argv[5] == "-" else int(sys.argv[5], 16)
big_hello = sys.argv[6] == "1"

class H3Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._h3 = H3Connection(self._quic)
        self.done = asyncio.get_running_loop().create_future()
        self.status, self.body = b"?", b""
    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            print(f"client: handshake done, QUIC version {getattr(self._quic, '_version', 0):#x},"
                  f" ALPN {event.alpn_protocol}", flush=True)
        for ev in self._h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.status = dict(ev.headers).get(b":status", b"?")
            elif isinstance(ev, DataReceived):
                self.body += ev.data
            if getattr(ev, "stream_ended", False) and not self.done.done():
                self.done.set_result(None)
    async def get(self, authority):
        sid = self._quic.get_next_available_stream_id()
        self._h3.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"https"),
                                    (b":authority", authority.encode()), (b":path", b"/"),
                                    (b"user-agent", b"hellotap-aioquic-client")], end_stream=True)
        self.transmit()
        await asyncio.wait_for(self.done, 10)

async def main():
    # quantum_readiness_test adds a 1200-byte transport parameter (0x0c37): the
    # ClientHello then no longer fits in one Initial packet
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, supported_versions=versions,
                            verify_mode=ssl.CERT_NONE, quantum_readiness_test=big_hello)
    if first is not None:
        cfg.original_version = first
    # SNI "-": server_name stays unset, connect() uses HOST, an IP literal, which
    # aioquic leaves out of the ClientHello (no server_name extension)
    cfg.server_name = None if sni == "-" else sni
    async with connect(host, port, configuration=cfg, create_protocol=H3Client) as c:
        await c.get(host if sni == "-" else sni)
        print(f"client: HTTP/3 status {c.status.decode()}, {len(c.body)} body bytes", flush=True)

asyncio.run(main())
EOF
}

PY_CLIENT='
import socket, ssl, sys
host, port, sni, maxver = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
if maxver == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
with socket.create_connection((host, port), timeout=10) as s:
    with ctx.wrap_socket(s, server_hostname=sni) as t:
        t.sendall(b"GET / HTTP/1.0\r\nHost: " + sni.encode() + b"\r\n\r\n")
        while t.recv(4096):
            pass
        print(t.version(), t.cipher()[0], t.selected_alpn_protocol())
'

# ==========================================================================
# the captures
# ==========================================================================
CAPTURES=()
LO_FILTER='tcp port 8443'

cap_openssl_tls13() {  # 1
    local f=openssl-tls13-sni-alpn.pcap
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" -alpn http/1.1
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    s_client_get -connect 127.0.0.1:8443 -servername "${HOSTNAME_SNI}" -alpn h2,http/1.1 -tls1_3
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_openssl_tls12_chain() {  # 2
    local f=openssl-tls12-ecdhe-rsa-gcm-chain.pcap
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" \
        -cert_chain "${PKI}/chain.pem" -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    s_client_get -connect 127.0.0.1:8443 -servername "${HOSTNAME_SNI}" -tls1_2
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_curl_ipv6() {  # 3
    local f=curl-ipv6-loopback.pcap
    log "$f"
    s_server_bg - 2 -accept '[::1]:8443' -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key"
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "ip6 and ${LO_FILTER}"
    # with SNI (name resolved to ::1 by curl itself) ...
    timeout 15 curl -sk --max-time 10 -o /dev/null --resolve "${HOSTNAME_SNI}:8443:[::1]" \
        "https://${HOSTNAME_SNI}:8443/"
    # ... and without SNI (IP literal)
    timeout 15 curl -sk --max-time 10 -o /dev/null 'https://[::1]:8443/'
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_gnutls() {  # 4
    local f=gnutls-cli.pcap
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" -alpn http/1.1
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    # keep stdin open for 2 s so the response arrives before gnutls-cli sees EOF
    { printf '%s' "${HTTP_GET}"; sleep 2; } | timeout 15 gnutls-cli --insecure --port 8443 \
        --sni-hostname "${HOSTNAME_SNI}" --alpn http/1.1 127.0.0.1 >>"${WORK}/client.log" 2>&1 || true
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_python() {  # 5
    local f=python-ssl.pcap
    log "$f"
    spawn timeout 60 "${PY}" "${WORK}/pyserver.py" 127.0.0.1 8443 "${PKI}/leaf.pem" "${PKI}/leaf.key" 2 \
        >>"${WORK}/server.log" 2>&1
    local srv=${LAST_PID}
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    timeout 15 "${PY}" -c "${PY_CLIENT}" 127.0.0.1 8443 "${HOSTNAME_SNI}" 1.3 >>"${WORK}/client.log" 2>&1
    timeout 15 "${PY}" -c "${PY_CLIENT}" 127.0.0.1 8443 "${HOSTNAME_SNI}" 1.2 >>"${WORK}/client.log" 2>&1
    cap_stop; stop_bg "${srv}"; finish "${f}"
}

cap_chromium_and_sll() {  # 6 + 8
    local srv_ns=${NS_PREFIX}-srv cli_ns=${NS_PREFIX}-cli f
    veth_pair "${srv_ns}" htp-srv "${cli_ns}" htp-cli
    ip -n "${srv_ns}" addr add 198.18.6.1/24 dev htp-srv
    ip -n "${cli_ns}" addr add 198.18.6.2/24 dev htp-cli
    ip -n "${srv_ns}" addr add fd00:198:18:6::1/64 dev htp-srv nodad
    ip -n "${cli_ns}" addr add fd00:198:18:6::2/64 dev htp-cli nodad
    sleep 1

    # 6: Chromium, port 443, split ClientHello
    f=chromium-veth-split-clienthello.pcap
    log "$f"
    s_server_bg "${srv_ns}" 4 -accept 443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" -cert_chain "${PKI}/chain.pem"
    local srv=${SRV_PID}
    wait_listen "${srv_ns}" 443
    cap_start "${cli_ns}" htp-cli "${WORK}/cap/${f}" 'tcp port 443 and host 198.18.6.1'
    local udd; udd=$(mktemp -d "${WORK}/chromium.XXXXXX")
    ip netns exec "${cli_ns}" timeout 30 chromium --headless --no-sandbox --disable-gpu \
        --disable-background-networking --disable-component-update --disable-sync --no-first-run \
        --disable-extensions --disable-default-apps --user-data-dir="${udd}" --ignore-certificate-errors \
        --host-resolver-rules="MAP ${HOSTNAME_SNI} 198.18.6.1" \
        --dump-dom "https://${HOSTNAME_SNI}/" >"${WORK}/chromium.out" 2>"${WORK}/chromium.log" || true
    cap_stop; stop_bg "${srv}"
    grep -qi 's_server' "${WORK}/chromium.out" || log "WARNING: chromium did not get the s_server page"
    finish "${f}"

    # 8a: Linux cooked v1 (tcpdump -i any -y LINUX_SLL), IPv4 curl + IPv6 openssl
    f=sll-v1-any.pcap
    log "$f"
    s_server_bg "${srv_ns}" 2 -accept 443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key"
    srv=${SRV_PID}
    wait_listen "${srv_ns}" 443
    cap_start "${cli_ns}" any "${WORK}/cap/${f}" 'tcp port 443' -y LINUX_SLL
    ip netns exec "${cli_ns}" timeout 15 curl -sk --max-time 10 -o /dev/null \
        --resolve "${HOSTNAME_SNI}:443:198.18.6.1" "https://${HOSTNAME_SNI}/"
    ip netns exec "${cli_ns}" bash -c "printf '%s' \"\$1\" | timeout 15 openssl s_client -ign_eof \
        -connect '[fd00:198:18:6::1]:443' -servername ${HOSTNAME_SNI}" _ "${HTTP_GET}" >>"${WORK}/client.log" 2>&1
    cap_stop; stop_bg "${srv}"; finish "${f}"

    # 8b: Linux cooked v2 (tcpdump -i any -y LINUX_SLL2), IPv6 curl + IPv4 gnutls-cli
    f=sll2-any.pcap
    log "$f"
    s_server_bg "${srv_ns}" 2 -accept 443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key"
    srv=${SRV_PID}
    wait_listen "${srv_ns}" 443
    cap_start "${cli_ns}" any "${WORK}/cap/${f}" 'tcp port 443' -y LINUX_SLL2
    ip netns exec "${cli_ns}" timeout 15 curl -sk --max-time 10 -o /dev/null \
        --resolve "${HOSTNAME_SNI}:443:[fd00:198:18:6::1]" "https://${HOSTNAME_SNI}/"
    { printf '%s' "${HTTP_GET}"; sleep 2; } | ip netns exec "${cli_ns}" timeout 15 gnutls-cli --insecure \
        --port 443 --sni-hostname "${HOSTNAME_SNI}" 198.18.6.1 >>"${WORK}/client.log" 2>&1 || true
    cap_stop; stop_bg "${srv}"; finish "${f}"

    ip netns del "${cli_ns}"; ip netns del "${srv_ns}"
}

cap_vlan() {  # 7
    local srv_ns=${NS_PREFIX}-vsrv cli_ns=${NS_PREFIX}-vcli f=vlan100-8021q.pcap ns shims=() pid
    log "$f"
    veth_pair "${srv_ns}" htv-srv "${cli_ns}" htv-cli
    for ns in "${srv_ns}" "${cli_ns}"; do
        local parent=htv-${ns##*-v}
        # the parent carries no addresses: nothing but the tagged frames on it
        ip netns exec "${ns}" sysctl -qw "net.ipv6.conf.${parent}.disable_ipv6=1"
        ip -n "${ns}" link set "${parent}" promisc on
        spawn ip netns exec "${ns}" timeout 60 "${PY}" -u "${WORK}/vlanshim.py" "${parent}.100" "${parent}" 100 55 \
            >"${WORK}/shim-${ns}.log" 2>&1
        shims+=("${LAST_PID}")
        local i
        for i in $(seq 1 50); do
            ip -n "${ns}" link show "${parent}.100" >/dev/null 2>&1 && break
            sleep 0.1
        done
        ip -n "${ns}" link set "${parent}.100" mtu 1500 up
    done
    ip -n "${srv_ns}" addr add 198.18.7.1/24 dev htv-srv.100
    ip -n "${cli_ns}" addr add 198.18.7.2/24 dev htv-cli.100
    ip -n "${srv_ns}" addr add fd00:198:18:7::1/64 dev htv-srv.100 nodad
    ip -n "${cli_ns}" addr add fd00:198:18:7::2/64 dev htv-cli.100 nodad
    sleep 1
    s_server_bg "${srv_ns}" 2 -accept 8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key"
    local srv=${SRV_PID}
    wait_listen "${srv_ns}" 8443
    # capture on the PARENT veth: frames carry the 802.1Q tag
    cap_start "${srv_ns}" htv-srv "${WORK}/cap/${f}" "vlan 100 and ${LO_FILTER}"
    ip netns exec "${cli_ns}" timeout 15 curl -sk --max-time 10 -o /dev/null \
        --resolve "${HOSTNAME_SNI}:8443:198.18.7.1" "https://${HOSTNAME_SNI}:8443/"
    ip netns exec "${cli_ns}" bash -c "printf '%s' \"\$1\" | timeout 15 openssl s_client -ign_eof \
        -connect '[fd00:198:18:7::1]:8443' -servername ${HOSTNAME_SNI}" _ "${HTTP_GET}" >>"${WORK}/client.log" 2>&1
    cap_stop; stop_bg "${srv}"
    for pid in "${shims[@]}"; do stop_bg "${pid}"; done
    finish "${f}"
    ip netns del "${cli_ns}"; ip netns del "${srv_ns}"
}

cap_pcapng() {  # 9
    local f=curl-tls13.pcapng
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" -cert_chain "${PKI}/chain.pem"
    wait_listen - 8443
    cap_start_pcapng - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    timeout 15 curl -sk --max-time 10 -o /dev/null --resolve "${HOSTNAME_SNI}:8443:127.0.0.1" \
        "https://${HOSTNAME_SNI}:8443/"
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_hrr() {  # 10
    local f=openssl-tls13-hello-retry-request.pcap
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" -groups P-256
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    s_client_get -connect 127.0.0.1:8443 -servername "${HOSTNAME_SNI}" -groups X25519:P-256
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_handshake_failure() {  # 11
    local f=openssl-tls12-alert-handshake-failure.pcap
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" \
        -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    s_client_get -connect 127.0.0.1:8443 -servername "${HOSTNAME_SNI}" -tls1_2 \
        -cipher 'AES256-SHA256:AES128-SHA' || true
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_expired() {  # 12a
    local f=openssl-tls12-expired-cert-alert.pcap
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/expired.pem" -key "${PKI}/expired.key" \
        -cert_chain "${PKI}/int.pem"
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    s_client_get -connect 127.0.0.1:8443 -servername "${HOSTNAME_SNI}" -tls1_2 \
        -CAfile "${PKI}/ca.pem" -verify_return_error || true
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_selfsigned() {  # 12b
    local f=curl-tls12-selfsigned-ecdsa.pcap
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/selfsigned.pem" -key "${PKI}/selfsigned.key"
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    timeout 15 curl -sk --max-time 10 --tlsv1.2 --tls-max 1.2 -o /dev/null \
        --resolve "${HOSTNAME_SNI}:8443:127.0.0.1" "https://${HOSTNAME_SNI}:8443/"
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

# resumption NAME SERVER_ARGS... -- CLIENT_ARGS... : two connections to one
# server, the second resuming the session saved by the first.
resumption() {
    local f=$1; shift
    local sargs=() cargs=()
    while [[ $1 != -- ]]; do sargs+=("$1"); shift; done; shift
    cargs=("$@")
    log "$f"
    rm -f "${WORK}/sess.pem"
    s_server_bg - 2 -accept 127.0.0.1:8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" "${sargs[@]}"
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    s_client_get -connect 127.0.0.1:8443 -servername "${HOSTNAME_SNI}" "${cargs[@]}" -sess_out "${WORK}/sess.pem"
    s_client_get -connect 127.0.0.1:8443 -servername "${HOSTNAME_SNI}" "${cargs[@]}" -sess_in "${WORK}/sess.pem"
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

cap_ocsp() {  # 12f
    local f=openssl-tls12-ocsp-stapling.pcap
    log "$f"
    s_server_bg - 1 -accept 127.0.0.1:8443 -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" \
        -cert_chain "${PKI}/int.pem" -status_file "${PKI}/ocsp-resp.der"
    wait_listen - 8443
    cap_start - lo "${WORK}/cap/${f}" "${LO_FILTER}"
    s_client_get -connect 127.0.0.1:8443 -servername "${HOSTNAME_SNI}" -tls1_2 -status
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}"
}

# ==========================================================================
# QUIC captures (UDP 4433): aioquic client + aioquic server, Chromium
# ==========================================================================
QUIC_FILTER="udp port ${QUIC_PORT}"
V2=6b3343cf  # QUIC version 2 (RFC 9369); version 1 is "1"

# setup_aioquic : pip-install aioquic into a venv in WORK (removed at exit)
setup_aioquic() {
    [[ -n ${VENV} ]] && return 0
    VENV=${WORK}/venv
    log "pip install aioquic==${AIOQUIC_VERSION} into a venv in ${WORK}"
    timeout 120 "${PY}" -m venv "${VENV}" >>"${WORK}/pip.log" 2>&1 || die "python3 -m venv failed"
    if ! timeout 600 "${VENV}/bin/pip" install --disable-pip-version-check --no-cache-dir -q \
            "aioquic==${AIOQUIC_VERSION}" >>"${WORK}/pip.log" 2>&1; then
        tail -5 "${WORK}/pip.log" >&2
        die "pip install aioquic==${AIOQUIC_VERSION} failed"
    fi
    log "  $("${VENV}/bin/python" -c 'import sys, aioquic, cryptography; print("Python", sys.version.split()[0],
        "aioquic", aioquic.__version__, "cryptography", cryptography.__version__)')"
    # the QUIC server's certificate: the RSA leaf followed by the intermediate
    cat "${PKI}/leaf.pem" "${PKI}/int.pem" >"${PKI}/leaf-int.pem"
}

# quic_server_bg NS VERSIONS RETRY : aioquic HTTP/3 server on 127.0.0.1:4433 in
# namespace NS; VERSIONS = the QUIC versions it accepts (hex, comma-separated),
# RETRY = 1 to answer every first Initial with a Retry (address validation)
quic_server_bg() {
    local ns=$1 versions=$2 retry=$3
    nsc "${ns}"
    spawn "${NSC[@]}" timeout 90 "${VENV}/bin/python" -u "${WORK}/quicserver.py" 127.0.0.1 "${QUIC_PORT}" \
        "${PKI}/leaf-int.pem" "${PKI}/leaf.key" "${versions}" "${retry}" 80 >>"${WORK}/server.log" 2>&1
    SRV_PID=${LAST_PID}
    wait_listen_udp "${ns}" "${QUIC_PORT}"
}

# quic_get SNI VERSIONS FIRST_VERSION BIG_HELLO : one HTTP/3 GET / by the aioquic
# client to 127.0.0.1:4433 (arguments: see quicclient.py)
quic_get() {
    timeout 20 "${VENV}/bin/python" -u "${WORK}/quicclient.py" 127.0.0.1 "${QUIC_PORT}" "$@" \
        >>"${WORK}/client.log" 2>&1 || die "aioquic client failed ($*): $(tail -2 "${WORK}/client.log")"
}

cap_quic_v1() {  # 13
    local f=aioquic-quic-v1.pcap
    log "$f"
    quic_server_bg - "1,${V2}" 0
    cap_start - lo "${WORK}/cap/${f}" "${QUIC_FILTER}"
    quic_get "${HOSTNAME_SNI}" "1,${V2}" - 0  # 0: plain QUIC v1 + h3, SNI
    quic_get "${HOSTNAME_SNI}" "1,${V2}" - 1  # 1: ClientHello spread over 2 Initial packets
    quic_get - "1,${V2}" - 0                  # 2: no SNI (IP literal)
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}" quic
}

cap_quic_retry() {  # 14
    local f=aioquic-quic-v1-retry.pcap
    log "$f"
    quic_server_bg - "1,${V2}" 1
    cap_start - lo "${WORK}/cap/${f}" "${QUIC_FILTER}"
    quic_get "${HOSTNAME_SNI}" "1,${V2}" - 0
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}" quic
}

cap_quic_v2() {  # 15
    local f=aioquic-quic-v2.pcap
    log "$f"
    quic_server_bg - "1,${V2}" 0
    cap_start - lo "${WORK}/cap/${f}" "${QUIC_FILTER}"
    quic_get "${HOSTNAME_SNI}" "${V2}" - 0       # 0: QUIC v2 from the first packet
    quic_get "${HOSTNAME_SNI}" "${V2},1" 1 0     # 1: compatible version negotiation v1 -> v2 (RFC 9368)
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}" quic
}

cap_quic_vn() {  # 16
    local f=aioquic-quic-version-negotiation.pcap
    log "$f"
    quic_server_bg - "${V2}" 0  # the server does not accept v1
    cap_start - lo "${WORK}/cap/${f}" "${QUIC_FILTER}"
    quic_get "${HOSTNAME_SNI}" "1,${V2}" - 0     # v1 Initial -> Version Negotiation -> v2
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}" quic
}

cap_chromium_quic() {  # 17
    local ns=${NS_PREFIX}-quic f=chromium-quic.pcap spki udd
    log "$f"
    # Chromium runs in a namespace of its own that has only a loopback interface,
    # so nothing it might try besides the test page can leave it
    ip netns add "${ns}"
    ip -n "${ns}" link set lo up
    spki=$(openssl x509 -in "${PKI}/leaf.pem" -pubkey -noout | openssl pkey -pubin -outform der \
        | openssl dgst -sha256 -binary | base64)
    quic_server_bg "${ns}" "1,${V2}" 0
    cap_start "${ns}" lo "${WORK}/cap/${f}" "${QUIC_FILTER}"
    udd=$(mktemp -d "${WORK}/chromium.XXXXXX")
    ip netns exec "${ns}" timeout 30 chromium --headless --no-sandbox --disable-gpu \
        --disable-background-networking --disable-component-update --disable-sync --no-first-run \
        --disable-extensions --disable-default-apps --user-data-dir="${udd}" \
        --origin-to-force-quic-on="${HOSTNAME_SNI}:${QUIC_PORT}" --ignore-certificate-errors-spki-list="${spki}" \
        --host-resolver-rules="MAP ${HOSTNAME_SNI} 127.0.0.1" \
        --dump-dom "https://${HOSTNAME_SNI}:${QUIC_PORT}/" >"${WORK}/chromium-quic.out" 2>"${WORK}/chromium-quic.log" || true
    cap_stop; stop_bg "${SRV_PID}"
    grep -q 'hellotap aioquic server' "${WORK}/chromium-quic.out" \
        || log "WARNING: chromium did not get the aioquic page over QUIC"
    finish "${f}" quic
    ip netns del "${ns}"
}

# ==========================================================================
# DTLS captures (UDP 4444): openssl s_client/s_server, gnutls-cli/gnutls-serv
# ==========================================================================
DTLS_FILTER="udp port ${DTLS_PORT}"
DTLS_FIFO_FD=""

# dtls_server_bg ARGS... : openssl s_server (DTLS) on 127.0.0.1:4444, one connection.
# s_server refuses -www with DTLS and ends the connection as soon as its stdin
# reaches EOF, so its stdin is a FIFO that this script keeps open (and never writes).
dtls_server_bg() {
    local fifo=${WORK}/s_server.stdin
    if [[ -z ${DTLS_FIFO_FD} ]]; then
        mkfifo "${fifo}"
        exec {DTLS_FIFO_FD}<>"${fifo}"
    fi
    spawn_stdin "${fifo}" timeout 60 openssl s_server -naccept 1 -accept "127.0.0.1:${DTLS_PORT}" \
        -cert "${PKI}/leaf.pem" -key "${PKI}/leaf.key" "$@" >>"${WORK}/server.log" 2>&1
    SRV_PID=${LAST_PID}
    wait_listen_udp - "${DTLS_PORT}"
}

# dtls_client ARGS... : openssl s_client over DTLS: handshake, one line of
# application data, close_notify at EOF
dtls_client() {
    { printf 'hello from openssl s_client over DTLS\n'; sleep 1; } | timeout 15 openssl s_client \
        -connect "127.0.0.1:${DTLS_PORT}" -servername "${HOSTNAME_SNI}" "$@" >>"${WORK}/client.log" 2>&1 \
        || die "openssl s_client $* failed"
}

cap_dtls12() {  # 18
    local f=openssl-dtls12.pcap
    log "$f"
    # s_server's UDP socket is not connected, so OpenSSL cannot query the path
    # MTU and falls back to its minimum (256 bytes with IP/UDP headers): the
    # server's flight is fragmented into 228-byte datagrams
    dtls_server_bg -dtls1_2
    cap_start - lo "${WORK}/cap/${f}" "${DTLS_FILTER}"
    dtls_client -dtls1_2
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}" dtls
}

cap_dtls12_cookie() {  # 19
    local f=openssl-dtls12-cookie.pcap
    log "$f"
    # -listen: stateless cookie exchange (DTLSv1_listen) before any state is
    # kept; s_server then connects its socket to the client, OpenSSL learns the
    # loopback MTU and nothing is fragmented
    dtls_server_bg -dtls1_2 -listen
    cap_start - lo "${WORK}/cap/${f}" "${DTLS_FILTER}"
    dtls_client -dtls1_2
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}" dtls
}

cap_dtls10() {  # 20
    local f=openssl-dtls10.pcap
    log "$f"
    # OpenSSL 3 refuses (D)TLS < 1.2 at security level 1 and above
    dtls_server_bg -dtls1 -cipher 'DEFAULT:@SECLEVEL=0'
    cap_start - lo "${WORK}/cap/${f}" "${DTLS_FILTER}"
    dtls_client -dtls1 -cipher 'DEFAULT:@SECLEVEL=0'
    cap_stop; stop_bg "${SRV_PID}"; finish "${f}" dtls
}

cap_gnutls_dtls() {  # 21
    local ns=${NS_PREFIX}-dtls f=gnutls-dtls12-nocookie.pcap srv
    log "$f"
    # gnutls-serv binds the wildcard address: it gets a namespace with only a loopback
    ip netns add "${ns}"
    ip -n "${ns}" link set lo up
    nsc "${ns}"
    spawn "${NSC[@]}" timeout 60 gnutls-serv --udp --nocookie --echo --port "${DTLS_PORT}" \
        --x509certfile "${PKI}/leaf.pem" --x509keyfile "${PKI}/leaf.key" >>"${WORK}/server.log" 2>&1
    srv=${LAST_PID}
    wait_listen_udp "${ns}" "${DTLS_PORT}"
    cap_start "${ns}" lo "${WORK}/cap/${f}" "${DTLS_FILTER}"
    { printf 'hello from gnutls-cli over DTLS\n'; sleep 2; } | ip netns exec "${ns}" timeout 15 gnutls-cli \
        --udp --insecure --port "${DTLS_PORT}" --sni-hostname "${HOSTNAME_SNI}" 127.0.0.1 \
        >>"${WORK}/client.log" 2>&1 || die "gnutls-cli --udp failed"
    cap_stop; stop_bg "${srv}"; finish "${f}" dtls
    ip netns del "${ns}"
}

# ==========================================================================
# verification + tshark observations
# ==========================================================================
TSHARK_DECODE=(-d tcp.port==8443,tls -d tcp.port==443,tls
               -d "udp.port==${QUIC_PORT},quic" -d "udp.port==${DTLS_PORT},dtls")

check() {  # check DESCRIPTION CONDITION-RESULT(0/1)
    if [[ $2 == 0 ]]; then log "  ok: $1"; else log "  VERIFY FAILED: $1"; VERIFY_FAILS=$((VERIFY_FAILS + 1)); fi
}

tcount() {  # tcount FILE FILTER : number of frames matching a display filter (-1 if tshark fails)
    local out
    out=$(tshark -n -r "$1" "${TSHARK_DECODE[@]}" -Y "$2" -T fields -e frame.number 2>/dev/null) || { echo -1; return; }
    grep -c . <<<"${out}" || true
}

# want GROUP : is capture group GROUP (tcp, quic, dtls) being regenerated?
want() { [[ " ${WANT[*]} " == *" $1 "* ]]; }

verify_all() {
    local f
    for f in "${CAPTURES[@]}"; do
        log "verify ${f}"
        case ${CAP_TRANSPORT[${f}]} in
            tcp) verify_tcp_capture "${f}" ;;
            *) verify_udp_capture "${f}" "${CAP_TRANSPORT[${f}]}" ;;
        esac
    done
    if want tcp; then verify_tcp_facts; fi
    if want quic; then verify_quic_facts; fi
    if want dtls; then verify_dtls_facts; fi
}

verify_tcp_capture() {
    local f=$1 n
    local p=${OUT}/${f}
    # every TCP connection: starts with SYN, SYN/ACK, payload both ways,
    # and is closed (FIN from both sides, or a FIN and a RST: Chromium's idle
    # preconnected socket sometimes ends FIN -> server alert -> RST)
    n=$(tshark -n -r "${p}" -T fields -E separator=, -e tcp.stream -e tcp.srcport -e tcp.flags.syn \
            -e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.len 2>/dev/null | "${PY}" -c '
import collections, sys
st = collections.defaultdict(lambda: {"syn": 0, "synack": 0, "fin": set(), "rst": set(), "data": set()})
for line in sys.stdin:
    s, port, syn, ack, fin, rst, ln = line.strip().split(",")
    c = st[s]
    syn, ack, fin, rst = (v in ("1", "True") for v in (syn, ack, fin, rst))
    if syn and not ack: c["syn"] += 1
    if syn and ack: c["synack"] += 1
    if fin: c["fin"].add(port)
    if rst: c["rst"].add(port)
    if int(ln or 0) > 0: c["data"].add(port)
bad = [s for s, c in st.items() if not (c["syn"] == 1 and c["synack"] >= 1 and len(c["data"]) == 2
       and c["fin"] and (len(c["fin"]) == 2 or c["rst"]))]
rst = [s for s, c in st.items() if c["rst"]]
print(f"{len(st)} connection(s), {len(bad)} incomplete {bad}, closed with RST: {rst}")
')
    check "${f}: TCP: ${n}" "$([[ ${n} == *' 0 incomplete '* ]]; echo $?)"
    n=$(tcount "${p}" 'tls.handshake.type==1')
    check "${f}: has ClientHello (${n})" "$([[ ${n} -ge 1 ]]; echo $?)"
    check "${f}: size $(stat -c %s "${p}") < 50000" "$([[ $(stat -c %s "${p}") -lt 50000 ]]; echo $?)"
}

# verify_udp_capture FILE quic|dtls : every UDP flow (tshark's udp.stream) has a
# ClientHello and a ServerHello as tshark sees them, and application data
# (QUIC: 1-RTT short-header packets both ways; DTLS: records of type 23)
verify_udp_capture() {
    local f=$1 t=$2 n proto app
    local p=${OUT}/${f}
    if [[ ${t} == quic ]]; then proto=tls app=quic.header_form; else proto=dtls app=dtls.record.content_type; fi
    n=$(tshark -n -r "${p}" "${TSHARK_DECODE[@]}" -T fields -e udp.stream -e udp.srcport \
            -e "${proto}.handshake.type" -e "${app}" 2>/dev/null | "${PY}" -c '
import collections, sys
quic = sys.argv[1] == "quic"
st = collections.defaultdict(lambda: {"ch": 0, "sh": 0, "app": set()})
for line in sys.stdin:
    s, port, types, app = (line.rstrip("\n").split("\t") + ["", ""])[:4]
    c = st[s]
    types = types.split(",") if types else []
    c["ch"] += types.count("1")
    c["sh"] += types.count("2")
    # QUIC: header form 0 = short header (1-RTT); DTLS: content type 23 = application_data
    if ("0" if quic else "23") in app.split(","):
        c["app"].add(port)
bad = [s for s, c in st.items() if not (c["ch"] >= 1 and c["sh"] >= 1 and len(c["app"]) >= (2 if quic else 1))]
ch, sh = sum(c["ch"] for c in st.values()), sum(c["sh"] for c in st.values())
print(f"{len(st)} flow(s), {ch} ClientHello(s), {sh} ServerHello(s), {len(bad)} incomplete {bad}")
' "${t}")
    check "${f}: ${t}: ${n}" "$([[ ${n} == *' 0 incomplete '* && ${n} != '0 flow'* ]]; echo $?)"
    check "${f}: size $(stat -c %s "${p}") < 50000" "$([[ $(stat -c %s "${p}") -lt 50000 ]]; echo $?)"
}

verify_tcp_facts() {
    local n lt
    # capture-specific facts
    local c=${OUT}/chromium-veth-split-clienthello.pcap
    n=$(tshark -n -r "${c}" "${TSHARK_DECODE[@]}" -Y 'tls.handshake.type==1' -T fields -e tcp.segment.count 2>/dev/null \
        | awk '$1>=2' | wc -l)
    check "chromium: ClientHello(s) reassembled from >=2 TCP segments: ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
    n=$(tcount "${c}" 'tls.handshake.extensions_supported_group==0x11ec')
    check "chromium: X25519MLKEM768 (0x11ec) offered in ${n} ClientHello(s)" "$([[ ${n} -ge 1 ]]; echo $?)"
    local v=${OUT}/vlan100-8021q.pcap
    n=$(tshark -n -r "${v}" -T fields -e vlan.id 2>/dev/null | sort -u | tr '\n' ' ')
    check "vlan: vlan.id values: ${n}" "$([[ ${n} == '100 ' ]]; echo $?)"
    n=$(tcount "${v}" '!vlan')
    check "vlan: untagged frames: ${n}" "$([[ ${n} -eq 0 ]]; echo $?)"
    lt=$(capinfos -E "${OUT}/sll-v1-any.pcap" | awk -F': *' '/encapsulation/{print $2}')
    check "sll-v1: encapsulation '${lt}'" "$([[ ${lt} == 'Linux cooked-mode capture v1' ]]; echo $?)"
    lt=$(capinfos -E "${OUT}/sll2-any.pcap" | awk -F': *' '/encapsulation/{print $2}')
    check "sll2: encapsulation '${lt}'" "$([[ ${lt} == 'Linux cooked-mode capture v2' ]]; echo $?)"
    lt=$(capinfos -t "${OUT}/curl-tls13.pcapng" | awk -F': *' '/File type/{print $2}')
    check "pcapng: file type '${lt}'" "$([[ ${lt} == *pcapng* ]]; echo $?)"
    local h=${OUT}/openssl-tls13-hello-retry-request.pcap
    n=$(tshark -n -r "${h}" "${TSHARK_DECODE[@]}" -Y 'tls.handshake.type==1' -T fields -e tcp.stream 2>/dev/null \
        | sort | uniq -c | awk '$1==2' | wc -l)
    check "hrr: a connection with 2 ClientHellos: ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    n=$(tcount "${OUT}/openssl-tls12-alert-handshake-failure.pcap" 'tls.alert_message.desc==40')
    check "handshake_failure: alert 40 frames: ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
    n=$(tcount "${OUT}/openssl-tls12-expired-cert-alert.pcap" 'tls.alert_message.desc==45')
    check "expired: certificate_expired alert frames: ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
    n=$(tcount "${OUT}/openssl-tls12-ocsp-stapling.pcap" 'tls.handshake.type==22')
    check "ocsp: CertificateStatus frames: ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
    n=$(tcount "${OUT}/openssl-tls12-sessionid-resumption.pcap" 'tls.handshake.type==11')
    check "sessionid resumption: only 1 Certificate message (2nd handshake abbreviated): ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    n=$(tcount "${OUT}/openssl-tls12-ticket-resumption.pcap" 'tls.handshake.type==11')
    check "ticket resumption: only 1 Certificate message (2nd handshake abbreviated): ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    n=$(tcount "${OUT}/openssl-tls12-ticket-resumption.pcap" 'tls.handshake.type==4')
    check "ticket resumption: NewSessionTicket frames: ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
    n=$(tcount "${OUT}/openssl-tls13-psk-resumption.pcap" 'tls.handshake.type==1 && tls.handshake.extension.type==41')
    check "psk resumption: ClientHello with pre_shared_key: ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
}

verify_quic_facts() {
    local n m
    local q=${OUT}/aioquic-quic-v1.pcap
    n=$(tcount "${q}" 'tls.handshake.type==1')
    check "quic v1: 3 ClientHellos: ${n}" "$([[ ${n} -eq 3 ]]; echo $?)"
    n=$(tcount "${q}" 'tls.handshake.type==1 && !tls.handshake.extensions_server_name')
    check "quic v1: 1 ClientHello without SNI: ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    # a ClientHello that tshark completes in a packet whose CRYPTO frames all
    # start past offset 0 was reassembled from more than one Initial packet
    n=$(tcount "${q}" 'tls.handshake.type==1 && !(quic.crypto.offset==0)')
    check "quic v1: ClientHello reassembled from 2 Initial packets: ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    n=$(tcount "${q}" 'tls.handshake.type==2 && quic.version==1')
    check "quic v1: ServerHellos in QUIC v1 packets: ${n}" "$([[ ${n} -eq 3 ]]; echo $?)"
    q=${OUT}/aioquic-quic-v1-retry.pcap
    n=$(tcount "${q}" 'quic.long.packet_type==3')
    check "quic retry: Retry packets: ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    n=$(tcount "${q}" 'quic.long.packet_type==0 && quic.token_length > 0')
    check "quic retry: client Initials carrying the Retry token: ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
    q=${OUT}/aioquic-quic-v2.pcap
    n=$(tcount "${q}" 'tls.handshake.type==2')
    m=$(tcount "${q}" 'tls.handshake.type==2 && quic.version==0x6b3343cf')
    check "quic v2: ServerHellos ${n}, in QUIC v2 packets ${m}" "$([[ ${n} -eq 2 && ${m} -eq 2 ]]; echo $?)"
    n=$(tcount "${q}" 'tls.handshake.type==1 && quic.version==1')
    m=$(tcount "${q}" 'tls.handshake.type==1 && quic.version==0x6b3343cf')
    check "quic v2: ClientHellos in v1 (compatible version negotiation) ${n}, in v2 ${m}" \
        "$([[ ${n} -eq 1 && ${m} -eq 1 ]]; echo $?)"
    q=${OUT}/aioquic-quic-version-negotiation.pcap
    n=$(tcount "${q}" 'quic.version==0')
    check "quic VN: Version Negotiation packets: ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    n=$(tcount "${q}" 'tls.handshake.type==2 && quic.version==0x6b3343cf')
    check "quic VN: ServerHello in QUIC v2: ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    q=${OUT}/chromium-quic.pcap
    n=$(tcount "${q}" 'tls.handshake.type==1 && !(quic.crypto.offset==0)')
    check "chromium quic: ClientHello reassembled from 2 Initial packets: ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
    n=$(tcount "${q}" 'tls.handshake.type==1 && tls.handshake.extensions_key_share_group==0x11ec')
    check "chromium quic: X25519MLKEM768 (0x11ec) key share in ${n} ClientHello(s)" "$([[ ${n} -ge 1 ]]; echo $?)"
}

verify_dtls_facts() {
    local n m f
    for f in openssl-dtls12.pcap openssl-dtls12-cookie.pcap openssl-dtls10.pcap; do
        n=$(tcount "${OUT}/${f}" 'dtls.handshake.type==3')
        m=$(tcount "${OUT}/${f}" 'dtls.handshake.type==1')
        check "${f}: HelloVerifyRequest ${n}, ClientHellos ${m}" "$([[ ${n} -eq 1 && ${m} -eq 2 ]]; echo $?)"
    done
    for f in openssl-dtls12.pcap openssl-dtls10.pcap; do
        n=$(tcount "${OUT}/${f}" 'dtls.handshake.type==11 && dtls.handshake.fragment_offset > 0')
        check "${f}: frames with a Certificate fragment past offset 0: ${n}" "$([[ ${n} -ge 2 ]]; echo $?)"
    done
    n=$(tcount "${OUT}/openssl-dtls12-cookie.pcap" 'dtls.handshake.fragment_offset > 0')
    check "openssl-dtls12-cookie: handshake fragments past offset 0: ${n}" "$([[ ${n} -eq 0 ]]; echo $?)"
    n=$(tcount "${OUT}/openssl-dtls10.pcap" 'dtls.handshake.type==2 && dtls.handshake.version==0xfeff')
    check "openssl-dtls10: ServerHello with version DTLS 1.0: ${n}" "$([[ ${n} -eq 1 ]]; echo $?)"
    f=${OUT}/gnutls-dtls12-nocookie.pcap
    n=$(tcount "${f}" 'dtls.handshake.type==3')
    m=$(tcount "${f}" 'dtls.handshake.type==1')
    check "gnutls-dtls12-nocookie: HelloVerifyRequest ${n}, ClientHellos ${m}" "$([[ ${n} -eq 0 && ${m} -eq 1 ]]; echo $?)"
    n=$(tcount "${f}" "udp.srcport==${DTLS_PORT} && dtls.record.content_type==23")
    check "gnutls-dtls12-nocookie: application data from the server (echo): ${n}" "$([[ ${n} -ge 1 ]]; echo $?)"
}

# hellos_json FILE TRANSPORT : tshark's view of one capture's ClientHellos and
# ServerHellos, one JSON object per hello (see README.md, tshark_observed.jsonl)
hellos_json() {
    local f=$1 t=$2 proto=tls extra=()
    case ${t} in
        tcp) extra=(-e tcp.stream) ;;
        quic) extra=(-e udp.stream -e quic.version) ;;
        dtls) proto=dtls extra=(-e udp.stream) ;;
    esac
    [[ ${t} == tcp ]] || extra+=(-e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e udp.srcport -e udp.dstport)
    tshark -n -r "${OUT}/${f}" "${TSHARK_DECODE[@]}" \
        -Y "${proto}.handshake.type==1 || ${proto}.handshake.type==2" -T json \
        -e frame.number "${extra[@]}" -e "${proto}.handshake.type" \
        -e "${proto}.handshake.ja3" -e "${proto}.handshake.ja3_full" \
        -e "${proto}.handshake.ja3s" -e "${proto}.handshake.ja3s_full" \
        -e "${proto}.handshake.extensions_server_name" 2>/dev/null \
        | "${PY}" -c '
import json, sys
name, transport = sys.argv[1], sys.argv[2]
p = "dtls" if transport == "dtls" else "tls"
def first(layers, key):
    v = layers.get(key)
    return v[0] if v else None
for pkt in json.load(sys.stdin):
    L = pkt["_source"]["layers"]
    types = L.get(p + ".handshake.type", [])
    # one frame may carry several handshake messages; one object per hello
    ch = [t for t in types if t == "1"]
    sh = [t for t in types if t == "2"]
    ja3, ja3f = L.get(p + ".handshake.ja3", []), L.get(p + ".handshake.ja3_full", [])
    ja3s, ja3sf = L.get(p + ".handshake.ja3s", []), L.get(p + ".handshake.ja3s_full", [])
    sni = L.get(p + ".handshake.extensions_server_name", [])
    frame = int(first(L, "frame.number"))
    if transport == "tcp":
        where = {"frame": frame, "tcp_stream": int(first(L, "tcp.stream"))}
    else:
        # UDP: no tcp_stream; tshark udp.stream and the datagram endpoints instead
        where = {"frame": frame, "tcp_stream": None, "transport": transport,
                 "udp_stream": int(first(L, "udp.stream")),
                 "src_ip": first(L, "ip.src") or first(L, "ipv6.src"), "src_port": int(first(L, "udp.srcport")),
                 "dst_ip": first(L, "ip.dst") or first(L, "ipv6.dst"), "dst_port": int(first(L, "udp.dstport"))}
        if transport == "quic":
            # version of the first QUIC packet in the datagram
            where["quic_version"] = first(L, "quic.version")
    for i, _ in enumerate(ch):
        print(json.dumps({"pcap": name, "msg": "client_hello",
            "ja3": ja3[i] if i < len(ja3) else None, "ja3_string": ja3f[i] if i < len(ja3f) else None,
            "ja3s": None, "ja3s_string": None, "sni": sni[i] if i < len(sni) else None, **where}))
    for i, _ in enumerate(sh):
        print(json.dumps({"pcap": name, "msg": "server_hello",
            "ja3": None, "ja3_string": None,
            "ja3s": ja3s[i] if i < len(ja3s) else None, "ja3s_string": ja3sf[i] if i < len(ja3sf) else None,
            "sni": None, **where}))
' "${f}" "${t}"
}

write_observed() {
    local tmp=${WORK}/observed.jsonl new=${WORK}/observed-new.jsonl f
    : >"${new}"
    for f in "${CAPTURES[@]}"; do
        hellos_json "${f}" "${CAP_TRANSPORT[${f}]}" >>"${new}"
    done
    if want tcp && want quic && want dtls; then
        cp "${new}" "${tmp}"
    else
        # partial run: the rows of the captures written now replace their old rows
        # (in place); rows of every other capture are kept byte for byte; rows of
        # captures new to the file go at the end, in capture order
        "${PY}" - "${OUT}/tshark_observed.jsonl" "${new}" "${CAPTURES[@]}" >"${tmp}" <<'EOF'
import json, os, sys
old_path, new_path, regenerated = sys.argv[1], sys.argv[2], sys.argv[3:]
new = {}
for line in open(new_path):
    new.setdefault(json.loads(line)["pcap"], []).append(line)
done = set()
out = []
for line in (open(old_path) if os.path.exists(old_path) else []):
    pcap = json.loads(line)["pcap"]
    if pcap not in regenerated:
        out.append(line)
    elif pcap not in done:
        out.extend(new.get(pcap, []))
        done.add(pcap)
for pcap in regenerated:
    if pcap not in done:
        out.extend(new.get(pcap, []))
sys.stdout.write("".join(out))
EOF
    fi
    chown "$(stat -c %u:%g "${OUT}")" "${tmp}"
    mv -f "${tmp}" "${OUT}/tshark_observed.jsonl"
    chmod 0644 "${OUT}/tshark_observed.jsonl"
    log "wrote tshark_observed.jsonl ($(wc -l <"${OUT}/tshark_observed.jsonl") hellos," \
        "$(wc -l <"${new}") from this run)"
}

summary() {
    local f t proto stream
    for f in "${CAPTURES[@]}"; do
        t=${CAP_TRANSPORT[${f}]}
        proto=tls stream=tcp.stream
        [[ ${t} == tcp ]] || stream=udp.stream
        [[ ${t} == dtls ]] && proto=dtls
        printf '\n== %s  (%s bytes, %s, %s)\n' "${f}" "$(stat -c %s "${OUT}/${f}")" \
            "$(capinfos -E "${OUT}/${f}" | awk -F': *' '/encapsulation/{print $2}')" "${t}"
        tshark -n -r "${OUT}/${f}" "${TSHARK_DECODE[@]}" \
            -Y "${proto}.handshake.type==1 || ${proto}.handshake.type==2" \
            -T fields -e frame.number -e "${stream}" -e "${proto}.handshake.type" -e "${proto}.handshake.ja3" \
            -e "${proto}.handshake.ja3s" -e "${proto}.handshake.extensions_server_name" 2>/dev/null
    done
}

# ==========================================================================
main() {
    local g
    for g in "$@"; do
        case ${g} in
            tcp | quic | dtls) want "${g}" || WANT+=("${g}") ;;
            all) WANT=(tcp quic dtls) ;;
            *) die "unknown capture group '${g}' (usage: $0 [tcp] [quic] [dtls])" ;;
        esac
    done
    ((${#WANT[@]})) || WANT=(tcp quic dtls)
    log "capture groups: ${WANT[*]}"
    ensure_packages
    del_our_netns  # leftovers of an interrupted earlier run
    # nothing of ours may be listening on the ports we use
    if want tcp && [[ -n $(ss -Hltn 'sport = :8443') ]]; then die "port 8443 is busy on this machine"; fi
    if want quic && [[ -n $(ss -Hlun "sport = :${QUIC_PORT}") ]]; then die "UDP port ${QUIC_PORT} is busy"; fi
    if want dtls && [[ -n $(ss -Hlun "sport = :${DTLS_PORT}") ]]; then die "UDP port ${DTLS_PORT} is busy"; fi
    WORK=$(mktemp -d /tmp/hellotap-pcaps.XXXXXX)
    mkdir -p "${WORK}/cap"
    make_certs
    write_helpers

    if want tcp; then
        cap_openssl_tls13
        cap_openssl_tls12_chain
        cap_curl_ipv6
        cap_gnutls
        cap_python
        cap_chromium_and_sll
        cap_vlan
        cap_pcapng
        cap_hrr
        cap_handshake_failure
        cap_expired
        cap_selfsigned
        resumption openssl-tls12-sessionid-resumption.pcap -tls1_2 -no_ticket -- -tls1_2 -no_ticket
        resumption openssl-tls12-ticket-resumption.pcap -tls1_2 -- -tls1_2
        resumption openssl-tls13-psk-resumption.pcap -tls1_3 -- -tls1_3
        cap_ocsp
    fi
    if want quic; then
        setup_aioquic
        cap_quic_v1
        cap_quic_retry
        cap_quic_v2
        cap_quic_vn
        cap_chromium_quic
    fi
    if want dtls; then
        cap_dtls12
        cap_dtls12_cookie
        cap_dtls10
        cap_gnutls_dtls
    fi

    write_observed
    verify_all
    summary
    if ((VERIFY_FAILS)); then die "${VERIFY_FAILS} verification(s) failed"; fi
    log "all captures verified"
}

main "$@"
