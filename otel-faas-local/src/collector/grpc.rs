//! The collector's OTLP/gRPC receiver: unary `Export` calls of the trace, metrics and logs
//! services over HTTP/2, answered with a gRPC status in the trailers, or in a trailers-only
//! answer for an error, as an OpenTelemetry Collector's gRPC receiver answers them.
//!
//! Derived from gRPC's wire specification (grpc/grpc `doc/PROTOCOL-HTTP2.md`: the
//! length-prefixed message, `grpc-encoding`, `grpc-status` / `grpc-message` in the trailers,
//! trailers-only answers, `415` for a content type that is not `application/grpc…`), the
//! OTLP specification (opentelemetry-proto `docs/specification.md`, "OTLP/gRPC": full and
//! partial success, `UNAVAILABLE` with `RetryInfo` for throttling, `RESOURCE_EXHAUSTED` for a
//! message over the size limit, `INVALID_ARGUMENT` for one that does not decode) and the
//! service definitions (`opentelemetry/proto/collector/{trace,metrics,logs}/v1/*_service.proto`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut as _, Bytes, BytesMut};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use std::convert::Infallible;

use super::requests::{read_body, trace_response};
use super::{GrpcRefusal, MAX_BODY_BYTES, Shared};

/// The trace service's `Export` method.
pub(super) const TRACES_METHOD: &str =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The metrics service's `Export` method.
pub(super) const METRICS_METHOD: &str =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
/// The logs service's `Export` method.
pub(super) const LOGS_METHOD: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// gRPC status codes the receiver answers with (grpc/grpc `doc/statuscodes.md`).
pub(super) mod code {
    pub(in super::super) const OK: u32 = 0;
    pub(in super::super) const UNKNOWN: u32 = 2;
    pub(in super::super) const INVALID_ARGUMENT: u32 = 3;
    pub(in super::super) const RESOURCE_EXHAUSTED: u32 = 8;
    pub(in super::super) const UNIMPLEMENTED: u32 = 12;
    pub(in super::super) const INTERNAL: u32 = 13;
    pub(in super::super) const UNAVAILABLE: u32 = 14;
}

/// Whether a request is a gRPC call: its content type says so, or its path is an OTLP
/// service method.
pub(super) fn is_grpc(request: &Request<Incoming>) -> bool {
    let path = request.uri().path();
    path.starts_with("/opentelemetry.proto.collector.")
        || request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/grpc"))
}

/// An answer body: the HTTP collector's whole body, or a gRPC answer's message and trailers.
#[derive(Debug, Default)]
pub(super) struct AnswerBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl From<Full<Bytes>> for AnswerBody {
    fn from(body: Full<Bytes>) -> Self {
        // A `Full` holds one chunk, ready at once.
        let data = futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(body))
            .and_then(Result::ok)
            .map(|collected| collected.to_bytes())
            .filter(|bytes| !bytes.is_empty());
        AnswerBody {
            data,
            trailers: None,
        }
    }
}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(
            self.trailers
                .take()
                .map(|trailers| Ok(Frame::trailers(trailers))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.trailers {
            None => SizeHint::with_exact(self.data.as_ref().map_or(0, |data| data.len() as u64)),
            Some(_) => SizeHint::default(),
        }
    }
}

/// Serves one gRPC call.
pub(super) async fn handle_call(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Response<AnswerBody> {
    let method = request.uri().path().to_owned();
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/grpc") {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type {content_type:?} is not application/grpc"),
        );
    }
    if request.version() != Version::HTTP_2 {
        return plain(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "gRPC needs HTTP/2".to_owned(),
        );
    }
    if method != TRACES_METHOD && method != METRICS_METHOD && method != LOGS_METHOD {
        return status_only(
            code::UNIMPLEMENTED,
            &format!("unknown method {method}"),
            None,
        );
    }
    let refusal = shared
        .grpc_refusals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop_front();
    if let Some(refusal) = refusal {
        let _ = read_body(request.into_body()).await;
        shared.refused.fetch_add(1, Ordering::SeqCst);
        return status_only(refusal.code, &refusal.message, refusal.retry_delay);
    }
    let (parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(rejection) if rejection.status == StatusCode::PAYLOAD_TOO_LARGE => {
            return status_only(code::RESOURCE_EXHAUSTED, &rejection.message, None);
        }
        Err(rejection) => return status_only(code::INTERNAL, &rejection.message, None),
    };
    let encoding = parts
        .headers
        .get("grpc-encoding")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity");
    let message = match unframe(&body, encoding) {
        Ok(message) => message,
        Err((code, why)) => {
            let mut answer = status_only(code, &why, None);
            if code == code::UNIMPLEMENTED {
                answer
                    .headers_mut()
                    .insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
            }
            return answer;
        }
    };
    let answer = match method.as_str() {
        TRACES_METHOD => match prost::Message::decode(message.as_ref()) {
            Ok(export) => {
                let export: ExportTraceServiceRequest = export;
                shared.record(&export, parts.headers);
                prost::Message::encode_to_vec(&trace_response(&shared))
            }
            Err(error) => {
                let why = format!("not an ExportTraceServiceRequest: {error}");
                return status_only(code::INVALID_ARGUMENT, &why, None);
            }
        },
        LOGS_METHOD => match prost::Message::decode(message.as_ref()) {
            Ok(export) => {
                let export: ExportLogsServiceRequest = export;
                shared.record_logs(&export, parts.headers);
                prost::Message::encode_to_vec(&ExportLogsServiceResponse::default())
            }
            Err(error) => {
                let why = format!("not an ExportLogsServiceRequest: {error}");
                return status_only(code::INVALID_ARGUMENT, &why, None);
            }
        },
        _ => match prost::Message::decode(message.as_ref()) {
            Ok(export) => {
                let export: ExportMetricsServiceRequest = export;
                shared.record_metrics(&export);
                prost::Message::encode_to_vec(&ExportMetricsServiceResponse::default())
            }
            Err(error) => {
                let why = format!("not an ExportMetricsServiceRequest: {error}");
                return status_only(code::INVALID_ARGUMENT, &why, None);
            }
        },
    };
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    if shared.answer != StatusCode::OK {
        // What gRPC's HTTP-to-gRPC mapping (grpc/grpc `doc/http-grpc-status-mapping.md`)
        // gives the status the collector was told to answer.
        let code = match shared.answer.as_u16() {
            400 => code::INTERNAL,
            401 => 16,
            403 => 7,
            404 => code::UNIMPLEMENTED,
            429 | 502 | 503 | 504 => code::UNAVAILABLE,
            _ => code::UNKNOWN,
        };
        return status_only(
            code,
            &format!("answering {} as configured", shared.answer),
            None,
        );
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(code::OK));
    let mut response = Response::new(AnswerBody {
        data: Some(frame(&answer)),
        trailers: Some(trailers),
    });
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

