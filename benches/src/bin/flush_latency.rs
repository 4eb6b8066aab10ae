//! What the flush costs each contestant when the collector is slow, down or hung: every
//! contestant's function binary (`fn_*` beside this one, as in the `process` harness) runs
//! through the real `lambda_runtime` loop against the Runtime API emulator, exporting over
//! OTLP/HTTP to one of three collectors:
//!
//! - **50 ms** — a loopback collector that answers every export (traces and metrics) after
//!   50 ms;
//! - **down** — nothing listens on the endpoint's port: every connection is refused;
//! - **black hole** — a listener that accepts every connection and never answers, as a hung
//!   collector does.
//!
//! ```sh
//! cargo build --release -p otel-faas-benches --bins
//! cargo run --release -p otel-faas-benches --bin flush_latency
//! ```
//!
//! Prints one markdown table: per collector and contestant, the median and 90th percentile
//! of the response latency (the emulator hands the event out → the response arrives) and of
//! the cycle (the event handed out → the environment is ready for the next one: the
//! function's next `/invocation/next` and, with an extension registered, the extension done
//! with the invocation, since the platform hands out no event before both), each with its
//! median's difference to bare under the same collector; for otel-faas with
//! `OTEL_FAAS_FLUSH=after_response`, how long its extension held the environment after the
//! response. lambda_runtime's layer flushes after posting the response, so its cost shows
//! in the cycle, not in the response.
//!
//! Each cell is a fresh process: its first invocation (the cold start) is left out, then
//! `FLUSH_INVOCATIONS` invocations (default 30) of a one-message SQS event, or fewer when the
//! cell has run for `FLUSH_CELL_SECONDS` (default 12; at least 3 invocations), which only the
//! black hole reaches. The 50 ms case checks that every exporting contestant's spans reached
//! the collector (two per invocation) and fails otherwise. lambda-otel-lite exports to
//! standard output (its default exporter, for the serverless-otlp-forwarder), which the
//! harness reads and counts: no collector is involved in its rows.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use otel_faas_benches::{contestant_binary, count_stdout};
use otel_faas_local::collector::Collector;
use otel_faas_local::emulator::{FunctionConfig, Invocation, RuntimeApi};
use otel_faas_runtime::Error;
use tokio::process::{Child, Command};

/// The slow collector's delay before answering each export.
const COLLECTOR_DELAY: Duration = Duration::from_millis(50);
/// Spans each exporting contestant produces per invocation (invocation span + batch span).
const SPANS_PER_INVOCATION: usize = 2;
/// The longest the harness waits for one response, or for the function to ask for more.
const PATIENCE: Duration = Duration::from_secs(60);

/// How the OTLP endpoint behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Slow,
    Down,
    BlackHole,
}

impl Scenario {
    fn label(self) -> String {
        match self {
            Scenario::Slow => format!("answers after {} ms", COLLECTOR_DELAY.as_millis()),
            Scenario::Down => "down (connection refused)".to_owned(),
            Scenario::BlackHole => "black hole (accepts, never answers)".to_owned(),
        }
    }
}

/// The endpoint one cell exports to, and what it received.
enum Endpoint {
    Slow(Collector),
    Down(String),
    BlackHole {
        endpoint: String,
        accepted: tokio::sync::watch::Receiver<usize>,
        task: tokio::task::JoinHandle<()>,
    },
}

impl Endpoint {
    async fn start(scenario: Scenario) -> Result<Endpoint, Error> {
        Ok(match scenario {
            Scenario::Slow => Endpoint::Slow(Collector::start_with_delay(COLLECTOR_DELAY).await?),
            Scenario::Down => {
                // Bind an ephemeral port and let it go: nothing listens there any more.
                let port = std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port();
                Endpoint::Down(format!("http://127.0.0.1:{port}"))
            }
            Scenario::BlackHole => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let endpoint = format!("http://{}", listener.local_addr()?);
                let (count, accepted) = tokio::sync::watch::channel(0);
                let task = tokio::spawn(async move {
                    // Keep every connection open and never read from or write to it.
                    let mut held = Vec::new();
                    while let Ok((socket, _)) = listener.accept().await {
                        held.push(socket);
                        count.send_replace(held.len());
                    }
                });
                Endpoint::BlackHole {
                    endpoint,
                    accepted,
                    task,
                }
            }
        })
    }

    fn endpoint(&self) -> String {
        match self {
            Endpoint::Slow(collector) => collector.endpoint(),
            Endpoint::Down(endpoint) | Endpoint::BlackHole { endpoint, .. } => endpoint.clone(),
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Endpoint::BlackHole { task, .. } = self {
            task.abort();
        }
    }
}

