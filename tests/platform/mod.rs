//! What the tests of the real `lambda_runtime` loop share: a function process (the fixture
//! binary) served by `otel_faas_runtime::lambda::run` against the Runtime API emulator on
//! 127.0.0.1, exporting OTLP/HTTP protobuf to a collector on 127.0.0.1 that decodes it.

#![allow(dead_code)]

pub mod ca;

use std::time::Duration;

use otel_faas_local::collector::{AttributeValue, Collector, ReceivedSpan};
use otel_faas_local::emulator::{
    FunctionConfig, Invocation, InvocationOutcome, InvocationResult, RuntimeApi,
};
use otel_faas_local::process::{FunctionProcess, Output};
use serde_json::Value;

pub const FUNCTION: &str = "e2e-function";
/// Upper bound for spans to arrive after a response; they are exported before it.
pub const ARRIVAL: Duration = Duration::from_secs(5);

pub fn sample(name: &str) -> Value {
    let path = format!("{}/examples/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("valid JSON")
}

/// A function process of `fixture`, the emulator it talks to and, unless `endpoint` names
/// another, the collector it exports to.
pub struct Platform {
    pub api: RuntimeApi,
    pub collector: Collector,
    pub function: FunctionProcess,
}

impl Platform {
    pub async fn start(fixture: &str, env: &[(&str, &str)]) -> Platform {
        Platform::start_with(fixture, env, FunctionConfig::new(FUNCTION), None).await
    }

    pub async fn start_with(
        fixture: &str,
        env: &[(&str, &str)],
        config: FunctionConfig,
        endpoint: Option<String>,
    ) -> Platform {
        let api = RuntimeApi::start(config).await.expect("emulator");
        let collector = Collector::start().await.expect("collector");
        let mut vars = vec![
            ("OTEL_FAAS_FIXTURE".to_owned(), fixture.to_owned()),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                endpoint.unwrap_or_else(|| collector.endpoint()),
            ),
            ("RUST_LOG".to_owned(), "info".to_owned()),
            // The FaaS metrics leave with every invocation's flush, for the tests to read
            // at once; `OTEL_METRIC_EXPORT_INTERVAL` set empty in `env` takes the default.
            ("OTEL_METRIC_EXPORT_INTERVAL".to_owned(), "0".to_owned()),
        ];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let program = std::path::Path::new(env!("CARGO_BIN_EXE_otel-faas-fixture"));
        Platform::start_program(program, api, collector, &vars)
    }

    /// `program` as the function, against `api`, exporting to `collector`, with `vars` set.
    pub fn start_program(
        program: &std::path::Path,
        api: RuntimeApi,
        collector: Collector,
        vars: &[(String, String)],
    ) -> Platform {
        let function = FunctionProcess::spawn(program, [], &api, vars, Output::Captured)
            .expect("function process");
        Platform {
            api,
            collector,
            function,
        }
    }

    pub async fn invoke(&self, payload: Value) -> InvocationOutcome {
        self.invoke_with(Invocation::json(&payload)).await
    }

    pub async fn invoke_with(&self, invocation: Invocation) -> InvocationOutcome {
        let outcome = tokio::time::timeout(Duration::from_secs(30), self.api.invoke(invocation))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the function never answered; its output: {:#?}",
                    self.function.output()
                )
            });
        assert!(
            !matches!(outcome.result, InvocationResult::TimedOut),
            "timed out; output: {:#?}",
            self.function.output()
        );
        outcome
    }

    /// The spans of the trace(s) that the invocation `request_id` took part in.
    pub async fn trace_of(&self, request_id: &str) -> Vec<ReceivedSpan> {
        let spans = self.collector.invocation_traces(request_id, ARRIVAL).await;
        spans.unwrap_or_else(|| {
            panic!(
                "no span for {request_id}; output: {:#?}",
                self.function.output()
            )
        })
    }

    /// Waits until the function has written a line containing `needle`, or [`ARRIVAL`] passed.
    pub async fn wait_until_logged(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + ARRIVAL;
        while !logged(self, needle) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.view.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no span {name:?} in {:?}",
                spans.iter().map(|s| &s.view.name).collect::<Vec<_>>()
            )
        })
}

pub fn string(value: &str) -> Option<AttributeValue> {
    Some(AttributeValue::String(value.to_owned()))
}

/// Whether the function has written a line containing `needle`.
pub fn logged(platform: &Platform, needle: &str) -> bool {
    platform
        .function
        .output()
        .iter()
        .any(|line| line.contains(needle))
}
