//! The export requests: checked, decoded and answered as an OpenTelemetry Collector answers
//! them.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::{LOGS_PATH, MAX_BODY_BYTES, METRICS_PATH, PROTOBUF, Shared, TRACES_PATH};
use crate::server::HttpResponse;

/// What an export path receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Signal {
    /// `/v1/traces`: `ExportTraceServiceRequest`.
    Traces,
    /// `/v1/metrics`: `ExportMetricsServiceRequest`.
    Metrics,
    /// `/v1/logs`: `ExportLogsServiceRequest`.
    Logs,
}

impl Signal {
    pub(super) fn of_path(path: &str) -> Option<Signal> {
        match path {
            TRACES_PATH => Some(Signal::Traces),
            METRICS_PATH => Some(Signal::Metrics),
            LOGS_PATH => Some(Signal::Logs),
            _ => None,
        }
    }

    pub(super) fn path(self) -> &'static str {
        match self {
            Signal::Traces => TRACES_PATH,
            Signal::Metrics => METRICS_PATH,
            Signal::Logs => LOGS_PATH,
        }
    }

    /// The protobuf message the body must decode as.
    pub(super) fn request_message(self) -> &'static str {
        match self {
            Signal::Traces => "ExportTraceServiceRequest",
            Signal::Metrics => "ExportMetricsServiceRequest",
            Signal::Logs => "ExportLogsServiceRequest",
        }
    }
}

pub(super) async fn handle_request(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let Some(signal) = Signal::of_path(request.uri().path()) else {
        return Ok(text_response(
            StatusCode::NOT_FOUND,
            format!(
                "not found: this collector serves only POST {TRACES_PATH}, POST {METRICS_PATH} \
                 and POST {LOGS_PATH} (no profiles)"
            ),
        ));
    };
    if request.method() != Method::POST {
        let mut response = text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method not allowed: use POST on {}", signal.path()),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return Ok(response);
    }
    let refusal = shared
        .refusals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop_front();
    if let Some(refusal) = refusal {
        // Read the body all the same, so the connection stays usable.
        let _ = read_body(request.into_body()).await;
        shared
            .refused
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut response = text_response(
            refusal.status,
            format!("refused as scripted: {}", refusal.status),
        );
        if let Some(seconds) = refusal.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        return Ok(response);
    }
    let mut response = handle_export(&shared, signal, request).await;
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    if response.status() == StatusCode::OK && shared.answer != StatusCode::OK {
        response = text_response(
            shared.answer,
            format!("answering {} as configured", shared.answer),
        );
    }
    Ok(response)
}

/// Checks, reads and decodes one export, and stores what it carries.
pub(super) async fn handle_export(
    shared: &Shared,
    signal: Signal,
    request: Request<Incoming>,
) -> HttpResponse {
    match accept_export(shared, signal, request).await {
        Ok(Encoding::Protobuf) => match signal {
            Signal::Traces => protobuf_response(&trace_response(shared)),
            Signal::Metrics => protobuf_response(&ExportMetricsServiceResponse::default()),
            Signal::Logs => protobuf_response(&ExportLogsServiceResponse::default()),
        },
        Ok(Encoding::Json) => match signal {
            Signal::Traces => json_response(&trace_response(shared)),
            Signal::Metrics => json_response(&ExportMetricsServiceResponse::default()),
            Signal::Logs => json_response(&ExportLogsServiceResponse::default()),
        },
        Err(rejection) => text_response(rejection.status, rejection.message),
    }
}

/// The answer to a decoded span export: empty, or the configured partial success.
pub(super) fn trace_response(shared: &Shared) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: shared.partial_success.as_ref().map(|(rejected, message)| {
            ExportTracePartialSuccess {
                rejected_spans: *rejected,
                error_message: message.clone(),
            }
        }),
    }
}

/// How an export body is encoded (its `Content-Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`: OTLP/JSON.
    Json,
}

