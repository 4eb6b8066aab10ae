//! The semantic-convention gate: every span, metric and resource the examples export, run as
//! a user runs them (`cargo run --example …`: the real loop, the Runtime API emulator or the
//! Functions host double, OTLP over HTTP), checked against the registry's own facts.
//!
//! `tests/semconv/registry.json` is generated from the registry's model files by
//! `tests/semconv/generate.py` (its version is in the file); regenerate it when moving to a
//! newer registry. What fails here:
//! - a key the registry does not define, outside `otel_faas.` (the keys the examples' own
//!   handlers record are listed in [`USER_KEYS`]);
//! - a deprecated key or enum value;
//! - a value of the wrong type;
//! - a missing attribute a span definition requires, or conditionally requires on a
//!   condition the span itself shows (it failed, it has a server address, it is a batch);
//! - a span name that breaks its definition's rule;
//! - a metric the registry defines with another instrument or unit, or FaaS metrics that do
//!   not count what the registry says (`faas.invocations`: successful invocations; one
//!   `faas.invoke_duration` value per invocation).
//!
//! The examples are built by `cargo test` itself (examples are compiled with the tests);
//! `cargo test --test semconv` alone runs the examples last built.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use otel_faas_local::collector::{AttributeValue, Collector, MetricValue, ReceivedSpan};
use serde_json::Value;
use tokio::process::Command;

/// The registry facts; see the module documentation.
const REGISTRY: &str = include_str!("semconv/registry.json");

/// Keys the examples' own handlers record on their spans and events (user attributes, which
/// the conventions leave to the user): the fields of their `tracing` calls.
const USER_KEYS: &[&str] = &[
    "action",
    "bytes",
    "change",
    "customer",
    "deleted",
    "events",
    "id",
    "image",
    "key",
    "megapixels",
    "offset",
    "order",
    "quantity",
    "rule",
    "sku",
    "source",
    "subject",
    "table",
    "tenant",
    "total",
    "work_ms",
];

/// Span names the examples choose themselves (`#[traced_function(name = "…")]`), which the
/// FaaS conventions' "SHOULD be the function name" leaves to them: `(example, name)`.
const USER_NAMES: &[(&str, &str)] = &[("lifecycle", "build report")];

/// Examples whose spans do not show every invocation, so their FaaS metrics cannot be
/// checked against their spans: `lifecycle` samples 0 % at the head (its metrics count
/// the invocation that is sampled out; its spans do not show it).
const SAMPLED: &[&str] = &["lifecycle"];

/// Every example, run with its spans and metrics sent to the test's collector.
const EXAMPLES: &[&str] = &[
    "azure_event_hubs",
    "azure_http",
    "azure_queue",
    "azure_service_bus",
    "azure_timer",
    "dynamodb",
    "eventbridge",
    "http",
    "kafka",
    "kinesis",
    "lifecycle",
    "managed_instances",
    "other",
    "pipeline",
    "s3",
    "schedule",
    "sns",
    "sqs",
    "sqs_per_message",
];

fn example_path(name: &str) -> PathBuf {
    let fixture = PathBuf::from(env!("CARGO_BIN_EXE_otel-faas-fixture"));
    fixture
        .parent()
        .expect("the target directory")
        .join("examples")
        .join(name)
}

