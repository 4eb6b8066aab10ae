//! OpenTelemetry logs (`OTEL_LOGS_EXPORTER=otlp`) through the real `lambda_runtime` loop:
//! the fixture function served by `otel_faas_runtime::lambda::run` against the Runtime API
//! emulator, its `tracing` events exported as OTLP log records to the collector on
//! 127.0.0.1, with the invocation's spans and under the same bounds.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use otel_faas_local::collector::{
    AttributeValue, Collector, CollectorOptions, ReceivedLog, SigV4Check,
};
use otel_faas_local::emulator::{FunctionConfig, Invocation};
use serde_json::json;
use tokio::net::TcpListener;

mod platform;

use platform::{FUNCTION, Platform, logged, named};

const LOGS_ON: (&str, &str) = ("OTEL_LOGS_EXPORTER", "otlp");

/// The records whose attribute `note` is `note`.
fn noted(logs: &[ReceivedLog], note: &str) -> Vec<ReceivedLog> {
    let note = AttributeValue::String(note.to_owned());
    logs.iter()
        .filter(|log| log.attribute("note") == Some(&note))
        .cloned()
        .collect()
}

/// The records whose body is `body`.
fn with_body(logs: &[ReceivedLog], body: &str) -> Vec<ReceivedLog> {
    logs.iter()
        .filter(|log| log.body == body)
        .cloned()
        .collect()
}

#[tokio::test]
async fn log_records_carry_the_trace_and_span_ids_of_their_invocation() {
    let platform = Platform::start("other", &[LOGS_ON]).await;
    let outcome = platform.invoke(json!({ "log": "otel-record" })).await;
    assert!(outcome.is_success());
    // The flush before the response (OTEL_FAAS_FLUSH=sync) carried the records with the
    // spans: they are at the collector when the response is.
    let logs = platform.collector.logs();
    let spans = platform.trace_of(&outcome.request_id).await;
    let invocation = named(&spans, FUNCTION);
    let nested = named(&spans, "nested work");

    let handling = noted(&logs, "otel-record");
    assert_eq!(handling.len(), 1, "{logs:#?}");
    let record = &handling[0];
    assert_eq!(record.body, "handling the event");
    assert_eq!(record.trace_id, invocation.view.trace_id);
    assert_eq!(record.span_id, invocation.view.span_id);
    assert_eq!(
        (record.severity_number, record.severity_text.as_str()),
        (9, "INFO")
    );
    assert!(record.time_unix_nano > 0);
    assert_eq!(record.resource_attribute("service.name"), Some(FUNCTION));
    assert_eq!(record.resource_attribute("cloud.provider"), Some("aws"));

    let inside = with_body(&logs, "inside a span");
    assert_eq!(inside.len(), 1, "{logs:#?}");
    assert_eq!(inside[0].trace_id, invocation.view.trace_id);
    assert_eq!(inside[0].span_id, nested.view.span_id, "the innermost span");
}

#[tokio::test]
async fn logs_are_off_by_default() {
    let platform = Platform::start("other", &[]).await;
    let outcome = platform.invoke(json!({ "log": "not-exported" })).await;
    platform.trace_of(&outcome.request_id).await;
    assert!(logged(&platform, "not-exported"), "the log line is written");
    assert_eq!(platform.collector.log_requests(), 0, "no /v1/logs request");
}

#[tokio::test]
async fn a_record_logged_after_the_flush_leaves_with_the_next_one() {
    let platform = Platform::start("other", &[LOGS_ON]).await;
    let first = platform.invoke(json!({ "background": true })).await;
    assert!(first.is_success());
    platform.wait_until_logged("background refresh done").await;
    let logs = platform.collector.logs();
    assert!(
        with_body(&logs, "background refresh done").is_empty(),
        "nothing flushed it yet"
    );
    let second = platform.invoke(json!({ "n": 1 })).await;
    assert!(second.is_success());
    let late = with_body(&platform.collector.logs(), "background refresh done");
    assert_eq!(late.len(), 1, "the next invocation's flush carried it");
    let spans = platform.trace_of(&first.request_id).await;
    assert_eq!(
        late[0].trace_id,
        named(&spans, FUNCTION).view.trace_id,
        "it keeps the trace it was logged in"
    );
}

