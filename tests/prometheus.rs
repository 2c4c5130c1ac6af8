//! A real Prometheus scrapes `hellotap replay --metrics-addr --linger`: the counters it
//! stores agree with the events written, the capture-drop kinds are all exposed, the
//! exposition passes `promtool check metrics`, and SIGTERM ends the lingering sensor with
//! exit 0.
//!
//! Needs Debian's `prometheus` package (`/usr/bin/prometheus`, `/usr/bin/promtool`). Without
//! it the test prints "skipping: prometheus not installed" and passes, unless
//! `HELLOTAP_REQUIRE_PROMETHEUS=1` is set (then it fails). `HELLOTAP_PROMETHEUS=/path` picks
//! the binary instead of looking on PATH (a path that does not exist means "not installed");
//! `promtool` is looked for beside it, then on PATH.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Waits for the sensor's `/healthz`.
const HEALTH_WAIT: Duration = Duration::from_secs(10);
/// Waits for Prometheus to be up and to hold the sensor's samples.
const SCRAPE_WAIT: Duration = Duration::from_secs(30);
/// Waits for the sensor to exit after SIGTERM.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// Kills and reaps every child, then removes the scratch directory: runs on panic too.
struct Guard {
    children: Vec<(&'static str, Child)>,
    dir: PathBuf,
}

impl Guard {
    fn new(dir: PathBuf) -> Self {
        Guard { children: Vec::new(), dir }
    }

    fn add(&mut self, name: &'static str, child: Child) {
        self.children.push((name, child));
    }

    fn child(&mut self, name: &str) -> &mut Child {
        &mut self.children.iter_mut().find(|(n, _)| *n == name).expect("a started child").1
    }

    /// Removes a child that has been waited for, so that Drop leaves it alone.
    fn forget(&mut self, name: &str) {
        self.children.retain(|(n, _)| *n != name);
    }

