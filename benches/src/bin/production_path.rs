//! The production path: what an invocation costs each contestant's real function binary,
//! counted by callgrind, through the real `lambda_runtime` loop, with real OTLP/HTTP export.
//!
//! ```sh
//! cargo build --release -p otel-faas-benches --bins
//! cargo run --release -p otel-faas-benches --bin production_path
//! ```
//!
//! For each contestant and event, the contestant's stripped release binary (`fn_*` beside
//! this one) runs under `valgrind --tool=callgrind` (every thread counted in one total)
//! against the Runtime API emulator in this process, exporting where it exports to a loopback
//! OTLP collector in this process. The harness drives `n` invocations one after the other,
//! waits until the function is idle again (its next `/invocation/next`, and its extension
//! done with the last invocation where it has one), checks what the collector received, then
//! stops the function with SIGTERM, as Lambda does: callgrind writes its totals when the
//! process ends, whether it exits (otel-faas flushes and returns from `main` on SIGTERM) or
//! is ended by the signal (the others do not handle it; valgrind then still runs callgrind's
//! finalisation). The per-invocation figure is
//!
//! ```text
//! (Ir(many) − Ir(few)) / (many − few)        few = 200, many = 600
//! ```
//!
//! which takes out everything done once (start-up, the first invocation's lazy set-up, the
//! shutdown). Checks, each a failure of the whole run:
//!
//! - every invocation succeeds, and the HTTP ones answer 200;
//! - the collector receives exactly the spans the contestant makes (`n` × its spans per
//!   invocation), and nothing at all from a contestant that exports nothing;
//! - callgrind printed its total.
//!
//! Three more tables, for the export pipeline's options (issue 14):
//!
//! - the same measurement for otel-faas with gzip, https (a loopback TLS collector whose
//!   certificate comes from a CA made here with `rcgen`, given to the function with
//!   `OTEL_EXPORTER_OTLP_CERTIFICATE`) and both, on the one-message SQS event;
//! - cold start (no valgrind): exec → first `/next` and exec → first response, medians of
//!   `PRODPATH_COLD_STARTS` processes (default 50) per contestant, started in turn (one of
//!   each per round), bare against otel-faas exporting over http and over https;
//! - response latency (no valgrind): the median and 90th percentile of hand-out → response
//!   over `PRODPATH_LATENCY_INVOCATIONS` invocations (default 500, the first left out) of one
//!   process, bare against otel-faas's `after_response` flush exporting straight to https.
//!
//! The binary sizes of the runtime's feature sets are the `sizes` harness's.
//!
//! Environment: `PRODPATH_FEW` and `PRODPATH_MANY` (the two `n`, default 200 and 600: lower
//! them for a quick look), `PRODPATH_COLD_STARTS`, `PRODPATH_LATENCY_INVOCATIONS`,
//! `PRODPATH_ONLY` (a comma-separated subset of `table`, `transport`, `cold`, `latency`),
//! `PRODPATH_CALLGRIND_DIR` (keep each callgrind run's profile there).
//! Each callgrind run's log is kept in `otel-faas-prodpath/` under the system's temporary
//! directory; what each run received (spans, exports, its total) goes to standard error.
//!
//! Under callgrind a function runs some 50× slower than natively, so every invocation gets a
//! 300 s deadline, and otel-faas a 60 s flush budget (`OTEL_FAAS_FLUSH_TIMEOUT`), so that no
//! export is cut short by the slowdown; neither changes what the function does.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use otel_faas_benches::{contestant_binary, thousands};
use otel_faas_local::collector::{Collector, CollectorOptions, TlsIdentity};
use otel_faas_local::emulator::{FunctionConfig, Invocation, InvocationOutcome, RuntimeApi};
use otel_faas_runtime::Error;
use serde_json::Value;
use tokio::process::{Child, Command};

/// The longest the harness waits for anything one step of a run should do.
const PATIENCE: Duration = Duration::from_secs(300);

