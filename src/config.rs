//! The sensor's configuration: one TOML file, parsed into a raw form (every key optional,
//! unknown keys rejected with file, line and key), then built once into the settings the
//! stages use. `deploy/hellotap.toml` documents every key with its default; a test keeps
//! that file and these defaults in step.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pipeline::{Overflow, PipelineConfig};
use crate::session::SessionLimits;
use crate::tls::stream::DirLimits;
use crate::worker::WorkerConfig;

/// `[capture]`: where packets come from.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Interfaces to capture on (one capture thread each).
    pub interfaces: Vec<String>,
    /// A BPF filter applied in the kernel ("" for none).
    pub bpf: String,
    /// Bytes captured per packet.
    pub snaplen: u32,
    /// Kernel capture buffer per interface, in MiB.
    pub buffer_size_mb: u32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Hand over every packet as it arrives (libpcap's immediate mode: one wake-up per
    /// packet) instead of in blocks the kernel fills for up to 100 ms (the default: about
    /// a fifth of the CPU per packet at 100k packets/s).
    pub immediate: bool,
    /// Seconds between reads of the kernel and interface drop counters.
    pub stats_interval: u64,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: Vec::new(),
            bpf: String::new(),
            snaplen: 65535,
            buffer_size_mb: 64,
            promisc: true,
            immediate: false,
            stats_interval: 5,
        }
    }
}

/// `[pipeline]`: the worker pool.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineSection {
    /// Worker threads; 0 means one per core beyond the capture thread (at least 1).
    pub workers: usize,
    /// Frames per dispatch to the workers.
    pub batch_frames: usize,
    /// Batches queued per worker before a batch is dropped (live) or the reader waits (replay).
    pub queue_batches: usize,
}

impl Default for PipelineSection {
    fn default() -> Self {
        PipelineSection { workers: 0, batch_frames: 256, queue_batches: 64 }
    }
}

/// `[flows]`: the flow tables.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FlowsConfig {
    /// Most flows per worker.
    pub max_flows: usize,
    /// Seconds of silence after which a flow ends.
    pub idle_timeout: u64,
    /// Seconds a flow is kept after FIN/RST or once its handshake is final.
    pub closed_timeout: u64,
    /// Seconds to wait for a server's answer to a ClientHello before reporting it.
    pub pending_timeout: u64,
}

impl Default for FlowsConfig {
    fn default() -> Self {
        let w = WorkerConfig::default();
        FlowsConfig {
            max_flows: w.max_flows,
            idle_timeout: w.idle_timeout_secs,
            closed_timeout: w.closed_timeout_secs,
            pending_timeout: w.pending_timeout_secs,
        }
    }
}

/// `[tls]`: parser caps.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Largest handshake message reassembled, in bytes (longer ones are skipped).
    pub max_handshake_message: usize,
    /// Bytes of each direction read at most.
    pub max_stream: u64,
    /// Bytes searched for a hello after a plaintext preamble (HTTP CONNECT, SOCKS).
    pub max_preamble: usize,
    /// Bytes of DER certificates whose parsed facts each worker keeps (0: off).
    pub cert_cache_bytes: usize,
    /// Bytes of fingerprint strings (JA3 strings, JA4 lists) whose MD5/SHA-256 each worker
    /// keeps, per hash function, and of whole ClientHellos' JA3 and JA4 by their fields
    /// (0: off).
    pub hash_cache_bytes: usize,
}

impl Default for TlsConfig {
    fn default() -> Self {
        let s = SessionLimits::default();
        TlsConfig {
            max_handshake_message: s.dir.max_handshake_message,
            max_stream: s.max_stream,
            max_preamble: s.max_preamble,
            cert_cache_bytes: WorkerConfig::default().cert_cache_bytes,
            hash_cache_bytes: WorkerConfig::default().hash_cache_bytes,
        }
    }
}

/// `[fingerprints]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FingerprintsConfig {
    /// Compute JA4S and JA4X (FoxIO License 1.1: non-commercial use unless licensed).
    pub ja4plus: bool,
}