pub(super) async fn accept_export(
    shared: &Shared,
    signal: Signal,
    request: Request<Incoming>,
) -> Result<Encoding, Rejection> {
    let (encoding, gzip) = check_headers(request.headers())?;
    let (parts, body) = request.into_parts();
    let mut body = read_body(body).await?;
    if let Some(check) = &shared.sigv4 {
        super::sigv4::verify(check, &parts, &body)
            .map_err(|why| Rejection::new(StatusCode::FORBIDDEN, format!("SigV4: {why}")))?;
    }
    if gzip {
        body = gunzip(&body)?;
    }
    let undecodable = |error: &dyn std::fmt::Display| {
        tracing::warn!(%error, path = signal.path(), "OTLP collector: undecodable export");
        let format = match encoding {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "OTLP/JSON",
        };
        Rejection::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body is not a {format} {}: {error}",
                signal.request_message()
            ),
        )
    };
    match signal {
        Signal::Traces => {
            let export: ExportTraceServiceRequest = decode(&body, encoding, undecodable)?;
            shared.record(&export, parts.headers);
        }
        Signal::Metrics => {
            let export: ExportMetricsServiceRequest = decode(&body, encoding, undecodable)?;
            shared.record_metrics(&export);
        }
        Signal::Logs => {
            let export: ExportLogsServiceRequest = decode(&body, encoding, undecodable)?;
            shared.record_logs(&export, parts.headers);
        }
    }
    Ok(encoding)
}

/// A request message, from protobuf or OTLP/JSON.
fn decode<M: prost::Message + Default + serde::de::DeserializeOwned>(
    body: &[u8],
    encoding: Encoding,
    undecodable: impl Fn(&dyn std::fmt::Display) -> Rejection,
) -> Result<M, Rejection> {
    match encoding {
        Encoding::Protobuf => M::decode(body).map_err(|error| undecodable(&error)),
        Encoding::Json => serde_json::from_slice(body).map_err(|error| undecodable(&error)),
    }
}

/// A gzip body, decompressed within [`MAX_BODY_BYTES`].
fn gunzip(body: &[u8]) -> Result<Bytes, Rejection> {
    use std::io::Read as _;
    let mut decoded = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(body).take(MAX_BODY_BYTES as u64 + 1);
    decoder.read_to_end(&mut decoded).map_err(|error| {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not gzip: {error}"),
        )
    })?;
    if decoded.len() > MAX_BODY_BYTES {
        return Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY_BYTES} bytes once decompressed"),
        ));
    }
    Ok(Bytes::from(decoded))
}

/// Why an export was turned down: answered with `status` and `message` as plain text.
pub(super) struct Rejection {
    pub(super) status: StatusCode,
    pub(super) message: String,
}

impl Rejection {
    pub(super) fn new(status: StatusCode, message: String) -> Self {
        Self { status, message }
    }

    pub(super) fn unsupported(message: String) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }
}

/// The body's encoding and whether it is gzipped; turns down other compressions and media
/// types.
pub(super) fn check_headers(headers: &HeaderMap) -> Result<(Encoding, bool), Rejection> {
    let encoding = header_text(headers, &CONTENT_ENCODING).to_ascii_lowercase();
    let gzip = match encoding.trim() {
        "" | "identity" => false,
        "gzip" => true,
        other => {
            return Err(Rejection::unsupported(format!(
                "Content-Encoding {other:?} is not supported by this local collector: send \
                 gzip or uncompressed bodies"
            )));
        }
    };
    let content_type = header_text(headers, &CONTENT_TYPE);
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        PROTOBUF => Ok((Encoding::Protobuf, gzip)),
        "application/json" => Ok((Encoding::Json, gzip)),
        _ => Err(Rejection::unsupported(format!(
            "Content-Type {content_type:?} is not supported: send {PROTOBUF} or application/json"
        ))),
    }
}

/// A header's value as text; empty when absent or not visible ASCII.
pub(super) fn header_text<'a>(headers: &'a HeaderMap, name: &http::header::HeaderName) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

pub(super) async fn read_body(body: Incoming) -> Result<Bytes, Rejection> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY_BYTES} bytes"),
        )),
        Err(error) => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            format!("the body could not be read: {error}"),
        )),
    }
}

pub(super) fn protobuf_response(message: &impl prost::Message) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(message.encode_to_vec())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
    response
}

pub(super) fn json_response(message: &impl serde::Serialize) -> HttpResponse {
    let body = serde_json::to_vec(message).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(super) fn text_response(status: StatusCode, message: String) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(message + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
