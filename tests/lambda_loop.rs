//! End to end through the real `lambda_runtime` loop: a function process (the fixture
//! binary) served by `otel_faas_runtime::lambda::run` against the Runtime API emulator on
//! 127.0.0.1, exporting OTLP/HTTP protobuf to a collector on 127.0.0.1 that decodes it.
//! The assertions are on what the collector received, and on what the platform saw.

use std::time::Duration;

use otel_faas_local::collector::{AttributeValue, Collector, MetricValue, ReceivedSpan};
use otel_faas_local::emulator::{FunctionConfig, Invocation, InvocationResult};
use serde_json::{Value, json};
use tokio::net::TcpListener;

mod platform;

use platform::{ARRIVAL, FUNCTION, Platform, logged, named, sample, string};

#[tokio::test]
async fn an_sqs_batch_through_the_real_loop_is_exported_over_otlp() {
    let platform = Platform::start("sqs", &[]).await;
    let outcome = platform.invoke(sample("sqs_batch.json")).await;
    let response = outcome.response_json().expect("a JSON response");
    assert_eq!(
        response,
        json!({ "batchItemFailures": [{ "itemIdentifier": "c80e8021-a70a-42c7-a470-796e1186f753" }] })
    );

    let spans = platform.trace_of(&outcome.request_id).await;
    let invocation = named(&spans, FUNCTION);
    assert_eq!(invocation.view.kind, "SERVER");
    assert_eq!(
        invocation.attribute("faas.trigger").cloned(),
        string("pubsub")
    );
    assert_eq!(
        invocation.attribute("faas.coldstart"),
        Some(&AttributeValue::Bool(true))
    );
    assert_eq!(
        invocation.attribute("cloud.account.id").cloned(),
        string("123456789012")
    );
    assert_eq!(
        invocation.attribute("cloud.resource_id").cloned(),
        string(&format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"
        ))
    );

    let batch = named(&spans, "process orders");
    assert_eq!(batch.view.kind, "CONSUMER");
    assert_eq!(batch.view.parent_span_id, invocation.view.span_id);
    assert_eq!(
        batch.attribute("messaging.system").cloned(),
        string("aws_sqs")
    );
    assert_eq!(
        batch.attribute("messaging.batch.message_count"),
        Some(&AttributeValue::Int(3))
    );
    let links: Vec<(&str, &str)> = batch
        .view
        .links
        .iter()
        .map(|(t, s, _)| (t.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            ("6712c2a15e3f8b0d4a9c7e2f1b6d3a8c", "3b1f5d7e9a2c4e6f"),
            ("6712c2a40c9e8d7f6a5b4c3d2e1f0a9b", "7c2d4e6f8a0b1c3d")
        ]
    );
    assert_eq!(batch.view.error.as_deref(), Some("1 of 3 messages failed"));

    // The resource the function detected from the Lambda environment it was started with.
    for (key, value) in [
        ("service.name", FUNCTION),
        ("cloud.provider", "aws"),
        ("cloud.platform", "aws_lambda"),
        ("cloud.region", "us-east-1"),
        ("faas.name", FUNCTION),
        ("faas.version", "$LATEST"),
        ("faas.max_memory", "134217728"),
    ] {
        assert_eq!(
            invocation.resource_attribute(key),
            Some(value),
            "{key}: {:?}",
            invocation.resource
        );
    }
    assert!(invocation.resource_attribute("faas.instance").is_some());
    assert_eq!(invocation.scope, "otel-faas");
}