/// `[output]`: where events go.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Write events to standard output.
    pub stdout: bool,
    /// Append events to this file ("" for none); reopened on SIGHUP (logrotate).
    pub file: String,
    /// Rotate the file when it reaches this many bytes (0: never; rename to FILE.1).
    pub rotate_bytes: u64,
    /// Send events to this Unix stream socket ("" for none); reconnects when it goes away.
    pub unix_socket: String,
    /// Events queued per sink before new ones are dropped (counted).
    pub queue: usize,
    /// Publish events to this NATS server's JetStream ("" for none):
    /// `nats://[user:password@]host[:port]`.
    pub nats_url: String,
    /// Subject of each event; `{sensor}` and `{event_type}` are filled in.
    pub nats_subject: String,
    /// JetStream stream the events go to; created (for the template's subjects) if missing.
    pub nats_stream: String,
    /// Events held until the server acknowledges them (while it is unreachable, too);
    /// beyond it the newest are dropped (counted).
    pub nats_buffer: usize,
    /// The sensor's name in every NATS event, subject and message id ("" for the host name).
    pub sensor_name: String,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            stdout: true,
            file: String::new(),
            rotate_bytes: 0,
            unix_socket: String::new(),
            queue: 65536,
            nats_url: String::new(),
            nats_subject: crate::nats::DEFAULT_SUBJECT.into(),
            nats_stream: crate::nats::DEFAULT_STREAM.into(),
            nats_buffer: crate::nats::DEFAULT_BUFFER,
            sensor_name: String::new(),
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of the /metrics and /healthz server ("" to turn it off).
    pub addr: String,
    /// Distinct fingerprints per type that get their own label.
    pub top_fingerprints: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            addr: "127.0.0.1:9184".into(),
            top_fingerprints: crate::metrics::DEFAULT_TOP_FINGERPRINTS,
        }
    }
}

/// `[rules]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Rule files or directories (`*.toml`); reloaded on SIGHUP.
    pub paths: Vec<String>,
}

/// `[privileges]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrivilegesConfig {
    /// After opening the captures, switch to this user (and its group); "" to stay.
    pub user: String,
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[capture]`.
    pub capture: CaptureConfig,
    /// `[pipeline]`.
    pub pipeline: PipelineSection,
    /// `[flows]`.
    pub flows: FlowsConfig,
    /// `[tls]`.
    pub tls: TlsConfig,
    /// `[fingerprints]`.
    pub fingerprints: FingerprintsConfig,
    /// `[output]`.
    pub output: OutputConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[rules]`.
    pub rules: RulesConfig,
    /// `[privileges]`.
    pub privileges: PrivilegesConfig,
}

