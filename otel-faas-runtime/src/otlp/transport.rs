//! One OTLP/HTTP request: a POST of an encoded body on a pooled keep-alive connection
//! (plain, or TLS on rustls for `https` endpoints), with the headers the settings ask for,
//! and its answer read within the specification's 4 MiB bound. With `grpc` the same POST
//! is a unary OTLP/gRPC call over HTTP/2 ([`super::grpc`]).
//!
//! The connections are kept by [`super::connections`], on the Hyper stack the Lambda runtime
//! already links. A kept connection the server closed while the environment was frozen is
//! dropped when the close was seen, and a request it did not write goes on another; when
//! the request was written, it fails without an answer, and [`super::retry`] sends it again
//! on a new connection.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;

use super::connections::{Connections, Connector};
use super::settings::{Compression, OtlpSettings, Protocol};

/// The largest answer read (OTLP/HTTP Response: "It is RECOMMENDED to use 4 MiB").
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The User-Agent the exporter specification asks for: exporter, language and version.
const USER_AGENT_VALUE: &str = concat!(
    "OTel-OTLP-Exporter-Rust-otel-faas/",
    env!("CARGO_PKG_VERSION")
);

/// Posts export bodies to one endpoint.
#[derive(Debug)]
pub(crate) struct Transport {
    connections: Connections,
    /// The endpoint (what connections are made to, and what SigV4 signs).
    uri: Uri,
    /// The request's target: the path alone over HTTP/1.1 (origin form), the whole URI over
    /// HTTP/2 (where it gives `:authority`).
    target: Uri,
    headers: HeaderMap,
    compression: Compression,
    timeout: Duration,
    /// Whether each POST is a unary gRPC call (HTTP/2, framed, status in the trailers).
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    grpc: bool,
    #[cfg(feature = "aws-sigv4")]
    sigv4: Option<super::settings::SigV4>,
}

/// An export body as sent: compressed, and the headers that sign it.
#[derive(Debug)]
pub(crate) struct Prepared {
    body: Bytes,
    signature: Vec<(HeaderName, HeaderValue)>,
}

/// What the endpoint answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    /// The gRPC status of a gRPC call's answer.
    #[cfg(feature = "grpc")]
    pub(crate) grpc: Option<super::grpc::Status>,
    /// `Retry-After` (or, over gRPC, `RetryInfo`'s delay), as a delay from now.
    pub(crate) retry_after: Option<Duration>,
    /// Whether the body is OTLP/JSON (else protobuf, or text for errors).
    pub(crate) json: bool,
    /// The body; over gRPC, the answer's message without its prefix.
    pub(crate) body: Bytes,
}

impl Answer {
    /// Whether the export was accepted (perhaps in part).
    pub(crate) fn accepted(&self) -> bool {
        #[cfg(feature = "grpc")]
        if let Some(status) = &self.grpc {
            return status.code == super::grpc::Code::OK;
        }
        self.status.is_success()
    }

    /// Whether the specification says to send the export again.
    pub(crate) fn retryable(&self) -> bool {
        #[cfg(feature = "grpc")]
        if let Some(status) = &self.grpc {
            return status.retryable();
        }
        super::retry::retryable(self.status)
    }

    /// What the endpoint said, as one line; with `reason`, what its body says too.
    pub(crate) fn describe(&self, reason: bool) -> String {
        #[cfg(feature = "grpc")]
        if let Some(status) = &self.grpc {
            return status.describe();
        }
        match reason {
            true => format!(
                "the OTLP endpoint answered {}{}",
                self.status,
                super::reason(&self.body)
            ),
            false => format!("the OTLP endpoint answered {}", self.status),
        }
    }
}

/// Why no answer came.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    /// A connection problem, a disconnection without an answer or no answer in time, which
    /// the OTLP specification says to retry; a TLS verification failure is not retried.
    pub(crate) retryable: bool,
}

