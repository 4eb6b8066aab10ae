//! OTLP/gRPC on the exporter's own HTTP/2 client (the `grpc` feature): one unary call per
//! export, framed, and its `grpc-status` read from the trailers, or from the headers of a
//! trailers-only answer.
//!
//! What a call is, from gRPC's wire specification (grpc/grpc `doc/PROTOCOL-HTTP2.md`):
//! `POST` to `/{service}/Export` with `content-type: application/grpc`, `te: trailers`,
//! `grpc-timeout` (the time the attempt may take), `grpc-encoding: gzip` when compressed,
//! the `OTEL_EXPORTER_OTLP_HEADERS` as custom metadata, and one length-prefixed message
//! (a compressed flag, a big-endian length, the protobuf `Export…ServiceRequest`). The
//! answer's status is `grpc-status` and `grpc-message` (percent-encoded); an answer without
//! one — a proxy's plain HTTP error — gets the status gRPC's `doc/http-grpc-status-mapping.md`
//! gives its HTTP status.
//!
//! Which statuses are retried is opentelemetry-proto's `docs/specification.md`, "OTLP/gRPC
//! Response" → "Failures": `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`,
//! `UNAVAILABLE`, `DATA_LOSS`, and `RESOURCE_EXHAUSTED` only when the server sent a
//! `google.rpc.RetryInfo` (in `grpc-status-details-bin`), whose `retry_delay` is then waited
//! for as a `Retry-After` is over HTTP ("OTLP/gRPC Throttling"), inside the same flush budget.
//!
//! Why not `tonic` (what `opentelemetry-otlp`'s `grpc-tonic` exporter uses): a unary call
//! is a POST with a five-byte prefix and a status in the trailers, and the Hyper client the
//! exporter already has speaks HTTP/2 with `http2_only` (h2c by prior knowledge for
//! `http://`, ALPN `h2` over rustls for `https://`). Tonic would add `tower`, its own
//! channel and codec layers and a second retry and timeout policy beside ours; with the
//! Hyper client, gRPC shares the pool, TLS settings, gzip, retries and flush budget of
//! OTLP/HTTP, and costs only HTTP/2 itself (the `h2` crate; see the README for the measured
//! size). The three `google.rpc` messages read from `grpc-status-details-bin` are declared
//! here with `prost` rather than taken from `tonic-types`, which depends on tonic.

use std::time::Duration;

use base64::Engine as _;
use bytes::{BufMut as _, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode};

/// The media type of gRPC requests and answers.
pub(crate) const CONTENT_TYPE: &str = "application/grpc";

/// The length of a message's prefix: the compressed flag and the big-endian length.
const PREFIX: usize = 5;

/// A gRPC status code (grpc/grpc `doc/statuscodes.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Code(pub(crate) u32);

impl Code {
    pub(crate) const OK: Code = Code(0);
    pub(crate) const INTERNAL: Code = Code(13);
    pub(crate) const UNKNOWN: Code = Code(2);
    pub(crate) const UNAVAILABLE: Code = Code(14);

    /// The code's name, as gRPC spells it.
    pub(crate) fn name(self) -> &'static str {
        const NAMES: [&str; 17] = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        NAMES
            .get(self.0 as usize)
            .copied()
            .unwrap_or("an unknown code")
    }

    /// The code a plain HTTP answer stands for (grpc/grpc `doc/http-grpc-status-mapping.md`).
    fn of_http(status: StatusCode) -> Code {
        match status.as_u16() {
            400 => Code::INTERNAL,
            401 => Code(16),
            403 => Code(7),
            404 => Code(12),
            429 | 502 | 503 | 504 => Code::UNAVAILABLE,
            _ => Code::UNKNOWN,
        }
    }
}

/// What a call's answer said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) code: Code,
    /// `grpc-message`, percent-decoded, at most 300 characters; or why the status had to be
    /// made up.
    pub(crate) message: String,
    /// `google.rpc.RetryInfo.retry_delay`, when the status carries one.
    pub(crate) retry_delay: Option<Duration>,
}

impl Status {
    /// Whether the OTLP specification says to retry an export that got this status.
    pub(crate) fn retryable(&self) -> bool {
        match self.code.0 {
            // CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS
            1 | 4 | 10 | 11 | 14 | 15 => true,
            // RESOURCE_EXHAUSTED: only when the server says when it can take more.
            8 => self.retry_delay.is_some(),
            _ => false,
        }
    }

