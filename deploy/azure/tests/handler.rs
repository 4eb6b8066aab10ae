//! The custom handler of `app/`, started as the Functions host starts it (the app root as its
//! script root, `FUNCTIONS_CUSTOMHANDLER_PORT` set), invoked over HTTP, exporting OTLP/HTTP
//! to a collector on 127.0.0.1.
#![cfg(unix)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use otel_faas_local::azure::{FunctionsHost, HostInvocation};
use otel_faas_local::collector::Collector;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_order_reads_the_apps_function_json_and_exports_its_span() {
    let collector = Collector::start().await.expect("collector");
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap().port()
    };
    let _handler = Command::new(env!("CARGO_BIN_EXE_handler"))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env(
            "AzureWebJobsScriptRoot",
            concat!(env!("CARGO_MANIFEST_DIR"), "/app"),
        )
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("WEBSITE_SITE_NAME", "orders-app")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the handler starts");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let host = FunctionsHost::new(([127, 0, 0, 1], port).into());
    // As the host encodes a Service Bus message: the body as a JSON string.
    let payload = HostInvocation::new("ProcessOrder")
        .data("order", json!(r#"{"orderId":7}"#))
        .metadata("MessageId", json!("0c9e7d5b3a1f"))
        .metadata("DeliveryCount", json!(1));
    let answer = host
        .invoke("deploy-invocation-1", &payload)
        .await
        .expect("answered");
    assert!(answer.status.is_success(), "{}", answer.text());
    let spans = collector
        .invocation_traces("deploy-invocation-1", Duration::from_secs(5))
        .await
        .expect("spans");
    let consumer = spans
        .iter()
        .find(|s| s.view.kind == "CONSUMER")
        .expect("the Service Bus span");
    assert_eq!(
        consumer.view.name, "process orders",
        "the queue from app/ProcessOrder/function.json"
    );
}