impl Transport {
    /// The transport `settings` describe; reads the TLS files of an `https` endpoint, and
    /// fails when they cannot be used.
    pub(crate) fn new(settings: &OtlpSettings) -> Result<Self, String> {
        let uri: Uri = settings
            .endpoint
            .parse()
            .map_err(|error| format!("{} is not a URL: {error}", settings.endpoint))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(false);
        // gRPC: HTTP/2 only, by prior knowledge (h2c) on `http://`.
        let grpc = settings.protocol == Protocol::Grpc;
        let connector = match uri.scheme_str() {
            #[cfg(feature = "tls")]
            Some("https") => {
                let config = super::tls::client_config(settings)?;
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(config)
                    .https_or_http();
                // ALPN offers `h2` alone for gRPC, `http/1.1` alone otherwise.
                let https = match grpc {
                    #[cfg(feature = "grpc")]
                    true => https.enable_http2().wrap_connector(connector),
                    _ => https.enable_http1().wrap_connector(connector),
                };
                Connector::Tls(https)
            }
            _ => Connector::Plain(connector),
        };
        let target = match grpc {
            true => uri.clone(),
            false => uri
                .path_and_query()
                .map_or_else(|| Uri::from_static("/"), |path| Uri::from(path.clone())),
        };
        let mut headers = HeaderMap::new();
        let content_type = match settings.protocol {
            Protocol::HttpProtobuf => "application/x-protobuf",
            Protocol::HttpJson => "application/json",
            #[cfg(feature = "grpc")]
            Protocol::Grpc => super::grpc::CONTENT_TYPE,
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => unreachable!("grpc is refused at start-up without the feature"),
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        match (settings.compression, grpc) {
            (Compression::None, _) => {}
            (Compression::Gzip, false) => {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            (Compression::Gzip, true) => {
                headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
            }
        }
        if grpc {
            // gRPC's `te: trailers`: what tells servers of proxies that would drop trailers.
            headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
        }
        // A signed request carries the Host it was signed for (else it is added below).
        if settings.sigv4.is_some()
            && let Some(authority) = uri.authority()
            && let Ok(host) = HeaderValue::from_str(authority.as_str())
        {
            headers.insert(http::header::HOST, host);
        }
        for (key, value) in &settings.headers {
            // Checked when the settings were read.
            if let (Ok(key), Ok(value)) = (
                HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(key, value);
            }
        }
        // HTTP/1.1 requests name their host, unless a configured header does (as `hyper-util`'s
        // client wrote it: the port only when it is not the scheme's own).
        if !grpc
            && !headers.contains_key(http::header::HOST)
            && let Some(host) = host_header(&uri)
        {
            headers.insert(http::header::HOST, host);
        }
        Ok(Transport {
            connections: Connections::new(connector, grpc),
            uri,
            target,
            headers,
            compression: settings.compression,
            timeout: settings.timeout,
            grpc,
            #[cfg(feature = "aws-sigv4")]
            sigv4: settings.sigv4.clone(),
        })
    }

    /// The body as sent: compressed when the settings say so, and signed when they say so.
    /// Done once per export, not once per attempt.
    pub(crate) fn prepare(&self, body: Bytes) -> Result<Prepared, String> {
        let body = match self.compression {
            Compression::None => body,
            #[cfg(feature = "gzip")]
            Compression::Gzip => gzip(&body),
            #[cfg(not(feature = "gzip"))]
            Compression::Gzip => unreachable!("gzip is refused at start-up without the feature"),
        };
        #[cfg(feature = "grpc")]
        let body = match self.grpc {
            true => super::grpc::frame(&body, self.compression == Compression::Gzip),
            false => body,
        };
        #[cfg(feature = "aws-sigv4")]
        let signature = match &self.sigv4 {
            Some(sigv4) => super::sigv4::signing_headers(sigv4, &self.uri, &self.headers, &body)?,
            None => Vec::new(),
        };
        #[cfg(not(feature = "aws-sigv4"))]
        let signature = Vec::new();
        Ok(Prepared { body, signature })
    }

    /// One POST of `prepared`, waiting at most the request timeout and `left`.
    pub(crate) async fn post(
        &self,
        prepared: &Prepared,
        left: Duration,
    ) -> Result<Answer, Failure> {
        let timeout = self.timeout.min(left);
        let mut request = Request::post(self.target.clone());
        if let Some(headers) = request.headers_mut() {
            headers.clone_from(&self.headers);
            for (name, value) in &prepared.signature {
                headers.insert(name.clone(), value.clone());
            }
            #[cfg(feature = "grpc")]
            if self.grpc {
                headers.insert("grpc-timeout", super::grpc::timeout_header(timeout));
            }
        }
        let request = request
            .body(Full::new(prepared.body.clone()))
            .map_err(|error| Failure {
                message: format!("the request could not be made: {error}"),
                retryable: false,
            })?;
        let exchange = async {
            let (response, connection) =
                self.connections
                    .send(&self.uri, request)
                    .await
                    .map_err(|error| Failure {
                        retryable: !is_tls_rejection(&*error),
                        message: describe(&*error),
                    })?;
            let (parts, body) = response.into_parts();
            let collected = Limited::new(body, MAX_RESPONSE_BYTES).collect().await;
            // Read to its end: the connection can take the next request.
            if collected.is_ok() {
                self.connections.keep(connection);
            }
            let body = match collected {
                #[cfg(feature = "grpc")]
                Ok(collected) if self.grpc => {
                    let trailers = collected.trailers().cloned();
                    let body = collected.to_bytes();
                    let (status, message) = super::grpc::read_answer(
                        parts.status,
                        &parts.headers,
                        &body,
                        trailers.as_ref(),
                    );
                    return Ok(Answer {
                        status: parts.status,
                        retry_after: status.retry_delay,
                        grpc: Some(status),
                        json: false,
                        body: message.unwrap_or_default(),
                    });
                }
                Ok(body) => body.to_bytes(),
                Err(error) => {
                    return Err(Failure {
                        message: format!(
                            "the answer ({}) could not be read: {error}",
                            parts.status
                        ),
                        retryable: false,
                    });
                }
            };
            let json = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("application/json"));
            Ok(Answer {
                status: parts.status,
                #[cfg(feature = "grpc")]
                grpc: None,
                retry_after: parts
                    .headers
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(super::retry::parse_retry_after),
                json,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(answer) => answer,
            // A connection that died silently (a NAT's idle timeout while the environment was
            // frozen) looks like this: another attempt, on a new connection, may get through.
            Err(_) => Err(Failure {
                message: format!("no answer within {} ms", timeout.as_millis()),
                retryable: true,
            }),
        }
    }
}

/// `Host` for `uri`: its host, and its port when it is not the scheme's default.
fn host_header(uri: &Uri) -> Option<HeaderValue> {
    let host = uri.host()?;
    let default = match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    let value = match uri.port_u16().filter(|&port| port != default) {
        Some(port) => HeaderValue::from_str(&format!("{host}:{port}")),
        None => HeaderValue::from_str(host),
    };
    value.ok()
}

/// An error with its causes, as one line.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Whether the TLS handshake failed on the certificates (retrying cannot help).
fn is_tls_rejection(error: &(dyn std::error::Error + 'static)) -> bool {
    #[cfg(feature = "tls")]
    {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(cause) = source {
            // An I/O error's `source` skips the error it wraps, and a TLS stream's error can be
            // an I/O error wrapped in another: look inside each.
            let mut inner: &(dyn std::error::Error + 'static) = cause;
            loop {
                if inner.is::<rustls::Error>() {
                    return true;
                }
                match inner
                    .downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                {
                    Some(wrapped) => inner = wrapped,
                    None => break,
                }
            }
            source = cause.source();
        }
    }
    let _ = error;
    false
}

#[cfg(feature = "gzip")]
fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

#[cfg(test)]
mod host_tests {
    use super::*;
    use crate::otlp::settings::Signal;

    fn transport(vars: &[(&str, &str)]) -> Transport {
        let var = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        let settings = OtlpSettings::read(Signal::Traces, &var, &mut Vec::new()).expect("settings");
        Transport::new(&settings).expect("transport")
    }

    #[test]
    fn http_1_requests_name_the_host_with_a_port_only_when_it_is_not_the_schemes() {
        let cases = [
            ("http://127.0.0.1:4318", "127.0.0.1:4318"),
            ("http://collector", "collector"),
            ("http://collector:80", "collector"),
            ("http://collector:443", "collector:443"),
        ];
        for (endpoint, host) in cases {
            let transport = transport(&[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)]);
            let hosts: Vec<_> = transport
                .headers
                .get_all(http::header::HOST)
                .iter()
                .collect();
            assert_eq!(hosts, [host], "{endpoint}");
            assert_eq!(transport.target, "/v1/traces", "origin form: {endpoint}");
        }
        assert_eq!(
            host_header(&Uri::from_static("https://vendor.example:443/v1/traces")),
            Some(HeaderValue::from_static("vendor.example"))
        );
    }

    #[test]
    fn a_host_header_in_the_settings_is_the_only_one_sent() {
        let transport = transport(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "host=ingest.example"),
        ]);
        let hosts: Vec<_> = transport
            .headers
            .get_all(http::header::HOST)
            .iter()
            .collect();
        assert_eq!(hosts, ["ingest.example"]);
    }
}

#[cfg(all(test, feature = "gzip"))]
mod tests {
    #[test]
    fn gzip_bodies_decompress_to_what_was_encoded() {
        use std::io::Read as _;
        let body = b"an export body, an export body, an export body".repeat(20);
        let compressed = super::gzip(&body);
        assert!(compressed.len() < body.len());
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut decoded)
            .expect("gzip");
        assert_eq!(decoded, body);
    }
}
