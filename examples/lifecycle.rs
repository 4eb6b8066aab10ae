//! What happens to invocations a head sampler drops, and to one that overruns its deadline.
//!
//! The function samples 0 % of traces at the head (`OTEL_TRACES_SAMPLER=traceidratio`,
//! `OTEL_TRACES_SAMPLER_ARG=0`), yet the invocations worth seeing are exported, each with
//! `otel_faas.sampling.kept_by`: the cold start (with its `init` span), the failure and the
//! slow one (over `OTEL_FAAS_KEEP_SLOWER_THAN=200` ms). The fast healthy one is not. The last
//! invocation is still running 100 ms before its 1 s deadline: its spans are ended with
//! `error.type=timeout` and exported before Lambda would stop the function. Every log line
//! carries the trace, span and request ids; every invocation's FaaS metrics follow its trace.
//!
//! `cargo run --example lifecycle` prints it all on the local runner.

use std::time::Duration;

use otel_faas_local::{LocalRunner, emulator::Invocation};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Job {
    #[serde(default)]
    work_ms: u64,
    #[serde(default)]
    fail: bool,
}

#[traced_function(trigger = "other", name = "build report")]
async fn handler(event: LambdaEvent<Job>) -> Result<(), Error> {
    let job = event.payload;
    tracing::info!(work_ms = job.work_ms, "building the report");
    let work = tokio::time::sleep(Duration::from_millis(job.work_ms));
    tracing::Instrument::instrument(work, tracing::info_span!("render pages")).await;
    if job.fail {
        return Err("the template is missing".into());
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let overrun =
        Invocation::json(&json!({ "work_ms": 1500 })).with_timeout(Duration::from_secs(1));
    LocalRunner::new("report-builder")
        .env("OTEL_TRACES_SAMPLER", "traceidratio")
        .env("OTEL_TRACES_SAMPLER_ARG", "0")
        .env("OTEL_FAAS_KEEP_SLOWER_THAN", "200")
        .event("cold start: kept", json!({ "work_ms": 5 }))
        .event("fast and healthy: sampled out", json!({ "work_ms": 5 }))
        .event("fails: kept", json!({ "fail": true }))
        .event("slow: kept", json!({ "work_ms": 250 }))
        .invocation("overruns its 1 s timeout: exported as a timeout", overrun)
        .run(handler)
}
