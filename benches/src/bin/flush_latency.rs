//! What a slow collector costs the caller, per flush mode: the time from the emulated
//! platform handing out an event to it receiving the response, through the real
//! `lambda_runtime` loop, with OTLP/HTTP export to a loopback collector that answers every
//! export only after 200 ms.
//!
//! `cargo run --release -p otel-faas-benches --bin flush_latency` prints one table row per
//! mode (`sync`, `after_response`): the median, 90th percentile and maximum response latency
//! over 40 invocations (the first, a cold start, left out), and how long the platform waited
//! after the response for the extension to let the environment freeze.
//!
//! The same executable is the function: run by the emulator (with `AWS_LAMBDA_RUNTIME_API`
//! set), it serves a traced handler.

use std::time::Duration;

use otel_faas_runtime::local::collector::Collector;
use otel_faas_runtime::local::emulator::{FunctionConfig, Invocation, RuntimeApi};
use otel_faas_runtime::local::process::{FunctionProcess, Output};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde_json::{Value, json};

const COLLECTOR_DELAY: Duration = Duration::from_millis(200);
const INVOCATIONS: usize = 40;

#[traced_function(trigger = "other")]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info_span!("work").in_scope(|| Ok(json!({ "echo": event.payload })))
}

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return runtime.block_on(otel_faas_runtime::lambda::run(handler));
    }
    runtime.block_on(async {
        println!(
            "collector answering after {} ms; {INVOCATIONS} invocations per mode\n",
            COLLECTOR_DELAY.as_millis()
        );
        println!("| flush mode | median response | p90 | max | extension held the environment after the response (median) |");
        println!("|---|---:|---:|---:|---:|");
        for mode in ["sync", "after_response"] {
            measure(mode).await?;
        }
        Ok(())
    })
}

async fn measure(mode: &str) -> Result<(), Error> {
    let api = RuntimeApi::start(FunctionConfig::new("flush-latency")).await?;
    let collector = Collector::start_with_delay(COLLECTOR_DELAY).await?;
    let env = vec![
        ("OTEL_FAAS_FLUSH".to_owned(), mode.to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            collector.endpoint(),
        ),
        ("OTEL_FAAS_FLUSH_TIMEOUT".to_owned(), "2000".to_owned()),
        ("RUST_LOG".to_owned(), "warn".to_owned()),
    ];
    let program = std::env::current_exe()?;
    let mut function = FunctionProcess::spawn(&program, [], &api, &env, Output::Captured)?;
    let mut latencies = Vec::new();
    let mut held = Vec::new();
    for n in 0..=INVOCATIONS {
        let outcome = api.invoke(Invocation::json(&json!({ "n": n }))).await;
        let latency = outcome.latency().ok_or("no response")?;
        let done = api
            .wait_for_extensions(&outcome.request_id, Duration::from_secs(10))
            .await;
        if let (Some(done), Some(responded), true) = (done, outcome.completed_at, n > 0) {
            held.push(done.saturating_duration_since(responded));
        }
        if n > 0 {
            latencies.push(latency);
        }
    }
    function.terminate(Duration::from_secs(2)).await?;
    latencies.sort();
    held.sort();
    let at = |v: &[Duration], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    let held = match held.is_empty() {
        true => "— (no extension)".to_owned(),
        false => ms(at(&held, 0.5)),
    };
    println!(
        "| `{mode}` | {} | {} | {} | {held} |",
        ms(at(&latencies, 0.5)),
        ms(at(&latencies, 0.9)),
        ms(*latencies.last().ok_or("no invocation")?),
    );
    Ok(())
}
