//! A custom handler started as the Functions host starts it: a real process with
//! `FUNCTIONS_CUSTOMHANDLER_PORT`, `FUNCTIONS_APP_ROOT_PATH` and the app settings in its
//! environment, in `host.json`'s working directory, invoked over HTTP, exporting OTLP/HTTP
//! to a collector on 127.0.0.1, stopped with SIGTERM — or killed with SIGKILL when an
//! invocation outlives `functionTimeout`, as the host kills it.
#![cfg(unix)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use http::StatusCode;
use otel_faas_local::azure::{FunctionsHost, HostInvocation, WorkerProcess};
use otel_faas_local::collector::Collector;
use otel_faas_local::process::Output;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

const ARRIVAL: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_handler_serves_its_port_exports_and_stops_on_sigterm() {
    let collector = Collector::start().await.expect("collector");
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap().port()
    };
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/azure");
    let mut handler = Command::new(env!("CARGO_BIN_EXE_otel-faas-azure-fixture"))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("AzureWebJobsScriptRoot", root)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("WEBSITE_SITE_NAME", "orders-app")
        .env("REGION_NAME", "North Europe")
        .env("WEBSITE_INSTANCE_ID", "7f3c9a1e5b")
        .env(
            "WEBSITE_OWNER_NAME",
            "6e3a1f2b-0000-4000-8000-00000000cafe+orders-rg-NorthEuropewebspace-Linux",
        )
        .env("WEBSITE_RESOURCE_GROUP", "orders-rg")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the handler starts");

    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the handler never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let host = FunctionsHost::new(([127, 0, 0, 1], port).into());
    let payload = HostInvocation::new("ProcessOrder")
        .data("order", json!(r#"{"orderId":7}"#))
        .metadata("MessageId", json!("0c9e7d5b3a1f"))
        .metadata("DeliveryCount", json!(1))
        .metadata(
            "ApplicationProperties",
            json!({ "Diagnostic-Id": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }),
        );
    let answer = host
        .invoke("e2e-invocation-1", &payload)
        .await
        .expect("answered");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());

    let spans = collector
        .invocation_traces("e2e-invocation-1", ARRIVAL)
        .await
        .expect("the invocation's spans were exported before the answer");
    let server = spans
        .iter()
        .find(|s| s.view.name == "ProcessOrder")
        .expect("the invocation span");
    assert_eq!(server.view.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        server.view.attribute("faas.name"),
        Some("orders-app/ProcessOrder")
    );
    assert_eq!(
        server.view.attribute("cloud.resource_id"),
        Some(
            "/subscriptions/6e3a1f2b-0000-4000-8000-00000000cafe/resourceGroups/orders-rg/providers/Microsoft.Web/sites/orders-app/functions/ProcessOrder"
        )
    );
    assert_eq!(server.view.attribute("faas.coldstart"), Some("true"));
    assert_eq!(server.resource_attribute("cloud.provider"), Some("azure"));
    assert_eq!(
        server.resource_attribute("cloud.platform"),
        Some("azure.functions")
    );
    assert_eq!(
        server.resource_attribute("cloud.region"),
        Some("northeurope"),
        "REGION_NAME's display name, as the region's id"
    );
    assert_eq!(
        server.resource_attribute("faas.instance"),
        Some("7f3c9a1e5b")
    );
    assert_eq!(
        server.resource_attribute("service.instance.id"),
        Some("7f3c9a1e5b")
    );
    assert_eq!(
        server.resource_attribute("service.name"),
        Some("orders-app")
    );
    // The destination comes from the app root's ProcessOrder/function.json.
    let consumer = spans
        .iter()
        .find(|s| s.view.name == "process orders")
        .expect("the consumer span, named after function.json's queue");
    assert_eq!(
        consumer.view.attribute("messaging.system"),
        Some("servicebus")
    );

    let pid = handler.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), handler.wait())
        .await
        .expect("the handler stops after SIGTERM")
        .expect("exit status");
    assert!(exit.success(), "{exit:?}");
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

/// The fixture app: a one-second `functionTimeout`, the working directory `handler/`.
const FIXTURE_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixture/azure");