/// A configuration error, naming the file and (from the TOML parser) line, column and key.
#[derive(Debug)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, where.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { path: path.to_path_buf(), message: e.to_string() })?;
        Config::parse(&text).map_err(|message| ConfigError { path: path.to_path_buf(), message })
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            // toml's message names the key; add the line it is on.
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            match line {
                Some(l) => format!("line {l}: {}", e.message()),
                None => e.message().to_string(),
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        let bad = |key: &str, why: &str| Err(format!("key `{key}`: {why}"));
        if self.capture.snaplen < 128 {
            return bad("capture.snaplen", "must be at least 128 bytes (a TLS handshake cannot fit in less)");
        }
        if self.pipeline.batch_frames == 0 {
            return bad("pipeline.batch_frames", "must be at least 1");
        }
        if self.pipeline.queue_batches == 0 {
            return bad("pipeline.queue_batches", "must be at least 1");
        }
        if self.flows.max_flows == 0 {
            return bad("flows.max_flows", "must be at least 1");
        }
        if self.flows.idle_timeout == 0 {
            return bad("flows.idle_timeout", "must be at least 1 second");
        }
        if self.tls.max_handshake_message < 1024 {
            return bad("tls.max_handshake_message", "must be at least 1024 bytes");
        }
        if self.output.queue == 0 {
            return bad("output.queue", "must be at least 1");
        }
        if !self.output.nats_url.is_empty() {
            if let Err(e) = crate::nats::NatsUrl::parse(&self.output.nats_url) {
                return bad("output.nats_url", &e);
            }
        }
        if let Err(e) = crate::nats::check_subject_template(&self.output.nats_subject) {
            return bad("output.nats_subject", &e);
        }
        if let Err(e) = crate::nats::check_stream_name(&self.output.nats_stream) {
            return bad("output.nats_stream", &e);
        }
        if self.output.nats_buffer == 0 {
            return bad("output.nats_buffer", "must be at least 1");
        }
        if !self.output.sensor_name.is_empty() {
            if let Err(e) = crate::nats::check_sensor_name(&self.output.sensor_name) {
                return bad("output.sensor_name", &e);
            }
        }
        if !self.metrics.addr.is_empty() && self.metrics.addr.parse::<std::net::SocketAddr>().is_err() {
            return bad("metrics.addr", "must be an IP address and port, like 127.0.0.1:9184");
        }
        Ok(())
    }

    /// The worker settings this configuration asks for.
    pub fn worker(&self) -> WorkerConfig {
        WorkerConfig {
            max_flows: self.flows.max_flows,
            idle_timeout_secs: self.flows.idle_timeout,
            closed_timeout_secs: self.flows.closed_timeout,
            pending_timeout_secs: self.flows.pending_timeout,
            ja4plus: self.fingerprints.ja4plus,
            cert_cache_bytes: self.tls.cert_cache_bytes,
            hash_cache_bytes: self.tls.hash_cache_bytes,
            session: SessionLimits {
                max_preamble: self.tls.max_preamble,
                max_stream: self.tls.max_stream,
                dir: DirLimits { max_handshake_message: self.tls.max_handshake_message },
            },
            ..WorkerConfig::default()
        }
    }

    /// Worker threads: as configured, or one per core beyond the capture thread.
    pub fn workers(&self) -> usize {
        if self.pipeline.workers > 0 {
            self.pipeline.workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get()).saturating_sub(1).max(1)
        }
    }

    /// The pipeline settings for live capture (full queues drop and count).
    pub fn pipeline(&self) -> PipelineConfig {
        PipelineConfig {
            workers: self.workers(),
            batch_frames: self.pipeline.batch_frames,
            queue_batches: self.pipeline.queue_batches,
            overflow: Overflow::Drop,
            worker: self.worker(),
            metrics: None,
            interface: self.capture.interfaces.join(","),
            render: None,
            // The consumer of live records must not take on flow work.
            offload_render: false,
            inline_first: false,
            poll_before_sleep: std::time::Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_shipped_example_documents_every_default() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/hellotap.toml")).unwrap();
        // The example, with every key uncommented, equals the defaults (but interfaces).
        let uncommented: String = text
            .lines()
            .map(|l| l.strip_prefix("# ").filter(|r| r.contains(" = ")).unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let mut cfg = Config::parse(&uncommented).unwrap();
        cfg.capture.interfaces.clear();
        cfg.output.file.clear();
        cfg.output.nats_url.clear();
        cfg.privileges.user.clear();
        cfg.rules.paths.clear();
        assert_eq!(cfg, Config::default(), "deploy/hellotap.toml and the defaults differ");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_line_and_key() {
        let e = Config::parse("[flows]\nmax_flows = 10\nmax_flow = 3\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("max_flow"), "{e}");
        let e = Config::parse("[capture]\nsnaplen = \"big\"\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = Config::parse("[metrics]\naddr = \"localhost\"\n").unwrap_err();
        assert!(e.contains("metrics.addr"), "{e}");
        let e = Config::parse("[output]\nnats_subject = \"a.{host}\"\n").unwrap_err();
        assert!(e.contains("output.nats_subject"), "{e}");
        let e = Config::parse("[output]\nsensor_name = \"a.b\"\n").unwrap_err();
        assert!(e.contains("output.sensor_name"), "{e}");
        let e = Config::parse("[output]\nnats_url = \"tls://x\"\n").unwrap_err();
        assert!(e.contains("output.nats_url"), "{e}");
        let e = Config::parse("[nope]\n").unwrap_err();
        assert!(e.contains("nope"), "{e}");
    }
}
