//! The local runner (`cargo run --example …`) as a user runs it: the fixture executable in
//! runner mode, which starts the Runtime API emulator, runs itself again as the function
//! process, and prints each invocation.
#![cfg(unix)]

use std::process::Stdio;
use std::time::Duration;

use otel_faas_local::collector::Collector;
use tokio::process::Command;

/// Runs the fixture under the local runner with `env`, and returns what it printed.
async fn run_locally(env: &[(&str, String)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otel-faas-fixture"));
    command
        .env("OTEL_FAAS_FIXTURE", "runner")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_METRICS_EXPORTER")
        .env_remove("OTEL_SDK_DISABLED")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the runner finishes")
        .expect("the runner starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn with_only_a_traces_endpoint_the_spans_go_there_and_the_metrics_are_shown() {
    // The runner used to start its collector anyway, wait for spans that went elsewhere and
    // print "no span received" after each invocation.
    let collector = Collector::start().await.expect("collector");
    let endpoint = format!("{}/v1/traces", collector.endpoint());
    let printed = run_locally(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.clone())]).await;
    assert!(!printed.contains("no span received"), "{printed}");
    assert!(
        printed.contains(&format!("spans                 → {endpoint}")),
        "{printed}"
    );
    assert!(
        printed.contains("metrics  faas.invocations=1"),
        "the metrics stay local and are shown: {printed}"
    );
    // Exported before each response: there by the time the runner is done.
    let nested = collector
        .spans()
        .iter()
        .filter(|s| s.view.name == "nested work")
        .count();
    assert_eq!(
        nested, 2,
        "both invocations' spans reached the traces endpoint"
    );
    assert!(
        collector.metrics().is_empty(),
        "the metrics did not go there"
    );
}

#[tokio::test]
async fn by_default_each_invocations_trace_and_metrics_are_printed() {
    let printed = run_locally(&[]).await;
    assert!(
        printed.contains("spans                 → the embedded collector"),
        "{printed}"
    );
    assert_eq!(
        printed.matches("─ nested work  INTERNAL").count(),
        2,
        "{printed}"
    );
    assert!(printed.contains("metrics  faas.invocations=1"), "{printed}");
}
