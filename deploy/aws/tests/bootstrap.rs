//! The two functions of `template.yaml`, the binaries `build.sh` lays out as
//! `target/lambda/<binary>/bootstrap`, started as Lambda starts a bootstrap: against the
//! Runtime API emulator, exporting to a collector on 127.0.0.1.

use std::path::Path;
use std::time::Duration;

use otel_faas_local::collector::Collector;
use otel_faas_local::emulator::{FunctionConfig, Invocation, InvocationResult, RuntimeApi};
use otel_faas_local::process::{FunctionProcess, Output};
use serde_json::{Value, json};

const ARRIVAL: Duration = Duration::from_secs(5);

fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../examples/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("JSON")
}

async fn start(function: &str, program: &str) -> (RuntimeApi, Collector, FunctionProcess) {
    let api = RuntimeApi::start(FunctionConfig::new(function))
        .await
        .expect("emulator");
    let collector = Collector::start().await.expect("collector");
    let env = [(
        "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
        collector.endpoint(),
    )];
    let process = FunctionProcess::spawn(Path::new(program), [], &api, &env, Output::Captured)
        .expect("the bootstrap starts");
    (api, collector, process)
}

#[tokio::test]
async fn orders_consumer_returns_the_unreadable_message_and_traces_each_one() {
    let (api, collector, process) =
        start("orders-consumer", env!("CARGO_BIN_EXE_orders-consumer")).await;
    let mut batch = event("sqs_batch.json");
    let bodies = [
        r#"{"orderId": 1001}"#,
        r#"{"orderId": 1002}"#,
        "not an order",
    ];
    for (record, body) in batch["Records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(bodies)
    {
        record["body"] = json!(body);
    }
    let bad = batch["Records"][2]["messageId"].clone();
    let invocation = Invocation::json(&batch).with_timeout(Duration::from_secs(30));
    let outcome = api.invoke(invocation).await;
    assert_eq!(
        outcome.response_json(),
        Some(json!({ "batchItemFailures": [{ "itemIdentifier": bad }] })),
        "{:?}; output: {:#?}",
        outcome.result,
        process.output()
    );
    let spans = collector
        .invocation_traces(&outcome.request_id, ARRIVAL)
        .await
        .expect("spans");
    let per_message = spans
        .iter()
        .filter(|s| s.view.name == "process orders")
        .count();
    assert_eq!(per_message, 4, "the batch span and one per message");
    assert!(spans.iter().any(|s| s.view.name == "ship order"));
}

#[tokio::test]
async fn orders_api_answers_and_names_its_span_by_route() {
    let (api, collector, process) = start("orders-api", env!("CARGO_BIN_EXE_orders-api")).await;
    let mut request = event("apigw_http_post_order.json");
    request["routeKey"] = json!("GET /orders/{id}");
    request["rawPath"] = json!("/orders/7");
    request["requestContext"]["http"]["method"] = json!("GET");
    request["requestContext"]["http"]["path"] = json!("/orders/7");
    request["requestContext"]["routeKey"] = json!("GET /orders/{id}");
    request["pathParameters"] = json!({ "id": "7" });
    let outcome = api.invoke(Invocation::json(&request)).await;
    let InvocationResult::Response(_) = &outcome.result else {
        panic!("{:?}; output: {:#?}", outcome.result, process.output());
    };
    let response = outcome.response_json().expect("JSON");
    assert_eq!(response["statusCode"], 200, "{response}");
    let spans = collector
        .invocation_traces(&outcome.request_id, ARRIVAL)
        .await
        .expect("spans");
    assert!(
        spans.iter().any(|s| s.view.name == "GET /orders/{id}"),
        "{:?}",
        spans.iter().map(|s| &s.view.name).collect::<Vec<_>>()
    );
}
