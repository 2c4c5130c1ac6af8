//! A fleet on one machine: three `hellotap` processes, each replaying its own shard of the
//! project's captures, publish to one NATS JetStream server, and one Prometheus scrapes all
//! three. Every event reaches the stream once, under its sensor's subject, and Prometheus'
//! sum of handshakes over the fleet equals the events written.
//!
//! Needs Debian's `nats-server` and `prometheus`; skipped (with a note) when either is
//! missing, unless `HELLOTAP_REQUIRE_NATS=1` / `HELLOTAP_REQUIRE_PROMETHEUS=1` (CI).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hellotap::nats::client::JetStream;

fn find(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Children killed on drop, even when the test panics.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(c, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut s = String::new();
    c.read_to_string(&mut s).ok()?;
    Some(s.split("\r\n\r\n").nth(1)?.to_string())
}

fn prom_scalar(port: u16, q: &str) -> Option<f64> {
    let enc: String = q
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let body = http_get(port, &format!("/api/v1/query?query={enc}"))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn three_sensors_publish_to_one_stream_and_one_prometheus_scrapes_them_all() {
    let (Some(nats), Some(prom)) = (find("nats-server"), find("prometheus")) else {
        if std::env::var_os("HELLOTAP_REQUIRE_NATS").is_some()
            || std::env::var_os("HELLOTAP_REQUIRE_PROMETHEUS").is_some()
        {
            panic!("nats-server and prometheus are required");
        }
        eprintln!("skipping: nats-server or prometheus not installed");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("hellotap-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut kids = Children(Vec::new());

    let nport = free_port();
    kids.0.push(
        Command::new(&nats)
            .args(["-js", "-a", "127.0.0.1", "-p", &nport.to_string(), "-sd"])
            .arg(dir.join("nats"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("nats://127.0.0.1:{nport}");
    let t0 = Instant::now();
    while JetStream::connect(&url, Duration::from_secs(1)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10), "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Three shards of the project's captures, one sensor each.
    let mut caps: Vec<PathBuf> = std::fs::read_dir(root.join("pcaps"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")))
        .collect();
    caps.sort();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut mports = Vec::new();
    for s in 0..3 {
        let shard: Vec<&PathBuf> = caps.iter().skip(s).step_by(3).collect();
        let sensor = format!("sensor{s}");
        let mport = free_port();
        mports.push(mport);
        let events = dir.join(format!("{sensor}.jsonl"));
        kids.0.push(
            Command::new(env!("CARGO_BIN_EXE_hellotap"))
                .args(["replay", "-q", "--nats", &url, "--sensor", &sensor, "--linger", "--metrics-addr"])
                .arg(format!("127.0.0.1:{mport}"))
                .arg("-o")
                .arg(&events)
                .args(&shard)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // What the shard yields, from a plain replay.
        let o = Command::new(env!("CARGO_BIN_EXE_hellotap"))
            .args(["replay", "-q"])
            .args(&shard)
            .output()
            .unwrap();
        expected.insert(sensor, String::from_utf8_lossy(&o.stdout).lines().count());
    }
    let total: usize = expected.values().sum();
    assert!(total > 20, "{total} events");

    let pport = free_port();
    let targets: Vec<String> = mports.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: hellotap\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        ),
    )
    .unwrap();
    kids.0.push(
        Command::new(&prom)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Prometheus sees three sensors up, and the fleet's handshakes add up to the events.
    let t0 = Instant::now();
    loop {
        let up = prom_scalar(pport, "sum(up{job=\"hellotap\"})").unwrap_or(0.0);
        let hs = prom_scalar(pport, "sum(hellotap_handshakes_total)").unwrap_or(0.0);
        if up == 3.0 && hs as usize == total {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(40), "prometheus: up={up}, handshakes={hs}, want {total}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Every event once in the stream, under its sensor's subject.
    let mut js = JetStream::connect(&url, Duration::from_secs(3)).unwrap();
    let msgs = js.read_all("HELLOTAP", 10_000).unwrap();
    let mut per_sensor: BTreeMap<String, usize> = BTreeMap::new();
    for m in &msgs {
        let sensor = m.subject.split('.').nth(1).unwrap().to_string();
        *per_sensor.entry(sensor).or_default() += 1;
    }
    println!("{} events in the stream from {} sensors; {per_sensor:?}", msgs.len(), per_sensor.len());
    assert_eq!(per_sensor, expected);
    let _ = std::fs::remove_dir_all(&dir);
}
