//! The `hellotap` command: parse flags, run a command, map the outcome to an exit code
//! (0 ok, 1 error, 2 bad usage or a bad input file).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use hellotap::config::Config;
use hellotap::metrics::{self, Metrics};
use hellotap::output::JsonLines;
use hellotap::replay::{self, ReplayConfig};
use hellotap::worker::WorkerConfig;

// mimalloc instead of glibc malloc: records are allocated on the worker threads and
// freed on the reading thread, and glibc's per-arena locks made that cross-thread free
// path a measurable share of replay time (futex wake-ups in the profile; issue 8).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hellotap",
    version,
    about = "Passive TLS handshake sensor: JA3/JA4 fingerprints and handshake facts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where events are also published (replay and live).
#[derive(clap::Args)]
struct NatsArgs {
    /// Also publish events to NATS JetStream (e.g. nats://127.0.0.1:4222).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// The sensor name in NATS subjects and events [default: the host name].
    #[arg(long)]
    sensor: Option<String>,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate rule files and directories: errors as FILE:LINE: rule ID: message (exit 1).
    Check {
        /// Rule files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Read pcap/pcapng files (or directories, recursively, or - for stdin) and write one
    /// JSON line per TLS handshake.
    Replay {
        /// Capture files, directories, or - for standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write events to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Also compute JA4S (FoxIO License 1.1: free for non-commercial use only; see README).
        #[arg(long)]
        ja4plus: bool,
        /// No progress bar and no summary line.
        #[arg(short, long)]
        quiet: bool,
        /// Seconds without packets after which a flow is ended (packet time).
        #[arg(long, default_value_t = 120)]
        idle_timeout: u64,
        /// Most flows tracked at once (per worker).
        #[arg(long, default_value_t = 1 << 20)]
        max_flows: usize,
        /// Workers, the reading thread being the first [default: one per core]. The output
        /// is the same for any number.
        #[arg(long)]
        workers: Option<usize>,
        /// Serve Prometheus metrics on this address while replaying (e.g. 127.0.0.1:9184).
        #[arg(long)]
        metrics_addr: Option<String>,
        /// With --metrics-addr: keep serving after the input ends, until SIGTERM or SIGINT.
        #[arg(long, requires = "metrics_addr")]
        linger: bool,
        /// Write the metrics at the end in node_exporter textfile format.
        #[arg(long)]
        metrics_file: Option<PathBuf>,
        /// Distinct fingerprints per type that get their own metrics label.
        #[arg(long, default_value_t = hellotap::metrics::DEFAULT_TOP_FINGERPRINTS)]
        top_fingerprints: usize,
        /// Rule file or directory (repeatable): matches add `rules[]` and alert events.
        #[arg(long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        #[command(flatten)]
        nats: NatsArgs,
    },
    /// Rule files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Capture live from interfaces (needs the `live` build feature and root or CAP_NET_RAW).
    Live {
        /// Interface to capture on (repeat for several).
        #[arg(short, long = "interface", required = true)]
        interfaces: Vec<String>,
        /// BPF filter, e.g. 'tcp port 443 or udp port 443'.
        #[arg(long)]
        bpf: Option<String>,
        /// Worker threads [default: one per core beyond the capture thread].
        #[arg(long)]
        workers: Option<usize>,
        /// Configuration file; the flags here override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also compute JA4S and JA4X (FoxIO License 1.1; see README).
        #[arg(long)]
        ja4plus: bool,
        /// Serve Prometheus metrics on this address ("" turns it off).
        #[arg(long)]
        metrics_addr: Option<String>,
        /// Append events to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Rule file or directory (repeatable); reloaded on SIGHUP.
        #[arg(long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        #[command(flatten)]
        nats: NatsArgs,
    },
    /// Run the sensor as configured (`deploy/hellotap.toml` documents every key).
    Run {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Decode a JA3/JA3S string or a JA4/JA4_r/JA4_ro/JA4S fingerprint into the names of its
    /// cipher suites, extensions, groups and signature algorithms.
    Explain {
        /// The fingerprint (quote it: JA3 strings contain commas).
        fingerprint: String,
    },
}

/// Blocks until SIGTERM or SIGINT.
fn wait_for_termination() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    let _ = signals.forever().next();
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hellotap: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `live` and `run`: build the configuration, then run the daemon.
fn start_sensor(cfg_path: Option<PathBuf>, edit: impl FnOnce(&mut Config)) -> anyhow::Result<ExitCode> {
    let mut cfg = match &cfg_path {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("hellotap: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => Config::default(),
    };
    edit(&mut cfg);
    run_daemon(cfg)
}

#[cfg(feature = "live")]
fn run_daemon(cfg: Config) -> anyhow::Result<ExitCode> {
    match hellotap::daemon::run(cfg) {
        Ok(s) => {
            eprintln!(
                "hellotap: stopped: {} events, {} frames dropped between capture and workers",
                s.events, s.capture_queue_drops
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("hellotap: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(not(feature = "live"))]
fn run_daemon(_cfg: Config) -> anyhow::Result<ExitCode> {
    eprintln!(
        "hellotap: this build has no live capture. It needs libpcap: install it and build with \
         the `live` feature:\n  apt-get install libpcap-dev\n  cargo build --release --features live"
    );
    Ok(ExitCode::from(1))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Live {
            interfaces,
            bpf,
            workers,
            config,
            ja4plus,
            metrics_addr,
            output,
            rules,
            nats: NatsArgs { nats, sensor },
        } => start_sensor(config, |c| {
            c.capture.interfaces = interfaces;
            if let Some(b) = bpf {
                c.capture.bpf = b;
            }
            if let Some(w) = workers {
                c.pipeline.workers = w;
            }
            if ja4plus {
                c.fingerprints.ja4plus = true;
            }
            if let Some(a) = metrics_addr {
                c.metrics.addr = a;
            }
            if let Some(u) = nats {
                c.output.nats_url = u;
            }
            if let Some(s) = sensor {
                c.output.sensor_name = s;
            }
            if !rules.is_empty() {
                c.rules.paths = rules.iter().map(|p| p.display().to_string()).collect();
            }
            if let Some(o) = output {
                c.output.file = o.display().to_string();
                c.output.stdout = false;
            }
        }),
        Command::Run { config } => start_sensor(Some(config), |_| {}),
        Command::Rules { command: RulesCommand::Check { paths } } => match hellotap::rules::check(&paths) {
            Ok(summary) => {
                println!("{summary}");
                Ok(ExitCode::SUCCESS)
            }
            Err(errors) => {
                for e in &errors {
                    println!("{e}");
                }
                Ok(ExitCode::from(1))
            }
        },
        Command::Explain { fingerprint } => match hellotap::explain::explain(&fingerprint) {
            Ok(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("hellotap: cannot explain `{fingerprint}`: {e}");
                Ok(ExitCode::from(2))
            }
        },
        Command::Replay {
            paths,
            output,
            ja4plus,
            quiet,
            idle_timeout,
            max_flows,
            workers,
            metrics_addr,
            linger,
            metrics_file,
            top_fingerprints,
            rules,
            nats: NatsArgs { nats, sensor },
        } => {
            let nats = match nats {
                Some(url) => {
                    let name = sensor.unwrap_or_else(hellotap::nats::default_sensor_name);
                    let c = hellotap::nats::NatsConfig::new(&url, &name);
                    if let Err(e) = c.validate() {
                        eprintln!("hellotap: --nats: {e}");
                        return Ok(ExitCode::from(2));
                    }
                    Some(c)
                }
                None => None,
            };
            if !rules.is_empty() {
                if let Err(errors) = hellotap::rules::check(&rules) {
                    for e in &errors {
                        eprintln!("hellotap: {e}");
                    }
                    return Ok(ExitCode::from(2));
                }
            }
            let metrics = (metrics_addr.is_some() || metrics_file.is_some())
                .then(|| Arc::new(Metrics::new(top_fingerprints)));
            let server = match (&metrics_addr, &metrics) {
                (Some(addr), Some(m)) => match metrics::serve(addr, m.clone()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        eprintln!("hellotap: {e}");
                        return Ok(ExitCode::from(1));
                    }
                },
                _ => None,
            };
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if let Some(w) = workers.filter(|&w| w > cores && !quiet) {
                // More threads than CPUs only take turns: on 2 cores, 3 and 4 workers
                // replayed the benchmark capture 1.2-1.4x as fast as 1, where 2 did
                // 1.75-1.86x (bench/run.sh, medians of paired rounds).
                eprintln!(
                    "hellotap: note: --workers {w} on {cores} CPUs: replay is fastest with one worker per CPU (the default)"
                );
            }
            // The reading thread works a shard itself (replay's pipeline), so one per core.
            let workers = workers.unwrap_or(cores).max(1);
            let cfg = ReplayConfig {
                worker: WorkerConfig {
                    ja4plus,
                    idle_timeout_secs: idle_timeout,
                    max_flows: max_flows.max(1),
                    ..WorkerConfig::default()
                },
                workers,
                progress: !quiet,
                metrics: metrics.clone(),
                rules,
                nats,
            };
            let mut errors = Vec::new();
            let inputs = replay::expand(&paths, &mut errors);
            let stderr = io::stderr();
            let mut err = stderr.lock();
            for e in &errors {
                writeln!(err, "hellotap: {}: {}", e.path, e.message)?;
            }
            let sink: Box<dyn Write> = match &output {
                Some(p) => Box::new(File::create(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?),
                None => Box::new(io::stdout().lock()),
            };
            let mut out = JsonLines::new(BufWriter::with_capacity(1 << 16, sink));
            let summary = replay::run(&inputs, &cfg, &mut out, &mut err)?;
            if !quiet {
                writeln!(err, "{}", summary.line())?;
            }
            let mut nats_lost = false;
            if let Some(c) = &summary.nats {
                writeln!(
                    err,
                    "hellotap: nats: {} published, {} acknowledged ({} duplicates), {} lost",
                    c.accepted,
                    c.acked,
                    c.duplicates,
                    c.lost()
                )?;
                nats_lost = c.lost() > 0;
            }
            if let (Some(path), Some(m)) = (&metrics_file, &metrics) {
                m.write_textfile(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            }
            if let Some(s) = server {
                if linger {
                    if !quiet {
                        writeln!(
                            err,
                            "hellotap: serving metrics on http://{}/metrics until SIGTERM",
                            s.addr
                        )?;
                    }
                    wait_for_termination()?;
                }
                s.stop();
            }
            if nats_lost {
                return Ok(ExitCode::from(1));
            }
            let bad = !errors.is_empty() || summary.bad_inputs > 0;
            Ok(if bad { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
    }
}
