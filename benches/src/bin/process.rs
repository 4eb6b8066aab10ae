//! Process-level benchmarks: every contestant as a real Lambda function process (its own
//! stripped release binary, `fn_*` beside this one) against the Runtime API emulator on
//! loopback, exporting to a loopback OTLP collector where the contestant exports over OTLP.
//!
//! ```sh
//! cargo build --release -p otel-faas-benches --bins
//! cargo run --release -p otel-faas-benches --bin process
//! ```
//!
//! Prints three markdown tables:
//!
//! - cold start: from just before the process is spawned (fork + exec) to its first
//!   `/invocation/next` on the emulator, and to its first response (the first invocation is
//!   queued before the spawn, so it is handed out on that first `/next`); medians over
//!   `PROCESS_COLD_STARTS` processes (default 20);
//! - memory: the resident set (`VmRSS`) after 10,000 invocations and after
//!   `PROCESS_INVOCATIONS` (default 100,000) of a one-message SQS event through the loop, and
//!   the peak (`VmHWM`), read from `/proc/<pid>/status`; with the median response latency
//!   (hand-out → response) and the mean cycle (total time / invocations) over the run;
//! - binary size: each contestant's stripped release binary, and the bare function built in a
//!   workspace of its own (`benches/bare-alone`, when built), to which no feature of
//!   otel-faas's dependency graph reaches.
//!
//! The otel-faas binary runs twice: exporting (spans and FaaS metrics, the defaults) and with
//! `OTEL_SDK_DISABLED=true`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use otel_faas_benches::{contestant_binary, count_stdout, thousands};
use otel_faas_local::collector::Collector;
use otel_faas_local::emulator::{FunctionConfig, Invocation, RuntimeApi};
use otel_faas_runtime::Error;
use serde_json::Value;
use tokio::process::{Child, Command};

