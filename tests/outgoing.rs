//! Passing the trace on: what the AWS SDK interceptor and `reqwest`'s `send_traced` put in
//! the request, the PRODUCER/CLIENT spans they open, and that each consumer trigger picks
//! the context back up — as a link (SQS, SNS) or as its parent (EventBridge `detail`,
//! a Lambda client context).
//!
//! The AWS SDK clients are real, with the SDK's own request-capturing HTTP client in place
//! of the network (`aws_smithy_http_client::test_util::capture_request`); `reqwest` sends to a
//! real HTTP server on loopback.

mod common;

use std::collections::HashMap;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_smithy_http_client::test_util::capture_request;
use aws_smithy_types::body::SdkBody;
use base64::Engine as _;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use otel_faas_runtime::config::Config;
use otel_faas_runtime::outgoing::aws_sdk::TraceInterceptor;
use otel_faas_runtime::outgoing::reqwest::SendTraced as _;
use otel_faas_runtime::outgoing::{LEFT_OUT, TraceContext};
use otel_faas_runtime::testing::{Invocation, SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const QUEUE_URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";
const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:order-events";
const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn kit_with(vars: &[(&str, &str)]) -> TestKit {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TestKit::with_config(Config::from_lookup(|key| vars.get(key).cloned()))
}

/// A caller's invocation: its trace in the client context, with baggage.
fn from_caller(traceparent: &str) -> Invocation {
    Invocation {
        client_context: Some(HashMap::from([
            ("traceparent".to_owned(), traceparent.to_owned()),
            ("baggage".to_owned(), "tenant=acme".to_owned()),
        ])),
        ..Invocation::default()
    }
}

fn answer(status: u16, body: &str) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("x-amzn-RequestId", "req-1")
        .body(SdkBody::from(body.to_owned()))
        .unwrap()
}

macro_rules! client {
    ($sdk:ident, $http:expr) => {{
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("eu-west-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKID", "SECRET", None, None, "test",
            ))
            .http_client($http)
            .interceptor(TraceInterceptor::new())
            .build();
        $sdk::Client::from_conf(config)
    }};
}

fn body_json(request: &aws_smithy_runtime_api::http::Request) -> Value {
    serde_json::from_slice(request.body().bytes().expect("a body in memory")).expect("JSON")
}

/// The `traceparent` of a span: what a consumer should continue from.
fn traceparent_of(span: &SpanData) -> String {
    let sc = &span.span_context;
    format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    )
}

/// What the span records as left out of its message.
fn left_out(span: &SpanData) -> Vec<String> {
    match span.attribute(LEFT_OUT) {
        Some(opentelemetry::Value::Array(opentelemetry::Array::String(keys))) => {
            keys.iter().map(|k| k.to_string()).collect()
        }
        None => vec![],
        Some(other) => panic!("{LEFT_OUT} is {other:?}"),
    }
}

fn xray_of(span: &SpanData) -> String {
    let trace = span.span_context.trace_id().to_string();
    format!(
        "Root=1-{}-{};Parent={};Sampled=1",
        &trace[..8],
        &trace[8..],
        span.span_context.span_id()
    )
}

// ---------------------------------------------------------------------------------------
// SQS

tokio::task_local! {
    static SQS: aws_sdk_sqs::Client;
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Order {
    /// How many message attributes of its own the caller sends.
    own_attributes: usize,
}

#[traced_function(trigger = "other")]
async fn place_order(event: LambdaEvent<Order>) -> Result<(), Error> {
    let sqs = SQS.with(Clone::clone);
    let mut send = sqs
        .send_message()
        .queue_url(QUEUE_URL)
        .message_body(r#"{"order":7}"#);
    for n in 0..event.payload.own_attributes {
        let value = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(format!("value-{n}"))
            .build()?;
        send = send.message_attributes(format!("own-{n}"), value);
    }
    send.send().await?;
    Ok(())
}

#[traced_function(trigger = "sqs")]
async fn fulfil(_event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    Ok(())
}

/// Sends one message from `place_order`; returns what went over the wire.
async fn send_order(kit: &TestKit, own_attributes: usize, invocation: Invocation) -> Value {
    let (http, request) = capture_request(Some(answer(
        200,
        r#"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"x"}"#,
    )));
    let sqs = client!(aws_sdk_sqs, http);
    SQS.scope(
        sqs,
        kit.invoke_with(
            place_order,
            json!({ "own_attributes": own_attributes }),
            invocation,
        ),
    )
    .await
    .expect("sent");
    let request = request.expect_request();
    assert_eq!(
        request.headers().get("x-amz-target"),
        Some("AmazonSQS.SendMessage")
    );
    body_json(&request)
}

/// The message SQS delivers to a Lambda consumer for a `SendMessage` request body.
fn delivered(sent: &Value) -> Value {
    let mut attributes =
        json!({ "ApproximateReceiveCount": "1", "SentTimestamp": "1732100000000" });
    if let Some(header) = sent["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"].as_str()
    {
        attributes["AWSTraceHeader"] = header.into();
    }
    let message_attributes: serde_json::Map<String, Value> = sent["MessageAttributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let value = json!({
                "stringValue": value["StringValue"], "dataType": value["DataType"],
                "stringListValues": [], "binaryListValues": []
            });
            (name.clone(), value)
        })
        .collect();
    json!({ "Records": [{
        "messageId": "5fea7756-0ea4-451a-a703-a558b933e274", "receiptHandle": "r",
        "body": sent["MessageBody"], "attributes": attributes,
        "messageAttributes": message_attributes, "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:orders", "awsRegion": "eu-west-1"
    }]})
}

