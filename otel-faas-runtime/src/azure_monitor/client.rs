//! The exporter crate's HTTP client: one pooled keep-alive Hyper client on rustls (the
//! stack the OTLP pipeline uses), each request bounded by the export's flush budget, and
//! each answer read for what the crate will do next, so that an export gives up at once when
//! no retry can fit ([`super::exporter`]).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_application_insights::HttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use super::exporter::CURRENT_EXPORT;
use super::settings::ApplicationInsightsSettings;
use crate::otlp::transport::describe;

/// The longest one request may take, within the flush budget (Microsoft's Python exporter's
/// default `timeout`, 10 s: `_export/_base.py`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read; a track answer is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Posts the exporter crate's requests.
pub(crate) struct IngestionClient {
    client: HttpsClient,
    /// Shared with the exporter: whether the last attempt of any export failed in a way the
    /// crate retries.
    unavailable: Arc<AtomicBool>,
}

impl std::fmt::Debug for IngestionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestionClient").finish_non_exhaustive()
    }
}

impl IngestionClient {
    /// A client that trusts the built-in roots and the authorities of `SSL_CERT_FILE`.
    pub(crate) fn new(
        settings: &ApplicationInsightsSettings,
        unavailable: Arc<AtomicBool>,
    ) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &settings.certificate {
            let unreadable = |error: &dyn std::fmt::Display| {
                format!(
                    "SSL_CERT_FILE {} could not be read: {error}",
                    path.display()
                )
            };
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|error| unreadable(&error))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| unreadable(&error))?;
            let (added, _ignored) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(format!(
                    "SSL_CERT_FILE {} holds no usable CA certificate",
                    path.display()
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS could not be set up: {error}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(connector);
        let mut builder = Client::builder(TokioExecutor::new());
        // A pooled connection the endpoint closed while the environment was frozen: the
        // request is sent again on a new one.
        builder.retry_canceled_requests(true);
        Ok(IngestionClient {
            client: builder.build(https),
            unavailable,
        })
    }

    async fn exchange(&self, request: Request<Bytes>) -> Result<Response<Bytes>, String> {
        let (parts, body) = request.into_parts();
        let response = self
            .client
            .request(Request::from_parts(parts, Full::new(body)))
            .await
            .map_err(|error| describe(&error))?;
        let (mut parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| format!("the answer ({}) could not be read: {error}", parts.status))?
            .to_bytes();
        // A gateway's 502 and 504 are retried by Microsoft's exporters (`_constants.py`,
        // `_RETRYABLE_STATUS_CODES`) but not by the crate's `uploader.rs`: it is told 503,
        // which it retries.
        if matches!(parts.status.as_u16(), 502 | 504) {
            parts.status = StatusCode::SERVICE_UNAVAILABLE;
        }
        Ok(Response::from_parts(parts, body))
    }
}

#[async_trait::async_trait]
impl HttpClient for IngestionClient {
    async fn send_bytes(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<Bytes>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        let attempt = CURRENT_EXPORT.try_with(Arc::clone).ok();
        let timeout = match &attempt {
            Some(attempt) => REQUEST_TIMEOUT.min(attempt.left()),
            None => REQUEST_TIMEOUT,
        };
        let outcome = match tokio::time::timeout(timeout, self.exchange(request)).await {
            Ok(outcome) => outcome,
            // A connection that died silently: the crate retries, on a new connection.
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        };
        let retried = match &outcome {
            Ok(answer) => retried_by_uploader(answer.status(), answer.body()),
            Err(_) => true,
        };
        // An item the endpoint asks to resend (`206`) is no outage.
        let outage = retried && !outcome.as_ref().is_ok_and(|a| a.status().as_u16() == 206);
        self.unavailable
            .store(outage, std::sync::atomic::Ordering::Relaxed);
        if let Some(attempt) = &attempt
            && retried
        {
            let problem = match &outcome {
                Ok(answer) => format!("the ingestion endpoint answered {}", answer.status()),
                Err(problem) => problem.clone(),
            };
            let retry_after = outcome
                .as_ref()
                .ok()
                .and_then(|answer| answer.headers().get(http::header::RETRY_AFTER))
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            attempt.failed(problem, retry_after);
        }
        outcome.map_err(Into::into)
    }
}

/// Whether the exporter crate tries `status` again (its `uploader.rs`,
/// `handle_upload_response` and `can_retry_status_code`): `408`, `429`, `439`, `503`; a `500`
/// unless its body lists only errors it does not retry; a `206` whose body lists an item
/// it retries. (Microsoft's exporters retry the same, and `502`/`504`, which
/// [`IngestionClient`] hands over as `503`.)
fn retried_by_uploader(status: StatusCode, body: &[u8]) -> bool {
    const RETRIED: [u16; 6] = [206, 408, 429, 439, 500, 503];
    let items_retried = || {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|answer| answer.get("errors").cloned())
            .and_then(|errors| errors.as_array().cloned())
            .map(|errors| {
                errors.iter().any(|error| {
                    error
                        .get("statusCode")
                        .and_then(serde_json::Value::as_u64)
                        .is_some_and(|code| RETRIED.contains(&(code as u16)))
                })
            })
    };
    match status.as_u16() {
        408 | 429 | 439 | 503 => true,
        500 => items_retried().unwrap_or(true),
        206 => items_retried().unwrap_or(false),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_uploader_retries() {
        let status = |code| StatusCode::from_u16(code).unwrap();
        for code in [408, 429, 439, 503] {
            assert!(retried_by_uploader(status(code), b""), "{code}");
        }
        for code in [200, 400, 401, 402, 403, 404] {
            assert!(!retried_by_uploader(status(code), b""), "{code}");
        }
        let partial = |code: u16| {
            format!(
                r#"{{"itemsReceived":2,"itemsAccepted":1,"errors":[{{"index":1,"statusCode":{code},"message":"x"}}]}}"#
            )
        };
        assert!(retried_by_uploader(status(206), partial(429).as_bytes()));
        assert!(!retried_by_uploader(status(206), partial(400).as_bytes()));
        assert!(retried_by_uploader(status(500), b"not json"));
        assert!(!retried_by_uploader(status(500), partial(400).as_bytes()));
    }
}
