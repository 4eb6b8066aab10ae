//! The gRPC receiver with raw HTTP/2 calls: the framing, the trailers, and every way a call
//! is turned down.

use bytes::{BufMut as _, Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use super::*;
use crate::collector::grpc::{METRICS_METHOD, TRACES_METHOD};

/// What a raw call got back: the HTTP status, the headers, the body and the trailers.
struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
    trailers: Option<http::HeaderMap>,
}

impl Answer {
    /// `grpc-status`, from the trailers or (trailers-only) the headers.
    fn grpc_status(&self) -> Option<u32> {
        self.trailers
            .as_ref()
            .and_then(|trailers| trailers.get("grpc-status"))
            .or_else(|| self.headers.get("grpc-status"))
            .and_then(|value| value.to_str().ok()?.parse().ok())
    }
}

/// One call over a fresh h2c connection.
async fn call(collector: &Collector, path: &str, headers: &[(&str, &str)], body: Bytes) -> Answer {
    let stream = TcpStream::connect(collector.addr()).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("http://{}{path}", collector.addr()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Full::new(body)).unwrap())
        .await
        .expect("answered");
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("body");
    Answer {
        status: parts.status,
        headers: parts.headers,
        trailers: collected.trailers().cloned(),
        body: collected.to_bytes(),
    }
}

fn framed(flag: u8, message: &[u8]) -> Bytes {
    let mut body = BytesMut::new();
    body.put_u8(flag);
    body.put_u32(message.len() as u32);
    body.put_slice(message);
    body.freeze()
}

fn one_span_export() -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: TRACE.to_be_bytes().to_vec(),
                    span_id: 7u64.to_be_bytes().to_vec(),
                    name: "raw".into(),
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

const GRPC: (&str, &str) = ("content-type", "application/grpc");

/// A call that is turned down: method, headers, body, and the `grpc-status` and part of the
/// `grpc-message` expected.
type Refused = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Bytes,
    u32,
    &'static str,
);

#[tokio::test]
async fn an_export_is_answered_with_its_message_then_grpc_status_0_in_the_trailers() {
    let collector = start().await;
    let answer = call(
        &collector,
        TRACES_METHOD,
        &[GRPC, ("te", "trailers")],
        framed(0, &one_span_export()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/grpc");
    assert!(
        answer.headers.get("grpc-status").is_none(),
        "not trailers-only"
    );
    let trailers = answer.trailers.as_ref().expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    // One uncompressed length-prefixed ExportTraceServiceResponse.
    assert_eq!(answer.body[0], 0);
    let length = u32::from_be_bytes(answer.body[1..5].try_into().unwrap()) as usize;
    assert_eq!(answer.body.len(), 5 + length);
    ExportTraceServiceResponse::decode(&answer.body[5..]).expect("response message");
    assert_eq!(collector.spans()[0].view.name, "raw");
}

#[tokio::test]
async fn calls_that_cannot_be_served_get_a_trailers_only_status() {
    let collector = start().await;
    let export = one_span_export();
    let cases: [Refused; 5] = [
        (
            TRACES_METHOD,
            vec![GRPC],
            framed(0, b"\xff\xff not protobuf"),
            3,
            "not an ExportTraceServiceRequest",
        ),
        (
            METRICS_METHOD,
            vec![GRPC],
            framed(0, b"\xff\xff"),
            3,
            "not an ExportMetricsServiceRequest",
        ),
        (
            TRACES_METHOD,
            vec![GRPC, ("grpc-encoding", "snappy")],
            framed(1, &export),
            12,
            "snappy",
        ),
        (
            "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
            vec![GRPC],
            framed(0, &export),
            12,
            "unknown method",
        ),
        (
            TRACES_METHOD,
            vec![GRPC],
            Bytes::from_static(&[0, 0, 0, 0, 9, 1]),
            13,
            "the prefix says 9 bytes, 1 follow",
        ),
    ];
    for (path, headers, body, code, message) in cases {
        let answer = call(&collector, path, &headers, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{path} {message}");
        assert_eq!(answer.grpc_status(), Some(code), "{message}");
        assert!(
            answer.body.is_empty() && answer.trailers.is_none(),
            "{message}: trailers-only"
        );
        // Printable ASCII but `%` goes unencoded in grpc-message.
        let said = answer.headers["grpc-message"].to_str().unwrap();
        assert!(said.contains(message), "{said:?} should say {message:?}");
        if code == 12 && path == TRACES_METHOD {
            assert_eq!(answer.headers["grpc-accept-encoding"], "gzip");
        }
    }
    assert_eq!(collector.requests(), 0);
    assert_eq!(collector.metric_requests(), 0);
}

#[tokio::test]
async fn what_is_not_grpc_over_http2_is_answered_in_plain_http() {
    let collector = start().await;
    // Another content type on a service path: 415, as gRPC's wire specification says.
    let answer = call(
        &collector,
        TRACES_METHOD,
        &[("content-type", "application/x-protobuf")],
        framed(0, &one_span_export()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // gRPC over HTTP/1.1: 505.
    let (status, body) = raw_request(
        &collector,
        "POST",
        TRACES_METHOD,
        &[("Content-Type", "application/grpc")],
        &framed(0, &one_span_export()),
    )
    .await;
    assert_eq!(status, 505, "{body}");
    // OTLP/HTTP over HTTP/2 is still OTLP/HTTP.
    let answer = call(
        &collector,
        "/v1/traces",
        &[("content-type", PROTOBUF)],
        Bytes::from(one_span_export()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(collector.requests(), 1);
}