/// One contestant: its binary and its environment.
struct Contestant {
    name: &'static str,
    binary: &'static str,
    env: Vec<(&'static str, String)>,
}

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() -> Result<(), Error> {
    let cold_starts = count("PROCESS_COLD_STARTS", 20);
    let invocations = count("PROCESS_INVOCATIONS", 100_000);
    let collector = Collector::start().await?;
    let endpoint = collector.endpoint();
    let contestants = [
        Contestant {
            name: "bare",
            binary: "fn_bare",
            env: vec![],
        },
        Contestant {
            name: "**otel-faas**",
            binary: "fn_otel_faas",
            env: vec![("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone())],
        },
        Contestant {
            name: "otel-faas, `OTEL_SDK_DISABLED=true`",
            binary: "fn_otel_faas",
            env: vec![("OTEL_SDK_DISABLED", "true".to_owned())],
        },
        Contestant {
            name: "lambda_runtime `OpenTelemetryLayer`",
            binary: "fn_lambda_layer",
            env: vec![("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone())],
        },
        Contestant {
            // Its spans are `info` spans behind an `EnvFilter` that defaults to errors only.
            name: "lambda-otel-lite",
            binary: "fn_lambda_otel_lite",
            env: vec![("RUST_LOG", "info".to_owned())],
        },
    ];
    let event: Value = serde_json::to_value(otel_faas_benches::sqs_batch(1))?;
    let dir = otel_faas_benches::binaries_dir()?;

    println!("{cold_starts} cold starts and {invocations} invocations per contestant\n");
    let mut cold = Vec::new();
    for contestant in &contestants {
        let program = contestant_binary(&dir, contestant.binary)?;
        let mut to_next = Vec::new();
        let mut to_response = Vec::new();
        for _ in 0..cold_starts {
            let (next, response) = cold_start(&program, contestant, &event).await?;
            to_next.push(next);
            to_response.push(response);
        }
        cold.push((contestant.name, median(to_next), median(to_response)));
    }
    let otel_faas = cold[1];
    println!("### Cold start (medians of {cold_starts} processes each)\n");
    println!(
        "| contestant | exec → first `/next` | ratio to otel-faas | exec → first response | ratio to otel-faas |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, next, response) in &cold {
        println!(
            "| {name} | {} | {:.2} | {} | {:.2} |",
            bold(name, ms(*next)),
            next.as_secs_f64() / otel_faas.1.as_secs_f64(),
            bold(name, ms(*response)),
            response.as_secs_f64() / otel_faas.2.as_secs_f64(),
        );
    }

    println!();
    let mut memory = Vec::new();
    for contestant in &contestants {
        let program = contestant_binary(&dir, contestant.binary)?;
        let row = steady(&program, contestant, &event, invocations, &collector).await?;
        memory.push((contestant.name, row));
    }
    let otel_faas = memory[1].1;
    let checkpoint = 10_000.min(invocations);
    println!(
        "\n### Memory over {} invocations, and latency through the loop\n",
        thousands(invocations)
    );
    println!(
        "| contestant | VmRSS after {} | VmRSS after {} | peak (VmHWM) | peak ratio | median response | ratio | mean cycle | ratio |",
        thousands(checkpoint),
        thousands(invocations),
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, (rss_10k, rss_end, hwm, latency, cycle)) in &memory {
        println!(
            "| {name} | {} | {} | {} | {:.2} | {} | {:.2} | {} | {:.2} |",
            bold(name, mib(*rss_10k)),
            bold(name, mib(*rss_end)),
            bold(name, mib(*hwm)),
            *hwm as f64 / otel_faas.2 as f64,
            bold(name, ms(*latency)),
            latency.as_secs_f64() / otel_faas.3.as_secs_f64(),
            bold(name, ms(*cycle)),
            cycle.as_secs_f64() / otel_faas.4.as_secs_f64(),
        );
    }

    println!();
    let ours = std::fs::metadata(contestant_binary(&dir, contestants[1].binary)?)?.len();
    let bare = std::fs::metadata(contestant_binary(&dir, contestants[0].binary)?)?.len();
    // The bare function built in a workspace of its own (benches/bare-alone): no feature of
    // otel-faas's dependency graph reaches it, as none reaches a function without otel-faas.
    let alone = std::fs::metadata(dir.join("fn_bare_alone"))
        .ok()
        .map(|m| m.len());
    let mut rows: Vec<(&str, &str, u64)> = Vec::new();
    if let Some(alone) = alone {
        rows.push((
            "bare, built alone (`lambda_runtime` only)",
            "fn_bare_alone",
            alone,
        ));
    }
    for contestant in &contestants {
        if rows
            .iter()
            .all(|(_, binary, _)| *binary != contestant.binary)
        {
            let size = std::fs::metadata(contestant_binary(&dir, contestant.binary)?)?.len();
            rows.push((contestant.name, contestant.binary, size));
        }
    }
    let difference = |size: u64, to: u64| match size == to {
        true => "0".to_owned(),
        false => {
            format!("{:+.2} MiB", (size as f64 - to as f64) / (1024.0 * 1024.0)).replace('-', "−")
        }
    };
    println!("### Binary size (stripped release)\n");
    println!(
        "| contestant | binary | size | ratio to otel-faas | difference to bare | difference to bare built alone |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for (name, binary, size) in rows {
        println!(
            "| {name} | `{binary}` | {} | {:.2} | {} | {} |",
            bold(name, format!("{} ({size} bytes)", mib(size))),
            size as f64 / ours as f64,
            difference(size, bare),
            alone.map_or("—".to_owned(), |alone| difference(size, alone)),
        );
    }
    if alone.is_none() {
        println!(
            "\n(`fn_bare_alone` not found: `cargo build --release --manifest-path benches/bare-alone/Cargo.toml` builds it.)"
        );
    }
    Ok(())
}

/// Starts the function as Lambda does. Its standard error is discarded; its standard output
/// (where lambda-otel-lite exports) is piped when `stdout` is, else discarded.
fn spawn(
    program: &PathBuf,
    contestant: &Contestant,
    api: &RuntimeApi,
    stdout: Stdio,
) -> std::io::Result<Child> {
    Command::new(program)
        .envs(api.function_env())
        .envs(contestant.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

/// One cold start: exec → first `/invocation/next`, exec → first response.
async fn cold_start(
    program: &PathBuf,
    contestant: &Contestant,
    event: &Value,
) -> Result<(Duration, Duration), Error> {
    let api = RuntimeApi::start(FunctionConfig::new("orders")).await?;
    // Queue the first invocation before the process exists: `invoke` queues it on its first
    // poll, and it is handed out on the function's first `/next`.
    let mut first = std::pin::pin!(api.invoke(Invocation::json(event)));
    std::future::poll_fn(|cx| {
        let _ = first.as_mut().poll(cx);
        std::task::Poll::Ready(())
    })
    .await;
    let exec = Instant::now();
    let mut child = spawn(program, contestant, &api, Stdio::null())?;
    let outcome = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .map_err(|_| format!("{}: no response within 10 s", contestant.name))?;
    if !outcome.is_success() {
        return Err(format!(
            "{}: first invocation failed: {:?}",
            contestant.name, outcome.result
        )
        .into());
    }
    let next = api.first_next_at().ok_or("no /next")?;
    let responded = outcome.completed_at.ok_or("no response")?;
    child.kill().await?;
    api.shutdown();
    Ok((next - exec, responded - exec))
}

/// Runs `invocations` invocations through one process, one after the other; the resident set
/// after 10,000 and at the end, the peak, the median response latency (hand-out → response)
/// and the mean cycle (queued → the function ready for the next, so work a contestant does
/// after posting its response counts).
async fn steady(
    program: &PathBuf,
    contestant: &Contestant,
    event: &Value,
    invocations: usize,
    collector: &Collector,
) -> Result<(u64, u64, u64, Duration, Duration), Error> {
    let api = RuntimeApi::start(FunctionConfig::new("orders")).await?;
    let mut child = spawn(program, contestant, &api, Stdio::piped())?;
    let written = count_stdout(&mut child);
    let exports = collector.requests();
    let started = Instant::now();
    let pid = child.id().ok_or("no pid")?;
    let payload = bytes::Bytes::from(serde_json::to_vec(event)?);
    let mut latencies = Vec::with_capacity(invocations);
    let mut rss_10k = 0;
    for n in 1..=invocations {
        let outcome = api.invoke(Invocation::new(payload.clone())).await;
        if !outcome.is_success() {
            return Err(format!(
                "{}: invocation {n} failed: {:?}",
                contestant.name, outcome.result
            )
            .into());
        }
        latencies.push(outcome.latency().ok_or("no latency")?);
        if n % 1_000 == 0 {
            collector.clear();
        }
        if n == 10_000.min(invocations) {
            rss_10k = status(pid, "VmRSS")?;
        }
    }
    let cycle = started.elapsed() / u32::try_from(invocations)?;
    let rss = status(pid, "VmRSS")?;
    let hwm = status(pid, "VmHWM")?;
    child.kill().await?;
    api.shutdown();
    // Evidence that every contestant did export: OTLP requests the collector received, bytes
    // written to standard output.
    eprintln!(
        "{}: {} OTLP exports received, {} bytes on standard output",
        contestant.name,
        collector.requests() - exports,
        written.await?,
    );
    Ok((rss_10k, rss, hwm, median(latencies), cycle))
}

/// A `kB` line of `/proc/<pid>/status`, in bytes.
fn status(pid: u32, key: &str) -> Result<u64, Error> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = text
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .ok_or_else(|| format!("no {key} in /proc/{pid}/status"))?;
    let kb: u64 = line[key.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb * 1024)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `value` in bold on otel-faas's own row (the one whose name is bold), as BENCHMARKS.md has it.
fn bold(name: &str, value: String) -> String {
    match name.starts_with("**") {
        true => format!("**{value}**"),
        false => value,
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}