/// One contestant: its binary, its environment, whether it exports over OTLP.
struct Contestant {
    name: &'static str,
    binary: &'static str,
    env: &'static [(&'static str, &'static str)],
    otlp: bool,
}

const CONTESTANTS: [Contestant; 5] = [
    Contestant {
        name: "bare",
        binary: "fn_bare",
        env: &[],
        otlp: false,
    },
    Contestant {
        name: "**otel-faas** (`sync`, the default)",
        binary: "fn_otel_faas",
        env: &[("OTEL_FAAS_FLUSH", "sync")],
        otlp: true,
    },
    Contestant {
        name: "otel-faas, `OTEL_FAAS_FLUSH=after_response`",
        binary: "fn_otel_faas",
        env: &[("OTEL_FAAS_FLUSH", "after_response")],
        otlp: true,
    },
    Contestant {
        name: "lambda_runtime `OpenTelemetryLayer`",
        binary: "fn_lambda_layer",
        env: &[],
        otlp: true,
    },
    Contestant {
        // Its spans are `info` spans behind an `EnvFilter` that defaults to errors only.
        name: "lambda-otel-lite",
        binary: "fn_lambda_otel_lite",
        env: &[("RUST_LOG", "info")],
        otlp: false,
    },
];

/// What one cell measured.
struct Cell {
    responses: Vec<Duration>,
    cycles: Vec<Duration>,
    held: Vec<Duration>,
    evidence: String,
}

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

fn setting<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() -> Result<(), Error> {
    let invocations: usize = setting("FLUSH_INVOCATIONS", 30);
    let budget = Duration::from_secs(setting("FLUSH_CELL_SECONDS", 12));
    let dir = otel_faas_benches::binaries_dir()?;
    let event = otel_faas_benches::sqs_batch(1);
    let payload = Bytes::from(serde_json::to_vec(&event)?);

    println!(
        "{invocations} invocations per cell after the cold start (fewer once a cell has run {} s); \
         defaults: OTEL_FAAS_FLUSH_TIMEOUT={} ms, OTEL_EXPORTER_OTLP_TIMEOUT=10 s\n",
        budget.as_secs(),
        otel_faas_runtime::config::DEFAULT_FLUSH_TIMEOUT.as_millis(),
    );
    println!(
        "| collector | contestant | n | response median | p90 | over bare | cycle median | p90 | over bare | held after the response (median) | exported |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for scenario in [Scenario::Slow, Scenario::Down, Scenario::BlackHole] {
        let mut bare: Option<(Duration, Duration)> = None;
        for contestant in &CONTESTANTS {
            let program = contestant_binary(&dir, contestant.binary)?;
            let cell = measure(
                &program,
                contestant,
                scenario,
                &payload,
                invocations,
                budget,
            )
            .await?;
            let response = at(&cell.responses, 0.5);
            let cycle = at(&cell.cycles, 0.5);
            let (bare_response, bare_cycle) = *bare.get_or_insert((response, cycle));
            let held = match cell.held.is_empty() {
                true => "—".to_owned(),
                false => ms(at(&cell.held, 0.5)),
            };
            let collector = match contestant.otlp || contestant.binary == "fn_bare" {
                true => scenario.label(),
                false => format!(
                    "{}: not used (exports to standard output)",
                    scenario.label()
                ),
            };
            println!(
                "| {collector} | {} | {} | {} | {} | {} | {} | {} | {} | {held} | {} |",
                contestant.name,
                cell.responses.len(),
                ms(response),
                ms(at(&cell.responses, 0.9)),
                diff(response, bare_response),
                ms(cycle),
                ms(at(&cell.cycles, 0.9)),
                diff(cycle, bare_cycle),
                cell.evidence,
            );
        }
    }
    Ok(())
}