/// The events every contestant serves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Event {
    /// An SQS batch of one message.
    Sqs1,
    /// An SQS batch of ten messages.
    Sqs10,
    /// The API Gateway REST GET of the examples.
    Rest,
}

impl Event {
    const ALL: [Event; 3] = [Event::Sqs1, Event::Sqs10, Event::Rest];

    fn payload(self) -> Result<Bytes, Error> {
        let value = match self {
            Event::Sqs1 => serde_json::to_value(otel_faas_benches::sqs_batch(1))?,
            Event::Sqs10 => serde_json::to_value(otel_faas_benches::sqs_batch(10))?,
            Event::Rest => serde_json::to_value(otel_faas_benches::rest_request())?,
        };
        Ok(Bytes::from(serde_json::to_vec(&value)?))
    }

    /// `BENCH_EVENT` for the function binaries.
    fn handler(self) -> &'static str {
        match self {
            Event::Sqs1 | Event::Sqs10 => "sqs",
            Event::Rest => "http",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Event::Sqs1 => "SQS, 1 message",
            Event::Sqs10 => "SQS, 10 messages",
            Event::Rest => "REST GET",
        }
    }
}

/// One contestant: a function binary, its environment, and what it must export.
struct Contestant {
    name: &'static str,
    binary: &'static str,
    /// `{endpoint}` in a value is replaced by the collector's endpoint.
    env: Vec<(&'static str, &'static str)>,
    /// Spans it exports per invocation of each event; zero: it must export nothing at all.
    spans: fn(Event) -> usize,
    /// Spans it exports once per process beyond those: otel-faas's `init` span (the cold
    /// start's initialization, exported with the first invocation's spans); −1 for
    /// lambda-otel-lite, whose last `Lambda runtime invoke` span is never exported (see
    /// [`lite_spans`]).
    once: isize,
    /// Its collector serves TLS (the function trusts the harness's CA).
    tls: bool,
    /// It flushes after the response through an internal extension.
    extension: bool,
}

impl Contestant {
    /// The spans one process exports over `invocations` invocations of `event`: none for a
    /// contestant that exports nothing, else its spans per invocation and its once-per-process
    /// ones.
    fn spans_over(&self, event: Event, invocations: usize) -> usize {
        match (self.spans)(event) {
            0 => 0,
            per_invocation => (invocations * per_invocation).saturating_add_signed(self.once),
        }
    }
}

/// Waits until `collector` has received `expected` spans of `contestant` (at most 30 s);
/// an error naming it when they do not all arrive.
async fn all_spans_arrived(
    collector: &Collector,
    contestant: &Contestant,
    expected: usize,
) -> Result<(), Error> {
    if expected > 0
        && !collector
            .wait_for_count(expected, Duration::from_secs(30))
            .await
    {
        return Err(format!(
            "{}: {} spans received of {expected}",
            contestant.name,
            collector.spans().len()
        )
        .into());
    }
    Ok(())
}

/// otel-faas: an invocation span, and for SQS the batch span beside it.
fn otel_faas_spans(event: Event) -> usize {
    match event {
        Event::Sqs1 | Event::Sqs10 => 2,
        Event::Rest => 1,
    }
}

fn no_spans(_: Event) -> usize {
    0
}

/// lambda-otel-lite: its own span (its model has no separate batch span), and
/// `lambda_runtime`'s `Lambda runtime invoke` span, an `info` span its `tracing` layer
/// exports at the `RUST_LOG=info` its spans need. That one ends after the response is posted,
/// after lite's flush: it leaves with the next invocation's spans, and the last one never.
fn lite_spans(_: Event) -> usize {
    2
}

/// otel-faas's environment under callgrind, before the contestant's own.
const OTEL_FAAS: [(&str, &str); 2] = [
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "{endpoint}"),
    ("OTEL_FAAS_FLUSH_TIMEOUT", "60000"),
];