#[tokio::test]
async fn an_sqs_send_is_a_producer_span_whose_context_travels_in_aws_trace_header() {
    let kit = TestKit::new();
    let sent = send_order(&kit, 1, from_caller(CALLER)).await;

    let spans = kit.spans();
    let producer = spans.named("send orders");
    assert_eq!(producer.span_kind, SpanKind::Producer);
    assert_eq!(
        spans.parent_of(producer).map(|p| p.name.as_ref()),
        Some("test-function")
    );
    assert_eq!(
        producer.attr("messaging.system").as_deref(),
        Some("aws_sqs")
    );
    assert_eq!(
        producer.attr("messaging.operation.type").as_deref(),
        Some("send")
    );
    assert_eq!(
        producer.attr("messaging.destination.name").as_deref(),
        Some("orders")
    );
    assert_eq!(
        producer.attr("aws.sqs.queue.url").as_deref(),
        Some(QUEUE_URL)
    );
    assert_eq!(
        producer.attr("server.address").as_deref(),
        Some("sqs.eu-west-1.amazonaws.com")
    );
    assert_eq!(
        producer.attr("messaging.message.id").as_deref(),
        Some("5fea7756-0ea4-451a-a703-a558b933e274")
    );
    assert_eq!(producer.attr("aws.request_id").as_deref(), Some("req-1"));
    // Built on the span of every AWS SDK call: the AWS SDK attributes too.
    assert_eq!(producer.attr("rpc.system").as_deref(), Some("aws-api"));
    assert_eq!(producer.attr("rpc.service").as_deref(), Some("SQS"));
    assert_eq!(producer.attr("rpc.method").as_deref(), Some("SendMessage"));
    assert_eq!(producer.attr("cloud.region").as_deref(), Some("eu-west-1"));
    assert!(left_out(producer).is_empty());

    // The producer span, not the invocation, is what the message carries.
    let attributes = &sent["MessageAttributes"];
    assert_eq!(
        sent["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
        xray_of(producer)
    );
    assert_eq!(
        attributes["traceparent"]["StringValue"],
        traceparent_of(producer)
    );
    assert_eq!(attributes["traceparent"]["DataType"], "String");
    assert_eq!(attributes["baggage"]["StringValue"], "tenant=acme");
    assert_eq!(
        attributes["own-0"]["StringValue"], "value-0",
        "the caller's attribute is kept"
    );

    // The consumer's batch span links to the producer span.
    kit.invoke(fulfil, delivered(&sent))
        .await
        .expect("consumed");
    let spans = kit.spans();
    let process = spans.named("process orders");
    let links: Vec<_> = process.links.iter().map(|l| &l.span_context).collect();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].trace_id(), producer.span_context.trace_id());
    assert_eq!(links[0].span_id(), producer.span_context.span_id());
}