/// The fixture started as the host starts a custom handler, exporting to `collector`.
async fn hosted(collector: &Collector, env: &[(&str, &str)]) -> WorkerProcess {
    let mut settings = vec![(
        "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
        collector.endpoint(),
    )];
    settings.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    WorkerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_otel-faas-azure-fixture")),
        Vec::new(),
        Path::new(FIXTURE_ROOT),
        &settings,
        Output::Captured,
    )
    .await
    .expect("the custom handler starts and listens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_json_is_found_in_the_app_root_when_host_json_sets_a_working_directory() {
    let collector = Collector::start().await.expect("collector");
    let mut worker = hosted(&collector, &[]).await;
    let host = FunctionsHost::new(worker.addr());
    let order = HostInvocation::new("ProcessOrder").data("order", json!(r#"{"orderId":1}"#));
    let answer = host.invoke("wd-1", &order).await.expect("answered");
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.host_failure());
    let spans = collector
        .invocation_traces("wd-1", ARRIVAL)
        .await
        .expect("exported");
    // The queue comes from ProcessOrder/function.json, found through
    // FUNCTIONS_APP_ROOT_PATH, not in the working directory `handler/`.
    assert!(
        spans.iter().any(|s| s.view.name == "process orders"),
        "{:?}",
        spans.iter().map(|s| &s.view.name).collect::<Vec<_>>()
    );
    worker.terminate(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_invocation_is_exported_before_the_host_kills_the_worker_with_sigkill() {
    let collector = Collector::start().await.expect("collector");
    // A wide margin: the export must be in before the kill even on a loaded machine.
    let mut worker = hosted(&collector, &[("OTEL_FAAS_DEADLINE_MARGIN", "400")]).await;
    assert_eq!(worker.function_timeout(), Some(Duration::from_secs(1)));
    let host = FunctionsHost::new(worker.addr()).with_function_timeout(worker.function_timeout());
    let slow = HostInvocation::new("Slow").data("job", json!(r#"{"ms":60000}"#));
    let gave_up = host.invoke("slow-1", &slow).await.expect_err("timed out");
    assert_eq!(gave_up.kind(), std::io::ErrorKind::TimedOut);
    let killed = worker.kill_and_restart().await.expect("restarted");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(killed.signal(), Some(9), "SIGKILL, as Process.Kill()");
    }
    // Read once the worker is dead: only what it exported before the kill is there.
    let spans = collector.spans();
    let server = spans
        .iter()
        .find(|s| s.view.attribute("faas.invocation_id") == Some("slow-1"))
        .expect("the timed-out invocation's span was exported before the kill");
    assert_eq!(server.view.attribute("error.type"), Some("timeout"));
    let consumer = spans
        .iter()
        .find(|s| s.view.name == "process jobs")
        .expect("its consumer span too");
    assert_eq!(consumer.view.attribute("error.type"), Some("timeout"));
    assert!(
        collector
            .metrics()
            .iter()
            .any(|p| p.name == "faas.timeouts"),
        "the timeout is counted"
    );
    // The new worker serves the next invocation, a cold start again.
    let fast = HostInvocation::new("Slow").data("job", json!(r#"{"ms":0}"#));
    let answer = host.invoke("fast-1", &fast).await.expect("answered");
    assert_eq!(answer.status, StatusCode::OK);
    let spans = collector
        .invocation_traces("fast-1", ARRIVAL)
        .await
        .expect("exported");
    let server = spans
        .iter()
        .find(|s| s.view.attribute("faas.invocation_id") == Some("fast-1"))
        .unwrap();
    assert_eq!(server.view.attribute("faas.coldstart"), Some("true"));
    assert_eq!(worker.starts(), 2);
    worker.terminate(Duration::from_secs(5)).await.unwrap();
}

#[test]
fn the_local_host_prints_each_invocations_trace_and_metrics_without_an_export_warning() {
    // The fixture started by hand plays the host against itself, as `cargo run --example`.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otel-faas-azure-fixture"))
        .env_remove("FUNCTIONS_CUSTOMHANDLER_PORT")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_METRICS_EXPORTER")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_EXPORTER")
        .output()
        .expect("the fixture runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("└─ ProcessOrder  SERVER"), "{stdout}");
    assert!(
        stdout.contains("metrics  faas.invocations=1"),
        "the FaaS metrics reached the embedded collector:\n{stdout}\n{stderr}"
    );
    assert!(
        !stderr.contains("export of FaaS metrics failed") && !stderr.contains("WARN"),
        "{stderr}"
    );
}