fn otel_faas(
    name: &'static str,
    extra: &[(&'static str, &'static str)],
    spans: fn(Event) -> usize,
) -> Contestant {
    Contestant {
        name,
        binary: "fn_otel_faas",
        env: OTEL_FAAS.iter().chain(extra).copied().collect(),
        spans,
        once: isize::from(spans(Event::Sqs1) > 0),
        tls: false,
        extension: extra.contains(&("OTEL_FAAS_FLUSH", "after_response")),
    }
}

/// The contestants of the production-path table, bare first.
fn contestants() -> Vec<Contestant> {
    vec![
        Contestant {
            name: "bare",
            binary: "fn_bare",
            env: vec![],
            spans: no_spans,
            once: 0,
            tls: false,
            extension: false,
        },
        otel_faas("otel-faas, defaults", &[], otel_faas_spans),
        otel_faas(
            "otel-faas, `OTEL_METRICS_EXPORTER=none`",
            &[("OTEL_METRICS_EXPORTER", "none")],
            otel_faas_spans,
        ),
        otel_faas(
            "otel-faas, `OTEL_FAAS_FLUSH=after_response`",
            &[("OTEL_FAAS_FLUSH", "after_response")],
            otel_faas_spans,
        ),
        otel_faas(
            "otel-faas, spans made but nothing exported (`OTEL_TRACES_EXPORTER=none`, `OTEL_METRICS_EXPORTER=none`)",
            &[
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_METRICS_EXPORTER", "none"),
            ],
            no_spans,
        ),
        otel_faas(
            "otel-faas, `OTEL_SDK_DISABLED=true`",
            &[("OTEL_SDK_DISABLED", "true")],
            no_spans,
        ),
        Contestant {
            name: "`lambda_runtime`'s OpenTelemetry layer",
            binary: "fn_lambda_layer",
            env: vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "{endpoint}")],
            spans: otel_faas_spans,
            once: 0,
            tls: false,
            extension: false,
        },
        Contestant {
            // Its spans are `info` spans behind an `EnvFilter` that defaults to errors only.
            name: "lambda-otel-lite (OTLP/HTTP, blocking client)",
            binary: "fn_lambda_otel_lite",
            env: vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "{endpoint}"),
                ("BENCH_LITE_EXPORT", "otlp"),
                ("RUST_LOG", "info"),
            ],
            spans: lite_spans,
            once: -1,
            tls: false,
            extension: false,
        },
    ]
}