#[tokio::test]
async fn sigterm_exports_a_record_logged_after_the_last_flush() {
    let mut platform = Platform::start("other", &[LOGS_ON]).await;
    assert!(
        platform
            .invoke(json!({ "background": true }))
            .await
            .is_success()
    );
    platform.wait_until_logged("background refresh done").await;
    let status = platform
        .function
        .terminate(Duration::from_secs(5))
        .await
        .expect("the process stops");
    assert!(status.success(), "{status:?}");
    let late = with_body(&platform.collector.logs(), "background refresh done");
    assert_eq!(late.len(), 1, "the shutdown flush exported it");
}

#[tokio::test]
async fn after_response_the_records_leave_with_the_spans_after_the_response() {
    let env = [LOGS_ON, ("OTEL_FAAS_FLUSH", "after_response")];
    let platform = Platform::start("other", &env).await;
    for n in 0..2 {
        let note = format!("after-{n}");
        let outcome = platform.invoke(json!({ "log": note })).await;
        assert!(outcome.is_success());
        platform
            .api
            .wait_for_extensions(&outcome.request_id, Duration::from_secs(10))
            .await
            .expect("the extension finishes the invocation");
        // The extension reports the invocation done once its export has finished.
        let records = noted(&platform.collector.logs(), &note);
        assert_eq!(records.len(), 1, "invocation {n}");
        let spans = platform.trace_of(&outcome.request_id).await;
        assert_eq!(records[0].trace_id, named(&spans, FUNCTION).view.trace_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_each_flush_their_own_records() {
    let config = FunctionConfig::new(FUNCTION).with_max_concurrency(4);
    let platform = Platform::start_with("other", &[LOGS_ON], config, None).await;
    platform.invoke(json!({ "warm": true })).await;
    let payloads: Vec<_> = (0..4)
        .map(|i| json!({ "log": format!("concurrent-{i}"), "steps": 3, "step_ms": 5 + i * 5 }))
        .collect();
    let invocations = payloads
        .iter()
        .map(|payload| platform.api.invoke(Invocation::json(payload)));
    let outcomes = tokio::time::timeout(Duration::from_secs(30), join_all(invocations))
        .await
        .expect("every invocation is answered");
    let logs = platform.collector.logs();
    let mut exports = HashSet::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.is_success(), "{:?}", outcome.result);
        let spans = platform.trace_of(&outcome.request_id).await;
        let trace = &named(&spans, FUNCTION).view.trace_id;
        let own = noted(&logs, &format!("concurrent-{i}"));
        assert_eq!(own.len(), 1, "{logs:#?}");
        assert_eq!(&own[0].trace_id, trace);
        // Every traced record of that export is this invocation's.
        let export = own[0].export;
        exports.insert(export);
        for log in logs
            .iter()
            .filter(|l| l.export == export && !l.trace_id.is_empty())
        {
            assert_eq!(
                &log.trace_id, trace,
                "export {export} mixes invocations: {log:?}"
            );
        }
    }
    assert_eq!(exports.len(), 4, "one export per invocation");
}

/// Test credentials (the AWS documentation's examples), known to the checking collector.
const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";

/// A collector that checks SigV4 signatures as CloudWatch Logs' OTLP endpoint does.
async fn cloudwatch_logs() -> Collector {
    Collector::start_with_options(CollectorOptions {
        sigv4: Some(SigV4Check {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            session_token: Some(SESSION_TOKEN.into()),
            service: "logs".into(),
            region: "us-west-2".into(),
        }),
        ..CollectorOptions::default()
    })
    .await
    .unwrap()
}

/// A function exporting its spans to its platform's collector, and its log records,
/// SigV4-signed and gzipped, to `logs`, with `extra` variables.
async fn signing_to(logs: &Collector, extra: &[(&str, &str)]) -> Platform {
    let endpoint = format!("{}/v1/logs", logs.endpoint());
    let mut env = vec![
        LOGS_ON,
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
        ("OTEL_FAAS_SIGV4", "on"),
        ("AWS_REGION", "us-west-2"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
    ];
    env.extend_from_slice(extra);
    Platform::start("other", &env).await
}

#[tokio::test]
async fn records_for_cloudwatch_logs_are_signed_for_logs_into_the_functions_log_stream() {
    let logs = cloudwatch_logs().await;
    let platform = signing_to(&logs, &[]).await;
    let outcome = platform.invoke(json!({ "log": "signed-record" })).await;
    assert!(outcome.is_success());
    assert_eq!(
        noted(&logs.logs(), "signed-record").len(),
        1,
        "{:#?}",
        platform.function.output()
    );
    let headers = logs.last_log_export_headers();
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .contains("/us-west-2/logs/aws4_request"),
        "{headers:?}"
    );
    let env = platform.api.function_env();
    let var = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(
        headers["x-aws-log-group"],
        format!("/aws/lambda/{FUNCTION}")
    );
    assert_eq!(
        Some(headers["x-aws-log-stream"].to_str().unwrap().to_owned()),
        var("AWS_LAMBDA_LOG_STREAM_NAME")
    );
    assert_eq!(headers["content-encoding"], "gzip");

    // The headers variable chooses another group; the stream stays the function's.
    let custom = cloudwatch_logs().await;
    let headers_var = [(
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        "x-aws-log-group=otel-logs",
    )];
    let platform = signing_to(&custom, &headers_var).await;
    assert!(
        platform
            .invoke(json!({ "log": "grouped" }))
            .await
            .is_success()
    );
    let headers = custom.last_log_export_headers();
    assert_eq!(headers["x-aws-log-group"], "otel-logs");
    assert_eq!(headers.get_all("x-aws-log-group").iter().count(), 1);
    assert!(headers.contains_key("x-aws-log-stream"));
}

#[tokio::test]
async fn records_signed_for_another_service_are_refused_and_the_function_serves_on() {
    let logs = cloudwatch_logs().await;
    let platform = signing_to(&logs, &[("OTEL_FAAS_SIGV4_LOGS_SERVICE", "xray")]).await;
    for n in 0..2 {
        let outcome = platform
            .invoke(json!({ "log": format!("refused-{n}") }))
            .await;
        assert!(outcome.is_success());
        platform.trace_of(&outcome.request_id).await;
    }
    assert!(logs.logs().is_empty());
    platform.wait_until_logged("log records failed").await;
    assert!(
        logged(&platform, "403"),
        "the refusal is reported: {:#?}",
        platform.function.output()
    );
}

/// A logs endpoint that accepts connections and never answers.
async fn silent_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    format!("http://{address}/v1/logs")
}

#[tokio::test]
async fn a_logs_endpoint_that_never_answers_costs_the_flush_bound_and_the_next_invocation_is_served()
 {
    let silent = silent_endpoint().await;
    let env = [
        LOGS_ON,
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", silent.as_str()),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "300"),
    ];
    // The logs endpoint's own timeout is 10 s (OTEL_EXPORTER_OTLP_TIMEOUT's default) and the
    // function's deadline 3 s: the invocation is answered because the flush gave up at its
    // 300 ms bound, as the warning says.
    let platform = Platform::start("other", &env).await;
    for n in 0..2 {
        let outcome = platform.invoke(json!({ "log": format!("lost-{n}") })).await;
        assert!(outcome.is_success(), "invocation {n}: {outcome:?}");
        // The spans went to their own collector in the same flush.
        platform.trace_of(&outcome.request_id).await;
    }
    platform.wait_until_logged("log records failed").await;
    let output = platform.function.output();
    assert!(
        output
            .iter()
            .any(|line| line.contains("log records failed") && line.contains("flush budget")),
        "{output:#?}"
    );
}