    /// The status as one line: `gRPC status UNAVAILABLE (14): the message`.
    pub(crate) fn describe(&self) -> String {
        let mut line = format!(
            "the OTLP endpoint answered gRPC status {} ({})",
            self.code.name(),
            self.code.0
        );
        if !self.message.is_empty() {
            line.push_str(": ");
            line.push_str(&self.message);
        }
        line
    }
}

/// `message` as one length-prefixed gRPC message; `compressed` sets its flag.
pub(crate) fn frame(message: &[u8], compressed: bool) -> Bytes {
    let mut framed = BytesMut::with_capacity(PREFIX + message.len());
    framed.put_u8(u8::from(compressed));
    // Export bodies are far below 4 GiB (the flush's buffer bounds them).
    framed.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
    framed.put_slice(message);
    framed.freeze()
}

/// `grpc-timeout` for `timeout`: at most 8 digits, in the finest unit that fits.
pub(crate) fn timeout_header(timeout: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let value = [
        (timeout.as_millis(), 'm'),
        (u128::from(timeout.as_secs()), 'S'),
        (u128::from(timeout.as_secs() / 60), 'M'),
        (u128::from(timeout.as_secs() / 3600), 'H'),
    ]
    .into_iter()
    .find(|(n, _)| *n <= MAX)
    .map_or_else(
        || format!("{MAX}H"),
        |(n, unit)| format!("{}{unit}", n.max(1)),
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("1m"))
}

/// The status and the response message of an answer: its HTTP status, its headers, its body
/// and its trailers (none in a trailers-only answer, whose status is in the headers).
pub(crate) fn read_answer(
    http: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    trailers: Option<&HeaderMap>,
) -> (Status, Option<Bytes>) {
    if http != StatusCode::OK {
        // A proxy or a server that is not gRPC: gRPC's mapping of its HTTP status.
        let status = Status {
            code: Code::of_http(http),
            message: format!("HTTP status {http} without a gRPC status"),
            retry_delay: None,
        };
        return (status, None);
    }
    let source = trailers
        .filter(|trailers| trailers.contains_key("grpc-status"))
        .unwrap_or(headers);
    let Some(code) = source
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u32>().ok())
    else {
        let status = Status {
            code: Code::INTERNAL,
            message: "the answer carries no grpc-status".to_owned(),
            retry_delay: None,
        };
        return (status, None);
    };
    let message = source
        .get("grpc-message")
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            crate::config::percent_decode(value)
                .chars()
                .take(300)
                .collect()
        })
        .unwrap_or_default();
    let retry_delay = source
        .get("grpc-status-details-bin")
        .and_then(|value| retry_delay(value.as_bytes()));
    let status = Status {
        code: Code(code),
        message,
        retry_delay,
    };
    let encoding = headers
        .get("grpc-encoding")
        .and_then(|value| value.to_str().ok());
    (status, unframe(body, encoding))
}

/// The first message of an answer's body, decompressed; `None` when there is none or it
/// cannot be read (an accepted export stays accepted: the message only carries a partial
/// success).
fn unframe(body: &[u8], encoding: Option<&str>) -> Option<Bytes> {
    let (prefix, rest) = body.split_at_checked(PREFIX)?;
    let length = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    let message = rest.get(..length)?;
    match (prefix[0], encoding) {
        (0, _) => Some(Bytes::copy_from_slice(message)),
        #[cfg(feature = "gzip")]
        (1, Some("gzip")) => gunzip(message),
        _ => None,
    }
}

/// A gzip message, within the 4 MiB the specification recommends for answers.
#[cfg(feature = "gzip")]
fn gunzip(message: &[u8]) -> Option<Bytes> {
    use std::io::Read as _;
    const MAX: u64 = 4 * 1024 * 1024;
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(message)
        .take(MAX)
        .read_to_end(&mut decoded)
        .ok()?;
    Some(Bytes::from(decoded))
}

