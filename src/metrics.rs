//! The metric catalog: registered once, incremented by the stages, served as Prometheus
//! text exposition (`/metrics`) or written to a node_exporter textfile.
//!
//! Names follow Prometheus conventions: namespace `hellotap_`, `_total` for counters, units
//! in names. Every label value comes from a bounded set: IANA names (cipher suites, groups,
//! alert descriptions, registered ALPN IDs) or a fixed list, with `other` for the rest; a
//! raw fingerprint becomes a label only through a bounded first-N admission per type, after
//! which further distinct values are counted as `other`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `hellotap_packets_total` | counter | `interface` |
//! | `hellotap_bytes_total` | counter | `interface` (captured bytes) |
//! | `hellotap_capture_drops_total` | counter | `kind` = kernel, interface, queue, sink |
//! | `hellotap_decode_errors_total` | counter | `kind` (truncated, not_ip, unsupported_linktype, ...) |
//! | `hellotap_flows_active` | gauge | |
//! | `hellotap_flows_created_total` | counter | |
//! | `hellotap_flows_ended_total` | counter | `reason` = fin, rst, timeout, end_of_input, reused, evicted |
//! | `hellotap_flow_table_full_total` | counter | (new flows not tracked: table at its cap) |
//! | `hellotap_reassembly_segments_total` | counter | `event` = retransmitted, overlap, overlap_conflict, out_of_order, ooo_dropped, truncated |
//! | `hellotap_reassembly_buffered_bytes` | gauge | |
//! | `hellotap_cert_cache_total` | counter | `result` = hit, miss, evicted (parsed certificates reused by their DER bytes) |
//! | `hellotap_hash_cache_total` | counter | `result` = hit, miss, evicted (fingerprint MD5/SHA-256 reused by their input strings, whole ClientHellos' JA3 and JA4 by their fields) |
//! | `hellotap_handshakes_total` | counter | `transport`, `version`, `outcome` |
//! | `hellotap_negotiated_cipher_total` | counter | `cipher` |
//! | `hellotap_negotiated_group_total` | counter | `group` |
//! | `hellotap_negotiated_alpn_total` | counter | `alpn` |
//! | `hellotap_alerts_total` | counter | `description`, `from` |
//! | `hellotap_hello_retry_total` | counter | |
//! | `hellotap_cert_checks_failed_total` | counter | `check` = expired, not_yet_valid, self_signed, name_mismatch, chain_out_of_order, missing_intermediate, weak_key, weak_signature |
//! | `hellotap_resumption_total` | counter | `result` = attempted, accepted |
//! | `hellotap_fingerprints_total` | counter | `type` = ja3, ja4, ja4s; `fingerprint` (first N distinct, then `other`) |
//! | `hellotap_rule_matches_total` | counter | `rule` (ids of the loaded rule set) |
//! | `hellotap_rule_reloads_total` | counter | `result` = ok, failed |
//! | `hellotap_events_total` | counter | `sink` |
//! | `hellotap_events_dropped_total` | counter | `sink` |
//! | `hellotap_worker_queue_depth` | gauge | `worker` |
//! | `process_*` | | CPU seconds, resident memory, open fds (Linux) |

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::fingerprint::Transport;
use crate::flow::FlowEnd;
use crate::record::Handshake;
use crate::tls::names;

/// Default number of distinct fingerprints per type that get their own label.
pub const DEFAULT_TOP_FINGERPRINTS: usize = 100;