    /// The log a child wrote to the scratch directory (for failure messages).
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An executable file by that name on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `(prometheus, promtool)`, or `None` when Prometheus is not installed.
fn find_prometheus() -> Option<(PathBuf, PathBuf)> {
    let prometheus = match std::env::var_os("HELLOTAP_PROMETHEUS") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)).filter(|p| is_executable(p)),
        _ => on_path("prometheus"),
    }?;
    let beside = prometheus.with_file_name("promtool");
    let promtool = if is_executable(&beside) { Some(beside) } else { on_path("promtool") }?;
    Some((prometheus, promtool))
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain HTTP/1.0 GET: `(status, body)`, or `None` if nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    c.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(c, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Percent-encodes a query-string value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query: the `data.result` vector, or `None` on any error.
fn query(port: u16, promql: &str) -> Option<Vec<Value>> {
    let (status, body) = http_get(port, &format!("/api/v1/query?query={}", urlencode(promql)))?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    if v["status"] != "success" || v["data"]["resultType"] != "vector" {
        return None;
    }
    v["data"]["result"].as_array().cloned()
}

/// The single value of an instant query that yields one sample (`sum(...)`, `up{...}`).
fn scalar(port: u16, promql: &str) -> Option<f64> {
    let r = query(port, promql)?;
    match r.as_slice() {
        [one] => one["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

/// Polls until `f` gives `Some`, or panics after `limit` with `what` and `context()`.
fn wait_for<T>(
    limit: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}\n{}", context());
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits up to `limit` for a child to exit.
fn wait_exit(c: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(s) = c.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn count_lines(p: &Path) -> usize {
    std::fs::read_to_string(p).unwrap_or_default().lines().filter(|l| !l.trim().is_empty()).count()
}

#[test]
fn prometheus_scrapes_lingering_replay() {
    let Some((prometheus, promtool)) = find_prometheus() else {
        let required = std::env::var("HELLOTAP_REQUIRE_PROMETHEUS").is_ok_and(|v| v == "1");
        assert!(!required, "prometheus not installed but HELLOTAP_REQUIRE_PROMETHEUS=1");
        eprintln!(
            "skipping: prometheus not installed (apt-get install prometheus; or set HELLOTAP_PROMETHEUS)"
        );
        return;
    };
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("hellotap-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut guard = Guard::new(dir.clone());
    let events = dir.join("events.jsonl");

    // The sensor. A port taken between free_port() and bind makes it exit at once: try again.
    let mut sensor_port = 0;
    for attempt in 0..3 {
        sensor_port = free_port();
        let log = std::fs::File::create(dir.join("hellotap.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hellotap"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["replay", "-q", "--metrics-addr", &format!("127.0.0.1:{sensor_port}"), "--linger", "-o"])
            .arg(&events)
            .arg("pcaps/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start hellotap");
        guard.add("hellotap", child);
        if wait_exit(guard.child("hellotap"), Duration::from_millis(200)).is_none() {
            break;
        }
        guard.forget("hellotap");
        assert!(attempt < 2, "hellotap exited at once three times:\n{}", guard.log("hellotap"));
    }
    wait_for(
        HEALTH_WAIT,
        "hellotap /healthz",
        || http_get(sensor_port, "/healthz").filter(|(s, b)| *s == 200 && b.trim() == "ok"),
        || guard.log("hellotap"),
    );

    // The exposition itself, through promtool's parser and linter.
    let (status, exposition) = http_get(sensor_port, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200);
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    check.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!(
        "promtool check metrics: {} {}",
        out.status,
        if said.trim().is_empty() { "(no findings)" } else { &said }
    );
    assert!(out.status.success(), "promtool check metrics failed ({}):\n{said}", out.status);

    // Prometheus, scraping the sensor every second.
    let mut prom_port = 0;
    for attempt in 0..3 {
        prom_port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: hellotap\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{sensor_port}']\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        guard.add("prometheus", child);
        if wait_exit(guard.child("prometheus"), Duration::from_millis(500)).is_none() {
            break;
        }
        guard.forget("prometheus");
        assert!(attempt < 2, "prometheus exited at once three times:\n{}", guard.log("prometheus"));
    }
    let ready = |g: &Guard| format!("prometheus log:\n{}", g.log("prometheus"));
    wait_for(
        SCRAPE_WAIT.saturating_sub(started.elapsed()).max(Duration::from_secs(5)),
        "Prometheus to scrape the sensor",
        || {
            (scalar(prom_port, "up{job=\"hellotap\"}")? == 1.0
                && scalar(prom_port, "count(hellotap_handshakes_total{job=\"hellotap\"})")? > 0.0)
                .then_some(())
        },
        || ready(&guard),
    );

    // What Prometheus stored agrees with the events file.
    let written = count_lines(&events);
    assert!(written > 0, "the replay of pcaps/ wrote no events");
    let handshakes = scalar(prom_port, "sum(hellotap_handshakes_total)").expect("sum of handshakes");
    assert_eq!(handshakes, written as f64, "sum(hellotap_handshakes_total) vs events written");
    let sunk = scalar(prom_port, "sum(hellotap_events_total)").expect("sum of events");
    assert_eq!(sunk, written as f64, "sum(hellotap_events_total) vs events written");
    let drops = query(prom_port, "hellotap_capture_drops_total").expect("capture drops");
    let mut kinds: Vec<&str> = drops.iter().filter_map(|s| s["metric"]["kind"].as_str()).collect();
    kinds.sort_unstable();
    for kind in ["interface", "kernel", "queue", "sink"] {
        assert!(kinds.contains(&kind), "hellotap_capture_drops_total{{kind={kind:?}}} missing: {kinds:?}");
    }
    eprintln!(
        "prometheus on :{prom_port} scraped hellotap on :{sensor_port}: {written} events, \
         sum(handshakes)={handshakes}, sum(events)={sunk}, drop kinds {kinds:?}"
    );

    // SIGTERM ends the lingering sensor cleanly, events intact.
    let pid = guard.child("hellotap").id();
    // /bin/kill comes with procps; the shell's builtin kill serves where procps is missing.
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .or_else(|_| Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]).status())
        .expect("run kill");
    assert!(kill.success(), "kill -TERM {pid}");
    // On timeout the guard still holds the child and kills it.
    let status = wait_exit(guard.child("hellotap"), EXIT_WAIT)
        .unwrap_or_else(|| panic!("hellotap still running {EXIT_WAIT:?} after SIGTERM"));
    guard.forget("hellotap");
    assert_eq!(status.code(), Some(0), "hellotap exit after SIGTERM: {status}\n{}", guard.log("hellotap"));
    assert_eq!(count_lines(&events), written, "events file changed after SIGTERM");
    eprintln!("hellotap exited 0 after SIGTERM; total {:.1?}", started.elapsed());
}
