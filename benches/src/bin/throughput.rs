//! Throughput at concurrency 1, 4 and 16: the bare function and otel-faas as real Lambda
//! function processes (`fn_bare`, `fn_otel_faas`, stripped release binaries beside this one)
//! against the Runtime API emulator on loopback, with `AWS_LAMBDA_MAX_CONCURRENCY` set as
//! Lambda Managed Instances set it, otel-faas exporting its spans and FaaS metrics over
//! OTLP/HTTP to a loopback collector after every invocation (the defaults).
//!
//! ```sh
//! cargo build --release -p otel-faas-benches --bins
//! cargo run --release -p otel-faas-benches --bin throughput
//! ```
//!
//! The harness keeps `concurrency` invocations of a one-message SQS event in flight and
//! counts how many complete per second, after a warm-up. Two handlers: one that returns at
//! once (what the runtime, the telemetry and the loop cost) and one that first waits
//! `THROUGHPUT_IO_MS` (default 20) as for a downstream call (what concurrency is for).
//! `THROUGHPUT_SECONDS` (default 5) is how long each cell runs.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otel_faas_benches::{contestant_binary, thousands};
use otel_faas_local::collector::Collector;
use otel_faas_local::emulator::{FunctionConfig, Invocation, RuntimeApi};
use otel_faas_runtime::Error;
use tokio::process::Command;

const CONCURRENCY: [u32; 3] = [1, 4, 16];

/// A contestant: its name, its binary, and its environment.
type Contestant = (&'static str, &'static str, Vec<(&'static str, String)>);

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

fn setting(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() -> Result<(), Error> {
    let seconds = Duration::from_secs(setting("THROUGHPUT_SECONDS", 5));
    let io_ms = setting("THROUGHPUT_IO_MS", 20);
    let collector = Collector::start().await?;
    let dir = otel_faas_benches::binaries_dir()?;
    let payload = bytes::Bytes::from(serde_json::to_vec(&otel_faas_benches::sqs_batch(1))?);
    let contestants: [Contestant; 2] = [
        ("bare", "fn_bare", vec![]),
        (
            "otel-faas",
            "fn_otel_faas",
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())],
        ),
    ];
    let workloads = [
        ("returns at once", None),
        ("waits as for a downstream call", Some(io_ms)),
    ];
    println!(
        "{} s per cell, one-message SQS event, invocations kept in flight at the concurrency\n",
        seconds.as_secs()
    );
    for (workload, io) in workloads {
        let title = match io {
            Some(ms) => format!("### Throughput, handler that {workload} ({ms} ms)\n"),
            None => format!("### Throughput, handler that {workload}\n"),
        };
        println!("{title}");
        println!(
            "| `AWS_LAMBDA_MAX_CONCURRENCY` | bare, invocations/s | otel-faas, invocations/s | otel-faas ÷ bare | otel-faas exports received |"
        );
        println!("|---:|---:|---:|---:|---:|");
        for concurrency in CONCURRENCY {
            let mut rates = Vec::new();
            let mut exports = 0;
            for (_, binary, env) in &contestants {
                let before = collector.requests();
                let program = contestant_binary(&dir, binary)?;
                let mut env = env.clone();
                if let Some(ms) = io {
                    env.push(("BENCH_HANDLER_IO_MS", ms.to_string()));
                }
                let rate = cell(&program, &env, concurrency, &payload, seconds).await?;
                rates.push(rate);
                exports = collector.requests() - before;
                collector.clear();
            }
            println!(
                "| {concurrency} | {} | {} | {:.2} | {} |",
                thousands(rates[0].round() as u64),
                thousands(rates[1].round() as u64),
                rates[1] / rates[0],
                thousands(exports),
            );
        }
        println!();
    }
    Ok(())
}

/// Invocations per second of one contestant at one concurrency.
async fn cell(
    program: &std::path::Path,
    env: &[(&str, String)],
    concurrency: u32,
    payload: &bytes::Bytes,
    seconds: Duration,
) -> Result<f64, Error> {
    let config = FunctionConfig::new("orders").with_max_concurrency(concurrency);
    let api = Arc::new(RuntimeApi::start(config).await?);
    let mut child = Command::new(program)
        .envs(api.function_env())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    // Warm-up: the process is up, every worker has polled once.
    for _ in 0..concurrency * 4 {
        let outcome = api.invoke(Invocation::new(payload.clone())).await;
        if !outcome.is_success() {
            return Err(format!("warm-up failed: {:?}", outcome.result).into());
        }
    }
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            let (api, done, failed, stop) =
                (api.clone(), done.clone(), failed.clone(), stop.clone());
            let payload = payload.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let outcome = api.invoke(Invocation::new(payload.clone())).await;
                    match outcome.is_success() {
                        true => done.fetch_add(1, Ordering::Relaxed),
                        false => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(seconds).await;
    stop.store(true, Ordering::Relaxed);
    let completed = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    for client in clients {
        client.await?;
    }
    child.kill().await?;
    api.shutdown();
    if failed.load(Ordering::Relaxed) > 0 {
        return Err(format!("{} invocations failed", failed.load(Ordering::Relaxed)).into());
    }
    Ok(completed as f64 / elapsed.as_secs_f64())
}