#[tokio::test]
async fn a_message_with_ten_attributes_of_its_own_keeps_them_and_the_trace_rides_in_aws_trace_header()
 {
    let kit = TestKit::new();
    let sent = send_order(&kit, 10, from_caller(CALLER)).await;

    let attributes = sent["MessageAttributes"].as_object().unwrap();
    assert_eq!(attributes.len(), 10, "{attributes:?}");
    assert!(attributes.keys().all(|k| k.starts_with("own-")));
    let producer = kit.spans().named("send orders").clone();
    assert_eq!(
        sent["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
        xray_of(&producer)
    );
    assert_eq!(left_out(&producer), ["traceparent", "baggage"]);
    // Still linked: the consumer reads AWSTraceHeader.
    kit.invoke(fulfil, delivered(&sent))
        .await
        .expect("consumed");
    let process = kit.spans().named("process orders").clone();
    assert_eq!(
        process.links[0].span_context.span_id(),
        producer.span_context.span_id()
    );
}

#[tokio::test]
async fn with_room_for_one_more_the_trace_keeps_traceparent_and_leaves_out_baggage() {
    let kit = TestKit::new();
    let sent = send_order(&kit, 9, from_caller(CALLER)).await;

    let attributes = sent["MessageAttributes"].as_object().unwrap();
    assert_eq!(attributes.len(), 10);
    assert!(attributes.contains_key("traceparent"));
    assert!(!attributes.contains_key("baggage"));
    let producer = kit.spans().named("send orders").clone();
    assert_eq!(left_out(&producer), ["baggage"]);
}

#[tokio::test]
async fn a_trace_that_was_not_sampled_is_passed_on_unsampled() {
    // No keep rules, so the head sampler's decision is the only one.
    let kit = kit_with(&[("OTEL_FAAS_KEEP", "none")]);
    let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let sent = send_order(&kit, 0, from_caller(unsampled)).await;

    let traceparent = sent["MessageAttributes"]["traceparent"]["StringValue"]
        .as_str()
        .expect("traceparent sent");
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(traceparent.ends_with("-00"), "{traceparent}");
    assert_ne!(
        &traceparent[36..52],
        "00f067aa0ba902b7",
        "the producer span is the parent"
    );
    let header = sent["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]
        .as_str()
        .unwrap();
    assert!(header.ends_with("Sampled=0"), "{header}");
    assert!(
        kit.spans().is_empty(),
        "nothing of an unsampled trace is exported"
    );

    // A consumer that continues the trace (EventBridge, parent from `detail`) records nothing.
    let event = bridge_event(json!({ "order": 7, "traceContext": { "traceparent": traceparent } }));
    kit.invoke(continue_from_detail, event)
        .await
        .expect("consumed");
    assert!(kit.spans().is_empty());
}

#[tokio::test]
async fn with_propagation_off_the_message_carries_nothing_but_the_send_is_still_traced() {
    let kit = kit_with(&[("OTEL_PROPAGATORS", "none")]);
    let sent = send_order(&kit, 1, Invocation::default()).await;
    assert_eq!(sent.get("MessageSystemAttributes"), None);
    assert_eq!(
        sent["MessageAttributes"].as_object().map(|a| a.len()),
        Some(1),
        "{sent}"
    );
    assert_eq!(
        kit.spans().named("send orders").span_kind,
        SpanKind::Producer
    );
}

#[tokio::test]
async fn a_failed_send_is_recorded_on_the_producer_span_with_the_aws_error_code() {
    let kit = TestKit::new();
    let (http, _request) = capture_request(Some(answer(
        400,
        r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
    )));
    let sqs = client!(aws_sdk_sqs, http);
    let result = SQS.scope(sqs, kit.invoke(place_order, json!({}))).await;
    assert!(result.is_err());
    let producer = kit.spans().named("send orders").clone();
    assert!(matches!(producer.status, Status::Error { .. }));
    assert_eq!(
        producer.attr("error.type").as_deref(),
        Some("QueueDoesNotExist")
    );
}

#[traced_function(trigger = "other")]
async fn place_orders(_event: LambdaEvent<Value>) -> Result<(), Error> {
    let sqs = SQS.with(Clone::clone);
    let entry = |id: &str| {
        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(format!(r#"{{"order":"{id}"}}"#))
            .build()
    };
    sqs.send_message_batch()
        .queue_url(QUEUE_URL)
        .entries(entry("a")?)
        .entries(entry("b")?)
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_batch_send_is_one_producer_span_that_every_message_carries() {
    let kit = TestKit::new();
    let (http, request) = capture_request(Some(answer(
        200,
        r#"{"Successful":[{"Id":"a","MessageId":"m-a","MD5OfMessageBody":"x"}],"Failed":[{"Id":"b","Code":"InternalError","SenderFault":false,"Message":"try again"}]}"#,
    )));
    let sqs = client!(aws_sdk_sqs, http);
    SQS.scope(sqs, kit.invoke(place_orders, json!({})))
        .await
        .expect("sent");
    let body = body_json(&request.expect_request());
    let spans = kit.spans();
    let producer = spans.named("send orders");
    assert_eq!(
        producer.attr("messaging.batch.message_count").as_deref(),
        Some("2")
    );
    for entry in body["Entries"].as_array().unwrap() {
        assert_eq!(
            entry["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
            xray_of(producer)
        );
        assert_eq!(
            entry["MessageAttributes"]["traceparent"]["StringValue"],
            traceparent_of(producer)
        );
    }
    assert_eq!(
        producer.attr("error.type").as_deref(),
        Some("InternalError")
    );
    assert_eq!(
        common::error_of(producer).as_deref(),
        Some("1 of 2 messages were not sent")
    );
}

// ---------------------------------------------------------------------------------------
// SNS

tokio::task_local! {
    static SNS: aws_sdk_sns::Client;
}

#[traced_function(trigger = "other")]
async fn announce(_event: LambdaEvent<Value>) -> Result<(), Error> {
    let sns = SNS.with(Clone::clone);
    let kind = aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value("order-placed")
        .build()?;
    sns.publish()
        .topic_arn(TOPIC_ARN)
        .message(r#"{"order":7}"#)
        .message_attributes("kind", kind)
        .send()
        .await?;
    Ok(())
}

#[traced_function(trigger = "sns")]
async fn on_announcement(_event: LambdaEvent<SnsEvent>) -> Result<(), Error> {
    Ok(())
}

/// The form fields of an AWS Query request body.
fn form(body: &[u8]) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

#[tokio::test]
async fn an_sns_publish_carries_the_producer_span_in_message_attributes_and_the_subscriber_links_to_it()
 {
    let kit = TestKit::new();
    let (http, request) = capture_request(Some(answer(
        200,
        "<PublishResponse xmlns=\"https://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></PublishResponse>",
    )));
    let sns = client!(aws_sdk_sns, http);
    SNS.scope(
        sns,
        kit.invoke_with(announce, json!({}), from_caller(CALLER)),
    )
    .await
    .expect("published");

    let fields = form(request.expect_request().body().bytes().unwrap());
    let attributes: HashMap<&str, &str> = (1..=10)
        .filter_map(|n| {
            let name = fields.get(&format!("MessageAttributes.entry.{n}.Name"))?;
            let value = fields.get(&format!("MessageAttributes.entry.{n}.Value.StringValue"))?;
            Some((name.as_str(), value.as_str()))
        })
        .collect();
    let spans = kit.spans();
    let producer = spans.named("publish order-events");
    assert_eq!(producer.span_kind, SpanKind::Producer);
    assert_eq!(
        producer.attr("messaging.system").as_deref(),
        Some("aws.sns")
    );
    assert_eq!(
        producer.attr("aws.sns.topic.arn").as_deref(),
        Some(TOPIC_ARN)
    );
    assert_eq!(
        producer.attr("messaging.message.id").as_deref(),
        Some("94f20ce6-13c5-43a0-9a9e-ca52d816e90b")
    );
    assert_eq!(
        attributes.get("traceparent").copied(),
        Some(traceparent_of(producer).as_str())
    );
    assert_eq!(attributes.get("kind").copied(), Some("order-placed"));

    // SNS delivers the attributes to Lambda as `MessageAttributes: {name: {Type, Value}}`.
    let mut event = common::sample("sns_single");
    let delivered: serde_json::Map<String, Value> = attributes
        .iter()
        .map(|(k, v)| (k.to_string(), json!({ "Type": "String", "Value": v })))
        .collect();
    event["Records"][0]["Sns"]["MessageAttributes"] = Value::Object(delivered);
    event["Records"][0]["Sns"]["TopicArn"] = TOPIC_ARN.into();
    kit.invoke(on_announcement, event).await.expect("consumed");
    let spans = kit.spans();
    let process = spans.named("process order-events");
    assert_eq!(
        process.links[0].span_context.span_id(),
        producer.span_context.span_id()
    );
}

// ---------------------------------------------------------------------------------------
// EventBridge

tokio::task_local! {
    static EVENTS: aws_sdk_eventbridge::Client;
}

#[traced_function(trigger = "other")]
async fn emit(_event: LambdaEvent<Value>) -> Result<(), Error> {
    let events = EVENTS.with(Clone::clone);
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source("shop.orders")
        .detail_type("OrderPlaced")
        .detail(r#"{"order":7}"#)
        .event_bus_name("orders-bus")
        .build();
    events.put_events().entries(entry).send().await?;
    Ok(())
}

#[traced_function(trigger = "eventbridge", parent_from = "detail")]
async fn continue_from_detail(_event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<(), Error> {
    Ok(())
}

fn bridge_event(detail: Value) -> Value {
    json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "OrderPlaced",
        "source": "shop.orders", "account": "123456789012", "time": "2026-11-21T12:00:00Z",
        "region": "eu-west-1", "resources": [], "detail": detail
    })
}

#[tokio::test]
async fn put_events_carries_the_producer_span_in_trace_header_and_detail_and_the_target_continues_it()
 {
    let kit = TestKit::new();
    let (http, request) = capture_request(Some(answer(
        200,
        r#"{"FailedEntryCount":0,"Entries":[{"EventId":"11710aed-b79e-4468-a20b-bb3c0c3b4860"}]}"#,
    )));
    let events = client!(aws_sdk_eventbridge, http);
    EVENTS
        .scope(
            events,
            kit.invoke_with(emit, json!({}), from_caller(CALLER)),
        )
        .await
        .expect("put");

    let body = body_json(&request.expect_request());
    let entry = &body["Entries"][0];
    let spans = kit.spans();
    let producer = spans.named("publish orders-bus");
    assert_eq!(producer.span_kind, SpanKind::Producer);
    assert_eq!(
        producer.attr("messaging.system").as_deref(),
        Some("aws.eventbridge")
    );
    assert_eq!(
        producer.attr("messaging.message.id").as_deref(),
        Some("11710aed-b79e-4468-a20b-bb3c0c3b4860")
    );
    assert_eq!(entry["TraceHeader"], xray_of(producer));
    let detail: Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["order"], 7, "the event's own detail is kept");
    assert_eq!(
        detail["traceContext"]["traceparent"],
        traceparent_of(producer)
    );

    kit.invoke(continue_from_detail, bridge_event(detail))
        .await
        .expect("consumed");
    let spans = kit.spans();
    let targets: Vec<_> = spans
        .all_named("test-function")
        .into_iter()
        .filter(|s| s.parent_span_id == producer.span_context.span_id())
        .collect();
    assert_eq!(
        targets.len(),
        1,
        "the target's invocation is the producer span's child"
    );
    assert_eq!(
        targets[0].span_context.trace_id(),
        producer.span_context.trace_id()
    );
}

// ---------------------------------------------------------------------------------------
// Lambda invoke

tokio::task_local! {
    static LAMBDA: (aws_sdk_lambda::Client, Option<String>);
}

#[traced_function(trigger = "other")]
async fn delegate(_event: LambdaEvent<Value>) -> Result<(), Error> {
    let (lambda, client_context) = LAMBDA.with(Clone::clone);
    lambda
        .invoke()
        .function_name("arn:aws:lambda:eu-central-1:123456789012:function:price-order:live")
        .set_client_context(client_context)
        .send()
        .await?;
    Ok(())
}

#[traced_function(trigger = "other")]
async fn price_order(_event: LambdaEvent<Value>) -> Result<(), Error> {
    Ok(())
}

async fn invoke_downstream(kit: &TestKit, client_context: Option<String>) -> Value {
    let (http, request) = capture_request(Some(answer(200, "{}")));
    let lambda = client!(aws_sdk_lambda, http);
    LAMBDA
        .scope(
            (lambda, client_context),
            kit.invoke_with(delegate, json!({}), from_caller(CALLER)),
        )
        .await
        .expect("invoked");
    let request = request.expect_request();
    let encoded = request
        .headers()
        .get("x-amz-client-context")
        .expect("a client context");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    serde_json::from_slice(&decoded).expect("JSON")
}

#[tokio::test]
async fn an_invoke_is_a_client_span_whose_context_travels_in_the_client_context() {
    let kit = TestKit::new();
    let own = base64::engine::general_purpose::STANDARD
        .encode(r#"{"custom":{"app":"checkout"},"env":{"locale":"de"}}"#);
    let client_context = invoke_downstream(&kit, Some(own)).await;

    let spans = kit.spans();
    let client = spans.named("invoke price-order");
    assert_eq!(client.span_kind, SpanKind::Client);
    assert_eq!(
        client.attr("faas.invoked_name").as_deref(),
        Some("price-order")
    );
    assert_eq!(client.attr("faas.invoked_provider").as_deref(), Some("aws"));
    assert_eq!(client.attr("rpc.method").as_deref(), Some("Invoke"));
    assert_eq!(
        client.attr("faas.invoked_region").as_deref(),
        Some("eu-central-1")
    );
    let custom = &client_context["custom"];
    assert_eq!(custom["traceparent"], traceparent_of(client));
    assert_eq!(custom["app"], "checkout", "the caller's entries are kept");
    assert_eq!(client_context["env"]["locale"], "de");
}

#[traced_function(trigger = "other")]
async fn delegate_async(_event: LambdaEvent<Value>) -> Result<(), Error> {
    let (lambda, _) = LAMBDA.with(Clone::clone);
    lambda
        .invoke()
        .function_name("price-order")
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn an_asynchronous_invoke_carries_the_client_span_in_its_xray_header_for_xray_lambda() {
    let kit = kit_with(&[("OTEL_PROPAGATORS", "tracecontext,baggage,xray-lambda")]);
    let (http, request) = capture_request(Some(answer(202, "")));
    let lambda = client!(aws_sdk_lambda, http);
    LAMBDA
        .scope(
            (lambda, None),
            kit.invoke_with(delegate_async, json!({}), from_caller(CALLER)),
        )
        .await
        .expect("invoked");
    let request = request.expect_request();
    let client = kit.spans().named("invoke price-order").clone();
    assert_eq!(
        client.attr("faas.invoked_region").as_deref(),
        Some("eu-west-1")
    );
    let header = request
        .headers()
        .get("x-amzn-trace-id")
        .expect("an X-Ray header");
    assert_eq!(header, xray_of(&client));

    // Lambda hands that header to the invoked function as its `Lambda-Runtime-Trace-Id`.
    kit.clear();
    let invocation = Invocation {
        xray_trace_id: Some(header.to_owned()),
        ..Invocation::default()
    };
    kit.invoke_with(price_order, json!({}), invocation)
        .await
        .expect("invoked");
    let invoked = kit.spans().named("test-function").clone();
    assert_eq!(
        invoked.span_context.trace_id(),
        client.span_context.trace_id()
    );
    assert_eq!(invoked.parent_span_id, client.span_context.span_id());
}

#[tokio::test]
async fn a_client_context_with_no_room_for_the_trace_is_sent_as_it_was() {
    let kit = TestKit::new();
    let big = format!(r#"{{"custom":{{"blob":"{}"}}}}"#, "x".repeat(2600));
    let own = base64::engine::general_purpose::STANDARD.encode(&big);
    let sent = invoke_downstream(&kit, Some(own)).await;
    assert_eq!(
        sent,
        serde_json::from_str::<Value>(&big).unwrap(),
        "unchanged"
    );
    let client = kit.spans().named("invoke price-order").clone();
    assert_eq!(left_out(&client), ["client_context"]);
}

#[tokio::test]
async fn the_invoked_function_continues_the_callers_trace() {
    let kit = TestKit::new();
    let client_context = invoke_downstream(&kit, None).await;
    let client = kit.spans().named("invoke price-order").clone();
    let custom: HashMap<String, String> =
        serde_json::from_value(client_context["custom"].clone()).unwrap();
    kit.clear();
    kit.invoke_with(
        price_order,
        json!({}),
        Invocation {
            client_context: Some(custom),
            ..Invocation::default()
        },
    )
    .await
    .expect("invoked");
    let invoked = kit.spans().named("test-function").clone();
    assert_eq!(
        invoked.span_context.trace_id(),
        client.span_context.trace_id()
    );
    assert_eq!(invoked.parent_span_id, client.span_context.span_id());
}

// ---------------------------------------------------------------------------------------
// reqwest, and headers by hand

/// A one-request HTTP server on loopback: answers `status` and returns the request head.
async fn http_server(status: u16) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let served = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let response =
            format!("HTTP/1.1 {status} Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        stream.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8(head).unwrap().to_ascii_lowercase()
    });
    (format!("http://{address}"), served)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

tokio::task_local! {
    static BASE: String;
}

#[traced_function(trigger = "other")]
async fn call_api(_event: LambdaEvent<Value>) -> Result<u16, Error> {
    let url = format!("{}/orders/7?page=2&api_key=s3cr3t", BASE.with(Clone::clone));
    let response = reqwest::Client::new()
        .get(url)
        .header("x-request-id", "abc")
        .header("baggage", "tenant=own")
        .send_traced()
        .await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn a_reqwest_call_is_a_client_span_and_carries_the_trace_headers_next_to_the_callers() {
    let kit = TestKit::new();
    let (base, served) = http_server(503).await;
    let status = BASE
        .scope(
            base.clone(),
            kit.invoke_with(call_api, json!({}), from_caller(CALLER)),
        )
        .await
        .expect("called");
    assert_eq!(status, 503);
    let head = served.await.unwrap();

    let spans = kit.spans();
    let client = spans.named("GET");
    assert_eq!(client.span_kind, SpanKind::Client);
    assert_eq!(
        spans.parent_of(client).map(|p| p.name.as_ref()),
        Some("test-function")
    );
    assert_eq!(client.attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(client.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        client.attr("url.full").as_deref(),
        Some(format!("{base}/orders/7?page=2&api_key=REDACTED").as_str())
    );
    assert_eq!(
        client.attr("http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(client.attr("error.type").as_deref(), Some("503"));
    assert!(matches!(client.status, Status::Error { .. }));

    assert_eq!(
        header(&head, "traceparent"),
        Some(traceparent_of(client).as_str())
    );
    assert_eq!(
        header(&head, "x-request-id"),
        Some("abc"),
        "the caller's header is kept"
    );
    assert_eq!(
        header(&head, "baggage"),
        Some("tenant=own"),
        "the caller's baggage entry wins over the context's"
    );
}

#[traced_function(trigger = "other")]
async fn headers_by_hand(_event: LambdaEvent<Value>) -> Result<Vec<(String, String)>, Error> {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01".parse()?,
    );
    headers.insert("baggage", "region=eu".parse()?);
    TraceContext::current().inject_headers(&mut headers);
    Ok(headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect())
}

#[tokio::test]
async fn injecting_by_hand_replaces_a_stale_traceparent_merges_baggage_and_adds_xray_when_configured()
 {
    let kit = kit_with(&[("OTEL_PROPAGATORS", "tracecontext,baggage,xray")]);
    let headers: HashMap<String, String> = kit
        .invoke_with(headers_by_hand, json!({}), from_caller(CALLER))
        .await
        .expect("ran")
        .into_iter()
        .collect();
    let invocation = kit.spans().named("test-function").clone();
    assert_eq!(headers["traceparent"], traceparent_of(&invocation));
    assert_eq!(headers["baggage"], "region=eu,tenant=acme");
    assert_eq!(headers["x-amzn-trace-id"], xray_of(&invocation));
}

#[tokio::test]
async fn outside_an_invocation_nothing_is_injected() {
    let mut headers = http::HeaderMap::new();
    TraceContext::current().inject_headers(&mut headers);
    assert!(headers.is_empty());
    assert_eq!(TraceContext::current().xray_header(), None);
}

// ---------------------------------------------------------------------------------------
// X-Ray headers: what they carry (Root, Parent, Sampled, Lineage) and what they do not

/// Everything a handler writes downstream: the headers `inject_headers` writes, the X-Ray
/// header of `AWSTraceHeader` and EventBridge's `TraceHeader`, an EventBridge `detail`,
/// a client context, and SQS message attributes.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Written {
    headers: HashMap<String, String>,
    xray_header: Option<String>,
    detail: Value,
    client_context: Value,
    attributes: Vec<(String, String)>,
}

#[traced_function(trigger = "other")]
async fn write_everything(_event: LambdaEvent<Value>) -> Result<Written, Error> {
    let trace = TraceContext::current();
    let mut headers = http::HeaderMap::new();
    trace.inject_headers(&mut headers);
    let mut detail = json!({ "order": 7 });
    trace.inject_json(&mut detail);
    let client_context = trace.client_context(None)?.unwrap_or_default();
    let client_context = base64::engine::general_purpose::STANDARD.decode(client_context)?;
    Ok(Written {
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        xray_header: trace.xray_header(),
        detail,
        client_context: serde_json::from_slice(&client_context)?,
        attributes: trace.message_attributes([], 10).fields,
    })
}

/// `Root=1-{8}-{24};Parent={16};Sampled={0|1}` and nothing else, for `span`.
fn xray_for(span: &SpanData, sampled: char) -> String {
    xray_of(span).replace("Sampled=1", &format!("Sampled={sampled}"))
}

/// A W3C `tracestate` a Datadog-instrumented caller sends (`;` and `:` inside values).
const DATADOG_TRACESTATE: &str = "dd=s:2;o:rum;t.dm:-5,vendor=x";

#[tokio::test]
async fn tracestate_is_not_copied_into_the_xray_headers_written() {
    let kit = kit_with(&[("OTEL_PROPAGATORS", "tracecontext,baggage,xray")]);
    // 32 members, the most W3C allows (255 bytes, under its 512).
    let long: Vec<String> = (0..32).map(|n| format!("k{n:02}=v{n:02}")).collect();
    for tracestate in [DATADOG_TRACESTATE.to_owned(), long.join(",")] {
        kit.clear();
        let caller = Invocation {
            client_context: Some(HashMap::from([
                ("traceparent".to_owned(), CALLER.to_owned()),
                ("tracestate".to_owned(), tracestate.clone()),
            ])),
            ..Invocation::default()
        };
        let written = kit
            .invoke_with(write_everything, json!({}), caller)
            .await
            .expect("ran");
        let invocation = kit.spans().named("test-function").clone();
        let xray = xray_for(&invocation, '1');
        assert_eq!(written.headers["x-amzn-trace-id"], xray, "{tracestate}");
        assert_eq!(written.xray_header.as_deref(), Some(xray.as_str()));
        assert_eq!(written.detail["traceContext"]["AWSTraceHeader"], xray);
        // The W3C header still carries it, unchanged.
        assert_eq!(written.headers["tracestate"], tracestate);
    }
}

/// What Lambda sends as `Lambda-Runtime-Trace-Id` when recursive-loop detection tracks the
/// invocation (the lineage as in an SQS `AWSTraceHeader` Lambda delivered).
const WITH_LINEAGE: &str = "Root=1-b5a9daed-357f662c2c285cf280b61d38;Parent=6654c0335342e1d2;Sampled=1;Lineage=1:fe460cdd:0";

#[tokio::test]
async fn xray_lineage_does_not_leak_into_tracestate_and_goes_on_in_xray_headers() {
    let kit = kit_with(&[("OTEL_PROPAGATORS", "tracecontext,baggage,xray-lambda")]);
    let invocation = Invocation {
        xray_trace_id: Some(WITH_LINEAGE.to_owned()),
        ..Invocation::default()
    };
    let written = kit
        .invoke_with(write_everything, json!({}), invocation)
        .await
        .expect("ran");
    let invocation = kit.spans().named("test-function").clone();
    assert_eq!(
        invocation.span_context.trace_id().to_string(),
        "b5a9daed357f662c2c285cf280b61d38"
    );
    assert_eq!(invocation.span_context.trace_state().header(), "");

    let xray = format!("{};Lineage=1:fe460cdd:0", xray_for(&invocation, '1'));
    assert_eq!(written.headers["x-amzn-trace-id"], xray);
    assert_eq!(written.xray_header.as_deref(), Some(xray.as_str()));
    assert_eq!(written.detail["traceContext"]["AWSTraceHeader"], xray);
    // Nowhere else: not in `tracestate` (not written at all), nor in any other value.
    assert_eq!(written.headers.get("tracestate"), None);
    assert_eq!(written.detail["traceContext"].get("tracestate"), None);
    assert_eq!(written.client_context["custom"].get("tracestate"), None);
    // Nowhere else either: the other values written carry no lineage.
    let custom = written.client_context["custom"]
        .as_object()
        .expect("custom");
    let w3c = written
        .headers
        .iter()
        .chain(written.attributes.iter().map(|(k, v)| (k, v)))
        .map(|(k, v)| (k.as_str(), v.clone()))
        .chain(custom.iter().map(|(k, v)| (k.as_str(), v.to_string())))
        .filter(|(key, _)| !key.eq_ignore_ascii_case("x-amzn-trace-id"));
    for (key, value) in w3c {
        assert!(
            !value.to_ascii_lowercase().contains("lineage"),
            "{key}: {value}"
        );
    }
    assert!(
        written
            .attributes
            .iter()
            .all(|(key, _)| key != "tracestate"),
        "{:?}",
        written.attributes
    );
}

#[tokio::test]
async fn xray_sampled_question_mark_is_decided_by_the_local_sampler_not_dropped() {
    let requested = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?";
    let without_decision = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8";
    for (sampler, sampled) in [
        ("parentbased_always_on", '1'),
        ("parentbased_always_off", '0'),
    ] {
        for header in [requested, without_decision] {
            let kit = kit_with(&[
                ("OTEL_PROPAGATORS", "tracecontext,baggage,xray-lambda"),
                ("OTEL_TRACES_SAMPLER", sampler),
                // Recorded whatever the decision, to read what the span would have carried.
                ("OTEL_FAAS_KEEP", "coldstarts"),
            ]);
            let invocation = Invocation {
                xray_trace_id: Some(header.to_owned()),
                ..Invocation::default()
            };
            let written = kit
                .invoke_with(write_everything, json!({}), invocation)
                .await
                .expect("ran");
            let spans = kit.spans();
            let span = spans.named("test-function");
            // The caller's trace and parent are kept either way.
            assert_eq!(
                span.span_context.trace_id().to_string(),
                "5759e988bd862e3fe1be46a994272793"
            );
            assert_eq!(span.parent_span_id.to_string(), "53995c3f42cd8ad8");
            // The decision is the local sampler's, and goes on as `1` or `0`, never `?`.
            let xray = written.xray_header.expect("an X-Ray header");
            assert!(
                xray.ends_with(&format!(";Sampled={sampled}")),
                "{sampler}: {xray}"
            );
            let flags = if sampled == '1' { "01" } else { "00" };
            assert!(
                written.headers["traceparent"].ends_with(flags),
                "{sampler}: {}",
                written.headers["traceparent"]
            );
        }
    }
}
