//! A custom handler started as the Functions host starts it: a real process with
//! `FUNCTIONS_CUSTOMHANDLER_PORT` and the app settings in its environment, invoked over
//! HTTP, exporting OTLP/HTTP to a collector on 127.0.0.1, and stopped with SIGTERM.
#![cfg(unix)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use http::StatusCode;
use otel_faas_local::azure::{FunctionsHost, HostInvocation};
use otel_faas_local::collector::Collector;
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
        Some("North Europe")
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