/// otel-faas (defaults: spans and FaaS metrics) over each transport.
fn transports() -> Vec<Contestant> {
    let tls = |mut contestant: Contestant| {
        contestant.tls = true;
        contestant
    };
    vec![
        otel_faas("http (the defaults)", &[], otel_faas_spans),
        otel_faas(
            "http + gzip",
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
            otel_faas_spans,
        ),
        tls(otel_faas("https", &[], otel_faas_spans)),
        tls(otel_faas(
            "https + gzip",
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
            otel_faas_spans,
        )),
    ]
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether `PRODPATH_ONLY` (unset: everything) includes `section`.
fn runs(section: &str) -> bool {
    std::env::var("PRODPATH_ONLY").map_or(true, |only| only.split(',').any(|s| s.trim() == section))
}

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), Error> {
    let few = count("PRODPATH_FEW", 200);
    let many = count("PRODPATH_MANY", 600);
    if many <= few || few == 0 {
        return Err("PRODPATH_MANY must be above PRODPATH_FEW, and both above 0".into());
    }
    let dir = otel_faas_benches::binaries_dir()?;
    let ca = TestCa::new()?;
    let started = Instant::now();
    header(few, many);

    if runs("table") {
        let contestants = contestants();
        let mut rows = Vec::new();
        for contestant in &contestants {
            let mut row = Vec::new();
            for event in Event::ALL {
                row.push(per_invocation(&dir, contestant, event, few, many, &ca).await?);
            }
            rows.push((contestant.name, row));
        }
        println!("## The production path: instructions per invocation\n");
        println!(
            "Each contestant's function binary under callgrind (all threads), through the real \
             `lambda_runtime` loop against the Runtime API emulator, exporting OTLP/HTTP to the \
             loopback collector; (Ir({many}) − Ir({few})) / {}; every span checked at the \
             collector.\n",
            many - few
        );
        let bare = rows[0].1.clone();
        print!("| contestant |");
        for event in Event::ALL {
            print!(" {} | ÷ bare |", event.label());
        }
        println!("\n|---|{}", "---:|---:|".repeat(Event::ALL.len()));
        for (name, row) in &rows {
            print!("| {name} |");
            for (count, bare) in row.iter().zip(&bare) {
                print!(
                    " {} | {:.2} |",
                    thousands(count),
                    *count as f64 / *bare as f64
                );
            }
            println!();
        }
        println!();
    }

    if runs("transport") {
        let event = Event::Sqs1;
        let bare = Contestant {
            name: "bare",
            binary: "fn_bare",
            env: vec![],
            spans: no_spans,
            once: 0,
            tls: false,
            extension: false,
        };
        let floor = per_invocation(&dir, &bare, event, few, many, &ca).await?;
        let mut rows = Vec::new();
        for contestant in &transports() {
            rows.push((
                contestant.name,
                per_invocation(&dir, contestant, event, few, many, &ca).await?,
            ));
        }
        println!("## Export transport: TLS and gzip (instructions per invocation)\n");
        println!(
            "otel-faas with the defaults (spans and FaaS metrics) on {}, measured as above; \
             https goes to a loopback TLS collector whose CA the function trusts through \
             `OTEL_EXPORTER_OTLP_CERTIFICATE`.\n",
            event.label()
        );
        println!("| otel-faas exporting over | instructions per invocation | ÷ http | ÷ bare |");
        println!("|---|---:|---:|---:|");
        let http = rows[0].1;
        for (name, count) in &rows {
            println!(
                "| {name} | {} | {:.2} | {:.2} |",
                thousands(count),
                *count as f64 / http as f64,
                *count as f64 / floor as f64
            );
        }
        println!("| bare (no telemetry) | {} | | 1.00 |\n", thousands(floor));
    }

    if runs("cold") {
        cold_starts(&dir, &ca).await?;
    }
    if runs("latency") {
        latency(&dir, &ca).await?;
    }
    eprintln!("production_path: done in {:.0?}", started.elapsed());
    Ok(())
}

/// The machine, the commit and the date, as the table's header.
fn header(few: usize, many: usize) {
    let output = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let dirty = match output("git", &["status", "--porcelain", "--untracked-files=no"]).as_str() {
        "" => "",
        _ => " (with uncommitted changes)",
    };
    println!("# The production path\n");
    println!("- command: `cargo run --release -p otel-faas-benches --bin production_path`");
    println!(
        "- commit: `{}`{dirty}",
        output("git", &["rev-parse", "--short", "HEAD"])
    );
    println!("- date: {}", output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]));
    println!(
        "- machine: {} vCPU, {cpu}, {}; {}; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        output("uname", &["-sr"]),
        output("rustc", &["--version"]),
        output("valgrind", &["--version"]),
    );
    println!(
        "- load average when the run started: {}",
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );
    println!("- n = {few} and {many} invocations per contestant and event\n");
}

/// (Ir(many) − Ir(few)) / (many − few) for one contestant and event.
async fn per_invocation(
    dir: &Path,
    contestant: &Contestant,
    event: Event,
    few: usize,
    many: usize,
    ca: &TestCa,
) -> Result<u64, Error> {
    let program = contestant_binary(dir, contestant.binary)?;
    let low = instructions(&program, contestant, event, few, ca).await?;
    let high = instructions(&program, contestant, event, many, ca).await?;
    let difference = high.checked_sub(low).ok_or_else(|| {
        format!(
            "{}, {event:?}: Ir({many}) = {high} < Ir({few}) = {low}",
            contestant.name
        )
    })?;
    Ok(difference / (many - few) as u64)
}

/// A collector for `contestant`: TLS with the harness's CA, or plain.
async fn collector(contestant: &Contestant, ca: &TestCa) -> Result<Collector, Error> {
    let tls = contestant.tls.then(|| ca.server.clone());
    Ok(Collector::start_with_options(CollectorOptions {
        tls,
        ..CollectorOptions::default()
    })
    .await?)
}

