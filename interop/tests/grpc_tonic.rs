//! otel-faas's OTLP/gRPC against an independent implementation, on 127.0.0.1:
//!
//! - `opentelemetry-otlp`'s `grpc-tonic` span exporter sends to the embedded collector's gRPC
//!   receiver (plain and gzip), and reads its trailers-only statuses and `RetryInfo` as the
//!   OTLP specification says;
//! - a tonic server, built from `opentelemetry-proto`'s generated `TraceService`, receives
//!   the runtime's own gRPC exports (plain and gzip, with metadata), and its `UNAVAILABLE`
//!   status and partial success are read by the runtime as the OTLP specification says.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{Compression, WithExportConfig as _, WithTonicConfig as _};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter};
use otel_faas_local::collector::{Collector, CollectorOptions, GrpcRefusal};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::telemetry::{FlushOutcome, Telemetry};
use tonic::codec::CompressionEncoding;

/// gRPC status codes (grpc/grpc `doc/statuscodes.md`).
const INVALID_ARGUMENT: u32 = 3;
const RESOURCE_EXHAUSTED: u32 = 8;

/// Spans named `names`, ended, as the SDK hands them to an exporter.
fn finished_spans(names: &[&str]) -> Vec<SpanData> {
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(memory.clone())
        .build();
    let tracer = provider.tracer("interop");
    for name in names {
        tracer.start(name.to_string()).end();
    }
    memory.get_finished_spans().expect("spans")
}

fn tonic_exporter(endpoint: String, gzip: bool) -> opentelemetry_otlp::SpanExporter {
    let builder = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint);
    let builder = match gzip {
        true => builder.with_compression(Compression::Gzip),
        false => builder,
    };
    builder.build().expect("tonic exporter")
}

// ------------------------------------------------------------------------------------------
// opentelemetry-otlp (tonic) → the embedded collector
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_tonic_exporter_reaches_our_grpc_receiver_plain_and_gzip() {
    let collector = Collector::start().await.unwrap();
    for gzip in [false, true] {
        let exporter = tonic_exporter(collector.endpoint(), gzip);
        let name = format!("tonic-gzip-{gzip}");
        exporter
            .export(finished_spans(&[&name]))
            .await
            .expect("accepted");
        let headers = collector.last_export_headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/grpc")
        );
        assert_eq!(headers.get("grpc-encoding").is_some(), gzip, "{headers:?}");
    }
    let mut names: Vec<String> = collector.spans().into_iter().map(|s| s.view.name).collect();
    names.sort();
    assert_eq!(names, ["tonic-gzip-false", "tonic-gzip-true"]);
}

/// opentelemetry-otlp's tonic exporter retries as the OTLP specification says (its
/// `retry_classification::grpc`, reading `RetryInfo` with tonic-types): what it retries and
/// what it drops shows how it read the collector's trailers-only statuses and their details.
#[tokio::test(flavor = "multi_thread")]
async fn the_tonic_exporter_reads_our_trailers_only_statuses_and_retry_info() {
    // (the refusal, whether the tonic exporter delivers the spans in the end)
    let cases = [
        (GrpcRefusal::unavailable(None), true),
        (GrpcRefusal::code(INVALID_ARGUMENT), false),
        // RESOURCE_EXHAUSTED is retried only with a RetryInfo, which tonic-types decodes
        // from our grpc-status-details-bin.
        (GrpcRefusal::code(RESOURCE_EXHAUSTED), false),
        (
            GrpcRefusal {
                code: RESOURCE_EXHAUSTED,
                message: "slow down".into(),
                retry_delay: Some(Duration::from_millis(50)),
            },
            true,
        ),
    ];
    for (refusal, delivered) in cases {
        let what = format!("{refusal:?}");
        let collector = Collector::start_with_options(CollectorOptions {
            refuse_first_grpc: vec![refusal],
            ..CollectorOptions::default()
        })
        .await
        .unwrap();
        let exporter = tonic_exporter(collector.endpoint(), false);
        let outcome = exporter.export(finished_spans(&["span"])).await;
        assert_eq!(outcome.is_ok(), delivered, "{what}: {outcome:?}");
        assert_eq!(
            (collector.refused(), collector.requests()),
            (1, u64::from(delivered)),
            "{what}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// otel-faas-runtime → a tonic server
// ------------------------------------------------------------------------------------------

/// A `TraceService` that keeps what it receives, refuses the first `unavailable` calls
/// with `UNAVAILABLE`, and answers the others with a partial success of `rejected` spans.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(ExportTraceServiceRequest, tonic::metadata::MetadataMap)>>>,
    unavailable: Arc<Mutex<u32>>,
    calls: Arc<Mutex<u32>>,
    rejected: i64,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        *self.calls.lock().unwrap() += 1;
        {
            let mut unavailable = self.unavailable.lock().unwrap();
            if *unavailable > 0 {
                *unavailable -= 1;
                return Err(tonic::Status::unavailable("not now"));
            }
        }
        let metadata = request.metadata().clone();
        self.received
            .lock()
            .unwrap()
            .push((request.into_inner(), metadata));
        let partial_success = (self.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: self.rejected,
            error_message: "too old".into(),
        });
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}

impl Receiver {
    fn span_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(request, _)| &request.resource_spans)
            .flat_map(|spans| &spans.scope_spans)
            .flat_map(|scope| &scope.spans)
            .map(|span| span.name.clone())
            .collect();
        names.sort();
        names
    }
}

