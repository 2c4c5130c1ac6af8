//! The NATS JetStream sink against a real server (Debian's `nats-server`, 2.9), started on a
//! free loopback port with JetStream and a temporary store, and killed when the test ends
//! (even on panic). Without `nats-server` on PATH the server tests print "skipping" and pass,
//! unless HELLOTAP_REQUIRE_NATS=1 (CI), where that is a failure.
//!
//! Also, without a server: the sink against a scripted fake server (a lost acknowledgement
//! is re-sent with the same message id, server PINGs are answered, garbage makes it
//! reconnect).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hellotap::metrics::Metrics;
use hellotap::nats::{JetStream, NatsConfig, NatsSink, NatsStats, StoredMsg, inject_sensor, message_id};
use hellotap::output::JsonLines;
use hellotap::replay::{self, ReplayConfig};
use hellotap::sink::{Sink, Sinks};

const STREAM: &str = "HELLOTAP";

fn nats_server_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// A nats-server with JetStream on 127.0.0.1; killed on drop.
struct Server {
    bin: PathBuf,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts a server, or returns `None` (after printing why) when there is none to start.
    fn start(name: &str) -> Option<Server> {
        let Some(bin) = nats_server_binary() else {
            if std::env::var("HELLOTAP_REQUIRE_NATS").as_deref() == Ok("1") {
                panic!("nats-server is not installed and HELLOTAP_REQUIRE_NATS=1");
            }
            eprintln!("skipping: nats-server not installed");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("hellotap-nats-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Server { bin, port, dir, child: None };
        s.spawn();
        Some(s)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none());
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.log")).unwrap();
        let child = Command::new(&self.bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.dir.join("store"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while JetStream::connect(&self.url(), Duration::from_secs(1)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not come up:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// SIGTERM (a clean shutdown, the store flushed), and wait for the exit.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn read_all(&self) -> Vec<StoredMsg> {
        let mut js = JetStream::connect(&self.url(), Duration::from_secs(5)).unwrap();
        js.read_all(STREAM, 1_000_000).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The events of replaying the project's captures (`pcaps/`), as written.
fn replay_lines() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut errors = Vec::new();
    let inputs = replay::expand(&[dir], &mut errors);
    assert!(errors.is_empty() && !inputs.is_empty());
    let mut buf = Vec::new();
    let mut err = Vec::new();
    {
        let mut out = JsonLines::new(&mut buf);
        replay::run(&inputs, &ReplayConfig::default(), &mut out, &mut err).expect("replay");
    }
    let lines: Vec<String> = String::from_utf8(buf).unwrap().lines().map(str::to_string).collect();
    assert!(lines.len() >= 20, "{} events", lines.len());
    lines
}

fn config(url: &str, sensor: &str) -> NatsConfig {
    let mut c = NatsConfig::new(url, sensor);
    c.close_timeout = Duration::from_secs(15);
    c
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

/// The payload with the injected `"sensor":"NAME",` taken out again.
fn strip_sensor(payload: &[u8], sensor: &str) -> String {
    let s = String::from_utf8(payload.to_vec()).unwrap();
    let field = format!("{{\"sensor\":\"{sensor}\",");
    assert!(s.starts_with(&field), "{s}");
    format!("{{{}", &s[field.len()..])
}

/// Checks stored messages against the lines one sensor sent, in order.
fn check_stored(stored: &[&StoredMsg], sent: &[String], sensor: &str) {
    assert_eq!(stored.len(), sent.len(), "{sensor}: stored vs sent");
    for (m, line) in stored.iter().zip(sent) {
        let ev = json(line.as_bytes());
        let et = ev["event_type"].as_str().unwrap();
        assert_eq!(m.subject, format!("hellotap.{sensor}.{et}"));
        assert_eq!(m.headers.get("Nats-Msg-Id"), Some(message_id(sensor, line).as_str()));
        assert_eq!(m.headers.get("Hellotap-Sensor"), Some(sensor));
        assert_eq!(m.payload, inject_sensor(line, sensor).as_bytes());
        assert_eq!(&strip_sensor(&m.payload, sensor), line, "byte-equal but the sensor field");
        assert_eq!(json(&m.payload)["sensor"], sensor);
    }
}

fn wait_for(stats: &NatsStats, what: &str, cond: impl Fn(&hellotap::nats::NatsCounters) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond(&stats.snapshot()) {
        assert!(Instant::now() < deadline, "{what}: {:?} ({})", stats.snapshot(), stats.last_error());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn replayed_events_arrive_once_in_order_and_a_second_replay_is_deduplicated() {
    let Some(mut server) = Server::start("replay") else { return };
    let lines = replay_lines();
    let sink = NatsSink::new(config(&server.url(), "sensor-a")).unwrap();
    let stats = sink.stats();
    let m = Arc::new(Metrics::new(10));
    let sinks = Sinks::start(vec![Box::new(sink)], 4096, Some(m.clone()));
    for l in &lines {
        sinks.send(l);
    }
    sinks.close();
    let c = stats.snapshot();
    println!("first run: {} events, {c:?}", lines.len());
    assert_eq!((c.accepted, c.acked, c.duplicates, c.lost()), (lines.len() as u64, lines.len() as u64, 0, 0));
    assert_eq!(m.events_dropped.with_label_values(&["nats"]).get(), 0);
    let stored = server.read_all();
    check_stored(&stored.iter().collect::<Vec<_>>(), &lines, "sensor-a");
    // Sequence order is send order, so per-flow order holds too.
    assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));

    // The same events again (the same capture replayed), after a server restart: same
    // message ids, and JetStream rebuilt its de-duplication state from the store, so it
    // acknowledges each as a duplicate and stores nothing.
    server.stop();
    server.spawn();
    let mut again = NatsSink::new(config(&server.url(), "sensor-a")).unwrap();
    for l in &lines {
        again.write_line(l).unwrap();
    }
    let c = again.close();
    println!("second run: {c:?}");
    assert_eq!((c.acked, c.duplicates, c.lost()), (0, lines.len() as u64, 0));
    assert_eq!(server.read_all().len(), lines.len());
}

/// Distinct events made from the replayed ones: event `k` gets its own file name (so its own
/// message id) and one of a few flow ids per original flow, so a flow has several events.
fn numbered(lines: &[String], n: usize) -> Vec<String> {
    (0..n)
        .map(|k| {
            let l = &lines[k % lines.len()];
            let v = json(l.as_bytes());
            let flow = v["flow_id"].as_u64().unwrap();
            let file = v["pcap_filename"].as_str().unwrap();
            l.replacen(
                &format!("\"flow_id\":{flow},"),
                &format!("\"flow_id\":{},", flow % 1_000_000 * 10 + (k % 3) as u64),
                1,
            )
            .replacen(
                &format!("\"pcap_filename\":\"{file}\""),
                &format!("\"pcap_filename\":\"{file}#{k}\""),
                1,
            )
        })
        .collect()
}

fn index_of(payload: &[u8]) -> usize {
    let v = json(payload);
    let f = v["pcap_filename"].as_str().unwrap();
    f.rsplit_once('#').unwrap().1.parse().unwrap()
}

#[test]
fn server_stopped_mid_run_buffered_events_delivered_the_rest_counted() {
    let Some(mut server) = Server::start("outage") else { return };
    let base = replay_lines();
    let (a, b, c) = (600, 1500, 600);
    let events = numbered(&base, a + b + c);
    let mut cfg = config(&server.url(), "sensor-b");
    cfg.buffer = 300;
    cfg.max_inflight = 64;
    cfg.backoff_max = Duration::from_millis(300);
    let sink = NatsSink::new(cfg.clone()).unwrap();
    let stats = sink.stats();
    let m = Arc::new(Metrics::new(10));
    let sinks = Sinks::start(vec![Box::new(sink)], 1024, Some(m.clone()));
    // The runner's idle flush connects (and creates the stream) within half a second.
    wait_for(&stats, "connected", |c| c.connected);
    let send_paced = |range: std::ops::Range<usize>, pause: Duration| {
        for (i, k) in range.enumerate() {
            sinks.send(&events[k]);
            if i % 50 == 49 {
                std::thread::sleep(pause);
            }
        }
    };

    // A: the server is up; everything is acknowledged.
    send_paced(0..a, Duration::from_millis(10));
    wait_for(&stats, "phase A acknowledged", |c| c.acked == a as u64);

    // B: 200 events at full speed and, while they are in flight, the server is stopped
    // (SIGTERM); then 1,300 more. The buffer (300) holds what was unacknowledged at the stop
    // and then new events until it is full; the newest are dropped from there on.
    let burst = 200;
    send_paced(a..a + burst, Duration::ZERO);
    server.stop();
    send_paced(a + burst..a + b, Duration::from_millis(40));
    wait_for(&stats, "the sink noticed", |c| !c.connected);
    let during = stats.snapshot();
    println!("during the outage: {during:?} ({})", stats.last_error());
    assert_eq!(during.buffered, cfg.buffer as u64);

    // C: the server is back (same store); buffered events go out, new ones follow.
    server.spawn();
    wait_for(&stats, "reconnected and drained", |c| c.connected && c.buffered == 0);
    send_paced(a + b..a + b + c, Duration::from_millis(10));
    sinks.close();

    let counters = stats.snapshot();
    let dropped = m.events_dropped.with_label_values(&["nats"]).get();
    let sent = (a + b + c) as u64;
    let stored = server.read_all();
    println!("sent {sent}, stored {}, dropped {dropped}, counters {counters:?}", stored.len());
    assert_eq!(stored.len() as u64, sent - dropped, "delivered = sent - counted drops");
    assert_eq!(counters.lost(), 0);
    // No duplicates: every message id once, each one an event that was sent, unchanged.
    let ids: HashSet<&str> = stored.iter().map(|m| m.headers.get("Nats-Msg-Id").unwrap()).collect();
    assert_eq!(ids.len(), stored.len(), "a message id stored twice");
    let idx: Vec<usize> = stored.iter().map(|m| index_of(&m.payload)).collect();
    for (m, &k) in stored.iter().zip(&idx) {
        assert_eq!(m.headers.get("Nats-Msg-Id"), Some(message_id("sensor-b", &events[k]).as_str()));
        assert_eq!(strip_sensor(&m.payload, "sensor-b"), events[k]);
    }
    // What was dropped is one run of the newest events of the outage: delivered are events
    // 0..x and all of C, where x is at least A, the burst and the free part of the buffer.
    let x = (0..a + b).find(|k| !idx.contains(k)).unwrap();
    let expect: Vec<usize> = (0..x).chain(a + b..a + b + c).collect();
    let mut got = idx.clone();
    got.sort_unstable();
    assert_eq!(got, expect);
    assert!((a + cfg.buffer..=a + burst + cfg.buffer).contains(&x), "first dropped event {x}");
    assert_eq!(dropped, (a + b - x) as u64);
    // In order per flow (and overall).
    let mut last_per_flow: HashMap<u64, usize> = HashMap::new();
    for m in &stored {
        let flow = json(&m.payload)["flow_id"].as_u64().unwrap();
        let k = index_of(&m.payload);
        if let Some(prev) = last_per_flow.insert(flow, k) {
            assert!(prev < k, "flow {flow}: event {k} stored after {prev}");
        }
    }
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "stream order is send order");
    assert!(counters.connects >= 2 && counters.disconnects >= 1);
}

#[test]
fn three_sensors_publish_concurrently_to_one_server() {
    let Some(server) = Server::start("sensors") else { return };
    let lines = replay_lines();
    let names = ["edge-1", "edge-2", "edge-3"];
    let sinks: Vec<NatsSink> =
        names.iter().map(|n| NatsSink::new(config(&server.url(), n)).unwrap()).collect();
    let stats: Vec<_> = sinks.iter().map(NatsSink::stats).collect();
    let runner = Sinks::start(sinks.into_iter().map(|s| Box::new(s) as Box<dyn Sink>).collect(), 4096, None);
    for l in &lines {
        runner.send(l);
    }
    runner.close();
    for (n, s) in names.iter().zip(&stats) {
        let c = s.snapshot();
        println!("{n}: {c:?}");
        assert_eq!((c.acked, c.lost()), (lines.len() as u64, 0), "{n}");
    }
    let stored = server.read_all();
    assert_eq!(stored.len(), names.len() * lines.len());
    let mut by_sensor: BTreeMap<&str, Vec<&StoredMsg>> = BTreeMap::new();
    for m in &stored {
        by_sensor.entry(m.headers.get("Hellotap-Sensor").unwrap()).or_default().push(m);
    }
    assert_eq!(by_sensor.keys().copied().collect::<Vec<_>>(), names);
    for (sensor, msgs) in by_sensor {
        check_stored(&msgs, &lines, sensor);
    }
}

/// A fake server that speaks just enough NATS: INFO, then takes CONNECT/PING/SUB, answers
/// stream creation, and hands each HPUB (subject, reply, Nats-Msg-Id) to the test.
struct Fake {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Fake {
    fn accept(l: &TcpListener) -> Fake {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut w = s.try_clone().unwrap();
        w.write_all(b"INFO {\"server_id\":\"fake\",\"version\":\"2.9.0\",\"headers\":true,\"max_payload\":1048576,\"jetstream\":true}\r\n").unwrap();
        Fake { r: BufReader::new(s), w }
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    }

    /// Reads client operations until an HPUB; answers PING and the stream-create request.
    fn next_hpub(&mut self) -> (String, String, String) {
        loop {
            let l = self.line();
            let f: Vec<&str> = l.split(' ').collect();
            match f[0] {
                "CONNECT" => assert!(l.contains("\"headers\":true") && l.contains("\"no_responders\":true")),
                "PING" => self.w.write_all(b"PONG\r\n").unwrap(),
                "PONG" | "SUB" => {}
                "PUB" => {
                    // $JS.API.STREAM.CREATE.HELLOTAP <reply> <n>
                    let n: usize = f[3].parse().unwrap();
                    let mut body = vec![0; n + 2];
                    self.r.read_exact(&mut body).unwrap();
                    let reply = r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{}}"#;
                    write!(self.w, "MSG {} 1 {}\r\n{reply}\r\n", f[2], reply.len()).unwrap();
                }
                "HPUB" => {
                    let total: usize = f[4].parse().unwrap();
                    let mut body = vec![0; total + 2];
                    self.r.read_exact(&mut body).unwrap();
                    let text = String::from_utf8(body).unwrap();
                    let id =
                        text.split("Nats-Msg-Id: ").nth(1).unwrap().split("\r\n").next().unwrap().to_string();
                    return (f[1].to_string(), f[2].to_string(), id);
                }
                other => panic!("unexpected {other:?} in {l:?}"),
            }
        }
    }

    fn ack(&mut self, reply: &str, seq: u64, duplicate: bool) {
        let body = if duplicate {
            format!("{{\"stream\":\"HELLOTAP\",\"seq\":{seq},\"duplicate\":true}}")
        } else {
            format!("{{\"stream\":\"HELLOTAP\",\"seq\":{seq}}}")
        };
        write!(self.w, "MSG {reply} 1 {}\r\n{body}\r\n", body.len()).unwrap();
    }
}

#[test]
fn a_lost_acknowledgement_is_resent_with_the_same_id_and_pings_are_answered() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = NatsConfig::new(&format!("nats://{}", l.local_addr().unwrap()), "fake-1");
    cfg.backoff_initial = Duration::from_millis(10);
    cfg.close_timeout = Duration::from_secs(5);
    let lines = [r#"{"flow_id":1,"event_type":"tls","n":1}"#, r#"{"flow_id":2,"event_type":"quic","n":2}"#];
    let server = std::thread::spawn(move || {
        // First connection: take both messages, acknowledge only the first, hang up.
        let mut f = Fake::accept(&l);
        let (s1, r1, id1) = f.next_hpub();
        let (s2, _r2, id2) = f.next_hpub();
        assert_eq!((s1.as_str(), s2.as_str()), ("hellotap.fake-1.tls", "hellotap.fake-1.quic"));
        f.ack(&r1, 1, false);
        // A server PING must be answered.
        f.w.write_all(b"PING\r\n").unwrap();
        assert_eq!(f.line(), "PONG");
        drop(f);
        // Second connection: the unacknowledged one comes again, same id; it had been
        // stored, so it is a duplicate. Then garbage: the client must reconnect again.
        let mut f = Fake::accept(&l);
        let (_, r2b, id2b) = f.next_hpub();
        assert_eq!(id2b, id2);
        assert_ne!(id1, id2);
        f.ack(&r2b, 2, true);
        let (_, r3, _) = f.next_hpub();
        f.w.write_all(b"MSG x 1 -5\r\n").unwrap();
        let mut f = Fake::accept(&l);
        let (_, r3b, _) = f.next_hpub();
        assert!(r3b != r3, "a new connection has a new inbox");
        f.ack(&r3b, 3, false);
        // Keep the socket open until the client has read the ack.
        std::thread::sleep(Duration::from_millis(300));
    });
    let mut sink = NatsSink::new(cfg).unwrap();
    sink.write_line(lines[0]).unwrap();
    sink.write_line(lines[1]).unwrap();
    let stats = sink.stats();
    wait_pumping(&mut sink, &stats, |c| c.duplicates == 1);
    sink.write_line(r#"{"flow_id":3,"event_type":"tls","n":3}"#).unwrap();
    let c = sink.close();
    server.join().unwrap();
    println!("{c:?}");
    assert_eq!((c.accepted, c.acked, c.duplicates, c.resent, c.lost()), (3, 2, 1, 2, 0));
    assert!(c.connects >= 3, "{c:?}");
}

fn wait_pumping(
    sink: &mut NatsSink,
    stats: &NatsStats,
    cond: impl Fn(&hellotap::nats::NatsCounters) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond(&stats.snapshot()) {
        assert!(Instant::now() < deadline, "{:?} ({})", stats.snapshot(), stats.last_error());
        sink.flush().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_unreachable_server_buffers_up_to_the_bound_then_refuses() {
    // A port with nobody listening.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cfg = NatsConfig::new(&format!("nats://127.0.0.1:{port}"), "nobody");
    cfg.buffer = 5;
    cfg.close_timeout = Duration::from_millis(200);
    let mut sink = NatsSink::new(cfg).unwrap();
    let started = Instant::now();
    let results: Vec<bool> = (0..8)
        .map(|i| sink.write_line(&format!("{{\"flow_id\":{i},\"event_type\":\"tls\"}}")).is_ok())
        .collect();
    assert!(started.elapsed() < Duration::from_secs(2), "writes must not wait on a dead server");
    assert_eq!(results, [true, true, true, true, true, false, false, false]);
    assert!(sink.reopen().is_err());
    let stats = sink.stats();
    assert!(stats.last_error().contains("connect to 127.0.0.1"), "{}", stats.last_error());
    let c = sink.close();
    assert_eq!((c.accepted, c.refused, c.abandoned, c.acked), (5, 3, 5, 0));
}