#[tokio::test]
async fn an_http_request_continues_the_callers_trace_and_answers_with_it() {
    let platform = Platform::start("http", &[]).await;
    let outcome = platform.invoke(sample("apigw_rest_get.json")).await;
    let response = outcome.response_json().expect("a JSON response");
    assert_eq!(response["statusCode"], 200);

    let spans = platform.trace_of(&outcome.request_id).await;
    let server = named(&spans, "GET /pets/{petId}");
    assert_eq!(server.view.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(server.view.parent_span_id, "00f067aa0ba902b7");
    assert_eq!(
        server.attribute("http.response.status_code"),
        Some(&AttributeValue::Int(200))
    );
    assert_eq!(
        server.attribute("http.route").cloned(),
        string("/pets/{petId}")
    );
    let traceresponse = response["multiValueHeaders"]["traceresponse"][0]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        traceresponse,
        format!("00-{}-{}-01", server.view.trace_id, server.view.span_id)
    );
    let child = named(&spans, "load pet");
    assert_eq!(
        child.view.parent_span_id, server.view.span_id,
        "the handler's tracing span nests"
    );

    let exported = format!("{:?}", platform.collector.spans());
    for secret in [
        "secret-token-from-the-client",
        "cookie-secret-from-the-client",
        "query-secret-value",
    ] {
        assert!(!exported.contains(secret), "{secret} reached the collector");
    }
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_new_root() {
    let platform = Platform::start("http", &[]).await;
    let mut event = sample("function_url_get.json");
    event["headers"]["traceparent"] =
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0".into();
    let outcome = platform.invoke(event).await;
    let spans = platform.trace_of(&outcome.request_id).await;
    let server = named(&spans, "GET");
    assert_eq!(server.view.parent_span_id, "");
    assert_ne!(server.view.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn a_panic_is_exported_and_the_next_invocation_is_served() {
    let platform = Platform::start("other", &[]).await;
    let panicked = platform.invoke(json!({ "panic": true })).await;
    let InvocationResult::Error(error) = &panicked.result else {
        panic!("expected an error: {panicked:?}")
    };
    assert!(
        error
            .error_message
            .contains("the handler panicked on purpose"),
        "{error:?}"
    );

    let spans = platform.trace_of(&panicked.request_id).await;
    let span = named(&spans, FUNCTION);
    assert_eq!(span.attribute("error.type").cloned(), string("panic"));
    assert_eq!(
        span.view.error.as_deref(),
        Some("the handler panicked on purpose")
    );
    let (_, exception) = span
        .view
        .events
        .iter()
        .find(|(name, _)| name == "exception")
        .expect("exception event");
    let stacktrace = exception
        .iter()
        .find(|(k, _)| k == "exception.stacktrace")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    assert!(
        stacktrace.contains("tests/fixture/function.rs"),
        "{stacktrace}"
    );

    let next = platform.invoke(json!({ "hello": "again" })).await;
    assert_eq!(
        next.response_json(),
        Some(json!({ "echo": { "hello": "again" } }))
    );
    let spans = platform.trace_of(&next.request_id).await;
    assert_eq!(
        named(&spans, FUNCTION).attribute("faas.coldstart"),
        Some(&AttributeValue::Bool(false))
    );
}

#[tokio::test]
async fn a_handler_error_is_reported_to_lambda_and_recorded() {
    let platform = Platform::start("other", &[]).await;
    let outcome = platform
        .invoke(json!({ "fail": "the ledger is locked" }))
        .await;
    let InvocationResult::Error(error) = &outcome.result else {
        panic!("expected an error: {outcome:?}")
    };
    assert_eq!(error.error_message, "the ledger is locked");
    let spans = platform.trace_of(&outcome.request_id).await;
    assert_eq!(
        named(&spans, FUNCTION).view.error.as_deref(),
        Some("the ledger is locked")
    );
}

#[tokio::test]
async fn malformed_json_fails_that_invocation_readably_and_the_loop_goes_on() {
    let platform = Platform::start("sqs", &[]).await;
    let broken = platform
        .invoke_with(Invocation::new("{\"Records\": [ {\"messageId\": "))
        .await;
    let InvocationResult::Error(error) = &broken.result else {
        panic!("expected an error: {broken:?}")
    };
    assert!(
        error
            .error_message
            .contains("failed to deserialize the incoming data"),
        "{error:?}"
    );

    let spans = platform.trace_of(&broken.request_id).await;
    let span = named(&spans, FUNCTION);
    assert_eq!(
        span.attribute("error.type").cloned(),
        string("lambda_runtime::deserializer::DeserializeError")
    );
    assert!(
        span.view
            .error
            .as_deref()
            .is_some_and(|e| e.contains("EOF while parsing")),
        "{:?}",
        span.view.error
    );
    assert_eq!(
        span.attribute("faas.trigger").cloned(),
        string("pubsub"),
        "not JSON, but the handler takes SQS events"
    );

    let next = platform.invoke(sample("sqs_batch.json")).await;
    assert!(next.is_success(), "the loop goes on: {next:?}");
}

#[tokio::test]
async fn an_event_of_the_wrong_shape_is_refused_naming_the_field_without_its_value() {
    // The payload is read with `lambda_runtime`'s own path tracking only; the path in the
    // message comes from reading the refused event again.
    let platform = Platform::start("sqs", &[]).await;
    let wrong = platform
        .invoke_with(Invocation::new(
            r#"{"Records": [{"messageId": "m1"}, {"messageId": 123456789}]}"#,
        ))
        .await;
    let InvocationResult::Error(error) = &wrong.result else {
        panic!("expected an error: {wrong:?}")
    };
    let expected = "failed to deserialize the incoming data into the function's payload type: \
                    [Records[1].messageId] invalid type: integer, expected a string";
    assert!(error.error_message.starts_with(expected), "{error:?}");
    assert!(!error.error_message.contains("123456789"), "{error:?}");
    let spans = platform.trace_of(&wrong.request_id).await;
    let span = named(&spans, FUNCTION);
    assert!(
        span.view
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(expected)),
        "{:?}",
        span.view.error
    );
}

#[tokio::test]
async fn a_client_context_or_cognito_identity_lambda_runtime_rejects_fails_only_its_invocation() {
    // Each of these made `lambda_runtime`'s `Context::new` fail, which ended its loop and the
    // process: the invocation was never answered and left no span.
    let platform = Platform::start("other", &[]).await;
    let bad = [
        ("client", r#"{"custom": {"a": 1}}"#),
        ("client", r#"{"custom": 5}"#),
        ("client", "null"),
        ("client", r#"{"client": "x"}"#),
        ("client", "{not json"),
        ("cognito", r#"{"cognitoIdentityId": 7}"#),
    ];
    for (header, value) in bad {
        let invocation = Invocation::json(&json!({ "log": "never called" }));
        let invocation = match header {
            "client" => invocation.with_client_context(value),
            _ => invocation.with_cognito_identity(value),
        };
        let outcome = platform.invoke_with(invocation).await;
        let InvocationResult::Error(error) = &outcome.result else {
            panic!("{value}: expected an error posted to the Runtime API: {outcome:?}")
        };
        let expected = match header {
            "client" => "Runtime.InvalidClientContext",
            _ => "Runtime.InvalidCognitoIdentity",
        };
        assert_eq!(error.error_type, expected, "{value}");
        assert!(
            error.error_message.contains("the handler was not called"),
            "{error:?}"
        );
        let spans = platform.trace_of(&outcome.request_id).await;
        let span = named(&spans, FUNCTION);
        assert_eq!(span.attribute("error.type").cloned(), string(expected));
        assert_eq!(
            span.view.error.as_deref(),
            Some(error.error_message.as_str())
        );
        assert!(
            !spans.iter().any(|s| s.view.name == "nested work"),
            "the handler never ran"
        );

        let next = platform.invoke(json!({ "log": "served" })).await;
        assert!(
            next.is_success(),
            "{value}: the next invocation is served: {next:?}"
        );
    }
}

#[tokio::test]
async fn a_per_message_handler_returns_the_failed_messages_to_sqs() {
    let platform = Platform::start("sqs_per_message", &[]).await;
    let outcome = platform.invoke(sample("sqs_batch.json")).await;
    assert_eq!(
        outcome.response_json(),
        Some(
            json!({ "batchItemFailures": [{ "itemIdentifier": "c80e8021-a70a-42c7-a470-796e1186f753" }] })
        )
    );
    let spans = platform.trace_of(&outcome.request_id).await;
    let messages: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| {
            s.attribute("messaging.message.id").is_some() && s.view.name == "process orders"
        })
        .collect();
    assert_eq!(messages.len(), 3);
    let failed: Vec<&&ReceivedSpan> = messages.iter().filter(|s| s.view.error.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].attribute("messaging.message.id").cloned(),
        string("c80e8021-a70a-42c7-a470-796e1186f753")
    );
}

#[tokio::test]
async fn a_per_record_stream_handler_returns_the_failed_sequence_numbers_to_lambda() {
    let platform = Platform::start("kinesis_per_record", &[]).await;
    let outcome = platform.invoke(sample("kinesis_batch.json")).await;
    assert_eq!(
        outcome.response_json(),
        Some(json!({ "batchItemFailures": [
            { "itemIdentifier": "49656626524283569810356587302946587052357078814577885186" },
            { "itemIdentifier": "49656626524283569810356587302947795978176693443752591362" },
        ] }))
    );
    let spans = platform.trace_of(&outcome.request_id).await;
    let records: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.attribute("messaging.message.id").is_some())
        .collect();
    assert_eq!(
        records.len(),
        2,
        "the record after the failure is not processed"
    );
    assert_eq!(records.iter().filter(|s| s.view.error.is_some()).count(), 1);
}

#[tokio::test]
async fn a_failed_s3_record_fails_the_invocation_and_every_record_is_exported() {
    let platform = Platform::start("s3_per_record", &[]).await;
    let outcome = platform.invoke(sample("s3_batch.json")).await;
    let InvocationResult::Error(error) = &outcome.result else {
        panic!("the invocation fails: {:?}", outcome.result);
    };
    assert_eq!(error.error_message, "1 of 3 records failed");
    assert_eq!(
        error.error_type,
        "otel_faas_runtime::trigger::RecordsFailed"
    );
    let spans = platform.trace_of(&outcome.request_id).await;
    let records: Vec<&str> = spans
        .iter()
        .filter(|s| s.attribute("faas.document.name").is_some() && s.view.kind == "INTERNAL")
        .map(|s| s.view.name.as_str())
        .collect();
    assert_eq!(records.len(), 3, "{records:?}");
}

#[tokio::test]
async fn an_invocation_that_overruns_its_deadline_is_exported_as_a_timeout() {
    let platform = Platform::start("other", &[]).await;
    let invocation =
        Invocation::json(&json!({ "sleep_ms": 5000 })).with_timeout(Duration::from_millis(1000));
    let outcome = platform.api.invoke(invocation).await;
    assert!(
        matches!(outcome.result, InvocationResult::TimedOut),
        "{:?}",
        outcome.result
    );
    let spans = platform.trace_of(&outcome.request_id).await;
    let invocation = spans
        .iter()
        .find(|s| s.view.kind == "SERVER")
        .expect("the invocation span arrives before the platform stops the function");
    assert_eq!(
        invocation.attribute("error.type").cloned(),
        string("timeout")
    );
    assert!(
        invocation
            .view
            .error
            .as_deref()
            .is_some_and(|e| e.contains("before its deadline")),
        "{:?}",
        invocation.view.error
    );
    assert!(
        invocation.view.duration < Duration::from_millis(1000),
        "ended at the margin, before the deadline: {:?}",
        invocation.view.duration
    );
}

#[tokio::test]
async fn after_response_the_caller_never_waits_for_a_slow_collector() {
    let delay = Duration::from_millis(200);
    let slow = Collector::start_with_delay(delay).await.unwrap();
    let env = [("OTEL_FAAS_FLUSH", "after_response")];
    let config = FunctionConfig::new(FUNCTION);
    let platform = Platform::start_with("other", &env, config, Some(slow.endpoint())).await;
    for n in 0..2 {
        let outcome = platform.invoke(json!({ "n": n })).await;
        let responded = outcome.completed_at.expect("a response");
        let done = platform
            .api
            .wait_for_extensions(&outcome.request_id, Duration::from_secs(10))
            .await
            .expect("the extension finishes the invocation");
        assert!(
            done.duration_since(responded) >= delay,
            "the export ran after the response and held the environment until the collector answered: \
             response at {responded:?}, extension done at {done:?}"
        );
        let spans = slow.invocation_traces(&outcome.request_id, ARRIVAL).await;
        assert!(spans.is_some(), "the invocation's spans arrived");
    }
    let extensions = platform.api.registered_extensions();
    assert_eq!(extensions.len(), 1, "{extensions:?}");
    assert_eq!(extensions[0].name, "otel-faas");
    assert!(extensions[0].invoke && !extensions[0].shutdown);
}

#[tokio::test]
async fn after_response_the_export_has_its_own_budget_beyond_the_sync_flush_timeout() {
    // The collector answers after 300 ms: past the sync flush timeout (50 ms), inside the
    // after-response one (10 s). With one budget for both, the export would give up.
    let slow = Collector::start_with_delay(Duration::from_millis(300))
        .await
        .unwrap();
    let env = [
        ("OTEL_FAAS_FLUSH", "after_response"),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "50"),
        ("OTEL_FAAS_AFTER_RESPONSE_FLUSH_TIMEOUT", "10000"),
    ];
    let config = FunctionConfig::new(FUNCTION);
    let platform = Platform::start_with("other", &env, config, Some(slow.endpoint())).await;
    let outcome = platform.invoke(json!({})).await;
    assert!(outcome.completed_at.is_some(), "a response");
    platform
        .api
        .wait_for_extensions(&outcome.request_id, Duration::from_secs(20))
        .await
        .expect("the extension finishes the invocation");
    let spans = slow.invocation_traces(&outcome.request_id, ARRIVAL).await;
    assert!(
        spans.is_some(),
        "the invocation's spans arrived within the after-response budget"
    );
    assert!(
        platform
            .function
            .output()
            .iter()
            .all(|l| !l.contains("gave up")),
        "{:?}",
        platform.function.output()
    );
}

#[tokio::test]
async fn a_sync_flush_makes_the_caller_wait_for_the_collector() {
    let delay = Duration::from_millis(200);
    let slow = Collector::start_with_delay(delay).await.unwrap();
    let config = FunctionConfig::new(FUNCTION);
    let platform = Platform::start_with("other", &[], config, Some(slow.endpoint())).await;
    let outcome = platform.invoke(json!({})).await;
    assert!(
        outcome.latency().unwrap() >= delay,
        "the response waited for the export: {:?}",
        outcome.latency()
    );
    // Only the extension that makes Lambda send SIGTERM, subscribed to no event: nothing
    // holds the environment after the response.
    let extensions = platform.api.registered_extensions();
    assert_eq!(extensions.len(), 1, "{extensions:?}");
    assert!(!extensions[0].invoke && !extensions[0].shutdown);
}

/// The function's log lines that contain `needle`, once one was written.
async fn lines_with(platform: &Platform, needle: &str) -> Vec<String> {
    platform.wait_until_logged(needle).await;
    platform
        .function
        .output()
        .into_iter()
        .filter(|line| line.contains(needle))
        .collect()
}

#[tokio::test]
async fn log_lines_carry_the_trace_span_and_request_ids() {
    let platform = Platform::start("other", &[]).await;
    let outcome = platform.invoke(json!({ "log": "text-line" })).await;
    let spans = platform.trace_of(&outcome.request_id).await;
    let invocation = spans.iter().find(|s| s.view.kind == "SERVER").unwrap();
    let nested = spans.iter().find(|s| s.view.name == "nested work").unwrap();

    let line = &lines_with(&platform, "text-line").await[0];
    assert!(
        line.contains(&format!("trace_id={}", invocation.view.trace_id)),
        "{line}"
    );
    assert!(
        line.contains(&format!("span_id={}", invocation.view.span_id)),
        "{line}"
    );
    assert!(
        line.contains(&format!("request_id={}", outcome.request_id)),
        "{line}"
    );
    let inside = &lines_with(&platform, "inside a span").await[0];
    assert!(
        inside.contains(&format!("span_id={}", nested.view.span_id)),
        "the innermost span: {inside}"
    );
}

#[tokio::test]
async fn json_log_lines_carry_the_ids_as_fields() {
    let platform = Platform::start("other", &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).await;
    let outcome = platform.invoke(json!({ "log": "json-line" })).await;
    let spans = platform.trace_of(&outcome.request_id).await;
    let invocation = spans.iter().find(|s| s.view.kind == "SERVER").unwrap();
    let line = &lines_with(&platform, "json-line").await[0];
    let start = line.find('{').expect("a JSON object");
    let fields: Value = serde_json::from_str(&line[start..]).expect(line);
    assert_eq!(
        fields["trace_id"],
        invocation.view.trace_id.as_str(),
        "{line}"
    );
    assert_eq!(fields["span_id"], invocation.view.span_id.as_str());
    assert_eq!(fields["requestId"], outcome.request_id.as_str());
    assert_eq!(fields["fields"]["note"], "json-line");
    assert_eq!(fields["level"], "INFO");
}

#[tokio::test]
async fn the_cold_start_has_an_init_span_and_the_faas_metrics_arrive_over_otlp() {
    let platform = Platform::start("other", &[]).await;
    let first = platform.invoke(json!({})).await;
    let spans = platform.trace_of(&first.request_id).await;
    let invocation = spans.iter().find(|s| s.view.kind == "SERVER").unwrap();
    let init = spans
        .iter()
        .find(|s| s.view.name == "init")
        .expect("the first invocation's trace shows the process's init");
    assert_eq!(init.view.parent_span_id, invocation.view.span_id);
    assert!(
        init.view.start < invocation.view.start,
        "init happened before the event"
    );
    assert!(init.view.start + init.view.duration <= invocation.view.start);
    assert_eq!(
        init.attribute("faas.coldstart").cloned(),
        Some(AttributeValue::Bool(true))
    );

    let second = platform.invoke(json!({})).await;
    let spans = platform.trace_of(&second.request_id).await;
    assert!(
        spans.iter().all(|s| s.view.name != "init"),
        "only the cold start"
    );

    let arrived = platform
        .collector
        .wait_for_metrics(ARRIVAL, |m| m.name == "faas.init_duration")
        .await;
    assert!(arrived, "metrics: {:?}", platform.collector.metrics());
    let metrics = platform.collector.metrics();
    let total = |name: &str| -> f64 {
        metrics
            .iter()
            .filter(|m| m.name == name)
            .map(|m| match m.value {
                MetricValue::Sum { value, delta, .. } => {
                    assert!(delta, "delta temporality");
                    value
                }
                MetricValue::Histogram { count, .. } => count as f64,
                MetricValue::Gauge(value) => value,
            })
            .sum()
    };
    assert!(total("faas.invocations") >= 1.0);
    assert_eq!(total("faas.coldstarts"), 1.0);
    assert_eq!(total("faas.init_duration"), 1.0);
    assert!(
        metrics
            .iter()
            .all(|m| m.attribute("faas.trigger") == Some(&AttributeValue::String("other".into()))),
        "{metrics:?}"
    );
}

/// An address where nothing listens.
async fn refused_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

/// A collector that accepts connections and never answers.
async fn silent_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_collector_that_refuses_connections_fails_the_export_not_the_invocation() {
    let platform = Platform::start_with(
        "other",
        &[],
        FunctionConfig::new(FUNCTION),
        Some(refused_endpoint().await),
    )
    .await;
    let outcome = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(outcome.response_json(), Some(json!({ "echo": { "n": 1 } })));
    // The function's standard output is read apart from its response: wait for the line.
    // Refused connections are retried within the flush budget, so the export ends failed
    // or, on a machine slow enough that the retries outlast the budget, given up.
    platform.wait_until_logged("export of").await;
    assert!(
        logged(&platform, "spans failed") || logged(&platform, "spans gave up"),
        "the lost export is reported: {:#?}",
        platform.function.output()
    );
}

#[tokio::test]
async fn a_partial_success_is_logged_with_the_rejected_count_and_the_collectors_message() {
    let collector = Collector::start_rejecting_spans(2, "2 spans exceed the attribute limit")
        .await
        .expect("collector");
    let platform = Platform::start_with(
        "other",
        &[],
        FunctionConfig::new(FUNCTION),
        Some(collector.endpoint()),
    )
    .await;
    let outcome = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(outcome.response_json(), Some(json!({ "echo": { "n": 1 } })));
    platform.wait_until_logged("rejected").await;
    let output = platform.function.output();
    assert!(
        output.iter().any(|line| line.contains("WARN")
            && line.contains("rejected 2 spans (partial success")
            && line.contains("2 spans exceed the attribute limit")),
        "the partial success is reported: {output:#?}"
    );
}

#[tokio::test]
async fn a_collector_that_never_answers_is_abandoned_at_the_flush_timeout() {
    let env = [("OTEL_FAAS_FLUSH_TIMEOUT", "300")];
    let platform = Platform::start_with(
        "other",
        &env,
        FunctionConfig::new(FUNCTION),
        Some(silent_endpoint().await),
    )
    .await;
    let outcome = platform.invoke(json!({ "n": 2 })).await;
    assert_eq!(
        outcome.response_json(),
        Some(json!({ "echo": { "n": 2 } })),
        "answered before the 3 s deadline"
    );
    assert!(
        logged(&platform, "no answer within") && logged(&platform, "flush budget"),
        "{:#?}",
        platform.function.output()
    );
}

#[tokio::test]
async fn the_invocations_deadline_bounds_the_flush_whatever_its_timeout() {
    let env = [
        ("OTEL_FAAS_FLUSH_TIMEOUT", "600000"),
        ("OTEL_FAAS_DEADLINE_MARGIN", "200"),
    ];
    let mut config = FunctionConfig::new(FUNCTION);
    config.timeout = Duration::from_secs(2);
    let platform = Platform::start_with("other", &env, config, Some(silent_endpoint().await)).await;
    let outcome = platform.invoke(json!({ "n": 3 })).await;
    assert!(
        outcome.is_success(),
        "the response beat the deadline: {outcome:?}"
    );
    assert!(
        logged(&platform, "gave up after"),
        "{:#?}",
        platform.function.output()
    );
}

#[tokio::test]
async fn with_the_sdk_disabled_the_function_serves_and_exports_nothing() {
    let platform = Platform::start("other", &[("OTEL_SDK_DISABLED", "true")]).await;
    let outcome = platform.invoke(json!({ "n": 4 })).await;
    assert_eq!(outcome.response_json(), Some(json!({ "echo": { "n": 4 } })));
    let second = platform.invoke(json!({ "n": 5 })).await;
    assert!(second.is_success());
    assert_eq!(platform.collector.requests(), 0, "nothing was exported");
}

#[tokio::test]
async fn sigterm_exports_what_ended_after_the_last_flush_and_exits_cleanly() {
    let mut platform = Platform::start("other", &[]).await;
    let outcome = platform.invoke(json!({ "background": true })).await;
    assert!(outcome.is_success());
    // The background span ends after the invocation's flush; wait until it has ended.
    platform.wait_until_logged("background refresh done").await;
    let received_before = platform
        .collector
        .spans()
        .iter()
        .any(|s| s.view.name == "background refresh");
    assert!(!received_before, "nothing flushed it yet");

    let status = platform
        .function
        .terminate(Duration::from_secs(5))
        .await
        .expect("the process stops");
    assert!(
        status.success(),
        "SIGTERM is a clean shutdown: {status:?} {:#?}",
        platform.function.output()
    );
    let background = platform
        .collector
        .spans()
        .into_iter()
        .find(|s| s.view.name == "background refresh");
    assert!(
        background.is_some(),
        "the shutdown flush exported it: {:#?}",
        platform.function.output()
    );
    assert!(logged(&platform, "SIGTERM received"));
}

#[tokio::test]
async fn otlp_headers_from_the_environment_are_sent_with_every_export() {
    let env = [(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "x-team=payments,x-api-key=k-123",
    )];
    let platform = Platform::start("other", &env).await;
    let outcome = platform.invoke(json!({ "n": 6 })).await;
    platform.trace_of(&outcome.request_id).await;
    let headers = platform.collector.last_export_headers();
    assert_eq!(
        headers.get("x-team").and_then(|v| v.to_str().ok()),
        Some("payments")
    );
    assert_eq!(
        headers.get("x-api-key").and_then(|v| v.to_str().ok()),
        Some("k-123")
    );
}

#[tokio::test]
async fn the_console_exporter_prints_each_invocations_trace() {
    let platform = Platform::start("sqs", &[("OTEL_TRACES_EXPORTER", "console")]).await;
    let outcome = platform.invoke(sample("sqs_batch.json")).await;
    assert!(outcome.is_success());
    platform.wait_until_logged("process orders  CONSUMER").await;
    let output = platform.function.output().join("\n");
    assert!(
        output.contains(&format!("└─ {FUNCTION}  SERVER")),
        "{output}"
    );
    assert!(output.contains("└─ process orders  CONSUMER"), "{output}");
    assert!(
        output.contains("link → 6712c2a15e3f8b0d4a9c7e2f1b6d3a8c/3b1f5d7e9a2c4e6f"),
        "{output}"
    );
    assert_eq!(platform.collector.requests(), 0, "nothing goes over OTLP");
}

#[tokio::test]
async fn a_bad_configuration_value_is_logged_and_the_default_used() {
    let platform = Platform::start("other", &[("OTEL_TRACES_SAMPLER", "sometimes")]).await;
    let outcome = platform.invoke(json!({ "n": 7 })).await;
    assert!(outcome.is_success());
    platform.trace_of(&outcome.request_id).await;
    assert!(
        logged(
            &platform,
            "OTEL_TRACES_SAMPLER=\"sometimes\" is not supported"
        ),
        "{:#?}",
        platform.function.output()
    );
}

#[tokio::test]
async fn a_deadline_already_past_at_hand_out_is_ignored_and_every_span_exported() {
    // What `cargo lambda watch` sends: a fixed 600000, not epoch milliseconds.
    let platform = Platform::start("other", &[]).await;
    for _ in 0..2 {
        let invocation =
            Invocation::json(&json!({ "log": "watched locally" })).with_fixed_deadline_ms(600_000);
        let outcome = platform.invoke_with(invocation).await;
        assert!(outcome.is_success(), "{:?}", outcome.result);
        let spans = platform.trace_of(&outcome.request_id).await;
        assert!(
            spans.iter().any(|s| s.view.name == "nested work"),
            "every span of the invocation arrives: {:?}",
            spans.iter().map(|s| &s.view.name).collect::<Vec<_>>()
        );
    }
    platform.wait_until_logged("implausible deadline").await;
    let warnings = lines_with(&platform, "implausible deadline").await;
    assert_eq!(warnings.len(), 1, "said once: {warnings:?}");
}

#[tokio::test]
async fn sigterm_during_an_invocation_exports_it_marked_as_cut_off() {
    let mut platform = Platform::start("other", &[]).await;
    let invocation =
        Invocation::json(&json!({ "sleep_ms": 5000 })).with_timeout(Duration::from_secs(30));
    let request_id = invocation.request_id.clone();
    let pending = platform.api.invoke(invocation);
    tokio::pin!(pending);
    // Handed out, and running, when Lambda stops the environment.
    let _ = tokio::time::timeout(Duration::from_millis(500), &mut pending).await;
    platform
        .function
        .terminate(Duration::from_secs(3))
        .await
        .expect("the function stops");
    let spans = platform.trace_of(&request_id).await;
    let server = spans
        .iter()
        .find(|s| s.view.kind == "SERVER")
        .expect("the invocation span");
    assert_eq!(server.attribute("error.type").cloned(), string("shutdown"));
    assert!(
        server
            .view
            .error
            .as_deref()
            .is_some_and(|e| e.contains("SIGTERM")),
        "{:?}",
        server.view.error
    );
}

/// The `errorType` Lambda records (console, CloudWatch, X-Ray) and the invocation span's
/// `error.type` of one failed invocation.
async fn error_types(platform: &Platform, invocation: Invocation) -> (String, Option<String>) {
    let outcome = platform.invoke_with(invocation).await;
    let InvocationResult::Error(error) = &outcome.result else {
        panic!("expected an error: {outcome:?}")
    };
    let spans = platform.trace_of(&outcome.request_id).await;
    let server = spans
        .iter()
        .find(|s| s.view.kind == "SERVER")
        .expect("the invocation span");
    let span_type = match server.attribute("error.type") {
        Some(AttributeValue::String(t)) => Some(t.clone()),
        _ => None,
    };
    (error.error_type.clone(), span_type)
}

#[tokio::test]
async fn lambdas_error_type_was_a_reference_type_name_and_now_is_the_spans_error_type() {
    let platform = Platform::start("other", &[]).await;
    let typed = Invocation::json(&json!({ "missing_order": 7 }));
    assert_eq!(
        error_types(&platform, typed).await,
        ("NotFound".to_owned(), Some("NotFound".to_owned())),
        "a boxed error is named by its variant, not `&alloc::boxed::Box<dyn …>`"
    );
    let text = Invocation::json(&json!({ "fail": "the ledger is locked" }));
    assert_eq!(
        error_types(&platform, text).await,
        ("_OTHER".to_owned(), Some("_OTHER".to_owned()))
    );
    let panic = Invocation::json(&json!({ "panic": true }));
    assert_eq!(
        error_types(&platform, panic).await,
        ("panic".to_owned(), Some("panic".to_owned())),
        "not `&alloc::boxed::Box<dyn core::any::Any + core::marker::Send>`"
    );
    let malformed = Invocation::new("{not json");
    let deserialize = "lambda_runtime::deserializer::DeserializeError".to_owned();
    assert_eq!(
        error_types(&platform, malformed).await,
        (deserialize.clone(), Some(deserialize)),
        "not `&lambda_runtime::deserializer::DeserializeError`"
    );
}

#[tokio::test]
async fn a_64_kb_request_path_made_lambda_http_panic_and_the_span_disagreed() {
    let platform = Platform::start("http", &[]).await;
    let mut event = sample("apigw_http_post.json");
    let path = format!("/{}", "a".repeat(64 * 1024));
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    let outcome = platform.invoke(event).await;
    let InvocationResult::Error(error) = &outcome.result else {
        panic!("expected an error: {outcome:?}")
    };
    let spans = platform.trace_of(&outcome.request_id).await;
    let server = named(&spans, FUNCTION);
    assert_eq!(
        server.attribute("error.type").cloned(),
        string(&error.error_type),
        "the span and Lambda's errorType agree"
    );
    assert_eq!(
        error.error_type,
        "lambda_runtime::deserializer::DeserializeError"
    );
    assert!(
        error
            .error_message
            .contains("lambda_http could not build an http::Request"),
        "{error:?}"
    );
    assert_eq!(
        server.view.error.as_deref(),
        Some(error.error_message.as_str())
    );
    assert_eq!(server.attribute("faas.trigger").cloned(), string("http"));

    let next = platform.invoke(sample("apigw_http_post.json")).await;
    assert!(next.is_success(), "the next request is served: {next:?}");
}

#[tokio::test]
async fn lambdas_error_message_for_a_wrong_typed_field_echoed_its_value_and_now_does_not() {
    let platform = Platform::start("sqs", &[]).await;
    let outcome = platform
        .invoke(json!({ "Records": "S3CR3T-token-from-the-event" }))
        .await;
    let InvocationResult::Error(error) = &outcome.result else {
        panic!("expected an error: {outcome:?}")
    };
    assert!(error.error_message.contains("[Records]"), "{error:?}");
    assert!(!error.error_message.contains("S3CR3T"), "{error:?}");
    let spans = platform.trace_of(&outcome.request_id).await;
    let server = named(&spans, FUNCTION);
    assert_eq!(
        server.view.error.as_deref(),
        Some(error.error_message.as_str())
    );
}

/// The sum of the points of metric `name` the collector received (a histogram's count).
fn metric_total(collector: &Collector, name: &str) -> f64 {
    collector
        .metrics()
        .iter()
        .filter(|m| m.name == name)
        .map(|m| match m.value {
            MetricValue::Sum { value, .. } => value,
            MetricValue::Histogram { count, .. } => count as f64,
            MetricValue::Gauge(value) => value,
        })
        .sum()
}

#[tokio::test]
async fn faas_metrics_wait_for_their_interval_and_leave_with_the_sigterm_flush() {
    // Empty: the default interval, 60 s.
    let mut platform = Platform::start("other", &[("OTEL_METRIC_EXPORT_INTERVAL", "")]).await;
    for n in 0..3 {
        assert!(platform.invoke(json!({ "n": n })).await.is_success());
    }
    // Each invocation's flush is over before its response: had the metrics gone with one,
    // the collector would hold them now.
    assert_eq!(platform.collector.requests(), 3, "the spans left");
    assert_eq!(platform.collector.metric_requests(), 0, "not due yet");
    // The extension that makes Lambda send SIGTERM at all.
    let extensions = platform.api.registered_extensions();
    assert_eq!(extensions.len(), 1, "{extensions:?}");
    assert_eq!(extensions[0].name, "otel-faas");

    let status = platform
        .function
        .terminate(Duration::from_secs(5))
        .await
        .expect("the process stops");
    assert!(status.success(), "{:#?}", platform.function.output());
    assert_eq!(
        platform.collector.metric_requests(),
        1,
        "one export, at the shutdown"
    );
    assert_eq!(metric_total(&platform.collector, "faas.invocations"), 3.0);
    assert_eq!(metric_total(&platform.collector, "faas.coldstarts"), 1.0);
    assert_eq!(metric_total(&platform.collector, "faas.init_duration"), 1.0);
    assert_eq!(
        metric_total(&platform.collector, "faas.invoke_duration"),
        3.0
    );
}

#[tokio::test]
async fn an_interval_of_zero_exports_the_metrics_with_every_invocation() {
    let platform = Platform::start("other", &[("OTEL_METRIC_EXPORT_INTERVAL", "0")]).await;
    for n in 1..=3 {
        assert!(platform.invoke(json!({ "n": n })).await.is_success());
        assert_eq!(platform.collector.metric_requests(), n);
    }
    assert_eq!(metric_total(&platform.collector, "faas.invocations"), 3.0);
}

#[tokio::test]
async fn sigterm_during_an_invocations_export_lets_that_export_finish() {
    use otel_faas_local::collector::{CollectorOptions, Refusal};
    // Two 503s: the export waits out two backoffs (50–100 ms, then 100–200 ms) before it
    // gets through, and SIGTERM comes during the first.
    let refusal = Refusal {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        retry_after: None,
    };
    let collector = Collector::start_with_options(CollectorOptions {
        refuse_first: vec![refusal, refusal],
        ..CollectorOptions::default()
    })
    .await
    .unwrap();
    let mut platform = Platform::start_with(
        "other",
        &[("OTEL_METRICS_EXPORTER", "none")],
        FunctionConfig::new(FUNCTION),
        Some(collector.endpoint()),
    )
    .await;
    let api = platform.api.clone();
    let invocation = tokio::spawn(async move { api.invoke(Invocation::json(&json!({}))).await });
    let refused = async {
        while collector.refused() == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), refused)
        .await
        .expect("the first attempt was refused");
    let status = platform
        .function
        .terminate(Duration::from_secs(5))
        .await
        .expect("the process stops");
    assert!(status.success(), "{:#?}", platform.function.output());
    let outcome = invocation.await.expect("the invocation");
    let delivered = collector
        .spans()
        .into_iter()
        .any(|s| s.view.attribute("faas.invocation_id") == Some(outcome.request_id.as_str()));
    // (Whether the response is posted as well is a race with the process's exit: the
    // shutdown waits for the export, not for the rest of the invocation.)
    assert!(
        delivered,
        "the export under way when SIGTERM came was finished: {:#?}",
        platform.function.output()
    );
}