/// Serves `receiver` with tonic on 127.0.0.1 (gzip accepted); returns its endpoint.
async fn tonic_server(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let service = TraceServiceServer::new(receiver).accept_compressed(CompressionEncoding::Gzip);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    endpoint
}

fn our_exporter(endpoint: &str, vars: &[(&str, &str)]) -> Telemetry {
    let mut all: Vec<(String, String)> = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.into()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "grpc".into()),
        ("OTEL_METRICS_EXPORTER".into(), "none".into()),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config =
        Config::from_lookup(|key| all.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
    let telemetry = Telemetry::builder().config(config).build();
    assert!(telemetry.errors().is_empty(), "{:?}", telemetry.errors());
    telemetry
}

async fn export(telemetry: &Telemetry, names: &[&str]) -> FlushOutcome {
    let tracer = telemetry.provider().tracer("interop");
    for name in names {
        tracer.start(name.to_string()).end();
    }
    telemetry.flush().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tonic_server_receives_our_exports_plain_and_gzip_with_metadata() {
    let receiver = Receiver {
        rejected: 1,
        ..Receiver::default()
    };
    let endpoint = tonic_server(receiver.clone()).await;
    let plain = our_exporter(
        &endpoint,
        &[("OTEL_EXPORTER_OTLP_HEADERS", "x-team=payments")],
    );
    assert_eq!(export(&plain, &["plain"]).await, FlushOutcome::Exported(1));
    let gzip = our_exporter(&endpoint, &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]);
    assert_eq!(export(&gzip, &["gzip"]).await, FlushOutcome::Exported(1));
    assert_eq!(receiver.span_names(), ["gzip", "plain"]);
    let received = receiver.received.lock().unwrap();
    assert_eq!(
        received[0].1.get("x-team").and_then(|v| v.to_str().ok()),
        Some("payments")
    );
    assert_eq!(
        received[1]
            .1
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    // The partial success in tonic's answer message was read.
    assert_eq!(plain.rejected_spans(), 1);
    assert_eq!(gzip.rejected_spans(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tonic_servers_unavailable_is_retried_and_delivered_once() {
    let receiver = Receiver {
        unavailable: Arc::new(Mutex::new(1)),
        ..Receiver::default()
    };
    let endpoint = tonic_server(receiver.clone()).await;
    let telemetry = our_exporter(&endpoint, &[]);
    assert_eq!(
        export(&telemetry, &["once"]).await,
        FlushOutcome::Exported(1)
    );
    assert_eq!(*receiver.calls.lock().unwrap(), 2, "refused, then served");
    assert_eq!(receiver.span_names(), ["once"]);
}