/// The contestant's environment, with the collector's endpoint, and the CA with TLS.
fn environment(contestant: &Contestant, endpoint: &str, ca: &TestCa) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = contestant
        .env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.replace("{endpoint}", endpoint)))
        .collect();
    if contestant.tls {
        env.push((
            "OTEL_EXPORTER_OTLP_CERTIFICATE".to_owned(),
            ca.ca_file.display().to_string(),
        ));
    }
    env
}

/// Instructions callgrind counts for the whole life of one process serving `n` invocations of
/// `event`, after checking that every invocation succeeded and every span arrived.
async fn instructions(
    program: &Path,
    contestant: &Contestant,
    event: Event,
    n: usize,
    ca: &TestCa,
) -> Result<u64, Error> {
    let what = format!("{}, {}, n = {n}", contestant.name, event.label());
    let started = Instant::now();
    let collector = collector(contestant, ca).await?;
    let mut config = FunctionConfig::new("orders");
    config.timeout = PATIENCE;
    let api = RuntimeApi::start(config).await?;
    let logs = std::env::temp_dir().join("otel-faas-prodpath");
    std::fs::create_dir_all(&logs)?;
    let log = logs.join(format!(
        "{}-{}-{:?}-{n}.log",
        contestant.binary,
        contestant
            .name
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))),
        event
    ));
    let _ = std::fs::remove_file(&log);
    // `PRODPATH_CALLGRIND_DIR` keeps each run's profile (for `callgrind_annotate`; build with
    // `CARGO_PROFILE_RELEASE_STRIP=none` for symbols), else it is thrown away.
    let profile = match std::env::var_os("PRODPATH_CALLGRIND_DIR") {
        Some(dir) => Path::new(&dir).join(
            log.with_extension("callgrind")
                .file_name()
                .unwrap_or_default(),
        ),
        None => Path::new("/dev/null").to_path_buf(),
    };
    let mut child = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg(format!("--log-file={}", log.display()))
        .arg(program)
        .envs(api.function_env())
        .envs(environment(contestant, &collector.endpoint(), ca))
        .env("BENCH_EVENT", event.handler())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("valgrind could not be started: {e}"))?;
    let served = serve(&api, &what, event, n, contestant.extension).await;
    let spans_expected = contestant.spans_over(event, n);
    if served.is_ok() && spans_expected > 0 {
        // The last export may still be on its way (the layer exports after the response).
        collector.wait_for_count(spans_expected, PATIENCE).await;
    }
    let stopped = stop(&mut child).await;
    api.shutdown();
    served?;
    stopped.map_err(|e| format!("{what}: {e}"))?;
    let spans = collector.spans();
    let received = spans.len();
    let mut names: Vec<(String, String)> = spans
        .iter()
        .map(|s| (s.view.name.clone(), s.view.kind.clone()))
        .collect();
    names.sort();
    names.dedup();
    let exports = collector.requests();
    let metric_exports = collector.metric_requests();
    collector.shutdown();
    if received != spans_expected {
        return Err(format!(
            "{what}: the collector received {received} spans in {exports} exports, {spans_expected} expected (names and kinds: {names:?})"
        )
        .into());
    }
    if spans_expected == 0 && exports + metric_exports > 0 {
        return Err(format!(
            "{what}: exports nothing, yet the collector received {exports} span and {metric_exports} metric exports"
        )
        .into());
    }
    let text = std::fs::read_to_string(&log)
        .map_err(|e| format!("{what}: no callgrind log {}: {e}", log.display()))?;
    let total = text
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("{what}: callgrind printed no total (see {})", log.display()))?;
    eprintln!(
        "{what}: Ir {total}; {received} spans in {exports} span exports, {metric_exports} metric exports; {:.1?}",
        started.elapsed()
    );
    Ok(total)
}