/// `google.rpc.Status` (googleapis `google/rpc/status.proto`), the value of
/// `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo` (googleapis `google/rpc/error_details.proto`).
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// The type URL of a `RetryInfo` detail.
const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The `retry_delay` of the `RetryInfo` in a `grpc-status-details-bin` value (base64,
/// padded or not), if there is one.
fn retry_delay(value: &[u8]) -> Option<Duration> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const BASE64: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = BASE64.decode(value).ok()?;
    let status = <RpcStatus as prost::Message>::decode(bytes.as_slice()).ok()?;
    let info = status
        .details
        .iter()
        .find(|detail| detail.type_url == RETRY_INFO)?;
    let delay = <RetryInfo as prost::Message>::decode(info.value.as_slice())
        .ok()?
        .retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok()?;
    Some(Duration::new(seconds, nanos.min(999_999_999)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    fn details_with_retry_info(seconds: i64, nanos: i32) -> String {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration { seconds, nanos }),
        };
        let status = RpcStatus {
            code: 14,
            message: "busy".into(),
            details: vec![Any {
                type_url: RETRY_INFO.into(),
                value: prost::Message::encode_to_vec(&info),
            }],
        };
        base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(prost::Message::encode_to_vec(&status))
    }

    #[test]
    fn a_message_is_prefixed_with_its_flag_and_big_endian_length() {
        let framed = frame(b"abc", false);
        assert_eq!(&framed[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(frame(b"", true)[..], [1, 0, 0, 0, 0]);
        assert_eq!(
            unframe(&frame(b"abc", false), None).as_deref(),
            Some(&b"abc"[..])
        );
        assert_eq!(unframe(&[0, 0, 0, 0, 9, 1], None), None, "cut short");
    }

    #[test]
    fn grpc_timeout_uses_at_most_eight_digits() {
        assert_eq!(timeout_header(Duration::from_millis(1500)), "1500m");
        assert_eq!(timeout_header(Duration::ZERO), "1m");
        assert_eq!(timeout_header(Duration::from_secs(200_000)), "200000S");
        assert_eq!(timeout_header(Duration::from_secs(100_000_000)), "1666666M");
    }

    #[test]
    fn exactly_the_specifications_codes_are_retried() {
        let status = |code, retry_delay| Status {
            code: Code(code),
            message: String::new(),
            retry_delay,
        };
        let retried: Vec<u32> = (0..=16).filter(|c| status(*c, None).retryable()).collect();
        assert_eq!(retried, [1, 4, 10, 11, 14, 15]);
        assert!(status(8, Some(Duration::from_secs(1))).retryable());
    }

    #[test]
    fn the_status_is_read_from_the_trailers_or_a_trailers_only_answer() {
        let ok = headers(&[("content-type", CONTENT_TYPE)]);
        let trailers = headers(&[("grpc-status", "0")]);
        let (status, message) = read_answer(
            StatusCode::OK,
            &ok,
            &frame(b"answer", false),
            Some(&trailers),
        );
        assert_eq!(status.code, Code::OK);
        assert_eq!(message.as_deref(), Some(&b"answer"[..]));

        let trailers_only = headers(&[
            ("content-type", CONTENT_TYPE),
            ("grpc-status", "3"),
            ("grpc-message", "bad%20spans%3A%20no%20name"),
        ]);
        let (status, _) = read_answer(StatusCode::OK, &trailers_only, b"", None);
        assert_eq!(status.code, Code(3));
        assert_eq!(status.message, "bad spans: no name");
        assert!(!status.retryable());
        assert!(status.describe().contains("INVALID_ARGUMENT (3)"));

        let (status, _) = read_answer(StatusCode::OK, &ok, b"", None);
        assert_eq!(status.code, Code::INTERNAL, "no status at all");
    }

    #[test]
    fn a_plain_http_error_gets_grpcs_mapping() {
        let none = HeaderMap::new();
        let code = |http: u16| {
            read_answer(StatusCode::from_u16(http).unwrap(), &none, b"", None)
                .0
                .code
        };
        assert_eq!(code(503), Code::UNAVAILABLE);
        assert_eq!(code(429), Code::UNAVAILABLE);
        assert_eq!(code(404), Code(12));
        assert_eq!(code(500), Code::UNKNOWN);
    }

    #[test]
    fn retry_info_gives_the_delay_and_makes_resource_exhausted_retryable() {
        let details = details_with_retry_info(2, 500_000_000);
        let trailers = headers(&[("grpc-status", "8"), ("grpc-status-details-bin", &details)]);
        let (status, _) = read_answer(StatusCode::OK, &HeaderMap::new(), b"", Some(&trailers));
        assert_eq!(status.code, Code(8), "RESOURCE_EXHAUSTED");
        assert_eq!(status.retry_delay, Some(Duration::from_millis(2500)));
        assert!(status.retryable());
        // Padded base64 is accepted too.
        let padded = base64::engine::general_purpose::STANDARD.encode(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(details_with_retry_info(1, 0))
                .unwrap(),
        );
        assert_eq!(retry_delay(padded.as_bytes()), Some(Duration::from_secs(1)));
        assert_eq!(retry_delay(b"not base64!"), None);
    }
}
