//! A timer trigger on Azure Functions, as a Rust custom handler: a run on time and one the
//! host started late (`IsPastDue`), each the root of its own trace.
//!
//! `cargo run --example azure_timer` plays the Functions host on 127.0.0.1 and prints each
//! answer and trace; deployed, the same binary serves the host. The app's files are in
//! `examples/azure/`: `host.json` (see `azure_service_bus`) and
//!
//! `Nightly/function.json`
//! ```json
//! { "bindings": [ { "type": "timerTrigger", "direction": "in", "name": "timer", "schedule": "0 0 2 * * *" } ] }
//! ```

use otel_faas_local::azure::{HostInvocation, LocalHost};
use otel_faas_runtime::azure::{AppIdentity, AzureEvent, FunctionApp, TimerInfo};
use otel_faas_runtime::{Error, traced_function};
use serde_json::json;

/// Deletes expired carts every night.
#[traced_function(trigger = "timer")]
async fn nightly(event: AzureEvent<TimerInfo>) -> Result<(), Error> {
    if event.payload.is_past_due {
        tracing::warn!("running late");
    }
    tracing::info!(deleted = 17, "expired carts deleted");
    Ok(())
}

/// A run as the host sends it: `TimerInfo` serializes as an object, which the host keeps.
fn run(past_due: bool, now: &str) -> HostInvocation {
    HostInvocation::new("Nightly")
        .data(
            "timer",
            json!({
                "Schedule": { "AdjustForDST": true },
                "ScheduleStatus": { "Last": "2026-11-20T02:00:00+00:00", "Next": "2026-11-22T02:00:00+00:00", "LastUpdated": "2026-11-20T02:00:00.01+00:00" },
                "IsPastDue": past_due
            }),
        )
        .utc_now(now)
}

fn main() -> Result<(), Error> {
    let app = FunctionApp::new()
        .identity(AppIdentity {
            app_name: Some("carts-app".into()),
            ..AppIdentity::from_env()
        })
        .function("Nightly", nightly);
    LocalHost::new(app)
        .app_root(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/azure"))
        .invoke(
            "the 02:00 run, on time",
            run(false, "2026-11-21T02:00:00.004Z"),
        )
        .invoke(
            "a run after a restart, past due",
            run(true, "2026-11-21T02:41:13.530Z"),
        )
        .run()
}