/// Drives `n` invocations one after the other, then waits until the function is idle: it
/// asked for the next one, and its extension (if any) is done with the last.
async fn serve(
    api: &RuntimeApi,
    what: &str,
    event: Event,
    n: usize,
    extension: bool,
) -> Result<(), Error> {
    let payload = event.payload()?;
    let mut last = None;
    for i in 1..=n {
        let outcome = tokio::time::timeout(PATIENCE, api.invoke(Invocation::new(payload.clone())))
            .await
            .map_err(|_| format!("{what}: invocation {i}: no response in {PATIENCE:?}"))?;
        check(&outcome, event).map_err(|e| format!("{what}: invocation {i}: {e}"))?;
        last = Some(outcome.request_id);
    }
    tokio::time::timeout(PATIENCE, api.wait_for_next_calls(n as u64 + 1))
        .await
        .map_err(|_| format!("{what}: the function did not ask for more"))?;
    if extension {
        let last = last.unwrap_or_default();
        api.wait_for_extensions(&last, PATIENCE)
            .await
            .ok_or_else(|| format!("{what}: the extension never finished the last invocation"))?;
    }
    Ok(())
}

/// The invocation succeeded, and an HTTP one answered 200.
fn check(outcome: &InvocationOutcome, event: Event) -> Result<(), String> {
    if !outcome.is_success() {
        return Err(format!("failed: {:?}", outcome.result));
    }
    if event == Event::Rest {
        let status = outcome
            .response_json()
            .and_then(|r| r.get("statusCode").and_then(Value::as_i64));
        if status != Some(200) {
            return Err(format!("answered {status:?}, not 200"));
        }
    }
    Ok(())
}

/// Stops the function as Lambda does (SIGTERM) and waits for it to end, which is when
/// callgrind writes its totals.
async fn stop(child: &mut Child) -> Result<(), String> {
    let pid = child.id().ok_or("the function already ended")?;
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map_err(|e| format!("kill: {e}"))?;
    if !signalled.success() {
        return Err("kill -TERM failed".to_owned());
    }
    match tokio::time::timeout(PATIENCE, child.wait()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("waiting for the function: {e}")),
        Err(_) => {
            let _ = child.kill().await;
            Err(format!(
                "the function did not end within {PATIENCE:?} of SIGTERM"
            ))
        }
    }
}

/// A certificate authority made for this run, a server certificate for 127.0.0.1 issued by
/// it, and the CA's PEM file for `OTEL_EXPORTER_OTLP_CERTIFICATE`.
struct TestCa {
    ca_file: PathBuf,
    server: TlsIdentity,
}

impl TestCa {
    fn new() -> Result<TestCa, Error> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate()?;
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])?.signed_by(&key, &ca)?;
        let dir = std::env::temp_dir().join("otel-faas-prodpath");
        std::fs::create_dir_all(&dir)?;
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem())?;
        Ok(TestCa {
            ca_file,
            server: TlsIdentity {
                certificate_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                client_ca_pem: None,
            },
        })
    }
}