async fn run_example(name: &str, endpoint: &str) {
    let path = example_path(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test` (which builds the examples) or `cargo build --examples`",
        path.display()
    );
    let mut command = Command::new(&path);
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_SERVICE_NAME", name)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_METRICS_EXPORTER")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("example {name} did not finish"))
        .expect("the example starts");
    assert!(
        output.status.success(),
        "example {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The registry table, with lookups.
struct Registry(Value);

impl Registry {
    fn load() -> Registry {
        Registry(serde_json::from_str(REGISTRY).expect("registry.json is JSON"))
    }

    fn attribute(&self, key: &str) -> Option<&Value> {
        self.0["attributes"].get(key)
    }

    fn span(&self, id: &str) -> &Value {
        self.0["spans"]
            .get(id)
            .unwrap_or_else(|| panic!("the registry has no span definition {id}"))
    }

    fn metric(&self, name: &str) -> Option<&Value> {
        self.0["metrics"].get(name)
    }

    /// Problems with one key and its value: unknown, deprecated, or of the wrong type.
    fn check_key(&self, key: &str, value: Option<&AttributeValue>, out: &mut Vec<String>) {
        if key.starts_with("otel_faas.") {
            return;
        }
        let Some(definition) = self.attribute(key) else {
            out.push(format!(
                "`{key}` is not a registry key (ours go in `otel_faas.`)"
            ));
            return;
        };
        if definition["deprecated"] == true {
            out.push(format!("`{key}` is deprecated"));
        }
        let Some(value) = value else {
            return;
        };
        let expected = definition["type"].as_str().unwrap_or_default();
        let fits = match (expected, value) {
            ("string", AttributeValue::String(_)) => true,
            ("int", AttributeValue::Int(_)) => true,
            ("double", AttributeValue::Double(_)) => true,
            ("boolean", AttributeValue::Bool(_)) => true,
            ("string[]", AttributeValue::Array(items)) => {
                items.iter().all(|i| matches!(i, AttributeValue::String(_)))
            }
            ("int[]", AttributeValue::Array(items)) => {
                items.iter().all(|i| matches!(i, AttributeValue::Int(_)))
            }
            ("enum", AttributeValue::String(text)) => {
                if definition["members"][text.as_str()] == true {
                    out.push(format!("`{key}={text}` is a deprecated value"));
                }
                definition["members"]
                    .as_object()
                    .is_some_and(|m| m.keys().any(|k| k.parse::<i64>().is_err()))
            }
            ("enum", AttributeValue::Int(_)) => definition["members"]
                .as_object()
                .is_some_and(|m| m.keys().all(|k| k.parse::<i64>().is_ok())),
            ("template[string]", AttributeValue::String(_)) => true,
            ("template[string[]]", AttributeValue::Array(_)) => true,
            _ => false,
        };
        if !fits {
            out.push(format!(
                "`{key}` is {expected} in the registry, not {value:?}"
            ));
        }
    }
}

/// The span definitions a span falls under, by what it carries.
fn definitions(span: &ReceivedSpan) -> Vec<&'static str> {
    let has = |key: &str| span.attribute(key).is_some();
    let mut out = Vec::new();
    match span.kind {
        // SERVER: an invocation.
        2 if has("faas.trigger") => {
            out.push("faas.server");
            match span.view.attribute("faas.trigger") {
                Some("datasource") => out.push("faas.datasource.server"),
                Some("timer") => out.push("faas.timer.server"),
                _ => {}
            }
            if span.resource_attribute("cloud.provider") == Some("aws") {
                out.push("span.aws.lambda.server");
            }
            if has("http.request.method") {
                out.push("span.http.server");
            }
        }
        // CLIENT or PRODUCER: an AWS SDK call.
        3 | 4 if span.view.attribute("rpc.system") == Some("aws-api") => {
            out.push("span.aws.client");
            if span.view.attribute("rpc.service") == Some("S3") {
                out.push("span.aws.s3.client");
            }
        }
        // CONSUMER: messages processed.
        5 if has("messaging.system") => {
            out.push("messaging.process.consumer");
            if span.view.attribute("messaging.system") == Some("aws_sqs") {
                out.push("span.messaging.aws.sqs.process.consumer");
            }
        }
        _ => {}
    }
    out
}

/// Whether a conditionally required attribute's condition holds, as far as the span shows
/// it; `None` when the span cannot tell. Where a trigger cannot meet the conventions, its
/// documentation says so and the condition here follows it:
/// - `messaging.destination.name` on EventBridge: the event does not name its bus
///   (`otel-faas-runtime/src/trigger/eventbridge.rs`).
fn condition_holds(key: &str, span: &ReceivedSpan) -> Option<bool> {
    let failed = span.view.error.is_some() && !span.view.ok;
    match key {
        "error.type" => Some(failed),
        "server.port" => Some(span.attribute("server.address").is_some()),
        // Sent unless the handler panicked (then no response exists).
        "http.response.status_code" => Some(
            !failed
                || span
                    .view
                    .attribute("error.type")
                    .is_some_and(|t| t.parse::<u16>().is_ok()),
        ),
        "messaging.batch.message_count" => Some(
            span.attribute("messaging.batch.message_count").is_some()
                || span.view.name.contains("batch"),
        ),
        "messaging.destination.name" => {
            Some(span.view.attribute("messaging.system") != Some("aws.eventbridge"))
        }
        _ => None,
    }
}

/// Problems with a span's name, by its definitions' rules.
fn check_name(span: &ReceivedSpan, definitions: &[&str], out: &mut Vec<String>) {
    let name = span.view.name.as_str();
    if definitions.contains(&"span.http.server") {
        // `{method} {http.route}`, or `{method}` without a route.
        let method = span.view.attribute("http.request.method").unwrap_or("HTTP");
        let method = if method == "_OTHER" { "HTTP" } else { method };
        let expected = match span.view.attribute("http.route") {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        if name != expected {
            out.push(format!("an HTTP server span is named `{expected}`"));
        }
    } else if definitions.contains(&"faas.server")
        && !USER_NAMES.contains(&(span.resource_attribute("service.name").unwrap_or("?"), name))
    {
        // The function name: `faas.name` (on Azure `<FUNCAPP>/<FUNC>`, a span attribute).
        let function = span
            .view
            .attribute("faas.name")
            .or_else(|| span.resource_attribute("faas.name"));
        if function != Some(name) {
            out.push(format!(
                "a FaaS server span is named after the function, {function:?}"
            ));
        }
    }
    if definitions.contains(&"messaging.process.consumer") {
        let operation = span
            .view
            .attribute("messaging.operation.name")
            .unwrap_or("?");
        let expected = match span
            .view
            .attribute("messaging.destination.template")
            .or(span.view.attribute("messaging.destination.name"))
        {
            Some(destination) => format!("{operation} {destination}"),
            None => operation.to_owned(),
        };
        if name != expected {
            out.push(format!("a messaging span is named `{expected}`"));
        }
    }
}

fn check_span(registry: &Registry, span: &ReceivedSpan) -> Vec<String> {
    let mut out = Vec::new();
    let definitions = definitions(span);
    // The registry contradicts itself here: the AWS SDK span definition
    // (`model/aws/sdk-spans.yaml`) still requires `rpc.system` and lists `rpc.service`, which
    // its attribute registry deprecates (renamed `rpc.system.name`). The span definition, which
    // AWS backends and the other SDKs' AWS instrumentations follow, wins: a deprecated key a
    // matched span definition still references is accepted.
    let referenced = |key: &str| {
        definitions
            .iter()
            .any(|d| registry.span(d)["attributes"].get(key).is_some())
    };
    for (key, value) in &span.attributes {
        if USER_KEYS.contains(&key.as_str()) {
            continue;
        }
        let mut problems = Vec::new();
        registry.check_key(key, Some(value), &mut problems);
        if referenced(key) {
            problems.retain(|p| !p.ends_with("is deprecated"));
        }
        out.extend(problems);
    }
    for (event, attributes) in &span.view.events {
        for (key, _) in attributes {
            if !USER_KEYS.contains(&key.as_str()) {
                let mut problems = Vec::new();
                registry.check_key(key, None, &mut problems);
                out.extend(
                    problems
                        .into_iter()
                        .map(|p| format!("event `{event}`: {p}")),
                );
            }
        }
    }
    for definition in &definitions {
        let levels = registry.span(definition)["attributes"]
            .as_object()
            .expect("attributes");
        // A batch whose records disagree leaves out what they disagree on, and says which
        // (`otel-faas-runtime/src/trigger/document.rs`).
        let mixed = span
            .view
            .attribute("otel_faas.document.mixed")
            .unwrap_or_default();
        for (key, level) in levels {
            let present = span.attribute(key).is_some();
            if !present && mixed.contains(&format!("\"{key}\"")) {
                continue;
            }
            let needed = match level.as_str() {
                Some("required") => true,
                Some("conditionally_required") => condition_holds(key, span) == Some(true),
                _ => false,
            };
            if needed && !present {
                out.push(format!("{definition} needs `{key}` ({level})"));
            }
        }
    }
    check_name(span, &definitions, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_metric_and_resource_the_examples_export_conforms_to_the_registry() {
    let registry = Registry::load();
    let collector = Collector::start().await.expect("collector");
    let endpoint = collector.endpoint();
    let mut runs = tokio::task::JoinSet::new();
    for chunk in EXAMPLES.chunks(4) {
        for name in chunk {
            let endpoint = endpoint.clone();
            runs.spawn(async move { run_example(name, &endpoint).await });
        }
        while let Some(run) = runs.join_next().await {
            run.expect("example run");
        }
    }

    // Spans: one line per problem, grouped by example and span.
    let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let spans = collector.spans();
    assert!(
        spans.len() > 50,
        "the examples exported {} spans",
        spans.len()
    );
    for span in &spans {
        let found = check_span(&registry, span);
        if !found.is_empty() {
            let example = span.resource_attribute("service.name").unwrap_or("?");
            problems
                .entry(format!(
                    "{example}: {} `{}`",
                    span.view.kind, span.view.name
                ))
                .or_default()
                .extend(found);
        }
        for (key, _) in &span.resource {
            let mut found = Vec::new();
            registry.check_key(key, None, &mut found);
            for problem in found {
                problems
                    .entry("resource".to_owned())
                    .or_default()
                    .push(problem);
            }
        }
    }

    // Metrics: instruments, units and attributes; and what the FaaS counters count.
    let metrics = collector.metrics();
    let mut per_example: BTreeMap<&str, (f64, u64)> = BTreeMap::new();
    for point in &metrics {
        let example = point.resource_attribute("service.name").unwrap_or("?");
        let mut found = Vec::new();
        match registry.metric(&point.name) {
            Some(definition) => {
                if definition["unit"].as_str() != Some(point.unit.as_str()) {
                    found.push(format!("unit `{}`, not {}", point.unit, definition["unit"]));
                }
                let instrument = match point.value {
                    MetricValue::Sum {
                        monotonic: true, ..
                    } => "counter",
                    MetricValue::Sum { .. } => "updowncounter",
                    MetricValue::Histogram { .. } => "histogram",
                    MetricValue::Gauge(_) => "gauge",
                };
                if definition["instrument"].as_str() != Some(instrument) {
                    found.push(format!("a {instrument}, not {}", definition["instrument"]));
                }
                if definition["deprecated"] == true {
                    found.push("deprecated".to_owned());
                }
            }
            None if point.name.starts_with("otel_faas.") => {}
            None => found.push("not a registry metric".to_owned()),
        }
        for (key, value) in &point.attributes {
            registry.check_key(key, Some(value), &mut found);
        }
        let entry = per_example.entry(example).or_default();
        match (point.name.as_str(), point.value) {
            ("faas.invocations", MetricValue::Sum { value, .. }) => entry.0 += value,
            ("faas.invoke_duration", MetricValue::Histogram { count, .. }) => entry.1 += count,
            _ => {}
        }
        if !found.is_empty() {
            problems
                .entry(format!("{example}: metric {}", point.name))
                .or_default()
                .extend(found);
        }
    }
    for (example, (invocations, durations)) in per_example {
        if SAMPLED.contains(&example) {
            continue;
        }
        let invocation_spans: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|s| {
                s.kind == 2
                    && s.attribute("faas.trigger").is_some()
                    && s.resource_attribute("service.name") == Some(example)
            })
            .collect();
        let succeeded = invocation_spans
            .iter()
            .filter(|s| s.view.error.is_none() || s.view.ok)
            .count();
        let mut found = Vec::new();
        if invocations != succeeded as f64 {
            found.push(format!(
                "faas.invocations counted {invocations}, but {succeeded} of {} invocations succeeded \
                 (the registry: \"Number of successful invocations\")",
                invocation_spans.len()
            ));
        }
        if durations != invocation_spans.len() as u64 {
            found.push(format!(
                "faas.invoke_duration has {durations} values for {} invocations",
                invocation_spans.len()
            ));
        }
        if !found.is_empty() {
            problems
                .entry(format!("{example}: FaaS metrics"))
                .or_default()
                .extend(found);
        }
    }
    for list in problems.values_mut() {
        list.sort();
        list.dedup();
    }
    assert!(
        problems.is_empty(),
        "{} against semantic conventions {}:\n{}",
        problems.len(),
        registry.0["version"],
        problems
            .iter()
            .map(|(what, list)| format!("- {what}\n    {}", list.join("\n    ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