/// The registered metrics.
pub struct Metrics {
    registry: Registry,
    /// Packets read, by interface (`replay` offline).
    pub packets: IntCounterVec,
    /// Bytes read, by interface.
    pub bytes: IntCounterVec,
    /// Capture drops by kind.
    pub capture_drops: IntCounterVec,
    /// Frames that did not decode, by kind.
    pub decode_errors: IntCounterVec,
    /// Flows in the tables.
    pub flows_active: IntGauge,
    /// Flows created.
    pub flows_created: IntCounter,
    /// Flows ended, by reason.
    pub flows_ended: IntCounterVec,
    /// New flows not tracked because a table was full.
    pub flow_table_full: IntCounter,
    /// Reassembly events.
    pub reassembly: IntCounterVec,
    /// Bytes held by reassembly and TLS buffers.
    pub reassembly_buffered: IntGauge,
    /// Certificate cache lookups and evictions, by result.
    pub cert_cache: IntCounterVec,
    /// Fingerprint hash cache lookups and evictions, by result.
    pub hash_cache: IntCounterVec,
    handshakes: IntCounterVec,
    ciphers: IntCounterVec,
    groups: IntCounterVec,
    alpns: IntCounterVec,
    alerts: IntCounterVec,
    hello_retry: IntCounter,
    cert_checks: IntCounterVec,
    resumption: IntCounterVec,
    fingerprints: IntCounterVec,
    /// Events written, by sink.
    pub events: IntCounterVec,
    /// Events dropped, by sink.
    pub events_dropped: IntCounterVec,
    /// Batches waiting in each worker's queue.
    pub queue_depth: IntGaugeVec,
    /// Records each rule matched (labels pre-registered from the rule set: bounded).
    pub rule_matches: IntCounterVec,
    /// Rule reloads, by result (`ok`, `failed`: the old set was kept).
    pub rule_reloads: IntCounterVec,
    top_n: usize,
    admitted: Mutex<[HashSet<String>; 3]>,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("top_n", &self.top_n).finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers the catalog; `top_n` distinct fingerprints per type get their own label.
    pub fn new(top_n: usize) -> Self {
        let r = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            r.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let m = Metrics {
            packets: counter_vec(&r, "hellotap_packets_total", "Frames read.", &["interface"]),
            bytes: counter_vec(&r, "hellotap_bytes_total", "Captured bytes read.", &["interface"]),
            capture_drops: counter_vec(
                &r,
                "hellotap_capture_drops_total",
                "Frames or events dropped: kernel, interface (pcap_stats), queue (full worker queue), sink.",
                &["kind"],
            ),
            decode_errors: counter_vec(
                &r,
                "hellotap_decode_errors_total",
                "Frames that did not decode to TCP/UDP.",
                &["kind"],
            ),
            flows_active: gauge("hellotap_flows_active", "Flows in the flow tables."),
            flows_created: counter("hellotap_flows_created_total", "Flows created."),
            flows_ended: counter_vec(
                &r,
                "hellotap_flows_ended_total",
                "Flows ended, by reason.",
                &["reason"],
            ),
            flow_table_full: counter(
                "hellotap_flow_table_full_total",
                "New flows not tracked because the flow table was at its cap.",
            ),
            reassembly: counter_vec(
                &r,
                "hellotap_reassembly_segments_total",
                "TCP segments by reassembly event.",
                &["event"],
            ),
            reassembly_buffered: gauge(
                "hellotap_reassembly_buffered_bytes",
                "Bytes held by reassembly and TLS buffers.",
            ),
            cert_cache: counter_vec(
                &r,
                "hellotap_cert_cache_total",
                "Certificates looked up in the workers' parsed-certificate caches (hit, miss) and dropped from them to make room (evicted).",
                &["result"],
            ),
            hash_cache: counter_vec(
                &r,
                "hellotap_hash_cache_total",
                "Fingerprints looked up in the workers' caches (hit, miss): JA3 MD5 and JA4 SHA-256 by their input string, whole ClientHellos' JA3 and JA4 by their fields; and dropped from them to make room (evicted).",
                &["result"],
            ),
            handshakes: counter_vec(
                &r,
                "hellotap_handshakes_total",
                "Handshakes reported, by transport, negotiated version and outcome.",
                &["transport", "version", "outcome"],
            ),
            ciphers: counter_vec(
                &r,
                "hellotap_negotiated_cipher_total",
                "Negotiated cipher suites.",
                &["cipher"],
            ),
            groups: counter_vec(
                &r,
                "hellotap_negotiated_group_total",
                "Negotiated key-exchange groups (TLS 1.3 key_share).",
                &["group"],
            ),
            alpns: counter_vec(&r, "hellotap_negotiated_alpn_total", "Negotiated ALPN protocols.", &["alpn"]),
            alerts: counter_vec(
                &r,
                "hellotap_alerts_total",
                "Plaintext TLS alerts, by description and sender.",
                &["description", "from"],
            ),
            hello_retry: counter("hellotap_hello_retry_total", "Handshakes with a HelloRetryRequest."),
            cert_checks: counter_vec(
                &r,
                "hellotap_cert_checks_failed_total",
                "Server certificate chains that failed a check (TLS <= 1.2), by check.",
                &["check"],
            ),
            resumption: counter_vec(
                &r,
                "hellotap_resumption_total",
                "Session resumption: attempted (ticket, PSK or TLS <= 1.2 session id offered) and accepted.",
                &["result"],
            ),
            fingerprints: counter_vec(
                &r,
                "hellotap_fingerprints_total",
                "Fingerprints seen; the first N distinct values per type are labels, the rest `other`.",
                &["type", "fingerprint"],
            ),
            events: counter_vec(&r, "hellotap_events_total", "Events written, by sink.", &["sink"]),
            events_dropped: counter_vec(
                &r,
                "hellotap_events_dropped_total",
                "Events a sink could not take.",
                &["sink"],
            ),
            queue_depth: {
                let g = IntGaugeVec::new(
                    Opts::new("hellotap_worker_queue_depth", "Batches waiting in a worker's queue."),
                    &["worker"],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            rule_matches: counter_vec(
                &r,
                "hellotap_rule_matches_total",
                "Records a rule matched.",
                &["rule"],
            ),
            rule_reloads: counter_vec(
                &r,
                "hellotap_rule_reloads_total",
                "Rule set reloads (SIGHUP); failed ones keep the old set.",
                &["result"],
            ),
            top_n,
            admitted: Mutex::new([HashSet::new(), HashSet::new(), HashSet::new()]),
            registry: r,
        };
        #[cfg(target_os = "linux")]
        {
            let pc = prometheus::process_collector::ProcessCollector::for_self();
            let _ = m.registry.register(Box::new(pc));
        }
        // Series that must exist from the start, at zero, so that dashboards and alerts can
        // rely on them (a drop counter that only appears on the first drop hides the rest).
        for kind in ["kernel", "interface", "queue", "sink"] {
            m.capture_drops.with_label_values(&[kind]);
        }
        for r in FlowEnd::ALL {
            m.flows_ended.with_label_values(&[r.as_str()]);
        }
        for e in ["retransmitted", "overlap", "overlap_conflict", "out_of_order", "ooo_dropped", "truncated"]
        {
            m.reassembly.with_label_values(&[e]);
        }
        for c in crate::certcheck::CertChecks::default().all() {
            m.cert_checks.with_label_values(&[c.0]);
        }
        for r in ["attempted", "accepted"] {
            m.resumption.with_label_values(&[r]);
        }
        for k in crate::decode::DecodeError::KINDS {
            m.decode_errors.with_label_values(&[k]);
        }
        m.rule_reloads.with_label_values(&["ok"]);
        m.rule_reloads.with_label_values(&["failed"]);
        m.events.with_label_values(&["output"]);
        m.events_dropped.with_label_values(&["output"]);
        m
    }

    /// Counts one handshake record.
    pub fn observe(&self, h: &Handshake) {
        let transport = match h.transport {
            Transport::Tcp => "tcp",
            Transport::Quic => "quic",
            Transport::Dtls => "dtls",
        };
        let sh = h.server_hello.as_ref().filter(|s| !s.hello_retry);
        let version = match sh {
            Some(s) => names::version(s.negotiated_version()).unwrap_or("other"),
            None => "none",
        };
        self.handshakes.with_label_values(&[transport, version, h.outcome.as_str()]).inc();
        if let Some(s) = sh {
            self.ciphers.with_label_values(&[names::cipher_suite(s.cipher).unwrap_or("other")]).inc();
            // TLS 1.3 key_share, else a TLS 1.2 ECDHE ServerKeyExchange's curve.
            if let Some(g) = s.key_share_group.or(h.details.ske_group) {
                self.groups.with_label_values(&[names::group(g).unwrap_or("other")]).inc();
            }
            if let Some(a) = &s.alpn {
                self.alpns.with_label_values(&[names::alpn_id(a).unwrap_or("other")]).inc();
            }
        }
        for a in &h.alerts {
            let d = names::alert_description(a.description).unwrap_or("other");
            self.alerts.with_label_values(&[d, a.from.as_str()]).inc();
        }
        if h.hello_retry {
            self.hello_retry.inc();
        }
        if let Some(c) = &h.cert_checks {
            for (check, failed) in c.all() {
                if failed {
                    self.cert_checks.with_label_values(&[check]).inc();
                }
            }
        }
        if let Some(ch) = &h.client_hello {
            let offers_13 = ch.supported_versions.iter().any(|&v| (0x0304..0x0400).contains(&v));
            if ch.ticket_offered || ch.psk_identities > 0 || (ch.session_id_len > 0 && !offers_13) {
                self.resumption.with_label_values(&["attempted"]).inc();
            }
        }
        if h.details.resumed {
            self.resumption.with_label_values(&["accepted"]).inc();
        }
        let fp = &h.fingerprints;
        if let Some(j) = &fp.ja3 {
            self.fingerprint(0, "ja3", &j.hash);
        }
        if let Some(j) = &fp.ja4 {
            self.fingerprint(1, "ja4", &j.ja4);
        }
        if let Some(j) = &fp.ja4s {
            self.fingerprint(2, "ja4s", &j.ja4s);
        }
    }

    fn fingerprint(&self, slot: usize, kind: &str, value: &str) {
        let label = {
            let mut adm = self.admitted.lock().unwrap_or_else(|e| e.into_inner());
            let set = &mut adm[slot];
            if set.contains(value) {
                true
            } else if set.len() < self.top_n {
                set.insert(value.to_string());
                true
            } else {
                false
            }
        };
        self.fingerprints.with_label_values(&[kind, if label { value } else { "other" }]).inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding gathered families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Number of series (samples) in the exposition.
    pub fn series(&self) -> usize {
        self.registry.gather().iter().map(|f| f.get_metric().len()).sum()
    }

    /// Writes the exposition to `path` atomically (node_exporter textfile collector).
    pub fn write_textfile(&self, path: &std::path::Path) -> std::io::Result<()> {
        let tmp = path.with_extension("prom.tmp");
        std::fs::write(&tmp, self.render())?;
        std::fs::rename(&tmp, path)
    }
}

/// A small HTTP server for `/metrics` (text exposition) and `/healthz`, on its own thread
/// (no async runtime needed for one endpoint scraped every few seconds).
pub struct MetricsServer {
    server: std::sync::Arc<tiny_http::Server>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// The address actually bound (useful with port 0).
    pub addr: std::net::SocketAddr,
}

/// Binds `addr` and serves `m`. A port already in use is a clear error, at start.
pub fn serve(addr: &str, m: std::sync::Arc<Metrics>) -> Result<MetricsServer, String> {
    let server = tiny_http::Server::http(addr).map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| format!("cannot serve metrics on {addr}: not an IP address"))?;
    let server = std::sync::Arc::new(server);
    let s2 = server.clone();
    let handle = std::thread::Builder::new()
        .name("hellotap-metrics".into())
        .spawn(move || {
            for req in s2.incoming_requests() {
                let path = req.url().split('?').next().unwrap_or("").to_string();
                let resp = match path.as_str() {
                    "/metrics" => {
                        let ct = tiny_http::Header::from_bytes(
                            &b"Content-Type"[..],
                            &b"text/plain; version=0.0.4; charset=utf-8"[..],
                        )
                        .expect("static header");
                        tiny_http::Response::from_string(m.render()).with_header(ct)
                    }
                    "/healthz" => tiny_http::Response::from_string("ok\n"),
                    _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
                };
                let _ = req.respond(resp);
            }
        })
        .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
    Ok(MetricsServer { server, handle: Some(handle), addr: bound })
}

impl MetricsServer {
    /// Stops serving and waits for the thread.
    pub fn stop(mut self) {
        self.server.unblock();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::ja3::Ja3;
    use crate::fingerprint::ja4::Ja4;
    use crate::record::{Fingerprints, Outcome};
    use crate::tls::hello::{ClientHello, ServerHello};

    fn record(i: usize) -> Handshake {
        Handshake {
            flow_id: i as u64,
            timestamp: crate::time::Timestamp::default(),
            transport: Transport::Tcp,
            client: ("198.18.0.1".parse().unwrap(), 1000),
            server: ("198.18.0.2".parse().unwrap(), 443),
            vlans: vec![],
            pcap_filename: None,
            client_hello: Some(ClientHello {
                sni: Some(format!("host{i}.example").into_bytes()),
                ..Default::default()
            }),
            client_hello_count: 1,
            first_server_hello: None,
            server_hello: Some(ServerHello {
                version: 0x0303,
                cipher: (i % 65536) as u16,
                alpn: Some(format!("proto{i}").into_bytes()),
                key_share_group: Some((i % 65536) as u16),
                ..Default::default()
            }),
            hello_retry: false,
            alerts: vec![],
            outcome: Outcome::Established,
            anomalies: vec![],
            fingerprints: Fingerprints {
                ja3: Some(Ja3 { string: String::new(), hash: format!("{i:032x}") }.into()),
                ja3s: None,
                ja4: Some(
                    Ja4 {
                        ja4: format!("t13d{i}"),
                        ja4_r: String::new(),
                        ja4_o: String::new(),
                        ja4_ro: String::new(),
                    }
                    .into(),
                ),
                ja4s: None,
            },
            details: Default::default(),
            certificates: vec![],
            client_certificates: vec![],
            cert_checks: None,
            rendered: Vec::new(),
        }
    }

    #[test]
    fn series_stay_bounded_under_a_flood_of_distinct_values() {
        let m = Metrics::new(50);
        for i in 0..100_000 {
            m.observe(&record(i));
        }
        let text = m.render();
        let fps = text.lines().filter(|l| l.starts_with("hellotap_fingerprints_total{")).count();
        // 50 admitted per type (ja3, ja4) plus one `other` each.
        assert_eq!(fps, 2 * 51, "{fps}");
        // Ciphers and groups: IANA names or `other`; ALPN: registered ids or `other`.
        let ciphers = text.lines().filter(|l| l.starts_with("hellotap_negotiated_cipher_total{")).count();
        assert!(ciphers <= 357, "{ciphers}");
        let alpn = text.lines().filter(|l| l.starts_with("hellotap_negotiated_alpn_total{")).count();
        assert_eq!(alpn, 1, "only `other`");
        assert!(text.contains("hellotap_fingerprints_total{fingerprint=\"other\",type=\"ja4\"} 99950"));
        assert!(m.series() < 1200, "{} series", m.series());
    }

    #[test]
    fn drop_counters_exist_from_the_start() {
        let text = Metrics::new(10).render();
        for kind in ["kernel", "interface", "queue", "sink"] {
            assert!(text.contains(&format!("hellotap_capture_drops_total{{kind=\"{kind}\"}} 0")), "{kind}");
        }
    }

    #[test]
    fn serves_metrics_and_healthz_and_refuses_a_busy_port() {
        let m = std::sync::Arc::new(Metrics::new(10));
        let s = serve("127.0.0.1:0", m.clone()).unwrap();
        let get = |path: &str| {
            use std::io::{Read, Write};
            let mut c = std::net::TcpStream::connect(s.addr).unwrap();
            write!(c, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
            let mut body = String::new();
            c.read_to_string(&mut body).unwrap();
            body
        };
        assert!(get("/metrics").contains("hellotap_capture_drops_total"));
        assert!(get("/healthz").ends_with("ok\n"));
        assert!(get("/nope").contains("404"));
        let busy = serve(&s.addr.to_string(), m).err().unwrap();
        assert!(busy.contains("cannot serve metrics"), "{busy}");
        s.stop();
    }
}