/// The one message of a request body, decompressed.
fn unframe(body: &[u8], encoding: &str) -> Result<Bytes, (u32, String)> {
    let malformed = |why: &str| (code::INTERNAL, format!("malformed gRPC message: {why}"));
    if body.len() < 5 {
        return Err(malformed("shorter than its 5-byte prefix"));
    }
    let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let message = &body[5..];
    if message.len() != length {
        return Err(malformed(&format!(
            "the prefix says {length} bytes, {} follow (one message per call)",
            message.len()
        )));
    }
    match (body[0], encoding) {
        (0, _) => Ok(Bytes::copy_from_slice(message)),
        (1, "gzip") => {
            use std::io::Read as _;
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(message)
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut decoded)
                .map_err(|error| (code::INTERNAL, format!("the message is not gzip: {error}")))?;
            if decoded.len() > MAX_BODY_BYTES {
                return Err((
                    code::RESOURCE_EXHAUSTED,
                    format!("the message is over {MAX_BODY_BYTES} bytes once decompressed"),
                ));
            }
            Ok(Bytes::from(decoded))
        }
        (1, "identity") => Err(malformed("compressed, with no grpc-encoding")),
        (1, other) => Err((
            code::UNIMPLEMENTED,
            format!("grpc-encoding {other:?} is not supported: send gzip or identity"),
        )),
        (flag, _) => Err(malformed(&format!("compressed flag {flag}"))),
    }
}

/// A length-prefixed, uncompressed message.
fn frame(message: &[u8]) -> Bytes {
    let mut framed = BytesMut::with_capacity(5 + message.len());
    framed.put_u8(0);
    framed.put_u32(message.len() as u32);
    framed.put_slice(message);
    framed.freeze()
}

/// A trailers-only answer: `200`, `application/grpc`, and the status in the headers, with a
/// `google.rpc.RetryInfo` in `grpc-status-details-bin` when `retry_delay` is given.
fn status_only(code: u32, message: &str, retry_delay: Option<Duration>) -> Response<AnswerBody> {
    let mut response = Response::new(AnswerBody::default());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(value) = HeaderValue::from_str(&percent_encode(message)) {
        headers.insert("grpc-message", value);
    }
    if let Some(delay) = retry_delay
        && let Ok(value) = HeaderValue::from_str(&details::with_retry_info(code, message, delay))
    {
        headers.insert("grpc-status-details-bin", value);
    }
    response
}

/// A plain HTTP answer (for what is not a gRPC call at all).
fn plain(status: StatusCode, message: String) -> Response<AnswerBody> {
    super::requests::text_response(status, message).map(AnswerBody::from)
}

/// `grpc-message`'s percent-encoding: bytes outside printable ASCII, and `%`, as `%XX`.
fn percent_encode(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        match byte {
            0x20..=0x24 | 0x26..=0x7e => encoded.push(byte as char),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The `google.rpc.Status` of `grpc-status-details-bin`, with one `RetryInfo`
/// (googleapis `google/rpc/status.proto` and `google/rpc/error_details.proto`).
mod details {
    use std::time::Duration;

    use base64::Engine as _;

    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<Any>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Any {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<ProtoDuration>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct ProtoDuration {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }

    /// The header value (unpadded base64, as gRPC emits binary headers).
    pub(super) fn with_retry_info(code: u32, message: &str, delay: Duration) -> String {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: delay.as_secs() as i64,
                nanos: delay.subsec_nanos() as i32,
            }),
        };
        let status = RpcStatus {
            code: code as i32,
            message: message.to_owned(),
            details: vec![Any {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".to_owned(),
                value: prost::Message::encode_to_vec(&info),
            }],
        };
        base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(prost::Message::encode_to_vec(&status))
    }
}

impl GrpcRefusal {
    /// `UNAVAILABLE`, the status the OTLP specification says a server that cannot take an
    /// export now should answer, with `RetryInfo` when `retry_delay` is given.
    pub fn unavailable(retry_delay: Option<Duration>) -> GrpcRefusal {
        GrpcRefusal {
            code: code::UNAVAILABLE,
            message: "refused as scripted: UNAVAILABLE".to_owned(),
            retry_delay,
        }
    }

    /// A refusal with any `code`, without `RetryInfo`.
    pub fn code(code: u32) -> GrpcRefusal {
        GrpcRefusal {
            code,
            message: format!("refused as scripted: gRPC status {code}"),
            retry_delay: None,
        }
    }
}