/// Runs one contestant against one collector in a fresh process.
async fn measure(
    program: &Path,
    contestant: &Contestant,
    scenario: Scenario,
    payload: &Bytes,
    invocations: usize,
    budget: Duration,
) -> Result<Cell, Error> {
    let endpoint = Endpoint::start(scenario).await?;
    let api = RuntimeApi::start(FunctionConfig::new("orders")).await?;
    let mut child = spawn(program, contestant, &api, &endpoint.endpoint())?;
    let written = count_stdout(&mut child);
    let mut cell = Cell {
        responses: Vec::new(),
        cycles: Vec::new(),
        held: Vec::new(),
        evidence: String::new(),
    };
    let mut started: Option<Instant> = None;
    for n in 0..=invocations {
        if let Some(started) = started
            && n > 3
            && started.elapsed() > budget
        {
            break;
        }
        let outcome = tokio::time::timeout(PATIENCE, api.invoke(Invocation::new(payload.clone())))
            .await
            .map_err(|_| format!("{}: no response in {PATIENCE:?}", contestant.name))?;
        if !outcome.is_success() {
            return Err(format!(
                "{}: invocation {n} failed: {:?}",
                contestant.name, outcome.result
            )
            .into());
        }
        let handed_out = outcome.handed_out_at.ok_or("not handed out")?;
        let responded = outcome.completed_at.ok_or("no response")?;
        // Ready for the next event: the function asked for it (its (n + 2)th `/next`) and,
        // with an extension, the extension is done with this invocation.
        tokio::time::timeout(PATIENCE, api.wait_for_next_calls(n as u64 + 2))
            .await
            .map_err(|_| format!("{}: no /next in {PATIENCE:?}", contestant.name))?;
        let next = Instant::now();
        let extension = api.wait_for_extensions(&outcome.request_id, PATIENCE).await;
        let ready = extension.map_or(next, |done| done.max(next));
        if n == 0 {
            // The cold start is left out.
            started = Some(Instant::now());
            continue;
        }
        cell.responses.push(responded - handed_out);
        cell.cycles.push(ready - handed_out);
        if let Some(done) = extension {
            cell.held.push(done.saturating_duration_since(responded));
        }
    }
    child.kill().await?;
    api.shutdown();
    let exported = (cell.responses.len() + 1) * SPANS_PER_INVOCATION;
    cell.evidence = match (&endpoint, contestant.otlp) {
        (_, false) if contestant.binary == "fn_bare" => "— (no telemetry)".to_owned(),
        (_, false) => format!("{} kB of OTLP on standard output", written.await? / 1000),
        (Endpoint::Slow(collector), true) => {
            if !collector
                .wait_for_count(exported, Duration::from_secs(10))
                .await
            {
                return Err(format!(
                    "{}: the collector received {} spans, expected {exported}",
                    contestant.name,
                    collector.spans().len()
                )
                .into());
            }
            format!(
                "{} spans in {} requests, {} metric requests",
                collector.spans().len(),
                collector.requests(),
                collector.metric_requests()
            )
        }
        (Endpoint::Down(_), true) => "nothing (refused)".to_owned(),
        (Endpoint::BlackHole { accepted, .. }, true) => {
            format!("nothing ({} connections left hanging)", *accepted.borrow())
        }
    };
    Ok(cell)
}

/// Starts the function as Lambda does, with `OTEL_EXPORTER_OTLP_ENDPOINT` set to `endpoint`.
/// Its standard error is discarded; its standard output is piped (see [`count_stdout`]).
fn spawn(
    program: &Path,
    contestant: &Contestant,
    api: &RuntimeApi,
    endpoint: &str,
) -> std::io::Result<Child> {
    Command::new(program)
        .envs(api.function_env())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .envs(contestant.env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

/// The `q` quantile of `values` (nearest rank).
fn at(values: &[Duration], q: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn diff(value: Duration, bare: Duration) -> String {
    format!(
        "{:+.2} ms",
        (value.as_secs_f64() - bare.as_secs_f64()) * 1000.0
    )
}