/// Starts `program` natively (no valgrind) as Lambda does, with the contestant's environment.
fn spawn_native(
    program: &Path,
    contestant: &Contestant,
    api: &RuntimeApi,
    endpoint: &str,
    ca: &TestCa,
) -> std::io::Result<Child> {
    Command::new(program)
        .envs(api.function_env())
        .envs(environment(contestant, endpoint, ca))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

/// The contestants of the cold-start and latency tables: natively run, default flush budget.
fn native(
    name: &'static str,
    binary: &'static str,
    env: &[(&'static str, &'static str)],
    tls: bool,
) -> Contestant {
    Contestant {
        name,
        binary,
        env: env.to_vec(),
        spans: if binary == "fn_bare" {
            no_spans
        } else {
            otel_faas_spans
        },
        once: isize::from(binary != "fn_bare"),
        tls,
        extension: env.contains(&("OTEL_FAAS_FLUSH", "after_response")),
    }
}

const ENDPOINT: (&str, &str) = ("OTEL_EXPORTER_OTLP_ENDPOINT", "{endpoint}");
const AFTER_RESPONSE: (&str, &str) = ("OTEL_FAAS_FLUSH", "after_response");

/// Cold start: exec → first `/next`, exec → first response (the first invocation queued
/// before the spawn), medians over fresh processes.
async fn cold_starts(dir: &Path, ca: &TestCa) -> Result<(), Error> {
    let processes = count("PRODPATH_COLD_STARTS", 50).max(1);
    let contestants = [
        native("bare", "fn_bare", &[], false),
        native(
            "otel-faas, `http://` endpoint",
            "fn_otel_faas",
            &[ENDPOINT],
            false,
        ),
        native(
            "otel-faas, `https://` endpoint",
            "fn_otel_faas",
            &[ENDPOINT],
            true,
        ),
        native(
            "otel-faas, `https://` endpoint, `after_response`",
            "fn_otel_faas",
            &[ENDPOINT, AFTER_RESPONSE],
            true,
        ),
    ];
    let event = Event::Sqs1.payload()?;
    let mut collectors = Vec::new();
    for contestant in &contestants {
        collectors.push(collector(contestant, ca).await?);
    }
    let mut samples = vec![(Vec::new(), Vec::new()); contestants.len()];
    // Round after round, each contestant once per round: the load of a shared machine drifts,
    // and then drifts alike for all.
    for _ in 0..processes {
        for ((contestant, collector), (to_next, to_response)) in
            contestants.iter().zip(&collectors).zip(&mut samples)
        {
            let program = contestant_binary(dir, contestant.binary)?;
            let api = RuntimeApi::start(FunctionConfig::new("orders")).await?;
            let mut first = std::pin::pin!(api.invoke(Invocation::new(event.clone())));
            // Queued before the process exists: handed out on its first `/next`.
            std::future::poll_fn(|cx| {
                let _ = first.as_mut().poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            let exec = Instant::now();
            let mut child = spawn_native(&program, contestant, &api, &collector.endpoint(), ca)?;
            let outcome = tokio::time::timeout(Duration::from_secs(30), first)
                .await
                .map_err(|_| format!("{}: no first response within 30 s", contestant.name))?;
            check(&outcome, Event::Sqs1).map_err(|e| format!("{}: {e}", contestant.name))?;
            let next = api.first_next_at().ok_or("no /next")?;
            to_next.push(next - exec);
            to_response.push(outcome.completed_at.ok_or("no response")? - exec);
            if contestant.extension {
                api.wait_for_extensions(&outcome.request_id, Duration::from_secs(30))
                    .await
                    .ok_or_else(|| format!("{}: the extension never finished", contestant.name))?;
            }
            child.kill().await?;
            api.shutdown();
        }
    }
    let mut rows = Vec::new();
    for ((contestant, collector), (to_next, to_response)) in
        contestants.iter().zip(&collectors).zip(samples)
    {
        // Every cold start's spans reached the collector (its first invocation's, and `init`).
        let expected =
            processes * ((contestant.spans)(Event::Sqs1)).saturating_add_signed(contestant.once);
        all_spans_arrived(collector, contestant, expected).await?;
        rows.push((contestant.name, median(to_next), median(to_response)));
    }
    // The same life, counted: a process that serves one invocation and is stopped, under
    // callgrind (the load of a shared machine moves the times above, not these).
    let mut counts = Vec::new();
    for contestant in &contestants {
        let mut counted = native(
            contestant.name,
            contestant.binary,
            &contestant.env,
            contestant.tls,
        );
        if counted.binary == "fn_otel_faas" {
            counted.env.push(("OTEL_FAAS_FLUSH_TIMEOUT", "60000"));
        }
        let program = contestant_binary(dir, counted.binary)?;
        counts.push(instructions(&program, &counted, Event::Sqs1, 1, ca).await?);
    }
    println!("## Cold start: `https` against `http` (medians of {processes} processes)\n");
    println!(
        "Natively (no valgrind): from just before the spawn to the function's first \
         `/invocation/next`, and to its first response (a one-message SQS event queued before \
         the spawn), the contestants started in turn; the spans of every first invocation \
         checked at the collector. The last columns count the instructions (callgrind, all \
         threads) of a whole process that serves that one invocation and is then stopped \
         with SIGTERM.\n"
    );
    println!(
        "| contestant | exec → first `/next` | − bare | exec → first response | − bare | instructions, start + 1 invocation + stop | − bare |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let bare = rows[0];
    for ((name, next, response), count) in rows.iter().zip(&counts) {
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            ms(*next),
            signed_ms(*next, bare.1),
            ms(*response),
            signed_ms(*response, bare.2),
            thousands(count),
            match count.checked_sub(counts[0]) {
                Some(more) => format!("+{}", thousands(more)),
                None => format!("−{}", thousands(counts[0] - count)),
            },
        );
    }
    println!();
    Ok(())
}

/// Response latency through the loop (hand-out → response): bare against otel-faas's
/// `after_response` flush exporting straight to an `https` endpoint.
async fn latency(dir: &Path, ca: &TestCa) -> Result<(), Error> {
    let invocations = count("PRODPATH_LATENCY_INVOCATIONS", 500).max(2);
    let contestants = [
        native("bare", "fn_bare", &[], false),
        native(
            "otel-faas, `after_response`, `https://` endpoint",
            "fn_otel_faas",
            &[ENDPOINT, AFTER_RESPONSE],
            true,
        ),
        native(
            "otel-faas, `after_response`, `http://` endpoint",
            "fn_otel_faas",
            &[ENDPOINT, AFTER_RESPONSE],
            false,
        ),
        native(
            "otel-faas, defaults (export before the response), `https://` endpoint",
            "fn_otel_faas",
            &[ENDPOINT],
            true,
        ),
    ];
    let event = Event::Sqs1.payload()?;
    let mut rows = Vec::new();
    for contestant in &contestants {
        let program = contestant_binary(dir, contestant.binary)?;
        let collector = collector(contestant, ca).await?;
        let api = RuntimeApi::start(FunctionConfig::new("orders")).await?;
        let mut child = spawn_native(&program, contestant, &api, &collector.endpoint(), ca)?;
        let mut latencies = Vec::with_capacity(invocations);
        for i in 0..invocations {
            let outcome = tokio::time::timeout(
                Duration::from_secs(30),
                api.invoke(Invocation::new(event.clone())),
            )
            .await
            .map_err(|_| {
                format!(
                    "{}: invocation {i}: no response within 30 s",
                    contestant.name
                )
            })?;
            check(&outcome, Event::Sqs1)
                .map_err(|e| format!("{}: invocation {i}: {e}", contestant.name))?;
            if i > 0 {
                latencies.push(outcome.latency().ok_or("no latency")?);
            }
        }
        all_spans_arrived(
            &collector,
            contestant,
            contestant.spans_over(Event::Sqs1, invocations),
        )
        .await?;
        child.kill().await?;
        api.shutdown();
        latencies.sort();
        let p90 = latencies[latencies.len() * 9 / 10];
        rows.push((contestant.name, median(latencies), p90));
    }
    println!(
        "## Response latency of `after_response` with a direct `https` export ({} invocations, the first left out)\n",
        thousands(invocations)
    );
    println!(
        "Natively: hand-out on `/invocation/next` → the response at the emulator, one-message \
         SQS events one after the other through one process; every span checked at the collector.\n"
    );
    println!("| contestant | median | − bare | 90th percentile | − bare |");
    println!("|---|---:|---:|---:|---:|");
    let bare = rows[0];
    for (name, p50, p90) in &rows {
        println!(
            "| {name} | {} | {} | {} | {} |",
            ms(*p50),
            signed_ms(*p50, bare.1),
            ms(*p90),
            signed_ms(*p90, bare.2)
        );
    }
    println!();
    Ok(())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn signed_ms(d: Duration, base: Duration) -> String {
    let difference = (d.as_secs_f64() - base.as_secs_f64()) * 1000.0;
    format!("{difference:+.3} ms").replace('-', "−")
}
